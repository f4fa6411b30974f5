/**
 * The change feed: the whole log in commit order, by position. `pos` is the log's INTEGER
 * PRIMARY KEY (the rowid), assigned by SQLite while the inserting transaction holds the
 * database's one write lock, and rows are never deleted; so a row committed later always has
 * a higher position than every row committed before it, and a reader that continues with
 * `pos > cursor` never skips a row another process commits meanwhile (see docs/architecture.md).
 */
import { toEntry } from '../entry.js';
import { ENTRY_POS, idArgs } from '../ids.js';
import { ENTRIES_DEFAULT_LIMIT } from '../limits.js';
import type { Context } from '../ops/context.js';
import type { Entry } from '../types.js';
import type { EntriesPage } from './types.js';

const PAGE = 'SELECT * FROM credit_entry WHERE pos > CAST(? AS INTEGER) ORDER BY pos LIMIT ?';
const ONE = `SELECT * FROM credit_entry WHERE pos = ${ENTRY_POS}`;

/** Entries after the cursor, oldest first; one read. */
export async function entries(ctx: Context, o: { after?: string; limit?: number }): Promise<EntriesPage> {
  const limit = o.limit ?? ENTRIES_DEFAULT_LIMIT;
  const after = o.after ?? '0';
  const [rows = []] = await ctx.runner.read([{ sql: PAGE, args: [Number(after), limit + 1] }]);
  const page = rows.slice(0, limit);
  const last = page[page.length - 1];
  return {
    entries: page.map((r) => toEntry(r, ctx.ids)),
    cursor: last === undefined ? after : String(last.pos),
    hasMore: rows.length > limit,
  };
}

/** One entry by id (any account; a pre-0009 ULID too), or null. */
export async function entry(ctx: Context, id: string): Promise<Entry | null> {
  const [[row] = []] = await ctx.runner.read([{ sql: ONE, args: idArgs(ctx.ids.parse(id)) }]);
  return row === undefined ? null : toEntry(row, ctx.ids);
}
