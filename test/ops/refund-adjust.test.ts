import { describe, expect, it } from 'vitest';
import { DRIVERS, snapshot } from '../support/drivers.js';
import { uniq, useDb } from '../support/suite.js';

describe.each(DRIVERS)('refund and adjust on $name', (driver) => {
  const t = useDb(driver);

  async function debited(amount: number, grant = 100) {
    const a = uniq();
    await t.db.ledger.grant({ account: a, amount: grant });
    const d = await t.db.ledger.debitIfCovers({ account: a, amount, model: 'm1', keyId: 'key-r' });
    if (d.outcome !== 'debited') throw new Error('setup');
    return { account: a, debit: d.entry };
  }

  it('partial refunds add up to at most the debited amount', async () => {
    const { account, debit } = await debited(40);
    const r1 = await t.db.ledger.refund({ entryId: debit.id, amount: 15, reason: 'partial' });
    expect(r1).toMatchObject({ outcome: 'refunded', balance: 75, refundable: 25 });
    expect(r1.entry).toMatchObject({ kind: 'refund', delta: 15, ref: debit.id, model: 'm1', keyId: 'key-r', account });
    const r2 = await t.db.ledger.refund({ entryId: debit.id, amount: 25 });
    expect(r2).toMatchObject({ balance: 100, refundable: 0 });
    const before = await snapshot(t.db);
    await expect(t.db.ledger.refund({ entryId: debit.id, amount: 1 })).rejects.toMatchObject({ code: 'exceeds_refundable' });
    await expect(t.db.ledger.refund({ entryId: debit.id })).rejects.toMatchObject({ code: 'exceeds_refundable' });
    expect(await snapshot(t.db)).toEqual(before);
  });

  it('a refund with no amount returns the rest', async () => {
    const { debit } = await debited(40);
    await t.db.ledger.refund({ entryId: debit.id, amount: 10 });
    const r = await t.db.ledger.refund({ entryId: debit.id });
    expect(r).toMatchObject({ outcome: 'refunded', refundable: 0, balance: 100 });
    expect(r.entry.amount).toBe(30);
  });

  it('a refund larger than what is left is refused whole', async () => {
    const { debit } = await debited(40);
    await expect(t.db.ledger.refund({ entryId: debit.id, amount: 41 })).rejects.toMatchObject({ code: 'exceeds_refundable' });
    expect((await t.db.ledger.refund({ entryId: debit.id, amount: 40 })).refundable).toBe(0);
  });

  it('only debits are refundable: grants, refunds and adjustments are not', async () => {
    const a = uniq();
    const g = await t.db.ledger.grant({ account: a, amount: 100 });
    const d = await t.db.ledger.debitIfCovers({ account: a, amount: 10 });
    const r = await t.db.ledger.refund({ entryId: d.entry!.id, amount: 5 });
    const adj = await t.db.ledger.adjust({ account: a, delta: -5, reason: 'fix' });
    const before = await snapshot(t.db);
    for (const id of [g.entry.id, r.entry.id, adj.entry!.id]) {
      await expect(t.db.ledger.refund({ entryId: id })).rejects.toMatchObject({ code: 'not_refundable' });
    }
    await expect(t.db.ledger.refund({ entryId: '01ZZZZZZZZZZZZZZZZZZZZZZZZ' })).rejects.toMatchObject({ code: 'not_found' });
    expect(await snapshot(t.db)).toEqual(before);
  });

  it('idempotent refunds: replay returns the original, a different debit or amount conflicts', async () => {
    const { account, debit } = await debited(40);
    const other = await t.db.ledger.debitIfCovers({ account, amount: 10 });
    const r = await t.db.ledger.refund({ entryId: debit.id, amount: 10, idempotencyKey: 'rf-1' });
    const again = await t.db.ledger.refund({ entryId: debit.id, amount: 10, idempotencyKey: 'rf-1' });
    expect(again).toMatchObject({ outcome: 'replayed', entry: r.entry, refundable: 30 });
    await expect(t.db.ledger.refund({ entryId: debit.id, amount: 11, idempotencyKey: 'rf-1' })).rejects.toMatchObject({
      code: 'idempotency_conflict',
    });
    await expect(t.db.ledger.refund({ entryId: other.entry!.id, amount: 10, idempotencyKey: 'rf-1' })).rejects.toMatchObject({
      code: 'idempotency_conflict',
    });
    // Replaying after the debit was fully refunded is still a replay, not exceeds_refundable.
    await t.db.ledger.refund({ entryId: debit.id });
    expect((await t.db.ledger.refund({ entryId: debit.id, amount: 10, idempotencyKey: 'rf-1' })).outcome).toBe('replayed');
    expect((await t.db.ledger.getBalance(account)).balance).toBe(90);
  });

  it('adjust applies signed corrections and never goes below zero', async () => {
    const a = uniq();
    const up = await t.db.ledger.adjust({ account: a, delta: 20, reason: 'goodwill' });
    expect(up).toMatchObject({ outcome: 'adjusted', balance: 20 });
    expect(up.entry).toMatchObject({ kind: 'adjust', delta: 20, amount: 20, seq: 1 });
    const down = await t.db.ledger.adjust({ account: a, delta: -15, reason: 'double grant' });
    expect(down).toMatchObject({ outcome: 'adjusted', balance: 5 });
    const before = await snapshot(t.db);
    expect(await t.db.ledger.adjust({ account: a, delta: -6, reason: 'too much' })).toMatchObject({ outcome: 'insufficient', balance: 5 });
    expect(await snapshot(t.db)).toEqual(before);
  });

  it('idempotent adjust replays and conflicts on a different delta', async () => {
    const a = uniq();
    const x = await t.db.ledger.adjust({ account: a, delta: 7, reason: 'r', idempotencyKey: 'adj' });
    expect(await t.db.ledger.adjust({ account: a, delta: 7, reason: 'r', idempotencyKey: 'adj' })).toMatchObject({
      outcome: 'replayed',
      entry: x.entry,
    });
    await expect(t.db.ledger.adjust({ account: a, delta: -7, reason: 'r', idempotencyKey: 'adj' })).rejects.toMatchObject({
      code: 'idempotency_conflict',
    });
  });

  it('verify stays ok', async () => {
    expect(await t.db.ledger.verify()).toMatchObject({ ok: true });
  });
});
