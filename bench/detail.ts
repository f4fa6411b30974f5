/**
 * `npm run bench -- --detail` (or `npx tsx bench/detail.ts`): the detailed debit report —
 * debitIfCovers through the public API vs two baselines (the minimal append: a single-row
 * INSERT into a table with an INTEGER PRIMARY KEY and one index; and the same INSERT into
 * the ledger's own credit_entry),
 * at 1k and 1M rows of account history, on a plain account and on one with 3 open lots
 * and 2 open holds, interleaved in the same run; then a sweep of many lapsed lots.
 * See bench/README.md.
 *
 * Flags: --rounds=N (default 10) --ops=N per round (default 10000) --warmup=N (default 5000)
 *        --no-breakdown (skip the where-the-time-goes section) --no-write (no results files)
 *        --sweep-lots=N (default 200000) --sweep-batch=N (default: the library's) --no-sweep
 *        --sweep-verify (also verify() the big sweep db: ~20 s per 200k lots)
 *        --strict (exit 1 when a goal is missed, a query plan is wrong or the sweep fails)
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { captureDebitSql, captureLotDebit, checkLotPlans, checkPlan, queryPlan, withoutDraw } from './probe.js';
import { apiDebit, apiLotDebit, lotDrawCheck, rawDebitSql, rawInsert, rawSql, runRounds, type Scenario } from './scenarios.js';
import {
  ACCOUNT,
  APPEND_TABLE,
  applyMigrationSql,
  BENCH_HOLDS,
  BENCH_LOTS,
  LOT_AMOUNT,
  NEIGHBOUR_ROWS,
  NEIGHBOURS,
  openClient,
  openLedger,
  PRAGMAS,
  seedAppendTable,
  seedDatabase,
  seedLotsAndHolds,
  tempDir,
  truncateTo,
} from './setup.js';
import { fmtInt, fmtPct, median, nsPerCall, seconds, table } from './stats.js';
import { type SweepBenchResult, sweepBench } from './sweep.js';

/** Goals (issue #8), against the minimal append: plain debit ≥ 70 %, flat within ±15 % from 1k to 1M. */
const GOAL_RATIO = 0.7;
const GOAL_FLATNESS = 0.15;
/** The lots + holds debit (3 open lots, 2 open holds): ≥ 55 % of the minimal append, same flatness. */
const GOAL_LOTS_RATIO = 0.55;
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
  sweep: !process.argv.includes('--no-sweep'),
  sweepLots: flag('sweep-lots', 200_000),
  sweepVerify: process.argv.includes('--sweep-verify'),
  sweepBatch: process.argv.some((x) => x.startsWith('--sweep-batch=')) ? flag('sweep-batch', 1) : undefined,
};
if (config.sweepLots > 9_999_999) throw new Error('--sweep-lots must be at most 9,999,999');
if (Math.max(config.opsPerRound, config.warmupOps) >= LOT_AMOUNT) throw new Error(`--ops and --warmup must stay below ${LOT_AMOUNT}`);

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
/** Wall seconds per phase of the run, printed at the end and kept in the results. */
const phases: Record<string, number> = {};
let phaseStart = started;
const phaseDone = (name: string) => {
  const t = Date.now();
  phases[name] = (t - phaseStart) / 1000;
  phaseStart = t;
};
const dir = tempDir();

try {
  log(`drizzle-credits bench — ${new Date(started).toISOString()}`);
  log(`pragmas (every connection): ${PRAGMAS.join(', ')}; files in ${dir.path}`);
  const loadBefore = os.loadavg()[0] ?? 0;
  log(`load average (1 min) at start: ${loadBefore.toFixed(2)} on ${os.cpus().length} cores`);

  // --- setup -------------------------------------------------------------------------
  // The two baselines: the ledger's table made by the package's own migration statements
  // (baseline.db), and the minimal-append table (append.db), filled with a copy of
  // baseline.db's rows after seeding.
  const base = openClient(join(dir.path, 'baseline.db'));
  applyMigrationSql(base);
  const append = openClient(join(dir.path, 'append.db'));
  const small = await openLedger(join(dir.path, 'ledger-1k.db'));
  const large = await openLedger(join(dir.path, 'ledger-1m.db'));
  const lotsSmall = await openLedger(join(dir.path, 'ledger-lots-1k.db'));
  const lotsLarge = await openLedger(join(dir.path, 'ledger-lots-1m.db'));
  // The lots + holds accounts: the same plain history, then 3 lot grants and 2 holds
  // through the public API, so they start from history + 5 rows.
  let lotsSmallSeq = 0;
  let lotsLargeSeq = 0;
  const seedSecs = await seconds(async () => {
    seedDatabase(base, SMALL);
    seedAppendTable(append, join(dir.path, 'baseline.db'));
    seedDatabase(small.client, SMALL);
    seedDatabase(large.client, LARGE);
    seedDatabase(lotsSmall.client, SMALL);
    seedDatabase(lotsLarge.client, LARGE);
    lotsSmallSeq = await seedLotsAndHolds(lotsSmall.client, lotsSmall.ledger);
    lotsLargeSeq = await seedLotsAndHolds(lotsLarge.client, lotsLarge.ledger);
  });
  log(
    `seeded ${fmtInt(SMALL)} / ${fmtInt(LARGE)} rows of ${ACCOUNT} history (+ ${fmtInt(NEIGHBOUR_ROWS)} rows on each of ` +
      `${NEIGHBOURS.join(', ')}), twice: plain, and with ${BENCH_LOTS.length} lots (priorities ${BENCH_LOTS.map((l) => l.priority).join('/')}, ` +
      `${fmtInt(LOT_AMOUNT)} credits each, far-future expiry) and ${BENCH_HOLDS.length} holds (7-day TTL) on top, in ${seedSecs.toFixed(1)} s`,
  );
  const verifySeed: Record<string, { ok: boolean; entries: number; seconds: number }> = {};
  // The 1M dbs are verified after the rounds only (a bad seed fails there too): 10–30 s saved.
  for (const [name, l] of [
    ['1k', small.ledger],
    ['lots_1k', lotsSmall.ledger],
  ] as const) {
    let report: Awaited<ReturnType<typeof l.verify>> | undefined;
    const secs = await seconds(async () => {
      report = await l.verify();
    });
    if (report === undefined || !report.ok) throw new Error(`seed of the ${name} db fails verify(): ${JSON.stringify(report?.problems)}`);
    verifySeed[name] = { ok: report.ok, entries: report.entries, seconds: secs };
  }
  log(
    `ledger.verify() after seeding: ${Object.entries(verifySeed)
      .map(([k, v]) => `${k} ok (${fmtInt(v.entries)} entries, ${v.seconds.toFixed(2)} s)`)
      .join(', ')}`,
  );

  phaseDone('seed + verify');

  // --- query plan --------------------------------------------------------------------
  const debitSql = await captureDebitSql(join(dir.path, 'probe.db'));
  const plan = queryPlan(large.client, debitSql.sql, debitSql.args(ACCOUNT, Date.now()));
  const planCheck = checkPlan(plan.rows);
  log('\nEXPLAIN QUERY PLAN of the debit statement (1M db):');
  log(plan.text.replace(/^/gm, '  '));
  log(`  → ${planCheck.ok ? 'OK' : 'PROBLEM'}: ${planCheck.reason}`);

  const lotDebit = await captureLotDebit(join(dir.path, 'probe-lots.db'), BENCH_LOTS, BENCH_HOLDS);
  const lotPlans = lotDebit.statements.map((st) => ({
    sql: st.sql,
    ...queryPlan(lotsLarge.client, st.sql, st.args(ACCOUNT, Date.now())),
  }));
  const lotPlanCheck = checkLotPlans(lotPlans);
  log(
    `\nEXPLAIN QUERY PLAN of the lots + holds debit (lots 1M db): ${lotPlans.length} statement(s)` +
      `${lotDebit.transaction ? ' in one BEGIN IMMEDIATE transaction' : ''}`,
  );
  lotPlans.forEach((p, i) => {
    log(
      `  [${i + 1}] ${
        i === 0
          ? 'guarded INSERT (same statement as above)'
          : p.sql
              .split('\n')
              .find((l) => /INSERT|UPDATE/i.test(l))
              ?.trim()
      }`,
    );
    if (i > 0) log(p.text.replace(/^/gm, '      '));
  });
  log(`  → ${lotPlanCheck.ok ? 'OK' : 'PROBLEM'}: ${lotPlanCheck.reason}`);

  phaseDone('query plans');

  // --- main rounds -------------------------------------------------------------------
  const main: Scenario[] = [
    rawInsert('append', 'minimal append (baseline)', append, SMALL, APPEND_TABLE),
    rawInsert('ledger_insert', 'INSERT into credit_entry (baseline)', base, SMALL),
    apiDebit('debit_1k', 'debitIfCovers, 1k history', small.client, small.ledger, SMALL),
    apiDebit('debit_1m', 'debitIfCovers, 1M history', large.client, large.ledger, LARGE),
    apiLotDebit('lots_1k', 'debitIfCovers, 3 lots + 2 holds, 1k history', lotsSmall.client, lotsSmall.ledger, lotsSmallSeq),
    apiLotDebit('lots_1m', 'debitIfCovers, 3 lots + 2 holds, 1M history', lotsLarge.client, lotsLarge.ledger, lotsLargeSeq),
  ];
  log(
    `\nmeasuring: ${config.rounds} rounds × ${fmtInt(config.opsPerRound)} ops per scenario, interleaved ` +
      `(warm-up ${fmtInt(config.warmupOps)} ops each)`,
  );
  const { rates, cpuUs, userUs, sysUs } = await runRounds(main, {
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
    ['lots_1k', lotsSmall.ledger],
    ['lots_1m', lotsLarge.ledger],
  ] as const) {
    const v = await l.verify();
    if (!v.ok) throw new Error(`${name} db fails verify() after the benchmark: ${JSON.stringify(v.problems)}`);
    verifyAfter[name] = v.ok;
  }
  truncateTo(small.client, SMALL);
  truncateTo(large.client, LARGE);
  truncateTo(lotsSmall.client, lotsSmallSeq);
  truncateTo(lotsLarge.client, lotsLargeSeq);

  const med = (k: string) => median(rates.get(k) ?? []);
  const medCpu = (k: string) => median(cpuUs.get(k) ?? []);
  const baseRate = med('append');
  const ledgerInsertRate = med('ledger_insert');
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
    pairedRatio1k: paired('debit_1k', 'append'),
    pairedRatio1m: paired('debit_1m', 'append'),
    pairedFlatness: paired('debit_1m', 'debit_1k'),
    cpuRatio1k: medCpu('append') / medCpu('debit_1k'),
    cpuRatio1m: medCpu('append') / medCpu('debit_1m'),
    cpuFlatness: medCpu('debit_1k') / medCpu('debit_1m'),
  };
  const ratioOk = Math.min(ratio1k, ratio1m) >= GOAL_RATIO;
  const flatOk = Math.abs(flatness - 1) <= GOAL_FLATNESS;
  const lotsSmallRate = med('lots_1k');
  const lotsLargeRate = med('lots_1m');
  const lotsRatio1k = lotsSmallRate / baseRate;
  const lotsRatio1m = lotsLargeRate / baseRate;
  const lotsFlatness = lotsLargeRate / lotsSmallRate;
  const lotsCross = {
    pairedRatio1k: paired('lots_1k', 'append'),
    pairedRatio1m: paired('lots_1m', 'append'),
    pairedFlatness: paired('lots_1m', 'lots_1k'),
    cpuRatio1k: medCpu('append') / medCpu('lots_1k'),
    cpuRatio1m: medCpu('append') / medCpu('lots_1m'),
    cpuFlatness: medCpu('lots_1k') / medCpu('lots_1m'),
    /** What lots + holds add to a plain debit, CPU µs/op, per history size. */
    cpuOverPlainUs1k: medCpu('lots_1k') - medCpu('debit_1k'),
    cpuOverPlainUs1m: medCpu('lots_1m') - medCpu('debit_1m'),
  };
  const lotsRatioOk = Math.min(lotsRatio1k, lotsRatio1m) >= GOAL_LOTS_RATIO;
  const lotsFlatOk = Math.abs(lotsFlatness - 1) <= GOAL_FLATNESS;

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
      s.key === 'append' ? '100.0%' : fmtPct(m / baseRate),
      s.key === 'ledger_insert' ? '100.0%' : fmtPct(m / ledgerInsertRate),
    ];
  };
  log();
  log(
    table([
      [
        'scenario',
        'rows at start',
        'median ops/s',
        'min–max ops/s',
        'wall µs/op',
        'CPU µs/op',
        'vs minimal append',
        'vs credit_entry INSERT',
      ],
      ...main.map(rowsOf),
    ]),
  );
  log();
  const verdict = (ok: boolean) => (ok ? 'PASS' : 'FAIL');
  log(`debit / minimal append, 1k history: ${fmtPct(ratio1k)}   (goal ≥ ${fmtPct(GOAL_RATIO)})  ${verdict(ratio1k >= GOAL_RATIO)}`);
  log(`debit / minimal append, 1M history: ${fmtPct(ratio1m)}   (goal ≥ ${fmtPct(GOAL_RATIO)})  ${verdict(ratio1m >= GOAL_RATIO)}`);
  log(
    `flatness (1M rate / 1k rate): ${flatness.toFixed(3)}   (goal ${1 - GOAL_FLATNESS}–${1 + GOAL_FLATNESS})  ${flatOk ? 'PASS' : 'FAIL'}`,
  );
  log(
    `cross-checks: median of per-round ratios 1k ${fmtPct(cross.pairedRatio1k)}, 1M ${fmtPct(cross.pairedRatio1m)}, ` +
      `flatness ${cross.pairedFlatness.toFixed(3)}; in CPU time 1k ${fmtPct(cross.cpuRatio1k)}, 1M ${fmtPct(cross.cpuRatio1m)}, ` +
      `flatness ${cross.cpuFlatness.toFixed(3)}`,
  );
  log();
  log(
    `lots + holds debit / minimal append, 1k history: ${fmtPct(lotsRatio1k)}   (goal ≥ ${fmtPct(GOAL_LOTS_RATIO)})  ${verdict(lotsRatio1k >= GOAL_LOTS_RATIO)}`,
  );
  log(
    `lots + holds debit / minimal append, 1M history: ${fmtPct(lotsRatio1m)}   (goal ≥ ${fmtPct(GOAL_LOTS_RATIO)})  ${verdict(lotsRatio1m >= GOAL_LOTS_RATIO)}`,
  );
  log(
    `lots + holds flatness (1M rate / 1k rate): ${lotsFlatness.toFixed(3)}   (goal ${1 - GOAL_FLATNESS}–${1 + GOAL_FLATNESS})  ${verdict(lotsFlatOk)}`,
  );
  log(
    `cross-checks: median of per-round ratios 1k ${fmtPct(lotsCross.pairedRatio1k)}, 1M ${fmtPct(lotsCross.pairedRatio1m)}, ` +
      `flatness ${lotsCross.pairedFlatness.toFixed(3)}; in CPU time 1k ${fmtPct(lotsCross.cpuRatio1k)}, 1M ${fmtPct(lotsCross.cpuRatio1m)}, ` +
      `flatness ${lotsCross.cpuFlatness.toFixed(3)}; lots + holds add ${lotsCross.cpuOverPlainUs1k.toFixed(1)} / ` +
      `${lotsCross.cpuOverPlainUs1m.toFixed(1)} CPU µs to a plain debit (1k / 1M)`,
  );
  log(`query plans: plain debit ${planCheck.ok ? 'OK' : 'PROBLEM'}, lots + holds debit ${lotPlanCheck.ok ? 'OK' : 'PROBLEM'}`);
  log(
    `verify() after the last round: ${Object.entries(verifyAfter)
      .map(([k, ok]) => `${k} ${ok ? 'ok' : 'FAIL'}`)
      .join(', ')}`,
  );

  phaseDone('main rounds + verify');

  // --- where the time goes (1M db) ---------------------------------------------------
  let breakdown: Record<string, unknown> | undefined;
  if (config.breakdown) {
    const parts: Scenario[] = [
      rawInsert('insert_same_table', 'INSERT into credit_entry of the 1M ledger', large.client, LARGE),
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
            ['INSERT into credit_entry of the 1M ledger', us('insert_same_table')],
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
        ['zod parse of { account, amount } (src/validate)', micro.zodParse === null ? 'n/a' : micro.zodParse.toFixed(0)],
        ['3 nested async functions, awaited', micro.threeAsyncHops.toFixed(0)],
        ['Date.now()', micro.dateNow.toFixed(0)],
      ]),
    );

    // The lots + holds debit on the lots 1M db: the guard alone (its draw replaced by NULL),
    // the statement as src/ sends it (guard + draw; the trigger applies the draw to the
    // lot), both as raw prepared statements in autocommit, and the API.
    const [debitStmt] = lotDebit.statements;
    if (debitStmt === undefined || lotDebit.statements.length !== 1) {
      throw new Error(`the lots + holds debit is ${lotDebit.statements.length} statements; this breakdown expects one`);
    }
    const argsOf = (now: number) => debitStmt.args(ACCOUNT, now);
    const lotParts: Scenario[] = [
      rawInsert('lots_insert', 'INSERT into credit_entry of the lots 1M ledger', lotsLarge.client, lotsLargeSeq),
      rawSql(
        'lots_guard',
        'debit statement, draw replaced by NULL (guard only)',
        lotsLarge.client,
        withoutDraw(debitStmt.sql),
        argsOf,
        lotsLargeSeq,
      ),
      {
        ...rawSql(
          'lots_unit',
          'debit statement as src/ sends it (guard + draw + lot update)',
          lotsLarge.client,
          debitStmt.sql,
          argsOf,
          lotsLargeSeq,
        ),
        afterRound: lotDrawCheck('debit statement', lotsLarge.client),
      },
      apiLotDebit('lots_api', 'debitIfCovers, 3 lots + 2 holds (public API)', lotsLarge.client, lotsLarge.ledger, lotsLargeSeq),
    ];
    log(`\nwhere the time goes, lots + holds debit (lots 1M db, ${rounds} interleaved rounds × ${fmtInt(ops)} ops, median):`);
    const lotPart = await runRounds(lotParts, { rounds, ops, warmupOps: Math.min(2_000, config.warmupOps) });
    const lotUs = (k: string) => median(lotPart.cpuUs.get(k) ?? []);
    const lotWallUs = (k: string) => 1e6 / median(lotPart.rates.get(k) ?? []);
    log(
      table([
        ['step', 'wall µs/op', 'CPU µs/op', 'credit_entry INSERT ÷ it (CPU)'],
        ...lotParts.map((s) => [
          s.label,
          lotWallUs(s.key).toFixed(1),
          lotUs(s.key).toFixed(1),
          fmtPct(lotUs('lots_insert') / lotUs(s.key)),
        ]),
      ]),
    );
    const lotSplit = {
      guardOverInsert: lotUs('lots_guard') - lotUs('lots_insert'),
      drawAndTransaction: lotUs('lots_unit') - lotUs('lots_guard'),
      jsLayers: lotUs('lots_api') - lotUs('lots_unit'),
    };
    log();
    log(
      table([
        ['attribution (differences of CPU µs/op above)', 'CPU µs/op', 'share of API'],
        ...(
          [
            ['INSERT into credit_entry of the lots 1M ledger', lotUs('lots_insert')],
            ['+ guard with 3 lots + 2 holds (INSERT … SELECT, RETURNING)', lotSplit.guardOverInsert],
            ['+ lot draw recorded on the row, lot updated by trigger', lotSplit.drawAndTransaction],
            ['+ JS layers: validation, runner, Entry, promises', lotSplit.jsLayers],
          ] as const
        ).map(([k, v]) => [k, v.toFixed(2), fmtPct(v / lotUs('lots_api'))]),
      ]),
    );
    breakdown = {
      lots: {
        db: 'lots 1M',
        wallUsPerOp: Object.fromEntries(lotParts.map((s) => [s.key, lotWallUs(s.key)])),
        cpuUsPerOp: Object.fromEntries(lotParts.map((s) => [s.key, lotUs(s.key)])),
        ratesPerRound: Object.fromEntries(lotPart.rates),
        cpuUsPerRound: Object.fromEntries(lotPart.cpuUs),
        splitCpuUs: lotSplit,
      },
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

  if (config.breakdown) phaseDone('breakdown');

  // --- sweep of lapsed lots -----------------------------------------------------------
  let sweep: SweepBenchResult | undefined;
  if (config.sweep) {
    for (const c of [small.client, large.client, lotsSmall.client, lotsLarge.client]) c.close();
    sweep = await sweepBench({ lots: config.sweepLots, batchSize: config.sweepBatch, dir: dir.path, log, verifyLarge: config.sweepVerify });
  }

  if (config.sweep) phaseDone('sweep');

  // --- results files -----------------------------------------------------------------
  const sqlite = (base.prepare('SELECT sqlite_version() AS v').get() as { v: string }).v;
  const cpus = os.cpus();
  const result = {
    date: new Date(started).toISOString(),
    durationSeconds: (Date.now() - started) / 1000,
    phaseSeconds: phases,
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
      lotsAndHolds: {
        lots: BENCH_LOTS.map((l) => ({ amount: LOT_AMOUNT, priority: l.priority, expiresInMs: l.expiresInMs })),
        holds: BENCH_HOLDS,
        startSeq: { small: lotsSmallSeq, large: lotsLargeSeq },
      },
      sweepLots: config.sweep ? config.sweepLots : null,
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
      medianUserUsPerOp: median(userUs.get(s.key) ?? []),
      medianSysUsPerOp: median(sysUs.get(s.key) ?? []),
    })),
    ratio: {
      debit1kVsAppend: ratio1k,
      debit1mVsAppend: ratio1m,
      lots1kVsAppend: lotsRatio1k,
      lots1mVsAppend: lotsRatio1m,
      debit1kVsLedgerInsert: smallRate / ledgerInsertRate,
      debit1mVsLedgerInsert: largeRate / ledgerInsertRate,
      lots1kVsLedgerInsert: lotsSmallRate / ledgerInsertRate,
      lots1mVsLedgerInsert: lotsLargeRate / ledgerInsertRate,
    },
    flatness,
    lotsFlatness,
    crossChecks: cross,
    lotsCrossChecks: lotsCross,
    goals: {
      debitVsAppend: { min: GOAL_RATIO, pass: ratioOk },
      flatness: { within: GOAL_FLATNESS, pass: flatOk },
      lotsDebitVsAppend: { min: GOAL_LOTS_RATIO, pass: lotsRatioOk },
      lotsFlatness: { within: GOAL_FLATNESS, pass: lotsFlatOk },
      sweep: sweep === undefined ? null : { pass: sweep.pass },
    },
    queryPlan: { ok: planCheck.ok, reason: planCheck.reason, plan: plan.text.split('\n') },
    lotsQueryPlan: {
      ok: lotPlanCheck.ok,
      reason: lotPlanCheck.reason,
      transaction: lotDebit.transaction,
      statements: lotPlans.map((p) => ({ sql: p.sql, plan: p.text.split('\n') })),
    },
    verify: { afterSeed: verifySeed, afterRounds: verifyAfter },
    breakdown,
    sweep,
  };
  if (config.write) {
    const out = join(here, 'results');
    mkdirSync(out, { recursive: true });
    const body = `${JSON.stringify(result, null, 2)}\n`;
    const file = join(out, `${result.date.replace(/:/g, '-').replace(/\.\d+Z$/, 'Z')}-detail.json`);
    writeFileSync(file, body);
    writeFileSync(join(out, 'latest-detail.json'), body);
    log(`\nwrote ${file.slice(join(here, '..').length + 1)} and bench/results/latest-detail.json`);
  }
  log(
    `machine: ${result.machine.cpu}, ${result.machine.cores} cores, ${result.machine.os}, node ${process.version}, ` +
      `SQLite ${sqlite}; load average ${loadBefore.toFixed(2)} → ${(os.loadavg()[0] ?? 0).toFixed(2)}; ` +
      `total ${((Date.now() - started) / 1000).toFixed(1)} s (${Object.entries(phases)
        .map(([k, v]) => `${k} ${v.toFixed(0)} s`)
        .join(', ')})`,
  );
  const src = result.source;
  log(
    `src measured: ${src.commit === null ? 'unknown commit' : src.commit.slice(0, 12)}${src.dirty ? ' + uncommitted changes in src/ or drizzle/' : ''}`,
  );
  for (const c of [base, append, small.client, large.client, lotsSmall.client, lotsLarge.client]) if (c.open) c.close();
  const allOk = ratioOk && flatOk && planCheck.ok && lotsRatioOk && lotsFlatOk && lotPlanCheck.ok && (sweep === undefined || sweep.pass);
  log(`overall: ${allOk ? 'PASS' : 'FAIL'}${config.strict ? '' : ' (exit code 0 without --strict)'}`);
  if (config.strict && !allOk) process.exitCode = 1;
} finally {
  dir.remove();
}

/** JS-only costs, in ns per call. The zod parse is looked up at run time (internal API). */
async function microBenchmarks(): Promise<{ zodParse: number | null; threeAsyncHops: number; dateNow: number }> {
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
  return { zodParse, threeAsyncHops, dateNow: nsPerCall(() => Date.now(), 200_000) };
}
