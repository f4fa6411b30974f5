/**
 * Public types of `ledger.pricing` and `ledger.charge`.
 */
import type { PriceRounding } from '../schema.js';
import type { Capped, CapWarning, Entry, Hold, Insufficient } from '../types.js';

export type { PriceRounding } from '../schema.js';

/** A rate card: model → meter → price, a decimal string of credits per unit of the meter. */
export type RateCard = Record<string, Record<string, string>>;

/** Usage of one call: meter → quantity (a non-negative safe integer of the meter's unit). */
export type Usage = Record<string, number>;

export interface PublishInput {
  rates: RateCard;
  label?: string;
  /** How a charge's exact cost becomes whole credits (once per charge). Default `up`. */
  rounding?: PriceRounding;
  /** Default true: the new version is the active one at once. */
  activate?: boolean;
  idempotencyKey?: string;
  reason?: string;
  actor?: string;
}

export interface ActivateInput {
  version: number;
  idempotencyKey?: string;
  reason?: string;
  actor?: string;
}

/** One immutable pricing version. */
export interface PricingVersion {
  version: number;
  label: string | null;
  rounding: PriceRounding;
  rates: RateCard;
  /** Whether it is the active version now. */
  active: boolean;
  /** The pricing_publish entry on the `$pricing` log. */
  entryId: string;
  createdAt: number;
}

export interface PublishResult {
  outcome: 'published' | 'replayed';
  version: number;
  pricing: PricingVersion;
  entry: Entry;
}

export interface ActivateResult {
  /** `unchanged`: it already was the active version and no key was given (nothing written). */
  outcome: 'activated' | 'replayed' | 'unchanged';
  version: number;
  entry?: Entry;
}

export interface QuoteInput {
  model: string;
  usage: Usage;
  /** Price with this version instead of the active one. */
  version?: number;
}

export interface QuoteLine {
  meter: string;
  quantity: number;
  /** The price per unit, as published. */
  price: string;
  /** quantity × price, exact. */
  cost: string;
}

export interface Quote {
  /** Whole credits: the exact cost rounded once by the version's rule. */
  credits: number;
  /** The exact, unrounded cost as a decimal string. */
  exact: string;
  version: number;
  rounding: PriceRounding;
  model: string;
  /** One line per meter of the usage, in meter name order. */
  lines: QuoteLine[];
}

export interface ChargeInput {
  account: string;
  model: string;
  usage: Usage;
  idempotencyKey: string;
  /** Settle this hold at the priced amount (a capture) instead of debiting. */
  holdId?: string;
  keyId?: string;
  actor?: string;
  reason?: string;
  /** The app's own metadata; the key `charge` is the ledger's. */
  metadata?: Record<string, unknown>;
  /** Price with this version instead of the active one at commit. */
  version?: number;
}

/** What the ledger records under `metadata.charge` of a charge's entry. */
export interface ChargeRecord {
  usage: Usage;
  version: number;
  /** The exact, unrounded cost. */
  exact: string;
  rounding: PriceRounding;
}

/** A charge whose rounded cost is 0 credits: nothing is written (a hold named stays open). */
export interface FreeCharge {
  outcome: 'free';
  quote: Quote;
  entry?: undefined;
}

/** With `holdId`: the hold the charge settled and what of it was released unused. */
interface Settled {
  hold?: Hold;
  released?: number;
}

export interface ChargeApplied extends Settled {
  outcome: 'debited' | 'replayed';
  entry: Entry;
  balance: number;
  available: number;
  warnings?: CapWarning[];
  quote: Quote;
}

export type ChargeResult = ChargeApplied | (Insufficient & Settled & { quote: Quote }) | (Capped & Settled & { quote: Quote }) | FreeCharge;
