/**
 * The usage rollup's SQL: how a log row lands in an hourly bucket. One definition, used by
 * the fold (which writes buckets) and by readers (which add the rows not folded yet), so
 * the two can never disagree. Migration 0010 inlines the same text to roll up old history.
 */

/**
 * The bucket columns and measures of the log rows `e` that count for usage, with `r` the
 * entry a refund refunds: a refund counts in the bucket (hour, model, keyId, actor) of the
 * entry it refunds; everything else in its own. '' stands for "absent" in the keys. (A refund
 * whose `ref` names no entry — only a damaged or hand-edited log has one — counts in its own
 * bucket: a NULL time would fail the fold's NOT NULL hour, and every read with it.)
 * `at` is the time that picks the bucket. Append a WHERE on `e.pos` and GROUP BY.
 */
export const USAGE_SOURCE = `
  SELECT (CASE WHEN r.pos IS NOT NULL THEN r.created_at ELSE e.created_at END) AS at,
         e.account AS account,
         COALESCE(CASE WHEN r.pos IS NOT NULL THEN r.model ELSE e.model END, '') AS model,
         COALESCE(CASE WHEN r.pos IS NOT NULL THEN r.key_id ELSE e.key_id END, '') AS key_id,
         COALESCE(CASE WHEN r.pos IS NOT NULL THEN r.actor ELSE e.actor END, '') AS actor,
         CASE WHEN e.kind IN ('debit', 'capture') THEN e.amount ELSE 0 END AS debited,
         e.kind IN ('debit', 'capture') AS debits,
         CASE WHEN e.kind = 'refund' THEN e.amount ELSE 0 END AS refunded,
         e.kind = 'refund' AS refunds,
         CASE WHEN e.kind = 'grant' THEN e.amount ELSE 0 END AS granted,
         CASE WHEN e.kind = 'expire' THEN -e.delta ELSE 0 END AS expired,
         CASE WHEN e.kind = 'adjust' THEN e.delta ELSE 0 END AS adjusted,
         CASE WHEN e.kind = 'transfer_out' THEN e.amount ELSE 0 END AS transferred_out,
         CASE WHEN e.kind = 'transfer_in' THEN e.amount ELSE 0 END AS transferred_in
  FROM credit_entry AS e LEFT JOIN credit_entry AS r ON e.kind = 'refund' AND r.pos = e.ref
  WHERE (e.kind IN ('debit', 'capture', 'refund', 'grant', 'adjust', 'transfer_out', 'transfer_in') OR (e.kind = 'expire' AND e.delta <> 0))`;

/** The measures, summed. */
export const USAGE_MEASURES = [
  'debited',
  'debits',
  'refunded',
  'refunds',
  'granted',
  'expired',
  'adjusted',
  'transferred_out',
  'transferred_in',
] as const;
const SUMS = USAGE_MEASURES.map((m) => `SUM(${m}) AS ${m}`).join(', ');

/**
 * Folds the next chunk of the log into the rollup: the rows after the cursor, at most
 * `chunk` of them (arg 1). Reads the cursor inside the statement, which holds the write
 * lock, so two folders never count a row twice; FOLD_ADVANCE moves the cursor in the same
 * unit.
 */
export const USAGE_FOLD = `INSERT INTO credit_usage (hour, account, model, key_id, actor, ${USAGE_MEASURES.join(', ')})
SELECT * FROM (
  SELECT at / 3600000 * 3600000 AS hour, account, model, key_id, actor, ${SUMS}
  FROM (${USAGE_SOURCE}
    AND e.pos > (SELECT through FROM credit_usage_cursor WHERE id = 1)
    AND e.pos <= (SELECT through FROM credit_usage_cursor WHERE id = 1) + CAST(? AS INTEGER))
  GROUP BY 1, 2, 3, 4, 5
) WHERE true
ON CONFLICT (hour, account, model, key_id, actor) DO UPDATE SET
  ${USAGE_MEASURES.map((m) => `${m} = ${m} + excluded.${m}`).join(', ')}`;

/** Moves the cursor past the chunk USAGE_FOLD just counted (arg 1: the same chunk size). */
export const FOLD_ADVANCE = `UPDATE credit_usage_cursor
SET through = MIN(through + CAST(? AS INTEGER), (SELECT COALESCE(MAX(pos), 0) FROM credit_entry))
WHERE id = 1`;

/** Where the fold stands: the cursor and the log's last position. */
export const FOLD_STATE = `SELECT (SELECT through FROM credit_usage_cursor WHERE id = 1) AS through,
       (SELECT COALESCE(MAX(pos), 0) FROM credit_entry) AS top`;

/**
 * The usage rows not folded yet, for readers to add to the rollup: USAGE_SOURCE over
 * the log after the cursor, read in the same statement (one snapshot) as the rollup.
 */
export const USAGE_TAIL = `${USAGE_SOURCE} AND e.pos > (SELECT through FROM credit_usage_cursor WHERE id = 1)`;
