/**
 * Exact decimal arithmetic for pricing (big.js: exact addition and multiplication, no
 * floats anywhere). A cost is Σ quantity × price over the usage's meters, exact, rounded
 * ONCE by the version's rule into whole credits.
 */
import BigImport from 'big.js';
import { LedgerError } from '../errors.js';
import { MAX_AMOUNT } from '../limits.js';
import type { PriceRounding } from '../schema.js';
import type { Quote, QuoteLine, RateCard, Usage } from './types.js';

// An independent constructor: strict (no JS numbers in, no lossy numbers out), and the
// app's own settings of the global Big never change our results.
const Big = BigImport();
Big.strict = true;

const MODES: Record<PriceRounding, 0 | 2 | 3> = { down: Big.roundDown, half_even: Big.roundHalfEven, up: Big.roundUp };

/** The price of a model's meter as published; `invalid_argument` when the card has none. */
function priceOf(rates: RateCard, model: string, meter: string, version: number): string {
  const meters = Object.hasOwn(rates, model) ? rates[model] : undefined;
  if (meters === undefined) {
    throw new LedgerError('invalid_argument', `pricing version ${version} has no model ${JSON.stringify(model)}`, { model, version });
  }
  const price = Object.hasOwn(meters, meter) ? meters[meter] : undefined;
  if (price === undefined) {
    throw new LedgerError(
      'invalid_argument',
      `pricing version ${version} has no meter ${JSON.stringify(meter)} for model ${JSON.stringify(model)}`,
      {
        model,
        meter,
        version,
      },
    );
  }
  return price;
}

/**
 * Prices `usage` of `model` with a version's card. Throws `invalid_argument` for an unknown
 * model or meter, `overflow` when the rounded cost passes 2^53 − 1.
 */
export function priceUsage(card: { version: number; rounding: PriceRounding; rates: RateCard }, model: string, usage: Usage): Quote {
  const lines: QuoteLine[] = [];
  let total = new Big('0');
  for (const meter of Object.keys(usage).sort()) {
    const quantity = usage[meter] as number;
    const price = priceOf(card.rates, model, meter, card.version);
    const cost = new Big(String(quantity)).times(price);
    total = total.plus(cost);
    lines.push({ meter, quantity, price, cost: cost.toFixed() });
  }
  const rounded = total.round(0, MODES[card.rounding]);
  if (rounded.gt(String(MAX_AMOUNT))) {
    throw new LedgerError('overflow', `a charge of ${total.toFixed()} credits is more than ${MAX_AMOUNT} (2^53 − 1)`, {
      exact: total.toFixed(),
    });
  }
  return {
    credits: Number(rounded.toFixed()),
    exact: total.toFixed(),
    version: card.version,
    rounding: card.rounding,
    model,
    lines,
  };
}
