import type { Entry } from '../types.js';

export interface SetAlertInput {
  account: string;
  /**
   * Emit `balance.low` when a write takes available from at or above this to below it (once per
   * crossing; again after available is back at or above it). Several thresholds may be set.
   */
  lowBalance?: number;
  /** Emit `credits.expiring`, from `sweep()`, for each lot with credits left that lapses within this many ms. */
  expiringWithinMs?: number;
  idempotencyKey?: string;
  reason?: string;
  actor?: string;
}

export interface RemoveAlertInput {
  account: string;
  /** The threshold of the alert to remove (omit for the alert set with `expiringWithinMs` only). */
  lowBalance?: number;
  idempotencyKey?: string;
  reason?: string;
  actor?: string;
}

export interface Alert {
  account: string;
  lowBalance: number | null;
  expiringWithinMs: number | null;
  /** Whether available is below `lowBalance` at the ledger clock's now (false without a threshold). */
  below: boolean;
  /** The `alert_set` entry that last set it. */
  setBy: string;
}

export type SetAlertResult =
  | { outcome: 'set'; alert: Alert; entry: Entry }
  /** With the key's entry; without a key, nothing was written because exactly this alert is set. */
  | { outcome: 'replayed'; alert: Alert | null; entry?: Entry };

export type RemoveAlertResult = { outcome: 'removed'; entry: Entry } | { outcome: 'replayed'; entry: Entry } | { outcome: 'absent' };
