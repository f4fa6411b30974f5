import type { PlanPeriod } from '../schema.js';
import type { Entry } from '../types.js';

export type FeatureValue = boolean | number | string | null;

export interface PlanAllowance {
  /** Credits granted at the start of every period, as a priority-0 lot expiring at its end. */
  amount: number;
  every: PlanPeriod;
  /** Unused allowance carried into the next period only, up to `max`, as its own lot. */
  rollover: { max: number } | null;
}

export interface Plan {
  id: string;
  version: number;
  name: string | null;
  allowance: PlanAllowance | null;
  features: Record<string, FeatureValue>;
  definedAt: number;
  /** The `plan_define` entry on the log `$plan:<id>`. */
  entryId: string;
}

export interface DefinePlanInput {
  id: string;
  name?: string;
  allowance?: { amount: number; every: PlanPeriod; rollover?: { max: number } };
  features?: Record<string, FeatureValue>;
  reason?: string;
  actor?: string;
}
export type DefinePlanResult = { outcome: 'defined'; plan: Plan; entry: Entry } | { outcome: 'replayed'; plan: Plan };

interface Common {
  idempotencyKey?: string;
  reason?: string;
  actor?: string;
}
export interface SubscribeInput extends Common {
  account: string;
  planId: string;
  /** The billing-cycle anchor (ms): periods are steps of the plan's `every` through it. Default: now. */
  anchor?: number;
}
export interface ChangePlanInput extends Common {
  account: string;
  planId: string;
  /** `immediate`: the current allowance lapses now and the new plan's is granted for the rest of the period. */
  proration: 'immediate' | 'next_period';
}
export interface CancelInput extends Common {
  account: string;
  at: 'now' | 'period_end';
}

export type SubscriptionStatus = 'active' | 'canceling' | 'canceled';

export interface Subscription {
  account: string;
  planId: string;
  version: number;
  status: SubscriptionStatus;
  anchor: number;
  /** When these terms took effect. */
  since: number;
  /** The current period (null once cancelled). */
  period: { start: number; end: number } | null;
  /** This period's allowance and rollover: granted, left now, and when the next period starts. */
  allowance: { amount: number; remaining: number; rollover: number; resetsAt: number } | null;
  pendingChange: { planId: string; version: number; at: number } | null;
  cancelAt: number | null;
}

export type SubscribeResult = { outcome: 'subscribed' | 'replayed'; subscription: Subscription; entry: Entry };
export type ChangePlanResult =
  | { outcome: 'changed' | 'replayed'; subscription: Subscription; entry: Entry }
  | { outcome: 'unchanged'; subscription: Subscription };
export type CancelResult =
  | { outcome: 'canceled' | 'replayed'; subscription: Subscription; entry: Entry }
  | { outcome: 'unchanged'; subscription: Subscription };

export interface FeatureCheck {
  enabled: boolean;
  value: FeatureValue;
}
