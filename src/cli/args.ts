/**
 * Strict parsing of command-line arguments into what the ledger takes. The CLI never
 * guesses: a number, duration or date that does not match its syntax exactly is handed to
 * the ledger as NaN, so the library's own validation rejects it with its own code
 * (`invalid_amount` for amounts, `invalid_argument` for the rest), and the message says
 * what was typed and what was expected.
 */
import { type EntryKind, isLedgerError, LedgerError } from '../index.js';

const INTEGER = /^-?(0|[1-9][0-9]*)$/;

/** "100" → 100; "-5" → -5 (the ledger decides whether a sign is allowed); "1.5", "1e3", "abc", "" → NaN. */
export function parseInteger(raw: string): number {
  return INTEGER.test(raw) ? Number(raw) : Number.NaN;
}

/** `parse(raw)`, or undefined when the option was not given. */
export const optional = <T>(raw: string | undefined, parse: (raw: string) => T): T | undefined =>
  raw === undefined ? undefined : parse(raw);

const DURATION = /^(0|[1-9][0-9]*)(ms|s|m|h|d)?$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** "1500" or "1500ms" → 1500; "30s", "15m", "2h", "7d" → milliseconds; "1.5h", "2 h", "1w", "" → NaN. */
export function parseDuration(raw: string): number {
  const m = DURATION.exec(raw);
  if (m === null) return Number.NaN;
  return Number(m[1]) * (UNIT_MS[m[2] ?? 'ms'] ?? Number.NaN);
}

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

/** "grant, debit" → ['grant', 'debit']; the ledger validates the names. */
export function parseKinds(raw: string): EntryKind[] {
  return raw
    .split(',')
    .map((k) => k.trim())
    .filter((k) => k.length > 0) as EntryKind[];
}

const DURATION_SYNTAX = 'milliseconds or a duration such as 500ms, 30s, 15m, 2h, 7d';

/** What each typed field must look like, told when what was typed does not. */
const SYNTAX: Record<string, { ok: (raw: string) => boolean; expected: string }> = {
  amount: { ok: (raw) => INTEGER.test(raw), expected: 'a whole number of the smallest unit, digits only, e.g. 100' },
  delta: { ok: (raw) => INTEGER.test(raw), expected: 'a whole number of the smallest unit, digits only, e.g. 100' },
  expiresAt: {
    ok: (raw) => !Number.isNaN(parseTimestamp(raw)),
    expected: 'milliseconds since the epoch or an ISO 8601 date, e.g. 2030-01-31 (UTC midnight) or 2030-01-31T12:00:00Z (zone required)',
  },
  ttlMs: { ok: (raw) => DURATION.test(raw), expected: DURATION_SYNTAX },
  withinMs: { ok: (raw) => DURATION.test(raw), expected: DURATION_SYNTAX },
  priority: { ok: (raw) => INTEGER.test(raw), expected: 'a whole number from 0 (drawn first) to 100' },
  batchSize: { ok: (raw) => INTEGER.test(raw), expected: 'a whole number' },
  limit: { ok: (raw) => INTEGER.test(raw), expected: 'a whole number' },
};

/**
 * Runs a ledger call; when the ledger rejects a field the user typed (`amount`, `delta`,
 * `limit`, `ttlMs` …), the message says what was typed and, when its syntax was wrong,
 * what is expected. Code and details stay the library's.
 */
export async function explainInput<T>(typed: Record<string, string | undefined>, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (e) {
    const field = isLedgerError(e) ? e.details?.field : undefined;
    const raw = typeof field === 'string' ? typed[field] : undefined;
    if (isLedgerError(e) && typeof field === 'string' && raw !== undefined) {
      const syntax = SYNTAX[field];
      const hint = syntax !== undefined && (!syntax.ok(raw) || e.code === 'invalid_amount') ? `; expected ${syntax.expected}` : '';
      throw new LedgerError(e.code, `${e.message} (got ${JSON.stringify(raw)}${hint})`, e.details, { cause: e });
    }
    throw e;
  }
}
