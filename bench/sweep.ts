/**
 * Sweep benchmark: how fast does `ledger.sweep()` write the `expire` rows for N lapsed lots,
 * and does it leave every balance where read-time expiry already had it?
 *
 * Run by `npm run bench -- --detail` after the debit tables (`--sweep-lots=N`, default 200,000;
 * `--no-sweep` skips it), or alone: `npx tsx bench/sweep.ts --sweep-lots=1000000`.
 *
 * The lapsed lots are seeded with one INSERT … SELECT into the log, one account per lot (the
 * ledger's own triggers open the lots and apply the seeded draws):
 *   seq 1  grant of 100 that opens a lot (priority 10), lapsing one day after it was granted
 *   seq 2  debit of 30, drawn from that lot (its `allocations` name the lot's pos)
 *   seq 3  unlotted grant of 5
 *   seq 4  (every 10th account) grant of 50 that opens a lot expiring a year after the sweep
 * so each lapsed lot has 70 left for the sweep to expire, and every account keeps a
 * balance (5, or 55) the sweep must not move. The same seeder on 1,000 lots is checked
 * with `ledger.verify()` before and after its sweep; the big database with `--sweep-verify`.
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Ledger } from '../src/index.js';
import { type Call, fullScans, queryPlan, recordCalls } from './probe.js';
import { type Client, openLedger, tempDir } from './setup.js';
import { fmtInt, seconds, table } from './stats.js';

const DAY_MS = 24 * 3600 * 1000;
const LOT = 100;
const DRAWN = 30;
const LEFT = LOT - DRAWN;
const UNLOTTED = 5;
const LIVE_LOT = 50;
const LIVE_EVERY = 10;
/** getBalance() is compared before and after the sweep on this many accounts, evenly spread. */
const BALANCE_SAMPLE = 1_000;

export interface SweepBenchOptions {
  /** Lapsed lots (= accounts) to seed and sweep. */
  lots: number;
  /** Directory for the database files. */
  dir: string;
  log: (s?: string) => void;
  /** Passed to sweep() (the library's default when absent). */
  batchSize?: number;
  /** Also run verify() on the big database after its sweep (off by default: ~20 s per 200k lots). */
  verifyLarge?: boolean;
}

export interface SweepBenchResult {
  lots: number;
  batchSize: number | null;
  accounts: number;
  entriesSeeded: number;
  seedSeconds: number;
  dryRun: { seconds: number; lotsExpired: number; creditsExpired: number };
  sweep: {
    seconds: number;
    lotsPerSecond: number;
    lotsExpired: number;
    creditsExpired: number;
    batches: number;
    lotsPerBatch: number;
    /** Process CPU per lot expired, µs: user, and system (WAL writes, reads of pages not in SQLite's cache, checkpoints). */
    userUsPerLot: number;
    sysUsPerLot: number;
    slowestBatchMs: number;
    medianBatchMs: number;
  };
  secondSweep: { seconds: number; lotsExpired: number; batches: number };
  balances: {
    sampled: number;
    sampleMismatches: number;
    accountsChecked: number;
    headMismatches: number;
    lapsedLotsLeft: number;
    liveLotsIntact: number;
    liveLotsExpected: number;
  };
  verify: {
    small: { lots: number; before: boolean; after: boolean; entries: number };
    large: { ok: boolean; entries: number; seconds: number } | null;
  };
  plans: { sql: string; plan: string[]; scans: string[] }[];
  pass: boolean;
}

/**
 * Seeds `lots` accounts as described above, with the sweep clock at `sweepAt`: every lapsed
 * lot was granted 30 days before it and expired at most a few hours after the first day.
 */
export function seedLapsedLots(client: Client, lots: number, sweepAt: number): { entries: number } {
  const t0 = sweepAt - 30 * DAY_MS;
  const liveExpiry = sweepAt + 365 * DAY_MS;
  const last = `(CASE WHEN i % ${LIVE_EVERY} = 0 THEN 4 ELSE 3 END)`;
  // Row s of account i sits at pos @base + first(i) + s, where first(i) counts the rows of
  // accounts 1..i-1 (3 each, 4 for every 10th): so the debit (s = 2) can name the pos of
  // its lot's grant (s = 1) in its allocations.
  const first = `(3 * (i - 1) + (i - 1) / ${LIVE_EVERY})`;
  client.transaction(() => {
    const { base } = client.prepare('SELECT COALESCE(MAX(pos), 0) AS base FROM credit_entry').get() as { base: number };
    // Inserted in (account, seq) order: the trigger credit_entry_opens_lot opens each lot
    // when its grant (s = 1, or s = 4 for the live lot) is written, and
    // credit_entry_allocates applies the debit's draw to it (remaining 100 - 30 = 70).
    client
      .prepare(
        `INSERT INTO credit_entry (pos, account, seq, kind, delta, amount, balance, expires_at, priority, created_at, allocations)
         WITH RECURSIVE r(i, s) AS (
           SELECT 1, 1
           UNION ALL
           SELECT CASE WHEN s < ${last} THEN i ELSE i + 1 END, CASE WHEN s < ${last} THEN s + 1 ELSE 1 END
           FROM r WHERE i < @n OR s < ${last}
         )
         SELECT @base + ${first} + s,
                'sweep_' || printf('%07d', i),
                s,
                CASE s WHEN 2 THEN 'debit' ELSE 'grant' END,
                CASE s WHEN 1 THEN @lot WHEN 2 THEN -@drawn WHEN 3 THEN @unlotted ELSE @live END,
                CASE s WHEN 1 THEN @lot WHEN 2 THEN @drawn WHEN 3 THEN @unlotted ELSE @live END,
                CASE s WHEN 1 THEN @lot WHEN 2 THEN @lot - @drawn WHEN 3 THEN @lot - @drawn + @unlotted
                       ELSE @lot - @drawn + @unlotted + @live END,
                CASE s WHEN 1 THEN @t0 + @day + ((i * 7919) % @n) * 10 WHEN 4 THEN @liveExpiry END,
                CASE s WHEN 1 THEN 10 WHEN 4 THEN 20 END,
                @t0 + i * 4 + s - 1,
                -- the debit (seq 2) drew the first lot (seq 1), as the ledger would have recorded it
                CASE s WHEN 2 THEN json_array(json_array(@base + ${first} + 1, @drawn)) END
         FROM r ORDER BY i, s`,
      )
      .run({
        base,
        n: lots,
        lot: LOT,
        drawn: DRAWN,
        unlotted: UNLOTTED,
        live: LIVE_LOT,
        t0,
        day: DAY_MS,
        liveExpiry,
      });
    const wrong = client
      .prepare(
        `SELECT COUNT(*) AS n FROM credit_lot
         WHERE account LIKE 'sweep\\_%' ESCAPE '\\' AND remaining <> CASE seq WHEN 1 THEN amount - @drawn ELSE amount END`,
      )
      .get({ drawn: DRAWN }) as { n: number };
    if (wrong.n !== 0) throw new Error(`sweep seeder: ${wrong.n} lots do not hold what they should`);
  })();
  client.pragma('wal_checkpoint(TRUNCATE)');
  const { n } = client.prepare('SELECT COUNT(*) AS n FROM credit_entry').get() as { n: number };
  return { entries: n };
}

const accountName = (i: number) => `sweep_${String(i).padStart(7, '0')}`;

/**
 * Accounts whose head balance after the sweep is not the unlotted grant plus what their
 * open lots hold (the live lot, on every 10th account): the lapsed 70 must be gone from
 * the posted balance, and nothing else. (`open = 1` lets each lookup use the partial index
 * credit_lot_open; without it every account scanned the whole lot table.)
 */
function headMismatches(client: Client): { checked: number; wrong: number } {
  const r = client
    .prepare(
      `SELECT COUNT(*) AS checked,
              SUM(h.balance <> @unlotted + (SELECT COALESCE(SUM(l.remaining), 0) FROM credit_lot AS l
                                            WHERE l.account = h.account AND l.open = 1 AND l.remaining > 0)) AS wrong
       FROM (SELECT account, balance, MAX(seq) AS seq FROM credit_entry GROUP BY account) AS h`,
    )
    .get({ unlotted: UNLOTTED }) as { checked: number; wrong: number | null };
  return { checked: r.checked, wrong: r.wrong ?? 0 };
}

async function sampleBalances(ledger: Ledger, lots: number): Promise<Map<string, { balance: number; held: number; available: number }>> {
  const out = new Map<string, { balance: number; held: number; available: number }>();
  const n = Math.min(BALANCE_SAMPLE, lots);
  for (let k = 0; k < n; k++) {
    const account = accountName(1 + Math.floor((k * lots) / n));
    const b = await ledger.getBalance(account);
    out.set(account, { balance: b.balance, held: b.held, available: b.available });
  }
  return out;
}

export async function sweepBench(opts: SweepBenchOptions): Promise<SweepBenchResult> {
  const { log } = opts;
  const sweepAt = Date.now();
  const clock = () => sweepAt;

  // --- the seeder, audited on a small instance ----------------------------------------
  const smallLots = 1_000;
  const small = await openLedger(join(opts.dir, 'sweep-small.db'), clock);
  seedLapsedLots(small.client, smallLots, sweepAt);
  const vBefore = await small.ledger.verify();
  // The statements a sweep runs, recorded here (not in the timed sweep) and explained on the big db.
  const calls = recordCalls(small.client);
  const smallSweep = await small.ledger.sweep();
  const distinct = [...new Map(calls.map((c) => [c.sql, c])).values()].filter((c) => !/^\s*(BEGIN|COMMIT|ROLLBACK)\b/i.test(c.sql));
  const vAfter = await small.ledger.verify();
  small.client.close();
  if (!vBefore.ok || !vAfter.ok) {
    throw new Error(
      `sweep seeder: verify() on ${smallLots} lots: ${JSON.stringify([...vBefore.problems, ...vAfter.problems].slice(0, 3))}`,
    );
  }
  if (smallSweep.lotsExpired !== smallLots) throw new Error(`sweep of ${smallLots} seeded lots expired ${smallSweep.lotsExpired}`);

  // --- the big one --------------------------------------------------------------------
  const { client, ledger } = await openLedger(join(opts.dir, 'sweep.db'), clock);
  let entriesSeeded = 0;
  const seedSeconds = await seconds(() => {
    entriesSeeded = seedLapsedLots(client, opts.lots, sweepAt).entries;
  });
  log(
    `\nsweep: seeded ${fmtInt(opts.lots)} lapsed lots on ${fmtInt(opts.lots)} accounts (${fmtInt(entriesSeeded)} entries, ` +
      `${fmtInt(Math.floor(opts.lots / LIVE_EVERY))} live lots besides) in ${seedSeconds.toFixed(1)} s; ` +
      `the seeder passes verify() on ${fmtInt(smallLots)} lots before and after a sweep`,
  );
  const before = await sampleBalances(ledger, opts.lots);

  let dry = { lotsExpired: 0, creditsExpired: 0 };
  const drySeconds = await seconds(async () => {
    dry = await ledger.sweep({ dryRun: true });
  });

  const batchMs: number[] = [];
  let last = process.hrtime.bigint();
  let report = { lotsExpired: 0, creditsExpired: 0, batches: 0 };
  const cpu0 = process.cpuUsage();
  const sweepSeconds = await seconds(async () => {
    report = await ledger.sweep({
      ...(opts.batchSize === undefined ? {} : { batchSize: opts.batchSize }),
      onProgress: () => {
        const t = process.hrtime.bigint();
        batchMs.push(Number(t - last) / 1e6);
        last = t;
      },
    });
  });
  const sweepCpu = process.cpuUsage(cpu0);
  let second = { lotsExpired: -1, batches: -1 };
  const secondSeconds = await seconds(async () => {
    second = await ledger.sweep();
  });

  const after = await sampleBalances(ledger, opts.lots);
  let sampleMismatches = 0;
  for (const [account, b] of before) {
    const a = after.get(account);
    if (a === undefined || a.balance !== b.balance || a.held !== b.held || a.available !== b.available) sampleMismatches++;
  }
  const heads = headMismatches(client);
  const lots = client
    .prepare(
      `SELECT (SELECT COUNT(*) FROM credit_lot WHERE remaining > 0 AND expires_at <= @now) AS lapsed,
              (SELECT COUNT(*) FROM credit_lot WHERE seq = 4 AND remaining = @live) AS live`,
    )
    .get({ now: sweepAt, live: LIVE_LOT }) as { lapsed: number; live: number };
  const liveExpected = Math.floor(opts.lots / LIVE_EVERY);

  let large: SweepBenchResult['verify']['large'] = null;
  if (opts.verifyLarge === true) {
    let v: Awaited<ReturnType<Ledger['verify']>> | undefined;
    const secs = await seconds(async () => {
      v = await ledger.verify();
    });
    large = { ok: v?.ok === true, entries: v?.entries ?? 0, seconds: secs };
  }

  const plans = distinct.map((c: Call) => {
    const p = queryPlan(client, c.sql, c.args);
    const scans = fullScans(p.rows).map((r) => r.detail);
    return { sql: c.sql, plan: p.text.split('\n'), scans };
  });
  client.close();

  const sorted = [...batchMs].sort((a, b) => a - b);
  const result: SweepBenchResult = {
    lots: opts.lots,
    batchSize: opts.batchSize ?? null,
    accounts: opts.lots,
    entriesSeeded,
    seedSeconds,
    dryRun: { seconds: drySeconds, lotsExpired: dry.lotsExpired, creditsExpired: dry.creditsExpired },
    sweep: {
      seconds: sweepSeconds,
      lotsPerSecond: report.lotsExpired / sweepSeconds,
      lotsExpired: report.lotsExpired,
      creditsExpired: report.creditsExpired,
      batches: report.batches,
      lotsPerBatch: report.batches === 0 ? 0 : report.lotsExpired / report.batches,
      userUsPerLot: sweepCpu.user / Math.max(1, report.lotsExpired),
      sysUsPerLot: sweepCpu.system / Math.max(1, report.lotsExpired),
      slowestBatchMs: sorted[sorted.length - 1] ?? 0,
      medianBatchMs: sorted[sorted.length >> 1] ?? 0,
    },
    secondSweep: { seconds: secondSeconds, lotsExpired: second.lotsExpired, batches: second.batches },
    balances: {
      sampled: before.size,
      sampleMismatches,
      accountsChecked: heads.checked,
      headMismatches: heads.wrong,
      lapsedLotsLeft: lots.lapsed,
      liveLotsIntact: lots.live,
      liveLotsExpected: liveExpected,
    },
    verify: {
      small: { lots: smallLots, before: vBefore.ok, after: vAfter.ok, entries: vAfter.entries },
      large,
    },
    plans,
    pass: false,
  };
  const checks = {
    dryRunCounts: dry.lotsExpired === opts.lots && dry.creditsExpired === opts.lots * LEFT,
    allExpired: report.lotsExpired === opts.lots && report.creditsExpired === opts.lots * LEFT,
    secondSweepEmpty: second.lotsExpired === 0 && second.batches === 0,
    balances: sampleMismatches === 0 && heads.wrong === 0 && heads.checked === opts.lots,
    lots: lots.lapsed === 0 && lots.live === liveExpected,
    verify: vBefore.ok && vAfter.ok && (large === null || large.ok),
    plans: plans.every((p) => p.scans.length === 0),
  };
  result.pass = Object.values(checks).every(Boolean);

  const ok = (b: boolean) => (b ? 'ok' : 'FAIL');
  log(
    table([
      [
        'sweep measurement',
        'seconds',
        'lots',
        'lots/s',
        'credits',
        'batches',
        'median batch ms',
        'max batch ms',
        'CPU µs/lot (user + sys)',
      ],
      [
        'sweep({ dryRun: true })',
        drySeconds.toFixed(3),
        fmtInt(dry.lotsExpired),
        fmtInt(dry.lotsExpired / drySeconds),
        fmtInt(dry.creditsExpired),
        '—',
        '—',
        '—',
      ],
      [
        opts.batchSize === undefined ? 'sweep()' : `sweep({ batchSize: ${opts.batchSize} })`,
        sweepSeconds.toFixed(2),
        fmtInt(report.lotsExpired),
        fmtInt(result.sweep.lotsPerSecond),
        fmtInt(report.creditsExpired),
        fmtInt(report.batches),
        result.sweep.medianBatchMs.toFixed(1),
        result.sweep.slowestBatchMs.toFixed(1),
        `${result.sweep.userUsPerLot.toFixed(0)} + ${result.sweep.sysUsPerLot.toFixed(0)}`,
      ],
      ['second sweep()', secondSeconds.toFixed(3), fmtInt(second.lotsExpired), '—', '—', fmtInt(second.batches), '—', '—', '—'],
    ]),
  );
  log(
    `dry run counts every lapsed lot and its ${LEFT} credits left: ${ok(checks.dryRunCounts)}; the sweep expires them all: ` +
      `${ok(checks.allExpired)}; a second sweep finds nothing: ${ok(checks.secondSweepEmpty)}`,
  );
  log(
    `balances: getBalance() before = after on ${fmtInt(before.size)} sampled accounts (${sampleMismatches} differ); ` +
      `head balance right on ${fmtInt(heads.checked - heads.wrong)} of ${fmtInt(opts.lots)} accounts; ` +
      `${fmtInt(lots.lapsed)} lapsed lots left; ${fmtInt(lots.live)} of ${fmtInt(liveExpected)} live lots untouched  ${ok(checks.balances && checks.lots)}`,
  );
  log(
    `verify(): seeder on ${fmtInt(smallLots)} lots ${ok(vBefore.ok)} before / ${ok(vAfter.ok)} after its sweep; ` +
      (large === null
        ? 'big db not verified (add --sweep-verify)'
        : `big db after the sweep ${ok(large.ok)} (${fmtInt(large.entries)} entries, ${large.seconds.toFixed(1)} s)`),
  );
  log(
    `sweep statements (${plans.length}), EXPLAIN QUERY PLAN: ${checks.plans ? 'no table or index scan' : 'PROBLEM'}` +
      plans
        .filter((p) => p.scans.length > 0)
        .map((p) => `\n  scans in ${p.sql.split('\n')[0]}: ${p.scans.join('; ')}`)
        .join(''),
  );
  log(`sweep: ${result.pass ? 'PASS' : 'FAIL'}`);
  return result;
}

// Standalone: `npx tsx bench/sweep.ts [--sweep-lots=N] [--sweep-batch=N] [--sweep-verify]`.
if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const a = process.argv.find((x) => x.startsWith('--sweep-lots='));
  const lots = a === undefined ? 200_000 : Number(a.slice('--sweep-lots='.length));
  if (!Number.isSafeInteger(lots) || lots < 1 || lots > 9_999_999) throw new Error('--sweep-lots must be an integer from 1 to 9,999,999');
  const b = process.argv.find((x) => x.startsWith('--sweep-batch='));
  const batchSize = b === undefined ? undefined : Number(b.slice('--sweep-batch='.length));
  const dir = tempDir();
  try {
    const r = await sweepBench({
      lots,
      batchSize,
      dir: dir.path,
      log: (s = '') => process.stdout.write(`${s}\n`),
      verifyLarge: process.argv.includes('--sweep-verify'),
    });
    if (!r.pass) process.exitCode = 1;
  } finally {
    dir.remove();
  }
}
