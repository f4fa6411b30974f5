import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DRIVERS, type TestDb } from './support/drivers.js';

describe.each(DRIVERS)('$name smoke', (driver) => {
  let db: TestDb;
  beforeAll(async () => {
    db = await driver.open();
  });
  afterAll(async () => {
    await db.close();
  });
  it('grants, debits, refunds, verifies', async () => {
    const g = await db.ledger.grant({ account: 'u1', amount: 100 });
    expect(g.outcome).toBe('granted');
    const d = await db.ledger.debitIfCovers({ account: 'u1', amount: 30 });
    expect(d).toMatchObject({ outcome: 'debited', balance: 70 });
    const i = await db.ledger.debitIfCovers({ account: 'u1', amount: 71 });
    expect(i).toMatchObject({ outcome: 'insufficient', balance: 70 });
    const r = await db.ledger.refund({ entryId: d.entry!.id, amount: 10 });
    expect(r).toMatchObject({ outcome: 'refunded', balance: 80, refundable: 20 });
    expect(await db.ledger.verify()).toMatchObject({ ok: true, entries: 3 });
  });
});
