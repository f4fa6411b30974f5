/**
 * rebuild()'s share for pricing: replace `credit_price_version` and `credit_price_active` with
 * what the replay derived from the `$pricing` log (src/pricing/replay.ts), in rebuild's one unit.
 */
import { inserts } from '../rebuild.js';
import type { Statement } from '../runner/index.js';
import type { DerivedPricing } from './replay.js';

export function pricingRebuild(d: DerivedPricing): Statement[] {
  return [
    { sql: 'DELETE FROM credit_price_version', args: [] },
    { sql: 'DELETE FROM credit_price_active', args: [] },
    ...inserts(
      'credit_price_version',
      ['version', 'entry', 'label', 'rounding', 'rates', 'created_at'],
      [...d.versions.values()].map((v) => [v.version, Number(v.entry), v.label, v.rounding, v.rates, v.createdAt]),
    ),
    ...(d.active === null
      ? []
      : inserts('credit_price_active', ['id', 'version', 'set_by'], [[1, d.active.version, Number(d.active.setBy)]])),
  ];
}
