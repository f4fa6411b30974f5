/**
 * `ledger.plans`: each call is one atomic unit — a conditional INSERT of a config row
 * (src/plans/sql.ts) whose triggers keep the projections, with the account's settle
 * statements first (a pending change, a due allowance) and, after a subscribe or a change,
 * again after it, so the new terms' first allowance is written in the same unit.
 */
import { num, toEntry } from '../entry.js';
import { LedgerError } from '../errors.js';
import type { Context } from '../ops/context.js';
import type { Row, Statement } from '../runner/index.js';
import type { EntryKind, PlanPeriod } from '../schema.js';
import { SELECT_BY_KEY } from '../sql.js';
import type { Entry } from '../types.js';
import { canonicalJson } from '../validate.js';
import { LAST_PERIOD_TIME, periodAt } from './period.js';
import { settleAccount, settleForRead, settleWrites } from './settle.js';
import {
  ALLOWANCE_KEY,
  PLAN_CANCEL,
  PLAN_CHANGE,
  PLAN_DEFINE,
  PLAN_GET,
  PLAN_LIST,
  PLAN_LOG_PREFIX,
  PLAN_SUBSCRIBE,
  ROLLOVER_KEY,
  SUBSCRIPTION_ROW,
} from './sql.js';
import type {
  CancelInput,
  CancelResult,
  ChangePlanInput,
  ChangePlanResult,
  DefinePlanInput,
  DefinePlanResult,
  FeatureCheck,
  FeatureValue,
  Plan,
  SubscribeInput,
  SubscribeResult,
  Subscription,
} from './types.js';

/** The ledger clock's now, refused where periods can no longer be computed. */
function planNow(ctx: Context, op: string): number {
  const now = ctx.now();
  if (now > LAST_PERIOD_TIME) {
    throw new LedgerError('invalid_argument', `${op}: the ledger clock (${now}) is past the year 9997, where periods cannot be computed`);
  }
  return now;
}

export function toPlan(r: Row, ctx: Context): Plan {
  const amount = num(r.allowance);
  const rolloverMax = num(r.rollover_max);
  return {
    id: String(r.id),
    version: num(r.version),
    name: r.name === null || r.name === undefined ? null : String(r.name),
    allowance: amount > 0 ? { amount, every: r.every as PlanPeriod, rollover: rolloverMax > 0 ? { max: rolloverMax } : null } : null,
    features: featuresOf(r.definition),
    definedAt: num(r.defined_at),
    entryId: ctx.ids.format(num(r.defined_by)),
  };
}

/**
 * A version's features, from its definition exactly as the `plan_define` row carries it (the
 * `features` column is SQLite's rendering of it, which may round a number's last digits on
 * older SQLite builds: measured on libSQL under the input fuzz).
 */
const featuresOf = (definition: unknown): Record<string, FeatureValue> =>
  ((JSON.parse(String(definition ?? '{}')) as { features?: Record<string, FeatureValue> }).features ?? {}) as Record<string, FeatureValue>;

/** The definition as the `plan_define` row stores it: canonical JSON, every key present. */
export function definitionOf(input: DefinePlanInput): string {
  const a = input.allowance;
  return canonicalJson({
    allowance:
      a === undefined ? null : { amount: a.amount, every: a.every, rollover: a.rollover === undefined ? null : { max: a.rollover.max } },
    features: input.features ?? {},
    name: input.name ?? null,
  });
}

export async function definePlan(ctx: Context, input: DefinePlanInput): Promise<DefinePlanResult> {
  const now = ctx.now();
  const account = `${PLAN_LOG_PREFIX}${input.id}`;
  const definition = definitionOf(input);
  const result = await ctx.runner.write({
    primary: { sql: PLAN_DEFINE, args: [account, definition, input.reason ?? null, input.actor ?? null, now] },
    after: [{ sql: PLAN_GET, args: [input.id, null] }],
  });
  const stored = result.after[0]?.[0];
  if (stored === undefined)
    throw new LedgerError('internal', `plans.define: plan ${input.id} has no version after the write (run rebuild())`);
  const plan = toPlan(stored, ctx);
  const row = result.rows[0];
  if (row === undefined) return { outcome: 'replayed', plan };
  return { outcome: 'defined', plan, entry: toEntry(row, ctx.ids) };
}

export async function getPlan(ctx: Context, id: string, version?: number): Promise<Plan | null> {
  const [rows = []] = await ctx.runner.read([{ sql: PLAN_GET, args: [id, version ?? null] }]);
  return rows[0] === undefined ? null : toPlan(rows[0], ctx);
}

export async function listPlans(ctx: Context): Promise<Plan[]> {
  const [rows = []] = await ctx.runner.read([{ sql: PLAN_LIST, args: [] }]);
  return rows.map((r) => toPlan(r, ctx));
}

// --- Subscriptions ----------------------------------------------------------------------------

/** Reads that describe an account's subscription: the row, and its current allowance lots. */
const LOTS_OF_KEYS = `SELECT e.reason, e.amount, lt.remaining, lt.expires_at FROM credit_entry AS e JOIN credit_lot AS lt ON lt.id = e.pos
WHERE e.account = ? AND e.kind = 'grant' AND e.idempotency_key IN (?, ?)`;

async function readSubscription(ctx: Context, account: string, now: number, settled = false): Promise<Subscription | null> {
  const [[row] = []] = await ctx.runner.read([{ sql: SUBSCRIPTION_ROW, args: [account] }]);
  if (row === undefined) return null;
  // Settled once at this `now`: that moves due_at past it (or clears it), so read again at the
  // same time, once — never a loop that chases the clock.
  if (!settled && row.due_at !== null && num(row.due_at) <= now) {
    await settleForRead(ctx, account, 1, now);
    return readSubscription(ctx, account, now, true);
  }
  return describe(ctx, row, now);
}

async function describe(ctx: Context, row: Row, now: number): Promise<Subscription> {
  const account = String(row.account);
  const cancelAt = row.cancel_at === null ? null : num(row.cancel_at);
  const status = cancelAt === null ? 'active' : cancelAt <= now ? 'canceled' : 'canceling';
  const every = (row.every ?? 'month') as PlanPeriod;
  const period = status === 'canceled' ? null : periodAt(every, num(row.anchor), now);
  let allowance: Subscription['allowance'] = null;
  const amount = num(row.allowance);
  if (period !== null && amount > 0) {
    const terms = num(row.terms_pos);
    const [lots = []] = await ctx.runner.read([
      { sql: LOTS_OF_KEYS, args: [account, `${ALLOWANCE_KEY}${terms}:${period.start}`, `${ROLLOVER_KEY}${terms}:${period.start}`] },
    ]);
    const live = (r: Row) => (r.expires_at !== null && num(r.expires_at) > now ? num(r.remaining) : 0);
    const granted = lots.find((r) => r.reason === 'allowance');
    const rolled = lots.find((r) => r.reason === 'rollover');
    allowance = {
      amount: granted === undefined ? 0 : num(granted.amount),
      remaining: (granted === undefined ? 0 : live(granted)) + (rolled === undefined ? 0 : live(rolled)),
      rollover: rolled === undefined ? 0 : num(rolled.amount),
      resetsAt: period.end,
    };
  }
  return {
    account,
    planId: String(row.plan_id),
    version: num(row.version),
    status,
    anchor: num(row.anchor),
    since: num(row.since),
    period,
    allowance,
    pendingChange:
      row.next_plan_id === null ? null : { planId: String(row.next_plan_id), version: num(row.next_version), at: num(row.next_at) },
    cancelAt,
  };
}

export const subscription = (ctx: Context, account: string) => readSubscription(ctx, account, planNow(ctx, 'plans.subscription'));

interface ConfigWrite {
  op: string;
  kind: EntryKind;
  account: string;
  primary: Statement;
  idempotencyKey?: string;
  reason?: string;
  actor?: string;
  /** A keyed retry must name the same setting as the call that used the key. */
  sameAs: (stored: Record<string, unknown>) => string[];
}

/**
 * Runs a config row for an account's subscription: settle first (a pending change takes
 * effect before it is changed again), the row, then settle again (the new terms' first
 * allowance), and the state after — one atomic unit.
 */
async function writeConfig(ctx: Context, w: ConfigWrite, now: number) {
  const result = await ctx.runner.write({
    primary: w.primary,
    explain: [{ sql: SELECT_BY_KEY, args: [w.account, w.kind, w.idempotencyKey ?? null] }],
    settle: settleAccount(w.account, now),
    follow: settleWrites(w.account, now),
    after: [{ sql: SUBSCRIPTION_ROW, args: [w.account] }],
  });
  const state = result.after[result.after.length - 1]?.[0];
  const row = result.rows[0];
  let entry: Entry | null = null;
  if (row !== undefined) {
    entry = toEntry(row, ctx.ids);
  } else {
    const original = result.explain[0]?.[0];
    if (original !== undefined) {
      const stored = JSON.parse(String(original.metadata ?? '{}')) as Record<string, unknown>;
      const differing = w.sameAs(stored);
      if (differing.length > 0) {
        throw new LedgerError(
          'idempotency_conflict',
          `${w.op}: idempotency key "${w.idempotencyKey}" was already used on ${w.account} with different ${differing.join(', ')}`,
          { originalEntryId: ctx.ids.format(num(original.pos)), fields: differing },
        );
      }
      entry = toEntry(original, ctx.ids);
    }
  }
  return {
    replayed: row === undefined && entry !== null,
    entry,
    /** The row as the unit saw it (for a refusal's message: nothing written). */
    current: state,
    /**
     * The subscription after the call. Applied: as the unit left it. Otherwise the unit left
     * nothing, not even a due allowance, so it is read as any read would, writing that down first.
     */
    subscription: async (): Promise<Subscription> => {
      const s = row !== undefined && state !== undefined ? await describe(ctx, state, now) : await readSubscription(ctx, w.account, now);
      if (s === null) throw new LedgerError('internal', `${w.op}: ${w.account} has no subscription after the write (run rebuild())`);
      return s;
    },
  };
}

/** The stored row's subscription is active at `now`. */
const activeAt = (row: Row | undefined, now: number) => row !== undefined && (row.cancel_at === null || num(row.cancel_at) > now);

interface Common {
  idempotencyKey?: string;
  reason?: string;
  actor?: string;
}
/** What every config call passes on: its key, reason and actor. */
const common = (i: Common): Common => ({ idempotencyKey: i.idempotencyKey, reason: i.reason, actor: i.actor });
/** The last arguments of every config statement: reason, key, actor, now. */
const tail = (i: Common, now: number) => [i.reason ?? null, i.idempotencyKey ?? null, i.actor ?? null, now];

/** Fields of a keyed retry that differ from what the original row stored. */
const differs = (pairs: [string, unknown, unknown][]) =>
  pairs.filter(([, asked, stored]) => asked !== undefined && asked !== stored).map(([f]) => f);

export async function subscribe(ctx: Context, input: SubscribeInput): Promise<SubscribeResult> {
  const now = planNow(ctx, 'plans.subscribe');
  const r = await writeConfig(
    ctx,
    {
      op: 'plans.subscribe',
      kind: 'plan_subscribe',
      account: input.account,
      primary: {
        sql: PLAN_SUBSCRIBE,
        args: [input.account, input.planId, input.anchor ?? null, ...tail(input, now)],
      },
      ...common(input),
      sameAs: (s) =>
        differs([
          ['planId', input.planId, s.plan],
          ['anchor', input.anchor, s.anchor],
        ]),
    },
    now,
  );
  if (r.entry !== null) return { outcome: r.replayed ? 'replayed' : 'subscribed', subscription: await r.subscription(), entry: r.entry };
  if ((await getPlan(ctx, input.planId)) === null) {
    throw new LedgerError('not_found', `plans.subscribe: no plan ${JSON.stringify(input.planId)} (define it first)`, {
      planId: input.planId,
    });
  }
  throw new LedgerError(
    'already_subscribed',
    `plans.subscribe: ${input.account} already has an active subscription (to ${String(r.current?.plan_id)}); use plans.change`,
    { account: input.account, planId: r.current?.plan_id },
  );
}

/** No active subscription to change or cancel. */
async function noSubscription(ctx: Context, op: string, account: string, planId?: string): Promise<never> {
  if (planId !== undefined && (await getPlan(ctx, planId)) === null) {
    throw new LedgerError('not_found', `${op}: no plan ${JSON.stringify(planId)} (define it first)`, { planId });
  }
  throw new LedgerError('not_found', `${op}: ${account} has no active subscription`, { account });
}

export async function changePlan(ctx: Context, input: ChangePlanInput): Promise<ChangePlanResult> {
  const now = planNow(ctx, 'plans.change');
  const r = await writeConfig(
    ctx,
    {
      op: 'plans.change',
      kind: 'plan_change',
      account: input.account,
      primary: {
        sql: PLAN_CHANGE,
        args: [input.account, input.planId, input.proration, ...tail(input, now)],
      },
      ...common(input),
      sameAs: (s) =>
        differs([
          ['planId', input.planId, s.plan],
          ['proration', input.proration, s.proration],
        ]),
    },
    now,
  );
  if (r.entry !== null) return { outcome: r.replayed ? 'replayed' : 'changed', subscription: await r.subscription(), entry: r.entry };
  if (!activeAt(r.current, now) || (await getPlan(ctx, input.planId)) === null) {
    return noSubscription(ctx, 'plans.change', input.account, input.planId);
  }
  return { outcome: 'unchanged', subscription: await r.subscription() };
}

export async function cancelPlan(ctx: Context, input: CancelInput): Promise<CancelResult> {
  const now = planNow(ctx, 'plans.cancel');
  const r = await writeConfig(
    ctx,
    {
      op: 'plans.cancel',
      kind: 'plan_cancel',
      account: input.account,
      primary: {
        sql: PLAN_CANCEL,
        args: [input.account, input.at, ...tail(input, now)],
      },
      ...common(input),
      sameAs: (s) => differs([['at', input.at, s.when]]),
    },
    now,
  );
  if (r.entry !== null) return { outcome: r.replayed ? 'replayed' : 'canceled', subscription: await r.subscription(), entry: r.entry };
  if (!activeAt(r.current, now)) return noSubscription(ctx, 'plans.cancel', input.account);
  return { outcome: 'unchanged', subscription: await r.subscription() };
}

/** The features of the plan version an active subscription is on ({} without one). */
export async function entitlements(ctx: Context, account: string): Promise<Record<string, FeatureValue>> {
  const now = planNow(ctx, 'plans.entitlements');
  const [[row] = []] = await ctx.runner.read([{ sql: SUBSCRIPTION_ROW, args: [account] }]);
  if (row === undefined) return {};
  const cancelAt = row.cancel_at === null ? null : num(row.cancel_at);
  if (cancelAt !== null && cancelAt <= now) return {};
  // A pending change in force since next_at: its plan's features, whether or not it was written down yet.
  const pending = row.next_at !== null && num(row.next_at) <= now;
  return featuresOf(pending ? row.next_definition : row.definition);
}

/** `false`, `null` or absent → disabled; `true`, a number or a string → enabled with that value. */
export async function checkFeature(ctx: Context, account: string, feature: string): Promise<FeatureCheck> {
  const features = await entitlements(ctx, account);
  const value = Object.hasOwn(features, feature) ? (features[feature] ?? null) : null;
  return { enabled: value !== null && value !== false, value };
}
