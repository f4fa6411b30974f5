/**
 * The plans part of the spend guard (used by src/sql.ts). No imports: src/sql.ts loads it
 * before anything else of this family.
 */

/** Something is due for the account at now. Args: account, now. */
export const DUE = 'SELECT 1 AS due FROM credit_subscription WHERE account = ? AND due_at <= ?';

/**
 * The guard every spending statement carries: nothing is due for the account. While its
 * period's allowance is unwritten, a spend refuses, and the runner settles and retries in one
 * unit (src/runner/), so the spend draws the allowance first and never 402s for want of it.
 */
export const NOT_DUE = (account: string, now: string) =>
  `NOT EXISTS (SELECT 1 FROM credit_subscription AS sd WHERE sd.account = ${account} AND sd.due_at <= ${now})`;
