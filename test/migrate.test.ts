import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { drizzle } from 'drizzle-orm/better-sqlite3';
import { migrate as drizzleMigrate } from 'drizzle-orm/better-sqlite3/migrator';
import { afterEach, describe, expect, it } from 'vitest';
import { createLedger, MIGRATIONS_TABLE } from '../src/index.js';
import { MIGRATIONS } from '../src/migrate/index.js';
import { DRIVERS } from './support/drivers.js';

describe.each(DRIVERS)('migrate() on $name', (driver) => {
  it('creates the schema once, tracks it in its own table, and is idempotent', async () => {
    const db = await driver.open({ migrate: false });
    try {
      await expect(db.ledger.grant({ account: 'a', amount: 1 })).rejects.toMatchObject({ code: 'schema_missing' });
      await expect(db.ledger.getBalance('a')).rejects.toMatchObject({ code: 'schema_missing' });
      const first = await db.ledger.migrate();
      expect(first.applied).toEqual(MIGRATIONS.map((m) => m.tag));
      expect(first.version).toBe(MIGRATIONS.length);
      const second = await db.ledger.migrate();
      expect(second.applied).toEqual([]);
      const rows = await db.all(`SELECT id, tag, hash FROM ${MIGRATIONS_TABLE} ORDER BY id`);
      expect(rows).toEqual(MIGRATIONS.map((m) => ({ id: m.id, tag: m.tag, hash: m.hash })));
      // No views: drizzle-kit push/pull (0.31) fail on a multi-line view, so 0008 dropped
      // credit_allocation and the schema keeps none (an app's drizzle-kit must work beside it).
      expect(await db.all("SELECT name FROM sqlite_master WHERE type = 'view'")).toEqual([]);
      expect((await db.ledger.grant({ account: 'a', amount: 1 })).outcome).toBe('granted');
    } finally {
      await db.close();
    }
  });

  it('upgrades a 0006 database (ULID ids, allocation table) to log positions, keeping every draw, hold and id', async () => {
    const db = await driver.open({ migrate: false });
    try {
      const upTo = MIGRATIONS.findIndex((m) => m.tag.startsWith('0007_'));
      expect(upTo).toBeGreaterThan(0);
      await db.all(
        `CREATE TABLE ${MIGRATIONS_TABLE} (id INTEGER PRIMARY KEY NOT NULL, tag TEXT NOT NULL, hash TEXT NOT NULL, applied_at INTEGER NOT NULL)`,
      );
      for (const m of MIGRATIONS.slice(0, upTo)) {
        for (const sql of m.statements) await db.all(sql);
        await db.all(`INSERT INTO ${MIGRATIONS_TABLE} (id, tag, hash, applied_at) VALUES (?, ?, ?, 0)`, [m.id, m.tag, m.hash]);
      }
      // What the 0006 library wrote for: two lots, a debit of 15 drawing both, a refund of 2,
      // and a hold of 3 still open (its TTL far ahead of the test clock).
      const cols = 'id, account, seq, kind, delta, amount, balance, ref, expires_at, priority, created_at';
      const far = 4_000_000_000_000;
      const rows = [
        ['g1', 'u', 1, 'grant', 10, 10, 10, null, null, 1, 1],
        ['g2', 'u', 2, 'grant', 10, 10, 20, null, null, 2, 2],
        ['d1', 'u', 3, 'debit', -15, 15, 5, null, null, null, 3],
        ['r1', 'u', 4, 'refund', 2, 2, 7, 'd1', null, null, 4],
        ['h1', 'u', 5, 'hold', 0, 3, 7, null, far, null, 5],
      ];
      for (const r of rows)
        await db.all(
          `INSERT INTO credit_entry (${cols}) VALUES (${cols
            .split(',')
            .map(() => '?')
            .join(', ')})`,
          r,
        );
      await db.all(`INSERT INTO credit_lot (id, account, seq, amount, remaining, priority, expires_at, created_at)
                    VALUES ('g1', 'u', 1, 10, 10, 1, NULL, 1), ('g2', 'u', 2, 10, 10, 2, NULL, 2)`);
      await db.all(`INSERT INTO credit_hold (id, account, amount, expires_at, status, resolved_by, created_at)
                    VALUES ('h1', 'u', 3, ${far}, 'open', NULL, 5)`);
      // The 0006 trigger on credit_allocation applies these to credit_lot.remaining.
      await db.all(`INSERT INTO credit_allocation (entry_id, lot_id, account, amount, ord)
                    VALUES ('d1', 'g1', 'u', 10, 1), ('d1', 'g2', 'u', 5, 2), ('r1', 'g2', 'u', -2, 1)`);

      const up = await db.ledger.migrate();
      expect(up.applied).toEqual(MIGRATIONS.slice(upTo).map((m) => m.tag));
      // Rows keep their order: positions follow insertion, so g1..h1 are 1..5.
      expect((await db.ledger.history('u')).entries.map((e) => [e.id, e.kind, e.ref])).toEqual([
        ['ce_5', 'hold', null],
        ['ce_4', 'refund', 'ce_3'],
        ['ce_3', 'debit', null],
        ['ce_2', 'grant', null],
        ['ce_1', 'grant', null],
      ]);
      // Old ULIDs still name their entries; answers use the new ids.
      expect(await db.ledger.allocations('d1')).toEqual([
        { entryId: 'ce_3', lotId: 'ce_1', amount: 10, ord: 1 },
        { entryId: 'ce_3', lotId: 'ce_2', amount: 5, ord: 2 },
      ]);
      expect(await db.ledger.allocations('ce_3')).toEqual(await db.ledger.allocations('d1'));
      expect(await db.ledger.allocations('r1')).toEqual([{ entryId: 'ce_4', lotId: 'ce_2', amount: -2, ord: 1 }]);
      expect((await db.ledger.lots('u')).map((l) => [l.id, l.remaining])).toEqual([['ce_2', 7]]);
      expect(await db.ledger.holds('u')).toEqual([expect.objectContaining({ id: 'ce_5', amount: 3, status: 'open' })]);
      expect(await db.ledger.verify()).toMatchObject({ ok: true, problemCount: 0 });
      // A hold and a debit named by their old ids still resolve and refund.
      const cap = await db.ledger.capture({ holdId: 'h1', amount: 2 });
      expect(cap).toMatchObject({ outcome: 'captured', hold: { id: 'ce_5', status: 'captured' }, entry: { ref: 'ce_5' } });
      const ref = await db.ledger.refund({ entryId: 'd1', amount: 1 });
      expect(ref).toMatchObject({ outcome: 'refunded', entry: { ref: 'ce_3' }, refundable: 12 });
      // New draws go through the new trigger.
      const d = await db.ledger.debitIfCovers({ account: 'u', amount: 6 });
      expect(d.entry?.id).toBe('ce_8');
      expect(await db.ledger.allocations(d.entry!.id)).toEqual([{ entryId: 'ce_8', lotId: 'ce_2', amount: 6, ord: 1 }]);
      expect(await db.ledger.verify()).toMatchObject({ ok: true, problemCount: 0 });
    } finally {
      await db.close();
    }
  });

  it('refuses a database migrated by a newer version of the package', async () => {
    const db = await driver.open();
    try {
      await db.all(`INSERT INTO ${MIGRATIONS_TABLE} (id, tag, hash, applied_at) VALUES (?, 'future', 'x', 0)`, [MIGRATIONS.length + 1]);
      await expect(db.ledger.migrate()).rejects.toMatchObject({ code: 'schema_newer' });
    } finally {
      await db.close();
    }
  });
});

describe('migrate() beside an app that has its own drizzle migrations', () => {
  let dir: string;
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  /** A real drizzle-kit style migrations folder for "the app", newer than ours by timestamp. */
  function appMigrations(): string {
    const folder = join(dir, 'app-drizzle');
    mkdirSync(join(folder, 'meta'), { recursive: true });
    writeFileSync(join(folder, '0000_app.sql'), 'CREATE TABLE `app_user` (`id` integer PRIMARY KEY NOT NULL, `name` text);');
    writeFileSync(
      join(folder, 'meta/_journal.json'),
      JSON.stringify({
        version: '7',
        dialect: 'sqlite',
        entries: [{ idx: 0, version: '6', when: 4_102_444_800_000, tag: '0000_app', breakpoints: true }],
      }),
    );
    return folder;
  }

  it.each(['app first', 'ledger first'])('%s: both sets apply and neither disturbs the other', async (order) => {
    dir = mkdtempSync(join(tmpdir(), 'drizzle-credits-mig-'));
    const client = new Database(join(dir, 'app.db'));
    const db = drizzle(client);
    const ledger = createLedger(db);
    const folder = appMigrations();
    if (order === 'app first') {
      drizzleMigrate(db, { migrationsFolder: folder });
      await ledger.migrate();
    } else {
      await ledger.migrate();
      drizzleMigrate(db, { migrationsFolder: folder });
    }
    // Run both again: nothing new either side.
    drizzleMigrate(db, { migrationsFolder: folder });
    expect((await ledger.migrate()).applied).toEqual([]);
    const tables = client.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as { name: string }[];
    expect(tables.map((t) => t.name)).toEqual(
      expect.arrayContaining(['app_user', 'credit_entry', '__drizzle_migrations', MIGRATIONS_TABLE]),
    );
    expect(client.prepare('SELECT COUNT(*) AS n FROM __drizzle_migrations').get()).toEqual({ n: 1 });
    expect(client.prepare(`SELECT COUNT(*) AS n FROM ${MIGRATIONS_TABLE}`).get()).toEqual({ n: MIGRATIONS.length });
    expect((await ledger.grant({ account: 'a', amount: 5 })).balance).toBe(5);
    client.close();
  });

  it('two processes migrating one file at once both succeed', async () => {
    dir = mkdtempSync(join(tmpdir(), 'drizzle-credits-mig-'));
    const { createClient } = await import('@libsql/client');
    const { drizzle: drizzleLibsql } = await import('drizzle-orm/libsql');
    const url = `file:${join(dir, 'race.db')}`;
    const clients = [0, 1, 2].map(() => createClient({ url, timeout: 5000 } as never));
    const results = await Promise.all(clients.map((c) => createLedger(drizzleLibsql(c)).migrate()));
    expect(results.flatMap((r) => r.applied)).toEqual(MIGRATIONS.map((m) => m.tag));
    for (const c of clients) c.close();
  });
});
