/** A pre-rendered statement: constant SQL text (so drivers can cache it) and its arguments. */
export interface Statement {
  readonly sql: string;
  readonly args: readonly unknown[];
}

export type Row = Record<string, unknown>;

/**
 * One atomic unit sent in one round trip.
 * - `primary`: the conditional INSERT … RETURNING; it returns the new row or nothing.
 *   Everything else the operation writes (lot draws, opening and closing lots and holds)
 *   is done by triggers on the row, inside that one statement.
 * - `explain`: reads that say why nothing was inserted (insufficient, replay, not found).
 *   Batch drivers always send them; sync drivers run them only after a no-op.
 */
export interface Unit {
  readonly primary: Statement;
  readonly explain?: readonly Statement[];
  /** Reads run last on every driver: the state the unit left. */
  readonly after?: readonly Statement[];
  /**
   * The app's own statements (`with`): they run after the primary, in the same atomic unit,
   * only if the primary inserted its row in this call; otherwise the whole unit is undone.
   */
  readonly with?: readonly Statement[];
  /** Runs first, aborting the unit by failing (the schema check of a ledger's first write). */
  readonly precheck?: Statement;
  /**
   * The ledger's own writes that must precede the primary when something is due for its
   * account (a subscription's period allowance, src/plans/settle.ts): idempotent, and no-ops
   * unless due. Batch drivers always send them first in the unit (still one round trip). Sync
   * drivers send the primary alone — its guard refuses while anything is due — and only when
   * it did nothing and `probe` returns a row, run the whole unit again as one transaction
   * with these first: an account without a subscription keeps the one-statement path.
   */
  readonly settle?: Settle;
  /**
   * The ledger's own writes after the primary (and the app's `with`), whether or not it
   * inserted: idempotent statements that are no-ops unless its row made them due (the first
   * allowance of a new subscription). Their results are not returned.
   */
  readonly follow?: readonly Statement[];
}

export interface Settle {
  readonly probe: Statement;
  readonly writes: readonly Statement[];
  /** The account, when the operation names it (not a capture, which names its hold), and the time. */
  readonly account?: string;
  readonly now: number;
}

export interface UnitResult {
  /** The primary's RETURNING rows: one row if it inserted, none otherwise. */
  readonly rows: Row[];
  /** Results of the explain reads; empty arrays where they were not run. */
  readonly explain: Row[][];
  /** Results of the `after` reads. */
  readonly after: Row[][];
}

export type DriverName = 'better-sqlite3' | 'libsql' | 'd1' | 'bun:sqlite';

/**
 * The only thing that touches a driver. `write` is atomic and costs one round trip:
 * `db.batch` on D1 and libSQL, a synchronous BEGIN IMMEDIATE transaction on
 * better-sqlite3 and bun:sqlite. Never an interactive transaction.
 */
export interface Runner {
  readonly driver: DriverName;
  write(unit: Unit): Promise<UnitResult>;
  /** Several units in one atomic round trip (sweeps, batches). */
  writeMany(units: readonly Unit[]): Promise<UnitResult[]>;
  /** Reads; several statements see one snapshot. */
  read(statements: readonly Statement[]): Promise<Row[][]>;
  /** Schema changes and other statements that return nothing, atomically. */
  exec(statements: readonly Statement[]): Promise<void>;
}
