/**
 * The ledger writes only to a schema its own migrate() built, checked once per instance on
 * its first write, on every driver.
 */
import { describe, expect, it } from 'vitest';
import { MIGRATIONS_TABLE } from '../src/index.js';
import { MIGRATIONS } from '../src/migrate/index.js';
import { LEDGER_TRIGGERS } from '../src/migrate/inspect.js';
import { DRIVERS, type TestDb } from './support/drivers.js';

const count = async (db: TestDb) => Number((await db.all('SELECT COUNT(*) AS n FROM credit_entry'))[0]?.n);

describe.each(DRIVERS)('schema check on $name', (driver) => {
  it('refuses to write to tables made without migrate() (no triggers, no migrations record), and says why', async () => {
    const db = await driver.open();
    try {
      // What an app's own drizzle-kit push of the exported schema leaves: the tables, none of
      // the triggers, no record in the ledger's migrations table.
      for (const t of LEDGER_TRIGGERS) await db.all(`DROP TRIGGER ${t}`);
      await db.all(`DROP TABLE ${MIGRATIONS_TABLE}`);
      const fresh = { ledger: await db.another!() };
      const e = await fresh.ledger.grant({ account: 'a', amount: 10, expiresAt: Date.now() + 60_000 }).catch((x) => x);
      expect(e).toMatchObject({ code: 'schema_missing' });
      expect(String(e.message)).toMatch(/not created by ledger\.migrate\(\)/);
      expect(String(e.message)).toContain('credit_entry_opens_lot');
      expect(await count(db)).toBe(0);
      const m = await fresh.ledger.migrate().catch((x) => x);
      expect(m).toMatchObject({ code: 'schema_conflict' });
      expect(String(m.message)).toMatch(/have this version's columns, but the triggers .*credit_entry_allocates.* are missing/);
      expect(m.details.differences).toEqual([]);
    } finally {
      await db.close();
    }
  });

  it("refuses a schema newer than the package's, and checks once per ledger instance", async () => {
    const db = await driver.open();
    try {
      expect((await db.ledger.grant({ account: 'a', amount: 10 })).outcome).toBe('granted');
      await db.all(`INSERT INTO ${MIGRATIONS_TABLE} (id, tag, hash, applied_at) VALUES (?, 'future', 'x', 0)`, [MIGRATIONS.length + 1]);
      // This instance proved the schema on its first write and does not pay for the check again.
      expect((await db.ledger.debitIfCovers({ account: 'a', amount: 1 })).outcome).toBe('debited');
      const fresh = { ledger: await db.another!() };
      await expect(fresh.ledger.debitIfCovers({ account: 'a', amount: 1 })).rejects.toMatchObject({
        code: 'schema_newer',
        details: { databaseVersion: MIGRATIONS.length + 1, expectedVersion: MIGRATIONS.length },
      });
      await expect(fresh.ledger.batch([{ op: 'debit', account: 'a', amount: 1 }])).rejects.toMatchObject({ code: 'schema_newer' });
      expect(await count(db)).toBe(2);
    } finally {
      await db.close();
    }
  });
});
