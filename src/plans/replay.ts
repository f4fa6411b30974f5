/**
 * The auditor's replay of plans and subscriptions: `credit_plan` and `credit_subscription`
 * derived from the log alone (the same rules as the triggers of migration 0011, written a
 * second time on purpose), compared with what is stored (`plan_mismatch`,
 * `subscription_mismatch`) and written by rebuild(). A subscription's `due_at` is a promise:
 * it must come no later than the moment something is next due (else a spend could pass
 * before its period's allowance), so the auditor checks it is not late; rebuild() sets it to
 * that moment, or to 0 when the current period's allowance is not written yet.
 */
import { num } from '../entry.js';
import type { LogRow } from '../replay.js';
import type { Row, Statement } from '../runner/index.js';
import type { PlanPeriod } from '../schema.js';
import type { VerifyProblem } from '../types.js';
import { periodAt } from './period.js';
import { ALLOWANCE_KEY, PLAN_LOG_PREFIX, ROLLOVER_KEY } from './sql.js';

export interface DerivedPlan {
  id: string;
  version: number;
  name: string | null;
  allowance: number;
  every: PlanPeriod | null;
  rolloverMax: number;
  features: string;
  definition: string;
  definedBy: string;
  definedAt: number;
}

export interface DerivedSubscription {
  account: string;
  planId: string;
  version: number;
  termsPos: string;
  anchor: number;
  since: number;
  cancelAt: number | null;
  next: { planId: string; version: number; pos: string; anchor: number; at: number } | null;
  createdAt: number;
  /** Keys of the allowance grants written (to tell whether the current period's is). */
  granted: Set<string>;
  /** The newest row of the account: a clock behind it cannot judge what is due. */
  lastAt: number;
  /** The end of the latest period whose allowance these terms wrote: the guard lets spends dated before it pass. */
  settledUntil: number;
}

export interface PlansSink {
  plan(p: DerivedPlan): void;
  /** A version derived earlier in the replay (`$plan:` logs replay before ordinary accounts). */
  planOf?(id: string, version: number): DerivedPlan | undefined;
  subscription(s: DerivedSubscription): void;
  problem(p: VerifyProblem): void;
}

type Setting = Record<string, unknown>;
const parse = (r: LogRow): Setting | null => {
  try {
    const v = JSON.parse(r.metadata ?? 'null') as unknown;
    return v !== null && typeof v === 'object' ? (v as Setting) : null;
  } catch {
    return null;
  }
};
const int = (v: unknown) => (typeof v === 'number' && Number.isSafeInteger(v) ? v : null);

/** Whether a grant key belongs to the allowance or rollover of these terms. */
export const ofTerms = (key: string | null, terms: string) =>
  key !== null && (key.startsWith(`${ALLOWANCE_KEY}${terms}:`) || key.startsWith(`${ROLLOVER_KEY}${terms}:`));

/** One account's plan rows, in seq order. */
export class PlansReplay {
  private sub: DerivedSubscription | null = null;

  constructor(
    readonly account: string,
    private readonly sink: PlansSink,
  ) {}

  private bad(r: LogRow, message: string) {
    this.sink.problem({ code: 'bad_config', account: r.account, entryId: r.id, seq: r.seq, message: `${r.kind}: ${message}` });
  }

  /** A config row. Returns the terms whose allowance and rollover lots lapse at this row, if any. */
  config(r: LogRow): string | null {
    const s = parse(r);
    if (s === null) {
      this.bad(r, 'the setting is not a JSON object');
      return null;
    }
    if (r.kind === 'plan_define') {
      if (!r.account.startsWith(PLAN_LOG_PREFIX)) this.bad(r, `defined on ${r.account}, not on a ${PLAN_LOG_PREFIX} log`);
      const a = (s.allowance ?? null) as Setting | null;
      const rollover = (a?.rollover ?? null) as Setting | null;
      this.sink.plan({
        id: r.account.slice(PLAN_LOG_PREFIX.length),
        version: r.seq,
        name: typeof s.name === 'string' ? s.name : null,
        allowance: int(a?.amount) ?? 0,
        every: (a?.every ?? null) as PlanPeriod | null,
        rolloverMax: int(rollover?.max) ?? 0,
        features: JSON.stringify(s.features ?? {}),
        definition: r.metadata ?? '',
        definedBy: r.id,
        definedAt: r.createdAt,
      });
      return null;
    }
    if (r.kind === 'plan_subscribe') {
      this.sub = {
        account: r.account,
        planId: String(s.plan),
        version: int(s.version) ?? 0,
        termsPos: r.id,
        anchor: int(s.anchor) ?? 0,
        since: r.createdAt,
        cancelAt: null,
        next: null,
        createdAt: r.createdAt,
        granted: this.sub?.granted ?? new Set(),
        lastAt: r.createdAt,
        settledUntil: 0,
      };
      return null;
    }
    const sub = this.sub;
    if (sub === null) {
      this.bad(r, 'no subscription to change');
      return null;
    }
    this.promote(r.createdAt);
    const ending = String(s.terms) === sub.termsPos ? sub.termsPos : null;
    if (ending === null) this.bad(r, `names terms ${String(s.terms)}, but ${sub.termsPos} are in force`);
    if (r.kind === 'plan_change') {
      const terms = { planId: String(s.plan), version: int(s.version) ?? 0, pos: r.id, anchor: int(s.anchor) ?? 0, at: int(s.at) ?? 0 };
      sub.cancelAt = null;
      if (s.proration === 'immediate') {
        Object.assign(sub, {
          planId: terms.planId,
          version: terms.version,
          termsPos: r.id,
          anchor: terms.anchor,
          since: r.createdAt,
          next: null,
        });
        return ending;
      }
      sub.next = terms;
      return null;
    }
    // plan_cancel
    sub.cancelAt = int(s.at);
    sub.next = null;
    return s.when === 'now' ? ending : null;
  }

  /** A grant: remember the allowances written. */
  grant(r: LogRow): void {
    const sub = this.sub;
    if (sub === null || !r.idempotencyKey?.startsWith(ALLOWANCE_KEY)) return;
    this.promote(r.createdAt);
    sub.granted.add(r.idempotencyKey);
    if (r.idempotencyKey.startsWith(`${ALLOWANCE_KEY}${sub.termsPos}:`)) sub.settledUntil = Math.max(sub.settledUntil, r.expiresAt ?? 0);
  }

  /**
   * Every row: a spend (debit, hold, capture, negative adjustment) while the subscription had an allowance due
   * for the row's period must come after that allowance — the guard refuses it otherwise, so
   * the allowance is drawn first. Reported as `subscription_mismatch`.
   */
  observe(r: LogRow): void {
    const sub = this.sub;
    if (sub === null) return;
    sub.lastAt = Math.max(sub.lastAt, r.createdAt);
    const spends =
      r.kind === 'debit' || r.kind === 'hold' || r.kind === 'capture' || r.kind === 'transfer_out' || (r.kind === 'adjust' && r.delta < 0);
    if (!spends) return;
    this.promote(r.createdAt);
    if (sub.cancelAt !== null && sub.cancelAt <= r.createdAt) return;
    const plan = this.sink.planOf?.(sub.planId, sub.version);
    if (plan === undefined || plan.allowance === 0 || plan.every === null) return;
    // The guard's promise: nothing was due at the row's time, i.e. an allowance of these terms
    // had been written for a period ending after it. (A row whose clock read an earlier time
    // than rows before it, in a process that waited for the lock, is within that promise.)
    if (r.createdAt < sub.settledUntil) return;
    const p = periodAt(plan.every, sub.anchor, r.createdAt);
    this.sink.problem({
      code: 'subscription_mismatch',
      account: r.account,
      entryId: r.id,
      seq: r.seq,
      message: `${r.kind} at ${r.createdAt} before the allowance of its period (from ${p.start}) was written`,
    });
  }

  /** A pending change in force by `at` takes effect (as the settle statements do). */
  private promote(at: number) {
    const sub = this.sub;
    if (sub?.next && sub.next.at <= at) {
      const n = sub.next;
      Object.assign(sub, {
        planId: n.planId,
        version: n.version,
        termsPos: n.pos,
        anchor: n.anchor,
        since: n.at,
        next: null,
        settledUntil: 0,
      });
    }
  }

  finish() {
    if (this.sub !== null) this.sink.subscription(this.sub);
  }
}

/**
 * The latest moment the next settle may come: never (null) once the terms ended and for a
 * plan without an allowance and nothing pending; else the earliest of a pending change, the
 * end of the terms, and the end of the current period (or 0 when that period's allowance is
 * not written yet: due now).
 */
export function dueBy(s: DerivedSubscription, plans: Map<string, DerivedPlan>, now: number): number | null {
  if (s.cancelAt !== null && s.cancelAt <= now) return null;
  const plan = plans.get(`${s.planId}\u0000${s.version}`);
  const limits = [s.next?.at, s.cancelAt].filter((v): v is number => typeof v === 'number');
  if (plan !== undefined && plan.allowance > 0 && plan.every !== null) {
    const p = periodAt(plan.every, s.anchor, now);
    limits.push(s.granted.has(`${ALLOWANCE_KEY}${s.termsPos}:${p.start}`) ? p.end : 0);
  }
  return limits.length === 0 ? null : Math.min(...limits);
}

/** Two JSON texts with the same keys and values, numbers equal to within their last digits (SQLite renders 15). */
function sameJson(a: string, b: string): boolean {
  const norm = (v: unknown): unknown =>
    typeof v === 'number'
      ? Number(v.toPrecision(15))
      : v !== null && typeof v === 'object'
        ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, norm(x)]))
        : v;
  try {
    return JSON.stringify(norm(JSON.parse(a))) === JSON.stringify(norm(JSON.parse(b)));
  } catch {
    return false;
  }
}

const planKey = (id: unknown, version: unknown) => `${String(id)}\u0000${num(version)}`;

/** The auditor's comparison. `now` normalises pending changes already in force (the triggers apply them lazily). */
export async function comparePlans(
  planRows: AsyncIterable<Row>,
  subscriptionRows: AsyncIterable<Row>,
  d: { plans: Map<string, DerivedPlan>; subscriptions: Map<string, DerivedSubscription> },
  now: number,
  report: (p: VerifyProblem) => void,
): Promise<void> {
  const plans = new Map(d.plans);
  for await (const r of planRows) {
    const key = planKey(r.id, r.version);
    const want = plans.get(key);
    plans.delete(key);
    const account = `${PLAN_LOG_PREFIX}${String(r.id)}`;
    if (want === undefined) {
      report({ code: 'plan_mismatch', account, message: `stored plan ${String(r.id)} v${num(r.version)} has no plan_define row` });
    } else {
      const differing = [
        want.allowance !== num(r.allowance) && 'allowance',
        want.every !== (r.every ?? null) && 'every',
        want.rolloverMax !== num(r.rollover_max) && 'rollover_max',
        want.definition !== String(r.definition) && 'definition',
        // `features` is compared as a value: SQLite renders the numbers of its copy itself.
        !sameJson(String(r.features), want.features) && 'features',
        want.definedBy !== String(r.defined_by) && 'defined_by',
        want.name !== (r.name ?? null) && 'name',
      ].filter((f): f is string => f !== false);
      if (differing.length > 0) {
        report({
          code: 'plan_mismatch',
          account,
          entryId: want.definedBy,
          message: `stored plan ${want.id} v${want.version} differs from its plan_define row in ${differing.join(', ')}`,
        });
      }
    }
  }
  for (const p of plans.values())
    report({ code: 'plan_mismatch', account: `${PLAN_LOG_PREFIX}${p.id}`, entryId: p.definedBy, message: 'plan missing from credit_plan' });

  const subs = new Map(d.subscriptions);
  for await (const r of subscriptionRows) {
    const account = String(r.account);
    const want = subs.get(account);
    subs.delete(account);
    if (want === undefined) {
      report({ code: 'subscription_mismatch', account, message: 'stored subscription has no plan_subscribe row' });
      continue;
    }
    // The stored row, with a pending change in force by now taken into effect as the replay does.
    const next =
      r.next_pos === null
        ? null
        : {
            planId: String(r.next_plan_id),
            version: num(r.next_version),
            pos: String(r.next_pos),
            anchor: num(r.next_anchor),
            at: num(r.next_at),
          };
    let stored = {
      planId: String(r.plan_id),
      version: num(r.version),
      termsPos: String(r.terms_pos),
      anchor: num(r.anchor),
      since: num(r.since),
      next,
    };
    if (next !== null && next.at <= now)
      stored = { planId: next.planId, version: next.version, termsPos: next.pos, anchor: next.anchor, since: next.at, next: null };
    let replayed = {
      planId: want.planId,
      version: want.version,
      termsPos: want.termsPos,
      anchor: want.anchor,
      since: want.since,
      next: want.next,
    };
    if (want.next !== null && want.next.at <= now) {
      const n = want.next;
      replayed = { planId: n.planId, version: n.version, termsPos: n.pos, anchor: n.anchor, since: n.at, next: null };
    }
    const cancelAt = r.cancel_at === null ? null : num(r.cancel_at);
    if (JSON.stringify(stored) !== JSON.stringify(replayed) || cancelAt !== want.cancelAt) {
      report({
        code: 'subscription_mismatch',
        account,
        entryId: want.termsPos,
        message: `stored ${JSON.stringify({ ...stored, cancelAt })}, replayed ${JSON.stringify({ ...replayed, cancelAt: want.cancelAt })}`,
      });
      continue;
    }
    // A clock behind the account's newest row (tests move it back) cannot judge what is due.
    const due = now < want.lastAt ? null : dueBy({ ...want, ...replayed }, d.plans, now);
    const dueAt = r.due_at === null ? null : num(r.due_at);
    if (due !== null && (dueAt === null || (dueAt > Math.max(due, 0) && dueAt > now))) {
      report({
        code: 'subscription_mismatch',
        account,
        entryId: want.termsPos,
        message: `due_at ${dueAt ?? 'null'} is later than ${due}, when something is due: a spend could pass before the period's allowance`,
      });
    }
  }
  for (const s of subs.values())
    report({
      code: 'subscription_mismatch',
      account: s.account,
      entryId: s.termsPos,
      message: 'subscription missing from credit_subscription',
    });
}

/** rebuild()'s share: plans and subscriptions as derived, each due when dueBy says. */
export function plansRebuild(
  d: { plans: Map<string, DerivedPlan>; subscriptions: Map<string, DerivedSubscription> },
  now: number,
  inserts: (table: string, columns: string[], rows: unknown[][]) => Statement[],
): Statement[] {
  return [
    { sql: 'DELETE FROM credit_plan', args: [] },
    { sql: 'DELETE FROM credit_subscription', args: [] },
    ...inserts(
      'credit_plan',
      ['id', 'version', 'name', 'allowance', 'every', 'rollover_max', 'features', 'definition', 'defined_by', 'defined_at'],
      [...d.plans.values()].map((p) => [
        p.id,
        p.version,
        p.name,
        p.allowance,
        p.every,
        p.rolloverMax,
        p.features,
        p.definition,
        Number(p.definedBy),
        p.definedAt,
      ]),
    ),
    ...inserts(
      'credit_subscription',
      [
        'account',
        'plan_id',
        'version',
        'terms_pos',
        'anchor',
        'since',
        'cancel_at',
        'next_plan_id',
        'next_version',
        'next_pos',
        'next_anchor',
        'next_at',
        'due_at',
        'created_at',
      ],
      [...d.subscriptions.values()].map((s) => [
        s.account,
        s.planId,
        s.version,
        Number(s.termsPos),
        s.anchor,
        s.since,
        s.cancelAt,
        s.next?.planId ?? null,
        s.next?.version ?? null,
        s.next === null ? null : Number(s.next.pos),
        s.next?.anchor ?? null,
        s.next?.at ?? null,
        dueBy(s, d.plans, now),
        s.createdAt,
      ]),
    ),
  ];
}
