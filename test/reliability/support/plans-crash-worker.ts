/**
 * One writer of test/reliability/crash-plans.test.ts, killed with SIGKILL at a random moment.
 * Run as  node --import tsx test/reliability/support/plans-crash-worker.ts '<PlansCrashPlan>'.
 *
 * The ledger clock is shared through a file (as in test/support/plans-worker.ts): its size
 * in bytes × `tickMs` after `start`; the worker appends a byte before each call, so calls
 * move the clock across daily period boundaries — the allowance and rollover of a new period
 * are written by whichever call of whichever process comes first, inside its own unit.
 *
 * Calls: debits of subscribed accounts (some insufficient), refunds of its own debits,
 * balance and subscription reads, sweeps, and now and then a plan change (immediate or at
 * the period's end) between two daily plans. Each acknowledged result is appended to the
 * log and fsync'ed after the call returned.
 */
import { appendFileSync, closeSync, fsyncSync, openSync, statSync, writeSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { prng } from '../../support/processes.js';
import { type Driver, openDb, type Synchronous } from './db.js';

export interface PlansCrashPlan {
  worker: string;
  driver: Driver;
  file: string;
  synchronous: Synchronous;
  clockFile: string;
  start: number;
  tickMs: number;
  log: string;
  seed: number;
  accounts: string[];
  plans: string[];
}

export interface PlansCrashAck {
  worker: string;
  op: 'debit' | 'refund';
  account: string;
  amount: number;
  outcome: string;
  entryId: string | null;
}

async function main(plan: PlansCrashPlan): Promise<void> {
  const rand = prng(plan.seed);
  const int = (lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo + 1));
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)] as T;
  const clock = () => plan.start + statSync(plan.clockFile).size * plan.tickMs;
  const db = await openDb(plan.driver, plan.file, plan.synchronous, { clock });
  const ledger = db.ledger;
  await ledger.getBalance(plan.accounts[0] as string); // warm the connection up before "ready"
  const fd = openSync(plan.log, 'a');
  const ack = (a: Omit<PlansCrashAck, 'worker'>) => {
    writeSync(fd, `${JSON.stringify({ worker: plan.worker, ...a })}\n`);
    fsyncSync(fd);
  };
  process.stdout.write('ready\n');
  await new Promise<void>((resolve) => {
    const rl = createInterface({ input: process.stdin });
    rl.on('line', (line) => {
      if (line.trim() === 'go') {
        rl.close();
        resolve();
      }
    });
  });
  const debits: { id: string; account: string; left: number }[] = [];
  for (;;) {
    appendFileSync(plan.clockFile, 'x');
    const account = pick(plan.accounts);
    const roll = rand();
    try {
      if (roll < 0.55) {
        const amount = int(1, 12);
        const r = await ledger.debitIfCovers({ account, amount });
        const entryId = r.outcome === 'debited' ? r.entry.id : null;
        if (entryId !== null) debits.push({ id: entryId, account, left: amount });
        ack({ op: 'debit', account, amount, outcome: r.outcome, entryId });
      } else if (roll < 0.65) {
        const d = debits.find((x) => x.left > 0);
        if (d === undefined) continue;
        const amount = int(1, d.left);
        d.left -= amount;
        const r = await ledger.refund({ entryId: d.id, amount });
        ack({ op: 'refund', account: d.account, amount, outcome: r.outcome, entryId: r.entry.id });
      } else if (roll < 0.75) {
        await ledger.getBalance(account);
      } else if (roll < 0.85) {
        await ledger.plans.subscription(account);
      } else if (roll < 0.93) {
        await ledger.sweep({ batchSize: int(1, 3) });
      } else {
        await ledger.plans.change({ account, planId: pick(plan.plans), proration: rand() < 0.5 ? 'immediate' : 'next_period' });
      }
    } catch (e) {
      const err = e as { code?: string; message?: string };
      process.stderr.write(`${plan.worker}: ${err.code ?? ''} ${err.message ?? String(e)}\n`);
      closeSync(fd);
      process.exit(1);
    }
  }
}

main(JSON.parse(process.argv[2] ?? '') as PlansCrashPlan).catch((e: unknown) => {
  process.stderr.write(`worker crashed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(2);
});
