import { LedgerError } from './errors.js';
import type { Ids } from './ids.js';
import type { Runner, Statement } from './runner/index.js';
import type { VerifyProblem } from './types.js';
import { publicIds, replayLog } from './verify.js';

/** D1 binds at most 100 parameters a statement; stay under it for every driver. */
const MAX_PARAMS = 96;
const REBUILD_ATTEMPTS = 5;

export interface RebuildReport {
  lots: number;
  holds: number;
  /** Allocation pairs on the log's entries (they are part of the log: checked, not rewritten). */
  allocations: number;
  entries: number;
  /** What the replay found wrong in the log itself (rebuild cannot mend the log). */
  problems: VerifyProblem[];
}

function inserts(table: string, columns: string[], rows: unknown[][]): Statement[] {
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
 * Drops and re-derives every projection (lots, holds) from the log alone, in
 * one atomic unit. The first statement aborts the unit (a NOT NULL violation) if the log
 * grew since it was replayed, so a write that raced the rebuild is never left out; the
 * rebuild then replays again.
 */
export async function rebuild(runner: Runner, ids: Ids): Promise<RebuildReport> {
  for (let attempt = 1; attempt <= REBUILD_ATTEMPTS; attempt++) {
    const problems: VerifyProblem[] = [];
    const d = await replayLog(
      runner,
      publicIds(ids, (p) => problems.push(p)),
    );
    const statements: Statement[] = [
      {
        sql: `INSERT INTO credit_lot (id, account, seq, amount, remaining, priority, created_at)
              SELECT NULL, '', 0, 0, 0, 0, 0 WHERE (SELECT COALESCE(MAX(rowid), 0) FROM credit_entry) <> ?`,
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
        ['id', 'account', 'amount', 'expires_at', 'status', 'resolved_by', 'created_at'],
        [...d.holds.values()].map((h) => [
          Number(h.id),
          h.account,
          h.amount,
          h.expiresAt,
          h.status,
          h.resolvedBy === null ? null : Number(h.resolvedBy),
          h.createdAt,
        ]),
      ),
    ];
    try {
      await runner.exec(statements);
    } catch (e) {
      if (/NOT NULL constraint failed: credit_lot\.id/i.test(String((e as Error)?.message ?? e)) && attempt < REBUILD_ATTEMPTS) continue;
      throw e;
    }
    return { lots: d.lots.size, holds: d.holds.size, allocations: d.allocations, entries: d.entries, problems };
  }
  throw new LedgerError('busy', `rebuild: the log kept growing during ${REBUILD_ATTEMPTS} attempts; retry when writes are quieter`);
}
