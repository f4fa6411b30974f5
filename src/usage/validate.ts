/**
 * Input of `ledger.analytics` and of the change feed (`ledger.entries`, `ledger.entry`),
 * checked with zod before any SQL runs, like src/validate.ts: every misuse is a LedgerError
 * (`invalid_argument`, `invalid_account` for the account filter) naming the field.
 */
import { z } from 'zod';
import {
  ACCOUNT_MAX_LENGTH,
  ENTRIES_MAX_LIMIT,
  ENTRY_ID_MAX_LENGTH,
  LABEL_MAX_LENGTH,
  MAX_AMOUNT,
  SPEND_MAX_LIMIT,
  TZ_OFFSET_MAX_MINUTES,
  TZ_OFFSET_STEP_MINUTES,
} from '../limits.js';
import { wellFormed } from '../validate.js';

// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it rejects.
const CONTROL = /[\u0000-\u001f\u007f]/;

const text = (max: number, what: string) =>
  z
    .string({ error: `${what} must be a string` })
    .min(1, { error: `${what} must not be empty` })
    .max(max, { error: `${what} must be at most ${max} characters` })
    .refine((s) => !CONTROL.test(s), { error: `${what} must not contain control characters` })
    .refine(wellFormed, { error: `${what} must be well-formed Unicode (no lone surrogates)` });

/** A label filter: the label, or null for "recorded without one". */
const labelFilter = (what: string) => text(LABEL_MAX_LENGTH, what).nullable().optional();

const time = (what: string) =>
  z
    .number({ error: `${what} must be a number (milliseconds since the epoch)` })
    .refine(Number.isInteger, { error: `${what} must be whole milliseconds since the epoch` })
    .min(0, { error: `${what} must be at least 0` })
    .max(MAX_AMOUNT, { error: `${what} must be at most ${MAX_AMOUNT}` });

const limit = (max: number) =>
  z
    .number({ error: 'limit must be a number' })
    .refine(Number.isInteger, { error: 'limit must be a whole number' })
    .min(1, { error: 'limit must be at least 1' })
    .max(max, { error: `limit must be at most ${max}` });

const filters = {
  account: text(ACCOUNT_MAX_LENGTH, 'account').optional(),
  model: labelFilter('model'),
  keyId: labelFilter('keyId'),
  actor: labelFilter('actor'),
};

export const SPEND_GROUP_KEYS = ['account', 'model', 'keyId', 'actor', 'day', 'hour'] as const;
export const TOP_BY = ['account', 'model', 'keyId', 'actor'] as const;

const groupBy = z
  .array(z.enum(SPEND_GROUP_KEYS, { error: `each groupBy key must be one of ${SPEND_GROUP_KEYS.join(', ')}` }), {
    error: 'groupBy must be an array',
  })
  .refine((keys) => new Set(keys).size === keys.length, { error: 'groupBy must not list a key twice' });

const tzOffsetMinutes = z
  .number({ error: 'tzOffsetMinutes must be a number of minutes' })
  .refine(Number.isInteger, { error: 'tzOffsetMinutes must be whole minutes' })
  .min(-TZ_OFFSET_MAX_MINUTES, { error: `tzOffsetMinutes must be at least -${TZ_OFFSET_MAX_MINUTES} (UTC−14:00)` })
  .max(TZ_OFFSET_MAX_MINUTES, { error: `tzOffsetMinutes must be at most ${TZ_OFFSET_MAX_MINUTES} (UTC+14:00)` })
  .refine((m) => m % TZ_OFFSET_STEP_MINUTES === 0, {
    error: `tzOffsetMinutes must be a multiple of ${TZ_OFFSET_STEP_MINUTES} (e.g. 330 for UTC+05:30, -300 for UTC−05:00)`,
  });

/** `from` ≤ `to`, reported on `to`. */
const ordered = <T extends { from: number; to: number }>(o: T) => o.from <= o.to;
const orderedIssue = { error: 'to must not be before from', path: ['to'] };

export const spendInput = z
  .strictObject({
    from: time('from'),
    to: time('to'),
    groupBy: groupBy.optional(),
    ...filters,
    limit: limit(SPEND_MAX_LIMIT).optional(),
    tzOffsetMinutes: tzOffsetMinutes.optional(),
  })
  .refine(ordered, orderedIssue);

export const topInput = z
  .strictObject({
    by: z.enum(TOP_BY, { error: `by must be one of ${TOP_BY.join(', ')}` }),
    from: time('from'),
    to: time('to'),
    ...filters,
    limit: limit(SPEND_MAX_LIMIT).optional(),
  })
  .refine(ordered, orderedIssue);

export const summaryInput = z.strictObject({ from: time('from'), to: time('to') }).refine(ordered, orderedIssue);

/** A cursor of `entries()`: a log position in decimal, "0" for the start. */
export const CURSOR = /^(0|[1-9][0-9]{0,15})$/;

export const entriesInput = z
  .strictObject({
    after: z
      .string({ error: 'after must be a cursor string returned by entries()' })
      .regex(CURSOR, { error: 'after must be a cursor returned by entries() (or "0" for the start)' })
      .refine((c) => Number.isSafeInteger(Number(c)), { error: 'after must be a cursor returned by entries()' })
      .optional(),
    limit: limit(ENTRIES_MAX_LIMIT).optional(),
  })
  .optional();

export const entryIdInput = text(ENTRY_ID_MAX_LENGTH, 'entryId');
