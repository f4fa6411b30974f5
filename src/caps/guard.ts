/**
 * The SQL of the floor and the spend caps as the money statements use it: inside the
 * statement that writes (the guard), in its RETURNING (warnings) and in the reads that
 * explain a no-op. Every fragment starts with a probe of its own small table keyed by
 * account (`credit_floor`'s primary key, `credit_cap_identity`), so an account without a
 * floor or caps pays empty index probes and nothing else.
 *
 * This module imports nothing but the window helper, so src/sql.ts can use it.
 */
import { ACCOUNT_FLOOR, MAX_AMOUNT } from '../limits.js';
import { windowStartSql } from './window.js';

/** The account's floor: what `available` may not go below (0 unless a floor_set row set one). */
export const FLOOR = (account: string) =>
  `COALESCE((SELECT fl.floor FROM credit_floor AS fl WHERE fl.account = ${account}), ${ACCOUNT_FLOOR})`;

/** An operation that spends or reserves, as SQL expressions of the statement it is part of. */
export interface SpendOp {
  account: string;
  model: string;
  keyId: string;
  actor: string;
  now: string;
  amount: string;
  /**
   * A capture: the alias of the `credit_hold` row it settles. While open, that hold already
   * counts in the `held` of every cap it matches, so for those caps only what the capture
   * takes beyond it is new.
   */
  hold?: string;
}

/** Cap `c` counts spend with this model, key and actor ('' in a filter: any). NULL attributes match only ''. */
export const capMatches = (c: string, model: string, keyId: string, actor: string) =>
  `(${c}.model = '' OR ${c}.model = ${model}) AND (${c}.key_id = '' OR ${c}.key_id = ${keyId}) AND (${c}.member = '' OR ${c}.member = ${actor})`;

/**
 * Cap `c`'s spend in the window that contains `now`: its counter if the counter is on that
 * window (or a later one, which only a clock moved back can leave), else nothing yet.
 */
export const capSpent = (c: string, now: string) =>
  `(CASE WHEN ${c}.window_start >= ${windowStartSql(`${c}.cap_window`, now)} THEN ${c}.spent ELSE 0 END)`;

/**
 * capSpent as reads show it: at most 2^53 − 1. A window's spend may pass it (SQLite counts in 64
 * bits, and guards compare exactly), but a driver reading such an integer loses it or throws
 * (libSQL: RangeError).
 */
export const shownSpent = (c: string, now: string) => `MIN(${capSpent(c, now)}, ${MAX_AMOUNT})`;

/**
 * Open holds, unexpired at `now`, that cap `c` matches: they count against its current window.
 * The EXISTS probe first: an aggregate costs its setup even over no rows (see HELD in src/sql.ts).
 */
export const capHeld = (c: string, now: string) =>
  `(CASE WHEN EXISTS (SELECT 1 FROM credit_hold AS hx WHERE hx.account = ${c}.account AND hx.status = 'open' AND hx.expires_at > ${now})
   THEN (SELECT COALESCE(SUM(hd.amount), 0) FROM credit_hold AS hd WHERE hd.account = ${c}.account AND hd.status = 'open' AND hd.expires_at > ${now} AND ${capMatches(c, 'hd.model', 'hd.key_id', 'hd.actor')}) ELSE 0 END)`;

/** What `op` adds to cap `c`'s spend plus holds. */
const increase = (c: string, op: SpendOp) =>
  op.hold === undefined
    ? op.amount
    : `(${op.amount} - CASE WHEN ${capMatches(c, `${op.hold}.model`, `${op.hold}.key_id`, `${op.hold}.actor`)} THEN ${op.hold}.amount ELSE 0 END)`;

/**
 * Caps of `op`'s account with `action` that match it, as alias `cc` (not `c`: the capture
 * statement has a CTE of that name, and `c.account` would then name the cap's own column).
 */
const matching = (op: SpendOp, action: string) =>
  `credit_cap AS cc WHERE cc.account = ${op.account} AND cc.action = '${action}' AND ${capMatches('cc', op.model, op.keyId, op.actor)}`;

/**
 * `op` is dated before cap c's current window: a writer whose clock was ahead already spent
 * in the next window, and the counter moved on. The earlier window's count is closed, so a
 * deny cap refuses it (retried, it reads the clock again); otherwise that window's spend
 * could pass its limit unseen when concurrent writers straddle a boundary.
 */
const late = (op: SpendOp) => `cc.window_start > ${windowStartSql('cc.cap_window', op.now)}`;

/** `op` would take cap c's window spend plus its holds past the limit. */
const over = (op: SpendOp) =>
  `${increase('cc', op)} > 0 AND ${capSpent('cc', op.now)} + ${capHeld('cc', op.now)} + ${increase('cc', op)} > cc.cap_limit`;

/**
 * The deny guard: no deny cap of the account that matches `op` would have its window's
 * spend plus its open holds plus what `op` adds go past its limit, and none has counted a
 * later window than `op`'s already. Every matching cap applies.
 */
export const CAPS_ALLOW = (op: SpendOp) => `NOT EXISTS (SELECT 1 FROM ${matching(op, 'deny')} AND (${late(op)} OR ${over(op)}))`;

/** A cap's identity and setting as JSON fields (for json_object). */
const CAP_FIELDS = (c: string) =>
  `'id', ${c}.id, 'window', ${c}.cap_window, 'limit', ${c}.cap_limit, 'action', ${c}.action, 'model', ${c}.model, 'keyId', ${c}.key_id, 'member', ${c}.member`;

/** A cap as JSON at `now`: setting, spent in the current window, matching holds. */
export const CAP_JSON = (c: string, now: string) =>
  `json_object(${CAP_FIELDS(c)}, 'spent', ${shownSpent(c, now)}, 'held', ${capHeld(c, now)})`;

/** Every cap of `account` at `now` as a JSON array, oldest first. */
export const CAPS_OF = (account: string, now: string) =>
  `(SELECT json_group_array(${CAP_JSON('cc', now)} ORDER BY cc.id) FROM credit_cap AS cc WHERE cc.account = ${account})`;

/**
 * For explaining a no-op: the deny caps that match `op` as a JSON array, each with what
 * `op` would add (`inc`) and whether it is dated before the cap's window (`late`).
 * JavaScript picks those that refuse it.
 */
export const CAPS_EXPLAIN = (op: SpendOp) =>
  `(SELECT json_group_array(json_object(${CAP_FIELDS('cc')}, 'spent', ${shownSpent('cc', op.now)}, 'held', ${capHeld('cc', op.now)},
     'inc', ${increase('cc', op)}, 'late', ${late(op)})) FROM ${matching(op, 'deny')})`;

/**
 * RETURNING of a debit, hold or capture: the warn caps the new row takes over their limit
 * (the check a deny cap would make), as a JSON array, NULL when none. RETURNING sees the
 * state before the row's AFTER triggers: the counter not yet raised by this row, a captured
 * hold still open, a new hold not yet open.
 */
export function CAP_WARNINGS(kind: 'debit' | 'hold' | 'capture'): string {
  const e = 'credit_entry';
  const op: SpendOp = {
    account: `${e}.account`,
    model: `${e}.model`,
    keyId: `${e}.key_id`,
    actor: `${e}.actor`,
    now: `${e}.created_at`,
    amount: `${e}.amount`,
    hold: kind === 'capture' ? 'wh' : undefined,
  };
  const spent = capSpent('cc', op.now);
  const held = capHeld('cc', op.now);
  const spentAfter = kind === 'hold' ? spent : `${spent} + ${op.amount}`;
  const heldAfter =
    kind === 'hold'
      ? `${held} + ${op.amount}`
      : kind === 'capture'
        ? `${held} - CASE WHEN ${capMatches('cc', 'wh.model', 'wh.key_id', 'wh.actor')} THEN wh.amount ELSE 0 END`
        : held;
  const from = kind === 'capture' ? `credit_hold AS wh JOIN ${matching(op, 'warn')} AND wh.id = ${e}.ref` : matching(op, 'warn');
  // The EXISTS first: an aggregate subquery costs its setup even over no rows, and most
  // accounts have no warn cap (measured: part of the ~10 % a plain debit lost to caps).
  return `CASE WHEN EXISTS (SELECT 1 FROM credit_cap AS wx WHERE wx.account = ${e}.account AND wx.action = 'warn') THEN
    (SELECT NULLIF(json_group_array(json_object(${CAP_FIELDS('cc')}, 'spent', ${spentAfter}, 'held', ${heldAfter})), '[]')
    FROM ${from} AND ${over(op)}) END AS cap_warnings`;
}
