/**
 * Strict parsing of command-line arguments into what the ledger takes. The CLI never
 * guesses: a number that is not a plain integer is handed to the ledger as NaN, so the
 * library's own validation rejects it with its own code (`invalid_amount` for amounts).
 */
import { type EntryKind, isLedgerError, LedgerError } from '../index.js';

const INTEGER = /^-?(0|[1-9][0-9]*)$/;

/** "100" → 100; "-5" → -5 (the ledger decides whether a sign is allowed); "1.5", "1e3", "abc", "" → NaN. */
export function parseInteger(raw: string): number {
  return INTEGER.test(raw) ? Number(raw) : Number.NaN;
}

/** "grant, debit" → ['grant', 'debit']; the ledger validates the names. */
export function parseKinds(raw: string): EntryKind[] {
  return raw
    .split(',')
    .map((k) => k.trim())
    .filter((k) => k.length > 0) as EntryKind[];
}

/**
 * Runs a ledger call; when the ledger rejects a field the user typed (`amount`, `delta`,
 * `limit` …), the message says what was typed. Code and details stay the library's.
 */
export async function explainInput<T>(typed: Record<string, string | undefined>, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (e) {
    const field = isLedgerError(e) ? e.details?.field : undefined;
    const raw = typeof field === 'string' ? typed[field] : undefined;
    if (isLedgerError(e) && raw !== undefined) {
      const hint = e.code === 'invalid_amount' ? '; expected a whole number of the smallest unit, digits only, e.g. 100' : '';
      throw new LedgerError(e.code, `${e.message} (got ${JSON.stringify(raw)}${hint})`, e.details, { cause: e });
    }
    throw e;
  }
}
