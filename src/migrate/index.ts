import { num } from '../entry.js';
import { LedgerError } from '../errors.js';
import type { Runner } from '../runner/index.js';
import { MIGRATIONS_TABLE } from '../schema.js';
import { MIGRATIONS } from './embedded.generated.js';
import { describe, inspectSchema } from './inspect.js';
import type { EmbeddedMigration } from './types.js';

export interface MigrateResult {
  /** Tags applied by this call (empty when already up to date). */
  applied: string[];
  /** Id of the newest migration now in the database. */
  version: number;
}

const CREATE_TABLE = `CREATE TABLE IF NOT EXISTS ${MIGRATIONS_TABLE} (
  id INTEGER PRIMARY KEY NOT NULL, tag TEXT NOT NULL, hash TEXT NOT NULL, applied_at INTEGER NOT NULL)`;

async function appliedIds(runner: Runner): Promise<Set<number>> {
  const [rows = []] = await runner.read([{ sql: `SELECT id FROM ${MIGRATIONS_TABLE} ORDER BY id`, args: [] }]);
  return new Set(rows.map((r) => num(r.id)));
}

/**
 * Applies the embedded copy of drizzle/ in order, each migration in one atomic unit
 * together with its row in our own table. The tracking row goes first: when two
 * processes migrate at once, the loser hits its primary key, rolls back whole, and finds
 * the migration applied when it looks again.
 */
export async function migrate(
  runner: Runner,
  now: () => number,
  migrations: readonly EmbeddedMigration[] = MIGRATIONS,
): Promise<MigrateResult> {
  await runner.exec([{ sql: CREATE_TABLE, args: [] }]);
  let done = await appliedIds(runner);
  const known = migrations.length;
  const newest = Math.max(0, ...done);
  if (newest > known) {
    throw new LedgerError(
      'schema_newer',
      `the database has ledger migration ${newest}, newer than this version of drizzle-credits knows (${known}): upgrade the package`,
      { databaseVersion: newest, packageVersion: known },
    );
  }
  const applied: string[] = [];
  for (const m of migrations) {
    if (done.has(m.id)) continue;
    try {
      await runner.exec([
        { sql: `INSERT INTO ${MIGRATIONS_TABLE} (id, tag, hash, applied_at) VALUES (?, ?, ?, ?)`, args: [m.id, m.tag, m.hash, now()] },
        ...m.statements.map((sql) => ({ sql, args: [] })),
      ]);
      applied.push(m.tag);
    } catch (e) {
      done = await appliedIds(runner);
      if (done.has(m.id)) continue; // a concurrent migrator applied it
      if (e instanceof LedgerError && e.code === 'schema_conflict') throw await conflict(runner, m.tag, e);
      throw e;
    }
  }
  return { applied, version: known };
}

/** Tables under the ledger's names that its migrations did not build: say what differs. */
async function conflict(runner: Runner, tag: string, cause: LedgerError): Promise<LedgerError> {
  const report = await inspectSchema(runner);
  return new LedgerError(
    'schema_conflict',
    `migration ${tag} cannot create the ledger's tables: ${report?.present.join(', ') || 'some'} already exist, not created ` +
      `by ledger.migrate() (${MIGRATIONS_TABLE} does not record them); ${describe(report)}. If they came from your own ` +
      'drizzle-kit config (the exported schema), exclude them with ledgerTablesFilter from drizzle-credits/drizzle-kit and drop ' +
      "them if they hold nothing you need; if they are another library's, the two cannot share this database",
    { existing: report?.present ?? null, differences: report?.differences ?? null, missingTriggers: report?.missingTriggers ?? null },
    { cause },
  );
}

/** Throws `schema_newer` / `schema_missing` unless the database is at this package's version. */
export async function schemaVersion(runner: Runner): Promise<number> {
  try {
    const [rows = []] = await runner.read([{ sql: `SELECT MAX(id) AS v FROM ${MIGRATIONS_TABLE}`, args: [] }]);
    return num(rows[0]?.v ?? 0);
  } catch (e) {
    if (e instanceof LedgerError && e.code === 'schema_missing') return 0;
    throw e;
  }
}

export { MIGRATIONS };
