import { num } from '../entry.js';
import { toLedgerError } from '../errors.js';
import { USAGE_FOLD_CHUNK, USAGE_FOLD_LAG } from '../limits.js';
import type { Runner } from '../runner/index.js';
import { FOLD_ADVANCE, FOLD_STATE, USAGE_FOLD } from './sql.js';

export interface FoldReport {
  /** Log rows folded into the rollup by this call. */
  folded: number;
  /** The rollup now counts every row with pos <= through. */
  through: number;
}

/**
 * Brings the usage rollup up to date with the log, one bounded atomic unit per chunk. No
 * scheduler needed: readers and cap_set call it before they read the rollup. Rows it
 * leaves (at most `lag`, or more if the database is read-only) are added by readers from
 * USAGE_TAIL, so answers are exact either way.
 */
export async function foldUsage(runner: Runner, options: { lag?: number } = {}): Promise<FoldReport> {
  const lag = options.lag ?? USAGE_FOLD_LAG;
  let folded = 0;
  for (;;) {
    const [[state] = []] = await runner.read([{ sql: FOLD_STATE, args: [] }]);
    const through = num(state?.through);
    const top = num(state?.top);
    if (top - through <= lag) return { folded, through };
    try {
      await runner.exec([
        { sql: USAGE_FOLD, args: [USAGE_FOLD_CHUNK] },
        { sql: FOLD_ADVANCE, args: [USAGE_FOLD_CHUNK] },
      ]);
    } catch (e) {
      // A read-only database (a replica, a read-only file) cannot fold: readers add the tail.
      const error = toLedgerError(e);
      if (error.code === 'readonly') return { folded, through };
      throw error;
    }
    folded += Math.min(USAGE_FOLD_CHUNK, top - through);
  }
}
