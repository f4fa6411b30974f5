/**
 * ledger.analytics (spend, top, summary) and the change feed (entries, entry) on every
 * driver: every grouping and filter, refunds counted in the bucket of what they refund (also
 * when the refund comes a day later), captures, time zones moving day boundaries, the hour
 * widening of ranges, answers exact whether the rollup holds the rows or the unfolded tail
 * does, and rebuild/verify on a tampered rollup. Each test works in its own stretch of time
 * (summary is ledger-wide), on one database per driver.
 */
import { describe, expect, it } from 'vitest';
import { LedgerError, USAGE_FOLD_LAG } from '../src/index.js';
import { DRIVERS, posOf } from './support/drivers.js';
import { uniq, useDb } from './support/suite.js';

const H = 3_600_000;
const D = 24 * H;
/** Each test's own stretch of time: 2030-01-01 + 100 days × n. */
const epoch = (n: number) => Date.UTC(2030, 0, 1) + n * 100 * D;
const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);

describe.each(DRIVERS)('analytics on $name', (driver) => {
  const t = useDb(driver);
  const l = () => t.db.ledger;

  /**
   * Two accounts, debits with and without labels, a hold captured with its labels, and two
   * refunds written after midnight of refunded entries from the day before:
   *   22:30Z  a: debit 100 (m1, k1, alice)        → refunded 40 at 01:15Z the next day
   *   22:30Z  a: debit 50 (m2)
   *   22:40Z  b: hold 80 (m1, k2) → captured 60 by bob at 23:10Z → refunded 10 at 01:15Z
   *   01:15Z  b: debit 30 (m1, k2)
   */
  async function scenario(start: number) {
    const [a, b] = [uniq('a'), uniq('b')];
    t.clock.set(start + 22 * H + 30 * 60_000);
    await l().grant({ account: a, amount: 10_000, actor: 'ops' });
    await l().grant({ account: b, amount: 5_000 });
    const d1 = await l().debitIfCovers({ account: a, amount: 100, model: 'm1', keyId: 'k1', actor: 'alice' });
    await l().debitIfCovers({ account: a, amount: 50, model: 'm2' });
    t.clock.advance(10 * 60_000);
    const h = await l().hold({ account: b, amount: 80, model: 'm1', keyId: 'k2', ttlMs: H });
    if (h.outcome !== 'held' || d1.outcome !== 'debited') throw new Error('setup');
    t.clock.advance(30 * 60_000);
    const c = await l().capture({ holdId: h.hold.id, amount: 60, actor: 'bob' });
    if (c.outcome !== 'captured') throw new Error('setup');
    t.clock.set(start + D + H + 15 * 60_000);
    await l().debitIfCovers({ account: b, amount: 30, model: 'm1', keyId: 'k2' });
    await l().refund({ entryId: d1.entry.id, amount: 40, actor: 'support' });
    await l().refund({ entryId: c.entry.id, amount: 10 });
    return { a, b, range: { from: start, to: start + 2 * D } };
  }

  it('spend: every grouping, filter, order, limit and the hour widening of the range', async () => {
    const start = epoch(1);
    const { a, b, range } = await scenario(start);
    const spend = (o: object) => l().analytics.spend({ ...range, ...o });
    expect(await spend({})).toEqual([{ debited: 240, refunded: 50, net: 190, count: 4 }]);
    expect(await spend({ groupBy: ['model'] })).toEqual([
      { model: 'm1', debited: 190, refunded: 50, net: 140, count: 3 },
      { model: 'm2', debited: 50, refunded: 0, net: 50, count: 1 },
    ]);
    // The refunds written on the 2nd count on the 1st, where the entries they refund count.
    expect(await spend({ groupBy: ['day'] })).toEqual([
      { day: day(start), debited: 210, refunded: 50, net: 160, count: 3 },
      { day: day(start + D), debited: 30, refunded: 0, net: 30, count: 1 },
    ]);
    expect(await spend({ groupBy: ['hour'] })).toEqual([
      { hour: new Date(start + 22 * H).toISOString(), debited: 150, refunded: 40, net: 110, count: 2 },
      { hour: new Date(start + 23 * H).toISOString(), debited: 60, refunded: 10, net: 50, count: 1 },
      { hour: new Date(start + D + H).toISOString(), debited: 30, refunded: 0, net: 30, count: 1 },
    ]);
    // Absent labels are null; the capture keeps the hold's model and key, its own actor.
    expect(await spend({ groupBy: ['keyId'] })).toEqual([
      { keyId: 'k2', debited: 90, refunded: 10, net: 80, count: 2 },
      { keyId: 'k1', debited: 100, refunded: 40, net: 60, count: 1 },
      { keyId: null, debited: 50, refunded: 0, net: 50, count: 1 },
    ]);
    expect(await spend({ groupBy: ['actor'] })).toEqual([
      { actor: null, debited: 80, refunded: 0, net: 80, count: 2 },
      { actor: 'alice', debited: 100, refunded: 40, net: 60, count: 1 },
      { actor: 'bob', debited: 60, refunded: 10, net: 50, count: 1 },
    ]);
    // Keys come out in one order whatever the order asked; time first, then net desc.
    expect(await spend({ groupBy: ['model', 'account', 'day'] })).toEqual(
      [
        { account: b, model: 'm1', day: day(start), debited: 60, refunded: 10, net: 50, count: 1 },
        { account: a, model: 'm1', day: day(start), debited: 100, refunded: 40, net: 60, count: 1 },
        { account: a, model: 'm2', day: day(start), debited: 50, refunded: 0, net: 50, count: 1 },
        { account: b, model: 'm1', day: day(start + D), debited: 30, refunded: 0, net: 30, count: 1 },
      ].sort((x, y) => x.day.localeCompare(y.day) || y.net - x.net || x.account.localeCompare(y.account)),
    );
    // Filters: all must match; null matches spend recorded without the label.
    expect(await spend({ keyId: null })).toEqual([{ debited: 50, refunded: 0, net: 50, count: 1 }]);
    expect(await spend({ model: null })).toEqual([{ debited: 0, refunded: 0, net: 0, count: 0 }]);
    expect(await spend({ account: b, groupBy: ['model'] })).toEqual([{ model: 'm1', debited: 90, refunded: 10, net: 80, count: 2 }]);
    expect(await spend({ keyId: 'k2', actor: null, groupBy: ['account', 'day'] })).toEqual([
      { account: b, day: day(start + D), debited: 30, refunded: 0, net: 30, count: 1 },
    ]);
    expect(await spend({ account: uniq('nobody'), groupBy: ['model'] })).toEqual([]);
    expect(await spend({ account: uniq('nobody') })).toEqual([{ debited: 0, refunded: 0, net: 0, count: 0 }]);
    expect(await spend({ groupBy: ['model'], limit: 1 })).toEqual([{ model: 'm1', debited: 190, refunded: 50, net: 140, count: 3 }]);
    // A range counts every hour it overlaps, in full; an empty range counts nothing.
    expect(await l().analytics.spend({ from: start + 22 * H + 45 * 60_000, to: start + 22 * H + 50 * 60_000 })).toEqual([
      { debited: 150, refunded: 40, net: 110, count: 2 },
    ]);
    expect(await l().analytics.spend({ from: start + D, to: start + 2 * D, groupBy: ['day'] })).toEqual([
      { day: day(start + D), debited: 30, refunded: 0, net: 30, count: 1 },
    ]);
    expect(await l().analytics.spend({ from: start + 23 * H, to: start + 23 * H, groupBy: ['model'] })).toEqual([]);
  });

  it('spend: tzOffsetMinutes moves the day boundaries (an hour bucket belongs to the day its start is in)', async () => {
    const start = epoch(2);
    const { range } = await scenario(start);
    const days = (tz: number) => l().analytics.spend({ ...range, groupBy: ['day'], tzOffsetMinutes: tz });
    // UTC+3: 22:30Z and 01:15Z are both the 2nd.
    expect(await days(180)).toEqual([{ day: day(start + D), debited: 240, refunded: 50, net: 190, count: 4 }]);
    // UTC−5: both the 1st.
    expect(await days(-300)).toEqual([{ day: day(start), debited: 240, refunded: 50, net: 190, count: 4 }]);
    // UTC+1:30: the 22:00Z hour starts 23:30 local (the 1st), the 23:00Z hour 00:30 (the 2nd).
    expect(await days(90)).toEqual([
      { day: day(start), debited: 150, refunded: 40, net: 110, count: 2 },
      { day: day(start + D), debited: 90, refunded: 10, net: 80, count: 2 },
    ]);
    expect(await days(-840)).toEqual([{ day: day(start), debited: 240, refunded: 50, net: 190, count: 4 }]);
    expect(await days(840)).toEqual([{ day: day(start + D), debited: 240, refunded: 50, net: 190, count: 4 }]);
  });

  it('top and summary', async () => {
    const start = epoch(3);
    const { a, b, range } = await scenario(start);
    expect(await l().analytics.top({ by: 'account', ...range })).toEqual([
      { account: a, debited: 150, refunded: 40, net: 110, count: 2 },
      { account: b, debited: 90, refunded: 10, net: 80, count: 2 },
    ]);
    expect(await l().analytics.top({ by: 'model', ...range, limit: 1 })).toEqual([
      { model: 'm1', debited: 190, refunded: 50, net: 140, count: 3 },
    ]);
    expect(await l().analytics.top({ by: 'keyId', account: a, ...range })).toEqual([
      { keyId: 'k1', debited: 100, refunded: 40, net: 60, count: 1 },
      { keyId: null, debited: 50, refunded: 0, net: 50, count: 1 },
    ]);
    await l().adjust({ account: a, delta: -7, reason: 'fix' });
    await l().adjust({ account: b, delta: 3, reason: 'fix' });
    expect(await l().analytics.summary(range)).toEqual({
      from: range.from,
      to: range.to,
      days: 2,
      debited: 240,
      refunded: 50,
      consumed: 190,
      count: 4,
      granted: 15_000,
      expired: 0,
      adjusted: -4,
      transferred: 0,
      activeAccounts: 2,
      avgDailySpend: 95,
      topModel: { model: 'm1', net: 140 },
      topAccount: { account: a, net: 110 },
    });
    // Four whole hours (22:00 to 02:00) hold all 190: 190 ÷ (4/24) = 1140 a day.
    const s3 = await l().analytics.summary({ from: start + 22 * H, to: start + D + 2 * H });
    expect(s3).toMatchObject({ days: 4 / 24, consumed: 190, avgDailySpend: 1140 });
    const empty = await l().analytics.summary({ from: start + 50 * D, to: start + 51 * D });
    expect(empty).toMatchObject({ consumed: 0, activeAccounts: 0, avgDailySpend: 0, topModel: null, topAccount: null });
    expect(await l().analytics.summary({ from: start, to: start })).toMatchObject({ days: 0, avgDailySpend: 0 });
  });

  it('grants, expiries and adjustments land in summary; spend without a model tops as null', async () => {
    const start = epoch(4);
    const a = uniq('a');
    t.clock.set(start + H);
    await l().grant({ account: a, amount: 500, expiresAt: start + 2 * H });
    await l().debitIfCovers({ account: a, amount: 120 });
    t.clock.set(start + 3 * H);
    const swept = await l().sweep();
    expect(swept).toMatchObject({ lotsExpired: 1, creditsExpired: 380 });
    expect(swept.usageFolded).toBeGreaterThan(0);
    expect(await l().analytics.summary({ from: start, to: start + D })).toMatchObject({
      granted: 500,
      expired: 380,
      consumed: 120,
      avgDailySpend: 120,
      topModel: { model: null, net: 120 },
      topAccount: { account: a, net: 120 },
    });
  });

  it('answers are exact whether the rollup holds the rows or the unfolded tail does', async () => {
    const start = epoch(5);
    const { a, range } = await scenario(start);
    const asked = [{}, { groupBy: ['model', 'day'] }, { groupBy: ['account', 'hour'], tzOffsetMinutes: 330 }, { account: a }] as const;
    const answers = async () => Promise.all(asked.map((o) => l().analytics.spend({ ...range, ...o } as never)));
    const before = await answers();
    const sumBefore = await l().analytics.summary(range);
    // Everything so far in the unfolded tail (fewer than USAGE_FOLD_LAG rows were written).
    const cursor = async () => Number((await t.db.all('SELECT through FROM credit_usage_cursor'))[0]?.through);
    const top = async () => Number((await t.db.all('SELECT MAX(pos) AS p FROM credit_entry'))[0]?.p);
    expect(await cursor()).toBeLessThan(await top());
    // sweep() folds everything: the same answers from the rollup alone.
    expect((await l().sweep()).usageFolded).toBeGreaterThan(0);
    expect(await cursor()).toBe(await top());
    expect(await answers()).toEqual(before);
    expect(await l().analytics.summary(range)).toEqual(sumBefore);
    // A refund now (in the tail) of a debit folded earlier: rollup + tail in one answer.
    const d = (await l().history(a, { kinds: ['debit'] })).entries.find((e) => e.model === 'm2');
    t.clock.advance(3 * D);
    await l().refund({ entryId: d!.id, amount: 5 });
    expect(await l().analytics.spend({ ...range, groupBy: ['model'] })).toEqual([
      { model: 'm1', debited: 190, refunded: 50, net: 140, count: 3 },
      { model: 'm2', debited: 50, refunded: 5, net: 45, count: 1 },
    ]);
    expect(await cursor()).toBeLessThan(await top());
    expect((await l().verify()).problems).toEqual([]);
  });

  it.skipIf(driver.slow)(`a read with more than USAGE_FOLD_LAG (${USAGE_FOLD_LAG}) rows unfolded folds first, and is exact`, async () => {
    const start = epoch(6);
    const a = uniq('a');
    t.clock.set(start + H);
    await l().grant({ account: a, amount: 1_000_000 });
    const n = USAGE_FOLD_LAG + 150;
    const ops = Array.from({ length: n }, (_, i) => ({ op: 'debit' as const, account: a, amount: 1 + (i % 3), model: `m${i % 4}` }));
    await l().batch(ops);
    const cursor = async () => Number((await t.db.all('SELECT through FROM credit_usage_cursor'))[0]?.through);
    const top = async () => Number((await t.db.all('SELECT MAX(pos) AS p FROM credit_entry'))[0]?.p);
    expect((await top()) - (await cursor())).toBeGreaterThan(USAGE_FOLD_LAG);
    const rows = await l().analytics.spend({ from: start, to: start + D, groupBy: ['model'] });
    expect(await cursor()).toBe(await top());
    const want = new Map<string, { debited: number; count: number }>();
    for (const o of ops) {
      const w = want.get(o.model) ?? { debited: 0, count: 0 };
      w.debited += o.amount;
      w.count++;
      want.set(o.model, w);
    }
    expect(rows).toEqual(
      [...want]
        .map(([model, w]) => ({ model, debited: w.debited, refunded: 0, net: w.debited, count: w.count }))
        .sort((x, y) => y.net - x.net || x.model.localeCompare(y.model)),
    );
    expect((await l().verify()).problems).toEqual([]);
  });

  it('entries(): the whole log in commit order, page by page; entry(id)', async () => {
    const a = uniq('a');
    t.clock.set(epoch(7));
    const first = await l().entries({ after: '0', limit: 1 });
    expect(first.entries[0]?.id).toBe('ce_1');
    const [top] = await t.db.all('SELECT MAX(pos) AS p FROM credit_entry');
    const startAt = String(top?.p);
    const g = await l().grant({ account: a, amount: 10 });
    const d = await l().debitIfCovers({ account: a, amount: 3, model: 'm' });
    await l().grant({ account: uniq('b'), amount: 1 });
    const seen: string[] = [];
    let cursor = startAt;
    for (;;) {
      const page = await l().entries({ after: cursor, limit: 2 });
      expect(page.entries.length).toBeLessThanOrEqual(2);
      seen.push(...page.entries.map((e) => e.id));
      expect(page.cursor).toBe(page.entries.length === 0 ? cursor : String(posOf(page.entries[page.entries.length - 1]!.id)));
      cursor = page.cursor;
      if (!page.hasMore) break;
    }
    expect(seen).toEqual([g.entry.id, d.entry!.id, `ce_${posOf(d.entry!.id) + 1}`]);
    // Past the end: an empty page, the same cursor, nothing more.
    expect(await l().entries({ after: cursor })).toEqual({ entries: [], cursor, hasMore: false });
    expect(await l().entry(d.entry!.id)).toEqual(d.entry);
    expect(await l().entry('ce_999999999')).toBeNull();
    expect(await l().entry('no-such-legacy-id')).toBeNull();
  });

  it('bad input: every new method refuses it with a LedgerError and reads or writes nothing', async () => {
    const cases: [string, () => Promise<unknown>][] = [
      ['invalid_argument', () => l().analytics.spend({ from: 2, to: 1 })],
      ['invalid_argument', () => l().analytics.spend({ from: 0, to: 1, groupBy: ['week' as never] })],
      ['invalid_argument', () => l().analytics.spend({ from: 0, to: 1, groupBy: ['model', 'model'] })],
      ['invalid_argument', () => l().analytics.spend({ from: 0, to: 1, limit: 0 })],
      ['invalid_argument', () => l().analytics.spend({ from: 0, to: 1, limit: 10_001 })],
      ['invalid_argument', () => l().analytics.spend({ from: 0, to: 1, tzOffsetMinutes: 7 })],
      ['invalid_argument', () => l().analytics.spend({ from: 0, to: 1, tzOffsetMinutes: 855 })],
      ['invalid_argument', () => l().analytics.spend({ from: -1, to: 1 })],
      ['invalid_argument', () => l().analytics.spend({ from: 0.5, to: 1 })],
      ['invalid_argument', () => l().analytics.spend({ from: 0, to: 1, model: '' })],
      ['invalid_argument', () => l().analytics.spend({ from: 0, to: 1, nope: 1 } as never)],
      ['invalid_account', () => l().analytics.spend({ from: 0, to: 1, account: '' })],
      ['invalid_argument', () => l().analytics.spend(undefined as never)],
      ['invalid_argument', () => l().analytics.top({ by: 'day' as never, from: 0, to: 1 })],
      ['invalid_argument', () => l().analytics.top({ by: 'model', from: 0, to: 1, limit: 1.5 })],
      ['invalid_argument', () => l().analytics.summary({ from: 5, to: 4 })],
      ['invalid_argument', () => l().analytics.summary({ from: 0 } as never)],
      ['invalid_argument', () => l().entries({ after: 'abc' })],
      ['invalid_argument', () => l().entries({ after: '-1' })],
      ['invalid_argument', () => l().entries({ limit: 1_001 })],
      ['invalid_argument', () => l().entry('')],
      ['invalid_argument', () => l().entry(5 as never)],
    ];
    const before = await t.db.all('SELECT COUNT(*) AS n, (SELECT through FROM credit_usage_cursor) AS c FROM credit_entry');
    for (const [code, call] of cases) {
      const e = await call().then(
        (v) => ({ returned: v }),
        (err) => err,
      );
      expect(e, String(call)).toBeInstanceOf(LedgerError);
      expect((e as LedgerError).code, String(call)).toBe(code);
    }
    expect(await t.db.all('SELECT COUNT(*) AS n, (SELECT through FROM credit_usage_cursor) AS c FROM credit_entry')).toEqual(before);
  });

  it('verify finds a tampered rollup (edited, deleted, invented buckets, a lost cursor); rebuild re-derives it', async () => {
    const start = epoch(8);
    const { range } = await scenario(start);
    await l().sweep(); // fold, so the buckets exist
    const good = await l().analytics.spend({ ...range, groupBy: ['model', 'hour'] });
    const buckets = await t.db.all('SELECT * FROM credit_usage ORDER BY hour, account, model, key_id, actor');
    expect((await l().verify()).ok).toBe(true);
    const edited = buckets.find((r) => r.model === 'm2');
    await t.db.all('UPDATE credit_usage SET debited = debited + 1, refunds = 9 WHERE hour = ? AND account = ? AND model = ?', [
      edited?.hour,
      edited?.account,
      'm2',
    ]);
    const deleted = buckets.find((r) => r.key_id === 'k2');
    await t.db.all('DELETE FROM credit_usage WHERE hour = ? AND account = ? AND key_id = ?', [deleted?.hour, deleted?.account, 'k2']);
    await t.db.all(
      "INSERT INTO credit_usage (hour, account, model, key_id, actor, debited, debits) VALUES (?, 'ghost', 'm9', '', '', 77, 1)",
      [start],
    );
    const v = await l().verify();
    expect(v.ok).toBe(false);
    const usage = v.problems.filter((p) => p.code === 'usage_mismatch');
    expect(usage).toHaveLength(3);
    expect(usage.map((p) => p.message).join('\n')).toMatch(/model=m2 .*stored debited 51, refunds 9; the log says debited 50, refunds 0/);
    expect(usage.map((p) => p.message).join('\n')).toMatch(/keyId=k2 .* is missing/);
    expect(usage).toContainEqual(expect.objectContaining({ account: 'ghost', message: expect.stringMatching(/no log row/) }));
    expect(await l().analytics.spend({ ...range, groupBy: ['model', 'hour'] })).not.toEqual(good);

    const rebuilt = await l().rebuild();
    expect(rebuilt.problems).toEqual([]);
    expect((await l().verify()).problems).toEqual([]);
    expect(await l().analytics.spend({ ...range, groupBy: ['model', 'hour'] })).toEqual(good);

    // Without its cursor row the rollup cannot be read: a clear error, found by verify, mended by rebuild.
    await t.db.all('DELETE FROM credit_usage_cursor');
    await expect(l().analytics.summary(range)).rejects.toMatchObject({ code: 'internal', message: expect.stringMatching(/rebuild/) });
    expect((await l().verify()).problems).toContainEqual(expect.objectContaining({ code: 'usage_mismatch' }));
    await l().rebuild();
    expect((await l().verify()).ok).toBe(true);
    expect(await l().analytics.spend({ ...range, groupBy: ['model', 'hour'] })).toEqual(good);
  });
});
