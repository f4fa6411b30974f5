/**
 * ledger.plans on every driver: versions; allowances spendable from the period's first
 * millisecond with no sweep, drawn before purchased credits and never touching them;
 * Stripe anchoring through the ledger (31 Jan → 28 Feb → 31 Mar); idle months; rollover;
 * changes and cancellations; the sweep writing allowances for idle accounts; replays,
 * conflicts and misuse; the auditor's view. Each test takes its own accounts and plans.
 */
import { describe, expect, it } from 'vitest';
import { LedgerError } from '../../src/index.js';
import { DRIVERS } from '../support/drivers.js';
import { uniq, useDb } from '../support/suite.js';

const DAY = 86_400_000;
const utc = (s: string) => Date.parse(`${s}Z`);

describe.each(DRIVERS)('plans on $name', (driver) => {
  const t = useDb(driver);
  const l = () => t.db.ledger;
  const allowanceRows = async (a: string) =>
    (
      await t.db.all(
        "SELECT idempotency_key AS k, amount FROM credit_entry WHERE account = ? AND kind = 'grant' AND idempotency_key LIKE '$%' ORDER BY seq",
        [a],
      )
    ).map((r) => [String(r.k).split(':')[0], Number(r.amount)]);
  const clean = async () => expect((await l().verify()).problems.slice(0, 3)).toEqual([]);

  async function plan(allowance: number, every: 'day' | 'week' | 'month' | 'year' = 'month', rollover?: number, features = {}) {
    const id = uniq();
    await l().plans.define({ id, allowance: { amount: allowance, every, ...(rollover ? { rollover: { max: rollover } } : {}) }, features });
    return id;
  }

  it('define: versions are immutable; an identical definition replays, a different one is the next version', async () => {
    t.clock.set(utc('2027-01-01T00:00:00'));
    const id = uniq();
    const v1 = await l().plans.define({ id, name: 'Pro', allowance: { amount: 1_000, every: 'month' }, features: { gpt4: true } });
    expect(v1).toMatchObject({
      outcome: 'defined',
      plan: { id, version: 1, name: 'Pro', allowance: { amount: 1_000, every: 'month', rollover: null } },
    });
    expect(v1.outcome === 'defined' && v1.entry).toMatchObject({ account: `$plan:${id}`, kind: 'plan_define', delta: 0, seq: 1 });
    expect(await l().plans.define({ id, name: 'Pro', allowance: { amount: 1_000, every: 'month' }, features: { gpt4: true } })).toEqual({
      outcome: 'replayed',
      plan: v1.plan,
    });
    const v2 = await l().plans.define({ id, name: 'Pro', allowance: { amount: 2_000, every: 'month' }, features: { gpt4: true } });
    expect(v2).toMatchObject({ outcome: 'defined', plan: { version: 2, allowance: { amount: 2_000 } } });
    expect(await l().plans.get(id)).toEqual(v2.plan);
    expect(await l().plans.get(id, { version: 1 })).toEqual(v1.plan);
    expect(await l().plans.get(uniq())).toBeNull();
    expect((await l().plans.list()).find((p) => p.id === id)).toEqual(v2.plan);
    await clean();
  });

  it('the allowance is spendable from the first millisecond of the period, with no sweep, drawn before purchased credits', async () => {
    const start = utc('2027-03-01T00:00:00');
    t.clock.set(start - 5 * DAY);
    const a = uniq();
    const p = await plan(1_000, 'month');
    await l().grant({ account: a, amount: 500, reason: 'purchase' });
    const s = await l().plans.subscribe({ account: a, planId: p, anchor: start - 28 * DAY });
    expect(s).toMatchObject({ outcome: 'subscribed', subscription: { status: 'active', allowance: { amount: 1_000, remaining: 1_000 } } });
    await l().debitIfCovers({ account: a, amount: 1_000 }); // the first period's allowance, all of it
    expect(await l().getBalance(a)).toMatchObject({ balance: 500, available: 500 });
    // The next period starts at `start` (the anchor's day): spendable at once, no sweep ran.
    const next = s.subscription.period?.end ?? 0;
    t.clock.set(next);
    const d = await l().debitIfCovers({ account: a, amount: 1_200 });
    expect(d).toMatchObject({ outcome: 'debited', balance: 300 });
    expect(await l().allocations(d.entry?.id ?? '')).toHaveLength(1); // the allowance lot, then 200 unlotted purchased
    expect(await allowanceRows(a)).toEqual([
      ['$allowance', 1_000],
      ['$allowance', 1_000],
    ]);
    // The allowance lapses at the period's end; purchased credits stay.
    t.clock.set(next + 40 * DAY);
    expect((await l().getBalance(a)).available).toBe(1_300);
    await clean();
  });

  it('purchased credits are untouched by the expiry of an unused allowance', async () => {
    t.clock.set(utc('2027-05-10T12:00:00'));
    const a = uniq();
    const p = await plan(700, 'week');
    await l().plans.subscribe({ account: a, planId: p });
    await l().grant({ account: a, amount: 300 });
    expect(await l().getBalance(a)).toMatchObject({ balance: 1_000, available: 1_000 });
    t.clock.set(utc('2027-05-17T12:00:00')); // the next week: last week's 700 lapsed, this week's 700 is there
    expect(await l().getBalance(a)).toMatchObject({ available: 1_000 });
    await l().sweep();
    expect(await l().getBalance(a)).toMatchObject({ balance: 1_000, available: 1_000 });
    await l().plans.cancel({ account: a, at: 'now' });
    expect(await l().getBalance(a)).toMatchObject({ available: 300 });
    await clean();
  });

  it('monthly on the 31st: 31 Jan → 28 Feb → 31 Mar → 30 Apr, in a leap year 29 Feb', async () => {
    for (const [year, feb] of [
      [2027, '28'],
      [2028, '29'],
    ] as const) {
      t.clock.set(utc(`${year}-01-31T09:00:00`));
      const a = uniq();
      await l().plans.subscribe({ account: a, planId: await plan(100, 'month') });
      const starts: string[] = [];
      for (const day of [`${year}-01-31`, `${year}-02-${feb}`, `${year}-03-31`, `${year}-04-30`]) {
        t.clock.set(utc(`${day}T09:00:00`));
        const s = await l().plans.subscription(a);
        starts.push(new Date(s?.period?.start ?? 0).toISOString().slice(0, 10));
        expect(s?.allowance).toMatchObject({ amount: 100, remaining: 100 });
      }
      expect(starts).toEqual([`${year}-01-31`, `${year}-02-${feb}`, `${year}-03-31`, `${year}-04-30`]);
      expect((await allowanceRows(a)).length).toBe(4);
    }
    await clean();
  });

  it('yearly on 29 February falls on 28 February in other years', async () => {
    t.clock.set(utc('2028-02-29T00:00:00'));
    const a = uniq();
    await l().plans.subscribe({ account: a, planId: await plan(10_000, 'year') });
    t.clock.set(utc('2029-03-01T00:00:00'));
    expect((await l().plans.subscription(a))?.period).toEqual({ start: utc('2029-02-28T00:00:00'), end: utc('2030-02-28T00:00:00') });
  });

  it('an account idle for months gets the current period allowance and one rollover, not the missed ones', async () => {
    t.clock.set(utc('2027-01-15T00:00:00'));
    const a = uniq();
    await l().plans.subscribe({ account: a, planId: await plan(1_000, 'month', 400) });
    await l().debitIfCovers({ account: a, amount: 900 });
    t.clock.set(utc('2027-06-20T00:00:00'));
    const d = await l().debitIfCovers({ account: a, amount: 1 });
    // May was idle (its whole allowance unused): 400 rolls into June; Feb–May wrote nothing.
    expect(d).toMatchObject({ outcome: 'debited', balance: 400 + 1_000 - 1 }); // January's 100 left lapsed
    expect(await l().getBalance(a)).toMatchObject({ available: 1_399 });
    expect(await allowanceRows(a)).toEqual([
      ['$allowance', 1_000],
      ['$rollover', 400],
      ['$allowance', 1_000],
    ]);
    await clean();
  });

  it('rollover: the unused allowance up to max, into the next period only, drawn first', async () => {
    t.clock.set(utc('2027-01-01T00:00:00'));
    const a = uniq();
    await l().plans.subscribe({ account: a, planId: await plan(100, 'day', 30) });
    await l().debitIfCovers({ account: a, amount: 80 }); // 20 unused
    t.clock.set(utc('2027-01-02T00:00:00'));
    expect(await l().plans.subscription(a)).toMatchObject({ allowance: { amount: 100, rollover: 20, remaining: 120 } });
    await l().debitIfCovers({ account: a, amount: 10 }); // from the rollover (older lot, same expiry)
    t.clock.set(utc('2027-01-03T00:00:00'));
    // 110 unused yesterday: the allowance lot's 100 is all left, capped at 30; the rollover lot's 10 does not roll again.
    expect(await l().plans.subscription(a)).toMatchObject({ allowance: { rollover: 30, remaining: 130 } });
    await clean();
  });

  it('change immediate: the current allowance lapses, the new plan grants its own for the rest of the period', async () => {
    t.clock.set(utc('2027-04-10T00:00:00'));
    const a = uniq();
    const basic = await plan(100, 'month', 0, { gpt4: false, seats: 1 });
    const pro = await plan(1_000, 'month', 0, { gpt4: true, seats: 5 });
    await l().plans.subscribe({ account: a, planId: basic, anchor: utc('2027-04-01T00:00:00') });
    await l().grant({ account: a, amount: 50 });
    await l().debitIfCovers({ account: a, amount: 30 });
    expect(await l().plans.checkFeature(a, 'gpt4')).toEqual({ enabled: false, value: false });
    t.clock.set(utc('2027-04-20T00:00:00'));
    const c = await l().plans.change({ account: a, planId: pro, proration: 'immediate' });
    expect(c).toMatchObject({ outcome: 'changed', subscription: { planId: pro, allowance: { amount: 1_000, remaining: 1_000 } } });
    expect(c.subscription.period).toEqual({ start: utc('2027-04-01T00:00:00'), end: utc('2027-05-01T00:00:00') });
    expect(await l().getBalance(a)).toMatchObject({ available: 1_050 }); // basic's 70 left lapsed; the 50 purchased stay
    expect(await l().plans.entitlements(a)).toEqual({ gpt4: true, seats: 5 });
    expect(await l().plans.checkFeature(a, 'seats')).toEqual({ enabled: true, value: 5 });
    expect(await l().plans.checkFeature(a, 'sso')).toEqual({ enabled: false, value: null });
    // The same terms again: nothing to write.
    expect(await l().plans.change({ account: a, planId: pro, proration: 'immediate' })).toMatchObject({ outcome: 'unchanged' });
    await clean();
    expect((await l().rebuild()).problems).toEqual([]);
    await clean();
  });

  it('change next_period: the new plan from the period end; cancel period_end: no allowance after it', async () => {
    t.clock.set(utc('2027-04-10T00:00:00'));
    const a = uniq();
    const small = await plan(100, 'month');
    const big = await plan(500, 'month');
    await l().plans.subscribe({ account: a, planId: small, anchor: utc('2027-04-01T00:00:00') });
    const c = await l().plans.change({ account: a, planId: big, proration: 'next_period' });
    expect(c).toMatchObject({
      outcome: 'changed',
      subscription: { planId: small, pendingChange: { planId: big, at: utc('2027-05-01T00:00:00') } },
    });
    expect(await l().getBalance(a)).toMatchObject({ available: 100 });
    t.clock.set(utc('2027-05-01T00:00:00'));
    expect(await l().getBalance(a)).toMatchObject({ available: 500 });
    expect(await l().plans.subscription(a)).toMatchObject({ planId: big, pendingChange: null, allowance: { amount: 500 } });
    const k = await l().plans.cancel({ account: a, at: 'period_end' });
    expect(k).toMatchObject({ outcome: 'canceled', subscription: { status: 'canceling', cancelAt: utc('2027-06-01T00:00:00') } });
    expect(await l().plans.cancel({ account: a, at: 'period_end' })).toMatchObject({ outcome: 'unchanged' });
    t.clock.set(utc('2027-06-15T00:00:00'));
    expect(await l().getBalance(a)).toMatchObject({ available: 0 });
    expect(await l().plans.subscription(a)).toMatchObject({ status: 'canceled', period: null, allowance: null });
    expect(await l().plans.entitlements(a)).toEqual({});
    // Ended: a new subscription is allowed.
    expect((await l().plans.subscribe({ account: a, planId: small })).outcome).toBe('subscribed');
    await clean();
  });

  it('sweep writes the allowance of idle accounts; a later spend does not write it again', async () => {
    t.clock.set(utc('2027-08-01T00:00:00'));
    const a = uniq();
    await l().plans.subscribe({ account: a, planId: await plan(300, 'day') });
    t.clock.set(utc('2027-08-03T06:00:00'));
    const r = await l().sweep();
    expect(r.subscriptionsSettled).toBeGreaterThanOrEqual(1);
    expect((await allowanceRows(a)).length).toBe(2);
    await l().debitIfCovers({ account: a, amount: 10 });
    expect((await allowanceRows(a)).length).toBe(2);
    await clean();
  });

  it('batch: the ops of a subscribed account at a new period write its allowance once and draw it first', async () => {
    t.clock.set(utc('2027-11-01T00:00:00'));
    const a = uniq();
    const b = uniq();
    const p = await plan(50, 'day');
    await l().plans.subscribe({ account: a, planId: p });
    await l().plans.subscribe({ account: b, planId: p });
    await l().grant({ account: a, amount: 1_000 });
    t.clock.set(utc('2027-11-03T00:00:00'));
    const results = await l().batch([
      { op: 'debit', account: a, amount: 30 },
      { op: 'debit', account: b, amount: 50 },
      { op: 'debit', account: a, amount: 30 },
      { op: 'debit', account: b, amount: 1 },
    ]);
    expect(results.map((r) => r.outcome)).toEqual(['debited', 'debited', 'debited', 'insufficient']);
    expect(await l().getBalance(a)).toMatchObject({ available: 50 + 1_000 - 60 });
    expect(await l().lots(a)).toEqual([]); // the day's 50 drawn first, all of it
    expect((await allowanceRows(a)).length).toBe(2);
    expect((await allowanceRows(b)).length).toBe(2);
    await clean();
  });

  it('holds, captures and negative adjustments at a new period see its allowance first', async () => {
    t.clock.set(utc('2027-12-01T10:00:00'));
    const a = uniq();
    await l().plans.subscribe({ account: a, planId: await plan(100, 'day') });
    t.clock.set(utc('2027-12-02T10:00:00'));
    const h = await l().hold({ account: a, amount: 80, ttlMs: 2 * DAY });
    expect(h.outcome).toBe('held');
    t.clock.set(utc('2027-12-03T10:00:00'));
    // A new day: the capture draws the new day's allowance (the hold reserved an amount, not credits).
    const c = h.outcome === 'held' ? await l().capture({ holdId: h.hold.id, amount: 80 }) : null;
    expect(c).toMatchObject({ outcome: 'captured' });
    t.clock.set(utc('2027-12-04T10:00:00'));
    expect(await l().adjust({ account: a, delta: -100, reason: 'correction' })).toMatchObject({ outcome: 'adjusted' });
    expect(await l().getBalance(a)).toMatchObject({ available: 0 });
    expect((await allowanceRows(a)).length).toBe(4);
    await clean();
  });

  it('keyed calls replay or conflict; misuse writes nothing', async () => {
    t.clock.set(utc('2027-09-01T00:00:00'));
    const a = uniq();
    const p = await plan(100);
    const q = await plan(200);
    const s = await l().plans.subscribe({ account: a, planId: p, idempotencyKey: 'sub-1' });
    expect(await l().plans.subscribe({ account: a, planId: p, idempotencyKey: 'sub-1' })).toMatchObject({
      outcome: 'replayed',
      entry: { id: s.entry.id },
    });
    const code = (e: unknown) => (e instanceof LedgerError ? e.code : e);
    // A new period: the allowance is due; a refused call does not write it either.
    t.clock.set(utc('2027-10-05T00:00:00'));
    const before = await t.db.all('SELECT pos FROM credit_entry ORDER BY pos DESC LIMIT 1');
    expect(await l().plans.subscribe({ account: a, planId: q, idempotencyKey: 'sub-1' }).catch(code)).toBe('idempotency_conflict');
    expect(await l().plans.subscribe({ account: a, planId: q }).catch(code)).toBe('already_subscribed');
    expect(await l().plans.subscribe({ account: uniq(), planId: uniq() }).catch(code)).toBe('not_found');
    expect(await l().plans.change({ account: uniq(), planId: p, proration: 'immediate' }).catch(code)).toBe('not_found');
    expect(await l().plans.cancel({ account: uniq(), at: 'now' }).catch(code)).toBe('not_found');
    expect(await l().plans.subscribe({ account: '$x', planId: p }).catch(code)).toBe('invalid_account');
    expect(
      await l()
        .plans.define({ id: 'x', allowance: { amount: 0, every: 'month' } } as never)
        .catch(code),
    ).toBe('invalid_argument');
    expect(
      await l()
        .plans.define({ id: 'x', allowance: { amount: 1, every: 'fortnight' } } as never)
        .catch(code),
    ).toBe('invalid_argument');
    expect(await t.db.all('SELECT pos FROM credit_entry ORDER BY pos DESC LIMIT 1')).toEqual(before);
    await clean();
  });

  it('the auditor: a tampered subscription or plan is reported, rebuild restores it', async () => {
    t.clock.set(utc('2027-10-01T00:00:00'));
    const a = uniq();
    const p = await plan(100);
    await l().plans.subscribe({ account: a, planId: p });
    await t.db.exec(`UPDATE credit_subscription SET due_at = ${utc('2030-01-01T00:00:00')} WHERE account = '${a}'`);
    await t.db.exec(`UPDATE credit_plan SET allowance = 999 WHERE id = '${p}'`);
    const codes = (await l().verify()).problems.map((x) => x.code);
    expect(codes).toContain('subscription_mismatch');
    expect(codes).toContain('plan_mismatch');
    expect((await l().rebuild()).problems).toEqual([]);
    await clean();
  });
});
