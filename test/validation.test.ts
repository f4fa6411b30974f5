import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACCOUNT_MAX_LENGTH, IDEMPOTENCY_KEY_MAX_LENGTH, type Ledger, LedgerError, METADATA_MAX_BYTES } from '../src/index.js';
import { DRIVERS, snapshot, type TestDb } from './support/drivers.js';

/** Amounts every money argument must refuse. */
const BAD_AMOUNTS: unknown[] = [
  0,
  -1,
  -100,
  1.5,
  0.4,
  Number.NaN,
  Number.POSITIVE_INFINITY,
  Number.NEGATIVE_INFINITY,
  2 ** 53,
  2 ** 60,
  '10',
  null,
  true,
  {},
  [],
  10n,
];
const BAD_ACCOUNTS: unknown[] = [
  '',
  '$pricing',
  '$plan:pro',
  'x'.repeat(ACCOUNT_MAX_LENGTH + 1),
  'a\nb',
  'nul\u0000',
  42,
  null,
  undefined,
  {},
  ['a'],
];
const BAD_KEYS: unknown[] = ['', '$allowance:1:0', 'k'.repeat(IDEMPOTENCY_KEY_MAX_LENGTH + 1), 7, null, {}];

describe.each(DRIVERS)('bad input on $name', (driver) => {
  let db: TestDb;
  let ledger: Ledger;
  let debitId: string;
  beforeAll(async () => {
    db = await driver.open();
    ledger = db.ledger;
    await ledger.grant({ account: 'v', amount: 1000 });
    const d = await ledger.debitIfCovers({ account: 'v', amount: 100 });
    debitId = d.entry!.id;
  });
  afterAll(() => db.close());

  /** Every call must throw its LedgerError code and leave every row as it was. */
  async function rejects(code: string, calls: (() => Promise<unknown>)[]) {
    const before = await snapshot(db);
    for (const call of calls) {
      const err = await call().then(
        (v) => v,
        (e) => e,
      );
      expect(err, `expected ${code}`).toBeInstanceOf(LedgerError);
      expect((err as LedgerError).code).toBe(code);
    }
    expect(await snapshot(db)).toEqual(before);
  }

  it('rejects bad amounts with invalid_amount on every money method', async () => {
    const calls = BAD_AMOUNTS.flatMap((amount) => [
      () => ledger.grant({ account: 'v', amount } as never),
      () => ledger.debitIfCovers({ account: 'v', amount } as never),
      () => ledger.debitOnceIfCovers({ account: 'v', amount, idempotencyKey: 'k' } as never),
      () => ledger.adjust({ account: 'v', delta: amount, reason: 'r' } as never),
      ...(amount === null ? [] : [() => ledger.refund({ entryId: debitId, amount } as never)]),
    ]);
    // adjust allows negative deltas; those are not bad amounts for it.
    const filtered = calls.filter((_, i) => {
      const amount = BAD_AMOUNTS[Math.floor(i / 5)];
      return !(i % 5 === 3 && typeof amount === 'number' && Number.isSafeInteger(amount) && amount < 0);
    });
    await rejects('invalid_amount', filtered);
    await rejects('invalid_amount', [
      () => ledger.adjust({ account: 'v', delta: 0, reason: 'r' }),
      () => ledger.adjust({ account: 'v', delta: -(2 ** 53), reason: 'r' }),
      () => ledger.grant({ account: 'v' } as never),
    ]);
  });

  it('rejects bad accounts with invalid_account', async () => {
    await rejects(
      'invalid_account',
      BAD_ACCOUNTS.flatMap((account) => [
        () => ledger.grant({ account, amount: 1 } as never),
        () => ledger.debitIfCovers({ account, amount: 1 } as never),
        () => ledger.debitOnceIfCovers({ account, amount: 1, idempotencyKey: 'k' } as never),
        () => ledger.adjust({ account, delta: 1, reason: 'r' } as never),
        () => ledger.getBalance(account as never),
        () => ledger.history(account as never),
      ]),
    );
  });

  it('rejects bad ids, keys, labels, metadata, options and shapes with invalid_argument', async () => {
    await rejects('invalid_argument', [
      ...BAD_KEYS.flatMap((idempotencyKey) => [
        () => ledger.grant({ account: 'v', amount: 1, idempotencyKey } as never),
        () => ledger.debitOnceIfCovers({ account: 'v', amount: 1, idempotencyKey } as never),
        () => ledger.refund({ entryId: debitId, amount: 1, idempotencyKey } as never),
      ]),
      () => ledger.debitOnceIfCovers({ account: 'v', amount: 1 } as never),
      () => ledger.refund({ entryId: '' }),
      () => ledger.refund({ entryId: 'x'.repeat(65) }),
      () => ledger.refund({ entryId: 5 } as never),
      () => ledger.refund({} as never),
      () => ledger.grant(null as never),
      () => ledger.grant('v' as never),
      () => ledger.debitIfCovers(undefined as never),
      () => ledger.grant({ account: 'v', amount: 1, idempotency_key: 'typo' } as never),
      () => ledger.debitIfCovers({ account: 'v', amount: 1, model: '' }),
      () => ledger.debitIfCovers({ account: 'v', amount: 1, keyId: 'k'.repeat(201) }),
      () => ledger.debitIfCovers({ account: 'v', amount: 1, reason: 'r'.repeat(1001) }),
      () => ledger.debitIfCovers({ account: 'v', amount: 1, metadata: 'x' as never }),
      () => ledger.debitIfCovers({ account: 'v', amount: 1, metadata: { f: () => 1 } as never }),
      () => ledger.debitIfCovers({ account: 'v', amount: 1, metadata: { big: 'x'.repeat(METADATA_MAX_BYTES) } }),
      () => ledger.adjust({ account: 'v', delta: 1, reason: '' }),
      () => ledger.adjust({ account: 'v', delta: 1 } as never),
      () => ledger.history('v', { limit: 0 }),
      () => ledger.history('v', { limit: 1.5 }),
      () => ledger.history('v', { limit: 100_000 }),
      () => ledger.history('v', { cursor: 'abc' }),
      () => ledger.history('v', { cursor: '0' }),
      () => ledger.history('v', { kinds: ['nope'] } as never),
      () => ledger.keySpend(''),
      () => ledger.keySpend('k', { from: -1 }),
      () => ledger.keySpend('k', { to: Number.NaN }),
    ]);
  });

  it('rejects ill-formed Unicode, hostile metadata and malformed batches before writing', async () => {
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = cyclic;
    let deep: unknown = 1;
    for (let i = 0; i < 200; i++) deep = [deep];
    const proto = JSON.parse('{"__proto__": {"x": 1}, "a": 1}');
    await rejects('invalid_account', [() => ledger.grant({ account: 'u\uD800', amount: 1 }), () => ledger.getBalance('\uDC00x')]);
    await rejects('invalid_argument', [
      () => ledger.grant({ account: 'v', amount: 1, reason: 'bonus \uD83D' }),
      () => ledger.grant({ account: 'v', amount: 1, idempotencyKey: 'k\uDBFF' }),
      () => ledger.grant({ account: 'v', amount: 1, metadata: { s: 'x\uD800' } }),
      // Cycles, Dates and "__proto__" keys do not survive the bun host's JSON wire as they
      // are; the other drivers run these in-process.
      ...(driver.name === 'bun:sqlite'
        ? []
        : [
            () => ledger.grant({ account: 'v', amount: 1, metadata: cyclic }),
            () => ledger.grant({ account: 'v', amount: 1, metadata: proto }),
            () => ledger.grant({ account: 'v', amount: 1, metadata: { d: new Date(0) } as never }),
          ]),
      () => ledger.grant({ account: 'v', amount: 1, metadata: { deep } }),
      () => ledger.grant({ account: 'v', amount: 1, metadata: { n: Number.NaN } }),
      // biome-ignore lint/suspicious/noSparseArray: a hole is the input under test.
      () => ledger.batch([{ op: 'grant', account: 'v', amount: 1 }, , { op: 'grant', account: 'v', amount: 1 }] as never),
      () => ledger.batch([{ op: 10n, account: 'v' }] as never),
      () => ledger.batch([{ op: Object.create(null), account: 'v' }] as never),
    ]);
  });

  it('rejects unknown and unrefundable entries with their codes', async () => {
    await rejects('not_found', [() => ledger.refund({ entryId: 'does-not-exist' }), () => ledger.refund({ entryId: 'x', amount: 1 })]);
    const grants = await ledger.history('v', { kinds: ['grant'] });
    await rejects('not_refundable', [() => ledger.refund({ entryId: grants.entries[0]!.id })]);
    await rejects('exceeds_refundable', [() => ledger.refund({ entryId: debitId, amount: 101 })]);
  });

  it('the auditor still agrees', async () => {
    expect(await ledger.verify()).toMatchObject({ ok: true, entries: 2 });
  });
});

describe('amount messages say what is wrong', () => {
  it('an amount past 2^53 − 1 is "at most", not "not a whole number"; a fraction is "whole number"', async () => {
    const { amountSchema, parse } = await import('../src/validate.js');
    const message = (v: unknown) => {
      try {
        parse(amountSchema, v, 'grant', 'invalid_amount');
        return 'accepted';
      } catch (e) {
        expect(e).toBeInstanceOf(LedgerError);
        return (e as LedgerError).message;
      }
    };
    // 9007199254740993 as a caller's JSON.parse makes of it (2^53, not a safe integer).
    expect(message(Number('9007199254740993'))).toContain('amount must be at most 9007199254740991');
    expect(message(2 ** 60)).toContain('amount must be at most 9007199254740991');
    expect(message(0.4)).toContain('whole number');
    expect(message(9007199254740991)).toBe('accepted');
  });
});
