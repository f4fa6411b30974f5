import { toLedgerError } from './errors.js';

/**
 * Every public method runs in here: validation throws synchronously inside and surfaces as a
 * rejected promise like the rest, and nothing but a LedgerError escapes (anything else
 * becomes `internal`, with the original as `cause`). Family namespaces (`ledger.caps`,
 * `ledger.analytics`, …) wrap their methods in it too.
 */
export async function guard<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    throw toLedgerError(e);
  }
}
