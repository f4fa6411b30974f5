import { capRebuild } from './caps/rebuild.js';
import { num } from './entry.js';
import { LedgerError } from './errors.js';
import { alertsRebuild } from './events/rebuild.js';
import type { Ids } from './ids.js';
import { plansRebuild } from './plans/replay.js';
import { pricingRebuild } from './pricing/rebuild.js';
import type { Runner, Statement } from './runner/index.js';
import { teamsRebuild } from './teams/audit.js';
import type { VerifyProblem } from './types.js';
import { rebuildUsage } from './usage/rebuild.js';
import { publicIds, replayLog } from './verify.js';

/** D1 binds at most 100 parameters a statement; stay under it for every driver. */
const MAX_PARAMS = 96;
const REBUILD_ATTEMPTS = 5;
/** Pause before attempt n+1: 5, 20, 80, 320 ms (with jitter), so a burst of writes can pass. */
const backoff = (attempt: number) => new Promise((r) => setTimeout(r, 5 * 4 ** (attempt - 1) * (0.5 + Math.random())));

/** The guard's abort, as every driver words it (better-sqlite3, bun, libSQL, D1 prefix or suffix it). */
const GUARD_ABORT = /CHECK constraint failed:\s*credit_unit_not_applied\b/i;

function messages(e: unknown): string {
  const out: string[] = [];
  for (let c = e, depth = 0; c !== undefined && c !== null && depth < 5; c = (c as { cause?: unknown }).cause, depth++) {
    out.push(c instanceof Error ? c.message : String(c));
  }
  return out.join(' | ');
}

/**
 * Did the atomic write fail because a writer appended to the log since the replay? Known
 * failures (LedgerErrors: busy, readonly, storage full…) are not; the guard's own abort is;
 * for any other error the log's highest rowid decides, so an abort worded in a way we do
 * not know is still recognised.
 */
async function raced(runner: Runner, lastRowid: number, e: unknown): Promise<boolean> {
  if (e instanceof LedgerError) return false;
  if (GUARD_ABORT.test(messages(e))) return true;
  const [[top] = []] = await runner.read([{ sql: 'SELECT COALESCE(MAX(rowid), 0) AS r FROM credit_entry', args: [] }]);
  return num(top?.r) !== lastRowid;
}

export interface RebuildReport {
  lots: number;
  holds: number;
  /** Spend caps (with their counters) and account floors re-derived. */
  caps: number;
  floors: number;
  /** Pricing versions re-derived from the `$pricing` log. */
  pricingVersions: number;
  /** Allocation pairs on the log's entries (they are part of the log: checked, not rewritten). */
  allocations: number;
  entries: number;
  /** What the replay found wrong in the log itself (rebuild cannot mend the log). */
  problems: VerifyProblem[];
}

export function inserts(table: string, columns: string[], rows: unknown[][]): Statement[] {
  const per = Math.max(1, Math.floor(MAX_PARAMS / columns.length));
  const out: Statement[] = [];
  for (let i = 0; i < rows.length; i += per) {
    const chunk = rows.slice(i, i + per);
    out.push({
      sql: `INSERT INTO ${table} (${columns.join(', ')}) VALUES ${chunk.map(() => `(${columns.map(() => '?').join(', ')})`).join(', ')}`,
      args: chunk.flat(),
    });
  }
  return out;
}

/**
 * Drops and re-derives every projection (lots, holds, caps, floors, the usage rollup) from the log alone, in
 * one atomic unit. The first statement aborts the unit (credit_unit_guard's CHECK) if the log
 * grew since it was replayed, so a write that raced the rebuild is never left out; the
 * rebuild then waits a little and replays again, and after REBUILD_ATTEMPTS says `busy`.
 */
export async function rebuild(runner: Runner, ids: Ids, now = Date.now()): Promise<RebuildReport> {
  let last: unknown;
  for (let attempt = 1; attempt <= REBUILD_ATTEMPTS; attempt++) {
    if (attempt > 1) await backoff(attempt - 1);
    const problems: VerifyProblem[] = [];
    const d = await replayLog(
      runner,
      publicIds(ids, (p) => problems.push(p)),
    );
    const statements: Statement[] = [
      {
        sql: 'INSERT INTO credit_unit_guard (ok) SELECT 0 WHERE (SELECT COALESCE(MAX(pos), 0) FROM credit_entry) <> ?',
        args: [d.lastRowid],
      },
      { sql: 'DELETE FROM credit_lot', args: [] },
      { sql: 'DELETE FROM credit_hold', args: [] },
      ...inserts(
        'credit_lot',
        ['id', 'account', 'seq', 'amount', 'remaining', 'open', 'priority', 'expires_at', 'created_at'],
        [...d.lots.values()].map((l) => [
          Number(l.id),
          l.account,
          l.seq,
          l.amount,
          l.remaining,
          l.remaining > 0 ? 1 : 0,
          l.priority,
          l.expiresAt,
          l.createdAt,
        ]),
      ),
      ...inserts(
        'credit_hold',
        ['id', 'account', 'amount', 'expires_at', 'status', 'resolved_by', 'created_at', 'model', 'key_id', 'actor'],
        [...d.holds.values()].map((h) => [
          Number(h.id),
          h.account,
          h.amount,
          h.expiresAt,
          h.status,
          h.resolvedBy === null ? null : Number(h.resolvedBy),
          h.createdAt,
          h.model,
          h.keyId,
          h.actor,
        ]),
      ),
      ...capRebuild(d),
      ...plansRebuild(d, now, inserts),
      ...pricingRebuild(d.pricing),
      ...teamsRebuild(d, inserts),
      ...alertsRebuild(d, inserts),
      ...rebuildUsage(d.lastRowid),
    ];
    try {
      await runner.exec(statements);
    } catch (e) {
      if (!(await raced(runner, d.lastRowid, e))) throw e;
      last = e;
      continue;
    }
    return {
      lots: d.lots.size,
      holds: d.holds.size,
      caps: d.caps.size,
      floors: d.floors.size,
      pricingVersions: d.pricing.versions.size,
      allocations: d.allocations,
      entries: d.entries,
      problems,
    };
  }
  throw new LedgerError(
    'busy',
    `rebuild: the log kept growing during ${REBUILD_ATTEMPTS} attempts; retry when writes are quieter`,
    { attempts: REBUILD_ATTEMPTS },
    { cause: last },
  );
}
