/**
 * A unit whose COMMIT fails must leave nothing behind: no open transaction, nothing
 * pending that a later call on the same connection could count or commit.
 *
 * How COMMIT fails: a rollback-journal (not WAL) database, and another connection holding
 * a SHARED lock (an open read transaction). BEGIN IMMEDIATE still succeeds (RESERVED is
 * compatible with SHARED), the writes go to the page cache, and COMMIT needs the EXCLUSIVE
 * lock, which it cannot get before the busy timeout: SQLITE_BUSY, and SQLite keeps the
 * transaction open so that COMMIT can be retried.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { drizzle } from 'drizzle-orm/better-sqlite3';
import Libsql from 'libsql';
import { describe, expect, it } from 'vitest';
import { createLedger, type Ledger, LedgerError } from '../src/index.js';
import { DRIVERS } from './support/drivers.js';

const DAY = 86_400_000;

/** The app's own table, for a unit that carries `with` statements. */
const APP_TABLE = 'CREATE TABLE app_notes (note TEXT NOT NULL)';
const note = (text: string) => ({ toSQL: () => ({ sql: 'INSERT INTO app_notes (note) VALUES (?)', params: [text] }) });

/**
 * Units whose COMMIT can fail: the multi-statement ones (BEGIN IMMEDIATE … COMMIT on the sync
 * drivers: a batch, a refund with its final read, a debit with the app's statements), and a
 * grant that opens a lot (one statement since migration 0009, committed by SQLite itself).
 */
function multiStatementCalls(ledger: Ledger, account: string, debitId: string) {
  return [
    ['grant opening a lot', () => ledger.grant({ account, amount: 50, expiresAt: Date.now() + DAY })],
    ['debit with an app statement', () => ledger.debitIfCovers({ account, amount: 4 }, { with: [note('paid')] })],
    [
      'batch',
      () =>
        ledger.batch([
          { op: 'grant', account, amount: 7 },
          { op: 'debit', account, amount: 3 },
        ]),
    ],
    ['refund', () => ledger.refund({ entryId: debitId, amount: 5 })],
  ] as const;
}

/**
 * The sync runner's connections: better-sqlite3, and the `libsql` package's Database (the
 * same API; an app hands it to drizzle-orm/better-sqlite3).
 */
const SYNC_CLIENTS = [
  ['better-sqlite3', BetterSqlite3],
  ['libsql native', Libsql as unknown as typeof BetterSqlite3],
] as const;

describe.each(SYNC_CLIENTS)('%s: a COMMIT that fails with SQLITE_BUSY', (_name, Database) => {
  it('rolls the unit back: not in a transaction, nothing applied, later calls normal, nothing after reopen', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'drizzle-credits-'));
    const file = join(dir, 'ledger.db');
    try {
      let client = new Database(file);
      client.pragma('journal_mode = DELETE');
      client.pragma('busy_timeout = 50');
      let ledger = createLedger(drizzle(client));
      await ledger.migrate();
      client.exec(APP_TABLE);
      const notes = () => (client.prepare('SELECT COUNT(*) AS n FROM app_notes').get() as { n: number }).n;
      const account = 'acct_commit';
      await ledger.grant({ account, amount: 100 });
      const d = await ledger.debitIfCovers({ account, amount: 10 });
      if (d.outcome !== 'debited') throw new Error('setup');
      const entries = () => client.prepare('SELECT COUNT(*) AS n FROM credit_entry').get() as { n: number };
      const before = entries().n;

      for (const [name, call] of multiStatementCalls(ledger, account, d.entry.id)) {
        const reader = new Database(file);
        reader.exec('BEGIN');
        reader.prepare('SELECT COUNT(*) FROM credit_entry').get(); // holds SHARED until COMMIT
        const err = await call().then(
          () => undefined,
          (e: unknown) => e,
        );
        reader.exec('COMMIT');
        reader.close();
        expect(err, name).toBeInstanceOf(LedgerError);
        expect((err as LedgerError).code, name).toBe('busy');
        expect(client.inTransaction, `${name}: the connection is left inside the failed unit's transaction`).toBe(false);
        expect(entries().n, name).toBe(before);
        expect(notes(), name).toBe(0);
        expect((await ledger.getBalance(account)).balance, name).toBe(90);
      }

      // A later write on the same connection is its own unit, and sees only committed state.
      const after = await ledger.debitIfCovers({ account, amount: 1 });
      expect(after).toMatchObject({ outcome: 'debited', balance: 89 });
      expect(client.inTransaction).toBe(false);

      client.close();
      client = new Database(file);
      ledger = createLedger(drizzle(client));
      expect((await ledger.getBalance(account)).balance).toBe(89);
      expect(entries().n).toBe(before + 1);
      expect((await ledger.verify()).ok).toBe(true);
      client.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a BEGIN IMMEDIATE that fails with SQLITE_BUSY leaves no transaction either', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'drizzle-credits-'));
    const file = join(dir, 'ledger.db');
    try {
      const client = new Database(file);
      client.pragma('journal_mode = DELETE');
      client.pragma('busy_timeout = 50');
      const ledger = createLedger(drizzle(client));
      await ledger.migrate();
      await ledger.grant({ account: 'a', amount: 100 });
      const writer = new Database(file);
      writer.exec('BEGIN IMMEDIATE'); // RESERVED: our BEGIN IMMEDIATE cannot get it
      await expect(ledger.grant({ account: 'a', amount: 50, expiresAt: Date.now() + DAY })).rejects.toMatchObject({ code: 'busy' });
      writer.exec('ROLLBACK');
      writer.close();
      expect(client.inTransaction).toBe(false);
      expect(await ledger.grant({ account: 'a', amount: 50, expiresAt: Date.now() + DAY })).toMatchObject({
        outcome: 'granted',
        balance: 150,
      });
      client.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

const bunDriver = DRIVERS.find((d) => d.name === 'bun:sqlite');

describe.runIf(bunDriver !== undefined)('bun:sqlite: a COMMIT that fails with SQLITE_BUSY', () => {
  it('rolls the unit back: not in a transaction, nothing applied, later calls normal, nothing after reopen', async () => {
    const db = await (bunDriver as NonNullable<typeof bunDriver>).open();
    const host = db.ledger as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>;
    const call = (name: string, ...args: unknown[]) => (host[name] as (...a: unknown[]) => Promise<unknown>)(...args);
    try {
      await db.exec('PRAGMA journal_mode = DELETE; PRAGMA busy_timeout = 50;');
      expect(await db.all('PRAGMA journal_mode')).toEqual([{ journal_mode: 'delete' }]);
      await db.exec(APP_TABLE);
      const notes = async () => Number((await db.all('SELECT COUNT(*) AS n FROM app_notes'))[0]?.n);
      const account = 'acct_commit';
      await db.ledger.grant({ account, amount: 100 });
      const d = await db.ledger.debitIfCovers({ account, amount: 10 });
      if (d.outcome !== 'debited') throw new Error('setup');
      const entries = async () => Number((await db.all('SELECT COUNT(*) AS n FROM credit_entry'))[0]?.n);
      const before = await entries();

      for (const [name, op] of multiStatementCalls(db.ledger, account, d.entry.id)) {
        await call('__lockShared');
        const err = await op().then(
          () => undefined,
          (e: unknown) => e,
        );
        await call('__unlock');
        expect(err, name).toBeInstanceOf(LedgerError);
        expect((err as LedgerError).code, name).toBe('busy');
        expect(await call('__inTransaction'), `${name}: the connection is left inside the failed unit's transaction`).toBe(false);
        expect(await entries(), name).toBe(before);
        expect(await notes(), name).toBe(0);
        expect((await db.ledger.getBalance(account)).balance, name).toBe(90);
      }

      expect(await db.ledger.debitIfCovers({ account, amount: 1 })).toMatchObject({ outcome: 'debited', balance: 89 });
      await call('__reopen');
      expect((await db.ledger.getBalance(account)).balance).toBe(89);
      expect(await entries()).toBe(before + 1);
      expect((await db.ledger.verify()).ok).toBe(true);
    } finally {
      await db.close();
    }
  });
});

/**
 * libSQL (`file:`): @libsql/client leaves a statement that failed with SQLITE_BUSY active on
 * its connection. Until it is garbage collected, every COMMIT there fails and an autocommit
 * write is acknowledged but not committed. Whoever hit the busy (the app's own statement on
 * the shared client, or the ledger), every write the ledger reports must be committed.
 */
describe('libSQL file: after a SQLITE_BUSY on the shared client', () => {
  it('what the ledger reports written is committed (another connection sees it); the client recovers', async () => {
    const { createClient } = await import('@libsql/client');
    const { drizzle: drizzleLibsql } = await import('drizzle-orm/libsql');
    const dir = mkdtempSync(join(tmpdir(), 'drizzle-credits-'));
    const url = `file:${join(dir, 'ledger.db')}`;
    const client = createClient({ url });
    const other = createClient({ url });
    try {
      await client.execute('PRAGMA journal_mode = WAL');
      await client.execute('PRAGMA busy_timeout = 50'); // the app's own choice; the ledger keeps it
      await client.execute('CREATE TABLE app_order (id INTEGER PRIMARY KEY)');
      let now = 1_700_000_000_000;
      const ledger = createLedger(drizzleLibsql(client), { clock: () => now });
      await ledger.migrate();
      await ledger.grant({ account: 'a', amount: 10, expiresAt: now + 1_000 });

      // Another connection holds the write lock; the app's own INSERT on the shared client
      // gives up with SQLITE_BUSY, and its statement stays active on that connection.
      const tx = await other.transaction('write');
      await expect(client.execute('INSERT INTO app_order (id) VALUES (1)')).rejects.toMatchObject({ code: 'SQLITE_BUSY' });
      await tx.rollback();
      tx.close();

      // A sweep of one lapsed lot is a single-statement write.
      now += 2_000;
      const seen = async () => Number((await other.execute("SELECT COUNT(*) AS n FROM credit_entry WHERE kind = 'expire'")).rows[0]?.n);
      let reported = 0;
      for (let i = 0; i < 3 && reported === 0; i++) {
        const r = await ledger.sweep().catch((e: unknown) => {
          expect(e).toMatchObject({ code: 'busy' }); // refused loudly: nothing written
          return undefined;
        });
        reported += r?.lotsExpired ?? 0;
        expect(await seen(), 'every expire row the ledger reported is committed').toBe(reported);
      }
      expect(reported).toBe(1);
      // A later multi-statement write works and is committed.
      expect(await ledger.grant({ account: 'a', amount: 5, expiresAt: now + 1_000 })).toMatchObject({ outcome: 'granted' });
      expect(Number((await other.execute("SELECT COUNT(*) AS n FROM credit_entry WHERE kind = 'grant'")).rows[0]?.n)).toBe(2);
    } finally {
      client.close();
      other.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
  it('runner: a single-statement write on such a connection is refused (busy) rather than acknowledged uncommitted', async () => {
    const { createClient } = await import('@libsql/client');
    const { libsqlRunner } = await import('../src/runner/libsql.js');
    const dir = mkdtempSync(join(tmpdir(), 'drizzle-credits-'));
    const url = `file:${join(dir, 'ledger.db')}`;
    const client = createClient({ url });
    const other = createClient({ url });
    try {
      await client.execute('PRAGMA journal_mode = WAL');
      await client.execute('PRAGMA busy_timeout = 50');
      await client.execute('CREATE TABLE t (x INTEGER)');
      const runner = libsqlRunner(client);
      const tx = await other.transaction('write');
      await expect(client.execute('INSERT INTO t (x) VALUES (0)')).rejects.toMatchObject({ code: 'SQLITE_BUSY' });
      await tx.rollback();
      tx.close();
      const committed = async () => (await other.execute('SELECT x FROM t ORDER BY x')).rows.map((r) => Number(r.x));
      const acknowledged: number[] = [];
      for (const x of [1, 2]) {
        const r = await runner.write({ primary: { sql: 'INSERT INTO t (x) VALUES (?) RETURNING x', args: [x] } }).catch((e: unknown) => {
          expect(e).toMatchObject({ code: 'busy' });
          return undefined;
        });
        if (r !== undefined) acknowledged.push(x);
        expect(await committed(), `after writing ${x}`).toEqual(acknowledged);
      }
      expect(acknowledged).toContain(2); // recovered
    } finally {
      client.close();
      other.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
