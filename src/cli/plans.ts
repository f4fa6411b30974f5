/**
 * `drizzle-credits plans define | list | show | subscribe | change | cancel | subscription |
 * entitlements`: the `ledger.plans` namespace from the shell. Handlers parse what was typed
 * before calling the ledger (a bad value writes nothing), like commands.ts; program.ts
 * registers the group with `addPlansCommands`. Exit codes are the CLI's: 0 for every outcome
 * here (a replay, an unchanged change or cancel, an account with no subscription); 2 for a
 * ledger error — `not_found` (no such plan, no active subscription), `already_subscribed`,
 * bad input; 64 for usage.
 */
import type { Command } from 'commander';
import {
  type Entry,
  type FeatureValue,
  type Ledger,
  LedgerError,
  PLAN_PERIODS,
  type Plan,
  type PlanPeriod,
  type Subscription,
} from '../index.js';
import { optional, parseAllowance, parseAnchor, parseRolloverMax, parseVersion } from './args.js';
import type { Output } from './commands.js';
import { EXIT } from './exit.js';
import { entryFields, gridTable, isoTime, keyValueTable } from './format.js';

type Rows = [string, string | number][];

const ok = (data: unknown, text: string): Output => ({ exit: EXIT.ok, data, text });

const invalid = (field: string, message: string): LedgerError => new LedgerError('invalid_argument', message, { field });

/** The value as typed → true, false, a number (plain decimal, optional sign and fraction) or the string itself. */
export function parseFeatureValue(raw: string): FeatureValue {
  if (raw === 'true') return true;
  if (raw === 'false') return false;
  if (/^-?(0|[1-9][0-9]*)(\.[0-9]+)?$/.test(raw)) return Number(raw);
  return raw;
}

/** `--feature key=value` (repeated) or `--features '<json>'`: one of them, or neither. */
function readFeatures(pairs: readonly string[], inline: string | undefined): Record<string, FeatureValue> | undefined {
  if (pairs.length > 0 && inline !== undefined) throw invalid('features', 'plans define: give --feature key=value or --features, not both');
  if (inline !== undefined) {
    try {
      return JSON.parse(inline) as Record<string, FeatureValue>;
    } catch (e) {
      throw invalid('features', `plans define: --features is not JSON: ${(e as Error).message}`);
    }
  }
  if (pairs.length === 0) return undefined;
  const features: Record<string, FeatureValue> = {};
  for (const pair of pairs) {
    const at = pair.indexOf('=');
    if (at <= 0)
      throw invalid('features', `plans define: --feature must be key=value, e.g. seats=5 or sso=true (got ${JSON.stringify(pair)})`);
    const key = pair.slice(0, at);
    if (Object.hasOwn(features, key)) throw invalid('features', `plans define: feature ${JSON.stringify(key)} given twice`);
    Object.defineProperty(features, key, {
      value: parseFeatureValue(pair.slice(at + 1)),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return features;
}

function period(raw: string | undefined): PlanPeriod | undefined {
  if (raw === undefined || (PLAN_PERIODS as readonly string[]).includes(raw)) return raw as PlanPeriod | undefined;
  throw invalid('every', `every must be one of ${PLAN_PERIODS.join(', ')} (got ${JSON.stringify(raw)})`);
}

interface DefineOptions {
  name?: string;
  allowance?: string;
  every?: string;
  rolloverMax?: string;
  feature: string[];
  features?: string;
  reason?: string;
}

/** The allowance as typed: --allowance and --every together, --rollover-max only with them. */
function readAllowance(o: DefineOptions) {
  if ((o.allowance === undefined) !== (o.every === undefined))
    throw invalid('allowance', 'plans define: --allowance and --every go together');
  if (o.allowance === undefined) {
    if (o.rolloverMax !== undefined) throw invalid('rollover', 'plans define: --rollover-max needs --allowance and --every');
    return undefined;
  }
  const rollover = optional(o.rolloverMax, parseRolloverMax);
  return {
    amount: parseAllowance(o.allowance),
    every: period(o.every) as PlanPeriod,
    ...(rollover === undefined ? {} : { rollover: { max: rollover } }),
  };
}

const show = (v: FeatureValue): string => (typeof v === 'string' ? JSON.stringify(v) : String(v));

const allowanceText = (p: Plan): string =>
  p.allowance === null
    ? 'none'
    : `${p.allowance.amount} per ${p.allowance.every}${p.allowance.rollover === null ? '' : `, rollover up to ${p.allowance.rollover.max}`}`;

const planRows = (p: Plan): Rows => [
  ['plan', p.id],
  ['version', p.version],
  ['name', p.name ?? ''],
  ['allowance', allowanceText(p)],
  ...Object.entries(p.features).map(([k, v]): [string, string] => [`feature ${k}`, show(v)]),
  ['defined', isoTime(p.definedAt)],
  ['defined by entry', p.entryId],
];

function subscriptionRows(s: Subscription): Rows {
  const rows: Rows = [
    ['account', s.account],
    ['plan', `${s.planId} v${s.version}`],
    ['status', s.status],
    ['anchor', isoTime(s.anchor)],
    ['since', isoTime(s.since)],
    ['period', s.period === null ? 'none (canceled)' : `${isoTime(s.period.start)} → ${isoTime(s.period.end)}`],
  ];
  if (s.allowance !== null) {
    rows.push(
      ['allowance', s.allowance.amount],
      ['allowance remaining', s.allowance.remaining],
      ['rollover', s.allowance.rollover],
      ['resets at', isoTime(s.allowance.resetsAt)],
    );
  }
  if (s.pendingChange !== null)
    rows.push(['pending change', `${s.pendingChange.planId} v${s.pendingChange.version} at ${isoTime(s.pendingChange.at)}`]);
  if (s.cancelAt !== null) rows.push([s.status === 'canceled' ? 'canceled at' : 'cancels at', isoTime(s.cancelAt)]);
  return rows;
}

/** A subscribe, change or cancel: its outcome, the subscription after it, and its entry. */
const subscriptionWrite = (r: { outcome: string; subscription: Subscription; entry?: Entry }, outcome = r.outcome): Output =>
  ok(r, keyValueTable([['outcome', outcome], ...subscriptionRows(r.subscription), ...(r.entry === undefined ? [] : entryFields(r.entry))]));

export async function plansDefine(ledger: Ledger, id: string, o: DefineOptions): Promise<Output> {
  const r = await ledger.plans.define({
    id,
    name: o.name,
    allowance: readAllowance(o),
    features: readFeatures(o.feature, o.features),
    reason: o.reason,
  });
  const outcome = r.outcome === 'replayed' ? 'replayed (identical to the newest version)' : r.outcome;
  return ok(r, keyValueTable([['outcome', outcome], ...planRows(r.plan), ...(r.outcome === 'defined' ? entryFields(r.entry) : [])]));
}

export async function plansList(ledger: Ledger): Promise<Output> {
  const plans = await ledger.plans.list();
  if (plans.length === 0) return ok(plans, 'no plans (define one with `drizzle-credits plans define`)');
  return ok(
    plans,
    gridTable(
      ['plan', 'version', 'name', 'allowance', 'features', 'defined'],
      plans.map((p) => [p.id, p.version, p.name ?? '', allowanceText(p), Object.keys(p.features).length, isoTime(p.definedAt)]),
      ['left', 'right', 'left', 'left', 'right', 'left'],
    ),
  );
}

export async function plansShow(ledger: Ledger, id: string, o: { planVersion?: string }): Promise<Output> {
  const version = optional(o.planVersion, parseVersion);
  const p = await ledger.plans.get(id, version === undefined ? undefined : { version });
  if (p === null) {
    const what = version === undefined ? `no plan ${JSON.stringify(id)}` : `no version ${version} of plan ${JSON.stringify(id)}`;
    throw new LedgerError('not_found', what, { planId: id, version: version ?? null });
  }
  return ok(p, keyValueTable(planRows(p)));
}

interface WriteOptions {
  idempotencyKey?: string;
  reason?: string;
}

export async function plansSubscribe(
  ledger: Ledger,
  account: string,
  planId: string,
  o: WriteOptions & { anchor?: string },
): Promise<Output> {
  const r = await ledger.plans.subscribe({
    account,
    planId,
    anchor: optional(o.anchor, parseAnchor),
    idempotencyKey: o.idempotencyKey,
    reason: o.reason,
  });
  return subscriptionWrite(r);
}

export async function plansChange(
  ledger: Ledger,
  account: string,
  planId: string,
  o: WriteOptions & { proration: string },
): Promise<Output> {
  if (o.proration !== 'immediate' && o.proration !== 'next_period')
    throw invalid('proration', `proration must be immediate or next_period (got ${JSON.stringify(o.proration)})`);
  const r = await ledger.plans.change({ account, planId, proration: o.proration, idempotencyKey: o.idempotencyKey, reason: o.reason });
  return subscriptionWrite(r, r.outcome === 'unchanged' ? 'unchanged (already on that plan version)' : r.outcome);
}

export async function plansCancel(ledger: Ledger, account: string, o: WriteOptions & { at: string }): Promise<Output> {
  if (o.at !== 'now' && o.at !== 'period_end') throw invalid('at', `at must be now or period_end (got ${JSON.stringify(o.at)})`);
  const r = await ledger.plans.cancel({ account, at: o.at, idempotencyKey: o.idempotencyKey, reason: o.reason });
  return subscriptionWrite(r, r.outcome === 'unchanged' ? 'unchanged (already canceling)' : r.outcome);
}

export async function plansSubscription(ledger: Ledger, account: string): Promise<Output> {
  const s = await ledger.plans.subscription(account);
  return ok(s, s === null ? `no subscription on ${account}` : keyValueTable(subscriptionRows(s)));
}

export async function plansEntitlements(ledger: Ledger, account: string): Promise<Output> {
  const features = await ledger.plans.entitlements(account);
  const rows = Object.entries(features);
  if (rows.length === 0) return ok(features, `no entitlements on ${account} (no active subscription, or a plan without features)`);
  return ok(
    features,
    gridTable(
      ['feature', 'enabled', 'value'],
      rows.map(([k, v]) => [k, v !== null && v !== false ? 'yes' : 'no', show(v)]),
    ),
  );
}

type Run = (cmd: Command, handler: (ledger: Ledger) => Promise<Output>) => Promise<void>;

const collect = (value: string, previous: string[]): string[] => [...previous, value];

const DEFINE_HELP = `
A definition identical to the newest version replays it; a different one becomes the next
version. Subscribers stay on the version they subscribed to until they change plans.
Feature values: true, false, a number (5, -1, 2.5) or any other text as a string;
false (or absent) means disabled. Or all at once: --features '{"seats":5,"sso":true}'.`;

const PERIOD_HELP = `
Periods are anchored like Stripe's billing cycle, in UTC: monthly from 31 Jan runs
28 Feb (29 in leap years), 31 Mar, 30 Apr …; yearly from 29 Feb runs to 28 Feb.`;

/** Registers `plans` and its subcommands on the program. */
export function addPlansCommands(program: Command, run: Run): void {
  const plans = program.command('plans').description('plans with period allowances, subscriptions and entitlements');
  plans
    .command('define')
    .description('define a plan, or its next version')
    .argument('<id>', 'plan id, e.g. pro')
    .option('--name <text>', 'display name')
    .option('--allowance <n>', 'credits granted each period, drawn before purchased credits (needs --every)')
    .option('--every <period>', `${PLAN_PERIODS.join(' | ')}: the allowance period`)
    .option('--rollover-max <n>', 'carry up to this much unused allowance into the next period only')
    .option('--feature <key=value>', 'a feature (repeatable)', collect, [])
    .option('--features <json>', 'all features as a JSON object (instead of --feature)')
    .option('--reason <text>', 'stored on the entry')
    .addHelpText('after', DEFINE_HELP)
    .action((id: string, o: DefineOptions, cmd: Command) => run(cmd, (l) => plansDefine(l, id, o)));
  plans
    .command('list')
    .description('the newest version of every plan')
    .action((_o, cmd: Command) => run(cmd, (l) => plansList(l)));
  plans
    .command('show')
    .description("a plan's newest version (or --plan-version n)")
    .argument('<id>', 'plan id')
    .option('--plan-version <n>', 'this version instead of the newest')
    .action((id: string, o: { planVersion?: string }, cmd: Command) => run(cmd, (l) => plansShow(l, id, o)));
  plans
    .command('subscribe')
    .description("subscribe an account to a plan's newest version; its first allowance is granted at once")
    .argument('<account>', 'account id')
    .argument('<planId>', 'plan id')
    .option('--anchor <time>', 'billing-cycle anchor: epoch ms or ISO 8601 (default: now)')
    .option('--idempotency-key <key>', 'subscribe at most once per key and account; a retry returns the original')
    .option('--reason <text>', 'stored on the entry')
    .addHelpText('after', PERIOD_HELP)
    .action((account: string, planId: string, o: WriteOptions & { anchor?: string }, cmd: Command) =>
      run(cmd, (l) => plansSubscribe(l, account, planId, o)),
    );
  plans
    .command('change')
    .description("move an account's subscription to the newest version of a plan")
    .argument('<account>', 'account id')
    .argument('<planId>', 'plan id')
    .requiredOption(
      '--proration <when>',
      "immediate (the current allowance lapses, the new plan's is granted for the rest of the period) | next_period",
    )
    .option('--idempotency-key <key>', 'change at most once per key and account')
    .option('--reason <text>', 'stored on the entry')
    .action((account: string, planId: string, o: WriteOptions & { proration: string }, cmd: Command) =>
      run(cmd, (l) => plansChange(l, account, planId, o)),
    );
  plans
    .command('cancel')
    .description("end an account's subscription")
    .argument('<account>', 'account id')
    .requiredOption('--at <when>', 'now (allowance and rollover lapse at once) | period_end (they run out; no more are granted)')
    .option('--idempotency-key <key>', 'cancel at most once per key and account')
    .option('--reason <text>', 'stored on the entry')
    .action((account: string, o: WriteOptions & { at: string }, cmd: Command) => run(cmd, (l) => plansCancel(l, account, o)));
  plans
    .command('subscription')
    .description("an account's subscription now: status, period, allowance left, rollover, pending change")
    .argument('<account>', 'account id')
    .action((account: string, _o, cmd: Command) => run(cmd, (l) => plansSubscription(l, account)));
  plans
    .command('entitlements')
    .description('the features of the plan an account is on now')
    .argument('<account>', 'account id')
    .action((account: string, _o, cmd: Command) => run(cmd, (l) => plansEntitlements(l, account)));
}
