/**
 * `ledger.pricing.publish / activate` (plans of one conditional INSERT of a config row on the
 * `$pricing` log each) and the reads of the projection, with the ledger instance's cache of
 * parsed versions (immutable: cached for good) and of which one is active (a hint: a charge
 * checks it at commit, see charge.ts).
 */
import { configEntry } from '../caps/ops.js';
import { num, toEntry } from '../entry.js';
import { LedgerError } from '../errors.js';
import { PRICING_ACCOUNT, PRICING_CACHE_VERSIONS } from '../limits.js';
import { assertSameRequest, type Context, type Plan, runPlan } from '../ops/context.js';
import type { Row, UnitResult } from '../runner/index.js';
import type { PriceRounding } from '../schema.js';
import { SELECT_BY_KEY } from '../sql.js';
import type { Entry } from '../types.js';
import { canonicalJson } from '../validate.js';
import {
  ACTIVE_VERSION,
  PRICING_ACTIVATE,
  PRICING_ACTIVE,
  PRICING_BY_KEY,
  PRICING_HISTORY,
  PRICING_PUBLISH,
  PRICING_VERSION,
} from './sql.js';
import type { ActivateInput, ActivateResult, PricingVersion, PublishInput, PublishResult, RateCard } from './types.js';

export type PublishRequest = PublishInput;
export type ActivateRequest = ActivateInput;

/** A version as a charge prices with it. */
export interface Card {
  version: number;
  rounding: PriceRounding;
  rates: RateCard;
}

/** Per ledger instance: parsed versions, and the active version last seen (undefined: not read yet). */
interface PricingState {
  cards: Map<number, Card>;
  active: number | null | undefined;
}
const states = new WeakMap<Context, PricingState>();
export function stateOf(ctx: Context): PricingState {
  let s = states.get(ctx);
  if (s === undefined) {
    s = { cards: new Map(), active: undefined };
    states.set(ctx, s);
  }
  return s;
}

function remember(ctx: Context, card: Card): Card {
  const { cards } = stateOf(ctx);
  if (!cards.has(card.version) && cards.size >= PRICING_CACHE_VERSIONS) {
    const oldest = cards.keys().next().value;
    if (oldest !== undefined) cards.delete(oldest);
  }
  cards.set(card.version, card);
  return card;
}

function toVersion(r: Row, ctx: Context): PricingVersion {
  return {
    version: num(r.version),
    label: r.label === null || r.label === undefined ? null : String(r.label),
    rounding: String(r.rounding) as PriceRounding,
    rates: JSON.parse(String(r.rates)) as RateCard,
    active: num(r.active) === 1,
    entryId: ctx.ids.format(num(r.entry)),
    createdAt: num(r.created_at),
  };
}

/** The setting of a publish as stored (without the version the INSERT adds). */
const publishSetting = (req: PublishRequest) =>
  canonicalJson({ activate: req.activate ?? true, label: req.label ?? null, rates: req.rates, rounding: req.rounding ?? 'up' });

/** A stored publish's setting with its version taken out, to compare a keyed retry with. */
function withoutVersion(metadata: Entry['metadata']): { setting: string; version: number } {
  const { version, ...rest } = (metadata ?? {}) as Record<string, unknown>;
  return { setting: canonicalJson(rest), version: Number(version) };
}

export function planPublish(ctx: Context, req: PublishRequest): Plan<PublishResult> {
  const now = ctx.now();
  const key = req.idempotencyKey ?? null;
  const setting = publishSetting(req);
  return {
    unit: {
      primary: { sql: PRICING_PUBLISH, args: [PRICING_ACCOUNT, req.reason ?? null, key, req.actor ?? null, setting, now] },
      explain: [{ sql: SELECT_BY_KEY, args: [PRICING_ACCOUNT, 'pricing_publish', key] }],
      after: [{ sql: PRICING_BY_KEY, args: [PRICING_ACCOUNT, key] }],
    },
    decode: ({ rows, explain, after }: UnitResult): PublishResult => {
      const row = rows[0];
      if (row !== undefined) {
        const metadata = String(row.metadata);
        const version = num((JSON.parse(metadata) as { version: unknown }).version);
        const entry = configEntry(ctx, row, 'pricing_publish', PRICING_ACCOUNT, req, metadata, now);
        const active = req.activate ?? true;
        const pricing: PricingVersion = {
          version,
          label: req.label ?? null,
          rounding: req.rounding ?? 'up',
          rates: req.rates,
          active,
          entryId: entry.id,
          createdAt: now,
        };
        remember(ctx, pricing);
        if (active) stateOf(ctx).active = version;
        return { outcome: 'published', version, pricing, entry };
      }
      const original = explain[0]?.[0];
      const stored = after[0]?.[0];
      if (original === undefined || stored === undefined)
        throw new LedgerError('internal', 'pricing.publish: nothing written and no original');
      const entry = toEntry(original, ctx.ids);
      const { setting: was, version } = withoutVersion(entry.metadata);
      assertSameRequest('pricing.publish', { ...entry, metadata: null }, { reason: req.reason ?? null, actor: req.actor ?? null });
      if (was !== setting) {
        throw new LedgerError(
          'idempotency_conflict',
          `pricing.publish: idempotency key "${key}" already published version ${version} with a different setting`,
          { originalEntryId: entry.id, fields: ['setting'] },
        );
      }
      return { outcome: 'replayed', version, pricing: toVersion(stored, ctx), entry };
    },
  };
}

export function planActivate(ctx: Context, req: ActivateRequest): Plan<ActivateResult> {
  const now = ctx.now();
  const key = req.idempotencyKey ?? null;
  const setting = canonicalJson({ version: req.version });
  return {
    unit: {
      primary: {
        sql: PRICING_ACTIVATE,
        args: [PRICING_ACCOUNT, req.reason ?? null, key, req.actor ?? null, setting, now, req.version],
      },
      explain: [
        { sql: SELECT_BY_KEY, args: [PRICING_ACCOUNT, 'pricing_activate', key] },
        { sql: PRICING_VERSION, args: [req.version] },
      ],
    },
    decode: ({ rows, explain }: UnitResult): ActivateResult => {
      const row = rows[0];
      if (row !== undefined) {
        stateOf(ctx).active = req.version;
        return {
          outcome: 'activated',
          version: req.version,
          entry: configEntry(ctx, row, 'pricing_activate', PRICING_ACCOUNT, req, setting, now),
        };
      }
      const [[original] = [], [stored] = []] = explain;
      if (original !== undefined) {
        const entry = toEntry(original, ctx.ids);
        assertSameRequest('pricing.activate', entry, { metadata: setting, reason: req.reason ?? null, actor: req.actor ?? null });
        return { outcome: 'replayed', version: req.version, entry };
      }
      if (stored === undefined)
        throw new LedgerError('not_found', `pricing.activate: no pricing version ${req.version}`, { version: req.version });
      return { outcome: 'unchanged', version: req.version };
    },
  };
}

export const publish = (ctx: Context, req: PublishRequest) => runPlan(ctx, planPublish(ctx, req));
export const activate = (ctx: Context, req: ActivateRequest) => runPlan(ctx, planActivate(ctx, req));

export async function activeVersion(ctx: Context): Promise<PricingVersion | null> {
  const [[row] = []] = await ctx.runner.read([{ sql: PRICING_ACTIVE, args: [] }]);
  const v = row === undefined ? null : toVersion(row, ctx);
  stateOf(ctx).active = v?.version ?? null;
  if (v !== null) remember(ctx, v);
  return v;
}

export async function getVersion(ctx: Context, version: number): Promise<PricingVersion | null> {
  const [[row] = []] = await ctx.runner.read([{ sql: PRICING_VERSION, args: [version] }]);
  if (row === undefined) return null;
  const v = toVersion(row, ctx);
  remember(ctx, v);
  return v;
}

export async function history(ctx: Context): Promise<PricingVersion[]> {
  const [rows = []] = await ctx.runner.read([{ sql: PRICING_HISTORY, args: [] }]);
  return rows.map((r) => toVersion(r, ctx));
}

/**
 * A version's card: from the cache as it is (no await: a charge whose card is cached starts
 * its write in the caller's synchronous step), else read once (`not_found` when there is no
 * such version).
 */
export function cardOf(ctx: Context, version: number, op: string): Card | Promise<Card> {
  const cached = stateOf(ctx).cards.get(version);
  if (cached !== undefined) return cached;
  return getVersion(ctx, version).then((v) => {
    if (v === null) throw new LedgerError('not_found', `${op}: no pricing version ${version}`, { version });
    return v;
  });
}

/**
 * The active version's card: from the cache unless `fresh` or never read. `invalid_argument`
 * when no version is active.
 */
export function activeCard(ctx: Context, op: string, fresh: boolean): Card | Promise<Card> {
  const state = stateOf(ctx);
  if (!fresh && state.active !== undefined) return activeOf(ctx, state.active, op);
  return ctx.runner.read([{ sql: ACTIVE_VERSION, args: [] }]).then((rows: Row[][]) => {
    const row = rows[0]?.[0];
    state.active = row === undefined ? null : num(row.version);
    return activeOf(ctx, state.active, op);
  });
}

const activeOf = (ctx: Context, active: number | null, op: string): Card | Promise<Card> => {
  if (active === null) throw new LedgerError('invalid_argument', `${op}: no pricing version is active (publish one first)`);
  return cardOf(ctx, active, op);
};
