/**
 * `npm start`: an end-to-end run on an embedded SQLite file (better-sqlite3, WAL).
 *
 *  1. a fresh `.tmp/scenario.db`, migrated;
 *  2. 300 users get credits (varying amounts, some grants keyed and retried);
 *  3. 4 OS processes hammer them at once with debits (scripts/scenario-worker.ts): plain,
 *     keyed with cross-process and immediate retries, conflicting key reuse, oversized;
 *     Some users have spend caps: a daily deny cap, a monthly deny cap on one model, a warn
 *     cap; some of their debits come back `capped`;
 *  4. a few debits are refunded (partial, full, one retried with its key, one too many);
 *  5. a summary, cross-checks between what the workers were told and what the log holds
 *     (no deny cap passed), the auditor's verdict, and usage analytics (spend by model, the
 *     top accounts, the summary);
 *  6. plans, pricing and charge over three simulated months on a second file
 *     (scripts/scenario-plans.ts): users on two plans and pay-as-you-go, charged per token from
 *     a published rate card; the spend split between allowances and purchased credits;
 *  7. teams and transfers on a third file (scripts/scenario-teams.ts): a team with an owner, an
 *     admin, a member under a member cap and a viewer; capped and forbidden spends; credits
 *     moved both ways between a user and the team, expiring ones keeping their expiry.
 * Exit code 1 if any check fails.
 *
 * SCENARIO_OPS (per worker, default 5000) and SCENARIO_SEED change the run.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import Database from 'better-sqlite3';
import { drizzle } from 'drizzle-orm/better-sqlite3';
import { spendTable, summaryText } from '../src/cli/analytics.js';
import { gridTable, keyValueTable } from '../src/cli/format.js';
import { createLedger, type Entry, isLedgerError, type Ledger } from '../src/index.js';
import { runPlansScenario } from './scenario-plans.js';
import { runTeamsScenario } from './scenario-teams.js';
import type { OpKind, Outcome, WorkerPlan, WorkerReport } from './scenario-worker.js';

const ROOT = resolve(import.meta.dirname, '..');
const DIR = join(ROOT, '.tmp');
const FILE = join(DIR, 'scenario.db');
const WORKER = join(ROOT, 'scripts/scenario-worker.ts');
const USERS = 300;
const WORKERS = 4;
const OPS_PER_WORKER = Number(process.env.SCENARIO_OPS ?? 5000);
const SEED = Number(process.env.SCENARIO_SEED ?? 20_240_601);

const t0 = performance.now();
const elapsed = (since: number) => `${((performance.now() - since) / 1000).toFixed(2)} s`;
const log = (msg: string) => process.stdout.write(`${msg}\n`);

// 1. A fresh database.
mkdirSync(DIR, { recursive: true });
for (const suffix of ['', '-wal', '-shm']) rmSync(`${FILE}${suffix}`, { force: true });
const client = new Database(FILE);
client.pragma('journal_mode = WAL');
client.pragma('busy_timeout = 5000');
const ledger = createLedger(drizzle(client));
const migrated = await ledger.migrate();
log(`migrated ${FILE} (${migrated.applied.join(', ')})`);

// 2. Grants: a signup amount for everyone; a third bought a keyed pack; some retried.
const grants = await grantUsers(ledger);
log(`granted ${grants.granted} times to ${USERS} users (${grants.replayed} keyed retries replayed) in ${elapsed(t0)}`);

// Caps on some users (config rows on their logs): every deny cap is part of the debit's guard.
const capped = await capUsers(ledger);
log(`caps: ${capped.deny} deny caps and ${capped.warn} warn caps on ${capped.users.length} users`);

// 3. The hammer.
const hammer = await runWorkers();
const hammerSeconds = (Math.max(...hammer.map((r) => r.endedAt)) - Math.min(...hammer.map((r) => r.startedAt))) / 1000;
const totalOps = hammer.reduce((s, r) => s + r.ops, 0);
log(`${WORKERS} workers ran ${totalOps} debit calls in ${hammerSeconds.toFixed(2)} s`);

// 4. Refunds.
const refunds = await refundSome(ledger);
log(`refunds: ${refunds.refunded} applied, ${refunds.replayed} replayed, ${refunds.refused} refused as expected`);

// 5. Totals, cross-checks, the auditor.
const stats = await ledger.stats();
const report = await ledger.verify();
const balances = await Promise.all(Array.from({ length: USERS }, (_, i) => ledger.getBalance(`user_${i}`)));
const minBalance = Math.min(...balances.map((b) => b.balance));
const sumBalances = balances.reduce((s, b) => s + b.balance, 0);
const capLists = await Promise.all(capped.users.map((u) => ledger.caps.list(u)));
const overCap = capLists.flat().filter((c) => c.action === 'deny' && c.spent + c.held > c.limit);
// The last 24 hours: the whole run, and a day for avgDailySpend.
const analyticsRange = { from: Date.now() - 86_400_000, to: Date.now() + 1 };
const byModel = await ledger.analytics.spend({ ...analyticsRange, groupBy: ['model'] });
const topAccounts = await ledger.analytics.top({ ...analyticsRange, by: 'account', limit: 5 });
const summary = await ledger.analytics.summary(analyticsRange);
const keyedInLog = Number(
  (
    client.prepare(`SELECT COUNT(*) AS n FROM credit_entry WHERE kind = 'debit' AND idempotency_key IS NOT NULL`).get() as {
      n: number;
    }
  ).n,
);
client.close();

const sum = (f: (r: WorkerReport) => number) => hammer.reduce((s, r) => s + f(r), 0);
const kinds: OpKind[] = ['plain', 'keyed', 'retry', 'oversized'];
const outcomes: Outcome[] = ['debited', 'replayed', 'insufficient', 'capped'];
const outcomeTotal = (k: OpKind, o: Outcome) => sum((r) => r.outcomes[k][o]);
const incidents = hammer.flatMap((r) => r.incidents.map((i) => `worker ${r.worker}: ${i}`));

const checks: [string, string | number, string | number][] = [
  ['outstanding = granted − debited + refunded', stats.granted - stats.debited + stats.refunded, stats.outstanding],
  ['Σ user balances = outstanding', stats.outstanding, sumBalances],
  ['auditor outstanding = outstanding', stats.outstanding, report.outstanding],
  ['min balance ≥ 0', '≥ 0', minBalance >= 0 ? minBalance : `${minBalance} (below zero)`],
  ['debit rows = debits workers saw applied', sum((r) => r.debitEntries), stats.byKind.debit?.entries ?? 0],
  ['credits debited = what workers saw taken', sum((r) => r.debitedAmount), stats.debited],
  ['keyed debit rows = keyed debits applied', sum((r) => r.keyedDebitEntries), keyedInLog],
  ['credits refunded = refunds applied', refunds.amount, stats.refunded],
  ['grant rows = grants applied', grants.granted, stats.byKind.grant?.entries ?? 0],
  ['deny caps spent past their limit', 0, overCap.length],
  ['some debits were capped', 'yes', kinds.some((k) => outcomeTotal(k, 'capped') > 0) ? 'yes' : 'no'],
  ['analytics consumed = debited − refunded', stats.debited - stats.refunded, summary.consumed],
  ['Σ spend by model = consumed', summary.consumed, byModel.reduce((s, r) => s + r.net, 0)],
  ['worker incidents', 0, incidents.length],
];
// 6. Plans, pricing and charge over three simulated months (scripts/scenario-plans.ts).
const plansRun = await runPlansScenario(join(DIR, 'scenario-plans.db'), SEED);
checks.push(...plansRun.checks);
// 7. Teams and transfers (scripts/scenario-teams.ts).
const teamsRun = await runTeamsScenario(join(DIR, 'scenario-teams.db'));
checks.push(...teamsRun.checks);
const failed = checks.filter(([, want, got]) => (want === '≥ 0' ? minBalance < 0 : want !== got));

log('');
log(
  keyValueTable([
    ['users', USERS],
    ['accounts in the ledger', stats.accounts],
    ['entries', stats.entries],
    ['granted', stats.granted],
    ['debited', stats.debited],
    ['refunded', stats.refunded],
    ['outstanding', stats.outstanding],
    ['min / max balance', `${minBalance} / ${Math.max(...balances.map((b) => b.balance))}`],
  ]),
);
log('Hammer phase: outcomes per kind of call, summed over the workers');
log(
  gridTable(
    ['call', ...outcomes, 'total'],
    [
      ...kinds.map((k) => [k, ...outcomes.map((o) => outcomeTotal(k, o)), outcomes.reduce((s, o) => s + outcomeTotal(k, o), 0)]),
      ['all', ...outcomes.map((o) => kinds.reduce((s, k) => s + outcomeTotal(k, o), 0)), totalOps],
    ],
    ['left', 'right', 'right', 'right', 'right', 'right'],
  ),
);
log(
  keyValueTable([
    ['workers (OS processes)', WORKERS],
    ['calls', totalOps],
    ['wall time', `${hammerSeconds.toFixed(2)} s`],
    [
      'throughput',
      `${Math.round(totalOps / hammerSeconds)} ops/s (${Math.round(sum((r) => r.debitEntries) / hammerSeconds)} debits applied/s)`,
    ],
    ['key reuse with another amount refused', sum((r) => r.conflictsRefused)],
  ]),
);
log('Cross-checks');
log(
  gridTable(
    ['check', 'expected', 'actual', ''],
    checks.map(([name, want, got]) => [name, want, got, failed.some(([n]) => n === name) ? 'FAIL' : 'ok']),
  ),
);
log(
  keyValueTable([
    ['auditor (ledger.verify)', report.ok ? 'ok' : 'PROBLEMS FOUND'],
    ['accounts / entries replayed', `${report.accounts} / ${report.entries}`],
    ['problems', report.problemCount],
  ]),
);
// The same tables as the CLI's `spend`, `top` and `summary`.
log('Usage analytics: spend by model (ledger.analytics.spend, groupBy model)');
log(spendTable(byModel, ['model']));
log('Top accounts (ledger.analytics.top)');
log(spendTable(topAccounts, ['account']));
log('Summary (ledger.analytics.summary)');
log(summaryText(summary));
for (const t of plansRun.tables) log(t);
for (const t of teamsRun.tables) log(t);
for (const p of report.problems.slice(0, 10)) log(`  ${p.code} ${p.account ?? ''} #${p.seq ?? ''}: ${p.message}`);
for (const i of incidents.slice(0, 10)) log(`  incident: ${i}`);
log(`total ${elapsed(t0)}`);

if (!report.ok || failed.length > 0) {
  log(`FAILED: ${[...(report.ok ? [] : ['verify']), ...failed.map(([n]) => n)].join('; ')}`);
  process.exitCode = 1;
}

// ---------------------------------------------------------------------------------------

async function grantUsers(l: Ledger): Promise<{ granted: number; replayed: number }> {
  let granted = 0;
  let replayed = 0;
  const tally = (outcome: 'granted' | 'replayed') => (outcome === 'granted' ? granted++ : replayed++);
  for (let i = 0; i < USERS; i++) {
    const account = `user_${i}`;
    // 150 … 1,949 credits: spread so some users run dry under the hammer and others do not.
    tally((await l.grant({ account, amount: 150 + ((i * 7919) % 1800), reason: 'signup bonus' })).outcome);
    if (i % 3 === 0) {
      const pack = { account, amount: 500, idempotencyKey: `stripe-pi-${i}`, reason: 'credit pack purchase' };
      tally((await l.grant(pack)).outcome);
      // Every fourth purchase webhook is delivered twice: the second is a replay.
      if (i % 4 === 0) tally((await l.grant(pack)).outcome);
    }
  }
  return { granted, replayed };
}

/**
 * Every 5th of the busiest users: a daily deny cap; every 10th user: a monthly deny cap on one
 * model; every 11th: a warn cap (lets debits through with `warnings`).
 */
async function capUsers(l: Ledger): Promise<{ users: string[]; deny: number; warn: number }> {
  const users = new Set<string>();
  let deny = 0;
  let warn = 0;
  for (let i = 0; i < USERS; i++) {
    const account = `user_${i}`;
    if (i < USERS / 5 && i % 5 === 0) {
      await l.caps.set({ account, window: 'day', limit: 120, reason: 'daily budget' });
      deny++;
      users.add(account);
    }
    if (i % 10 === 3) {
      await l.caps.set({ account, window: 'month', limit: 60, model: 'gpt-4o', reason: 'gpt-4o allowance' });
      deny++;
      users.add(account);
    }
    if (i % 11 === 0) {
      await l.caps.set({ account, window: 'day', limit: 200, action: 'warn' });
      warn++;
      users.add(account);
    }
  }
  return { users: [...users], deny, warn };
}

async function runWorkers(): Promise<WorkerReport[]> {
  const children = Array.from({ length: WORKERS }, (_, w) => {
    const plan: WorkerPlan = { worker: w, file: FILE, users: USERS, ops: OPS_PER_WORKER, seed: SEED + w * 7_919 };
    const child = spawn(process.execPath, ['--import', 'tsx', WORKER, JSON.stringify(plan)], {
      cwd: ROOT,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d) => {
      stderr += String(d);
    });
    const lines = createInterface({ input: child.stdout });
    let ready!: () => void;
    const readyP = new Promise<void>((r) => {
      ready = r;
    });
    let result: WorkerReport | undefined;
    lines.on('line', (line) => {
      const msg = JSON.parse(line) as { ready?: boolean } & Partial<WorkerReport>;
      if (msg.ready) ready();
      else result = msg as WorkerReport;
    });
    const done = new Promise<WorkerReport>((res, rej) => {
      child.on('error', rej);
      child.on('close', (code) => {
        if (code === 0 && result !== undefined) res(result);
        else rej(new Error(`worker ${w} exited with ${code}: ${stderr}`));
      });
    });
    return { child, readyP, done };
  });
  // Start together, so the processes really contend.
  await Promise.race([Promise.all(children.map((c) => c.readyP)), Promise.all(children.map((c) => c.done))]);
  for (const c of children) c.child.stdin.end('go\n');
  return Promise.all(children.map((c) => c.done));
}

async function refundSome(l: Ledger): Promise<{ refunded: number; replayed: number; refused: number; amount: number }> {
  let refunded = 0;
  let replayed = 0;
  let refused = 0;
  let amount = 0;
  // Support tickets: the latest debit of a few users.
  const targets: Entry[] = [];
  for (let i = 0; i < USERS && targets.length < 8; i += 17) {
    const page = await l.history(`user_${i}`, { kinds: ['debit'], limit: 1 });
    const debit = page.entries[0];
    if (debit !== undefined && debit.amount >= 2) targets.push(debit);
  }
  if (targets.length < 4) throw new Error(`only ${targets.length} debits to refund: the hammer phase did too little`);
  for (const [n, debit] of targets.entries()) {
    const partial = n % 2 === 0;
    const input = {
      entryId: debit.id,
      amount: partial ? Math.floor(debit.amount / 2) : undefined,
      reason: partial ? 'partial refund: degraded answer' : 'full refund: request failed',
      idempotencyKey: `ticket-${n}`,
    };
    const r = await l.refund(input);
    refunded++;
    amount += r.entry.amount;
    if (n === 0) {
      // The support tool retries the first ticket: same key, same request → the same refund.
      const again = await l.refund(input);
      if (again.outcome !== 'replayed' || again.entry.id !== r.entry.id) throw new Error('refund retry was not a replay');
      replayed++;
    }
    if (!partial) {
      // Nothing is left of a fully refunded debit: one credit more is refused.
      try {
        await l.refund({ entryId: debit.id, amount: 1 });
        throw new Error(`refund beyond the debit of ${debit.id} was accepted`);
      } catch (e) {
        if (!isLedgerError(e, 'exceeds_refundable')) throw e;
        refused++;
      }
    }
  }
  return { refunded, replayed, refused, amount };
}
