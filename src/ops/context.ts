import { LedgerError } from '../errors.js';
import type { Ids } from '../ids.js';
import type { Runner, Statement, Unit, UnitResult } from '../runner/index.js';
import type { Entry } from '../types.js';

/** What every operation needs: where to run, what time it is, how rows are named. */
export interface Context {
  readonly runner: Runner;
  readonly now: () => number;
  readonly ids: Ids;
}

/** Fields of a request that must match the original for a replay to be a replay. */
export type Fingerprint = Partial<Pick<Entry, 'amount' | 'ref' | 'reason' | 'model' | 'keyId' | 'actor' | 'expiresAt' | 'priority'>> & {
  metadata?: string | null;
  /** Holds: the lifetime asked for, compared with the original's expiry − creation. */
  ttlMs?: number;
};

/**
 * A replay with identical parameters returns the original; anything else is a conflict
 * (Stripe and TigerBeetle semantics). `undefined` in the request means "not given":
 * a refund of "the rest" matches whatever amount the original refunded.
 */
export function assertSameRequest(operation: string, original: Entry, request: Fingerprint): void {
  const differing: string[] = [];
  const cmp = (field: keyof Fingerprint, stored: unknown) => {
    const asked = request[field];
    if (asked === undefined) return;
    if ((asked ?? null) !== (stored ?? null)) differing.push(field);
  };
  cmp('amount', original.amount);
  cmp('ref', original.ref);
  cmp('reason', original.reason);
  cmp('model', original.model);
  cmp('keyId', original.keyId);
  cmp('actor', original.actor);
  cmp('expiresAt', original.expiresAt);
  cmp('priority', original.priority);
  cmp('metadata', original.metadata === null ? null : JSON.stringify(original.metadata));
  if (original.kind === 'hold') cmp('ttlMs', original.expiresAt === null ? null : original.expiresAt - original.createdAt);
  if (differing.length > 0) {
    throw new LedgerError(
      'idempotency_conflict',
      `${operation}: idempotency key "${original.idempotencyKey}" was already used on ${original.account} with different ${differing.join(', ')}`,
      { originalEntryId: original.id, fields: differing },
    );
  }
}

/**
 * The request as it would be stored, for the replay comparison. Optional fields that
 * were not given are compared as "absent" (null), since the original stored null too.
 */
export function fingerprintOf(req: {
  amount?: number;
  ref?: string;
  reason?: string;
  model?: string;
  keyId?: string;
  actor?: string;
  metadata?: string;
}): Fingerprint {
  return {
    amount: req.amount,
    ref: req.ref,
    reason: req.reason ?? null,
    model: req.model ?? null,
    keyId: req.keyId ?? null,
    actor: req.actor ?? null,
    metadata: req.metadata ?? null,
  };
}

/**
 * What a family adds to a spending statement it reuses (a charge's debit or capture): a
 * condition ANDed into the statement's WHERE, its args bound after the statement's own; a read
 * appended last to the unit's explain reads; and its own replay comparison with the original
 * entry (it throws `idempotency_conflict`), instead of the operation's.
 */
export interface Extension {
  readonly guard?: Statement;
  readonly explain?: Statement;
  readonly sameRequest?: (original: Entry) => void;
}

/**
 * The primary statement and explain reads of a unit, with an extension's additions: its guard
 * ANDed in where `sql` puts `where` (one SQL text per guard, memoized in `cache`), its args
 * bound after the statement's own, its explain read last.
 */
export function extended(
  sql: (where: string) => string,
  cache: Map<string, string>,
  args: unknown[],
  explain: Statement[],
  extension?: Extension,
): Pick<Unit, 'primary' | 'explain'> {
  const where = extension?.guard === undefined ? '' : ` AND ${extension.guard.sql}`;
  let text = cache.get(where);
  if (text === undefined) {
    text = sql(where);
    cache.set(where, text);
  }
  return {
    primary: { sql: text, args: extension?.guard === undefined ? args : [...args, ...extension.guard.args] },
    explain: extension?.explain === undefined ? explain : [...explain, extension.explain],
  };
}

/**
 * An operation, computed up front: the atomic unit to send, and how to read its result.
 * Single calls run one plan; `ledger.batch()` runs many in one unit.
 */
export interface Plan<R> {
  readonly unit: Unit;
  readonly decode: (result: UnitResult) => R;
}

/** Runs a plan as one atomic unit, with the app's own statements (`with`) when given. */
export async function runPlan<R>(ctx: Context, plan: Plan<R>, app?: readonly Statement[]): Promise<R> {
  return plan.decode(await ctx.runner.write(app === undefined ? plan.unit : { ...plan.unit, with: app }));
}
