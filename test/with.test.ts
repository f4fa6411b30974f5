/**
 * `with`: the app's own statements commit in the same atomic unit as a ledger operation,
 * only if it applied — on every driver, D1's batch included.
 */
import Database from 'better-sqlite3';
import { drizzle } from 'drizzle-orm/better-sqlite3';
import { integer, sqliteTable, text } from 'drizzle-orm/sqlite-core';
import { beforeAll, describe, expect, it } from 'vitest';
import type { HoldResult } from '../src/index.js';
import { DRIVERS, snapshot, type TestDb } from './support/drivers.js';
import { uniq, useDb } from './support/suite.js';

/** The app's table, and a Drizzle handle to build its queries (any SQLite Drizzle handle renders the same SQL). */
const orders = sqliteTable('app_orders', {
  id: integer('id').primaryKey(),
  account: text('account').notNull(),
  amount: integer('amount').notNull(),
  note: text('note').unique(),
  paid: integer('paid', { mode: 'boolean' }).notNull().default(false),
});
const app = drizzle(new Database(':memory:'));
const order = (account: string, amount: number, note: string) => app.insert(orders).values({ account, amount, note, paid: true });

function holdOf(r: HoldResult) {
  if (r.outcome === 'insufficient' || r.outcome === 'capped') throw new Error('expected a hold');
  return r.hold;
}

describe.each(DRIVERS)('with: app statements atomic with an operation on $name', (driver) => {
  const t = useDb(driver);
  beforeAll(async () => {
    await t.db.exec(
      'CREATE TABLE app_orders (id INTEGER PRIMARY KEY, account TEXT NOT NULL, amount INTEGER NOT NULL, note TEXT UNIQUE, paid INTEGER NOT NULL DEFAULT 0)',
    );
  });
  const ordersOf = async (db: TestDb, account: string) =>
    (await db.all('SELECT amount, note, paid FROM app_orders WHERE account = ? ORDER BY id', [account])).map((r) => [
      Number(r.amount),
      String(r.note),
      Number(r.paid),
    ]);

  it('commits the order with the debit; an insufficient debit writes neither', async () => {
    const a = uniq();
    await t.db.ledger.grant({ account: a, amount: 100 });
    const d = await t.db.ledger.debitIfCovers({ account: a, amount: 60 }, { with: [order(a, 60, `${a}-1`)] });
    expect(d).toMatchObject({ outcome: 'debited', balance: 40 });
    expect(await ordersOf(t.db, a)).toEqual([[60, `${a}-1`, 1]]);
    const before = await snapshot(t.db);
    const no = await t.db.ledger.debitIfCovers({ account: a, amount: 41 }, { with: [order(a, 41, `${a}-2`)] });
    expect(no).toMatchObject({ outcome: 'insufficient', balance: 40, requested: 41 });
    expect(await ordersOf(t.db, a)).toEqual([[60, `${a}-1`, 1]]);
    expect(await snapshot(t.db)).toEqual(before);
  });

  it('a replayed debit does not run its statements again', async () => {
    const a = uniq();
    await t.db.ledger.grant({ account: a, amount: 100 });
    const input = { account: a, amount: 10, idempotencyKey: 'req-1' };
    expect((await t.db.ledger.debitOnceIfCovers(input, { with: [order(a, 10, `${a}-1`)] })).outcome).toBe('debited');
    const again = await t.db.ledger.debitOnceIfCovers(input, { with: [order(a, 10, `${a}-retry`)] });
    expect(again).toMatchObject({ outcome: 'replayed', balance: 90 });
    expect(await ordersOf(t.db, a)).toEqual([[10, `${a}-1`, 1]]);
  });

  it('a failing app statement undoes the operation: app_statement_failed, nothing written', async () => {
    const a = uniq();
    await t.db.ledger.grant({ account: a, amount: 100 });
    await t.db.ledger.debitIfCovers({ account: a, amount: 5 }, { with: [order(a, 5, `${a}-dup`)] });
    const before = await snapshot(t.db);
    const ordersBefore = await ordersOf(t.db, a);
    // The second statement breaks the note's UNIQUE constraint, after the debit and a first insert.
    await expect(
      t.db.ledger.debitIfCovers({ account: a, amount: 7 }, { with: [order(a, 7, `${a}-new`), order(a, 7, `${a}-dup`)] }),
    ).rejects.toMatchObject({ code: 'app_statement_failed' });
    expect(await snapshot(t.db)).toEqual(before);
    expect(await ordersOf(t.db, a)).toEqual(ordersBefore);
    // A statement on a table that does not exist is the app's failure too, not a missing ledger schema.
    await expect(
      t.db.ledger.debitIfCovers(
        { account: a, amount: 7 },
        { with: [{ toSQL: () => ({ sql: 'INSERT INTO no_such_table VALUES (1)', params: [] }) }] },
      ),
    ).rejects.toMatchObject({ code: 'app_statement_failed' });
    expect(await snapshot(t.db)).toEqual(before);
    expect((await t.db.ledger.getBalance(a)).balance).toBe(95);
  });

  it('works with every money operation: grant, hold, capture, release, refund, adjust', async () => {
    const a = uniq();
    const tag = (n: string) => `${a}-${n}`;
    const g = await t.db.ledger.grant({ account: a, amount: 100 }, { with: [order(a, 100, tag('grant'))] });
    const h = await t.db.ledger.hold({ account: a, amount: 30 }, { with: [order(a, 30, tag('hold'))] });
    const c = await t.db.ledger.capture({ holdId: holdOf(h).id, amount: 20 }, { with: [order(a, 20, tag('capture'))] });
    const h2 = await t.db.ledger.hold({ account: a, amount: 5 });
    await t.db.ledger.release({ holdId: holdOf(h2).id }, { with: [order(a, 5, tag('release'))] });
    // A replayed release runs nothing.
    await t.db.ledger.release({ holdId: holdOf(h2).id }, { with: [order(a, 5, tag('release-again'))] });
    await t.db.ledger.refund({ entryId: c.entry!.id, amount: 4 }, { with: [order(a, 4, tag('refund'))] });
    await t.db.ledger.adjust({ account: a, delta: -3, reason: 'fix' }, { with: [order(a, 3, tag('adjust'))] });
    expect(g.outcome).toBe('granted');
    expect((await ordersOf(t.db, a)).map((o) => o[1])).toEqual(['grant', 'hold', 'capture', 'release', 'refund', 'adjust'].map(tag));
    expect(await t.db.ledger.getBalance(a)).toMatchObject({ balance: 81, held: 0 });
    expect(await t.db.ledger.verify()).toMatchObject({ ok: true });
  });

  it.skipIf(driver.name.startsWith('d1'))("a full database stays storage_full, not the app's failure, and writes nothing", async () => {
    const a = uniq();
    await t.db.ledger.grant({ account: a, amount: 100 });
    const before = await snapshot(t.db);
    const [{ page_count: pages } = {}] = await t.db.all('PRAGMA page_count');
    await t.db.all(`PRAGMA max_page_count = ${Number(pages)}`);
    try {
      const big = {
        toSQL: () => ({ sql: 'INSERT INTO app_orders (account, amount, note) VALUES (?, 1, ?)', params: [a, 'x'.repeat(200_000)] }),
      };
      await expect(t.db.ledger.debitIfCovers({ account: a, amount: 1 }, { with: [big] })).rejects.toMatchObject({ code: 'storage_full' });
    } finally {
      await t.db.all('PRAGMA max_page_count = 1073741823');
    }
    expect(await snapshot(t.db)).toEqual(before);
  });

  it('transfer: the order commits with both rows; insufficient, capped, forbidden and replayed write neither', async () => {
    const [a, b, team, viewer] = [uniq(), uniq(), uniq('team'), uniq('viewer')];
    await t.db.ledger.grant({ account: a, amount: 100, expiresAt: t.clock.now() + 3_600_000 });
    const moved = await t.db.ledger.transfer({ from: a, to: b, amount: 60, idempotencyKey: 'k' }, { with: [order(a, 60, `${a}-t1`)] });
    expect(moved).toMatchObject({ outcome: 'transferred', in: [{ amount: 60 }] });
    expect(await ordersOf(t.db, a)).toEqual([[60, `${a}-t1`, 1]]);
    const replay = await t.db.ledger.transfer({ from: a, to: b, amount: 60, idempotencyKey: 'k' }, { with: [order(a, 60, `${a}-t2`)] });
    expect(replay.outcome).toBe('replayed');
    const short = await t.db.ledger.transfer({ from: a, to: b, amount: 41 }, { with: [order(a, 41, `${a}-t3`)] });
    expect(short.outcome).toBe('insufficient');
    await t.db.ledger.caps.set({ account: a, window: 'day', limit: 70 });
    const capped = await t.db.ledger.transfer({ from: a, to: b, amount: 20 }, { with: [order(a, 20, `${a}-t4`)] });
    expect(capped.outcome).toBe('capped');
    await t.db.ledger.teams.create({ team, owner: uniq('owner') });
    await t.db.ledger.teams.addMember({ team, member: viewer, role: 'viewer' });
    await t.db.ledger.grant({ account: team, amount: 10 });
    await expect(
      t.db.ledger.transfer({ from: team, to: viewer, amount: 5, actor: viewer }, { with: [order(team, 5, `${team}-t5`)] }),
    ).rejects.toMatchObject({ code: 'forbidden' });
    expect(await ordersOf(t.db, a)).toEqual([[60, `${a}-t1`, 1]]);
    expect(await ordersOf(t.db, team)).toEqual([]);
    expect(await t.db.ledger.getBalance(b)).toMatchObject({ balance: 60 });
    expect((await t.db.ledger.verify()).ok).toBe(true);
  });

  it('refuses options that are not statements before anything is written', async () => {
    const a = uniq();
    await t.db.ledger.grant({ account: a, amount: 10 });
    const before = await snapshot(t.db);
    for (const options of [{ with: 'x' }, { with: [{}] }, { with: [{ toSQL: () => 1 }] }, { wth: [] }, 5]) {
      await expect(t.db.ledger.debitIfCovers({ account: a, amount: 1 }, options as never)).rejects.toMatchObject({
        code: 'invalid_argument',
      });
    }
    expect(await snapshot(t.db)).toEqual(before);
  });
});
