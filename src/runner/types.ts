/** A pre-rendered statement: constant SQL text (so drivers can cache it) and its arguments. */
export interface Statement {
  readonly sql: string;
  readonly args: readonly unknown[];
}

export type Row = Record<string, unknown>;

/**
 * One atomic unit sent in one round trip. `fastPath`: the first statement is the only
 * write and the rest only explain a no-op (why nothing was inserted). Sync drivers may
 * then run the write alone in autocommit and the rest only if it returned no row.
 */
export interface Unit {
  readonly statements: readonly Statement[];
  readonly fastPath?: boolean;
}

export type DriverName = 'better-sqlite3' | 'libsql' | 'd1' | 'bun:sqlite';

/**
 * The only thing that touches a driver. `write` is atomic and costs one round trip:
 * `db.batch` on D1 and libSQL, a synchronous BEGIN IMMEDIATE transaction on
 * better-sqlite3 and bun:sqlite. Never an interactive transaction.
 */
export interface Runner {
  readonly driver: DriverName;
  write(unit: Unit): Promise<Row[][]>;
  /** Reads; several statements see one snapshot. */
  read(statements: readonly Statement[]): Promise<Row[][]>;
  /** Schema changes and other statements that return nothing, atomically. */
  exec(statements: readonly Statement[]): Promise<void>;
}
