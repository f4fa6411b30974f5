import { balanceWithCaps } from '../caps/ops.js';
import { num, toEntry } from '../entry.js';
import { HISTORY_DEFAULT_LIMIT } from '../limits.js';
import type { EntryKind } from '../schema.js';
import type { Balance, HistoryPage, KeySpend, LedgerStats } from '../types.js';
import type { Context } from './context.js';

/**
 * The head row is the posted balance (one index seek, whatever the history length); open
 * holds and lapsed lots are summed over their own small projections, at the clock's now;
 * the floor and the caps come from theirs, in the same read.
 */
export const getBalance = (ctx: Context, account: string): Promise<Balance> => balanceWithCaps(ctx, account);

/** Newest first; the cursor is the seq to continue below (keyset pagination on the unique index). */
export async function history(
  ctx: Context,
  account: string,
  opts: { limit?: number; cursor?: string; kinds?: EntryKind[] },
): Promise<HistoryPage> {
  const limit = opts.limit ?? HISTORY_DEFAULT_LIMIT;
  const args: unknown[] = [account, opts.cursor === undefined ? Number.MAX_SAFE_INTEGER : Number(opts.cursor)];
  let kindFilter = '';
  if (opts.kinds !== undefined) {
    kindFilter = ` AND kind IN (${opts.kinds.map(() => '?').join(', ')})`;
    args.push(...opts.kinds);
  }
  args.push(limit + 1);
  const [rows = []] = await ctx.runner.read([
    { sql: `SELECT * FROM credit_entry WHERE account = ? AND seq < ?${kindFilter} ORDER BY seq DESC LIMIT ?`, args },
  ]);
  const entries = rows.slice(0, limit).map((r) => toEntry(r, ctx.ids));
  const last = entries[entries.length - 1];
  return { entries, nextCursor: rows.length > limit && last !== undefined ? String(last.seq) : null };
}

/**
 * Spend attributed to one API key, over the key's own index (key_id, created_at). Debits
 * and captures are spend; refunds (which copy the key of what they refund) net it out.
 */
export async function keySpend(ctx: Context, keyId: string, opts: { from?: number; to?: number }): Promise<KeySpend> {
  const [rows = []] = await ctx.runner.read([
    {
      sql: `SELECT kind, COUNT(*) AS n, TOTAL(amount) AS total FROM credit_entry
            WHERE key_id = ? AND created_at >= ? AND created_at < ? AND kind IN ('debit', 'capture', 'refund') GROUP BY kind`,
      args: [keyId, opts.from ?? 0, opts.to ?? Number.MAX_SAFE_INTEGER],
    },
  ]);
  const by = (k: string) => rows.find((r) => r.kind === k);
  const debited = num(by('debit')?.total ?? 0) + num(by('capture')?.total ?? 0);
  const refunded = num(by('refund')?.total ?? 0);
  return {
    keyId,
    debited,
    refunded,
    net: debited - refunded,
    debits: num(by('debit')?.n ?? 0) + num(by('capture')?.n ?? 0),
    refunds: num(by('refund')?.n ?? 0),
  };
}

/**
 * Ledger-wide totals. Sums across accounts can pass 2^53, so they use TOTAL() (a float):
 * exact below 2^53, approximate above it, never a driver error. Not a hot path: it scans the log once and seeks each account's head. */
export async function stats(ctx: Context): Promise<LedgerStats> {
  const [kinds = [], heads = []] = await ctx.runner.read([
    {
      sql: 'SELECT kind, COUNT(*) AS n, TOTAL(amount) AS amount, TOTAL(delta) AS delta FROM credit_entry GROUP BY kind',
      args: [],
    },
    {
      sql: `SELECT COUNT(*) AS accounts, TOTAL(h.balance) AS outstanding
            FROM (SELECT account, MAX(seq) AS seq FROM credit_entry GROUP BY account) AS a
            JOIN credit_entry AS h ON h.account = a.account AND h.seq = a.seq`,
      args: [],
    },
  ]);
  const byKind: LedgerStats['byKind'] = {};
  let entries = 0;
  for (const r of kinds) {
    byKind[String(r.kind)] = { entries: num(r.n), amount: num(r.amount) };
    entries += num(r.n);
  }
  const amount = (k: string) => byKind[k]?.amount ?? 0;
  const adjusted = num(kinds.find((r) => r.kind === 'adjust')?.delta ?? 0);
  return {
    accounts: num(heads[0]?.accounts ?? 0),
    entries,
    granted: amount('grant'),
    // Spend is what debits and captures took; refunds of either are `refunded`.
    debited: amount('debit') + amount('capture'),
    refunded: amount('refund'),
    adjusted,
    outstanding: num(heads[0]?.outstanding ?? 0),
    byKind,
  };
}
