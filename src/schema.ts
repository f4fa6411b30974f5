import { sql } from 'drizzle-orm';
import { index, integer, sqliteTable, text, uniqueIndex } from 'drizzle-orm/sqlite-core';

/** Every kind of row the log can hold. Config rows (later rounds) carry delta = 0. */
export const ENTRY_KINDS = ['grant', 'debit', 'refund', 'adjust'] as const;
export type EntryKind = (typeof ENTRY_KINDS)[number];

/**
 * The log: the source of truth. Rows are only ever inserted.
 *
 * `seq` and `balance` make the newest row of an account (its head) carry the posted
 * balance, so guards read one row through `credit_entry_account_seq` instead of summing
 * history. `amount` is the operation's unsigned size (|delta| for money rows), kept so a
 * replay can be compared with the original request.
 */
export const creditEntry = sqliteTable(
  'credit_entry',
  {
    id: text('id').primaryKey(),
    account: text('account').notNull(),
    seq: integer('seq').notNull(),
    kind: text('kind', { enum: ENTRY_KINDS }).notNull(),
    delta: integer('delta').notNull(),
    amount: integer('amount').notNull(),
    balance: integer('balance').notNull(),
    reason: text('reason'),
    idempotencyKey: text('idempotency_key'),
    ref: text('ref'),
    model: text('model'),
    keyId: text('key_id'),
    actor: text('actor'),
    metadata: text('metadata'),
    createdAt: integer('created_at').notNull(),
  },
  (t) => [
    uniqueIndex('credit_entry_account_seq').on(t.account, t.seq),
    // Idempotency scope: (account, operation family, key). Partial, so unkeyed rows pay nothing.
    uniqueIndex('credit_entry_idempotency').on(t.account, t.kind, t.idempotencyKey).where(sql`idempotency_key IS NOT NULL`),
    index('credit_entry_ref').on(t.ref).where(sql`ref IS NOT NULL`),
    index('credit_entry_key_time').on(t.keyId, t.createdAt).where(sql`key_id IS NOT NULL`),
    index('credit_entry_created_at').on(t.createdAt),
  ],
);

export type CreditEntryRow = typeof creditEntry.$inferSelect;

/** Our own migrations table: an app's `__drizzle_migrations` never hides ours. */
export const MIGRATIONS_TABLE = 'drizzle_credits_migrations';
