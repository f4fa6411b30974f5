/**
 * One process of test/concurrency-sweep.test.ts. Run as
 *   node --import tsx test/support/concurrency-sweep-worker.ts '<SweepWorkerPlan as JSON>'
 * It opens the shared database file, prints `ready`, waits for one JSON line on stdin (a
 * SweepGo: when to stop, and the holds the parent placed), then until that instant:
 * - role `debit`: a seeded mix of debits, keyed debits (with retries), holds with short
 *   TTLs and their captures, releases and extensions, races on the parent's holds,
 *   refunds of its own debits and captures, plain grants and grants that open lots
 *   expiring a moment later;
 * - role `sweep`: ledger.sweep({ batchSize: small }) in a loop.
 * Every result is appended to its log as a JSON line the moment it comes back.
 *
 * Exit code 0: every call returned an outcome the contract allows. Anything else is logged
 * as an incident and makes the exit code 1.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { type Entry, isLedgerError } from '../../src/index.js';
import { type FileDb, openFileDb } from './concurrency-db.js';
import {
  prng,
  type SweepAck,
  type SweepAckOp,
  type SweepGo,
  type SweepIncident,
  type SweepLogLine,
  type SweepWorkerPlan,
} from './concurrency-sweep-plan.js';

/** After this many thrown errors the worker stops early (each may have waited the busy timeout). */
const MAX_ERRORS = 20;

const plan = JSON.parse(process.argv[2] ?? '') as SweepWorkerPlan;
const W = plan.worker;
const rand = prng(plan.seed);
const int = (lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo + 1));
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)] as T;
const totalWeight = plan.weights.reduce((a, b) => a + b, 0);
const pickAccount = (): string => {
  let r = rand() * totalWeight;
  for (let i = 0; i < plan.accounts.length; i++) {
    r -= plan.weights[i] ?? 0;
    if (r < 0) return plan.accounts[i] as string;
  }
  return plan.accounts[plan.accounts.length - 1] as string;
};
const sleep = (ms: number) => new Promise<void>((res) => setTimeout(res, ms));

const fd = openSync(plan.log, 'a');
let incidents = 0;
let errors = 0;
const write = (line: SweepLogLine) => writeSync(fd, `${JSON.stringify(line)}\n`);

function incident(n: number, kind: SweepIncident['kind'], op: string, message: string, code?: string): void {
  incidents++;
  write({ type: 'incident', w: W, n, kind, op, message, ...(code === undefined ? {} : { code }) });
}

interface Asked {
  account: string;
  amount?: number;
  key?: string;
  ref?: string;
}
interface Returned {
  outcome: string;
  entry?: Entry;
  hold?: { expiresAt: number };
}

function ack(n: number, op: SweepAckOp, retry: boolean, p: Asked, r: Returned, t0: number): SweepAck {
  const e = r.entry;
  const a: SweepAck = {
    w: W,
    n,
    op,
    retry,
    account: p.account,
    amount: p.amount ?? null,
    key: p.key ?? null,
    ref: p.ref ?? null,
    outcome: r.outcome,
    entryId: e?.id ?? null,
    entryKind: e?.kind ?? null,
    entryAmount: e?.amount ?? null,
    entryRef: e?.ref ?? null,
    entryBalance: e?.balance ?? null,
    expiresAt: r.hold?.expiresAt ?? null,
    t0,
    t: Date.now(),
  };
  write({ type: 'ack', ...a });
  return a;
}

/** The entry a result carries must be the row the request described. */
function checkEntry(n: number, op: string, r: Returned, want: { account: string; kind: string; amount?: number; ref?: string }): void {
  const e = r.entry;
  if (e === undefined) return;
  if (
    e.account !== want.account ||
    e.kind !== want.kind ||
    (want.amount !== undefined && e.amount !== want.amount) ||
    (want.ref !== undefined && e.ref !== want.ref) ||
    e.balance < 0
  ) {
    incident(n, 'violation', op, `returned entry ${JSON.stringify(e)} does not match ${JSON.stringify(want)}`);
  }
}

/** A repeat with the same key and parameters must be a replay of the same entry. */
function expectReplay(n: number, op: string, first: Returned, again: Returned): void {
  if (again.outcome !== 'replayed' || again.entry?.id !== first.entry?.id) {
    incident(n, 'violation', op, `retry gave ${again.outcome} ${again.entry?.id}, expected replayed ${first.entry?.id}`);
  }
}

/** Runs a call that may fail with one of `allowed` LedgerError codes; those become outcomes. */
async function attempt<T extends Returned>(f: () => Promise<T>, allowed: readonly string[]): Promise<Returned & { code?: string }> {
  try {
    return await f();
  } catch (e) {
    if (isLedgerError(e) && allowed.includes(e.code)) return { outcome: `error:${e.code}`, code: e.code };
    throw e;
  }
}

interface Refundable {
  id: string;
  account: string;
  remaining: number;
}
interface OwnHold {
  id: string;
  account: string;
  amount: number;
  expiresAt: number;
}

async function debitWorker(db: FileDb, go: SweepGo): Promise<void> {
  const { ledger } = db;
  const refundable: Refundable[] = [];
  const holds: OwnHold[] = [];
  /** Takes an item out of a list so that the other lane of this worker cannot act on it too. */
  const take = <T>(xs: T[]): T | undefined => (xs.length === 0 ? undefined : xs.splice(Math.floor(rand() * xs.length), 1)[0]);

  /** hold_expired must only come back for a hold whose end had passed by the time the call returned. */
  const checkExpired = (n: number, op: string, r: { outcome: string }, h: { id: string; expiresAt: number }, t: number) => {
    if (r.outcome === 'error:hold_expired' && h.expiresAt > t)
      incident(n, 'violation', op, `hold ${h.id} ends at ${h.expiresAt} but was reported expired at ${t}`);
  };

  const step = async (n: number) => {
    const roll = rand() * 100;
    // A worker's first step, and one debit in twenty, asks for more than any account ever
    // holds: the run refuses some as insufficient however few operations a loaded machine
    // lets it make in its window.
    if (n === 0 || roll < 28) {
      const p = { account: pickAccount(), amount: n === 0 || rand() < 0.05 ? 1_000_000_000 : int(1, 30) };
      const t0 = Date.now();
      const r = await ledger.debitIfCovers(p);
      ack(n, 'debit', false, p, r, t0);
      checkEntry(n, 'debit', r, { ...p, kind: 'debit' });
      if (r.outcome === 'replayed') incident(n, 'violation', 'debit', 'an unkeyed debit was replayed');
      if (r.outcome === 'debited') refundable.push({ id: r.entry.id, account: p.account, remaining: p.amount });
    } else if (roll < 36) {
      const p = { account: pickAccount(), amount: int(1, 30), key: `w${W}-debit-${n}` };
      const call = () => ledger.debitOnceIfCovers({ account: p.account, amount: p.amount, idempotencyKey: p.key });
      const t0 = Date.now();
      const r = await call();
      ack(n, 'debitOnce', false, p, r, t0);
      checkEntry(n, 'debitOnce', r, { ...p, kind: 'debit' });
      if (r.outcome === 'replayed') incident(n, 'violation', 'debitOnce', 'a fresh key was replayed');
      if (r.outcome === 'debited') refundable.push({ id: r.entry.id, account: p.account, remaining: p.amount });
      if (rand() < 0.5) {
        const t1 = Date.now();
        const again = await call();
        ack(n, 'debitOnce', true, p, again, t1);
        checkEntry(n, 'debitOnce', again, { ...p, kind: 'debit' });
        if (r.outcome !== 'insufficient') expectReplay(n, 'debitOnce', r, again);
        // Insufficient is not recorded, so the retry may apply.
        else if (again.outcome === 'debited') refundable.push({ id: again.entry.id, account: p.account, remaining: p.amount });
        else if (again.outcome === 'replayed') incident(n, 'violation', 'debitOnce', 'retry of an insufficient call was replayed');
      }
    } else if (roll < 46) {
      const p = { account: pickAccount(), amount: int(1, 30) };
      const ttlMs = int(50, 900);
      const t0 = Date.now();
      const r = await ledger.hold({ ...p, ttlMs });
      ack(n, 'hold', false, p, r, t0);
      checkEntry(n, 'hold', r, { ...p, kind: 'hold' });
      if (r.outcome === 'held') {
        if (r.hold.id !== r.entry.id || r.hold.expiresAt !== r.entry.createdAt + ttlMs)
          incident(n, 'violation', 'hold', `hold ${JSON.stringify(r.hold)} does not match entry ${JSON.stringify(r.entry)}`);
        holds.push({ id: r.hold.id, account: p.account, amount: p.amount, expiresAt: r.hold.expiresAt });
      } else if (r.outcome !== 'insufficient') incident(n, 'violation', 'hold', `an unkeyed hold gave ${r.outcome}`);
    } else if (roll < 56) {
      const h = take(holds);
      if (h === undefined) return;
      const amount = rand() < 0.5 ? undefined : int(1, h.amount);
      const p = { account: h.account, ref: h.id, ...(amount === undefined ? {} : { amount }) };
      const t0 = Date.now();
      const r = await attempt(() => ledger.capture({ holdId: h.id, ...(amount === undefined ? {} : { amount }) }), ['hold_expired']);
      const a = ack(n, 'capture', false, p, r, t0);
      checkEntry(n, 'capture', r, { account: h.account, kind: 'capture', amount: amount ?? h.amount, ref: h.id });
      checkExpired(n, 'capture', r, h, a.t);
      if (r.outcome === 'captured' && r.entry) refundable.push({ id: r.entry.id, account: h.account, remaining: r.entry.amount });
      else if (r.outcome === 'insufficient') holds.push(h);
      else if (r.outcome !== 'error:hold_expired') incident(n, 'violation', 'capture', `capture of an own open hold gave ${r.outcome}`);
    } else if (roll < 61) {
      const h = take(holds);
      if (h === undefined) return;
      const t0 = Date.now();
      const r = await attempt(() => ledger.release({ holdId: h.id }), ['hold_expired']);
      const a = ack(n, 'release', false, { account: h.account, ref: h.id }, r, t0);
      checkEntry(n, 'release', r, { account: h.account, kind: 'release', amount: h.amount, ref: h.id });
      checkExpired(n, 'release', r, h, a.t);
      if (r.outcome !== 'released' && r.outcome !== 'error:hold_expired')
        incident(n, 'violation', 'release', `release of an own open hold gave ${r.outcome}`);
    } else if (roll < 64) {
      const h = take(holds);
      if (h === undefined) return;
      const t0 = Date.now();
      const r = await attempt(() => ledger.extendHold({ holdId: h.id, ttlMs: int(50, 600) }), ['hold_expired']);
      const a = ack(n, 'extend', false, { account: h.account, ref: h.id }, r, t0);
      checkEntry(n, 'extend', r, { account: h.account, kind: 'extend', amount: h.amount, ref: h.id });
      checkExpired(n, 'extend', r, h, a.t);
      if (r.outcome === 'extended' && r.hold) holds.push({ ...h, expiresAt: r.hold.expiresAt });
      else if (r.outcome !== 'error:hold_expired') incident(n, 'violation', 'extend', `extending an own open hold gave ${r.outcome}`);
    } else if (roll < 70) {
      if (go.sharedHolds.length === 0) return;
      const h = pick(go.sharedHolds);
      const p = { account: h.account, ref: h.id };
      const t0 = Date.now();
      // Other workers race for the same hold: whoever loses sees it closed, or a replay.
      if (rand() < 0.5) {
        const r = await attempt(() => ledger.capture({ holdId: h.id }), ['hold_expired', 'hold_closed']);
        const a = ack(n, 'captureShared', false, p, r, t0);
        checkEntry(n, 'captureShared', r, { account: h.account, kind: 'capture', amount: h.amount, ref: h.id });
        checkExpired(n, 'captureShared', r, h, a.t);
        if (r.outcome === 'captured' && r.entry) refundable.push({ id: r.entry.id, account: h.account, remaining: r.entry.amount });
        else if (!['replayed', 'insufficient', 'error:hold_expired', 'error:hold_closed'].includes(r.outcome))
          incident(n, 'violation', 'captureShared', `gave ${r.outcome}`);
      } else {
        const r = await attempt(() => ledger.release({ holdId: h.id }), ['hold_expired', 'hold_closed']);
        const a = ack(n, 'releaseShared', false, p, r, t0);
        checkEntry(n, 'releaseShared', r, { account: h.account, kind: 'release', amount: h.amount, ref: h.id });
        checkExpired(n, 'releaseShared', r, h, a.t);
        if (!['released', 'replayed', 'error:hold_expired', 'error:hold_closed'].includes(r.outcome))
          incident(n, 'violation', 'releaseShared', `gave ${r.outcome}`);
      }
    } else if (roll < 86) {
      const d = take(refundable);
      if (d === undefined) return;
      const whole = rand() < 0.3;
      const amount = whole ? d.remaining : int(1, d.remaining);
      const key = rand() < 0.4 ? `w${W}-refund-${n}` : undefined;
      const call = () =>
        ledger.refund({ entryId: d.id, ...(whole ? {} : { amount }), ...(key === undefined ? {} : { idempotencyKey: key }) });
      const p = { account: d.account, amount, ref: d.id, ...(key === undefined ? {} : { key }) };
      const t0 = Date.now();
      const r = await call();
      ack(n, 'refund', false, p, r, t0);
      checkEntry(n, 'refund', r, { account: d.account, kind: 'refund', amount, ref: d.id });
      if (r.outcome !== 'refunded') incident(n, 'violation', 'refund', `a fresh refund gave ${r.outcome}`);
      if (d.remaining > amount) refundable.push({ ...d, remaining: d.remaining - amount });
      if (key === undefined) return;
      const t1 = Date.now();
      const again = await call();
      ack(n, 'refund', true, p, again, t1);
      expectReplay(n, 'refund', r, again);
    } else if (roll < 93) {
      const p = { account: pick(plan.grantAccounts), amount: int(1, 40) };
      const t0 = Date.now();
      const r = await ledger.grant(p);
      ack(n, 'grant', false, p, r, t0);
      checkEntry(n, 'grant', r, { ...p, kind: 'grant' });
      if (r.outcome !== 'granted') incident(n, 'violation', 'grant', `an unkeyed grant gave ${r.outcome}`);
    } else {
      const p = { account: pick(plan.grantAccounts), amount: int(10, 80) };
      // Mostly lots that lapse a moment later (while the sweepers run); some that only reorder draws.
      const expiring = rand() < 0.8;
      const lot = expiring
        ? { expiresAt: Date.now() + int(150, 1500), ...(rand() < 0.5 ? {} : { priority: pick([5, 50, 95]) }) }
        : { priority: pick([0, 30, 70, 100]) };
      const t0 = Date.now();
      const r = await ledger.grant({ ...p, ...lot });
      ack(n, 'grantLot', false, p, r, t0);
      checkEntry(n, 'grantLot', r, { ...p, kind: 'grant' });
      if (r.outcome !== 'granted') incident(n, 'violation', 'grantLot', `an unkeyed grant gave ${r.outcome}`);
    }
  };

  let next = 0;
  const lane = async () => {
    while (Date.now() < go.until && errors < MAX_ERRORS) {
      const n = next++;
      try {
        await step(n);
      } catch (e) {
        errors++;
        const code = (e as { code?: unknown }).code;
        incident(
          n,
          'error',
          'step',
          e instanceof Error ? `${e.name}: ${e.message}` : String(e),
          code === undefined ? undefined : String(code),
        );
      }
      await sleep(int(0, 3));
    }
  };
  await Promise.all(Array.from({ length: plan.lanes }, lane));
}

async function sweeper(db: FileDb, go: SweepGo): Promise<void> {
  let n = 0;
  while (Date.now() < go.until && errors < MAX_ERRORS) {
    const batchSize = int(1, plan.maxBatch);
    const t0 = Date.now();
    try {
      const report = await db.ledger.sweep({ batchSize });
      write({ type: 'sweep', w: W, n, batchSize, report, t0, t: Date.now() });
      const { lotsExpired, creditsExpired, holdsExpired, creditsReleased, batches } = report;
      if (
        report.dryRun ||
        [lotsExpired, creditsExpired, holdsExpired, creditsReleased, batches].some((x) => !Number.isSafeInteger(x) || x < 0)
      )
        incident(n, 'violation', 'sweep', `odd report ${JSON.stringify(report)}`);
    } catch (e) {
      errors++;
      const code = (e as { code?: unknown }).code;
      incident(
        n,
        'error',
        'sweep',
        e instanceof Error ? `${e.name}: ${e.message}` : String(e),
        code === undefined ? undefined : String(code),
      );
    }
    n++;
    await sleep(int(2, 20));
  }
}

/** Waits for the parent's one JSON line; exits if stdin closes first (the parent is gone). */
function waitForGo(): Promise<SweepGo> {
  return new Promise((resolve) => {
    let buf = '';
    const orphaned = () => process.exit(3);
    process.stdin.on('end', orphaned);
    process.stdin.on('data', (d) => {
      buf += String(d);
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      process.stdin.off('end', orphaned);
      process.stdin.destroy();
      resolve(JSON.parse(buf.slice(0, nl)) as SweepGo);
    });
  });
}

async function main(): Promise<void> {
  // Open (and load the driver) before `ready`, so start-up cost is not inside the window.
  const db = await openFileDb(plan.driver, plan.file);
  process.stdout.write('ready\n');
  const go = await waitForGo();
  if (plan.role === 'sweep') await sweeper(db, go);
  else await debitWorker(db, go);
  await db.close();
}

main().then(
  () => {
    closeSync(fd);
    process.exit(incidents === 0 ? 0 : 1);
  },
  (e: unknown) => {
    process.stderr.write(`worker ${W} crashed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(2);
  },
);
