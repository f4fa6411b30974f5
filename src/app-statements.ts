/**
 * The app's own statements, made atomic with a ledger operation: `ledger.debitIfCovers(input,
 * { with: [db.insert(orders).values(…)] })`. They run after the operation's row, in the same
 * atomic unit (one round trip on D1 and libSQL), and only if the operation applied in this
 * call: an `insufficient`, a `replayed`, a conflict or any failure leaves them unrun and the
 * database as it was. Any Drizzle query builder works (anything with `toSQL()`); the ledger
 * binds its parameters itself, so they run on every driver, D1 batches included.
 */
import { LedgerError } from './errors.js';
import { WITH_MAX_STATEMENTS } from './limits.js';
import type { Statement } from './runner/index.js';

/** A Drizzle query builder (insert, update, delete, select) for the same database. */
export interface AppStatement {
  toSQL(): { sql: string; params: readonly unknown[] };
}

/** The second argument of every money operation. */
export interface WriteOptions {
  /** Statements of the app's own tables that must commit with the operation, or not at all. */
  with?: readonly AppStatement[];
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Validates `options` and renders its statements; throws invalid_argument before anything runs. */
export function appStatements(options: unknown, op: string): Statement[] | undefined {
  if (options === undefined) return undefined;
  if (!isObject(options)) throw new LedgerError('invalid_argument', `${op}: options must be an object like { with: [...] }`);
  const unknown = Object.keys(options).filter((k) => k !== 'with');
  if (unknown.length > 0)
    throw new LedgerError('invalid_argument', `${op}: unknown option ${unknown.map((k) => JSON.stringify(k)).join(', ')}`);
  const list = options.with;
  if (list === undefined) return undefined;
  if (!Array.isArray(list)) throw new LedgerError('invalid_argument', `${op}: with must be an array of Drizzle queries`, { field: 'with' });
  if (list.length > WITH_MAX_STATEMENTS) {
    throw new LedgerError('invalid_argument', `${op}: with takes at most ${WITH_MAX_STATEMENTS} statements, got ${list.length}`, {
      field: 'with',
    });
  }
  if (list.length === 0) return undefined;
  return Array.from(list, (q: unknown, i) => {
    let rendered: unknown;
    try {
      if (!isObject(q) || typeof q.toSQL !== 'function') throw new Error('not a Drizzle query (it has no toSQL())');
      rendered = (q.toSQL as () => unknown)();
    } catch (e) {
      throw new LedgerError('invalid_argument', `${op}: with[${i}]: ${e instanceof Error ? e.message : String(e)}`, { field: 'with' });
    }
    if (!isObject(rendered) || typeof rendered.sql !== 'string' || !Array.isArray(rendered.params)) {
      throw new LedgerError('invalid_argument', `${op}: with[${i}]: toSQL() did not return { sql, params }`, { field: 'with' });
    }
    return { sql: rendered.sql, args: rendered.params as unknown[] };
  });
}
