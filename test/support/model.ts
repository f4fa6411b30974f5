/**
 * A plain in-memory reference model of the ledger's round-one semantics: what a careful
 * reader of DESIGN.md §2–3 expects each call to do. Property tests run random operation
 * sequences against it and the real ledger and require them to agree.
 */
import { MAX_AMOUNT } from '../../src/index.js';

export type Op =
  | { op: 'grant'; account: string; amount: number; key?: string }
  | { op: 'debit'; account: string; amount: number }
  | { op: 'debitOnce'; account: string; amount: number; key: string }
  | { op: 'refund'; target: number; amount?: number; key?: string }
  | { op: 'adjust'; account: string; delta: number; key?: string };

/** What a call returned, reduced to what both sides can be compared on. */
export type Outcome = { outcome: string; balance?: number; entryId?: string } | { error: string };

interface KeyedRecord {
  entryId: string;
  amount: number;
  ref?: string;
}

interface ModelEntry {
  id: string;
  account: string;
  kind: string;
  amount: number;
  refunded: number;
}

export class Model {
  readonly balances = new Map<string, number>();
  readonly entries: ModelEntry[] = [];
  private readonly keys = new Map<string, KeyedRecord>();

  balance(account: string): number {
    return this.balances.get(account) ?? 0;
  }

  /**
   * Applies `op` given the id the real ledger assigned (ids are the ledger's to choose).
   * Returns the expected outcome; `entryId` on replays is the original's id.
   */
  apply(op: Op, targetId: string | undefined, newId: string | undefined): Outcome {
    switch (op.op) {
      case 'grant':
        return this.keyed(op.account, 'grant', op.key, { amount: op.amount }, () =>
          this.move(op.account, 'grant', op.amount, 'granted', newId),
        );
      case 'debit':
        return this.debit(op.account, op.amount, newId);
      case 'debitOnce':
        return this.keyed(op.account, 'debit', op.key, { amount: op.amount }, () => this.debit(op.account, op.amount, newId));
      case 'adjust': {
        const apply = (): Outcome => {
          const next = this.balance(op.account) + op.delta;
          if (next < 0) return { outcome: 'insufficient', balance: this.balance(op.account) };
          if (next > MAX_AMOUNT) return { error: 'overflow' };
          return this.move(op.account, 'adjust', op.delta, 'adjusted', newId);
        };
        return this.keyed(op.account, 'adjust', op.key, { amount: op.delta }, apply);
      }
      case 'refund': {
        const target = this.entries.find((e) => e.id === targetId);
        if (target === undefined) return { error: 'not_found' };
        const keyedRefund = (): Outcome => {
          if (target.kind !== 'debit') return { error: 'not_refundable' };
          const remaining = target.amount - target.refunded;
          const amount = op.amount ?? remaining;
          if (remaining === 0 || amount > remaining) return { error: 'exceeds_refundable' };
          if (this.balance(target.account) + amount > MAX_AMOUNT) return { error: 'overflow' };
          target.refunded += amount;
          return this.move(target.account, 'refund', amount, 'refunded', newId);
        };
        return this.keyed(target.account, 'refund', op.key, { amount: op.amount, ref: target.id }, keyedRefund);
      }
    }
  }

  private debit(account: string, amount: number, newId: string | undefined): Outcome {
    if (this.balance(account) < amount) return { outcome: 'insufficient', balance: this.balance(account) };
    return this.move(account, 'debit', -amount, 'debited', newId);
  }

  private move(account: string, kind: string, delta: number, outcome: string, newId: string | undefined): Outcome {
    const balance = this.balance(account) + delta;
    if (balance > MAX_AMOUNT) return { error: 'overflow' };
    this.balances.set(account, balance);
    const id = newId ?? `missing-${this.entries.length}`;
    this.entries.push({ id, account, kind, amount: Math.abs(delta), refunded: 0 });
    return { outcome, balance, entryId: id };
  }

  /** Per (account, family, key): a replay with equal parameters returns the original. */
  private keyed(
    account: string,
    family: string,
    key: string | undefined,
    params: { amount?: number; ref?: string },
    apply: () => Outcome,
  ): Outcome {
    if (key === undefined) return apply();
    const k = `${account}\u0000${family}\u0000${key}`;
    const prior = this.keys.get(k);
    if (prior !== undefined) {
      const sameAmount =
        params.amount === undefined || (family === 'adjust' ? prior.amount === params.amount : prior.amount === Math.abs(params.amount));
      const sameRef = params.ref === undefined || prior.ref === params.ref;
      if (!sameAmount || !sameRef) return { error: 'idempotency_conflict' };
      return { outcome: 'replayed', balance: this.balance(account), entryId: prior.entryId };
    }
    const result = apply();
    if ('outcome' in result && result.outcome !== 'insufficient' && result.entryId !== undefined) {
      const e = this.entries.find((x) => x.id === result.entryId);
      this.keys.set(k, {
        entryId: result.entryId,
        amount: family === 'adjust' ? (params.amount as number) : (e?.amount ?? 0),
        ref: params.ref,
      });
    }
    return result;
  }
}
