/**
 * One hammering process of `npm start` (scripts/scenario.ts). Run as
 *   node --import tsx scripts/scenario-worker.ts '<WorkerPlan as JSON>'
 * Opens the shared SQLite file, prints `{"ready":true}`, waits for `go` on stdin, then runs a
 * seeded mix of debits against the users and prints one JSON line with its counts.
 *
 * The mix:
 * - plain `debitIfCovers` of 1–40 credits, attributed to a model and an API key;
 * - keyed `debitOnceIfCovers` on keys every worker shares (`req-<user>-<slot>`, the amount
 *   derived from the key), so the same request races in from several processes: one
 *   applies, the rest are replays; a third of them is retried at once by the same worker;
 * - now and then a retry with a different amount, which must be refused with
 *   `idempotency_conflict`;
 * - oversized debits that no balance covers (`insufficient`).
 */
import { createInterface } from 'node:readline';
import Database from 'better-sqlite3';
import { drizzle } from 'drizzle-orm/better-sqlite3';
import { createLedger, type DebitResult, isLedgerError } from '../src/index.js';
import { prng } from './prng.js';

export interface WorkerPlan {
  worker: number;
  file: string;
  users: number;
  ops: number;
  seed: number;
}

export type OpKind = 'plain' | 'keyed' | 'retry' | 'oversized';
/** 'capped': the user has a deny cap (scenario.ts sets some) that this debit would pass. */
export type Outcome = 'debited' | 'replayed' | 'insufficient' | 'capped';

export interface WorkerReport {
  worker: number;
  ops: number;
  /** Epoch milliseconds (fractional) when the first call started and the last returned. */
  startedAt: number;
  endedAt: number;
  outcomes: Record<OpKind, Record<Outcome, number>>;
  /** Rows this worker appended, and the credits they took. */
  debitEntries: number;
  keyedDebitEntries: number;
  debitedAmount: number;
  conflictsRefused: number;
  /** Anything the contract does not allow (thrown errors, a replay of a different entry). */
  incidents: string[];
}

const MODELS = ['gpt-4o', 'claude-sonnet', 'llama-3-70b', 'mistral-large'] as const;
const KEY_SLOTS = 8;

/** The amount of a keyed request is a function of its key, so every retry is identical. */
export function amountForKey(key: string): number {
  let h = 2166136261;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 16777619);
  return 1 + ((h >>> 0) % 40);
}

const epochNow = () => performance.timeOrigin + performance.now();

async function main(plan: WorkerPlan): Promise<WorkerReport> {
  const client = new Database(plan.file, { fileMustExist: true });
  client.pragma('journal_mode = WAL');
  client.pragma('busy_timeout = 5000');
  const ledger = createLedger(drizzle(client));
  const rand = prng(plan.seed);
  const int = (lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo + 1));

  const zero = (): Record<Outcome, number> => ({ debited: 0, replayed: 0, insufficient: 0, capped: 0 });
  const report: WorkerReport = {
    worker: plan.worker,
    ops: 0,
    startedAt: 0,
    endedAt: 0,
    outcomes: { plain: zero(), keyed: zero(), retry: zero(), oversized: zero() },
    debitEntries: 0,
    keyedDebitEntries: 0,
    debitedAmount: 0,
    conflictsRefused: 0,
    incidents: [],
  };
  const count = (kind: OpKind, r: DebitResult) => {
    report.ops++;
    report.outcomes[kind][r.outcome]++;
    if (r.outcome === 'debited') {
      report.debitEntries++;
      report.debitedAmount += r.entry.amount;
      if (r.entry.idempotencyKey !== null) report.keyedDebitEntries++;
    }
  };
  // A fifth of the users take half of the traffic, so processes contend on the same heads.
  const pickUser = () => `user_${rand() < 0.5 ? int(0, Math.floor(plan.users / 5) - 1) : int(0, plan.users - 1)}`;

  process.stdout.write(`${JSON.stringify({ ready: true })}\n`);
  await new Promise<void>((resolve) => {
    const rl = createInterface({ input: process.stdin });
    rl.on('line', (line) => {
      if (line.trim() === 'go') {
        rl.close();
        resolve();
      }
    });
  });

  report.startedAt = epochNow();
  for (let i = 0; i < plan.ops; i++) {
    const account = pickUser();
    const roll = rand();
    try {
      if (roll < 0.55) {
        const model = MODELS[int(0, MODELS.length - 1)];
        count('plain', await ledger.debitIfCovers({ account, amount: int(1, 40), model, keyId: `key_${account}_${int(0, 2)}` }));
      } else if (roll < 0.88) {
        const idempotencyKey = `req-${account}-${int(0, KEY_SLOTS - 1)}`;
        const request = { account, amount: amountForKey(idempotencyKey), idempotencyKey, reason: 'inference request' };
        const first = await ledger.debitOnceIfCovers(request);
        count('keyed', first);
        if (rand() < 0.33) {
          // The client timed out and retries: it must get the same entry back, not a second debit.
          const again = await ledger.debitOnceIfCovers(request);
          count('retry', again);
          if (first.entry !== undefined && (again.outcome !== 'replayed' || again.entry.id !== first.entry.id)) {
            report.incidents.push(
              `retry of ${idempotencyKey} returned ${again.outcome} ${again.entry?.id}, not a replay of ${first.entry?.id}`,
            );
          }
        }
        if (first.entry !== undefined && rand() < 0.03) {
          // A buggy client reuses the key for a different amount: refused, nothing written.
          try {
            await ledger.debitOnceIfCovers({ ...request, amount: request.amount + 1 });
            report.incidents.push(`key ${idempotencyKey} reused with another amount was accepted`);
          } catch (e) {
            if (isLedgerError(e, 'idempotency_conflict')) report.conflictsRefused++;
            else throw e;
          }
        }
      } else {
        count('oversized', await ledger.debitIfCovers({ account, amount: int(1_000_000, 2_000_000), reason: 'oversized batch job' }));
      }
    } catch (e) {
      report.incidents.push(`${account}: ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`);
      if (report.incidents.length >= 20) break;
    }
  }
  report.endedAt = epochNow();
  client.close();
  return report;
}

const plan = JSON.parse(process.argv[2] ?? '') as WorkerPlan;
const report = await main(plan);
process.stdout.write(`${JSON.stringify(report)}\n`);
