import type { Entry } from '../types.js';

/** What `analytics.spend()` can group by. */
export type SpendGroupKey = 'account' | 'model' | 'keyId' | 'actor' | 'day' | 'hour';
/** What `analytics.top()` ranks. */
export type TopBy = 'account' | 'model' | 'keyId' | 'actor';

/**
 * Filters: only spend that matches all of them. `null` for model, keyId or actor matches
 * spend recorded without one.
 */
export interface SpendFilters {
  account?: string;
  model?: string | null;
  keyId?: string | null;
  actor?: string | null;
}

export interface SpendInput extends SpendFilters {
  /** Milliseconds since the epoch; every hour that overlaps [from, to) counts (hourly buckets). */
  from: number;
  to: number;
  groupBy?: SpendGroupKey[];
  /** Rows returned, 1–10,000 (default 1,000). */
  limit?: number;
  /** The days of a `day` group start at local midnight at this offset from UTC (minutes, a multiple of 15, ±840). */
  tzOffsetMinutes?: number;
}

export interface TopInput extends SpendFilters {
  by: TopBy;
  from: number;
  to: number;
  /** Rows returned, 1–10,000 (default 10). */
  limit?: number;
}

export interface SummaryInput {
  from: number;
  to: number;
}

/**
 * One group of spend. Only the keys grouped by are present: `account`; `model`, `keyId`,
 * `actor` (null for spend recorded without one); `day` (`YYYY-MM-DD`, local to the offset
 * asked for); `hour` (the UTC hour's start, `2030-01-31T13:00:00.000Z`).
 */
export interface SpendRow {
  account?: string;
  model?: string | null;
  keyId?: string | null;
  actor?: string | null;
  day?: string;
  hour?: string;
  /** Taken by debits and captures. */
  debited: number;
  /** Given back by refunds of those debits and captures (counted where the refunded entry counts). */
  refunded: number;
  /** debited − refunded. */
  net: number;
  /** Number of debits and captures (refunds do not change it). */
  count: number;
}

export interface UsageSummary {
  /** The hours counted: [from, to) widened to whole hours, in milliseconds (`to` at most 2^53 − 1). */
  from: number;
  to: number;
  /** (to − from) in days, possibly fractional. */
  days: number;
  /** Taken by debits and captures. */
  debited: number;
  /** Given back by refunds of debits and captures in the range. */
  refunded: number;
  /** debited − refunded: the credits spent. */
  consumed: number;
  /** Number of debits and captures. */
  count: number;
  /** Credits granted. */
  granted: number;
  /** Credits taken off by `expire` rows (written by sweep()) in the range. */
  expired: number;
  /** Net of operator adjustments (signed). */
  adjusted: number;
  /** Credits moved between accounts by transfers (neither spent nor granted: they stay in the ledger). */
  transferred: number;
  /** Accounts with at least one debit or capture in the range. */
  activeAccounts: number;
  /** consumed ÷ days, rounded to the nearest integer (halves up); 0 for an empty range. */
  avgDailySpend: number;
  /** The model with the most consumed (ties: the smallest name, spend without a model first); null without spend. */
  topModel: { model: string | null; net: number } | null;
  /** The account with the most consumed (ties: the smallest name); null without spend. */
  topAccount: { account: string; net: number } | null;
}

/** A page of the whole log in commit order. */
export interface EntriesPage {
  entries: Entry[];
  /**
   * Pass back as `after` to continue after the last entry of this page (the same `after` on
   * an empty page). Opaque; it stays valid across restarts and new writes.
   */
  cursor: string;
  /** More entries were already committed after this page when it was read. */
  hasMore: boolean;
}
