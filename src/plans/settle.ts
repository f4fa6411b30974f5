/**
 * Settling a subscription: writing down, in the unit of the account's next spend (or of a
 * read, or of the sweep), what its terms already hold at now — a pending change taking
 * effect, last period's rollover, this period's allowance. The statements are in sql.ts; the
 * runners decide when to send them (src/runner/types.ts `Unit.settle`).
 */
import { ENTRY_POS, type IdRef, idArgs } from '../ids.js';
import type { Context } from '../ops/context.js';
import type { Settle, Statement } from '../runner/types.js';
import { DUE } from './guard.js';
import { settleSql } from './sql.js';

const OF_ENTRY = `(SELECT account FROM credit_entry WHERE pos = ${ENTRY_POS})`;
const BY_ACCOUNT = settleSql('?');
const BY_ENTRY = settleSql(OF_ENTRY);
const DUE_OF_ENTRY = `SELECT 1 AS due FROM credit_subscription WHERE account = ${OF_ENTRY} AND due_at <= ?`;

/** The settle statements of `account` at `now`. */
export const settleWrites = (account: string, now: number): Statement[] => BY_ACCOUNT.map((sql) => ({ sql, args: [account, now] }));

/**
 * Settling for a spend on `account`. A class, not an object literal with a getter: V8 builds
 * such a literal on a slow path, on every spend (measured ~0.5 µs a debit); the statements
 * are built when sent, since most spends never need them.
 */
class AccountSettle implements Settle {
  constructor(
    readonly account: string,
    readonly now: number,
  ) {}
  get probe(): Statement {
    return { sql: DUE, args: [this.account, this.now] };
  }
  get writes(): Statement[] {
    return settleWrites(this.account, this.now);
  }
}

export const settleAccount = (account: string, now: number): Settle => new AccountSettle(account, now);

/** Settling for a spend on the account of an entry (a capture names its hold). */
export function settleOfEntry(ref: IdRef, now: number): Settle {
  const args = idArgs(ref);
  return { probe: { sql: DUE_OF_ENTRY, args: [...args, now] }, writes: BY_ENTRY.map((sql) => ({ sql, args: [...args, now] })), now };
}

/**
 * For reads: when something is due for the account, write it down first (one atomic unit of
 * idempotent statements, as the sweep would), so the read sees the period's allowance. Returns
 * whether it wrote. A read of an account with nothing due costs nothing more: callers pass
 * the `due` flag their own read already returned.
 */
export async function settleForRead(ctx: Context, account: string, due: unknown, now: number): Promise<boolean> {
  if (due === null || due === undefined || Number(due) === 0) return false;
  await ctx.runner.exec(settleWrites(account, now));
  return true;
}
