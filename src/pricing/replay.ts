/**
 * The pricing projection replayed from the `$pricing` log in JavaScript: the twin of
 * migration 0012's triggers (credit_entry_publishes_price, credit_entry_activates_price).
 * src/verify.ts feeds it the pricing rows as it replays the log; the auditor compares what it
 * derives with `credit_price_version` and `credit_price_active` (src/pricing/audit.ts), and
 * rebuild() writes it (src/pricing/rebuild.ts).
 */
import { PRICING_ACCOUNT } from '../limits.js';
import type { LogRow } from '../replay.js';
import { PRICE_ROUNDINGS, type PriceRounding } from '../schema.js';
import type { VerifyProblem } from '../types.js';
import { canonicalJson } from '../validate.js';
import { rateCard } from './validate.js';

export const PRICING_KINDS: ReadonlySet<string> = new Set(['pricing_publish', 'pricing_activate']);

export interface DerivedPriceVersion {
  version: number;
  /** The pos of the publishing row. */
  entry: string;
  label: string | null;
  rounding: PriceRounding;
  /** The card as canonical JSON. */
  rates: string;
  createdAt: number;
}

export interface DerivedPricing {
  versions: Map<number, DerivedPriceVersion>;
  active: { version: number; setBy: string } | null;
}

/** A pricing row's setting, or why it is not one. */
function setting(r: LogRow): Record<string, unknown> | string {
  let m: unknown;
  try {
    m = JSON.parse(r.metadata ?? 'null');
  } catch {
    return 'metadata is not JSON';
  }
  if (m === null || typeof m !== 'object' || Array.isArray(m)) return 'no setting in metadata';
  const s = m as Record<string, unknown>;
  if (!Number.isSafeInteger(s.version) || (s.version as number) < 1) return 'version is not a whole number ≥ 1';
  if (r.kind === 'pricing_activate') return s;
  if (!(PRICE_ROUNDINGS as readonly string[]).includes(String(s.rounding))) return `unknown rounding ${JSON.stringify(s.rounding)}`;
  if (typeof s.activate !== 'boolean') return 'activate is not a boolean';
  if (s.label !== null && typeof s.label !== 'string') return 'label is not a string or null';
  if (!rateCard.safeParse(s.rates).success) return 'rates is not a valid rate card';
  return s;
}

export class PricingReplay implements DerivedPricing {
  readonly versions = new Map<number, DerivedPriceVersion>();
  active: { version: number; setBy: string } | null = null;

  constructor(private readonly report: (p: VerifyProblem) => void) {}

  apply(r: LogRow): void {
    const problem = (message: string) =>
      this.report({ code: 'bad_config', account: r.account, entryId: r.id, seq: r.seq, message: `${r.kind}: ${message}` });
    if (r.account !== PRICING_ACCOUNT) {
      problem(`on ${r.account}, not on ${PRICING_ACCOUNT} (no trigger projects it)`);
      return;
    }
    const s = setting(r);
    if (typeof s === 'string') {
      problem(s);
      return;
    }
    const version = s.version as number;
    if (r.kind === 'pricing_activate') {
      if (!this.versions.has(version)) problem(`activates version ${version}, which was not published`);
      else this.active = { version, setBy: r.id };
      return;
    }
    if (version !== this.versions.size + 1) problem(`publishes version ${version}, expected ${this.versions.size + 1}`);
    if (this.versions.has(version)) return;
    this.versions.set(version, {
      version,
      entry: r.id,
      label: (s.label as string | null) ?? null,
      rounding: s.rounding as PriceRounding,
      rates: canonicalJson(s.rates),
      createdAt: r.createdAt,
    });
    if (s.activate === true) this.active = { version, setBy: r.id };
  }
}
