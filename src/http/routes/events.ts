/** The event outbox: list (after, limit, types) and one event. */
import { z } from '@hono/zod-openapi';
import { eventIdSchema, eventsListInput } from '../../events/validate.js';
import type { Operation } from '../route.js';
import { eventSchema } from '../schemas.js';
import { defined } from './accounts.js';
import { found } from './entries.js';
import { eventIdOf } from './webhooks.js';

const tag = 'Events';

export function eventsRoutes(): Operation[] {
  return [
    {
      method: 'get',
      path: '/v1/events',
      operationId: 'listEvents',
      tag,
      summary: 'Events after `after` (an id), oldest first; `types` repeated or comma-separated',
      scope: 'read',
      query: eventsListInput.unwrap(),
      response: z.object({ events: z.array(eventSchema), cursor: z.number().int(), hasMore: z.boolean() }).openapi('EventsPage'),
      handler: ({ ledger, query, queryList }) =>
        ledger.events.list(defined({ after: query('after'), limit: query('limit'), types: queryList('types') }) as never),
    },
    {
      method: 'get',
      path: '/v1/events/{eventId}',
      operationId: 'getEvent',
      tag,
      summary: 'One event by id',
      scope: 'read',
      params: z.object({ eventId: eventIdSchema }),
      response: eventSchema,
      handler: async ({ ledger, param }) => found(await ledger.events.get(eventIdOf(param('eventId')) as never), 'event'),
    },
  ];
}
