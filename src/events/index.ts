/**
 * `ledger.events`: the transactional outbox. Event rows are written by triggers on the log
 * (src/events/sql.ts is the trigger text, applied by migration 0014) inside the atomic unit
 * that writes their cause, so an event exists if and only if its cause committed.
 */
import { guard } from '../guard.js';
import { EVENTS_DEFAULT_LIMIT } from '../limits.js';
import type { Context } from '../ops/context.js';
import { parse } from '../validate.js';
import { toEvent } from './read.js';
import type { EventsListInput, EventsPage, LedgerEvent } from './types.js';
import { eventIdSchema, eventsListInput } from './validate.js';

export interface Events {
  /** Events after `after` (an id; default 0), oldest first, optionally of some `types` only. */
  list(input?: EventsListInput): Promise<EventsPage>;
  /** One event by id, or null. */
  get(id: number): Promise<LedgerEvent | null>;
}

const PAGE = 'SELECT * FROM credit_event WHERE id > CAST(? AS INTEGER) ORDER BY id LIMIT ?';
// One seek per type through credit_event_type (type, id), merged in id order.
const PAGE_OF_TYPES = (n: number) =>
  `SELECT * FROM credit_event WHERE type IN (${Array(n).fill('?').join(', ')}) AND id > CAST(? AS INTEGER) ORDER BY id LIMIT ?`;
const ONE = 'SELECT * FROM credit_event WHERE id = CAST(? AS INTEGER)';

export function createEvents(ctx: Context): Events {
  return {
    list: (input) =>
      guard(async () => {
        const o = parse(eventsListInput, input, 'events.list') ?? {};
        const after = o.after ?? 0;
        const limit = o.limit ?? EVENTS_DEFAULT_LIMIT;
        const types = o.types === undefined ? undefined : [...new Set(o.types)];
        const statement =
          types === undefined
            ? { sql: PAGE, args: [after, limit + 1] }
            : { sql: PAGE_OF_TYPES(types.length), args: [...types, after, limit + 1] };
        const [rows = []] = await ctx.runner.read([statement]);
        const events = rows.slice(0, limit).map((r) => toEvent(r, ctx.ids));
        return { events, cursor: events.at(-1)?.id ?? after, hasMore: rows.length > limit };
      }),
    get: (id) =>
      guard(async () => {
        const [[row] = []] = await ctx.runner.read([{ sql: ONE, args: [parse(eventIdSchema, id, 'events.get')] }]);
        return row === undefined ? null : toEvent(row, ctx.ids);
      }),
  };
}
