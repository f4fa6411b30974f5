import { describe, expect, it } from 'vitest';
import { ALLOCATION_ROWS } from '../../src/sql.js';
import { DRIVERS, posOf, snapshot, type TestDb } from '../support/drivers.js';
import { uniq, useDb } from '../support/suite.js';

const DAY = 86_400_000;
const projections = async (db: TestDb) => ({
  lots: await db.all('SELECT * FROM credit_lot ORDER BY id'),
  holds: await db.all('SELECT * FROM credit_hold ORDER BY id'),
  allocations: await db.all(`SELECT * FROM (${ALLOCATION_ROWS}) ORDER BY entry_id, lot_id`),
});

describe.each(DRIVERS)('lots and expiry on $name', (driver) => {
  const t = useDb(driver);

  it('the classic case: grant 100 expiring, spend 100, buy 100, expiry passes → 100, not 0', async () => {
    const a = uniq();
    const T = t.clock.now() + DAY;
    await t.db.ledger.grant({ account: a, amount: 100, expiresAt: T, reason: 'trial' });
    expect((await t.db.ledger.debitIfCovers({ account: a, amount: 100 })).outcome).toBe('debited');
    await t.db.ledger.grant({ account: a, amount: 100, reason: 'purchase' });
    t.clock.set(T);
    expect(await t.db.ledger.getBalance(a)).toMatchObject({ balance: 100, available: 100 });
    await t.db.ledger.sweep();
    expect(await t.db.ledger.getBalance(a)).toMatchObject({ balance: 100, available: 100 });
    expect((await t.db.ledger.history(a, { kinds: ['expire'] })).entries).toEqual([]); // nothing was left to expire
  });

  it('50 expiring + 50 not, spend 30, expiry passes → 50, before and after a sweep', async () => {
    const a = uniq();
    const T = t.clock.now() + DAY;
    const lot = await t.db.ledger.grant({ account: a, amount: 50, expiresAt: T });
    await t.db.ledger.grant({ account: a, amount: 50 });
    const d = await t.db.ledger.debitIfCovers({ account: a, amount: 30 });
    expect(await t.db.ledger.allocations(d.entry!.id)).toEqual([{ entryId: d.entry!.id, lotId: lot.entry.id, amount: 30, ord: 1 }]);
    t.clock.set(T - 1);
    expect((await t.db.ledger.getBalance(a)).balance).toBe(70);
    t.clock.set(T); // exact at the millisecond, no sweep
    expect(await t.db.ledger.getBalance(a)).toMatchObject({ balance: 50, available: 50 });
    expect((await t.db.ledger.debitIfCovers({ account: a, amount: 51 })).outcome).toBe('insufficient');
    const s = await t.db.ledger.sweep();
    expect(s.creditsExpired).toBeGreaterThanOrEqual(20);
    expect(await t.db.ledger.getBalance(a)).toMatchObject({ balance: 50, available: 50 });
    const expired = (await t.db.ledger.history(a, { kinds: ['expire'] })).entries;
    expect(expired).toHaveLength(1);
    expect(expired[0]).toMatchObject({ delta: -20, ref: lot.entry.id, balance: 50 });
    expect(await t.db.ledger.verify()).toMatchObject({ ok: true });
  });

  it('draws lots by priority, then soonest expiry, never-expiring last, then oldest; unlotted last', async () => {
    const a = uniq();
    const now = t.clock.now();
    const unlotted = await t.db.ledger.grant({ account: a, amount: 10 });
    const late = await t.db.ledger.grant({ account: a, amount: 10, expiresAt: now + 3 * DAY });
    const never = await t.db.ledger.grant({ account: a, amount: 10, priority: 60 });
    const soon = await t.db.ledger.grant({ account: a, amount: 10, expiresAt: now + DAY });
    const first = await t.db.ledger.grant({ account: a, amount: 10, priority: 10 });
    const firstToo = await t.db.ledger.grant({ account: a, amount: 10, priority: 10 });
    expect(unlotted.entry.priority).toBeNull();
    expect((await t.db.ledger.lots(a)).map((l) => l.id)).toEqual([
      first.entry.id,
      firstToo.entry.id,
      soon.entry.id,
      late.entry.id,
      never.entry.id,
    ]);
    const d = await t.db.ledger.debitIfCovers({ account: a, amount: 55 });
    expect((await t.db.ledger.allocations(d.entry!.id)).map((x) => [x.lotId, x.amount])).toEqual([
      [first.entry.id, 10],
      [firstToo.entry.id, 10],
      [soon.entry.id, 10],
      [late.entry.id, 10],
      [never.entry.id, 10],
    ]);
    // 5 came from the unlotted rest.
    expect(await t.db.ledger.lots(a)).toEqual([]);
    expect((await t.db.ledger.getBalance(a)).balance).toBe(5);
  });

  it('refunds give credits back to the lots they came from, unlotted part first', async () => {
    const a = uniq();
    const now = t.clock.now();
    const lot = await t.db.ledger.grant({ account: a, amount: 20, expiresAt: now + DAY });
    await t.db.ledger.grant({ account: a, amount: 20 });
    const d = await t.db.ledger.debitIfCovers({ account: a, amount: 30 }); // 20 from the lot, 10 unlotted
    const r1 = await t.db.ledger.refund({ entryId: d.entry!.id, amount: 15 });
    // 10 back to the unlotted rest (drawn last, returned first), 5 to the lot.
    expect(await t.db.ledger.allocations(r1.entry.id)).toEqual([{ entryId: r1.entry.id, lotId: lot.entry.id, amount: -5, ord: 1 }]);
    expect((await t.db.ledger.lots(a))[0]).toMatchObject({ id: lot.entry.id, remaining: 5 });
    await t.db.ledger.refund({ entryId: d.entry!.id });
    expect((await t.db.ledger.lots(a))[0]).toMatchObject({ remaining: 20 });
    expect(await t.db.ledger.getBalance(a)).toMatchObject({ balance: 40 });
    expect(await t.db.ledger.verify()).toMatchObject({ ok: true });
  });

  it('a refund into an already-expired lot expires again at once', async () => {
    const a = uniq();
    const T = t.clock.now() + 1000;
    const lot = await t.db.ledger.grant({ account: a, amount: 10, expiresAt: T });
    const d = await t.db.ledger.debitIfCovers({ account: a, amount: 10 });
    t.clock.set(T + 1);
    const r = await t.db.ledger.refund({ entryId: d.entry!.id });
    expect(r).toMatchObject({ outcome: 'refunded', balance: 0, available: 0 });
    expect(r.entry.balance).toBe(10); // posted, but not spendable
    expect((await t.db.ledger.debitIfCovers({ account: a, amount: 1 })).outcome).toBe('insufficient');
    const s = await t.db.ledger.sweep();
    expect(s.lotsExpired).toBeGreaterThanOrEqual(1);
    const expired = (await t.db.ledger.history(a, { kinds: ['expire'] })).entries;
    expect(expired[0]).toMatchObject({ ref: lot.entry.id, delta: -10, balance: 0 });
    expect(await t.db.ledger.verify()).toMatchObject({ ok: true });
  });

  it('expiring() lists what lapses soon; lots past expiry are not listed as open', async () => {
    const a = uniq();
    const now = t.clock.now();
    const soon = await t.db.ledger.grant({ account: a, amount: 5, expiresAt: now + 1000 });
    await t.db.ledger.grant({ account: a, amount: 5, expiresAt: now + 10 * DAY });
    expect((await t.db.ledger.expiring(a, { withinMs: DAY })).map((l) => l.id)).toEqual([soon.entry.id]);
    t.clock.advance(1000);
    expect(await t.db.ledger.expiring(a, { withinMs: DAY })).toEqual([]);
    expect(await t.db.ledger.lots(a)).toHaveLength(1);
  });

  it('a hold reserves an amount, not credits: lots that lapse under it can leave the capture insufficient', async () => {
    const a = uniq();
    const T = t.clock.now() + 1000;
    await t.db.ledger.grant({ account: a, amount: 100, expiresAt: T });
    const h = await t.db.ledger.hold({ account: a, amount: 100, ttlMs: 10_000 });
    if (h.outcome !== 'held') throw new Error('setup');
    t.clock.set(T);
    expect(await t.db.ledger.getBalance(a)).toMatchObject({ balance: 0, held: 100, available: 0 });
    const c = await t.db.ledger.capture({ holdId: h.hold.id });
    expect(c.outcome).toBe('insufficient');
  });

  it('sweep: dryRun writes nothing; a second sweep finds nothing; rebuild re-derives identical projections', async () => {
    const a = uniq();
    const T = t.clock.now() + 500;
    await t.db.ledger.grant({ account: a, amount: 7, expiresAt: T });
    await t.db.ledger.grant({ account: a, amount: 9, expiresAt: T, priority: 5 });
    await t.db.ledger.debitIfCovers({ account: a, amount: 3 });
    await t.db.ledger.hold({ account: a, amount: 2, ttlMs: 400 });
    t.clock.set(T);
    const before = await snapshot(t.db);
    const dry = await t.db.ledger.sweep({ dryRun: true });
    expect(dry).toMatchObject({ dryRun: true });
    expect(dry.lotsExpired).toBeGreaterThanOrEqual(2);
    expect(await snapshot(t.db)).toEqual(before);
    const progress: number[] = [];
    const wet = await t.db.ledger.sweep(
      driver.name === 'bun:sqlite' ? { batchSize: 1 } : { batchSize: 1, onProgress: (r) => progress.push(r.batches) },
    );
    expect(wet).toMatchObject({
      dryRun: false,
      lotsExpired: dry.lotsExpired,
      creditsExpired: dry.creditsExpired,
      holdsExpired: dry.holdsExpired,
    });
    if (driver.name !== 'bun:sqlite') expect(progress.length).toBe(wet.batches);
    expect((await t.db.ledger.sweep()).lotsExpired).toBe(0);
    expect(await t.db.ledger.getBalance(a)).toMatchObject({ balance: 0, held: 0 });
    const stored = await projections(t.db);
    const rebuilt = await t.db.ledger.rebuild();
    expect(rebuilt.problems).toEqual([]);
    expect(await projections(t.db)).toEqual(stored);
    expect(await t.db.ledger.verify()).toMatchObject({ ok: true });
  });

  it('a draw is recorded on the entry and applied to the lots by the same statement', async () => {
    const a = uniq();
    const first = await t.db.ledger.grant({ account: a, amount: 10, priority: 1 });
    const second = await t.db.ledger.grant({ account: a, amount: 10, priority: 2 });
    const d = await t.db.ledger.debitIfCovers({ account: a, amount: 15 });
    const [row] = await t.db.all('SELECT allocations FROM credit_entry WHERE pos = ?', [posOf(d.entry!.id)]);
    // Stored as [lot position, amount]: integers, exact in JSON.
    expect(JSON.parse(String(row?.allocations))).toEqual([
      [posOf(first.entry.id), 10],
      [posOf(second.entry.id), 5],
    ]);
    expect((await t.db.ledger.lots(a)).map((l) => [l.id, l.remaining])).toEqual([[second.entry.id, 5]]);
    const [closed] = await t.db.all('SELECT remaining, open FROM credit_lot WHERE id = ?', [posOf(first.entry.id)]);
    expect(closed).toMatchObject({ remaining: 0, open: 0 });
    // A refund gives back in reverse draw order, recorded the same way, and reopens the lot.
    const r = await t.db.ledger.refund({ entryId: d.entry!.id, amount: 8 });
    expect(await t.db.ledger.allocations(r.entry.id)).toEqual([
      { entryId: r.entry.id, lotId: second.entry.id, amount: -5, ord: 1 },
      { entryId: r.entry.id, lotId: first.entry.id, amount: -3, ord: 2 },
    ]);
    const [reopened] = await t.db.all('SELECT remaining, open FROM credit_lot WHERE id = ?', [posOf(first.entry.id)]);
    expect(reopened).toMatchObject({ remaining: 3, open: 1 });
    // Entries that draw nothing store NULL, not an empty array: a grant, and a debit on an
    // account without lots.
    const b = uniq();
    await t.db.ledger.grant({ account: b, amount: 5 });
    const plain = await t.db.ledger.debitIfCovers({ account: b, amount: 1 });
    expect(plain.outcome).toBe('debited');
    const stored = async (id: string) =>
      (await t.db.all('SELECT allocations FROM credit_entry WHERE pos = ?', [posOf(id)]))[0]?.allocations;
    expect(await stored(first.entry.id)).toBeNull();
    expect(await stored(plain.entry!.id)).toBeNull();
    expect(await t.db.ledger.allocations(plain.entry!.id)).toEqual([]);
    expect(await t.db.ledger.verify()).toMatchObject({ ok: true });
  });

  it('verify catches allocations edited on a log row; rebuild reports it and does not rewrite the log', async () => {
    const a = uniq();
    const lot = await t.db.ledger.grant({ account: a, amount: 30, priority: 1 });
    const other = await t.db.ledger.grant({ account: a, amount: 30, priority: 2 });
    const d = await t.db.ledger.debitIfCovers({ account: a, amount: 10 });
    const [original] = await t.db.all('SELECT allocations FROM credit_entry WHERE pos = ?', [posOf(d.entry!.id)]);
    const edits: [string | null, RegExp][] = [
      [JSON.stringify([[posOf(lot.entry.id), 9]]), /replayed/], // wrong amount
      [JSON.stringify([[posOf(other.entry.id), 10]]), /replayed/], // wrong lot (out of draw order)
      [null, /no allocations stored/], // dropped
      ['{not json', /not JSON/],
    ];
    for (const [value, message] of edits) {
      await t.db.all('UPDATE credit_entry SET allocations = ? WHERE pos = ?', [value, posOf(d.entry!.id)]);
      const bad = await t.db.ledger.verify();
      expect(bad.ok).toBe(false);
      expect(bad.problems).toContainEqual(
        expect.objectContaining({ code: 'allocation_mismatch', entryId: d.entry!.id, message: expect.stringMatching(message) }),
      );
    }
    const rebuilt = await t.db.ledger.rebuild();
    expect(rebuilt.problems).toContainEqual(expect.objectContaining({ code: 'allocation_mismatch', entryId: d.entry!.id }));
    const [row] = await t.db.all('SELECT allocations FROM credit_entry WHERE pos = ?', [posOf(d.entry!.id)]);
    expect(row?.allocations).toBe('{not json');
    await t.db.all('UPDATE credit_entry SET allocations = ? WHERE pos = ?', [original?.allocations, posOf(d.entry!.id)]);
    expect(await t.db.ledger.verify()).toMatchObject({ ok: true });
  });

  it('verify catches a projection edited behind the library; rebuild mends it', async () => {
    const a = uniq();
    const lot = await t.db.ledger.grant({ account: a, amount: 30, priority: 1 });
    await t.db.ledger.debitIfCovers({ account: a, amount: 10 });
    await t.db.all('UPDATE credit_lot SET remaining = remaining + 5 WHERE id = ?', [posOf(lot.entry.id)]);
    const bad = await t.db.ledger.verify();
    expect(bad.problems).toContainEqual(expect.objectContaining({ code: 'lot_mismatch', entryId: lot.entry.id }));
    await t.db.ledger.rebuild();
    expect((await t.db.ledger.lots(a))[0]).toMatchObject({ remaining: 20 });
    expect(await t.db.ledger.verify()).toMatchObject({ ok: true });
  });
});
