/**
 * The one driver matrix every behavioural suite runs on. Each entry opens a fresh,
 * migrated database and returns the Ledger under test plus raw SQL access (for
 * snapshots and for tampering behind the library's back).
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import type { Ledger } from '../../src/index.js';
import { createLedger, LedgerError } from '../../src/index.js';
import { D1_OVER_FETCH, d1OverFetch } from './d1-over-fetch.js';
import { migratedD1Copy } from './d1-template.js';
import { encode } from './wire.js';

export type Row = Record<string, unknown>;

export interface TestDb {
  readonly name: string;
  readonly ledger: Ledger;
  /** A second ledger instance on the same connection (bun: replaces the host's instance). */
  another?(): Promise<Ledger>;
  all(sql: string, args?: unknown[]): Promise<Row[]>;
  exec(sql: string): Promise<void>;
  close(): Promise<void>;
}

export interface DriverSpec {
  readonly name: string;
  /** Rough cost of a statement; suites scale their run counts down for slow drivers. */
  readonly slow: boolean;
  open(opts?: OpenOptions): Promise<TestDb>;
}

export interface OpenOptions {
  clock?: () => number;
  migrate?: boolean;
  /**
   * A database file to start from (e.g. one a test seeded once and saved with VACUUM INTO):
   * the driver opens a copy of it. Drivers with a database file only (better-sqlite3 file,
   * libSQL, bun:sqlite); the others throw.
   */
  from?: string;
}

/** A new temp directory holding ledger.db: empty, or a copy of `from`. */
function dbDir(from: string | undefined): { dir: string; file: string } {
  const dir = tempDir();
  const file = join(dir, 'ledger.db');
  if (from !== undefined) copyFileSync(from, file);
  return { dir, file };
}

const tempDir = () => mkdtempSync(join(tmpdir(), 'drizzle-credits-'));

/** What better-sqlite3 and the `libsql` package's Database share, as the matrix uses it. */
interface SyncClient {
  prepare(sql: string): { reader: boolean; all(...args: unknown[]): unknown[]; run(...args: unknown[]): unknown };
  exec(sql: string): unknown;
  close(): unknown;
}

/** A ledger on a better-sqlite3-API client through drizzle-orm/better-sqlite3, as a TestDb. */
async function syncTestDb(name: string, client: SyncClient, opts: OpenOptions, dir: string | undefined): Promise<TestDb> {
  const { drizzle } = await import('drizzle-orm/better-sqlite3');
  const open = () => createLedger(drizzle(client as never), opts);
  return {
    name,
    ledger: open(),
    another: async () => open(),
    all: async (sql, args = []) => {
      const stmt = client.prepare(sql);
      if (stmt.reader) return stmt.all(...args) as Row[];
      stmt.run(...args);
      return [];
    },
    exec: async (sql) => void client.exec(sql),
    close: async () => {
      client.close();
      if (dir) rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function betterSqlite(file: string | null, opts: OpenOptions = {}): Promise<TestDb & { dir?: string }> {
  const { default: Database } = await import('better-sqlite3');
  if (file === null && opts.from !== undefined) throw new Error('better-sqlite3 :memory: cannot open a copy of a file');
  const dir = file === null ? undefined : dbDir(opts.from).dir;
  const client = new Database(dir === undefined ? ':memory:' : join(dir, 'ledger.db'));
  client.pragma('journal_mode = WAL');
  client.pragma('busy_timeout = 5000');
  return syncTestDb(file === null ? 'better-sqlite3 :memory:' : 'better-sqlite3 file', client, opts, dir);
}

async function libsql(opts: OpenOptions = {}): Promise<TestDb> {
  const { createClient } = await import('@libsql/client');
  const { drizzle } = await import('drizzle-orm/libsql');
  const { dir, file } = dbDir(opts.from);
  const client = createClient({ url: `file:${file}`, timeout: 5000 } as never);
  await client.execute('PRAGMA journal_mode = WAL');
  const ledger = createLedger(drizzle(client), opts);
  return {
    name: 'libsql file:',
    ledger,
    another: async () => createLedger(drizzle(client), opts),
    all: async (sql, args = []) => {
      const rs = await client.execute({ sql, args: args as never });
      return rs.rows.map((r) => Object.fromEntries(rs.columns.map((c, i) => [c, r[i]])));
    },
    exec: async (sql) => void (await client.executeMultiple(sql)),
    close: async () => {
      client.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * libSQL's own engine on a local file through the `libsql` package (libsql-js, the binding
 * under @libsql/client's `file:` URLs), whose Database has better-sqlite3's API: an app
 * passes it to drizzle-orm/better-sqlite3, and the ledger's sync runner prepares each
 * statement once instead of once per call (README: libSQL).
 */
async function libsqlNative(opts: OpenOptions = {}): Promise<TestDb> {
  const { default: Database } = await import('libsql');
  const { dir, file } = dbDir(opts.from);
  const client = new Database(file);
  client.exec('PRAGMA journal_mode = WAL');
  client.exec('PRAGMA busy_timeout = 5000');
  return syncTestDb('libsql native', client as unknown as SyncClient, opts, dir);
}

/**
 * D1 on miniflare. Opened to be migrated, it starts from a copy of a database migrate() has
 * already built (test/support/d1-template.ts: a migrate() from empty costs ~1.5 s of CPU
 * here), persisted in a temp directory; the matrix then calls migrate() on it as on every
 * driver. Opened with `migrate: false`, it is empty and in memory.
 */
async function d1(opts: OpenOptions = {}): Promise<TestDb> {
  if (opts.from !== undefined) throw new Error('d1 cannot open a copy of a file');
  const { Miniflare } = await import('miniflare');
  const { drizzle } = await import('drizzle-orm/d1');
  const persist = opts.migrate === false ? undefined : await migratedD1Copy();
  const mf = new Miniflare({
    ...D1_OVER_FETCH,
    d1Databases: { DB: 'ledger' },
    ...(persist === undefined ? {} : { d1Persist: persist }),
  });
  const db = d1OverFetch(mf);
  const ledger = createLedger(drizzle(db as never), opts);
  return {
    name: 'd1 (miniflare)',
    ledger,
    another: async () => createLedger(drizzle(db as never), opts),
    all: async (sql, args = []) =>
      ((
        await db
          .prepare(sql)
          .bind(...args)
          .all()
      ).results ?? []) as Row[],
    exec: async (sql) => {
      for (const s of sql
        .split(';')
        .map((x) => x.trim())
        .filter(Boolean))
        await db.prepare(s).run();
    },
    close: async () => {
      await mf.dispose();
      if (persist !== undefined) rmSync(persist, { recursive: true, force: true });
    },
  };
}

const BUN_BIN = resolve(import.meta.dirname, '../../node_modules/.bin/bun');
const BUN_HOST = resolve(import.meta.dirname, 'bun-host.ts');

/** bun:sqlite cannot load in Node: the ledger runs in a bun process and we call it over stdio. */
async function bun(opts: OpenOptions = {}): Promise<TestDb> {
  const { dir, file } = dbDir(opts.from);
  const child: ChildProcessWithoutNullStreams = spawn(BUN_BIN, [BUN_HOST, file], { stdio: 'pipe' });
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: unknown) => void }>();
  let nextId = 1;
  let stderr = '';
  child.stderr.on('data', (d) => {
    stderr += String(d);
  });
  createInterface({ input: child.stdout }).on('line', (line) => {
    const msg = JSON.parse(line) as {
      id: number;
      ok: boolean;
      value?: unknown;
      error?: { ledger: boolean; code?: string; message: string; details?: Record<string, unknown> };
    };
    const p = pending.get(msg.id);
    if (!p) return;
    pending.delete(msg.id);
    if (msg.ok) p.resolve(reviveErrors(msg.value));
    else if (msg.error?.ledger) p.reject(new LedgerError(msg.error.code as never, msg.error.message, msg.error.details));
    else p.reject(new Error(msg.error?.message));
  });
  child.on('exit', (code) => {
    for (const p of pending.values()) p.reject(new Error(`bun host exited (${code}): ${stderr}`));
    pending.clear();
  });
  const call = (method: string, args: unknown[]): Promise<unknown> =>
    new Promise((resolve, reject) => {
      const id = nextId++;
      pending.set(id, { resolve, reject });
      child.stdin.write(`${encode({ id, method, args, now: opts.clock?.() })}\n`);
    });
  // ledger.x(…) calls "x"; a family namespace, ledger.caps.set(…), calls "caps.set".
  const NAMESPACES = new Set(['caps', 'analytics', 'plans', 'pricing', 'teams', 'alerts', 'events', 'webhooks']);
  const namespace = (ns: string) =>
    new Proxy({}, { get: (_t, prop) => (prop === 'then' ? undefined : (...args: unknown[]) => call(`${ns}.${String(prop)}`, args)) });
  const ledger = new Proxy({} as Ledger, {
    get(_t, prop) {
      if (prop === 'then') return undefined;
      if (prop === 'driver') return 'bun:sqlite';
      if (typeof prop === 'string' && NAMESPACES.has(prop)) return namespace(prop);
      return (...args: unknown[]) => call(String(prop), args);
    },
  });
  return {
    name: 'bun:sqlite',
    ledger,
    another: async () => {
      await call('__another', []);
      return ledger;
    },
    all: (sql, args = []) => call('__all', [sql, args]) as Promise<Row[]>,
    exec: async (sql) => void (await call('__exec', [sql])),
    close: async () => {
      child.stdin.end();
      await new Promise((r) => child.once('exit', r));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Rebuilds the LedgerErrors the bun host sent inside a result (test/support/bun-host.ts `carryErrors`). */
function reviveErrors(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(reviveErrors);
  if (v === null || typeof v !== 'object') return v;
  const e = (v as { $ledgerError?: { code: string; message: string; details?: Record<string, unknown> } }).$ledgerError;
  if (e !== undefined) return new LedgerError(e.code as never, e.message, e.details);
  return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, reviveErrors(x)]));
}

async function migrated(db: TestDb, migrate = true): Promise<TestDb> {
  if (migrate) await db.ledger.migrate();
  return db;
}

export const DRIVERS: DriverSpec[] = [
  { name: 'better-sqlite3 file', slow: false, open: (o) => betterSqlite('file', o).then((d) => migrated(d, o?.migrate)) },
  { name: 'better-sqlite3 :memory:', slow: false, open: (o) => betterSqlite(null, o).then((d) => migrated(d, o?.migrate)) },
  { name: 'libsql file:', slow: false, open: (o) => libsql(o).then((d) => migrated(d, o?.migrate)) },
  { name: 'libsql native', slow: false, open: (o) => libsqlNative(o).then((d) => migrated(d, o?.migrate)) },
  { name: 'd1 (miniflare)', slow: true, open: (o) => d1(o).then((d) => migrated(d, o?.migrate)) },
  { name: 'bun:sqlite', slow: false, open: (o) => bun(o).then((d) => migrated(d, o?.migrate)) },
];

/** Every row of the log, in a stable order: equal snapshots mean nothing was written. */
export const snapshot = (db: TestDb) => db.all('SELECT * FROM credit_entry ORDER BY account, seq');

/** A clock tests can move. */
export function manualClock(start = 1_700_000_000_000) {
  let t = start;
  return {
    now: () => t,
    advance: (ms: number) => {
      t += ms;
    },
    set: (ms: number) => {
      t = ms;
    },
  };
}

/** The log position behind a public entry id (`ce_42` → 42), for raw SQL in tests. */
export function posOf(id: string): number {
  const m = /^ce_([1-9][0-9]*)$/.exec(id);
  if (m === null) throw new Error(`not an entry id: ${id}`);
  return Number(m[1]);
}
