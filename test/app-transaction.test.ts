/**
 * The ledger inside a transaction the app opened. The ledger commits each operation as its
 * own atomic unit; it cannot join the app's transaction, so it must never write inside one
 * (the app's rollback would undo a write the caller was told about):
 * - `createLedger(tx)` is refused (`in_transaction`), pointing to the root db and `with`;
 * - better-sqlite3 / bun:sqlite: a write while the connection is in a transaction is
 *   refused (`in_transaction`), nothing written; reads answer from the app's snapshot;
 * - libSQL: the app's `db.transaction` runs on a connection of its own holding the write
 *   lock, so a ledger write waits for it up to the busy timeout, then `busy`, nothing written;
 * - D1: there is no app transaction to be inside (D1 refuses BEGIN).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient } from '@libsql/client';
import Database from 'better-sqlite3';
import { sql } from 'drizzle-orm';
import { drizzle as drizzleBetter } from 'drizzle-orm/better-sqlite3';
import { drizzle as drizzleLibsql } from 'drizzle-orm/libsql';
import { describe, expect, it } from 'vitest';
import { createLedger, type Ledger, LedgerError } from '../src/index.js';
import { DRIVERS } from './support/drivers.js';

const DAY = 86_400_000;

const thrown = async (call: () => Promise<unknown>) =>
  call().then(
    () => undefined,
    (e: unknown) => e,
  );

function expectInTransaction(e: unknown, name: string) {
  expect(e, name).toBeInstanceOf(LedgerError);
  expect((e as LedgerError).code, `${name}: ${(e as Error).message}`).toBe('in_transaction');
}

/**
 * Every kind of write whose first statement is a write: one-statement units, multi-statement
 * units, batches, schema writes. (On the sync drivers drizzle's `db.transaction` callback is
 * synchronous, so only a call's synchronous first step runs inside it.)
 */
function writes(ledger: Ledger, account: string, debitId: string): [string, () => Promise<unknown>][] {
  return [
    ['debitIfCovers', () => ledger.debitIfCovers({ account, amount: 1 })],
    ['grant (plain)', () => ledger.grant({ account, amount: 5 })],
    ['grant opening a lot', () => ledger.grant({ account, amount: 5, expiresAt: Date.now() + DAY })],
    ['refund', () => ledger.refund({ entryId: debitId, amount: 1 })],
    ['hold', () => ledger.hold({ account, amount: 1 })],
    ['batch', () => ledger.batch([{ op: 'grant', account, amount: 1 }])],
    ['migrate', () => ledger.migrate()],
  ];
}

/** Plus writes that read first: they need a transaction that stays open across awaits. */
const allWrites = (ledger: Ledger, account: string, debitId: string): [string, () => Promise<unknown>][] => [
  ...writes(ledger, account, debitId),
  ['rebuild', () => ledger.rebuild()],
];

async function withDir(fn: (dir: string) => Promise<void>) {
  const dir = mkdtempSync(join(tmpdir(), 'drizzle-credits-'));
  try {
    await fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const TX_MESSAGE = /root db[\s\S]*`with`/;

describe('better-sqlite3 inside the app transaction', () => {
  async function setup(dir: string) {
    const client = new Database(join(dir, 'app.db'));
    client.pragma('journal_mode = WAL');
    client.exec('CREATE TABLE app_order (id INTEGER PRIMARY KEY, note TEXT)');
    const db = drizzleBetter(client);
    const ledger = createLedger(db);
    await ledger.migrate();
    await ledger.grant({ account: 'a', amount: 100 });
    const d = await ledger.debitIfCovers({ account: 'a', amount: 10 });
    if (d.outcome !== 'debited') throw new Error('setup');
    const log = () => client.prepare('SELECT * FROM credit_entry ORDER BY rowid').all();
    return { client, db, ledger, debitId: d.entry.id, log };
  }

  it('createLedger(tx) is refused: pass the root db; app statements go in `with`', () =>
    withDir(async (dir) => {
      const { client, db } = await setup(dir);
      let e: unknown;
      db.transaction((tx) => {
        e = (() => {
          try {
            createLedger(tx);
          } catch (err) {
            return err;
          }
        })();
      });
      expectInTransaction(e, 'createLedger(tx)');
      expect((e as Error).message).toMatch(TX_MESSAGE);
      client.close();
    }));

  it('every write inside db.transaction is refused whether the app commits or rolls back; nothing written', () =>
    withDir(async (dir) => {
      const { client, db, ledger, debitId, log } = await setup(dir);
      const before = log();
      for (const end of ['commit', 'rollback'] as const) {
        for (const [name, call] of writes(ledger, 'a', debitId)) {
          let p: Promise<unknown> | undefined;
          try {
            db.transaction((tx) => {
              tx.run(sql`INSERT INTO app_order (note) VALUES (${name})`);
              p = call(); // the app forgot that the ledger cannot join its transaction
              if (end === 'rollback') tx.rollback();
            });
          } catch {
            // the app's rollback
          }
          expectInTransaction(await thrown(() => p as Promise<unknown>), `${name} then ${end}`);
          expect(client.inTransaction, name).toBe(false);
          expect(log(), `${name} then ${end}`).toEqual(before);
        }
      }
      // The app's own statements are the app's: committed ones stay.
      expect((client.prepare('SELECT COUNT(*) AS n FROM app_order').get() as { n: number }).n).toBe(7);
      // Outside the transaction the ledger works as before.
      expect(await ledger.debitIfCovers({ account: 'a', amount: 1 })).toMatchObject({ outcome: 'debited', balance: 89 });
      client.close();
    }));

  it('a BEGIN the app ran itself: writes refused, reads answer from the snapshot', () =>
    withDir(async (dir) => {
      const { client, ledger, debitId, log } = await setup(dir);
      const before = log();
      client.exec('BEGIN');
      for (const [name, call] of allWrites(ledger, 'a', debitId)) expectInTransaction(await thrown(call), name);
      expect(client.inTransaction).toBe(true); // the app's transaction is the app's: not ended by us
      // Reads, including the ones that take several statements, run inside it.
      expect(await ledger.getBalance('a')).toMatchObject({ balance: 90 });
      expect((await ledger.history('a')).entries).toHaveLength(2);
      expect(await ledger.stats()).toMatchObject({ accounts: 1 });
      expect((await ledger.verify()).ok).toBe(true);
      client.exec('ROLLBACK');
      expect(log()).toEqual(before);
      expect(await ledger.refund({ entryId: debitId, amount: 1 })).toMatchObject({ outcome: 'refunded', balance: 91 });
      client.close();
    }));
});

const bunDriver = DRIVERS.find((d) => d.name === 'bun:sqlite');

describe.runIf(bunDriver !== undefined)('bun:sqlite inside the app transaction', () => {
  it('createLedger(tx) is refused; every write inside db.transaction is refused; nothing written', async () => {
    const db = await (bunDriver as NonNullable<typeof bunDriver>).open();
    const host = db.ledger as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>;
    const call = (name: string, ...args: unknown[]) => (host[name] as (...a: unknown[]) => Promise<unknown>)(...args);
    try {
      const onTx = (await call('__createLedgerOnTx')) as { ok: boolean; code?: string; message?: string };
      expect(onTx).toMatchObject({ ok: false, code: 'in_transaction' });
      expect(onTx.message).toMatch(TX_MESSAGE);

      await db.ledger.grant({ account: 'a', amount: 100 });
      const d = await db.ledger.debitIfCovers({ account: 'a', amount: 10 });
      if (d.outcome !== 'debited') throw new Error('setup');
      const log = () => db.all('SELECT * FROM credit_entry ORDER BY rowid');
      const before = await log();
      const inputs: [string, unknown[]][] = [
        ['debitIfCovers', [{ account: 'a', amount: 1 }]],
        ['grant', [{ account: 'a', amount: 5, expiresAt: Date.now() + DAY }]],
        ['refund', [{ entryId: d.entry.id, amount: 1 }]],
        ['batch', [[{ op: 'grant', account: 'a', amount: 1 }]]],
        ['migrate', []],
      ];
      for (const [method, args] of inputs) {
        const r = (await call('__inAppTransaction', method, ...args)) as {
          result: { ok: boolean; code?: string; raw?: string };
          inTransactionAfter: boolean;
        };
        expect(r.result, method).toMatchObject({ ok: false, code: 'in_transaction' });
        expect(r.inTransactionAfter, method).toBe(false);
        expect(await log(), method).toEqual(before);
      }
      // A BEGIN on the ledger's connection, open across calls: writes refused, reads answer.
      await db.exec('BEGIN');
      for (const [name, op] of allWrites(db.ledger, 'a', d.entry.id)) expectInTransaction(await thrown(op), name);
      expect(await call('__inTransaction')).toBe(true);
      expect(await db.ledger.getBalance('a')).toMatchObject({ balance: 90 });
      expect(await db.ledger.stats()).toMatchObject({ accounts: 1 });
      await db.exec('ROLLBACK');
      expect(await log()).toEqual(before);
      expect(await db.ledger.debitIfCovers({ account: 'a', amount: 1 })).toMatchObject({ outcome: 'debited', balance: 89 });
    } finally {
      await db.close();
    }
  });
});

describe('libSQL inside the app transaction', () => {
  async function setup(dir: string) {
    const client = createClient({ url: `file:${join(dir, 'app.db')}` });
    await client.execute('PRAGMA journal_mode = WAL');
    await client.execute('CREATE TABLE app_order (id INTEGER PRIMARY KEY, note TEXT)');
    const db = drizzleLibsql(client);
    const ledger = createLedger(db);
    await ledger.migrate();
    await ledger.grant({ account: 'a', amount: 100 });
    const log = async () => (await client.execute('SELECT * FROM credit_entry ORDER BY rowid')).rows.map((r) => ({ ...r }));
    return { client, db, ledger, log };
  }

  it('createLedger(tx) is refused: pass the root db; app statements go in `with`', () =>
    withDir(async (dir) => {
      const { client, db } = await setup(dir);
      let e: unknown;
      await db.transaction(async (tx) => {
        try {
          createLedger(tx);
        } catch (err) {
          e = err;
        }
      });
      expectInTransaction(e, 'createLedger(tx)');
      expect((e as Error).message).toMatch(TX_MESSAGE);
      client.close();
    }));

  it('a write while db.transaction is open waits for its write lock up to the busy timeout, then busy; nothing written', () =>
    withDir(async (dir) => {
      const { client, db, ledger, log } = await setup(dir);
      const before = await log();
      let e: unknown;
      let waited = 0;
      await db.transaction(async (tx) => {
        await tx.run(sql`INSERT INTO app_order (note) VALUES ('o1')`);
        // @libsql/client gave the transaction its connection and opens a new one for the
        // client: the ledger's. A short timeout on it instead of the ledger's 15 s.
        await client.execute('PRAGMA busy_timeout = 300');
        const t0 = Date.now();
        e = await thrown(() => ledger.debitIfCovers({ account: 'a', amount: 1 }));
        waited = Date.now() - t0;
      });
      expect(e).toBeInstanceOf(LedgerError);
      expect((e as LedgerError).code).toBe('busy');
      expect(waited).toBeGreaterThanOrEqual(250);
      expect((await client.execute('SELECT COUNT(*) AS n FROM app_order')).rows[0]?.n).toBe(1); // the app's commit
      expect(await log()).toEqual(before);
      // The busy did not leave the ledger's connection stuck: the next write commits (another
      // connection sees it).
      expect(await ledger.debitIfCovers({ account: 'a', amount: 1 })).toMatchObject({ outcome: 'debited', balance: 99 });
      const other = createClient({ url: `file:${join(dir, 'app.db')}` });
      expect((await other.execute('SELECT COUNT(*) AS n FROM credit_entry')).rows[0]?.n).toBe(before.length + 1);
      other.close();
      client.close();
    }));
});

const d1Driver = DRIVERS.find((d) => d.name === 'd1 (miniflare)');

describe.runIf(d1Driver !== undefined)('D1: no app transaction to be inside', () => {
  it("drizzle's db.transaction fails on D1 (it refuses BEGIN)", async () => {
    const { Miniflare } = await import('miniflare');
    const { drizzle } = await import('drizzle-orm/d1');
    const mf = new Miniflare({ modules: true, script: 'export default {}', d1Databases: { DB: 'ledger' } });
    try {
      const db = drizzle((await mf.getD1Database('DB')) as never);
      let entered = false;
      await expect(
        db.transaction(async () => {
          entered = true;
        }),
      ).rejects.toThrow();
      expect(entered).toBe(false);
    } finally {
      await mf.dispose();
    }
  });
});
