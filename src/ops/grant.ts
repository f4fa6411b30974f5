import { entryFrom, toBalance, toEntry } from '../entry.js';
import { LedgerError } from '../errors.js';
import { MAX_AMOUNT, PRIORITY_DEFAULT } from '../limits.js';
import type { Statement, Unit, UnitResult } from '../runner/index.js';
import { ENTRY_COLUMNS, headJoin, int, RETURNING_COMPUTED, SELECT_BY_KEY, SNAPSHOT } from '../sql.js';
import type { GrantResult } from '../types.js';
import { assertSameRequest, type Context, fingerprintOf, type Plan, runPlan } from './context.js';

export interface GrantRequest {
  account: string;
  amount: number;
  idempotencyKey?: string;
  reason?: string;
  actor?: string;
  metadata?: string;
  expiresAt?: number;
  priority?: number;
}

// One statement: read the head, guard against overflow, append. A replayed key hits the
// partial unique index and inserts nothing. A grant with an expiry or a priority opens its
// lot through the trigger `credit_entry_opens_lot`, inside the same statement.
const GRANT = `INSERT INTO credit_entry (${ENTRY_COLUMNS})
SELECT p.account, COALESCE(h.seq, 0) + 1, 'grant', p.amount, p.amount, COALESCE(h.balance, 0) + p.amount,
       p.reason, p.ikey, NULL, NULL, NULL, p.actor, p.metadata, p.expires_at, p.priority, p.now, NULL
FROM (SELECT ? AS account, ${int('amount')}, ? AS reason, ? AS ikey, ? AS actor, ? AS metadata, ${int('expires_at')},
             ${int('priority')}, ${int('now')}) AS p
LEFT JOIN credit_entry AS h ON ${headJoin('h', 'p.account')}
WHERE COALESCE(h.balance, 0) + p.amount <= ${MAX_AMOUNT} AND (p.expires_at IS NULL OR p.expires_at > p.now)
ON CONFLICT (account, kind, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
${RETURNING_COMPUTED}`;

export function planGrant(ctx: Context, req: GrantRequest): Plan<GrantResult> {
  const key = req.idempotencyKey ?? null;
  const now = ctx.now();
  // A grant opens a lot when it expires or is drawn in a non-default order.
  const lotted = req.expiresAt !== undefined || (req.priority !== undefined && req.priority !== PRIORITY_DEFAULT);
  const unit: Unit = {
    primary: {
      sql: GRANT,
      args: [
        req.account,
        req.amount,
        req.reason ?? null,
        key,
        req.actor ?? null,
        req.metadata ?? null,
        req.expiresAt ?? null,
        lotted ? (req.priority ?? PRIORITY_DEFAULT) : null,
        now,
      ],
    },
    explain: [
      { sql: SELECT_BY_KEY, args: [req.account, 'grant', key] },
      { sql: SNAPSHOT, args: [req.account, now] },
    ],
  };
  return {
    unit,
    decode: ({ rows, explain }: UnitResult): GrantResult => {
      const row = rows[0];
      const priority = lotted ? (req.priority ?? PRIORITY_DEFAULT) : null;
      if (row !== undefined) {
        const entry = entryFrom(row, ctx.ids, {
          account: req.account,
          kind: 'grant',
          delta: req.amount,
          amount: req.amount,
          reason: req.reason ?? null,
          idempotencyKey: key,
          model: null,
          keyId: null,
          actor: req.actor ?? null,
          metadata: req.metadata ?? null,
          expiresAt: req.expiresAt ?? null,
          priority,
          createdAt: now,
        });
        return { outcome: 'granted', entry, ...after(req.account, row) };
      }
      const [byKey, snapshot] = explain;
      const original = byKey?.[0];
      if (original !== undefined) {
        const entry = toEntry(original, ctx.ids);
        assertSameRequest('grant', entry, {
          ...fingerprintOf(req),
          expiresAt: req.expiresAt ?? null,
          priority,
        });
        return { outcome: 'replayed', entry, ...after(req.account, snapshot?.[0]) };
      }
      // Checked after the replay lookup: retrying a grant whose expiry has since passed replays it.
      if (req.expiresAt !== undefined && req.expiresAt <= now) {
        throw new LedgerError('invalid_argument', `grant: expiresAt ${req.expiresAt} is not after now (${now})`, { field: 'expiresAt' });
      }
      throw new LedgerError('overflow', `grant: ${req.account} would exceed the largest balance (${MAX_AMOUNT})`, {
        account: req.account,
        amount: req.amount,
      });
    },
  };
}

export const grant = (ctx: Context, req: GrantRequest, app?: readonly Statement[]): Promise<GrantResult> =>
  runPlan(ctx, planGrant(ctx, req), app);

/** The `balance` / `available` pair every money result carries. */
export function after(account: string, row: Record<string, unknown> | undefined): { balance: number; available: number } {
  const b = toBalance(account, row);
  return { balance: b.balance, available: b.available };
}
