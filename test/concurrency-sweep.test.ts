/**
 * Concurrent debits and a sweep in separate processes on one file: nothing overdraws,
 * nothing expires twice, verify() ok.
 *
 * The parent grants lots that lapse at staggered real-time instants during the run (every
 * process reads the same wall clock), lots that only reorder draws, plain grants, and
 * holds with short TTLs. Then debit workers (debits, keyed debits, holds with captures,
 * releases and extensions, refunds of their own debits, grants that open lots lapsing a
 * moment later) and sweeper processes (ledger.sweep with small batches, in a loop) all
 * run at once. Afterwards every acknowledged result must be in the log, every `expire`
 * row must have removed exactly what was left of a lapsed lot once (again only after a
 * refund gave it credits back), every hold must be resolved once, the sweepers' reports
 * must add up to the `expire` rows, balances must add up, and after a final sweep the
 * auditor, the balances and a rebuild must agree with the log.
 *
 * Knobs: CONC_SEED=<n> replays a run's operation mix (the interleaving is up to the OS);
 * CONC_SWEEP_DEBITORS / CONC_SWEEPERS / CONC_SWEEP_WINDOW_MS scale it for a stress run;
 * CONC_KEEP=1 keeps the database file and the workers' JSON-line logs for a look afterwards.
 */

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { SweepReport } from '../src/index.js';
import { ALLOCATION_ROWS } from '../src/sql.js';
import { type ConcurrencyDriver, type FileDb, openFileDb, type Row } from './support/concurrency-db.js';
import {
  prng,
  type SweepAck,
  type SweepGo,
  type SweepIncident,
  type SweepLogLine,
  type SweepRun,
  type SweepWorkerPlan,
} from './support/concurrency-sweep-plan.js';
import { Problems, readJsonLines, startWorker, type Worker, within } from './support/processes.js';

/** Processes that debit, hold, capture, refund and grant. */
const DEBIT_WORKERS = Number(process.env.CONC_SWEEP_DEBITORS ?? 3);
/** Processes that only sweep. */
const SWEEPERS = Number(process.env.CONC_SWEEPERS ?? 2);
/** Async loops per debit worker on its one connection. */
const LANES_PER_WORKER = 2;
/** How long the workers run once they have the go, from the moment the parent starts granting. */
const WINDOW_MS = Number(process.env.CONC_SWEEP_WINDOW_MS ?? 3500);
/** The parent's lots and holds lapse between these offsets into the window. */
const FIRST_EXPIRY_MS = 300;
const LAST_EXPIRY_MS = 3000;
const ACCOUNTS = Array.from({ length: 10 }, (_, i) => `acct-${i}`);
/** Hot accounts: picked most, granted little by the parent and nothing by the workers, so they run dry. */
const HOT = 3;
/** How often debit workers pick each account: hot ones most, cold ones keep credits in lots until those lapse. */
const WEIGHTS = ACCOUNTS.map((_, i) => (i < HOT ? 6 : i < 6 ? 3 : 1));
/** Expiring lots the parent grants each account, besides one priority lot and a plain grant. */
const EXPIRING_LOTS_PER_ACCOUNT = 3;
/** Holds the parent places; debit workers race each other and the sweepers to close half of them. */
const SHARED_HOLDS = 12;
/** Sweepers draw each sweep's batch size from 1 … this. */
const MAX_SWEEP_BATCH = 4;
const SEED = Number(process.env.CONC_SEED ?? Date.now() % 2 ** 31);
const READY_TIMEOUT_MS = 20_000;
const RUN_TIMEOUT_MS = WINDOW_MS + 20_000;

const ROOT = resolve(import.meta.dirname, '..');
const WORKER = resolve(import.meta.dirname, 'support/concurrency-sweep-worker.ts');
/** Outcomes that mean the call wrote its entry. */
const APPLIED = new Set(['granted', 'debited', 'held', 'captured', 'released', 'extended', 'refunded']);
const ACK_KIND: Record<SweepAck['op'], string> = {
  grant: 'grant',
  grantLot: 'grant',
  debit: 'debit',
  debitOnce: 'debit',
  hold: 'hold',
  capture: 'capture',
  captureShared: 'capture',
  release: 'release',
  releaseShared: 'release',
  extend: 'extend',
  refund: 'refund',
};
const RESOLUTION_STATUS: Record<string, string> = { capture: 'captured', release: 'released', expire: 'expired' };

const sleep = (ms: number) => new Promise<void>((res) => setTimeout(res, ms));

const num = (v: unknown) => Number(v);
const str = (v: unknown) => (v === null || v === undefined ? null : String(v));

/** What the parent wrote itself: its grants and holds. */
interface ParentEntry {
  kind: 'grant' | 'hold';
  account: string;
  amount: number;
}

interface Setup {
  parent: Map<string, ParentEntry>;
  sharedHolds: SweepGo['sharedHolds'];
  lots: number;
}

/**
 * Per account: a plain grant, expiring lots lapsing at staggered instants in the window
 * (some with a priority), one priority lot that never expires. Then holds with short TTLs.
 */
async function setUp(db: FileDb, t0: number): Promise<Setup> {
  const rand = prng(SEED);
  const int = (lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo + 1));
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)] as T;
  const parent = new Map<string, ParentEntry>();
  let lots = 0;
  const grant = async (account: string, amount: number, lot: { expiresAt?: number; priority?: number }) => {
    const g = await db.ledger.grant({ account, amount, reason: 'parent', ...lot });
    parent.set(g.entry.id, { kind: 'grant', account, amount });
    if (lot.expiresAt !== undefined || (lot.priority !== undefined && lot.priority !== 50)) lots++;
  };
  for (const [i, account] of ACCOUNTS.entries()) {
    const scale = i < HOT ? 0.25 : 1;
    const plain = Math.round(int(0, 400) * scale);
    if (plain > 0) await grant(account, plain, {});
    for (let k = 0; k < EXPIRING_LOTS_PER_ACCOUNT; k++) {
      const priority = pick([undefined, 10, 50, 90]);
      // Never in the past: on a loaded machine the set-up itself can outlast FIRST_EXPIRY_MS.
      const expiresAt = Math.max(t0 + int(FIRST_EXPIRY_MS, LAST_EXPIRY_MS), Date.now() + 50);
      await grant(account, Math.round(int(40, 300) * scale), {
        expiresAt,
        ...(priority === undefined ? {} : { priority }),
      });
    }
    await grant(account, Math.round(int(30, 150) * scale), { priority: pick([0, 25, 75, 100]) });
  }
  const sharedHolds: SweepGo['sharedHolds'] = [];
  for (let k = 0; k < SHARED_HOLDS; k++) {
    // Round-robin over the accounts that are not hot: each holds at most two, well covered.
    const account = ACCOUNTS[HOT + (k % (ACCOUNTS.length - HOT))] as string;
    const amount = int(5, 40);
    const h = await db.ledger.hold({ account, amount, ttlMs: int(FIRST_EXPIRY_MS - 100, LAST_EXPIRY_MS - 500), reason: 'parent' });
    if (h.outcome !== 'held') throw new Error(`parent hold on ${account} gave ${h.outcome}`);
    parent.set(h.entry.id, { kind: 'hold', account, amount });
    sharedHolds.push({ id: h.hold.id, account, amount, expiresAt: h.hold.expiresAt });
  }
  return { parent, sharedHolds, lots };
}

const ENTRY_SQL =
  "SELECT 'ce_' || pos AS id, account, seq, kind, delta, amount, balance, 'ce_' || ref AS ref, actor, expires_at, priority, created_at FROM credit_entry ORDER BY account, seq";

interface SweepTotals {
  lotsExpired: number;
  creditsExpired: number;
  holdsExpired: number;
  creditsReleased: number;
}
const sumReports = (reports: SweepReport[]): SweepTotals => ({
  lotsExpired: reports.reduce((n, r) => n + r.lotsExpired, 0),
  creditsExpired: reports.reduce((n, r) => n + r.creditsExpired, 0),
  holdsExpired: reports.reduce((n, r) => n + r.holdsExpired, 0),
  creditsReleased: reports.reduce((n, r) => n + r.creditsReleased, 0),
});

/** What the `expire` rows among `rows` add up to, split by what they closed. */
function expireTotals(rows: Row[], lotIds: Set<string>): SweepTotals & { other: number } {
  const t = { lotsExpired: 0, creditsExpired: 0, holdsExpired: 0, creditsReleased: 0, other: 0 };
  for (const r of rows) {
    if (r.kind !== 'expire') continue;
    const ref = String(r.ref);
    if (lotIds.has(ref)) {
      t.lotsExpired++;
      t.creditsExpired += num(r.amount);
    } else if (num(r.delta) === 0) {
      t.holdsExpired++;
      t.creditsReleased += num(r.amount);
    } else t.other++;
  }
  return t;
}

interface Analysis {
  problems: string[];
  outcomes: Record<string, number>;
  /** Lot expiries written by the sweeper processes (before the parent's final sweep). */
  lotsExpiredBySweepers: number;
  holdsExpiredBySweepers: number;
  /** Lots that expired with part of them already drawn. */
  partlyDrawnExpired: number;
  /** Lots expired again after a refund gave credits back to them. */
  reExpired: number;
  /** Expire rows with worker rows of the same account right before and after: the sweep ran amid the debits. */
  expiresAmidWrites: number;
  sweeps: number;
  perSweeper: Record<number, number>;
  slowestSweepMs: number;
  mostBatches: number;
}

/** Checks the log, the projections and the balances against every acknowledged result. */
async function analyse(
  db: FileDb,
  setup: Setup,
  acks: SweepAck[],
  sweeps: SweepRun[],
  incidents: SweepIncident[],
  before: Row[],
  rows: Row[],
  finalReport: SweepReport,
  sweptAt: number,
): Promise<Analysis> {
  const problems = new Problems();
  for (const i of incidents) problems.add(`worker ${i.kind}`, `w${i.w} #${i.n} ${i.op}: ${i.code ?? ''} ${i.message}`);

  const byId = new Map<string, Row>(rows.map((r) => [String(r.id), r]));
  const byAccount = new Map<string, Row[]>();
  for (const r of rows) byAccount.set(String(r.account), [...(byAccount.get(String(r.account)) ?? []), r]);

  // No row leaves its account below the floor.
  for (const r of rows) {
    if (num(r.balance) < 0)
      problems.add('negative balance', `${String(r.account)} seq ${num(r.seq)} ${String(r.kind)} balance ${num(r.balance)}`);
  }

  // Every acknowledged write is a row matching what was asked; nothing applied twice.
  const applied = new Map<string, SweepAck>();
  for (const a of acks) {
    if (a.entryId === null) continue;
    const r = byId.get(a.entryId);
    if (r === undefined) {
      problems.add(APPLIED.has(a.outcome) ? 'lost write' : 'replay of a missing row', JSON.stringify(a));
      continue;
    }
    const got = { account: String(r.account), kind: String(r.kind), amount: num(r.amount), ref: str(r.ref), balance: num(r.balance) };
    const want = {
      account: a.account,
      kind: ACK_KIND[a.op],
      amount: a.entryAmount,
      ref: a.ref,
      balance: a.entryBalance,
    };
    if (JSON.stringify(got) !== JSON.stringify(want))
      problems.add('row differs from ack', `${JSON.stringify(a)} vs row ${JSON.stringify(got)}`);
    if (a.amount !== null && a.amount !== got.amount)
      problems.add('row amount differs from request', `${JSON.stringify(a)} vs ${got.amount}`);
    if (APPLIED.has(a.outcome)) {
      if (applied.has(a.entryId))
        problems.add('applied twice', `${a.entryId}: ${JSON.stringify(applied.get(a.entryId))} and ${JSON.stringify(a)}`);
      applied.set(a.entryId, a);
    }
  }
  for (const a of acks) {
    if (a.outcome === 'replayed' && a.entryId !== null && !applied.has(a.entryId))
      problems.add('replay of an unacknowledged row', JSON.stringify(a));
  }

  // No row that nobody acknowledged; expire rows are the sweeps' and counted below.
  for (const r of rows) {
    const id = String(r.id);
    if (r.kind === 'expire') {
      if (r.actor !== 'sweep') problems.add('expire row not from a sweep', JSON.stringify(r));
      continue;
    }
    const p = setup.parent.get(id);
    if (p !== undefined) {
      if (p.kind !== r.kind || p.account !== r.account || p.amount !== num(r.amount)) problems.add('parent row differs', JSON.stringify(r));
    } else if (!applied.has(id)) problems.add('unacknowledged row', JSON.stringify(r));
  }

  // Lots: every grant row that opened one, with the amount it opened with.
  const lotRows = await db.all("SELECT *, 'ce_' || id AS id FROM credit_lot");
  const lots = new Map<string, Row>(lotRows.map((l) => [String(l.id), l]));
  const lotIds = new Set(lots.keys());
  for (const r of rows) {
    const opens = r.kind === 'grant' && (r.expires_at !== null || r.priority !== null);
    if (opens !== lotIds.has(String(r.id)))
      problems.add('lot projection', `${String(r.kind)} ${String(r.id)} opens a lot: ${opens}, has one: ${!opens}`);
  }
  if (lots.size < setup.lots) problems.add('lot projection', `${lots.size} lots, the parent alone opened ${setup.lots}`);

  // The sweepers' reports add up to exactly the expire rows they wrote, and the final
  // sweep's report to exactly the rows it added: nothing expired twice, nothing counted
  // that did not happen.
  const reported = sumReports(sweeps.map((s) => s.report));
  const { other: _b, ...written } = expireTotals(before, lotIds);
  if (JSON.stringify(reported) !== JSON.stringify(written))
    problems.add('sweep reports', `sweepers reported ${JSON.stringify(reported)}, the log holds ${JSON.stringify(written)}`);
  const beforeIds = new Set(before.map((r) => String(r.id)));
  const added = rows.filter((r) => !beforeIds.has(String(r.id)));
  const { other: addedOther, ...addedTotals } = expireTotals(added, lotIds);
  const finalTotals = sumReports([finalReport]);
  if (added.some((r) => r.kind !== 'expire') || addedOther > 0)
    problems.add('final sweep', `wrote other rows: ${JSON.stringify(added.filter((r) => r.kind !== 'expire'))}`);
  if (JSON.stringify(finalTotals) !== JSON.stringify(addedTotals))
    problems.add('final sweep', `reported ${JSON.stringify(finalTotals)}, added ${JSON.stringify(addedTotals)}`);
  if (expireTotals(rows, lotIds).other > 0) problems.add('expire row', 'an expire row that closes neither a lot nor a hold');

  // Lots, replayed from the log and the allocations in seq order: draws only from live
  // lots, never below zero; each expire removes exactly what is left of a lapsed lot, and a
  // lot expires again only after a refund gave it credits back.
  const allocs = new Map<string, Row[]>();
  for (const a of await db.all(
    `SELECT 'ce_' || entry_id AS entry_id, 'ce_' || lot_id AS lot_id, amount, ord FROM (${ALLOCATION_ROWS}) ORDER BY entry_id, ord`,
  ))
    allocs.set(String(a.entry_id), [...(allocs.get(String(a.entry_id)) ?? []), a]);
  let partlyDrawnExpired = 0;
  let reExpired = 0;
  for (const list of byAccount.values()) {
    const state = new Map<string, { remaining: number; expiredOnce: boolean; givenBack: boolean; expired: number; back: number }>();
    for (const r of list) {
      const id = String(r.id);
      const at = num(r.created_at);
      if (lotIds.has(id)) state.set(id, { remaining: num(r.amount), expiredOnce: false, givenBack: false, expired: 0, back: 0 });
      const mine = allocs.get(id) ?? [];
      if (r.kind === 'expire' && lotIds.has(String(r.ref))) {
        const lotId = String(r.ref);
        const s = state.get(lotId);
        const lot = lots.get(lotId);
        if (s === undefined || lot === undefined) {
          problems.add('expire of an unknown lot', JSON.stringify(r));
          continue;
        }
        if (lot.expires_at === null || num(lot.expires_at) > at)
          problems.add('expired early', `${id} at ${at}: lot ${lotId} ends at ${String(lot.expires_at)}`);
        if (num(r.amount) <= 0 || num(r.amount) !== s.remaining)
          problems.add('expire amount', `${id} expired ${num(r.amount)} of lot ${lotId}, which had ${s.remaining} left`);
        if (s.expiredOnce && !s.givenBack)
          problems.add('expired twice', `lot ${lotId} expired again by ${id} with nothing given back since`);
        if (s.expiredOnce) reExpired++;
        else if (num(r.amount) < num(lot.amount)) partlyDrawnExpired++;
        if (mine.length !== 1 || String(mine[0]?.lot_id) !== lotId || num(mine[0]?.amount) !== num(r.amount))
          problems.add('expire allocation', `${id}: ${JSON.stringify(mine)}`);
        s.expiredOnce = true;
        s.givenBack = false;
        s.expired += num(r.amount);
      }
      for (const a of mine) {
        const lotId = String(a.lot_id);
        const s = state.get(lotId);
        const lot = lots.get(lotId);
        if (s === undefined || lot === undefined) {
          problems.add('allocation to an unknown lot', `${id}: ${JSON.stringify(a)}`);
          continue;
        }
        const amount = num(a.amount);
        if (r.kind === 'debit' || r.kind === 'capture') {
          if (amount <= 0) problems.add('draw amount', `${id}: ${JSON.stringify(a)}`);
          if (lot.expires_at !== null && num(lot.expires_at) <= at)
            problems.add(
              'drew a lapsed lot',
              `${String(r.kind)} ${id} at ${at} drew ${amount} from lot ${lotId} ending ${num(lot.expires_at)}`,
            );
        } else if (r.kind === 'refund') {
          if (amount >= 0) problems.add('give-back amount', `${id}: ${JSON.stringify(a)}`);
          s.givenBack = true;
          s.back -= amount;
        } else if (r.kind !== 'expire') problems.add('allocation of a row that moves no lot', `${String(r.kind)} ${id}`);
        s.remaining -= amount;
        if (s.remaining < 0 || s.remaining > num(lot.amount))
          problems.add('lot out of range', `lot ${lotId} at ${id}: remaining ${s.remaining}`);
      }
    }
    for (const [lotId, s] of state) {
      const lot = lots.get(lotId) as Row;
      if (s.expired > num(lot.amount) + s.back)
        problems.add('expired more than it had', `lot ${lotId}: expired ${s.expired} of ${num(lot.amount)} + ${s.back} given back`);
      if (s.remaining !== num(lot.remaining))
        problems.add('lot remaining', `lot ${lotId}: log says ${s.remaining}, projection ${num(lot.remaining)}`);
      // The parent's final sweep ran with the clock past every expiry: nothing lapsed is left.
      if (lot.expires_at !== null && num(lot.expires_at) <= sweptAt && num(lot.remaining) !== 0)
        problems.add(
          'lapsed lot left unswept',
          `lot ${lotId} ended ${num(lot.expires_at)}, ${num(lot.remaining)} left after the final sweep`,
        );
    }
  }

  // Holds: each resolved exactly once (capture, release or expire; the final sweep ran past
  // every TTL), within its TTL unless by expiry; the projection says the same.
  const holdRows = new Map<string, Row>(
    (await db.all("SELECT *, 'ce_' || id AS id, 'ce_' || resolved_by AS resolved_by FROM credit_hold")).map((h) => [String(h.id), h]),
  );
  for (const list of byAccount.values()) {
    const open = new Map<string, { ends: number; resolutions: Row[] }>();
    for (const r of list) {
      const id = String(r.id);
      if (r.kind === 'hold') {
        open.set(id, { ends: num(r.expires_at), resolutions: [] });
        continue;
      }
      const h = r.ref === null ? undefined : open.get(String(r.ref));
      if (h === undefined) {
        if (['capture', 'release', 'extend'].includes(String(r.kind))) problems.add('hold row without its hold', JSON.stringify(r));
        continue;
      }
      const at = num(r.created_at);
      if (r.kind === 'extend') {
        if (h.resolutions.length > 0 || at >= h.ends) problems.add('extend of a closed hold', JSON.stringify(r));
        h.ends = num(r.expires_at);
      } else if (r.kind === 'capture' || r.kind === 'release') {
        if (at >= h.ends) problems.add(`${String(r.kind)} after expiry`, `${id} at ${at}, hold ${String(r.ref)} ended ${h.ends}`);
        h.resolutions.push(r);
      } else if (r.kind === 'expire') {
        if (at < h.ends) problems.add('hold expired early', `${id} at ${at}, hold ${String(r.ref)} ends ${h.ends}`);
        h.resolutions.push(r);
      }
    }
    for (const [holdId, h] of open) {
      if (h.resolutions.length !== 1)
        problems.add(
          'hold resolutions',
          `hold ${holdId}: ${h.resolutions.length} (${h.resolutions.map((r) => `${String(r.kind)} ${String(r.id)}`).join(', ')})`,
        );
      const p = holdRows.get(holdId);
      const res = h.resolutions[0];
      if (p === undefined) problems.add('hold projection', `hold ${holdId} missing`);
      else if (
        res !== undefined &&
        (p.status !== RESOLUTION_STATUS[String(res.kind)] || p.resolved_by !== res.id || num(p.expires_at) !== h.ends)
      )
        problems.add('hold projection', `hold ${holdId}: ${JSON.stringify(p)} vs ${String(res.kind)} ${String(res.id)} ending ${h.ends}`);
    }
  }

  // Balances add up: grants − debits − captures + refunds − expired, from the
  // acknowledged results and the expire rows; the posted head and getBalance agree.
  const expected = new Map<string, number>(ACCOUNTS.map((a) => [a, 0]));
  const add = (account: string, n: number) => expected.set(account, (expected.get(account) ?? 0) + n);
  for (const p of setup.parent.values()) if (p.kind === 'grant') add(p.account, p.amount);
  for (const a of applied.values()) {
    const amount = a.entryAmount ?? 0;
    if (a.op === 'grant' || a.op === 'grantLot' || a.op === 'refund') add(a.account, amount);
    else if (a.op === 'debit' || a.op === 'debitOnce' || a.op === 'capture' || a.op === 'captureShared') add(a.account, -amount);
  }
  for (const r of rows) if (r.kind === 'expire' && lotIds.has(String(r.ref))) add(String(r.account), -num(r.amount));
  for (const [account, want] of expected) {
    const list = byAccount.get(account) ?? [];
    const head = num(list[list.length - 1]?.balance ?? 0);
    const b = await db.ledger.getBalance(account);
    if (head !== want) problems.add('posted balance', `${account}: head ${head}, acknowledged results give ${want}`);
    if (b.balance !== head) problems.add('balance after the final sweep', `${account}: getBalance ${b.balance}, posted ${head}`);
    if (b.held !== 0) problems.add('held after the final sweep', `${account}: ${b.held}`);
  }

  const worker = (id: string) => applied.get(id)?.w;
  let expiresAmidWrites = 0;
  for (const list of byAccount.values()) {
    for (let i = 1; i + 1 < list.length; i++) {
      const r = list[i] as Row;
      if (
        r.kind === 'expire' &&
        beforeIds.has(String(r.id)) &&
        worker(String(list[i - 1]?.id)) !== undefined &&
        worker(String(list[i + 1]?.id)) !== undefined
      )
        expiresAmidWrites++;
    }
  }
  const outcomes: Record<string, number> = {};
  for (const a of acks) outcomes[a.outcome] = (outcomes[a.outcome] ?? 0) + 1;
  const perSweeper: Record<number, number> = {};
  for (const s of sweeps) perSweeper[s.w] = (perSweeper[s.w] ?? 0) + s.report.lotsExpired + s.report.holdsExpired;
  return {
    problems: problems.list(),
    outcomes,
    lotsExpiredBySweepers: written.lotsExpired,
    holdsExpiredBySweepers: written.holdsExpired,
    partlyDrawnExpired,
    reExpired,
    expiresAmidWrites,
    sweeps: sweeps.length,
    perSweeper,
    slowestSweepMs: Math.max(0, ...sweeps.map((s) => s.t - s.t0)),
    mostBatches: Math.max(0, ...sweeps.map((s) => s.report.batches)),
  };
}

/** Every projection, as the database stores it, in a fixed order. */
async function projections(db: FileDb): Promise<string> {
  const tables = await Promise.all([
    db.all('SELECT * FROM credit_lot ORDER BY id'),
    db.all('SELECT * FROM credit_hold ORDER BY id'),
    db.all(`SELECT * FROM (${ALLOCATION_ROWS}) ORDER BY entry_id, lot_id`),
  ]);
  return JSON.stringify(tables);
}

const DRIVERS: ConcurrencyDriver[] = ['better-sqlite3', 'libsql'];

describe.each(DRIVERS)('%s: concurrent debits and sweeps in separate processes on one file', (driver) => {
  let dir: string | undefined;
  let db: FileDb | undefined;
  const workers: Worker<SweepWorkerPlan>[] = [];

  afterEach(async () => {
    for (const w of workers) if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill('SIGKILL');
    await Promise.all(workers.map((w) => w.exited));
    workers.length = 0;
    await db?.close();
    db = undefined;
    if (dir !== undefined && process.env.CONC_KEEP === '1') console.log(`kept ${dir}`);
    else if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it(`${DEBIT_WORKERS} debit processes + ${SWEEPERS} sweepers while lots and holds lapse: nothing overdraws, nothing expires twice, verify() ok`, async () => {
    dir = mkdtempSync(join(tmpdir(), 'drizzle-credits-sweep-'));
    const file = join(dir, 'ledger.db');
    db = await openFileDb(driver, file);
    await db.ledger.migrate();

    const started = Date.now();
    for (let w = 0; w < DEBIT_WORKERS + SWEEPERS; w++) {
      const role = w < DEBIT_WORKERS ? 'debit' : 'sweep';
      workers.push(
        startWorker(WORKER, ROOT, {
          driver,
          file,
          log: join(dir, `${role}-${w}.jsonl`),
          worker: w,
          role,
          seed: SEED + w * 7919,
          lanes: LANES_PER_WORKER,
          accounts: ACCOUNTS,
          weights: WEIGHTS,
          grantAccounts: ACCOUNTS.slice(HOT),
          maxBatch: MAX_SWEEP_BATCH,
        }),
      );
    }
    await within(Promise.all(workers.map((w) => w.ready)), READY_TIMEOUT_MS, 'starting the workers', SEED);

    // Expiries are set from the real clock now, after start-up, so they fall inside the window.
    const t0 = Date.now();
    const setup = await setUp(db, t0);
    // Workers race for every other parent hold; the rest nobody touches, so they lapse
    // inside the window and only a sweep closes them.
    const go: SweepGo = { until: t0 + WINDOW_MS, sharedHolds: setup.sharedHolds.filter((_, i) => i % 2 === 0) };
    const setupMs = Date.now() - t0;
    for (const w of workers) w.child.stdin.end(`${JSON.stringify(go)}\n`);
    const codes = await within(Promise.all(workers.map((w) => w.exited)), RUN_TIMEOUT_MS, 'the workers', SEED);
    const ran = Date.now();

    const lines = readJsonLines<SweepLogLine>(workers.map((w) => w.plan.log));
    const acks = lines.filter((l): l is { type: 'ack' } & SweepAck => l.type === 'ack');
    const sweeps = lines.filter((l): l is { type: 'sweep' } & SweepRun => l.type === 'sweep');
    const incidents = lines.filter((l): l is { type: 'incident' } & SweepIncident => l.type === 'incident');

    // The final sweep, with the real clock past every lot's and every hold's end.
    const before = await db.all(ENTRY_SQL);
    const [ends] = await db.all(
      'SELECT MAX(COALESCE((SELECT MAX(expires_at) FROM credit_lot), 0), COALESCE((SELECT MAX(expires_at) FROM credit_hold), 0)) AS t',
    );
    const lastEnd = num(ends?.t);
    while (Date.now() <= lastEnd) await sleep(Math.min(50, lastEnd - Date.now() + 1));
    const sweptAt = Date.now();
    const finalReport = await db.ledger.sweep();
    const rows = await db.all(ENTRY_SQL);

    const result = await analyse(db, setup, acks, sweeps, incidents, before, rows, finalReport, sweptAt);
    const report = await db.ledger.verify();
    const projected = await projections(db);
    const rebuilt = await db.ledger.rebuild();
    const reprojected = await projections(db);
    const afterRebuild = await db.ledger.verify();

    console.log(
      `[${driver}] seed ${SEED}: start ${t0 - started} ms, setup ${setupMs} ms, run ${ran - t0} ms, ${acks.length} acks ${JSON.stringify(result.outcomes)}, ` +
        `${result.sweeps} sweeps (expired per sweeper ${JSON.stringify(result.perSweeper)}, slowest ${result.slowestSweepMs} ms, most batches ${result.mostBatches}), ` +
        `sweepers expired ${result.lotsExpiredBySweepers} lots (${result.partlyDrawnExpired} partly drawn, ${result.reExpired} again after a refund) and ${result.holdsExpiredBySweepers} holds, ` +
        `${result.expiresAmidWrites} expiries amid worker rows, final sweep ${JSON.stringify(finalReport)}, ${rows.length} rows`,
    );

    const failed = workers.flatMap((w, i) =>
      codes[i] === 0 ? [] : [`worker ${w.plan.worker} exit ${codes[i]}: ${w.stderr().slice(-2000)}`],
    );
    expect(result.problems, `seed ${SEED}`).toEqual([]);
    expect(failed, `seed ${SEED}`).toEqual([]);
    expect(report.problems, `seed ${SEED}`).toEqual([]);
    expect(report.ok).toBe(true);
    expect(rebuilt.problems).toEqual([]);
    expect(reprojected, 'rebuild() re-derives byte-identical projections').toBe(projected);
    expect(afterRebuild.ok).toBe(true);
    // The run exercised what it claims to: the sweepers expired lots (some partly drawn)
    // and holds while the debit workers wrote to the same accounts, which ran dry.
    expect(result.lotsExpiredBySweepers).toBeGreaterThan(0);
    expect(result.partlyDrawnExpired).toBeGreaterThan(0);
    expect(result.holdsExpiredBySweepers).toBeGreaterThan(0);
    expect(result.expiresAmidWrites).toBeGreaterThan(0);
    expect(result.outcomes.insufficient ?? 0).toBeGreaterThan(0);
    expect(result.outcomes.captured ?? 0).toBeGreaterThan(0);
    expect(result.outcomes.refunded ?? 0).toBeGreaterThan(0);
  });
});
