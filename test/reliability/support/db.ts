/**
 * Opens one database file for the reliability tests, the same way in the parent (vitest)
 * and in every worker process: WAL, a busy timeout, and an explicit `synchronous` level,
 * on better-sqlite3 or on libSQL (`file:` URL).
 */
import type { Ledger } from '../../../src/index.js';
import { createLedger } from '../../../src/index.js';

/** `libsql-native`: the `libsql` package's Database through drizzle-orm/better-sqlite3 (the ledger's sync runner). */
export type Driver = 'better-sqlite3' | 'libsql' | 'libsql-native';
export type Row = Record<string, unknown>;
export type Synchronous = 'FULL' | 'NORMAL';

/**
 * Longer than the library's 5 s default for libSQL files: with 8 processes on one file a
 * writer can queue that long (libSQL's busy handler sleeps in whole seconds), and a
 * `busy` here would be a liveness result, not the safety property under test.
 */
export const BUSY_TIMEOUT_MS = 20_000;

/**
 * RELIABILITY_LIBSQL_TIMEOUT=library: do not set a busy timeout on libSQL connections and
 * rely on the library's own (the runner gives a local file 5 s before each call when it
 * has none), i.e. what an app gets from `createClient({ url: 'file:…' })` alone.
 */
export const LIBSQL_LIBRARY_TIMEOUT = process.env.RELIABILITY_LIBSQL_TIMEOUT === 'library';

/** The busy timeout a connection of this driver must report at open, if the test sets one. */
export const expectedBusyTimeout = (driver: Driver): number | undefined =>
  driver === 'libsql' && LIBSQL_LIBRARY_TIMEOUT ? undefined : BUSY_TIMEOUT_MS;

export interface Db {
  readonly ledger: Ledger;
  all(sql: string, args?: unknown[]): Promise<Row[]>;
  /** A statement that returns nothing (the app's own schema). */
  exec(sql: string): Promise<void>;
  /** The connection's effective settings, as SQLite reports them. */
  pragmas(): Promise<{ journal_mode: string; synchronous: number; busy_timeout: number }>;
  close(): Promise<void>;
}

/** Loads a driver's modules ahead of time (workers do it before they report ready). */
export async function preload(driver: Driver): Promise<void> {
  if (driver === 'better-sqlite3') await Promise.all([import('better-sqlite3'), import('drizzle-orm/better-sqlite3')]);
  else if (driver === 'libsql-native') await Promise.all([import('libsql'), import('drizzle-orm/better-sqlite3')]);
  else await Promise.all([import('@libsql/client'), import('drizzle-orm/libsql')]);
}

/** `options.clock`: the ledger's clock (test/reliability/crash-plans.test.ts shares a fake one between processes). */
export async function openDb(
  driver: Driver,
  file: string,
  synchronous: Synchronous = 'FULL',
  options: { clock?: () => number } = {},
): Promise<Db> {
  if (driver === 'better-sqlite3') {
    const { default: Database } = await import('better-sqlite3');
    const { drizzle } = await import('drizzle-orm/better-sqlite3');
    const client = new Database(file);
    client.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
    client.pragma('journal_mode = WAL');
    client.pragma(`synchronous = ${synchronous}`);
    const all = async (sql: string, args: unknown[] = []) => client.prepare(sql).all(...args) as Row[];
    return {
      ledger: createLedger(drizzle(client), options),
      all,
      exec: async (sql) => void client.exec(sql),
      pragmas: async () => ({
        journal_mode: String(client.pragma('journal_mode', { simple: true })),
        synchronous: Number(client.pragma('synchronous', { simple: true })),
        busy_timeout: Number(client.pragma('busy_timeout', { simple: true })),
      }),
      close: async () => void client.close(),
    };
  }
  if (driver === 'libsql-native') {
    const { default: Database } = await import('libsql');
    const { drizzle } = await import('drizzle-orm/better-sqlite3');
    const client = new Database(file);
    client.exec(`PRAGMA busy_timeout = ${BUSY_TIMEOUT_MS}`);
    client.exec('PRAGMA journal_mode = WAL');
    client.exec(`PRAGMA synchronous = ${synchronous}`);
    const one = (sql: string) => Object.values(client.prepare(sql).get() as Row)[0];
    return {
      ledger: createLedger(drizzle(client as never), options),
      all: async (sql, args = []) => client.prepare(sql).all(...args) as Row[],
      exec: async (sql) => void client.exec(sql),
      pragmas: async () => ({
        journal_mode: String(one('PRAGMA journal_mode')),
        synchronous: Number(one('PRAGMA synchronous')),
        busy_timeout: Number(one('PRAGMA busy_timeout')),
      }),
      close: async () => void client.close(),
    };
  }
  const { createClient } = await import('@libsql/client');
  const { drizzle } = await import('drizzle-orm/libsql');
  // @libsql/client 0.15 does not pass `timeout` to local files (see
  // test/support/concurrency-db.ts): the PRAGMA sets it. The ledger only uses execute()
  // and batch(), which stay on this one connection, so the pragmas stick.
  const client = createClient({ url: `file:${file}`, timeout: BUSY_TIMEOUT_MS } as never);
  if (!LIBSQL_LIBRARY_TIMEOUT) await client.execute(`PRAGMA busy_timeout = ${BUSY_TIMEOUT_MS}`);
  await client.execute('PRAGMA journal_mode = WAL');
  await client.execute(`PRAGMA synchronous = ${synchronous}`);
  const all = async (sql: string, args: unknown[] = []) => {
    const rs = await client.execute({ sql, args: args as never });
    return rs.rows.map((r) => Object.fromEntries(rs.columns.map((c, i) => [c, r[i]])));
  };
  const one = async (sql: string) => (await client.execute(sql)).rows[0]?.[0];
  return {
    ledger: createLedger(drizzle(client), options),
    all,
    exec: async (sql) => void (await client.execute(sql)),
    pragmas: async () => ({
      journal_mode: String(await one('PRAGMA journal_mode')),
      synchronous: Number(await one('PRAGMA synchronous')),
      busy_timeout: Number(await one('PRAGMA busy_timeout')),
    }),
    close: async () => client.close(),
  };
}
