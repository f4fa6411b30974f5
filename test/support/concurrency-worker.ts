/**
 * One writer process of test/concurrency.test.ts. Run as
 *   node --import tsx test/support/concurrency-worker.ts '<WorkerPlan as JSON>'
 * It opens the shared database file, prints `ready`, waits for `go` on stdin, then runs a
 * seeded random mix of grants, debits, keyed debits (on keys every worker shares), refunds
 * of its own debits and retries. Every result is appended to its log as a JSON line the
 * moment it comes back (an acknowledged result), before the next call is made.
 *
 * A share of the calls carry `with`: the app's row in app_ledger_links under a note unique to
 * the operation (the key itself for a keyed call, so every retry and every process sharing
 * the key sends the same statement; a shared key carries it or not by the key alone). The
 * note goes into the ack: the parent matches the app's rows 1:1 with the applied calls.
 *
 * Exit code 0: every call returned an outcome the contract allows. Anything else (a thrown
 * error, a retry that was not a replay of the same entry …) is logged as an incident and
 * makes the exit code 1; the parent prints the incidents.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import type { DebitResult, Entry, GrantResult, RefundResult } from '../../src/index.js';
import { linkedByKey, linkInsert } from './app-links.js';
import { type Ack, type AckOp, type Incident, type LogLine, openFileDb, type SharedKey, type WorkerPlan } from './concurrency-db.js';

/** After this many thrown errors the worker stops early (each may have waited the busy timeout). */
const MAX_ERRORS = 20;

import { prng, readyThenGo } from './processes.js';

const plan = JSON.parse(process.argv[2] ?? '') as WorkerPlan;
const W = plan.worker;

const rand = prng(plan.seed);
const int = (lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo + 1));
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)] as T;

const fd = openSync(plan.log, 'a');
let incidents = 0;
let errors = 0;
const write = (line: LogLine) => writeSync(fd, `${JSON.stringify(line)}\n`);

type Result = GrantResult | DebitResult | RefundResult;

/** The share of calls (on keys of their own, or none) that carry `with`. */
const LINK_SHARE = 0.4;
/** The `with` option for the app's row under `note`, or none. */
const linkOf = (note: string | undefined, p: { account: string; amount: number }) =>
  note === undefined ? undefined : { with: [linkInsert(note, p.account, p.amount)] };

/** Runs one ledger call and notes how long it took (lock waits included). */
async function timed<T extends Result>(f: () => Promise<T>): Promise<[T, number]> {
  const t0 = performance.now();
  const r = await f();
  return [r, Math.round(performance.now() - t0)];
}

function ack(
  n: number,
  op: AckOp,
  retry: boolean,
  p: { account: string; amount: number; key?: string; ref?: string; note?: string },
  r: Result,
  ms: number,
): void {
  const entry: Entry | undefined = r.entry;
  const a: Ack = {
    w: W,
    n,
    op,
    retry,
    account: p.account,
    amount: p.amount,
    key: p.key ?? null,
    ref: p.ref ?? null,
    note: p.note ?? null,
    outcome: r.outcome,
    entryId: entry?.id ?? null,
    balance: r.balance,
    t: Date.now(),
    ms,
  };
  write({ type: 'ack', ...a });
}

function incident(n: number, kind: Incident['kind'], op: string, message: string, code?: string): void {
  incidents++;
  const i: Incident = { w: W, n, kind, op, message, ...(code === undefined ? {} : { code }) };
  write({ type: 'incident', ...i });
}

/** The entry a result carries must be the row the request described. */
function checkEntry(n: number, op: string, r: Result, account: string, kind: string, amount: number | undefined): void {
  const e = r.entry;
  if (e === undefined) return;
  if (e.account !== account || e.kind !== kind || (amount !== undefined && e.amount !== amount) || e.balance < 0) {
    incident(n, 'violation', op, `returned entry ${JSON.stringify(e)} does not match ${kind} ${amount} on ${account}`);
  }
}

/** A repeat with the same key and parameters must be a replay of the same entry. */
function expectReplay(n: number, op: string, first: Result, again: Result): void {
  if (again.outcome !== 'replayed' || again.entry?.id !== first.entry?.id) {
    incident(n, 'violation', op, `retry gave ${again.outcome} ${again.entry?.id}, expected replayed ${first.entry?.id}`);
  }
}

interface OwnDebit {
  id: string;
  account: string;
  remaining: number;
}

async function main(): Promise<void> {
  const db = await openFileDb(plan.driver, plan.file);
  const { ledger } = db;
  const own: OwnDebit[] = [];
  /** Keyed calls that applied or replayed, to repeat much later: must still replay. */
  const done: Array<{ op: string; again: () => Promise<Result>; first: Result; note?: string }> = [];

  const sharedIndex = (n: number, keys: readonly SharedKey[]) => {
    // Progress-proportional with jitter: workers move through the keys at about the same
    // pace, so the same key is in flight in several processes at once.
    const i = Math.floor((n * keys.length) / plan.ops) + int(-1, 1);
    return keys[Math.min(keys.length - 1, Math.max(0, i))] as SharedKey;
  };

  const debitOnce = async (n: number, key: { account: string; amount: number; key: string }, linked: boolean) => {
    const p = { ...key, ...(linked ? { note: key.key } : {}) };
    const call = () => ledger.debitOnceIfCovers({ account: p.account, amount: p.amount, idempotencyKey: p.key }, linkOf(p.note, p));
    const [r, rMs] = await timed(call);
    ack(n, 'debitOnce', false, p, r, rMs);
    checkEntry(n, 'debitOnce', r, p.account, 'debit', p.amount);
    if (r.outcome === 'debited' && r.entry) own.push({ id: r.entry.id, account: p.account, remaining: p.amount });
    const [again, againMs] = await timed(call);
    ack(n, 'debitOnce', true, p, again, againMs);
    checkEntry(n, 'debitOnce', again, p.account, 'debit', p.amount);
    if (r.outcome !== 'insufficient') {
      expectReplay(n, 'debitOnce', r, again);
      done.push({ op: 'debitOnce', again: call, first: r, note: p.note });
      return;
    }
    // Insufficient is not recorded, so the same key may succeed on the retry.
    if (again.outcome === 'debited' && again.entry) own.push({ id: again.entry.id, account: p.account, remaining: p.amount });
    if (again.outcome !== 'insufficient') done.push({ op: 'debitOnce', again: call, first: again, note: p.note });
  };

  const step = async (n: number) => {
    const roll = rand() * 100;
    if (roll < 30) {
      const p = { account: pick(plan.accounts), amount: int(1, 25) };
      const note = rand() < LINK_SHARE ? `w${W}-${n}-debit` : undefined;
      const [r, rMs] = await timed(() => ledger.debitIfCovers(p, linkOf(note, p)));
      ack(n, 'debit', false, { ...p, note }, r, rMs);
      checkEntry(n, 'debit', r, p.account, 'debit', p.amount);
      if (r.outcome === 'replayed') incident(n, 'violation', 'debit', 'an unkeyed debit was replayed');
      if (r.outcome === 'debited' && r.entry) own.push({ id: r.entry.id, account: p.account, remaining: p.amount });
    } else if (roll < 55) {
      const shared = sharedIndex(n, plan.sharedDebits);
      await debitOnce(n, shared, linkedByKey(shared.key));
    } else if (roll < 60) {
      await debitOnce(n, { account: pick(plan.accounts), amount: int(1, 25), key: `w${W}-debit-${n}` }, rand() < LINK_SHARE);
    } else if (roll < 72) {
      const p = { account: pick(plan.accounts), amount: int(1, 10) };
      const note = rand() < LINK_SHARE ? `w${W}-${n}-grant` : undefined;
      const [r, rMs] = await timed(() => ledger.grant(p, linkOf(note, p)));
      ack(n, 'grant', false, { ...p, note }, r, rMs);
      checkEntry(n, 'grant', r, p.account, 'grant', p.amount);
      if (r.outcome !== 'granted') incident(n, 'violation', 'grant', `an unkeyed grant gave ${r.outcome}`);
    } else if (roll < 77) {
      const shared = sharedIndex(n, plan.sharedGrants);
      const p = { ...shared, ...(linkedByKey(shared.key) ? { note: shared.key } : {}) };
      const call = () => ledger.grant({ account: p.account, amount: p.amount, idempotencyKey: p.key }, linkOf(p.note, p));
      const [r, rMs] = await timed(call);
      ack(n, 'grant', false, p, r, rMs);
      checkEntry(n, 'grant', r, p.account, 'grant', p.amount);
      const [again, againMs] = await timed(call);
      ack(n, 'grant', true, p, again, againMs);
      expectReplay(n, 'grant', r, again);
      done.push({ op: 'grant', again: call, first: r, note: p.note });
    } else if (roll < 92) {
      const open = own.filter((d) => d.remaining > 0);
      if (open.length === 0) return;
      const d = pick(open);
      const whole = rand() < 0.3;
      const amount = whole ? d.remaining : int(1, d.remaining);
      const key = rand() < 0.4 ? `w${W}-refund-${n}` : undefined;
      const note = rand() < LINK_SHARE ? `w${W}-${n}-refund` : undefined;
      // Reserve it locally first: another lane of this worker may pick the same debit.
      d.remaining -= amount;
      const call = () =>
        ledger.refund(
          { entryId: d.id, ...(whole ? {} : { amount }), ...(key === undefined ? {} : { idempotencyKey: key }) },
          linkOf(note, { account: d.account, amount }),
        );
      const p = { account: d.account, amount, ref: d.id, note, ...(key === undefined ? {} : { key }) };
      const [r, rMs] = await timed(call);
      ack(n, 'refund', false, p, r, rMs);
      checkEntry(n, 'refund', r, d.account, 'refund', amount);
      if (r.outcome !== 'refunded' || r.entry.ref !== d.id)
        incident(n, 'violation', 'refund', `refund gave ${r.outcome} ref ${r.entry.ref}`);
      if (key === undefined) return;
      const [again, againMs] = await timed(call);
      ack(n, 'refund', true, p, again, againMs);
      expectReplay(n, 'refund', r, again);
      done.push({ op: 'refund', again: call, first: r, note });
    } else {
      if (done.length === 0) return;
      const old = pick(done);
      const [again, againMs] = await timed(old.again);
      const e = old.first.entry as Entry;
      ack(
        n,
        old.op as AckOp,
        true,
        { account: e.account, amount: e.amount, key: e.idempotencyKey ?? undefined, ref: e.ref ?? undefined, note: old.note },
        again,
        againMs,
      );
      expectReplay(n, old.op, old.first, again);
    }
  };

  await readyThenGo();

  let next = 0;
  const lane = async () => {
    while (next < plan.ops && errors < MAX_ERRORS) {
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
    }
  };
  await Promise.all(Array.from({ length: plan.lanes }, lane));
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
