/**
 * Contention: several OS processes run the whole operation mix at once on the same 20 hot
 * accounts of one database file — grants (with lots: expiry, priority), debits (plain,
 * once, with keys shared across processes), refunds, holds with capture and release,
 * adjustments and small mixed batch() calls. Each worker logs every acknowledged result as
 * a JSON line (written with write(2) as soon as the call returns). The parent then checks
 * the log against the database (transfers between the hot accounts are in the mix too):
 *   - every acknowledged entry is a row with the same id, account, kind, delta, amount,
 *     balance, ref, key and reason, and matches what the call asked for;
 *   - every row was acknowledged exactly once (no lost, extra or duplicate writes);
 *   - a shared key wrote one row, and every process that used it got that row back;
 *   - no row's running balance is below zero; verify() finds nothing; no transfer is
 *     half-applied (its arrivals, from the rows, add up to what left);
 *   - each account's posted balance = opening grants + Σ acknowledged deltas.
 *
 * Light by default (4 processes × 150 ops); RELIABILITY=full runs 8 × 2000.
 * RELIABILITY_SEED=<n> replays a run's operation mix.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ALLOCATION_ROWS } from '../../src/sql.js';
import { audit, auditTransferRows, Book } from './support/check.js';
import { type Db, type Driver, expectedBusyTimeout, openDb } from './support/db.js';
import { readLog, type WorkerPlan } from './support/protocol.js';
import { FULL, hotAccounts, seed, sharedKeys } from './support/setup.js';
import { type Proc, reap, reportedPragmas, startWorker, within } from './support/spawn.js';

const PROCESSES = Number(process.env.RELIABILITY_PROCESSES ?? (FULL ? 8 : 4));
const OPS = Number(process.env.RELIABILITY_OPS ?? (FULL ? 2000 : 150));
const LANES = 2;
const SEED = Number(process.env.RELIABILITY_SEED ?? Date.now() % 2 ** 31);
const ACCOUNTS = hotAccounts(FULL ? 6 : 1);
const { sharedDebits, sharedGrants } = sharedKeys(
  ACCOUNTS.map(([a]) => a),
  FULL ? 200 : 40,
  FULL ? 30 : 10,
);
/** A `busy` is allowed (it must have written nothing); a lapsed hold is a normal outcome. */
const ALLOWED_ERRORS = new Set(['hold_expired', 'busy']);
const RUN_TIMEOUT_MS = FULL ? 30 * 60_000 : 120_000;

describe.each<Driver>(['better-sqlite3', 'libsql'])('%s: contention between writer processes', (driver) => {
  let dir: string | undefined;
  let passed = false;
  let db: Db | undefined;
  const procs: Proc[] = [];

  afterEach(async () => {
    await reap(procs);
    procs.length = 0;
    await db?.close();
    db = undefined;
    // A failed run keeps its database and the workers' logs to look at.
    if (dir !== undefined && passed) rmSync(dir, { recursive: true, force: true });
    else if (dir !== undefined) console.log(`[contention] kept ${dir}`);
    dir = undefined;
    passed = false;
  });

  it(`${PROCESSES} processes × ${OPS} mixed operations on ${ACCOUNTS.length} hot accounts`, {
    timeout: RUN_TIMEOUT_MS + 60_000,
  }, async () => {
    const started = Date.now();
    dir = mkdtempSync(join(tmpdir(), 'drizzle-credits-contention-'));
    const file = join(dir, 'ledger.db');
    db = await openDb(driver, file);
    await db.ledger.migrate();
    const book = new Book();
    await seed(db, book, ACCOUNTS);

    for (let w = 0; w < PROCESSES; w++) {
      const plan: WorkerPlan = {
        mode: 'contention',
        driver,
        file,
        log: join(dir, `w${w}.jsonl`),
        synchronous: 'FULL',
        name: `w${w}`,
        seed: SEED + w * 7919,
        ops: OPS,
        lanes: LANES,
        part: [w, PROCESSES],
        accounts: ACCOUNTS.map(([a]) => a),
        sharedDebits,
        sharedGrants,
        fsyncAcks: false,
      };
      procs.push(startWorker(plan));
    }
    await within(Promise.all(procs.map((p) => p.ready)), 60_000, 'starting the workers');
    const go = Date.now();
    for (const p of procs) p.go();
    const exits = await within(Promise.all(procs.map((p) => p.exited)), RUN_TIMEOUT_MS, `the workers (seed ${SEED})`);
    const ran = Date.now() - go;

    for (const p of procs) {
      const { lines, torn } = readLog(p.plan.log);
      book.add(lines, torn);
    }
    const result = await audit(db, book, { allowedErrors: ALLOWED_ERRORS, allAcked: true });
    const report = await db.ledger.verify();
    const transfers = await auditTransferRows(db);
    const [alloc] = await db.all(`SELECT COUNT(*) AS n FROM (${ALLOCATION_ROWS})`);
    const [lots] = await db.all('SELECT COUNT(*) AS n FROM credit_lot');
    const batches = [...book.intents.values()].filter((i) => i.call.method === 'batch').length;

    // Each account's posted balance is the opening grants plus every acknowledged delta.
    const sums: string[] = [];
    for (const [account] of ACCOUNTS) {
      const head = result.heads.get(account) ?? 0;
      const acked = result.ackedSums.get(account) ?? 0;
      if (head !== acked) sums.push(`${account}: posted ${head}, acknowledged deltas give ${acked}`);
    }

    console.log(
      `[contention ${driver}] seed ${SEED}: ${PROCESSES} processes × ${OPS} ops (${LANES} lanes each, ${batches} of them batch() calls), ` +
        `run ${ran} ms, total ${Date.now() - started} ms; ${book.acks.size} acks, ${result.entriesChecked} acknowledged entries checked against rows ` +
        `(${result.applied} applied), outcomes ${JSON.stringify(result.outcomes)}, errors ${JSON.stringify(result.errors)}, ` +
        `${result.crossProcessReplays} cross-process replays, ${result.racedKeys} shared keys raced, ` +
        `${result.interleavings} adjacent rows by different processes, calls median ${result.medianMs} ms / slowest ${result.slowestMs} ms, ${result.rows} rows, ` +
        `${Number(lots?.n)} lots, ${Number(alloc?.n)} allocations, ${transfers.transfers} transfers (${transfers.arrivals} arrivals, ` +
        `${transfers.lotArrivals} of them lots), verify ${report.ok ? 'ok' : `${report.problemCount} problems`}`,
    );

    const failed = exits.flatMap((e, i) =>
      e.code === 0 ? [] : [`worker ${i} exit ${e.code ?? e.signal}: ${procs[i]?.stderr().slice(-2000)}`],
    );
    expect(failed, `seed ${SEED}`).toEqual([]);
    expect(result.problems, `seed ${SEED}`).toEqual([]);
    expect(sums, `seed ${SEED}`).toEqual([]);
    expect(report.problems, `seed ${SEED}`).toEqual([]);
    expect(transfers.problems, `seed ${SEED}`).toEqual([]);
    expect(report.ok).toBe(true);
    expect(book.torn).toBe(0);
    // Every worker really ran with WAL, synchronous=FULL and the busy timeout.
    const busy = expectedBusyTimeout(driver);
    for (const p of procs)
      expect(reportedPragmas(p)).toMatchObject({
        journal_mode: 'wal',
        synchronous: 2,
        ...(busy === undefined ? {} : { busy_timeout: busy }),
      });
    // The run exercised what it claims to.
    for (const o of [
      'insufficient',
      'debited',
      'refunded',
      'held',
      'captured',
      'released',
      'adjusted',
      'granted',
      'replayed',
      'transferred',
    ])
      expect(result.outcomes[o] ?? 0, o).toBeGreaterThan(0);
    expect(batches).toBeGreaterThan(0);
    expect(result.crossProcessReplays).toBeGreaterThan(0);
    expect(result.racedKeys).toBeGreaterThan(0);
    expect(result.interleavings).toBeGreaterThan(0);
    expect(Number(alloc?.n)).toBeGreaterThan(0);
    passed = true;
  });
});
