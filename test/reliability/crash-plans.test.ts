/**
 * Crashes while period allowances are being written: writer processes debit, refund, read
 * and sweep subscribed accounts (and now and then change their plan) while a shared fake
 * clock (a file the calls advance: test/reliability/support/plans-crash-worker.ts) crosses
 * daily period boundaries, and are killed with SIGKILL at random moments — inside the units
 * that write a period's rollover and allowance down before a debit, in a read's settle, in
 * a sweep, in a plan change with its lapse and first allowance.
 *
 * After every round the parent reopens the database and checks:
 *   - verify() is ok;
 *   - no allowance half-written: every `$allowance:` / `$rollover:` grant has its lot (same
 *     amount, priority 0, expiring no later than the period's end) and every lot its grant;
 *     every rollover has the allowance of its period (they are one statement);
 *   - exactly one allowance per (account, terms, period start), on a true period start of
 *     those terms (anchor from the row that set them), expiring at the period's end;
 *   - every acknowledged debit and refund is in the log as acknowledged; no balance below
 *     zero; each account's signed amounts add up to its head balance.
 * At the end rebuild() re-derives the same lots and verify() stays clean.
 *
 * Light by default (4 rounds × 2 writers); RELIABILITY=full runs 30 rounds.
 * RELIABILITY_SEED=<n> replays a run's random choices (the kill moments are up to the OS).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DAY_MS, periodAt } from '../../src/plans/period.js';
import { prng, startWorker, type Worker, within } from '../support/processes.js';
import { type Db, type Driver, openDb, type Row } from './support/db.js';
import type { PlansCrashAck, PlansCrashPlan } from './support/plans-crash-worker.js';
import { FULL } from './support/setup.js';

const ROUNDS = Number(process.env.RELIABILITY_ROUNDS ?? (FULL ? 30 : 4));
const WRITERS = 2;
const KILL_AFTER_MS: [number, number] = [20, 300];
const SEED = Number(process.env.RELIABILITY_SEED ?? Date.now() % 2 ** 31);
const START = Date.UTC(2026, 5, 1, 12, 0);
/** Calls per daily period (libSQL with synchronous=FULL makes fewer calls before each kill). */
const CALLS_PER_DAY: Record<Driver, number> = { 'better-sqlite3': 50, libsql: 12, 'libsql-native': 50 };
const ACCOUNTS = ['pc-0', 'pc-1', 'pc-2'];
const PLANS = [
  { id: 'daily', allowance: { amount: 20, every: 'day' as const, rollover: { max: 10 } } },
  { id: 'daily-plus', allowance: { amount: 30, every: 'day' as const, rollover: { max: 15 } } },
];
const ROOT = resolve(import.meta.dirname, '../..');
const WORKER = resolve(import.meta.dirname, 'support/plans-crash-worker.ts');
const SIGN: Record<string, number> = { grant: 1, refund: 1, debit: -1, expire: -1 };
const num = (v: unknown) => Number(v);

async function check(db: Db, acks: PlansCrashAck[]): Promise<{ problems: string[]; allowances: number }> {
  const problems: string[] = [];
  const add = (p: string) => {
    if (problems.length < 30) problems.push(p);
  };
  const report = await db.ledger.verify();
  for (const p of report.problems) add(`verify ${p.code} ${p.account} ${p.entryId}: ${p.message}`);
  const rows = await db.all(
    'SELECT pos, account, kind, amount, balance, reason, idempotency_key, expires_at, metadata FROM credit_entry ORDER BY pos',
  );
  const byPos = new Map(rows.map((r) => [num(r.pos), r]));
  const lots = new Map((await db.all('SELECT * FROM credit_lot')).map((l) => [num(l.id), l]));

  // Lots and their grants: both or neither.
  for (const [id, l] of lots) {
    const g = byPos.get(id);
    if (g === undefined || g.kind !== 'grant' || g.account !== l.account || num(g.amount) !== num(l.amount))
      add(`lot without its grant: ${JSON.stringify(l)}`);
  }
  const seen = new Map<string, Row>();
  let allowances = 0;
  for (const r of rows) {
    const key = r.idempotency_key === null ? '' : String(r.idempotency_key);
    if (r.kind !== 'grant' || !key.startsWith('$')) continue;
    const l = lots.get(num(r.pos));
    if (l === undefined) add(`allowance grant without its lot: ${JSON.stringify(r)}`);
    else if (num(l.priority) !== 0 || num(l.expires_at) > num(r.expires_at)) add(`allowance lot differs: ${JSON.stringify([r, l])}`);
    const m = /^\$(allowance|rollover):(\d+):(-?\d+)$/.exec(key);
    if (m === null || m[1] !== r.reason) {
      add(`bad key ${JSON.stringify(r)}`);
      continue;
    }
    const id = `${r.account} ${key}`;
    if (seen.has(id)) add(`two rows for ${id}`);
    seen.set(id, r);
    if (m[1] === 'allowance') allowances++;
    // A true period of the terms that row names (their anchor is on the row that set them).
    const terms = byPos.get(Number(m[2]));
    const anchor = terms === undefined ? Number.NaN : num(JSON.parse(String(terms.metadata)).anchor);
    const start = Number(m[3]);
    const p = periodAt('day', anchor, start);
    if (terms?.account !== r.account || p.start !== start || num(r.expires_at) !== p.end)
      add(`not a period of its terms: ${JSON.stringify(r)}`);
  }
  for (const [id, r] of seen) {
    if (r.reason === 'rollover' && !seen.has(id.replace('$rollover:', '$allowance:'))) add(`rollover without its allowance: ${id}`);
  }

  // Acknowledged calls are there; balances never below zero; conserved per account.
  for (const a of acks) {
    if (a.entryId === null) continue;
    const r = byPos.get(Number(a.entryId.slice(3)));
    if (r === undefined || r.account !== a.account || r.kind !== a.op || num(r.amount) !== a.amount)
      add(`acknowledged ${JSON.stringify(a)} vs ${JSON.stringify(r)}`);
  }
  const sums = new Map<string, number>();
  const heads = new Map<string, number>();
  for (const r of rows) {
    const a = String(r.account);
    if (a.startsWith('$')) continue;
    if (num(r.balance) < 0) add(`overdraft ${JSON.stringify(r)}`);
    sums.set(a, (sums.get(a) ?? 0) + (SIGN[String(r.kind)] ?? 0) * num(r.amount));
    heads.set(a, num(r.balance));
  }
  for (const [a, s] of sums) if (s !== heads.get(a)) add(`${a}: signed amounts ${s}, head ${heads.get(a)}`);
  return { problems, allowances };
}

describe.each<Driver>(['better-sqlite3', 'libsql'])('%s: writers of period allowances killed with SIGKILL', (driver) => {
  let dir: string | undefined;
  let passed = false;
  let db: Db | undefined;
  const procs: Worker<PlansCrashPlan>[] = [];

  afterEach(async () => {
    for (const p of procs) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
    await Promise.all(procs.map((p) => p.exited));
    procs.length = 0;
    await db?.close();
    db = undefined;
    if (dir !== undefined && passed) rmSync(dir, { recursive: true, force: true });
    else if (dir !== undefined) console.log(`[crash-plans] kept ${dir}`);
    dir = undefined;
    passed = false;
  });

  it(`${ROUNDS * WRITERS} kills (${ROUNDS} rounds × ${WRITERS} writers) across daily period boundaries`, {
    timeout: FULL ? 30 * 60_000 : 120_000,
  }, async () => {
    const TICK_MS = DAY_MS / CALLS_PER_DAY[driver];
    const rand = prng(SEED);
    dir = mkdtempSync(join(tmpdir(), 'drizzle-credits-crash-plans-'));
    const workDir = dir;
    const file = join(dir, 'ledger.db');
    const clockFile = join(dir, 'clock');
    writeFileSync(clockFile, '');
    const clock = () => START + readFileSync(clockFile).length * TICK_MS;
    db = await openDb(driver, file, 'FULL', { clock });
    await db.ledger.migrate();
    for (const p of PLANS) await db.ledger.plans.define(p);
    for (const [i, account] of ACCOUNTS.entries()) {
      await db.ledger.plans.subscribe({ account, planId: 'daily', anchor: START - i * 5 * 3_600_000 });
      await db.ledger.grant({ account, amount: 15 });
    }
    await db.close();
    db = undefined;

    const acks: PlansCrashAck[] = [];
    let allowances = 0;
    let kills = 0;
    const spawnRound = (round: number) =>
      Array.from({ length: WRITERS }, (_, k) => {
        const plan: PlansCrashPlan = {
          worker: `r${round}w${k}`,
          driver,
          file,
          synchronous: 'FULL',
          clockFile,
          start: START,
          tickMs: TICK_MS,
          log: join(workDir, `r${round}w${k}.jsonl`),
          seed: SEED + round * 101 + k * 7919,
          accounts: ACCOUNTS,
          plans: PLANS.map((p) => p.id),
        };
        const p = startWorker(WORKER, ROOT, plan);
        procs.push(p);
        return p;
      });

    for (let round = 0; round < ROUNDS; round++) {
      const writers = spawnRound(round);
      await within(Promise.all(writers.map((p) => p.ready)), 60_000, `starting round ${round}'s writers`, SEED);
      await Promise.all(
        writers.map((p) => {
          const delay = KILL_AFTER_MS[0] + Math.floor(rand() * (KILL_AFTER_MS[1] - KILL_AFTER_MS[0] + 1));
          p.child.stdin.end('go\n');
          return new Promise<void>((res) =>
            setTimeout(() => {
              p.child.kill('SIGKILL');
              res();
            }, delay),
          );
        }),
      );
      await Promise.all(writers.map((p) => p.exited));
      for (const p of writers) {
        if (p.child.signalCode !== 'SIGKILL')
          throw new Error(`${p.plan.worker} died on its own: ${p.stderr().slice(-2000)} (seed ${SEED})`);
        kills++;
        // A line torn by the kill was never acknowledged (the fsync comes after the whole line).
        for (const line of readFileSync(p.plan.log, { flag: 'a+' }).toString().split('\n')) {
          if (line === '') continue;
          try {
            acks.push(JSON.parse(line) as PlansCrashAck);
          } catch {}
        }
      }
      db = await openDb(driver, file, 'FULL', { clock });
      const r = await check(db, acks);
      expect(r.problems, `round ${round}, seed ${SEED}`).toEqual([]);
      allowances = r.allowances;
      await db.close();
      db = undefined;
    }

    db = await openDb(driver, file, 'FULL', { clock });
    const lotsBefore = await db.all('SELECT * FROM credit_lot ORDER BY id');
    const rebuilt = await db.ledger.rebuild();
    expect(rebuilt.problems).toEqual([]);
    expect(await db.all('SELECT * FROM credit_lot ORDER BY id')).toEqual(lotsBefore);
    expect((await db.ledger.verify()).problems).toEqual([]);
    const days = (clock() - START) / DAY_MS;
    const kinds = await db.all('SELECT kind, reason, COUNT(*) AS n FROM credit_entry GROUP BY kind, reason ORDER BY kind, reason');
    console.log(
      `[crash-plans ${driver}] seed ${SEED}: ${kills} SIGKILLs, clock moved ${days.toFixed(1)} days, ${allowances} allowances, ` +
        `${acks.length} acks, rows ${JSON.stringify(kinds.map((k) => `${k.kind}/${k.reason ?? ''}:${k.n}`))}`,
    );
    expect(kills).toBe(ROUNDS * WRITERS);
    expect(acks.length).toBeGreaterThan(0);
    expect(allowances).toBeGreaterThan(ACCOUNTS.length);
    passed = true;
  });
});
