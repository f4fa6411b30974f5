/**
 * An app's own table for the `with` tests: one row per ledger operation the app tied to
 * it, keyed by a note that names the operation (its unique tag). Queries are built with
 * drizzle's sqlite-core and a driverless drizzle handle (sqlite-proxy): every SQLite
 * drizzle handle renders the same SQL, and the ledger binds it itself on whatever driver
 * it runs on (D1 and libSQL batches, better-sqlite3, bun:sqlite over the test wire).
 */
import { integer, sqliteTable, text } from 'drizzle-orm/sqlite-core';
import { drizzle } from 'drizzle-orm/sqlite-proxy';

/** The app creates its table itself, through SQL, next to the ledger's. */
export const APP_LINKS_DDL = 'CREATE TABLE app_ledger_links (entry_note TEXT PRIMARY KEY, account TEXT NOT NULL, amount INTEGER NOT NULL)';

export const appLedgerLinks = sqliteTable('app_ledger_links', {
  entryNote: text('entry_note').primaryKey(),
  account: text('account').notNull(),
  amount: integer('amount').notNull(),
});

/** Only ever asked for `toSQL()`: the ledger runs the statements, never this handle. */
const app = drizzle(async () => {
  throw new Error('app-links: this handle only builds queries');
});

/** The app's statement to send `with` an operation: its row, under the operation's note. */
export const linkInsert = (entryNote: string, account: string, amount: number) =>
  app.insert(appLedgerLinks).values({ entryNote, account, amount });

/**
 * Whether calls on a key that several processes (or retries) share carry `with`: decided
 * by the key alone, so every caller sends the same call (about half of the keys do).
 */
export const linkedByKey = (key: string) => [...key].reduce((n, c) => n + c.charCodeAt(0), 0) % 2 === 0;

/** Reads the app's rows back (any driver's raw SQL): note → [account, amount]. */
export const LINKS_SELECT = 'SELECT entry_note, account, amount FROM app_ledger_links ORDER BY entry_note';
