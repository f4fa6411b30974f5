import { afterAll, beforeAll } from 'vitest';
import { type DriverSpec, manualClock, type TestDb } from './drivers.js';

let counter = 0;
/** A fresh account name per test, so tests on one shared database never interfere. */
export const uniq = (prefix = 'acct') => `${prefix}_${++counter}_${Math.random().toString(36).slice(2, 8)}`;

/** Opens one migrated database per driver for a describe block, with a movable clock. */
export function useDb(driver: DriverSpec) {
  const clock = manualClock();
  const ctx = { db: undefined as unknown as TestDb, clock };
  beforeAll(async () => {
    ctx.db = await driver.open({ clock: clock.now });
  });
  afterAll(async () => {
    await ctx.db?.close();
  });
  return ctx;
}
