import { describe, expect, it } from 'vitest';
import { HOLD_DEFAULT_TTL_MS } from '../../src/index.js';
import { DRIVERS, snapshot } from '../support/drivers.js';
import { uniq, useDb } from '../support/suite.js';

describe.each(DRIVERS)('holds on $name', (driver) => {
  const t = useDb(driver);

  async function funded(amount = 100) {
    const a = uniq();
    await t.db.ledger.grant({ account: a, amount });
    return a;
  }

  it('a hold lowers available, not balance, and shows in holds()', async () => {
    const a = await funded();
    const h = await t.db.ledger.hold({ account: a, amount: 30, ttlMs: 60_000, reason: 'job' });
    expect(h).toMatchObject({ outcome: 'held', balance: 100, available: 70 });
    if (h.outcome !== 'held') throw new Error('setup');
    expect(h.hold).toMatchObject({ account: a, amount: 30, status: 'open', expiresAt: t.clock.now() + 60_000 });
    expect(h.entry).toMatchObject({ kind: 'hold', delta: 0, amount: 30, balance: 100 });
    expect(await t.db.ledger.getBalance(a)).toMatchObject({ balance: 100, held: 30, available: 70 });
    expect((await t.db.ledger.holds(a)).map((x) => x.id)).toEqual([h.hold.id]);
    // A debit sees only what is available.
    expect(await t.db.ledger.debitIfCovers({ account: a, amount: 71 })).toMatchObject({ outcome: 'insufficient', available: 70 });
    expect(await t.db.ledger.hold({ account: a, amount: 71 })).toMatchObject({ outcome: 'insufficient' });
    expect((await t.db.ledger.debitIfCovers({ account: a, amount: 70 })).outcome).toBe('debited');
  });

  it('capture less than held releases the rest; capture resolves the hold once', async () => {
    const a = await funded();
    const h = await t.db.ledger.hold({ account: a, amount: 40 });
    if (h.outcome !== 'held') throw new Error('setup');
    expect(h.hold.expiresAt).toBe(t.clock.now() + HOLD_DEFAULT_TTL_MS);
    const c = await t.db.ledger.capture({ holdId: h.hold.id, amount: 25 });
    expect(c).toMatchObject({ outcome: 'captured', released: 15, balance: 75, available: 75 });
    if (c.outcome !== 'captured') throw new Error('capture');
    expect(c.entry).toMatchObject({ kind: 'capture', delta: -25, ref: h.hold.id });
    expect(c.hold).toMatchObject({ status: 'captured', resolvedBy: c.entry.id });
    // Retrying the same capture replays; a different one, or a release, is hold_closed.
    expect(await t.db.ledger.capture({ holdId: h.hold.id, amount: 25 })).toMatchObject({ outcome: 'replayed', entry: c.entry });
    expect(await t.db.ledger.capture({ holdId: h.hold.id })).toMatchObject({ outcome: 'replayed' });
    const before = await snapshot(t.db);
    await expect(t.db.ledger.capture({ holdId: h.hold.id, amount: 26 })).rejects.toMatchObject({ code: 'hold_closed' });
    await expect(t.db.ledger.release({ holdId: h.hold.id })).rejects.toMatchObject({ code: 'hold_closed' });
    await expect(t.db.ledger.extendHold({ holdId: h.hold.id, ttlMs: 1000 })).rejects.toMatchObject({ code: 'hold_closed' });
    expect(await snapshot(t.db)).toEqual(before);
    // Captures are refundable like debits.
    expect(await t.db.ledger.refund({ entryId: c.entry.id, amount: 5 })).toMatchObject({ outcome: 'refunded', balance: 80 });
  });

  it('capture more than held succeeds only when the extra is covered', async () => {
    const a = await funded(50);
    const h = await t.db.ledger.hold({ account: a, amount: 30 });
    if (h.outcome !== 'held') throw new Error('setup');
    const before = await snapshot(t.db);
    const no = await t.db.ledger.capture({ holdId: h.hold.id, amount: 51 });
    expect(no).toMatchObject({ outcome: 'insufficient', requested: 51, hold: { status: 'open' } });
    expect(await snapshot(t.db)).toEqual(before);
    const yes = await t.db.ledger.capture({ holdId: h.hold.id, amount: 50 });
    expect(yes).toMatchObject({ outcome: 'captured', released: 0, balance: 0, available: 0 });
  });

  it('release is idempotent and gives the amount back', async () => {
    const a = await funded();
    const h = await t.db.ledger.hold({ account: a, amount: 60 });
    if (h.outcome !== 'held') throw new Error('setup');
    const r = await t.db.ledger.release({ holdId: h.hold.id, reason: 'job cancelled' });
    expect(r).toMatchObject({ outcome: 'released', available: 100, hold: { status: 'released' } });
    expect(r.entry).toMatchObject({ kind: 'release', delta: 0, amount: 60 });
    expect(await t.db.ledger.release({ holdId: h.hold.id })).toMatchObject({ outcome: 'replayed', entry: r.entry });
    await expect(t.db.ledger.capture({ holdId: h.hold.id })).rejects.toMatchObject({ code: 'hold_closed' });
    expect(await t.db.ledger.holds(a)).toEqual([]);
  });

  it('a hold stops counting at the exact millisecond its TTL ends, with no sweep', async () => {
    const a = await funded();
    const h = await t.db.ledger.hold({ account: a, amount: 100, ttlMs: 1000 });
    if (h.outcome !== 'held') throw new Error('setup');
    t.clock.advance(999);
    expect(await t.db.ledger.getBalance(a)).toMatchObject({ held: 100, available: 0 });
    expect((await t.db.ledger.debitIfCovers({ account: a, amount: 1 })).outcome).toBe('insufficient');
    t.clock.advance(1);
    expect(await t.db.ledger.getBalance(a)).toMatchObject({ held: 0, available: 100 });
    const before = await snapshot(t.db);
    await expect(t.db.ledger.capture({ holdId: h.hold.id })).rejects.toMatchObject({ code: 'hold_expired' });
    await expect(t.db.ledger.release({ holdId: h.hold.id })).rejects.toMatchObject({ code: 'hold_expired' });
    await expect(t.db.ledger.extendHold({ holdId: h.hold.id, ttlMs: 5000 })).rejects.toMatchObject({ code: 'hold_expired' });
    expect(await snapshot(t.db)).toEqual(before);
    expect((await t.db.ledger.debitIfCovers({ account: a, amount: 100 })).outcome).toBe('debited');
  });

  it('extendHold moves the expiry and is logged', async () => {
    const a = await funded();
    const h = await t.db.ledger.hold({ account: a, amount: 10, ttlMs: 1000 });
    if (h.outcome !== 'held') throw new Error('setup');
    t.clock.advance(500);
    const e = await t.db.ledger.extendHold({ holdId: h.hold.id, ttlMs: 10_000 });
    expect(e).toMatchObject({ outcome: 'extended', hold: { expiresAt: t.clock.now() + 10_000, status: 'open' } });
    expect(e.entry).toMatchObject({ kind: 'extend', ref: h.hold.id });
    t.clock.advance(5000);
    expect((await t.db.ledger.getBalance(a)).held).toBe(10);
    expect((await t.db.ledger.capture({ holdId: h.hold.id })).outcome).toBe('captured');
  });

  it('idempotent holds replay and conflict; unknown holds are not_found', async () => {
    const a = await funded();
    const h = await t.db.ledger.hold({ account: a, amount: 10, idempotencyKey: 'job-1' });
    const again = await t.db.ledger.hold({ account: a, amount: 10, idempotencyKey: 'job-1' });
    expect(again).toMatchObject({ outcome: 'replayed', entry: h.entry, hold: { status: 'open' } });
    await expect(t.db.ledger.hold({ account: a, amount: 11, idempotencyKey: 'job-1' })).rejects.toMatchObject({
      code: 'idempotency_conflict',
    });
    expect((await t.db.ledger.getBalance(a)).held).toBe(10);
    for (const call of [
      () => t.db.ledger.capture({ holdId: 'nope' }),
      () => t.db.ledger.release({ holdId: 'nope' }),
      () => t.db.ledger.extendHold({ holdId: 'nope', ttlMs: 10 }),
    ]) {
      await expect(call()).rejects.toMatchObject({ code: 'not_found' });
    }
  });

  it('sweep closes lapsed holds once and the auditor agrees', async () => {
    const a = await funded();
    await t.db.ledger.hold({ account: a, amount: 10, ttlMs: 100 });
    t.clock.advance(100);
    const dry = await t.db.ledger.sweep({ dryRun: true });
    expect(dry.holdsExpired).toBeGreaterThanOrEqual(1);
    const s = await t.db.ledger.sweep();
    expect(s.holdsExpired).toBe(dry.holdsExpired);
    expect((await t.db.ledger.sweep()).holdsExpired).toBe(0);
    const last = (await t.db.ledger.history(a, { limit: 1 })).entries[0];
    expect(last).toMatchObject({ kind: 'expire', delta: 0, amount: 10, actor: 'sweep' });
    expect(await t.db.ledger.verify()).toMatchObject({ ok: true });
  });
});
