/**
 * `ledger.plans`: plans with period allowances, subscriptions, entitlements (src/plans/).
 * Definitions are rows on the reserved log `$plan:<id>`; subscriptions, changes and
 * cancellations are rows on the account's log. A period's allowance is a priority-0 lot
 * that expires at the period's end, spendable from its first millisecond with no scheduler:
 * every spend writes it down first, in its own atomic unit, when it is due (settle.ts).
 */
import { guard } from '../guard.js';
import type { Context } from '../ops/context.js';
import { accountSchema, parse } from '../validate.js';
import { cancelPlan, changePlan, checkFeature, definePlan, entitlements, getPlan, listPlans, subscribe, subscription } from './ops.js';
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
import { cancelInput, changeInput, defineInput, featureSchema, getOptions, planIdSchema, subscribeInput } from './validate.js';

export interface Plans {
  /** Defines a plan: an identical definition replays the newest version; a different one becomes the next version. */
  define(input: DefinePlanInput): Promise<DefinePlanResult>;
  /** A plan's newest version, or the version asked for; null when there is none. */
  get(id: string, options?: { version?: number }): Promise<Plan | null>;
  /** The newest version of every plan, by id. */
  list(): Promise<Plan[]>;
  /** Subscribes an account with no active subscription to the plan's newest version; its first allowance is granted at once. */
  subscribe(input: SubscribeInput): Promise<SubscribeResult>;
  /** Moves an active subscription to the newest version of a plan, now or at the period's end. */
  change(input: ChangePlanInput): Promise<ChangePlanResult>;
  /** Ends a subscription now (its allowance lapses at once) or at the period's end. */
  cancel(input: CancelInput): Promise<CancelResult>;
  /** The account's subscription at now (its current allowance written down first), or null. */
  subscription(account: string): Promise<Subscription | null>;
  /** The features of the plan the account is on now ({} without an active subscription). */
  entitlements(account: string): Promise<Record<string, FeatureValue>>;
  checkFeature(account: string, feature: string): Promise<FeatureCheck>;
}

export function createPlans(ctx: Context): Plans {
  const account = (a: unknown, op: string) => parse(accountSchema, a, op, 'invalid_account');
  return {
    define: (input) => guard(() => definePlan(ctx, parse(defineInput, input, 'plans.define'))),
    get: (id, options) =>
      guard(() => getPlan(ctx, parse(planIdSchema, id, 'plans.get', 'invalid_argument'), parse(getOptions, options, 'plans.get')?.version)),
    list: () => guard(() => listPlans(ctx)),
    subscribe: (input) => guard(() => subscribe(ctx, parse(subscribeInput, input, 'plans.subscribe'))),
    change: (input) => guard(() => changePlan(ctx, parse(changeInput, input, 'plans.change'))),
    cancel: (input) => guard(() => cancelPlan(ctx, parse(cancelInput, input, 'plans.cancel'))),
    subscription: (a) => guard(() => subscription(ctx, account(a, 'plans.subscription'))),
    entitlements: (a) => guard(() => entitlements(ctx, account(a, 'plans.entitlements'))),
    checkFeature: (a, feature) =>
      guard(() =>
        checkFeature(ctx, account(a, 'plans.checkFeature'), parse(featureSchema, feature, 'plans.checkFeature', 'invalid_argument')),
      ),
  };
}
