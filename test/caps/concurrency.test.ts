/**
 * Deny caps under concurrent writers: four OS processes debit, hold, capture (within, at
 * and beyond their holds), release and refund on one file, on accounts with deny caps per
 * day, ISO week and month (some filtered by model or member) and a negative floor, while
 * their clocks cross midnight UTC of Monday 2024-04-01 (a new day, week and month at once).
 *
 * Afterwards, from the log alone, by the counting rules (debits and captures matching a
 * cap, in the window of their created_at, less refunds of them), replayed in commit order:
 * no window's spend ever passed a deny cap's limit; no balance went below its floor; every
 * acknowledged operation is its row and no row is unacknowledged; verify() is clean.
 *
 * Knobs: CONC_SEED, CONC_WORKERS, CONC_OPS (as in test/concurrency.test.ts).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { windowStart } from '../../src/caps/window.js';
import type { Cap } from '../../src/index.js';
import type { CapsAck, CapsLogLine, CapsWorkerPlan } from '../support/caps-worker.js';
import { type ConcurrencyDriver, type FileDb, openFileDb, type Row } from '../support/concurrency-db.js';
import { Problems, readJsonLines, startWorker, type Worker, within } from '../support/processes.js';

const WORKERS = Number(process.env.CONC_WORKERS ?? 4);
const OPS = Number(process.env.CONC_OPS ?? 120);
const SEED = Number(process.env.CONC_SEED ?? Date.now() % 2 ** 31);
/** Monday, the 1st of April, 00:00 UTC: a new day, ISO week and month. */
const BOUNDARY = Date.UTC(2024, 3, 1);
/** The workers' clocks start this long before the boundary (libSQL's calls are slower: more lead). */
const LEAD_MS: Record<ConcurrencyDriver, number> = { 'better-sqlite3': 300, libsql: 600, 'libsql-native': 300 };
const ROOT = resolve(import.meta.dirname, '../..');
const WORKER = resolve(import.meta.dirname, '../support/caps-worker.ts');
const KIND: Record<CapsAck['op'], string> = {
  debit: 'debit',
  debitOnce: 'debit',
  hold: 'hold',
  capture: 'capture',
  release: 'release',
  refund: 'refund',
};
const APPLIED = new Set(['debited', 'held', 'captured', 'released', 'refunded']);

/** Accounts, what they are granted, their floor and their caps (set before the run, at BOUNDARY − 10 min). */
const SETUP = [
  {
    account: 'cap-0',
    grant: 100_000,
    floor: 0,
    caps: [
      { window: 'day', limit: 300 },
      { window: 'week', limit: 200, model: 'm1' },
      { window: 'month', limit: 150, member: 'u1' },
    ],
  },
  {
    account: 'cap-1',
    grant: 100_000,
    floor: 0,
    caps: [
      { window: 'day', limit: 250 },
      { window: 'day', limit: 100, model: 'm2' },
      { window: 'day', limit: 50, action: 'warn' },
    ],
  },
  { account: 'cap-2', grant: 150, floor: -100, caps: [{ window: 'month', limit: 400 }] },
] as const;

const num = (v: unknown) => Number(v);
const str = (v: unknown) => (v === null || v === undefined ? null : String(v));

function analyse(
  rows: Row[],
  setupTop: number,
  acks: CapsAck[],
  caps: Cap[],
): { problems: string[]; capped: number; before: number; after: number } {
  const problems = new Problems();
  const byId = new Map(rows.map((r) => [`ce_${num(r.pos)}`, r]));

  // Every acknowledged write is its row; every row written during the run was acknowledged.
  const acked = new Set<string>();
  for (const a of acks) {
    if (a.entryId === null) {
      if (APPLIED.has(a.outcome)) problems.add('applied without an entry', JSON.stringify(a));
      continue;
    }
    const r = byId.get(a.entryId);
    if (r === undefined) {
      problems.add('lost write', JSON.stringify(a));
      continue;
    }
    acked.add(a.entryId);
    if (String(r.account) !== a.account || String(r.kind) !== KIND[a.op] || (a.op !== 'release' && num(r.amount) !== a.amount))
      problems.add('row differs from ack', `${JSON.stringify(a)} vs ${JSON.stringify(r)}`);
  }
  for (const r of rows) if (num(r.pos) > setupTop && !acked.has(`ce_${num(r.pos)}`)) problems.add('unacknowledged row', JSON.stringify(r));

  // Floors: a balance never goes below the account's floor.
  for (const r of rows) {
    const floor = SETUP.find((s) => s.account === r.account)?.floor ?? 0;
    if (num(r.balance) < floor) problems.add('below floor', JSON.stringify(r));
  }

  // Deny caps, by the counting rules, in commit order: the window's spend never passes the limit.
  for (const c of caps.filter((x) => x.action === 'deny')) {
    const spent = new Map<number, number>();
    const matches = (r: Row) => (c.model === null || str(r.model) === c.model) && (c.member === null || str(r.actor) === c.member);
    for (const r of rows) {
      if (r.account !== c.account) continue;
      let spend: Row | undefined;
      let amount = 0;
      if (r.kind === 'debit' || r.kind === 'capture') [spend, amount] = [r, num(r.amount)];
      else if (r.kind === 'refund') [spend, amount] = [byId.get(`ce_${num(r.ref)}`), -num(r.amount)];
      if (spend === undefined || !matches(spend)) continue;
      const w = windowStart(c.window, num(spend.created_at));
      const now = (spent.get(w) ?? 0) + amount;
      spent.set(w, now);
      if (now > c.limit)
        problems.add(
          'cap passed',
          `${c.account} ${c.window} ${c.model ?? ''} ${c.member ?? ''}: ${now} > ${c.limit} at ${JSON.stringify(r)}`,
        );
    }
  }
  const runRows = rows.filter((r) => num(r.pos) > setupTop);
  return {
    problems: problems.list(),
    capped: acks.filter((a) => a.outcome === 'capped').length,
    before: runRows.filter((r) => num(r.created_at) < BOUNDARY).length,
    after: runRows.filter((r) => num(r.created_at) >= BOUNDARY).length,
  };
}

const DRIVERS: ConcurrencyDriver[] = ['better-sqlite3', 'libsql'];

describe.each(DRIVERS)('%s: deny caps under concurrent writer processes across a window boundary', (driver) => {
  let dir: string | undefined;
  let db: FileDb | undefined;
  const workers: Worker<CapsWorkerPlan>[] = [];

  afterEach(async () => {
    for (const w of workers) if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill('SIGKILL');
    await Promise.all(workers.map((w) => w.exited));
    workers.length = 0;
    await db?.close();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it(`${WORKERS} processes × ${OPS} operations: no window passes a deny cap, no balance its floor, nothing lost, verify clean`, async () => {
    dir = mkdtempSync(join(tmpdir(), 'drizzle-credits-caps-'));
    const file = join(dir, 'ledger.db');
    db = await openFileDb(driver, file, { clock: () => BOUNDARY - 600_000 });
    await db.ledger.migrate();
    const caps: Cap[] = [];
    for (const s of SETUP) {
      await db.ledger.grant({ account: s.account, amount: s.grant });
      if (s.floor !== 0) await db.ledger.caps.floor({ account: s.account, floor: s.floor });
      for (const c of s.caps) await db.ledger.caps.set({ account: s.account, ...c });
      caps.push(...(await db.ledger.caps.list(s.account)));
    }
    const setupTop = num((await db.all('SELECT MAX(pos) AS p FROM credit_entry'))[0]?.p);

    for (let w = 0; w < WORKERS; w++) {
      workers.push(
        startWorker(WORKER, ROOT, {
          driver,
          file,
          log: join(dir, `worker-${w}.jsonl`),
          worker: w,
          ops: OPS,
          lanes: 2,
          seed: SEED + w * 7919,
          accounts: SETUP.map((s) => s.account),
          models: ['m1', 'm2', null],
          actors: ['u1', 'u2', null],
          pauseMs: 4,
        }),
      );
    }
    await within(Promise.all(workers.map((w) => w.ready)), 20_000, 'starting the workers', SEED);
    const offset = BOUNDARY - LEAD_MS[driver] - Date.now();
    for (const w of workers) w.child.stdin.end(`go ${offset}\n`);
    const codes = await within(Promise.all(workers.map((w) => w.exited)), 60_000, 'the workers', SEED);

    const lines = readJsonLines<CapsLogLine>(workers.map((w) => w.plan.log));
    const acks = lines.filter((l): l is { type: 'ack' } & CapsAck => l.type === 'ack');
    const incidents = lines.filter((l) => l.type === 'incident');
    const rows = await db.all(
      'SELECT pos, account, seq, kind, amount, balance, model, actor, ref, created_at FROM credit_entry ORDER BY pos',
    );
    const result = analyse(rows, setupTop, acks, caps);
    const report = await db.ledger.verify();
    const outcomes: Record<string, number> = {};
    for (const a of acks) outcomes[`${a.op}:${a.outcome}`] = (outcomes[`${a.op}:${a.outcome}`] ?? 0) + 1;
    console.log(
      `[caps ${driver}] seed ${SEED}: ${acks.length} acks, ${result.before} rows before the boundary and ${result.after} after, ${JSON.stringify(outcomes)}`,
    );
    expect(incidents, `seed ${SEED}`).toEqual([]);
    expect(
      codes.map((c, i) => (c === 0 ? 0 : `worker ${i} exit ${c}: ${workers[i]?.stderr().slice(-1500)}`)),
      `seed ${SEED}`,
    ).toEqual(codes.map(() => 0));
    expect(result.problems, `seed ${SEED}`).toEqual([]);
    expect(report.problems, `seed ${SEED}`).toEqual([]);
    // The run did what it claims: caps refused, and both sides of the boundary were written.
    expect(result.capped).toBeGreaterThan(0);
    expect(result.before).toBeGreaterThan(0);
    expect(result.after).toBeGreaterThan(0);
    expect(outcomes['capture:captured'] ?? 0).toBeGreaterThan(0);
  });
});
