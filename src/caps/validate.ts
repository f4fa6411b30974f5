/**
 * Input of `ledger.caps.*`, checked before any SQL runs. Misuse is a LedgerError with a
 * stable code naming the field: `invalid_account`, `invalid_amount` (limit, floor) or
 * `invalid_argument`; nothing is written.
 */
import { z } from 'zod';
import { LedgerError } from '../errors.js';
import { LABEL_MAX_LENGTH, MAX_AMOUNT, REASON_MAX_LENGTH } from '../limits.js';
import { CAP_ACTIONS, CAP_WINDOWS } from '../schema.js';
import { accountSchema, idempotencyKeySchema, parse, wellFormed } from '../validate.js';

// Control characters make ids unprintable in logs and ambiguous in CLIs (as in validate.ts).
// biome-ignore lint/suspicious/noControlCharactersInRegex: that is the point.
const CONTROL = /[\u0000-\u001f\u007f]/;
const label = (what: string, max = LABEL_MAX_LENGTH) =>
  z
    .string({ error: `${what} must be a string` })
    .min(1, { error: `${what} must not be empty` })
    .max(max, { error: `${what} must be at most ${max} characters` })
    .refine((s) => !CONTROL.test(s), { error: `${what} must not contain control characters` })
    .refine(wellFormed, { error: `${what} must be well-formed Unicode (no lone surrogates)` });

const reason = z
  .string({ error: 'reason must be a string' })
  .max(REASON_MAX_LENGTH, { error: `reason must be at most ${REASON_MAX_LENGTH} characters` })
  .refine(wellFormed, { error: 'reason must be well-formed Unicode (no lone surrogates)' });

const windowSchema = z.enum(CAP_WINDOWS, { error: `window must be one of ${CAP_WINDOWS.join(', ')}` });
const actionSchema = z.enum(CAP_ACTIONS, { error: `action must be one of ${CAP_ACTIONS.join(', ')}` });

/** A whole number in range; Number.isInteger, not .int() (see amountSchema in validate.ts). */
const whole = (what: string, min: number, max: number, extra = '') =>
  z
    .number({ error: `${what} must be a number` })
    .refine(Number.isInteger, { error: `${what} must be a whole number of the smallest unit` })
    .min(min, { error: `${what} must be at least ${min}${extra}` })
    .max(max, { error: `${what} must be at most ${max} (2^53 − 1)` });

const filters = {
  model: label('model').optional(),
  keyId: label('keyId').optional(),
  member: label('member').optional(),
};
const common = {
  idempotencyKey: idempotencyKeySchema.optional(),
  reason: reason.optional(),
  actor: label('actor').optional(),
};

export const setCapInput = z.strictObject({
  account: accountSchema,
  window: windowSchema,
  limit: whole('limit', 0, MAX_AMOUNT, ' (0: nothing may be spent)'),
  action: actionSchema.optional(),
  ...filters,
  ...common,
});

export const removeCapInput = z.strictObject({
  account: accountSchema,
  window: windowSchema,
  ...filters,
  ...common,
});

export const floorInput = z.strictObject({
  account: accountSchema,
  floor: whole('floor', -MAX_AMOUNT, MAX_AMOUNT, ` (−(2^53 − 1))`),
  ...common,
});

/** parse() with the amounts of this family (limit, floor) under `invalid_amount`, like amount and delta. */
export function parseCaps<S extends z.ZodType>(schema: S, input: unknown, operation: string, rootCode?: 'invalid_account'): z.output<S> {
  try {
    return parse(schema, input, operation, rootCode);
  } catch (e) {
    const field = e instanceof LedgerError ? e.details?.field : undefined;
    if (e instanceof LedgerError && (field === 'limit' || field === 'floor')) {
      throw new LedgerError('invalid_amount', e.message, e.details);
    }
    throw e;
  }
}
