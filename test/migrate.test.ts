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
      expect((await db.ledger.grant({ account: 'a', amount: 1 })).outcome).toBe('granted');
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
