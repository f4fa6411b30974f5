/**
 * `npm run bench`: debitIfCovers through the public API vs a raw single-row INSERT,
 * at 1k and 1M rows of account history, interleaved in the same run. See bench/README.md.
 *
 * Flags: --rounds=N (default 10) --ops=N per round (default 10000) --warmup=N (default 5000)
 *        --no-breakdown (skip the where-the-time-goes section) --no-write (no results files)
 *        --strict (exit 1 when a goal is missed or the query plan is wrong)
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { monotonicFactory } from 'ulid';
import { captureDebitSql, checkPlan, queryPlan } from './probe.js';
import { apiDebit, rawDebitSql, rawInsert, runRounds, type Scenario } from './scenarios.js';
import {
  ACCOUNT,
  applyMigrationSql,
  NEIGHBOUR_ROWS,
  NEIGHBOURS,
  openClient,
  openLedger,
  PRAGMAS,
  seedDatabase,
  tempDir,
  truncateTo,
} from './setup.js';
import { fmtInt, fmtPct, median, nsPerCall, seconds, table } from './stats.js';

const GOAL_RATIO = 0.7;
const GOAL_FLATNESS = 0.15;
const SMALL = 1_000;
const LARGE = 1_000_000;

const flag = (name: string, fallback: number): number => {
  const a = process.argv.find((x) => x.startsWith(`--${name}=`));
  const v = a === undefined ? fallback : Number(a.slice(name.length + 3));
  if (!Number.isSafeInteger(v) || v < 1) throw new Error(`--${name} must be a positive integer`);
  return v;
};
const config = {
  rounds: flag('rounds', 10),
  opsPerRound: flag('ops', 10_000),
  warmupOps: flag('warmup', 5_000),
  breakdown: !process.argv.includes('--no-breakdown'),
  write: !process.argv.includes('--no-write'),
  strict: process.argv.includes('--strict'),
};

const here = dirname(fileURLToPath(import.meta.url));
const pkgVersion = (name: string): string =>
  (JSON.parse(readFileSync(join(here, '..', 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;

const log = (s = '') => process.stdout.write(`${s}\n`);
/** Which src/ was measured: the git commit, and whether src/ or drizzle/ had local changes. */
const source = (): { commit: string | null; dirty: boolean | null } => {
  const git = (...args: string[]) => execFileSync('git', args, { cwd: join(here, '..'), encoding: 'utf8', stdio: 'pipe' }).trim();
  try {
    return { commit: git('rev-parse', 'HEAD'), dirty: git('status', '--porcelain', '--', 'src', 'drizzle') !== '' };
  } catch {
    return { commit: process.env.BENCH_SOURCE_COMMIT ?? null, dirty: null };
  }
};
const started = Date.now();
const dir = tempDir();

try {
  log(`drizzle-credits bench — ${new Date(started).toISOString()}`);
  log(`pragmas (every connection): ${PRAGMAS.join(', ')}; files in ${dir.path}`);
  const loadBefore = os.loadavg()[0] ?? 0;
  log(`load average (1 min) at start: ${loadBefore.toFixed(2)} on ${os.cpus().length} cores`);

  // --- setup -------------------------------------------------------------------------
  const base = openClient(join(dir.path, 'baseline.db'));
  applyMigrationSql(base);
  const small = await openLedger(join(dir.path, 'ledger-1k.db'));
  const large = await openLedger(join(dir.path, 'ledger-1m.db'));
  const seedSecs = await seconds(() => {
    seedDatabase(base, SMALL);
    seedDatabase(small.client, SMALL);
    seedDatabase(large.client, LARGE);
  });
  log(
    `seeded ${fmtInt(SMALL)} / ${fmtInt(LARGE)} rows of ${ACCOUNT} history (+ ${fmtInt(NEIGHBOUR_ROWS)} rows on each of ` +
      `${NEIGHBOURS.join(', ')}) in ${seedSecs.toFixed(1)} s`,
  );
  const verifySeed: Record<string, { ok: boolean; entries: number; seconds: number }> = {};
  for (const [name, l] of [
    ['1k', small.ledger],
    ['1m', large.ledger],
  ] as const) {
    let report: Awaited<ReturnType<typeof l.verify>> | undefined;
    const secs = await seconds(async () => {
      report = await l.verify();
    });
    if (report === undefined || !report.ok) throw new Error(`seed of the ${name} db fails verify(): ${JSON.stringify(report?.problems)}`);
    verifySeed[name] = { ok: report.ok, entries: report.entries, seconds: secs };
  }
  log(
    `ledger.verify() after seeding: 1k ok (${fmtInt(verifySeed['1k']?.entries ?? 0)} entries, ${verifySeed['1k']?.seconds.toFixed(2)} s), ` +
      `1M ok (${fmtInt(verifySeed['1m']?.entries ?? 0)} entries, ${verifySeed['1m']?.seconds.toFixed(2)} s)`,
  );

  // --- query plan --------------------------------------------------------------------
  const debitSql = await captureDebitSql(join(dir.path, 'probe.db'));
  const plan = queryPlan(large.client, debitSql.sql, debitSql.args('PLAN', ACCOUNT, Date.now()));
  const planCheck = checkPlan(plan.rows);
  log('\nEXPLAIN QUERY PLAN of the debit statement (1M db):');
  log(plan.text.replace(/^/gm, '  '));
  log(`  → ${planCheck.ok ? 'OK' : 'PROBLEM'}: ${planCheck.reason}`);

  // --- main rounds -------------------------------------------------------------------
  const main: Scenario[] = [
    rawInsert('baseline', 'raw INSERT (baseline)', base, SMALL),
    apiDebit('debit_1k', 'debitIfCovers, 1k history', small.client, small.ledger, SMALL),
    apiDebit('debit_1m', 'debitIfCovers, 1M history', large.client, large.ledger, LARGE),
  ];
  log(
    `\nmeasuring: ${config.rounds} rounds × ${fmtInt(config.opsPerRound)} ops per scenario, interleaved ` +
      `(warm-up ${fmtInt(config.warmupOps)} ops each)`,
  );
  const { rates, cpuUs } = await runRounds(main, {
    rounds: config.rounds,
    ops: config.opsPerRound,
    warmupOps: config.warmupOps,
    keepLast: true,
    onRound: (r) => process.stdout.write(r === config.rounds ? `round ${r}\n` : `round ${r} … `),
  });
  const verifyAfter: Record<string, boolean> = {};
  for (const [name, l] of [
    ['1k', small.ledger],
    ['1m', large.ledger],
  ] as const) {
    const v = await l.verify();
    if (!v.ok) throw new Error(`${name} db fails verify() after the benchmark: ${JSON.stringify(v.problems)}`);
    verifyAfter[name] = v.ok;
  }
  truncateTo(small.client, SMALL);
  truncateTo(large.client, LARGE);

  const med = (k: string) => median(rates.get(k) ?? []);
  const medCpu = (k: string) => median(cpuUs.get(k) ?? []);
  const baseRate = med('baseline');
  const smallRate = med('debit_1k');
  const largeRate = med('debit_1m');
  const ratio1k = smallRate / baseRate;
  const ratio1m = largeRate / baseRate;
  const flatness = largeRate / smallRate;
  // Cross-checks that noise from other processes moves less: the median of per-round
  // ratios (each round's scenarios ran back to back) and the same ratios in CPU time.
  const paired = (a: string, b: string) => {
    const ra = rates.get(a) ?? [];
    const rb = rates.get(b) ?? [];
    return median(ra.map((x, i) => x / (rb[i] ?? Number.NaN)));
  };
  const cross = {
    pairedRatio1k: paired('debit_1k', 'baseline'),
    pairedRatio1m: paired('debit_1m', 'baseline'),
    pairedFlatness: paired('debit_1m', 'debit_1k'),
    cpuRatio1k: medCpu('baseline') / medCpu('debit_1k'),
    cpuRatio1m: medCpu('baseline') / medCpu('debit_1m'),
    cpuFlatness: medCpu('debit_1k') / medCpu('debit_1m'),
  };
  const ratioOk = Math.min(ratio1k, ratio1m) >= GOAL_RATIO;
  const flatOk = Math.abs(flatness - 1) <= GOAL_FLATNESS;

  const rowsOf = (s: Scenario) => {
    const rs = rates.get(s.key) ?? [];
    const m = median(rs);
    return [
      s.label,
      fmtInt(s.history),
      fmtInt(m),
      `${fmtInt(Math.min(...rs))}–${fmtInt(Math.max(...rs))}`,
      (1e6 / m).toFixed(1),
      medCpu(s.key).toFixed(1),
      s.key === 'baseline' ? '100.0%' : fmtPct(m / baseRate),
    ];
  };
  log();
  log(table([['scenario', 'history', 'median ops/s', 'min–max ops/s', 'wall µs/op', 'CPU µs/op', 'vs baseline'], ...main.map(rowsOf)]));
  log();
  const verdict = (ok: boolean) => (ok ? 'PASS' : 'FAIL');
  log(`debit / baseline, 1k history: ${fmtPct(ratio1k)}   (goal ≥ ${fmtPct(GOAL_RATIO)})  ${verdict(ratio1k >= GOAL_RATIO)}`);
  log(`debit / baseline, 1M history: ${fmtPct(ratio1m)}   (goal ≥ ${fmtPct(GOAL_RATIO)})  ${verdict(ratio1m >= GOAL_RATIO)}`);
  log(
    `flatness (1M rate / 1k rate): ${flatness.toFixed(3)}   (goal ${1 - GOAL_FLATNESS}–${1 + GOAL_FLATNESS})  ${flatOk ? 'PASS' : 'FAIL'}`,
  );
  log(
    `cross-checks: median of per-round ratios 1k ${fmtPct(cross.pairedRatio1k)}, 1M ${fmtPct(cross.pairedRatio1m)}, ` +
      `flatness ${cross.pairedFlatness.toFixed(3)}; in CPU time 1k ${fmtPct(cross.cpuRatio1k)}, 1M ${fmtPct(cross.cpuRatio1m)}, ` +
      `flatness ${cross.cpuFlatness.toFixed(3)}`,
  );
  log(`verify() after the last round: 1k ${verifyAfter['1k'] ? 'ok' : 'FAIL'}, 1M ${verifyAfter['1m'] ? 'ok' : 'FAIL'}`);

  // --- where the time goes (1M db) ---------------------------------------------------
  let breakdown: Record<string, unknown> | undefined;
  if (config.breakdown) {
    const parts: Scenario[] = [
      rawInsert('insert_same_table', 'raw INSERT into the 1M ledger table', large.client, LARGE),
      rawDebitSql('sql_no_returning', 'debit SQL alone, RETURNING dropped', large.client, debitSql, LARGE, false),
      rawDebitSql('sql', 'debit SQL alone (as src/ sends it)', large.client, debitSql, LARGE),
      apiDebit('api', 'debitIfCovers (public API)', large.client, large.ledger, LARGE),
    ];
    const rounds = 5;
    const ops = Math.max(1, Math.round(config.opsPerRound / 2));
    log(`\nwhere the time goes (1M db, ${rounds} interleaved rounds × ${fmtInt(ops)} ops, median):`);
    const part = await runRounds(parts, { rounds, ops, warmupOps: Math.min(2_000, config.warmupOps) });
    const wallUs = (k: string) => 1e6 / median(part.rates.get(k) ?? []);
    // Attribution uses CPU time: differences of a few µs drown in wall-clock noise.
    const us = (k: string) => median(part.cpuUs.get(k) ?? []);
    log(table([['step', 'wall µs/op', 'CPU µs/op'], ...parts.map((s) => [s.label, wallUs(s.key).toFixed(1), us(s.key).toFixed(1)])]));

    const micro = await microBenchmarks();
    const split = {
      guardSqlOverInsert: us('sql_no_returning') - us('insert_same_table'),
      returning: us('sql') - us('sql_no_returning'),
      jsLayers: us('api') - us('sql'),
    };
    log();
    log(
      table([
        ['attribution (differences of CPU µs/op above)', 'CPU µs/op', 'share of API'],
        ...(
          [
            ['raw INSERT into the 1M table', us('insert_same_table')],
            ['+ guard: INSERT … SELECT on the head row', split.guardSqlOverInsert],
            ['+ RETURNING clause (SQLite + row object)', split.returning],
            ['+ JS layers: validation, runner, Entry, promises', split.jsLayers],
          ] as const
        ).map(([k, v]) => [k, v.toFixed(2), fmtPct(v / us('api'))]),
      ]),
    );
    log();
    log(
      table([
        ['micro-benchmark (JS only, one call)', 'ns'],
        ['ulid() from monotonicFactory', micro.ulid.toFixed(0)],
        ['zod parse of { account, amount } (src/validate)', micro.zodParse === null ? 'n/a' : micro.zodParse.toFixed(0)],
        ['3 nested async functions, awaited', micro.threeAsyncHops.toFixed(0)],
        ['Date.now()', micro.dateNow.toFixed(0)],
      ]),
    );
    breakdown = {
      db: '1M',
      rounds,
      opsPerRound: ops,
      wallUsPerOp: Object.fromEntries(parts.map((s) => [s.key, wallUs(s.key)])),
      cpuUsPerOp: Object.fromEntries(parts.map((s) => [s.key, us(s.key)])),
      ratesPerRound: Object.fromEntries(part.rates),
      cpuUsPerRound: Object.fromEntries(part.cpuUs),
      splitCpuUs: split,
      microNs: micro,
    };
  }

  // --- results files -----------------------------------------------------------------
  const sqlite = (base.prepare('SELECT sqlite_version() AS v').get() as { v: string }).v;
  const cpus = os.cpus();
  const result = {
    date: new Date(started).toISOString(),
    durationSeconds: (Date.now() - started) / 1000,
    source: source(),
    machine: {
      cpu: cpus[0]?.model ?? 'unknown',
      cores: cpus.length,
      os: `${os.type()} ${os.release()} ${os.arch()}`,
      memoryGiB: Math.round(os.totalmem() / 2 ** 30),
      loadAverage1m: { start: loadBefore, end: os.loadavg()[0] ?? 0 },
      node: process.version,
      sqlite,
      betterSqlite3: pkgVersion('better-sqlite3'),
      drizzleOrm: pkgVersion('drizzle-orm'),
    },
    config: {
      pragmas: PRAGMAS,
      rounds: config.rounds,
      opsPerRound: config.opsPerRound,
      warmupOps: config.warmupOps,
      history: { small: SMALL, large: LARGE },
      neighbours: { accounts: NEIGHBOURS, rowsEach: NEIGHBOUR_ROWS },
    },
    scenarios: main.map((s) => ({
      key: s.key,
      label: s.label,
      history: s.history,
      medianOpsPerSec: med(s.key),
      medianCpuUsPerOp: medCpu(s.key),
      ratesPerRound: rates.get(s.key),
      cpuUsPerRound: cpuUs.get(s.key),
    })),
    ratio: { debit1kVsBaseline: ratio1k, debit1mVsBaseline: ratio1m },
    flatness,
    crossChecks: cross,
    goals: {
      debitVsBaseline: { min: GOAL_RATIO, pass: ratioOk },
      flatness: { within: GOAL_FLATNESS, pass: flatOk },
    },
    queryPlan: { ok: planCheck.ok, reason: planCheck.reason, plan: plan.text.split('\n') },
    verify: { afterSeed: verifySeed, afterRounds: verifyAfter },
    breakdown,
  };
  if (config.write) {
    const out = join(here, 'results');
    mkdirSync(out, { recursive: true });
    const body = `${JSON.stringify(result, null, 2)}\n`;
    const file = join(out, `${result.date.replace(/:/g, '-').replace(/\.\d+Z$/, 'Z')}.json`);
    writeFileSync(file, body);
    writeFileSync(join(out, 'latest.json'), body);
    log(`\nwrote ${file.slice(join(here, '..').length + 1)} and bench/results/latest.json`);
  }
  log(
    `machine: ${result.machine.cpu}, ${result.machine.cores} cores, ${result.machine.os}, node ${process.version}, ` +
      `SQLite ${sqlite}; load average ${loadBefore.toFixed(2)} → ${(os.loadavg()[0] ?? 0).toFixed(2)}; ` +
      `total ${((Date.now() - started) / 1000).toFixed(1)} s`,
  );
  const src = result.source;
  log(
    `src measured: ${src.commit === null ? 'unknown commit' : src.commit.slice(0, 12)}${src.dirty ? ' + uncommitted changes in src/ or drizzle/' : ''}`,
  );
  for (const c of [base, small.client, large.client]) c.close();
  if (config.strict && !(ratioOk && flatOk && planCheck.ok)) process.exitCode = 1;
} finally {
  dir.remove();
}

/** JS-only costs, in ns per call. The zod parse is looked up at run time (internal API). */
async function microBenchmarks(): Promise<{ ulid: number; zodParse: number | null; threeAsyncHops: number; dateNow: number }> {
  const ulid = monotonicFactory();
  let zodParse: number | null = null;
  try {
    const path = '../src/validate.js';
    const m = (await import(path)) as { parse?: unknown; debitInput?: unknown };
    const { parse, debitInput } = m;
    if (typeof parse === 'function' && debitInput !== undefined) {
      zodParse = nsPerCall(() => parse(debitInput, { account: ACCOUNT, amount: 1 }, 'debitIfCovers'), 200_000);
    }
  } catch {
    // src/validate.ts moved or changed shape: report n/a rather than fail the bench.
  }
  const f3 = async () => 1;
  const f2 = async () => f3();
  const f1 = async () => f2();
  let threeAsyncHops = Number.POSITIVE_INFINITY;
  for (let b = 0; b < 3; b++) {
    const n = 200_000;
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) await f1();
    threeAsyncHops = Math.min(threeAsyncHops, Number(process.hrtime.bigint() - t0) / n);
  }
  return { ulid: nsPerCall(() => ulid(), 200_000), zodParse, threeAsyncHops, dateNow: nsPerCall(() => Date.now(), 200_000) };
}
