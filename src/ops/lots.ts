import { num } from '../entry.js';
import { ENTRY_POS, type Ids, idArgs } from '../ids.js';
import { DUE } from '../plans/guard.js';
import { settleForRead } from '../plans/settle.js';
import type { Row, Statement } from '../runner/index.js';
import { ALLOCATION_ROWS } from '../sql.js';
import type { Allocation, Lot } from '../types.js';
import type { Context } from './context.js';

/** The documented draw order: priority, soonest expiry (never-expiring last), oldest. */
export const DRAW_ORDER = 'priority, expires_at IS NULL, expires_at, seq';

export function toLot(r: Row, ids: Ids): Lot {
  return {
    id: ids.format(num(r.id)),
    account: String(r.account),
    amount: num(r.amount),
    remaining: num(r.remaining),
    priority: num(r.priority),
    expiresAt: r.expires_at === null || r.expires_at === undefined ? null : num(r.expires_at),
    createdAt: num(r.created_at),
  };
}

/**
 * Reads an account's lots; when its subscription has an allowance due and not yet written,
 * writes it down first (as its next spend would) and reads again, so the lots are exact at now.
 */
async function lotRows(ctx: Context, account: string, now: number, lotsQuery: Statement): Promise<Row[]> {
  const read = () => ctx.runner.read([lotsQuery, { sql: DUE, args: [account, now] }]);
  let [rows = [], due = []] = await read();
  if (await settleForRead(ctx, account, due.length, now)) [rows = []] = await read();
  return rows;
}

/** Open lots (something left, not past expiry at now), in the order debits draw them. */
export async function lots(ctx: Context, account: string): Promise<Lot[]> {
  const now = ctx.now();
  const sql = `SELECT * FROM credit_lot WHERE account = ? AND open = 1 AND remaining > 0 AND (expires_at IS NULL OR expires_at > ?) ORDER BY ${DRAW_ORDER}`;
  return (await lotRows(ctx, account, now, { sql, args: [account, now] })).map((r) => toLot(r, ctx.ids));
}

/** Lots with something left that lapse within `withinMs` from now, soonest first. */
export async function expiring(ctx: Context, account: string, withinMs: number): Promise<Lot[]> {
  const now = ctx.now();
  const sql =
    'SELECT * FROM credit_lot WHERE account = ? AND open = 1 AND remaining > 0 AND expires_at > ? AND expires_at <= ? ORDER BY expires_at, seq';
  return (await lotRows(ctx, account, now, { sql, args: [account, now, now + withinMs] })).map((r) => toLot(r, ctx.ids));
}

/** Which lots an entry drew from (positive) or gave back to (negative), in draw order. */
export async function allocations(ctx: Context, entryId: string): Promise<Allocation[]> {
  const [rows = []] = await ctx.runner.read([
    { sql: `${ALLOCATION_ROWS} AND e.pos = ${ENTRY_POS} ORDER BY ord`, args: idArgs(ctx.ids.parse(entryId)) },
  ]);
  return rows.map((r) => ({
    entryId: ctx.ids.format(num(r.entry_id)),
    lotId: ctx.ids.format(num(r.lot_id)),
    amount: num(r.amount),
    ord: num(r.ord),
  }));
}
