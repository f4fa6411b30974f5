/** `ledger.alerts.set / remove / list`: one conditional INSERT of a config row each, and a read. */
import { configEntry } from '../caps/ops.js';
import { num, toEntry } from '../entry.js';
import { LedgerError } from '../errors.js';
import { assertSameRequest, type Context, runPlan } from '../ops/context.js';
import type { Row, UnitResult } from '../runner/index.js';
import { SELECT_BY_KEY } from '../sql.js';
import type { Entry } from '../types.js';
import { canonicalJson } from '../validate.js';
import { ALERT_ONE, ALERT_REMOVE, ALERT_SET, ALERTS_LIST } from './sql.js';
import type { Alert, RemoveAlertInput, RemoveAlertResult, SetAlertInput, SetAlertResult } from './types.js';

function alertFromRow(r: Row, ctx: Context): Alert {
  const low = num(r.low_balance);
  const within = num(r.expiring_within_ms);
  return {
    account: String(r.account),
    lowBalance: low === 0 ? null : low,
    expiringWithinMs: within === 0 ? null : within,
    below: low > 0 && num(r.available_now) < low,
    setBy: ctx.ids.format(num(r.set_by)),
  };
}

function replayOf(ctx: Context, op: string, original: Row, req: SetAlertInput | RemoveAlertInput, metadata: string): Entry {
  const entry = toEntry(original, ctx.ids);
  assertSameRequest(op, entry, { metadata, reason: req.reason ?? null, actor: req.actor ?? null });
  return entry;
}

export function setAlert(ctx: Context, req: SetAlertInput): Promise<SetAlertResult> {
  const now = ctx.now();
  const low = req.lowBalance ?? 0;
  const within = req.expiringWithinMs ?? 0;
  const key = req.idempotencyKey ?? null;
  // As the triggers read it: both fields, 0 when absent, keys sorted.
  const metadata = canonicalJson({ expiringWithinMs: within, lowBalance: low });
  return runPlan(ctx, {
    unit: {
      primary: { sql: ALERT_SET, args: [req.account, low, within, req.reason ?? null, key, req.actor ?? null, metadata, now] },
      explain: [{ sql: SELECT_BY_KEY, args: [req.account, 'alert_set', key] }],
      after: [{ sql: ALERT_ONE, args: [req.account, now, low] }],
    },
    decode: ({ rows, explain, after }: UnitResult): SetAlertResult => {
      const stored = after[0]?.[0];
      const alert = stored === undefined ? null : alertFromRow(stored, ctx);
      const row = rows[0];
      if (row !== undefined) {
        if (alert === null) throw new LedgerError('internal', 'alerts.set: the alert_set row set no alert (run rebuild())');
        return { outcome: 'set', alert, entry: configEntry(ctx, row, 'alert_set', req.account, req, metadata, now) };
      }
      const original = explain[0]?.[0];
      if (original !== undefined) return { outcome: 'replayed', alert, entry: replayOf(ctx, 'alerts.set', original, req, metadata) };
      return { outcome: 'replayed', alert };
    },
  });
}

export function removeAlert(ctx: Context, req: RemoveAlertInput): Promise<RemoveAlertResult> {
  const now = ctx.now();
  const low = req.lowBalance ?? 0;
  const key = req.idempotencyKey ?? null;
  const metadata = canonicalJson({ lowBalance: low });
  return runPlan(ctx, {
    unit: {
      primary: { sql: ALERT_REMOVE, args: [req.account, low, req.reason ?? null, key, req.actor ?? null, metadata, now] },
      explain: [{ sql: SELECT_BY_KEY, args: [req.account, 'alert_remove', key] }],
    },
    decode: ({ rows, explain }: UnitResult): RemoveAlertResult => {
      const row = rows[0];
      if (row !== undefined) return { outcome: 'removed', entry: configEntry(ctx, row, 'alert_remove', req.account, req, metadata, now) };
      const original = explain[0]?.[0];
      if (original !== undefined) return { outcome: 'replayed', entry: replayOf(ctx, 'alerts.remove', original, req, metadata) };
      return { outcome: 'absent' };
    },
  });
}

export async function listAlerts(ctx: Context, account: string): Promise<Alert[]> {
  const [rows = []] = await ctx.runner.read([{ sql: ALERTS_LIST, args: [account, ctx.now()] }]);
  return rows.map((r) => alertFromRow(r, ctx));
}
