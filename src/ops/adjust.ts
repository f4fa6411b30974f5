import { ENTRY_COLUMNS, headJoin, headOf, SELECT_HEAD, toEntry } from '../entry.js';
import { LedgerError } from '../errors.js';
import { ACCOUNT_FLOOR, MAX_AMOUNT } from '../limits.js';
import type { AdjustResult } from '../types.js';
import { assertSameRequest, type Context, fingerprintOf } from './context.js';
import { SELECT_BY_KEY } from './grant.js';

export interface AdjustRequest {
  account: string;
  delta: number;
  reason: string;
  idempotencyKey?: string;
  actor?: string;
  metadata?: string;
}

// A signed operator correction. It is held to the same floor as a debit: a correction
// that would take the balance below zero is 'insufficient', never a silent overdraft.
const ADJUST = `INSERT INTO credit_entry (${ENTRY_COLUMNS})
SELECT p.id, p.account, COALESCE(h.seq, 0) + 1, 'adjust', p.delta, ABS(p.delta), COALESCE(h.balance, 0) + p.delta,
       p.reason, p.ikey, NULL, NULL, NULL, p.actor, p.metadata, p.now
FROM (SELECT ? AS id, ? AS account, ? AS delta, ? AS reason, ? AS ikey, ? AS actor, ? AS metadata, ? AS now) AS p
LEFT JOIN credit_entry AS h ON ${headJoin('h', 'p.account')}
WHERE COALESCE(h.balance, 0) + p.delta BETWEEN ${ACCOUNT_FLOOR} AND ${MAX_AMOUNT}
ON CONFLICT (account, kind, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
RETURNING *`;

export async function adjust(ctx: Context, req: AdjustRequest): Promise<AdjustResult> {
  const key = req.idempotencyKey ?? null;
  const [inserted, byKey, head] = await ctx.runner.write({
    fastPath: true,
    statements: [
      {
        sql: ADJUST,
        args: [ctx.newId(), req.account, req.delta, req.reason, key, req.actor ?? null, req.metadata ?? null, ctx.now()],
      },
      { sql: SELECT_BY_KEY, args: [req.account, 'adjust', key] },
      { sql: SELECT_HEAD, args: [req.account] },
    ],
  });
  const row = inserted?.[0];
  if (row !== undefined) {
    const entry = toEntry(row);
    return { outcome: 'adjusted', entry, balance: entry.balance };
  }
  const current = headOf(head);
  const original = byKey?.[0];
  if (original !== undefined) {
    const entry = toEntry(original);
    if (entry.delta !== req.delta) {
      throw new LedgerError(
        'idempotency_conflict',
        `adjust: idempotency key "${key}" was already used on ${req.account} with a different delta`,
        {
          originalEntryId: entry.id,
          fields: ['delta'],
        },
      );
    }
    assertSameRequest('adjust', entry, fingerprintOf(req));
    return { outcome: 'replayed', entry, balance: current.balance };
  }
  if (req.delta > 0) {
    throw new LedgerError('overflow', `adjust: ${req.account} would exceed the largest balance (${MAX_AMOUNT})`, { account: req.account });
  }
  return {
    outcome: 'insufficient',
    balance: current.balance,
    available: Math.max(0, current.balance - ACCOUNT_FLOOR),
    requested: -req.delta,
  };
}
