import type { Ids } from './ids.js';
import { MAX_AMOUNT } from './limits.js';
import type { Row } from './runner/index.js';
import type { EntryKind } from './schema.js';
import type { BalanceNumbers, Entry } from './types.js';

export const num = (v: unknown): number => (typeof v === 'bigint' ? Number(v) : Number(v ?? 0));
const str = (v: unknown): string | null => (v === null || v === undefined ? null : String(v));
const numOrNull = (v: unknown): number | null => (v === null || v === undefined ? null : num(v));

/** An Entry from a full `credit_entry` row; `ids` names it and the entry it refers to. */
export function toEntry(r: Row, ids: Ids): Entry {
  const metadata = str(r.metadata);
  return {
    id: ids.format(num(r.pos)),
    account: String(r.account),
    seq: num(r.seq),
    kind: String(r.kind) as EntryKind,
    delta: num(r.delta),
    amount: num(r.amount),
    balance: num(r.balance),
    reason: str(r.reason),
    idempotencyKey: str(r.idempotency_key),
    ref: ids.formatOrNull(r.ref),
    model: str(r.model),
    keyId: str(r.key_id),
    actor: str(r.actor),
    metadata: metadata === null ? null : (JSON.parse(metadata) as Record<string, unknown>),
    expiresAt: numOrNull(r.expires_at),
    priority: numOrNull(r.priority),
    createdAt: num(r.created_at),
  };
}

/**
 * The numbers of a Balance from a row carrying `balance`, `held_now`, `expired_now` and
 * `floor_now` (a RETURNING row or a SNAPSHOT row). `balance` excludes lots past expiry;
 * `available` also excludes holds and the floor (clamped to 0 … 2^53 − 1: a negative floor
 * under a large balance could pass the largest amount, which no debit can ask for anyway).
 */
export function toBalance(account: string, r: Row | undefined): BalanceNumbers {
  if (r === undefined) return { account, balance: 0, held: 0, available: 0, seq: 0, floor: 0 };
  const balance = num(r.balance) - num(r.expired_now);
  const held = num(r.held_now);
  const floor = num(r.floor_now);
  return { account, balance, held, available: Math.min(MAX_AMOUNT, Math.max(0, balance - held - floor)), seq: num(r.seq), floor };
}

/** An Entry from what the call sent plus the `pos`, `seq` and `balance` the statement computed. */
export function entryFrom(
  r: Row,
  ids: Ids,
  e: Omit<Entry, 'id' | 'seq' | 'balance' | 'metadata' | 'expiresAt' | 'priority' | 'ref'> & {
    metadata: string | null;
    ref?: string | null;
    expiresAt?: number | null;
    priority?: number | null;
  },
): Entry {
  return {
    id: ids.format(num(r.pos)),
    account: e.account,
    seq: num(r.seq),
    kind: e.kind,
    delta: e.delta,
    amount: e.amount,
    balance: num(r.balance),
    reason: e.reason,
    idempotencyKey: e.idempotencyKey,
    ref: e.ref ?? null,
    model: e.model,
    keyId: e.keyId,
    actor: e.actor,
    metadata: e.metadata === null ? null : (JSON.parse(e.metadata) as Record<string, unknown>),
    expiresAt: e.expiresAt ?? null,
    priority: e.priority ?? null,
    createdAt: e.createdAt,
  };
}
