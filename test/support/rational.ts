/**
 * The tests' own exact pricing arithmetic, independent of the library's decimal code: every
 * price is a rational number numerator / 10^12 held in a BigInt (prices have at most 12
 * decimals), costs are sums of BigInt products, and rounding is integer division.
 */
import type { PriceRounding } from '../../src/index.js';

const SCALE = 12;
const DEN = 10n ** BigInt(SCALE);

/** "12.0025" → 12002500000000n (the price × 10^12). */
export function scaled(price: string): bigint {
  const [whole = '0', frac = ''] = price.split('.');
  return BigInt(whole) * DEN + BigInt(frac.padEnd(SCALE, '0') || '0');
}

/** Σ quantity × price, as a numerator over 10^12. */
export const exactCost = (rates: Record<string, string>, usage: Record<string, number>): bigint =>
  Object.entries(usage).reduce((n, [meter, q]) => n + BigInt(q) * scaled(rates[meter] as string), 0n);

/** numerator / 10^12 as the shortest decimal string ("3", "0.4", "12.000000000001"). */
export function decimalText(num: bigint): string {
  const whole = num / DEN;
  const frac = (num % DEN).toString().padStart(SCALE, '0').replace(/0+$/, '');
  return frac === '' ? whole.toString() : `${whole}.${frac}`;
}

/** numerator / 10^12 rounded to a whole number by the rule. */
export function rounded(num: bigint, rule: PriceRounding): bigint {
  const floor = num / DEN;
  const rem = num % DEN;
  if (rule === 'down' || rem === 0n) return floor;
  if (rule === 'up') return floor + 1n;
  if (2n * rem > DEN) return floor + 1n;
  if (2n * rem < DEN) return floor;
  return floor % 2n === 0n ? floor : floor + 1n;
}
