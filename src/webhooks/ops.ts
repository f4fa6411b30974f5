/** The operations of `ledger.webhooks` (validated input in, LedgerError or a result out). */
import { num } from '../entry.js';
import { LedgerError } from '../errors.js';
import { WEBHOOK_MAX_ENDPOINTS, WEBHOOK_PRUNE_DEFAULT_LIMIT } from '../limits.js';
import type { Context } from '../ops/context.js';
import type { Row, Unit } from '../runner/index.js';
import type { EventType, WebhookStatus } from '../schema.js';
import { newSecret, randomHex } from './sign.js';
import * as q from './sql.js';
import type { DeliveryAttempt, PruneOptions, PruneReport, RedeliverResult, Webhook, WebhookAdded } from './types.js';

const str = (v: unknown): string | null => (v === null || v === undefined ? null : String(v));
const numOrNull = (v: unknown): number | null => (v === null || v === undefined ? null : num(v));

export function toWebhook(r: Row): Webhook {
  return {
    id: String(r.id),
    url: String(r.url),
    types: r.types === null || r.types === undefined ? null : (JSON.parse(String(r.types)) as EventType[]),
    status: String(r.status) as WebhookStatus,
    disabledReason: str(r.disabled_reason),
    disabledAt: numOrNull(r.disabled_at),
    cursor: num(r.cursor),
    createdAt: num(r.created_at),
  };
}

const unit = (sql: string, args: unknown[]): Unit => ({ primary: { sql, args } });

export async function addWebhook(ctx: Context, input: { url: string; types?: EventType[]; secret?: string }): Promise<WebhookAdded> {
  const id = `wh_${randomHex(12)}`;
  const secret = input.secret ?? newSecret();
  // Stored sorted and without repeats, so two endpoints with the same types read the same.
  const types = input.types === undefined ? null : JSON.stringify([...new Set(input.types)].sort());
  const { rows } = await ctx.runner.write(unit(q.ADD, [id, input.url, types, secret, ctx.now()]));
  const row = rows[0];
  if (row === undefined) {
    throw new LedgerError('invalid_argument', `webhooks.add: a ledger has at most ${WEBHOOK_MAX_ENDPOINTS} endpoints; remove one first`, {
      field: 'input',
      operation: 'webhooks.add',
    });
  }
  return { id, secret, webhook: toWebhook(row) };
}

export async function listWebhooks(ctx: Context): Promise<Webhook[]> {
  const [rows = []] = await ctx.runner.read([{ sql: q.LIST, args: [] }]);
  return rows.map(toWebhook);
}

const notFound = (op: string, id: string) => new LedgerError('not_found', `${op}: no webhook endpoint ${id}`, { webhookId: id });

export async function removeWebhook(ctx: Context, id: string): Promise<{ removed: string }> {
  // `follow`: the deliveries and attempts go only if this call deleted the endpoint, atomically.
  const { rows } = await ctx.runner.write({
    primary: { sql: q.REMOVE, args: [id] },
    // Read only when nothing was deleted (a batch driver then has a read to send).
    explain: [{ sql: q.WEBHOOK_EXISTS, args: [id] }],
    follow: [
      { sql: q.REMOVE_DELIVERIES, args: [id] },
      { sql: q.REMOVE_ATTEMPTS, args: [id] },
    ],
  });
  if (rows.length === 0) throw notFound('webhooks.remove', id);
  return { removed: id };
}

export async function enableWebhook(ctx: Context, id: string): Promise<Webhook> {
  const now = ctx.now();
  const [enabled] = await ctx.runner.writeMany([unit(q.ENABLE, [id]), unit(q.UNPAUSE, [now, id])]);
  const row = enabled?.rows[0];
  if (row === undefined) throw notFound('webhooks.enable', id);
  return toWebhook(row);
}

export async function redeliver(ctx: Context, eventId: number): Promise<RedeliverResult> {
  const now = ctx.now();
  const [requeued, queued] = await ctx.runner.writeMany([
    unit(q.REQUEUE, [now, eventId]),
    { primary: { sql: q.QUEUE_MATCHING, args: [now, now, eventId] }, after: [{ sql: q.EVENT_EXISTS, args: [eventId] }] },
  ]);
  // No delivery rows and no event: both statements found nothing to write, so nothing was written.
  if ((queued?.after[0] ?? []).length === 0) {
    throw new LedgerError('not_found', `webhooks.redeliver: no event ${eventId}`, { eventId });
  }
  const webhooks = [...(requeued?.rows ?? []), ...(queued?.rows ?? [])].map((r) => String(r.webhook));
  return { eventId, webhooks: [...new Set(webhooks)].sort() };
}

/**
 * Deletes finished deliveries created before `before` and their attempts, oldest first, up to
 * `limit` deliveries; one atomic unit. Events stay (the outbox is part of what `verify()`
 * checks), so `redeliver` still works for a pruned event; `attempts` no longer lists what went.
 */
export async function pruneDeliveries(ctx: Context, options: PruneOptions): Promise<PruneReport> {
  const limit = options.limit ?? WEBHOOK_PRUNE_DEFAULT_LIMIT;
  const args = [options.before, limit];
  const [attemptsGone, deliveriesGone] = await ctx.runner.writeMany([
    unit(q.PRUNE_ATTEMPTS, args),
    { primary: { sql: q.PRUNE_DELIVERIES, args }, after: [{ sql: q.PRUNE_MORE, args: [options.before] }] },
  ]);
  const more = deliveriesGone?.after[0]?.[0]?.more;
  return {
    deliveries: deliveriesGone?.rows.length ?? 0,
    attempts: attemptsGone?.rows.length ?? 0,
    more: more !== undefined && more !== null && num(more) === 1,
  };
}

export async function attempts(ctx: Context, eventId: number): Promise<DeliveryAttempt[]> {
  const now = ctx.now();
  const [rows = [], exists = []] = await ctx.runner.read([
    { sql: q.ATTEMPTS, args: [eventId] },
    { sql: q.EVENT_EXISTS, args: [eventId] },
  ]);
  if (exists.length === 0 && rows.length === 0) throw new LedgerError('not_found', `webhooks.attempts: no event ${eventId}`, { eventId });
  return rows.map((r) => {
    const attempt = num(r.attempt);
    let outcome = String(r.outcome) as DeliveryAttempt['outcome'];
    if (outcome === 'sending') {
      // Exact at read time: its deliverer no longer holds the delivery, so no result will come.
      const until = numOrNull(r.d_claim_until);
      const superseded = r.d_attempts === null || r.d_attempts === undefined || num(r.d_attempts) > attempt;
      if (superseded || until === null || until <= now) outcome = 'lost';
    }
    return {
      webhookId: String(r.webhook),
      eventId: num(r.event),
      attempt,
      startedAt: num(r.started_at),
      durationMs: numOrNull(r.duration_ms),
      status: numOrNull(r.status),
      error: str(r.error),
      outcome,
    };
  });
}
