/**
 * The auditor's comparison of `credit_price_version` and `credit_price_active` with what the
 * replay derived from the `$pricing` log (src/pricing/replay.ts). Problem: `pricing_mismatch`.
 */
import { pairByKey } from '../audit-rows.js';
import { num } from '../entry.js';
import { PRICING_ACCOUNT } from '../limits.js';
import type { Row } from '../runner/index.js';
import type { VerifyProblem } from '../types.js';
import { canonicalJson } from '../validate.js';
import type { DerivedPricing } from './replay.js';

const cardText = (v: unknown): string => {
  try {
    return canonicalJson(JSON.parse(String(v)));
  } catch {
    return String(v);
  }
};

export async function comparePricing(
  versionRows: AsyncIterable<Row>,
  activeRows: AsyncIterable<Row>,
  d: DerivedPricing,
  report: (p: VerifyProblem) => void,
): Promise<void> {
  const mismatch = (message: string, entryId?: string) => report({ code: 'pricing_mismatch', account: PRICING_ACCOUNT, entryId, message });
  const missing = await pairByKey(
    versionRows,
    d.versions,
    (r) => num(r.version),
    (r, w) => {
      const version = num(r.version);
      if (w === undefined) {
        mismatch(`stored pricing version ${version} was published by no pricing_publish row`);
        return;
      }
      const same =
        w.entry === String(r.entry) &&
        w.label === (r.label ?? null) &&
        w.rounding === String(r.rounding) &&
        w.rates === cardText(r.rates) &&
        w.createdAt === num(r.created_at);
      if (!same) mismatch(`stored pricing version ${version} differs from the one its pricing_publish row published`, w.entry);
    },
  );
  for (const w of missing) mismatch(`pricing version ${w.version} missing from credit_price_version`, w.entry);

  let stored: Row | undefined;
  for await (const r of activeRows) stored = r;
  const active = stored === undefined ? null : { version: num(stored.version), setBy: String(stored.set_by) };
  if (
    (active === null) !== (d.active === null) ||
    (active !== null && d.active !== null && (active.version !== d.active.version || active.setBy !== d.active.setBy))
  ) {
    mismatch(
      `stored active pricing version ${active === null ? 'none' : `${active.version} (set by ${active.setBy})`}, replayed ${d.active === null ? 'none' : `${d.active.version} (set by ${d.active.setBy})`}`,
      d.active?.setBy,
    );
  }
}
