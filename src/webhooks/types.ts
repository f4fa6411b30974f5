import type { EventType, WebhookStatus } from '../schema.js';

export interface WebhookAddInput {
  /** Where events are POSTed: an http: or https: URL. */
  url: string;
  /** Only these event types (default: all). */
  types?: EventType[];
  /** `whsec_` + base64 of 24–64 bytes; generated (32 random bytes) when omitted. */
  secret?: string;
}

export interface WebhookAdded {
  id: string;
  /** The signing secret: give it to the receiver. `list()` does not show it again. */
  secret: string;
  webhook: Webhook;
}

/** An endpoint, without its secret. */
export interface Webhook {
  id: string;
  url: string;
  /** The event types it receives, or null for all. */
  types: EventType[] | null;
  status: WebhookStatus;
  /** Why it was disabled (a `410 Gone`, with the URL and time), or null. */
  disabledReason: string | null;
  disabledAt: number | null;
  /** The id of the last event fanned out to it: it receives events after this one. */
  cursor: number;
  createdAt: number;
}

/** The part of the Fetch API a deliverer uses: global `fetch` by default. */
export type FetchLike = (
  url: string,
  init: { method: 'POST'; headers: Record<string, string>; body: string; signal: AbortSignal; redirect: 'manual' },
) => Promise<{
  status: number;
  headers: { get(name: string): string | null };
  body?: { cancel(): Promise<void> } | null;
}>;

export interface DeliverOptions {
  /** Default: the global `fetch`. */
  fetch?: FetchLike;
  /** Deliveries claimed and sent by this call (default 100, at most 1,000). */
  limit?: number;
  /** Time limit of one attempt in milliseconds (default 15,000, at most 120,000). */
  timeoutMs?: number;
  /** Requests in flight at once (default 50, at most `limit`). */
  concurrency?: number;
}

export interface DeliverReport {
  /** Delivery rows created by this call's fan-out (new events × matching endpoints). */
  queued: number;
  /** Attempts claimed and sent (each one request). */
  sent: number;
  /** Answered 2xx. */
  delivered: number;
  /** Failed, with another attempt scheduled. */
  retried: number;
  /** Failed on their last attempt: now `failed` (see `redeliver`). */
  failed: number;
  /** Endpoints this call disabled (they answered `410 Gone`). */
  disabled: number;
  /** Results not recorded on the delivery because the claim had lapsed and another deliverer took it (the attempt row keeps them). */
  lost: number;
  /** More is due or waiting to be fanned out than this call took: call again. */
  more: boolean;
}

export interface PruneOptions {
  /** Epoch ms: finished deliveries created before it go, with their attempts. */
  before: number;
  /** Deliveries deleted at most by this call (default 1,000, at most 10,000); `more` says whether to call again. */
  limit?: number;
}

export interface PruneReport {
  /** Finished deliveries deleted (delivered, or failed after the last attempt). */
  deliveries: number;
  /** Their attempt rows deleted. */
  attempts: number;
  /** Finished deliveries created before `before` remain: call again. */
  more: boolean;
}

export interface RedeliverResult {
  eventId: number;
  /** The endpoints the event is queued for again, due now. */
  webhooks: string[];
}

/**
 * `sending` until its deliverer records the result; `lost` when that deliverer died (the
 * claim lapsed, or a later attempt was claimed) without recording it.
 */
export type AttemptOutcomeView = 'sending' | 'lost' | 'delivered' | 'error' | 'timeout' | 'gone';

export interface DeliveryAttempt {
  webhookId: string;
  eventId: number;
  /** 1, 2, 3 … per endpoint and event; never reused (the `webhook-attempt` header). */
  attempt: number;
  startedAt: number;
  durationMs: number | null;
  /** The HTTP status, or null (network error, timeout, still sending). */
  status: number | null;
  error: string | null;
  outcome: AttemptOutcomeView;
}
