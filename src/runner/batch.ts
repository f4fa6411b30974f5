import { LedgerError, toLedgerError } from '../errors.js';
import type { Row, Statement, Unit, UnitResult } from './types.js';

/**
 * Undoes the unit it is sent in when the statement just before it (the primary) inserted
 * nothing: statements the app sent `with` an operation must not commit without it. D1 and
 * libSQL batches have no conditional execution and no RAISE() outside triggers, so the unit
 * aborts itself through a CHECK that this insert fails (credit_unit_guard stays empty).
 * `changes()` counts only the primary's own row, not what its triggers wrote.
 */
export const NOT_APPLIED_GUARD: Statement = { sql: 'INSERT INTO credit_unit_guard (ok) SELECT 0 WHERE changes() = 0', args: [] };
const NOT_APPLIED = /credit_unit_not_applied/;

const causes = (e: unknown): string => {
  const out: string[] = [];
  for (let c = e, depth = 0; c !== undefined && c !== null && depth < 5; c = (c as { cause?: unknown }).cause, depth++) {
    out.push(c instanceof Error ? c.message : String(c));
  }
  return out.join(' | ');
};

/**
 * For drivers whose atomic unit is a batch (D1, libSQL): flatten units into one statement
 * list and map the results back to each unit. Units without `with` carry their explain
 * reads (cheap, and they save a round trip when the op is a no-op); a unit with `with`
 * cannot, since the guard aborts the batch when the op did not apply: its explain reads
 * run in a second round trip, on that path only.
 */
export function flatten(units: readonly Unit[]): { statements: Statement[]; split: (results: Row[][]) => UnitResult[] } {
  const statements: Statement[] = [];
  const settled = new Set<string>();
  const shapes: { at: number; skip: number; explain: number; after: number }[] = [];
  for (const u of units) {
    if (u.precheck !== undefined) statements.push(u.precheck);
    // Sent rather than probed (a probe would cost a round trip); once per account and time in
    // a batch, since settling is idempotent and later ops of the account find nothing due.
    const settle = u.settle === undefined ? undefined : JSON.stringify(u.settle.writes[0]?.args ?? []);
    if (u.settle !== undefined && settle !== undefined && !settled.has(settle)) {
      settled.add(settle);
      statements.push(...u.settle.writes);
    }
    // `with` and `follow` statements commit only with the primary's row: the guard aborts the
    // unit (settle statements included) when it inserted nothing, and explain is read after.
    const conditional = u.with !== undefined || u.follow !== undefined;
    const explain = conditional ? [] : (u.explain ?? []);
    const middle = conditional ? [NOT_APPLIED_GUARD, ...(u.with ?? []), ...(u.follow ?? [])] : [];
    shapes.push({ at: statements.length, skip: middle.length, explain: explain.length, after: u.after?.length ?? 0 });
    statements.push(u.primary, ...middle, ...explain, ...(u.after ?? []));
  }
  return {
    statements,
    split: (results) =>
      shapes.map(({ at, skip, explain, after }) => {
        const e = at + 1 + skip;
        return { rows: results[at] ?? [], explain: results.slice(e, e + explain), after: results.slice(e + explain, e + explain + after) };
      }),
  };
}

/**
 * Runs units as one batch. A unit with `with` whose operation did not apply comes back as
 * a no-op explained by a second read; a failure of the app's own statements is
 * `app_statement_failed` (the ledger's own statements fail only in ways it names).
 */
export async function writeUnits(
  units: readonly Unit[],
  send: (statements: readonly Statement[]) => Promise<Row[][]>,
  read: (statements: readonly Statement[]) => Promise<Row[][]>,
): Promise<UnitResult[]> {
  const { statements, split } = flatten(units);
  try {
    return split(await send(statements));
  } catch (e) {
    const withApp = units.find((u) => u.with !== undefined || u.follow !== undefined);
    if (withApp === undefined) throw e;
    if (NOT_APPLIED.test(causes(e))) {
      const explain = withApp.explain ?? [];
      const rows = await read([...explain, ...(withApp.after ?? [])]);
      return [{ rows: [], explain: rows.slice(0, explain.length), after: rows.slice(explain.length) }];
    }
    // Busy, read-only, full: the database's answer, whichever statement met it. A missing
    // table or column, a constraint: the ledger's own statements only meet those on a schema
    // that is not its own (they name a credit_* table), so anything else is the app's.
    const known = toLedgerError(e);
    // Only the app's own statements can fail as the app's: `follow` statements are the ledger's.
    if (!units.some((u) => u.with !== undefined)) throw known;
    const ours = /credit_|drizzle_credits_/.test(causes(e));
    if (!['internal', 'schema_conflict', 'schema_missing'].includes(known.code) || ours) throw known;
    throw new LedgerError(
      'app_statement_failed',
      `a statement passed in \`with\` failed, so the operation was not applied: ${causes(e)}`,
      undefined,
      {
        cause: e,
      },
    );
  }
}
