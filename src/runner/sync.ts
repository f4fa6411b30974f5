import { errorText, LedgerError, toLedgerError, wrapDriverError } from '../errors.js';
import type { DriverName, Row, Runner, Statement, Unit, UnitResult } from './types.js';

/** What better-sqlite3 and bun:sqlite have in common, reduced to what we use. */
export interface SyncStatement {
  all(args: readonly unknown[]): Row[];
  run(args: readonly unknown[]): void;
}

export interface SyncDatabase {
  prepare(sql: string): SyncStatement;
  /** The connection is inside a transaction (SQLite's autocommit is off). */
  inTransaction(): boolean;
}

const STATEMENT_CACHE_MAX = 256;

/** Thrown inside a unit's transaction to roll it back and still return what it read. */
class Undo {
  constructor(readonly result: UnitResult) {}
}

/**
 * Sync drivers: statements are prepared once and cached; a unit of several statements
 * (final reads, the app's own statements) runs inside BEGIN IMMEDIATE … COMMIT in one synchronous call, so no other writer
 * (process) and no other JS task can interleave. A unit that is a single conditional
 * INSERT runs in autocommit: SQLite takes the write lock before the statement's first
 * read, so the head it guards on cannot move under it.
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
  const all = (s: Statement) => prepare(s.sql).all(s.args);
  /**
   * Any failure inside our transaction — the work or the COMMIT itself — rolls it back.
   * SQLite keeps a transaction open when COMMIT fails (SQLITE_BUSY: it could be retried);
   * left open, its writes would stay pending on this connection, be counted by the next
   * call and be lost when the connection closes. A failed BEGIN opened nothing.
   */
  const transaction = <T>(mode: 'BEGIN IMMEDIATE' | 'BEGIN', fn: () => T): T => {
    prepare(mode).run([]);
    try {
      const result = fn();
      prepare('COMMIT').run([]);
      return result;
    } catch (e) {
      try {
        prepare('ROLLBACK').run([]);
      } catch {
        // Already rolled back by SQLite (e.g. SQLITE_FULL aborts the transaction).
      }
      if (db.inTransaction()) {
        throw new LedgerError('internal', `the ledger could not roll back its own failed transaction (${errorText(e)})`, undefined, {
          cause: e,
        });
      }
      throw e;
    }
  };

  /** The app's statements sent `with` an operation; a failure of theirs undoes the unit. */
  const runApp = (statements: readonly Statement[]) => {
    for (const s of statements) {
      try {
        all(s);
      } catch (e) {
        // The database's own refusals keep their code, as on the batch drivers (batch.ts).
        const known = toLedgerError(e);
        if (known.code === 'busy' || known.code === 'readonly' || known.code === 'storage_full') throw known;
        throw new LedgerError(
          'app_statement_failed',
          `a statement passed in \`with\` failed, so the operation was not applied: ${errorText(e)}`,
          { sql: s.sql.slice(0, 200) },
          { cause: e },
        );
      }
    }
  };

  const due = (unit: Unit): boolean => unit.settle !== undefined && all(unit.settle.probe).length > 0;

  const settleNow = (unit: Unit) => {
    for (const s of unit.settle?.writes ?? []) prepare(s.sql).run(s.args);
  };

  /**
   * Runs one unit; the caller provides the transaction when there is one. A plan operation
   * (`follow`) settles first: its row changes the terms. Any other unit runs its primary
   * first — its guard refuses while anything is due for the account — and settles and runs
   * it again only when it did nothing and the probe finds something due (as the autocommit
   * path in `write` does): a batch of debits pays no probe per op (measured: batch ingest).
   */
  const runUnit = (unit: Unit): UnitResult => {
    if (unit.precheck !== undefined) all(unit.precheck);
    const planOp = unit.follow !== undefined;
    if (planOp && due(unit)) settleNow(unit);
    let rows = all(unit.primary);
    if (rows.length === 0 && !planOp && due(unit)) {
      settleNow(unit);
      rows = all(unit.primary);
    }
    const row = rows[0];
    let explain: Row[][] = [];
    if (row !== undefined) {
      runApp(unit.with ?? []);
    } else {
      explain = (unit.explain ?? []).map(all);
    }
    if (row !== undefined) for (const s of unit.follow ?? []) prepare(s.sql).run(s.args);
    const result = { rows, explain, after: (unit.after ?? []).map(all) };
    // An operation with `follow` statements that did not apply leaves nothing, not even the
    // settle statements before it (as on the batch drivers, whose unit aborts).
    if (row === undefined && unit.follow !== undefined) throw new Undo(result);
    return result;
  };

  /** Reads inside a transaction the app opened run in it (one snapshot already); writes are refused. */
  const readAll = (statements: readonly Statement[]): Row[][] =>
    statements.length === 1 || db.inTransaction() ? statements.map(all) : transaction('BEGIN', () => statements.map(all));

  /**
   * A write inside a transaction the app opened on this connection (drizzle's
   * `db.transaction`, a BEGIN) would become part of it: acknowledged now, undone by the
   * app's rollback. One property read (sqlite3_get_autocommit), before anything is sent.
   */
  const refuseInsideAppTransaction = () => {
    if (db.inTransaction()) {
      throw new LedgerError(
        'in_transaction',
        'the connection is inside a transaction the app opened (db.transaction or BEGIN): the ledger commits each ' +
          "operation as its own atomic unit and cannot join it (the app's rollback would undo a write the ledger " +
          'reported). Call the ledger outside the transaction; to make your own statements atomic with a ledger ' +
          "operation, pass them in that operation's `with` option",
      );
    }
  };

  return {
    driver,
    async write(unit) {
      try {
        refuseInsideAppTransaction();
        if (unit.after === undefined && unit.with === undefined && unit.follow === undefined) {
          // The schema check aborts by failing; on its own it writes nothing.
          if (unit.precheck !== undefined) all(unit.precheck);
          const rows = all(unit.primary);
          if (rows.length > 0) return { rows, explain: [], after: [] };
          if (unit.explain === undefined && unit.settle === undefined) return { rows, explain: [], after: [] };
          // A no-op: run it again as one unit (with the allowance of a new period written first,
          // if that is what refused it), so that if it is refused again the reads that say why
          // see the state that refused it. Read after the autocommit INSERT instead, a member
          // removed and added back in between made a forbidden spend read as insufficient
          // (found by test/reliability/transfers.test.ts).
          return transaction('BEGIN IMMEDIATE', () => runUnit(unit));
        }
        try {
          return transaction('BEGIN IMMEDIATE', () => runUnit(unit));
        } catch (e) {
          if (e instanceof Undo) return e.result;
          throw e;
        }
      } catch (e) {
        wrapDriverError(e);
      }
    },
    async writeMany(units) {
      try {
        refuseInsideAppTransaction();
        return transaction('BEGIN IMMEDIATE', () => units.map((u) => runUnit(u)));
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
        refuseInsideAppTransaction();
        transaction('BEGIN IMMEDIATE', () => {
          for (const s of statements) db.prepare(s.sql).run(s.args);
        });
      } catch (e) {
        wrapDriverError(e);
      }
    },
  };
}
