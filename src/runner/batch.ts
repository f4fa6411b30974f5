import type { Row, Statement, Unit, UnitResult } from './types.js';

/**
 * For drivers whose atomic unit is a batch (D1, libSQL): flatten units into one statement
 * list — dependents are guarded in SQL, so they can always be sent — and map the results
 * back to each unit.
 */
export function flatten(units: readonly Unit[]): { statements: Statement[]; split: (results: Row[][]) => UnitResult[] } {
  const statements: Statement[] = [];
  const shapes: { at: number; dependents: number; explain: number; after: number }[] = [];
  for (const u of units) {
    shapes.push({
      at: statements.length,
      dependents: u.dependents?.length ?? 0,
      explain: u.explain?.length ?? 0,
      after: u.after?.length ?? 0,
    });
    statements.push(u.primary, ...(u.dependents ?? []), ...(u.explain ?? []), ...(u.after ?? []));
  }
  return {
    statements,
    split: (results) =>
      shapes.map(({ at, dependents, explain, after }) => {
        const e = at + 1 + dependents;
        return { rows: results[at] ?? [], explain: results.slice(e, e + explain), after: results.slice(e + explain, e + explain + after) };
      }),
  };
}
