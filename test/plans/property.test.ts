/**
 * Model-based property of `ledger.plans`: random sequences of clock moves (within a period,
 * across one or several, months idle), debits, purchased grants (plain, expiring, with a
 * priority), refunds, plan changes (immediate, next period), cancellations (now, period
 * end), resubscriptions and sweeps, on one subscribed account per run, against a plain
 * reference model with its own lot accounting (only the period grid, `periodAt`, is shared:
 * test/plans/period.test.ts checks it against the SQL).
 *
 * After every step (but a clock move marked quiet, so the next call, not the check's read,
 * is the one that writes the period's allowance down): balance and available, the
 * subscription (plan, status, period, allowance granted / left / rolled over, pending
 * change, cancellation), and conservation on the log (Σ delta = head balance = the model's
 * posted credits; the signed amounts by kind add up to it). At the end: verify() ok and
 * rebuild() leaves every projection as it was.
 *
 * FC_SEED replays a run.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DAY_MS, periodAt } from '../../src/plans/period.js';
import type { PlanPeriod } from '../../src/schema.js';
import { DRIVERS, manualClock, type TestDb } from '../support/drivers.js';

// --- The plans --------------------------------------------------------------------------------

interface PlanDef {
  id: string;
  allowance: { amount: number; every: PlanPeriod; rollover?: { max: number } } | null;
}
const PLANS: PlanDef[] = [
  { id: 'daily', allowance: { amount: 10, every: 'day', rollover: { max: 6 } } },
  { id: 'weekly', allowance: { amount: 40, every: 'week', rollover: { max: 100 } } },
  { id: 'monthly', allowance: { amount: 100, every: 'month' } },
  { id: 'free', allowance: null },
];
const planOf = (id: string) => PLANS.find((p) => p.id === id) as PlanDef;
/** A plan without an allowance keeps a monthly grid (its period is still reported). */
const everyOf = (p: PlanDef): PlanPeriod => p.allowance?.every ?? 'month';

// --- The reference model ------------------------------------------------------------------------

interface Lot {
  seq: number;
  amount: number;
  remaining: number;
  /** Taken off by sweeps (expire rows). */
  swept: number;
  priority: number;
  expiresAt: number | null;
  /** Allowance or rollover lots: the terms they belong to. */
  terms?: number;
}
interface Debit {
  amount: number;
  refunded: number;
  drawn: { lot: Lot; amount: number; back: number }[];
}
interface Terms {
  plan: PlanDef;
  terms: number;
  anchor: number;
  since: number;
}
interface Sub extends Terms {
  cancelAt: number | null;
  next: (Terms & { at: number }) | null;
}

type Result = { outcome: string; balance?: number; available?: number; subscription?: View | null } | { error: string };
interface View {
  planId: string;
  status: string;
  anchor: number;
  since: number;
  period: { start: number; end: number } | null;
  allowance: { amount: number; remaining: number; rollover: number; resetsAt: number } | null;
  pendingChange: { planId: string; at: number } | null;
  cancelAt: number | null;
}

class PlanModel {
  posted = 0;
  private seq = 0;
  private termsSeq = 0;
  readonly lots: Lot[] = [];
  readonly debits: Debit[] = [];
  sub: Sub | null = null;
  /** Allowance / rollover lots by `<kind>:<terms>:<period start>`. */
  private readonly keyed = new Map<string, Lot>();

  constructor(public now: number) {}

  private live(l: Lot) {
    return l.expiresAt === null || l.expiresAt > this.now;
  }
  balance() {
    return this.posted - this.lots.filter((l) => !this.live(l)).reduce((s, l) => s + l.remaining, 0);
  }
  private money(outcome: string): Result {
    const b = this.balance();
    return { outcome, balance: b, available: Math.max(0, b) };
  }
  private lot(amount: number, priority: number, expiresAt: number | null, terms?: number): Lot {
    const l: Lot = { seq: ++this.seq, amount, remaining: amount, swept: 0, priority, expiresAt, terms };
    this.lots.push(l);
    this.posted += amount;
    return l;
  }
  private active(s: Sub | null): s is Sub {
    return s !== null && (s.cancelAt === null || s.cancelAt > this.now);
  }

  /** What a spend, a read, a sweep or a plan call writes down first. */
  settle() {
    const s = this.sub;
    if (!this.active(s)) return;
    if (s.next !== null && s.next.at <= this.now) {
      const { at: _, ...next } = s.next;
      Object.assign(s, next, { next: null });
    }
    const a = s.plan.allowance;
    if (a === null) return;
    const p = periodAt(a.every, s.anchor, this.now);
    if (this.keyed.has(`allowance:${s.terms}:${p.start}`)) return;
    const prevStart = periodAt(a.every, s.anchor, p.start - 1).start;
    const prev = this.keyed.get(`allowance:${s.terms}:${prevStart}`);
    const max = a.rollover?.max ?? 0;
    const unused = prev !== undefined ? prev.remaining + prev.swept : prevStart >= s.since ? a.amount : 0;
    const rolled = Math.min(max, unused);
    if (rolled > 0) this.keyed.set(`rollover:${s.terms}:${p.start}`, this.lot(rolled, 0, p.end, s.terms));
    this.keyed.set(`allowance:${s.terms}:${p.start}`, this.lot(a.amount, 0, p.end, s.terms));
  }

  /** The allowance and rollover lots of the terms in force lapse now. */
  private cut(terms: number) {
    for (const l of this.lots) if (l.terms === terms && l.expiresAt !== null && l.expiresAt > this.now) l.expiresAt = this.now;
  }

  grant(amount: number, priority: number | undefined, expiresAt: number | undefined): Result {
    if (priority === undefined && expiresAt === undefined) this.posted += amount;
    else this.lot(amount, priority ?? 50, expiresAt ?? null);
    return this.money('granted');
  }

  debit(amount: number): Result {
    this.settle();
    if (amount > this.balance()) return this.money('insufficient');
    const order = this.lots
      .filter((l) => l.remaining > 0 && this.live(l))
      .sort(
        (x, y) =>
          x.priority - y.priority ||
          Number(x.expiresAt === null) - Number(y.expiresAt === null) ||
          (x.expiresAt ?? 0) - (y.expiresAt ?? 0) ||
          x.seq - y.seq,
      );
    const d: Debit = { amount, refunded: 0, drawn: [] };
    let left = amount;
    for (const l of order) {
      if (left === 0) break;
      const take = Math.min(left, l.remaining);
      l.remaining -= take;
      left -= take;
      d.drawn.push({ lot: l, amount: take, back: 0 });
    }
    this.posted -= amount;
    this.debits.push(d);
    return this.money('debited');
  }

  /** Back to the unlotted balance first (drawn last), then to the lots in reverse draw order. */
  refund(d: Debit, amount: number): Result {
    const fromLots = d.drawn.reduce((s, x) => s + x.amount, 0);
    const backToLots = d.drawn.reduce((s, x) => s + x.back, 0);
    const unlottedRoom = Math.max(0, d.amount - fromLots - (d.refunded - backToLots));
    let toLots = amount - Math.min(amount, unlottedRoom);
    for (const x of [...d.drawn].reverse()) {
      const share = Math.min(x.amount - x.back, toLots);
      if (share <= 0) continue;
      x.back += share;
      x.lot.remaining += share;
      toLots -= share;
    }
    d.refunded += amount;
    this.posted += amount;
    return this.money('refunded');
  }

  sweep() {
    this.settle();
    for (const l of this.lots) {
      if (!this.live(l) && l.remaining > 0) {
        this.posted -= l.remaining;
        l.swept += l.remaining;
        l.remaining = 0;
      }
    }
  }

  private newTerms(plan: PlanDef, anchor: number, since: number): Terms {
    return { plan, terms: ++this.termsSeq, anchor, since };
  }

  subscribe(plan: PlanDef, anchor: number | undefined): Result {
    this.settle();
    if (this.active(this.sub)) return { error: 'already_subscribed' };
    this.sub = { ...this.newTerms(plan, anchor ?? this.now, this.now), cancelAt: null, next: null };
    this.settle();
    return { outcome: 'subscribed', subscription: this.view() };
  }

  change(plan: PlanDef, proration: 'immediate' | 'next_period'): Result {
    this.settle();
    const s = this.sub;
    if (!this.active(s)) return { error: 'not_found' };
    if (s.plan === plan && s.cancelAt === null && s.next === null) return { outcome: 'unchanged', subscription: this.view() };
    const every = everyOf(s.plan);
    const at = proration === 'immediate' ? this.now : periodAt(every, s.anchor, this.now).end;
    const t = this.newTerms(plan, everyOf(plan) === every ? s.anchor : at, at);
    if (proration === 'immediate') {
      this.cut(s.terms);
      this.sub = { ...t, cancelAt: null, next: null };
    } else {
      s.cancelAt = null;
      s.next = { ...t, at };
    }
    this.settle();
    return { outcome: 'changed', subscription: this.view() };
  }

  cancel(at: 'now' | 'period_end'): Result {
    this.settle();
    const s = this.sub;
    if (!this.active(s)) return { error: 'not_found' };
    const end = periodAt(everyOf(s.plan), s.anchor, this.now).end;
    if (at === 'period_end' && s.cancelAt === end) return { outcome: 'unchanged', subscription: this.view() };
    if (at === 'now') this.cut(s.terms);
    s.cancelAt = at === 'now' ? this.now : end;
    s.next = null;
    this.settle();
    return { outcome: 'canceled', subscription: this.view() };
  }

  view(): View | null {
    const s = this.sub;
    if (s === null) return null;
    const status = s.cancelAt === null ? 'active' : s.cancelAt <= this.now ? 'canceled' : 'canceling';
    const period = status === 'canceled' ? null : periodAt(everyOf(s.plan), s.anchor, this.now);
    let allowance: View['allowance'] = null;
    if (period !== null && s.plan.allowance !== null) {
      const granted = this.keyed.get(`allowance:${s.terms}:${period.start}`);
      const rolled = this.keyed.get(`rollover:${s.terms}:${period.start}`);
      const left = (l: Lot | undefined) => (l !== undefined && l.expiresAt !== null && l.expiresAt > this.now ? l.remaining : 0);
      allowance = {
        amount: granted?.amount ?? 0,
        remaining: left(granted) + left(rolled),
        rollover: rolled?.amount ?? 0,
        resetsAt: period.end,
      };
    }
    return {
      planId: s.plan.id,
      status,
      anchor: s.anchor,
      since: s.since,
      period,
      allowance,
      pendingChange: s.next === null ? null : { planId: s.next.plan.id, at: s.next.at },
      cancelAt: s.cancelAt,
    };
  }
}

// --- Steps ----------------------------------------------------------------------------------------

type Step =
  | { op: 'advance'; ms: number; quiet: boolean }
  | { op: 'debit'; amount: number }
  | { op: 'grant'; amount: number; lot: 'plain' | 'expiring' | 'priority'; ms: number; priority: number }
  | { op: 'refund'; n: number; part: number }
  | { op: 'change'; plan: string; proration: 'immediate' | 'next_period' }
  | { op: 'cancel'; at: 'now' | 'period_end' }
  | { op: 'subscribe'; plan: string; anchorBack: number | null }
  | { op: 'sweep' };

const planIds = fc.constantFrom(...PLANS.map((p) => p.id));
const stepArb: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      op: fc.constant('advance' as const),
      ms: fc.oneof(
        fc.integer({ min: 1, max: 6 * 3_600_000 }),
        fc.integer({ min: DAY_MS - 3_600_000, max: DAY_MS + 3_600_000 }),
        fc.integer({ min: 2 * DAY_MS, max: 10 * DAY_MS }),
        fc.integer({ min: 30 * DAY_MS, max: 200 * DAY_MS }),
      ),
      quiet: fc.boolean(),
    }),
  },
  { weight: 6, arbitrary: fc.record({ op: fc.constant('debit' as const), amount: fc.integer({ min: 1, max: 40 }) }) },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant('grant' as const),
      amount: fc.integer({ min: 1, max: 50 }),
      lot: fc.constantFrom('plain' as const, 'expiring' as const, 'priority' as const),
      ms: fc.integer({ min: 1, max: 20 * DAY_MS }),
      priority: fc.constantFrom(0, 10, 90),
    }),
  },
  {
    weight: 3,
    // Mostly one of the last few debits (those that drew the allowance in force), all or part of it.
    arbitrary: fc.record({
      op: fc.constant('refund' as const),
      n: fc.nat({ max: 3 }),
      part: fc.oneof(fc.constant(1), fc.double({ min: 0, max: 1, noNaN: true })),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant('change' as const),
      plan: planIds,
      proration: fc.constantFrom('immediate' as const, 'next_period' as const),
    }),
  },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('cancel' as const), at: fc.constantFrom('now' as const, 'period_end' as const) }) },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant('subscribe' as const),
      plan: planIds,
      anchorBack: fc.option(fc.integer({ min: 0, max: 40 * DAY_MS }), { nil: null }),
    }),
  },
  { weight: 1, arbitrary: fc.constant({ op: 'sweep' as const }) },
);

const COVERAGE = [
  'debit:debited',
  'debit:insufficient',
  'refund:refunded',
  'change:changed',
  'change:unchanged',
  'change:not_found',
  'cancel:canceled',
  'cancel:unchanged',
  'subscribe:subscribed',
  'subscribe:already_subscribed',
  'grant:granted',
  'sweep:swept',
  'rollover',
];

const viewOf = (s: Record<string, unknown> | null | undefined): View | null => {
  if (s === null || s === undefined) return null;
  const pc = s.pendingChange as { planId: string; at: number } | null;
  return {
    planId: s.planId as string,
    status: s.status as string,
    anchor: s.anchor as number,
    since: s.since as number,
    period: s.period as View['period'],
    allowance: s.allowance as View['allowance'],
    pendingChange: pc === null ? null : { planId: pc.planId, at: pc.at },
    cancelAt: s.cancelAt as number | null,
  };
};

/** A LedgerError's code; an unexpected one (internal) with its message, so a failure says what broke. */
const errorOf = (e: unknown) => {
  const code = String((e as { code?: unknown }).code ?? 'thrown');
  return { error: code === 'internal' || code === 'thrown' ? `${code}: ${(e as Error).message}` : code };
};

describe.each(DRIVERS)('plans: model-based property on $name', (driver) => {
  let db: TestDb;
  const clock = manualClock(Date.UTC(2026, 0, 31, 7, 30));
  let run = 0;
  beforeAll(async () => {
    db = await driver.open({ clock: clock.now });
    for (const p of PLANS)
      await db.ledger.plans.define({ id: p.id, ...(p.allowance === null ? { features: { x: true } } : { allowance: p.allowance }) });
  });
  afterAll(() => db.close());

  const full = driver.name.startsWith('better-sqlite3');
  const runs = full ? 60 : driver.slow ? 3 : 15;
  const steps = driver.slow ? 20 : 50;

  it(`agrees with the reference model after every step (${runs} runs of up to ${steps} steps); verify and rebuild agree`, async () => {
    const seen = new Map<string, number>();
    const count = (label: string) => seen.set(label, (seen.get(label) ?? 0) + 1);
    await fc.assert(
      fc.asyncProperty(planIds, fc.array(stepArb, { minLength: 5, maxLength: steps, size: 'max' }), async (first, ops) => {
        const account = `plans-r${++run}`;
        const m = new PlanModel(clock.now());
        const debitIds: string[] = [];
        const ledger = db.ledger;
        const trace: string[] = [];
        const call = async (f: () => Promise<Result>): Promise<Result> => {
          try {
            return await f();
          } catch (e) {
            return errorOf(e);
          }
        };
        const sub = async (r: Promise<{ outcome: string; subscription: unknown }>): Promise<Result> => {
          const x = await r;
          return { outcome: x.outcome, subscription: viewOf(x.subscription as Record<string, unknown>) };
        };
        let lastEntry: string | undefined;
        const money = async (
          r: Promise<{ outcome: string; balance: number; available: number; entry?: { id: string } }>,
        ): Promise<Result> => {
          const x = await r;
          lastEntry = x.entry?.id;
          return { outcome: x.outcome, balance: x.balance, available: x.available };
        };
        const check = async (what: string) => {
          m.settle();
          const b = await ledger.getBalance(account);
          expect({ balance: b.balance, available: b.available }, what).toEqual({
            balance: m.balance(),
            available: Math.max(0, m.balance()),
          });
          expect(viewOf((await ledger.plans.subscription(account)) as unknown as Record<string, unknown>), what).toEqual(m.view());
          const [c] = await db.all(
            `SELECT TOTAL(delta) AS delta, TOTAL(CASE WHEN kind IN ('grant', 'refund') THEN amount WHEN kind IN ('debit', 'expire') THEN -amount ELSE 0 END) AS signed,
               (SELECT balance FROM credit_entry WHERE account = ? ORDER BY seq DESC LIMIT 1) AS head
             FROM credit_entry WHERE account = ?`,
            [account, account],
          );
          expect({ delta: Number(c?.delta), signed: Number(c?.signed), head: Number(c?.head ?? 0) }, what).toEqual({
            delta: m.posted,
            signed: m.posted,
            head: m.posted,
          });
        };

        trace.push(`subscribe ${first}`);
        expect(await call(() => sub(ledger.plans.subscribe({ account, planId: first })))).toEqual(m.subscribe(planOf(first), undefined));
        await check('after the first subscribe');
        for (const step of ops) {
          trace.push(JSON.stringify(step));
          const what = trace.join('\n');
          let actual: Result;
          let expected: Result;
          switch (step.op) {
            case 'advance':
              clock.advance(step.ms);
              m.now = clock.now();
              if (step.quiet) continue;
              await check(what);
              continue;
            case 'debit':
              actual = await call(() => money(ledger.debitIfCovers({ account, amount: step.amount })));
              expected = m.debit(step.amount);
              if ('outcome' in actual && actual.outcome === 'debited') debitIds.push(lastEntry as string);
              break;
            case 'grant': {
              const expiresAt = step.lot === 'expiring' ? m.now + step.ms : undefined;
              const priority = step.lot === 'priority' ? step.priority : undefined;
              actual = await call(() => money(ledger.grant({ account, amount: step.amount, expiresAt, priority })));
              expected = m.grant(step.amount, priority, expiresAt);
              break;
            }
            case 'refund': {
              const open = m.debits.flatMap((d, k) => (d.refunded < d.amount ? [k] : []));
              const i = open[open.length - 1 - (step.n % Math.max(1, open.length))] ?? -1;
              const d = m.debits[i];
              if (d === undefined) continue;
              const amount = Math.max(1, Math.floor((d.amount - d.refunded) * step.part));
              actual = await call(() => money(ledger.refund({ entryId: debitIds[i] as string, amount })));
              expected = m.refund(d, amount);
              break;
            }
            case 'change':
              actual = await call(() => sub(ledger.plans.change({ account, planId: step.plan, proration: step.proration })));
              expected = m.change(planOf(step.plan), step.proration);
              break;
            case 'cancel':
              actual = await call(() => sub(ledger.plans.cancel({ account, at: step.at })));
              expected = m.cancel(step.at);
              break;
            case 'subscribe': {
              const anchor = step.anchorBack === null ? undefined : m.now - step.anchorBack;
              actual = await call(() => sub(ledger.plans.subscribe({ account, planId: step.plan, anchor })));
              expected = m.subscribe(planOf(step.plan), anchor);
              break;
            }
            case 'sweep':
              actual = await call(async () => {
                await ledger.sweep();
                return { outcome: 'swept' };
              });
              m.sweep();
              expected = { outcome: 'swept' };
              break;
          }
          expect(actual, what).toEqual(expected);
          count(`${step.op}:${'error' in actual ? actual.error : actual.outcome}`);
          if (m.view()?.allowance?.rollover) count('rollover');
          await check(what);
        }
      }),
      { numRuns: runs, seed: Number(process.env.FC_SEED ?? 7373) },
    );
    if (process.env.PROPERTY_COVERAGE) console.log(`[plans property] ${driver.name}: ${JSON.stringify(Object.fromEntries(seen))}`);
    if (full) {
      for (const must of COVERAGE)
        expect([...seen.keys()], `never reached ${must}: ${JSON.stringify(Object.fromEntries(seen))}`).toContain(must);
    }
    // Every subscription written down at the final time first (rebuild() applies a pending change
    // that is due and marks an unwritten period due, as the next settle would: src/plans/replay.ts).
    await db.ledger.sweep();
    const v = await db.ledger.verify();
    expect(v.problems).toEqual([]);
    expect(v.ok).toBe(true);
    const projections = async () => ({
      lots: await db.all('SELECT * FROM credit_lot ORDER BY id'),
      plans: await db.all('SELECT * FROM credit_plan ORDER BY id, version'),
      subscriptions: await db.all('SELECT * FROM credit_subscription ORDER BY account'),
    });
    const before = await projections();
    const rebuilt = await db.ledger.rebuild();
    expect(rebuilt.problems).toEqual([]);
    const after = await projections();
    expect({ lots: after.lots, plans: after.plans }).toEqual({ lots: before.lots, plans: before.plans });
    // rebuild() leaves a pending change whose time has come unapplied and the subscription due
    // (due_at 0), for the next settle to apply, as the triggers would have left it: the next
    // settle (here the sweep's) must bring every subscription back to what it was.
    await db.ledger.sweep();
    expect(await projections()).toEqual(before);
    expect((await db.ledger.verify()).problems).toEqual([]);
  });
});
