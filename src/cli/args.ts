/**
 * Strict parsing of command-line arguments into what the ledger takes. The CLI never
 * guesses, and it checks every number it is given before the ledger is called: a value
 * whose syntax or range is wrong is rejected here, with the code the library gives that
 * field (`invalid_amount` for amounts and deltas, `invalid_argument` for the rest), the
 * field's name in `details.field`, and a message that says what was typed and what the
 * field accepts. Nothing is written. What only the ledger can decide (an expiry that is
 * not after its clock's now, a cursor, entry kinds) is left to it; `explainInput` adds
 * what was typed to its message.
 *
 * Numbers are plain decimal digits: no `+`, fraction, exponent (`1e3`), hex (`0x10`),
 * separators or leading zeros. Exponent and hex forms are rejected rather than read,
 * because a float formatter writes fractions and rounded values the same way
 * (`1e-3`, `9.007199254740993e15`), and an amount that was rounded must fail, not post.
 */
import {
  ALERT_EXPIRING_MAX_MS,
  type EntryKind,
  EXPIRING_MAX_WINDOW_MS,
  HISTORY_MAX_LIMIT,
  HOLD_MAX_TTL_MS,
  isLedgerError,
  LedgerError,
  MAX_AMOUNT,
  PRIORITY_MAX,
  PRIORITY_MIN,
  SWEEP_BATCH_MAX,
} from '../index.js';
import { isoTime, MAX_DATE_MS } from './format.js';

/** A whole number in plain decimal digits, optionally negative ("-0" is not one). */
const INTEGER = /^(0|-?[1-9][0-9]*)$/;

/** Throws what the library would: its code for the field, the field, what was typed. */
function reject(field: string, raw: string, expected: string, syntax?: string, amount = field === 'amount' || field === 'delta'): never {
  const code = amount ? 'invalid_amount' : 'invalid_argument';
  const got = `got ${JSON.stringify(raw)}${syntax === undefined ? '' : `; ${syntax}`}`;
  throw new LedgerError(code, `${field} must be ${expected} (${got})`, { field });
}

const DIGITS = 'write plain decimal digits, e.g. 100: no sign, fraction, exponent, hex or leading zero';
const SIGNED_DIGITS = 'write plain decimal digits with an optional minus, e.g. 50 or -20: no "+", fraction, exponent, hex or leading zero';

/** A whole number from `min` to `max` (and not 0 when `nonZero`). */
function whole(
  field: string,
  raw: string,
  min: number,
  max: number,
  o: { nonZero?: boolean; expected?: string; amount?: boolean } = {},
): number {
  const expected = o.expected ?? `a whole number from ${min} to ${max}${o.nonZero ? ', not 0' : ''}`;
  if (!INTEGER.test(raw)) reject(field, raw, expected, min < 0 ? SIGNED_DIGITS : DIGITS, o.amount);
  const n = Number(raw); // beyond 2^53 this rounds, but only to another number beyond the range
  if (n < min || n > max || (o.nonZero && n === 0)) reject(field, raw, expected, undefined, o.amount);
  return n;
}

/** A pricing version: "3" → 3. */
export const parseVersion = (raw: string): number => whole('version', raw, 1, MAX_AMOUNT);

/** A plan's allowance per period (`--allowance`): an amount, 1 … 2^53-1. */
export const parseAllowance = (raw: string): number => whole('allowance', raw, 1, MAX_AMOUNT, { amount: true });

/** The most of an allowance carried into the next period (`--rollover-max`): an amount, 1 … 2^53-1. */
export const parseRolloverMax = (raw: string): number => whole('rollover.max', raw, 1, MAX_AMOUNT, { amount: true });

/** A usage quantity: "1200" → 1200; 0 … 2^53-1. */
export const parseQuantity = (meter: string, raw: string): number => whole(`usage.${meter}`, raw, 0, MAX_AMOUNT);

/** Usage as typed: meter=quantity pairs ("input=1200 output=350") → { input: 1200, output: 350 }. */
export function parseUsage(pairs: readonly string[]): Record<string, number> {
  const usage: Record<string, number> = {};
  for (const pair of pairs) {
    const at = pair.lastIndexOf('=');
    if (at <= 0) reject('usage', pair, 'meter=quantity pairs, e.g. input=1200 output=350');
    const meter = pair.slice(0, at);
    if (Object.hasOwn(usage, meter)) reject('usage', pair, 'each meter once');
    Object.defineProperty(usage, meter, {
      value: parseQuantity(meter, pair.slice(at + 1)),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return usage;
}

/** An amount: "100" → 100; 1 … 2^53-1. */
export const parseAmount = (raw: string): number => whole('amount', raw, 1, MAX_AMOUNT);

/** A signed adjustment: "50", "-20"; ±(2^53-1), not 0. */
export const parseDelta = (raw: string): number => whole('delta', raw, -MAX_AMOUNT, MAX_AMOUNT, { nonZero: true });

/** A spend cap's limit: 0 (nothing may be spent) … 2^53-1; an amount, as in the library. */
export const parseCapLimit = (raw: string): number => whole('limit', raw, 0, MAX_AMOUNT, { amount: true });

/** An account floor: signed, ±(2^53-1), 0 allowed; an amount, as in the library. */
export const parseFloor = (raw: string): number => whole('floor', raw, -MAX_AMOUNT, MAX_AMOUNT, { amount: true });

/** A lot priority, 0 … 100. */
export const parsePriority = (raw: string): number =>
  whole('priority', raw, PRIORITY_MIN, PRIORITY_MAX, {
    expected: `a whole number from ${PRIORITY_MIN} (drawn first) to ${PRIORITY_MAX}`,
  });

/** Lots or holds per sweep transaction, 1 … 5000. */
export const parseBatchSize = (raw: string): number => whole('batchSize', raw, 1, SWEEP_BATCH_MAX);

/** History page size, 1 … 1000. */
export const parseLimit = (raw: string): number => whole('limit', raw, 1, HISTORY_MAX_LIMIT);

/** `parse(raw)`, or undefined when the option was not given. */
export const optional = <T>(raw: string | undefined, parse: (raw: string) => T): T | undefined =>
  raw === undefined ? undefined : parse(raw);

const DURATION = /^(0|[1-9][0-9]*)(ms|s|m|h|d)?$/;
const UNITS = [
  ['d', 86_400_000],
  ['h', 3_600_000],
  ['m', 60_000],
  ['s', 1_000],
  ['ms', 1],
] as const;
const UNIT_MS: Record<string, number> = Object.fromEntries(UNITS);

/** "1500" or "1500ms" → 1500; "30s", "15m", "2h", "7d" → milliseconds; "1.5h", "2 h", "1w", "" → NaN. */
export function parseDuration(raw: string): number {
  const m = DURATION.exec(raw);
  if (m === null) return Number.NaN;
  return Number(m[1]) * (UNIT_MS[m[2] ?? 'ms'] ?? Number.NaN);
}

/** 2_592_000_000 → "30d": a duration in its largest whole unit. */
export function durationText(ms: number): string {
  const [unit, size] = UNITS.find(([, size]) => ms % size === 0) ?? ['ms', 1];
  return `${ms / size}${unit}`;
}

function duration(field: string, raw: string, max: number): number {
  const expected = `a duration from 1ms to ${durationText(max)}`;
  const ms = parseDuration(raw);
  if (Number.isNaN(ms)) reject(field, raw, expected, 'write milliseconds or a whole number with a unit: 500ms, 30s, 15m, 2h, 7d');
  if (ms < 1 || ms > max) reject(field, raw, expected);
  return ms;
}

/** A hold's lifetime (`--ttl`): 1ms … 30d. */
export const parseTtl = (raw: string): number => duration('ttlMs', raw, HOLD_MAX_TTL_MS);

/** An alert's `--expiring-within`: 1ms … 366d. */
export const parseExpiringWithin = (raw: string): number => duration('expiringWithinMs', raw, ALERT_EXPIRING_MAX_MS);

/** An alert's `--low-balance` threshold: 1 … 2^53-1; an amount, as in the library. */
export const parseLowBalance = (raw: string): number => whole('lowBalance', raw, 1, MAX_AMOUNT, { amount: true });

/** The window of `expiring --within`: 1ms … 3650d. */
export const parseWithin = (raw: string): number => duration('withinMs', raw, EXPIRING_MAX_WINDOW_MS);

// Date, or date and time with a mandatory zone (Z or ±hh:mm): a zoneless time would mean
// "local time of whichever machine runs the command", which a ledger should not guess.
const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,3}))?)?(Z|([+-])(\d{2}):(\d{2})))?$/;

/**
 * Milliseconds since the epoch ("1893456000000"), or an ISO 8601 date ("2030-01-01", UTC
 * midnight) or date-time with zone ("2030-01-01T12:00:00Z", "2030-01-01T12:00+02:00").
 * Impossible dates (2030-02-30, 24:00) and anything else → NaN.
 */
export function parseTimestamp(raw: string): number {
  if (INTEGER.test(raw)) return Number(raw);
  const m = ISO_DATE.exec(raw);
  if (m === null) return Number.NaN;
  const part = (i: number): number => Number(m[i] ?? 0);
  const [y, mo, d, h, mi, s] = [part(1), part(2), part(3), part(4), part(5), part(6)];
  const ms = Number((m[7] ?? '').padEnd(3, '0'));
  const daysInMonth = [31, isLeap(y) ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][mo - 1] ?? 0;
  if (d < 1 || d > daysInMonth || h > 23 || mi > 59 || s > 59) return Number.NaN;
  let offsetMin = 0;
  if (m[9] !== undefined) {
    const [oh, om] = [Number(m[10]), Number(m[11])];
    if (oh > 23 || om > 59) return Number.NaN;
    offsetMin = (m[9] === '-' ? -1 : 1) * (oh * 60 + om);
  }
  const date = new Date(0);
  date.setUTCFullYear(y, mo - 1, d); // not Date.UTC: that maps years 0–99 to 1900–1999
  date.setUTCHours(h, mi, s, ms);
  return date.getTime() - offsetMin * 60_000;
}

const isLeap = (y: number): boolean => (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;

/**
 * A lot's expiry (`--expires-at`), from the epoch to the latest time a JavaScript date can
 * show (8640000000000000, +275760-09-13): the CLI prints the expiry it wrote, so it
 * refuses one it could not print. Whether it is after now is the ledger's to say.
 */
export const parseExpiresAt = (raw: string): number => time('expiresAt', raw);

/**
 * A subscription's billing-cycle anchor (`plans subscribe --anchor`), written like
 * `--expires-at`; the ledger refuses one past the year 9997 (its last period time).
 */
export const parseAnchor = (raw: string): number => time('anchor', raw);

/** A cut-off time (`webhooks prune --before`), written like `--expires-at`. */
export const parseBefore = (raw: string): number => time('before', raw);

function time(field: string, raw: string): number {
  const ms = parseTimestamp(raw);
  if (Number.isNaN(ms))
    reject(
      field,
      raw,
      'a valid time',
      'write milliseconds since the epoch or an ISO 8601 date: 2030-01-31 (UTC midnight) or 2030-01-31T12:00:00Z (zone required)',
    );
  if (ms < 0 || ms > MAX_DATE_MS)
    reject(field, raw, `a time from 0 (${isoTime(0)}) to ${MAX_DATE_MS} (${isoTime(MAX_DATE_MS)}, the latest a JavaScript date can hold)`);
  return ms;
}

/** "grant, debit" → ['grant', 'debit']; the ledger validates the names. */
export function parseKinds(raw: string): EntryKind[] {
  return raw
    .split(',')
    .map((k) => k.trim())
    .filter((k) => k.length > 0) as EntryKind[];
}

/**
 * Runs a ledger call; when the ledger rejects a field the user typed (an expiry that is not
 * after now, a cursor, entry kinds), its message is followed by what was typed. Code and
 * details stay the library's.
 */
export async function explainInput<T>(typed: Record<string, string | undefined>, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (e) {
    const field = isLedgerError(e) ? e.details?.field : undefined;
    const raw = typeof field === 'string' ? typed[field.split('.')[0] ?? field] : undefined; // kinds.0 → kinds
    if (isLedgerError(e) && raw !== undefined)
      throw new LedgerError(e.code, `${e.message} (got ${JSON.stringify(raw)})`, e.details, { cause: e });
    throw e;
  }
}
