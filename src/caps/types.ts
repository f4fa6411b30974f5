import type { CapAction, CapWindow } from '../schema.js';
import type { Entry } from '../types.js';

export type { CapAction, CapWindow } from '../schema.js';

/** A spend cap as it stands at the ledger clock's now. */
export interface Cap {
  /** The entry (`cap_set`) that first set this cap; a cap removed and set again gets a new id. */
  id: string;
  account: string;
  window: CapWindow;
  limit: number;
  action: CapAction;
  /** Filters: the cap counts only spend with this model / API key / actor; null = any. */
  model: string | null;
  keyId: string | null;
  member: string | null;
  /** Spent in the current window: debits and captures matching the filters, less their refunds. */
  spent: number;
  /** Reserved by open, unexpired holds matching the filters (they count against the current window). */
  held: number;
  /** max(0, limit − spent − held): what a debit matching the filters may still spend. */
  remaining: number;
  /** When the current window ends and `spent` starts again from 0. */
  resetsAt: number;
}

/** A warn cap that an applied operation took (or kept) over its limit. */
export interface CapWarning {
  cap: Cap;
  /** The window's spend after the operation. */
  spent: number;
  /** Open holds matching the cap after the operation. */
  held: number;
  limit: number;
}

/** A deny cap refused the operation: nothing was written (an idempotency key is not used up). */
export interface Capped {
  outcome: 'capped';
  entry?: undefined;
  /** The refusing cap with the least headroom (every matching deny cap applies). */
  cap: Cap;
  spent: number;
  held: number;
  limit: number;
  /** The amount the call needed. */
  requested: number;
  balance: number;
  available: number;
}

export interface SetCapInput {
  account: string;
  window: CapWindow;
  /** Most the window may spend (0: nothing may be spent), in the smallest unit. */
  limit: number;
  /** deny (default) refuses inside the guard; warn lets it through with `warnings`; notify only records. */
  action?: CapAction;
  model?: string;
  keyId?: string;
  /** Counts the spend of this actor (`actor` on debits, holds and captures). */
  member?: string;
  idempotencyKey?: string;
  reason?: string;
  actor?: string;
}

export interface SetCapResult {
  /** `replayed`: an idempotency key seen before, or (without a key) exactly this cap was already in force. */
  outcome: 'set' | 'replayed';
  /** The cap now; null only when a keyed replay finds the cap since removed. */
  cap: Cap | null;
  /** The `cap_set` entry (absent when nothing was written and no key named an earlier one). */
  entry?: Entry;
}

export interface RemoveCapInput {
  account: string;
  window: CapWindow;
  model?: string;
  keyId?: string;
  member?: string;
  idempotencyKey?: string;
  reason?: string;
  actor?: string;
}

export interface RemoveCapResult {
  /** `absent`: no such cap was in force, nothing written. `replayed`: the key removed it before. */
  outcome: 'removed' | 'absent' | 'replayed';
  entry?: Entry;
}

export interface FloorInput {
  account: string;
  /** > 0 keeps a buffer that may not be spent; < 0 allows that much overdraft. Default 0. */
  floor: number;
  idempotencyKey?: string;
  reason?: string;
  actor?: string;
}

export interface FloorResult {
  /** `replayed`: an idempotency key seen before, or (without a key) this floor was already in force. */
  outcome: 'set' | 'replayed';
  /** The floor in force now. */
  floor: number;
  entry?: Entry;
}
