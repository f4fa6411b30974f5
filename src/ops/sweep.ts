import { EXPIRING_EVENTS, EXPIRING_PENDING } from '../alerts/sql.js';
import { num } from '../entry.js';
import { settleWrites } from '../plans/settle.js';
import type { Unit } from '../runner/index.js';
import { ENTRY_COLUMNS, headJoin, int } from '../sql.js';
import type { SweepReport } from '../types.js';
import type { Context } from './context.js';

export interface SweepOptions {
  dryRun?: boolean;
  batchSize?: number;
  /** Called after each batch with the running totals (for progress bars). */
  onProgress?: (report: SweepReport, pending: { lots: number; holds: number }) => void;
}

// Each lapsed lot gets an `expire` row for exactly what is left of it, read inside the
// statement, under the write lock: a debit that drew the lot a moment before, or a second
// sweeper, leaves nothing to expire twice. The row's allocation keeps lot.remaining
// derivable from the log (amount − Σ allocations); the trigger applies it.
const EXPIRE_LOT = `WITH p AS (SELECT ${int('lot')}, ${int('now')})
INSERT INTO credit_entry (${ENTRY_COLUMNS})
SELECT lt.account, h.seq + 1, 'expire', -lt.remaining, lt.remaining, h.balance - lt.remaining,
       'lot expired', NULL, lt.id, NULL, NULL, 'sweep', NULL, lt.expires_at, NULL, p.now, json_array(json_array(lt.id, lt.remaining))
FROM p JOIN credit_lot AS lt ON lt.id = p.lot JOIN credit_entry AS h ON ${headJoin('h', 'lt.account')}
WHERE lt.remaining > 0 AND lt.expires_at <= p.now
RETURNING pos, amount`;

// The trigger `credit_entry_resolves_hold` marks the hold expired in the same statement.
const EXPIRE_HOLD = `WITH p AS (SELECT ${int('hold')}, ${int('now')})
INSERT INTO credit_entry (${ENTRY_COLUMNS})
SELECT hx.account, h.seq + 1, 'expire', 0, hx.amount, h.balance,
       'hold expired', NULL, hx.id, NULL, NULL, 'sweep', NULL, hx.expires_at, NULL, p.now, NULL
FROM p JOIN credit_hold AS hx ON hx.id = p.hold JOIN credit_entry AS h ON ${headJoin('h', 'hx.account')}
WHERE hx.status = 'open' AND hx.expires_at <= p.now
RETURNING pos, amount`;

/** Settling moves due_at past now (or clears it), so each account comes back at most once. */
const DUE_ACCOUNTS = 'SELECT account FROM credit_subscription WHERE due_at <= ? ORDER BY due_at LIMIT ?';
const LAPSED_LOTS = 'SELECT id FROM credit_lot WHERE open = 1 AND remaining > 0 AND expires_at <= ? ORDER BY expires_at, id LIMIT ?';
const LAPSED_HOLDS = "SELECT id FROM credit_hold WHERE status = 'open' AND expires_at <= ? ORDER BY expires_at, id LIMIT ?";
// Ledger-wide totals can pass 2^53 (each account is bounded, their sum is not): TOTAL()
// reports them as a float instead of failing the driver's safe-integer check.
const PENDING = `WITH p AS (SELECT ? AS now)
SELECT (SELECT COUNT(*) FROM credit_lot WHERE open = 1 AND remaining > 0 AND expires_at <= p.now) AS lots,
  (SELECT TOTAL(remaining) FROM credit_lot WHERE open = 1 AND remaining > 0 AND expires_at <= p.now) AS credits,
  (SELECT COUNT(*) FROM credit_hold WHERE status = 'open' AND expires_at <= p.now) AS holds,
  (SELECT TOTAL(amount) FROM credit_hold WHERE status = 'open' AND expires_at <= p.now) AS held,
  (SELECT COUNT(*) FROM credit_subscription WHERE due_at <= p.now) AS subscriptions
FROM p`;

/**
 * Writes the `expire` rows that make the log say what lapsed. Balances were already exact
 * without it (expiry is applied at read time). Work goes in bounded batches, each one
 * atomic unit; the candidates are read first, but every write re-checks in SQL, so a
 * concurrent debit or sweep can make a candidate a no-op, never a double expiry.
 */
export async function sweep(ctx: Context, batchSize: number, opts: SweepOptions): Promise<SweepReport> {
  const now = ctx.now();
  const report: SweepReport = {
    dryRun: opts.dryRun ?? false,
    lotsExpired: 0,
    creditsExpired: 0,
    holdsExpired: 0,
    creditsReleased: 0,
    batches: 0,
    usageFolded: 0, // set by the ledger after the sweep (src/usage/analytics.ts)
    subscriptionsSettled: 0,
    expiringNotices: 0,
  };
  const [[pending] = [], firstDue = [], [notices] = []] = await ctx.runner.read([
    { sql: PENDING, args: [now] },
    { sql: DUE_ACCOUNTS, args: [now, batchSize] },
    { sql: EXPIRING_PENDING, args: [now] },
  ]);
  // Idle subscribed accounts first: their period's allowance, rollover or pending change
  // written down (a round trip only when there are some).
  if (opts.dryRun) report.subscriptionsSettled = num(pending?.subscriptions);
  for (let due = firstDue; !opts.dryRun && due.length > 0; ) {
    await ctx.runner.exec(due.flatMap((r) => settleWrites(String(r.account), now)));
    report.subscriptionsSettled += due.length;
    if (due.length < batchSize) break;
    [due = []] = await ctx.runner.read([{ sql: DUE_ACCOUNTS, args: [now, batchSize] }]);
  }
  if (opts.dryRun) {
    report.lotsExpired = num(pending?.lots);
    report.creditsExpired = num(pending?.credits);
    report.holdsExpired = num(pending?.holds);
    report.creditsReleased = num(pending?.held);
    report.expiringNotices = num(notices?.n);
    return report;
  }
  const left = { lots: num(pending?.lots), holds: num(pending?.holds) };
  for (;;) {
    const [lotRows = [], holdRows = []] = await ctx.runner.read([
      { sql: LAPSED_LOTS, args: [now, batchSize] },
      { sql: LAPSED_HOLDS, args: [now, batchSize] },
    ]);
    if (lotRows.length === 0 && holdRows.length === 0) break;
    const units: Unit[] = [];
    const kinds: ('lot' | 'hold')[] = [];
    for (const r of lotRows) {
      // The row's allocation ([lot, remainder]) takes the remainder off the lot (trigger).
      units.push({ primary: { sql: EXPIRE_LOT, args: [num(r.id), now] } });
      kinds.push('lot');
    }
    for (const r of holdRows) {
      units.push({ primary: { sql: EXPIRE_HOLD, args: [num(r.id), now] } });
      kinds.push('hold');
    }
    const results = await ctx.runner.writeMany(units);
    let progressed = 0;
    results.forEach((res, i) => {
      const row = res.rows[0];
      if (row === undefined) return; // someone else got there first
      progressed++;
      if (kinds[i] === 'lot') {
        report.lotsExpired++;
        report.creditsExpired += num(row.amount);
        left.lots--;
      } else {
        report.holdsExpired++;
        report.creditsReleased += num(row.amount);
        left.holds--;
      }
    });
    report.batches++;
    opts.onProgress?.({ ...report }, { lots: Math.max(0, left.lots), holds: Math.max(0, left.holds) });
    // A batch whose candidates were all taken by a concurrent sweep ends this one: the
    // other sweeper is doing the rest, and a loop that makes no progress must not spin.
    if (progressed === 0) break;
  }
  // Lots about to lapse on accounts that asked to hear of it: one event per lot (a unique
  // key on the event), so sweeps that overlap or repeat announce each lot once.
  if (num(notices?.n) > 0)
    report.expiringNotices = (await ctx.runner.write({ primary: { sql: EXPIRING_EVENTS, args: [now] } })).rows.length;
  return report;
}
