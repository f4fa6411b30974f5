/**
 * `ledger.webhooks`: Standard Webhooks delivery of the event outbox (src/events/). Endpoints,
 * deliveries and attempts are operational state in their own tables (never log rows: the
 * endpoints hold signing secrets). Delivery is at least once, retried on the spec's schedule;
 * concurrent deliverers coordinate through conditional writes only (see sql.ts, deliver.ts).
 */
import { guard } from '../guard.js';
import type { Context } from '../ops/context.js';
import { parse } from '../validate.js';
import { deliver } from './deliver.js';
import { addWebhook, attempts, enableWebhook, listWebhooks, pruneDeliveries, redeliver, removeWebhook } from './ops.js';
import type {
  DeliverOptions,
  DeliverReport,
  DeliveryAttempt,
  PruneOptions,
  PruneReport,
  RedeliverResult,
  Webhook,
  WebhookAdded,
  WebhookAddInput,
} from './types.js';
import { deliverInput, eventIdSchema, pruneInput, webhookAddInput, webhookIdSchema } from './validate.js';

export interface Webhooks {
  /** Adds an endpoint; it receives the events created from now on (of `types`, or all). */
  add(input: WebhookAddInput): Promise<WebhookAdded>;
  /** Removes an endpoint with its pending deliveries and its attempt history. */
  remove(id: string): Promise<{ removed: string }>;
  /** Re-enables a disabled endpoint: its paused deliveries are due now, and it receives the events it missed. */
  enable(id: string): Promise<Webhook>;
  /** Every endpoint (without secrets), oldest first. */
  list(): Promise<Webhook[]>;
  /**
   * Fans new events out to the endpoints, claims up to `limit` due deliveries and sends them.
   * Call it from cron or a loop; `more` says another call has work now.
   */
  deliver(options?: DeliverOptions): Promise<DeliverReport>;
  /** Queues an event again, due now with a fresh retry schedule, for every endpoint it went to or matches. */
  redeliver(eventId: number): Promise<RedeliverResult>;
  /** Every attempt at delivering an event, by endpoint and attempt number. */
  attempts(eventId: number): Promise<DeliveryAttempt[]>;
  /**
   * Deletes finished deliveries (delivered, or failed after the last attempt) created before
   * `before`, with their attempts, oldest first, up to `limit`; pending and paused ones stay.
   * Events are never deleted. Call from cron with a retention (say 30 days) until `more` is false.
   */
  prune(options: PruneOptions): Promise<PruneReport>;
}

export function createWebhooks(ctx: Context): Webhooks {
  const webhookId = (v: unknown, op: string) => parse(webhookIdSchema, v, op);
  return {
    add: (input) => guard(() => addWebhook(ctx, parse(webhookAddInput, input, 'webhooks.add'))),
    remove: (id) => guard(() => removeWebhook(ctx, webhookId(id, 'webhooks.remove'))),
    enable: (id) => guard(() => enableWebhook(ctx, webhookId(id, 'webhooks.enable'))),
    list: () => guard(() => listWebhooks(ctx)),
    deliver: (options) => guard(() => deliver(ctx, (parse(deliverInput, options, 'webhooks.deliver') ?? {}) as DeliverOptions)),
    redeliver: (eventId) => guard(() => redeliver(ctx, parse(eventIdSchema, eventId, 'webhooks.redeliver'))),
    attempts: (eventId) => guard(() => attempts(ctx, parse(eventIdSchema, eventId, 'webhooks.attempts'))),
    prune: (options) => guard(() => pruneDeliveries(ctx, parse(pruneInput, options, 'webhooks.prune') as PruneOptions)),
  };
}
