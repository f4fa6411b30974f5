/**
 * Opens the ledger the global options point at: a local SQLite file through better-sqlite3
 * (`--db`), or libSQL (`--url`, `file:` or a remote Turso URL). Driver modules are loaded on
 * demand, so only the one in use has to be installed.
 */
import { existsSync } from 'node:fs';
import { createLedger, type Ledger, LedgerError, type LedgerOptions } from '../index.js';

export interface ConnectionOptions {
  /** SQLite file for better-sqlite3 (default ./credits.db). */
  db: string;
  /** libSQL URL; wins over `db` when given. */
  url?: string;
  authToken?: string;
  /** The entry id prefix the app gives its ledger (createLedger's `idPrefix`). */
  idPrefix?: string;
}

export interface OpenedLedger {
  ledger: Ledger;
  /** What was opened, for messages. */
  target: string;
  close(): Promise<void>;
}

/** Busy timeout for both drivers: how long a writer waits for another process's lock. */
export const BUSY_TIMEOUT_MS = 5_000;

/**
 * `mustExist`: commands other than `migrate` never create a database file. A missing file
 * is reported like a missing schema (`schema_missing`), which is what it amounts to.
 */
export async function openLedger(opts: ConnectionOptions, { mustExist }: { mustExist: boolean }): Promise<OpenedLedger> {
  const options = opts.idPrefix === undefined ? {} : { idPrefix: opts.idPrefix };
  return opts.url === undefined ? openFile(opts.db, mustExist, options) : openLibsql(opts.url, opts.authToken, mustExist, options);
}

function missing(target: string): LedgerError {
  return new LedgerError('schema_missing', `no database at ${target}: run \`drizzle-credits migrate\` first`, { target });
}

async function openFile(file: string, mustExist: boolean, options: LedgerOptions): Promise<OpenedLedger> {
  if (mustExist && !existsSync(file)) throw missing(file);
  const { default: Database } = await load(() => import('better-sqlite3'), 'better-sqlite3');
  const { drizzle } = await import('drizzle-orm/better-sqlite3');
  const client = new Database(file, { fileMustExist: mustExist });
  try {
    // Switching to WAL is a write: on a read-only file keep the journal mode it has.
    if (!client.readonly) {
      try {
        client.pragma('journal_mode = WAL');
      } catch (e) {
        if (!/readonly|read-only/i.test(String((e as Error)?.message))) throw e;
      }
    }
    client.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
  } catch (e) {
    client.close();
    throw e;
  }
  return {
    ledger: createLedger(drizzle(client), options),
    target: file,
    close: async () => {
      client.close();
    },
  };
}

async function openLibsql(url: string, authToken: string | undefined, mustExist: boolean, options: LedgerOptions): Promise<OpenedLedger> {
  const local = localPathOf(url);
  if (mustExist && local !== null && !existsSync(local)) throw missing(url);
  const { createClient } = await load(() => import('@libsql/client'), '@libsql/client');
  const { drizzle } = await import('drizzle-orm/libsql');
  // `timeout` is the busy timeout of local files (libsql-client-ts #352). It is not in the
  // Config type of every client version, hence the widened object.
  const config: Parameters<typeof createClient>[0] & { timeout: number } = { url, authToken, timeout: BUSY_TIMEOUT_MS };
  const client = createClient(config);
  if (local !== null) {
    // Some client versions (0.15.x) drop `timeout` for local files; set it on the connection too.
    await client.execute(`PRAGMA busy_timeout = ${BUSY_TIMEOUT_MS}`);
  }
  return {
    ledger: createLedger(drizzle(client), options),
    target: url,
    close: async () => {
      client.close();
    },
  };
}

/** The file behind a `file:` URL (`file:x.db`, `file:/abs/x.db`, `file:///abs/x.db`); null otherwise. */
export function localPathOf(url: string): string | null {
  if (!url.startsWith('file:')) return null;
  let path = url.slice('file:'.length).split('?')[0] ?? '';
  if (path.startsWith('//')) {
    const slash = path.indexOf('/', 2); // skip the authority: file://localhost/x.db
    path = slash < 0 ? '' : path.slice(slash);
  }
  path = decodeURIComponent(path);
  return path === '' || path === ':memory:' ? null : path;
}

async function load<T>(importer: () => Promise<T>, name: string): Promise<T> {
  try {
    return await importer();
  } catch (e) {
    throw new Error(`the ${name} driver is not installed: npm install ${name}`, { cause: e });
  }
}
