/**
 * The transfer statement: one INSERT that writes the row leaving `from` and the rows arriving
 * on `to`, or nothing. One statement is atomic on every driver without a transaction, and its
 * guard (the spend guard of `from`, src/sql.ts SPEND_GUARD) covers every row it writes.
 *
 * How the credits keep their lots: the leaving row draws `from`'s lots like a debit (DRAW); for
 * each expiry and priority drawn, an arriving row carries them, so the trigger
 * `credit_entry_opens_lot` opens a lot on `to` that lapses when the originals would have (lots
 * drawn with the same expiry and priority — adjacent in draw order — arrive as one lot, so
 * credits moved back and forth do not splinter into ever more lots); what came from the
 * unlotted balance arrives as one unlotted row. Each arriving row's `ref` is the
 * leaving row's pos, which the statement assigns itself (the log's last pos + 1: the INSERT holds
 * the write lock, and SQLite computes the whole SELECT before inserting, since it reads the table
 * it inserts into).
 */
import { CAP_WARNINGS, type SpendOp } from '../caps/guard.js';
import { MAX_AMOUNT } from '../limits.js';
import { DRAW, ENTRY_COLUMNS, headJoin, int, RETURNING_COMPUTED, SPEND_GUARD } from '../sql.js';

/** The transfer as the guard fragments see it (a transfer has no model or key). */
const OP: SpendOp = { account: 'p.account', model: 'p.model', keyId: 'p.key_id', actor: 'p.actor', now: 'p.now', amount: 'p.amount' };

/** Where the unlotted part sorts among the arriving rows: after every lot (json_each keys are < this). */
const UNLOTTED_LAST = 1_000_000_000;

/**
 * Args: from, to, amount, reason, key, actor, metadata, now. Returns the leaving row first, then
 * the arriving rows in draw order, each with `kind`, `amount`, `expires_at`, `priority` and the
 * Balance numbers of its account.
 */
export const TRANSFER = `WITH p AS (SELECT ? AS account, ? AS dst, ${int('amount')}, ? AS reason, ? AS ikey, ? AS actor, ? AS metadata,
             ${int('now')}, NULL AS model, NULL AS key_id),
b AS MATERIALIZED (
  SELECT p.*, h.seq AS hseq, h.balance AS hbal, COALESCE(g.seq, 0) AS gseq, COALESCE(g.balance, 0) AS gbal,
         (SELECT MAX(pos) FROM credit_entry) AS top, ${DRAW('p.account', 'p.now', 'p.amount')} AS alloc
  FROM p JOIN credit_entry AS h ON ${headJoin('h', 'p.account')}
  LEFT JOIN credit_entry AS g ON ${headJoin('g', 'p.dst')}
  WHERE ${SPEND_GUARD('h', OP)} AND COALESCE(g.balance, 0) + p.amount <= ${MAX_AMOUNT}
    AND (p.ikey IS NULL OR NOT EXISTS (SELECT 1 FROM credit_entry AS k WHERE k.account = p.account AND k.kind = 'transfer_out' AND k.idempotency_key = p.ikey))
),
pieces AS (
  SELECT j.key AS ord, json_extract(j.value, '$[1]') AS amt, l.priority AS pr, l.expires_at AS ex
  FROM b JOIN json_each(b.alloc) AS j JOIN credit_lot AS l ON l.id = json_extract(j.value, '$[0]')
  UNION ALL
  SELECT ${UNLOTTED_LAST}, b.amount - COALESCE((SELECT SUM(json_extract(x.value, '$[1]')) FROM json_each(b.alloc) AS x), 0), NULL, NULL FROM b
),
merged AS (SELECT MIN(ord) AS ord, SUM(amt) AS amt, pr, ex FROM pieces WHERE amt > 0 GROUP BY pr, ex),
arrivals AS (
  SELECT amt, pr, ex, ROW_NUMBER() OVER (ORDER BY ord) AS n, SUM(amt) OVER (ORDER BY ord ROWS UNBOUNDED PRECEDING) AS run
  FROM merged
)
INSERT INTO credit_entry (pos, ${ENTRY_COLUMNS})
SELECT b.top + 1, b.account, b.hseq + 1, 'transfer_out', -b.amount, b.amount, b.hbal - b.amount,
       b.reason, b.ikey, NULL, NULL, NULL, b.actor, b.metadata, NULL, NULL, b.now, b.alloc FROM b
UNION ALL
SELECT b.top + 1 + a.n, b.dst, b.gseq + a.n, 'transfer_in', a.amt, a.amt, b.gbal + a.run,
       b.reason, NULL, b.top + 1, NULL, NULL, b.actor, NULL, a.ex, a.pr, b.now, NULL FROM b JOIN arrivals AS a
${RETURNING_COMPUTED}, kind, amount, expires_at, priority, ${CAP_WARNINGS('debit')}`;

/** The rows a transfer wrote on `to`, by the leaving row's pos. Args: pos. */
export const ARRIVALS_OF = `SELECT * FROM credit_entry WHERE ref = ? AND kind = 'transfer_in' ORDER BY pos`;

/** The rows a keyed transfer wrote on `to`. Args: from, key. */
export const ARRIVALS_BY_KEY = `SELECT * FROM credit_entry
WHERE ref = (SELECT pos FROM credit_entry WHERE account = ? AND kind = 'transfer_out' AND idempotency_key = ?) AND kind = 'transfer_in'
ORDER BY pos`;
