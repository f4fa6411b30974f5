/**
 * An app's own drizzle-kit on the ledger's database: with `ledgerTablesFilter` from
 * 'drizzle-credits/drizzle-kit' in its config, `push` creates the app's tables and leaves
 * every ledger table, index, trigger and row as it was, and `pull` writes a schema with
 * the app's tables only. Runs the real drizzle-kit binary on a better-sqlite3 file, with
 * `dialect: 'sqlite'` and with `dialect: 'turso'` on a `file:` URL (libSQL).
 *
 * No flags beyond --config: with the filter, push only adds the app's table, which is not
 * a data-loss statement, so drizzle-kit asks nothing and needs no --force.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { drizzle } from 'drizzle-orm/better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LEDGER_NAME_PREFIXES, ledgerTablesFilter } from '../src/drizzle-kit.js';
import { createLedger } from '../src/index.js';
import { appDir, builtPackage, ROOT } from './support/built-package.js';

const DAY = 86_400_000;

const APP_SCHEMA = `import { index, integer, sqliteTable, text } from 'drizzle-orm/sqlite-core';

export const orders = sqliteTable('orders', {
  id: integer('id').primaryKey(),
  account: text('account').notNull(),
  total: integer('total').notNull(),
}, (t) => [index('orders_account').on(t.account)]);
`;

const config = (
  dialect: string,
  url: string,
  filtered: boolean,
) => `${filtered ? "import { ledgerTablesFilter } from 'drizzle-credits/drizzle-kit';\n" : ''}
export default {
  dialect: '${dialect}',
  schema: './schema.ts',
  out: './pulled',
  dbCredentials: { url: '${url}' },${filtered ? '\n  tablesFilter: ledgerTablesFilter,' : ''}
};
`;

/** Runs the drizzle-kit binary in `cwd`, without a terminal (as in CI). */
function drizzleKit(cwd: string, ...args: string[]) {
  const r = spawnSync(process.execPath, [join(ROOT, 'node_modules/drizzle-kit/bin.cjs'), ...args], {
    cwd,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 30_000,
  });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

const ledgerOwned = (name: string) => LEDGER_NAME_PREFIXES.some((p) => name.startsWith(p));

/** Everything the ledger keeps in the file: its schema objects and every row of its tables. */
function ledgerState(file: string) {
  const db = new Database(file, { readonly: true });
  try {
    const objects = db
      .prepare("SELECT type, name, tbl_name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name")
      .all() as { type: string; name: string; tbl_name: string; sql: string | null }[];
    const owned = objects.filter((o) => ledgerOwned(o.tbl_name));
    const rows = Object.fromEntries(
      owned.filter((o) => o.type === 'table').map((o) => [o.name, db.prepare(`SELECT * FROM "${o.name}" ORDER BY rowid`).all()]),
    );
    return { objects: owned, rows, appTables: objects.filter((o) => o.type === 'table' && !ledgerOwned(o.name)).map((o) => o.name) };
  } finally {
    db.close();
  }
}

describe('the ledger follows its prefix rule', () => {
  it('every table, index and trigger the migrations create is named with a ledger prefix', async () => {
    const client = new Database(':memory:');
    await createLedger(drizzle(client)).migrate();
    const names = client.prepare("SELECT type, name, tbl_name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'").all() as {
      type: string;
      name: string;
      tbl_name: string;
    }[];
    client.close();
    expect(names.length).toBeGreaterThan(10);
    expect(names.filter((n) => !ledgerOwned(n.name) || !ledgerOwned(n.tbl_name))).toEqual([]);
    expect(ledgerTablesFilter).toEqual(['!credit_*', '!drizzle_credits_*']);
  });
});

describe.each([
  { dialect: 'sqlite', url: (file: string) => file },
  { dialect: 'turso', url: (file: string) => `file:${file}` },
])('drizzle-kit push and pull beside the ledger (dialect $dialect)', ({ dialect, url }) => {
  let dir: string;
  let file: string;

  beforeAll(async () => {
    builtPackage();
    dir = appDir('drizzle-credits-kit-', ['drizzle-orm']);
    file = join(dir, 'app.db');
    writeFileSync(join(dir, 'schema.ts'), APP_SCHEMA);
    writeFileSync(join(dir, 'drizzle.config.ts'), config(dialect, url('./app.db'), true));
    writeFileSync(join(dir, 'unfiltered.config.ts'), config(dialect, url('./unfiltered.db'), false));

    // The ledger, migrated and with rows in every table: a lot drawn by a debit, a refund
    // giving back to it, a hold.
    const client = new Database(file);
    const ledger = createLedger(drizzle(client));
    await ledger.migrate();
    const lot = await ledger.grant({ account: 'a', amount: 100, expiresAt: Date.now() + DAY, reason: 'trial' });
    await ledger.grant({ account: 'a', amount: 50 });
    const debit = await ledger.debitIfCovers({ account: 'a', amount: 30 });
    expect(await ledger.allocations(debit.entry!.id)).toMatchObject([{ lotId: lot.entry!.id, amount: 30 }]);
    await ledger.refund({ entryId: debit.entry!.id, amount: 10 });
    await ledger.hold({ account: 'a', amount: 5 });
    client.close();
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('push creates the app table and leaves every ledger table, index, trigger and row as it was', () => {
    const before = ledgerState(file);
    expect(before.objects.filter((o) => o.type === 'trigger').length).toBeGreaterThan(0);
    expect(before.appTables).toEqual([]);

    const push = drizzleKit(dir, 'push', '--config', 'drizzle.config.ts');
    expect(push.status, push.out).toBe(0);
    expect(push.out).toContain('Changes applied');
    expect(push.out).not.toContain('data-loss');

    const after = ledgerState(file);
    expect(after.appTables).toEqual(['orders']);
    expect(after.objects).toEqual(before.objects);
    expect(after.rows).toEqual(before.rows);

    // Nothing left to do: the filter hides the ledger from the diff both ways.
    const again = drizzleKit(dir, 'push', '--config', 'drizzle.config.ts');
    expect(again.status, again.out).toBe(0);
    expect(again.out).toContain('No changes detected');
  });

  it('after push the ledger verifies, works, and shares the file with the app table', async () => {
    const client = new Database(file);
    try {
      const ledger = createLedger(drizzle(client));
      expect((await ledger.migrate()).applied).toEqual([]);
      expect(await ledger.verify()).toMatchObject({ ok: true, problemCount: 0 });
      expect((await ledger.debitIfCovers({ account: 'a', amount: 1 })).outcome).toBe('debited');
      client.prepare('INSERT INTO orders (account, total) VALUES (?, ?)').run('a', 1);
      expect(client.prepare("SELECT name FROM sqlite_master WHERE name = 'orders_account'").get()).toEqual({ name: 'orders_account' });
    } finally {
      client.close();
    }
  });

  it('pull writes a schema with the app table and no ledger table', () => {
    const pull = drizzleKit(dir, 'pull', '--config', 'drizzle.config.ts');
    expect(pull.status, pull.out).toBe(0);
    const schema = readFileSync(join(dir, 'pulled/schema.ts'), 'utf8');
    expect(schema).toContain('sqliteTable("orders"');
    expect(schema).not.toMatch(/credit|drizzle_credits/i);
  });

  it('without the filter, push offers to delete every ledger table (so the filter is needed)', () => {
    // A copy of the pushed file, so the only difference drizzle-kit can see is the ledger.
    const other = join(dir, 'unfiltered.db');
    copyFileSync(file, other);
    // No terminal to confirm on, so drizzle-kit stops at its data-loss prompt; with --force
    // (or a "yes" at the prompt) it would drop the ledger's tables and their rows.
    const push = drizzleKit(dir, 'push', '--config', 'unfiltered.config.ts');
    expect(push.out).toContain('data-loss');
    for (const table of ['credit_entry', 'credit_lot', 'credit_hold', 'drizzle_credits_migrations'])
      expect(push.out).toContain(`delete ${table} table`);
    expect(ledgerState(other)).toEqual(ledgerState(file));
  });
});
