/**
 * Strict parsing of command-line arguments into what the ledger takes. The CLI never
 * guesses: anything that is not a plain integer is handed to the ledger as NaN, so the
 * library's own validation rejects it with its own code (`invalid_amount`).
 */
import { type EntryKind, isLedgerError, LedgerError } from '../index.js';

const INTEGER = /^-?(0|[1-9][0-9]*)$/;

/** "100" → 100; "-5" → -5 (the ledger decides whether a sign is allowed); "1.5", "1e3", "abc", "" → NaN. */
export function parseInteger(raw: string): number {
  return INTEGER.test(raw) ? Number(raw) : Number.NaN;
}

/**
 * Runs a ledger call and, when the ledger rejects an amount the user typed, says what was
 * typed. The error keeps the library's code and details.
 */
export async function explainAmount<T>(raw: string | undefined, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (e) {
    if (raw !== undefined && isLedgerError(e, 'invalid_amount')) {
      throw new LedgerError(
        'invalid_amount',
        `${e.message} (got ${JSON.stringify(raw)}; expected a whole number of the smallest unit, digits only, e.g. 100)`,
        e.details,
        { cause: e },
      );
    }
    throw e;
  }
}

/** "grant, debit" → ['grant', 'debit']; the ledger validates the names. */
export function parseKinds(raw: string): EntryKind[] {
  return raw
    .split(',')
    .map((k) => k.trim())
    .filter((k) => k.length > 0) as EntryKind[];
}
