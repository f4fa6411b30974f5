/**
 * `npm run bench -- --triggers`: what the AFTER/BEFORE triggers on `credit_entry` cost a row
 * that none of them acts on (a plain debit row), on better-sqlite3 `:memory:`. One migrated
 * database per variant — all triggers; each trigger in turn kept in its place in the firing
 * order but with an empty body (so the saving is what its program holds, not its mere
 * presence); no trigger at all — and the minimum over interleaved rounds of single-row INSERTs.
 * A diagnostic for the write path (docs/benchmarks.md), not a goal.
 */
import Database from 'better-sqlite3';
import { drizzle } from 'drizzle-orm/better-sqlite3';
import { createLedger } from '../src/index.js';

const ROUNDS = 12;
const ROWS_PER_ROUND = 20_000;
const INSERT = `INSERT INTO credit_entry (account, seq, kind, delta, amount, balance, created_at) VALUES (?, ?, 'debit', -1, 1, ?, ?)`;

type Variant = [label: string, change: (db: Database.Database) => void];

const triggersOf = (db: Database.Database) =>
  db.prepare("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'credit_entry' ORDER BY rowid").all() as {
    name: string;
    sql: string;
  }[];

/** The trigger `name` with an empty body, every trigger re-created in its order (SQLite fires newest first). */
const emptied =
  (name: string) =>
  (db: Database.Database): void => {
    const all = triggersOf(db);
    for (const t of all) db.exec(`DROP TRIGGER ${t.name}`);
    for (const t of all) db.exec(t.name === name ? `${t.sql.slice(0, t.sql.indexOf('BEGIN'))} BEGIN SELECT 1; END` : t.sql);
  };

export async function runTriggersBench(): Promise<void> {
  const probe = new Database(':memory:');
  await createLedger(drizzle(probe)).migrate();
  const names = triggersOf(probe).map((t) => t.name);
  probe.close();
  const variants: Variant[] = [
    ['every trigger', () => {}],
    ...names.map((n): Variant => [`${n}: empty body`, emptied(n)]),
    [
      'no trigger',
      (db) => {
        for (const t of triggersOf(db)) db.exec(`DROP TRIGGER ${t.name}`);
      },
    ],
  ];
  const dbs: Database.Database[] = [];
  for (const [, change] of variants) {
    const db = new Database(':memory:');
    await createLedger(drizzle(db)).migrate();
    change(db);
    dbs.push(db);
  }
  const statements = dbs.map((d) => d.prepare(INSERT));
  const seq = dbs.map(() => 0);
  const best = dbs.map(() => Number.POSITIVE_INFINITY);
  for (let r = 0; r < ROUNDS; r++) {
    statements.forEach((st, i) => {
      const t = process.hrtime.bigint();
      for (let k = 0; k < ROWS_PER_ROUND; k++) {
        const s = ++(seq[i] as number);
        st.run('acct', s, -s, 1);
      }
      best[i] = Math.min(best[i] as number, Number(process.hrtime.bigint() - t) / ROWS_PER_ROUND / 1000);
    });
  }
  console.log(`single-row INSERT of a debit row into credit_entry, better-sqlite3 :memory:, min of ${ROUNDS} rounds × ${ROWS_PER_ROUND}`);
  for (const [i, [label]] of variants.entries()) console.log(`  ${label.padEnd(44)} ${(best[i] as number).toFixed(2)} µs`);
  for (const db of dbs) db.close();
}
