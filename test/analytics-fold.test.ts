/**
 * The usage rollup's fold, apart from the API: migration 0010 rolling up the history written
 * before it (every driver), the fold in bounded chunks, reads from a read-only connection
 * (nothing can be folded: the whole tail is read, exactly), and a refund whose `ref` names no
 * entry (a damaged log) not breaking the fold.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { drizzle } from 'drizzle-orm/better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { createLedger, MIGRATIONS_TABLE, USAGE_FOLD_LAG } from '../src/index.js';
import { MIGRATIONS } from '../src/migrate/index.js';
import { runnerFor } from '../src/runner/index.js';
import { foldUsage } from '../src/usage/fold.js';
import { DRIVERS } from './support/drivers.js';

const H = 3_600_000;
const D = 24 * H;
const T0 = Date.UTC(2029, 5, 1, 23, 30);

describe.each(DRIVERS)('migration 0010 on $name', (driver) => {
  it('rolls up the history written before it: the same answers as if it had always been there', async () => {
    const db = await driver.open({ migrate: false, clock: () => T0 + 3 * D });
    try {
      const upTo = MIGRATIONS.findIndex((m) => m.tag.startsWith('0010_'));
      expect(upTo).toBeGreaterThan(0);
      await db.all(
        `CREATE TABLE ${MIGRATIONS_TABLE} (id INTEGER PRIMARY KEY NOT NULL, tag TEXT NOT NULL, hash TEXT NOT NULL, applied_at INTEGER NOT NULL)`,
      );
      for (const m of MIGRATIONS.slice(0, upTo)) {
        for (const sql of m.statements) await db.all(sql);
        await db.all(`INSERT INTO ${MIGRATIONS_TABLE} (id, tag, hash, applied_at) VALUES (?, ?, ?, 0)`, [m.id, m.tag, m.hash]);
      }
      // What the 0009 library wrote: a grant, two labelled debits at 23:30 on June 1, a
      // refund of the first one a day later, an adjustment.
      const cols = 'account, seq, kind, delta, amount, balance, ref, model, key_id, actor, created_at';
      const rows = [
        ['u', 1, 'grant', 500, 500, 500, null, null, null, 'ops', T0],
        ['u', 2, 'debit', -100, 100, 400, null, 'm1', 'k1', null, T0],
        ['u', 3, 'debit', -30, 30, 370, null, 'm2', null, 'bob', T0 + H],
        ['u', 4, 'refund', 25, 25, 395, 2, 'm1', 'k1', null, T0 + D],
        ['u', 5, 'adjust', -5, 5, 390, null, null, null, null, T0 + D],
      ];
      for (const r of rows) await db.all(`INSERT INTO credit_entry (${cols}) VALUES (${r.map(() => '?').join(', ')})`, r);

      const up = await db.ledger.migrate();
      expect(up.applied).toEqual(MIGRATIONS.slice(upTo).map((m) => m.tag));
      // All of it folded by the migration itself; the cursor after the last row.
      expect(await db.all('SELECT through FROM credit_usage_cursor')).toEqual([{ through: 5 }]);
      expect(await db.all('SELECT COUNT(*) AS n FROM credit_usage')).toEqual([{ n: 4 }]);
      const range = { from: T0 - D, to: T0 + 3 * D };
      expect(await db.ledger.analytics.spend({ ...range, groupBy: ['model', 'day'] })).toEqual([
        { model: 'm1', day: '2029-06-01', debited: 100, refunded: 25, net: 75, count: 1 },
        { model: 'm2', day: '2029-06-02', debited: 30, refunded: 0, net: 30, count: 1 },
      ]);
      expect(await db.ledger.analytics.summary(range)).toMatchObject({ granted: 500, consumed: 105, adjusted: -5, activeAccounts: 1 });
      expect(await db.ledger.verify()).toMatchObject({ ok: true, problems: [] });
      // And new writes fold on top of it.
      await db.ledger.debitIfCovers({ account: 'u', amount: 7, model: 'm2' });
      expect(await db.ledger.analytics.top({ by: 'model', ...range })).toEqual([
        { model: 'm1', debited: 100, refunded: 25, net: 75, count: 1 },
        { model: 'm2', debited: 37, refunded: 0, net: 37, count: 2 },
      ]);
    } finally {
      await db.close();
    }
  });
});

describe('the fold (better-sqlite3 file)', () => {
  let dir = '';
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  async function seeded(n: number) {
    dir = mkdtempSync(join(tmpdir(), 'drizzle-credits-fold-'));
    const file = join(dir, 'ledger.db');
    const client = new Database(file);
    client.pragma('journal_mode = WAL');
    let now = T0;
    const ledger = createLedger(drizzle(client), { clock: () => now });
    await ledger.migrate();
    await ledger.grant({ account: 'a', amount: 1_000_000 });
    const ops = Array.from({ length: n }, (_, i) => ({ op: 'debit' as const, account: 'a', amount: 1 + (i % 5), model: `m${i % 3}` }));
    // Spread over a few hours, so the fold fills several buckets.
    for (let i = 0; i < ops.length; i += 500) {
      await ledger.batch(ops.slice(i, i + 500));
      now += H;
    }
    const expected = [0, 1, 2]
      .map((m) => {
        const mine = ops.filter((o) => o.model === `m${m}`);
        const debited = mine.reduce((s, o) => s + o.amount, 0);
        return { model: `m${m}`, debited, refunded: 0, net: debited, count: mine.length };
      })
      .sort((x, y) => y.net - x.net || x.model.localeCompare(y.model));
    return { file, client, ledger, expected, range: { from: T0, to: T0 + D } };
  }

  it('folds in bounded chunks, each an atomic unit, up to the top, then stops', async () => {
    const { client, ledger, expected, range } = await seeded(1_200);
    const runner = runnerFor(drizzle(client));
    const cursor = () => (client.prepare('SELECT through FROM credit_usage_cursor').get() as { through: number }).through;
    const top = (client.prepare('SELECT MAX(pos) AS p FROM credit_entry').get() as { p: number }).p;
    expect(cursor()).toBe(0);
    const r = await foldUsage(runner, { lag: 0, chunk: 100 });
    expect(r).toEqual({ folded: top, through: top, complete: true });
    expect(cursor()).toBe(top);
    expect(await foldUsage(runner, { lag: 0, chunk: 100 })).toEqual({ folded: 0, through: top, complete: true });
    expect(await ledger.analytics.spend({ ...range, groupBy: ['model'] })).toEqual(expected);
    expect((await ledger.verify()).problems).toEqual([]);
    client.close();
  });

  it(`a read-only connection cannot fold: it reads the whole tail (more than USAGE_FOLD_LAG rows), exactly, and writes nothing`, async () => {
    const { file, client, expected, range } = await seeded(USAGE_FOLD_LAG + 300);
    client.close();
    const ro = new Database(file, { readonly: true });
    const reader = createLedger(drizzle(ro));
    const state = () => ro.prepare('SELECT through, (SELECT COUNT(*) FROM credit_usage) AS buckets FROM credit_usage_cursor').get();
    const before = state();
    expect(await reader.analytics.spend({ ...range, groupBy: ['model'] })).toEqual(expected);
    expect(await reader.analytics.summary(range)).toMatchObject({ consumed: expected.reduce((s, e) => s + e.net, 0) });
    expect(await reader.entries({ limit: 2 })).toMatchObject({ cursor: '2', hasMore: true });
    expect(state()).toEqual(before);
    // sweep() cannot fold there either, and says so by folding nothing.
    await expect(reader.sweep()).resolves.toMatchObject({ usageFolded: 0 });
    ro.close();
  });

  it('a refund whose ref names no entry (a damaged log) counts in its own bucket instead of breaking the fold', async () => {
    const { client, ledger, range } = await seeded(10);
    client
      .prepare(
        `INSERT INTO credit_entry (account, seq, kind, delta, amount, balance, ref, model, created_at)
         SELECT 'a', MAX(seq) + 1, 'refund', 4, 4, (SELECT balance FROM credit_entry WHERE account = 'a' ORDER BY seq DESC LIMIT 1) + 4, 999999, 'm0', ?
         FROM credit_entry WHERE account = 'a'`,
      )
      .run(T0 + 2 * H);
    const rows = await ledger.analytics.spend({ ...range, groupBy: ['model', 'hour'], model: 'm0' });
    expect(rows.at(-1)).toMatchObject({ hour: new Date(T0 + 2 * H - 30 * 60_000).toISOString(), debited: 0, refunded: 4, count: 0 });
    expect((await ledger.sweep()).usageFolded).toBeGreaterThan(0);
    expect(await ledger.analytics.spend({ ...range, groupBy: ['model', 'hour'], model: 'm0' })).toEqual(rows);
    const codes = (await ledger.verify()).problems.map((p) => p.code);
    expect(codes).toContain('refund_target');
    expect(codes).not.toContain('usage_mismatch');
    client.close();
  });
});
