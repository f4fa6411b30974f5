import { describe, expect, it } from 'vitest';
import { DRIVERS, posOf } from './support/drivers.js';
import { uniq, useDb } from './support/suite.js';

/** The auditor must catch a row changed behind the library's back, on every driver. */
describe.each(DRIVERS)('verify() on $name', (driver) => {
  const t = useDb(driver);

  async function history3() {
    const a = uniq();
    await t.db.ledger.grant({ account: a, amount: 100 });
    const d = await t.db.ledger.debitIfCovers({ account: a, amount: 30 });
    await t.db.ledger.debitIfCovers({ account: a, amount: 20 });
    return { account: a, debitId: d.entry!.id };
  }

  it('is ok on an untouched ledger', async () => {
    await history3();
    const v = await t.db.ledger.verify();
    expect(v).toMatchObject({ ok: true, problemCount: 0, problems: [] });
    expect(v.outstanding).toBe(50);
  });

  it('a tampered amount (a fraction, text) on an account with caps is reported, not thrown', async () => {
    const a = uniq();
    await t.db.ledger.caps.set({ account: a, window: 'day', limit: 100 });
    await t.db.ledger.grant({ account: a, amount: 50 });
    const d = await t.db.ledger.debitIfCovers({ account: a, amount: 5 });
    for (const amount of [1.5, 'abc']) {
      await t.db.all('UPDATE credit_entry SET amount = ? WHERE pos = ?', [amount, posOf(d.entry!.id)]);
      const codes = (await t.db.ledger.verify()).problems.filter((p) => p.account === a).map((p) => p.code);
      expect(codes, String(amount)).toContain('bad_amount');
    }
  });

  it('catches an edited delta', async () => {
    const { account, debitId } = await history3();
    await t.db.all('UPDATE credit_entry SET delta = -25, amount = 25 WHERE pos = ?', [posOf(debitId)]);
    const v = await t.db.ledger.verify();
    expect(v.ok).toBe(false);
    expect(v.problems).toContainEqual(expect.objectContaining({ code: 'balance_mismatch', account, entryId: debitId, seq: 2 }));
  });

  it('catches an edited balance and a delta that does not match its kind', async () => {
    const { account, debitId } = await history3();
    await t.db.all('UPDATE credit_entry SET balance = 1000 WHERE account = ? AND seq = 3', [account]);
    await t.db.all('UPDATE credit_entry SET delta = 30 WHERE pos = ?', [posOf(debitId)]);
    const codes = (await t.db.ledger.verify()).problems.filter((p) => p.account === account).map((p) => p.code);
    expect(codes).toContain('balance_mismatch');
    expect(codes).toContain('bad_delta');
  });

  it('catches a deleted row (seq gap) and a negative balance', async () => {
    const { account } = await history3();
    await t.db.all('DELETE FROM credit_entry WHERE account = ? AND seq = 2', [account]);
    const b = uniq();
    await t.db.all(
      `INSERT INTO credit_entry (account, seq, kind, delta, amount, balance, created_at) VALUES (?, 1, 'debit', -5, 5, -5, 0)`,
      [b],
    );
    const problems = (await t.db.ledger.verify()).problems;
    expect(problems).toContainEqual(expect.objectContaining({ code: 'seq_gap', account, seq: 3 }));
    expect(problems).toContainEqual(expect.objectContaining({ code: 'below_floor', account: b }));
  });

  it('catches over-refunds, refunds of non-debits and duplicate idempotency keys', async () => {
    const { account, debitId } = await history3();
    await t.db.ledger.refund({ entryId: debitId, amount: 30 });
    await t.db.all('UPDATE credit_entry SET amount = 40, delta = 40 WHERE ref = ?', [posOf(debitId)]);
    const c = uniq();
    const g = await t.db.ledger.grant({ account: c, amount: 5, idempotencyKey: 'dup' });
    await t.db.all(
      `INSERT INTO credit_entry (account, seq, kind, delta, amount, balance, ref, created_at) VALUES (?, 2, 'refund', 1, 1, 6, ?, 0)`,
      [c, posOf(g.entry.id)],
    );
    await t.db.exec('DROP INDEX credit_entry_idempotency');
    await t.db.all(
      `INSERT INTO credit_entry (account, seq, kind, delta, amount, balance, idempotency_key, created_at) VALUES (?, 3, 'grant', 1, 1, 7, 'dup', 0)`,
      [c],
    );
    const problems = (await t.db.ledger.verify()).problems;
    expect(problems).toContainEqual(expect.objectContaining({ code: 'refund_exceeds', account }));
    expect(problems).toContainEqual(expect.objectContaining({ code: 'refund_target', account: c }));
    expect(problems).toContainEqual(expect.objectContaining({ code: 'duplicate_idempotency_key', account: c }));
  });
});
