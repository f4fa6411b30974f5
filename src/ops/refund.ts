import { ENTRY_COLUMNS, headJoin, headOf, num, toEntry } from '../entry.js';
import { LedgerError } from '../errors.js';
import { MAX_AMOUNT } from '../limits.js';
import type { RefundResult } from '../types.js';
import { assertSameRequest, type Context, fingerprintOf } from './context.js';

export interface RefundRequest {
  entryId: string;
  amount?: number;
  idempotencyKey?: string;
  reason?: string;
  actor?: string;
  metadata?: string;
}

/** Kinds a refund may act on. Grants, adjustments and refunds are not purchases to return. */
export const REFUNDABLE_KINDS = ['debit'] as const;
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
       p.reason, p.ikey, o.id, o.model, o.key_id, p.actor, p.metadata, p.now
FROM p JOIN o JOIN credit_entry AS h ON ${headJoin('h', 'o.account')}
WHERE o.amt >= 1 AND o.amt <= o.remaining AND h.balance + o.amt <= ${MAX_AMOUNT}
ON CONFLICT (account, kind, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
RETURNING *`;

const ORIGINAL = `SELECT e.id, e.account, e.kind, e.amount, ${REMAINING('e')} AS remaining FROM credit_entry AS e WHERE e.id = ?`;
const BY_KEY = `SELECT * FROM credit_entry WHERE account = (SELECT account FROM credit_entry WHERE id = ?) AND kind = 'refund' AND idempotency_key = ?`;
const HEAD =
  'SELECT seq, balance FROM credit_entry WHERE account = (SELECT account FROM credit_entry WHERE id = ?) ORDER BY seq DESC LIMIT 1';

export async function refund(ctx: Context, req: RefundRequest): Promise<RefundResult> {
  const key = req.idempotencyKey ?? null;
  // Not the fast path: the post-refund `remaining` is reported from the same atomic unit.
  const [inserted, originalRows, byKey, head] = await ctx.runner.write({
    statements: [
      {
        sql: REFUND,
        args: [ctx.newId(), req.entryId, req.amount ?? null, req.reason ?? null, key, req.actor ?? null, req.metadata ?? null, ctx.now()],
      },
      { sql: ORIGINAL, args: [req.entryId] },
      { sql: BY_KEY, args: [req.entryId, key] },
      { sql: HEAD, args: [req.entryId] },
    ],
  });
  const o = originalRows?.[0];
  const row = inserted?.[0];
  if (row !== undefined) {
    const entry = toEntry(row);
    return { outcome: 'refunded', entry, balance: entry.balance, refundable: num(o?.remaining) };
  }
  if (o === undefined) throw new LedgerError('not_found', `refund: no entry ${req.entryId}`, { entryId: req.entryId });
  const original = byKey?.[0];
  if (original !== undefined) {
    const entry = toEntry(original);
    // model and keyId are copied from the debit, not asked for: they are not compared.
    assertSameRequest('refund', entry, { ...fingerprintOf({ ...req, ref: req.entryId }), model: undefined, keyId: undefined });
    return { outcome: 'replayed', entry, balance: headOf(head).balance, refundable: num(o.remaining) };
  }
  if (!(REFUNDABLE_KINDS as readonly string[]).includes(String(o.kind))) {
    throw new LedgerError(
      'not_refundable',
      `refund: entry ${req.entryId} is a ${String(o.kind)}; only ${REFUNDABLE_KINDS.join(', ')} entries can be refunded`,
      {
        entryId: req.entryId,
        kind: o.kind,
      },
    );
  }
  const remaining = num(o.remaining);
  if (remaining === 0 || (req.amount ?? remaining) > remaining) {
    throw new LedgerError(
      'exceeds_refundable',
      `refund: ${req.amount ?? 'the rest'} exceeds what is left to refund of ${req.entryId} (${remaining})`,
      {
        entryId: req.entryId,
        requested: req.amount ?? null,
        refundable: remaining,
      },
    );
  }
  throw new LedgerError('overflow', `refund: ${String(o.account)} would exceed the largest balance (${MAX_AMOUNT})`, {
    entryId: req.entryId,
  });
}
