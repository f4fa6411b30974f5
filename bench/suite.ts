/**
 * The benchmark suite (`npm run bench`, `npm run bench:full`): every public operation that
 * matters for metering, on better-sqlite3, libSQL `file:` and libSQL native, at several history sizes,
 * against two baselines measured in the same run — the minimal append (a single-row INSERT
 * into a table with an INTEGER PRIMARY KEY and one index, on account) and the same INSERT
 * into the ledger's own `credit_entry` — and a SUM(delta)-guarded debit (the peer design).
 * See bench/README.md and docs/benchmarks.md.
 *
 * Flags: --full (all sizes, all drivers, more rounds) --rounds=N --seconds=S (timed seconds
 *        per scenario per round) --drivers=better-sqlite3,libsql,libsql-native --sizes=1k,100k,1M,10M
 *        --no-footprint --no-sync-full --no-write --strict (exit 1 when a goal is missed)
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import cliProgress from 'cli-progress';
import { captureDebitSql, checkPlan, queryPlan } from './probe.js';
import { ACCOUNT, APPEND_DDL, openClient, tempDir } from './setup.js';
import { fmtInt, fmtPct, median, table } from './stats.js';
import { DRIVER_LABEL, type DriverKind, openConn, type Synchronous, suitePragmas } from './suite-driver.js';
import {
  addLotsAndHolds,
  buildWorkload,
  type Footprint,
  footprint,
  freshCopy,
  type Pristine,
  removeDb,
  seedPristine,
  seedWide,
  seedWideAppend,
  wideAccount,
} from './suite-fixtures.js';
import {
  APPEND_SQL,
  BATCH_SIZE,
  headOf,
  LEDGER_INSERT_SQL,
  SCENARIOS,
  type ScenarioDef,
  SUM_DEBIT_SQL,
  scenario,
} from './suite-scenarios.js';

/** The statements behind the reference rows, printed at the start and kept in the results. */
const BASELINES = {
  minimalAppend: { table: APPEND_DDL.map((s) => s.replace(/\s+/g, ' ')), insert: APPEND_SQL },
  ledgerInsert: LEDGER_INSERT_SQL,
  sumDebit: SUM_DEBIT_SQL.replace(/\s+/g, ' '),
};

// --- goals (issue #8), all against the minimal append --------------------------------------
const GOAL_DEBIT_VS_APPEND = 0.7;
const GOAL_LOTS_VS_APPEND = 0.55;
/** Usage and caps: a debit with 3 deny caps live (day, month, per-model month). */
const GOAL_CAPS_VS_APPEND = 0.5;
/** Issue: a debit on a subscribed account mid-period, and a charge, at least half a minimal append. */
const GOAL_PLAN_VS_APPEND = 0.5;
/** Teams and transfers: a transfer (two rows, one statement) and a team member's debit with a member cap. */
const GOAL_TRANSFER_VS_APPEND = 0.35;
const GOAL_TEAM_DEBIT_VS_APPEND = 0.45;
/** Events: a debit on an account with a low-balance alert (no event row unless it crosses). */
const GOAL_ALERT_DEBIT_VS_APPEND = 0.6;
/** 1M-history rate ÷ 1k-history rate within 1 ± this, for the plain and the lots + holds debit. */
const GOAL_FLATNESS = 0.15;
const GOAL_BATCH_PER_SEC = 100_000;

// --- configuration ------------------------------------------------------------------------
interface SizeSpec {
  key: string;
  label: string;
  /** Rows of history on the measured account at the start of every round. */
  history: number;
  /** Many-accounts db: `accounts` × `history` rows, a fresh account per writing round. */
  wide?: { accounts: number };
}
const SIZES: Record<string, SizeSpec> = {
  '1k': { key: '1k', label: '1k history', history: 1_000 },
  '100k': { key: '100k', label: '100k history', history: 100_000 },
  '1M': { key: '1M', label: '1M history', history: 1_000_000 },
  // 500 accounts: every writing round takes a fresh one (18 writing scenarios × 5 rounds × 2
  // drivers in bench:full = 170), and 100 accounts ran out before the libSQL pass.
  '10M': { key: '10M', label: '10M-row db (500 accounts × 20k)', history: 20_000, wide: { accounts: 500 } },
};

const argv = process.argv.slice(2);
const has = (f: string) => argv.includes(f);
const opt = (name: string): string | undefined => argv.find((x) => x.startsWith(`--${name}=`))?.slice(name.length + 3);
const num = (name: string, fallback: number, integer = true): number => {
  const s = opt(name);
  const v = s === undefined ? fallback : Number(s);
  if (!Number.isFinite(v) || v <= 0 || (integer && !Number.isSafeInteger(v)))
    throw new Error(`--${name} must be a positive ${integer ? 'integer' : 'number'}`);
  return v;
};
const KNOWN = ['--full', '--no-footprint', '--no-sync-full', '--no-write', '--strict'];
for (const a of argv) {
  if (!KNOWN.includes(a) && !/^--(rounds|seconds|drivers|sizes)=/.test(a))
    throw new Error(`unknown flag ${a} (see bench/suite.ts; --detail runs bench/detail.ts)`);
}
const full = has('--full');
const list = (name: string, fallback: string[]) =>
  opt(name) === undefined ? fallback : (opt(name) as string).split(',').map((x) => x.trim());
const driverSizes: Record<DriverKind, string[]> = full
  ? { 'better-sqlite3': ['1k', '100k', '1M', '10M'], libsql: ['1k', '100k', '1M', '10M'], 'libsql-native': ['1k', '100k', '1M', '10M'] }
  : { 'better-sqlite3': ['1k', '1M'], libsql: ['1k', '1M'], 'libsql-native': ['1k', '1M'] };
const drivers = list('drivers', ['better-sqlite3', 'libsql', 'libsql-native']) as DriverKind[];
for (const d of drivers) if (!(d in DRIVER_LABEL)) throw new Error(`--drivers: unknown driver ${d}`);
if (opt('sizes') !== undefined) {
  const sizes = list('sizes', []);
  for (const s of sizes) if (SIZES[s] === undefined) throw new Error(`--sizes: unknown size ${s} (1k, 100k, 1M, 10M)`);
  for (const d of drivers) driverSizes[d] = sizes;
}
const config = {
  profile: full ? 'full' : 'default',
  /** Rounds per driver; the libSQL pass of the default profile is lighter. */
  rounds: {
    'better-sqlite3': num('rounds', full ? 5 : 6),
    libsql: num('rounds', 3 + (full ? 2 : 0)),
    'libsql-native': num('rounds', 3 + (full ? 2 : 0)),
  } as Record<DriverKind, number>,
  seconds: {
    'better-sqlite3': num('seconds', full ? 0.6 : 0.4, false),
    libsql: num('seconds', full ? 0.6 : 0.4, false),
    'libsql-native': num('seconds', full ? 0.6 : 0.4, false),
  } as Record<DriverKind, number>,
  warmupSeconds: 0.1,
  warmupMaxOps: 500,
  minOps: 3,
  /** verify() the last round's database when it has at most this many rows. */
  verifyMaxRows: full ? 110_000 : 10_000,
  footprint: !has('--no-footprint'),
  workloadAccounts: 1_000,
  syncFull: !has('--no-sync-full'),
  write: !has('--no-write'),
  strict: has('--strict'),
};

const here = dirname(fileURLToPath(import.meta.url));
const log = (s = '') => process.stdout.write(`${s}\n`);
const tty = process.stderr.isTTY === true;
const pkgVersion = (name: string): string | null => {
  try {
    return (JSON.parse(readFileSync(join(here, '..', 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return null;
  }
};
/** sha256 of every file under src/ and drizzle/ (paths and contents): what was measured, committed or not. */
const treeHash = (): string => {
  const h = createHash('sha256');
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) h.update(`${p.slice(here.length)}\0`).update(readFileSync(p));
    }
  };
  for (const d of ['src', 'drizzle']) walk(join(here, '..', d));
  return h.digest('hex').slice(0, 16);
};
const source = (): { commit: string | null; dirty: boolean | null; treeHash: string } => {
  const git = (...args: string[]) => execFileSync('git', args, { cwd: join(here, '..'), encoding: 'utf8', stdio: 'pipe' }).trim();
  try {
    return { commit: git('rev-parse', 'HEAD'), dirty: git('status', '--porcelain', '--', 'src', 'drizzle') !== '', treeHash: treeHash() };
  } catch {
    return { commit: process.env.BENCH_SOURCE_COMMIT ?? null, dirty: null, treeHash: treeHash() };
  }
};
const load1 = () => os.loadavg()[0] ?? 0;
/** The filesystem the temp dir is on (from /proc/mounts; longest mount-point prefix). */
const filesystemOf = (path: string): string => {
  try {
    const mounts = readFileSync('/proc/mounts', 'utf8')
      .split('\n')
      .map((l) => l.split(' '))
      .filter((f) => f.length > 2 && path.startsWith(f[1] as string));
    mounts.sort((a, b) => (b[1] as string).length - (a[1] as string).length);
    const m = mounts[0];
    return m === undefined ? 'unknown' : `${m[2]} (${m[0]} on ${m[1]})`;
  } catch {
    return 'unknown';
  }
};

// --- measurement -------------------------------------------------------------------------
interface RoundSample {
  round: number;
  ops: number;
  seconds: number;
  unitsPerSec: number;
  cpuUsPerUnit: number;
  userUsPerUnit: number;
  sysUsPerUnit: number;
}
interface Series {
  driver: DriverKind;
  sync: Synchronous;
  size: SizeSpec;
  s: ScenarioDef;
  samples: RoundSample[];
  /** Per-op wall latency, µs, pooled over the rounds. */
  latUs: number[];
  rowsAtStart: number[];
  verified?: boolean;
}

async function measure(
  op: (i: number) => unknown,
  seconds: number,
  latUs: number[],
): Promise<{ ops: number; warmupOps: number; seconds: number; cpu: NodeJS.CpuUsage }> {
  let i = 0;
  const warmEnd = performance.now() + config.warmupSeconds * 1000;
  do {
    const p = op(i++);
    if (p instanceof Promise) await p;
  } while (performance.now() < warmEnd && i < config.warmupMaxOps);
  const warmupOps = i;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const end = t0 + seconds * 1000;
  let n = 0;
  for (;;) {
    const a = performance.now();
    const p = op(i++);
    if (p instanceof Promise) await p;
    const b = performance.now();
    latUs.push((b - a) * 1000);
    n++;
    if (b >= end && n >= config.minOps) break;
  }
  const secs = (performance.now() - t0) / 1000;
  return { ops: n, warmupOps, seconds: secs, cpu: process.cpuUsage(cpu0) };
}

const pct = (sorted: readonly number[], p: number): number => {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] as number;
};

interface Summary {
  medianPerSec: number;
  minPerSec: number;
  maxPerSec: number;
  p50Us: number;
  p90Us: number;
  p99Us: number;
  maxUs: number;
  cpuUs: number;
  /** The least CPU µs per op of any round: the least disturbed round (CPU time is not immune to a loaded host). */
  minCpuUs: number;
  userUs: number;
  sysUs: number;
  ops: number;
}
const summarize = (x: Series): Summary => {
  const rates = x.samples.map((r) => r.unitsPerSec);
  const lat = Float64Array.from(x.latUs).sort();
  const arr = Array.from(lat);
  return {
    medianPerSec: median(rates),
    minPerSec: Math.min(...rates),
    maxPerSec: Math.max(...rates),
    p50Us: pct(arr, 50),
    p90Us: pct(arr, 90),
    p99Us: pct(arr, 99),
    maxUs: arr[arr.length - 1] ?? Number.NaN,
    cpuUs: median(x.samples.map((r) => r.cpuUsPerUnit)),
    minCpuUs: Math.min(...x.samples.map((r) => r.cpuUsPerUnit)),
    userUs: median(x.samples.map((r) => r.userUsPerUnit)),
    sysUs: median(x.samples.map((r) => r.sysUsPerUnit)),
    ops: x.samples.reduce((a, r) => a + r.ops, 0),
  };
};

// --- cells: where a (size, scenario, round) runs ---------------------------------------------
interface Slot {
  file: string;
  account: string;
  setup?: (conn: Awaited<ReturnType<typeof openConn>>) => Promise<void>;
  release(): void;
}
interface Cell {
  size: SizeSpec;
  rowsInDb: number;
  acquire(s: ScenarioDef): Slot;
}

function copyCell(size: SizeSpec, pristine: Pristine, dir: string): Cell {
  const readCopy = join(dir, `read-${size.key}.db`);
  freshCopy(pristine.plain, readCopy);
  const work = join(dir, `work-${size.key}.db`);
  return {
    size,
    rowsInDb: pristine.rowsInFile,
    acquire(s) {
      if (!s.writes) return { file: readCopy, account: ACCOUNT, release() {} };
      freshCopy(pristine[s.fixture], work);
      return { file: work, account: ACCOUNT, release: () => removeDb(work) };
    },
  };
}

/** The many-accounts db (and its minimal-append twin): every writing step takes a fresh account. */
function wideCell(size: SizeSpec, file: string, appendFile: string, accounts: number): Cell {
  let next = 1;
  return {
    size,
    rowsInDb: accounts * size.history,
    acquire(s) {
      if (!s.writes) return { file, account: wideAccount(0), release() {} };
      if (next >= accounts) throw new Error(`the ${size.key} db has no fresh account left: lower --rounds`);
      const account = wideAccount(next++);
      return {
        file: s.fixture === 'append' ? appendFile : file,
        account,
        setup: s.fixture === 'lots' ? (conn) => addLotsAndHolds(conn.ledger, account) : undefined,
        release() {},
      };
    },
  };
}

// --- progress ---------------------------------------------------------------------------
interface Progress {
  tick(label: string): void;
  stop(): void;
}
function progress(title: string, total: number): Progress {
  if (!tty) {
    log(`${title}: ${total} steps`);
    return { tick() {}, stop() {} };
  }
  const bar = new cliProgress.SingleBar(
    { stream: process.stderr, format: `${title} [{bar}] {value}/{total} | {step} | ETA {eta_formatted}`, hideCursor: false, etaBuffer: 30 },
    cliProgress.Presets.shades_classic,
  );
  bar.start(total, 0, { step: '' });
  return {
    tick: (step) => bar.increment(1, { step }),
    stop: () => bar.stop(),
  };
}

// --- one group: a driver, a synchronous setting, cells × scenarios, interleaved rounds ------
async function runGroup(opts: {
  title: string;
  driver: DriverKind;
  sync: Synchronous;
  cells: Cell[];
  scenarios: readonly ScenarioDef[];
  rounds: number;
  seconds: number;
}): Promise<Series[]> {
  const steps = opts.cells.flatMap((cell) => opts.scenarios.map((s) => ({ cell, s })));
  const series = new Map<string, Series>(
    steps.map(({ cell, s }) => [
      `${cell.size.key}/${s.key}`,
      { driver: opts.driver, sync: opts.sync, size: cell.size, s, samples: [], latUs: [], rowsAtStart: [] },
    ]),
  );
  const bar = progress(opts.title, opts.rounds * steps.length);
  const t0 = Date.now();
  try {
    for (let r = 0; r < opts.rounds; r++) {
      // Rotate the order every round so drift and other processes hit every step alike.
      const shift = (r * Math.ceil(steps.length / opts.rounds)) % steps.length;
      const order = steps.map((_, i) => steps[(i + shift) % steps.length] as (typeof steps)[number]);
      for (const { cell, s } of order) {
        const x = series.get(`${cell.size.key}/${s.key}`) as Series;
        bar.tick(`${cell.size.key} ${s.label} (round ${r + 1}/${opts.rounds})`);
        const slot = cell.acquire(s);
        const conn = await openConn(opts.driver, slot.file, opts.sync);
        try {
          if (slot.setup !== undefined) await slot.setup(conn);
          const prepared = await s.prepare(conn, slot.account);
          const seq0 = (await headOf(conn, slot.account, s.table)).seq;
          const m = await measure(prepared.op, opts.seconds, x.latUs);
          const seq1 = (await headOf(conn, slot.account, s.table)).seq;
          const want = s.rowsPerOp * (m.ops + m.warmupOps);
          if (seq1 - seq0 !== want)
            throw new Error(`${s.label} (${cell.size.key}): ${m.ops + m.warmupOps} ops appended ${seq1 - seq0} rows, expected ${want}`);
          await prepared.check?.();
          const units = m.ops * s.unitsPerOp;
          x.rowsAtStart.push(seq0);
          x.samples.push({
            round: r + 1,
            ops: m.ops,
            seconds: m.seconds,
            unitsPerSec: units / m.seconds,
            cpuUsPerUnit: (m.cpu.user + m.cpu.system) / units,
            userUsPerUnit: m.cpu.user / units,
            sysUsPerUnit: m.cpu.system / units,
          });
          const audited = s.writes && s.table === 'credit_entry' && cell.rowsInDb <= config.verifyMaxRows && cell.size.wide === undefined;
          if (r === opts.rounds - 1 && audited) {
            const report = await conn.ledger.verify();
            x.verified = report.ok;
            if (!report.ok) log(`\nverify() FAILED after ${s.label} (${cell.size.key}): ${JSON.stringify(report.problems.slice(0, 3))}`);
          }
        } finally {
          conn.close();
          slot.release();
        }
      }
      if (!tty) log(`  round ${r + 1}/${opts.rounds} done (${((Date.now() - t0) / 1000).toFixed(0)} s, load ${load1().toFixed(2)})`);
    }
  } finally {
    bar.stop();
  }
  return [...series.values()];
}

// --- formatting --------------------------------------------------------------------------
const fmtLat = (us: number): string =>
  Number.isNaN(us)
    ? '–'
    : us >= 10_000
      ? `${(us / 1000).toFixed(0)} ms`
      : us >= 1000
        ? `${(us / 1000).toFixed(1)} ms`
        : `${us.toFixed(0)} µs`;
const fmtRate = (n: number): string => (n >= 100 ? fmtInt(n) : n.toFixed(1));
const fmtRatio = (r: number): string =>
  Number.isNaN(r)
    ? '–'
    : r >= 10
      ? `${fmtInt(r)}×`
      : r >= 2
        ? `${r.toFixed(1)}×`
        : r < 0.01
          ? `${(r * 100).toFixed(r < 0.001 ? 3 : 2)}%`
          : fmtPct(r);
const fmtCpu = (us: number): string => (us >= 1000 ? fmtInt(us) : us.toFixed(us < 10 ? 2 : 1));
const unitLabel = (s: ScenarioDef): string => (s.unitsPerOp > 1 ? `${s.unit}s/s` : s.unit === 'pair' ? 'pairs/s' : 'ops/s');

interface CellReport {
  driver: DriverKind;
  sync: Synchronous;
  size: string;
  label: string;
  history: number;
  rowsInDb: number;
  scenarios: {
    key: string;
    label: string;
    unit: string;
    unitsPerOp: number;
    api: boolean;
    summary: Summary;
    /** Ratios of median rates to the two baselines and the peer of the same driver and size. */
    vsAppend: number;
    vsLedgerInsert: number;
    vsSumDebit: number;
    /** Cross-checks against the minimal append (the goals' reference). */
    pairedVsAppend: number;
    cpuVsAppend: number;
    leastCpuVsAppend: number;
    /** Best round ÷ best round: the least disturbed rounds (a min-time estimator). */
    bestVsAppend: number;
    rowsAtStart: number[];
    rounds: RoundSample[];
    verified: boolean | null;
  }[];
}

function cellReports(all: Series[]): CellReport[] {
  const groups = new Map<string, Series[]>();
  for (const x of all) {
    const k = `${x.driver}/${x.sync}/${x.size.key}`;
    groups.set(k, [...(groups.get(k) ?? []), x]);
  }
  return [...groups.values()].map((xs) => {
    const first = xs[0] as Series;
    const ref = (key: string) => {
      const x = xs.find((y) => y.s.key === key);
      return x === undefined ? undefined : { x, sum: summarize(x) };
    };
    const append = ref('append');
    const ledgerInsert = ref('ledger_insert');
    const sumDebit = ref('sum_debit');
    const rateVs = (summary: Summary, r: { sum: Summary } | undefined) =>
      r === undefined ? Number.NaN : summary.medianPerSec / r.sum.medianPerSec;
    return {
      driver: first.driver,
      sync: first.sync,
      size: first.size.key,
      label: first.size.label,
      history: first.size.history,
      rowsInDb: first.size.wide === undefined ? first.size.history + 2_000 : first.size.wide.accounts * first.size.history,
      scenarios: xs.map((x) => {
        const summary = summarize(x);
        const paired =
          append === undefined
            ? Number.NaN
            : median(
                x.samples.flatMap((smp) => {
                  const rr = append.x.samples.find((q) => q.round === smp.round);
                  return rr === undefined ? [] : [smp.unitsPerSec / rr.unitsPerSec];
                }),
              );
        return {
          key: x.s.key,
          label: x.s.label,
          unit: unitLabel(x.s),
          unitsPerOp: x.s.unitsPerOp,
          api: x.s.api,
          summary,
          vsAppend: rateVs(summary, append),
          vsLedgerInsert: rateVs(summary, ledgerInsert),
          vsSumDebit: rateVs(summary, sumDebit),
          pairedVsAppend: paired,
          cpuVsAppend: append === undefined ? Number.NaN : append.sum.cpuUs / summary.cpuUs,
          leastCpuVsAppend: append === undefined ? Number.NaN : append.sum.minCpuUs / summary.minCpuUs,
          bestVsAppend: append === undefined ? Number.NaN : summary.maxPerSec / append.sum.maxPerSec,
          rowsAtStart: x.rowsAtStart,
          rounds: x.samples,
          verified: x.verified ?? null,
        };
      }),
    };
  });
}

const CELL_HEADER = [
  'scenario',
  'ops/s (median)',
  'min–max',
  'p50',
  'p99',
  'CPU µs/op',
  'vs minimal append',
  'vs credit_entry INSERT',
  'vs SUM debit',
];
const cellRows = (c: CellReport): string[][] =>
  c.scenarios.map((s) => [
    `${s.label}${s.unitsPerOp > 1 ? ` [${s.unit}; latency per call]` : s.unit === 'pairs/s' ? ' [pairs/s]' : ''}`,
    fmtRate(s.summary.medianPerSec),
    `${fmtRate(s.summary.minPerSec)}–${fmtRate(s.summary.maxPerSec)}`,
    fmtLat(s.summary.p50Us),
    fmtLat(s.summary.p99Us),
    fmtCpu(s.summary.cpuUs),
    s.key === 'append' ? '100%' : fmtRatio(s.vsAppend),
    s.key === 'ledger_insert' ? '100%' : fmtRatio(s.vsLedgerInsert),
    s.key === 'sum_debit' ? '1×' : fmtRatio(s.vsSumDebit),
  ]);
const markdownTable = (rows: readonly (readonly string[])[]): string => {
  const [head, ...body] = rows;
  if (head === undefined) return '';
  const esc = (c: string) => c.replace(/\|/g, '\\|');
  return [
    `| ${head.map(esc).join(' | ')} |`,
    `|${head.map((_, i) => (i === 0 ? ' --- ' : ' ---: ')).join('|')}|`,
    ...body.map((r) => `| ${r.map(esc).join(' | ')} |`),
  ].join('\n');
};

// --- the run -----------------------------------------------------------------------------
export async function runSuite(): Promise<void> {
  const started = Date.now();
  // src/ was loaded when this module was imported: record it now, and again at the end.
  const sourceAtStart = source();
  const phases: Record<string, number> = {};
  let phaseStart = started;
  const phaseDone = (name: string) => {
    phases[name] = (Date.now() - phaseStart) / 1000;
    phaseStart = Date.now();
  };
  const loads: Record<string, number> = { start: load1() };
  const dir = tempDir();
  const md: string[] = [];
  // Interrupted runs leave no multi-GB temp files behind.
  const onSignal = (sig: NodeJS.Signals) => {
    dir.remove();
    process.exit(sig === 'SIGINT' ? 130 : 143);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    log(`drizzle-credits bench suite (${config.profile}) — ${new Date(started).toISOString()}`);
    log(
      `drivers: ${drivers.map((d) => `${DRIVER_LABEL[d]} [${driverSizes[d].join(', ')}] × ${config.rounds[d]} rounds × ${config.seconds[d]} s`).join('; ')}`,
    );
    log(
      `pragmas (every connection): ${suitePragmas().join(', ')}, busy_timeout (better-sqlite3 5000; libSQL: set by the ledger); files in ${dir.path} (${filesystemOf(dir.path)})`,
    );
    log(`load average (1 min) at start: ${loads.start?.toFixed(2)} on ${os.cpus().length} cores`);
    log(`baseline (a), minimal append: ${BASELINES.minimalAppend.table.join('; ')}; per op: ${BASELINES.minimalAppend.insert}`);
    log(`baseline (b), the ledger's own table: ${BASELINES.ledgerInsert}`);
    log(`peer: ${BASELINES.sumDebit}`);

    // --- fixtures ---
    const wanted = new Set(drivers.flatMap((d) => driverSizes[d]));
    const pristine = new Map<string, Pristine>();
    const cells = new Map<string, Cell>();
    const seedSeconds: Record<string, number> = {};
    for (const key of ['1k', '100k', '1M']) {
      if (!wanted.has(key)) continue;
      const size = SIZES[key] as SizeSpec;
      const t = Date.now();
      const p = await seedPristine(dir.path, size.history);
      pristine.set(key, p);
      cells.set(key, copyCell(size, p, dir.path));
      seedSeconds[key] = (Date.now() - t) / 1000;
    }
    let wideFootprint: Footprint | undefined;
    if (wanted.has('10M')) {
      const size = SIZES['10M'] as SizeSpec;
      const accounts = size.wide?.accounts ?? 100;
      const needed = drivers
        .filter((d) => driverSizes[d].includes('10M'))
        .reduce((a, d) => a + config.rounds[d] * SCENARIOS.filter((s) => s.writes).length, 0);
      if (needed >= accounts)
        throw new Error(`the 10M db has ${accounts - 1} fresh accounts; ${needed} writing rounds need one each: lower --rounds`);
      const file = join(dir.path, 'wide-10m.db');
      const t = Date.now();
      const bar = tty
        ? new cliProgress.SingleBar(
            {
              stream: process.stderr,
              format: 'seeding 10M rows [{bar}] {percentage}% | {value}/{total} rows | ETA {eta_formatted}',
              hideCursor: false,
            },
            cliProgress.Presets.shades_classic,
          )
        : undefined;
      bar?.start(accounts * size.history, 0);
      if (bar === undefined) log(`seeding ${fmtInt(accounts * size.history)} rows (${accounts} accounts × ${fmtInt(size.history)}) …`);
      await seedWide(file, accounts, size.history, (done) => bar?.update(done));
      bar?.stop();
      const appendFile = join(dir.path, 'wide-10m-append.db');
      if (bar === undefined) log(`copying them into the minimal-append table of ${appendFile} …`);
      await seedWideAppend(appendFile, file);
      seedSeconds['10M'] = (Date.now() - t) / 1000;
      if (config.footprint) wideFootprint = footprint(file, join(dir.path, 'vacuum.db'), false);
      cells.set('10M', wideCell(size, file, appendFile, accounts));
    }
    const seeded = Object.entries(seedSeconds).map(([k, v]) => `${k} in ${v.toFixed(1)} s`);
    log(
      `seeded: ${seeded.join(', ')} (history with WITH RECURSIVE; replay keys, lots and holds through the API; ` +
        'the minimal-append table: a copy of the log)',
    );
    phaseDone('seed');

    // --- query plans (debit as src/ sends it, and the SUM peer) on the largest history ---
    const largest = [...pristine.values()].sort((a, b) => b.history - a.history)[0];
    const plans: Record<string, unknown> = {};
    if (largest !== undefined) {
      const c = openClient(largest.plain);
      try {
        try {
          const debitSql = await captureDebitSql(join(dir.path, 'probe.db'));
          const plan = queryPlan(c, debitSql.sql, debitSql.args(ACCOUNT, Date.now()));
          const check = checkPlan(plan.rows);
          plans.debit = { ok: check.ok, reason: check.reason, plan: plan.text.split('\n') };
          log(`\ndebit query plan (${fmtInt(largest.history)} history): ${check.ok ? 'OK' : 'PROBLEM'}: ${check.reason}`);
        } catch (e) {
          plans.debit = { ok: null, reason: `could not capture the debit statement: ${(e as Error).message}` };
          log(`\ndebit query plan: n/a (${(e as Error).message})`);
        }
        const sumPlan = queryPlan(c, SUM_DEBIT_SQL, [ACCOUNT, 1, 1, 1, ACCOUNT, 1]);
        plans.sumDebit = { plan: sumPlan.text.split('\n') };
        log(
          `SUM(delta) peer plan: ${sumPlan.text
            .split('\n')
            .map((l) => l.trim())
            .join(' · ')}`,
        );
      } finally {
        c.close();
      }
    }
    phaseDone('plans');

    // --- JIT warm-up: every scenario once, briefly, on the smallest cell (not recorded) ---
    const smallest = [...cells.values()].sort((a, b) => a.rowsInDb - b.rowsInDb)[0];
    if (smallest !== undefined) {
      for (const d of drivers) {
        await runGroup({
          title: `warm-up ${DRIVER_LABEL[d]}`,
          driver: d,
          sync: 'NORMAL',
          cells: [smallest],
          scenarios: SCENARIOS.filter((s) => s.key !== 'sum_debit' || smallest.size.history <= 1_000),
          rounds: 1,
          seconds: 0.05,
        });
      }
    }
    phaseDone('warm-up');

    // --- the main groups ---
    const series: Series[] = [];
    for (const d of drivers) {
      const dCells = driverSizes[d].map((k) => cells.get(k)).filter((c): c is Cell => c !== undefined);
      const t = Date.now();
      series.push(
        ...(await runGroup({
          title: DRIVER_LABEL[d],
          driver: d,
          sync: 'NORMAL',
          cells: dCells,
          scenarios: SCENARIOS,
          rounds: config.rounds[d],
          seconds: config.seconds[d],
        })),
      );
      loads[d] = load1();
      log(`${DRIVER_LABEL[d]}: ${((Date.now() - t) / 1000).toFixed(0)} s, load average now ${loads[d]?.toFixed(2)}`);
      phaseDone(d);
    }

    // --- synchronous = FULL: the two baselines and the debit, better-sqlite3, smallest history ---
    let syncFull: Series[] = [];
    const syncCell = cells.get('1k') ?? smallest;
    if (config.syncFull && syncCell !== undefined && drivers.includes('better-sqlite3')) {
      syncFull = await runGroup({
        title: 'synchronous=FULL',
        driver: 'better-sqlite3',
        sync: 'FULL',
        cells: [syncCell],
        scenarios: [scenario('append'), scenario('ledger_insert'), scenario('guard_floor'), scenario('debit')],
        rounds: 3,
        seconds: 0.5,
      });
      phaseDone('synchronous=FULL');
    }

    // --- footprint ---
    const footprints: Record<string, Footprint & { what: string }> = {};
    if (config.footprint) {
      if (largest !== undefined) {
        footprints.seededLog = {
          what: `seeded history, ${fmtInt(largest.history)} rows on one account (no projections), after VACUUM`,
          ...footprint(largest.plain, join(dir.path, 'vacuum.db'), true),
        };
      }
      const wl = join(dir.path, 'workload.db');
      const built = await buildWorkload(wl, config.workloadAccounts);
      footprints.workload = {
        what: `${fmtInt(config.workloadAccounts)} accounts written through the API (top-up, expiring promo lot, 40 keyed debits with model/key, 5 holds captured), after VACUUM; built in ${built.seconds.toFixed(1)} s, verify() ok`,
        ...footprint(wl, join(dir.path, 'vacuum.db'), true),
      };
      removeDb(wl);
      if (wideFootprint !== undefined)
        footprints.wide = { what: '10M-row db right after seeding (page_count × page_size, no VACUUM)', ...wideFootprint };
      phaseDone('footprint');
    }

    // --- report ---
    const reports = cellReports([...series, ...syncFull]);
    const mainReports = reports.filter((c) => c.sync === 'NORMAL');
    for (const c of mainReports) {
      const title = `${DRIVER_LABEL[c.driver]} — ${c.label} (${fmtInt(c.rowsInDb)} rows in the db)`;
      log(`\n${title}`);
      log(table([CELL_HEADER, ...cellRows(c)]));
      md.push(`#### ${title}\n\n${markdownTable([CELL_HEADER, ...cellRows(c)])}\n`);
    }

    // History scaling: each scenario's rate at every size, per driver.
    const scaling: Record<string, Record<string, Record<string, number>>> = {};
    for (const d of drivers) {
      const rs = mainReports.filter((c) => c.driver === d);
      if (rs.length < 2) continue;
      const header = [
        'scenario',
        ...rs.map((c) => c.size),
        ...(rs.some((c) => c.size === '1k') && rs.some((c) => c.size === '1M') ? ['1M ÷ 1k'] : []),
      ];
      const rows = SCENARIOS.map((s) => {
        const rates = rs.map((c) => c.scenarios.find((x) => x.key === s.key)?.summary.medianPerSec ?? Number.NaN);
        const at = (k: string) => rs.find((c) => c.size === k)?.scenarios.find((x) => x.key === s.key)?.summary.medianPerSec ?? Number.NaN;
        const perSize = scaling[d] ?? {};
        scaling[d] = perSize;
        perSize[s.key] = Object.fromEntries(rs.map((c, i) => [c.size, rates[i] as number]));
        return [s.label, ...rates.map(fmtRate), ...(header.length > rs.length + 1 ? [fmtPct(at('1M') / at('1k'))] : [])];
      });
      log(`\n${DRIVER_LABEL[d]} — ops/s by history size (median)`);
      log(table([header, ...rows]));
      md.push(`#### ${DRIVER_LABEL[d]} — ops/s by history size\n\n${markdownTable([header, ...rows])}\n`);
    }

    // synchronous = FULL
    const syncRows: string[][] = [];
    const syncReport = reports.find((c) => c.sync === 'FULL');
    if (syncReport !== undefined) {
      const normal = mainReports.find((c) => c.driver === 'better-sqlite3' && c.size === syncReport.size);
      for (const s of syncReport.scenarios) {
        const n = normal?.scenarios.find((x) => x.key === s.key);
        syncRows.push([
          s.label,
          fmtRate(n?.summary.medianPerSec ?? Number.NaN),
          fmtRate(s.summary.medianPerSec),
          fmtLat(s.summary.p50Us),
          fmtLat(s.summary.p99Us),
          n === undefined ? '–' : fmtPct(s.summary.medianPerSec / n.summary.medianPerSec),
        ]);
      }
      const header = ['better-sqlite3, 1k history', 'NORMAL ops/s', 'FULL ops/s', 'FULL p50', 'FULL p99', 'FULL ÷ NORMAL'];
      log('\nsynchronous = FULL (fsync of the WAL at every commit) vs NORMAL');
      log(table([header, ...syncRows]));
      md.push(`#### synchronous = FULL vs NORMAL\n\n${markdownTable([header, ...syncRows])}\n`);
    }

    // Footprint
    if (Object.keys(footprints).length > 0) {
      const header = ['database', 'entries', 'bytes/entry: whole file', 'log (credit_entry + indexes)', 'log + projections'];
      const rows = Object.values(footprints).map((f) => [
        f.what,
        fmtInt(f.entries),
        f.perEntry.file.toFixed(0),
        f.perEntry.log === null ? '–' : f.perEntry.log.toFixed(0),
        f.perEntry.logAndProjections === null ? '–' : f.perEntry.logAndProjections.toFixed(0),
      ]);
      log('\nbytes per entry on disk');
      log(table([header, ...rows]));
      md.push(`#### Bytes per entry on disk\n\n${markdownTable([header, ...rows])}\n`);
      const wl = footprints.workload;
      if (wl !== undefined)
        log(
          `  workload projections: ${Object.entries(wl.projectionRows)
            .map(([k, v]) => `${k} ${fmtInt(v)} rows`)
            .join(', ')}`,
        );
    }

    // Goals (better-sqlite3; libSQL reported against the same bars for information)
    const goalRows: string[][] = [];
    const goals: Record<string, unknown>[] = [];
    const verdict = (ok: boolean) => (ok ? 'PASS' : 'FAIL');
    const addGoal = (
      driver: DriverKind,
      name: string,
      goal: string,
      value: number,
      fmt: (v: number) => string,
      ok: boolean,
      cross: { label: string; value: number; ok: boolean }[],
      floor?: number,
    ) => {
      const disagree = cross.filter((c) => c.ok !== ok);
      const crossText = cross.map((c) => `${c.label} ${fmt(c.value)}`).join(', ');
      const v = `${verdict(ok)}${disagree.length > 0 ? ` (noisy: ${disagree.map((c) => c.label).join(', ')} ${ok ? 'FAIL' : 'PASS'})` : ''}`;
      const ofFloor = floor === undefined ? undefined : value / floor;
      goalRows.push([
        DRIVER_LABEL[driver],
        name,
        goal,
        fmt(value),
        crossText,
        floor === undefined ? '–' : fmt(floor),
        ofFloor === undefined ? '–' : fmtPct(ofFloor),
        v,
      ]);
      goals.push({
        driver,
        name,
        goal,
        value,
        ok,
        crossChecks: cross,
        floor: floor ?? null,
        ofFloor: ofFloor ?? null,
        binding: driver === 'better-sqlite3',
      });
    };
    type Scn = CellReport['scenarios'][number];
    const inBand = (v: number) => Math.abs(v - 1) <= GOAL_FLATNESS;
    /**
     * A scenario ÷ the minimal append of its cell, ≥ `min`, with its four cross-checks, and
     * beside it the operation's floor in the same cell (see the legend): the most it can reach.
     */
    const ratioGoal = (d: DriverKind, name: string, x: Scn, min: number, floor?: Scn) =>
      addGoal(
        d,
        name,
        `≥ ${fmtPct(min)}`,
        x.vsAppend,
        fmtPct,
        x.vsAppend >= min,
        [
          { label: 'paired', value: x.pairedVsAppend, ok: x.pairedVsAppend >= min },
          { label: 'CPU', value: x.cpuVsAppend, ok: x.cpuVsAppend >= min },
          { label: 'least CPU', value: x.leastCpuVsAppend, ok: x.leastCpuVsAppend >= min },
          { label: 'best rounds', value: x.bestVsAppend, ok: x.bestVsAppend >= min },
        ],
        floor?.vsAppend,
      );
    /** A scenario's 1M-history rate ÷ its 1k-history rate, within 1 ± GOAL_FLATNESS. */
    const flatGoal = (d: DriverKind, name: string, small: Scn, large: Scn) => {
      const flat = large.summary.medianPerSec / small.summary.medianPerSec;
      const cpuFlat = small.summary.cpuUs / large.summary.cpuUs;
      const leastCpuFlat = small.summary.minCpuUs / large.summary.minCpuUs;
      const bestFlat = large.summary.maxPerSec / small.summary.maxPerSec;
      const pairedFlat = median(
        large.rounds.flatMap((r) => small.rounds.filter((q) => q.round === r.round).map((q) => r.unitsPerSec / q.unitsPerSec)),
      );
      addGoal(d, name, `${1 - GOAL_FLATNESS}–${1 + GOAL_FLATNESS}`, flat, (v) => v.toFixed(3), inBand(flat), [
        { label: 'paired', value: pairedFlat, ok: inBand(pairedFlat) },
        { label: 'CPU', value: cpuFlat, ok: inBand(cpuFlat) },
        { label: 'least CPU', value: leastCpuFlat, ok: inBand(leastCpuFlat) },
        { label: 'best rounds', value: bestFlat, ok: inBand(bestFlat) },
      ]);
    };
    for (const d of drivers) {
      const cellOf = (size: string) => mainReports.find((c) => c.driver === d && c.size === size);
      const sc = (size: string, key: string) => cellOf(size)?.scenarios.find((x) => x.key === key);
      for (const size of ['1k', '1M']) {
        const debit = sc(size, 'debit');
        if (debit !== undefined)
          ratioGoal(d, `debitIfCovers ÷ minimal append, ${size}`, debit, GOAL_DEBIT_VS_APPEND, sc(size, 'guard_floor'));
      }
      for (const size of ['1k', '1M']) {
        const lots = sc(size, 'debit_lots');
        if (lots !== undefined)
          ratioGoal(d, `debit with 3 lots + 2 holds ÷ minimal append, ${size}`, lots, GOAL_LOTS_VS_APPEND, sc(size, 'guard_floor_counter'));
      }
      const [d1k, d1m] = [sc('1k', 'debit'), sc('1M', 'debit')];
      if (d1k !== undefined && d1m !== undefined) flatGoal(d, 'debitIfCovers flatness, 1M ÷ 1k', d1k, d1m);
      const [l1k, l1m] = [sc('1k', 'debit_lots'), sc('1M', 'debit_lots')];
      if (l1k !== undefined && l1m !== undefined) flatGoal(d, 'debit with 3 lots + 2 holds flatness, 1M ÷ 1k', l1k, l1m);
      for (const size of ['1k', '1M']) {
        const caps = sc(size, 'debit_caps');
        if (caps !== undefined)
          ratioGoal(d, `debit with 3 caps live ÷ minimal append, ${size}`, caps, GOAL_CAPS_VS_APPEND, sc(size, 'guard_floor_counters'));
      }
      const [c1k, c1m] = [sc('1k', 'debit_caps'), sc('1M', 'debit_caps')];
      if (c1k !== undefined && c1m !== undefined) flatGoal(d, 'debit with 3 caps flatness, 1M ÷ 1k', c1k, c1m);
      const [g1k, g1m] = [sc('1k', 'charge'), sc('1M', 'charge')];
      if (g1k !== undefined && g1m !== undefined) flatGoal(d, 'charge flatness, 1M ÷ 1k', g1k, g1m);
      for (const size of ['1k', '1M']) {
        for (const [key, name, floor] of [
          ['debit_plan', 'debit on a subscribed account', 'guard_floor_counter'],
          ['charge', 'charge', 'guard_floor_keyed'],
        ] as const) {
          const x = sc(size, key);
          if (x !== undefined) ratioGoal(d, `${name} ÷ minimal append, ${size}`, x, GOAL_PLAN_VS_APPEND, sc(size, floor));
        }
      }
      const [p1k, p1m] = [sc('1k', 'debit_plan'), sc('1M', 'debit_plan')];
      if (p1k !== undefined && p1m !== undefined) flatGoal(d, 'debit on a subscribed account flatness, 1M ÷ 1k', p1k, p1m);
      for (const size of ['1k', '1M']) {
        for (const [key, name, min, floor] of [
          ['transfer', 'transfer', GOAL_TRANSFER_VS_APPEND, 'guard_floor_pair'],
          ['team_debit', 'team debit by a member with a member cap', GOAL_TEAM_DEBIT_VS_APPEND, 'guard_floor_counter'],
          ['debit_alert', 'debit on an account with a low-balance alert', GOAL_ALERT_DEBIT_VS_APPEND, 'guard_floor'],
        ] as const) {
          const x = sc(size, key);
          if (x !== undefined) ratioGoal(d, `${name} ÷ minimal append, ${size}`, x, min, sc(size, floor));
        }
      }
      const [t1k, t1m] = [sc('1k', 'transfer'), sc('1M', 'transfer')];
      if (t1k !== undefined && t1m !== undefined) flatGoal(d, 'transfer flatness, 1M ÷ 1k', t1k, t1m);
      const [m1k, m1m] = [sc('1k', 'team_debit'), sc('1M', 'team_debit')];
      if (m1k !== undefined && m1m !== undefined) flatGoal(d, 'team debit by a member with a member cap flatness, 1M ÷ 1k', m1k, m1m);
      const [a1k, a1m] = [sc('1k', 'debit_alert'), sc('1M', 'debit_alert')];
      if (a1k !== undefined && a1m !== undefined) flatGoal(d, 'debit with a low-balance alert flatness, 1M ÷ 1k', a1k, a1m);
      for (const size of ['1k', '1M']) {
        const b = sc(size, 'batch');
        if (b !== undefined) {
          const cpuRate = 1e6 / b.summary.cpuUs;
          const leastCpuRate = 1e6 / b.summary.minCpuUs;
          addGoal(
            d,
            `batch ingest, ${size}`,
            `≥ ${fmtInt(GOAL_BATCH_PER_SEC)} debits/s`,
            b.summary.medianPerSec,
            fmtInt,
            b.summary.medianPerSec >= GOAL_BATCH_PER_SEC,
            [
              { label: 'best round', value: b.summary.maxPerSec, ok: b.summary.maxPerSec >= GOAL_BATCH_PER_SEC },
              { label: '1 s ÷ CPU per debit', value: cpuRate, ok: cpuRate >= GOAL_BATCH_PER_SEC },
              { label: '1 s ÷ least CPU', value: leastCpuRate, ok: leastCpuRate >= GOAL_BATCH_PER_SEC },
            ],
            sc(size, 'batch_floor')?.summary.medianPerSec,
          );
        }
      }
    }
    if (goalRows.length > 0) {
      const header = ['driver', 'goal', 'target', 'measured', 'cross-checks', 'floor', 'of floor', 'verdict'];
      log('\ngoals (binding on better-sqlite3; libSQL measured against the same bars for information)');
      log(table([header, ...goalRows]));
      const legend =
        'Ratios are to the minimal append of the same driver and history size. ' +
        'measured = ratio of median ops/s over rounds; paired = median of per-round ratios; CPU = ratio of median CPU µs per op; ' +
        'least CPU = ratio of the least CPU µs per op of any round; best rounds = best round ÷ best round. ' +
        'On a loaded host, least CPU and best rounds are the least disturbed. ' +
        "floor = the operation's own floor in the same cell ÷ the minimal append: raw SQL writing only what the operation " +
        'must write — the head-guarded INSERT (read the head, guard, append the row, no projection probed, no JavaScript) for a ' +
        'debit; + a new idempotency key for a charge (keyed by contract); + 1 counter row raised in a table beside the log for ' +
        'a debit keeping one projection row (a lot drawn, the allowance, a member cap); + 3 for three caps; + a row arriving on ' +
        'another account for a transfer — the most the operation can reach (for batch ingest: the head-guarded INSERT 1,000 ' +
        'times in one transaction, in debits/s). of floor = measured ÷ floor: how close the operation comes to it.';
      log(legend);
      md.push(`#### Goals\n\n${markdownTable([header, ...goalRows])}\n\n${legend}\n`);
    }
    const verifyRuns = series.filter((x) => x.verified !== undefined);
    log(
      `\nverify() after the last round: ${verifyRuns.length === 0 ? 'not run (no db small enough)' : verifyRuns.every((x) => x.verified) ? `ok on all ${verifyRuns.length} databases` : 'FAILED (see above)'}`,
    );
    loads.end = load1();

    // --- machine + results files ---
    const versions: Record<string, string> = {};
    for (const d of drivers) {
      const c = await openConn(d, join(dir.path, `version-${d}.db`));
      versions[d] = await c.sqliteVersion();
      c.close();
    }
    const cpus = os.cpus();
    const machine = {
      cpu: cpus[0]?.model ?? 'unknown',
      cores: cpus.length,
      os: `${os.type()} ${os.release()} ${os.arch()}`,
      memoryGiB: Math.round(os.totalmem() / 2 ** 30),
      filesystem: filesystemOf(dir.path),
      node: process.version,
      sqlite: versions,
      packages: {
        'better-sqlite3': pkgVersion('better-sqlite3'),
        '@libsql/client': pkgVersion('@libsql/client'),
        libsql: pkgVersion('libsql'),
        'drizzle-orm': pkgVersion('drizzle-orm'),
      },
      loadAverage1m: loads,
    };
    log(
      `\nmachine: ${machine.cpu}, ${machine.cores} cores, ${machine.memoryGiB} GiB, ${machine.os}, ${machine.filesystem}; node ${machine.node}; ` +
        `SQLite ${Object.entries(versions)
          .map(([k, v]) => `${v} (${k})`)
          .join(', ')}; load average ${Object.entries(loads)
          .map(([k, v]) => `${k} ${v.toFixed(2)}`)
          .join(', ')}`,
    );
    const sourceAtEnd = source();
    const binding = goals.filter((g) => g.binding);
    const failed = binding.some((g) => !g.ok) || verifyRuns.some((x) => !x.verified);
    /** null: nothing binding was measured (no better-sqlite3 goal) and nothing failed. */
    const allOk = failed ? false : binding.length === 0 ? null : true;
    const result = {
      kind: 'suite',
      date: new Date(started).toISOString(),
      durationSeconds: (Date.now() - started) / 1000,
      phaseSeconds: phases,
      source: sourceAtStart,
      sourceAtEnd,
      sourceChangedDuringRun: sourceAtEnd.treeHash !== sourceAtStart.treeHash,
      machine,
      config: { ...config, drivers, sizes: driverSizes, pragmas: suitePragmas(), batchSize: BATCH_SIZE, seedSeconds, baselines: BASELINES },
      plans,
      cells: reports,
      scaling,
      footprint: footprints,
      goals,
      overall: allOk,
    };
    log(
      `total ${result.durationSeconds.toFixed(0)} s (${Object.entries(phases)
        .map(([k, v]) => `${k} ${v.toFixed(0)} s`)
        .join(', ')})`,
    );
    const src = result.source;
    log(
      `src measured: ${src.commit === null ? 'unknown commit' : src.commit.slice(0, 12)}${src.dirty ? ' + uncommitted changes in src/ or drizzle/' : ''} (tree ${src.treeHash})` +
        (result.sourceChangedDuringRun
          ? `; WARNING: src/ or drizzle/ changed during the run (now tree ${sourceAtEnd.treeHash}): the numbers measure the code loaded at the start`
          : ''),
    );
    if (config.write) {
      const out = join(here, 'results');
      mkdirSync(out, { recursive: true });
      const stamp = result.date.replace(/:/g, '-').replace(/\.\d+Z$/, 'Z');
      const body = `${JSON.stringify(result, null, 2)}\n`;
      writeFileSync(join(out, `${stamp}.json`), body);
      writeFileSync(join(out, 'latest.json'), body);
      const mdBody = `<!-- generated by bench/suite.ts (${config.profile}), ${result.date}; src ${src.commit?.slice(0, 12) ?? '?'}${src.dirty ? ' (dirty)' : ''} -->\n\n${md.join('\n')}`;
      writeFileSync(join(out, `${stamp}.md`), mdBody);
      writeFileSync(join(out, 'latest.md'), mdBody);
      log(`wrote bench/results/${stamp}.json (+ .md) and bench/results/latest.json (+ latest.md)`);
    }
    const overall = allOk === null ? 'n/a (no better-sqlite3 goal was measured)' : allOk ? 'PASS' : 'FAIL';
    log(`overall: ${overall}${config.strict ? '' : ' (exit code 0 without --strict)'}`);
    if (config.strict && allOk === false) process.exitCode = 1;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    dir.remove();
  }
}
