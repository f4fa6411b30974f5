/**
 * rebuild() racing writers in the same process, on every driver: it either rebuilds or
 * gives up with `busy` (the log kept growing); nothing else escapes, and the projections
 * it leaves agree with the log.
 */
import { describe, expect, it } from 'vitest';
import type { Ledger } from '../src/index.js';
import { DRIVERS } from './support/drivers.js';
import { type RaceReport, rebuildRace } from './support/races.js';

describe.each(DRIVERS)('rebuild() interleaved with a writer loop on $name', (driver) => {
  it('only rebuilt or busy; verify() ok after', async () => {
    const db = await driver.open();
    try {
      const rebuilds = driver.slow ? 5 : 15;
      const opts = { rebuilds, prefix: 'race' };
      const report =
        driver.name === 'bun:sqlite'
          ? ((await (db.ledger as unknown as { __rebuildRace(o: typeof opts): Promise<RaceReport> }).__rebuildRace(opts)) as RaceReport)
          : await rebuildRace(db.ledger as Ledger, opts);
      expect(report.escaped).toEqual([]);
      expect(report.rebuilt + report.busy).toBe(rebuilds);
      expect(report.writes).toBeGreaterThan(0);
      const v = await db.ledger.verify();
      expect(v.problems).toEqual([]);
      expect(v.ok).toBe(true);
    } finally {
      await db.close();
    }
  });
});
