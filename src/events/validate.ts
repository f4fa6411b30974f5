/** Input of `ledger.events`, checked with zod before any SQL runs (misuse → `invalid_argument`). */
import { z } from 'zod';
import { EVENTS_MAX_LIMIT, MAX_AMOUNT } from '../limits.js';
import { EVENT_TYPES } from '../schema.js';

export const eventIdSchema = z
  .number({ error: 'an event id must be a number' })
  .refine(Number.isInteger, { error: 'an event id must be a whole number' })
  .min(0, { error: 'an event id must be at least 0' })
  .max(MAX_AMOUNT, { error: `an event id must be at most ${MAX_AMOUNT}` });

export const eventsListInput = z
  .strictObject({
    after: eventIdSchema.optional(),
    limit: z
      .number({ error: 'limit must be a number' })
      .refine(Number.isInteger, { error: 'limit must be a whole number' })
      .min(1, { error: 'limit must be at least 1' })
      .max(EVENTS_MAX_LIMIT, { error: `limit must be at most ${EVENTS_MAX_LIMIT}` })
      .optional(),
    types: z
      .array(z.enum(EVENT_TYPES, { error: `each type must be one of ${EVENT_TYPES.join(', ')}` }), { error: 'types must be an array' })
      .min(1, { error: 'types must name at least one type (omit it for all)' })
      .optional(),
  })
  .optional();
