import { describe, expect, it } from 'vitest';
import { DRIVERS } from '../support/drivers.js';
import { uniq, useDb } from '../support/suite.js';

describe.each(DRIVERS)('reads on $name', (driver) => {
  const t = useDb(driver);

  it('history is newest first, paginates with a cursor and filters by kind', async () => {
    const a = uniq();
    await t.db.ledger.grant({ account: a, amount: 100 });
    for (let i = 1; i <= 7; i++) await t.db.ledger.debitIfCovers({ account: a, amount: i });
    const first = await t.db.ledger.history(a, { limit: 3 });
    expect(first.entries.map((e) => e.seq)).toEqual([8, 7, 6]);
    expect(first.nextCursor).not.toBeNull();
    const second = await t.db.ledger.history(a, { limit: 3, cursor: first.nextCursor! });
    expect(second.entries.map((e) => e.seq)).toEqual([5, 4, 3]);
    const third = await t.db.ledger.history(a, { limit: 3, cursor: second.nextCursor! });
    expect(third.entries.map((e) => e.seq)).toEqual([2, 1]);
    expect(third.nextCursor).toBeNull();
    const grants = await t.db.ledger.history(a, { kinds: ['grant'] });
    expect(grants.entries.map((e) => e.kind)).toEqual(['grant']);
    const all = await t.db.ledger.history(a);
    expect(all.entries).toHaveLength(8);
    expect(all.entries[0]?.balance).toBe(100 - 28);
    expect(await t.db.ledger.history(uniq())).toEqual({ entries: [], nextCursor: null });
  });

  it('keySpend attributes debits and nets refunds per key, within a time range', async () => {
    const a = uniq();
    const key = uniq('key');
    await t.db.ledger.grant({ account: a, amount: 1000 });
    const start = t.clock.now();
    const d1 = await t.db.ledger.debitIfCovers({ account: a, amount: 100, keyId: key });
    t.clock.advance(1000);
    await t.db.ledger.debitIfCovers({ account: a, amount: 50, keyId: key });
    await t.db.ledger.debitIfCovers({ account: a, amount: 7, keyId: 'other' });
    await t.db.ledger.refund({ entryId: d1.entry!.id, amount: 30 });
    expect(await t.db.ledger.keySpend(key)).toEqual({ keyId: key, debited: 150, refunded: 30, net: 120, debits: 2, refunds: 1 });
    expect(await t.db.ledger.keySpend(key, { from: start, to: start + 1 })).toMatchObject({ debited: 100, refunded: 0 });
    expect(await t.db.ledger.keySpend(uniq('nokey'))).toMatchObject({ debited: 0, net: 0, debits: 0 });
  });

  it('stats totals agree with the auditor', async () => {
    const a = uniq();
    await t.db.ledger.grant({ account: a, amount: 40 });
    const d = await t.db.ledger.debitIfCovers({ account: a, amount: 15 });
    await t.db.ledger.refund({ entryId: d.entry!.id, amount: 5 });
    await t.db.ledger.adjust({ account: a, delta: -3, reason: 'fix' });
    const s = await t.db.ledger.stats();
    const v = await t.db.ledger.verify();
    expect(v.ok).toBe(true);
    expect(s.entries).toBe(v.entries);
    expect(s.accounts).toBe(v.accounts);
    expect(s.outstanding).toBe(v.outstanding);
    expect(s.outstanding).toBe(s.granted - s.debited + s.refunded + s.adjusted);
    expect(s.byKind.refund?.entries).toBeGreaterThanOrEqual(1);
  });

  it('ledger-wide totals past 2^53 are reported, not a driver error', async () => {
    const now = t.clock.now();
    for (const a of [uniq(), uniq()]) await t.db.ledger.grant({ account: a, amount: Number.MAX_SAFE_INTEGER, expiresAt: now + 10 });
    const s = await t.db.ledger.stats();
    expect(s.granted).toBeGreaterThan(Number.MAX_SAFE_INTEGER);
    t.clock.advance(10);
    const dry = await t.db.ledger.sweep({ dryRun: true });
    expect(dry.creditsExpired).toBeGreaterThan(Number.MAX_SAFE_INTEGER);
    expect((await t.db.ledger.keySpend('none')).net).toBe(0);
  });
});
