import { num } from '../entry.js';
import { LedgerError, toLedgerError } from '../errors.js';
import { USAGE_FOLD_CHUNK, USAGE_FOLD_LAG } from '../limits.js';
import type { Row, Runner } from '../runner/index.js';
import { FOLD_ADVANCE, FOLD_STATE, USAGE_FOLD } from './sql.js';

export interface FoldReport {
  /** Log positions folded into the rollup by this call (positions, not only usage rows). */
  folded: number;
  /** The rollup now counts every row with pos <= through. */
  through: number;
  /**
   * False when the fold could not write (a read-only database or connection, a transaction
   * the app holds open, a writer holding the lock past the busy timeout, a full disk): more
   * than `lag` rows may be unfolded, and readers must add all of them.
   */
  complete: boolean;
}

/** Where the fold stands, as FOLD_STATE reads it. */
export interface FoldState {
  through: number;
  top: number;
}

/** FOLD_STATE's row; a rollup without its cursor row cannot be read or folded. */
export function foldState(row: Row | undefined): FoldState {
  if (row === undefined || row.through === null || row.through === undefined) {
    throw new LedgerError(
      'internal',
      'the usage rollup has lost its cursor row (credit_usage_cursor): run ledger.rebuild() to re-derive the rollup from the log',
    );
  }
  return { through: num(row.through), top: num(row.top) };
}

/** Errors that mean "this connection cannot write now", not "something is wrong". */
const CANNOT_WRITE = new Set(['readonly', 'in_transaction', 'busy', 'storage_full']);

/**
 * Brings the usage rollup up to date with the log, one bounded atomic unit per chunk. No
 * scheduler needed: readers (and sweep) call it before they read the rollup. Rows it leaves
 * (at most `lag`, or more if it could not write: `complete: false`) are added by readers
 * from USAGE_TAIL, so answers are exact either way.
 *
 * `state` is where the fold stands if the caller has just read it (saves a round trip);
 * `chunk` exists for tests of the chunked path.
 */
export async function foldUsage(runner: Runner, options: { lag?: number; state?: FoldState; chunk?: number } = {}): Promise<FoldReport> {
  const lag = options.lag ?? USAGE_FOLD_LAG;
  const chunk = options.chunk ?? USAGE_FOLD_CHUNK;
  let folded = 0;
  let state = options.state;
  for (;;) {
    if (state === undefined) {
      const [[row] = []] = await runner.read([{ sql: FOLD_STATE, args: [] }]);
      state = foldState(row);
    }
    const { through, top } = state;
    if (top - through <= lag) return { folded, through, complete: true };
    try {
      await runner.exec([
        { sql: USAGE_FOLD, args: [chunk] },
        { sql: FOLD_ADVANCE, args: [chunk] },
      ]);
    } catch (e) {
      // A read-only database (a replica, a read-only file), the app's own open transaction, a
      // long-held lock or a full disk: the fold waits for a connection that can write; readers
      // add the tail, and sweep() (whose own writes are committed by then) reports what it did.
      const error = toLedgerError(e);
      if (CANNOT_WRITE.has(error.code)) return { folded, through, complete: false };
      throw error;
    }
    // The unit folded (through, min(through + chunk, the log's top when it ran)]: at least
    // up to the top read above. When that was the whole backlog, no need to read again.
    const reached = Math.min(through + chunk, top);
    folded += reached - through;
    if (top - through <= chunk) return { folded, through: reached, complete: true };
    state = undefined;
  }
}
