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
});
