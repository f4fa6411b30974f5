/**
 * A second ledger instance that has not seen subscriptions (on D1 and libSQL it then leaves
 * the settle statements out of its spends) meets an account another instance subscribed:
 * its spend's own guard refuses while the allowance is due, and the spend is sent again with
 * them — the allowance is written once and drawn first, on every driver.
 */
import { describe, expect, it } from 'vitest';
import { DRIVERS } from '../support/drivers.js';
import { uniq, useDb } from '../support/suite.js';

const DAY = 86_400_000;

describe.each(DRIVERS.filter((d) => !d.name.startsWith('bun')))('a ledger that has not seen subscriptions, on $name', (driver) => {
  const t = useDb(driver);

  it('spends on an account subscribed elsewhere draw its due allowance first, written once', async () => {
    t.clock.set(Date.UTC(2027, 4, 1, 12));
    const other = await t.db.another?.();
    if (other === undefined) throw new Error('the driver offers no second ledger');
    const a = uniq();
    // The other instance learns that there are no subscriptions (yet) with its first write.
    await other.grant({ account: a, amount: 500 });
    expect((await other.debitIfCovers({ account: a, amount: 1 })).outcome).toBe('debited');
    const planId = uniq();
    await t.db.ledger.plans.define({ id: planId, allowance: { amount: 100, every: 'day' } });
    await t.db.ledger.plans.subscribe({ account: a, planId });
    t.clock.set(Date.UTC(2027, 4, 1, 12) + DAY);
    const d = await other.debitIfCovers({ account: a, amount: 150 });
    expect(d).toMatchObject({ outcome: 'debited' });
    const drawn = await other.allocations(d.entry?.id ?? '');
    expect(drawn.map((x) => x.amount)).toEqual([100]); // the day's allowance, then 50 purchased
    const rows = await t.db.all(
      "SELECT idempotency_key AS k FROM credit_entry WHERE account = ? AND kind = 'grant' AND substr(idempotency_key, 1, 1) = '$'",
      [a],
    );
    expect(rows).toHaveLength(2); // the first day's (at subscribe) and this day's
    expect((await other.verify()).problems).toEqual([]);
  });

  it('a ledger that remembers an account as unsubscribed (stale: subscribed elsewhere since) still draws its allowance first', async () => {
    t.clock.set(Date.UTC(2027, 6, 1, 12));
    const other = await t.db.another?.();
    if (other === undefined) throw new Error('the driver offers no second ledger');
    const a = uniq();
    const plan = uniq();
    await t.db.ledger.plans.define({ id: plan, allowance: { amount: 1_000, every: 'month' } });
    await other.grant({ account: a, amount: 500 });
    expect((await other.debitIfCovers({ account: a, amount: 1 })).outcome).toBe('debited'); // remembers: no subscription
    expect((await other.debitIfCovers({ account: a, amount: 1 })).outcome).toBe('debited');
    await t.db.ledger.plans.subscribe({ account: a, planId: plan });
    t.clock.set(Date.UTC(2027, 7, 2, 12)); // the next month: its allowance is due, and unwritten
    const d = await other.debitIfCovers({ account: a, amount: 600 });
    expect(d).toMatchObject({ outcome: 'debited' });
    expect((await other.allocations(d.entry?.id ?? '')).map((x) => x.amount)).toEqual([600]); // all from August's allowance
    expect(await other.getBalance(a)).toMatchObject({ available: 400 + 498 });
    expect((await other.verify()).problems).toEqual([]);
  });
});
