import { type Alerts, createAlerts } from './alerts/index.js';
import { appStatements, type WriteOptions } from './app-statements.js';
import { type Caps, createCaps } from './caps/index.js';
import { digest, type LogDigest } from './digest.js';
import { LedgerError } from './errors.js';
import { createEvents, type Events } from './events/index.js';
import { guard } from './guard.js';
import { createIds } from './ids.js';
import { BATCH_CHUNK_OPS, BATCH_MAX_OPS, HOLD_DEFAULT_TTL_MS, MAX_AMOUNT, SWEEP_BATCH } from './limits.js';
import { MIGRATIONS } from './migrate/embedded.generated.js';
import { type MigrateResult, migrate } from './migrate/index.js';
import { adjust, planAdjust } from './ops/adjust.js';
import type { Context, Plan } from './ops/context.js';
import { debit, planDebit } from './ops/debit.js';
import { grant, planGrant } from './ops/grant.js';
import { capture, extendHold, hold, openHolds, planCapture, planHold, planRelease, release } from './ops/holds.js';
import { allocations, expiring, lots } from './ops/lots.js';
import { getBalance, history, keySpend, stats } from './ops/reads.js';
import { planRefund, refund } from './ops/refund.js';
import { type SweepOptions, sweep } from './ops/sweep.js';
import { createPlans, type Plans } from './plans/index.js';
import { batchCharge, charge, chargeCard, planCharge } from './pricing/charge.js';
import { createPricing, type Pricing } from './pricing/index.js';
import type { ChargeInput, ChargeResult } from './pricing/types.js';
import { chargeInput } from './pricing/validate.js';
import { type RebuildReport, rebuild } from './rebuild.js';
import { type AnySQLiteDatabase, type DriverName, type Runner, runnerFor } from './runner/index.js';
import { checkingSchema } from './runner/schema-check.js';
import type { EntryKind } from './schema.js';
import { createTeams, type Teams } from './teams/index.js';
import { planTransfer, transfer } from './transfers/ops.js';
import type { TransferInput, TransferResult } from './transfers/types.js';
import { parseTransfer } from './transfers/validate.js';
import type {
  AdjustResult,
  Allocation,
  Balance,
  CaptureResult,
  DebitResult,
  Entry,
  ExtendResult,
  GrantResult,
  HistoryPage,
  Hold,
  HoldResult,
  KeySpend,
  LedgerStats,
  Lot,
  RefundResult,
  ReleaseResult,
  SweepReport,
  VerifyReport,
} from './types.js';
import { Analytics, foldAfterSweep } from './usage/analytics.js';
import { entries, entry } from './usage/feed.js';
import type { EntriesPage } from './usage/types.js';
import { entriesInput, entryIdInput } from './usage/validate.js';
import {
  accountSchema,
  adjustInput,
  captureInput,
  debitInput,
  debitOnceInput,
  entryIdSchema,
  expiringOptions,
  extendInput,
  grantInput,
  historyOptions,
  holdInput,
  keyIdSchema,
  keySpendOptions,
  parse,
  refundInput,
  releaseInput,
  sweepOptions,
  verifyOptions,
} from './validate.js';
import { verify } from './verify.js';
import { createWebhooks, type Webhooks } from './webhooks/index.js';

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
  /** Opens an expiring lot: the rest of this grant stops counting at this millisecond. */
  expiresAt?: number;
  /** Opens a lot drawn in this order (0–100, lower first; 50 is the default). */
  priority?: number;
}
export interface HoldInput extends Attribution {
  account: string;
  amount: number;
  /** Default 15 minutes, at most 30 days. */
  ttlMs?: number;
  idempotencyKey?: string;
}
export interface CaptureInput {
  holdId: string;
  /** Default: the held amount. Less releases the rest; more must be covered. */
  amount?: number;
  idempotencyKey?: string;
  reason?: string;
  actor?: string;
  metadata?: Metadata;
}
export interface ReleaseInput {
  holdId: string;
  reason?: string;
  actor?: string;
}
export interface ExtendHoldInput {
  holdId: string;
  /** The hold now ends this long after the ledger clock's now. */
  ttlMs: number;
  reason?: string;
  actor?: string;
}
export interface SweepInput {
  dryRun?: boolean;
  batchSize?: number;
  onProgress?: SweepOptions['onProgress'];
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

/** One operation of `ledger.batch()`: the same input as the single call, tagged with `op`. */
export type BatchOp =
  | ({ op: 'grant' } & GrantInput)
  | ({ op: 'debit' } & DebitInput)
  | ({ op: 'debitOnce' } & DebitOnceInput)
  | ({ op: 'refund' } & RefundInput)
  | ({ op: 'adjust' } & AdjustInput)
  | ({ op: 'hold' } & HoldInput)
  | ({ op: 'capture' } & CaptureInput)
  | ({ op: 'release' } & ReleaseInput)
  | ({ op: 'charge' } & ChargeInput)
  | ({ op: 'transfer' } & TransferInput);

/** A batch op that the ledger refused for its own reason (conflict, not found, …); it wrote nothing. */
export interface Rejected {
  outcome: 'rejected';
  error: LedgerError;
}

export type BatchResult =
  | GrantResult
  | DebitResult
  | RefundResult
  | AdjustResult
  | HoldResult
  | CaptureResult
  | ReleaseResult
  | ChargeResult
  | TransferResult
  | Rejected;

export interface LedgerOptions {
  /** Milliseconds since the epoch; injectable so expiry and windows are testable. */
  clock?: () => number;
  /**
   * Entry ids are this prefix and the entry's position in the log (`ce_1024`). Give each
   * database of a deployment sharded by account its own prefix to keep ids unique across
   * them. Default `ce_`. Changing it later makes earlier ids unknown to this ledger.
   */
  idPrefix?: string;
}

/**
 * The facade: validate → build statements → run them as one atomic unit. Every method
 * either returns an outcome or throws a LedgerError before anything is written.
 */
export class Ledger {
  readonly driver: DriverName;
  /** Usage analytics: spend by account, model, key, actor, day or hour; top spenders; summaries. */
  readonly analytics: Analytics;
  /** Spend caps per window and the account floor (src/caps/). */
  readonly caps: Caps;
  /** Plans with period allowances, subscriptions and entitlements (src/plans/). */
  readonly plans: Plans;
  /** Versioned rate cards and quotes (src/pricing/); `charge` prices and spends. */
  readonly pricing: Pricing;
  /** Teams: accounts with members and roles, checked inside every spend that names an actor (src/teams/). */
  readonly teams: Teams;
  /** The transactional outbox: events written with the changes that cause them (src/events/). */
  readonly events: Events;
  /** Low-balance thresholds and expiring-credit notices that write events (src/alerts/). */
  readonly alerts: Alerts;
  /** Standard Webhooks delivery of the outbox: endpoints, signed at-least-once delivery, retries (src/webhooks/). */
  readonly webhooks: Webhooks;
  readonly #ctx: Context;

  constructor(db: AnySQLiteDatabase, options: LedgerOptions = {}) {
    // Writes only to the schema this package's migrate() built, checked on the first write.
    const runner: Runner = checkingSchema(runnerFor(db), MIGRATIONS.length);
    const clock = options.clock ?? Date.now;
    if (typeof clock !== 'function')
      throw new LedgerError('invalid_argument', 'createLedger: clock must be a function returning milliseconds');
    const ids = createIds(options.idPrefix);
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
      ids,
    };
    this.analytics = new Analytics(this.#ctx);
    this.caps = createCaps(this.#ctx);
    this.plans = createPlans(this.#ctx);
    this.pricing = createPricing(this.#ctx);
    this.teams = createTeams(this.#ctx);
    this.events = createEvents(this.#ctx);
    this.alerts = createAlerts(this.#ctx);
    this.webhooks = createWebhooks(this.#ctx);
  }

  /** Applies the package's own migrations. Idempotent; safe to call at every start. */
  migrate(): Promise<MigrateResult> {
    return guard(() => migrate(this.#ctx.runner, this.#ctx.now));
  }

  // Every money operation takes `options.with`: the app's own statements, committed in the
  // same atomic unit only if the operation applies (see app-statements.ts).

  grant(input: GrantInput, options?: WriteOptions): Promise<GrantResult> {
    return guard(() => grant(this.#ctx, parse(grantInput, input, 'grant'), appStatements(options, 'grant')));
  }

  debitIfCovers(input: DebitInput, options?: WriteOptions): Promise<DebitResult> {
    return guard(() => debit(this.#ctx, parse(debitInput, input, 'debitIfCovers'), appStatements(options, 'debitIfCovers')));
  }

  debitOnceIfCovers(input: DebitOnceInput, options?: WriteOptions): Promise<DebitResult> {
    return guard(() => debit(this.#ctx, parse(debitOnceInput, input, 'debitOnceIfCovers'), appStatements(options, 'debitOnceIfCovers')));
  }

  refund(input: RefundInput, options?: WriteOptions): Promise<RefundResult> {
    return guard(() => refund(this.#ctx, parse(refundInput, input, 'refund'), appStatements(options, 'refund')));
  }

  adjust(input: AdjustInput, options?: WriteOptions): Promise<AdjustResult> {
    return guard(() => adjust(this.#ctx, parse(adjustInput, input, 'adjust'), appStatements(options, 'adjust')));
  }

  /**
   * Prices `usage` of `model` with the active pricing version (or `version`) and spends it in
   * the same atomic unit: a debit, or with `holdId` a capture of the hold at the priced amount.
   * Outcomes as a debit's, with the `quote`; `free` (nothing written) when it rounds to 0.
   */
  charge(input: ChargeInput, options?: WriteOptions): Promise<ChargeResult> {
    return guard(() => charge(this.#ctx, parse(chargeInput, input, 'charge'), appStatements(options, 'charge')));
  }

  /**
   * Moves credits from one account to another in one atomic statement, guarded on `from` like a
   * debit (covers, deny caps, the team role of `actor`). Credits keep their lots: what it draws
   * from expiring or prioritised lots arrives on `to` as lots with the same expiry and priority.
   * Not refundable: reverse it with a transfer the other way.
   */
  transfer(input: TransferInput, options?: WriteOptions): Promise<TransferResult> {
    return guard(() => transfer(this.#ctx, parseTransfer(input, 'transfer'), appStatements(options, 'transfer')));
  }

  /**
   * Applies many operations in order, as one atomic unit per chunk: one transaction on
   * better-sqlite3 and bun:sqlite (the whole batch), one `batch` round trip per
   * ${BATCH_CHUNK_OPS} ops on D1 and libSQL. Each op has the same guards as the single call
   * and sees the effect of the ops before it. Bad input anywhere throws before anything is
   * written; an op the ledger refuses (conflict, not found, exceeds…) comes back as
   * `{ outcome: 'rejected', error }` and the others still apply.
   */
  batch(ops: readonly BatchOp[]): Promise<BatchResult[]> {
    return guard(async () => {
      if (!Array.isArray(ops)) throw new LedgerError('invalid_argument', 'batch: ops must be an array');
      if (ops.length > BATCH_MAX_OPS) throw new LedgerError('invalid_argument', `batch: at most ${BATCH_MAX_OPS} ops, got ${ops.length}`);
      // Array.from: a sparse array's holes become undefined and are rejected, not skipped.
      const parsed = Array.from(ops, (o, i) => this.#parseBatchOp(o, i));
      // A charge op may read its pricing version first; without one, the unit starts at once
      // (inside the app's synchronous transaction callback, which refuses it).
      // One time for the whole batch: its ops are one atomic unit, and the settle statements of
      // an account (a due allowance) are then the same for each of its ops and sent once.
      const at = this.#ctx.now();
      const ctx: Context = { ...this.#ctx, now: () => at };
      const made = parsed.map((p) => p(ctx));
      const plans = made.some((p) => p instanceof Promise) ? await Promise.all(made) : (made as Plan<unknown>[]);
      const chunk = this.#ctx.runner.driver === 'd1' || this.#ctx.runner.driver === 'libsql' ? BATCH_CHUNK_OPS : Math.max(1, plans.length);
      const out: BatchResult[] = [];
      for (let i = 0; i < plans.length; i += chunk) {
        const part = plans.slice(i, i + chunk);
        const results = await this.#ctx.runner.writeMany(part.map((p) => p.unit));
        part.forEach((p, j) => {
          try {
            out.push(p.decode(results[j] as never) as BatchResult);
          } catch (e) {
            if (!(e instanceof LedgerError)) throw e;
            out.push({ outcome: 'rejected', error: e });
          }
        });
      }
      return out;
    });
  }

  #parseBatchOp(o: unknown, i: number): (ctx: Context) => Plan<unknown> | Promise<Plan<unknown>> {
    if (o === null || typeof o !== 'object' || Array.isArray(o))
      throw new LedgerError('invalid_argument', `batch[${i}]: an op must be an object`);
    const { op, ...input } = o as { op?: unknown };
    const at = `batch[${i}] ${typeof op === 'string' ? op : typeof op}`;
    switch (op) {
      case 'grant': {
        const req = parse(grantInput, input, at);
        return (ctx) => planGrant(ctx, req);
      }
      case 'debit': {
        const req = parse(debitInput, input, at);
        return (ctx) => planDebit(ctx, req);
      }
      case 'debitOnce': {
        const req = parse(debitOnceInput, input, at);
        return (ctx) => planDebit(ctx, req);
      }
      case 'refund': {
        const req = parse(refundInput, input, at);
        return (ctx) => planRefund(ctx, req);
      }
      case 'adjust': {
        const req = parse(adjustInput, input, at);
        return (ctx) => planAdjust(ctx, req);
      }
      case 'hold': {
        const req = parse(holdInput, input, at);
        return (ctx) => planHold(ctx, Object.assign(req, { ttlMs: req.ttlMs ?? HOLD_DEFAULT_TTL_MS }));
      }
      case 'capture': {
        const req = parse(captureInput, input, at);
        return (ctx) => planCapture(ctx, req);
      }
      case 'release': {
        const req = parse(releaseInput, input, at);
        return (ctx) => planRelease(ctx, req);
      }
      case 'transfer': {
        const req = parseTransfer(input, at);
        return (ctx) => planTransfer(ctx, req);
      }
      case 'charge': {
        const req = parse(chargeInput, input, at);
        return (ctx) => {
          const card = chargeCard(ctx, req, false);
          const plan = (c: Awaited<typeof card>) => batchCharge(planCharge(ctx, req, c, req.version === undefined));
          return card instanceof Promise ? card.then(plan) : plan(card);
        };
      }
      default:
        throw new LedgerError(
          'invalid_argument',
          `batch[${i}]: unknown op ${typeof op === 'string' ? JSON.stringify(op) : `(a ${typeof op})`}`,
          {
            index: i,
          },
        );
    }
  }

  /** Reserve credits: lowers `available`, not `balance`, until captured, released or lapsed. */
  hold(input: HoldInput, options?: WriteOptions): Promise<HoldResult> {
    return guard(() => {
      const req = parse(holdInput, input, 'hold');
      return hold(this.#ctx, Object.assign(req, { ttlMs: req.ttlMs ?? HOLD_DEFAULT_TTL_MS }), appStatements(options, 'hold'));
    });
  }

  capture(input: CaptureInput, options?: WriteOptions): Promise<CaptureResult> {
    return guard(() => capture(this.#ctx, parse(captureInput, input, 'capture'), appStatements(options, 'capture')));
  }

  /** Idempotent: releasing a released hold replays the release. */
  release(input: ReleaseInput, options?: WriteOptions): Promise<ReleaseResult> {
    return guard(() => release(this.#ctx, parse(releaseInput, input, 'release'), appStatements(options, 'release')));
  }

  extendHold(input: ExtendHoldInput): Promise<ExtendResult> {
    return guard(() => extendHold(this.#ctx, parse(extendInput, input, 'extendHold')));
  }

  /** Holds of the account that are open and still count now. */
  holds(account: string): Promise<Hold[]> {
    return guard(() => openHolds(this.#ctx, parse(accountSchema, account, 'holds', 'invalid_account')));
  }

  /** Open lots, in the order debits draw them. */
  lots(account: string): Promise<Lot[]> {
    return guard(() => lots(this.#ctx, parse(accountSchema, account, 'lots', 'invalid_account')));
  }

  /** Lots with credits left that lapse within `withinMs` from now. */
  expiring(account: string, options: { withinMs: number }): Promise<Lot[]> {
    return guard(() =>
      expiring(
        this.#ctx,
        parse(accountSchema, account, 'expiring', 'invalid_account'),
        parse(expiringOptions, options, 'expiring').withinMs,
      ),
    );
  }

  /** Which lots an entry drew from (or a refund gave back to). */
  allocations(entryId: string): Promise<Allocation[]> {
    return guard(() => allocations(this.#ctx, parse(entryIdSchema, entryId, 'allocations')));
  }

  /** Writes `expire` rows for lapsed lots and holds (balances were already exact without it). */
  sweep(options?: SweepInput): Promise<SweepReport> {
    return guard(() => {
      const o = parse(sweepOptions, options, 'sweep') ?? {};
      return sweep(this.#ctx, o.batchSize ?? SWEEP_BATCH, { dryRun: o.dryRun, onProgress: options?.onProgress }).then((r) =>
        foldAfterSweep(this.#ctx, r),
      );
    });
  }

  /** Drops and re-derives every projection from the log. */
  rebuild(): Promise<RebuildReport> {
    return guard(() => rebuild(this.#ctx.runner, this.#ctx.ids, this.#ctx.now()));
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

  /** The whole log in commit order, a page at a time: a change feed for exports. */
  entries(options?: { after?: string; limit?: number }): Promise<EntriesPage> {
    return guard(() => entries(this.#ctx, parse(entriesInput, options, 'entries') ?? {}));
  }

  /** One entry by id (any account), or null. */
  entry(id: string): Promise<Entry | null> {
    return guard(() => entry(this.#ctx, parse(entryIdInput, id, 'entry')));
  }

  stats(): Promise<LedgerStats> {
    return guard(() => stats(this.#ctx));
  }

  /**
   * The auditor: replays the log and reports every inconsistency it finds. With a `digest`
   * from `digest()`, it also proves that none of the rows the digest covers was edited,
   * deleted, inserted or reordered since (problem `digest_mismatch`).
   */
  verify(options?: { digest?: string }): Promise<VerifyReport> {
    return guard(() => verify(this.#ctx.runner, this.#ctx.ids, parse(verifyOptions, options, 'verify') ?? {}, this.#ctx.now()));
  }

  /**
   * A digest of the log as it stands (a SHA-256 chain over every row in commit order). Store
   * it where the database's writers cannot reach, and pass it to `verify({ digest })` later.
   * Reads the whole log once; writes nothing.
   */
  digest(): Promise<LogDigest> {
    return guard(() => digest(this.#ctx.runner));
  }
}

export function createLedger(db: AnySQLiteDatabase, options?: LedgerOptions): Ledger {
  return new Ledger(db, options);
}
