import type { Row } from './runner/index.js';
import type { EntryKind } from './schema.js';
import type { Entry } from './types.js';

/** Column order of every INSERT into the log; statement builders supply values in this order. */
export const ENTRY_COLUMNS =
  'id, account, seq, kind, delta, amount, balance, reason, idempotency_key, ref, model, key_id, actor, metadata, created_at';

/**
 * The head of an account, read through the (account, seq) index: the MAX() form lets
 * SQLite seek to the last index entry, so the cost does not grow with history.
 */
export const headJoin = (alias: string, accountExpr: string) =>
  `${alias}.account = ${accountExpr} AND ${alias}.seq = (SELECT MAX(seq) FROM credit_entry WHERE account = ${accountExpr})`;

export const SELECT_HEAD = 'SELECT seq, balance FROM credit_entry WHERE account = ? ORDER BY seq DESC LIMIT 1';

const num = (v: unknown): number => (typeof v === 'bigint' ? Number(v) : (v as number));
const str = (v: unknown): string | null => (v === null || v === undefined ? null : String(v));

export function toEntry(r: Row): Entry {
  const metadata = str(r.metadata);
  return {
    id: String(r.id),
    account: String(r.account),
    seq: num(r.seq),
    kind: String(r.kind) as EntryKind,
    delta: num(r.delta),
    amount: num(r.amount),
    balance: num(r.balance),
    reason: str(r.reason),
    idempotencyKey: str(r.idempotency_key),
    ref: str(r.ref),
    model: str(r.model),
    keyId: str(r.key_id),
    actor: str(r.actor),
    metadata: metadata === null ? null : (JSON.parse(metadata) as Record<string, unknown>),
    createdAt: num(r.created_at),
  };
}

export const headOf = (rows: Row[] | undefined): { seq: number; balance: number } => {
  const r = rows?.[0];
  return r === undefined ? { seq: 0, balance: 0 } : { seq: num(r.seq), balance: num(r.balance) };
};

export { num };
