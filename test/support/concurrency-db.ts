/**
 * Opens one database file the way the multi-process concurrency test needs it, for the
 * parent (vitest) and for every worker process alike, so all of them run the same
 * connection settings: WAL plus a 20 s busy timeout (5 s ran out on a loaded 2-core CI host).
 */
import type { Ledger } from '../../src/index.js';
import { createLedger } from '../../src/index.js';

/** `libsql-native`: the `libsql` package's Database through drizzle-orm/better-sqlite3 (the ledger's sync runner). */
export type ConcurrencyDriver = 'better-sqlite3' | 'libsql' | 'libsql-native';
export type Row = Record<string, unknown>;

export const BUSY_TIMEOUT_MS = 20_000;

export interface FileDb {
  readonly ledger: Ledger;
  all(sql: string, args?: unknown[]): Promise<Row[]>;
  /** A statement that returns nothing (the app's own schema). */
  exec(sql: string): Promise<void>;
  close(): Promise<void>;
}

export async function openFileDb(driver: ConcurrencyDriver, file: string, options: { clock?: () => number } = {}): Promise<FileDb> {
  if (driver === 'better-sqlite3') {
    const { default: Database } = await import('better-sqlite3');
    const { drizzle } = await import('drizzle-orm/better-sqlite3');
    const client = new Database(file);
    client.pragma('journal_mode = WAL');
    client.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
    return {
      ledger: createLedger(drizzle(client), options),
      all: async (sql, args = []) => client.prepare(sql).all(...args) as Row[],
      exec: async (sql) => void client.exec(sql),
      close: async () => void client.close(),
    };
  }
  if (driver === 'libsql-native') {
    const { default: Database } = await import('libsql');
    const { drizzle } = await import('drizzle-orm/better-sqlite3');
    const client = new Database(file);
    client.exec('PRAGMA journal_mode = WAL');
    client.exec(`PRAGMA busy_timeout = ${BUSY_TIMEOUT_MS}`);
    return {
      ledger: createLedger(drizzle(client as never), options),
      all: async (sql, args = []) => client.prepare(sql).all(...args) as Row[],
      exec: async (sql) => void client.exec(sql),
      close: async () => void client.close(),
    };
  }
  const { createClient } = await import('@libsql/client');
  const { drizzle } = await import('drizzle-orm/libsql');
  // `timeout` is the client's documented option, but @libsql/client 0.15.9 never hands it to the
  // native connection (PRAGMA busy_timeout still reads 0; the option arrived upstream in
  // libsql-client-ts PR #345). The pragma is what actually sets it here: the ledger only
  // uses execute() and batch(), which stay on this one connection, so it sticks.
  const client = createClient({ url: `file:${file}`, timeout: BUSY_TIMEOUT_MS } as never);
  await client.execute('PRAGMA journal_mode = WAL');
  if (process.env.CONC_LIBSQL_NO_BUSY_PRAGMA !== '1') await client.execute(`PRAGMA busy_timeout = ${BUSY_TIMEOUT_MS}`);
  return {
    ledger: createLedger(drizzle(client), options),
    all: async (sql, args = []) => {
      const rs = await client.execute({ sql, args: args as never });
      return rs.rows.map((r) => Object.fromEntries(rs.columns.map((c, i) => [c, r[i]])));
    },
    exec: async (sql) => void (await client.execute(sql)),
    close: async () => client.close(),
  };
}

/** The libSQL connection's effective busy timeout, as SQLite reports it. */
export async function libsqlBusyTimeoutFromOption(file: string): Promise<number> {
  const { createClient } = await import('@libsql/client');
  const client = createClient({ url: `file:${file}`, timeout: BUSY_TIMEOUT_MS } as never);
  try {
    const rs = await client.execute('PRAGMA busy_timeout');
    return Number(rs.rows[0]?.[0]);
  } finally {
    client.close();
  }
}

/** What the parent hands every worker (as JSON in argv). */
export interface WorkerPlan {
  driver: ConcurrencyDriver;
  file: string;
  log: string;
  worker: number;
  ops: number;
  /** Async loops per worker sharing its connection (operations in flight at once). */
  lanes: number;
  seed: number;
  accounts: string[];
  /** Keys every worker uses: same key → same account and amount, so a second use is a replay. */
  sharedDebits: SharedKey[];
  sharedGrants: SharedKey[];
}

export interface SharedKey {
  key: string;
  account: string;
  amount: number;
}

export type AckOp = 'grant' | 'debit' | 'debitOnce' | 'refund';

/** One acknowledged result, written by a worker as a JSON line as soon as it comes back. */
export interface Ack {
  w: number;
  n: number;
  op: AckOp;
  /** A repeat of an earlier call of this worker, same key and parameters. */
  retry: boolean;
  account: string;
  amount: number;
  key: string | null;
  ref: string | null;
  /** The note of the app row the call carried `with` (app_ledger_links), or null. */
  note: string | null;
  outcome: string;
  entryId: string | null;
  balance: number | null;
  /** Date.now() when the result came back. */
  t: number;
  /** How long the call took, lock waits included. */
  ms: number;
}

/** Something a worker saw that breaks the contract, or an error it did not expect. */
export interface Incident {
  w: number;
  n: number;
  kind: 'error' | 'violation';
  op: string;
  message: string;
  code?: string;
}

export type LogLine = ({ type: 'ack' } & Ack) | ({ type: 'incident' } & Incident);
