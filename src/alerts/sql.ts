/**
 * The statements of `ledger.alerts`: config rows on the account's log (`alert_set`,
 * `alert_remove`; the setting as canonical JSON in `metadata`, 0 for an absent field). The
 * projection `credit_alert` is written by the trigger `credit_entry_configures` inside the
 * INSERT; the events are written by `credit_entry_alerts_before` / `credit_entry_alerts`
 * (migration 0014) and by the sweep (`credits.expiring`, below).
 */

import { FLOOR } from '../caps/guard.js';
import { CONFIG_ROW, KEYED } from '../caps/sql.js';
import { ENTRY_COLUMNS, EXPIRED, HELD, headJoin, int } from '../sql.js';

/**
 * Sets an alert (or the expiring window of the one with this threshold). With a key: written
 * unless the key was used; without: nothing is written when exactly this alert is set.
 * Args: account, lowBalance (0 = none), expiringWithinMs (0 = none), reason, key, actor, metadata, now.
 */
export const ALERT_SET = `INSERT INTO credit_entry (${ENTRY_COLUMNS})
${CONFIG_ROW('alert_set')}
FROM (SELECT ? AS account, ${int('low')}, ${int('within')}, ? AS reason, ? AS ikey, ? AS actor, ? AS metadata, ${int('now')}) AS p
LEFT JOIN credit_entry AS h ON ${headJoin('h', 'p.account')}
WHERE p.ikey IS NOT NULL
   OR NOT EXISTS (SELECT 1 FROM credit_alert AS a WHERE a.account = p.account AND a.low_balance = p.low AND a.expiring_within_ms = p.within)
${KEYED}`;

/** Removes the alert with this threshold, if set. Args: account, lowBalance (0 = none), reason, key, actor, metadata, now. */
export const ALERT_REMOVE = `INSERT INTO credit_entry (${ENTRY_COLUMNS})
${CONFIG_ROW('alert_remove')}
FROM (SELECT ? AS account, ${int('low')}, ? AS reason, ? AS ikey, ? AS actor, ? AS metadata, ${int('now')}) AS p
JOIN credit_entry AS h ON ${headJoin('h', 'p.account')}
WHERE EXISTS (SELECT 1 FROM credit_alert AS a WHERE a.account = p.account AND a.low_balance = p.low)
${KEYED}`;

/** Available at `now` (unclamped), as the triggers compute it. */
const AVAILABLE = (account: string, now: string) =>
  `(COALESCE((SELECT balance FROM credit_entry WHERE account = ${account} ORDER BY seq DESC LIMIT 1), 0)
    - ${EXPIRED(account, now)} - ${HELD(account, now)} - ${FLOOR(account)})`;

/** The account's alerts at now, lowest threshold first. Args: account, now (and lowBalance for ALERT_ONE). */
export const ALERTS_LIST = `WITH p AS (SELECT ? AS account, CAST(? AS INTEGER) AS now)
SELECT a.*, ${AVAILABLE('p.account', 'p.now')} AS available_now FROM p JOIN credit_alert AS a ON a.account = p.account
ORDER BY a.low_balance`;
export const ALERT_ONE = `WITH p AS (SELECT ? AS account, CAST(? AS INTEGER) AS now, CAST(? AS INTEGER) AS low)
SELECT a.*, ${AVAILABLE('p.account', 'p.now')} AS available_now FROM p JOIN credit_alert AS a ON a.account = p.account AND a.low_balance = p.low`;

/**
 * `credits.expiring`, written by the sweep: one event per lot (the `dedupe` key) that still has
 * credits and lapses within the longest `expiringWithinMs` of its account's alerts. Args: now.
 */
export const EXPIRING_EVENTS = `WITH p AS (SELECT CAST(? AS INTEGER) AS now),
w AS (SELECT account, MAX(expiring_within_ms) AS within FROM credit_alert WHERE expiring_within_ms > 0 GROUP BY account)
INSERT INTO credit_event (type, account, entry, ref, created_at, data, dedupe)
SELECT 'credits.expiring', l.account, l.id, l.id, p.now, json_object('remaining', l.remaining, 'expiresAt', l.expires_at),
       'credits.expiring:' || l.id
FROM p, w JOIN credit_lot AS l ON l.account = w.account AND l.open = 1
WHERE l.remaining > 0 AND l.expires_at > p.now AND l.expires_at <= p.now + w.within
ORDER BY l.expires_at, l.id
ON CONFLICT (dedupe) WHERE dedupe IS NOT NULL DO NOTHING
RETURNING id`;

/** How many `credits.expiring` events the sweep would write now (a dry run). Args: now. */
export const EXPIRING_PENDING = `WITH p AS (SELECT CAST(? AS INTEGER) AS now),
w AS (SELECT account, MAX(expiring_within_ms) AS within FROM credit_alert WHERE expiring_within_ms > 0 GROUP BY account)
SELECT COUNT(*) AS n FROM p, w JOIN credit_lot AS l ON l.account = w.account AND l.open = 1
WHERE l.remaining > 0 AND l.expires_at > p.now AND l.expires_at <= p.now + w.within
  AND NOT EXISTS (SELECT 1 FROM credit_event AS e WHERE e.dedupe = 'credits.expiring:' || l.id)`;
