/**
 * Period allowances under concurrent processes: three processes debit (random amounts, some
 * insufficient), refund and read subscribed accounts on a daily plan with rollover, and one
 * process sweeps, all on one database file, while a shared fake clock crosses several
 * period boundaries (test/support/plans-worker.ts: the clock is the size of a file every
 * process appends a byte to before each call, so it moves with the calls, never with wall time).
 *
 * Afterwards, from the log alone:
 *   - one `$allowance:` row per (account, terms, period start), each the plan's amount on a
 *     true period start, a priority-0 lot expiring at the period's end; rollovers likewise;
 *   - the periods written are exactly those in which something that settles (a debit, a
 *     read, a sweep) ran: no allowance for a period where nothing ran, and every period in
 *     which a call ran and came back before the period ended has its allowance (a call still
 *     running when the clock passed the period's end may lose that period to the next one);
 *   - each rollover is min(max, what the previous period's allowance lot had left when the
 *     rollover was written, computed from the allocations of the rows before it), or the
 *     whole allowance (up to max) when the previous period was covered and never written;
 *   - no balance below zero, no debit drew a lot that had lapsed, nothing acknowledged lost;
 *   - money is conserved: Σ grants − Σ debits + Σ refunds − Σ expires = Σ head balances, per
 *     account and in all; after a final sweep every balance read equals its head row;
 *   - verify() is clean.
 *
 * Knobs: CONC_SEED (the operation mix; the interleaving is up to the OS), CONC_PLANS_TICKS.
 */
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DAY_MS, periodAt } from '../../src/plans/period.js';
import { type ConcurrencyDriver, type FileDb, openFileDb, type Row } from '../support/concurrency-db.js';
import type { PlansAck, PlansLogLine, PlansWorkerPlan } from '../support/plans-worker.js';
import { Problems, readJsonLines, startWorker, type Worker, within } from '../support/processes.js';

const SEED = Number(process.env.CONC_SEED ?? Date.now() % 2 ** 31);
/** Calls in all (the clock's ticks from the start to the end of the run). */
const TICKS = Number(process.env.CONC_PLANS_TICKS ?? 480);
const DAYS = 6;
const START = Date.UTC(2025, 2, 10, 0, 0);
const TICK_MS = Math.floor((DAYS * DAY_MS) / TICKS);
const UNTIL = START + DAYS * DAY_MS;
const DEBITORS = 3;
const ALLOWANCE = 50;
const ROLLOVER_MAX = 30;
/** Accounts and their anchors; `idle-3` is touched only by the sweeper. */
const ACCOUNTS: Array<{ account: string; anchor: number; grant?: { amount: number; expiresAt?: number } }> = [
  { account: 'sub-0', anchor: START - 6 * 3_600_000, grant: { amount: 40 } },
  { account: 'sub-1', anchor: START, grant: { amount: 60, expiresAt: START + 2.5 * DAY_MS } },
  { account: 'sub-2', anchor: START - 13 * 3_600_000 + 123 },
  { account: 'idle-3', anchor: START - 2 * 3_600_000 },
];
const BUSY = ACCOUNTS.slice(0, 3).map((a) => a.account);
const ROOT = resolve(import.meta.dirname, '../..');
const WORKER = resolve(import.meta.dirname, '../support/plans-worker.ts');

const num = (v: unknown) => Number(v);
const SIGN: Record<string, number> = { grant: 1, refund: 1, debit: -1, expire: -1 };

interface Sub {
  terms: number;
  anchor: number;
  since: number;
}

function analyse(rows: Row[], subs: Map<string, Sub>, acks: PlansAck[]) {
  const problems = new Problems();
  const byPos = new Map(rows.map((r) => [num(r.pos), r]));
  const allocs = (r: Row): [number, number][] => (r.allocations === null ? [] : (JSON.parse(String(r.allocations)) as [number, number][]));

  // Keys: no duplicates (grouped), and every key names a true period of its terms.
  const keyed = new Map<string, Row[]>();
  for (const r of rows) {
    const k = r.idempotency_key === null ? null : String(r.idempotency_key);
    if (k === null || !k.startsWith('$')) continue;
    const id = `${r.account} ${k}`;
    keyed.set(id, [...(keyed.get(id) ?? []), r]);
  }
  for (const [k, rs] of keyed) if (rs.length > 1) problems.add('duplicate key', `${k} × ${rs.length}`);
  const written = new Map<string, Map<number, { allowance?: Row; rollover?: Row }>>();
  for (const r of rows) {
    if (r.kind !== 'grant' || (r.reason !== 'allowance' && r.reason !== 'rollover')) continue;
    const account = String(r.account);
    const m = /^\$(allowance|rollover):(\d+):(-?\d+)$/.exec(String(r.idempotency_key));
    const sub = subs.get(account);
    if (m === null || sub === undefined || m[1] !== r.reason) {
      problems.add('bad allowance key', JSON.stringify(r));
      continue;
    }
    const start = Number(m[3]);
    if (Number(m[2]) !== sub.terms) problems.add('allowance of other terms', JSON.stringify(r));
    const p = periodAt('day', sub.anchor, start);
    if (p.start !== start || num(r.expires_at) !== p.end) problems.add('not a period', JSON.stringify(r));
    if (num(r.priority) !== 0) problems.add('allowance priority', JSON.stringify(r));
    if (r.reason === 'allowance' && num(r.amount) !== ALLOWANCE) problems.add('allowance amount', JSON.stringify(r));
    const per = written.get(account) ?? new Map();
    written.set(account, per);
    const slot = per.get(start) ?? {};
    per.set(start, slot);
    if (slot[r.reason as 'allowance' | 'rollover'] !== undefined) problems.add('two allowances for one period', JSON.stringify(r));
    slot[r.reason as 'allowance' | 'rollover'] = r;
  }

  // Rollovers: min(max, what the previous allowance lot had left when the rollover was written).
  for (const [account, per] of written) {
    const sub = subs.get(account) as Sub;
    for (const [start, slot] of per) {
      if (slot.allowance === undefined) {
        problems.add('rollover without allowance', `${account} ${start}`);
        continue;
      }
      const prevStart = periodAt('day', sub.anchor, start - 1).start;
      const prev = per.get(prevStart)?.allowance;
      const at = num((slot.rollover ?? slot.allowance).pos);
      let unused = 0;
      if (prev !== undefined) {
        unused = num(prev.amount);
        for (const r of rows) {
          if (num(r.pos) >= at || (r.kind !== 'debit' && r.kind !== 'refund')) continue;
          for (const [lot, amount] of allocs(r)) if (lot === num(prev.pos)) unused -= amount;
        }
      } else if (prevStart >= sub.since) {
        unused = ALLOWANCE;
      }
      const want = Math.min(ROLLOVER_MAX, unused);
      const got = slot.rollover === undefined ? 0 : num(slot.rollover.amount);
      if (got !== want) problems.add('rollover amount', `${account} period ${start}: ${got}, expected ${want} (previous lot ${prev?.pos})`);
      if (slot.rollover !== undefined && num(slot.rollover.pos) > num(slot.allowance.pos))
        problems.add('rollover after allowance', `${account} ${start}`);
    }
  }

  // Periods written = periods in which something that settles ran.
  const sweeps = acks.filter((a) => a.op === 'sweep');
  for (const { account } of ACCOUNTS) {
    const sub = subs.get(account) as Sub;
    const period = (t: number) => periodAt('day', sub.anchor, t);
    const calls = [
      ...sweeps,
      ...acks.filter((a) => a.account === account && (a.op === 'debit' || a.op === 'balance' || a.op === 'subscription')),
    ];
    const touched = new Set<number>([period(sub.since).start]);
    const required = new Set<number>([period(sub.since).start]);
    for (const c of calls) {
      for (const t of c.nows) touched.add(period(t).start);
      if (c.nows.length === 0) continue;
      const p = period(Math.min(...c.nows));
      if (Math.max(...c.nows, c.tEnd) < p.end) required.add(p.start);
    }
    const got = new Set(written.get(account)?.keys() ?? []);
    for (const s of got)
      if (!touched.has(s)) problems.add('allowance for a period nothing ran in', `${account} ${new Date(s).toISOString()}`);
    for (const s of required) if (!got.has(s)) problems.add('period without its allowance', `${account} ${new Date(s).toISOString()}`);
  }

  // No overdraft; no draw from a lapsed lot; conservation per account.
  const sums = new Map<string, number>();
  const heads = new Map<string, number>();
  for (const r of rows) {
    const a = String(r.account);
    if (a.startsWith('$')) continue;
    if (num(r.balance) < 0) problems.add('overdraft', JSON.stringify(r));
    sums.set(a, (sums.get(a) ?? 0) + (SIGN[String(r.kind)] ?? 0) * num(r.amount));
    heads.set(a, num(r.balance));
    if (r.kind === 'debit') {
      let drawn = 0;
      for (const [lot, amount] of allocs(r)) {
        drawn += amount;
        const l = byPos.get(lot);
        if (l === undefined || l.account !== r.account) problems.add('draw from a foreign lot', JSON.stringify(r));
        else if (l.expires_at !== null && num(l.expires_at) <= num(r.created_at)) problems.add('draw from a lapsed lot', JSON.stringify(r));
      }
      if (drawn > num(r.amount)) problems.add('overdrawn allocations', JSON.stringify(r));
    }
  }
  for (const [a, s] of sums) if (s !== heads.get(a)) problems.add('not conserved', `${a}: Σ ${s} vs head ${heads.get(a)}`);

  // Nothing acknowledged lost.
  for (const a of acks) {
    if (a.entryId === null) continue;
    const r = byPos.get(Number(a.entryId.slice(3)));
    if (r === undefined || r.account !== a.account || num(r.amount) !== a.amount || r.kind !== a.op)
      problems.add('lost or different write', `${JSON.stringify(a)} vs ${JSON.stringify(r)}`);
  }
  return { problems: problems.list(), written, heads };
}

const DRIVERS: ConcurrencyDriver[] = ['better-sqlite3', 'libsql'];

describe.each(DRIVERS)('%s: period allowances under concurrent processes across period boundaries', (driver) => {
  let dir: string | undefined;
  let db: FileDb | undefined;
  const workers: Worker<PlansWorkerPlan>[] = [];

  afterEach(async () => {
    for (const w of workers) if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill('SIGKILL');
    await Promise.all(workers.map((w) => w.exited));
    workers.length = 0;
    await db?.close();
    if (dir !== undefined && process.env.CONC_KEEP !== '1') rmSync(dir, { recursive: true, force: true });
  });

  it(`${DEBITORS} debiting processes and a sweeper over ${DAYS} daily periods: one allowance per period, rollover exact, no overdraft, conserved, verify clean`, async () => {
    dir = mkdtempSync(join(tmpdir(), 'drizzle-credits-plans-'));
    const file = join(dir, 'ledger.db');
    const clockFile = join(dir, 'clock');
    writeFileSync(clockFile, '');
    const sweepFile = join(dir, 'swept');
    writeFileSync(sweepFile, String(START));
    const clock = () => START + statSync(clockFile).size * TICK_MS;
    db = await openFileDb(driver, file, { clock });
    const ledger = db.ledger;
    await ledger.migrate();
    await ledger.plans.define({ id: 'daily', allowance: { amount: ALLOWANCE, every: 'day', rollover: { max: ROLLOVER_MAX } } });
    for (const a of ACCOUNTS) {
      await ledger.plans.subscribe({ account: a.account, planId: 'daily', anchor: a.anchor });
      if (a.grant !== undefined) await ledger.grant({ account: a.account, ...a.grant });
    }

    const base = { driver, file, clockFile, sweepFile, start: START, tickMs: TICK_MS, until: UNTIL, accounts: BUSY, maxDebit: 9 };
    for (let w = 0; w <= DEBITORS; w++) {
      const role = w < DEBITORS ? 'debit' : 'sweep';
      workers.push(startWorker(WORKER, ROOT, { ...base, role, worker: w, seed: SEED + w * 7919, log: join(dir, `worker-${w}.jsonl`) }));
    }
    await within(Promise.all(workers.map((w) => w.ready)), 30_000, 'starting the workers', SEED);
    for (const w of workers) w.child.stdin.end('go\n');
    const codes = await within(Promise.all(workers.map((w) => w.exited)), 90_000, 'the workers', SEED);

    const lines = readJsonLines<PlansLogLine>(workers.map((w) => w.plan.log));
    const acks = lines.filter((l): l is { type: 'ack' } & PlansAck => l.type === 'ack');
    const incidents = lines.filter((l) => l.type === 'incident');
    expect(incidents, `seed ${SEED}`).toEqual([]);
    expect(
      codes.map((c, i) => (c === 0 ? 0 : `worker ${i} exit ${c}: ${workers[i]?.stderr().slice(-1500)}`)),
      `seed ${SEED}`,
    ).toEqual(codes.map(() => 0));

    const subs = new Map<string, Sub>();
    for (const s of await db.all('SELECT account, terms_pos, anchor, since FROM credit_subscription'))
      subs.set(String(s.account), { terms: num(s.terms_pos), anchor: num(s.anchor), since: num(s.since) });
    const cols = 'pos, account, kind, amount, delta, balance, reason, idempotency_key, expires_at, priority, created_at, allocations';
    const rows = await db.all(`SELECT ${cols} FROM credit_entry ORDER BY pos`);
    const result = analyse(rows, subs, acks);
    const outcomes: Record<string, number> = {};
    for (const a of acks) outcomes[`${a.op}:${a.outcome}`] = (outcomes[`${a.op}:${a.outcome}`] ?? 0) + 1;
    const periods = [...result.written.values()].reduce((n, m) => n + m.size, 0);
    console.log(`[plans ${driver}] seed ${SEED}: ${acks.length} calls, ${periods} allowances written, ${JSON.stringify(outcomes)}`);
    expect(result.problems, `seed ${SEED}`).toEqual([]);

    // Money in all; then a final sweep: every balance read is its head row.
    const totals = await db.all(`SELECT kind, SUM(amount) AS s FROM credit_entry WHERE account NOT LIKE '$%' GROUP BY kind`);
    const total = totals.reduce((s, r) => s + (SIGN[String(r.kind)] ?? 0) * num(r.s), 0);
    expect(total, `seed ${SEED}`).toBe([...result.heads.values()].reduce((s, b) => s + b, 0));
    await ledger.sweep();
    for (const { account } of ACCOUNTS) {
      const head = await db.all('SELECT balance FROM credit_entry WHERE account = ? ORDER BY seq DESC LIMIT 1', [account]);
      const lots = await ledger.lots(account);
      const b = await ledger.getBalance(account);
      expect(b.balance, `seed ${SEED} ${account}`).toBe(num(head[0]?.balance));
      expect(lots.every((l) => l.remaining >= 0)).toBe(true);
      expect(b.balance).toBeGreaterThanOrEqual(lots.reduce((s, l) => s + l.remaining, 0));
    }
    const report = await ledger.verify();
    expect(report.problems, `seed ${SEED}`).toEqual([]);
    expect(report.ok).toBe(true);

    // The run did what it claims: boundaries crossed while debits ran, some refused, every account rolled over.
    expect(outcomes['debit:debited'] ?? 0).toBeGreaterThan(0);
    expect(outcomes['debit:insufficient'] ?? 0).toBeGreaterThan(0);
    expect(outcomes['sweep:swept'] ?? 0).toBeGreaterThan(0);
    // (The idle account gets a period only where a sweep ran in it: the sweeper is at most a day behind.)
    for (const { account } of ACCOUNTS)
      expect(result.written.get(account)?.size ?? 0, account).toBeGreaterThanOrEqual(BUSY.includes(account) ? DAYS : DAYS / 2);
    expect(rows.filter((r) => r.reason === 'rollover').length).toBeGreaterThan(0);
  });
});
