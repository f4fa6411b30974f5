import { describe, expect, it } from 'vitest';
import { LedgerError } from '../../src/index.js';
import { DRIVERS, snapshot } from '../support/drivers.js';
import { uniq, useDb } from '../support/suite.js';

describe.each(DRIVERS)('grant and debit on $name', (driver) => {
  const t = useDb(driver);

  it('grant opens an account and appends rows with seq and running balance', async () => {
    const a = uniq();
    const g1 = await t.db.ledger.grant({ account: a, amount: 100, reason: 'signup', actor: 'ops', metadata: { plan: 'free' } });
    expect(g1.outcome).toBe('granted');
    expect(g1.entry).toMatchObject({
      account: a,
      seq: 1,
      kind: 'grant',
      delta: 100,
      amount: 100,
      balance: 100,
      reason: 'signup',
      actor: 'ops',
    });
    expect(g1.entry.metadata).toEqual({ plan: 'free' });
    expect(g1.entry.createdAt).toBe(t.clock.now());
    const g2 = await t.db.ledger.grant({ account: a, amount: 50 });
    expect(g2.entry).toMatchObject({ seq: 2, balance: 150 });
    expect(await t.db.ledger.getBalance(a)).toEqual({
      account: a,
      balance: 150,
      held: 0,
      available: 150,
      seq: 2,
      floor: 0,
      headroom: null,
      caps: [],
    });
  });

  it('debitIfCovers debits exactly down to zero and refuses one more unit', async () => {
    const a = uniq();
    await t.db.ledger.grant({ account: a, amount: 10 });
    const d = await t.db.ledger.debitIfCovers({ account: a, amount: 10, model: 'gpt', keyId: 'k1', actor: 'user', reason: 'run' });
    expect(d.outcome).toBe('debited');
    expect(d.entry).toMatchObject({ kind: 'debit', delta: -10, amount: 10, balance: 0, seq: 2, model: 'gpt', keyId: 'k1' });
    const before = await snapshot(t.db);
    const i = await t.db.ledger.debitIfCovers({ account: a, amount: 1 });
    expect(i).toEqual({ outcome: 'insufficient', balance: 0, available: 0, requested: 1 });
    expect(await snapshot(t.db)).toEqual(before);
  });

  it('a debit on an account that has never had a row is insufficient, and writes nothing', async () => {
    const a = uniq();
    const r = await t.db.ledger.debitIfCovers({ account: a, amount: 1 });
    expect(r).toMatchObject({ outcome: 'insufficient', balance: 0 });
    expect(await t.db.ledger.getBalance(a)).toMatchObject({ balance: 0, seq: 0 });
  });

  it('idempotent grant: replay returns the original entry; different parameters conflict', async () => {
    const a = uniq();
    const g = await t.db.ledger.grant({ account: a, amount: 100, idempotencyKey: 'purchase-1', reason: 'stripe' });
    const r = await t.db.ledger.grant({ account: a, amount: 100, idempotencyKey: 'purchase-1', reason: 'stripe' });
    expect(r.outcome).toBe('replayed');
    expect(r.entry).toEqual(g.entry);
    expect(r.balance).toBe(100);
    const before = await snapshot(t.db);
    await expect(t.db.ledger.grant({ account: a, amount: 99, idempotencyKey: 'purchase-1', reason: 'stripe' })).rejects.toMatchObject({
      code: 'idempotency_conflict',
    });
    await expect(t.db.ledger.grant({ account: a, amount: 100, idempotencyKey: 'purchase-1', reason: 'other' })).rejects.toMatchObject({
      code: 'idempotency_conflict',
    });
    expect(await snapshot(t.db)).toEqual(before);
    expect((await t.db.ledger.getBalance(a)).balance).toBe(100);
  });

  it('debitOnceIfCovers: applies once, replays with the original, conflicts on a different amount', async () => {
    const a = uniq();
    await t.db.ledger.grant({ account: a, amount: 100 });
    const d = await t.db.ledger.debitOnceIfCovers({ account: a, amount: 30, idempotencyKey: 'req-1', model: 'm' });
    expect(d.outcome).toBe('debited');
    const r = await t.db.ledger.debitOnceIfCovers({ account: a, amount: 30, idempotencyKey: 'req-1', model: 'm' });
    expect(r).toMatchObject({ outcome: 'replayed', entry: d.entry, balance: 70 });
    const err = await t.db.ledger.debitOnceIfCovers({ account: a, amount: 31, idempotencyKey: 'req-1', model: 'm' }).catch((e) => e);
    expect(err).toBeInstanceOf(LedgerError);
    expect(err.code).toBe('idempotency_conflict');
    expect(err.details.originalEntryId).toBe(d.entry?.id);
    expect((await t.db.ledger.getBalance(a)).balance).toBe(70);
  });

  it('an insufficient idempotent debit is not recorded: the same key succeeds later', async () => {
    const a = uniq();
    await t.db.ledger.grant({ account: a, amount: 5 });
    expect((await t.db.ledger.debitOnceIfCovers({ account: a, amount: 10, idempotencyKey: 'k' })).outcome).toBe('insufficient');
    await t.db.ledger.grant({ account: a, amount: 5 });
    const d = await t.db.ledger.debitOnceIfCovers({ account: a, amount: 10, idempotencyKey: 'k' });
    expect(d).toMatchObject({ outcome: 'debited', balance: 0 });
  });

  it('keys are scoped per account and per operation family', async () => {
    const a = uniq();
    const b = uniq();
    await t.db.ledger.grant({ account: a, amount: 100, idempotencyKey: 'same' });
    await t.db.ledger.grant({ account: b, amount: 100, idempotencyKey: 'same' });
    // A debit with the grant's key is a different family: it applies.
    const d = await t.db.ledger.debitOnceIfCovers({ account: a, amount: 10, idempotencyKey: 'same' });
    expect(d.outcome).toBe('debited');
    // User B replaying user A's debit key is charged (ducto's global-key bug).
    const e = await t.db.ledger.debitOnceIfCovers({ account: b, amount: 10, idempotencyKey: 'same' });
    expect(e.outcome).toBe('debited');
    expect((await t.db.ledger.getBalance(a)).balance).toBe(90);
    expect((await t.db.ledger.getBalance(b)).balance).toBe(90);
  });

  it('grant past the largest safe balance is overflow and writes nothing', async () => {
    const a = uniq();
    await t.db.ledger.grant({ account: a, amount: Number.MAX_SAFE_INTEGER - 5 });
    const before = await snapshot(t.db);
    await expect(t.db.ledger.grant({ account: a, amount: 6 })).rejects.toMatchObject({ code: 'overflow' });
    expect(await snapshot(t.db)).toEqual(before);
    const ok = await t.db.ledger.grant({ account: a, amount: 5 });
    expect(ok.balance).toBe(Number.MAX_SAFE_INTEGER);
  });

  it('metadata replays compare as canonical JSON (key order does not matter)', async () => {
    const a = uniq();
    await t.db.ledger.grant({ account: a, amount: 1, idempotencyKey: 'm', metadata: { x: 1, y: [1, { b: 2, a: 1 }] } });
    const r = await t.db.ledger.grant({ account: a, amount: 1, idempotencyKey: 'm', metadata: { y: [1, { a: 1, b: 2 }], x: 1 } });
    expect(r.outcome).toBe('replayed');
    await expect(t.db.ledger.grant({ account: a, amount: 1, idempotencyKey: 'm', metadata: { x: 2 } })).rejects.toMatchObject({
      code: 'idempotency_conflict',
    });
  });

  it('verify stays ok', async () => {
    expect(await t.db.ledger.verify()).toMatchObject({ ok: true, problemCount: 0 });
  });
});
