import type { Statement } from '../runner/index.js';
import { FOLD_ADVANCE, USAGE_FOLD } from './sql.js';

/**
 * rebuild()'s part for the usage rollup: re-derived from the log in SQL, inside rebuild's
 * own atomic unit (after its guard, so only when the log still ends at `lastPos`): the
 * cursor row restored at 0, every bucket deleted, the whole log up to `lastPos` folded by
 * the same statement the reads use, and the cursor moved to `lastPos`.
 */
export const rebuildUsage = (lastPos: number): Statement[] => [
  { sql: 'INSERT OR REPLACE INTO credit_usage_cursor (id, through) VALUES (1, 0)', args: [] },
  { sql: 'DELETE FROM credit_usage', args: [] },
  { sql: USAGE_FOLD, args: [lastPos] },
  { sql: FOLD_ADVANCE, args: [lastPos] },
];
