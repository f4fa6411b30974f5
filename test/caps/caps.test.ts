/**
 * ledger.caps on every driver: setting, replaying and removing caps and floors; deny caps
 * refusing inside the guard (capped, nothing written, keys not used up) with insufficient
 * first; calendar windows with an injected clock; filters; holds while open; captures
 * beyond the hold; refunds; warn and notify; getBalance; batch; and the auditor's view
 * (verify, rebuild, tampering). Each test takes its own accounts; D1 runs every case too,
 * so cases are kept to a few calls each.
 */
import { describe, expect, it } from 'vitest';
import { type Cap, LedgerError } from '../../src/index.js';
import { DRIVERS, posOf, type TestDb } from '../support/drivers.js';
import { uniq, useDb } from '../support/suite.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
/** Wednesday 2024-02-28 23:00 UTC: the next day is a leap day, the next week starts Monday 2024-03-04. */
const T0 = Date.UTC(2024, 1, 28, 23);

/** The account's log, caps and floor: equal before and after means nothing was written. */
const state = async (db: TestDb, a: string) => ({
  log: await db.all('SELECT * FROM credit_entry WHERE account = ? ORDER BY seq', [a]),
  caps: await db.all('SELECT * FROM credit_cap WHERE account = ? ORDER BY id', [a]),
  floor: await db.all('SELECT * FROM credit_floor WHERE account = ?', [a]),
  holds: await db.all('SELECT * FROM credit_hold WHERE account = ? ORDER BY id', [a]),
});

const brief = (c: Cap) => ({ window: c.window, model: c.model, keyId: c.keyId, member: c.member, spent: c.spent, held: c.held });

describe.each(DRIVERS)('spend caps on $name', (driver) => {
  const t = useDb(driver);
  const l = () => t.db.ledger;

  async function funded(amount = 1_000) {
    const a = uniq();
    await l().grant({ account: a, amount });
    return a;
  }
  const problemsOf = async (a: string) => (await l().verify()).problems.filter((p) => p.account === a);

  it('set, replay, change and list a cap; keyed calls replay or conflict', async () => {
    t.clock.set(T0);
    const a = await funded();
    const s = await l().caps.set({ account: a, window: 'day', limit: 100, reason: 'budget' });
    expect(s).toMatchObject({ outcome: 'set', cap: { window: 'day', limit: 100, action: 'deny', spent: 0, held: 0, remaining: 100 } });
    expect(s.cap?.resetsAt).toBe(Date.UTC(2024, 1, 29));
    expect(s.entry).toMatchObject({ kind: 'cap_set', delta: 0, amount: 0, balance: 1_000, seq: 2, reason: 'budget' });
    expect(s.entry?.metadata).toEqual({ action: 'deny', keyId: null, limit: 100, member: null, model: null, window: 'day' });
    const before = await state(t.db, a);
    // Without a key, setting exactly the cap in force writes nothing.
    expect(await l().caps.set({ account: a, window: 'day', limit: 100 })).toEqual({ outcome: 'replayed', cap: s.cap });
    expect(await state(t.db, a)).toEqual(before);
    // A new limit keeps the cap (its id) and its counter.
    await l().debitIfCovers({ account: a, amount: 30 });
    const raised = await l().caps.set({ account: a, window: 'day', limit: 150, action: 'warn' });
    expect(raised).toMatchObject({ outcome: 'set', cap: { id: s.cap?.id, limit: 150, action: 'warn', spent: 30, remaining: 120 } });
    // Keyed: a retry replays the original entry; other parameters under the key conflict.
    const k = await l().caps.set({ account: a, window: 'week', limit: 500, model: 'gpt', idempotencyKey: 'k1' });
    expect(k.outcome).toBe('set');
    const again = await l().caps.set({ account: a, window: 'week', limit: 500, model: 'gpt', idempotencyKey: 'k1' });
    expect(again).toMatchObject({ outcome: 'replayed', entry: { id: k.entry?.id }, cap: { id: k.cap?.id } });
    const mid = await state(t.db, a);
    const conflict = await l()
      .caps.set({ account: a, window: 'week', limit: 600, model: 'gpt', idempotencyKey: 'k1' })
      .catch((e) => e);
    expect(conflict).toBeInstanceOf(LedgerError);
    expect(conflict.code).toBe('idempotency_conflict');
    expect(await state(t.db, a)).toEqual(mid);
    expect((await l().caps.list(a)).map((c) => [c.window, c.limit, c.model, c.action])).toEqual([
      ['day', 150, null, 'warn'],
      ['week', 500, 'gpt', 'deny'],
    ]);
    expect(await problemsOf(a)).toEqual([]);
  });

  it('a deny cap refuses inside the guard: capped, nothing written, the key not used up; insufficient comes first', async () => {
    t.clock.set(T0);
    const a = await funded();
    const cap = await l().caps.set({ account: a, window: 'day', limit: 100 });
    expect((await l().debitOnceIfCovers({ account: a, amount: 80, idempotencyKey: 'd1' })).outcome).toBe('debited');
    const before = await state(t.db, a);
    const capped = await l().debitOnceIfCovers({ account: a, amount: 30, idempotencyKey: 'd2' });
    expect(capped).toMatchObject({
      outcome: 'capped',
      spent: 80,
      held: 0,
      limit: 100,
      requested: 30,
      balance: 920,
      available: 920,
      cap: { id: cap.cap?.id, remaining: 20 },
    });
    expect(capped.entry).toBeUndefined();
    expect(await state(t.db, a)).toEqual(before);
    // More than the account has is insufficient, even past the cap.
    expect(await l().debitIfCovers({ account: a, amount: 5_000 })).toMatchObject({ outcome: 'insufficient', requested: 5_000 });
    // The refused key was not recorded: once the cap allows it, the same key debits.
    await l().caps.set({ account: a, window: 'day', limit: 110 });
    expect((await l().debitOnceIfCovers({ account: a, amount: 30, idempotencyKey: 'd2' })).outcome).toBe('debited');
    expect(await l().debitIfCovers({ account: a, amount: 1 })).toMatchObject({ outcome: 'capped', limit: 110, spent: 110 });
    // A limit of 0: nothing may be spent.
    const b = await funded();
    await l().caps.set({ account: b, window: 'month', limit: 0, model: 'frozen' });
    expect(await l().debitIfCovers({ account: b, amount: 1, model: 'frozen' })).toMatchObject({ outcome: 'capped', limit: 0, spent: 0 });
    expect((await l().debitIfCovers({ account: b, amount: 1, model: 'other' })).outcome).toBe('debited');
    expect(await problemsOf(a)).toEqual([]);
  });

  it('windows are calendar UTC: a day from 00:00, an ISO week from Monday, a month from the 1st (leap February)', async () => {
    t.clock.set(T0); // Wednesday 2024-02-28 23:00
    const a = await funded();
    for (const [window, limit] of [
      ['day', 50],
      ['week', 70],
      ['month', 90],
    ] as const)
      await l().caps.set({ account: a, window, limit });
    expect((await l().debitIfCovers({ account: a, amount: 50 })).outcome).toBe('debited');
    expect(await l().debitIfCovers({ account: a, amount: 1 })).toMatchObject({ outcome: 'capped', cap: { window: 'day' } });
    t.clock.set(Date.UTC(2024, 1, 29)); // leap day, Thursday: a new day, the same week and month
    expect((await l().debitIfCovers({ account: a, amount: 20 })).outcome).toBe('debited');
    expect(await l().debitIfCovers({ account: a, amount: 1 })).toMatchObject({ outcome: 'capped', cap: { window: 'week' }, spent: 70 });
    t.clock.set(Date.UTC(2024, 2, 1)); // Friday March 1st: a new month, still the same week
    const list = await l().caps.list(a);
    expect(list.map((c) => [c.window, c.spent, new Date(c.resetsAt).toISOString()])).toEqual([
      ['day', 0, '2024-03-02T00:00:00.000Z'],
      ['week', 70, '2024-03-04T00:00:00.000Z'],
      ['month', 0, '2024-04-01T00:00:00.000Z'],
    ]);
    expect(await l().debitIfCovers({ account: a, amount: 1 })).toMatchObject({ outcome: 'capped', cap: { window: 'week' } });
    t.clock.set(Date.UTC(2024, 2, 4) - 1); // Sunday 23:59:59.999: still capped
    expect((await l().debitIfCovers({ account: a, amount: 1 })).outcome).toBe('capped');
    t.clock.set(Date.UTC(2024, 2, 4)); // Monday 00:00: a new week
    expect((await l().debitIfCovers({ account: a, amount: 40 })).outcome).toBe('debited');
    expect((await l().caps.list(a)).map((c) => c.spent)).toEqual([40, 40, 40]);
    expect(await problemsOf(a)).toEqual([]);
  });

  it('filters: model, key and member; every matching cap applies and the one with the least headroom is reported', async () => {
    t.clock.set(T0);
    const a = await funded();
    await l().caps.set({ account: a, window: 'month', limit: 30, model: 'gpt' });
    await l().caps.set({ account: a, window: 'day', limit: 20, keyId: 'k1' });
    await l().caps.set({ account: a, window: 'week', limit: 25, member: 'alice' });
    await l().caps.set({ account: a, window: 'day', limit: 1_000 });
    expect((await l().debitIfCovers({ account: a, amount: 25, model: 'gpt' })).outcome).toBe('debited');
    expect((await l().debitIfCovers({ account: a, amount: 50, model: 'claude' })).outcome).toBe('debited');
    expect(await l().debitIfCovers({ account: a, amount: 10, model: 'gpt' })).toMatchObject({
      outcome: 'capped',
      cap: { model: 'gpt', window: 'month' },
      spent: 25,
    });
    expect((await l().debitIfCovers({ account: a, amount: 15, keyId: 'k1', actor: 'alice' })).outcome).toBe('debited');
    expect(await l().debitIfCovers({ account: a, amount: 15, keyId: 'k2', actor: 'alice' })).toMatchObject({
      outcome: 'capped',
      cap: { member: 'alice' },
    });
    expect(await l().debitIfCovers({ account: a, amount: 6, keyId: 'k1', actor: 'bob' })).toMatchObject({
      outcome: 'capped',
      cap: { keyId: 'k1' },
    });
    // Matches three filtered caps at once: gpt 28/30, k1 18/20, alice 18/25 — all pass.
    expect((await l().debitIfCovers({ account: a, amount: 3, model: 'gpt', keyId: 'k1', actor: 'alice' })).outcome).toBe('debited');
    // Now the same 3 more fails two of them; gpt (2 left) and k1 (2 left) tie: either is the least headroom.
    const r = await l().debitIfCovers({ account: a, amount: 3, model: 'gpt', keyId: 'k1', actor: 'alice' });
    expect(r.outcome).toBe('capped');
    if (r.outcome === 'capped') expect(r.limit - r.spent - r.held).toBe(2);
    expect((await l().caps.list(a)).map(brief)).toEqual([
      { window: 'month', model: 'gpt', keyId: null, member: null, spent: 28, held: 0 },
      { window: 'day', model: null, keyId: 'k1', member: null, spent: 18, held: 0 },
      { window: 'week', model: null, keyId: null, member: 'alice', spent: 18, held: 0 },
      { window: 'day', model: null, keyId: null, member: null, spent: 93, held: 0 },
    ]);
    expect(await problemsOf(a)).toEqual([]);
  });

  it('open holds count against deny caps; released or lapsed ones do not; a capture checks only what it takes beyond its hold', async () => {
    t.clock.set(T0 - 2 * HOUR);
    const a = await funded();
    await l().caps.set({ account: a, window: 'day', limit: 100 });
    const h1 = await l().hold({ account: a, amount: 70, ttlMs: 60_000 });
    expect(h1.outcome).toBe('held');
    expect(await l().debitIfCovers({ account: a, amount: 40 })).toMatchObject({ outcome: 'capped', held: 70, spent: 0 });
    expect(await l().hold({ account: a, amount: 31 })).toMatchObject({ outcome: 'capped', held: 70 });
    expect((await l().caps.list(a))[0]).toMatchObject({ held: 70, remaining: 30 });
    if (h1.outcome === 'held') await l().release({ holdId: h1.hold.id });
    expect((await l().debitIfCovers({ account: a, amount: 40 })).outcome).toBe('debited');
    expect((await l().hold({ account: a, amount: 55, ttlMs: 1_000 })).outcome).toBe('held'); // 40 + 55
    expect((await l().debitIfCovers({ account: a, amount: 10 })).outcome).toBe('capped');
    t.clock.advance(1_000); // the hold lapses: it stops counting at once, swept or not
    expect((await l().debitIfCovers({ account: a, amount: 10 })).outcome).toBe('debited'); // 50
    // Capture: up to the hold is already counted; beyond it only the extra is checked.
    const h2 = await l().hold({ account: a, amount: 30, ttlMs: 60_000 }); // 50 + 30
    if (h2.outcome !== 'held') throw new Error('setup');
    const before = await state(t.db, a);
    const over = await l().capture({ holdId: h2.hold.id, amount: 51 }); // 50 + 30 + 21 > 100
    expect(over).toMatchObject({ outcome: 'capped', spent: 50, held: 30, requested: 51, hold: { id: h2.hold.id, status: 'open' } });
    expect(await state(t.db, a)).toEqual(before);
    expect(await l().capture({ holdId: h2.hold.id, amount: 50 })).toMatchObject({ outcome: 'captured', released: 0 });
    expect((await l().caps.list(a))[0]).toMatchObject({ spent: 100, held: 0, remaining: 0 });
    // At the limit, a capture within a hold placed earlier still goes through (it was counted).
    await l().caps.set({ account: a, window: 'day', limit: 200 });
    const h3 = await l().hold({ account: a, amount: 100, ttlMs: 60_000 });
    await l().caps.set({ account: a, window: 'day', limit: 150 });
    if (h3.outcome !== 'held') throw new Error('setup');
    expect((await l().capture({ holdId: h3.hold.id, amount: 60 })).outcome).toBe('captured');
    expect(await problemsOf(a)).toEqual([]);
  });

  it("a capture counts for the hold's actor unless it names another; a retry without an actor replays", async () => {
    t.clock.set(T0);
    const a = await funded();
    await l().caps.set({ account: a, window: 'week', limit: 50, member: 'alice' });
    const h = await l().hold({ account: a, amount: 30, actor: 'alice', model: 'gpt', ttlMs: 60_000 });
    if (h.outcome !== 'held') throw new Error('setup');
    expect((await l().caps.list(a))[0]).toMatchObject({ held: 30 });
    const c = await l().capture({ holdId: h.hold.id, amount: 40 });
    expect(c).toMatchObject({ outcome: 'captured', entry: { actor: 'alice', model: 'gpt' } });
    expect((await l().capture({ holdId: h.hold.id, amount: 40 })).outcome).toBe('replayed');
    expect((await l().capture({ holdId: h.hold.id, amount: 40, idempotencyKey: undefined })).outcome).toBe('replayed');
    expect((await l().caps.list(a))[0]).toMatchObject({ spent: 40, held: 0 });
    const h2 = await l().hold({ account: a, amount: 10, actor: 'alice', ttlMs: 60_000 });
    if (h2.outcome !== 'held') throw new Error('setup');
    const k = await l().capture({ holdId: h2.hold.id, amount: 20, actor: 'bob', idempotencyKey: 'c2' });
    expect(k).toMatchObject({ outcome: 'captured', entry: { actor: 'bob' } });
    expect((await l().capture({ holdId: h2.hold.id, amount: 20, actor: 'bob', idempotencyKey: 'c2' })).outcome).toBe('replayed');
    expect((await l().caps.list(a))[0]).toMatchObject({ spent: 40, held: 0 });
    expect(await problemsOf(a)).toEqual([]);
  });

  it('a refund lowers the spend of the window of the entry it refunds', async () => {
    t.clock.set(T0 - 5 * HOUR);
    const a = await funded();
    await l().caps.set({ account: a, window: 'day', limit: 100 });
    const d1 = await l().debitIfCovers({ account: a, amount: 60 });
    await l().debitIfCovers({ account: a, amount: 40 });
    expect((await l().debitIfCovers({ account: a, amount: 1 })).outcome).toBe('capped');
    if (d1.outcome !== 'debited') throw new Error('setup');
    await l().refund({ entryId: d1.entry.id, amount: 30 });
    expect((await l().caps.list(a))[0]?.spent).toBe(70);
    expect((await l().debitIfCovers({ account: a, amount: 30 })).outcome).toBe('debited');
    t.clock.advance(DAY);
    expect((await l().debitIfCovers({ account: a, amount: 80 })).outcome).toBe('debited');
    // Refunding yesterday's debit does not give today's window room.
    await l().refund({ entryId: d1.entry.id });
    expect((await l().caps.list(a))[0]?.spent).toBe(80);
    expect((await l().debitIfCovers({ account: a, amount: 21 })).outcome).toBe('capped');
    expect(await problemsOf(a)).toEqual([]);
  });

  it('warn caps let it through with warnings; notify caps only count', async () => {
    t.clock.set(T0);
    const a = await funded();
    const w = await l().caps.set({ account: a, window: 'day', limit: 50, action: 'warn' });
    await l().caps.set({ account: a, window: 'day', limit: 10, action: 'notify', model: 'gpt' });
    const ok = await l().debitIfCovers({ account: a, amount: 40, model: 'gpt' });
    expect(ok.outcome).toBe('debited');
    expect('warnings' in ok).toBe(false);
    const over = await l().debitIfCovers({ account: a, amount: 20 });
    expect(over).toMatchObject({
      outcome: 'debited',
      warnings: [{ cap: { id: w.cap?.id, spent: 60, remaining: 0 }, spent: 60, held: 0, limit: 50 }],
    });
    const h = await l().hold({ account: a, amount: 5, ttlMs: 60_000 });
    expect(h).toMatchObject({ outcome: 'held', warnings: [{ spent: 60, held: 5, limit: 50 }] });
    if (h.outcome !== 'held') throw new Error('setup');
    expect(await l().capture({ holdId: h.hold.id, amount: 7 })).toMatchObject({ outcome: 'captured', warnings: [{ spent: 67, held: 0 }] });
    expect((await l().caps.list(a)).map((c) => [c.action, c.spent])).toEqual([
      ['warn', 67],
      ['notify', 40],
    ]);
    expect(await problemsOf(a)).toEqual([]);
  });

  it('the floor: a buffer that may not be spent, or an overdraft; getBalance shows it', async () => {
    t.clock.set(T0);
    const a = await funded(100);
    expect(await l().caps.floor({ account: a, floor: 30 })).toMatchObject({ outcome: 'set', floor: 30, entry: { kind: 'floor_set' } });
    expect(await l().getBalance(a)).toMatchObject({ balance: 100, available: 70, floor: 30 });
    expect(await l().debitIfCovers({ account: a, amount: 71 })).toMatchObject({ outcome: 'insufficient', available: 70 });
    expect(await l().hold({ account: a, amount: 71 })).toMatchObject({ outcome: 'insufficient' });
    expect(await l().adjust({ account: a, delta: -71, reason: 'x' })).toMatchObject({ outcome: 'insufficient' });
    expect(await l().debitIfCovers({ account: a, amount: 70 })).toMatchObject({ outcome: 'debited', balance: 30, available: 0 });
    // Without a key, the floor in force replays and writes nothing; with one, retries replay or conflict.
    expect(await l().caps.floor({ account: a, floor: 30 })).toEqual({ outcome: 'replayed', floor: 30 });
    const k = await l().caps.floor({ account: a, floor: -50, idempotencyKey: 'f1' });
    expect(k).toMatchObject({ outcome: 'set', floor: -50 });
    expect(await l().caps.floor({ account: a, floor: -50, idempotencyKey: 'f1' })).toMatchObject({
      outcome: 'replayed',
      entry: { id: k.entry?.id },
    });
    expect(
      (
        await l()
          .caps.floor({ account: a, floor: -40, idempotencyKey: 'f1' })
          .catch((e) => e)
      ).code,
    ).toBe('idempotency_conflict');
    // Overdraft down to -50.
    expect(await l().debitIfCovers({ account: a, amount: 81 })).toMatchObject({ outcome: 'insufficient', available: 80 });
    expect(await l().debitIfCovers({ account: a, amount: 60 })).toMatchObject({ outcome: 'debited', balance: -30, available: 20 });
    expect(await l().getBalance(a)).toMatchObject({ balance: -30, held: 0, available: 20, floor: -50, headroom: null, caps: [] });
    // A floor raised above the balance makes nothing spendable; it does not make the balance wrong.
    await l().caps.floor({ account: a, floor: 0 });
    expect(await l().getBalance(a)).toMatchObject({ balance: -30, available: 0, floor: 0 });
    await l().grant({ account: a, amount: 40 });
    expect(await l().debitIfCovers({ account: a, amount: 11 })).toMatchObject({ outcome: 'insufficient', available: 10 });
    // A floor can open an account: seq 1, balance 0.
    const fresh = uniq();
    expect((await l().caps.floor({ account: fresh, floor: -10 })).entry).toMatchObject({ seq: 1, balance: 0 });
    expect(await l().debitIfCovers({ account: fresh, amount: 10 })).toMatchObject({ outcome: 'debited', balance: -10 });
    expect(await problemsOf(a)).toEqual([]);
    expect(await problemsOf(fresh)).toEqual([]);
  });

  it("a cap set mid-window starts from the window's spend so far (debits and captures matching it, less refunds)", async () => {
    t.clock.set(T0 - DAY);
    const a = await funded();
    await l().debitIfCovers({ account: a, amount: 100 }); // yesterday
    t.clock.set(T0 - 3 * HOUR);
    const d = await l().debitIfCovers({ account: a, amount: 30, model: 'm' });
    await l().debitIfCovers({ account: a, amount: 20 });
    const h = await l().hold({ account: a, amount: 5, model: 'm', ttlMs: 60_000 });
    if (d.outcome !== 'debited' || h.outcome !== 'held') throw new Error('setup');
    await l().capture({ holdId: h.hold.id, amount: 5 });
    await l().refund({ entryId: d.entry.id, amount: 10 });
    t.clock.set(T0);
    expect((await l().caps.set({ account: a, window: 'day', limit: 60 })).cap).toMatchObject({ spent: 45, remaining: 15 });
    expect((await l().caps.set({ account: a, window: 'month', limit: 100, model: 'm' })).cap).toMatchObject({ spent: 25 });
    expect((await l().debitIfCovers({ account: a, amount: 16 })).outcome).toBe('capped');
    expect(await problemsOf(a)).toEqual([]);
  });

  it('remove: removed, then absent (nothing written); keyed removes replay or conflict', async () => {
    t.clock.set(T0);
    const a = await funded();
    await l().caps.set({ account: a, window: 'day', limit: 10, model: 'gpt' });
    expect((await l().debitIfCovers({ account: a, amount: 11, model: 'gpt' })).outcome).toBe('capped');
    const r = await l().caps.remove({ account: a, window: 'day', model: 'gpt' });
    expect(r).toMatchObject({
      outcome: 'removed',
      entry: { kind: 'cap_remove', metadata: { window: 'day', model: 'gpt', keyId: null, member: null } },
    });
    expect((await l().debitIfCovers({ account: a, amount: 11, model: 'gpt' })).outcome).toBe('debited');
    const before = await state(t.db, a);
    expect(await l().caps.remove({ account: a, window: 'day', model: 'gpt' })).toEqual({ outcome: 'absent' });
    expect(await l().caps.remove({ account: uniq(), window: 'week' })).toEqual({ outcome: 'absent' });
    expect(await state(t.db, a)).toEqual(before);
    await l().caps.set({ account: a, window: 'week', limit: 10 });
    const k = await l().caps.remove({ account: a, window: 'week', idempotencyKey: 'r1' });
    expect(k.outcome).toBe('removed');
    expect(await l().caps.remove({ account: a, window: 'week', idempotencyKey: 'r1' })).toMatchObject({
      outcome: 'replayed',
      entry: { id: k.entry?.id },
    });
    expect(
      (
        await l()
          .caps.remove({ account: a, window: 'month', idempotencyKey: 'r1' })
          .catch((e) => e)
      ).code,
    ).toBe('idempotency_conflict');
    expect(await l().caps.list(a)).toEqual([]);
    expect(await problemsOf(a)).toEqual([]);
  });

  it('getBalance: the floor, the headroom under unfiltered deny caps, every cap', async () => {
    t.clock.set(T0);
    const a = await funded();
    await l().caps.set({ account: a, window: 'day', limit: 100 });
    await l().caps.set({ account: a, window: 'month', limit: 80 });
    await l().caps.set({ account: a, window: 'day', limit: 10, model: 'gpt' });
    await l().caps.set({ account: a, window: 'week', limit: 5, action: 'warn' });
    await l().debitIfCovers({ account: a, amount: 30 });
    await l().hold({ account: a, amount: 5, ttlMs: 60_000 });
    const b = await l().getBalance(a);
    expect(b).toMatchObject({ balance: 970, held: 5, available: 965, floor: 0, headroom: 45 });
    expect(b.caps.map((c) => [c.window, c.limit, c.remaining])).toEqual([
      ['day', 100, 65],
      ['month', 80, 45],
      ['day', 10, 10],
      ['week', 5, 0],
    ]);
  });

  it('batch: a capped op writes nothing, the others apply', async () => {
    t.clock.set(T0);
    const a = await funded();
    await l().caps.set({ account: a, window: 'day', limit: 100 });
    const r = await l().batch([
      { op: 'debit', account: a, amount: 60 },
      { op: 'debit', account: a, amount: 60 },
      { op: 'hold', account: a, amount: 50 },
      { op: 'debitOnce', account: a, amount: 40, idempotencyKey: 'b1' },
    ]);
    expect(r.map((x) => x.outcome)).toEqual(['debited', 'capped', 'capped', 'debited']);
    expect((await l().caps.list(a))[0]?.spent).toBe(100);
    expect(await problemsOf(a)).toEqual([]);
  });

  it('bad input to every caps method is a LedgerError naming the field, and writes nothing', async () => {
    t.clock.set(T0);
    const a = await funded();
    await l().caps.set({ account: a, window: 'day', limit: 10 });
    const before = await state(t.db, a);
    const cases: [string, string, () => Promise<unknown>][] = [
      ['invalid_account', 'account', () => l().caps.set({ account: '', window: 'day', limit: 1 })],
      ['invalid_argument', 'window', () => l().caps.set({ account: a, window: 'year' as never, limit: 1 })],
      ['invalid_amount', 'limit', () => l().caps.set({ account: a, window: 'day', limit: -1 })],
      ['invalid_amount', 'limit', () => l().caps.set({ account: a, window: 'day', limit: 1.5 })],
      ['invalid_amount', 'limit', () => l().caps.set({ account: a, window: 'day', limit: 2 ** 53 })],
      ['invalid_amount', 'limit', () => l().caps.set({ account: a, window: 'day', limit: '5' as never })],
      ['invalid_argument', 'action', () => l().caps.set({ account: a, window: 'day', limit: 1, action: 'block' as never })],
      ['invalid_argument', 'model', () => l().caps.set({ account: a, window: 'day', limit: 1, model: '' })],
      ['invalid_argument', 'member', () => l().caps.set({ account: a, window: 'day', limit: 1, member: 'x\uD800' })],
      ['invalid_argument', 'keyId', () => l().caps.set({ account: a, window: 'day', limit: 1, keyId: 'k\u0000' })],
      ['invalid_argument', 'input', () => l().caps.set({ account: a, window: 'day', limit: 1, extra: 1 } as never)], // unknown field
      ['invalid_argument', 'input', () => l().caps.set(null as never)],
      ['invalid_argument', 'window', () => l().caps.remove({ account: a, window: undefined as never })],
      ['invalid_argument', 'idempotencyKey', () => l().caps.remove({ account: a, window: 'day', idempotencyKey: '' })],
      ['invalid_account', 'input', () => l().caps.list(42 as never)],
      ['invalid_amount', 'floor', () => l().caps.floor({ account: a, floor: Number.NaN })],
      ['invalid_amount', 'floor', () => l().caps.floor({ account: a, floor: -(2 ** 53) })],
      ['invalid_argument', 'reason', () => l().caps.floor({ account: a, floor: 1, reason: 'r'.repeat(1_001) })],
    ];
    for (const [code, field, call] of cases) {
      const e = await call().then(
        (v) => ({ returned: v }),
        (x: unknown) => x,
      );
      expect(e, `${code} ${field}`).toBeInstanceOf(LedgerError);
      expect((e as LedgerError).code, field).toBe(code);
      expect((e as LedgerError).details?.field, code).toBe(field);
    }
    expect(await state(t.db, a)).toEqual(before);
  });

  it('verify and rebuild: credit_cap and credit_floor are what the log says; tampering is reported', async () => {
    t.clock.set(T0);
    const a = await funded();
    await l().caps.set({ account: a, window: 'day', limit: 100 });
    await l().caps.set({ account: a, window: 'month', limit: 500, model: 'gpt', action: 'warn' });
    await l().caps.floor({ account: a, floor: -20 });
    const d = await l().debitIfCovers({ account: a, amount: 60, model: 'gpt' });
    if (d.outcome !== 'debited') throw new Error('setup');
    await l().refund({ entryId: d.entry.id, amount: 5 });
    await l().hold({ account: a, amount: 10, model: 'gpt', actor: 'x', ttlMs: 60_000 });
    t.clock.advance(DAY);
    await l().debitIfCovers({ account: a, amount: 30 });
    const tables = async () => ({
      caps: await t.db.all('SELECT * FROM credit_cap WHERE account = ? ORDER BY id', [a]),
      floor: await t.db.all('SELECT * FROM credit_floor WHERE account = ?', [a]),
      holds: await t.db.all('SELECT * FROM credit_hold WHERE account = ? ORDER BY id', [a]),
    });
    const before = await tables();
    expect(before.holds[0]).toMatchObject({ model: 'gpt', actor: 'x' });
    expect((await l().verify()).problems).toEqual([]);
    const rebuilt = await l().rebuild();
    expect(rebuilt.problems).toEqual([]);
    expect(rebuilt.caps).toBeGreaterThanOrEqual(2);
    expect(await tables()).toEqual(before);
    // Tampering, behind the library's back (last in this suite: the damage stays).
    await t.db.all("UPDATE credit_cap SET spent = spent + 1 WHERE account = ? AND cap_window = 'day'", [a]);
    await t.db.all('UPDATE credit_floor SET floor = -1000 WHERE account = ?', [a]);
    const setRow = (await t.db.all("SELECT pos FROM credit_entry WHERE account = ? AND kind = 'cap_set' ORDER BY seq LIMIT 1", [a]))[0];
    await t.db.all(
      `UPDATE credit_entry SET metadata = '{"action":"deny","keyId":null,"limit":20,"member":null,"model":null,"window":"day"}' WHERE pos = ?`,
      [Number(setRow?.pos)],
    );
    const codes = (await problemsOf(a)).map((p) => p.code).sort();
    expect(codes).toEqual(expect.arrayContaining(['cap_exceeded', 'cap_mismatch', 'floor_mismatch']));
    await t.db.all('UPDATE credit_entry SET metadata = \'{"window":"fortnight"}\' WHERE pos = ?', [Number(setRow?.pos)]);
    expect((await problemsOf(a)).map((p) => p.code)).toContain('bad_config');
    expect(posOf(d.entry.id)).toBeGreaterThan(0);
  });
});
