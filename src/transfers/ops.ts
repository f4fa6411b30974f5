/**
 * `ledger.transfer`: the plan of one statement (src/transfers/sql.ts) and how its result reads.
 * Guarded on `from` exactly like a debit (covers, deny caps, the team role of `actor`), and on
 * `to` against overflow; idempotent in `from`'s transfer key scope.
 */
import { coverableOf, explainRefusal, warningsOf } from '../caps/decode.js';
import { entryFrom, num, toEntry } from '../entry.js';
import { LedgerError } from '../errors.js';
import { MAX_AMOUNT } from '../limits.js';
import { assertSameRequest, type Context, fingerprintOf, type Plan, runPlan } from '../ops/context.js';
import { SPEND_SNAPSHOT } from '../ops/debit.js';
import { after } from '../ops/grant.js';
import { settleAccount } from '../plans/settle.js';
import type { Row, Statement, Unit, UnitResult } from '../runner/index.js';
import { SELECT_BY_KEY, SNAPSHOT } from '../sql.js';
import { ARRIVALS_BY_KEY, TRANSFER } from './sql.js';
import type { TransferInput, TransferResult } from './types.js';

/** The input as validation leaves it: `metadata` is canonical JSON text. */
export type TransferRequest = Omit<TransferInput, 'metadata'> & { metadata?: string };

export function planTransfer(ctx: Context, req: TransferRequest): Plan<TransferResult> {
  const key = req.idempotencyKey ?? null;
  const now = ctx.now();
  const explain: Statement[] = [
    { sql: SPEND_SNAPSHOT, args: [req.from, now, null, null, req.actor ?? null, req.amount] },
    { sql: SNAPSHOT, args: [req.to, now] },
  ];
  if (key !== null) {
    explain.push({ sql: SELECT_BY_KEY, args: [req.from, 'transfer_out', key] }, { sql: ARRIVALS_BY_KEY, args: [req.from, key] });
  }
  const unit: Unit = {
    primary: {
      sql: TRANSFER,
      args: [req.from, req.to, req.amount, req.reason ?? null, key, req.actor ?? null, req.metadata ?? null, now],
    },
    explain,
    settle: settleAccount(req.from, now),
  };
  const reason = req.reason ?? null;
  const actor = req.actor ?? null;
  return {
    unit,
    decode: ({ rows, explain: why }: UnitResult): TransferResult => {
      if (rows.length > 0) {
        // RETURNING's order is unspecified: the leaving row has the lowest pos.
        const sorted = [...rows].sort((a, b) => num(a.pos) - num(b.pos));
        const [leaving, ...arriving] = sorted as [Row, ...Row[]];
        const last = arriving[arriving.length - 1];
        if (String(leaving.kind) !== 'transfer_out' || last === undefined) {
          throw new LedgerError('internal', `transfer: the statement wrote ${rows.length} rows of unexpected kinds`);
        }
        const out = entryFrom(leaving, ctx.ids, {
          reason,
          model: null,
          keyId: null,
          actor,
          createdAt: now,
          account: req.from,
          kind: 'transfer_out',
          delta: -req.amount,
          amount: req.amount,
          idempotencyKey: key,
          metadata: req.metadata ?? null,
        });
        const arrived = arriving.map((r) =>
          entryFrom(r, ctx.ids, {
            reason,
            model: null,
            keyId: null,
            actor,
            createdAt: now,
            account: req.to,
            kind: 'transfer_in',
            delta: num(r.amount),
            amount: num(r.amount),
            idempotencyKey: null,
            metadata: null,
            ref: out.id,
            expiresAt: r.expires_at === null || r.expires_at === undefined ? null : num(r.expires_at),
            priority: r.priority === null || r.priority === undefined ? null : num(r.priority),
          }),
        );
        return {
          outcome: 'transferred',
          out,
          in: arrived,
          ...after(req.from, leaving),
          to: after(req.to, last),
          ...warningsOf(leaving, req.from, now, ctx.ids),
        };
      }
      const [fromState, toState, byKey, arrivals] = why;
      const original = byKey?.[0];
      if (original !== undefined) {
        const out = toEntry(original, ctx.ids);
        const arrived = (arrivals ?? []).map((r) => toEntry(r, ctx.ids));
        assertSameRequest('transfer', out, fingerprintOf(req));
        const to = arrived[0]?.account;
        if (to !== req.to) {
          throw new LedgerError(
            'idempotency_conflict',
            `transfer: idempotency key "${key}" was already used on ${req.from} for a transfer to ${to ?? 'another account'}`,
            { originalEntryId: out.id, fields: ['to'] },
          );
        }
        return { outcome: 'replayed', out, in: arrived, ...after(req.from, fromState?.[0]), to: after(req.to, toState?.[0]) };
      }
      const state = fromState?.[0];
      const refusal = explainRefusal(req.from, state, req.amount, coverableOf(state), now, ctx.ids);
      const target = num(toState?.[0]?.balance);
      if (refusal.outcome === 'insufficient' && coverableOf(state) >= req.amount && target + req.amount > MAX_AMOUNT) {
        throw new LedgerError('overflow', `transfer: ${req.to}'s balance ${target} + ${req.amount} would exceed ${MAX_AMOUNT}`, {
          account: req.to,
        });
      }
      return refusal;
    },
  };
}

export const transfer = (ctx: Context, req: TransferRequest, app?: readonly Statement[]): Promise<TransferResult> =>
  runPlan(ctx, planTransfer(ctx, req), app);
