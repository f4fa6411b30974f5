import type { Capped, CapWarning } from '../caps/types.js';
import type { Entry, Insufficient } from '../types.js';

export interface TransferInput {
  from: string;
  to: string;
  amount: number;
  /** Scoped to `from`'s transfers: a retry with the same key replays (or is `idempotency_conflict`). */
  idempotencyKey?: string;
  reason?: string;
  /** Who moves the credits. On a team account `from`, the actor must be a member that may spend. */
  actor?: string;
  metadata?: Record<string, unknown>;
}

/** An account's numbers after the transfer, at the ledger clock's now. */
export interface AccountAfter {
  balance: number;
  available: number;
}

export interface Transferred {
  outcome: 'transferred' | 'replayed';
  /** The row that left `from` (kind `transfer_out`); its allocations say which lots it drew. */
  out: Entry;
  /**
   * The rows that arrived on `to` (kind `transfer_in`, each `ref` = `out.id`): one per expiry and
   * priority among the lots of `from` the transfer drew (each a lot on `to` with them), then one
   * for what came from unlotted credits. Usually one row.
   */
  in: Entry[];
  /** `from` after the transfer. */
  balance: number;
  available: number;
  /** `to` after the transfer. */
  to: AccountAfter;
  /** Warn caps of `from` the transfer took past their limit. */
  warnings?: CapWarning[];
}

export type TransferResult = Transferred | Insufficient | Capped;
