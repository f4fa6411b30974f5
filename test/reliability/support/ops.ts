/**
 * The operation mix both reliability workers run: grants (plain, keyed across processes,
 * and lots with an expiry or a priority), debits (plain, keyed once, keyed across
 * processes), refunds, holds with capture and release, adjustments, transfers between the
 * hot accounts (keyed or not; they carry the lots they draw), small mixed batches, repeats
 * of earlier keyed calls, and (crash test only) sweeps.
 *
 * Every call carries its tag in `reason` (`<worker>-<n>`, `<worker>-<n>.<i>` in a batch),
 * so the parent can tie each row of the log to the intent that asked for it (a transfer
 * writes it on its leaving row and on every arriving row). Calls with a
 * key shared across processes carry `shared:<key>` instead: their parameters must be
 * identical everywhere, or a replay would be an idempotency conflict.
 *
 * With `links` (crash test), a share of single debits, grants and captures carry `with`:
 * the app's row in app_ledger_links under the call's reason, which must commit with the
 * call's entry or not at all. A shared key carries it or not by the key alone, so every
 * process (and every retry) sends the same call.
 */
import type { BatchOp, BatchResult, Entry, Ledger, SweepReport } from '../../../src/index.js';
import { linkedByKey, linkInsert } from '../../support/app-links.js';
import type { AppLink, Call, EntrySummary, OpResult, SharedGrantKey, SharedKey } from './protocol.js';

export { prng } from '../../support/processes.js';

import { prng } from '../../support/processes.js';

export const sharedReason = (key: string) => `shared:${key}`;

/** A debit or capture this worker may refund; `remaining` is what it believes is left. */
export interface RefundTarget {
  id: string;
  account: string;
  remaining: number;
}

export interface OpenHold {
  id: string;
  account: string;
  amount: number;
}

export interface MixOptions {
  seed: number;
  accounts: readonly string[];
  sharedDebits: readonly SharedKey[];
  sharedGrants: readonly SharedGrantKey[];
  /** Include `sweep()` calls (crash test: the log cannot say which sweep wrote an expire row otherwise). */
  sweeps: boolean;
  /** Pick shared keys in step with progress (n / total) so processes race on the same key. */
  total: number;
  /** Let a share of single debits, grants and captures carry `with` (the app's row). */
  links: boolean;
  /** Include transfers between the accounts (single calls and batch ops). */
  transfers: boolean;
  /** Make the first call a transfer (crash test: some writer of every round starts with one). */
  leadWithTransfer: boolean;
}

/** The share of single debits, grants and captures that carry `with` when links are on. */
const LINK_SHARE = 0.4;

/** Single-call method for each batch op, and back (the mix sends no charges). */
const METHOD_OF: Record<Exclude<BatchOp['op'], 'charge'>, Exclude<Call['method'], 'batch' | 'sweep'>> = {
  grant: 'grant',
  debit: 'debitIfCovers',
  debitOnce: 'debitOnceIfCovers',
  refund: 'refund',
  adjust: 'adjust',
  hold: 'hold',
  capture: 'capture',
  release: 'release',
  transfer: 'transfer',
};

/** A call as its list of single operations (a batch is several). */
export function opsOf(call: Call): Call[] {
  if (call.method !== 'batch') return [call];
  return call.input.map((o) => {
    const { op, ...input } = o;
    return { method: METHOD_OF[op as keyof typeof METHOD_OF], input } as Call;
  });
}

/** The `reason` a single operation writes on its row (the tag the parent looks for). */
export function reasonOf(call: Call): string | null {
  if (call.method === 'batch' || call.method === 'sweep') return null;
  return (call.input as { reason?: string }).reason ?? null;
}

function summary(e: Entry): EntrySummary {
  return {
    id: e.id,
    account: e.account,
    kind: e.kind,
    delta: e.delta,
    amount: e.amount,
    balance: e.balance,
    ref: e.ref,
    key: e.idempotencyKey,
    reason: e.reason,
  };
}

function toResult(r: BatchResult | { outcome: string; entry?: Entry }): OpResult {
  if (r.outcome === 'rejected' && 'error' in r) return { outcome: 'rejected', code: r.error.code };
  // A transfer: the row that left `from` is its entry; the rows on `to` are its arrivals.
  if ('out' in r) return { outcome: r.outcome, entry: summary(r.out), arrivals: r.in.map(summary) };
  const entry = (r as { entry?: Entry }).entry;
  return entry === undefined ? { outcome: r.outcome } : { outcome: r.outcome, entry: summary(entry) };
}

/** The call's `with` option: the app's row under the call's reason, if the call carries a link. */
function withOf(call: Call) {
  const reason = reasonOf(call);
  if (call.link === undefined) return undefined;
  if (reason === null) throw new Error(`a call with a link needs a reason: ${JSON.stringify(call)}`);
  return { with: [linkInsert(reason, call.link.account, call.link.amount)] };
}

/** What a sweep call reports as its outcome: `swept <lots> lots (<credits> credits), <holds> holds`. */
export const sweepOutcome = (r: SweepReport) => `swept ${r.lotsExpired} lots (${r.creditsExpired} credits), ${r.holdsExpired} holds`;

/** The credits a sweep outcome says it expired (0 for any other outcome). */
export function sweptCredits(outcome: string): number {
  const m = /^swept \d+ lots \((\d+) credits\)/.exec(outcome);
  return m === null ? 0 : Number(m[1]);
}

/** Runs a call; a thrown error propagates (the caller logs it). */
export async function execute(ledger: Ledger, call: Call): Promise<OpResult[]> {
  const options = withOf(call);
  switch (call.method) {
    case 'grant':
      return [toResult(await ledger.grant(call.input, options))];
    case 'debitIfCovers':
      return [toResult(await ledger.debitIfCovers(call.input, options))];
    case 'debitOnceIfCovers':
      return [toResult(await ledger.debitOnceIfCovers(call.input, options))];
    case 'refund':
      return [toResult(await ledger.refund(call.input, options))];
    case 'adjust':
      return [toResult(await ledger.adjust(call.input, options))];
    case 'hold':
      return [toResult(await ledger.hold(call.input, options))];
    case 'capture':
      return [toResult(await ledger.capture(call.input, options))];
    case 'release':
      return [toResult(await ledger.release(call.input, options))];
    case 'transfer':
      return [toResult(await ledger.transfer(call.input, options))];
    case 'sweep':
      return [{ outcome: sweepOutcome(await ledger.sweep(call.input)) }];
    case 'batch':
      return (await ledger.batch(call.input)).map(toResult);
  }
}

/** Is this single call safe to repeat with identical input (it must replay)? */
export function repeatable(call: Call): boolean {
  if (call.method === 'release') return true;
  if (call.method === 'batch' || call.method === 'sweep' || call.method === 'debitIfCovers') return false;
  return (call.input as { idempotencyKey?: string }).idempotencyKey !== undefined;
}

/**
 * Picks the next call from the worker's own state (debits it may refund, holds it may
 * capture or release, keyed calls it may repeat), and learns from each result.
 */
export class Mix {
  readonly rand: () => number;
  readonly refundable: RefundTarget[] = [];
  readonly holds: OpenHold[] = [];
  readonly done: Call[] = [];
  /** Holds a capture was sent for: an insufficient capture leaves them open. */
  readonly #capturing = new Map<string, OpenHold>();

  constructor(private readonly o: MixOptions) {
    this.rand = prng(o.seed);
  }

  int(lo: number, hi: number): number {
    return lo + Math.floor(this.rand() * (hi - lo + 1));
  }
  pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.rand() * xs.length)] as T;
  }
  /** Removes and returns a random element. */
  take<T>(xs: T[]): T | undefined {
    if (xs.length === 0) return undefined;
    const i = Math.floor(this.rand() * xs.length);
    return xs.splice(i, 1)[0];
  }
  chance(p: number): boolean {
    return this.rand() < p;
  }

  #shared<T>(n: number, keys: readonly T[]): T {
    if (this.o.total <= 0) return this.pick(keys);
    const i = Math.floor((n * keys.length) / this.o.total) + this.int(-1, 1);
    return keys[Math.min(keys.length - 1, Math.max(0, i))] as T;
  }

  #grant(tag: string): BatchOp & { op: 'grant' } {
    const account = this.pick(this.o.accounts);
    const keyed = this.chance(0.3) ? { idempotencyKey: `${tag}-g` } : {};
    if (this.chance(0.55)) return { op: 'grant', account, amount: this.int(1, 40), reason: tag, ...keyed };
    // A lot: expiring soon (it lapses during the run), expiring later, or only prioritised.
    const kind = this.rand();
    const base = { op: 'grant' as const, account, amount: this.int(5, 60), reason: tag, ...keyed };
    if (kind < 0.75) {
      const expiresAt = Date.now() + (kind < 0.5 ? this.int(300, 8000) : 3_600_000);
      return { ...base, expiresAt, ...(this.chance(0.5) ? { priority: this.int(0, 100) } : {}) };
    }
    const p = this.int(0, 99);
    return { ...base, priority: p >= 50 ? p + 1 : p };
  }

  #sharedGrant(n: number): BatchOp & { op: 'grant' } {
    const k = this.#shared(n, this.o.sharedGrants);
    return {
      op: 'grant',
      account: k.account,
      amount: k.amount,
      idempotencyKey: k.key,
      reason: sharedReason(k.key),
      ...(k.expiresAt === null ? {} : { expiresAt: k.expiresAt }),
      ...(k.priority === null ? {} : { priority: k.priority }),
    };
  }

  #sharedDebit(n: number): BatchOp & { op: 'debitOnce' } {
    const k = this.#shared(n, this.o.sharedDebits);
    return { op: 'debitOnce', account: k.account, amount: k.amount, idempotencyKey: k.key, reason: sharedReason(k.key) };
  }

  #refund(tag: string): (BatchOp & { op: 'refund' }) | undefined {
    const open = this.refundable.filter((d) => d.remaining > 0);
    if (open.length === 0) return undefined;
    const d = this.pick(open);
    const whole = this.chance(0.3);
    const amount = whole ? d.remaining : this.int(1, d.remaining);
    d.remaining -= amount; // reserve it now: another lane may pick the same debit
    return {
      op: 'refund',
      entryId: d.id,
      reason: tag,
      ...(whole ? {} : { amount }),
      ...(this.chance(0.5) ? { idempotencyKey: `${tag}-rf` } : {}),
    };
  }

  #hold(tag: string): BatchOp & { op: 'hold' } {
    return {
      op: 'hold',
      account: this.pick(this.o.accounts),
      amount: this.int(1, 30),
      ttlMs: this.chance(0.3) ? this.int(100, 1500) : this.int(5_000, 60_000),
      reason: tag,
      ...(this.chance(0.5) ? { idempotencyKey: `${tag}-h` } : {}),
    };
  }

  #capture(tag: string): (BatchOp & { op: 'capture' }) | undefined {
    const h = this.take(this.holds);
    if (h === undefined) return undefined;
    this.#capturing.set(h.id, h);
    const r = this.rand();
    const amount = r < 0.4 ? undefined : r < 0.8 ? this.int(1, h.amount) : h.amount + this.int(1, 10);
    return {
      op: 'capture',
      holdId: h.id,
      reason: tag,
      ...(amount === undefined ? {} : { amount }),
      ...(this.chance(0.5) ? { idempotencyKey: `${tag}-c` } : {}),
    };
  }

  #release(tag: string): (BatchOp & { op: 'release' }) | undefined {
    const h = this.take(this.holds);
    return h === undefined ? undefined : { op: 'release', holdId: h.id, reason: tag };
  }

  #adjust(tag: string): BatchOp & { op: 'adjust' } {
    const size = this.int(1, 20);
    return {
      op: 'adjust',
      account: this.pick(this.o.accounts),
      delta: this.chance(0.6) ? -size : size,
      reason: tag,
      ...(this.chance(0.4) ? { idempotencyKey: `${tag}-a` } : {}),
    };
  }

  /** Between two different accounts, either way; now and then more than `from` holds. */
  #transfer(tag: string): BatchOp & { op: 'transfer' } {
    const from = this.pick(this.o.accounts);
    const others = this.o.accounts.filter((a) => a !== from);
    const amount = this.chance(0.05) ? this.int(1_000_000_000, 2_000_000_000) : this.int(1, 60);
    return {
      op: 'transfer',
      from,
      to: this.pick(others),
      amount,
      reason: tag,
      ...(this.chance(0.5) ? { idempotencyKey: `${tag}-t` } : {}),
    };
  }

  #debit(tag: string, keyed: boolean): BatchOp {
    // Now and then far more than any account holds: every run sees 'insufficient', however
    // its random mix left the balances (a light run could otherwise end without one).
    const amount = this.chance(0.03) ? this.int(1_000_000_000, 2_000_000_000) : this.int(1, 25);
    const p = { account: this.pick(this.o.accounts), amount, reason: tag };
    return keyed ? { op: 'debitOnce', ...p, idempotencyKey: `${tag}-d` } : { op: 'debit', ...p };
  }

  /** One op for a batch (no repeats, no sweeps). */
  #small(n: number, tag: string): BatchOp {
    if (this.o.transfers && this.chance(0.08)) return this.#transfer(tag);
    const r = this.rand() * 100;
    if (r < 25) return this.#debit(tag, false);
    if (r < 35) return this.#debit(tag, true);
    if (r < 45) {
      // A batch op cannot carry `with`: a shared key that does (as a single call) stays out of batches.
      const shared = this.#sharedDebit(n);
      return this.o.links && linkedByKey(shared.idempotencyKey) ? this.#debit(tag, false) : shared;
    }
    if (r < 60) return this.#grant(tag);
    if (r < 68) return this.#refund(tag) ?? this.#debit(tag, false);
    if (r < 78) return this.#adjust(tag);
    if (r < 88) return this.#hold(tag);
    if (r < 95) return this.#capture(tag) ?? this.#hold(tag);
    return this.#release(tag) ?? this.#grant(tag);
  }

  /**
   * A single debit, grant or capture, made to carry `with` (links on): a share of them at
   * random, a shared key's by the key. The link's amount is the entry's: a capture without
   * an amount captures the whole hold.
   */
  #linked(call: Call): Call {
    if (!this.o.links) return call;
    let link: AppLink | undefined;
    if (call.method === 'grant' || call.method === 'debitIfCovers' || call.method === 'debitOnceIfCovers') {
      link = { account: call.input.account, amount: call.input.amount };
    } else if (call.method === 'capture') {
      const h = this.#capturing.get(call.input.holdId);
      if (h !== undefined) link = { account: h.account, amount: call.input.amount ?? h.amount };
    }
    if (link === undefined) return call;
    const { reason, idempotencyKey } = call.input as { reason?: string; idempotencyKey?: string };
    const carries = reason?.startsWith('shared:') === true ? linkedByKey(idempotencyKey ?? '') : this.chance(LINK_SHARE);
    return carries ? { ...call, link } : call;
  }

  next(n: number, tag: string): Call {
    const single = (o: BatchOp): Call => this.#linked(opsOf({ method: 'batch', input: [o] })[0] as Call);
    if (this.o.transfers && ((n === 0 && this.o.leadWithTransfer) || this.chance(0.08))) return single(this.#transfer(tag));
    const r = this.rand() * 100;
    if (this.o.sweeps && r < 2) return { method: 'sweep', input: {} };
    if (r < 18) return single(this.#debit(tag, false));
    if (r < 23) return single(this.#debit(tag, true));
    if (r < 33) return single(this.#sharedDebit(n));
    if (r < 41) return single(this.#grant(tag));
    if (r < 44) return single(this.#sharedGrant(n));
    if (r < 54) return single(this.#refund(tag) ?? this.#debit(tag, false));
    if (r < 63) return single(this.#hold(tag));
    if (r < 70) return single(this.#capture(tag) ?? this.#hold(tag));
    if (r < 74) return single(this.#release(tag) ?? this.#grant(tag));
    if (r < 80) return single(this.#adjust(tag));
    if (r < 92) {
      const size = this.int(2, 6);
      return { method: 'batch', input: Array.from({ length: size }, (_, i) => this.#small(n, `${tag}.${i}`)) };
    }
    if (this.done.length > 0) return this.pick(this.done);
    return single(this.#debit(tag, false));
  }

  /** Learns what the call left behind: debits to refund, holds to resolve, calls to repeat. */
  observe(call: Call, results: readonly OpResult[]): void {
    opsOf(call).forEach((op, i) => {
      const res = results[i];
      if (res === undefined) return;
      const e = res.entry;
      if (res.outcome === 'debited' && e !== undefined) this.refundable.push({ id: e.id, account: e.account, remaining: e.amount });
      if (res.outcome === 'captured' && e !== undefined) this.refundable.push({ id: e.id, account: e.account, remaining: e.amount });
      if (res.outcome === 'held' && e !== undefined) this.holds.push({ id: e.id, account: e.account, amount: e.amount });
      if (op.method === 'capture') {
        const h = this.#capturing.get(op.input.holdId);
        this.#capturing.delete(op.input.holdId);
        // An insufficient capture leaves the hold open: it may be released or captured for less.
        if (h !== undefined && res.outcome === 'insufficient') this.holds.push(h);
      }
      if (op.method === 'refund' && res.outcome === 'rejected') {
        const target = this.refundable.find((d) => d.id === op.input.entryId);
        if (target !== undefined) target.remaining = 0;
      }
      const succeeded = res.outcome !== 'insufficient' && res.outcome !== 'rejected';
      if (succeeded && repeatable(op) && !this.done.includes(op)) this.done.push(op);
    });
  }

  /** The call threw: a refund target was not what this worker believed; a hold is gone. */
  forget(call: Call): void {
    for (const op of opsOf(call)) {
      if (op.method === 'capture') this.#capturing.delete(op.input.holdId);
      if (op.method !== 'refund') continue;
      const target = this.refundable.find((d) => d.id === op.input.entryId);
      if (target !== undefined) target.remaining = 0;
    }
  }
}
