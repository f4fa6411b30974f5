/**
 * What test/concurrency-sweep.test.ts hands its worker processes, and the JSON lines they
 * write back. Shared by the parent and test/support/concurrency-sweep-worker.ts.
 */
import type { SweepReport } from '../../src/index.js';
import type { ConcurrencyDriver } from './concurrency-db.js';

export type SweepRole = 'debit' | 'sweep';

/** Given in argv when the process starts (before the parent has set anything up). */
export interface SweepWorkerPlan {
  driver: ConcurrencyDriver;
  file: string;
  log: string;
  worker: number;
  role: SweepRole;
  seed: number;
  /** Async loops on the worker's one connection (debit workers). */
  lanes: number;
  accounts: string[];
  /** Relative weight of each account when a debit worker picks one (hot vs cold accounts). */
  weights: number[];
  /** Accounts the worker's own grants go to (the hot ones get none, so they run dry). */
  grantAccounts: string[];
  /** Sweep batch sizes are drawn from 1 … this. */
  maxBatch: number;
}

/** Sent on stdin as one JSON line once the parent has granted the lots and placed the holds. */
export interface SweepGo {
  /** Date.now() at which every worker stops starting new calls. */
  until: number;
  /** Holds the parent placed; debit workers race each other (and the sweepers) to close them. */
  sharedHolds: Array<{ id: string; account: string; amount: number; expiresAt: number }>;
}

export type SweepAckOp =
  | 'grant'
  | 'grantLot'
  | 'debit'
  | 'debitOnce'
  | 'hold'
  | 'capture'
  | 'release'
  | 'extend'
  | 'refund'
  | 'captureShared'
  | 'releaseShared';

/** One acknowledged result of a debit worker, written the moment it came back. */
export interface SweepAck {
  w: number;
  n: number;
  op: SweepAckOp;
  /** A repeat of the call just before it, same key and parameters. */
  retry: boolean;
  account: string;
  /** What was asked (captures: undefined = the whole hold, logged as null). */
  amount: number | null;
  key: string | null;
  /** Refunds: the debit or capture; hold operations: the hold. */
  ref: string | null;
  /** The outcome, or `error:<code>` for a LedgerError the contract allows here. */
  outcome: string;
  entryId: string | null;
  /** The entry's own fields, as the call returned them. */
  entryKind: string | null;
  entryAmount: number | null;
  entryRef: string | null;
  /** Posted balance after the entry (the row's `balance`). */
  entryBalance: number | null;
  /** Holds: when the hold (as returned) ends. */
  expiresAt: number | null;
  /** Date.now() just before the call and when it came back. */
  t0: number;
  t: number;
}

/** One completed ledger.sweep() of a sweeper process. */
export interface SweepRun {
  w: number;
  n: number;
  batchSize: number;
  report: SweepReport;
  t0: number;
  t: number;
}

export interface SweepIncident {
  w: number;
  n: number;
  kind: 'error' | 'violation';
  op: string;
  message: string;
  code?: string;
}

export type SweepLogLine = ({ type: 'ack' } & SweepAck) | ({ type: 'sweep' } & SweepRun) | ({ type: 'incident' } & SweepIncident);

export { prng } from './processes.js';
