/**
 * Databases the suite measures on. Everything the library owns is written through the
 * public API; only the bulk history is seeded with raw SQL on `credit_entry` (the log's
 * required columns), so the fixtures do not depend on how the projections
 * (lots, holds, allocations) are laid out.
 *
 * - `seedPristine(dir, history)`: three files per history size, each with exactly `history`
 *   rows on `user_bench` (+ 1,000 rows on a neighbour account on each side):
 *     plain:  seeded rows, 64 keyed debits (the idempotent-replay keys), 5 plain debits;
 *     lots:   the same seeded rows and keyed debits, then 3 lot grants + 2 holds;
 *     append: the minimal-append table (setup.ts `APPEND_DDL`) holding a copy of every
 *             row of plain's `credit_entry` (and an empty, migrated ledger).
 *   Every scenario that writes runs on a fresh copy of one of them (see `freshCopy`), so
 *   every round starts from the same history whatever src/ writes.
 * - `seedWide(file, accounts, rowsEach)`: the many-accounts database (100 × 100,000 =
 *   10,000,000 rows), written in created_at order across accounts like a real log; and
 *   `seedWideAppend(file, wideFile)`: its minimal-append twin, in a file of its own.
 * - `buildWorkload(file, accounts)`: a realistic ledger written entirely through the API
 *   (top-ups, an expiring promo lot, keyed debits with model/key attribution, holds
 *   captured), to measure bytes per entry with projections.
 * - `footprint(file)`: bytes per entry after VACUUM, split into the log (credit_entry and
 *   its indexes) and everything else the package owns (projections).
 */
import { closeSync, copyFileSync, fsyncSync, openSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { MIGRATIONS_TABLE } from '../src/index.js';
import { ACCOUNT, APPEND_TABLE, NEIGHBOUR_ROWS, NEIGHBOURS, OPENING_GRANT, openLedger, seedAppendTable, seedHistory } from './setup.js';

/** Keyed debits on the benchmark account that the idempotent-replay scenario replays. */
export const REPLAY_KEYS = 64;
export const replayKey = (i: number): string => `replay-${i % REPLAY_KEYS}`;

const DAY_MS = 24 * 3600 * 1000;
/** Far larger than every debit a run makes, so no lot empties and all three stay open. */
export const LOT_AMOUNT = 1_000_000_000;
export const SUITE_LOTS = [
  { priority: 10, expiresInMs: 365 * DAY_MS },
  { priority: 20, expiresInMs: 180 * DAY_MS },
  { priority: 20, expiresInMs: 365 * DAY_MS },
] as const;
export const SUITE_HOLDS = [
  { amount: 1_000, ttlMs: 7 * DAY_MS },
  { amount: 2_500, ttlMs: 7 * DAY_MS },
] as const;
/** Rows the API adds on top of the seeded history in each pristine file. */
const API_ROWS = REPLAY_KEYS + SUITE_LOTS.length + SUITE_HOLDS.length;

export interface Pristine {
  readonly history: number;
  readonly plain: string;
  readonly lots: string;
  /** The minimal-append baseline: `bench_append` holding the same rows as plain's log. */
  readonly append: string;
  /** Rows of credit_entry in each file (history + the neighbours). */
  readonly rowsInFile: number;
  readonly bytes: number;
}

type LedgerOf = Awaited<ReturnType<typeof openLedger>>['ledger'];

/** Grants the 3 lots and places the 2 holds through the public API; checks they are open. */
export async function addLotsAndHolds(ledger: LedgerOf, account: string): Promise<void> {
  const now = Date.now();
  for (const l of SUITE_LOTS) {
    const r = await ledger.grant({ account, amount: LOT_AMOUNT, priority: l.priority, expiresAt: now + l.expiresInMs });
    if (r.outcome !== 'granted') throw new Error(`lot grant: ${r.outcome}`);
  }
  for (const h of SUITE_HOLDS) {
    const r = await ledger.hold({ account, amount: h.amount, ttlMs: h.ttlMs });
    if (r.outcome !== 'held') throw new Error(`hold: ${r.outcome}`);
  }
  await expectLotsAndHolds(ledger, account);
}

export async function expectLotsAndHolds(ledger: LedgerOf, account: string): Promise<void> {
  const [lots, holds] = [await ledger.lots(account), await ledger.holds(account)];
  if (lots.length !== SUITE_LOTS.length || holds.length !== SUITE_HOLDS.length) {
    throw new Error(
      `${account}: ${lots.length} open lots and ${holds.length} open holds, expected ${SUITE_LOTS.length} and ${SUITE_HOLDS.length}`,
    );
  }
}

async function addReplayKeys(ledger: LedgerOf, account: string): Promise<void> {
  for (let i = 0; i < REPLAY_KEYS; i++) {
    const r = await ledger.debitOnceIfCovers({ account, amount: 1, idempotencyKey: replayKey(i) });
    if (r.outcome !== 'debited') throw new Error(`replay key ${i}: ${r.outcome}`);
  }
}

/** Copies a closed, checkpointed database and fsyncs the copy (so no checkpoint inside a timed loop has to). */
export function freshCopy(from: string, to: string): void {
  removeDb(to);
  copyFileSync(from, to);
  const fd = openSync(to, 'r+');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

export function removeDb(file: string): void {
  for (const f of [file, `${file}-wal`, `${file}-shm`, `${file}-journal`]) rmSync(f, { force: true });
}

export async function seedPristine(dir: string, history: number): Promise<Pristine> {
  if (history < API_ROWS + 1) throw new Error(`history must be more than ${API_ROWS}`);
  const base = join(dir, `base-${history}.db`);
  const plain = join(dir, `plain-${history}.db`);
  const lots = join(dir, `lots-${history}.db`);
  const append = join(dir, `append-${history}.db`);
  {
    const { client, ledger } = await openLedger(base);
    seedHistory(client, NEIGHBOURS[0], NEIGHBOUR_ROWS, 1_000_000);
    seedHistory(client, ACCOUNT, history - API_ROWS, OPENING_GRANT);
    seedHistory(client, NEIGHBOURS[1], NEIGHBOUR_ROWS, 1_000_000);
    await addReplayKeys(ledger, ACCOUNT);
    client.pragma('wal_checkpoint(TRUNCATE)');
    client.close();
  }
  copyFileSync(base, plain);
  copyFileSync(base, lots);
  removeDb(base);
  {
    const { client, ledger } = await openLedger(plain);
    for (let i = 0; i < SUITE_LOTS.length + SUITE_HOLDS.length; i++) {
      const r = await ledger.debitIfCovers({ account: ACCOUNT, amount: 1 });
      if (r.outcome !== 'debited') throw new Error(`plain seed debit: ${r.outcome}`);
    }
    const seq = (await ledger.getBalance(ACCOUNT)).seq;
    if (seq !== history) throw new Error(`plain seed: ${seq} rows, expected ${history}`);
    client.pragma('wal_checkpoint(TRUNCATE)');
    client.close();
  }
  {
    const { client, ledger } = await openLedger(lots);
    await addLotsAndHolds(ledger, ACCOUNT);
    const seq = (await ledger.getBalance(ACCOUNT)).seq;
    if (seq !== history) throw new Error(`lots seed: ${seq} rows, expected ${history}`);
    client.pragma('wal_checkpoint(TRUNCATE)');
    client.close();
  }
  {
    const { client } = await openLedger(append);
    const rows = seedAppendTable(client, plain);
    const head = client.prepare(`SELECT MAX(seq) AS s FROM ${APPEND_TABLE} WHERE account = ?`).get(ACCOUNT) as { s: number };
    if (rows !== history + 2 * NEIGHBOUR_ROWS || head.s !== history) throw new Error(`append seed: ${rows} rows, head seq ${head.s}`);
    client.close();
  }
  return { history, plain, lots, append, rowsInFile: history + 2 * NEIGHBOUR_ROWS, bytes: statSync(plain).size };
}

export const wideAccount = (i: number): string => `acct_${String(i).padStart(3, '0')}`;

/**
 * `accounts` accounts of `rowsEach` rows each, generated seq-major (every account's row 1,
 * then every account's row 2, …) so created_at rises through the file as in a real log and
 * each index grows at `accounts` append points, not at random. Same row pattern as
 * `seedHistory` (auditor-clean running balances), in chunks for the progress callback.
 * Account 0 also gets the replay keys (through the API).
 */
export async function seedWide(
  file: string,
  accounts: number,
  rowsEach: number,
  onProgress: (rowsDone: number, rowsTotal: number) => void,
): Promise<void> {
  if (accounts > 999) throw new Error('at most 999 accounts');
  const { client, ledger } = await openLedger(file);
  client.prepare('CREATE TEMP TABLE accts (i INTEGER PRIMARY KEY, account TEXT NOT NULL)').run();
  const ins = client.prepare('INSERT INTO temp.accts VALUES (?, ?)');
  for (let i = 0; i < accounts; i++) ins.run(i, wideAccount(i));
  const startedAt = Date.now() - 30 * DAY_MS;
  const deltaAt = (seq: number) => (seq % 2 === 0 ? -(1 + (seq % 7)) : 1 + (seq % 3));
  const chunk = Math.max(1, Math.floor(200_000 / accounts));
  const stmt = client.prepare(
    `INSERT INTO credit_entry (account, seq, kind, delta, amount, balance, created_at)
     WITH RECURSIVE h(seq, delta, balance) AS (
       SELECT @from, @delta0, @balance0
       UNION ALL
       SELECT seq + 1,
              CASE WHEN (seq + 1) % 2 = 0 THEN -(1 + (seq + 1) % 7) ELSE 1 + (seq + 1) % 3 END,
              balance + CASE WHEN (seq + 1) % 2 = 0 THEN -(1 + (seq + 1) % 7) ELSE 1 + (seq + 1) % 3 END
       FROM h WHERE seq < @to
     )
     SELECT a.account, h.seq, CASE WHEN h.seq = 1 OR h.delta > 0 THEN 'grant' ELSE 'debit' END,
            h.delta, abs(h.delta), h.balance, @startedAt + h.seq
     FROM h CROSS JOIN temp.accts AS a`,
  );
  let balance = 0;
  for (let from = 1; from <= rowsEach; from += chunk) {
    const to = Math.min(rowsEach, from + chunk - 1);
    const delta0 = from === 1 ? OPENING_GRANT : deltaAt(from);
    const balance0 = balance + delta0;
    client.transaction(() => stmt.run({ from, to, delta0, balance0, startedAt }))();
    for (let s = from; s <= to; s++) balance += s === 1 ? OPENING_GRANT : deltaAt(s);
    onProgress(to * accounts, rowsEach * accounts);
  }
  client.prepare('DROP TABLE temp.accts').run();
  await addReplayKeys(ledger, wideAccount(0));
  // Spot-check the seed: head balance = Σ delta on the first and last account.
  for (const a of [wideAccount(0), wideAccount(accounts - 1)]) {
    const r = client
      .prepare(
        'SELECT (SELECT balance FROM credit_entry WHERE account = @a ORDER BY seq DESC LIMIT 1) AS head, SUM(delta) AS sum, COUNT(*) AS n FROM credit_entry WHERE account = @a',
      )
      .get({ a }) as { head: number; sum: number; n: number };
    if (r.head !== r.sum) throw new Error(`wide seed ${a}: head ${r.head} ≠ Σ delta ${r.sum}`);
  }
  client.pragma('wal_checkpoint(TRUNCATE)');
  client.close();
}

/**
 * The minimal-append twin of the many-accounts database, in a file of its own (so the 10M
 * db's footprint and copies are not doubled): `bench_append` with a copy of every row of
 * `wideFile`'s log, in pos order.
 */
export async function seedWideAppend(file: string, wideFile: string): Promise<number> {
  const { client } = await openLedger(file);
  try {
    return seedAppendTable(client, wideFile);
  } finally {
    client.close();
  }
}

/**
 * A ledger written entirely through the public API, `accounts` accounts × 52 entries:
 * a keyed top-up, an expiring promo lot (priority 10), 40 keyed debits with model and key
 * attribution (drawn from the lot: one allocation each), 5 holds of 50, each captured at 30.
 */
export async function buildWorkload(file: string, accounts: number): Promise<{ entries: number; seconds: number }> {
  const t0 = Date.now();
  const { client, ledger } = await openLedger(file);
  const perCall = 100;
  for (let a0 = 0; a0 < accounts; a0 += perCall) {
    const ids = Array.from({ length: Math.min(perCall, accounts - a0) }, (_, k) => `customer_${String(a0 + k).padStart(6, '0')}`);
    const ops = ids.flatMap((account, k) => [
      { op: 'grant' as const, account, amount: 10_000, idempotencyKey: `pi_${a0 + k}`, reason: 'top-up' },
      { op: 'grant' as const, account, amount: 1_000, priority: 10, expiresAt: Date.now() + 30 * DAY_MS, reason: 'promo' },
      ...Array.from({ length: 40 }, (_, j) => ({
        op: 'debitOnce' as const,
        account,
        amount: 1 + ((j * 7) % 20),
        idempotencyKey: `req_${a0 + k}_${j}`,
        model: j % 2 === 0 ? 'gpt-4o' : 'claude-sonnet-4',
        keyId: `key_${(a0 + k) % 50}`,
      })),
      ...Array.from({ length: 5 }, () => ({ op: 'hold' as const, account, amount: 50, ttlMs: 600_000 })),
    ]);
    const results = await ledger.batch(ops);
    const holdIds: string[] = [];
    for (const r of results) {
      if (r.outcome === 'held') holdIds.push(r.hold.id);
      else if (r.outcome !== 'granted' && r.outcome !== 'debited') throw new Error(`workload: ${r.outcome}`);
    }
    const captured = await ledger.batch(holdIds.map((holdId) => ({ op: 'capture' as const, holdId, amount: 30 })));
    if (captured.some((r) => r.outcome !== 'captured')) throw new Error('workload: a capture failed');
  }
  const report = await ledger.verify();
  if (!report.ok) throw new Error(`workload fails verify(): ${JSON.stringify(report.problems.slice(0, 3))}`);
  client.pragma('wal_checkpoint(TRUNCATE)');
  client.close();
  return { entries: report.entries, seconds: (Date.now() - t0) / 1000 };
}

export interface Footprint {
  entries: number;
  /** File size after VACUUM (or page_count × page_size without it). */
  fileBytes: number;
  vacuumed: boolean;
  /** B-tree bytes (dbstat) of credit_entry and its indexes. */
  logBytes: number | null;
  /** B-tree bytes of every other table and index the package owns (lots, holds, allocations…). */
  projectionBytes: number | null;
  /** Rows per projection table (discovered from sqlite_schema). */
  projectionRows: Record<string, number>;
  perEntry: { file: number; log: number | null; logAndProjections: number | null };
}

/**
 * Bytes per log entry. With `vacuum`, measured on a `VACUUM INTO` copy (so free pages and
 * half-full pages left by the run do not count). Tables are classified from sqlite_schema:
 * credit_entry and the indexes on it are the log; every other table and index except the
 * migrations table and SQLite's own is a projection.
 */
export function footprint(file: string, scratch: string, vacuum: boolean): Footprint {
  let target = file;
  if (vacuum) {
    removeDb(scratch);
    const src = new Database(file, { readonly: true });
    src.prepare('VACUUM INTO ?').run(scratch);
    src.close();
    target = scratch;
  }
  const db = new Database(target, { readonly: true });
  try {
    const entries = (db.prepare('SELECT COUNT(*) AS n FROM credit_entry').get() as { n: number }).n;
    const pageSize = db.pragma('page_size', { simple: true }) as number;
    const pageCount = db.pragma('page_count', { simple: true }) as number;
    const fileBytes = vacuum ? statSync(target).size : pageSize * pageCount;
    const objects = db.prepare("SELECT name, tbl_name AS tbl, type FROM sqlite_schema WHERE type IN ('table', 'index')").all() as {
      name: string;
      tbl: string;
      type: string;
    }[];
    const tableOf = new Map(objects.map((o) => [o.name, o.tbl]));
    const isOwnProjection = (tbl: string) => tbl !== 'credit_entry' && tbl !== MIGRATIONS_TABLE && !tbl.startsWith('sqlite_');
    const projectionRows: Record<string, number> = {};
    for (const o of objects) {
      if (o.type === 'table' && isOwnProjection(o.name)) {
        projectionRows[o.name] = (db.prepare(`SELECT COUNT(*) AS n FROM "${o.name.replace(/"/g, '""')}"`).get() as { n: number }).n;
      }
    }
    let logBytes: number | null = null;
    let projectionBytes: number | null = null;
    const hasDbstat = db.prepare("SELECT 1 FROM pragma_module_list WHERE name = 'dbstat'").get() !== undefined;
    if (hasDbstat && (vacuum || entries <= 2_000_000)) {
      logBytes = 0;
      projectionBytes = 0;
      for (const r of db.prepare('SELECT name, SUM(pgsize) AS bytes FROM dbstat GROUP BY name').all() as {
        name: string;
        bytes: number;
      }[]) {
        const tbl = tableOf.get(r.name);
        if (tbl === 'credit_entry') logBytes += r.bytes;
        else if (tbl !== undefined && isOwnProjection(tbl)) projectionBytes += r.bytes;
      }
    }
    return {
      entries,
      fileBytes,
      vacuumed: vacuum,
      logBytes,
      projectionBytes,
      projectionRows,
      perEntry: {
        file: fileBytes / entries,
        log: logBytes === null ? null : logBytes / entries,
        logAndProjections: logBytes === null || projectionBytes === null ? null : (logBytes + projectionBytes) / entries,
      },
    };
  } finally {
    db.close();
    if (vacuum) removeDb(scratch);
  }
}
