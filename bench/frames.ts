/**
 * `npm run bench -- --frames`: how many database pages each operation makes its commit write
 * (WAL frames per op), better-sqlite3 on a file with the suite's pragmas. On a file every
 * autocommit writes each B-tree page it dirtied to the WAL (a frame: a 24-byte header and the
 * page) and, every 1,000 frames, checkpoints them into the database with an fsync: so a
 * projection kept in a table of its own costs a page per write on top of the log's two (its
 * table's last leaf and the account's `(account, seq)` leaf), whatever SQL computes it. The
 * suite's counting floors (bench/suite-scenarios.ts) measure what that page costs in time.
 *
 * Counting, not timing: the checkpoint is turned off while counting (the WAL only grows), and
 * each scenario runs on fresh accounts of one migrated file, a frame count per op averaged
 * over OPS ops. A diagnostic (docs/benchmarks.md), not a goal.
 */
import { rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { drizzle } from 'drizzle-orm/better-sqlite3';
import { createLedger, type Ledger } from '../src/index.js';
import { APPEND_DDL } from './setup.js';
import { APPEND_SQL, HEAD_CREDIT_SQL, HEAD_GUARDED_KEYED_SQL, HEAD_GUARDED_OUT_SQL, HEAD_GUARDED_SQL } from './suite-scenarios.js';

const OPS = 2_000;
/** Accounts each scenario spreads its ops over (their `(account, seq)` leaves differ, as in an app). */
const ACCOUNTS = 200;
const FUNDS = 1_000_000_000_000;
const MODEL = 'gpt-4o';

interface Scenario {
  label: string;
  /** Untimed: whatever the account needs before its ops. */
  setup?: (ledger: Ledger, account: string) => Promise<void>;
  op: (account: string, i: number) => unknown;
}

export async function runFramesBench(): Promise<void> {
  const file = join(tmpdir(), `drizzle-credits-frames-${process.pid}.db`);
  const clean = () => {
    for (const s of ['', '-wal', '-shm']) rmSync(file + s, { force: true });
  };
  clean();
  const db = new Database(file);
  try {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    const ledger = createLedger(drizzle(db));
    await ledger.migrate();
    for (const s of APPEND_DDL) db.exec(s);
    db.exec('CREATE TABLE bench_counter (id INTEGER PRIMARY KEY, account TEXT NOT NULL, spent INTEGER NOT NULL)');
    db.exec('CREATE INDEX bench_counter_account ON bench_counter (account)');
    await ledger.plans.define({ id: 'frames', allowance: { amount: FUNDS, every: 'month' } });
    await ledger.pricing.publish({ rates: { [MODEL]: { input: '0.0025' } } });

    const append = db.prepare(APPEND_SQL);
    const floor = db.prepare(HEAD_GUARDED_SQL);
    const keyed = db.prepare(HEAD_GUARDED_KEYED_SQL);
    const out = db.prepare(HEAD_GUARDED_OUT_SQL);
    const arrive = db.prepare(HEAD_CREDIT_SQL);
    const counter = db.prepare('UPDATE bench_counter SET spent = spent + 1 WHERE account = ?');
    const begin = db.prepare('BEGIN IMMEDIATE');
    const commit = db.prepare('COMMIT');
    const counting = (n: number): Scenario => ({
      label: `raw: head-guarded INSERT + ${n} counter row${n === 1 ? '' : 's'} beside the log`,
      setup: async (_l, a) => {
        for (let k = 0; k < n; k++) db.prepare('INSERT INTO bench_counter (account, spent) VALUES (?, 0)').run(a);
      },
      op: (a) => {
        begin.run();
        floor.all(Date.now(), a, a);
        counter.run(a);
        commit.run();
      },
    });
    let seq = 0;
    const scenarios: Scenario[] = [
      { label: 'raw: minimal append', op: (a) => append.run(a, ++seq, 1, Date.now()) },
      { label: 'raw: head-guarded INSERT (floor)', op: (a) => floor.all(Date.now(), a, a) },
      { label: 'raw: head-guarded INSERT, new idempotency key', op: (a, i) => keyed.all(`f-${i}`, Date.now(), a, a) },
      counting(1),
      counting(3),
      {
        label: 'raw: head-guarded INSERT + a row arriving on another account',
        op: (a, i) => {
          const now = Date.now();
          begin.run();
          out.all(now, a, a);
          arrive.all(now, `${a}-peer-${i % 2}`, `${a}-peer-${i % 2}`);
          commit.run();
        },
      },
      { label: 'debitIfCovers', op: (a) => ledger.debitIfCovers({ account: a, amount: 1 }) },
      { label: 'debitOnceIfCovers, new key', op: (a, i) => ledger.debitOnceIfCovers({ account: a, amount: 1, idempotencyKey: `k-${i}` }) },
      {
        label: 'debitIfCovers, 3 caps live',
        setup: async (l, a) => {
          for (const [window, model] of [['day'], ['month'], ['month', MODEL]] as const)
            await l.caps.set({ account: a, window, limit: FUNDS, model });
        },
        op: (a) => ledger.debitIfCovers({ account: a, amount: 1, model: MODEL }),
      },
      {
        label: 'debitIfCovers, subscribed account',
        setup: async (l, a) => {
          await l.plans.subscribe({ account: a, planId: 'frames' });
        },
        op: (a) => ledger.debitIfCovers({ account: a, amount: 1 }),
      },
      {
        label: 'charge',
        op: (a, i) => ledger.charge({ account: a, model: MODEL, usage: { input: 400 }, idempotencyKey: `c-${i}` }),
      },
      { label: 'transfer (2 rows)', op: (a, i) => ledger.transfer({ from: a, to: `${a}-peer-${i % 2}`, amount: 1 }) },
      {
        label: 'team debit, member cap',
        setup: async (l, a) => {
          await l.teams.create({ team: a, owner: `${a}-owner` });
          await l.teams.addMember({ team: a, member: 'm', role: 'member', actor: `${a}-owner` });
          await l.caps.set({ account: a, window: 'day', limit: FUNDS, member: 'm' });
        },
        op: (a) => ledger.debitIfCovers({ account: a, amount: 1, actor: 'm' }),
      },
      {
        label: 'debitIfCovers, low-balance alert',
        setup: async (l, a) => {
          await l.alerts.set({ account: a, lowBalance: 1 });
        },
        op: (a) => ledger.debitIfCovers({ account: a, amount: 1 }),
      },
    ];

    const pageSize = db.pragma('page_size', { simple: true }) as number;
    const rows: string[][] = [];
    for (const [n, s] of scenarios.entries()) {
      const accounts = Array.from({ length: ACCOUNTS }, (_, k) => `s${n}-a${k}`);
      for (const a of accounts) {
        await ledger.grant({ account: a, amount: FUNDS });
        await ledger.grant({ account: `${a}-peer-0`, amount: 1 });
        await ledger.grant({ account: `${a}-peer-1`, amount: 1 });
        await s.setup?.(ledger, a);
      }
      db.pragma('wal_checkpoint(TRUNCATE)');
      db.pragma('wal_autocheckpoint = 0');
      const before = statSync(`${file}-wal`).size;
      for (let i = 0; i < OPS; i++) await s.op(accounts[i % ACCOUNTS] as string, i);
      const frames = (statSync(`${file}-wal`).size - before) / (pageSize + 24) / OPS;
      db.pragma('wal_autocheckpoint = 1000');
      rows.push([s.label, frames.toFixed(2)]);
    }
    const width = Math.max(...rows.map((r) => r[0]?.length ?? 0));
    console.log(`WAL frames (pages written) per op, better-sqlite3, WAL, synchronous = NORMAL, ${OPS} ops over ${ACCOUNTS} accounts each`);
    for (const [label, frames] of rows) console.log(`${(label ?? '').padEnd(width)}  ${frames}`);
    const audit = await ledger.verify();
    console.log(`verify(): ${audit.ok ? 'ok' : `FAILED ${JSON.stringify(audit.problems.slice(0, 3))}`}`);
  } finally {
    db.close();
    clean();
  }
}
