import { toEntry } from '../entry.js';
import { LedgerError } from '../errors.js';
import { MAX_AMOUNT } from '../limits.js';
import { NOT_DUE } from '../plans/guard.js';
import { settleAccount } from '../plans/settle.js';
import type { Statement, Unit, UnitResult } from '../runner/index.js';
import { COVERS, DRAW, ENTRY_COLUMNS, headJoin, int, RETURNING_WITH_BALANCE, SELECT_BY_KEY, SNAPSHOT } from '../sql.js';
import type { AdjustResult } from '../types.js';
import { assertSameRequest, type Context, fingerprintOf, type Plan, runPlan } from './context.js';
import { after } from './grant.js';

export interface AdjustRequest {
  account: string;
  delta: number;
  reason: string;
  idempotencyKey?: string;
  actor?: string;
  metadata?: string;
}

// A signed operator correction. A negative one is held to the same covers guard as a
// debit and draws lots the same way (so lots never hold more than the balance); one that
// would take the account below its floor is 'insufficient', never a silent overdraft.
const ADJUST = `INSERT INTO credit_entry (${ENTRY_COLUMNS})
SELECT p.account, COALESCE(h.seq, 0) + 1, 'adjust', p.delta, ABS(p.delta), COALESCE(h.balance, 0) + p.delta,
       p.reason, p.ikey, NULL, NULL, NULL, p.actor, p.metadata, NULL, NULL, p.now,
       CASE WHEN p.delta < 0 THEN ${DRAW('p.account', 'p.now', '-p.delta')} END
FROM (SELECT ? AS account, ${int('delta')}, ? AS reason, ? AS ikey, ? AS actor, ? AS metadata, ${int('now')}) AS p
LEFT JOIN credit_entry AS h ON ${headJoin('h', 'p.account')}
WHERE CASE WHEN p.delta > 0 THEN COALESCE(h.balance, 0) + p.delta <= ${MAX_AMOUNT}
           ELSE h.seq IS NOT NULL AND ${NOT_DUE('p.account', 'p.now')} AND ${COVERS('h', 'p.account', 'p.now', '-p.delta')} END
ON CONFLICT (account, kind, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
${RETURNING_WITH_BALANCE}`;

export function planAdjust(ctx: Context, req: AdjustRequest): Plan<AdjustResult> {
  const key = req.idempotencyKey ?? null;
  const now = ctx.now();
  const unit: Unit = {
    primary: { sql: ADJUST, args: [req.account, req.delta, req.reason, key, req.actor ?? null, req.metadata ?? null, now] },
    explain: [
      { sql: SELECT_BY_KEY, args: [req.account, 'adjust', key] },
      { sql: SNAPSHOT, args: [req.account, now] },
    ],
    // A negative adjustment draws lots like a debit: a due allowance is written first.
    ...(req.delta < 0 ? { settle: settleAccount(req.account, now) } : {}),
  };
  return {
    unit,
    decode: ({ rows, explain }: UnitResult): AdjustResult => {
      const row = rows[0];
      if (row !== undefined) return { outcome: 'adjusted', entry: toEntry(row, ctx.ids), ...after(req.account, row) };
      const [byKey, snapshot] = explain;
      const original = byKey?.[0];
      if (original !== undefined) {
        const entry = toEntry(original, ctx.ids);
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
        return { outcome: 'replayed', entry, ...after(req.account, snapshot?.[0]) };
      }
      if (req.delta > 0) {
        throw new LedgerError('overflow', `adjust: ${req.account} would exceed the largest balance (${MAX_AMOUNT})`, {
          account: req.account,
        });
      }
      return { outcome: 'insufficient', ...after(req.account, snapshot?.[0]), requested: -req.delta };
    },
  };
}

export const adjust = (ctx: Context, req: AdjustRequest, app?: readonly Statement[]): Promise<AdjustResult> =>
  runPlan(ctx, planAdjust(ctx, req), app);
