/**
 * `ledger.charge`: quote + debit (or, with `holdId`, quote + capture of the hold at the priced
 * amount) as ONE atomic unit. It reuses the debit and capture statements with an extension
 * (src/ops/context.ts): the charge's record in the entry's metadata, and, when it prices
 * with the active version, a compare-and-set in the statement's WHERE that the active version
 * at commit is still the one it priced with. The active version's card is cached in the ledger
 * instance, so a steady-state charge is one round trip; when the CAS refuses (another writer
 * activated a version meanwhile) the charge re-reads the active version and tries again, at
 * most CHARGE_ATTEMPTS times.
 */
import { LedgerError } from '../errors.js';
import { CHARGE_ATTEMPTS } from '../limits.js';
import { assertSameRequest, type Context, type Extension, type Plan, runPlan } from '../ops/context.js';
import { planDebit } from '../ops/debit.js';
import { planCapture } from '../ops/holds.js';
import type { Statement, UnitResult } from '../runner/index.js';
import type { Entry } from '../types.js';
import { canonicalJson } from '../validate.js';
import { priceUsage } from './decimal.js';
import { activeCard, type Card, cardOf, stateOf } from './ops.js';
import { ACTIVE_IS, ACTIVE_VERSION } from './sql.js';
import type { ChargeInput, ChargeRecord, ChargeResult, Quote } from './types.js';
import { CHARGE_KEY } from './validate.js';

/** A charge as validated: the app's metadata as canonical JSON (no `charge` key). */
export type ChargeRequest = Omit<ChargeInput, 'metadata'> & { metadata?: string };

/** The CAS refused: the active version changed since the card was read. */
export interface Stale {
  outcome: 'stale';
  active: number | null;
}

const appMetadata = (req: ChargeRequest): Record<string, unknown> =>
  req.metadata === undefined ? {} : (JSON.parse(req.metadata) as Record<string, unknown>);

/** A keyed retry must charge the same model and usage (and version, if it named one) with the same attribution. */
function sameCharge(req: ChargeRequest, original: Entry): void {
  const { [CHARGE_KEY]: record, ...rest } = (original.metadata ?? {}) as Record<string, unknown>;
  const was = (record ?? {}) as Partial<ChargeRecord>;
  const differing: string[] = [];
  if (original.model !== req.model) differing.push('model');
  if (canonicalJson(was.usage ?? null) !== canonicalJson(req.usage)) differing.push('usage');
  if (req.version !== undefined && was.version !== req.version) differing.push('version');
  if (canonicalJson(rest) !== canonicalJson(appMetadata(req))) differing.push('metadata');
  if (differing.length > 0) {
    throw new LedgerError(
      'idempotency_conflict',
      `charge: idempotency key "${req.idempotencyKey}" was already used on ${original.account} with different ${differing.join(', ')}`,
      { originalEntryId: original.id, fields: differing },
    );
  }
  // With a hold, attribution not given defaults to the hold's: only what was given is compared.
  const given = (v: string | undefined) => (req.holdId === undefined ? (v ?? null) : v);
  assertSameRequest('charge', original, { reason: req.reason ?? null, keyId: given(req.keyId), actor: given(req.actor) });
}

/** A plan that writes nothing (a free charge in a batch). */
const NOTHING: Statement = { sql: 'SELECT 1 WHERE 0', args: [] };

/**
 * The charge priced with `card` as one plan: a debit, or a capture of `holdId`. `cas`: the
 * card is the cached active version, checked at commit.
 */
export function planCharge(ctx: Context, req: ChargeRequest, card: Card, cas: boolean): Plan<ChargeResult | Stale> & { quote: Quote } {
  const quote = priceUsage(card, req.model, req.usage);
  if (quote.credits === 0) return { quote, unit: { primary: NOTHING }, decode: () => ({ outcome: 'free', quote }) };
  const record: ChargeRecord = { exact: quote.exact, rounding: quote.rounding, usage: req.usage, version: quote.version };
  const metadata = canonicalJson(Object.assign({}, appMetadata(req), { [CHARGE_KEY]: record }));
  const guards: Statement[] = [];
  if (req.holdId !== undefined) guards.push({ sql: 'c.account = ?', args: [req.account] });
  if (cas) guards.push({ sql: ACTIVE_IS, args: [card.version] });
  const extension: Extension = {
    guard: guards.length === 0 ? undefined : { sql: guards.map((g) => g.sql).join(' AND '), args: guards.flatMap((g) => g.args) },
    explain: cas ? { sql: ACTIVE_VERSION, args: [] } : undefined,
    sameRequest: (original) => sameCharge(req, original),
  };
  /** The CAS refused when nothing was written, no entry has the key, and another version is active. */
  const stale = (result: UnitResult, byKey: number): Stale | null => {
    if (!cas || result.rows.length > 0 || result.explain[byKey]?.[0] !== undefined) return null;
    const row = result.explain[result.explain.length - 1]?.[0];
    const active = row === undefined ? null : Number(row.version);
    return active === card.version ? null : { outcome: 'stale', active };
  };
  const attribution = { reason: req.reason, actor: req.actor, keyId: req.keyId, model: req.model, metadata, extension };
  if (req.holdId === undefined) {
    const plan = planDebit(ctx, { account: req.account, amount: quote.credits, idempotencyKey: req.idempotencyKey, ...attribution });
    return {
      quote,
      unit: plan.unit,
      decode: (result) => stale(result, 1) ?? Object.assign(plan.decode(result), { quote }),
    };
  }
  const holdId = req.holdId;
  const plan = planCapture(ctx, { holdId, amount: quote.credits, idempotencyKey: req.idempotencyKey, ...attribution });
  return {
    quote,
    unit: plan.unit,
    decode: (result) => {
      const state = result.explain[0]?.[0];
      if (result.rows.length === 0 && state !== undefined && String(state.account) !== req.account) {
        throw new LedgerError('invalid_argument', `charge: hold ${holdId} is not on ${req.account}`, { holdId });
      }
      const s = stale(result, 2);
      if (s !== null) return s;
      const r = plan.decode(result);
      // Object.assign, not `{ ...r, … }` (V8's slow clone, ~3 µs a call on Node 20).
      if (r.outcome === 'insufficient' || r.outcome === 'capped') return Object.assign(r, { quote });
      return Object.assign(r, { outcome: r.outcome === 'captured' ? 'debited' : 'replayed', quote }) as ChargeResult;
    },
  };
}

/** A replay's quote is the original's: priced again with the version it recorded. */
async function replayQuote(ctx: Context, req: ChargeRequest, r: ChargeResult): Promise<ChargeResult> {
  if (r.outcome !== 'replayed') return r;
  const record = (r.entry.metadata as Record<string, unknown> | null)?.[CHARGE_KEY] as ChargeRecord | undefined;
  if (record === undefined || record.version === r.quote.version) return r;
  const card = await cardOf(ctx, record.version, 'charge');
  return Object.assign(r, { quote: priceUsage(card, req.model, record.usage) });
}

/** The card a charge prices with: the version it names, or the active one (cached unless `fresh`). */
export const chargeCard = (ctx: Context, req: ChargeRequest, fresh: boolean): Card | Promise<Card> =>
  req.version === undefined ? activeCard(ctx, 'charge', fresh) : cardOf(ctx, req.version, 'charge');

export async function charge(ctx: Context, req: ChargeRequest, app?: readonly Statement[]): Promise<ChargeResult> {
  for (let attempt = 1; attempt <= CHARGE_ATTEMPTS; attempt++) {
    // A cached card is used as it is, so the first attempt's write starts in the caller's step.
    const got = chargeCard(ctx, req, attempt > 1);
    const card = got instanceof Promise ? await got : got;
    const plan = planCharge(ctx, req, card, req.version === undefined);
    // Free: nothing to write (the app's `with` statements neither).
    if (plan.quote.credits === 0) return { outcome: 'free', quote: plan.quote };
    const r = await runPlan(ctx, plan, app);
    if (r.outcome !== 'stale') return replayQuote(ctx, req, r);
    stateOf(ctx).active = r.active;
  }
  throw new LedgerError('busy', `charge: the active pricing version kept changing during ${CHARGE_ATTEMPTS} attempts; retry`, {
    attempts: CHARGE_ATTEMPTS,
  });
}

/** A batch's charge: a stale CAS cannot be retried inside the batch, so it is rejected as `busy`. */
export function batchCharge(plan: Plan<ChargeResult | Stale>): Plan<ChargeResult> {
  return {
    unit: plan.unit,
    decode: (result) => {
      const r = plan.decode(result);
      if (r.outcome === 'stale') {
        throw new LedgerError('busy', 'charge: the active pricing version changed before the batch committed; retry', {
          active: r.active,
        });
      }
      return r;
    },
  };
}
