/**
 * The ledger writes only to a schema its own `migrate()` built. Tables made any other way
 * (an app that put the exported Drizzle schema into its own drizzle-kit config, say) have
 * no triggers, so writes would succeed while lots are not drawn and holds never open.
 *
 * Checked once per ledger instance, on its first write, and for free: the check is one more
 * statement at the head of that write's own atomic unit (so still one round trip on D1 and
 * libSQL). It aborts the unit when the newest migration recorded in our table is not the one
 * this package ships; a missing table aborts it too ("no such table"). Only the failure path
 * reads more, to say exactly what is wrong.
 */
import { num } from '../entry.js';
import { isLedgerError, LedgerError, toLedgerError } from '../errors.js';
import { describe, inspectSchema } from '../migrate/inspect.js';
import { MIGRATIONS_TABLE } from '../schema.js';
import type { Runner, Statement, Unit } from './types.js';

const NOT_CURRENT = 'credit_unit_schema_not_current';

export function schemaGuard(version: number): Statement {
  return {
    sql: `INSERT INTO credit_unit_guard (ok) SELECT 2 WHERE (SELECT MAX(id) FROM ${MIGRATIONS_TABLE}) IS NOT CAST(? AS INTEGER)`,
    args: [version],
  };
}

const message = (e: unknown) => (e instanceof Error ? e.message : String(e));

/** What to tell the caller when the guard aborted a unit: read only on this path. */
async function diagnose(runner: Runner, version: number, cause: unknown): Promise<LedgerError> {
  const text = message(isLedgerError(cause) && cause.cause !== undefined ? cause.cause : cause);
  if (!/no such table|no such column/i.test(text) && !text.includes(NOT_CURRENT)) return toLedgerError(cause);
  let recorded: number | null = null;
  try {
    const [[row] = []] = await runner.read([{ sql: `SELECT MAX(id) AS v FROM ${MIGRATIONS_TABLE}`, args: [] }]);
    recorded = num(row?.v ?? 0);
  } catch {
    // No migrations table: `recorded` stays null.
  }
  if (recorded === null || recorded === 0) {
    const report = await inspectSchema(runner);
    const details = { expectedVersion: version, databaseVersion: recorded, differences: report?.differences ?? null };
    if (report !== null && report.differences.length > 0) {
      return new LedgerError(
        'schema_conflict',
        `a table named like the ledger's exists with other columns (another schema uses the credit_* names?): ${describe(report)}`,
        details,
        { cause },
      );
    }
    const why = recorded === null ? `there is no ${MIGRATIONS_TABLE} table` : 'no migration is recorded';
    return new LedgerError(
      'schema_missing',
      `the ledger's schema was not created by ledger.migrate() (${why}; ${describe(report)}): run ledger.migrate(). ` +
        "Tables made from the exported schema by your own drizzle-kit config lack the ledger's triggers: exclude them with " +
        'ledgerTablesFilter (drizzle-credits/drizzle-kit) and drop them first',
      details,
      { cause },
    );
  }
  if (recorded === version) return toLedgerError(cause); // current: the failure was something else
  if (recorded > version) {
    return new LedgerError(
      'schema_newer',
      `the database has ledger migration ${recorded}, newer than this version of drizzle-credits knows (${version}): upgrade the package`,
      { expectedVersion: version, databaseVersion: recorded },
      { cause },
    );
  }
  return new LedgerError(
    'schema_missing',
    `the ledger's schema is at migration ${recorded}, this version of drizzle-credits needs ${version}: run ledger.migrate() (${text})`,
    { expectedVersion: version, databaseVersion: recorded },
    { cause },
  );
}

/**
 * A runner whose first successful write proves the schema; until then every write unit
 * carries the guard (a failed check is not remembered, so a migrate() in between counts).
 */
export function checkingSchema(runner: Runner, version: number): Runner {
  let checked = false;
  const guard = schemaGuard(version);
  async function run<T>(fn: (precheck: Statement | undefined) => Promise<T>): Promise<T> {
    if (checked) return fn(undefined);
    try {
      const result = await fn(guard);
      checked = true;
      return result;
    } catch (e) {
      throw await diagnose(runner, version, e);
    }
  }
  const withPrecheck = (u: Unit, precheck: Statement | undefined): Unit => (precheck === undefined ? u : { ...u, precheck });
  return {
    ...runner,
    // Once checked, straight through: no extra async step on the hot path.
    write: (unit) => (checked ? runner.write(unit) : run((pre) => runner.write(withPrecheck(unit, pre)))),
    writeMany: (units) =>
      checked
        ? runner.writeMany(units)
        : run((pre) => runner.writeMany(units.length === 0 ? units : [withPrecheck(units[0] as Unit, pre), ...units.slice(1)])),
  };
}
