import { z } from 'zod';
import { LedgerError, type LedgerErrorCode } from './errors.js';
import {
  ACCOUNT_MAX_LENGTH,
  ENTRY_ID_MAX_LENGTH,
  EXPIRING_MAX_WINDOW_MS,
  HISTORY_MAX_LIMIT,
  HOLD_MAX_TTL_MS,
  IDEMPOTENCY_KEY_MAX_LENGTH,
  LABEL_MAX_LENGTH,
  MAX_AMOUNT,
  METADATA_MAX_BYTES,
  METADATA_MAX_DEPTH,
  PRIORITY_MAX,
  PRIORITY_MIN,
  REASON_MAX_LENGTH,
  SWEEP_BATCH_MAX,
} from './limits.js';
import { ENTRY_KINDS } from './schema.js';

// Control characters make ids unprintable in logs and ambiguous in CLIs.
// biome-ignore lint/suspicious/noControlCharactersInRegex: that is the point.
const CONTROL = /[\u0000-\u001f\u007f]/;

/**
 * A lone UTF-16 surrogate cannot be stored as UTF-8: drivers replace it (libSQL: two
 * accounts would become one) or write invalid bytes (better-sqlite3). Reject it.
 */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
export const wellFormed = (s: string) => !LONE_SURROGATE.test(s);

export const id = (max: number, what: string) =>
  z
    .string({ error: `${what} must be a string` })
    .min(1, { error: `${what} must not be empty` })
    .max(max, { error: `${what} must be at most ${max} characters` })
    .refine((s) => !CONTROL.test(s), { error: `${what} must not contain control characters` })
    .refine(wellFormed, { error: `${what} must be well-formed Unicode (no lone surrogates)` });

// Number.isInteger, not zod's .int(): .int() also refuses integers past 2^53 − 1 and would
// call 9007199254740993 "not a whole number"; past the limit is what .max() says.
export const amountSchema = z
  .number({ error: 'amount must be a number' })
  .refine(Number.isInteger, { error: 'amount must be a whole number of the smallest unit' })
  .min(1, { error: 'amount must be at least 1' })
  .max(MAX_AMOUNT, { error: `amount must be at most ${MAX_AMOUNT} (2^53 − 1)` });

const deltaSchema = z
  .number({ error: 'delta must be a number' })
  .refine(Number.isInteger, { error: 'delta must be a whole number of the smallest unit' })
  .min(-MAX_AMOUNT, { error: `delta must be at least -${MAX_AMOUNT} (−(2^53 − 1))` })
  .max(MAX_AMOUNT, { error: `delta must be at most ${MAX_AMOUNT} (2^53 − 1)` })
  .refine((d) => d !== 0, { error: 'delta must not be zero' });

/**
 * Accounts and idempotency keys that begin with `$` are the ledger's own: plan definitions
 * and pricing versions are logged on `$plan:<id>` and `$pricing`, and a period's allowance
 * is a grant keyed `$allowance:…`, so an app's key can never pre-empt one.
 */
export const RESERVED_PREFIX = '$';
const notReserved = (s: string) => !s.startsWith(RESERVED_PREFIX);
const reservedMessage = (what: string) => ({
  error: `${what} must not begin with "${RESERVED_PREFIX}" (reserved for the ledger's own logs)`,
});

export const accountSchema = id(ACCOUNT_MAX_LENGTH, 'account').refine(notReserved, reservedMessage('account'));
export const entryIdSchema = id(ENTRY_ID_MAX_LENGTH, 'entryId');
export const keyIdSchema = id(LABEL_MAX_LENGTH, 'keyId');
export const idempotencyKeySchema = id(IDEMPOTENCY_KEY_MAX_LENGTH, 'idempotencyKey').refine(notReserved, reservedMessage('idempotencyKey'));
const idempotencyKey = idempotencyKeySchema;
export const label = (what: string) => id(LABEL_MAX_LENGTH, what);
export const reason = z
  .string({ error: 'reason must be a string' })
  .max(REASON_MAX_LENGTH, { error: `reason must be at most ${REASON_MAX_LENGTH} characters` })
  .refine(wellFormed, { error: 'reason must be well-formed Unicode (no lone surrogates)' });
export const timestamp = (what: string) =>
  z
    .number({ error: `${what} must be a number` })
    .int({ error: `${what} must be integer milliseconds` })
    .min(0)
    .max(MAX_AMOUNT);

/**
 * Metadata: a plain JSON object, checked by hand before anything recurses — bounded depth
 * (so no stack overflow and no cycle), plain objects only, no `__proto__` key (it would be
 * dropped silently), well-formed strings — then stored as canonical JSON (sorted keys).
 */
export const metadata = z
  .unknown()
  .transform((m, ctx) => {
    const problem = jsonProblem(m, 0, true);
    if (problem !== null) {
      ctx.addIssue({ code: 'custom', message: `metadata ${problem}` });
      return z.NEVER;
    }
    const text = canonicalJson(m);
    if (utf8Length(text) > METADATA_MAX_BYTES) {
      ctx.addIssue({ code: 'custom', message: `metadata must be at most ${METADATA_MAX_BYTES} bytes as JSON` });
      return z.NEVER;
    }
    return text;
  })
  // Documents (the HTTP API's OpenAPI) only: a transform has no JSON Schema of its own.
  .meta({ type: 'object', additionalProperties: true, description: `Any JSON object, at most ${METADATA_MAX_BYTES} bytes` });

/**
 * Bytes of `s` as UTF-8, as Buffer.byteLength counts them (a lone surrogate: 3, its
 * replacement character), without Buffer: Workers without nodejs_compat have none.
 */
export function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}

function jsonProblem(v: unknown, depth: number, root = false): string | null {
  if (depth > METADATA_MAX_DEPTH) return `must be nested at most ${METADATA_MAX_DEPTH} levels deep (or is cyclic)`;
  if (v === null || typeof v === 'boolean') return root ? 'must be a plain JSON object' : null;
  if (typeof v === 'number') return root ? 'must be a plain JSON object' : Number.isFinite(v) ? null : 'numbers must be finite';
  if (typeof v === 'string') return root ? 'must be a plain JSON object' : wellFormed(v) ? null : 'strings must be well-formed Unicode';
  if (Array.isArray(v)) {
    if (root) return 'must be a plain JSON object';
    for (let i = 0; i < v.length; i++) {
      if (!(i in v)) return 'arrays must not have holes';
      const p = jsonProblem(v[i], depth + 1);
      if (p !== null) return p;
    }
    return null;
  }
  if (typeof v === 'object') {
    const proto = Object.getPrototypeOf(v);
    if (proto !== Object.prototype && proto !== null)
      return 'must contain only plain objects, arrays, strings, finite numbers, booleans and null';
    for (const k of Object.keys(v)) {
      if (k === '__proto__') return 'must not use the key "__proto__"';
      if (!wellFormed(k)) return 'keys must be well-formed Unicode';
      const p = jsonProblem((v as Record<string, unknown>)[k], depth + 1);
      if (p !== null) return p;
    }
    return null;
  }
  return 'must contain only plain objects, arrays, strings, finite numbers, booleans and null';
}

const attribution = {
  reason: reason.optional(),
  model: label('model').optional(),
  keyId: label('keyId').optional(),
  actor: label('actor').optional(),
  metadata: metadata.optional(),
};

const ttl = z
  .number({ error: 'ttlMs must be a number' })
  .int({ error: 'ttlMs must be whole milliseconds' })
  .min(1, { error: 'ttlMs must be at least 1' })
  .max(HOLD_MAX_TTL_MS, { error: `ttlMs must be at most ${HOLD_MAX_TTL_MS} (30 days)` });

export const grantInput = z.strictObject({
  account: accountSchema,
  amount: amountSchema,
  idempotencyKey: idempotencyKey.optional(),
  reason: reason.optional(),
  actor: label('actor').optional(),
  metadata: metadata.optional(),
  expiresAt: timestamp('expiresAt').optional(),
  priority: z
    .number({ error: 'priority must be a number' })
    .int({ error: 'priority must be a whole number' })
    .min(PRIORITY_MIN, { error: `priority must be at least ${PRIORITY_MIN}` })
    .max(PRIORITY_MAX, { error: `priority must be at most ${PRIORITY_MAX}` })
    .optional(),
});

export const holdInput = z.strictObject({
  account: accountSchema,
  amount: amountSchema,
  ttlMs: ttl.optional(),
  idempotencyKey: idempotencyKey.optional(),
  ...attribution,
});

export const holdIdSchema = id(ENTRY_ID_MAX_LENGTH, 'holdId');

export const captureInput = z.strictObject({
  holdId: holdIdSchema,
  amount: amountSchema.optional(),
  idempotencyKey: idempotencyKey.optional(),
  reason: reason.optional(),
  actor: label('actor').optional(),
  metadata: metadata.optional(),
});

export const releaseInput = z.strictObject({
  holdId: holdIdSchema,
  reason: reason.optional(),
  actor: label('actor').optional(),
});

export const extendInput = z.strictObject({
  holdId: holdIdSchema,
  ttlMs: ttl,
  reason: reason.optional(),
  actor: label('actor').optional(),
});

export const expiringOptions = z.strictObject({
  withinMs: z
    .number({ error: 'withinMs must be a number' })
    .int({ error: 'withinMs must be whole milliseconds' })
    .min(1, { error: 'withinMs must be at least 1' })
    .max(EXPIRING_MAX_WINDOW_MS, { error: `withinMs must be at most ${EXPIRING_MAX_WINDOW_MS} (10 years)` }),
});

export const sweepOptions = z
  .strictObject({
    dryRun: z.boolean().optional(),
    batchSize: z
      .number({ error: 'batchSize must be a number' })
      .int({ error: 'batchSize must be a whole number' })
      .min(1, { error: 'batchSize must be at least 1' })
      .max(SWEEP_BATCH_MAX, { error: `batchSize must be at most ${SWEEP_BATCH_MAX}` })
      .optional(),
    onProgress: z.custom<(...args: never[]) => void>((v) => typeof v === 'function', { error: 'onProgress must be a function' }).optional(),
  })
  .optional();

export const debitInput = z.strictObject({
  account: accountSchema,
  amount: amountSchema,
  ...attribution,
});

export const debitOnceInput = z.strictObject({
  account: accountSchema,
  amount: amountSchema,
  idempotencyKey,
  ...attribution,
});

export const refundInput = z.strictObject({
  entryId: entryIdSchema,
  amount: amountSchema.optional(),
  reason: reason.optional(),
  idempotencyKey: idempotencyKey.optional(),
  actor: label('actor').optional(),
  metadata: metadata.optional(),
});

export const adjustInput = z.strictObject({
  account: accountSchema,
  delta: deltaSchema,
  reason: reason.min(1, { error: 'an adjustment needs a reason' }),
  idempotencyKey: idempotencyKey.optional(),
  actor: label('actor').optional(),
  metadata: metadata.optional(),
});

export const historyOptions = z
  .strictObject({
    limit: z.number().int().min(1).max(HISTORY_MAX_LIMIT).optional(),
    cursor: z
      .string()
      .regex(/^[1-9][0-9]{0,15}$/, { error: 'cursor must be a value returned as nextCursor' })
      .optional(),
    kinds: z.array(z.enum(ENTRY_KINDS)).min(1).optional(),
  })
  .optional();

export const verifyOptions = z.strictObject({ digest: z.string().optional() }).optional();

export const keySpendOptions = z.strictObject({ from: timestamp('from').optional(), to: timestamp('to').optional() }).optional();

/** Which code a bad field gets: amounts and accounts have their own. */
function codeFor(path: readonly PropertyKey[]): LedgerErrorCode {
  const head = path[0];
  if (head === 'amount' || head === 'delta' || head === 'lowBalance') return 'invalid_amount';
  if (head === 'account' || head === 'team' || head === 'owner') return 'invalid_account';
  return 'invalid_argument';
}

/** Parse or throw a LedgerError naming the first bad field. Runs before any SQL. */
export function parse<S extends z.ZodType>(schema: S, input: unknown, operation: string, rootCode?: LedgerErrorCode): z.output<S> {
  const r = schema.safeParse(input);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  const path = issue?.path ?? [];
  const field = path.length > 0 ? path.join('.') : 'input';
  const code = path.length === 0 && rootCode ? rootCode : codeFor(path);
  throw new LedgerError(code, `${operation}: ${field}: ${issue?.message ?? 'invalid input'}`, { field, operation });
}

/**
 * JSON with sorted keys, so equal metadata compares equal on replay: exactly
 * `JSON.stringify` of a copy whose objects have their keys sorted. Written out directly (no
 * sorted copy to stringify: JSON.stringify of the copy's null-prototype objects took its slow
 * path, ~2 µs for a charge's record); anything but plain objects, arrays and primitives —
 * `toJSON`, other prototypes — takes the copy path, so the output never differs.
 */
export function canonicalJson(v: unknown): string {
  const fast = canonical(v);
  return fast === undefined ? (JSON.stringify(sortKeys(v)) as string) : fast;
}

/** `undefined` when `v` holds anything the direct path does not write exactly as JSON.stringify does. */
function canonical(v: unknown): string | undefined {
  if (typeof v !== 'object' || v === null)
    return typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' || v === null ? JSON.stringify(v) : undefined;
  if (Array.isArray(v)) {
    if (Object.getPrototypeOf(v) !== Array.prototype) return undefined;
    let out = '[';
    for (let i = 0; i < v.length; i++) {
      const x: unknown = v[i];
      // JSON.stringify writes null for a hole, undefined, a function or a symbol in an array.
      const item = x === undefined || typeof x === 'function' || typeof x === 'symbol' ? 'null' : canonical(x);
      if (item === undefined) return undefined;
      out += i === 0 ? item : `,${item}`;
    }
    return `${out}]`;
  }
  const proto = Object.getPrototypeOf(v);
  if ((proto !== Object.prototype && proto !== null) || typeof (v as { toJSON?: unknown }).toJSON === 'function') return undefined;
  let out = '{';
  let first = true;
  for (const k of ownKeyOrder(Object.keys(v).sort())) {
    const x = (v as Record<string, unknown>)[k];
    // JSON.stringify leaves out a key whose value is undefined, a function or a symbol.
    if (x === undefined || typeof x === 'function' || typeof x === 'symbol') continue;
    const value = canonical(x);
    if (value === undefined) return undefined;
    out += `${first ? '' : ','}${JSON.stringify(k)}:${value}`;
    first = false;
  }
  return `${out}}`;
}

/** Array indices ("0" … "4294967294" in canonical form), which an object enumerates first, in numeric order. */
const ARRAY_INDEX = /^(?:0|[1-9]\d{0,9})$/;
const isArrayIndex = (k: string) => ARRAY_INDEX.test(k) && Number(k) <= 4_294_967_294;

/**
 * Sorted keys in the order an object built by inserting them enumerates them (and so
 * JSON.stringify writes them): array indices first in numeric order, then the rest as sorted.
 */
function ownKeyOrder(sorted: string[]): string[] {
  if (!sorted.some(isArrayIndex)) return sorted;
  const indices = sorted.filter(isArrayIndex).sort((a, b) => Number(a) - Number(b));
  return indices.concat(sorted.filter((k) => !isArrayIndex(k)));
}

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v !== null && typeof v === 'object') {
    // A null-prototype object: a key named like an Object.prototype member (`__proto__`)
    // stays a plain own key on assignment, without defineProperty's slow path per key.
    const out = Object.create(null) as Record<string, unknown>;
    for (const k of Object.keys(v as object).sort()) out[k] = sortKeys((v as Record<string, unknown>)[k]);
    return out;
  }
  return v;
}
