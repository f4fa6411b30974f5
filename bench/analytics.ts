/**
 * Analytics benchmark: do the usage queries cost the same with 10× the history?
 *
 *   npm run bench -- --analytics                  # 1M and 10M entries (the 10M build takes minutes and ~3 GB of disk)
 *   npx tsx bench/analytics.ts --sizes=10k,100k   # a quick run (a smoke test of the code path)
 *   flags: --sizes=10k,100k,1M,10M  --rounds=15  --dir=<where the files go>  --no-write  --strict
 *
 * The DESIGN's bar (§7.1, §7.8): queries read rollups, never the log, so their cost must not
 * grow with the number of entries. Goal: the 10M time of each query ≤ 1.2 × its 1M time.
 *
 * **Workload.** History grows at a constant rate (10,000 entries a day, so 1M entries cover
 * 100 days and 10M cover 1,000 days), on 1,000 accounts, with 8 models and 50 API keys: a
 * bigger database is a longer history, as in production. Each query asks about the last 30
 * days, so each size has the same ~300,000 entries (and about as many hourly buckets) in
 * range; what differs is everything before it.
 *
 * **Populating** is direct SQL, not API calls: one `INSERT … WITH RECURSIVE` into
 * `credit_entry` per million rows (an opening grant per account, then debits of 3 credits;
 * running balances consistent), then `foldUsage` folds the whole log into the rollup in its
 * bounded chunks (timed and reported), then 500 debits through the API stay unfolded, so
 * every read also adds a tail, as a live ledger's reads do.
 *
 * **Measured**, on better-sqlite3 (WAL, synchronous NORMAL), in rounds that interleave the
 * sizes: `analytics.spend` grouped by model over 30 days, grouped by model and day, filtered
 * by one account and grouped by day; `analytics.top` of accounts; `analytics.summary`. Each
 * round runs every (size, query) once, order rotated; reported: median and p90 ms over the
 * rounds, and 10M ÷ 1M. The query plan of the model spend is printed: the log is only
 * reached by its rowid range (the tail), never scanned.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { drizzle } from 'drizzle-orm/better-sqlite3';
import { createLedger, type Ledger } from '../src/index.js';
import { runnerFor } from '../src/runner/index.js';
import { foldUsage } from '../src/usage/fold.js';
import { fmtInt, median, table } from './stats.js';

const DAY = 86_400_000;
const PER_DAY = 10_000;
const ACCOUNTS = 1_000;
const MODELS = 8;
const KEYS = 50;
const WINDOW_DAYS = 30;
const TAIL_DEBITS = 500;
const GOAL = 1.2;

const arg = (name: string): string | undefined => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const flag = (name: string) => process.argv.includes(`--${name}`);
const parseSize = (s: string): number => {
  const m = /^(\d+)([kM]?)$/.exec(s.trim());
  if (m === null) throw new Error(`--sizes: cannot read ${s} (write 10k, 1M, 10M)`);
  return Number(m[1]) * (m[2] === 'k' ? 1_000 : m[2] === 'M' ? 1_000_000 : 1);
};
const label = (n: number) => (n >= 1_000_000 ? `${n / 1_000_000}M` : n >= 1_000 ? `${n / 1_000}k` : String(n));

interface Sized {
  entries: number;
  file: string;
  client: Database.Database;
  ledger: Ledger;
  /** The clock the ledger reads: the end of the history. */
  end: number;
  seedSeconds: number;
  foldSeconds: number;
  bucketsInRange: number;
  bytes: number;
}

/** Rows [from, to) of the synthetic history, appended in position order. */
function insertRange(client: Database.Database, from: number, to: number, start: number): void {
  const step = DAY / PER_DAY;
  client
    .prepare(
      `WITH RECURSIVE c(i) AS (SELECT CAST(? AS INTEGER) UNION ALL SELECT i + 1 FROM c WHERE i + 1 < CAST(? AS INTEGER))
       INSERT INTO credit_entry (account, seq, kind, delta, amount, balance, model, key_id, created_at)
       SELECT printf('acct_%04d', i % ${ACCOUNTS}), i / ${ACCOUNTS} + 1,
              CASE WHEN i < ${ACCOUNTS} THEN 'grant' ELSE 'debit' END,
              CASE WHEN i < ${ACCOUNTS} THEN 1000000000000 ELSE -3 END,
              CASE WHEN i < ${ACCOUNTS} THEN 1000000000000 ELSE 3 END,
              1000000000000 - 3 * (i / ${ACCOUNTS}),
              CASE WHEN i < ${ACCOUNTS} THEN NULL ELSE 'model-' || ((i / 7) % ${MODELS}) END,
              CASE WHEN i < ${ACCOUNTS} THEN NULL ELSE 'key_' || (i % ${KEYS}) END,
              ${start} + i * ${step}
       FROM c`,
    )
    .run(from, to);
}

async function build(entries: number, dir: string, log: (s: string) => void): Promise<Sized> {
  const file = join(dir, `analytics-${label(entries)}.db`);
  rmSync(file, { force: true });
  const client = new Database(file);
  client.pragma('journal_mode = WAL');
  client.pragma('synchronous = NORMAL');
  // The history ends "now" for the ledger: the last row's time, plus the tail debits.
  const start = Date.UTC(2030, 0, 1);
  const end = start + Math.ceil(entries / PER_DAY) * DAY;
  let now = end;
  const ledger = createLedger(drizzle(client), { clock: () => now });
  await ledger.migrate();
  const t0 = performance.now();
  for (let i = 0; i < entries; i += 1_000_000) {
    insertRange(client, i, Math.min(entries, i + 1_000_000), start);
    if (entries >= 1_000_000) log(`  ${label(entries)}: ${fmtInt(Math.min(entries, i + 1_000_000))} rows`);
  }
  const seedSeconds = (performance.now() - t0) / 1000;
  const t1 = performance.now();
  const folded = await foldUsage(runnerFor(drizzle(client)), { lag: 0 });
  const foldSeconds = (performance.now() - t1) / 1000;
  if (folded.through !== entries) throw new Error(`fold stopped at ${folded.through} of ${entries}`);
  for (let i = 0; i < TAIL_DEBITS; i++) {
    now = end - DAY + i * 1_000;
    const r = await ledger.debitIfCovers({
      account: `acct_${String(i % ACCOUNTS).padStart(4, '0')}`,
      amount: 3,
      model: 'model-0',
      keyId: 'key_0',
    });
    if (r.outcome !== 'debited') throw new Error(`tail debit: ${r.outcome}`);
  }
  now = end;
  client.pragma('wal_checkpoint(TRUNCATE)');
  const bucketsInRange = (
    client.prepare('SELECT COUNT(*) AS n FROM credit_usage WHERE hour >= ? AND hour < ?').get(end - WINDOW_DAYS * DAY, end) as { n: number }
  ).n;
  return { entries, file, client, ledger, end, seedSeconds, foldSeconds, bucketsInRange, bytes: statSync(file).size };
}

type Query = { name: string; run: (s: Sized) => Promise<unknown> };
const range = (s: Sized) => ({ from: s.end - WINDOW_DAYS * DAY, to: s.end });
const QUERIES: Query[] = [
  { name: 'spend by model, 30 days', run: (s) => s.ledger.analytics.spend({ ...range(s), groupBy: ['model'] }) },
  { name: 'spend by model and day, 30 days', run: (s) => s.ledger.analytics.spend({ ...range(s), groupBy: ['model', 'day'] }) },
  {
    name: 'spend of one account by day, 30 days',
    run: (s) => s.ledger.analytics.spend({ ...range(s), account: 'acct_0042', groupBy: ['day'] }),
  },
  { name: 'top 10 accounts, 30 days', run: (s) => s.ledger.analytics.top({ ...range(s), by: 'account', limit: 10 }) },
  { name: 'summary, 30 days', run: (s) => s.ledger.analytics.summary(range(s)) },
];

export async function runAnalyticsBench(): Promise<void> {
  const sizes = (arg('sizes') ?? '1M,10M').split(',').map(parseSize);
  const rounds = Number(arg('rounds') ?? '15');
  const dir = arg('dir') ?? mkdtempSync(join(tmpdir(), 'drizzle-credits-analytics-'));
  mkdirSync(dir, { recursive: true });
  const log = (s: string) => console.log(s);
  log(`analytics bench: sizes ${sizes.map(label).join(', ')}; ${rounds} rounds; files in ${dir}`);
  log(
    `machine: ${cpus()[0]?.model ?? '?'} × ${cpus().length}; load ${loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')}`,
  );
  const built: Sized[] = [];
  try {
    for (const n of sizes) {
      log(`building ${label(n)} …`);
      const s = await build(n, dir, log);
      log(
        `  ${label(n)}: seeded in ${s.seedSeconds.toFixed(1)} s, folded in ${s.foldSeconds.toFixed(1)} s ` +
          `(${fmtInt(n / s.foldSeconds)} rows/s), ${fmtInt(s.bytes / 1e6)} MB, ${fmtInt(s.bucketsInRange)} buckets in the 30-day range`,
      );
      built.push(s);
    }
    // Every answer at every size must be the same shape; print the model spend's plan once.
    const biggest = built[built.length - 1] as Sized;
    const plan = await planOf(biggest);
    log(`\nquery plan of "spend by model" (${label(biggest.entries)}):\n${plan.join('\n')}`);
    if (plan.some((l) => /SCAN e\b|SCAN credit_entry\b/.test(l) && !/USING INTEGER PRIMARY KEY/.test(l)))
      log('WARNING: the plan scans credit_entry');
    // Warm-up, then interleaved rounds.
    for (const s of built) for (const q of QUERIES) await q.run(s);
    const times = new Map<string, number[]>();
    const steps = built.flatMap((s) => QUERIES.map((q) => ({ s, q })));
    for (let r = 0; r < rounds; r++) {
      const rotated = steps.map((_, i) => steps[(i + r) % steps.length] as (typeof steps)[number]);
      for (const { s, q } of rotated) {
        const t0 = performance.now();
        await q.run(s);
        const ms = performance.now() - t0;
        const key = `${q.name}@${s.entries}`;
        times.set(key, [...(times.get(key) ?? []), ms]);
      }
    }
    const p90 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * 0.9))] as number;
    const rows: string[][] = [['query', ...built.map((s) => `${label(s.entries)} median (p90) ms`)]];
    const pairs = sizes.includes(1_000_000) && sizes.includes(10_000_000);
    if (pairs) rows[0]?.push('10M ÷ 1M', `goal ≤ ${GOAL}`);
    const results: Record<string, unknown>[] = [];
    let pass = true;
    for (const q of QUERIES) {
      const cells = built.map((s) => {
        const xs = times.get(`${q.name}@${s.entries}`) ?? [];
        return `${median(xs).toFixed(2)} (${p90(xs).toFixed(2)})`;
      });
      const med = (n: number) => median(times.get(`${q.name}@${n}`) ?? []);
      const row = [q.name, ...cells];
      const result: Record<string, unknown> = {
        query: q.name,
        ms: Object.fromEntries(built.map((s) => [label(s.entries), times.get(`${q.name}@${s.entries}`)])),
      };
      if (pairs) {
        const ratio = med(10_000_000) / med(1_000_000);
        const ok = ratio <= GOAL;
        pass &&= ok;
        row.push(ratio.toFixed(2), ok ? 'PASS' : 'FAIL');
        result.ratio10Mto1M = ratio;
        result.pass = ok;
      }
      rows.push(row);
      results.push(result);
    }
    log(`\n${table(rows)}`);
    if (pairs) log(`\noverall: ${pass ? 'PASS' : 'FAIL'} (each query's 10M median ≤ ${GOAL} × its 1M median)`);
    log(
      `load at the end: ${loadavg()
        .map((x) => x.toFixed(2))
        .join(' ')}`,
    );
    if (!flag('no-write')) {
      const here = fileURLToPath(new URL('.', import.meta.url));
      const stamp = new Date()
        .toISOString()
        .replace(/[:.]/g, '-')
        .replace(/-\d{3}Z$/, 'Z');
      let commit: string | null = null;
      try {
        commit = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: here, encoding: 'utf8', stdio: 'pipe' }).trim();
      } catch {
        // not a checkout
      }
      const out = join(here, 'results', `${stamp}-analytics.json`);
      writeFileSync(
        out,
        `${JSON.stringify(
          {
            kind: 'analytics',
            commit,
            machine: { cpu: cpus()[0]?.model, cores: cpus().length, load: loadavg() },
            config: { sizes, rounds, perDay: PER_DAY, accounts: ACCOUNTS, models: MODELS, keys: KEYS, windowDays: WINDOW_DAYS },
            builds: built.map((s) => ({
              entries: s.entries,
              seedSeconds: s.seedSeconds,
              foldSeconds: s.foldSeconds,
              bytes: s.bytes,
              bucketsInRange: s.bucketsInRange,
            })),
            plan,
            results,
            pass: pairs ? pass : null,
          },
          null,
          2,
        )}\n`,
      );
      log(`results: ${out}`);
    }
    if (flag('strict') && pairs && !pass) process.exitCode = 1;
  } finally {
    for (const s of built) s.client.close();
    if (arg('dir') === undefined) rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * EXPLAIN QUERY PLAN of the statement `analytics.spend` sends for "by model": captured from
 * the ledger itself on a probe connection that records what it prepares and with which
 * arguments, so the plan follows src/ as it changes.
 */
async function planOf(s: Sized): Promise<string[]> {
  const probe = new Database(s.file, { readonly: true });
  const original = probe.prepare.bind(probe);
  const captured: { sql: string; args: unknown[] }[] = [];
  (probe as unknown as { prepare: (sql: string) => unknown }).prepare = (sql: string) => {
    const stmt = original(sql);
    const all = stmt.all.bind(stmt);
    (stmt as unknown as { all: (...args: unknown[]) => unknown }).all = (...args: unknown[]) => {
      captured.push({ sql, args });
      return all(...args);
    };
    return stmt;
  };
  try {
    await createLedger(drizzle(probe), { clock: () => s.end }).analytics.spend({ ...range(s), groupBy: ['model'] });
    const q = captured.find((c) => c.sql.includes('FROM credit_usage AS x'));
    if (q === undefined) return ['(the statement was not captured)'];
    return (original(`EXPLAIN QUERY PLAN ${q.sql}`).all(...q.args) as { detail: string }[]).map((r) => `  ${r.detail}`);
  } finally {
    probe.close();
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await runAnalyticsBench();
