/**
 * A worker of test/reliability/transfers.test.ts: one OS process, one connection to the shared
 * database file. It loads its modules, prints `ready`, waits for `go` on stdin, then runs its
 * role's loop:
 *   - `transfer`: transfers between the hot accounts, both ways (single calls, a key shared
 *     with the other transfer processes, batches that send credits there and back, repeats of
 *     its own keyed transfers);
 *   - `spend`: moves the shared clock on by one tick per operation, then debits the hot
 *     accounts, grants them (some lots expire a few ticks later, some only have a priority) or
 *     sweeps;
 *   - `admin`: removes the team's member and adds them back, over and over, with a short pause
 *     after each change (so the member is out for a while, not a moment), until the parent
 *     creates the stop file;
 *   - `member`: spends the team's credits naming the member as `actor` (debits, transfers):
 *     `ops` calls, and on (up to 20 × ops) until it has seen both a spend go through and a
 *     `forbidden`, so a light run on a busy machine still exercises both.
 * Ledger calls are logged like the other reliability workers' (support/protocol.ts): an
 * `intent` line before, an `ack` line after; the admin's calls as `team` lines.
 *
 * The clock: with `plan.clock` every process reads start + (size of the clock file) × tick,
 * and only the spenders append to the file, so all of them share one clock that moves as the
 * run goes on (as in support/plans-crash-worker.ts). A sweep's intent carries that clock's
 * time, which is what the parent compares with the expire rows' created_at.
 */
import { appendFileSync, closeSync, existsSync, openSync, statSync, writeSync } from 'node:fs';
import type { BatchOp, EntryKind } from '../../../src/index.js';
import { readyThenGo } from '../../support/processes.js';
import { type Db, type Driver, openDb, preload } from './db.js';
import { execute, prng } from './ops.js';
import { type Call, LineLog } from './protocol.js';

export interface SharedTransfer {
  key: string;
  from: string;
  to: string;
  amount: number;
}

export interface TeamPlan {
  team: string;
  owner: string;
  member: string;
  /** Where the member's transfers from the team go. */
  sink: string;
  /** The admin stops once this file exists. */
  stopFile: string;
}

export interface TransfersPlan {
  role: 'transfer' | 'spend' | 'admin' | 'member';
  name: string;
  driver: Driver;
  file: string;
  log: string;
  /** The shared clock; null: the wall clock. */
  clock: { file: string; start: number; tickMs: number } | null;
  seed: number;
  /** Operations to run (the admin: at most this many). */
  ops: number;
  lanes: number;
  accounts: string[];
  sharedTransfers: SharedTransfer[];
  team: TeamPlan | null;
}

/** The admin's line: one membership change and what came back. */
export interface TeamLine {
  type: 'team';
  tag: string;
  op: 'removeMember' | 'addMember';
  outcome?: string;
  entry?: { id: string; kind: EntryKind };
  error?: { code: string; message: string };
}

const plan = JSON.parse(process.argv[2] ?? '') as TransfersPlan;
const rand = prng(plan.seed);
const int = (lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo + 1));
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)] as T;
const chance = (p: number) => rand() < p;

const shared = plan.clock;
const clock = shared === null ? Date.now : () => shared.start + statSync(shared.file).size * shared.tickMs;
const tick = () => {
  if (shared !== null) appendFileSync(shared.file, 'x');
};

const log = new LineLog(plan.log, false);
const teamFd = plan.role === 'admin' ? openSync(plan.log, 'a') : undefined;

/** Keyed calls this worker made that wrote (or replayed) something: repeating one must replay. */
const done: Call[] = [];
/** Outcomes (or error codes) this worker has seen. */
const seen = new Set<string>();

const transferOp = (tag: string, from: string, to: string): BatchOp & { op: 'transfer' } => ({
  op: 'transfer',
  from,
  to,
  // Now and then far more than anyone holds: every run sees `insufficient`.
  amount: chance(0.04) ? int(1_000_000_000, 2_000_000_000) : int(1, 50),
  reason: tag,
  ...(chance(0.4) ? { idempotencyKey: `${tag}-t` } : {}),
});

function pair(): [string, string] {
  const from = pick(plan.accounts);
  return [from, pick(plan.accounts.filter((a) => a !== from))];
}

function nextTransfer(n: number, tag: string): Call {
  const r = rand();
  if (r < 0.6) {
    const { op: _, ...input } = transferOp(tag, ...pair());
    return { method: 'transfer', input };
  }
  if (r < 0.72) {
    // A key every transfer process uses, in step with progress so several have it in flight.
    const keys = plan.sharedTransfers;
    const i = Math.min(keys.length - 1, Math.max(0, Math.floor((n * keys.length) / plan.ops) + int(-1, 1)));
    const k = keys[i] as SharedTransfer;
    return { method: 'transfer', input: { from: k.from, to: k.to, amount: k.amount, idempotencyKey: k.key, reason: `shared:${k.key}` } };
  }
  if (r < 0.85) {
    // There and back in one batch, and on to a third account.
    const [a, b] = pair();
    const ops: BatchOp[] = [transferOp(`${tag}.0`, a, b), transferOp(`${tag}.1`, b, a)];
    if (chance(0.5)) ops.push(transferOp(`${tag}.2`, ...pair()));
    return { method: 'batch', input: ops };
  }
  if (r < 0.95 && done.length > 0) return pick(done);
  const { op: _, ...input } = transferOp(tag, ...pair());
  return { method: 'transfer', input };
}

function nextSpend(tag: string): Call {
  const r = rand();
  const account = pick(plan.accounts);
  if (r < 0.55) {
    const amount = chance(0.03) ? int(1_000_000_000, 2_000_000_000) : int(1, 30);
    return { method: 'debitIfCovers', input: { account, amount, reason: tag } };
  }
  if (r < 0.65) return { method: 'debitOnceIfCovers', input: { account, amount: int(1, 30), reason: tag, idempotencyKey: `${tag}-d` } };
  if (r < 0.8) {
    const tickMs = shared?.tickMs ?? 1000;
    const lot = rand();
    // A lot that lapses 20–150 ticks from now (the other spender moves the clock too), one that
    // only has a priority, or plain credits.
    if (lot < 0.5)
      return {
        method: 'grant',
        input: {
          account,
          amount: int(5, 60),
          reason: tag,
          expiresAt: clock() + int(20, 150) * tickMs,
          ...(chance(0.5) ? { priority: int(0, 9) } : {}),
        },
      };
    if (lot < 0.75) return { method: 'grant', input: { account, amount: int(5, 60), reason: tag, priority: int(0, 9) } };
    return { method: 'grant', input: { account, amount: int(5, 60), reason: tag } };
  }
  return { method: 'sweep', input: { batchSize: int(1, 4) } };
}

function nextMember(tag: string, team: TeamPlan): Call {
  if (chance(0.75)) return { method: 'debitIfCovers', input: { account: team.team, amount: int(1, 5), actor: team.member, reason: tag } };
  return { method: 'transfer', input: { from: team.team, to: team.sink, amount: int(1, 5), actor: team.member, reason: tag } };
}

const errorOf = (e: unknown) => {
  const code = (e as { code?: unknown }).code;
  return { code: code === undefined ? String((e as Error)?.name) : String(code), message: e instanceof Error ? e.message : String(e) };
};

async function runCall(db: Db, tag: string, call: Call): Promise<void> {
  // A sweep's intent carries the ledger clock's time: the expire rows it writes are stamped with it.
  log.write({ type: 'intent', tag, call, t: call.method === 'sweep' ? clock() : Date.now() });
  const t0 = performance.now();
  try {
    const results = await execute(db.ledger, call);
    log.write({ type: 'ack', tag, results, t: Date.now(), ms: Math.round(performance.now() - t0) });
    for (const r of results) seen.add(r.outcome);
    const keyed = call.method !== 'batch' && call.method !== 'sweep' && (call.input as { idempotencyKey?: string }).idempotencyKey;
    const wrote = results[0]?.entry !== undefined;
    if (keyed && wrote && !done.includes(call)) done.push(call);
  } catch (e) {
    const error = errorOf(e);
    log.write({ type: 'ack', tag, results: [], error, t: Date.now(), ms: Math.round(performance.now() - t0) });
    seen.add(error.code);
  }
}

async function runAdmin(db: Db, n: number, team: TeamPlan): Promise<void> {
  const tag = `${plan.name}-${n}`;
  const op = n % 2 === 0 ? 'removeMember' : 'addMember';
  // Half of the changes name the owner as actor (checked inside the statement), half are the app's own.
  const actor = chance(0.5) ? { actor: team.owner } : {};
  const line: TeamLine = { type: 'team', tag, op };
  try {
    const r =
      op === 'removeMember'
        ? await db.ledger.teams.removeMember({ team: team.team, member: team.member, reason: tag, ...actor })
        : await db.ledger.teams.addMember({ team: team.team, member: team.member, role: 'member', reason: tag, ...actor });
    line.outcome = r.outcome;
    const entry = 'entry' in r ? r.entry : undefined;
    if (entry !== undefined) line.entry = { id: entry.id, kind: entry.kind };
  } catch (e) {
    line.error = errorOf(e);
  }
  writeSync(teamFd as number, `${JSON.stringify(line)}\n`);
  await new Promise((resolve) => setTimeout(resolve, int(0, 2)));
}

async function main(): Promise<void> {
  await preload(plan.driver);
  await readyThenGo();

  const db = await openDb(plan.driver, plan.file, 'FULL', { clock });
  const team = plan.team;
  let next = 0;
  const step = async (n: number) => {
    const tag = `${plan.name}-${n}`;
    switch (plan.role) {
      case 'transfer':
        return runCall(db, tag, nextTransfer(n, tag));
      case 'spend':
        tick();
        return runCall(db, tag, nextSpend(tag));
      case 'member':
        return runCall(db, tag, nextMember(tag, team as TeamPlan));
      case 'admin':
        return runAdmin(db, n, team as TeamPlan);
    }
  };
  const more = () => {
    if (plan.role === 'admin') return next < plan.ops && !existsSync((team as TeamPlan).stopFile);
    if (plan.role === 'member' && next < 20 * plan.ops)
      return next < plan.ops || !seen.has('forbidden') || !(seen.has('debited') || seen.has('transferred'));
    return next < plan.ops;
  };
  const lane = async () => {
    while (more()) await step(next++);
  };
  await Promise.all(Array.from({ length: plan.lanes }, lane));
  await db.close();
}

main().then(
  () => {
    log.close();
    if (teamFd !== undefined) closeSync(teamFd);
    process.exit(0);
  },
  (e: unknown) => {
    process.stderr.write(`worker ${plan.name} crashed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(2);
  },
);
