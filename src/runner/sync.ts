import { wrapDriverError } from '../errors.js';
import type { DriverName, Row, Runner, Statement, Unit } from './types.js';

/** What better-sqlite3 and bun:sqlite have in common, reduced to what we use. */
export interface SyncStatement {
  all(args: readonly unknown[]): Row[];
  run(args: readonly unknown[]): void;
}

export interface SyncDatabase {
  prepare(sql: string): SyncStatement;
}

const STATEMENT_CACHE_MAX = 256;

/**
 * Sync drivers: statements are prepared once and cached; a multi-statement unit runs
 * inside BEGIN IMMEDIATE … COMMIT in one synchronous call, so no other writer (thread,
 * process) and no other JS task can interleave.
 */
export function createSyncRunner(driver: DriverName, db: SyncDatabase): Runner {
  const cache = new Map<string, SyncStatement>();
  const prepare = (sql: string): SyncStatement => {
    let s = cache.get(sql);
    if (s === undefined) {
      if (cache.size >= STATEMENT_CACHE_MAX) cache.clear();
      s = db.prepare(sql);
      cache.set(sql, s);
    }
    return s;
  };
  const begin = () => prepare('BEGIN IMMEDIATE').run([]);
  const commit = () => prepare('COMMIT').run([]);
  const rollback = () => {
    try {
      prepare('ROLLBACK').run([]);
    } catch {
      // Already rolled back by SQLite (e.g. SQLITE_FULL aborts the transaction).
    }
  };

  const inTransaction = <T>(fn: () => T): T => {
    begin();
    let result: T;
    try {
      result = fn();
    } catch (e) {
      rollback();
      throw e;
    }
    commit();
    return result;
  };

  return {
    driver,
    async write(unit: Unit) {
      try {
        const { statements } = unit;
        const first = statements[0];
        if (first === undefined) return [];
        if (statements.length === 1 || unit.fastPath) {
          // A single statement is atomic on its own: SQLite takes the write lock before
          // its first read, so the head it guards on cannot move under it.
          const rows = prepare(first.sql).all(first.args);
          if (rows.length > 0 || statements.length === 1) return [rows];
          // Nothing inserted: the explanation reads run in one read snapshot. They only
          // classify a no-op; an append-only log cannot un-explain it afterwards.
          return [rows, ...readAll(statements.slice(1))];
        }
        return inTransaction(() => statements.map((s) => prepare(s.sql).all(s.args)));
      } catch (e) {
        wrapDriverError(e);
      }
    },
    async read(statements) {
      try {
        return readAll(statements);
      } catch (e) {
        wrapDriverError(e);
      }
    },
    async exec(statements) {
      try {
        inTransaction(() => {
          for (const s of statements) db.prepare(s.sql).run(s.args);
        });
      } catch (e) {
        wrapDriverError(e);
      }
    },
  };

  function readAll(statements: readonly Statement[]): Row[][] {
    if (statements.length === 1) {
      const s = statements[0] as Statement;
      return [prepare(s.sql).all(s.args)];
    }
    // DEFERRED: a read transaction gives the statements one snapshot without a write lock.
    prepare('BEGIN').run([]);
    try {
      const out = statements.map((s) => prepare(s.sql).all(s.args));
      prepare('COMMIT').run([]);
      return out;
    } catch (e) {
      rollback();
      throw e;
    }
  }
}
