import { ENTRY_COLUMNS, headJoin, headOf, SELECT_HEAD, toEntry } from '../entry.js';
import { LedgerError } from '../errors.js';
import { MAX_AMOUNT } from '../limits.js';
import type { GrantResult } from '../types.js';
import { assertSameRequest, type Context, fingerprintOf } from './context.js';

export interface GrantRequest {
  account: string;
  amount: number;
  idempotencyKey?: string;
  reason?: string;
  actor?: string;
  metadata?: string;
}

// One statement: read the head, guard against overflow, append. A replayed key hits the
// partial unique index and inserts nothing.
const GRANT = `INSERT INTO credit_entry (${ENTRY_COLUMNS})
SELECT p.id, p.account, COALESCE(h.seq, 0) + 1, 'grant', p.amount, p.amount, COALESCE(h.balance, 0) + p.amount,
       p.reason, p.ikey, NULL, NULL, NULL, p.actor, p.metadata, p.now
FROM (SELECT ? AS id, ? AS account, ? AS amount, ? AS reason, ? AS ikey, ? AS actor, ? AS metadata, ? AS now) AS p
LEFT JOIN credit_entry AS h ON ${headJoin('h', 'p.account')}
WHERE COALESCE(h.balance, 0) + p.amount <= ${MAX_AMOUNT}
ON CONFLICT (account, kind, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
RETURNING *`;

export const SELECT_BY_KEY = 'SELECT * FROM credit_entry WHERE account = ? AND kind = ? AND idempotency_key = ?';

export async function grant(ctx: Context, req: GrantRequest): Promise<GrantResult> {
  const key = req.idempotencyKey ?? null;
  const [inserted, byKey, head] = await ctx.runner.write({
    fastPath: true,
    statements: [
      {
        sql: GRANT,
        args: [ctx.newId(), req.account, req.amount, req.reason ?? null, key, req.actor ?? null, req.metadata ?? null, ctx.now()],
      },
      { sql: SELECT_BY_KEY, args: [req.account, 'grant', key] },
      { sql: SELECT_HEAD, args: [req.account] },
    ],
  });
  const row = inserted?.[0];
  if (row !== undefined) {
    const entry = toEntry(row);
    return { outcome: 'granted', entry, balance: entry.balance };
  }
  const original = byKey?.[0];
  if (original !== undefined) {
    const entry = toEntry(original);
    assertSameRequest('grant', entry, fingerprintOf(req));
    return { outcome: 'replayed', entry, balance: headOf(head).balance };
  }
  throw new LedgerError('overflow', `grant: ${req.account} would exceed the largest balance (${MAX_AMOUNT})`, {
    account: req.account,
    balance: headOf(head).balance,
    amount: req.amount,
  });
}
