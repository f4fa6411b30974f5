/**
 * One writer process of test/caps/concurrency.test.ts. Run as
 *   node --import tsx test/support/caps-worker.ts '<CapsWorkerPlan as JSON>'
 * It opens the shared file, prints `ready`, waits for `go <offset>` on stdin, then runs a
 * seeded mix of debits, keyed debits, holds (captured within, beyond or below what they
 * hold, or released) and refunds on accounts with deny caps, with the ledger clock at
 * Date.now() + offset: the parent picks the offset so the run crosses midnight UTC of a
 * Monday, the 1st of a month (a new day, ISO week and month at once). Every result is
 * appended to its log as a JSON line as soon as it comes back.
 *
 * Exit code 0: every call returned an outcome the contract allows; anything else is an
 * incident in the log and exit code 1.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { createInterface } from 'node:readline';
import type { Ledger } from '../../src/index.js';
import { type ConcurrencyDriver, openFileDb } from './concurrency-db.js';
import { prng } from './processes.js';

export interface CapsWorkerPlan {
  driver: ConcurrencyDriver;
  file: string;
  log: string;
  worker: number;
  ops: number;
  lanes: number;
  seed: number;
  accounts: string[];
  models: (string | null)[];
  actors: (string | null)[];
  /** Mean pause between a lane's calls, so the run lasts long enough to cross the boundary. */
  pauseMs: number;
}

export interface CapsAck {
  w: number;
  n: number;
  op: 'debit' | 'debitOnce' | 'hold' | 'capture' | 'release' | 'refund';
  account: string;
  amount: number;
  outcome: string;
  entryId: string | null;
  /** For captures and releases: the hold; for refunds: the entry refunded. */
  ref: string | null;
}

export interface CapsIncident {
  w: number;
  n: number;
  op: string;
  message: string;
}

export type CapsLogLine = ({ type: 'ack' } & CapsAck) | ({ type: 'incident' } & CapsIncident);

const plan = JSON.parse(process.argv[2] ?? '') as CapsWorkerPlan;
const W = plan.worker;
const rand = prng(plan.seed);
const int = (lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo + 1));
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)] as T;
const fd = openSync(plan.log, 'a');
let incidents = 0;
const write = (line: CapsLogLine) => writeSync(fd, `${JSON.stringify(line)}\n`);
const incident = (n: number, op: string, message: string) => {
  incidents++;
  write({ type: 'incident', w: W, n, op, message });
};

const OUTCOMES: Record<CapsAck['op'], string[]> = {
  debit: ['debited', 'insufficient', 'capped'],
  debitOnce: ['debited', 'replayed', 'insufficient', 'capped'],
  hold: ['held', 'insufficient', 'capped'],
  capture: ['captured', 'insufficient', 'capped'],
  release: ['released'],
  refund: ['refunded'],
};

async function main(): Promise<void> {
  let offset = 0;
  // The ledger's clock: the machine's, moved to just before the boundary the parent chose.
  const db = await openFileDb(plan.driver, plan.file, { clock: () => Date.now() + offset });
  const ledger: Ledger = db.ledger;
  process.stdout.write('ready\n');
  offset = await new Promise<number>((resolve) => {
    const rl = createInterface({ input: process.stdin });
    rl.on('line', (line) => {
      const m = /^go (-?\d+)$/.exec(line.trim());
      if (m !== null) {
        rl.close();
        resolve(Number(m[1]));
      }
    });
  });

  const debits: { id: string; account: string; left: number }[] = [];
  let next = 0;
  const ack = (
    n: number,
    op: CapsAck['op'],
    account: string,
    amount: number,
    r: { outcome: string; entry?: { id: string } },
    ref: string | null,
  ) => {
    write({ type: 'ack', w: W, n, op, account, amount, outcome: r.outcome, entryId: r.entry?.id ?? null, ref });
    if (!OUTCOMES[op].includes(r.outcome)) incident(n, op, `unexpected outcome ${r.outcome}`);
  };

  const step = async (n: number) => {
    const account = pick(plan.accounts);
    const who = { model: pick(plan.models) ?? undefined, actor: pick(plan.actors) ?? undefined };
    const roll = rand();
    if (roll < 0.35) {
      const amount = int(1, 20);
      const r = await ledger.debitIfCovers({ account, amount, ...who });
      ack(n, 'debit', account, amount, r, null);
      if (r.outcome === 'debited') debits.push({ id: r.entry.id, account, left: amount });
    } else if (roll < 0.5) {
      const amount = int(1, 20);
      const idempotencyKey = `w${W}-k${n}`;
      const r = await ledger.debitOnceIfCovers({ account, amount, idempotencyKey, ...who });
      ack(n, 'debitOnce', account, amount, r, null);
      if (r.outcome === 'debited') {
        debits.push({ id: r.entry.id, account, left: amount });
        const again = await ledger.debitOnceIfCovers({ account, amount, idempotencyKey, ...who });
        if (again.outcome !== 'replayed' || again.entry.id !== r.entry.id) incident(n, 'debitOnce', `retry gave ${again.outcome}`);
      }
    } else if (roll < 0.85) {
      const amount = int(1, 20);
      const h = await ledger.hold({ account, amount, ttlMs: 3_000, ...who });
      ack(n, 'hold', account, amount, h, null);
      if (h.outcome !== 'held') return;
      await new Promise((r) => setTimeout(r, int(0, plan.pauseMs)));
      const end = rand();
      if (end < 0.2) {
        const r = await ledger.release({ holdId: h.hold.id });
        ack(n, 'release', account, amount, r, h.hold.id);
      } else {
        // Within the hold, all of it, or beyond it (only the extra is checked against the caps).
        const take = end < 0.5 ? int(1, amount) : end < 0.75 ? amount : amount + int(1, 15);
        const c = await ledger.capture({ holdId: h.hold.id, amount: take });
        ack(n, 'capture', account, take, c, h.hold.id);
        if (c.outcome === 'captured') debits.push({ id: c.entry.id, account, left: take });
        else await ledger.release({ holdId: h.hold.id }).then((r) => ack(n, 'release', account, amount, r, h.hold.id));
      }
    } else {
      const d = debits.find((x) => x.left > 0);
      if (d === undefined) return;
      const amount = int(1, d.left);
      d.left -= amount;
      const r = await ledger.refund({ entryId: d.id, amount });
      ack(n, 'refund', d.account, amount, r, d.id);
    }
  };

  const lane = async () => {
    for (;;) {
      const n = next++;
      if (n >= plan.ops) return;
      try {
        await step(n);
      } catch (e) {
        const err = e as { code?: string; message?: string };
        incident(n, 'call', `${err.code ?? ''} ${err.message ?? String(e)}`);
      }
      await new Promise((r) => setTimeout(r, int(0, 2 * plan.pauseMs)));
    }
  };
  await Promise.all(Array.from({ length: plan.lanes }, lane));
  await db.close();
}

main().then(
  () => {
    closeSync(fd);
    process.exit(incidents === 0 ? 0 : 1);
  },
  (e: unknown) => {
    process.stderr.write(`worker ${W} crashed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(2);
  },
);
