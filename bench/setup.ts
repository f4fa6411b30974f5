/**
 * Database setup for the benchmark: one pragma set for every file, the package's own
 * migration SQL for the baseline table, and a fast, auditor-clean history seed.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { drizzle } from 'drizzle-orm/better-sqlite3';
import { getTableConfig } from 'drizzle-orm/sqlite-core';
import { createLedger, creditEntry, type Ledger } from '../src/index.js';
import { MIGRATIONS } from '../src/migrate/embedded.generated.js';

/** Applied to every connection, in this order; printed with the results. */
export const PRAGMAS = ['journal_mode = WAL', 'synchronous = NORMAL', 'busy_timeout = 5000'] as const;

/** The account every scenario writes to. Neighbours sort before and after it. */
export const ACCOUNT = 'user_bench';
export const NEIGHBOURS = ['user_aaaa', 'user_zzzz'] as const;
export const NEIGHBOUR_ROWS = 1_000;

/** Opening grant of the benchmark account: far more than all benchmark debits together. */
export const OPENING_GRANT = 1_000_000_000_000;

export type Client = Database.Database;

export interface BenchDir {
  readonly path: string;
  remove(): void;
}

export function tempDir(): BenchDir {
  const path = mkdtempSync(join(tmpdir(), 'drizzle-credits-bench-'));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

export function openClient(file: string): Client {
  const client = new Database(file);
  for (const p of PRAGMAS) client.pragma(p);
  const mode = client.pragma('journal_mode', { simple: true });
  if (mode !== 'wal') throw new Error(`${file}: journal_mode is ${String(mode)}, expected wal`);
  return client;
}

/** The baseline table: `credit_entry` created by the package's own migration statements. */
export function applyMigrationSql(client: Client): void {
  client.transaction(() => {
    for (const m of MIGRATIONS) for (const s of m.statements) client.exec(s);
  })();
}

export async function openLedger(file: string, clock?: () => number): Promise<{ client: Client; ledger: Ledger }> {
  const client = openClient(file);
  const ledger = createLedger(drizzle(client), clock === undefined ? {} : { clock });
  await ledger.migrate();
  return { client, ledger };
}

/**
 * Appends `rows` entries for `account` in one INSERT … WITH RECURSIVE: seq 1..rows
 * contiguous, a large opening grant, then debits and small grants alternating, each row's
 * balance the running sum, so `ledger.verify()` passes. SQLite assigns `pos` (the rowid),
 * so the rows land after every row already in the file; `created_at` rises with seq and
 * lies in the past, so the benchmark's own rows land at the right edge, as in production.
 */
export function seedHistory(client: Client, account: string, rows: number, openingGrant: number): void {
  const startedAt = Date.now() - 30 * 24 * 3600 * 1000;
  client
    .prepare(
      `INSERT INTO credit_entry (account, seq, kind, delta, amount, balance, created_at)
       WITH RECURSIVE h(seq, kind, delta, balance) AS (
         SELECT 1, 'grant', @grant, @grant
         UNION ALL
         SELECT seq + 1,
                CASE WHEN (seq + 1) % 2 = 0 THEN 'debit' ELSE 'grant' END,
                CASE WHEN (seq + 1) % 2 = 0 THEN -(1 + (seq + 1) % 7) ELSE 1 + (seq + 1) % 3 END,
                balance + CASE WHEN (seq + 1) % 2 = 0 THEN -(1 + (seq + 1) % 7) ELSE 1 + (seq + 1) % 3 END
         FROM h WHERE seq < @rows
       )
       SELECT @account, seq, kind, delta, abs(delta), balance, @startedAt + seq FROM h`,
    )
    .run({ grant: openingGrant, rows, account, startedAt });
}

/** Seeds the benchmark account and its neighbours; returns the benchmark account's head seq. */
export function seedDatabase(client: Client, historyRows: number): number {
  seedHistory(client, NEIGHBOURS[0], NEIGHBOUR_ROWS, 1_000_000);
  seedHistory(client, ACCOUNT, historyRows, OPENING_GRANT);
  seedHistory(client, NEIGHBOURS[1], NEIGHBOUR_ROWS, 1_000_000);
  client.pragma('wal_checkpoint(TRUNCATE)');
  return headSeq(client);
}

/**
 * The minimal-append baseline: a table with the log's columns (so the same row values make
 * the same record), `pos INTEGER PRIMARY KEY` and ONE secondary index, on `account`; no
 * unique constraint, partial index or trigger. One autocommit single-row INSERT per op
 * into it is the floor any append-only log pays for a row on SQLite.
 */
export const APPEND_TABLE = 'bench_append';
/** Every column of the log, in table order: the minimal append stores the same record. */
export const LOG_COLUMNS = getTableConfig(creditEntry).columns.map((c) => c.name);
export const APPEND_DDL = [
  `CREATE TABLE ${APPEND_TABLE} (pos INTEGER PRIMARY KEY, account TEXT NOT NULL, seq INTEGER NOT NULL, kind TEXT NOT NULL,
  delta INTEGER NOT NULL, amount INTEGER NOT NULL, balance INTEGER NOT NULL, reason TEXT, idempotency_key TEXT, ref INTEGER,
  model TEXT, key_id TEXT, actor TEXT, metadata TEXT, expires_at INTEGER, priority INTEGER, created_at INTEGER NOT NULL,
  allocations TEXT, legacy_id TEXT)`,
  `CREATE INDEX ${APPEND_TABLE}_account ON ${APPEND_TABLE} (account)`,
] as const;

/**
 * Creates the minimal-append table in `client`'s database and fills it with a copy of every
 * row of `credit_entry` in `sourceFile` (same pos, same values, in pos order), so the
 * baseline appends to a table of the same size, holding the same accounts, as the ledger's.
 */
export function seedAppendTable(client: Client, sourceFile: string): number {
  for (const s of APPEND_DDL) client.exec(s);
  const cols = LOG_COLUMNS.join(', ');
  client.prepare('ATTACH DATABASE ? AS src').run(sourceFile);
  try {
    client.transaction(() => {
      client.exec(`INSERT INTO ${APPEND_TABLE} (${cols}) SELECT ${cols} FROM src.credit_entry ORDER BY pos`);
    })();
  } finally {
    client.exec('DETACH DATABASE src');
  }
  client.pragma('wal_checkpoint(TRUNCATE)');
  return (client.prepare(`SELECT COUNT(*) AS n FROM ${APPEND_TABLE}`).get() as { n: number }).n;
}

/**
 * The newest row of `account` in the minimal-append table: its index on (account) holds
 * the rowid in order, so ORDER BY pos DESC LIMIT 1 is one index descent.
 */
export const APPEND_HEAD_SQL = `SELECT seq, balance FROM ${APPEND_TABLE} WHERE account = ? ORDER BY pos DESC LIMIT 1`;

export function headSeq(client: Client, account: string = ACCOUNT): number {
  const row = client.prepare('SELECT MAX(seq) AS s FROM credit_entry WHERE account = ?').get(account) as { s: number | null };
  return row.s ?? 0;
}

/** Head seq and balance of `account` in the minimal-append table (0, 0 when it has no row). */
export function appendHead(client: Client, account: string = ACCOUNT): { seq: number; balance: number } {
  return (client.prepare(APPEND_HEAD_SQL).get(account) as { seq: number; balance: number } | undefined) ?? { seq: 0, balance: 0 };
}

/** Deletes the newest rows of the benchmark account in the minimal-append table until its head seq is `seq`. */
export function truncateAppendTo(client: Client, seq: number): void {
  const extra = appendHead(client).seq - seq;
  if (extra > 0) {
    client
      .prepare(`DELETE FROM ${APPEND_TABLE} WHERE pos IN (SELECT pos FROM ${APPEND_TABLE} WHERE account = ? ORDER BY pos DESC LIMIT ?)`)
      .run(ACCOUNT, extra);
  }
  client.pragma('wal_checkpoint(TRUNCATE)');
}

/**
 * Puts the benchmark account back at `seq` rows after a round, so every round starts from
 * the same history size (the "1k" account would otherwise be a 21k account by round two).
 * First gives the lots back what the removed rows drew (their `allocations`), so an
 * account with lots is back exactly where it was seeded (remaining = amount − Σ
 * allocations left, the invariant verify() checks; the lot's `open` flag follows by
 * trigger). Holds are left alone: a debit does not touch them. Harness-only: the library
 * never deletes log rows.
 */
export function truncateTo(client: Client, seq: number): void {
  client.transaction(() => {
    client
      .prepare(
        `UPDATE credit_lot SET remaining = remaining + COALESCE((
           SELECT SUM(json_extract(j.value, '$[1]')) FROM credit_entry AS e, json_each(e.allocations) AS j
           WHERE e.account = @a AND e.seq > @seq AND json_extract(j.value, '$[0]') = credit_lot.id), 0)
         WHERE account = @a`,
      )
      .run({ a: ACCOUNT, seq });
    client.prepare('DELETE FROM credit_entry WHERE account = ? AND seq > ?').run(ACCOUNT, seq);
  })();
  client.pragma('wal_checkpoint(TRUNCATE)');
}

/**
 * The open lots of the lots + holds scenario, granted through the public API on top of the
 * seeded history: far-future expiries, and each far larger than the debits of one round,
 * so every debit (amount 1) draws from the first lot and all three stay open all run.
 */
export const LOT_AMOUNT = 1_000_000_000;
const DAY_MS = 24 * 3600 * 1000;
export const BENCH_LOTS = [
  { priority: 10, expiresInMs: 365 * DAY_MS },
  { priority: 20, expiresInMs: 180 * DAY_MS },
  { priority: 20, expiresInMs: 365 * DAY_MS },
] as const;
/** The open holds: long TTLs (the library allows up to 30 days), so none lapses during a run. */
export const BENCH_HOLDS = [
  { amount: 1_000, ttlMs: 7 * DAY_MS },
  { amount: 2_500, ttlMs: 7 * DAY_MS },
] as const;

/**
 * Grants the lots and places the holds through the public API (so every row, lot and hold
 * is exactly what the library writes); returns the account's head seq afterwards.
 */
export async function seedLotsAndHolds(client: Client, ledger: Ledger): Promise<number> {
  const now = Date.now();
  for (const l of BENCH_LOTS) {
    const r = await ledger.grant({ account: ACCOUNT, amount: LOT_AMOUNT, priority: l.priority, expiresAt: now + l.expiresInMs });
    if (r.outcome !== 'granted') throw new Error(`lot grant: ${r.outcome}`);
  }
  for (const h of BENCH_HOLDS) {
    const r = await ledger.hold({ account: ACCOUNT, amount: h.amount, ttlMs: h.ttlMs });
    if (r.outcome !== 'held') throw new Error(`hold: ${r.outcome}`);
  }
  const state = openLotsAndHolds(client);
  if (state.lots !== BENCH_LOTS.length || state.holds !== BENCH_HOLDS.length) {
    throw new Error(`after seeding: ${state.lots} open lots and ${state.holds} open holds`);
  }
  client.pragma('wal_checkpoint(TRUNCATE)');
  return headSeq(client);
}

/** Open lots (something left, not past expiry) and open, live holds of the benchmark account. */
export function openLotsAndHolds(client: Client, now: number = Date.now()): { lots: number; holds: number } {
  return client
    .prepare(
      `SELECT (SELECT COUNT(*) FROM credit_lot WHERE account = @a AND remaining > 0 AND (expires_at IS NULL OR expires_at > @now)) AS lots,
              (SELECT COUNT(*) FROM credit_hold WHERE account = @a AND status = 'open' AND expires_at > @now) AS holds`,
    )
    .get({ a: ACCOUNT, now }) as { lots: number; holds: number };
}

/** Allocation rows written for the benchmark account's entries after `seq`. */
export function allocationsAfter(client: Client, seq: number): number {
  const r = client
    .prepare('SELECT COUNT(*) AS n FROM credit_entry AS e, json_each(e.allocations) WHERE e.account = ? AND e.seq > ?')
    .get(ACCOUNT, seq) as { n: number };
  return r.n;
}
