/**
 * What the reliability workers and the parent say to each other: the plan (argv JSON),
 * and the JSON lines a worker appends to its log — an `intent` before each ledger call,
 * an `ack` after it returned (or threw).
 */
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, writeSync } from 'node:fs';
import type {
  AdjustInput,
  BatchOp,
  CaptureInput,
  DebitInput,
  DebitOnceInput,
  GrantInput,
  HoldInput,
  RefundInput,
  ReleaseInput,
  TransferInput,
} from '../../../src/index.js';
import type { Driver, Synchronous } from './db.js';

/** A key every worker (and, in the crash test, every round) uses with the same parameters. */
export interface SharedKey {
  key: string;
  account: string;
  amount: number;
}

export interface SharedGrantKey extends SharedKey {
  expiresAt: number | null;
  priority: number | null;
}

export interface WorkerPlan {
  mode: 'contention' | 'crash';
  driver: Driver;
  file: string;
  log: string;
  synchronous: Synchronous;
  /** Worker label, unique across the run (`w3`, `r12w1`): prefix of every tag it writes. */
  name: string;
  seed: number;
  /** Operations to run; the crash writer ignores it and loops until it is killed. */
  ops: number;
  /** Async loops sharing the worker's one connection. */
  lanes: number;
  /** [k, n]: this writer takes every n-th refund target and open hold, from the k-th (crash test). */
  part: [number, number];
  accounts: string[];
  sharedDebits: SharedKey[];
  sharedGrants: SharedGrantKey[];
  /** Write each ack with fsync (crash test) or just write(2) (contention test). */
  fsyncAcks: boolean;
}

/**
 * The app's row a single call commits `with` it (crash test): app_ledger_links gets
 * (entry_note = the call's reason, account, amount) if and only if the call applies.
 */
export interface AppLink {
  account: string;
  /** The amount of the entry the call writes (a capture without an amount: the hold's). */
  amount: number;
}

/** A ledger call, exactly as sent: the parent can repeat it. */
export type Call = (
  | { method: 'grant'; input: GrantInput }
  | { method: 'debitIfCovers'; input: DebitInput }
  | { method: 'debitOnceIfCovers'; input: DebitOnceInput }
  | { method: 'refund'; input: RefundInput }
  | { method: 'adjust'; input: AdjustInput }
  | { method: 'hold'; input: HoldInput }
  | { method: 'capture'; input: CaptureInput }
  | { method: 'release'; input: ReleaseInput }
  | { method: 'transfer'; input: TransferInput }
  | { method: 'sweep'; input: { batchSize?: number } }
  | { method: 'batch'; input: BatchOp[] }
) & { link?: AppLink };

/** The part of an entry the parent compares with the row. */
export interface EntrySummary {
  id: string;
  account: string;
  kind: string;
  delta: number;
  amount: number;
  balance: number;
  ref: string | null;
  key: string | null;
  reason: string | null;
}

/** One result: a single call has one, a batch one per op. */
export interface OpResult {
  outcome: string;
  entry?: EntrySummary;
  /** A transfer's rows on `to` (its `entry` is the row that left `from`). */
  arrivals?: EntrySummary[];
  /** LedgerError code of a rejected batch op or of a thrown error. */
  code?: string;
}

export interface IntentLine {
  type: 'intent';
  tag: string;
  call: Call;
  t: number;
}

export interface AckLine {
  type: 'ack';
  tag: string;
  /** Results in call order; empty when the call threw. */
  results: OpResult[];
  /** The call threw: its error code (or the error's name) and message. */
  error?: { code: string; message: string };
  t: number;
  ms: number;
}

export type LogLine = IntentLine | AckLine;

export const APPLIED = new Set(['granted', 'debited', 'refunded', 'adjusted', 'held', 'captured', 'released', 'transferred']);

/** Appends JSON lines with write(2) per line; with `fsync`, acks are also fsync'd before the call returns. */
export class LineLog {
  readonly #fd: number;
  constructor(
    path: string,
    private readonly fsyncAcks: boolean,
  ) {
    this.#fd = openSync(path, 'a');
  }
  write(line: LogLine): void {
    writeSync(this.#fd, `${JSON.stringify(line)}\n`);
    if (this.fsyncAcks && line.type !== 'intent') fsyncSync(this.#fd);
  }
  close(): void {
    closeSync(this.#fd);
  }
}

/**
 * Reads a worker's log. A process killed in the middle of write(2) could leave a torn last
 * line; it is skipped and counted (a torn ack is not an acknowledgement).
 */
export function readLog(path: string): { lines: LogLine[]; torn: number } {
  if (!existsSync(path)) return { lines: [], torn: 0 };
  const lines: LogLine[] = [];
  let torn = 0;
  for (const text of readFileSync(path, 'utf8').split('\n')) {
    if (text === '') continue;
    try {
      lines.push(JSON.parse(text) as LogLine);
    } catch {
      torn++;
    }
  }
  return { lines, torn };
}
