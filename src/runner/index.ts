import type { BaseSQLiteDatabase } from 'drizzle-orm/sqlite-core';
import { LedgerError } from '../errors.js';
import { betterSqlite3Runner } from './better-sqlite3.js';
import { bunSqliteRunner } from './bun-sqlite.js';
import { d1Runner } from './d1.js';
import { libsqlRunner } from './libsql.js';
import type { Runner } from './types.js';

export type { DriverName, Row, Runner, Statement, Unit, UnitResult } from './types.js';

// biome-ignore lint/suspicious/noExplicitAny: drizzle's own generic for "any SQLite driver".
export type AnySQLiteDatabase = BaseSQLiteDatabase<'sync' | 'async', any, any, any>;

/**
 * Pick the runner from the Drizzle handle the app injected. Driver modules are never
 * imported here (loading `drizzle-orm/better-sqlite3` loads the native driver, and
 * `bun:sqlite` breaks Node): detection looks at `resultKind`, `batch` and the client.
 */
export function runnerFor(db: AnySQLiteDatabase): Runner {
  const client = (db as unknown as { $client?: unknown }).$client as Record<string, unknown> | undefined;
  if (client === undefined || client === null) {
    throw new LedgerError(
      'driver_unsupported',
      'the Drizzle handle has no $client: pass the result of drizzle(client) from drizzle-orm ≥ 0.45',
    );
  }
  const resultKind = (db as unknown as { resultKind?: string }).resultKind;
  const hasBatch = typeof (db as unknown as { batch?: unknown }).batch === 'function';
  if (resultKind === 'sync') {
    if (typeof client.pragma === 'function') return betterSqlite3Runner(client as never);
    if (typeof client.query === 'function' && typeof client.prepare === 'function') return bunSqliteRunner(client as never);
  } else if (hasBatch) {
    if (typeof client.execute === 'function' && typeof client.batch === 'function') return libsqlRunner(client as never);
    if (typeof client.prepare === 'function' && typeof client.batch === 'function') return d1Runner(client as never);
  }
  throw new LedgerError(
    'driver_unsupported',
    'unsupported Drizzle driver: use better-sqlite3, libSQL (@libsql/client), Cloudflare D1 or bun:sqlite',
  );
}
