/**
 * The statements of `ledger.webhooks`. Every state change is a conditional write decided
 * inside SQLite: fan-out by INSERT … ON CONFLICT DO NOTHING with cursors moved only forward,
 * claims by UPDATE … WHERE due … RETURNING with a random token, results recorded only
 * WHERE claim = that token. Nothing is read in JavaScript and then acted on.
 */
import { WEBHOOK_MAX_ENDPOINTS } from '../limits.js';

const MAX_EVENT = '(SELECT COALESCE(MAX(id), 0) FROM credit_event)';
const TYPE_MATCHES = '(w.types IS NULL OR EXISTS (SELECT 1 FROM json_each(w.types) WHERE value = e.type))';

/** [id, url, types, secret, now]: the cursor starts at the newest event; refused past the endpoint limit. */
export const ADD = `INSERT INTO credit_webhook (id, url, types, secret, status, cursor, created_at)
SELECT ?, ?, ?, ?, 'active', ${MAX_EVENT}, CAST(? AS INTEGER)
WHERE (SELECT COUNT(*) FROM credit_webhook) < ${WEBHOOK_MAX_ENDPOINTS}
RETURNING id, url, types, status, disabled_reason, disabled_at, cursor, created_at`;

export const LIST = 'SELECT id, url, types, status, disabled_reason, disabled_at, cursor, created_at FROM credit_webhook ORDER BY rowid';

/** [id]; its deliveries and attempts go with it (`follow`: only when this deleted the endpoint). */
export const REMOVE = 'DELETE FROM credit_webhook WHERE id = ? RETURNING id';
export const WEBHOOK_EXISTS = 'SELECT id FROM credit_webhook WHERE id = ?';
export const REMOVE_DELIVERIES = 'DELETE FROM credit_delivery WHERE webhook = ?';
export const REMOVE_ATTEMPTS = 'DELETE FROM credit_delivery_attempt WHERE webhook = ?';

/** [now, id]: enabling resumes the fan-out where it stopped and un-pauses its deliveries, due now with a fresh retry schedule. */
export const ENABLE = `UPDATE credit_webhook SET status = 'active', disabled_reason = NULL, disabled_at = NULL
WHERE id = ? RETURNING id, url, types, status, disabled_reason, disabled_at, cursor, created_at`;
export const UNPAUSE = `UPDATE credit_delivery SET status = 'pending', next_at = CAST(? AS INTEGER), retries_from = attempts
WHERE webhook = ? AND status = 'paused' RETURNING event`;

/**
 * Fan-out [now, now, max]: a delivery row per (active endpoint, event after its cursor
 * matching its types), at most `max` events per endpoint; then the cursors move to what was
 * fanned out. Both in one atomic unit, so they see the same events; a second deliverer doing
 * the same at once waits for the lock, then finds the cursors moved (and ON CONFLICT covers a
 * redeliver that queued an event ahead of the cursor). CROSS JOIN keeps the endpoints the outer
 * loop (SQLite does not reorder it): a rowid range seek per endpoint, never a scan of the outbox.
 */
export const FAN_OUT = `INSERT INTO credit_delivery (webhook, event, status, attempts, retries_from, next_at, created_at)
SELECT w.id, e.id, 'pending', 0, 0, CAST(? AS INTEGER), CAST(? AS INTEGER)
FROM credit_webhook w CROSS JOIN credit_event e
WHERE e.id > w.cursor AND e.id <= w.cursor + CAST(? AS INTEGER) AND w.status = 'active' AND ${TYPE_MATCHES}
ON CONFLICT (webhook, event) DO NOTHING
RETURNING event`;
export const ADVANCE = `UPDATE credit_webhook SET cursor = MIN(cursor + CAST(? AS INTEGER), ${MAX_EVENT})
WHERE status = 'active' AND cursor < ${MAX_EVENT}
RETURNING id`;

/**
 * Claim [token, until, until, now, limit]: due pending deliveries, oldest due first, through
 * the partial index credit_delivery_due. `next_at = claim_until` keeps a claimed row out of
 * the due set until its claim lapses; the attempt number is taken here, so no two claims of a
 * delivery ever share one.
 */
export const CLAIM = `UPDATE credit_delivery SET claim = ?, claim_until = CAST(? AS INTEGER), next_at = CAST(? AS INTEGER), attempts = attempts + 1
WHERE rowid IN (
  SELECT rowid FROM credit_delivery WHERE status = 'pending' AND next_at <= CAST(? AS INTEGER) ORDER BY next_at LIMIT ?
)
RETURNING event`;
/** [now, token]: the claimed attempts' rows, `sending` until recorded. */
export const CLAIM_ATTEMPTS = `INSERT INTO credit_delivery_attempt (webhook, event, attempt, started_at, outcome)
SELECT webhook, event, attempts, CAST(? AS INTEGER), 'sending' FROM credit_delivery WHERE claim = ?
ON CONFLICT (webhook, event, attempt) DO NOTHING
RETURNING attempt`;
/** [token]: what the claimed deliveries send. */
export const CLAIMED = `SELECT d.webhook AS d_webhook, d.attempts AS d_attempt, d.retries_from AS d_retries_from, w.url AS w_url, w.secret AS w_secret,
  e.id, e.type, e.account, e.entry, e.ref, e.created_at, e.data
FROM credit_delivery d JOIN credit_webhook w ON w.id = d.webhook JOIN credit_event e ON e.id = d.event
WHERE d.claim = ?`;
/** [now]: whether anything is still due or waiting to be fanned out (the report's `more`). */
export const MORE = `SELECT EXISTS (SELECT 1 FROM credit_delivery WHERE status = 'pending' AND next_at <= CAST(? AS INTEGER))
  OR EXISTS (SELECT 1 FROM credit_webhook WHERE status = 'active' AND cursor < ${MAX_EVENT}) AS more`;

/** [duration, status, error, outcome, webhook, event, attempt]: the attempt's own row; its number is its deliverer's alone. */
export const RECORD_ATTEMPT = `UPDATE credit_delivery_attempt SET duration_ms = CAST(? AS INTEGER), status = ?, error = ?, outcome = ?
WHERE webhook = ? AND event = CAST(? AS INTEGER) AND attempt = CAST(? AS INTEGER) AND outcome = 'sending'
RETURNING attempt`;
/** [now, status, webhook, event, token]. */
export const RECORD_DELIVERED = `UPDATE credit_delivery SET status = 'delivered', delivered_at = CAST(? AS INTEGER), last_status = ?, last_error = NULL,
  claim = NULL, claim_until = NULL
WHERE webhook = ? AND event = CAST(? AS INTEGER) AND claim = ?
RETURNING status`;
/** [status, next_at, last_status, last_error, webhook, event, token]: `pending` again at next_at, or `failed`. */
export const RECORD_FAILED = `UPDATE credit_delivery SET status = ?, next_at = CAST(? AS INTEGER), last_status = ?, last_error = ?,
  claim = NULL, claim_until = NULL
WHERE webhook = ? AND event = CAST(? AS INTEGER) AND claim = ?
RETURNING status`;
/** [reason, now, webhook]: a 410 disables the endpoint (whoever saw it; it is a fact about the endpoint)… */
export const DISABLE = `UPDATE credit_webhook SET status = 'disabled', disabled_reason = ?, disabled_at = CAST(? AS INTEGER)
WHERE id = ? AND status = 'active' RETURNING id`;
/** […and [webhook] pauses its pending deliveries, claimed or not: their holders' results then no longer apply. */
export const PAUSE = `UPDATE credit_delivery SET status = 'paused', claim = NULL, claim_until = NULL
WHERE webhook = ? AND status = 'pending' RETURNING event`;

/**
 * Redeliver [now, event]: every delivery of the event is queued again, due now, with a fresh
 * retry schedule (a disabled endpoint's stays paused); any claim on it is void.
 */
export const REQUEUE = `UPDATE credit_delivery SET
  status = CASE WHEN (SELECT status FROM credit_webhook WHERE id = webhook) = 'active' THEN 'pending' ELSE 'paused' END,
  next_at = CAST(? AS INTEGER), retries_from = attempts, claim = NULL, claim_until = NULL
WHERE event = CAST(? AS INTEGER)
RETURNING webhook, status`;
/** [now, now, event, event]: …and queued for active endpoints whose types match that have none. */
export const QUEUE_MATCHING = `INSERT INTO credit_delivery (webhook, event, status, attempts, retries_from, next_at, created_at)
SELECT w.id, e.id, 'pending', 0, 0, CAST(? AS INTEGER), CAST(? AS INTEGER)
FROM credit_webhook w JOIN credit_event e ON e.id = CAST(? AS INTEGER)
WHERE w.status = 'active' AND ${TYPE_MATCHES}
ON CONFLICT (webhook, event) DO NOTHING
RETURNING webhook`;
export const EVENT_EXISTS = 'SELECT id FROM credit_event WHERE id = CAST(? AS INTEGER)';

/**
 * Prune: finished deliveries (delivered, or failed after the last attempt) created before a
 * time, oldest first, and their attempts. Pending and paused ones stay whatever their age: they
 * are still work. [before, limit] for each statement; both run in one atomic unit, attempts
 * first, so they pick the same deliveries.
 */
const FINISHED_BEFORE = `SELECT rowid FROM credit_delivery
  WHERE (status = 'delivered' OR status = 'failed') AND created_at < CAST(? AS INTEGER) ORDER BY rowid LIMIT ?`;
export const PRUNE_ATTEMPTS = `DELETE FROM credit_delivery_attempt
WHERE (webhook, event) IN (SELECT webhook, event FROM credit_delivery WHERE rowid IN (${FINISHED_BEFORE}))
RETURNING attempt`;
export const PRUNE_DELIVERIES = `DELETE FROM credit_delivery WHERE rowid IN (${FINISHED_BEFORE}) RETURNING event`;
/** [before]: finished deliveries older than `before` remain (the report's `more`). */
export const PRUNE_MORE = `SELECT EXISTS (SELECT 1 FROM credit_delivery
  WHERE (status = 'delivered' OR status = 'failed') AND created_at < CAST(? AS INTEGER)) AS more`;

/** [event]: every attempt at the event, with what the delivery says now (to tell `lost` from `sending`). */
export const ATTEMPTS = `SELECT a.webhook, a.event, a.attempt, a.started_at, a.duration_ms, a.status, a.error, a.outcome,
  d.attempts AS d_attempts, d.claim_until AS d_claim_until, d.status AS d_status
FROM credit_delivery_attempt a LEFT JOIN credit_delivery d ON d.webhook = a.webhook AND d.event = a.event
WHERE a.event = CAST(? AS INTEGER)
ORDER BY a.webhook, a.attempt`;
