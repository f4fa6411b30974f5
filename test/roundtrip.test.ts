/**
 * The README's promise: every public operation is one round trip on D1 and libSQL.
 *
 * The raw client is wrapped in a counting Proxy (test/support/counting.ts) before it is
 * handed to drizzle, so every request the ledger's runner makes is seen. Each hot-path
 * call — every outcome and every thrown error — must cost exactly one. The admin
 * operations (sweep, verify, rebuild, migrate) are multi-step by design: their counts are
 * printed and held to the exact bound derived from their source.
 *
 * libSQL on a `file:` URL: the runner reads (and, if 0, sets) PRAGMA busy_timeout before
 * each call, because @libsql/client 0.15 ignores `timeout` for local files. Those are local
 * to the connection and only issued when `client.protocol === 'file'`: they are counted
 * apart and checked to be exactly that PRAGMA, one read per round trip. The same file
 * client with its protocol reported as 'http' runs the remote code path: no PRAGMA at all.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HoldResult, Ledger } from '../src/index.js';
import { createLedger } from '../src/index.js';
import { BATCH_CHUNK_OPS, MAX_AMOUNT, VERIFY_PAGE_ROWS } from '../src/limits.js';
import { NOT_APPLIED_GUARD } from '../src/runner/batch.js';
import { ALLOCATION_ROWS } from '../src/sql.js';
import { APP_LINKS_DDL, LINKS_SELECT, linkInsert } from './support/app-links.js';
import { type Call, CallLog, countingD1, countingLibsql, isBusyTimeoutPragma } from './support/counting.js';
import { D1_OVER_FETCH, d1OverFetch } from './support/d1-over-fetch.js';
import { migratedD1Copy } from './support/d1-template.js';
import { manualClock, type Row } from './support/drivers.js';

interface Harness {
  readonly ledger: Ledger;
  readonly log: CallLog;
  /** Uncounted SQL on the raw client (row counts for the admin bounds). */
  raw(sql: string): Promise<Row[]>;
  /** Drives the counting client directly; returns the round trips the log must show. */
  exercise(): Promise<string[]>;
  close(): Promise<void>;
}

interface Spec {
  readonly name: string;
  /** The runner must put PRAGMA busy_timeout before each call (local file), or never. */
  readonly busyPragma: boolean;
  /** Client methods that may carry the one round trip. */
  readonly carriers: readonly string[];
  open(clock: () => number): Promise<Harness>;
}

async function openD1(clock: () => number): Promise<Harness> {
  const { Miniflare } = await import('miniflare');
  const { drizzle } = await import('drizzle-orm/d1');
  // A copy of a database migrate() already built (support/d1-template.ts): beforeAll's
  // migrate() then finds it up to date, as the D1 of the driver matrix does.
  const persist = await migratedD1Copy();
  const mf = new Miniflare({ ...D1_OVER_FETCH, d1Databases: { DB: 'ledger' }, d1Persist: persist });
  const d1 = d1OverFetch(mf);
  const log = new CallLog();
  const counted = countingD1(d1, log);
  return {
    ledger: createLedger(drizzle(counted as never), { clock }),
    log,
    raw: async (sql) => ((await d1.prepare(sql).all()).results ?? []) as Row[],
    exercise: async () => {
      const one = counted.prepare('SELECT ? AS x');
      await one.bind(1).first(); // a statement run on its own is a round trip…
      await one.bind(2).all();
      await counted.batch([one.bind(3), counted.prepare('SELECT 4'), counted.prepare('SELECT 5')]); // …one inside a batch is not
      await counted.exec('SELECT 6');
      return ['stmt.first', 'stmt.all', 'batch', 'exec'];
    },
    close: async () => {
      await mf.dispose();
      rmSync(persist, { recursive: true, force: true });
    },
  };
}

async function openLibsql(clock: () => number, protocol?: string): Promise<Harness> {
  const { createClient } = await import('@libsql/client');
  const { drizzle } = await import('drizzle-orm/libsql');
  const dir = mkdtempSync(join(tmpdir(), 'drizzle-credits-rt-'));
  const client = createClient({ url: `file:${join(dir, 'ledger.db')}` });
  await client.execute('PRAGMA journal_mode = WAL');
  const log = new CallLog();
  const counted = countingLibsql(client, log, { protocol });
  return {
    ledger: createLedger(drizzle(counted), { clock }),
    log,
    exercise: async () => {
      expect(counted.protocol).toBe(protocol ?? 'file');
      await counted.execute('SELECT 1');
      await counted.batch(['SELECT 2', 'SELECT 3'], 'read');
      await counted.executeMultiple('SELECT 4; SELECT 5');
      const tx = await counted.transaction('read');
      await tx.execute('SELECT 6');
      await tx.commit();
      return ['execute', 'batch', 'executeMultiple', 'transaction', 'tx.execute', 'tx.commit'];
    },
    raw: async (sql) => {
      const rs = await client.execute(sql);
      return rs.rows.map((r) => Object.fromEntries(rs.columns.map((c, i) => [c, r[i]])));
    },
    close: async () => {
      client.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const SPECS: Spec[] = [
  { name: 'd1 (miniflare)', busyPragma: false, carriers: ['batch'], open: (c) => openD1(c) },
  { name: 'libsql file:', busyPragma: true, carriers: ['batch', 'execute'], open: (c) => openLibsql(c) },
  { name: 'libsql (protocol http)', busyPragma: false, carriers: ['batch', 'execute'], open: (c) => openLibsql(c, 'http') },
];

/** op → driver → "n" (or "n +p local PRAGMA"), printed once every driver has run. */
const table = new Map<string, Map<string, string>>();
afterAll(() => {
  const cols = SPECS.map((s) => s.name);
  const lines = [`| operation | ${cols.join(' | ')} |`, `|---|${cols.map(() => '---').join('|')}|`];
  for (const [op, by] of table) lines.push(`| ${op} | ${cols.map((c) => by.get(c) ?? '—').join(' | ')} |`);
  console.log(`round trips per operation (local busy_timeout PRAGMAs in brackets)\n${lines.join('\n')}`);
});

const holdId = (r: HoldResult): string => {
  if (r.outcome === 'insufficient' || r.outcome === 'capped') throw new Error('setup: hold was insufficient');
  return r.hold.id;
};

/** The pages `verify` reads a table in: it stops at the first page shorter than a full one. */
const pages = (rows: number) => Math.floor(rows / VERIFY_PAGE_ROWS) + 1;

const show = (calls: readonly Call[]) => calls.map((c) => `${c.method}(${c.sql.map((s) => s.slice(0, 40)).join(' ; ')})`);

describe.each(SPECS)('$name: one round trip per operation', (spec) => {
  const clock = manualClock();
  let h: Harness;
  let ledger: Ledger;

  beforeAll(async () => {
    h = await spec.open(clock.now);
    ledger = h.ledger;
    await ledger.migrate();
  });
  afterAll(async () => {
    await h?.close();
  });

  /**
   * Runs `fn` with a fresh log and records its round trips. On a local file every round
   * trip is preceded by exactly one PRAGMA busy_timeout read (and a set only when it read
   * 0); on D1 and the remote libSQL path there is no PRAGMA at all.
   */
  async function measure<T>(op: string, fn: () => Promise<T>): Promise<{ value?: T; error?: unknown; trips: Call[] }> {
    h.log.reset();
    let value: T | undefined;
    let error: unknown;
    try {
      value = await fn();
    } catch (e) {
      error = e;
    }
    const calls = [...h.log.calls];
    const trips = h.log.roundTrips;
    const pragmas = h.log.localPragmas;
    const row = table.get(op) ?? new Map<string, string>();
    row.set(spec.name, pragmas.length > 0 ? `${trips.length} (+${pragmas.length})` : String(trips.length));
    table.set(op, row);
    expect(
      calls.filter((c) => c.method === 'transaction' || c.method.startsWith('tx.')),
      `${op}: interactive transaction`,
    ).toEqual([]);
    expect(
      calls.filter((c) => c.method.startsWith('other:')),
      `${op}: unexpected client calls`,
    ).toEqual([]);
    if (!spec.busyPragma) {
      expect(
        // verify() runs PRAGMA quick_check as one of its reads; no other PRAGMA is sent.
        calls.filter((c) => c.sql.some((s) => /^\s*PRAGMA/i.test(s) && !/^\s*PRAGMA quick_check\s*$/i.test(s))),
        `${op}: PRAGMA on ${spec.name}`,
      ).toEqual([]);
    } else {
      // [PRAGMA busy_timeout, (PRAGMA busy_timeout = n)?, round trip] per runner call, nothing else.
      let i = 0;
      for (const _ of trips) {
        expect(calls[i]?.sql, `${op}: call ${i} of ${JSON.stringify(show(calls))}`).toEqual(['PRAGMA busy_timeout']);
        i++;
        const next = calls[i]?.sql[0];
        if (next !== undefined && CallLog.isLocalPragma(calls[i] as Call) && /=/.test(next)) i++;
        expect(CallLog.isLocalPragma(calls[i] as Call), `${op}: call ${i} of ${JSON.stringify(show(calls))}`).toBe(false);
        i++;
      }
      expect(i, `${op}: ${JSON.stringify(show(calls))}`).toBe(calls.length);
      expect(pragmas.every((c) => c.sql.every(isBusyTimeoutPragma))).toBe(true);
    }
    return { value, error, trips };
  }

  /** A hot-path call: it must succeed with exactly one round trip. */
  async function one<T>(op: string, fn: () => Promise<T>): Promise<T> {
    const { value, error, trips } = await measure(op, fn);
    if (error !== undefined) throw error;
    expect(show(trips), `${op}: round trips`).toHaveLength(1);
    expect(spec.carriers, `${op}: carried by`).toContain(trips[0]?.method);
    return value as T;
  }

  /** A hot-path call that throws `code`: the error costs exactly one round trip too. */
  async function oneThrows(op: string, code: string, fn: () => Promise<unknown>): Promise<void> {
    const { error, trips } = await measure(op, fn);
    expect(error, op).toMatchObject({ name: 'LedgerError', code });
    expect(show(trips), `${op}: round trips`).toHaveLength(1);
    expect(spec.carriers, `${op}: carried by`).toContain(trips[0]?.method);
  }

  it('the counter sees every request the client sends', async () => {
    h.log.reset();
    const expected = await h.exercise();
    expect(h.log.calls.map((c) => c.method)).toEqual(expected);
    expect(h.log.roundTrips).toHaveLength(expected.length);
  });

  /** Ids carried from one step to the next. */
  const ids: Record<string, string> = {};

  it('grant', async () => {
    expect(await one('grant (plain)', () => ledger.grant({ account: 'a', amount: 1_000 }))).toMatchObject({ outcome: 'granted' });
    const keyed = await one('grant (keyed)', () => ledger.grant({ account: 'a', amount: 50, idempotencyKey: 'g1' }));
    expect(keyed).toMatchObject({ outcome: 'granted', balance: 1_050 });
    ids.grant = keyed.entry.id;
    expect(
      await one('grant (lot: expiresAt + priority)', () =>
        ledger.grant({ account: 'a', amount: 100, expiresAt: clock.now() + 3_600_000, priority: 10 }),
      ),
    ).toMatchObject({ outcome: 'granted', balance: 1_150 });
    expect(await one('grant (lot: priority only)', () => ledger.grant({ account: 'a', amount: 40, priority: 20 }))).toMatchObject({
      outcome: 'granted',
    });
    expect(await one('grant (replayed)', () => ledger.grant({ account: 'a', amount: 50, idempotencyKey: 'g1' }))).toMatchObject({
      outcome: 'replayed',
      entry: { id: keyed.entry.id },
    });
    await oneThrows('grant → idempotency_conflict', 'idempotency_conflict', () =>
      ledger.grant({ account: 'a', amount: 51, idempotencyKey: 'g1' }),
    );
    expect(await one('grant (to the largest balance)', () => ledger.grant({ account: 'big', amount: MAX_AMOUNT }))).toMatchObject({
      outcome: 'granted',
      balance: MAX_AMOUNT,
    });
    await oneThrows('grant → overflow', 'overflow', () => ledger.grant({ account: 'big', amount: 1 }));
  });

  it('a call rejected by validation sends nothing', async () => {
    const { error, trips } = await measure('grant → invalid_amount (validation)', () => ledger.grant({ account: 'a', amount: 0 }));
    expect(error).toMatchObject({ code: 'invalid_amount' });
    expect(trips).toEqual([]);
  });

  it('debitIfCovers / debitOnceIfCovers', async () => {
    const d = await one('debitIfCovers (debited, draws lots)', () => ledger.debitIfCovers({ account: 'a', amount: 30, keyId: 'k1' }));
    expect(d).toMatchObject({ outcome: 'debited', balance: 1_160 });
    ids.debit = d.entry!.id;
    expect(await one('debitIfCovers (insufficient)', () => ledger.debitIfCovers({ account: 'a', amount: 1_000_000 }))).toMatchObject({
      outcome: 'insufficient',
    });
    expect(
      await one('debitIfCovers (no account: insufficient)', () => ledger.debitIfCovers({ account: 'nobody', amount: 1 })),
    ).toMatchObject({ outcome: 'insufficient', balance: 0 });
    const once = await one('debitOnceIfCovers (debited)', () =>
      ledger.debitOnceIfCovers({ account: 'a', amount: 20, idempotencyKey: 'd1', keyId: 'k1' }),
    );
    expect(once).toMatchObject({ outcome: 'debited', balance: 1_140 });
    expect(
      await one('debitOnceIfCovers (replayed)', () =>
        ledger.debitOnceIfCovers({ account: 'a', amount: 20, idempotencyKey: 'd1', keyId: 'k1' }),
      ),
    ).toMatchObject({ outcome: 'replayed', entry: { id: once.entry!.id }, balance: 1_140 });
    expect(
      await one('debitOnceIfCovers (insufficient)', () =>
        ledger.debitOnceIfCovers({ account: 'a', amount: 1_000_000, idempotencyKey: 'd2' }),
      ),
    ).toMatchObject({ outcome: 'insufficient' });
    await oneThrows('debitOnceIfCovers → idempotency_conflict', 'idempotency_conflict', () =>
      ledger.debitOnceIfCovers({ account: 'a', amount: 21, idempotencyKey: 'd1', keyId: 'k1' }),
    );
  });

  it('refund', async () => {
    expect(
      await one('refund (partial, back to lots)', () => ledger.refund({ entryId: ids.debit!, amount: 10, idempotencyKey: 'r1' })),
    ).toMatchObject({ outcome: 'refunded', balance: 1_150, refundable: 20 });
    expect(await one('refund (replayed)', () => ledger.refund({ entryId: ids.debit!, amount: 10, idempotencyKey: 'r1' }))).toMatchObject({
      outcome: 'replayed',
      refundable: 20,
    });
    await oneThrows('refund → exceeds_refundable', 'exceeds_refundable', () => ledger.refund({ entryId: ids.debit!, amount: 1_000 }));
    await oneThrows('refund → not_found', 'not_found', () => ledger.refund({ entryId: '01ZZZZZZZZZZZZZZZZZZZZZZZZ' }));
    await oneThrows('refund → not_refundable', 'not_refundable', () => ledger.refund({ entryId: ids.grant! }));
    await oneThrows('refund → idempotency_conflict', 'idempotency_conflict', () =>
      ledger.refund({ entryId: ids.debit!, amount: 5, idempotencyKey: 'r1' }),
    );
    expect(await one('refund (the rest)', () => ledger.refund({ entryId: ids.debit! }))).toMatchObject({
      outcome: 'refunded',
      refundable: 0,
    });
  });

  it('adjust', async () => {
    expect(await one('adjust (credit)', () => ledger.adjust({ account: 'a', delta: 5, reason: 'fix' }))).toMatchObject({
      outcome: 'adjusted',
    });
    expect(await one('adjust (debit, draws lots)', () => ledger.adjust({ account: 'a', delta: -5, reason: 'fix' }))).toMatchObject({
      outcome: 'adjusted',
    });
    expect(await one('adjust (insufficient)', () => ledger.adjust({ account: 'a', delta: -1_000_000, reason: 'fix' }))).toMatchObject({
      outcome: 'insufficient',
    });
    expect(await one('adjust (keyed)', () => ledger.adjust({ account: 'a', delta: 7, reason: 'fix', idempotencyKey: 'a1' }))).toMatchObject(
      { outcome: 'adjusted' },
    );
    expect(
      await one('adjust (replayed)', () => ledger.adjust({ account: 'a', delta: 7, reason: 'fix', idempotencyKey: 'a1' })),
    ).toMatchObject({ outcome: 'replayed' });
  });

  it('hold / extendHold / capture / release', async () => {
    const held = await one('hold (held)', () => ledger.hold({ account: 'a', amount: 10, idempotencyKey: 'h1' }));
    expect(held).toMatchObject({ outcome: 'held' });
    const h1 = holdId(held);
    expect(await one('hold (replayed)', () => ledger.hold({ account: 'a', amount: 10, idempotencyKey: 'h1' }))).toMatchObject({
      outcome: 'replayed',
      hold: { id: h1 },
    });
    expect(await one('hold (insufficient)', () => ledger.hold({ account: 'a', amount: 1_000_000 }))).toMatchObject({
      outcome: 'insufficient',
    });
    expect(await one('extendHold (extended)', () => ledger.extendHold({ holdId: h1, ttlMs: 60_000 }))).toMatchObject({
      outcome: 'extended',
    });
    expect(await one('capture (captured, part released)', () => ledger.capture({ holdId: h1, amount: 8 }))).toMatchObject({
      outcome: 'captured',
      released: 2,
    });
    expect(await one('capture (replayed)', () => ledger.capture({ holdId: h1, amount: 8 }))).toMatchObject({ outcome: 'replayed' });
    await oneThrows('extendHold → hold_closed', 'hold_closed', () => ledger.extendHold({ holdId: h1, ttlMs: 60_000 }));

    await ledger.grant({ account: 'c', amount: 20 });
    const h2 = holdId(await ledger.hold({ account: 'c', amount: 10 }));
    expect(await one('capture (insufficient: more than held)', () => ledger.capture({ holdId: h2, amount: 1_000 }))).toMatchObject({
      outcome: 'insufficient',
    });
    expect(await one('release (released)', () => ledger.release({ holdId: h2 }))).toMatchObject({ outcome: 'released' });
    expect(await one('release (replayed)', () => ledger.release({ holdId: h2 }))).toMatchObject({ outcome: 'replayed' });
    await oneThrows('capture → hold_closed', 'hold_closed', () => ledger.capture({ holdId: h2 }));
    await oneThrows('capture → not_found', 'not_found', () => ledger.capture({ holdId: '01ZZZZZZZZZZZZZZZZZZZZZZZZ' }));
    await oneThrows('release → not_found', 'not_found', () => ledger.release({ holdId: '01ZZZZZZZZZZZZZZZZZZZZZZZZ' }));

    const h3 = holdId(await ledger.hold({ account: 'c', amount: 5, ttlMs: 1_000 }));
    clock.advance(2_000);
    await oneThrows('capture → hold_expired', 'hold_expired', () => ledger.capture({ holdId: h3 }));
    await oneThrows('release → hold_expired', 'hold_expired', () => ledger.release({ holdId: h3 }));
  });

  it('reads', async () => {
    expect(await one('getBalance', () => ledger.getBalance('a'))).toMatchObject({ account: 'a' });
    expect(await one('history', () => ledger.history('a', { limit: 5 }))).toMatchObject({ entries: expect.any(Array) });
    expect(
      await one('history (kinds + cursor)', () => ledger.history('a', { limit: 2, cursor: '5', kinds: ['grant', 'debit'] })),
    ).toMatchObject({ entries: expect.any(Array) });
    expect(await one('keySpend', () => ledger.keySpend('k1'))).toMatchObject({ keyId: 'k1', debits: 2 });
    expect(await one('holds', () => ledger.holds('a'))).toEqual([]);
    expect(await one('lots', () => ledger.lots('a'))).toHaveLength(2);
    expect(await one('expiring', () => ledger.expiring('a', { withinMs: 7_200_000 }))).toHaveLength(1);
    expect(await one('allocations', () => ledger.allocations(ids.debit!))).not.toEqual([]);
    expect(await one('stats', () => ledger.stats())).toMatchObject({ accounts: 3 });
    // Analytics: the answer and the fold's state in one read batch while the rollup is
    // current (fewer than USAGE_FOLD_LAG rows unfolded, as here).
    const range = { from: 0, to: clock.now() + 1 };
    expect(await one('analytics.spend (by model, day)', () => ledger.analytics.spend({ ...range, groupBy: ['model', 'day'] }))).toEqual(
      expect.any(Array),
    );
    expect(await one('analytics.top', () => ledger.analytics.top({ ...range, by: 'account', limit: 2 }))).toHaveLength(1);
    // 'big' holds 2^53 − 1 granted credits, so the ledger-wide total granted passes 2^53 − 1.
    await oneThrows('analytics.summary → overflow', 'overflow', () => ledger.analytics.summary(range));
    expect(await one('entries', () => ledger.entries({ limit: 3 }))).toMatchObject({ cursor: '3', hasMore: true });
    expect(await one('entry', () => ledger.entry(ids.debit!))).toMatchObject({ id: ids.debit });
  });

  it('batch: one round trip per BATCH_CHUNK_OPS ops', async () => {
    const mixed = await one('batch (4 mixed ops, one rejected)', () =>
      ledger.batch([
        { op: 'grant', account: 'b', amount: 100 },
        { op: 'debit', account: 'b', amount: 10 },
        { op: 'hold', account: 'b', amount: 5 },
        { op: 'refund', entryId: '01ZZZZZZZZZZZZZZZZZZZZZZZZ' },
      ]),
    );
    expect(mixed.map((r) => r.outcome)).toEqual(['granted', 'debited', 'held', 'rejected']);

    const n = BATCH_CHUNK_OPS + 1;
    const big = await measure(`batch (${n} grants)`, () =>
      ledger.batch(Array.from({ length: n }, () => ({ op: 'grant' as const, account: 'b2', amount: 1 }))),
    );
    expect(big.error).toBeUndefined();
    expect(big.value).toHaveLength(n);
    expect(big.trips.map((c) => c.method)).toEqual(Array.from({ length: Math.ceil(n / BATCH_CHUNK_OPS) }, () => 'batch'));

    const bad = await measure('batch → invalid_amount (validation)', () =>
      ledger.batch([
        { op: 'grant', account: 'b', amount: 1 },
        { op: 'grant', account: 'b', amount: -1 },
      ]),
    );
    expect(bad.error).toMatchObject({ code: 'invalid_amount' });
    expect(bad.trips).toEqual([]);
  });

  it('sweep: 2 + 2·ceil(max(lapsed lots, lapsed holds) / batchSize) round trips', async () => {
    for (let i = 0; i < 5; i++) await ledger.grant({ account: 's', amount: 10 + i, expiresAt: clock.now() + 1_000 });
    for (let i = 0; i < 3; i++) await ledger.hold({ account: 's', amount: 1, ttlMs: 1_000 });
    clock.advance(2_000);

    // dryRun: the one PENDING read.
    const dry = await measure('sweep (dryRun)', () => ledger.sweep({ dryRun: true }));
    const lapsed = dry.value!;
    expect(dry.trips).toHaveLength(1);
    expect(lapsed.lotsExpired).toBe(5);
    expect(lapsed.holdsExpired).toBe(4); // three here, plus the one that lapsed in the capture test

    // PENDING read + per batch (candidates read, writeMany) + the final empty candidates read,
    // then the usage fold: its state read and, since the sweep wrote rows, one fold unit.
    const batchSize = 2;
    const batches = Math.ceil(Math.max(lapsed.lotsExpired, lapsed.holdsExpired) / batchSize);
    const bound = 2 + 2 * batches + 2;
    const swept = await measure(`sweep (${lapsed.lotsExpired} lots, ${lapsed.holdsExpired} holds, batchSize ${batchSize})`, () =>
      ledger.sweep({ batchSize }),
    );
    expect(swept.error).toBeUndefined();
    expect(swept.value).toMatchObject({ lotsExpired: 5, holdsExpired: 4, batches });
    expect(swept.trips.length).toBeLessThanOrEqual(bound);
    expect(swept.trips.length).toBe(bound); // no concurrent sweeper: the bound is met exactly
    // Each batch's writes go in one atomic round trip.
    expect(swept.trips.filter((c) => c.sql.some((s) => /^\s*WITH p AS[\s\S]*INSERT INTO credit_entry/.test(s)))).toHaveLength(batches);

    const idle = await measure('sweep (nothing lapsed)', () => ledger.sweep());
    expect(idle.value).toMatchObject({ lotsExpired: 0, holdsExpired: 0, batches: 0, usageFolded: 0 });
    expect(idle.trips).toHaveLength(3); // PENDING, the empty candidates, the fold's state (nothing to fold)
  });

  it('verify / rebuild / migrate: bounded by the pages they read', async () => {
    const count = async (table: string) => Number((await h.raw(`SELECT COUNT(*) AS n FROM ${table}`))[0]?.n);
    const entries = await count('credit_entry');
    const [lots, holds, allocations] = [await count('credit_lot'), await count('credit_hold'), await count(`(${ALLOCATION_ROWS})`)];
    const [caps, floors] = [await count('credit_cap'), await count('credit_floor')];
    const [plans, subscriptions] = [await count('credit_plan'), await count('credit_subscription')];
    const [teams, members] = [await count('credit_team'), await count('credit_team_member')];
    const [alerts, events] = [await count('credit_alert'), await count('credit_event')];

    // quick_check + MAX(rowid) + log pages (allocations ride on the log rows) + one paged
    // scan per projection (caps, floors and pricing too) + the refund/duplicate-key checks + the usage rollup: the fold's
    // state, the folded log rows by position, the buckets (each page with the cursor).
    const [fold] = await h.raw(
      'SELECT (SELECT COUNT(*) FROM credit_entry WHERE pos <= c.through) AS folded, (SELECT COUNT(*) FROM credit_usage) AS buckets FROM credit_usage_cursor AS c',
    );
    const usageBound = 1 + pages(Number(fold?.folded)) + pages(Number(fold?.buckets));
    // Pricing: its versions and the active one, and the charge entries the auditor prices again.
    const [versions, active] = [await count('credit_price_version'), await count('credit_price_active')];
    const charges = await count(
      `(SELECT 1 FROM credit_entry WHERE kind IN ('debit', 'capture') AND json_extract(metadata, '$.charge') IS NOT NULL)`,
    );
    const pricingBound = pages(versions) + pages(active) + pages(charges);
    const verifyBound =
      1 +
      1 +
      pages(entries) +
      pages(lots) +
      pages(holds) +
      pages(caps) +
      pages(floors) +
      pages(plans) +
      pages(subscriptions) +
      pages(teams) +
      pages(members) +
      pages(alerts) +
      pages(events) +
      1 + // refunds and duplicate keys
      1 + // transfers across accounts
      usageBound +
      pricingBound;
    const v = await measure('verify', () => ledger.verify());
    expect(v.value).toMatchObject({ ok: true, entries });
    expect(v.trips.length).toBeLessThanOrEqual(verifyBound);
    expect(v.trips.length).toBe(verifyBound);

    // MAX(rowid) + log pages + one atomic write of every projection (no writer raced it).
    const rebuildBound = 1 + pages(entries) + 1;
    const r = await measure('rebuild', () => ledger.rebuild());
    expect(r.value).toMatchObject({ entries, lots, holds, allocations, problems: [] });
    expect(r.trips.length).toBe(rebuildBound);
    expect(r.trips.filter((c) => c.method === 'batch' && c.sql.some((s) => /DELETE FROM credit_lot/.test(s)))).toHaveLength(1);

    // Already up to date: CREATE TABLE IF NOT EXISTS + read the applied ids.
    const m = await measure('migrate (up to date)', () => ledger.migrate());
    expect(m.value).toMatchObject({ applied: [] });
    expect(m.trips).toHaveLength(2);

    expect((await ledger.verify()).ok).toBe(true);
  });

  it('caps: capped, warned and floored calls are one round trip; caps.remove, floor and list one; caps.set two (the rollup check, then its unit)', async () => {
    const a = 'caps-rt';
    await ledger.grant({ account: a, amount: 1_000 });
    const set = await measure('caps.set (fold state read + unit)', () => ledger.caps.set({ account: a, window: 'day', limit: 50 }));
    expect(set.value).toMatchObject({ outcome: 'set' });
    expect(show(set.trips)).toHaveLength(2);
    await ledger.caps.set({ account: a, window: 'day', limit: 20, action: 'warn', model: 'm' });
    expect(await one('debitIfCovers (debited, warned)', () => ledger.debitIfCovers({ account: a, amount: 30, model: 'm' }))).toMatchObject({
      outcome: 'debited',
      warnings: [{ limit: 20 }],
    });
    expect(await one('debitIfCovers (capped)', () => ledger.debitIfCovers({ account: a, amount: 30 }))).toMatchObject({
      outcome: 'capped',
    });
    expect(await one('hold (capped)', () => ledger.hold({ account: a, amount: 30 }))).toMatchObject({ outcome: 'capped' });
    const h = holdId(await ledger.hold({ account: a, amount: 10 }));
    expect(await one('capture (capped beyond the hold)', () => ledger.capture({ holdId: h, amount: 40 }))).toMatchObject({
      outcome: 'capped',
    });
    expect(await one('caps.floor (set)', () => ledger.caps.floor({ account: a, floor: 960 }))).toMatchObject({ outcome: 'set' });
    expect(await one('debitIfCovers (insufficient: floor)', () => ledger.debitIfCovers({ account: a, amount: 5 }))).toMatchObject({
      outcome: 'insufficient',
    });
    expect(await one('caps.list', () => ledger.caps.list(a))).toHaveLength(2);
    expect(await one('caps.remove (removed)', () => ledger.caps.remove({ account: a, window: 'day' }))).toMatchObject({
      outcome: 'removed',
    });
    expect(await one('caps.remove (absent)', () => ledger.caps.remove({ account: a, window: 'day' }))).toMatchObject({ outcome: 'absent' });
    await ledger.release({ holdId: h });
  });

  // Last: its account and entries would change the counts the tests above check (stats, sweep).
  it('teams and transfer: every call one round trip (forbidden, capped and replayed too)', async () => {
    const team = 'team-rt';
    expect(await one('teams.create', () => ledger.teams.create({ team, owner: 'o-rt' }))).toMatchObject({ outcome: 'created' });
    expect(await one('teams.create (replayed)', () => ledger.teams.create({ team, owner: 'o-rt' }))).toMatchObject({ outcome: 'replayed' });
    expect(
      await one('teams.addMember', () => ledger.teams.addMember({ team, member: 'm-rt', role: 'member', actor: 'o-rt' })),
    ).toMatchObject({
      outcome: 'added',
    });
    expect(await one('teams.addMember (viewer)', () => ledger.teams.addMember({ team, member: 'v-rt', role: 'viewer' }))).toMatchObject({
      outcome: 'added',
    });
    expect(await one('teams.setRole', () => ledger.teams.setRole({ team, member: 'm-rt', role: 'admin' }))).toMatchObject({
      outcome: 'updated',
    });
    await ledger.grant({ account: team, amount: 100, expiresAt: Date.now() + 3_600_000 });
    await ledger.grant({ account: team, amount: 100 });
    const debited = await one('debitIfCovers (team, actor)', () => ledger.debitIfCovers({ account: team, amount: 5, actor: 'm-rt' }));
    expect(debited).toMatchObject({ outcome: 'debited' });
    const forbidden = await measure('debitIfCovers (team, viewer: forbidden)', () =>
      ledger.debitIfCovers({ account: team, amount: 5, actor: 'v-rt' }),
    );
    expect(forbidden.error).toMatchObject({ code: 'forbidden' });
    expect(show(forbidden.trips)).toHaveLength(1);
    const moved = await one('transfer (lots kept: two arrivals)', () =>
      ledger.transfer({ from: team, to: 'u-rt', amount: 150, actor: 'm-rt', idempotencyKey: 't1' }),
    );
    expect(moved).toMatchObject({ outcome: 'transferred', in: [{ amount: 95 }, { amount: 55 }] });
    expect(
      await one('transfer (replayed)', () => ledger.transfer({ from: team, to: 'u-rt', amount: 150, actor: 'm-rt', idempotencyKey: 't1' })),
    ).toMatchObject({
      outcome: 'replayed',
    });
    expect(await one('transfer (insufficient)', () => ledger.transfer({ from: team, to: 'u-rt', amount: 1_000 }))).toMatchObject({
      outcome: 'insufficient',
    });
    expect(await one('teams.members', () => ledger.teams.members(team))).toHaveLength(3);
    expect(await one('teams.memberships', () => ledger.teams.memberships('m-rt'))).toHaveLength(1);
    expect(await one('teams.removeMember', () => ledger.teams.removeMember({ team, member: 'v-rt' }))).toMatchObject({
      outcome: 'removed',
    });
  });

  it('with: applied is one round trip; a no-op (insufficient, replayed, conflict) is two and writes nothing', async () => {
    await h.raw(APP_LINKS_DDL);
    const links = async () => (await h.raw(LINKS_SELECT)).map((r) => `${String(r.entry_note)}:${String(r.account)}:${Number(r.amount)}`);
    /** Everything an operation can write: the log, the projections, the guard table, the app's table. */
    const state = async () => ({
      entries: await h.raw('SELECT * FROM credit_entry ORDER BY pos'),
      lots: await h.raw('SELECT * FROM credit_lot ORDER BY id'),
      holds: await h.raw('SELECT * FROM credit_hold ORDER BY id'),
      guard: await h.raw('SELECT * FROM credit_unit_guard'),
      links: await links(),
    });
    const link = (note: string, amount: number) => ({ with: [linkInsert(note, 'w', amount)] });
    const isWrite = (sql: string) => /^\s*(INSERT|UPDATE|DELETE|REPLACE)\b/i.test(sql);

    /** The first round trip is the operation's batch: its primary, then the guard, then the app's statement. */
    const checkFirst = (op: string, trips: readonly Call[]) => {
      const first = trips[0] as Call;
      expect(first.method, `${op}: carried by`).toBe('batch');
      const guard = first.sql.indexOf(NOT_APPLIED_GUARD.sql);
      expect(guard, `${op}: guard in ${JSON.stringify(show(trips))}`).toBeGreaterThanOrEqual(1);
      expect(first.sql[guard + 1], `${op}: the app's statement right after the guard`).toMatch(/^insert into "app_ledger_links"/);
    };
    /** Applied: exactly one round trip, and the app's row is there. */
    async function applied<T>(op: string, note: string, amount: number, fn: () => Promise<T>): Promise<T> {
      const before = await links();
      const { value, error, trips } = await measure(op, fn);
      if (error !== undefined) throw error;
      expect(show(trips), `${op}: round trips`).toHaveLength(1);
      checkFirst(op, trips);
      expect(await links(), `${op}: the app's row`).toEqual([...before, `${note}:w:${amount}`].sort());
      return value as T;
    }
    /** Not applied: exactly two round trips, the second a read; nothing written anywhere. */
    async function noop(op: string, fn: () => Promise<unknown>): Promise<{ value?: unknown; error?: unknown }> {
      const before = await state();
      const { value, error, trips } = await measure(op, fn);
      expect(show(trips), `${op}: round trips`).toHaveLength(2);
      checkFirst(op, trips);
      expect(spec.carriers, `${op}: second round trip carried by`).toContain(trips[1]?.method);
      expect(trips[1]?.sql.filter(isWrite), `${op}: the second round trip only reads`).toEqual([]);
      expect(await state(), `${op}: wrote nothing`).toEqual(before);
      return { value, error };
    }
    const notApplied = async (op: string, fn: () => Promise<unknown>) => {
      const { value, error } = await noop(op, fn);
      if (error !== undefined) throw error;
      return value;
    };

    const grant = { account: 'w', amount: 100, idempotencyKey: 'wg' };
    expect(await applied('with: grant (granted)', 'grant', 100, () => ledger.grant(grant, link('grant', 100)))).toMatchObject({
      outcome: 'granted',
      balance: 100,
    });
    expect(await notApplied('with: grant (replayed)', () => ledger.grant(grant, link('grant-again', 100)))).toMatchObject({
      outcome: 'replayed',
    });

    const debit = (amount: number) => ({ account: 'w', amount });
    expect(
      await applied('with: debitIfCovers (debited)', 'debit', 10, () => ledger.debitIfCovers(debit(10), link('debit', 10))),
    ).toMatchObject({ outcome: 'debited', balance: 90 });
    expect(
      await notApplied('with: debitIfCovers (insufficient)', () => ledger.debitIfCovers(debit(91), link('debit-no', 91))),
    ).toMatchObject({
      outcome: 'insufficient',
      balance: 90,
    });
    expect(
      await notApplied('with: debitIfCovers (no account: insufficient)', () =>
        ledger.debitIfCovers({ account: 'w-nobody', amount: 1 }, link('debit-nobody', 1)),
      ),
    ).toMatchObject({ outcome: 'insufficient', balance: 0 });

    const once = { account: 'w', amount: 5, idempotencyKey: 'wd' };
    const d = await applied('with: debitOnceIfCovers (debited)', 'once', 5, () => ledger.debitOnceIfCovers(once, link('once', 5)));
    expect(d).toMatchObject({ outcome: 'debited', balance: 85 });
    expect(
      await notApplied('with: debitOnceIfCovers (replayed)', () => ledger.debitOnceIfCovers(once, link('once-again', 5))),
    ).toMatchObject({
      outcome: 'replayed',
      entry: { id: d.entry!.id },
    });
    expect(
      await notApplied('with: debitOnceIfCovers (insufficient)', () =>
        ledger.debitOnceIfCovers({ ...once, amount: 86, idempotencyKey: 'wd2' }, link('once-no', 86)),
      ),
    ).toMatchObject({ outcome: 'insufficient' });
    const conflict = await noop('with: debitOnceIfCovers → idempotency_conflict', () =>
      ledger.debitOnceIfCovers({ ...once, amount: 6 }, link('once-conflict', 6)),
    );
    expect(conflict.error).toMatchObject({ name: 'LedgerError', code: 'idempotency_conflict' });

    const hold = { account: 'w', amount: 30, idempotencyKey: 'wh' };
    const held = await applied('with: hold (held)', 'hold', 30, () => ledger.hold(hold, link('hold', 30)));
    const hw = holdId(held);
    expect(await notApplied('with: hold (replayed)', () => ledger.hold(hold, link('hold-again', 30)))).toMatchObject({
      outcome: 'replayed',
      hold: { id: hw },
    });
    expect(
      await notApplied('with: hold (insufficient)', () => ledger.hold({ account: 'w', amount: 1_000 }, link('hold-no', 1_000))),
    ).toMatchObject({ outcome: 'insufficient' });

    expect(
      await notApplied('with: capture (insufficient: more than held)', () =>
        ledger.capture({ holdId: hw, amount: 1_000 }, link('capture-no', 1_000)),
      ),
    ).toMatchObject({ outcome: 'insufficient' });
    const c = await applied('with: capture (captured)', 'capture', 20, () =>
      ledger.capture({ holdId: hw, amount: 20 }, link('capture', 20)),
    );
    expect(c).toMatchObject({ outcome: 'captured', released: 10 });
    expect(
      await notApplied('with: capture (replayed)', () => ledger.capture({ holdId: hw, amount: 20 }, link('capture-again', 20))),
    ).toMatchObject({ outcome: 'replayed', entry: { id: c.entry!.id } });

    // The other money operations take the same path.
    const refunded = await applied('with: refund (refunded)', 'refund', 3, () =>
      ledger.refund({ entryId: c.entry!.id, amount: 3 }, link('refund', 3)),
    );
    expect(refunded).toMatchObject({ outcome: 'refunded' });
    const adjusted = await applied('with: adjust (adjusted)', 'adjust', 2, () =>
      ledger.adjust({ account: 'w', delta: -2, reason: 'fix' }, link('adjust', 2)),
    );
    expect(adjusted).toMatchObject({ outcome: 'adjusted' });
    const h2 = holdId(await ledger.hold({ account: 'w', amount: 4 }));
    expect(await applied('with: release (released)', 'release', 4, () => ledger.release({ holdId: h2 }, link('release', 4)))).toMatchObject(
      {
        outcome: 'released',
      },
    );
    expect(await notApplied('with: release (replayed)', () => ledger.release({ holdId: h2 }, link('release-again', 4)))).toMatchObject({
      outcome: 'replayed',
    });

    // The app's own statement fails (its note is taken): the one batch fails, nothing is written, no second trip.
    const before = await state();
    const op = 'with: debitIfCovers → app_statement_failed';
    const failed = await measure(op, () => ledger.debitIfCovers(debit(1), link('debit', 1)));
    expect(failed.error).toMatchObject({ name: 'LedgerError', code: 'app_statement_failed' });
    expect(show(failed.trips), `${op}: round trips`).toHaveLength(1);
    checkFirst(op, failed.trips);
    expect(await state()).toEqual(before);

    const notes = (await links()).map((l) => l.split(':')[0]);
    expect(notes).toEqual(['adjust', 'capture', 'debit', 'grant', 'hold', 'once', 'refund', 'release']);
    expect(await ledger.verify()).toMatchObject({ ok: true });
  });
});
