import { num, toEntry } from '../entry.js';
import { LedgerError } from '../errors.js';
import { ACCOUNT_FLOOR } from '../limits.js';
import type { Row, Unit, UnitResult } from '../runner/index.js';
import {
  COVERS,
  DRAW,
  ENTRY_COLUMNS,
  EXPIRED,
  HELD,
  headJoin,
  RETURNING_WITH_BALANCE,
  SELECT_BY_KEY,
  SNAPSHOT,
  SNAPSHOT_OF_ENTRY,
} from '../sql.js';
import type { CaptureResult, ExtendResult, Hold, HoldResult, HoldStatus, ReleaseResult } from '../types.js';
import { assertSameRequest, type Context, fingerprintOf, type Plan, runPlan } from './context.js';
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

/** RETURNING for rows that act on a hold: the hold's fields as they stand before the dependents. */
const RETURNING_HOLD = `${RETURNING_WITH_BALANCE},
  (SELECT amount FROM credit_hold WHERE id = credit_entry.ref) AS hold_amount,
  (SELECT expires_at FROM credit_hold WHERE id = credit_entry.ref) AS hold_expires_at,
  (SELECT created_at FROM credit_hold WHERE id = credit_entry.ref) AS hold_created_at`;

// A hold is a delta-0 row: it changes what is available, not what is posted. It must be
// covered like a debit of the same amount.
const HOLD = `INSERT INTO credit_entry (${ENTRY_COLUMNS})
SELECT p.id, p.account, h.seq + 1, 'hold', 0, p.amount, h.balance,
       p.reason, p.ikey, NULL, p.model, p.key_id, p.actor, p.metadata, p.now + p.ttl, NULL, p.now, NULL
FROM (SELECT ? AS id, ? AS account, ? AS amount, ? AS ttl, ? AS reason, ? AS ikey, ? AS model, ? AS key_id, ? AS actor,
             ? AS metadata, ? AS now) AS p
JOIN credit_entry AS h ON ${headJoin('h', 'p.account')}
WHERE ${COVERS('h', 'p.account', 'p.now', 'p.amount')}
ON CONFLICT (account, kind, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
${RETURNING_WITH_BALANCE}`;

const OPEN_HOLD = `INSERT INTO credit_hold (id, account, amount, expires_at, status, resolved_by, created_at)
SELECT id, account, amount, expires_at, 'open', NULL, created_at FROM credit_entry WHERE id = ? AND kind = 'hold'`;

/** The open hold `p.hold`, still within its TTL at `p.now`. */
const LIVE_HOLD = `credit_hold AS hx JOIN credit_entry AS he ON he.id = hx.id
  WHERE hx.id = p.hold AND hx.status = 'open' AND hx.expires_at > p.now`;

// Capturing up to the held amount is covered by the hold itself; more than held needs the
// extra covered by what is available besides. Lots past expiry can still make a capture
// insufficient: a hold reserves an amount, not particular credits.
const CAPTURE = `WITH p AS (SELECT ? AS id, ? AS hold, ? AS amount, ? AS reason, ? AS ikey, ? AS actor, ? AS metadata, ? AS now),
c AS (SELECT hx.id, hx.account, hx.amount AS held, COALESCE(p.amount, hx.amount) AS amt, he.model, he.key_id FROM p JOIN ${LIVE_HOLD})
INSERT INTO credit_entry (${ENTRY_COLUMNS})
SELECT p.id, c.account, h.seq + 1, 'capture', -c.amt, c.amt, h.balance - c.amt,
       p.reason, p.ikey, c.id, c.model, c.key_id, p.actor, p.metadata, NULL, NULL, p.now,
       ${DRAW('c.account', 'p.now', 'c.amt')}
FROM p JOIN c JOIN credit_entry AS h ON ${headJoin('h', 'c.account')}
WHERE h.balance - ${EXPIRED('c.account', 'p.now')} - ${HELD('c.account', 'p.now')} + c.held - c.amt >= ${ACCOUNT_FLOOR}
ON CONFLICT (account, kind, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
${RETURNING_HOLD}`;

const RELEASE = `WITH p AS (SELECT ? AS id, ? AS hold, ? AS reason, ? AS actor, ? AS now),
c AS (SELECT hx.id, hx.account, hx.amount FROM p JOIN ${LIVE_HOLD})
INSERT INTO credit_entry (${ENTRY_COLUMNS})
SELECT p.id, c.account, h.seq + 1, 'release', 0, c.amount, h.balance,
       p.reason, NULL, c.id, NULL, NULL, p.actor, NULL, NULL, NULL, p.now, NULL
FROM p JOIN c JOIN credit_entry AS h ON ${headJoin('h', 'c.account')}
WHERE c.amount > 0
${RETURNING_HOLD}`;

const EXTEND = `WITH p AS (SELECT ? AS id, ? AS hold, ? AS ttl, ? AS reason, ? AS actor, ? AS now),
c AS (SELECT hx.id, hx.account, hx.amount FROM p JOIN ${LIVE_HOLD})
INSERT INTO credit_entry (${ENTRY_COLUMNS})
SELECT p.id, c.account, h.seq + 1, 'extend', 0, c.amount, h.balance,
       p.reason, NULL, c.id, NULL, NULL, p.actor, NULL, p.now + p.ttl, NULL, p.now, NULL
FROM p JOIN c JOIN credit_entry AS h ON ${headJoin('h', 'c.account')}
WHERE c.amount > 0
${RETURNING_HOLD}`;

/** Dependent: close the hold with the new entry, only if that entry was written in this call. Args: entry, hold, entry. */
const CLOSE_HOLD = (status: HoldStatus) =>
  `UPDATE credit_hold SET status = '${status}', resolved_by = ? WHERE id = ? AND EXISTS (SELECT 1 FROM credit_entry WHERE id = ?)`;
/** Args: entry, hold, entry. */
const MOVE_EXPIRY = `UPDATE credit_hold SET expires_at = (SELECT expires_at FROM credit_entry WHERE id = ?)
WHERE id = ? AND EXISTS (SELECT 1 FROM credit_entry WHERE id = ?)`;

const HOLD_STATE = `SELECT hx.*, he.model, he.key_id FROM credit_hold AS hx JOIN credit_entry AS he ON he.id = hx.id WHERE hx.id = ?`;
const RESOLUTION = 'SELECT * FROM credit_entry WHERE id = (SELECT resolved_by FROM credit_hold WHERE id = ?)';
const CAPTURE_BY_KEY = `SELECT * FROM credit_entry WHERE account = (SELECT account FROM credit_hold WHERE id = ?) AND kind = 'capture' AND idempotency_key = ?`;

export function toHold(r: Row, now: number): Hold {
  const stored = String(r.status) as HoldStatus;
  const expiresAt = num(r.expires_at);
  return {
    id: String(r.id),
    account: String(r.account),
    amount: num(r.amount),
    expiresAt,
    // Exact at read time: an open hold past its TTL no longer counts, swept or not.
    status: stored === 'open' && expiresAt <= now ? 'expired' : stored,
    resolvedBy: r.resolved_by === null || r.resolved_by === undefined ? null : String(r.resolved_by),
    createdAt: num(r.created_at),
  };
}

export function planHold(ctx: Context, req: HoldRequest): Plan<HoldResult> {
  const key = req.idempotencyKey ?? null;
  const now = ctx.now();
  const id = ctx.newId();
  const explain = [{ sql: SNAPSHOT, args: [req.account, now] }];
  if (key !== null) {
    explain.push(
      { sql: SELECT_BY_KEY, args: [req.account, 'hold', key] },
      {
        sql: HOLD_STATE.replace('hx.id = ?', `hx.id = (${SELECT_BY_KEY.replace('SELECT *', 'SELECT id')})`),
        args: [req.account, 'hold', key],
      },
    );
  }
  const unit: Unit = {
    primary: {
      sql: HOLD,
      args: [
        id,
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
    dependents: [{ sql: OPEN_HOLD, args: [id] }],
    explain,
  };
  return {
    unit,
    decode: ({ rows, explain: why }: UnitResult): HoldResult => {
      const row = rows[0];
      if (row !== undefined) {
        const entry = toEntry(row);
        const numbers = after(req.account, row);
        // RETURNING ran before the dependent opened the hold: count it here.
        return {
          outcome: 'held',
          entry,
          hold: {
            id,
            account: req.account,
            amount: req.amount,
            expiresAt: entry.expiresAt ?? now + req.ttlMs,
            status: 'open',
            resolvedBy: null,
            createdAt: now,
          },
          balance: numbers.balance,
          available: Math.max(0, numbers.available - req.amount),
        };
      }
      const [snapshot, byKey, holdState] = why;
      const original = byKey?.[0];
      if (original !== undefined) {
        const entry = toEntry(original);
        assertSameRequest('hold', entry, fingerprintOf(req));
        const state = holdState?.[0];
        if (state === undefined) throw new Error(`invariant: hold entry ${entry.id} has no credit_hold row (run rebuild())`);
        return { outcome: 'replayed', entry, hold: toHold(state, now), ...after(req.account, snapshot?.[0]) };
      }
      return { outcome: 'insufficient', ...after(req.account, snapshot?.[0]), requested: req.amount };
    },
  };
}

export const hold = (ctx: Context, req: HoldRequest): Promise<HoldResult> => runPlan(ctx, planHold(ctx, req));

/** Why an operation on a hold did nothing, from the hold's state read in the same unit. */
function closedError(op: string, holdId: string, state: Row | undefined, now: number): LedgerError {
  if (state === undefined) return new LedgerError('not_found', `${op}: no hold ${holdId}`, { holdId });
  const h = toHold(state, now);
  if (h.status === 'expired')
    return new LedgerError('hold_expired', `${op}: hold ${holdId} expired at ${h.expiresAt}`, { holdId, expiresAt: h.expiresAt });
  return new LedgerError('hold_closed', `${op}: hold ${holdId} is already ${h.status}`, {
    holdId,
    status: h.status,
    resolvedBy: h.resolvedBy,
  });
}

export function planCapture(ctx: Context, req: CaptureRequest): Plan<CaptureResult> {
  const key = req.idempotencyKey ?? null;
  const now = ctx.now();
  const id = ctx.newId();
  const unit: Unit = {
    primary: {
      sql: CAPTURE,
      args: [id, req.holdId, req.amount ?? null, req.reason ?? null, key, req.actor ?? null, req.metadata ?? null, now],
    },
    dependents: [{ sql: CLOSE_HOLD('captured'), args: [id, req.holdId, id] }],
    explain: [
      { sql: HOLD_STATE, args: [req.holdId] },
      { sql: RESOLUTION, args: [req.holdId] },
      { sql: CAPTURE_BY_KEY, args: [req.holdId, key] },
      { sql: SNAPSHOT_OF_ENTRY, args: [req.holdId, now] },
    ],
  };
  return {
    unit,
    decode: ({ rows, explain }: UnitResult): CaptureResult => {
      const row = rows[0];
      if (row !== undefined) {
        const entry = toEntry(row);
        const h = holdFromReturning(row, 'captured', id);
        return { outcome: 'captured', entry, hold: h, released: Math.max(0, h.amount - entry.amount), ...afterClosing(row, h.amount) };
      }
      const [[state] = [], [resolution] = [], [byKey] = [], [snapshot] = []] = explain;
      if (state === undefined) throw closedError('capture', req.holdId, undefined, now);
      const h = toHold(state, now);
      const fingerprint = { ...fingerprintOf({ ...req, ref: req.holdId }), model: undefined, keyId: undefined };
      if (byKey !== undefined) {
        const entry = toEntry(byKey);
        assertSameRequest('capture', entry, fingerprint);
        return { outcome: 'replayed', entry, hold: h, released: Math.max(0, h.amount - entry.amount), ...after(h.account, snapshot) };
      }
      // A retried capture of the same amount is a replay; anything else on a closed hold is not.
      if (
        resolution !== undefined &&
        String(resolution.kind) === 'capture' &&
        (req.amount === undefined || req.amount === num(resolution.amount))
      ) {
        const entry = toEntry(resolution);
        return { outcome: 'replayed', entry, hold: h, released: Math.max(0, h.amount - entry.amount), ...after(h.account, snapshot) };
      }
      if (h.status !== 'open') throw closedError('capture', req.holdId, state, now);
      const numbers = after(h.account, snapshot);
      return { outcome: 'insufficient', hold: h, ...numbers, requested: req.amount ?? h.amount };
    },
  };
}

export const capture = (ctx: Context, req: CaptureRequest): Promise<CaptureResult> => runPlan(ctx, planCapture(ctx, req));

/** The hold as the RETURNING row saw it, with the status the dependents give it. */
function holdFromReturning(row: Row, status: HoldStatus, resolvedBy: string | null): Hold {
  return {
    id: String(row.ref),
    account: String(row.account),
    amount: num(row.hold_amount),
    expiresAt: status === 'open' ? num(row.expires_at) : num(row.hold_expires_at),
    status,
    resolvedBy,
    createdAt: num(row.hold_created_at),
  };
}

/** RETURNING counted the hold as held; once the dependents close it, it no longer is. */
function afterClosing(row: Row, holdAmount: number): { balance: number; available: number } {
  return after(String(row.account), { ...row, held_now: num(row.held_now) - holdAmount });
}

export function planRelease(ctx: Context, req: ReleaseRequest): Plan<ReleaseResult> {
  const now = ctx.now();
  const id = ctx.newId();
  const unit: Unit = {
    primary: { sql: RELEASE, args: [id, req.holdId, req.reason ?? null, req.actor ?? null, now] },
    dependents: [{ sql: CLOSE_HOLD('released'), args: [id, req.holdId, id] }],
    explain: [
      { sql: HOLD_STATE, args: [req.holdId] },
      { sql: RESOLUTION, args: [req.holdId] },
      { sql: SNAPSHOT_OF_ENTRY, args: [req.holdId, now] },
    ],
  };
  return {
    unit,
    decode: ({ rows, explain }: UnitResult): ReleaseResult => {
      const row = rows[0];
      if (row !== undefined) {
        const h = holdFromReturning(row, 'released', id);
        return { outcome: 'released', entry: toEntry(row), hold: h, ...afterClosing(row, h.amount) };
      }
      const [[state] = [], [resolution] = [], [snapshot] = []] = explain;
      if (state !== undefined && String(state.status) === 'released' && resolution !== undefined) {
        return { outcome: 'replayed', entry: toEntry(resolution), hold: toHold(state, now), ...after(String(state.account), snapshot) };
      }
      throw closedError('release', req.holdId, state, now);
    },
  };
}

export const release = (ctx: Context, req: ReleaseRequest): Promise<ReleaseResult> => runPlan(ctx, planRelease(ctx, req));

export function planExtendHold(ctx: Context, req: ExtendRequest): Plan<ExtendResult> {
  const now = ctx.now();
  const id = ctx.newId();
  const unit: Unit = {
    primary: { sql: EXTEND, args: [id, req.holdId, req.ttlMs, req.reason ?? null, req.actor ?? null, now] },
    dependents: [{ sql: MOVE_EXPIRY, args: [id, req.holdId, id] }],
    explain: [{ sql: HOLD_STATE, args: [req.holdId] }],
  };
  return {
    unit,
    decode: ({ rows, explain }: UnitResult): ExtendResult => {
      const row = rows[0];
      if (row !== undefined) {
        return { outcome: 'extended', entry: toEntry(row), hold: holdFromReturning(row, 'open', null), ...after(String(row.account), row) };
      }
      throw closedError('extendHold', req.holdId, explain[0]?.[0], now);
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
  return rows.map((r) => toHold(r, now));
}
