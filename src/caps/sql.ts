/**
 * The statements of `ledger.caps`: config rows on the log (`cap_set`, `cap_remove`,
 * `floor_set`: delta 0, amount 0, the setting as canonical JSON in `metadata`) and the reads
 * of caps and floors. The projections `credit_cap` and `credit_floor` are written by the
 * triggers of migration 0010 inside the INSERT. Whether a row is written at all is decided
 * in the INSERT's WHERE: setting what is already in force (without an idempotency key) or
 * removing what is not there writes nothing.
 */
import { ENTRY_COLUMNS, headJoin, int } from '../sql.js';
import { capHeld, FLOOR, shownSpent } from './guard.js';

/**
 * The SELECT list of a config row of `kind` from a parameter row `p` (account, reason, ikey,
 * actor, now) and the head `h` of the account (or none: a config row can open an account, at
 * seq 1, balance 0). `metadata` is the SQL of its setting (default `p.metadata`).
 */
export const CONFIG_ROW = (kind: string, metadata = 'p.metadata') =>
  `SELECT p.account, COALESCE(h.seq, 0) + 1, '${kind}', 0, 0, COALESCE(h.balance, 0),
       p.reason, p.ikey, NULL, NULL, NULL, p.actor, ${metadata}, NULL, NULL, p.now, NULL`;

export const KEYED = `ON CONFLICT (account, kind, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
RETURNING pos, seq, balance`;

/** The cap of `p` (account, win, model, key_id, member; '' = no filter) in `credit_cap` alias c. */
const SAME_CAP = `c.account = p.account AND c.cap_window = p.win AND c.model = p.model AND c.key_id = p.key_id AND c.member = p.member`;

/**
 * Sets a cap (or the limit and action of the one with the same window and filters). With an
 * idempotency key the row is written unless the key was used (the key is then recorded);
 * without one, nothing is written when exactly this cap is in force.
 * Args: account, window, limit, action, model, keyId, member ('' when absent), reason, key, actor, metadata, now.
 */
export const CAP_SET = `INSERT INTO credit_entry (${ENTRY_COLUMNS})
${CONFIG_ROW('cap_set')}
FROM (SELECT ? AS account, ? AS win, ${int('lim')}, ? AS act, ? AS model, ? AS key_id, ? AS member, ? AS reason, ? AS ikey,
             ? AS actor, ? AS metadata, ${int('now')}) AS p
LEFT JOIN credit_entry AS h ON ${headJoin('h', 'p.account')}
WHERE p.ikey IS NOT NULL
   OR NOT EXISTS (SELECT 1 FROM credit_cap AS c WHERE ${SAME_CAP} AND c.cap_limit = p.lim AND c.action = p.act)
${KEYED}`;

/**
 * Removes a cap, if one with this window and these filters is in force (else writes nothing).
 * Args: account, window, model, keyId, member ('' when absent), reason, key, actor, metadata, now.
 */
export const CAP_REMOVE = `INSERT INTO credit_entry (${ENTRY_COLUMNS})
${CONFIG_ROW('cap_remove')}
FROM (SELECT ? AS account, ? AS win, ? AS model, ? AS key_id, ? AS member, ? AS reason, ? AS ikey, ? AS actor, ? AS metadata,
             ${int('now')}) AS p
JOIN credit_entry AS h ON ${headJoin('h', 'p.account')}
WHERE EXISTS (SELECT 1 FROM credit_cap AS c WHERE ${SAME_CAP})
${KEYED}`;

/**
 * Sets the account's floor. With a key: written unless the key was used; without: nothing is
 * written when this floor is already in force (0 is in force on an account that never set one).
 * Args: account, floor, reason, key, actor, metadata, now.
 */
export const FLOOR_SET = `INSERT INTO credit_entry (${ENTRY_COLUMNS})
${CONFIG_ROW('floor_set')}
FROM (SELECT ? AS account, ${int('floor')}, ? AS reason, ? AS ikey, ? AS actor, ? AS metadata, ${int('now')}) AS p
LEFT JOIN credit_entry AS h ON ${headJoin('h', 'p.account')}
WHERE p.ikey IS NOT NULL OR ${FLOOR('p.account')} <> p.floor
${KEYED}`;

/** Columns of a cap at `p.now`: the row, its spend in the current window, its matching holds. */
const CAP_COLUMNS = `c.id, c.account, c.cap_window, c.cap_limit, c.action, c.model, c.key_id, c.member,
       ${shownSpent('c', 'p.now')} AS spent_now, ${capHeld('c', 'p.now')} AS held_now`;

/** Every cap of an account at now, oldest first. Args: account, now. */
export const CAPS_LIST = `WITH p AS (SELECT ? AS account, CAST(? AS INTEGER) AS now)
SELECT ${CAP_COLUMNS} FROM p JOIN credit_cap AS c ON c.account = p.account ORDER BY c.id`;

/** One cap by identity at now. Args: account, window, model, keyId, member ('' when absent), now. */
export const CAP_BY_IDENTITY = `WITH p AS (SELECT ? AS account, ? AS win, ? AS model, ? AS key_id, ? AS member, CAST(? AS INTEGER) AS now)
SELECT ${CAP_COLUMNS} FROM p JOIN credit_cap AS c ON ${SAME_CAP}`;

/** The floor in force. Args: account. */
export const FLOOR_NOW = `SELECT ${FLOOR('?')} AS floor`;
