/** Input of `ledger.webhooks`, checked with zod before any SQL runs (misuse → `invalid_argument`). */
import { z } from 'zod';
import { eventIdSchema } from '../events/validate.js';
import {
  WEBHOOK_DELIVER_MAX_LIMIT,
  WEBHOOK_PRUNE_MAX_LIMIT,
  WEBHOOK_SECRET_MAX_BYTES,
  WEBHOOK_SECRET_MIN_BYTES,
  WEBHOOK_TIMEOUT_MAX_MS,
  WEBHOOK_URL_MAX_LENGTH,
} from '../limits.js';
import { EVENT_TYPES } from '../schema.js';
import { id } from '../validate.js';

export const SECRET_PREFIX = 'whsec_';
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/** The key bytes of a `whsec_` secret, or null when it is not one. */
export function secretBytes(secret: string): Uint8Array | null {
  if (!secret.startsWith(SECRET_PREFIX)) return null;
  const b64 = secret.slice(SECRET_PREFIX.length);
  if (!BASE64.test(b64) || b64.length % 4 !== 0) return null;
  try {
    return Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  } catch {
    return null;
  }
}

const httpUrl = (u: string) => {
  try {
    const parsed = new URL(u);
    return (parsed.protocol === 'http:' || parsed.protocol === 'https:') && parsed.hostname !== '';
  } catch {
    return false;
  }
};

export const urlSchema = id(WEBHOOK_URL_MAX_LENGTH, 'url').refine(httpUrl, { error: 'url must be an absolute http: or https: URL' });

export const webhookIdSchema = id(64, 'webhook id').refine((s) => /^wh_[A-Za-z0-9]+$/.test(s), {
  error: 'a webhook id looks like wh_… (as add() returned it)',
});

export const webhookAddInput = z.strictObject({
  url: urlSchema,
  types: z
    .array(z.enum(EVENT_TYPES, { error: `each type must be one of ${EVENT_TYPES.join(', ')}` }), { error: 'types must be an array' })
    .min(1, { error: 'types must name at least one type (omit it for all)' })
    .optional(),
  secret: z
    .string({ error: 'secret must be a string' })
    .refine(
      (s) => {
        const key = secretBytes(s);
        return key !== null && key.length >= WEBHOOK_SECRET_MIN_BYTES && key.length <= WEBHOOK_SECRET_MAX_BYTES;
      },
      {
        error: `secret must be ${SECRET_PREFIX} followed by the base64 of ${WEBHOOK_SECRET_MIN_BYTES} to ${WEBHOOK_SECRET_MAX_BYTES} bytes`,
      },
    )
    .optional(),
});

const wholeIn = (what: string, min: number, max: number) =>
  z
    .number({ error: `${what} must be a number` })
    .refine(Number.isInteger, { error: `${what} must be a whole number` })
    .min(min, { error: `${what} must be at least ${min}` })
    .max(max, { error: `${what} must be at most ${max}` });

export const deliverInput = z
  .strictObject({
    fetch: z.custom<unknown>((f) => typeof f === 'function', { error: 'fetch must be a function (the Fetch API’s)' }).optional(),
    limit: wholeIn('limit', 1, WEBHOOK_DELIVER_MAX_LIMIT).optional(),
    timeoutMs: wholeIn('timeoutMs', 1, WEBHOOK_TIMEOUT_MAX_MS).optional(),
    concurrency: wholeIn('concurrency', 1, WEBHOOK_DELIVER_MAX_LIMIT).optional(),
  })
  .optional();

export const pruneInput = z.strictObject({
  before: wholeIn('before', 0, Number.MAX_SAFE_INTEGER),
  limit: wholeIn('limit', 1, WEBHOOK_PRUNE_MAX_LIMIT).optional(),
});

export { eventIdSchema };
