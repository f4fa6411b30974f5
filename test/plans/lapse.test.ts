/**
 * `cancel now` and `change immediate` end the allowance and rollover of the terms in force at
 * that moment — all of them, including a lot that was fully drawn when the terms ended: a
 * refund of the debit that drew it afterwards gives the credits back to a lot that has
 * lapsed, so they stop counting at once (they must not become spendable again until the
 * period's end). Found by test/plans/property.test.ts (FC_SEED=2).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { DAY_MS } from '../../src/plans/period.js';
import { DRIVERS, manualClock, type TestDb } from '../support/drivers.js';

describe.each(DRIVERS)('plans on $name: a fully drawn allowance lapses with its terms', (driver) => {
  let db: TestDb | undefined;
  afterEach(async () => {
    await db?.close();
    db = undefined;
  });

  for (const end of ['cancel now', 'change immediate'] as const) {
    it(`${end}, then a refund of the debit that drew the whole allowance: nothing spendable`, async () => {
      const clock = manualClock(Date.UTC(2026, 0, 1));
      db = await driver.open({ clock: clock.now });
      const ledger = db.ledger;
      await ledger.plans.define({ id: 'daily', allowance: { amount: 10, every: 'day' } });
      await ledger.plans.define({ id: 'free' });
      await ledger.plans.subscribe({ account: 'a', planId: 'daily' });
      const d = await ledger.debitIfCovers({ account: 'a', amount: 10 });
      if (d.outcome !== 'debited') throw new Error(`debit: ${d.outcome}`);
      clock.advance(1000);
      if (end === 'cancel now') await ledger.plans.cancel({ account: 'a', at: 'now' });
      else await ledger.plans.change({ account: 'a', planId: 'free', proration: 'immediate' });
      clock.advance(1000);
      const r = await ledger.refund({ entryId: d.entry.id });
      expect({ balance: r.balance, available: r.available }).toEqual({ balance: 0, available: 0 });
      expect((await ledger.debitIfCovers({ account: 'a', amount: 1 })).outcome).toBe('insufficient');
      // The lot lapsed when the terms ended, not at the end of the period.
      const [lot] = await ledger.lots('a');
      expect(lot === undefined || (lot.expiresAt !== null && lot.expiresAt < Date.UTC(2026, 0, 1) + DAY_MS)).toBe(true);
      expect((await ledger.verify()).problems).toEqual([]);
    });
  }
});
