/**
 * ledger.charge on every driver: priced and debited in one unit with the charge recorded on
 * the entry; replay and conflict; insufficient and capped (nothing written, the key not used
 * up); a hold settled at the priced amount; the CAS on the active version (two ledgers on one
 * database: the charge uses the version active at commit); a free charge; bad input never
 * writes; the batch op. Pricing is global to a database: each test publishes its own model.
 */
import { describe, expect, it } from 'vitest';
import { type ChargeResult, LedgerError, MAX_AMOUNT } from '../../src/index.js';
import { DRIVERS, posOf, type TestDb } from '../support/drivers.js';
import { uniq, useDb } from '../support/suite.js';

const accountState = async (db: TestDb, a: string) => ({
  log: await db.all('SELECT * FROM credit_entry WHERE account = ? ORDER BY seq', [a]),
  holds: await db.all('SELECT * FROM credit_hold WHERE account = ? ORDER BY id', [a]),
});

/** Narrowing on `outcome`: an applied charge has its entry. */
function applied(r: ChargeResult) {
  if (r.outcome !== 'debited' && r.outcome !== 'replayed') throw new Error(`expected an applied charge, got ${r.outcome}`);
  return r;
}

describe.each(DRIVERS)('charge on $name', (driver) => {
  const t = useDb(driver);
  const l = () => t.db.ledger;

  async function setup(rates: Record<string, string>, amount = 1_000, rounding?: 'up' | 'down' | 'half_even') {
    const model = uniq('model');
    const a = uniq();
    await l().grant({ account: a, amount });
    const { version } = await l().pricing.publish({ rates: { [model]: rates }, rounding });
    return { a, model, version };
  }

  it('prices and debits in one unit; the entry records model, attribution, usage, version and the exact cost', async () => {
    const { a, model, version } = await setup({ input: '0.1', output: '0.7' });
    const r = applied(
      await l().charge({
        account: a,
        model,
        usage: { input: 30, output: 10 },
        idempotencyKey: 'c1',
        keyId: 'key_1',
        actor: 'alice',
        metadata: { request: 'r1' },
      }),
    );
    expect(r).toMatchObject({ outcome: 'debited', balance: 990, available: 990, quote: { credits: 10, exact: '10', version } });
    expect(r.entry).toMatchObject({ kind: 'debit', amount: 10, delta: -10, model, keyId: 'key_1', actor: 'alice', idempotencyKey: 'c1' });
    expect(r.entry.metadata).toEqual({ charge: { exact: '10', rounding: 'up', usage: { input: 30, output: 10 }, version }, request: 'r1' });
    expect(await l().entry(r.entry.id)).toEqual(r.entry);
    // 0.4 costs 1 with `up`, never 0.
    const small = applied(await l().charge({ account: a, model, usage: { input: 4 }, idempotencyKey: 'c2' }));
    expect(small).toMatchObject({ quote: { credits: 1, exact: '0.4' }, entry: { amount: 1 } });
    expect((await l().getBalance(a)).balance).toBe(989);
  });

  it('a retry replays the original (even after a new version); another model, usage or metadata conflicts', async () => {
    const { a, model } = await setup({ input: '0.5' });
    const { version } = await l().pricing.publish({ rates: { [model]: { input: '0.5' }, [`${model}x`]: { input: '0.5' } } });
    const first = applied(await l().charge({ account: a, model, usage: { input: 3 }, idempotencyKey: 'k' }));
    await l().pricing.publish({ rates: { [model]: { input: '5' }, [`${model}x`]: { input: '0.5' } } });
    const again = applied(await l().charge({ account: a, model, usage: { input: 3 }, idempotencyKey: 'k' }));
    expect(again).toMatchObject({
      outcome: 'replayed',
      entry: { id: first.entry.id, amount: 2 },
      quote: { version, credits: 2, exact: '1.5' },
    });
    const before = await accountState(t.db, a);
    for (const other of [{ usage: { input: 4 } }, { model: `${model}x` }, { metadata: { x: 1 } }]) {
      const e = await l()
        .charge({ account: a, model, usage: { input: 3 }, idempotencyKey: 'k', ...other })
        .catch((x) => x);
      expect(e).toBeInstanceOf(LedgerError);
      expect(e.code).toBe('idempotency_conflict');
    }
    expect(await accountState(t.db, a)).toEqual(before);
  });

  it('insufficient and capped write nothing and leave the key unused', async () => {
    const { a, model } = await setup({ req: '3' }, 10);
    const before = await accountState(t.db, a);
    const r = await l().charge({ account: a, model, usage: { req: 4 }, idempotencyKey: 'big' });
    expect(r).toMatchObject({ outcome: 'insufficient', requested: 12, balance: 10, quote: { credits: 12 } });
    expect(await accountState(t.db, a)).toEqual(before);
    await l().caps.set({ account: a, window: 'day', limit: 5 });
    const capped = await l().charge({ account: a, model, usage: { req: 2 }, idempotencyKey: 'capme' });
    expect(capped).toMatchObject({ outcome: 'capped', limit: 5, requested: 6, quote: { credits: 6 } });
    await l().caps.set({ account: a, window: 'day', limit: 100 });
    expect((await l().charge({ account: a, model, usage: { req: 2 }, idempotencyKey: 'capme' })).outcome).toBe('debited');
    expect((await l().charge({ account: a, model, usage: { req: 1 }, idempotencyKey: 'big' })).outcome).toBe('debited');
    expect((await l().getBalance(a)).balance).toBe(1);
  });

  it('holdId: settles the hold at the priced amount and releases the rest; a hold of another account is refused', async () => {
    const { a, model } = await setup({ sec: '0.25' });
    const h = await l().hold({ account: a, amount: 50 });
    if (h.outcome !== 'held') throw new Error('hold');
    const r = applied(await l().charge({ account: a, model, usage: { sec: 81 }, idempotencyKey: 'h1', holdId: h.hold.id, actor: 'bob' }));
    expect(r).toMatchObject({
      outcome: 'debited',
      hold: { id: h.hold.id, status: 'captured' },
      released: 29,
      quote: { credits: 21, exact: '20.25' },
    });
    expect(r.entry).toMatchObject({ kind: 'capture', amount: 21, ref: h.hold.id, model, actor: 'bob' });
    expect((await l().getBalance(a)).available).toBe(979);
    expect(applied(await l().charge({ account: a, model, usage: { sec: 81 }, idempotencyKey: 'h1', holdId: h.hold.id }))).toMatchObject({
      outcome: 'replayed',
      entry: { id: r.entry.id },
    });
    const other = await setup({ sec: '1' });
    const h2 = await l().hold({ account: other.a, amount: 10 });
    if (h2.outcome !== 'held') throw new Error('hold');
    const before = await accountState(t.db, a);
    expect(
      await l()
        .charge({ account: a, model, usage: { sec: 1 }, idempotencyKey: 'h2', holdId: h2.hold.id })
        .catch((e) => e.code),
    ).toBe('invalid_argument');
    expect(await accountState(t.db, a)).toEqual(before);
  });

  it('uses the version active at commit: another ledger on the same database activates one between quote and charge', async () => {
    if (t.db.another === undefined || driver.name === 'bun:sqlite') return; // bun's host keeps one ledger instance
    const { a, model, version } = await setup({ tok: '1' });
    const first = applied(await l().charge({ account: a, model, usage: { tok: 2 }, idempotencyKey: 'v1' }));
    expect(first.quote.version).toBe(version); // the card is now cached by this ledger
    const other = await t.db.another();
    const { version: v2 } = await other.pricing.publish({ rates: { [model]: { tok: '3' } } });
    const second = applied(await l().charge({ account: a, model, usage: { tok: 2 }, idempotencyKey: 'v2' }));
    expect(second).toMatchObject({ quote: { version: v2, credits: 6 }, entry: { amount: 6 } });
    expect((second.entry.metadata as { charge: { version: number } }).charge.version).toBe(v2);
    await other.pricing.activate(version);
    const third = applied(await l().charge({ account: a, model, usage: { tok: 2 }, idempotencyKey: 'v3' }));
    expect(third.quote.version).toBe(version);
    // An explicit version prices with that one, whichever is active.
    const pinned = applied(await l().charge({ account: a, model, usage: { tok: 2 }, idempotencyKey: 'v4', version: v2 }));
    expect(pinned).toMatchObject({ quote: { version: v2, credits: 6 } });
  });

  it('free: a cost that rounds to 0 writes nothing; a cost past 2^53 − 1 is refused', async () => {
    const { a, model } = await setup({ a: '0.4', free: '0' }, 10, 'down');
    const before = await accountState(t.db, a);
    expect(await l().charge({ account: a, model, usage: { a: 1 }, idempotencyKey: 'f' })).toMatchObject({
      outcome: 'free',
      quote: { credits: 0, exact: '0.4' },
    });
    expect(await l().charge({ account: a, model, usage: { free: 1_000 }, idempotencyKey: 'f' })).toMatchObject({ outcome: 'free' });
    const huge = await setup({ a: '2' });
    expect(
      await l()
        .charge({ account: huge.a, model: huge.model, usage: { a: MAX_AMOUNT }, idempotencyKey: 'o' })
        .catch((e) => e.code),
    ).toBe('overflow');
    expect(await accountState(t.db, a)).toEqual(before);
  });

  it('bad input never writes', async () => {
    const { a, model } = await setup({ a: '1' });
    const before = await accountState(t.db, a);
    const bad: [unknown, string][] = [
      [{ account: a, model: 'nope', usage: { a: 1 }, idempotencyKey: 'b' }, 'invalid_argument'],
      [{ account: a, model, usage: { b: 1 }, idempotencyKey: 'b' }, 'invalid_argument'],
      [{ account: a, model, usage: { a: 1 }, idempotencyKey: 'b', metadata: { charge: 1 } }, 'invalid_argument'],
      [{ account: a, model, usage: { a: -1 }, idempotencyKey: 'b' }, 'invalid_argument'],
      [{ account: a, model, usage: { a: 1.5 }, idempotencyKey: 'b' }, 'invalid_argument'],
      [{ account: a, model, usage: {}, idempotencyKey: 'b' }, 'invalid_argument'],
      [{ account: a, model, usage: { a: 1 } }, 'invalid_argument'],
      [{ account: '$pricing', model, usage: { a: 1 }, idempotencyKey: 'b' }, 'invalid_account'],
      [{ account: a, model, usage: { a: 1 }, idempotencyKey: 'b', version: 10_000 }, 'not_found'],
      [{ account: a, model, usage: { a: 1 }, idempotencyKey: 'b', holdId: 'ce_999999' }, 'not_found'],
    ];
    for (const [input, code] of bad) {
      const e = await l()
        .charge(input as never)
        .catch((x) => x);
      expect(e, JSON.stringify(input)).toBeInstanceOf(LedgerError);
      expect(e.code, JSON.stringify(input)).toBe(code);
    }
    expect(await accountState(t.db, a)).toEqual(before);
  });

  it('batch: a charge op prices with the active version and applies in order with the others', async () => {
    const { a, model, version } = await setup({ a: '0.5' }, 5);
    const r = await l().batch([
      { op: 'charge', account: a, model, usage: { a: 4 }, idempotencyKey: 'b1' },
      { op: 'grant', account: a, amount: 10 },
      { op: 'charge', account: a, model, usage: { a: 20 }, idempotencyKey: 'b2' },
      { op: 'charge', account: a, model, usage: { a: 2 }, idempotencyKey: 'b1' },
    ]);
    expect(r.map((x) => x.outcome)).toEqual(['debited', 'granted', 'debited', 'rejected']);
    expect(r[3]).toMatchObject({ error: { code: 'idempotency_conflict' } });
    expect(r[0]).toMatchObject({ quote: { version, credits: 2 } });
    expect((await l().getBalance(a)).balance).toBe(3);
    expect((await l().verify()).ok).toBe(true);
  });
});

describe.each(DRIVERS.filter((d) => !d.slow))('the charge audit on $name', (driver) => {
  const t = useDb(driver);
  it('verify flags a charge whose recorded cost its version does not give; a plain debit with its own `charge` metadata is not one', async () => {
    const model = uniq('model');
    const a = uniq();
    await t.db.ledger.grant({ account: a, amount: 100 });
    await t.db.ledger.pricing.publish({ rates: { [model]: { in: '0.5' } } });
    const r = await t.db.ledger.charge({ account: a, model, usage: { in: 3 }, idempotencyKey: 'c' });
    if (r.outcome !== 'debited') throw new Error(r.outcome);
    await t.db.ledger.debitIfCovers({ account: a, amount: 1, metadata: { charge: 'my own' } });
    expect((await t.db.ledger.verify()).ok).toBe(true);
    await t.db.exec(
      `UPDATE credit_entry SET metadata = replace(metadata, '"exact":"1.5"', '"exact":"1.4"') WHERE pos = ${posOf(r.entry.id)}`,
    );
    const problems = (await t.db.ledger.verify()).problems;
    expect(problems).toEqual([expect.objectContaining({ code: 'charge_mismatch', account: a, entryId: r.entry.id })]);
    await t.db.exec(
      `UPDATE credit_entry SET metadata = replace(metadata, '"exact":"1.4"', '"exact":"1.5"') WHERE pos = ${posOf(r.entry.id)}`,
    );
    expect((await t.db.ledger.verify()).ok).toBe(true);
  });
});
