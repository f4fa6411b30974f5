/**
 * Exit codes of the `drizzle-credits` CLI. Stable: scripts branch on them.
 *
 * - 0  success (including an idempotent `replayed`)
 * - 1  a business outcome that did not apply (`insufficient`)
 * - 2  a LedgerError (misuse, bad input, missing schema …): nothing was written
 * - 3  `verify` found problems
 * - 64 usage error (unknown command or option, missing argument), as in sysexits' EX_USAGE
 * - 70 an unexpected failure that is not a LedgerError (EX_SOFTWARE), e.g. an unreadable file
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
