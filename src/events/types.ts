import type { EventType } from '../schema.js';

/**
 * One event of the outbox. `id` increases by one per event in commit order (no gaps), so a
 * reader that continues `after` the last id it saw never misses one. `timestamp` is the
 * ledger-clock time of the change that caused it (ISO 8601, UTC); `data` always carries
 * `account` and, when a log row caused it, `entryId`.
 */
export interface LedgerEvent {
  id: number;
  type: EventType;
  timestamp: string;
  createdAt: number;
  account: string;
  data: EventData;
}

/** The event's numbers; the fields beyond `account` depend on the type (docs/events.md). */
export interface EventData {
  account: string;
  entryId?: string;
  [field: string]: unknown;
}

/** The body a webhook receives (Standard Webhooks' recommended shape). */
export interface EventPayload {
  type: EventType;
  timestamp: string;
  data: EventData;
}

export interface EventsPage {
  events: LedgerEvent[];
  /** The id of the last event returned (or `after` when none): pass it as `after` for the next page. */
  cursor: number;
  hasMore: boolean;
}

export interface EventsListInput {
  after?: number;
  limit?: number;
  types?: EventType[];
}
