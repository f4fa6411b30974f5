/**
 * Input of `ledger.pricing.*` and `ledger.charge`, checked before any SQL runs. Misuse is a
 * LedgerError (`invalid_argument`, `invalid_account`) naming the field; nothing is written.
 *
 * Prices are decimal strings, never numbers: digits with an optional fraction ("0", "12",
 * "0.0025"), at most PRICE_MAX_INTEGER_DIGITS integer digits and PRICE_MAX_DECIMALS
 * decimals; no sign, no exponent, no leading zeros. Usage quantities are non-negative safe
 * integers of the meter's unit (count fractional units in a smaller unit: milliseconds, not seconds).
 */
import { z } from 'zod';
import {
  LABEL_MAX_LENGTH,
  MAX_AMOUNT,
  PRICE_MAX_DECIMALS,
  PRICE_MAX_INTEGER_DIGITS,
  PRICING_CARD_MAX_BYTES,
  PRICING_LABEL_MAX_LENGTH,
  PRICING_MAX_METERS,
  PRICING_MAX_MODELS,
  PRICING_METER_MAX_LENGTH,
} from '../limits.js';
import { PRICE_ROUNDINGS } from '../schema.js';
import {
  accountSchema,
  canonicalJson,
  entryIdSchema,
  idempotencyKeySchema,
  label,
  metadata,
  reason,
  utf8Length,
  wellFormed,
} from '../validate.js';

// Control characters make names unprintable in logs and ambiguous in CLIs (as in validate.ts).
// biome-ignore lint/suspicious/noControlCharactersInRegex: that is the point.
const CONTROL = /[\u0000-\u001f\u007f]/;

const PRICE = new RegExp(`^(0|[1-9][0-9]{0,${PRICE_MAX_INTEGER_DIGITS - 1}})(\\.[0-9]{1,${PRICE_MAX_DECIMALS}})?$`);

/** A model or meter name: the key of a rate card or of a usage object. */
function nameProblem(k: string, what: string, max: number): string | null {
  if (k.length === 0) return `${what} names must not be empty`;
  if (k.length > max) return `${what} names must be at most ${max} characters`;
  if (CONTROL.test(k)) return `${what} names must not contain control characters`;
  if (!wellFormed(k)) return `${what} names must be well-formed Unicode`;
  if (k === '__proto__') return `${what} must not be named "__proto__"`;
  return null;
}

const plainObject = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v) && [Object.prototype, null].includes(Object.getPrototypeOf(v));

/** A hand-written check: `check` returns the value, or calls `fail` with why it is not one. */
const checked = <T>(check: (v: unknown, fail: (message: string) => never) => T) =>
  z.unknown().transform((v, ctx) =>
    check(v, (message) => {
      ctx.addIssue({ code: 'custom', message });
      return z.NEVER as never;
    }),
  );

/** A rate card: { model: { meter: "price" } }, non-empty at both levels, bounded. */
export const rateCard = checked((v, fail) => {
  if (!plainObject(v)) return fail('rates must be an object of models, each an object of meter → price');
  const models = Object.keys(v);
  if (models.length === 0) return fail('rates must price at least one model');
  if (models.length > PRICING_MAX_MODELS) return fail(`rates must price at most ${PRICING_MAX_MODELS} models`);
  const out: Record<string, Record<string, string>> = {};
  for (const model of models) {
    const p = nameProblem(model, 'model', LABEL_MAX_LENGTH);
    if (p !== null) return fail(`rates: ${p}`);
    const meters = v[model];
    if (!plainObject(meters)) return fail(`rates.${model} must be an object of meter → price`);
    const names = Object.keys(meters);
    if (names.length === 0) return fail(`rates.${model} must price at least one meter`);
    if (names.length > PRICING_MAX_METERS) return fail(`rates.${model} must price at most ${PRICING_MAX_METERS} meters`);
    const priced: Record<string, string> = {};
    for (const meter of names) {
      const q = nameProblem(meter, 'meter', PRICING_METER_MAX_LENGTH);
      if (q !== null) return fail(`rates.${model}: ${q}`);
      const price = meters[meter];
      if (typeof price !== 'string' || !PRICE.test(price)) {
        return fail(
          `rates.${model}.${meter} must be a decimal string such as "0.0025" (no sign or exponent, at most ${PRICE_MAX_DECIMALS} decimals)`,
        );
      }
      Object.defineProperty(priced, meter, { value: price, enumerable: true, writable: true, configurable: true });
    }
    Object.defineProperty(out, model, { value: priced, enumerable: true, writable: true, configurable: true });
  }
  if (utf8Length(canonicalJson(out)) > PRICING_CARD_MAX_BYTES) {
    return fail(`rates must be at most ${PRICING_CARD_MAX_BYTES} bytes as JSON`);
  }
  return out;
}).meta({
  // Documents only (see metadata in validate.ts).
  type: 'object',
  description: 'model → meter → price, a decimal string such as "0.0025"',
  additionalProperties: { type: 'object', additionalProperties: { type: 'string', pattern: PRICE.source } },
});

/** Usage: { meter: quantity }, at least one meter, quantities non-negative safe integers. */
export const usageSchema = checked((v, fail) => {
  if (!plainObject(v)) return fail('usage must be an object of meter → quantity');
  const meters = Object.keys(v);
  if (meters.length === 0) return fail('usage must name at least one meter');
  if (meters.length > PRICING_MAX_METERS) return fail(`usage must name at most ${PRICING_MAX_METERS} meters`);
  const out: Record<string, number> = {};
  for (const meter of meters) {
    const p = nameProblem(meter, 'meter', PRICING_METER_MAX_LENGTH);
    if (p !== null) return fail(`usage: ${p}`);
    const q = v[meter];
    if (typeof q !== 'number' || !Number.isSafeInteger(q) || q < 0 || Object.is(q, -0)) {
      return fail(`usage.${meter} must be a whole number from 0 to ${MAX_AMOUNT}`);
    }
    Object.defineProperty(out, meter, { value: q, enumerable: true, writable: true, configurable: true });
  }
  return out;
}).meta({ type: 'object', description: 'meter → quantity', additionalProperties: { type: 'integer', minimum: 0, maximum: MAX_AMOUNT } });

export const versionSchema = z
  .number({ error: 'version must be a number' })
  .refine(Number.isSafeInteger, { error: 'version must be a whole number' })
  .min(1, { error: 'version must be at least 1' });

const roundingSchema = z.enum(PRICE_ROUNDINGS, { error: `rounding must be one of ${PRICE_ROUNDINGS.join(', ')}` });

export const publishInput = z.strictObject({
  rates: rateCard,
  label: label('label')
    .max(PRICING_LABEL_MAX_LENGTH, { error: `label must be at most ${PRICING_LABEL_MAX_LENGTH} characters` })
    .optional(),
  rounding: roundingSchema.optional(),
  activate: z.boolean({ error: 'activate must be a boolean' }).optional(),
  idempotencyKey: idempotencyKeySchema.optional(),
  reason: reason.optional(),
  actor: label('actor').optional(),
});

/** `activate(version)` or `activate({ version, idempotencyKey?, reason?, actor? })`. */
export const activateInput = z.union(
  [
    versionSchema.transform((version) => ({ version })),
    z.strictObject({
      version: versionSchema,
      idempotencyKey: idempotencyKeySchema.optional(),
      reason: reason.optional(),
      actor: label('actor').optional(),
    }),
  ],
  { error: 'activate takes a version number or { version, idempotencyKey?, reason?, actor? }' },
);

export const getInput = versionSchema;

export const quoteInput = z.strictObject({
  model: label('model'),
  usage: usageSchema,
  version: versionSchema.optional(),
});

/** The key of a charge entry's metadata the ledger writes (the app's metadata may not use it). */
export const CHARGE_KEY = 'charge';

export const chargeInput = z.strictObject({
  account: accountSchema,
  model: label('model'),
  usage: usageSchema,
  idempotencyKey: idempotencyKeySchema,
  holdId: entryIdSchema.optional(),
  keyId: label('keyId').optional(),
  actor: label('actor').optional(),
  reason: reason.optional(),
  metadata: z
    .unknown()
    .refine((m) => !plainObject(m) || !Object.hasOwn(m, CHARGE_KEY), {
      error: `metadata must not have the key "${CHARGE_KEY}" (the ledger records the charge there)`,
    })
    .pipe(metadata)
    .optional(),
  version: versionSchema.optional(),
});
