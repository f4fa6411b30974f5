import { describe, expect, it } from 'vitest';
import { LedgerError } from '../../src/index.js';
import { DRIVERS, snapshot } from '../support/drivers.js';
import { uniq, useDb } from '../support/suite.js';

describe.each(DRIVERS)('batch() on $name', (driver) => {
  const t = useDb(driver);

  it('applies mixed ops in order, each seeing the ones before it', async () => {
    const a = uniq();
    const b = uniq();
    const g = await t.db.ledger.grant({ account: b, amount: 50 });
    const d0 = await t.db.ledger.debitIfCovers({ account: b, amount: 20 });
    const results = await t.db.ledger.batch([
      { op: 'grant', account: a, amount: 100, idempotencyKey: 'g1' },
      { op: 'debit', account: a, amount: 60 },
      { op: 'debit', account: a, amount: 60 }, // only 40 left: insufficient
      { op: 'debitOnce', account: a, amount: 40, idempotencyKey: 'd1' },
      { op: 'debitOnce', account: a, amount: 40, idempotencyKey: 'd1' }, // replay within the batch
      { op: 'grant', account: a, amount: 100, idempotencyKey: 'g1' }, // replay of the first op
      { op: 'refund', entryId: d0.entry!.id, amount: 5 },
      { op: 'refund', entryId: g.entry.id }, // not refundable: rejected, others still apply
      { op: 'hold', account: b, amount: 10, ttlMs: 60_000 },
      { op: 'adjust', account: b, delta: -1, reason: 'fix' },
    ]);
    expect(results.map((r) => r.outcome)).toEqual([
      'granted',
      'debited',
      'insufficient',
      'debited',
      'replayed',
      'replayed',
      'refunded',
      'rejected',
      'held',
      'adjusted',
    ]);
    expect(results[1]).toMatchObject({ balance: 40 });
    expect(results[4]).toMatchObject({ entry: { id: (results[3] as { entry: { id: string } }).entry.id } });
    const rejected = results[7];
    // (The bun host sends errors back as plain objects, so check the shape, not the class.)
    expect(rejected).toMatchObject({ outcome: 'rejected', error: { name: 'LedgerError', code: 'not_refundable' } });
    expect(await t.db.ledger.getBalance(a)).toMatchObject({ balance: 0 });
    expect(await t.db.ledger.getBalance(b)).toMatchObject({ balance: 34, held: 10, available: 24 });
    expect(await t.db.ledger.verify()).toMatchObject({ ok: true });
  });

  it('captures and releases in a batch', async () => {
    const a = uniq();
    await t.db.ledger.grant({ account: a, amount: 100 });
    const h1 = await t.db.ledger.hold({ account: a, amount: 30 });
    const h2 = await t.db.ledger.hold({ account: a, amount: 30 });
    if (h1.outcome !== 'held' || h2.outcome !== 'held') throw new Error('setup');
    const r = await t.db.ledger.batch([
      { op: 'capture', holdId: h1.hold.id, amount: 10 },
      { op: 'release', holdId: h2.hold.id },
      { op: 'release', holdId: h1.hold.id }, // already captured in this batch
    ]);
    expect(r.map((x) => x.outcome)).toEqual(['captured', 'released', 'rejected']);
    expect(await t.db.ledger.getBalance(a)).toMatchObject({ balance: 90, held: 0, available: 90 });
  });

  it('spans several round-trip chunks on D1 and libSQL with the same results', async () => {
    const a = uniq();
    await t.db.ledger.grant({ account: a, amount: 120 });
    const n = driver.slow ? 60 : 130;
    const r = await t.db.ledger.batch(Array.from({ length: n }, () => ({ op: 'debit' as const, account: a, amount: 1 })));
    expect(r.filter((x) => x.outcome === 'debited')).toHaveLength(Math.min(n, 120));
    expect(r.filter((x) => x.outcome === 'insufficient')).toHaveLength(Math.max(0, n - 120));
    expect((await t.db.ledger.getBalance(a)).balance).toBe(120 - Math.min(n, 120));
  });

  it('bad input anywhere throws before anything is written', async () => {
    const a = uniq();
    const before = await snapshot(t.db);
    for (const bad of [
      [
        { op: 'grant', account: a, amount: 5 },
        { op: 'debit', account: a, amount: 0.5 },
      ],
      [
        { op: 'grant', account: a, amount: 5 },
        { op: 'nope', account: a },
      ],
      [{ op: 'grant', account: a, amount: 5 }, null],
      'not an array',
    ]) {
      await expect(t.db.ledger.batch(bad as never)).rejects.toBeInstanceOf(LedgerError);
    }
    expect(await snapshot(t.db)).toEqual(before);
    expect(await t.db.ledger.batch([])).toEqual([]);
  });
});
