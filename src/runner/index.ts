import type { BaseSQLiteDatabase } from 'drizzle-orm/sqlite-core';
import { LedgerError } from '../errors.js';
import { betterSqlite3Runner } from './better-sqlite3.js';
import { bunSqliteRunner } from './bun-sqlite.js';
import { d1Runner } from './d1.js';
import { settlingLazily } from './lazy-settle.js';
import { libsqlRunner } from './libsql.js';
import type { Runner } from './types.js';

export type { DriverName, Row, Runner, Statement, Unit, UnitResult } from './types.js';

// biome-ignore lint/suspicious/noExplicitAny: drizzle's own generic for "any SQLite driver".
export type AnySQLiteDatabase = BaseSQLiteDatabase<'sync' | 'async', any, any, any>;

const ENTITY_KIND = Symbol.for('drizzle:entityKind');

/** Drizzle's `tx` objects are all subclasses of SQLiteTransaction (entity kinds, as drizzle's own `is()` checks). */
function isDrizzleTransaction(db: unknown): boolean {
  try {
    for (let c = (db as { constructor?: unknown } | null)?.constructor; typeof c === 'function'; c = Object.getPrototypeOf(c)) {
      if ((c as unknown as Record<symbol, unknown>)[ENTITY_KIND] === 'SQLiteTransaction') return true;
    }
  } catch {
    // A hostile object: not a transaction we can recognise; the checks below refuse it.
  }
  return false;
}

/**
 * Pick the runner from the Drizzle handle the app injected. Driver modules are never
 * imported here (loading `drizzle-orm/better-sqlite3` loads the native driver, and
 * `bun:sqlite` breaks Node): detection looks at `resultKind`, `batch` and the client.
 */
export function runnerFor(db: AnySQLiteDatabase): Runner {
  if (isDrizzleTransaction(db)) {
    throw new LedgerError(
      'in_transaction',
      'createLedger was given a Drizzle transaction (tx): pass the root db, the result of drizzle(client). The ledger ' +
        'commits each operation as its own atomic unit and cannot join a transaction the app opened; to make your own ' +
        "statements atomic with a ledger operation, pass them in that operation's `with` option, e.g. " +
        'ledger.debitIfCovers(input, { with: [db.insert(orders).values(…)] })',
    );
  }
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
    if (typeof client.execute === 'function' && typeof client.batch === 'function') return settlingLazily(libsqlRunner(client as never));
    if (typeof client.prepare === 'function' && typeof client.batch === 'function') return settlingLazily(d1Runner(client as never));
  }
  throw new LedgerError(
    'driver_unsupported',
    'unsupported Drizzle driver: use better-sqlite3, libSQL (@libsql/client), Cloudflare D1 or bun:sqlite',
  );
}
