/**
 * A call reads its clock before it waits for the write lock: under contention its `now` can
 * be older than rows other processes committed meanwhile — even rows of a later period
 * (seen in test/reliability/crash-plans.test.ts on libSQL: a debit whose clock was read
 * 16 calls before it committed). The spend guard accepts such a spend when nothing is due
 * at its `now` (the later period's allowance is already written); the auditor must accept
 * what the ledger accepted.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { DAY_MS } from '../../src/plans/period.js';
import { DRIVERS, type TestDb } from '../support/drivers.js';

describe.each(DRIVERS.filter((d) => !d.slow && d.name !== 'bun:sqlite'))(
  'plans on $name: a spend with a clock older than the newest rows',
  (driver) => {
    let db: TestDb | undefined;
    afterEach(async () => {
      await db?.close();
      db = undefined;
    });

    it('is accepted by the guard, and verify() agrees', async () => {
      const start = Date.UTC(2026, 5, 1, 12);
      let t = start;
      db = await driver.open({ clock: () => t });
      const ledger = db.ledger;
      await ledger.plans.define({ id: 'daily', allowance: { amount: 20, every: 'day', rollover: { max: 10 } } });
      await ledger.plans.subscribe({ account: 'a', planId: 'daily' });
      // Day 1 passes with no call; at day 2 + 2 h a spend writes day 2's allowance (and day 1's is never written).
      t = start + 2 * DAY_MS + 2 * 3_600_000;
      expect((await ledger.debitIfCovers({ account: 'a', amount: 5 })).outcome).toBe('debited');
      // A second process whose clock was read at day 1 + 20 h, before it waited for the lock.
      const stale = db.another === undefined ? ledger : await db.another();
      t = start + DAY_MS + 20 * 3_600_000;
      const r = await stale.debitIfCovers({ account: 'a', amount: 3 });
      expect(r.outcome).toBe('debited');
      t = start + 2 * DAY_MS + 3 * 3_600_000;
      expect((await ledger.verify()).problems).toEqual([]);
    });
  },
);
