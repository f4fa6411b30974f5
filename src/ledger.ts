import { monotonicFactory } from 'ulid';
import { LedgerError } from './errors.js';
import { MAX_AMOUNT } from './limits.js';
import { type MigrateResult, migrate } from './migrate/index.js';
import { adjust } from './ops/adjust.js';
import type { Context } from './ops/context.js';
import { debit } from './ops/debit.js';
import { grant } from './ops/grant.js';
import { getBalance, history, keySpend, stats } from './ops/reads.js';
import { refund } from './ops/refund.js';
import { type AnySQLiteDatabase, type DriverName, type Runner, runnerFor } from './runner/index.js';
import type { EntryKind } from './schema.js';
import type {
  AdjustResult,
  Balance,
  DebitResult,
  GrantResult,
  HistoryPage,
  KeySpend,
  LedgerStats,
  RefundResult,
  VerifyReport,
} from './types.js';
import {
  accountSchema,
  adjustInput,
  debitInput,
  debitOnceInput,
  grantInput,
  historyOptions,
  keyIdSchema,
  keySpendOptions,
  parse,
  refundInput,
} from './validate.js';
import { verify } from './verify.js';

type Metadata = Record<string, unknown>;
interface Attribution {
  reason?: string;
  model?: string;
  keyId?: string;
  actor?: string;
  metadata?: Metadata;
}

export interface GrantInput {
  account: string;
  amount: number;
  idempotencyKey?: string;
  reason?: string;
  actor?: string;
  metadata?: Metadata;
}
export interface DebitInput extends Attribution {
  account: string;
  amount: number;
}
export interface DebitOnceInput extends DebitInput {
  idempotencyKey: string;
}
export interface RefundInput {
  entryId: string;
  amount?: number;
  reason?: string;
  idempotencyKey?: string;
  actor?: string;
  metadata?: Metadata;
}
export interface AdjustInput {
  account: string;
  delta: number;
  reason: string;
  idempotencyKey?: string;
  actor?: string;
  metadata?: Metadata;
}
export interface HistoryOptions {
  limit?: number;
  cursor?: string;
  kinds?: EntryKind[];
}

export interface LedgerOptions {
  /** Milliseconds since the epoch; injectable so expiry and windows are testable. */
  clock?: () => number;
}

/**
 * The facade: validate → build statements → run them as one atomic unit. Every method
 * either returns an outcome or throws a LedgerError before anything is written.
 */
export class Ledger {
  readonly driver: DriverName;
  readonly #ctx: Context;

  constructor(db: AnySQLiteDatabase, options: LedgerOptions = {}) {
    const runner: Runner = runnerFor(db);
    const clock = options.clock ?? Date.now;
    if (typeof clock !== 'function')
      throw new LedgerError('invalid_argument', 'createLedger: clock must be a function returning milliseconds');
    const ulid = monotonicFactory();
    this.driver = runner.driver;
    this.#ctx = {
      runner,
      now: () => {
        const t = clock();
        if (!Number.isSafeInteger(t) || t < 0 || t > MAX_AMOUNT) {
          throw new LedgerError('invalid_argument', `the ledger clock returned ${String(t)}, not integer milliseconds since the epoch`);
        }
        return t;
      },
      // Ids sort by creation time, so the primary-key index grows at its right edge.
      newId: () => ulid(),
    };
  }

  /** Applies the package's own migrations. Idempotent; safe to call at every start. */
  migrate(): Promise<MigrateResult> {
    return migrate(this.#ctx.runner, this.#ctx.now);
  }

  grant(input: GrantInput): Promise<GrantResult> {
    return guard(() => grant(this.#ctx, parse(grantInput, input, 'grant')));
  }

  debitIfCovers(input: DebitInput): Promise<DebitResult> {
    return guard(() => debit(this.#ctx, parse(debitInput, input, 'debitIfCovers')));
  }

  debitOnceIfCovers(input: DebitOnceInput): Promise<DebitResult> {
    return guard(() => debit(this.#ctx, parse(debitOnceInput, input, 'debitOnceIfCovers')));
  }

  refund(input: RefundInput): Promise<RefundResult> {
    return guard(() => refund(this.#ctx, parse(refundInput, input, 'refund')));
  }

  adjust(input: AdjustInput): Promise<AdjustResult> {
    return guard(() => adjust(this.#ctx, parse(adjustInput, input, 'adjust')));
  }

  getBalance(account: string): Promise<Balance> {
    return guard(() => getBalance(this.#ctx, parse(accountSchema, account, 'getBalance', 'invalid_account')));
  }

  history(account: string, options?: HistoryOptions): Promise<HistoryPage> {
    return guard(() =>
      history(this.#ctx, parse(accountSchema, account, 'history', 'invalid_account'), parse(historyOptions, options, 'history') ?? {}),
    );
  }

  keySpend(keyId: string, options?: { from?: number; to?: number }): Promise<KeySpend> {
    return guard(() => keySpend(this.#ctx, parse(keyIdSchema, keyId, 'keySpend'), parse(keySpendOptions, options, 'keySpend') ?? {}));
  }

  stats(): Promise<LedgerStats> {
    return stats(this.#ctx);
  }

  /** The auditor: replays the log and reports every inconsistency it finds. */
  verify(): Promise<VerifyReport> {
    return verify(this.#ctx.runner);
  }
}

/** Validation throws synchronously inside; surface it as a rejected promise like the rest. */
async function guard<T>(fn: () => Promise<T>): Promise<T> {
  return fn();
}

export function createLedger(db: AnySQLiteDatabase, options?: LedgerOptions): Ledger {
  return new Ledger(db, options);
}
