import { coverableOf, explainRefusal, warningsOf } from '../caps/decode.js';
import { CAP_WARNINGS, CAPS_ALLOW, CAPS_EXPLAIN, FLOOR, type SpendOp } from '../caps/guard.js';
import { num, toEntry } from '../entry.js';
import { LedgerError } from '../errors.js';
import { ENTRY_POS, type Ids, idArgs } from '../ids.js';
import { MAX_AMOUNT } from '../limits.js';
import { NOT_DUE } from '../plans/guard.js';
import { settleAccount, settleOfEntry } from '../plans/settle.js';
import type { Row, Statement, Unit, UnitResult } from '../runner/index.js';
import {
  DRAW,
  ENTRY_COLUMNS,
  EXPIRED,
  HELD,
  headJoin,
  int,
  RETURNING_WITH_BALANCE,
  SELECT_BY_KEY,
  SNAPSHOT_OF_ENTRY,
  SPEND_GUARD,
  snapshotOf,
} from '../sql.js';
import { TEAM_ALLOWS } from '../teams/guard.js';
import type { CaptureResult, ExtendResult, Hold, HoldResult, HoldStatus, ReleaseResult } from '../types.js';
import { assertSameRequest, type Context, type Extension, extended, fingerprintOf, type Plan, runPlan } from './context.js';
import { SPEND_SNAPSHOT } from './debit.js';
import { after } from './grant.js';

export interface HoldRequest {
  account: string;
  amount: number;
  ttlMs: number;
  idempotencyKey?: string;
  reason?: string;
  model?: string;
  keyId?: string;
  actor?: string;
  metadata?: string;
}

export interface CaptureRequest {
  holdId: string;
  amount?: number;
  idempotencyKey?: string;
  reason?: string;
  actor?: string;
  metadata?: string;
  /** Attribution recorded instead of the hold's (a charge's model and key); default the hold's. */
  model?: string;
  keyId?: string;
  /** A family's additions (a charge: its account and pricing version checks, its replay rule). */
  extension?: Extension;
}

export interface ReleaseRequest {
  holdId: string;
  reason?: string;
  actor?: string;
}

export interface ExtendRequest {
  holdId: string;
  ttlMs: number;
  reason?: string;
  actor?: string;
}

/**
 * RETURNING for rows that act on a hold: the hold's fields as they stand before the
 * statement's triggers close or extend it (SQLite evaluates RETURNING before AFTER triggers).
 */
const RETURNING_HOLD = `${RETURNING_WITH_BALANCE},
  (SELECT amount FROM credit_hold WHERE id = credit_entry.ref) AS hold_amount,
  (SELECT expires_at FROM credit_hold WHERE id = credit_entry.ref) AS hold_expires_at,
  (SELECT created_at FROM credit_hold WHERE id = credit_entry.ref) AS hold_created_at`;

// A hold is a delta-0 row: it changes what is available, not what is posted. It must be
// covered like a debit of the same amount, and pass the deny caps it matches (open holds
// count against them). The trigger `credit_entry_opens_hold` opens the reservation, with the
// hold's model, key and actor, inside the same statement.
const HOLD_OP: SpendOp = { account: 'p.account', model: 'p.model', keyId: 'p.key_id', actor: 'p.actor', now: 'p.now', amount: 'p.amount' };
const HOLD = `INSERT INTO credit_entry (${ENTRY_COLUMNS})
SELECT p.account, h.seq + 1, 'hold', 0, p.amount, h.balance,
       p.reason, p.ikey, NULL, p.model, p.key_id, p.actor, p.metadata, p.now + p.ttl, NULL, p.now, NULL
FROM (SELECT ? AS account, ${int('amount')}, ${int('ttl')}, ? AS reason, ? AS ikey, ? AS model, ? AS key_id, ? AS actor,
             ? AS metadata, ${int('now')}) AS p
JOIN credit_entry AS h ON ${headJoin('h', 'p.account')}
WHERE ${SPEND_GUARD('h', HOLD_OP)}
ON CONFLICT (account, kind, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
${RETURNING_WITH_BALANCE}, ${CAP_WARNINGS('hold')}`;

/** The open hold `p.hold`, still within its TTL at `p.now`. */
const LIVE_HOLD = `credit_hold AS hx JOIN credit_entry AS he ON he.pos = hx.id
  WHERE hx.id = p.hold AND hx.status = 'open' AND hx.expires_at > p.now`;

/** A capture as the guard fragments see it: `c` (the hold and what is captured) and the hold's row `ch`. */
const CAPTURE_OP: SpendOp = {
  account: 'c.account',
  model: 'c.model',
  keyId: 'c.key_id',
  actor: 'c.actor',
  now: 'p.now',
  amount: 'c.amt',
  hold: 'ch',
};

// Capturing up to the held amount is covered by the hold itself; more than held needs the
// extra covered by what is available besides (down to the floor). Lots past expiry can still
// make a capture insufficient: a hold reserves an amount, not particular credits. The deny
// caps see only what the capture adds beyond the hold they already count (CAPS_ALLOW with
// `hold`). The capture spends in its own window; that is safe because an open hold counts
// against every window it stays open in. It keeps the hold's model and key, and its actor
// unless the call names another, so member caps attribute the spend to the holder. The
// trigger `credit_entry_resolves_hold` closes the hold inside the same statement.
const CAPTURE = (
  where: string,
) => `WITH p AS (SELECT ${ENTRY_POS} AS hold, ${int('amount')}, ? AS reason, ? AS ikey, ? AS actor, ? AS metadata,
             ? AS model, ? AS key_id, ${int('now')}),
c AS (SELECT hx.id, hx.account, hx.amount AS held, COALESCE(p.amount, hx.amount) AS amt, COALESCE(p.model, he.model) AS model,
             COALESCE(p.key_id, he.key_id) AS key_id, COALESCE(p.actor, he.actor) AS actor FROM p JOIN ${LIVE_HOLD})
INSERT INTO credit_entry (${ENTRY_COLUMNS})
SELECT c.account, h.seq + 1, 'capture', -c.amt, c.amt, h.balance - c.amt,
       p.reason, p.ikey, c.id, c.model, c.key_id, c.actor, p.metadata, NULL, NULL, p.now,
       ${DRAW('c.account', 'p.now', 'c.amt')}
FROM p JOIN c JOIN credit_hold AS ch ON ch.id = c.id JOIN credit_entry AS h ON ${headJoin('h', 'c.account')}
WHERE ${NOT_DUE('c.account', 'p.now')} AND ${TEAM_ALLOWS('c.account', 'c.actor')}
  AND h.balance - ${EXPIRED('c.account', 'p.now')} - ${HELD('c.account', 'p.now')} + c.held - c.amt >= ${FLOOR('c.account')}
  AND ${CAPS_ALLOW(CAPTURE_OP)}${where}
ON CONFLICT (account, kind, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
${RETURNING_HOLD}, ${CAP_WARNINGS('capture')}`;

/**
 * Why a capture did nothing: the hold's account's numbers and the deny caps the capture
 * matches, with what it would add beyond the hold. Args: now, amount, actor, hold pos, legacy id.
 */
const CAPTURE_SNAPSHOT = snapshotOf(
  `hx.account AS account, CAST(? AS INTEGER) AS now, COALESCE(CAST(? AS INTEGER), hx.amount) AS amount, he.model AS model,
   he.key_id AS key_id, COALESCE(?, he.actor) AS actor, hx.id AS hold_id
   FROM credit_hold AS hx JOIN credit_entry AS he ON he.pos = hx.id WHERE hx.id = ${ENTRY_POS}`,
  `, (SELECT ${CAPS_EXPLAIN({ ...CAPTURE_OP, account: 'p.account', model: 'p.model', keyId: 'p.key_id', actor: 'p.actor', amount: 'p.amount' })}
      FROM credit_hold AS ch WHERE ch.id = p.hold_id) AS caps, ${TEAM_ALLOWS('p.account', 'p.actor')} AS allowed, p.actor AS actor`,
);

const RELEASE = `WITH p AS (SELECT ${ENTRY_POS} AS hold, ? AS reason, ? AS actor, ${int('now')}),
c AS (SELECT hx.id, hx.account, hx.amount FROM p JOIN ${LIVE_HOLD})
INSERT INTO credit_entry (${ENTRY_COLUMNS})
SELECT c.account, h.seq + 1, 'release', 0, c.amount, h.balance,
       p.reason, NULL, c.id, NULL, NULL, p.actor, NULL, NULL, NULL, p.now, NULL
FROM p JOIN c JOIN credit_entry AS h ON ${headJoin('h', 'c.account')}
WHERE c.amount > 0
${RETURNING_HOLD}`;

// The trigger `credit_entry_extends_hold` moves the hold's expiry inside the same statement.
const EXTEND = `WITH p AS (SELECT ${ENTRY_POS} AS hold, ${int('ttl')}, ? AS reason, ? AS actor, ${int('now')}),
c AS (SELECT hx.id, hx.account, hx.amount FROM p JOIN ${LIVE_HOLD})
INSERT INTO credit_entry (${ENTRY_COLUMNS})
SELECT c.account, h.seq + 1, 'extend', 0, c.amount, h.balance,
       p.reason, NULL, c.id, NULL, NULL, p.actor, NULL, p.now + p.ttl, NULL, p.now, NULL
FROM p JOIN c JOIN credit_entry AS h ON ${headJoin('h', 'c.account')}
WHERE c.amount > 0
${RETURNING_HOLD}`;

/** The hold named by (pos, legacy id), with its entry's attribution. */
const HOLD_STATE = `SELECT hx.*, he.model, he.key_id, he.actor AS hold_actor FROM credit_hold AS hx JOIN credit_entry AS he ON he.pos = hx.id WHERE hx.id = ${ENTRY_POS}`;
/** The hold whose entry carries the key (account, key). */
const HOLD_BY_KEY = `SELECT hx.*, he.model, he.key_id FROM credit_hold AS hx JOIN credit_entry AS he ON he.pos = hx.id
WHERE hx.id = (SELECT pos FROM credit_entry WHERE account = ? AND kind = 'hold' AND idempotency_key = ?)`;
const RESOLUTION = `SELECT * FROM credit_entry WHERE pos = (SELECT resolved_by FROM credit_hold WHERE id = ${ENTRY_POS})`;
const CAPTURE_BY_KEY = `SELECT * FROM credit_entry
WHERE account = (SELECT account FROM credit_hold WHERE id = ${ENTRY_POS}) AND kind = 'capture' AND idempotency_key = ?`;

export function toHold(r: Row, now: number, ids: Ids): Hold {
  const stored = String(r.status) as HoldStatus;
  const expiresAt = num(r.expires_at);
  return {
    id: ids.format(num(r.id)),
    account: String(r.account),
    amount: num(r.amount),
    expiresAt,
    // Exact at read time: an open hold past its TTL no longer counts, swept or not.
    status: stored === 'open' && expiresAt <= now ? 'expired' : stored,
    resolvedBy: ids.formatOrNull(r.resolved_by),
    createdAt: num(r.created_at),
  };
}

export function planHold(ctx: Context, req: HoldRequest): Plan<HoldResult> {
  const key = req.idempotencyKey ?? null;
  const now = ctx.now();
  const explain = [{ sql: SPEND_SNAPSHOT, args: [req.account, now, req.model ?? null, req.keyId ?? null, req.actor ?? null, req.amount] }];
  if (key !== null) {
    explain.push({ sql: SELECT_BY_KEY, args: [req.account, 'hold', key] }, { sql: HOLD_BY_KEY, args: [req.account, key] });
  }
  const unit: Unit = {
    primary: {
      sql: HOLD,
      args: [
        req.account,
        req.amount,
        req.ttlMs,
        req.reason ?? null,
        key,
        req.model ?? null,
        req.keyId ?? null,
        req.actor ?? null,
        req.metadata ?? null,
        now,
      ],
    },
    explain,
    settle: settleAccount(req.account, now),
  };
  return {
    unit,
    decode: ({ rows, explain: why }: UnitResult): HoldResult => {
      const row = rows[0];
      if (row !== undefined) {
        const entry = toEntry(row, ctx.ids);
        const numbers = after(req.account, row);
        // RETURNING ran before the trigger opened the hold: count it here.
        return {
          outcome: 'held',
          entry,
          hold: {
            id: entry.id,
            account: req.account,
            amount: req.amount,
            expiresAt: entry.expiresAt ?? now + req.ttlMs,
            status: 'open',
            resolvedBy: null,
            createdAt: now,
          },
          balance: numbers.balance,
          available: Math.max(0, numbers.available - req.amount),
          ...warningsOf(row, req.account, now, ctx.ids),
        };
      }
      const [snapshot, byKey, holdState] = why;
      const original = byKey?.[0];
      if (original !== undefined) {
        const entry = toEntry(original, ctx.ids);
        // The TTL is a parameter too: a retry asking for another lifetime is not the same hold.
        assertSameRequest('hold', entry, { ...fingerprintOf(req), ttlMs: req.ttlMs });
        const state = holdState?.[0];
        if (state === undefined) throw new LedgerError('internal', `hold entry ${entry.id} has no credit_hold row (run rebuild())`);
        return { outcome: 'replayed', entry, hold: toHold(state, now, ctx.ids), ...after(req.account, snapshot?.[0]) };
      }
      const numbers = snapshot?.[0];
      return explainRefusal(req.account, numbers, req.amount, coverableOf(numbers), now, ctx.ids);
    },
  };
}

export const hold = (ctx: Context, req: HoldRequest, app?: readonly Statement[]): Promise<HoldResult> =>
  runPlan(ctx, planHold(ctx, req), app);

/** Why an operation on a hold did nothing, from the hold's state read in the same unit. */
function closedError(op: string, holdId: string, state: Row | undefined, now: number, ids: Ids): LedgerError {
  if (state === undefined) return new LedgerError('not_found', `${op}: no hold ${holdId}`, { holdId });
  const h = toHold(state, now, ids);
  if (h.status === 'expired')
    return new LedgerError('hold_expired', `${op}: hold ${holdId} expired at ${h.expiresAt}`, { holdId, expiresAt: h.expiresAt });
  return new LedgerError('hold_closed', `${op}: hold ${holdId} is already ${h.status}`, {
    holdId,
    status: h.status,
    resolvedBy: h.resolvedBy,
  });
}

const CAPTURE_SQL = new Map<string, string>();

export function planCapture(ctx: Context, req: CaptureRequest): Plan<CaptureResult> {
  const key = req.idempotencyKey ?? null;
  const now = ctx.now();
  const hold = idArgs(ctx.ids.parse(req.holdId));
  const { primary, explain: reads } = extended(
    CAPTURE,
    CAPTURE_SQL,
    [
      ...hold,
      req.amount ?? null,
      req.reason ?? null,
      key,
      req.actor ?? null,
      req.metadata ?? null,
      req.model ?? null,
      req.keyId ?? null,
      now,
    ],
    [
      { sql: HOLD_STATE, args: hold },
      { sql: RESOLUTION, args: hold },
      { sql: CAPTURE_BY_KEY, args: [...hold, key] },
      { sql: CAPTURE_SNAPSHOT, args: [now, req.amount ?? null, req.actor ?? null, ...hold] },
    ],
    req.extension,
  );
  const unit: Unit = { primary, explain: reads, settle: settleOfEntry(ctx.ids.parse(req.holdId), now) };
  return {
    unit,
    decode: ({ rows, explain }: UnitResult): CaptureResult => {
      const row = rows[0];
      if (row !== undefined) {
        const entry = toEntry(row, ctx.ids);
        const h = holdFromReturning(row, 'captured', entry.id, ctx.ids);
        return {
          outcome: 'captured',
          entry,
          hold: h,
          released: Math.max(0, h.amount - entry.amount),
          ...afterClosing(row, h.amount),
          ...warningsOf(row, String(row.account), now, ctx.ids),
        };
      }
      const [[state] = [], [resolution] = [], [byKey] = [], [snapshot] = []] = explain;
      if (state === undefined) throw closedError('capture', req.holdId, undefined, now, ctx.ids);
      const h = toHold(state, now, ctx.ids);
      // A capture without an actor takes the hold's: a retry without one asks for the same.
      const actor = req.actor ?? (state.hold_actor === null || state.hold_actor === undefined ? undefined : String(state.hold_actor));
      const fingerprint = { ...fingerprintOf({ ...req, actor, ref: h.id }), model: undefined, keyId: undefined };
      if (byKey !== undefined) {
        const entry = toEntry(byKey, ctx.ids);
        if (req.extension?.sameRequest !== undefined) req.extension.sameRequest(entry);
        else assertSameRequest('capture', entry, fingerprint);
        return { outcome: 'replayed', entry, hold: h, released: Math.max(0, h.amount - entry.amount), ...after(h.account, snapshot) };
      }
      // A retried capture of the same amount is a replay; anything else on a closed hold is not.
      // (A charge is keyed: only its own key replays it.)
      if (
        req.extension === undefined &&
        resolution !== undefined &&
        String(resolution.kind) === 'capture' &&
        (req.amount === undefined || req.amount === num(resolution.amount))
      ) {
        const entry = toEntry(resolution, ctx.ids);
        return { outcome: 'replayed', entry, hold: h, released: Math.max(0, h.amount - entry.amount), ...after(h.account, snapshot) };
      }
      if (h.status !== 'open') throw closedError('capture', req.holdId, state, now, ctx.ids);
      const requested = req.amount ?? h.amount;
      return { ...explainRefusal(h.account, snapshot, requested, coverableOf(snapshot) + h.amount, now, ctx.ids), hold: h };
    },
  };
}

export const capture = (ctx: Context, req: CaptureRequest, app?: readonly Statement[]): Promise<CaptureResult> =>
  runPlan(ctx, planCapture(ctx, req), app);

/** The hold as the RETURNING row saw it, with the status the statement's trigger gives it. */
function holdFromReturning(row: Row, status: HoldStatus, resolvedBy: string | null, ids: Ids): Hold {
  return {
    id: ids.format(num(row.ref)),
    account: String(row.account),
    amount: num(row.hold_amount),
    expiresAt: status === 'open' ? num(row.expires_at) : num(row.hold_expires_at),
    status,
    resolvedBy,
    createdAt: num(row.hold_created_at),
  };
}

/** RETURNING counted the hold as held; once the trigger closes it, it no longer is. */
function afterClosing(row: Row, holdAmount: number): { balance: number; available: number } {
  // As toBalance computes them, with the hold no longer held (not `{ ...row, … }`: V8's slow clone).
  const balance = num(row.balance) - num(row.expired_now);
  const available = balance - (num(row.held_now) - holdAmount) - num(row.floor_now);
  return { balance, available: Math.min(MAX_AMOUNT, Math.max(0, available)) };
}

export function planRelease(ctx: Context, req: ReleaseRequest): Plan<ReleaseResult> {
  const now = ctx.now();
  const hold = idArgs(ctx.ids.parse(req.holdId));
  const unit: Unit = {
    primary: { sql: RELEASE, args: [...hold, req.reason ?? null, req.actor ?? null, now] },
    explain: [
      { sql: HOLD_STATE, args: hold },
      { sql: RESOLUTION, args: hold },
      { sql: SNAPSHOT_OF_ENTRY, args: [...hold, now] },
    ],
  };
  return {
    unit,
    decode: ({ rows, explain }: UnitResult): ReleaseResult => {
      const row = rows[0];
      if (row !== undefined) {
        const entry = toEntry(row, ctx.ids);
        const h = holdFromReturning(row, 'released', entry.id, ctx.ids);
        return { outcome: 'released', entry, hold: h, ...afterClosing(row, h.amount) };
      }
      const [[state] = [], [resolution] = [], [snapshot] = []] = explain;
      if (state !== undefined && String(state.status) === 'released' && resolution !== undefined) {
        return {
          outcome: 'replayed',
          entry: toEntry(resolution, ctx.ids),
          hold: toHold(state, now, ctx.ids),
          ...after(String(state.account), snapshot),
        };
      }
      throw closedError('release', req.holdId, state, now, ctx.ids);
    },
  };
}

export const release = (ctx: Context, req: ReleaseRequest, app?: readonly Statement[]): Promise<ReleaseResult> =>
  runPlan(ctx, planRelease(ctx, req), app);

export function planExtendHold(ctx: Context, req: ExtendRequest): Plan<ExtendResult> {
  const now = ctx.now();
  const hold = idArgs(ctx.ids.parse(req.holdId));
  const unit: Unit = {
    primary: { sql: EXTEND, args: [...hold, req.ttlMs, req.reason ?? null, req.actor ?? null, now] },
    explain: [{ sql: HOLD_STATE, args: hold }],
  };
  return {
    unit,
    decode: ({ rows, explain }: UnitResult): ExtendResult => {
      const row = rows[0];
      if (row !== undefined) {
        return {
          outcome: 'extended',
          entry: toEntry(row, ctx.ids),
          hold: holdFromReturning(row, 'open', null, ctx.ids),
          ...after(String(row.account), row),
        };
      }
      throw closedError('extendHold', req.holdId, explain[0]?.[0], now, ctx.ids);
    },
  };
}

export const extendHold = (ctx: Context, req: ExtendRequest): Promise<ExtendResult> => runPlan(ctx, planExtendHold(ctx, req));

/** Open holds of an account that still count at `now`, soonest expiry first. */
export async function openHolds(ctx: Context, account: string): Promise<Hold[]> {
  const now = ctx.now();
  const [rows = []] = await ctx.runner.read([
    {
      sql: `SELECT * FROM credit_hold WHERE account = ? AND status = 'open' AND expires_at > ? ORDER BY expires_at, id`,
      args: [account, now],
    },
  ]);
  return rows.map((r) => toHold(r, now, ctx.ids));
}
