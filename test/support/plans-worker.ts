/**
 * One process of test/plans/concurrency.test.ts. Run as
 *   node --import tsx test/support/plans-worker.ts '<PlansWorkerPlan as JSON>'
 *
 * The shared fake clock is a file: its size in bytes, times `tickMs`, after `start`. Every
 * process appends one byte (an O_APPEND write, atomic) before each of its calls, and the
 * ledger's clock reads the size whenever it asks for now — so all processes see one clock
 * that only moves forward, advanced by their calls (never by wall time), and it crosses
 * period boundaries while other processes are inside theirs. Each process runs one call at
 * a time, so the now() values a call read are exactly the ones the ledger used for it.
 *
 * Roles: `debit` (debits of random amounts, some insufficient; refunds of its own debits;
 * balance and subscription reads) and `sweep` (ledger.sweep with small batches). Both stop
 * once the clock has passed `until`. Every result is appended to the log as a JSON line.
 * Exit code 0: every call returned an outcome the contract allows; otherwise an incident
 * line and exit code 1.
 */
import { appendFileSync, closeSync, openSync, readFileSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { type ConcurrencyDriver, openFileDb } from './concurrency-db.js';
import { prng } from './processes.js';

export interface PlansWorkerPlan {
  driver: ConcurrencyDriver;
  file: string;
  clockFile: string;
  start: number;
  tickMs: number;
  /** Stop starting calls once the clock is at or past this. */
  until: number;
  /**
   * The sweeper writes the time of its latest sweep here; a debitor does not move the clock
   * more than one day (of a grid from `start`) past it, so sweeps land in every period
   * however the OS schedules the processes (the sweeper itself never waits: no deadlock).
   */
  sweepFile: string;
  log: string;
  worker: number;
  role: 'debit' | 'sweep';
  seed: number;
  accounts: string[];
  /** Debits are drawn from 1 … this. */
  maxDebit: number;
}

export interface PlansAck {
  w: number;
  n: number;
  op: 'debit' | 'refund' | 'balance' | 'subscription' | 'sweep';
  account: string | null;
  amount: number | null;
  outcome: string;
  entryId: string | null;
  /** The now() values the ledger read during the call (empty: it read none). */
  nows: number[];
  /** The clock when the call came back. */
  tEnd: number;
  /** sweep: subscriptionsSettled. */
  settled?: number;
}

export type PlansLogLine = ({ type: 'ack' } & PlansAck) | { type: 'incident'; w: number; n: number; message: string };

/** The shared clock's time, given its file's size (the parent computes it the same way). */
const clockAt = (plan: Pick<PlansWorkerPlan, 'start' | 'tickMs'>, size: number) => plan.start + size * plan.tickMs;

const OUTCOMES: Record<PlansAck['op'], string[]> = {
  debit: ['debited', 'insufficient'],
  refund: ['refunded'],
  balance: ['read'],
  subscription: ['read'],
  sweep: ['swept'],
};

async function main(plan: PlansWorkerPlan): Promise<void> {
  const W = plan.worker;
  const rand = prng(plan.seed);
  const int = (lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo + 1));
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)] as T;
  const fd = openSync(plan.log, 'a');
  let incidents = 0;
  const write = (line: PlansLogLine) => writeSync(fd, `${JSON.stringify(line)}\n`);
  const read = () => clockAt(plan, statSync(plan.clockFile).size);
  let nows: number[] = [];
  const db = await openFileDb(plan.driver, plan.file, {
    clock: () => {
      const t = read();
      nows.push(t);
      return t;
    },
  });
  const ledger = db.ledger;
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
  const DAY = 86_400_000;
  const day = (t: number) => Math.floor((t - plan.start) / DAY);
  for (let n = 0; n < 100_000; n++) {
    if (plan.role === 'debit') {
      // Waits for the sweeper (a poll of a file, not a timing): its latest sweep is at most a day behind.
      while (day(read() + plan.tickMs) > day(Number(readFileSync(plan.sweepFile, 'utf8'))) + 1 && read() < plan.until)
        await new Promise((r) => setTimeout(r, 2));
    }
    appendFileSync(plan.clockFile, 'x');
    if (read() >= plan.until) break;
    nows = [];
    let ack: Omit<PlansAck, 'w' | 'n' | 'nows' | 'tEnd'>;
    try {
      if (plan.role === 'sweep') {
        const r = await ledger.sweep({ batchSize: int(1, 3) });
        writeFileSync(plan.sweepFile, String(nows[0] ?? read()));
        ack = { op: 'sweep', account: null, amount: null, outcome: 'swept', entryId: null, settled: r.subscriptionsSettled };
      } else {
        const roll = rand();
        const account = pick(plan.accounts);
        if (roll < 0.7) {
          const amount = int(1, plan.maxDebit);
          const r = await ledger.debitIfCovers({ account, amount });
          const entryId = r.outcome === 'debited' ? r.entry.id : null;
          if (entryId !== null) debits.push({ id: entryId, account, left: amount });
          ack = { op: 'debit', account, amount, outcome: r.outcome, entryId };
        } else if (roll < 0.8) {
          await ledger.getBalance(account);
          ack = { op: 'balance', account, amount: null, outcome: 'read', entryId: null };
        } else if (roll < 0.9) {
          await ledger.plans.subscription(account);
          ack = { op: 'subscription', account, amount: null, outcome: 'read', entryId: null };
        } else {
          const d = debits.find((x) => x.left > 0);
          if (d === undefined) continue;
          const amount = int(1, d.left);
          d.left -= amount;
          const r = await ledger.refund({ entryId: d.id, amount });
          ack = { op: 'refund', account: d.account, amount, outcome: r.outcome, entryId: r.entry.id };
        }
      }
    } catch (e) {
      incidents++;
      const err = e as { code?: string; message?: string };
      write({ type: 'incident', w: W, n, message: `${err.code ?? ''} ${err.message ?? String(e)}` });
      continue;
    }
    write({ type: 'ack', w: W, n, ...ack, nows, tEnd: read() });
    if (!OUTCOMES[ack.op].includes(ack.outcome)) {
      incidents++;
      write({ type: 'incident', w: W, n, message: `unexpected outcome ${ack.op}:${ack.outcome}` });
    }
  }
  await db.close();
  closeSync(fd);
  process.exit(incidents === 0 ? 0 : 1);
}

main(JSON.parse(process.argv[2] ?? '') as PlansWorkerPlan).catch((e: unknown) => {
  process.stderr.write(`worker crashed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(2);
});
