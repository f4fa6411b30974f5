/**
 * The two drivers the suite measures, behind one small interface: a ledger made with the
 * public API, and raw SQL on the same connection (for the two INSERT baselines, the
 * SUM(delta)-guarded peer debit and the harness's head checks).
 *
 * - better-sqlite3: `new Database(file)`, pragmas set on the connection, statements
 *   prepared once.
 * - libSQL: `createClient({ url: 'file:…' })` + `drizzle-orm/libsql`; every raw call is a
 *   `client.execute`, as an app would write it. The ledger sets the busy timeout itself.
 */
import { createClient } from '@libsql/client';
import Database from 'better-sqlite3';
import { drizzle as drizzleBetter } from 'drizzle-orm/better-sqlite3';
import { drizzle as drizzleLibsql } from 'drizzle-orm/libsql';
import LibsqlDatabase from 'libsql';
import { createLedger, type Ledger } from '../src/index.js';

/** `libsql-native`: the `libsql` package's Database (libSQL's engine on a local file) through drizzle-orm/better-sqlite3. */
export type DriverKind = 'better-sqlite3' | 'libsql' | 'libsql-native';
export const DRIVER_LABEL: Record<DriverKind, string> = {
  'better-sqlite3': 'better-sqlite3',
  libsql: 'libSQL file:',
  'libsql-native': 'libSQL native',
};

export type Synchronous = 'NORMAL' | 'FULL';

/** Applied to every connection the suite opens (synchronous = FULL only for the one FULL row). */
export const suitePragmas = (sync: Synchronous = 'NORMAL'): string[] => ['journal_mode = WAL', `synchronous = ${sync}`];

export interface Conn {
  readonly kind: DriverKind;
  readonly ledger: Ledger;
  /** Another ledger on the same connection, on the clock given (periods that pass by the op). */
  withClock(clock: () => number): Ledger;
  /** A raw statement prepared once (better-sqlite3) or sent as is (libSQL); returns rows. */
  prepare(sql: string): (...args: unknown[]) => unknown[] | Promise<unknown[]>;
  /** One raw statement, awaited. */
  query<T = Record<string, unknown>>(sql: string, ...args: unknown[]): Promise<T[]>;
  /**
   * One raw statement run once per args list in one transaction (better-sqlite3: BEGIN
   * IMMEDIATE … COMMIT around the prepared statement; libSQL: one `client.batch(…, 'write')`,
   * as the ledger sends a batch); returns each run's row count.
   */
  batch(sql: string, argsList: readonly unknown[][]): Promise<number[]>;
  /**
   * Several raw statements as one atomic unit, as the ledger sends a unit (better-sqlite3:
   * BEGIN IMMEDIATE … COMMIT around statements prepared once; libSQL: one `client.batch(…,
   * 'write')`); returns each statement's row count.
   */
  unit(statements: readonly (readonly [string, readonly unknown[]])[]): Promise<number[]>;
  sqliteVersion(): Promise<string>;
  close(): void;
}

export async function openConn(kind: DriverKind, file: string, sync: Synchronous = 'NORMAL'): Promise<Conn> {
  const conn =
    kind === 'libsql' ? await openLibsql(file, sync) : openSync(kind, kind === 'better-sqlite3' ? Database : LibsqlDatabase, file, sync);
  const mode = (await conn.query<{ journal_mode: string }>('PRAGMA journal_mode'))[0]?.journal_mode;
  if (mode !== 'wal') throw new Error(`${file} (${kind}): journal_mode is ${String(mode)}, expected wal`);
  const syncNow = (await conn.query<{ synchronous: number }>('PRAGMA synchronous'))[0]?.synchronous;
  if (syncNow !== (sync === 'FULL' ? 2 : 1)) throw new Error(`${file} (${kind}): synchronous is ${String(syncNow)}, expected ${sync}`);
  await conn.ledger.migrate();
  return conn;
}

/**
 * A better-sqlite3-API connection: better-sqlite3 itself, or the `libsql` package's Database
 * (libsql-js mirrors that API, so an app hands it to drizzle-orm/better-sqlite3).
 */
function openSync(kind: DriverKind, Driver: typeof Database | typeof LibsqlDatabase, file: string, sync: Synchronous): Conn {
  const client = new (Driver as typeof Database)(file);
  for (const p of suitePragmas(sync)) client.pragma(p);
  client.pragma('busy_timeout = 5000');
  const ledger = createLedger(drizzleBetter(client));
  const cache = new Map<string, Database.Statement>();
  const cached = (sql: string) => {
    let s = cache.get(sql);
    if (s === undefined) {
      s = client.prepare(sql);
      cache.set(sql, s);
    }
    return s;
  };
  return {
    withClock: (clock) => createLedger(drizzleBetter(client), { clock }),
    kind,
    ledger,
    prepare(sql) {
      const stmt = client.prepare(sql);
      if (stmt.reader) return (...args) => stmt.all(...args);
      return (...args) => {
        stmt.run(...args);
        return [];
      };
    },
    query: async <T>(sql: string, ...args: unknown[]) => {
      const stmt = client.prepare(sql);
      if (stmt.reader) return stmt.all(...args) as T[];
      stmt.run(...args);
      return [];
    },
    batch: async (sql, argsList) => {
      const stmt = cached(sql);
      cached('BEGIN IMMEDIATE').run();
      try {
        const counts = argsList.map((args) => stmt.all(...args).length);
        cached('COMMIT').run();
        return counts;
      } catch (e) {
        if (client.inTransaction) cached('ROLLBACK').run();
        throw e;
      }
    },
    unit: async (statements) => {
      cached('BEGIN IMMEDIATE').run();
      try {
        const counts = statements.map(([sql, args]) => {
          const s = cached(sql);
          if (s.reader) return s.all(...args).length;
          return s.run(...args).changes;
        });
        cached('COMMIT').run();
        return counts;
      } catch (e) {
        if (client.inTransaction) cached('ROLLBACK').run();
        throw e;
      }
    },
    sqliteVersion: async () => (client.prepare('SELECT sqlite_version() AS v').get() as { v: string }).v,
    close: () => client.close(),
  };
}

/**
 * After every raw libSQL call, as the ledger's runner does on a local file: libsql-js frees a
 * statement's native memory in a finalizer Node runs from its macrotask queue, which a loop of
 * awaited calls never reaches (bench:full grew past 15 GB before this).
 */
const yieldToMacrotasks = () => new Promise<void>((resolve) => setImmediate(resolve));

async function openLibsql(file: string, sync: Synchronous): Promise<Conn> {
  const client = createClient({ url: `file:${file}` });
  for (const p of suitePragmas(sync)) await client.execute(`PRAGMA ${p}`);
  const ledger = createLedger(drizzleLibsql(client));
  const objects = (rs: { columns: string[]; rows: ArrayLike<unknown>[] }): Record<string, unknown>[] =>
    rs.rows.map((r) => Object.fromEntries(rs.columns.map((c, i) => [c, r[i]])));
  return {
    kind: 'libsql',
    ledger,
    withClock: (clock) => createLedger(drizzleLibsql(client), { clock }),
    prepare:
      (sql) =>
      async (...args) => {
        const rows = (await client.execute({ sql, args: args as never })).rows as unknown[];
        await yieldToMacrotasks();
        return rows;
      },
    query: async <T>(sql: string, ...args: unknown[]) => {
      const rows = objects(await client.execute({ sql, args: args as never })) as T[];
      await yieldToMacrotasks();
      return rows;
    },
    batch: async (sql, argsList) => {
      const results = await client.batch(
        argsList.map((args) => ({ sql, args: args as never })),
        'write',
      );
      await yieldToMacrotasks();
      return results.map((rs) => rs.rows.length);
    },
    unit: async (statements) => {
      const results = await client.batch(
        statements.map(([sql, args]) => ({ sql, args: args as never })),
        'write',
      );
      await yieldToMacrotasks();
      return results.map((rs) => (rs.columns.length > 0 ? rs.rows.length : rs.rowsAffected));
    },
    sqliteVersion: async () => String((await client.execute('SELECT sqlite_version() AS v')).rows[0]?.[0]),
    close: () => client.close(),
  };
}
