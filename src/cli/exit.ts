/**
 * Exit codes of the `drizzle-credits` CLI. Stable: scripts branch on them.
 *
 * - 0  success (including an idempotent `replayed`)
 * - 1  a business outcome that did not apply (`insufficient`)
 * - 2  a LedgerError (misuse, bad input, missing schema …): nothing was written
 * - 3  `verify` found problems
 * - 64 usage error (unknown command or option, missing argument), as in sysexits' EX_USAGE
 * - 70 an unexpected failure (EX_SOFTWARE): an error that is not a LedgerError (e.g. an
 *      unreadable file) or a LedgerError with code `internal` (the driver failed in a way the
 *      ledger does not know)
 */
export const EXIT = {
  ok: 0,
  notApplied: 1,
  ledgerError: 2,
  verifyFailed: 3,
  usage: 64,
  internal: 70,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];
