/**
 * ledger.pricing on every driver: publish (versions 1, 2, 3 …, immutable, active at once unless
 * `activate: false`), keyed replay and conflict, activate, active, get, history, quote; the
 * `$pricing` log rows in the change feed; rebuild re-derives the projection; verify flags a
 * tampered pricing row or projection. Pricing is global to a database, so each test reads
 * versions relative to what it published.
 */
import { describe, expect, it } from 'vitest';
import { LedgerError, PRICING_ACCOUNT } from '../../src/index.js';
import { DRIVERS, type TestDb } from '../support/drivers.js';
import { uniq, useDb } from '../support/suite.js';

const pricingState = async (db: TestDb) => ({
  log: await db.all('SELECT * FROM credit_entry WHERE account = ? ORDER BY seq', [PRICING_ACCOUNT]),
  versions: await db.all('SELECT * FROM credit_price_version ORDER BY version'),
  active: await db.all('SELECT * FROM credit_price_active'),
});

describe.each(DRIVERS)('pricing on $name', (driver) => {
  const t = useDb(driver);
  const l = () => t.db.ledger;

  it('publishes versions 1, 2, 3 …; active at once unless activate: false; get, history, active', async () => {
    expect(await l().pricing.active()).toBeNull();
    expect(
      await l()
        .pricing.quote({ model: 'm', usage: { a: 1 } })
        .catch((e) => e),
    ).toMatchObject({ code: 'invalid_argument' });
    const one = await l().pricing.publish({ label: 'launch', rates: { gpt: { input: '0.0025', output: '0.01' } } });
    expect(one).toMatchObject({
      outcome: 'published',
      version: 1,
      pricing: { version: 1, label: 'launch', rounding: 'up', active: true, rates: { gpt: { input: '0.0025', output: '0.01' } } },
      entry: { account: PRICING_ACCOUNT, kind: 'pricing_publish', delta: 0, amount: 0, seq: 1 },
    });
    expect(one.entry.metadata).toEqual({
      activate: true,
      label: 'launch',
      rates: { gpt: { input: '0.0025', output: '0.01' } },
      rounding: 'up',
      version: 1,
    });
    const two = await l().pricing.publish({ rates: { gpt: { input: '0.003' } }, rounding: 'half_even', activate: false });
    expect(two).toMatchObject({ version: 2, pricing: { active: false, rounding: 'half_even', label: null } });
    expect(await l().pricing.active()).toMatchObject({ version: 1, active: true, entryId: one.entry.id });
    expect(await l().pricing.get(2)).toMatchObject({ version: 2, active: false, rates: { gpt: { input: '0.003' } } });
    expect(await l().pricing.get(99)).toBeNull();
    const h = await l().pricing.history();
    expect(h.map((v) => [v.version, v.active])).toEqual([
      [1, true],
      [2, false],
    ]);
    // The log rows are in the change feed, on the reserved account.
    const feed = await l().entries({ limit: 1_000 });
    expect(feed.entries.filter((e) => e.account === PRICING_ACCOUNT).map((e) => e.kind)).toEqual(['pricing_publish', 'pricing_publish']);
  });

  it('activate: switches, is unchanged when already active, not_found for an unknown version; keyed replay', async () => {
    const { version: v1 } = await l().pricing.publish({ rates: { act: { a: '1' } } });
    const { version: v2 } = await l().pricing.publish({ rates: { act: { a: '2' } }, activate: false });
    expect((await l().pricing.quote({ model: 'act', usage: { a: 3 } })).credits).toBe(3);
    const a = await l().pricing.activate(v2);
    expect(a).toMatchObject({ outcome: 'activated', version: v2, entry: { kind: 'pricing_activate', metadata: { version: v2 } } });
    expect((await l().pricing.quote({ model: 'act', usage: { a: 3 } })).credits).toBe(6);
    const before = await pricingState(t.db);
    expect(await l().pricing.activate(v2)).toEqual({ outcome: 'unchanged', version: v2 });
    const missing = await l()
      .pricing.activate(v2 + 100)
      .catch((e) => e);
    expect(missing).toBeInstanceOf(LedgerError);
    expect(missing.code).toBe('not_found');
    expect(await pricingState(t.db)).toEqual(before);
    const k = await l().pricing.activate({ version: v1, idempotencyKey: 'act-1' });
    expect(k.outcome).toBe('activated');
    expect(await l().pricing.activate({ version: v1, idempotencyKey: 'act-1' })).toMatchObject({
      outcome: 'replayed',
      entry: { id: k.entry?.id },
    });
    expect(
      await l()
        .pricing.activate({ version: v2, idempotencyKey: 'act-1' })
        .catch((e) => e.code),
    ).toBe('idempotency_conflict');
    expect((await l().pricing.active())?.version).toBe(v1);
  });

  it('keyed publish replays the original version; another setting under the key conflicts and writes nothing', async () => {
    const key = uniq('pub');
    const p = await l().pricing.publish({ rates: { k: { a: '0.5' } }, idempotencyKey: key, label: 'x' });
    const again = await l().pricing.publish({ rates: { k: { a: '0.5' } }, idempotencyKey: key, label: 'x' });
    expect(again).toMatchObject({ outcome: 'replayed', version: p.version, entry: { id: p.entry.id }, pricing: { version: p.version } });
    const before = await pricingState(t.db);
    for (const other of [
      { rates: { k: { a: '0.6' } }, label: 'x' },
      { rates: { k: { a: '0.5' } }, label: 'y' },
      { rates: { k: { a: '0.5' } }, label: 'x', rounding: 'down' as const },
      { rates: { k: { a: '0.5' } }, label: 'x', activate: false },
    ]) {
      expect(
        await l()
          .pricing.publish({ ...other, idempotencyKey: key })
          .catch((e) => e.code),
      ).toBe('idempotency_conflict');
    }
    expect(await pricingState(t.db)).toEqual(before);
  });

  it('versions are immutable: a later publish never changes an earlier one', async () => {
    const p = await l().pricing.publish({ rates: { imm: { a: '1.5' } } });
    const before = await l().pricing.get(p.version);
    await l().pricing.publish({ rates: { imm: { a: '9' } } });
    expect(await l().pricing.get(p.version)).toEqual({ ...before, active: false });
    expect(await l().pricing.quote({ model: 'imm', usage: { a: 2 }, version: p.version })).toMatchObject({
      credits: 3,
      exact: '3',
      version: p.version,
    });
  });

  it('bad input writes nothing', async () => {
    const before = await pricingState(t.db);
    const bad: unknown[] = [
      { rates: {} },
      { rates: { m: {} } },
      { rates: { m: { a: '-1' } } },
      { rates: { m: { a: '1e3' } } },
      { rates: { m: { a: 'NaN' } } },
      { rates: { m: { a: 0.5 } } },
      { rates: { m: { a: '0.1234567890123' } } },
      { rates: { m: { a: '01' } } },
      { rates: { m: { a: '.5' } } },
      { rates: { m: { '': '1' } } },
      { rates: [] },
      { rates: { m: { a: '1' } }, rounding: 'nearest' },
      { rates: { m: { a: '1' } }, idempotencyKey: '$reserved' },
      { rates: { m: { a: '1' } }, extra: 1 },
      { rates: Object.fromEntries(Array.from({ length: 501 }, (_, i) => [`m${i}`, { a: '1' }])) },
    ];
    for (const input of bad) {
      const e = await l()
        .pricing.publish(input as never)
        .catch((x) => x);
      expect(e, JSON.stringify(input).slice(0, 80)).toBeInstanceOf(LedgerError);
      expect(e.code).toBe('invalid_argument');
    }
    for (const v of [0, -1, 1.5, '1', null])
      expect(
        await l()
          .pricing.activate(v as never)
          .catch((e) => e.code),
      ).toBe('invalid_argument');
    for (const q of [
      { model: 'm', usage: {} },
      { model: 'm', usage: { a: -1 } },
      { model: 'm', usage: { a: 0.5 } },
      { model: '', usage: { a: 1 } },
    ]) {
      expect(
        await l()
          .pricing.quote(q as never)
          .catch((e) => e.code),
      ).toBe('invalid_argument');
    }
    expect(await pricingState(t.db)).toEqual(before);
  });

  it('rebuild re-derives the projection; verify is ok, and flags a tampered row or projection', async () => {
    await l().pricing.publish({ rates: { rb: { a: '1' } }, label: 'rb' });
    const before = await pricingState(t.db);
    const report = await l().rebuild();
    expect(report.problems).toEqual([]);
    expect(report.pricingVersions).toBe(before.versions.length);
    const after = await pricingState(t.db);
    expect(after.active).toEqual(before.active);
    expect(after.versions.map((v) => ({ ...v, rates: JSON.parse(String(v.rates)) }))).toEqual(
      before.versions.map((v) => ({ ...v, rates: JSON.parse(String(v.rates)) })),
    );
    expect((await l().verify()).ok).toBe(true);

    // The projection edited behind the ledger's back.
    await t.db.exec(`UPDATE credit_price_version SET rates = '{"rb":{"a":"0.5"}}' WHERE label = 'rb'`);
    let problems = (await l().verify()).problems.filter((p) => p.code === 'pricing_mismatch');
    expect(problems.length).toBe(1);
    await t.db.exec('UPDATE credit_price_active SET version = 1');
    problems = (await l().verify()).problems.filter((p) => p.code === 'pricing_mismatch');
    expect(problems.length).toBe(2);
    expect((await l().rebuild()).problems).toEqual([]);
    expect((await l().verify()).ok).toBe(true);

    // A log row edited: its version number no longer follows.
    await t.db.exec(
      `UPDATE credit_entry SET metadata = replace(metadata, '"version":1}', '"version":7}') WHERE account = '${PRICING_ACCOUNT}' AND seq = 1`,
    );
    const codes = (await l().verify()).problems.map((p) => p.code);
    expect(codes).toContain('bad_config');
    await t.db.exec(
      `UPDATE credit_entry SET metadata = replace(metadata, '"version":7}', '"version":1}') WHERE account = '${PRICING_ACCOUNT}' AND seq = 1`,
    );
    expect((await l().verify()).ok).toBe(true);
  });
});
