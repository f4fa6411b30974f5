/**
 * Reading caps back from SQL: the JSON the guard fragments return (src/caps/guard.ts) and the
 * rows of `credit_cap`, turned into `Cap`s at the ledger clock's now; the warnings of an
 * applied operation; and why a spending operation did nothing (insufficient or capped).
 */
import { num, toBalance } from '../entry.js';
import { LedgerError } from '../errors.js';
import type { Ids } from '../ids.js';
import { MAX_AMOUNT } from '../limits.js';
import type { Row } from '../runner/index.js';
import type { CapAction, CapWindow } from '../schema.js';
import type { Insufficient } from '../types.js';
import type { Cap, Capped, CapWarning } from './types.js';
import { windowEnd } from './window.js';

/** A cap as SQL gives it: `credit_cap` columns or the JSON object of CAP_JSON. */
interface RawCap {
  id: unknown;
  window: unknown;
  limit: unknown;
  action: unknown;
  model: unknown;
  keyId: unknown;
  member: unknown;
  spent: unknown;
  held: unknown;
}

const filter = (v: unknown): string | null => (v === null || v === undefined || v === '' ? null : String(v));

export function toCap(r: RawCap, account: string, now: number, ids: Ids): Cap {
  const window = String(r.window) as CapWindow;
  const limit = num(r.limit);
  // A window's spend may pass 2^53 − 1 (stored exactly by SQLite): shown as at most MAX_AMOUNT.
  const spent = Math.min(num(r.spent), MAX_AMOUNT);
  const held = num(r.held);
  return {
    id: ids.format(num(r.id)),
    account,
    window,
    limit,
    action: String(r.action) as CapAction,
    model: filter(r.model),
    keyId: filter(r.keyId),
    member: filter(r.member),
    spent,
    held,
    remaining: Math.max(0, limit - spent - held),
    resetsAt: windowEnd(window, now),
  };
}

/** A `credit_cap` row read with `spent_now` and `held_now` (caps/sql.ts CAP_ROWS). */
export const capFromRow = (r: Row, now: number, ids: Ids): Cap =>
  toCap(
    {
      id: r.id,
      window: r.cap_window,
      limit: r.cap_limit,
      action: r.action,
      model: r.model,
      keyId: r.key_id,
      member: r.member,
      spent: r.spent_now,
      held: r.held_now,
    },
    String(r.account),
    now,
    ids,
  );

/** A JSON array of caps (CAPS_OF, CAPS_EXPLAIN, CAP_WARNINGS); NULL reads as none. */
export function parseCaps(v: unknown): (RawCap & { inc?: unknown; late?: unknown })[] {
  if (v === null || v === undefined) return [];
  return JSON.parse(String(v)) as (RawCap & { inc?: unknown; late?: unknown })[];
}

export const capsFromJson = (v: unknown, account: string, now: number, ids: Ids): Cap[] =>
  parseCaps(v).map((c) => toCap(c, account, now, ids));

const NONE: { warnings?: CapWarning[] } = Object.freeze({});

/** The warnings of an applied debit, hold or capture (its RETURNING's `cap_warnings`; NULL, the usual case, costs nothing). */
export function warningsOf(row: Row, account: string, now: number, ids: Ids): { warnings?: CapWarning[] } {
  if (row.cap_warnings === null || row.cap_warnings === undefined) return NONE;
  const raw = parseCaps(row.cap_warnings);
  if (raw.length === 0) return NONE;
  return {
    warnings: raw.map((w) => {
      const cap = toCap(w, account, now, ids);
      return { cap, spent: cap.spent, held: cap.held, limit: cap.limit };
    }),
  };
}

/**
 * A spend on a team account by an actor who may not spend it is misuse, not an outcome: it
 * throws `forbidden` before anything else is said (an outsider learns nothing of the balance).
 * `allowed` is the membership guard (src/teams/guard.ts) read in the unit's explain snapshot.
 */
export function assertAllowed(account: string, snapshot: Row | undefined): void {
  if (snapshot === undefined || snapshot.allowed === undefined || snapshot.allowed === null || num(snapshot.allowed) !== 0) return;
  const actor = String(snapshot.actor);
  throw new LedgerError(
    'forbidden',
    `${account} is a team, and ${actor} may not spend its credits: only its owner, admins and members may (not viewers or non-members)`,
    { account, actor },
  );
}

/**
 * Why a debit, hold or capture wrote nothing (no replay): insufficient when the account
 * could not cover it (`coverable`: what the covers guard allowed, before clamping), which
 * takes precedence; else capped by the matching deny cap it takes furthest past its limit
 * (the least headroom; first a cap that already counts a later window than the call's
 * clock, see `late` in guard.ts). The snapshot carries the numbers and `caps` (CAPS_EXPLAIN), read in
 * the same unit. Should neither explain it (on better-sqlite3 and bun:sqlite the explain
 * reads run a moment after the guard), the answer is insufficient, as before caps.
 */
export function explainRefusal(
  account: string,
  snapshot: Row | undefined,
  requested: number,
  coverable: number,
  now: number,
  ids: Ids,
): Insufficient | Capped {
  assertAllowed(account, snapshot);
  const numbers = toBalance(account, snapshot);
  const after = { balance: numbers.balance, available: numbers.available };
  if (coverable >= requested && snapshot !== undefined) {
    let worst: { cap: Cap; headroom: number } | undefined;
    for (const c of parseCaps(snapshot.caps)) {
      const inc = num(c.inc);
      const cap = toCap(c, account, now, ids);
      const late = num(c.late) === 1;
      const headroom = late ? Number.NEGATIVE_INFINITY : cap.limit - cap.spent - cap.held;
      if ((late || (inc > 0 && inc > headroom)) && (worst === undefined || headroom < worst.headroom)) worst = { cap, headroom };
    }
    if (worst !== undefined) {
      const { cap } = worst;
      return { outcome: 'capped', cap, spent: cap.spent, held: cap.held, limit: cap.limit, requested, ...after };
    }
  }
  return { outcome: 'insufficient', ...after, requested };
}

/** What the covers guard of a debit (or hold) allowed, from a snapshot row: balance − expired − held − floor. */
export const coverableOf = (snapshot: Row | undefined): number =>
  snapshot === undefined ? 0 : num(snapshot.balance) - num(snapshot.expired_now) - num(snapshot.held_now) - num(snapshot.floor_now);
