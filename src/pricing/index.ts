/**
 * `ledger.pricing`: versioned, immutable rate cards (model → meter → decimal price) and which
 * one is active, written as rows on the reserved account `$pricing` (`pricing_publish`,
 * `pricing_activate`) and projected by triggers into `credit_price_version` and
 * `credit_price_active`. `quote` prices usage exactly (src/pricing/decimal.ts);
 * `ledger.charge` (src/pricing/charge.ts) prices and spends in one atomic unit. Every method
 * validates first and throws a LedgerError before anything is written.
 */
import { guard } from '../guard.js';
import type { Context } from '../ops/context.js';
import { parse } from '../validate.js';
import { priceUsage } from './decimal.js';
import { activate, activeCard, activeVersion, cardOf, getVersion, history, publish } from './ops.js';
import type { ActivateInput, ActivateResult, PricingVersion, PublishInput, PublishResult, Quote, QuoteInput } from './types.js';
import { activateInput, getInput, publishInput, quoteInput } from './validate.js';

export interface Pricing {
  /**
   * Publishes the next version (1, 2, 3 …) of the rate card: immutable, and the active one at
   * once unless `activate: false`. With an idempotency key a retry replays (same setting) or is
   * `idempotency_conflict`; without one every call publishes a new version.
   */
  publish(input: PublishInput): Promise<PublishResult>;
  /** Makes a published version the active one (`not_found` for a version never published). */
  activate(input: number | ActivateInput): Promise<ActivateResult>;
  /** The active version, or null when none was activated. */
  active(): Promise<PricingVersion | null>;
  /** One version, or null. */
  get(version: number): Promise<PricingVersion | null>;
  /** Every version, oldest first. */
  history(): Promise<PricingVersion[]>;
  /** Prices usage of a model with the active version (or `version`); writes nothing. */
  quote(input: QuoteInput): Promise<Quote>;
}

export function createPricing(ctx: Context): Pricing {
  return {
    publish: (input) => guard(() => publish(ctx, parse(publishInput, input, 'pricing.publish'))),
    activate: (input) => guard(() => activate(ctx, parse(activateInput, input, 'pricing.activate'))),
    active: () => guard(() => activeVersion(ctx)),
    get: (version) => guard(() => getVersion(ctx, parse(getInput, version, 'pricing.get'))),
    history: () => guard(() => history(ctx)),
    quote: (input) =>
      guard(async () => {
        const req = parse(quoteInput, input, 'pricing.quote');
        const card =
          req.version === undefined ? await activeCard(ctx, 'pricing.quote', true) : await cardOf(ctx, req.version, 'pricing.quote');
        return priceUsage(card, req.model, req.usage);
      }),
  };
}
