/**
 * Pricing arithmetic: exact decimals, one rounding per charge. The fuzz compares quotes of
 * random rate cards and usages with the tests' own BigInt rational arithmetic
 * (test/support/rational.ts); it runs on the pure quote function (no database), and a
 * sample of cards goes through `pricing.quote` on better-sqlite3.
 */
import Database from 'better-sqlite3';
import { drizzle } from 'drizzle-orm/better-sqlite3';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createLedger, LedgerError, MAX_AMOUNT, type PriceRounding } from '../../src/index.js';
import { priceUsage } from '../../src/pricing/decimal.js';
import { decimalText, exactCost, rounded } from '../support/rational.js';

const quote = (rates: Record<string, string>, usage: Record<string, number>, rounding: PriceRounding = 'up') =>
  priceUsage({ version: 1, rounding, rates: { m: rates } }, 'm', usage);

describe('exact pricing arithmetic', () => {
  it('0.1 × 30 = 3 and 0.7 × 10 = 7, never 4 or 8', () => {
    expect(quote({ a: '0.1' }, { a: 30 })).toMatchObject({ credits: 3, exact: '3' });
    expect(quote({ a: '0.7' }, { a: 10 })).toMatchObject({ credits: 7, exact: '7' });
    expect(quote({ a: '0.1', b: '0.2' }, { a: 1, b: 1 }, 'down')).toMatchObject({ credits: 0, exact: '0.3' });
    expect(quote({ a: '0.1', b: '0.2' }, { a: 10, b: 10 })).toMatchObject({ credits: 3, exact: '3' });
  });

  it('rounds once per charge: up (0.4 → 1, never 0), down, half_even', () => {
    expect(quote({ a: '0.4' }, { a: 1 }).credits).toBe(1);
    expect(quote({ a: '0.4' }, { a: 1 }, 'down').credits).toBe(0);
    expect(quote({ a: '0.000000000001' }, { a: 1 }).credits).toBe(1);
    expect(quote({ a: '0.5' }, { a: 1 }, 'half_even').credits).toBe(0);
    expect(quote({ a: '0.5' }, { a: 3 }, 'half_even').credits).toBe(2); // 1.5 → 2
    expect(quote({ a: '0.5' }, { a: 5 }, 'half_even').credits).toBe(2); // 2.5 → 2
    expect(quote({ a: '0.500000000001' }, { a: 1 }, 'half_even').credits).toBe(1);
    expect(quote({ a: '1.499999999999' }, { a: 1 }, 'half_even').credits).toBe(1);
    // Once per charge, not per line: 0.4 + 0.4 = 0.8 → 1 (rounding each line up would give 2).
    expect(quote({ a: '0.4', b: '0.4' }, { a: 1, b: 1 })).toMatchObject({ credits: 1, exact: '0.8' });
  });

  it('12 decimals, huge quantities, the 2^53 − 1 bound', () => {
    expect(quote({ a: '0.123456789012' }, { a: 1_000_000_000_000 })).toMatchObject({ exact: '123456789012', credits: 123456789012 });
    expect(quote({ a: '1' }, { a: MAX_AMOUNT })).toMatchObject({ credits: MAX_AMOUNT, exact: String(MAX_AMOUNT) });
    // (2^53 − 1) × 0.999999999999 = 9007199254740991 − 9007.199254740991
    expect(quote({ a: '0.999999999999' }, { a: MAX_AMOUNT })).toMatchObject({
      exact: '9007199254731983.800745259009',
      credits: 9007199254731984,
    });
    expect(() => quote({ a: '1.000000000001' }, { a: MAX_AMOUNT })).toThrow(LedgerError);
    expect(() => quote({ a: '2' }, { a: MAX_AMOUNT })).toThrow(/2\^53/);
    expect(quote({ a: '0' }, { a: MAX_AMOUNT })).toMatchObject({ credits: 0, exact: '0' });
  });

  it('unknown model or meter is invalid_argument', () => {
    expect(() => quote({ a: '1' }, { b: 1 })).toThrow(expect.objectContaining({ code: 'invalid_argument' }));
    expect(() => priceUsage({ version: 1, rounding: 'up', rates: { m: { a: '1' } } }, 'n', { a: 1 })).toThrow(
      expect.objectContaining({ code: 'invalid_argument' }),
    );
    // A model named like an Object.prototype member is just unknown.
    expect(() => priceUsage({ version: 1, rounding: 'up', rates: { m: { a: '1' } } }, 'toString', { a: 1 })).toThrow(
      expect.objectContaining({ code: 'invalid_argument' }),
    );
  });

  const price = fc
    .tuple(fc.bigInt({ min: 0n, max: 10n ** 6n }), fc.integer({ min: 0, max: 12 }), fc.bigInt({ min: 0n, max: 10n ** 12n - 1n }))
    .map(([whole, decimals, frac]) =>
      decimals === 0 ? whole.toString() : `${whole}.${(frac % 10n ** BigInt(decimals)).toString().padStart(decimals, '0')}`,
    );
  const meters = fc.uniqueArray(fc.constantFrom('in', 'out', 'cached', 'req', 'sec', 'img', 'audio'), { minLength: 1, maxLength: 7 });
  const quantity = fc.oneof(fc.integer({ min: 0, max: 1_000 }), fc.integer({ min: 0, max: 2 ** 31 }), fc.constant(0));
  const rounding = fc.constantFrom<PriceRounding>('up', 'half_even', 'down');
  const cardAndUsage = meters.chain((ms) =>
    fc.record({
      rates: fc.tuple(...ms.map((m) => price.map((p) => [m, p] as const))).map((e) => Object.fromEntries(e)),
      usage: fc
        .subarray(ms, { minLength: 1 })
        .chain((used) => fc.tuple(...used.map((m) => quantity.map((q) => [m, q] as const))).map((e) => Object.fromEntries(e))),
      rounding,
    }),
  );

  it('fuzz: quotes agree with BigInt rational arithmetic', () => {
    fc.assert(
      fc.property(cardAndUsage, ({ rates, usage, rounding: rule }) => {
        const num = exactCost(rates, usage);
        const credits = rounded(num, rule);
        if (credits > BigInt(MAX_AMOUNT)) {
          expect(() => quote(rates, usage, rule)).toThrow(expect.objectContaining({ code: 'overflow' }));
          return;
        }
        const q = quote(rates, usage, rule);
        expect(q.exact).toBe(decimalText(num));
        expect(BigInt(q.credits)).toBe(credits);
        expect(q.lines.map((l) => l.meter)).toEqual(Object.keys(usage).sort());
      }),
      { numRuns: 2_000 },
    );
  });

  it('fuzz: pricing.quote through a database agrees too', async () => {
    const l = createLedger(drizzle(new Database(':memory:')));
    await l.migrate();
    await fc.assert(
      fc.asyncProperty(cardAndUsage, async ({ rates, usage, rounding: rule }) => {
        const { version } = await l.pricing.publish({ rates: { m: rates }, rounding: rule, activate: false });
        const num = exactCost(rates, usage);
        if (rounded(num, rule) > BigInt(MAX_AMOUNT)) return;
        const q = await l.pricing.quote({ model: 'm', usage, version });
        expect([q.exact, BigInt(q.credits), q.version]).toEqual([decimalText(num), rounded(num, rule), version]);
      }),
      { numRuns: 100 },
    );
  });
});
