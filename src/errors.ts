/**
 * Misuse is thrown as a LedgerError with a stable `code`; business outcomes (insufficient,
 * replayed) are return values. Every LedgerError leaves the database as it was, except
 * possibly `internal` (an error the ledger does not know, e.g. an unreadable driver
 * response after a commit: see README). Nothing else escapes the public API.
 */
export const ERROR_CODES = [
  'invalid_amount',
  'invalid_account',
  'invalid_argument',
  'idempotency_conflict',
  'not_found',
  'not_refundable',
  'exceeds_refundable',
  'overflow',
  'hold_closed',
  'hold_expired',
  'already_subscribed',
  'forbidden',
  'already_exists',
  'schema_missing',
  'schema_newer',
  'schema_conflict',
  'busy',
  'readonly',
  'storage_full',
  'driver_unsupported',
  'in_transaction',
  'app_statement_failed',
  'internal',
] as const;

export type LedgerErrorCode = (typeof ERROR_CODES)[number];

export class LedgerError extends Error {
  override readonly name = 'LedgerError';
  readonly code: LedgerErrorCode;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: LedgerErrorCode, message: string, details?: Record<string, unknown>, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.details = details;
  }
}

export function isLedgerError(e: unknown, code?: LedgerErrorCode): e is LedgerError {
  return e instanceof LedgerError && (code === undefined || e.code === code);
}

/** A thrown value as text, for messages; never throws itself. */
export function errorText(e: unknown): string {
  try {
    if (e instanceof Error) return e.name && e.name !== 'Error' ? `${e.name}: ${e.message}` : e.message;
    return typeof e === 'string' ? e : (JSON.stringify(e) ?? String(e));
  } catch {
    return 'a value that cannot be printed';
  }
}

/** Map a driver error to a LedgerError where its meaning is known; rethrow the rest. */
export function wrapDriverError(e: unknown): never {
  throw knownDriverError(e) ?? e;
}

/**
 * What the public API throws for anything that went wrong: a LedgerError as is, a driver
 * error of known meaning as its code, anything else (a driver error of unknown meaning, a
 * TypeError from a driver response of an unexpected shape) as `internal`, with the original
 * as `cause`.
 */
export function toLedgerError(e: unknown): LedgerError {
  return (
    knownDriverError(e) ??
    new LedgerError('internal', `unexpected error, not one the ledger knows: ${errorText(e)}`, undefined, { cause: e })
  );
}

function knownDriverError(e: unknown): LedgerError | undefined {
  if (e instanceof LedgerError) return e;
  let msg: string;
  try {
    msg = e instanceof Error ? e.message : String(e);
  } catch {
    return undefined;
  }
  const code = (e as { code?: unknown })?.code;
  if (/has no column named|table `?credit_\w+`? already exists/i.test(msg)) {
    return new LedgerError(
      'schema_conflict',
      `a table named like the ledger's exists with other columns (another schema uses the credit_* names?): ${msg}`,
      undefined,
      { cause: e },
    );
  }
  if (/no such table|no such column/i.test(msg)) {
    return new LedgerError('schema_missing', `ledger tables are missing or outdated: run ledger.migrate() (${msg})`, undefined, {
      cause: e,
    });
  }
  if (/readonly|read-only|SQLITE_READONLY/i.test(msg) || code === 'SQLITE_READONLY') {
    return new LedgerError('readonly', `the database is read-only: ${msg}`, undefined, { cause: e });
  }
  if (/SQLITE_FULL|database or disk is full/i.test(msg) || code === 'SQLITE_FULL') {
    return new LedgerError('storage_full', `the database or disk is full: ${msg}`, undefined, { cause: e });
  }
  if (/SQLITE_BUSY|database is locked/i.test(msg) || code === 'SQLITE_BUSY') {
    return new LedgerError('busy', `the database stayed locked past the busy timeout: ${msg}`, undefined, { cause: e });
  }
  return undefined;
}
