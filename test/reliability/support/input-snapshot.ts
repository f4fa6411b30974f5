/**
 * Byte-for-byte snapshots of the tables the ledger writes (the log, with each entry's
 * allocations, and its projections: lots, holds, caps, floors, pricing versions, plans,
 * subscriptions, teams and their members), in one statement: every column of every row as
 * `typeof:hex(value)`, rows in rowid order (primary-key order for WITHOUT ROWID tables).
 * Equal snapshots mean no byte of the ledger's data changed.
 */
import type { TestDb } from '../../support/drivers.js';

export const LEDGER_TABLES = [
  'credit_entry',
  'credit_lot',
  'credit_hold',
  'credit_cap',
  'credit_floor',
  'credit_price_version',
  'credit_price_active',
  'credit_plan',
  'credit_subscription',
  'credit_team',
  'credit_team_member',
] as const;

export interface LedgerSnapshot {
  /** Rows per table. */
  readonly rows: Record<string, number>;
  /** One string per table: every row, every column, as typeof:hex. */
  readonly bytes: Record<string, string>;
}

const cache = new WeakMap<TestDb, string>();

async function snapshotSql(db: TestDb): Promise<string> {
  const known = cache.get(db);
  if (known !== undefined) return known;
  const parts: string[] = [];
  for (const table of LEDGER_TABLES) {
    const info = await db.all(`SELECT name, pk FROM pragma_table_info('${table}') ORDER BY cid`);
    const cols = info.map((r) => String(r.name));
    if (cols.length === 0) throw new Error(`snapshot: table ${table} does not exist`);
    // Rowid tables in rowid order (insertion order for the log); WITHOUT ROWID tables have
    // no rowid, so in primary-key order.
    const [def] = await db.all('SELECT sql FROM sqlite_master WHERE type = ? AND name = ?', ['table', table]);
    const withoutRowid = /WITHOUT\s+ROWID/i.test(String(def?.sql ?? ''));
    const pk = info
      .filter((r) => Number(r.pk) > 0)
      .sort((a, b) => Number(a.pk) - Number(b.pk))
      .map((r) => `"${String(r.name)}"`);
    const order = withoutRowid ? pk.join(', ') : 'rowid';
    const row = cols.map((c) => `typeof("${c}") || ':' || hex("${c}")`).join(` || '|' || `);
    parts.push(
      `(SELECT COUNT(*) FROM ${table}) AS "n_${table}", ` +
        `(SELECT COALESCE(group_concat(r, char(10)), '') FROM (SELECT ${row} AS r FROM ${table} ORDER BY ${order})) AS "b_${table}"`,
    );
  }
  const sql = `SELECT ${parts.join(', ')}`;
  cache.set(db, sql);
  return sql;
}

export async function ledgerSnapshot(db: TestDb): Promise<LedgerSnapshot> {
  const [row] = await db.all(await snapshotSql(db));
  const rows: Record<string, number> = {};
  const bytes: Record<string, string> = {};
  for (const t of LEDGER_TABLES) {
    rows[t] = Number(row?.[`n_${t}`] ?? 0);
    bytes[t] = String(row?.[`b_${t}`] ?? '');
  }
  return { rows, bytes };
}

/** Null when equal; otherwise which tables differ and how many rows each had before and after. */
export function snapshotDiff(before: LedgerSnapshot, after: LedgerSnapshot): string | null {
  const differing = LEDGER_TABLES.filter((t) => before.bytes[t] !== after.bytes[t]);
  if (differing.length === 0) return null;
  return differing.map((t) => `${t}: ${before.rows[t]} rows → ${after.rows[t]} rows, contents differ`).join('; ');
}
