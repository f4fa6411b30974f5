import type { Cap, Capped, CapWarning } from './caps/types.js';
import type { EntryKind } from './schema.js';

export type * from './caps/types.js';
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
  /** Lot expiry (grants) or hold expiry (holds, extensions). */
  expiresAt: number | null;
  /** Lot priority (grants that opened a lot). */
  priority: number | null;
  createdAt: number;
}

/** The numbers every balance read computes. */
export interface BalanceNumbers {
  account: string;
  /** Σ delta, less what is left of lots past their expiry (exact at read time, swept or not). */
  balance: number;
  /** Reserved by holds that are open and within their TTL. */
  held: number;
  /** What a debit can spend now: balance − held − floor (at least 0). Spend caps may allow less: see `headroom`. */
  available: number;
  /** Seq of the head row; 0 for an account with no rows. */
  seq: number;
  /** The account's floor (`caps.floor`): > 0 a buffer that may not be spent, < 0 an overdraft allowance. */
  floor: number;
}

export interface Balance extends BalanceNumbers {
  /** The least `remaining` among the account's deny caps without filters; null when it has none. */
  headroom: number | null;
  /** Every spend cap of the account, as `caps.list` gives them. */
  caps: Cap[];
}

/** Every money result reports the account as it stands right after the call. */
interface After {
  /** Balance (excluding expired lots) after the call. */
  balance: number;
  /** What can be spent after the call. */
  available: number;
}

export interface Insufficient extends After {
  outcome: 'insufficient';
  entry?: undefined;
  /** The amount the call needed covered. */
  requested: number;
}

export interface GrantResult extends After {
  outcome: 'granted' | 'replayed';
  entry: Entry;
}

/** Warn caps an applied debit, hold or capture took over their limit; absent when none. */
interface Warned {
  warnings?: CapWarning[];
}

export type DebitResult = ({ outcome: 'debited' | 'replayed'; entry: Entry } & After & Warned) | Insufficient | Capped;

export interface RefundResult extends After {
  outcome: 'refunded' | 'replayed';
  entry: Entry;
  /** What can still be refunded of the original after this call. */
  refundable: number;
}

export type AdjustResult = ({ outcome: 'adjusted' | 'replayed'; entry: Entry } & After) | Insufficient;

export type HoldStatus = 'open' | 'captured' | 'released' | 'expired';

export interface Hold {
  id: string;
  account: string;
  amount: number;
  expiresAt: number;
  /** As of the ledger clock: an open hold past its TTL reads as 'expired', swept or not. */
  status: HoldStatus;
  /** The capture, release or expire entry that closed it. */
  resolvedBy: string | null;
  createdAt: number;
}

export type HoldResult = ({ outcome: 'held' | 'replayed'; entry: Entry; hold: Hold } & After & Warned) | Insufficient | Capped;

export type CaptureResult =
  | ({
      outcome: 'captured' | 'replayed';
      entry: Entry;
      hold: Hold;
      /** The part of the hold not captured, released by this capture. */
      released: number;
    } & After &
      Warned)
  | (Insufficient & { hold: Hold })
  | (Capped & { hold: Hold });

export interface ReleaseResult extends After {
  outcome: 'released' | 'replayed';
  entry: Entry;
  hold: Hold;
}

export interface ExtendResult extends After {
  outcome: 'extended';
  entry: Entry;
  hold: Hold;
}

export interface Lot {
  /** The grant entry that opened it. */
  id: string;
  account: string;
  amount: number;
  remaining: number;
  priority: number;
  expiresAt: number | null;
  createdAt: number;
}

export interface Allocation {
  entryId: string;
  lotId: string;
  /** Drawn from the lot (positive) or given back to it (negative, refunds). */
  amount: number;
  /** Position in the draw order. */
  ord: number;
}

export interface SweepReport {
  dryRun: boolean;
  lotsExpired: number;
  creditsExpired: number;
  holdsExpired: number;
  creditsReleased: number;
  batches: number;
  /** Log positions sweep() folded into the usage rollup afterwards (0 on a dry run). */
  usageFolded: number;
  /** Subscribed accounts whose due allowance, rollover or pending change the sweep wrote down. */
  subscriptionsSettled: number;
  /** `credits.expiring` events written: lots lapsing within an alert's `expiringWithinMs`, once per lot. */
  expiringNotices: number;
}

export interface HistoryPage {
  entries: Entry[];
  /** Pass back as `cursor` for the next (older) page; null on the last page. */
  nextCursor: string | null;
}

export interface KeySpend {
  keyId: string;
  /** Credits spent through this key: debits and captures. */
  debited: number;
  /** Credits refunded on those debits and captures. */
  refunded: number;
  /** debited − refunded. */
  net: number;
  /** Number of debits and captures. */
  debits: number;
  refunds: number;
}

export interface LedgerStats {
  accounts: number;
  entries: number;
  granted: number;
  /** Spent by debits and captures. */
  debited: number;
  refunded: number;
  /** Net of operator adjustments (signed). */
  adjusted: number;
  /** Σ of every account's posted balance: granted − debited + refunded + adjusted − expired. */
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
    | 'bad_metadata'
    | 'hold_resolution'
    | 'lot_mismatch'
    | 'hold_mismatch'
    | 'allocation_mismatch'
    | 'digest_mismatch'
    | 'corrupt_file'
    | 'cap_mismatch'
    | 'plan_mismatch'
    | 'subscription_mismatch'
    | 'floor_mismatch'
    | 'cap_exceeded'
    | 'bad_config'
    | 'usage_mismatch'
    | 'pricing_mismatch'
    | 'charge_mismatch'
    | 'team_mismatch'
    | 'team_forbidden'
    | 'transfer_mismatch'
    | 'alert_mismatch'
    | 'event_mismatch';
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
