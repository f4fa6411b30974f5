/**
 * Reading the outbox. Rows carry positions (`entry`, `ref`) and numbers; ids are rendered here
 * with the ledger's prefix, so one database can serve ledgers with different prefixes.
 */
import { num } from '../entry.js';
import type { Ids } from '../ids.js';
import type { Row } from '../runner/index.js';
import type { EventType } from '../schema.js';
import type { EventData, EventPayload, LedgerEvent } from './types.js';

/** Which entry the `ref` column names, per event type (the data field it is rendered into). */
const REF_FIELD: Partial<Record<EventType, string>> = {
  'credits.expiring': 'lotId',
  'credits.expired': 'lotId',
  'hold.expired': 'holdId',
  'plan.renewed': 'lotId',
  'cap.warning': 'capId',
  'cap.reached': 'capId',
};

export function toEvent(r: Row, ids: Ids): LedgerEvent {
  const type = String(r.type) as EventType;
  const createdAt = num(r.created_at);
  const stored = JSON.parse(String(r.data)) as Record<string, unknown>;
  const data: EventData = { account: String(r.account) };
  if (r.entry !== null && r.entry !== undefined) data.entryId = ids.format(num(r.entry));
  const refField = REF_FIELD[type];
  if (refField !== undefined && r.ref !== null && r.ref !== undefined) data[refField] = ids.format(num(r.ref));
  Object.assign(data, stored);
  return { id: num(r.id), type, timestamp: new Date(createdAt).toISOString(), createdAt, account: data.account, data };
}

/** The body sent to a webhook endpoint: `{ type, timestamp, data }`. */
export function payloadOf(e: LedgerEvent): EventPayload {
  return { type: e.type, timestamp: e.timestamp, data: e.data };
}
