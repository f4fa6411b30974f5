import type { EntryKind } from './schema.js';

export type { EntryKind } from './schema.js';

/** One row of the log, as the API returns it. */
export interface Entry {
  id: string;
  account: string;
  seq: number;
  kind: EntryKind;
  /** Signed change to the posted balance. */
  delta: number;
  /** The operation's unsigned size (|delta| for money rows). */
  amount: number;
  /** Posted balance after this row. */
  balance: number;
  reason: string | null;
  idempotencyKey: string | null;
  /** The entry this one acts on (refund → debit). */
  ref: string | null;
  model: string | null;
  keyId: string | null;
  actor: string | null;
  metadata: Record<string, unknown> | null;
  createdAt: number;
}

export interface Balance {
  account: string;
  /** Posted balance: Σ delta. */
  balance: number;
  /** Reserved by open holds (round one has no holds: always 0). */
  held: number;
  /** What a debit can spend now: balance − held − floor. */
  available: number;
  /** Seq of the head row; 0 for an account with no rows. */
  seq: number;
}

export interface GrantResult {
  outcome: 'granted' | 'replayed';
  entry: Entry;
  balance: number;
}

export type DebitResult =
  | { outcome: 'debited' | 'replayed'; entry: Entry; balance: number }
  | { outcome: 'insufficient'; entry?: undefined; balance: number; available: number; requested: number };

export interface RefundResult {
  outcome: 'refunded' | 'replayed';
  entry: Entry;
  balance: number;
  /** What can still be refunded of the original after this call. */
  refundable: number;
}

export type AdjustResult =
  | { outcome: 'adjusted' | 'replayed'; entry: Entry; balance: number }
  | { outcome: 'insufficient'; entry?: undefined; balance: number; available: number; requested: number };

export interface HistoryPage {
  entries: Entry[];
  /** Pass back as `cursor` for the next (older) page; null on the last page. */
  nextCursor: string | null;
}

export interface KeySpend {
  keyId: string;
  /** Credits debited through this key. */
  debited: number;
  /** Credits refunded on those debits. */
  refunded: number;
  /** debited − refunded. */
  net: number;
  debits: number;
  refunds: number;
}

export interface LedgerStats {
  accounts: number;
  entries: number;
  granted: number;
  debited: number;
  refunded: number;
  /** Net of operator adjustments (signed). */
  adjusted: number;
  /** Σ of every account's posted balance: granted − debited + refunded + adjusted. */
  outstanding: number;
  byKind: Record<string, { entries: number; amount: number }>;
}

export interface VerifyProblem {
  code:
    | 'seq_gap'
    | 'balance_mismatch'
    | 'below_floor'
    | 'bad_delta'
    | 'bad_amount'
    | 'unknown_kind'
    | 'refund_target'
    | 'refund_exceeds'
    | 'duplicate_idempotency_key'
    | 'bad_metadata';
  account?: string;
  entryId?: string;
  seq?: number;
  message: string;
}

export interface VerifyReport {
  ok: boolean;
  accounts: number;
  entries: number;
  /** Σ head balances the auditor recomputed. */
  outstanding: number;
  problemCount: number;
  problems: VerifyProblem[];
}
