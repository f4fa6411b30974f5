import { num, toEntry } from '../entry.js';
import { LedgerError } from '../errors.js';
import { MAX_AMOUNT } from '../limits.js';
import type { Unit, UnitResult } from '../runner/index.js';
import { ENTRY_COLUMNS, headJoin, RETURNING_WITH_BALANCE, SNAPSHOT_OF_ENTRY } from '../sql.js';
import type { RefundResult } from '../types.js';
import { assertSameRequest, type Context, fingerprintOf, type Plan, runPlan } from './context.js';
import { after } from './grant.js';

export interface RefundRequest {
  entryId: string;
  amount?: number;
  idempotencyKey?: string;
  reason?: string;
  actor?: string;
  metadata?: string;
}

/** Kinds a refund may act on. Grants, adjustments and refunds are not purchases to return. */
export const REFUNDABLE_KINDS = ['debit', 'capture'] as const;
const refundable = REFUNDABLE_KINDS.map((k) => `'${k}'`).join(', ');

/** What is left to refund of an entry: its amount less every refund that references it. */
const REMAINING = (alias: string) =>
  `${alias}.amount - COALESCE((SELECT SUM(r.amount) FROM credit_entry AS r WHERE r.ref = ${alias}.id AND r.kind = 'refund'), 0)`;

// Partial refunds add up to at most the original: the bound is a SUM over the refunds of
// one entry (few rows, through credit_entry_ref), never over the account's history.
// Attribution (model, key) is copied from the debit so per-key spend nets out.
const REFUND = `WITH p AS (SELECT ? AS id, ? AS ref, ? AS amount, ? AS reason, ? AS ikey, ? AS actor, ? AS metadata, ? AS now),
o AS (SELECT e.id, e.account, e.model, e.key_id, ${REMAINING('e')} AS remaining, COALESCE(p.amount, ${REMAINING('e')}) AS amt
      FROM credit_entry AS e JOIN p ON e.id = p.ref WHERE e.kind IN (${refundable}))
INSERT INTO credit_entry (${ENTRY_COLUMNS})
SELECT p.id, o.account, h.seq + 1, 'refund', o.amt, o.amt, h.balance + o.amt,
       p.reason, p.ikey, o.id, o.model, o.key_id, p.actor, p.metadata, NULL, NULL, p.now
FROM p JOIN o JOIN credit_entry AS h ON ${headJoin('h', 'o.account')}
WHERE o.amt >= 1 AND o.amt <= o.remaining AND h.balance + o.amt <= ${MAX_AMOUNT}
ON CONFLICT (account, kind, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
${RETURNING_WITH_BALANCE},
  (SELECT x.amount FROM credit_entry AS x WHERE x.id = credit_entry.ref)
    - (SELECT COALESCE(SUM(r.amount), 0) FROM credit_entry AS r WHERE r.ref = credit_entry.ref AND r.kind = 'refund') AS refundable_after,
  EXISTS (SELECT 1 FROM credit_allocation AS a WHERE a.entry_id = credit_entry.ref) AS drew_lots`;

/**
 * Dependent: give the refund `?` back to the lots the original drew from. The part of the
 * original that came from the unlotted balance was drawn last, so it comes back first;
 * then lots in reverse draw order, each up to what it gave and has not yet got back. A
 * lot already past its expiry takes its share back and, being expired, stops counting at
 * once (a sweep writes its `expire` row).
 */
const RETURN_TO_LOTS = `WITH r AS (SELECT id, ref, account, amount FROM credit_entry WHERE id = ?),
prior AS (SELECT x.id FROM credit_entry AS x JOIN r ON x.ref = r.ref AND x.kind = 'refund' AND x.id <> r.id),
da AS (SELECT a.lot_id, a.ord,
              a.amount + COALESCE((SELECT SUM(b.amount) FROM credit_allocation AS b
                                   WHERE b.lot_id = a.lot_id AND b.entry_id IN (SELECT id FROM prior)), 0) AS room
       FROM credit_allocation AS a JOIN r ON a.entry_id = r.ref),
u AS (SELECT d.amount - COALESCE((SELECT SUM(a.amount) FROM credit_allocation AS a WHERE a.entry_id = d.id), 0) AS unlotted,
             COALESCE((SELECT SUM(x.amount) FROM credit_entry AS x WHERE x.id IN (SELECT id FROM prior)), 0) AS refunded_before,
             COALESCE((SELECT -SUM(b.amount) FROM credit_allocation AS b WHERE b.entry_id IN (SELECT id FROM prior)), 0) AS lots_back
      FROM credit_entry AS d JOIN r ON d.id = r.ref),
t AS (SELECT r.amount - MIN(r.amount, MAX(0, u.unlotted - (u.refunded_before - u.lots_back))) AS to_lots FROM r JOIN u),
w AS (SELECT da.lot_id, da.room, SUM(da.room) OVER (ORDER BY da.ord DESC ROWS UNBOUNDED PRECEDING) - da.room AS before
      FROM da WHERE da.room > 0)
INSERT INTO credit_allocation (entry_id, lot_id, account, amount, ord)
SELECT r.id, w.lot_id, r.account, -MIN(w.room, t.to_lots - w.before), ROW_NUMBER() OVER (ORDER BY w.before)
FROM r JOIN t JOIN w WHERE w.before < t.to_lots`;

const ORIGINAL = `SELECT e.id, e.account, e.kind, e.amount, ${REMAINING('e')} AS remaining FROM credit_entry AS e WHERE e.id = ?`;
const BY_KEY = `SELECT * FROM credit_entry WHERE account = (SELECT account FROM credit_entry WHERE id = ?) AND kind = 'refund' AND idempotency_key = ?`;

export function planRefund(ctx: Context, req: RefundRequest): Plan<RefundResult> {
  const key = req.idempotencyKey ?? null;
  const now = ctx.now();
  const id = ctx.newId();
  const unit: Unit = {
    primary: {
      sql: REFUND,
      args: [id, req.entryId, req.amount ?? null, req.reason ?? null, key, req.actor ?? null, req.metadata ?? null, now],
    },
    // The allocation trigger adds what is given back to each lot's `remaining`.
    dependents: [{ sql: RETURN_TO_LOTS, args: [id], skippable: true }],
    skipDependents: (row) => !row.drew_lots,
    explain: [
      { sql: ORIGINAL, args: [req.entryId] },
      { sql: BY_KEY, args: [req.entryId, key] },
    ],
    // The balance a refund reports is read after it gave credits back to lots: one given
    // back to a lot already past expiry stops counting at once.
    after: [{ sql: SNAPSHOT_OF_ENTRY, args: [req.entryId, now] }],
  };
  return {
    unit,
    decode: ({ rows, explain, after: state }: UnitResult): RefundResult => {
      const row = rows[0];
      if (row !== undefined) {
        const entry = toEntry(row);
        return { outcome: 'refunded', entry, ...after(entry.account, state[0]?.[0]), refundable: num(row.refundable_after) };
      }
      const [originalRows, byKey] = explain;
      const snapshot = state[0];
      const o = originalRows?.[0];
      if (o === undefined) throw new LedgerError('not_found', `refund: no entry ${req.entryId}`, { entryId: req.entryId });
      const account = String(o.account);
      const original = byKey?.[0];
      if (original !== undefined) {
        const entry = toEntry(original);
        // model and keyId are copied from the debit, not asked for: they are not compared.
        assertSameRequest('refund', entry, { ...fingerprintOf({ ...req, ref: req.entryId }), model: undefined, keyId: undefined });
        return { outcome: 'replayed', entry, ...after(account, snapshot?.[0]), refundable: num(o.remaining) };
      }
      if (!(REFUNDABLE_KINDS as readonly string[]).includes(String(o.kind))) {
        throw new LedgerError(
          'not_refundable',
          `refund: entry ${req.entryId} is a ${String(o.kind)}; only ${REFUNDABLE_KINDS.join(' and ')} entries can be refunded`,
          { entryId: req.entryId, kind: o.kind },
        );
      }
      const remaining = num(o.remaining);
      if (remaining === 0 || (req.amount ?? remaining) > remaining) {
        throw new LedgerError(
          'exceeds_refundable',
          `refund: ${req.amount ?? 'the rest'} exceeds what is left to refund of ${req.entryId} (${remaining})`,
          { entryId: req.entryId, requested: req.amount ?? null, refundable: remaining },
        );
      }
      throw new LedgerError('overflow', `refund: ${account} would exceed the largest balance (${MAX_AMOUNT})`, { entryId: req.entryId });
    },
  };
}

export const refund = (ctx: Context, req: RefundRequest): Promise<RefundResult> => runPlan(ctx, planRefund(ctx, req));
