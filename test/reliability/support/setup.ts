/** The accounts, opening balances and shared keys both reliability tests start from. */
import type { GrantInput } from '../../../src/index.js';
import type { Book } from './check.js';
import type { Db } from './db.js';
import type { SharedGrantKey, SharedKey } from './protocol.js';

export const FULL = process.env.RELIABILITY === 'full';

/** 20 hot accounts: big ones that last, and small ones that run dry (insufficient outcomes). */
export function hotAccounts(scale: number): Array<[string, number]> {
  return Array.from({ length: 20 }, (_, i) => {
    const name = `hot-${String(i).padStart(2, '0')}`;
    const amount = i < 8 ? 3000 * scale : i < 12 ? 1000 * scale : i < 16 ? 300 : 60;
    return [name, amount];
  });
}

export function sharedKeys(
  accounts: readonly string[],
  debits: number,
  grants: number,
): { sharedDebits: SharedKey[]; sharedGrants: SharedGrantKey[] } {
  const farFuture = Date.now() + 7 * 24 * 3_600_000;
  return {
    sharedDebits: Array.from({ length: debits }, (_, i) => ({
      key: `shared-debit-${i}`,
      account: accounts[i % accounts.length] as string,
      amount: 3 + (i % 9),
    })),
    sharedGrants: Array.from({ length: grants }, (_, i) => ({
      key: `shared-grant-${i}`,
      account: accounts[(i * 7) % accounts.length] as string,
      amount: 10 + i,
      // Some shared grants open lots, so a replay must also match expiry and priority.
      expiresAt: i % 3 === 1 ? farFuture : null,
      priority: i % 3 === 2 ? 20 : null,
    })),
  };
}

/**
 * Opening balances: a plain grant per account, plus a prioritised lot and an expiring lot
 * on every other account, so debits draw lots from the first operation on.
 */
export async function seed(db: Db, book: Book, accounts: ReadonlyArray<readonly [string, number]>): Promise<void> {
  const now = Date.now();
  for (const [i, [account, amount]] of accounts.entries()) {
    const grants: GrantInput[] = [{ account, amount, reason: 'setup' }];
    if (i % 2 === 0) {
      grants.push({ account, amount: 40, reason: 'setup', priority: 5 });
      grants.push({ account, amount: 40, reason: 'setup', expiresAt: now + (i % 4 === 0 ? 4_000 : 3_600_000) });
    }
    for (const g of grants) {
      const r = await db.ledger.grant(g);
      book.setup.set(r.entry.id, { account, delta: r.entry.delta });
    }
    // Low-balance alerts inside the range the mix moves balances through, so kills land inside
    // units that write balance.low events: verify() then checks the outbox against the log.
    for (const lowBalance of [amount, Math.ceil(amount * 0.9), Math.ceil(amount / 2)]) {
      const r = await db.ledger.alerts.set({ account, lowBalance });
      if (r.outcome === 'set') book.setup.set(r.entry.id, { account, delta: 0 });
    }
  }
}
