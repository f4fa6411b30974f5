import { ENTRY_COLUMNS, headJoin, headOf, SELECT_HEAD, toEntry } from '../entry.js';
import { ACCOUNT_FLOOR } from '../limits.js';
import type { DebitResult } from '../types.js';
import { assertSameRequest, type Context, fingerprintOf } from './context.js';
import { SELECT_BY_KEY } from './grant.js';

export interface DebitRequest {
  account: string;
  amount: number;
  idempotencyKey?: string;
  reason?: string;
  model?: string;
  keyId?: string;
  actor?: string;
  metadata?: string;
}

// The covers guard lives in the WHERE: the row is appended only if the head balance,
// read under the same write lock, still covers the amount. No head row → nothing to spend.
const DEBIT = `INSERT INTO credit_entry (${ENTRY_COLUMNS})
SELECT p.id, p.account, h.seq + 1, 'debit', -p.amount, p.amount, h.balance - p.amount,
       p.reason, p.ikey, NULL, p.model, p.key_id, p.actor, p.metadata, p.now
FROM (SELECT ? AS id, ? AS account, ? AS amount, ? AS reason, ? AS ikey, ? AS model, ? AS key_id, ? AS actor,
             ? AS metadata, ? AS now) AS p
JOIN credit_entry AS h ON ${headJoin('h', 'p.account')}
WHERE h.balance - p.amount >= ${ACCOUNT_FLOOR}
ON CONFLICT (account, kind, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
RETURNING *`;

export async function debit(ctx: Context, req: DebitRequest): Promise<DebitResult> {
  const key = req.idempotencyKey ?? null;
  const insert = {
    sql: DEBIT,
    args: [
      ctx.newId(),
      req.account,
      req.amount,
      req.reason ?? null,
      key,
      req.model ?? null,
      req.keyId ?? null,
      req.actor ?? null,
      req.metadata ?? null,
      ctx.now(),
    ],
  };
  const head = { sql: SELECT_HEAD, args: [req.account] };
  const statements = key === null ? [insert, head] : [insert, { sql: SELECT_BY_KEY, args: [req.account, 'debit', key] }, head];
  const results = await ctx.runner.write({ fastPath: true, statements });
  const row = results[0]?.[0];
  if (row !== undefined) {
    const entry = toEntry(row);
    return { outcome: 'debited', entry, balance: entry.balance };
  }
  const current = headOf(results[results.length - 1]);
  const original = key === null ? undefined : results[1]?.[0];
  if (original !== undefined) {
    const entry = toEntry(original);
    assertSameRequest('debitOnceIfCovers', entry, fingerprintOf(req));
    return { outcome: 'replayed', entry, balance: current.balance };
  }
  const available = Math.max(0, current.balance - ACCOUNT_FLOOR);
  return { outcome: 'insufficient', balance: current.balance, available, requested: req.amount };
}
