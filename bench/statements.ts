/**
 * `npm run bench -- --statements`: what one debit costs SQLite itself, statement by statement,
 * with no file I/O (better-sqlite3 `:memory:`, so a commit costs nothing and the differences
 * between statements are not buried in the WAL writes every autocommit pays on a file), and
 * what the library adds around its statement. The ceiling of every ratio goal is read here: a
 * goal above what the bare head-guarded INSERT reaches cannot be met by any debit on this table.
 *
 * Each variant runs on its own migrated database with 1,000 funded accounts (every op takes
 * the next account), the minimum of interleaved rounds. A diagnostic (docs/benchmarks.md), not
 * a goal; the suite (`npm run bench`) measures the same statements on files.
 */
import Database from 'better-sqlite3';
import { drizzle } from 'drizzle-orm/better-sqlite3';
import { createLedger, type Ledger } from '../src/index.js';
import { APPEND_DDL } from './setup.js';
import { APPEND_SQL, HEAD_GUARDED_SQL, LEDGER_INSERT_SQL } from './suite-scenarios.js';

const ACCOUNTS = 1_000;
const ROUNDS = 12;
const OPS_PER_ROUND = 5_000;
const BATCH = 1_000;

interface Variant {
  label: string;
  /** Ops per call of `run` (a batch counts its debits). */
  per: number;
  run: (i: number) => unknown;
}

/** A migrated in-memory ledger with ACCOUNTS funded accounts; `debitSql` is the text of the debit's own statement. */
async function open(): Promise<{ db: Database.Database; ledger: Ledger; debitSql: string }> {
  const db = new Database(':memory:');
  let debitSql = '';
  const prepare = db.prepare.bind(db);
  // Only to learn the statement's text: the ledger prepares it once, on its first debit.
  db.prepare = ((sql: string) => {
    if (debitSql === '' && sql.startsWith('INSERT INTO credit_entry') && sql.includes("'debit'")) debitSql = sql;
    return prepare(sql);
  }) as typeof db.prepare;
  const ledger = createLedger(drizzle(db));
  await ledger.migrate();
  for (let i = 0; i < ACCOUNTS; i++) await ledger.grant({ account: `a${i}`, amount: 1_000_000_000_000 });
  await ledger.debitIfCovers({ account: 'a0', amount: 1 });
  db.prepare = prepare;
  for (const ddl of APPEND_DDL) db.exec(ddl);
  return { db, ledger, debitSql };
}

const account = (i: number) => `a${i % ACCOUNTS}`;
const applied = (rows: unknown[]) => {
  if (rows.length !== 1) throw new Error('a debit statement appended nothing');
};

export async function runStatementsBench(): Promise<void> {
  const variants: Variant[] = [];
  const add = async (label: string, per: number, make: (o: Awaited<ReturnType<typeof open>>) => (i: number) => unknown) => {
    variants.push({ label, per, run: make(await open()) });
  };
  let seq = 1e9;
  await add('minimal append (INSERT … VALUES, seq and balance from JS)', 1, ({ db }) => {
    const st = db.prepare(APPEND_SQL);
    return (i) => st.run(account(i), seq++, 5, i);
  });
  await add('INSERT … VALUES into credit_entry (same row)', 1, ({ db }) => {
    const st = db.prepare(LEDGER_INSERT_SQL);
    return (i) => st.run(`z${i % ACCOUNTS}`, seq++, 5, i);
  });
  await add('head-guarded INSERT … SELECT … RETURNING (the floor)', 1, ({ db }) => {
    const st = db.prepare(HEAD_GUARDED_SQL);
    return (i) => applied(st.all(i, account(i), account(i)));
  });
  await add('the same without RETURNING', 1, ({ db }) => {
    const st = db.prepare(HEAD_GUARDED_SQL.replace(/\nRETURNING[\s\S]*$/, ''));
    return (i) => st.run(i, account(i), account(i));
  });
  await add("debitIfCovers' own statement, run raw", 1, ({ db, debitSql }) => {
    const st = db.prepare(debitSql);
    return (i) => applied(st.all(account(i), 1, null, null, null, null, null, null, 1_000));
  });
  await add(
    'debitIfCovers through the API',
    1,
    ({ ledger }) =>
      (i) =>
        ledger.debitIfCovers({ account: account(i), amount: 1 }),
  );
  await add(`the floor × ${BATCH} in one transaction (per row)`, BATCH, ({ db }) => {
    const st = db.prepare(HEAD_GUARDED_SQL);
    const tx = db.transaction((i: number) => {
      for (let k = 0; k < BATCH; k++) applied(st.all(i, account(i * BATCH + k), account(i * BATCH + k)));
    });
    return (i) => tx.immediate(i);
  });
  await add(`debitIfCovers' statement × ${BATCH} in one transaction (per row)`, BATCH, ({ db, debitSql }) => {
    const st = db.prepare(debitSql);
    const tx = db.transaction((i: number) => {
      for (let k = 0; k < BATCH; k++) applied(st.all(account(i * BATCH + k), 1, null, null, null, null, null, null, 1_000));
    });
    return (i) => tx.immediate(i);
  });
  await add(`ledger.batch() of ${BATCH} debits (per debit)`, BATCH, ({ ledger }) => async (i) => {
    const ops = Array.from({ length: BATCH }, (_, k) => ({ op: 'debit' as const, account: account(i * BATCH + k), amount: 1 }));
    const results = await ledger.batch(ops);
    if (results.length !== BATCH || results.some((x) => x.outcome !== 'debited')) throw new Error('the batch did not debit every op');
  });

  const best = variants.map(() => Number.POSITIVE_INFINITY);
  for (let r = 0; r < ROUNDS; r++) {
    for (const [v, variant] of variants.entries()) {
      const calls = Math.max(2, Math.round(OPS_PER_ROUND / variant.per));
      for (let i = 0; i < Math.min(calls, 50); i++) await variant.run(i);
      const t = process.hrtime.bigint();
      for (let i = 0; i < calls; i++) await variant.run(i);
      best[v] = Math.min(best[v] as number, Number(process.hrtime.bigint() - t) / 1000 / (calls * variant.per));
    }
  }
  const append = best[0] as number;
  console.log(`one debit, better-sqlite3 :memory: (no file I/O), min of ${ROUNDS} interleaved rounds, ${ACCOUNTS} accounts`);
  console.log(`  ${'variant'.padEnd(62)} ${'µs/op'.padStart(7)} ${'ops/s'.padStart(10)}  ÷ append`);
  for (const [v, variant] of variants.entries()) {
    const us = best[v] as number;
    console.log(
      `  ${variant.label.padEnd(62)} ${us.toFixed(2).padStart(7)} ${Math.round(1e6 / us)
        .toLocaleString('en-US')
        .padStart(10)}  ${(append / us).toFixed(3)}`,
    );
  }
}
