/**
 * Crashes: writer processes are killed with SIGKILL at random moments while they run the
 * operation mix (single-statement debits, grants and transfers, and multi-statement units:
 * refunds that give credits back to lots, captures that close a hold and draw lots,
 * lot-drawing debits and adjustments, sweeps, and batch() calls, transfers among their ops).
 * The first writer of every round starts with a transfer, so transfers are in flight at kills.
 *
 * Each writer appends an `intent` line (write(2)) before every ledger call and an `ack`
 * line (write(2) + fsync(2)) only after the call returned. Each round the parent starts
 * two writers, lets them run 20–300 ms, SIGKILLs them, reopens the database and checks:
 *   - verify() is ok: the log chain (seq, running balances, floor) and every projection
 *     (lots, holds, allocations) agree with a replay of the log — nothing half-applied;
 *   - every acknowledged operation is present, by entry id, with the acknowledged fields;
 *   - every row belongs to an intent that was logged (nothing written that was never
 *     asked for), and an operation acknowledged as insufficient or rejected wrote nothing;
 *   - no transfer is half-applied, read from the rows themselves (not only by verify()):
 *     every `transfer_out` has `transfer_in` rows on one other account adding up to its
 *     amount, every `transfer_in` names an existing `transfer_out`, and an acknowledged
 *     transfer's rows are exactly the ones it reported;
 *   - the keyed calls acknowledged in the round, repeated by the parent with the same
 *     input, replay to the same entry; keyed calls that were in flight at the kill either
 *     replay the row they wrote before the kill or apply now (never twice).
 * At the end rebuild() must leave the projections exactly as the writers left them.
 *
 * A share of single debits, grants and captures carry `with`: an insert into the app's own
 * table app_ledger_links(entry_note, account, amount), the note being the call's reason.
 * After every round and at the end, never one without the other: every app row has exactly
 * one log entry with its note as reason, on its account and for its amount; every entry
 * written by a call that carried `with` has its app row — kills inside such calls included.
 *
 * better-sqlite3 and libSQL, both in WAL with synchronous=FULL (RELIABILITY_SYNC=NORMAL to
 * try NORMAL: a SIGKILL is a process crash, which NORMAL also survives; only a power cut
 * tells them apart, and this test cannot cut power).
 *
 * Light by default (4 rounds × 2 writers = 8 kills per driver); RELIABILITY=full runs 30
 * rounds (60 kills per driver). RELIABILITY_SEED=<n> replays a run's random choices.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ALLOCATION_ROWS } from '../../src/sql.js';
import { APP_LINKS_DDL } from '../support/app-links.js';
import {
  type Audit,
  audit,
  auditLinks,
  auditTransferRows,
  Book,
  type LinkAudit,
  Problems,
  projections,
  type TransferAudit,
} from './support/check.js';
import { type Db, type Driver, expectedBusyTimeout, openDb, type Synchronous } from './support/db.js';
import { execute, opsOf, prng, reasonOf, repeatable } from './support/ops.js';
import { type AckLine, APPLIED, type Call, type IntentLine, readLog, type WorkerPlan } from './support/protocol.js';
import { FULL, hotAccounts, seed, sharedKeys } from './support/setup.js';
import { type Proc, reap, reportedPragmas, startWorker, within } from './support/spawn.js';

const ROUNDS = Number(process.env.RELIABILITY_ROUNDS ?? (FULL ? 30 : 4));
const WRITERS = 2;
const KILL_AFTER_MS: [number, number] = [20, 300];
const SYNC: Synchronous = process.env.RELIABILITY_SYNC === 'NORMAL' ? 'NORMAL' : 'FULL';
const SEED = Number(process.env.RELIABILITY_SEED ?? Date.now() % 2 ** 31);
const ACCOUNTS = hotAccounts(FULL ? 4 : 1);
const { sharedDebits, sharedGrants } = sharedKeys(
  ACCOUNTS.map(([a]) => a),
  60,
  10,
);
/** Writers take refund targets and holds from what earlier rounds left, so these can be stale. */
const ALLOWED_ERRORS = new Set(['hold_expired', 'hold_closed', 'exceeds_refundable', 'busy']);

interface Tally {
  kills: number;
  /** Kills whose writer's last log line was an intent: the kill landed inside a ledger call. */
  killedInCall: number;
  acks: number;
  inFlight: number;
  /** In-flight calls whose rows were in the database after the kill. */
  inFlightCommitted: number;
  /** Acknowledged keyed calls repeated by the parent; each replayed its entry. */
  retriesReplayed: number;
  /** Keyed calls in flight at the kill, repeated by the parent. */
  inFlightRetried: number;
  /** Calls carrying `with` in flight at a kill, and those of them whose entry had committed. */
  linkedInFlight: number;
  linkedInFlightCommitted: number;
  /** Transfers in flight at a kill (single or in a batch), and those of them that had committed. */
  transfersInFlight: number;
  transfersInFlightCommitted: number;
}

/** Rows by reason (the tag every call writes; a transfer's by its leaving row), as they stand now. */
async function rowsByReason(db: Db): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  for (const r of await db.all(
    "SELECT 'ce_' || pos AS id, reason FROM credit_entry WHERE reason IS NOT NULL AND kind <> 'transfer_in' ORDER BY pos",
  )) {
    const k = String(r.reason);
    out.set(k, [...(out.get(k) ?? []), String(r.id)]);
  }
  return out;
}

/** Expected refusals when a call in flight at the kill is repeated and had not committed. */
function refusalOk(op: Call, code: string): boolean {
  if (ALLOWED_ERRORS.has(code)) return true;
  // A grant whose lot expiry has passed since: rejected up front (it never applied).
  return code === 'invalid_argument' && op.method === 'grant' && (op.input.expiresAt ?? Infinity) <= Date.now();
}

/**
 * The parent plays the client that retries after a crash. Acknowledged keyed calls must
 * replay to the acknowledged entry; keyed calls that were in flight must replay what they
 * wrote, or apply now if they wrote nothing. The parent's calls go into the book like any
 * worker's, so later rounds check them too.
 */
async function retryAfterCrash(
  db: Db,
  book: Book,
  round: number,
  acked: AckLine[],
  inFlight: IntentLine[],
  problems: Problems,
  tally: Tally,
) {
  let n = 0;
  const run = async (op: Call): Promise<{ result?: { outcome: string; entry?: { id: string } }; code?: string }> => {
    const tag = `parent${round}-${n++}`;
    book.add([{ type: 'intent', tag, call: op, t: Date.now() }]);
    try {
      const results = await execute(db.ledger, op);
      book.add([{ type: 'ack', tag, results, t: Date.now(), ms: 0 }]);
      return { result: results[0] };
    } catch (e) {
      const code = String((e as { code?: unknown }).code ?? (e as Error).name);
      book.add([{ type: 'ack', tag, results: [], error: { code, message: String((e as Error).message) }, t: Date.now(), ms: 0 }]);
      return { code };
    }
  };

  for (const ack of acked) {
    if (ack.error !== undefined) continue;
    const call = book.intents.get(ack.tag)?.call;
    if (call === undefined) continue;
    const ops = opsOf(call);
    for (const [i, op] of ops.entries()) {
      const first = ack.results[i];
      if (first?.entry === undefined || !repeatable(op)) continue;
      const again = await run(op);
      if (again.result?.outcome !== 'replayed' || again.result.entry?.id !== first.entry.id) {
        problems.add('acked call did not replay after the crash', `${ack.tag}[${i}] ${first.entry.id}: ${JSON.stringify(again)}`);
      } else tally.retriesReplayed++;
    }
  }

  const rows = await rowsByReason(db);
  for (const intent of inFlight) {
    for (const op of opsOf(intent.call)) {
      if (!repeatable(op)) continue;
      const reason = reasonOf(op) ?? '';
      const before = rows.get(reason) ?? [];
      tally.inFlightRetried++;
      const again = await run(op);
      if (before.length > 0) {
        if (again.result?.outcome !== 'replayed' || again.result.entry?.id !== before[0])
          problems.add(
            'in-flight call that committed did not replay',
            `${intent.tag} ${reason} row ${before[0]}: ${JSON.stringify(again)}`,
          );
        continue;
      }
      if (again.code !== undefined) {
        if (!refusalOk(op, again.code)) problems.add('in-flight call refused on retry', `${intent.tag} ${reason}: ${again.code}`);
        continue;
      }
      const outcome = again.result?.outcome ?? '';
      if (outcome === 'replayed')
        problems.add('retry replayed a row that was not there', `${intent.tag} ${reason}: ${JSON.stringify(again)}`);
      if (!APPLIED.has(outcome)) continue; // insufficient now: fine, nothing was written
      // Another in-flight call may carry the same shared key: it must now replay this row.
      if (again.result?.entry !== undefined) rows.set(reason, [again.result.entry.id]);
      const third = await run(op);
      if (third.result?.outcome !== 'replayed' || third.result.entry?.id !== again.result?.entry?.id)
        problems.add('retry of a retry did not replay', `${intent.tag} ${reason}: ${JSON.stringify(third)}`);
    }
  }
}

describe.each<Driver>(['better-sqlite3', 'libsql', 'libsql-native'])('%s: writers killed with SIGKILL', (driver) => {
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
    else if (dir !== undefined) console.log(`[crash] kept ${dir}`);
    dir = undefined;
    passed = false;
  });

  it(`${ROUNDS * WRITERS} kills (${ROUNDS} rounds × ${WRITERS} writers), synchronous=${SYNC}`, {
    timeout: FULL ? 30 * 60_000 : 120_000,
  }, async () => {
    const started = Date.now();
    const rand = prng(SEED);
    dir = mkdtempSync(join(tmpdir(), 'drizzle-credits-crash-'));
    const workDir = dir;
    const file = join(dir, 'ledger.db');
    const book = new Book();
    db = await openDb(driver, file, SYNC);
    await db.ledger.migrate();
    await db.exec(APP_LINKS_DDL);
    await seed(db, book, ACCOUNTS);
    await db.close();
    db = undefined;

    const tally: Tally = {
      kills: 0,
      killedInCall: 0,
      acks: 0,
      inFlight: 0,
      inFlightCommitted: 0,
      retriesReplayed: 0,
      inFlightRetried: 0,
      linkedInFlight: 0,
      linkedInFlightCommitted: 0,
      transfersInFlight: 0,
      transfersInFlightCommitted: 0,
    };
    const problems = new Problems();
    const spawnRound = (round: number) =>
      Array.from({ length: WRITERS }, (_, k) => {
        const plan: WorkerPlan = {
          mode: 'crash',
          driver,
          file,
          log: join(workDir, `r${round}w${k}.jsonl`),
          synchronous: SYNC,
          name: `r${round}w${k}`,
          seed: SEED + round * 101 + k * 7919,
          ops: 0,
          lanes: 1,
          part: [k, WRITERS],
          accounts: ACCOUNTS.map(([a]) => a),
          sharedDebits,
          sharedGrants,
          fsyncAcks: true,
        };
        const p = startWorker(plan);
        procs.push(p);
        return p;
      });

    let next = ROUNDS > 0 ? spawnRound(0) : [];
    let last: Audit | undefined;
    for (let round = 0; round < ROUNDS && problems.count === 0; round++) {
      const writers = next;
      await within(Promise.all(writers.map((p) => p.ready)), 60_000, `starting round ${round}'s writers`);
      const killed = writers.map((p) => {
        const delay = KILL_AFTER_MS[0] + Math.floor(rand() * (KILL_AFTER_MS[1] - KILL_AFTER_MS[0] + 1));
        p.go();
        return new Promise<void>((res) =>
          setTimeout(() => {
            p.child.kill('SIGKILL');
            res();
          }, delay),
        );
      });
      await Promise.all(killed);
      const exits = await Promise.all(writers.map((p) => p.exited));
      // The next round's writers load their modules while this round is checked.
      if (round + 1 < ROUNDS) next = spawnRound(round + 1);

      for (const [k, p] of writers.entries()) {
        if (exits[k]?.signal !== 'SIGKILL')
          problems.add('writer died on its own', `${p.plan.name}: ${JSON.stringify(exits[k])} ${p.stderr().slice(-2000)}`);
        else tally.kills++;
        const pragmas = reportedPragmas(p);
        if (pragmas !== undefined) {
          const busy = expectedBusyTimeout(driver);
          const want = { journal_mode: 'wal', synchronous: SYNC === 'FULL' ? 2 : 1, busy_timeout: busy ?? pragmas.busy_timeout };
          if (JSON.stringify(pragmas) !== JSON.stringify(want))
            problems.add('writer settings', `${p.plan.name}: ${JSON.stringify(pragmas)}`);
        }
      }

      // Reopen the database the writers died on, as a restarted app would.
      db = await openDb(driver, file, SYNC);
      const roundAcks: AckLine[] = [];
      const roundInFlight: IntentLine[] = [];
      for (const p of writers) {
        const { lines, torn } = readLog(p.plan.log);
        book.add(lines, torn);
        if (lines[lines.length - 1]?.type === 'intent') tally.killedInCall++;
        for (const l of lines) if (l.type === 'ack') roundAcks.push(l);
        tally.acks += lines.filter((l) => l.type === 'ack').length;
      }
      for (const p of writers) for (const i of book.inFlight()) if (i.tag.startsWith(`${p.plan.name}-`)) roundInFlight.push(i);
      tally.inFlight += roundInFlight.length;
      const rows = await rowsByReason(db);
      for (const i of roundInFlight) if (opsOf(i.call).some((op) => rows.has(reasonOf(op) ?? ''))) tally.inFlightCommitted++;
      for (const op of roundInFlight.flatMap((i) => opsOf(i.call)).filter((o) => o.link !== undefined)) {
        tally.linkedInFlight++;
        if (rows.has(reasonOf(op) ?? '')) tally.linkedInFlightCommitted++;
      }
      for (const op of roundInFlight.flatMap((i) => opsOf(i.call)).filter((o) => o.method === 'transfer')) {
        tally.transfersInFlight++;
        if (rows.has(reasonOf(op) ?? '')) tally.transfersInFlightCommitted++;
      }

      const report = await db.ledger.verify();
      for (const p of report.problems)
        problems.add(`round ${round} verify ${p.code}`, `${p.account} ${p.entryId} seq ${p.seq}: ${p.message}`);
      last = await audit(db, book, { allowedErrors: ALLOWED_ERRORS, allAcked: false });
      for (const p of last.problems) problems.add(`round ${round}`, p);
      for (const p of (await auditLinks(db, book)).problems) problems.add(`round ${round} with`, p);
      for (const p of (await auditTransferRows(db)).problems) problems.add(`round ${round} transfers`, p);
      if (problems.count === 0) await retryAfterCrash(db, book, round, roundAcks, roundInFlight, problems, tally);
      await db.close();
      db = undefined;
    }
    await reap(procs);

    // The end: the retries too are in the log; rebuild() re-derives the same projections.
    db = await openDb(driver, file, SYNC);
    const report = await db.ledger.verify();
    last = await audit(db, book, { allowedErrors: ALLOWED_ERRORS, allAcked: false });
    const links: LinkAudit = await auditLinks(db, book);
    const transfers: TransferAudit = await auditTransferRows(db);
    const transferIntents = [...book.intents.values()].filter((i) => opsOf(i.call).some((op) => op.method === 'transfer')).length;
    const before = await projections(db);
    const rebuilt = await db.ledger.rebuild();
    const after = await projections(db);
    const again = await db.ledger.verify();
    const [counts] = await db.all(
      `SELECT (SELECT COUNT(*) FROM credit_lot) AS lots, (SELECT COUNT(*) FROM credit_hold) AS holds,
              (SELECT COUNT(*) FROM (${ALLOCATION_ROWS})) AS allocations,
              (SELECT COUNT(*) FROM credit_entry WHERE kind = 'expire') AS expires`,
    );
    const kinds = await db.all('SELECT kind, COUNT(*) AS n FROM credit_entry GROUP BY kind ORDER BY kind');
    // The outbox under kills: verify() above judged every event against the log; make sure there were some.
    const events = await db.all('SELECT type, COUNT(*) AS n FROM credit_event GROUP BY type ORDER BY type');
    const eventCounts = Object.fromEntries(events.map((e) => [String(e.type), Number(e.n)]));
    // libSQL's light run can be too slow for a debit to cross a threshold before the kills; verify() judged the outbox either way.
    if (driver === 'better-sqlite3') expect(eventCounts['balance.low'] ?? 0, 'balance.low events written by the mix').toBeGreaterThan(0);

    console.log(
      `[crash ${driver}] seed ${SEED}, synchronous=${SYNC}: ${tally.kills} SIGKILLs over ${ROUNDS} rounds (${tally.killedInCall} inside a ledger call), ` +
        `${tally.acks} acks, ${last.entriesChecked} acknowledged entries present and matching (${last.workerEntriesChecked} acked by writers, ` +
        `the rest by the parent's retries), ${tally.inFlight} calls in flight at a kill ` +
        `(${tally.inFlightCommitted} had committed), ${tally.retriesReplayed} acked keyed calls replayed after the crash, ` +
        `${tally.inFlightRetried} in-flight keyed calls retried, ${book.torn} torn log lines, calls median ${last.medianMs} ms / slowest ${last.slowestMs} ms; ${last.rows} rows ` +
        `${JSON.stringify(Object.fromEntries(kinds.map((k) => [String(k.kind), Number(k.n)])))}, ${JSON.stringify(counts)}, ` +
        `outcomes ${JSON.stringify(last.outcomes)}, errors ${JSON.stringify(last.errors)}; rebuild re-derived ${rebuilt.lots} lots, ` +
        `${rebuilt.holds} holds, ${rebuilt.allocations} allocations; with: ${links.appRows} app rows for ${links.linkedEntries} entries of calls ` +
        `carrying it (acked: ${links.linkedApplied} applied, ${links.linkedNoops} did not), ${tally.linkedInFlight} such calls in flight at a kill ` +
        `(${tally.linkedInFlightCommitted} had committed); transfers: ${transfers.transfers} (${transfers.arrivals} arrivals, ` +
        `${transfers.lotArrivals} of them lots, ${transfers.expiredArrivals} such lots expired by a sweep) from ${transferIntents} calls, ${tally.transfersInFlight} in flight ` +
        `at a kill (${tally.transfersInFlightCommitted} had committed); events ${JSON.stringify(eventCounts)}; ${Date.now() - started} ms`,
    );

    expect(problems.list(), `seed ${SEED}`).toEqual([]);
    expect(last.problems, `seed ${SEED}`).toEqual([]);
    expect(links.problems, `seed ${SEED}`).toEqual([]);
    expect(transfers.problems, `seed ${SEED}`).toEqual([]);
    // Transfers were in the mix (the first writer of every round starts with one).
    expect(transferIntents).toBeGreaterThan(0);
    expect(links.appRows).toBe(links.linkedEntries);
    // The check had both sides to see: calls carrying `with` that applied, and some that did not.
    expect(links.linkedApplied).toBeGreaterThan(0);
    expect(links.linkedNoops).toBeGreaterThan(0);
    expect(report.problems).toEqual([]);
    expect(rebuilt.problems).toEqual([]);
    expect(after).toEqual(before);
    expect(again.ok).toBe(true);
    expect(tally.kills).toBe(ROUNDS * WRITERS);
    expect(tally.acks).toBeGreaterThan(0);
    expect(tally.retriesReplayed).toBeGreaterThan(0);
    passed = true;
  });
});
