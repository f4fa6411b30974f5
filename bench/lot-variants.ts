/**
 * `npx tsx bench/lot-variants.ts`: where the time of a debit on an account with open lots
 * and holds goes, and what SQL or schema changes would buy. Evidence for proposed src/
 * changes; not part of `npm run bench`.
 *
 * Every row is a raw prepared-statement loop (no JS layers) on an account with the same
 * history, 3 lots and 2 holds as the main benchmark. Statements are captured from the
 * ledger (bench/probe.ts), so "current" is exactly what src/ runs. Schema variants get
 * their own database, seeded identically, with the variant applied before the lots are
 * granted. Each variant is checked first: it must append rows that `verify()` accepts
 * and its plans must not scan. Besides CPU µs/op (user and system), the WAL pages each op
 * writes are counted (auto-checkpoint off for a separate 1,000-op pass): system time is
 * mostly those page writes.
 *
 * Flags: --rounds=N (default 5) --ops=N per round (default 5000) --history=N (default 1000000)
 */
import { statSync } from 'node:fs';
import { join } from 'node:path';
import type { Ledger } from '../src/index.js';
import { captureLotDebit, checkLotPlans, type DebitSql, queryPlan } from './probe.js';
import { rawInsert, rawSql, rawUnit, runRounds, type Scenario } from './scenarios.js';
import {
  ACCOUNT,
  BENCH_HOLDS,
  BENCH_LOTS,
  type Client,
  openLedger,
  PRAGMAS,
  seedDatabase,
  seedLotsAndHolds,
  tempDir,
  truncateTo,
} from './setup.js';
import { fmtPct, median, table } from './stats.js';

const flag = (name: string, fallback: number): number => {
  const a = process.argv.find((x) => x.startsWith(`--${name}=`));
  const v = a === undefined ? fallback : Number(a.slice(name.length + 3));
  if (!Number.isSafeInteger(v) || v < 1) throw new Error(`--${name} must be a positive integer`);
  return v;
};
const rounds = flag('rounds', 5);
const ops = flag('ops', 5_000);
const history = flag('history', 1_000_000);
const log = (s = '') => process.stdout.write(`${s}\n`);

/** Schema changes applied to a fresh database before the lots are granted. */
const SCHEMAS: Record<string, { label: string; sql: string[] }> = {
  current: { label: 'schema as migrated', sql: [] },
  alloc_without_rowid: {
    label: 'credit_allocation WITHOUT ROWID',
    sql: [
      'DROP TABLE credit_allocation',
      `CREATE TABLE credit_allocation (entry_id text NOT NULL, lot_id text NOT NULL, account text NOT NULL, amount integer NOT NULL,
         ord integer NOT NULL, PRIMARY KEY (entry_id, lot_id)) WITHOUT ROWID`,
      'CREATE INDEX credit_allocation_lot ON credit_allocation (lot_id)',
    ],
  },
  lot_index_no_remaining: {
    label: 'lot indexes not partial on remaining',
    sql: [
      'DROP INDEX credit_lot_open',
      'DROP INDEX credit_lot_lapsing',
      'CREATE INDEX credit_lot_open ON credit_lot (account, expires_at)',
      'CREATE INDEX credit_lot_lapsing ON credit_lot (expires_at) WHERE expires_at IS NOT NULL',
    ],
  },
  no_alloc_lot_index: { label: 'no credit_allocation_lot index', sql: ['DROP INDEX credit_allocation_lot'] },
};
SCHEMAS.both = {
  label: 'WITHOUT ROWID allocations + lot indexes not partial on remaining',
  sql: [...(SCHEMAS.alloc_without_rowid?.sql ?? []), ...(SCHEMAS.lot_index_no_remaining?.sql ?? [])],
};
SCHEMAS.all = {
  label: 'WITHOUT ROWID allocations, no allocation lot index, lot indexes not partial on remaining',
  sql: [...(SCHEMAS.both?.sql ?? []), 'DROP INDEX credit_allocation_lot'],
};

/**
 * The draw with one window instead of two: ROW_NUMBER() over the same draw order as the
 * running sum (lots with remaining > 0 make `before` strictly increasing, so the drawn
 * lots are a prefix and the numbering is the same), so one sort and one co-routine fewer.
 */
function oneWindowDraw(sql: string): string {
  const out = sql
    .replace(
      /SUM\(lt\.remaining\) OVER \((ORDER BY [^)]*?) ROWS UNBOUNDED PRECEDING\) - lt\.remaining AS before/,
      'SUM(lt.remaining) OVER w - lt.remaining AS before, ROW_NUMBER() OVER w AS ord',
    )
    .replace(
      /(WHERE lt\.remaining > 0 AND \(lt\.expires_at IS NULL OR lt\.expires_at > e\.created_at\))\)/,
      (_m, where: string) =>
        `${where}\n      WINDOW w AS (ORDER BY lt.priority, lt.expires_at IS NULL, lt.expires_at, lt.seq ROWS UNBOUNDED PRECEDING))`,
    )
    .replace(/ROW_NUMBER\(\) OVER \(ORDER BY o\.before\)\s*\nFROM e JOIN o/, 'o.ord\nFROM e JOIN o');
  if (out === sql || !out.includes('WINDOW w') || !out.includes('o.ord')) throw new Error(`cannot rewrite the draw statement:\n${sql}`);
  return out;
}

/** The lot update as UPDATE … FROM (one join instead of an IN list and a correlated subquery). Args: entry id. */
const APPLY_UPDATE_FROM = `UPDATE credit_lot SET remaining = remaining - a.amount
FROM credit_allocation AS a WHERE a.entry_id = ? AND credit_lot.id = a.lot_id`;

interface Db {
  client: Client;
  ledger: Ledger;
  start: number;
  file: string;
}

/** WAL frames (pages) one op writes, from the -wal file growth over `n` ops with auto-checkpoint off. */
function walPagesPerOp(db: Db, s: Scenario, n: number): number {
  db.client.pragma('wal_checkpoint(TRUNCATE)');
  db.client.pragma('wal_autocheckpoint = 0');
  try {
    const size = () => {
      try {
        return statSync(`${db.file}-wal`).size;
      } catch {
        return 0;
      }
    };
    const before = size();
    const r = s.run(n);
    if (r instanceof Promise) throw new Error('walPagesPerOp: sync scenarios only');
    const pageSize = db.client.pragma('page_size', { simple: true }) as number;
    const frames = (size() - Math.max(before, 32)) / (pageSize + 24);
    return frames / n;
  } finally {
    truncateTo(db.client, db.start);
    db.client.pragma('wal_autocheckpoint = 1000');
  }
}

const dir = tempDir();
try {
  log(
    `lots + holds debit variants — ${history.toLocaleString('en-US')} rows of history, ${BENCH_LOTS.length} lots, ${BENCH_HOLDS.length} holds; ` +
      `${rounds} interleaved rounds × ${ops} ops; pragmas: ${PRAGMAS.join(', ')}`,
  );
  const captured = await captureLotDebit(join(dir.path, 'probe.db'), BENCH_LOTS, BENCH_HOLDS);
  const [guard, draw, apply] = captured.statements;
  if (guard === undefined || draw === undefined || apply === undefined || captured.statements.length !== 3) {
    throw new Error(`expected guard, draw and apply; captured ${captured.statements.length} statements`);
  }
  const updateFrom: DebitSql = { sql: APPLY_UPDATE_FROM, args: (id) => [id] };
  const draw1: DebitSql = { sql: oneWindowDraw(draw.sql), args: draw.args };

  const dbs = new Map<string, Db>();
  for (const [key, schema] of Object.entries(SCHEMAS)) {
    const file = join(dir.path, `${key}.db`);
    const { client, ledger } = await openLedger(file);
    for (const s of schema.sql) client.exec(s);
    seedDatabase(client, history);
    const start = await seedLotsAndHolds(client, ledger);
    dbs.set(key, { client, ledger, start, file });
  }
  const db = (k: string) => dbs.get(k) as Db;
  const cur = db('current');

  /** `complete`: writes everything a debit must (verify() must accept it); the others are steps for attribution. */
  type Variant = { key: string; label: string; db: string; make: (d: Db) => Scenario; unit?: DebitSql[]; complete?: boolean };
  const unitOf = (key: string, label: string, dbKey: string, statements: DebitSql[]): Variant => ({
    key,
    label,
    db: dbKey,
    unit: statements,
    complete: statements.length === 3,
    make: (d) => rawUnit(key, label, d.client, statements, d.start),
  });
  const variants: Variant[] = [
    { key: 'insert', label: 'raw INSERT (same table), autocommit', db: 'current', make: (d) => rawInsert('insert', '', d.client, d.start) },
    {
      key: 'guard',
      label: 'guarded INSERT alone, autocommit',
      db: 'current',
      make: (d) => rawSql('guard', '', d.client, guard.sql, (id, now) => guard.args(id, ACCOUNT, now), d.start),
    },
    unitOf('guard_tx', 'guarded INSERT alone, BEGIN IMMEDIATE … COMMIT', 'current', [guard]),
    unitOf('guard_draw', 'guard + lot draw (allocation INSERT), no lot update', 'current', [guard, draw]),
    unitOf('unit', 'current unit: guard + draw + lot update', 'current', [guard, draw, apply]),
    unitOf('unit_update_from', 'current, lot update as UPDATE … FROM', 'current', [guard, draw, updateFrom]),
    unitOf('unit_draw1', 'current, draw with one window (one sort)', 'current', [guard, draw1, apply]),
    unitOf('unit_alloc_wor', `current SQL, ${SCHEMAS.alloc_without_rowid?.label}`, 'alloc_without_rowid', [guard, draw, apply]),
    unitOf('unit_lot_idx', `current SQL, ${SCHEMAS.lot_index_no_remaining?.label}`, 'lot_index_no_remaining', [guard, draw, apply]),
    unitOf('unit_no_alloc_lot_idx', `current SQL, ${SCHEMAS.no_alloc_lot_index?.label}`, 'no_alloc_lot_index', [guard, draw, apply]),
    unitOf('unit_both', `current SQL, ${SCHEMAS.both?.label}`, 'both', [guard, draw, apply]),
    unitOf('unit_all', `one-window draw, UPDATE … FROM, ${SCHEMAS.all?.label}`, 'all', [guard, draw1, updateFrom]),
  ];

  // Check each complete unit first: rows verify() accepts, one allocation per debit, no scans.
  for (const v of variants) {
    if (v.unit === undefined || v.complete !== true) continue;
    const d = db(v.db);
    const s = v.make(d);
    await s.run(20);
    s.afterRound?.(d.start, 20);
    const report = await d.ledger.verify();
    truncateTo(d.client, d.start);
    if (!report.ok) throw new Error(`${v.key}: verify() fails: ${JSON.stringify(report.problems.slice(0, 3))}`);
    const check = checkLotPlans(v.unit.map((st) => queryPlan(d.client, st.sql, st.args('PLAN', ACCOUNT, Date.now()))));
    if (!check.ok) log(`${v.key}: plan PROBLEM: ${check.reason}`);
  }
  log(`every complete unit variant: verify() ok after 20 debits, one allocation per debit; plans checked`);

  // The draw's SELECT alone, no write (read-only, so pure statement CPU): how much of the
  // draw is computing rather than writing, and what a cheaper form could save.
  await cur.ledger.debitIfCovers({ account: ACCOUNT, amount: 1 });
  const debitId = (
    cur.client.prepare('SELECT id FROM credit_entry WHERE account = ? AND seq = ?').get(ACCOUNT, cur.start + 1) as { id: string }
  ).id;
  const selectOnly = (sql: string) => sql.replace(/INSERT INTO credit_allocation \([^)]*\)\s*/i, '');
  const drawReads: [string, string][] = [
    ['current draw (two windows), SELECT part only', selectOnly(draw.sql)],
    ['one-window draw, SELECT part only', selectOnly(draw1.sql)],
    [
      'first lot only: ORDER BY draw order LIMIT 1 (lower bound of a one-lot fast path)',
      `WITH e AS (SELECT id, account, amount, created_at FROM credit_entry WHERE id = ?)
SELECT e.id, lt.id, e.account, MIN(lt.remaining, e.amount), 1 FROM e JOIN credit_lot AS lt ON lt.account = e.account
WHERE lt.remaining > 0 AND (lt.expires_at IS NULL OR lt.expires_at > e.created_at)
ORDER BY lt.priority, lt.expires_at IS NULL, lt.expires_at, lt.seq LIMIT 1`,
    ],
  ];
  const drawMicro = drawReads.map(([label, sql]) => {
    const stmt = cur.client.prepare(sql);
    if (stmt.all(debitId).length !== 1) throw new Error(`${label}: expected one row`);
    // CPU time, not wall time: a read-only loop on a loaded machine is preempted, not slower.
    let best = Number.POSITIVE_INFINITY;
    for (let b = 0; b < 5; b++) {
      const c0 = process.cpuUsage();
      for (let i = 0; i < 20_000; i++) stmt.all(debitId);
      const c = process.cpuUsage(c0);
      best = Math.min(best, (c.user + c.system) / 20_000);
    }
    return [label, best.toFixed(2)];
  });
  truncateTo(cur.client, cur.start);

  const scenarios = variants.map((v) => ({ ...v.make(db(v.db)), key: v.key, label: v.label }));
  const r = await runRounds(scenarios, { rounds, ops, warmupOps: 2_000 });
  const wal = new Map(variants.map((v, i) => [v.key, walPagesPerOp(db(v.db), scenarios[i] as Scenario, 1_000)]));
  const m = (map: Map<string, number[]>, k: string) => median(map.get(k) ?? []);
  const cpu = (k: string) => m(r.cpuUs, k);
  log();
  log(
    table([
      [
        'statement(s), raw prepared',
        'wall µs/op',
        'CPU µs/op',
        'user',
        'system',
        'WAL pages/op',
        'Δ CPU vs current unit',
        'raw INSERT ÷ it (CPU)',
      ],
      ...variants.map((v) => {
        const d = cpu(v.key) - cpu('unit');
        return [
          v.label,
          (1e6 / m(r.rates, v.key)).toFixed(1),
          cpu(v.key).toFixed(1),
          m(r.userUs, v.key).toFixed(1),
          m(r.sysUs, v.key).toFixed(1),
          (wal.get(v.key) ?? 0).toFixed(1),
          v.key === 'unit' ? '' : `${d >= 0 ? '+' : ''}${d.toFixed(1)} µs`,
          fmtPct(cpu('insert') / cpu(v.key)),
        ];
      }),
    ]),
  );
  log();
  log(table([['read-only: the draw without its INSERT (best of 5 × 20,000)', 'CPU µs per call'], ...drawMicro]));
  for (const d of dbs.values()) d.client.close();
} finally {
  dir.remove();
}
