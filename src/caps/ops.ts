/**
 * `ledger.caps.set / remove / floor`: plans of one conditional INSERT of a config row each
 * (src/caps/sql.ts), and the reads `list` and the caps part of `getBalance`.
 */
import { entryFrom, num, toBalance, toEntry } from '../entry.js';
import { LedgerError } from '../errors.js';
import { assertSameRequest, type Context, type Plan, runPlan } from '../ops/context.js';
import { settleForRead } from '../plans/settle.js';
import type { Row, Unit, UnitResult } from '../runner/index.js';
import type { EntryKind } from '../schema.js';
import { SELECT_BY_KEY, snapshotOf } from '../sql.js';
import type { Balance, Entry } from '../types.js';
import { foldUsage } from '../usage/fold.js';
import { canonicalJson } from '../validate.js';
import { capFromRow, capsFromJson } from './decode.js';
import { CAPS_OF } from './guard.js';
import { CAP_BY_IDENTITY, CAP_REMOVE, CAP_SET, CAPS_LIST, FLOOR_NOW, FLOOR_SET } from './sql.js';
import type { Cap, CapAction, CapWindow, FloorResult, RemoveCapResult, SetCapResult } from './types.js';
import { LAST_WINDOW_TIME } from './window.js';

interface Common {
  idempotencyKey?: string;
  reason?: string;
  actor?: string;
}
interface Identity {
  account: string;
  window: CapWindow;
  model?: string;
  keyId?: string;
  member?: string;
}
export interface SetCapRequest extends Identity, Common {
  limit: number;
  action?: CapAction;
}
export type RemoveCapRequest = Identity & Common;
export interface FloorRequest extends Common {
  account: string;
  floor: number;
}

/** The ledger clock's now, refused past the last month SQLite's calendar can end. */
function capNow(ctx: Context, op: string): number {
  const now = ctx.now();
  if (now > LAST_WINDOW_TIME) {
    throw new LedgerError('invalid_argument', `${op}: the ledger clock (${now}) is past the year 9999, where windows cannot be computed`);
  }
  return now;
}

/** The identity as `credit_cap` keys it: '' for an absent filter. */
const identityArgs = (r: Identity) => [r.account, r.window, r.model ?? '', r.keyId ?? '', r.member ?? ''];

/** A config entry from what the call sent and what the INSERT returned. */
export function configEntry(ctx: Context, row: Row, kind: EntryKind, account: string, req: Common, metadata: string, now: number): Entry {
  return entryFrom(row, ctx.ids, {
    account,
    kind,
    delta: 0,
    amount: 0,
    reason: req.reason ?? null,
    idempotencyKey: req.idempotencyKey ?? null,
    model: null,
    keyId: null,
    actor: req.actor ?? null,
    metadata,
    createdAt: now,
  });
}

/** A keyed retry must carry the same setting, reason and actor as the call that used the key. */
function replayOf(ctx: Context, op: string, original: Row, req: Common, metadata: string): Entry {
  const entry = toEntry(original, ctx.ids);
  assertSameRequest(op, entry, { metadata, reason: req.reason ?? null, actor: req.actor ?? null });
  return entry;
}

export function planSetCap(ctx: Context, req: SetCapRequest): Plan<SetCapResult> {
  const now = capNow(ctx, 'caps.set');
  const action = req.action ?? 'deny';
  const key = req.idempotencyKey ?? null;
  // The setting, as the triggers read it: every key present (null for an absent filter), sorted.
  const metadata = canonicalJson({
    action,
    keyId: req.keyId ?? null,
    limit: req.limit,
    member: req.member ?? null,
    model: req.model ?? null,
    window: req.window,
  });
  const [account, window, model, keyId, member] = identityArgs(req);
  const unit: Unit = {
    primary: {
      sql: CAP_SET,
      args: [account, window, req.limit, action, model, keyId, member, req.reason ?? null, key, req.actor ?? null, metadata, now],
    },
    explain: [{ sql: SELECT_BY_KEY, args: [req.account, 'cap_set', key] }],
    after: [{ sql: CAP_BY_IDENTITY, args: [...identityArgs(req), now] }],
  };
  return {
    unit,
    decode: ({ rows, explain, after }: UnitResult): SetCapResult => {
      const stored = after[0]?.[0];
      const cap = stored === undefined ? null : capFromRow(stored, now, ctx.ids);
      const row = rows[0];
      if (row !== undefined) {
        if (cap === null) throw new LedgerError('internal', `caps.set: the cap_set row set no cap (run rebuild())`);
        return { outcome: 'set', cap, entry: configEntry(ctx, row, 'cap_set', req.account, req, metadata, now) };
      }
      const original = explain[0]?.[0];
      if (original !== undefined) return { outcome: 'replayed', cap, entry: replayOf(ctx, 'caps.set', original, req, metadata) };
      // No key, and exactly this cap is in force: nothing to write.
      return { outcome: 'replayed', cap };
    },
  };
}

export function planRemoveCap(ctx: Context, req: RemoveCapRequest): Plan<RemoveCapResult> {
  const now = capNow(ctx, 'caps.remove');
  const key = req.idempotencyKey ?? null;
  const metadata = canonicalJson({ keyId: req.keyId ?? null, member: req.member ?? null, model: req.model ?? null, window: req.window });
  const unit: Unit = {
    primary: { sql: CAP_REMOVE, args: [...identityArgs(req), req.reason ?? null, key, req.actor ?? null, metadata, now] },
    explain: [{ sql: SELECT_BY_KEY, args: [req.account, 'cap_remove', key] }],
  };
  return {
    unit,
    decode: ({ rows, explain }: UnitResult): RemoveCapResult => {
      const row = rows[0];
      if (row !== undefined) return { outcome: 'removed', entry: configEntry(ctx, row, 'cap_remove', req.account, req, metadata, now) };
      const original = explain[0]?.[0];
      if (original !== undefined) return { outcome: 'replayed', entry: replayOf(ctx, 'caps.remove', original, req, metadata) };
      return { outcome: 'absent' };
    },
  };
}

export function planFloor(ctx: Context, req: FloorRequest): Plan<FloorResult> {
  const now = ctx.now();
  const key = req.idempotencyKey ?? null;
  const metadata = canonicalJson({ floor: req.floor });
  const unit: Unit = {
    primary: { sql: FLOOR_SET, args: [req.account, req.floor, req.reason ?? null, key, req.actor ?? null, metadata, now] },
    explain: [{ sql: SELECT_BY_KEY, args: [req.account, 'floor_set', key] }],
    after: [{ sql: FLOOR_NOW, args: [req.account] }],
  };
  return {
    unit,
    decode: ({ rows, explain, after }: UnitResult): FloorResult => {
      const floor = num(after[0]?.[0]?.floor);
      const row = rows[0];
      if (row !== undefined) return { outcome: 'set', floor, entry: configEntry(ctx, row, 'floor_set', req.account, req, metadata, now) };
      const original = explain[0]?.[0];
      if (original !== undefined) return { outcome: 'replayed', floor, entry: replayOf(ctx, 'caps.floor', original, req, metadata) };
      return { outcome: 'replayed', floor };
    },
  };
}

/** Folds the usage rollup first (its own unit), so the cap_set trigger's scan of the unfolded tail stays short. */
export async function setCap(ctx: Context, req: SetCapRequest): Promise<SetCapResult> {
  const plan = planSetCap(ctx, req);
  await foldUsage(ctx.runner);
  return runPlan(ctx, plan);
}

export const removeCap = (ctx: Context, req: RemoveCapRequest): Promise<RemoveCapResult> => runPlan(ctx, planRemoveCap(ctx, req));

export const setFloor = (ctx: Context, req: FloorRequest): Promise<FloorResult> => runPlan(ctx, planFloor(ctx, req));

export async function listCaps(ctx: Context, account: string): Promise<Cap[]> {
  const now = ctx.now();
  const [rows = []] = await ctx.runner.read([{ sql: CAPS_LIST, args: [account, now] }]);
  return rows.map((r) => capFromRow(r, now, ctx.ids));
}

/** getBalance's statement: the account's numbers and every cap, in one read. Args: account, now. */
const BALANCE = snapshotOf('? AS account, CAST(? AS INTEGER) AS now', `, ${CAPS_OF('p.account', 'p.now')} AS caps`);

/**
 * The account's balance with its floor and caps: `headroom` is the least `remaining` among
 * deny caps without filters (they bound every debit), null when there are none.
 */
export async function balanceWithCaps(ctx: Context, account: string): Promise<Balance> {
  const now = ctx.now();
  let [rows] = await ctx.runner.read([{ sql: BALANCE, args: [account, now] }]);
  // A subscription's allowance due and not yet written down: write it (as a spend would), then read.
  if (await settleForRead(ctx, account, rows?.[0]?.due, now)) [rows] = await ctx.runner.read([{ sql: BALANCE, args: [account, now] }]);
  const row = rows?.[0];
  const caps = capsFromJson(row?.caps, account, now, ctx.ids);
  const bounding = caps.filter((c) => c.action === 'deny' && c.model === null && c.keyId === null && c.member === null);
  const headroom = bounding.length === 0 ? null : Math.min(...bounding.map((c) => c.remaining));
  return Object.assign(toBalance(account, row), { headroom, caps });
}
