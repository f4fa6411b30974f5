/**
 * The event outbox and ledger.alerts on every driver: balance.low once per crossing (re-armed
 * above the threshold, highest threshold first, holds and floors count, not for a write that
 * stays below), cap.warning / cap.reached once per window for warn and notify caps,
 * credits.expiring once per lot, credits.expired / hold.expired / plan.renewed / plan.changed,
 * events.list paging, gap-free ids, an event never without its cause (a unit undone writes
 * none), and the auditor's view (verify after each case; tampering found; rebuild).
 */
import { describe, expect, it } from 'vitest';
import type { LedgerEvent } from '../../src/index.js';
import { LedgerError } from '../../src/index.js';
import { DRIVERS } from '../support/drivers.js';
import { uniq, useDb } from '../support/suite.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const T0 = Date.UTC(2026, 4, 4, 10); // a Monday

describe.each(DRIVERS)('events and alerts on $name', (driver) => {
  const t = useDb(driver);
  const l = () => t.db.ledger;
  const verifyOk = async () => {
    const v = await l().verify();
    expect(v.problems).toEqual([]);
  };
  /** Every event of `account`, in id order (the database is shared by the cases). */
  async function eventsOf(account: string): Promise<LedgerEvent[]> {
    const out: LedgerEvent[] = [];
    for (let after = 0; ; ) {
      const page = await l().events.list({ after, limit: 1000 });
      out.push(...page.events.filter((e) => e.account === account));
      if (!page.hasMore) return out;
      after = page.cursor;
    }
  }
  const summary = (es: LedgerEvent[]) =>
    es.map((e) => (e.type === 'balance.low' ? `low ${e.data.threshold}: ${e.data.available}` : e.type));

  it('balance.low fires once per crossing, highest threshold first, and again after available recovers', async () => {
    t.clock.set(T0);
    const a = uniq();
    await l().grant({ account: a, amount: 100 });
    const set = await l().alerts.set({ account: a, lowBalance: 50 });
    expect(set).toMatchObject({ outcome: 'set', alert: { account: a, lowBalance: 50, expiringWithinMs: null, below: false } });
    await l().alerts.set({ account: a, lowBalance: 20 });
    expect((await l().alerts.set({ account: a, lowBalance: 20 })).outcome).toBe('replayed');
    await l().debitIfCovers({ account: a, amount: 50 }); // 50: not below 50
    expect(await eventsOf(a)).toEqual([]);
    await l().debitIfCovers({ account: a, amount: 1 }); // 49: crosses 50
    await l().debitIfCovers({ account: a, amount: 9 }); // 40: already below, no event
    await l().debitIfCovers({ account: a, amount: 35 }); // 5: crosses 20
    await l().grant({ account: a, amount: 95 }); // 100: re-arms both
    await l().debitIfCovers({ account: a, amount: 90 }); // 10: crosses both at once, 50 first
    const es = await eventsOf(a);
    expect(summary(es)).toEqual(['low 50: 49', 'low 20: 5', 'low 50: 10', 'low 20: 10']);
    expect(es[0]?.data).toMatchObject({ account: a, kind: 'debit' });
    expect(es[0]?.data.entryId).toMatch(/^ce_\d+$/);
    expect(es[0]?.timestamp).toBe(new Date(T0).toISOString());
    expect((await l().alerts.list(a)).map((x) => [x.lowBalance, x.below])).toEqual([
      [20, true],
      [50, true],
    ]);
    await verifyOk();
  });

  it('holds lower available (a hold crosses; its lapse re-arms before the next write), a floor too', async () => {
    t.clock.set(T0);
    const a = uniq();
    await l().grant({ account: a, amount: 100 });
    await l().alerts.set({ account: a, lowBalance: 30 });
    await l().hold({ account: a, amount: 80, ttlMs: 1000 }); // available 20: crosses
    t.clock.advance(2000); // the hold lapsed: available is 100 again, with no write
    await l().debitIfCovers({ account: a, amount: 75 }); // 25: crosses again (before 100 ≥ 30)
    await l().grant({ account: a, amount: 75 }); // 100
    await l().caps.floor({ account: a, floor: 80 }); // available 20: crosses by configuration
    expect(summary(await eventsOf(a))).toEqual(['low 30: 20', 'low 30: 25', 'low 30: 20']);
    expect((await eventsOf(a)).map((e) => e.data.kind)).toEqual(['hold', 'debit', 'floor_set']);
    await verifyOk();
  });

  it('trigger order: a capture is judged after its hold closed (no spurious balance.low)', async () => {
    t.clock.set(T0);
    const a = uniq();
    await l().grant({ account: a, amount: 120 });
    await l().alerts.set({ account: a, lowBalance: 50 });
    const h = await l().hold({ account: a, amount: 60 }); // available 60
    if (h.outcome !== 'held') throw new Error(h.outcome);
    await l().capture({ holdId: h.hold.id }); // posted 60, hold closed: available 60, no crossing
    expect(await eventsOf(a)).toEqual([]);
    await l().debitIfCovers({ account: a, amount: 11 }); // 49
    expect(summary(await eventsOf(a))).toEqual(['low 50: 49']);
    await verifyOk();
  });

  it('cap.warning at 80 % and cap.reached at 100 % once per window for warn and notify caps, none for deny', async () => {
    t.clock.set(T0);
    const a = uniq();
    await l().grant({ account: a, amount: 10_000 });
    await l().caps.set({ account: a, window: 'day', limit: 100, action: 'warn' });
    await l().caps.set({ account: a, window: 'week', limit: 1000, action: 'notify', model: 'gpt' });
    await l().caps.set({ account: a, window: 'month', limit: 110, action: 'deny' });
    await l().debitIfCovers({ account: a, amount: 79 });
    expect(await eventsOf(a)).toEqual([]);
    await l().debitIfCovers({ account: a, amount: 1, model: 'gpt' }); // 80 of 100: warning
    const d = await l().debitIfCovers({ account: a, amount: 25 }); // 105: reached (warning not again)
    if (d.outcome !== 'debited') throw new Error(d.outcome);
    await l().refund({ entryId: d.entry.id }); // back to 80: nothing
    await l().debitIfCovers({ account: a, amount: 25 }); // 105 again: not again this window
    t.clock.advance(DAY); // a new day: the day cap starts over
    await l().debitIfCovers({ account: a, amount: 100, model: 'gpt' }); // deny month cap (110) refuses
    expect((await l().debitIfCovers({ account: a, amount: 100, model: 'gpt' })).outcome).toBe('capped');
    const es = await eventsOf(a);
    expect(es.map((e) => [e.type, e.data.window, e.data.spent, e.data.limit])).toEqual([
      ['cap.warning', 'day', 80, 100],
      ['cap.reached', 'day', 105, 100],
    ]);
    expect(es[0]?.data).toMatchObject({ action: 'warn', windowStart: T0 - 10 * HOUR });
    await l().caps.set({ account: a, window: 'month', limit: 10_000, action: 'deny' });
    await l().debitIfCovers({ account: a, amount: 100, model: 'gpt' }); // day 100 of 100, week 200 of 1000
    expect(summary(await eventsOf(a)).slice(2)).toEqual(['cap.warning', 'cap.reached']);
    await verifyOk();
  });

  it('the sweep writes credits.expiring once per lot, credits.expired and hold.expired', async () => {
    t.clock.set(T0);
    const a = uniq();
    await l().grant({ account: a, amount: 10, expiresAt: T0 + 2 * HOUR });
    await l().grant({ account: a, amount: 20, expiresAt: T0 + 10 * DAY });
    await l().grant({ account: a, amount: 5 });
    await l().hold({ account: a, amount: 5, ttlMs: 60_000 });
    await l().alerts.set({ account: a, expiringWithinMs: DAY });
    expect(await l().alerts.list(a)).toEqual([expect.objectContaining({ lowBalance: null, expiringWithinMs: DAY, below: false })]);
    expect((await l().sweep({ dryRun: true })).expiringNotices).toBeGreaterThanOrEqual(1);
    const first = await l().sweep();
    expect(first.expiringNotices).toBeGreaterThanOrEqual(1);
    await l().sweep(); // once per lot
    t.clock.advance(3 * HOUR);
    await l().sweep();
    const es = await eventsOf(a);
    // The sweep writes lapsed lots before lapsed holds.
    expect(es.map((e) => e.type)).toEqual(['credits.expiring', 'credits.expired', 'hold.expired']);
    expect(es[0]?.data).toMatchObject({ remaining: 10, expiresAt: T0 + 2 * HOUR });
    expect(es[0]?.data.lotId).toBe(es[0]?.data.entryId);
    expect(es[1]?.data).toMatchObject({ amount: 10, lotId: es[0]?.data.lotId });
    expect(es[2]?.data).toMatchObject({ amount: 5 });
    await verifyOk();
  });

  it('plan.changed on subscribe, change and cancel; plan.renewed for each period written down', async () => {
    t.clock.set(T0);
    const a = uniq();
    const plan = uniq('plan');
    await l().plans.define({ id: plan, allowance: { amount: 100, every: 'day' } });
    await l().plans.subscribe({ account: a, planId: plan });
    t.clock.advance(DAY);
    await l().debitIfCovers({ account: a, amount: 1 }); // writes the second day's allowance first
    await l().plans.cancel({ account: a, at: 'now' });
    const es = await eventsOf(a);
    expect(es.map((e) => [e.type, e.data.change ?? e.data.allowance])).toEqual([
      ['plan.changed', 'subscribe'],
      ['plan.renewed', 100],
      ['plan.renewed', 100],
      ['plan.changed', 'cancel'],
    ]);
    expect(es[1]?.data).toMatchObject({ planId: plan, version: 1, periodStart: T0, periodEnd: T0 + DAY });
    await verifyOk();
  });

  it('events.list pages in id order without gaps, filters by type; events.get', async () => {
    const first = await l().events.list({ limit: 3 });
    expect(first.events.map((e) => e.id)).toEqual([1, 2, 3].slice(0, first.events.length));
    const all: LedgerEvent[] = [];
    for (let after = 0; ; ) {
      const page = await l().events.list({ after, limit: 4 });
      all.push(...page.events);
      if (!page.hasMore) break;
      after = page.cursor;
    }
    expect(all.map((e) => e.id)).toEqual(all.map((_, i) => i + 1));
    const lows = await l().events.list({ types: ['balance.low', 'cap.reached'], limit: 1000 });
    expect(lows.events.length).toBeGreaterThan(0);
    expect(lows.events.every((e) => e.type === 'balance.low' || e.type === 'cap.reached')).toBe(true);
    expect(lows.events).toEqual(all.filter((e) => e.type === 'balance.low' || e.type === 'cap.reached'));
    expect(await l().events.get(all[0]?.id ?? 0)).toEqual(all[0]);
    expect(await l().events.get(all.length + 1)).toBeNull();
    const end = await l().events.list({ after: all.length });
    expect(end).toEqual({ events: [], cursor: all.length, hasMore: false });
  });

  it('an event never without its cause: a unit undone by its app statement writes none', async () => {
    t.clock.set(T0);
    const a = uniq();
    await l().grant({ account: a, amount: 100 });
    await l().alerts.set({ account: a, lowBalance: 50 });
    const before = await l().events.list({ after: 0, limit: 1000 });
    const top = before.events.at(-1)?.id ?? 0;
    // An app statement that fails (no such table) undoes the whole unit, debit and event alike.
    const bad = { toSQL: () => ({ sql: 'INSERT INTO no_such_table VALUES (1)', params: [] }) };
    await expect(l().debitIfCovers({ account: a, amount: 60 }, { with: [bad as never] })).rejects.toBeInstanceOf(LedgerError);
    expect((await l().events.list({ after: top })).events).toEqual([]);
    expect((await l().getBalance(a)).available).toBe(100);
    await l().debitIfCovers({ account: a, amount: 60 });
    expect((await l().events.list({ after: top })).events.map((e) => e.id)).toEqual([top + 1]);
  });

  it('alerts.remove, idempotency keys, and misuse that writes nothing', async () => {
    const a = uniq();
    await l().grant({ account: a, amount: 10 });
    const k = uniq('key');
    const s1 = await l().alerts.set({ account: a, lowBalance: 5, idempotencyKey: k });
    const s2 = await l().alerts.set({ account: a, lowBalance: 5, idempotencyKey: k });
    expect(s2.outcome).toBe('replayed');
    expect(s2.outcome === 'replayed' && s2.entry?.id).toBe(s1.outcome === 'set' && s1.entry.id);
    await expect(l().alerts.set({ account: a, lowBalance: 6, idempotencyKey: k })).rejects.toMatchObject({ code: 'idempotency_conflict' });
    for (const [input, code] of [
      [{ account: a }, 'invalid_argument'],
      [{ account: a, lowBalance: 0 }, 'invalid_amount'],
      [{ account: a, lowBalance: 1.5 }, 'invalid_amount'],
      [{ account: a, expiringWithinMs: -1 }, 'invalid_argument'],
      [{ account: '', lowBalance: 1 }, 'invalid_account'],
      [{ account: a, lowBalance: 1, extra: 1 }, 'invalid_argument'],
    ] as const) {
      await expect(l().alerts.set(input as never)).rejects.toMatchObject({ code });
    }
    await expect(l().events.list({ limit: 0 })).rejects.toMatchObject({ code: 'invalid_argument' });
    await expect(l().events.list({ types: ['nope' as never] })).rejects.toMatchObject({ code: 'invalid_argument' });
    expect((await l().alerts.remove({ account: a, lowBalance: 5 })).outcome).toBe('removed');
    expect((await l().alerts.remove({ account: a, lowBalance: 5 })).outcome).toBe('absent');
    expect(await l().alerts.list(a)).toEqual([]);
    await l().debitIfCovers({ account: a, amount: 10 });
    expect(await eventsOf(a)).toEqual([]);
    await verifyOk();
  });

  it('the auditor finds a deleted or edited event and a tampered alert; rebuild restores alerts', async () => {
    t.clock.set(T0);
    const a = uniq();
    await l().grant({ account: a, amount: 100 });
    await l().alerts.set({ account: a, lowBalance: 50 });
    await l().debitIfCovers({ account: a, amount: 60 });
    const [ev] = await eventsOf(a);
    if (ev === undefined) throw new Error('no event');
    const data = await t.db.all('SELECT data FROM credit_event WHERE id = ?', [ev.id]);
    await t.db.exec(`UPDATE credit_event SET data = json_set(data, '$.available', 7) WHERE id = ${ev.id}`);
    expect((await l().verify()).problems.map((p) => p.code)).toContain('event_mismatch');
    await t.db.exec(`UPDATE credit_event SET data = '${String(data[0]?.data)}' WHERE id = ${ev.id}`);
    await t.db.exec(`UPDATE credit_alert SET expiring_within_ms = 5 WHERE account = '${a}'`);
    expect((await l().verify()).problems.map((p) => p.code)).toEqual(['alert_mismatch']);
    await l().rebuild();
    await verifyOk();
    expect((await l().alerts.list(a))[0]).toMatchObject({ lowBalance: 50, expiringWithinMs: null, below: true });
  });
});
