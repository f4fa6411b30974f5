import { num, toEntry } from '../entry.js';
import { LedgerError } from '../errors.js';
import { ENTRY_POS, idArgs } from '../ids.js';
import { MAX_AMOUNT } from '../limits.js';
import type { Statement, Unit, UnitResult } from '../runner/index.js';
import { ENTRY_COLUMNS, headJoin, int, RETURNING_WITH_BALANCE, SNAPSHOT_OF_ENTRY } from '../sql.js';
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
  `${alias}.amount - COALESCE((SELECT SUM(r.amount) FROM credit_entry AS r WHERE r.ref = ${alias}.pos AND r.kind = 'refund'), 0)`;

/** One [lotId, amount] pair of an entry's `allocations`, from `json_each`. */
const PAIR_LOT = "json_extract(j.value, '$[0]')";
const PAIR_AMOUNT = "json_extract(j.value, '$[1]')";

// Partial refunds add up to at most the original: the bound is a SUM over the refunds of
// one entry (few rows, through credit_entry_ref), never over the account's history.
// Attribution (model, key) is copied from the debit so per-key spend nets out.
//
// The refund gives credits back to the lots the original drew from, computed in the same
// statement (the trigger applies them): the part of the original that came from the
// unlotted balance was drawn last, so it comes back first; then lots in reverse draw order,
// each up to what it gave and has not yet got back. A lot already past its expiry takes
// its share back and, being expired, stops counting at once (a sweep writes its `expire`).
const REFUND = `WITH p AS (SELECT ${ENTRY_POS} AS ref, ${int('amount')}, ? AS reason, ? AS ikey, ? AS actor, ? AS metadata, ${int('now')}),
o AS (SELECT e.pos, e.account, e.model, e.key_id, e.amount AS original, e.allocations, ${REMAINING('e')} AS remaining,
             COALESCE(p.amount, ${REMAINING('e')}) AS amt
      FROM credit_entry AS e JOIN p ON e.pos = p.ref WHERE e.kind IN (${refundable})),
prior AS (SELECT x.amount, x.allocations FROM credit_entry AS x JOIN o ON x.ref = o.pos AND x.kind = 'refund'),
back AS (SELECT ${PAIR_LOT} AS lot_id, -${PAIR_AMOUNT} AS amount FROM prior, json_each(prior.allocations) AS j),
drawn AS (SELECT ${PAIR_LOT} AS lot_id, j.key AS ord, ${PAIR_AMOUNT} AS amount FROM o, json_each(o.allocations) AS j),
da AS (SELECT d.lot_id, d.ord, d.amount - COALESCE((SELECT SUM(b.amount) FROM back AS b WHERE b.lot_id = d.lot_id), 0) AS room
       FROM drawn AS d),
t AS (SELECT o.amt - MIN(o.amt, MAX(0, (o.original - COALESCE((SELECT SUM(amount) FROM drawn), 0))
                                       - (COALESCE((SELECT SUM(amount) FROM prior), 0) - COALESCE((SELECT SUM(amount) FROM back), 0))))
             AS to_lots FROM o),
w AS (SELECT da.lot_id, da.room, SUM(da.room) OVER (ORDER BY da.ord DESC ROWS UNBOUNDED PRECEDING) - da.room AS before
      FROM da WHERE da.room > 0),
g AS (SELECT NULLIF(json_group_array(json_array(w.lot_id, -MIN(w.room, t.to_lots - w.before)) ORDER BY w.before), '[]') AS allocations
      FROM w JOIN t WHERE w.before < t.to_lots)
INSERT INTO credit_entry (${ENTRY_COLUMNS})
SELECT o.account, h.seq + 1, 'refund', o.amt, o.amt, h.balance + o.amt,
       p.reason, p.ikey, o.pos, o.model, o.key_id, p.actor, p.metadata, NULL, NULL, p.now, g.allocations
FROM p JOIN o JOIN g JOIN credit_entry AS h ON ${headJoin('h', 'o.account')}
WHERE o.amt >= 1 AND o.amt <= o.remaining AND h.balance + o.amt <= ${MAX_AMOUNT}
ON CONFLICT (account, kind, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
${RETURNING_WITH_BALANCE},
  (SELECT x.amount FROM credit_entry AS x WHERE x.pos = credit_entry.ref)
    - (SELECT COALESCE(SUM(r.amount), 0) FROM credit_entry AS r WHERE r.ref = credit_entry.ref AND r.kind = 'refund') AS refundable_after`;

const ORIGINAL = `SELECT e.pos, e.account, e.kind, e.amount, ${REMAINING('e')} AS remaining FROM credit_entry AS e WHERE e.pos = ${ENTRY_POS}`;
const BY_KEY = `SELECT * FROM credit_entry
WHERE account = (SELECT account FROM credit_entry WHERE pos = ${ENTRY_POS}) AND kind = 'refund' AND idempotency_key = ?`;

export function planRefund(ctx: Context, req: RefundRequest): Plan<RefundResult> {
  const key = req.idempotencyKey ?? null;
  const now = ctx.now();
  const target = idArgs(ctx.ids.parse(req.entryId));
  const unit: Unit = {
    primary: {
      sql: REFUND,
      args: [...target, req.amount ?? null, req.reason ?? null, key, req.actor ?? null, req.metadata ?? null, now],
    },
    explain: [
      { sql: ORIGINAL, args: target },
      { sql: BY_KEY, args: [...target, key] },
    ],
    // The balance a refund reports is read after it gave credits back to lots: one given
    // back to a lot already past expiry stops counting at once.
    after: [{ sql: SNAPSHOT_OF_ENTRY, args: [...target, now] }],
  };
  return {
    unit,
    decode: ({ rows, explain, after: state }: UnitResult): RefundResult => {
      const row = rows[0];
      if (row !== undefined) {
        const entry = toEntry(row, ctx.ids);
        return { outcome: 'refunded', entry, ...after(entry.account, state[0]?.[0]), refundable: num(row.refundable_after) };
      }
      const [originalRows, byKey] = explain;
      const snapshot = state[0];
      const o = originalRows?.[0];
      if (o === undefined) throw new LedgerError('not_found', `refund: no entry ${req.entryId}`, { entryId: req.entryId });
      const account = String(o.account);
      const original = byKey?.[0];
      if (original !== undefined) {
        const entry = toEntry(original, ctx.ids);
        // model and keyId are copied from the debit, not asked for: they are not compared.
        const ref = ctx.ids.format(num(o.pos));
        assertSameRequest('refund', entry, { ...fingerprintOf({ ...req, ref }), model: undefined, keyId: undefined });
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

export const refund = (ctx: Context, req: RefundRequest, app?: readonly Statement[]): Promise<RefundResult> =>
  runPlan(ctx, planRefund(ctx, req), app);
