/**
 * Input of `ledger.plans.*`, checked before any SQL runs: misuse is a LedgerError naming the
 * field (`invalid_account`, `invalid_amount`, `invalid_argument`), and nothing is written.
 */
import { z } from 'zod';
import { LABEL_MAX_LENGTH, PLAN_FEATURE_VALUE_MAX_LENGTH, PLAN_FEATURES_MAX, REASON_MAX_LENGTH } from '../limits.js';
import { PLAN_PERIODS } from '../schema.js';
import { accountSchema, amountSchema, idempotencyKeySchema, wellFormed } from '../validate.js';
import { LAST_PERIOD_TIME } from './period.js';

// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it refuses.
const CONTROL = /[\u0000-\u001f\u007f]/;
const label = (what: string) =>
  z
    .string({ error: `${what} must be a string` })
    .min(1, { error: `${what} must not be empty` })
    .max(LABEL_MAX_LENGTH, { error: `${what} must be at most ${LABEL_MAX_LENGTH} characters` })
    .refine((s) => !CONTROL.test(s), { error: `${what} must not contain control characters` })
    .refine(wellFormed, { error: `${what} must be well-formed Unicode (no lone surrogates)` });
const text = (what: string, max: number) =>
  z
    .string({ error: `${what} must be a string` })
    .max(max, { error: `${what} must be at most ${max} characters` })
    .refine(wellFormed, { error: `${what} must be well-formed Unicode (no lone surrogates)` });

const featureValue = z.union(
  [
    z.boolean(),
    z.number().refine(Number.isFinite, { error: 'a feature number must be finite' }),
    text('a feature string', PLAN_FEATURE_VALUE_MAX_LENGTH),
    z.null(),
  ],
  { error: 'a feature value must be a boolean, a finite number, a string or null' },
);

const common = {
  idempotencyKey: idempotencyKeySchema.optional(),
  reason: text('reason', REASON_MAX_LENGTH).optional(),
  actor: label('actor').optional(),
};

export const planIdSchema = label('planId');

export const defineInput = z.strictObject({
  id: label('id'),
  name: text('name', LABEL_MAX_LENGTH).optional(),
  allowance: z
    .strictObject({
      amount: amountSchema,
      every: z.enum(PLAN_PERIODS, { error: `every must be one of ${PLAN_PERIODS.join(', ')}` }),
      rollover: z.strictObject({ max: amountSchema }, { error: 'rollover must be { max }' }).optional(),
    })
    .optional(),
  features: z
    .record(label('feature'), featureValue, { error: 'features must be an object of feature → value' })
    .refine((f) => Object.keys(f).length <= PLAN_FEATURES_MAX, { error: `at most ${PLAN_FEATURES_MAX} features` })
    .optional(),
  reason: common.reason,
  actor: common.actor,
});

export const subscribeInput = z.strictObject({
  account: accountSchema,
  planId: planIdSchema,
  anchor: z
    .number({ error: 'anchor must be a number (milliseconds since the epoch)' })
    .refine(Number.isInteger, { error: 'anchor must be whole milliseconds' })
    .min(0, { error: 'anchor must be at least 0' })
    .max(LAST_PERIOD_TIME, { error: `anchor must be at most ${LAST_PERIOD_TIME} (the year 9997)` })
    .optional(),
  ...common,
});

export const changeInput = z.strictObject({
  account: accountSchema,
  planId: planIdSchema,
  proration: z.enum(['immediate', 'next_period'], { error: 'proration must be immediate or next_period' }),
  ...common,
});

export const cancelInput = z.strictObject({
  account: accountSchema,
  at: z.enum(['now', 'period_end'], { error: 'at must be now or period_end' }),
  ...common,
});

export const getOptions = z.strictObject({ version: amountSchema.optional() }).optional();
export const featureSchema = label('feature');
