/**
 * fast-check arbitraries for bad-input.test.ts: for every argument of every public Ledger
 * method, a mix of well-formed values (so real outcomes happen), targeted hostile values
 * (NaN, ±Infinity, -0, fractions, 2^53, bigint, empty/huge/control/unicode strings, null,
 * undefined, arrays, objects with extra or prototype-polluting keys) and fc.anything().
 *
 * Ids the fuzzer cannot know up front (the entry a refund targets, the hold a capture
 * captures) and times relative to the ledger clock are `Lazy` placeholders, resolved just
 * before the call from pools the test fills with what earlier calls returned.
 */
import fc from 'fast-check';
import {
  ACCOUNT_MAX_LENGTH,
  ALERT_EXPIRING_MAX_MS,
  BATCH_MAX_OPS,
  ENTRY_KINDS,
  EVENT_TYPES,
  EXPIRING_MAX_WINDOW_MS,
  HISTORY_MAX_LIMIT,
  HOLD_MAX_TTL_MS,
  IDEMPOTENCY_KEY_MAX_LENGTH,
  LABEL_MAX_LENGTH,
  MAX_AMOUNT,
  REASON_MAX_LENGTH,
  SPEND_MAX_LIMIT,
  SWEEP_BATCH_MAX,
} from '../../../src/index.js';
import type { Method } from './input-outcomes.js';

// ---------------------------------------------------------------------------------------
// Lazy placeholders

export type PoolName = 'account' | 'debit' | 'capture' | 'refund' | 'grant' | 'hold' | 'any';
export type Pools = Record<PoolName, string[]>;
export interface Env {
  pools: Pools;
  now: number;
}

/** A value computed at call time (an id from a pool, a time relative to the clock). */
export class Lazy {
  constructor(
    readonly label: string,
    readonly resolve: (env: Env) => unknown,
  ) {}
  toString(): string {
    return this.label;
  }
}

/** An id from a pool: half the time one of the three newest (holds still open, debits not yet refunded). */
const fromPool = (pool: PoolName, i: number) =>
  new Lazy(`<${pool}#${i}>`, ({ pools }) => {
    const p = pools[pool];
    if (p.length === 0) return `missing-${pool}`;
    return i % 2 === 0 ? p[p.length - 1 - ((i >> 1) % Math.min(3, p.length))] : p[i % p.length];
  });
const relativeTime = (offset: number) => new Lazy(`<now${offset >= 0 ? '+' : ''}${offset}>`, ({ now }) => now + offset);

/** Replaces Lazy values in args (top level, fields of input objects, batch ops) without touching anything else. */
export function materialize(args: readonly unknown[], env: Env): unknown[] {
  const one = (v: unknown, depth: number): unknown => {
    if (v instanceof Lazy) return v.resolve(env);
    if (depth >= 2 || v === null || typeof v !== 'object') return v;
    if (Array.isArray(v)) return v.some((x) => x instanceof Lazy || isPlain(x)) ? v.map((x) => one(x, depth + 1)) : v;
    if (!isPlain(v)) return v;
    const descriptors = Object.getOwnPropertyDescriptors(v);
    if (!Object.values(descriptors).some((d) => 'value' in d && d.value instanceof Lazy)) return v;
    // A copy with the same prototype and the same own keys (even "__proto__" or symbols).
    const copy = Object.create(Object.getPrototypeOf(v));
    for (const key of Reflect.ownKeys(descriptors)) {
      const d = descriptors[key as keyof typeof descriptors] as PropertyDescriptor;
      if ('value' in d && d.value instanceof Lazy) d.value = d.value.resolve(env);
      Object.defineProperty(copy, key, d);
    }
    return copy;
  };
  return args.map((a) => one(a, 0));
}

function isPlain(v: unknown): v is object {
  if (v === null || typeof v !== 'object') return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

// ---------------------------------------------------------------------------------------
// Hostile scalars

export const hostileNumber: fc.Arbitrary<number> = fc.oneof(
  fc.constantFrom(
    Number.NaN,
    Number.POSITIVE_INFINITY,
    Number.NEGATIVE_INFINITY,
    -0,
    0,
    0.4,
    0.5,
    1.5,
    -1,
    -100,
    2 ** 53,
    2 ** 53 + 2,
    MAX_AMOUNT,
    -MAX_AMOUNT,
    -(2 ** 53),
    Number.MAX_VALUE,
    Number.MIN_VALUE,
    Number.EPSILON,
    1e21,
    1e-7,
    0.1 + 0.2,
    HOLD_MAX_TTL_MS + 1,
    101,
    HISTORY_MAX_LIMIT + 1,
  ),
  fc.double(),
  fc.integer(),
  fc.integer({ min: -MAX_AMOUNT, max: 0 }),
);

/** One UTF-16 unit for generated strings: any code point, now and then a lone surrogate. */
const unit = fc.oneof(
  { weight: 30, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }) },
  { weight: 1, arbitrary: fc.constantFrom('\uD800', '\uDBFF', '\uDC00', '\uDFFF') },
);

/** Strings callers should not send, ill-formed UTF-16 (lone surrogates) included. */
export const hostileString: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(
    '',
    ' ',
    '\t',
    '\n',
    'a\u0000b',
    '\u0000',
    '\u001f',
    '\u007f',
    'x'.repeat(ACCOUNT_MAX_LENGTH + 1),
    'k'.repeat(IDEMPOTENCY_KEY_MAX_LENGTH + 1),
    'r'.repeat(REASON_MAX_LENGTH + 1),
    'h'.repeat(100_000),
    '10',
    '1e3',
    '0x10',
    '-5',
    'NaN',
    'Infinity',
    '9007199254740993',
    '__proto__',
    'constructor',
    'toString',
    "'; DROP TABLE credit_entry; --",
    '%',
    '_',
    '\u202e\u200b\ufeff',
    '\u2028\u2029',
    'é\u0301',
    '🙂👩‍👩‍👧',
    '\uffff',
    '$plan:pro',
    '$allowance:1:0',
    '$pricing',
    'user_\uD800',
    '\uDC00',
    'a\uDBFFb',
    'bonus \uD83D',
  ),
  fc.string({ unit, maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 20 }),
  fc.string({ maxLength: 300 }),
);

export const hostileBigint = fc.oneof(fc.bigInt(), fc.constantFrom(0n, 1n, 10n, -1n, 2n ** 64n));

/** Anything at all: sparse arrays, boxed values, null prototypes, strings with lone surrogates … */
export const anything = fc.anything({
  maxDepth: 3,
  withBigInt: true,
  withBoxedValues: true,
  withDate: true,
  withMap: true,
  withSet: true,
  withNullPrototype: true,
  withObjectString: true,
  withTypedArray: true,
  withSparseArray: true,
  stringUnit: unit,
});

export const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 3, arbitrary: hostileNumber },
  { weight: 3, arbitrary: hostileString },
  { weight: 1, arbitrary: hostileBigint },
  { weight: 1, arbitrary: fc.constantFrom(null, undefined, true, false, [], {}, [1], ['a'], Symbol('s'), () => 1, new Date(0)) },
  { weight: 2, arbitrary: anything },
);

// ---------------------------------------------------------------------------------------
// Well-formed values

const ACCOUNTS = ['acct_a', 'acct_b', 'acct_c', 'acct_d'];
const KEYS = ['k1', 'k2', 'k3', 'k4'];
const LABELS = ['gpt-4o', 'claude', 'key_1', 'key_2', 'ops'];

// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it filters out.
const noControl = (s: string) => !/[\u0000-\u001f\u007f]/.test(s);
const freshId = (max: number) => fc.string({ unit: 'binary', minLength: 1, maxLength: Math.min(max, 40) }).filter(noControl);

const account = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...ACCOUNTS) },
  { weight: 2, arbitrary: fc.nat().map((i) => fromPool('account', i)) },
  { weight: 1, arbitrary: freshId(ACCOUNT_MAX_LENGTH) },
  { weight: 1, arbitrary: fc.constant('a'.repeat(ACCOUNT_MAX_LENGTH)) },
);
const amount = fc.oneof(
  { weight: 8, arbitrary: fc.integer({ min: 1, max: 400 }) },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: MAX_AMOUNT }) },
  { weight: 1, arbitrary: fc.constantFrom(1, MAX_AMOUNT) },
);
const delta = fc.oneof(
  { weight: 8, arbitrary: fc.integer({ min: -300, max: 300 }).filter((d) => d !== 0) },
  { weight: 1, arbitrary: fc.constantFrom(MAX_AMOUNT, -MAX_AMOUNT) },
);
const idempotencyKey = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...KEYS) },
  { weight: 1, arbitrary: freshId(IDEMPOTENCY_KEY_MAX_LENGTH) },
  { weight: 1, arbitrary: fc.constant('k'.repeat(IDEMPOTENCY_KEY_MAX_LENGTH)) },
);
const reason = fc.oneof(
  { weight: 6, arbitrary: fc.string({ maxLength: 30 }) },
  { weight: 1, arbitrary: fc.constant('r'.repeat(REASON_MAX_LENGTH)) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 30 }) },
);
const nonEmptyReason = reason.filter((r) => r.length > 0);
const label = fc.oneof({ weight: 6, arbitrary: fc.constantFrom(...LABELS) }, { weight: 1, arbitrary: freshId(LABEL_MAX_LENGTH) });
const metadata = fc.oneof(
  { weight: 4, arbitrary: fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 4 }) },
  { weight: 1, arbitrary: fc.constant({ big: 'm'.repeat(8_000) }) },
  { weight: 1, arbitrary: fc.constant(Object.assign(Object.create(null), { nullProto: true })) },
);
/** Metadata that is not a plain JSON object, or too deep, cyclic, or keyed "__proto__". */
const hostileMetadata: fc.Arbitrary<unknown> = fc.oneof(
  fc.constant([1, 2]),
  fc.constant({ f: () => 1 }),
  fc.constant(null).map(() => JSON.parse('{"__proto__": {"plan": "pro"}, "a": 1}')),
  fc.integer({ min: 30, max: 4_000 }).map((depth) => {
    let deep: unknown = 1;
    for (let i = 0; i < depth; i++) deep = [deep];
    return { deep };
  }),
  fc.integer({ min: 30, max: 100 }).map((depth) => {
    let deep: unknown = 1;
    for (let i = 0; i < depth; i++) deep = { a: deep };
    return deep;
  }),
  fc.constant(null).map(() => {
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = cyclic;
    return cyclic;
  }),
  // biome-ignore lint/suspicious/noSparseArray: a hole in a metadata array.
  fc.constant({ holes: [1, , 3] }),
  fc.constant({ when: new Date(0), n: Number.NaN }),
);

const expiresAt = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 1, max: 90 * 86_400_000 }).map(relativeTime) },
  { weight: 1, arbitrary: fc.integer({ min: -86_400_000, max: 0 }).map(relativeTime) },
  { weight: 1, arbitrary: fc.constantFrom(0, MAX_AMOUNT) },
);
const priority = fc.integer({ min: 0, max: 100 });
const ttlMs = fc.oneof(
  { weight: 4, arbitrary: fc.integer({ min: 60_000, max: 7 * 86_400_000 }) },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 60_000 }) },
  { weight: 1, arbitrary: fc.constantFrom(1, HOLD_MAX_TTL_MS) },
);
const entryId = fc.oneof(
  {
    weight: 8,
    arbitrary: fc
      .tuple(fc.constantFrom<PoolName>('debit', 'debit', 'debit', 'capture', 'capture', 'refund', 'grant', 'hold', 'any'), fc.nat())
      .map(([p, i]) => fromPool(p, i)),
  },
  { weight: 1, arbitrary: freshId(64) },
);
const holdId = fc.oneof({ weight: 8, arbitrary: fc.nat().map((i) => fromPool('hold', i)) }, { weight: 1, arbitrary: entryId });
const timestamp = fc.oneof(fc.integer({ min: 0, max: MAX_AMOUNT }), fc.integer({ min: -86_400_000, max: 86_400_000 }).map(relativeTime));

/** Analytics ranges: mostly a window around the clock's now, so real spend is in it. */
const from = fc.oneof(
  { weight: 4, arbitrary: fc.integer({ min: -30 * 86_400_000, max: 0 }).map(relativeTime) },
  { weight: 1, arbitrary: fc.constantFrom(0, MAX_AMOUNT) },
);
const to = fc.oneof(
  { weight: 4, arbitrary: fc.integer({ min: 0, max: 86_400_000 }).map(relativeTime) },
  { weight: 1, arbitrary: fc.constantFrom(0, MAX_AMOUNT) },
);
const GROUP_KEYS = ['account', 'model', 'keyId', 'actor', 'day', 'hour'] as const;
/** A label filter: a label, or null for "recorded without one". */
const labelFilter = fc.oneof({ weight: 4, arbitrary: label }, { weight: 1, arbitrary: fc.constant(null) });

// ---------------------------------------------------------------------------------------
// Inputs: well-formed records, mutated records, anything

interface Field {
  valid: fc.Arbitrary<unknown>;
  /** Targeted bad values for this field (besides the generic hostile ones). */
  bad: fc.Arbitrary<unknown>;
  required?: boolean;
}

const numField = (valid: fc.Arbitrary<unknown>, required = false): Field => ({ valid, bad: hostileNumber, required });
const strField = (valid: fc.Arbitrary<unknown>, required = false): Field => ({ valid, bad: hostileString, required });

const F = {
  account: strField(account, true),
  amount: numField(amount, true),
  optAmount: numField(amount),
  delta: numField(delta, true),
  idempotencyKey: strField(idempotencyKey),
  requiredKey: strField(idempotencyKey, true),
  reason: strField(reason),
  adjustReason: strField(nonEmptyReason, true),
  label: strField(label),
  metadata: { valid: metadata, bad: fc.oneof(hostileValue, hostileMetadata) } as Field,
  expiresAt: numField(expiresAt),
  priority: numField(priority),
  ttlMs: numField(ttlMs),
  requiredTtl: numField(ttlMs, true),
  entryId: strField(entryId, true),
  holdId: strField(holdId, true),
};

const attribution = { reason: F.reason, model: F.label, keyId: F.label, actor: F.label, metadata: F.metadata };

/** ledger.caps.*: windows, limits (0 included) and floors (signed), the filters as labels. */
const capWindow = strField(fc.constantFrom('day', 'week', 'month'), true);
const capFilters = { model: F.label, keyId: F.label, member: F.label };
const capCommon = { idempotencyKey: F.idempotencyKey, reason: F.reason, actor: F.label };
const capLimit = numField(
  fc.oneof({ weight: 6, arbitrary: fc.integer({ min: 0, max: 500 }) }, { weight: 1, arbitrary: fc.constantFrom(0, MAX_AMOUNT) }),
  true,
);
const floorValue = numField(
  fc.oneof(
    { weight: 6, arbitrary: fc.integer({ min: -500, max: 500 }) },
    { weight: 1, arbitrary: fc.constantFrom(0, MAX_AMOUNT, -MAX_AMOUNT) },
  ),
  true,
);

/** ledger.pricing.* and charge: cards over the seeded models and meters, decimal-string prices, integer usage. */
const MODELS = ['gpt-4o', 'claude'];
const METERS = ['input', 'output'];
const priceText = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom('0.001', '0.5', '1', '2.25', '0.000000000001', '0') },
  { weight: 1, arbitrary: fc.constantFrom('999999999999999.999999999999', '-1', '1e3', '.5', '01', 'NaN', '0.1234567890123', '') },
  { weight: 1, arbitrary: hostileValue },
);
const rateCard = fc.dictionary(
  fc.oneof({ weight: 6, arbitrary: fc.constantFrom(...MODELS) }, { weight: 1, arbitrary: hostileString }),
  fc.dictionary(fc.oneof({ weight: 6, arbitrary: fc.constantFrom(...METERS) }, { weight: 1, arbitrary: hostileString }), priceText, {
    maxKeys: 3,
  }),
  { minKeys: 1, maxKeys: 3 },
);
const usageArb = fc.dictionary(
  fc.oneof({ weight: 20, arbitrary: fc.constantFrom(...METERS) }, { weight: 1, arbitrary: hostileString }),
  fc.oneof({ weight: 8, arbitrary: fc.integer({ min: 0, max: 2_000 }) }, { weight: 1, arbitrary: fc.constantFrom(MAX_AMOUNT, 0) }),
  { minKeys: 1, maxKeys: 3 },
);
const objField = (valid: fc.Arbitrary<unknown>, required = false): Field => ({
  valid,
  bad: fc.oneof(hostileValue, fc.constant({}), fc.constant({ input: -1 }), fc.constant({ input: '1' })),
  required,
});
const version = numField(
  fc.oneof({ weight: 6, arbitrary: fc.integer({ min: 1, max: 4 }) }, { weight: 1, arbitrary: fc.constant(MAX_AMOUNT) }),
);
const pricingModel = strField(fc.oneof({ weight: 20, arbitrary: fc.constantFrom(...MODELS) }, { weight: 1, arbitrary: label }), true);
const PRICING_FIELDS: Record<string, Record<string, Field>> = {
  'pricing.publish': {
    rates: objField(rateCard, true),
    label: F.label,
    rounding: strField(fc.constantFrom('up', 'half_even', 'down')),
    activate: { valid: fc.boolean(), bad: hostileValue },
    idempotencyKey: F.idempotencyKey,
    reason: F.reason,
    actor: F.label,
  },
  'pricing.activate': { version: { ...version, required: true }, idempotencyKey: F.idempotencyKey, reason: F.reason, actor: F.label },
  'pricing.quote': { model: pricingModel, usage: objField(usageArb, true), version },
  charge: {
    account: F.account,
    model: pricingModel,
    usage: objField(usageArb, true),
    idempotencyKey: F.requiredKey,
    // Mostly absent (a debit), sometimes a hold from the pool (of whichever account).
    holdId: { ...F.holdId, valid: fc.oneof({ weight: 3, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: F.holdId.valid }) },
    keyId: F.label,
    actor: F.label,
    reason: F.reason,
    metadata: { valid: metadata, bad: fc.oneof(hostileValue, hostileMetadata, fc.constant({ charge: 1 })) },
    version,
  },
};

/**
 * ledger.plans.*: the seeded plans (pro: monthly with rollover, basic: daily, flags: features
 * only) and fresh ids; allowances, periods and rollovers; feature maps; anchors around the
 * clock and on the month ends and leap days the period rule clamps.
 */
export const PLAN_IDS = ['pro', 'basic', 'flags'];
const PLAN_PERIODS = ['day', 'week', 'month', 'year'];
const planId = fc.oneof({ weight: 8, arbitrary: fc.constantFrom(...PLAN_IDS) }, { weight: 1, arbitrary: label });
const featureKey = fc.oneof({ weight: 6, arbitrary: fc.constantFrom('sso', 'seats', 'tier', 'beta') }, { weight: 1, arbitrary: label });
const featureValue = fc.oneof(
  fc.boolean(),
  fc.integer({ min: -5, max: 100 }),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.constantFrom('gold', '', 'x'.repeat(200)),
  fc.constant(null),
);
const features = fc.dictionary(featureKey, featureValue, { maxKeys: 5 });
const allowance = fc.record(
  {
    amount,
    every: fc.constantFrom(...PLAN_PERIODS),
    rollover: fc.record({ max: amount }),
  },
  { requiredKeys: ['amount', 'every'] },
);
/** The latest anchor plans accept (src/plans/period.ts LAST_PERIOD_TIME). */
const LAST_PERIOD_TIME = Date.UTC(9998, 0, 1) - 1;
const anchor = fc.oneof(
  { weight: 4, arbitrary: fc.integer({ min: -400 * 86_400_000, max: 0 }).map(relativeTime) },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 40 * 86_400_000 }).map(relativeTime) },
  {
    weight: 2,
    arbitrary: fc.constantFrom(0, Date.UTC(2024, 0, 31), Date.UTC(2024, 1, 29, 23, 59), Date.UTC(2023, 11, 31), LAST_PERIOD_TIME),
  },
);
const objectOf = (valid: fc.Arbitrary<unknown>, ...bad: unknown[]): Field => ({
  valid,
  bad: fc.oneof(hostileValue, fc.constantFrom(...bad)),
});
const planCommon = { idempotencyKey: F.idempotencyKey, reason: F.reason, actor: F.label };
const PLAN_FIELDS: Record<string, Record<string, Field>> = {
  'plans.define': {
    id: strField(planId, true),
    name: strField(fc.oneof(label, fc.constant(''))),
    allowance: objectOf(
      allowance,
      { amount: 0, every: 'month' },
      { amount: 1, every: 'fortnight' },
      { amount: 1, every: 'day', rollover: { max: 0 } },
      { amount: 1, every: 'day', rollover: 5 },
      { amount: 1 },
    ),
    features: objectOf(features, { sso: Number.NaN }, { sso: [1] }, { sso: { a: 1 } }, { '': true }, { sso: 'x'.repeat(100_000) }),
    reason: F.reason,
    actor: F.label,
  },
  'plans.subscribe': { account: F.account, planId: strField(planId, true), anchor: numField(anchor), ...planCommon },
  'plans.change': {
    account: F.account,
    planId: strField(planId, true),
    proration: strField(fc.constantFrom('immediate', 'next_period'), true),
    ...planCommon,
  },
  'plans.cancel': { account: F.account, at: strField(fc.constantFrom('now', 'period_end'), true), ...planCommon },
  'plans.get': { version: numField(fc.integer({ min: 1, max: 4 })) },
};

/**
 * ledger.teams.* and transfer: the seeded team (TEAM, owned by acct_a, with `ops` a member and
 * `key_1` a viewer) and others; members, owners and actors among the accounts and labels, so
 * managers, members, viewers, outsiders and the owner itself all come up.
 */
export const TEAM = 'acct_d';
const teamName = fc.oneof({ weight: 6, arbitrary: fc.constant(TEAM) }, { weight: 3, arbitrary: account });
const person = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom('acct_a', 'acct_b', 'ops', 'key_1', 'user_9') },
  { weight: 2, arbitrary: account },
);
const teamRole = strField(fc.constantFrom('admin', 'member', 'viewer'), true);
const teamActor = strField(
  fc.oneof({ weight: 3, arbitrary: fc.constantFrom('acct_a', 'ops', 'key_1', 'user_9') }, { weight: 2, arbitrary: label }),
);
const TEAM_FIELDS: Record<string, Record<string, Field>> = {
  'teams.create': {
    team: strField(teamName, true),
    owner: strField(person, true),
    name: strField(fc.oneof(label, fc.constant('Acme'))),
    idempotencyKey: F.idempotencyKey,
    reason: F.reason,
    actor: teamActor,
  },
  'teams.addMember': { team: strField(teamName, true), member: strField(person, true), role: teamRole, reason: F.reason, actor: teamActor },
  'teams.setRole': { team: strField(teamName, true), member: strField(person, true), role: teamRole, reason: F.reason, actor: teamActor },
  'teams.removeMember': { team: strField(teamName, true), member: strField(person, true), reason: F.reason, actor: teamActor },
  transfer: {
    from: strField(fc.oneof({ weight: 2, arbitrary: fc.constant(TEAM) }, { weight: 5, arbitrary: account }), true),
    to: strField(fc.oneof(account, person), true),
    amount: F.amount,
    idempotencyKey: F.idempotencyKey,
    reason: F.reason,
    actor: teamActor,
    metadata: F.metadata,
  },
};

/** Input fields of every object-taking method, as the README documents them. */
export const INPUT_FIELDS: Record<string, Record<string, Field>> = {
  grant: {
    account: F.account,
    amount: F.amount,
    idempotencyKey: F.idempotencyKey,
    reason: F.reason,
    actor: F.label,
    metadata: F.metadata,
    expiresAt: F.expiresAt,
    priority: F.priority,
  },
  debitIfCovers: { account: F.account, amount: F.amount, ...attribution },
  debitOnceIfCovers: { account: F.account, amount: F.amount, idempotencyKey: F.requiredKey, ...attribution },
  refund: {
    entryId: F.entryId,
    amount: F.optAmount,
    reason: F.reason,
    idempotencyKey: F.idempotencyKey,
    actor: F.label,
    metadata: F.metadata,
  },
  adjust: {
    account: F.account,
    delta: F.delta,
    reason: F.adjustReason,
    idempotencyKey: F.idempotencyKey,
    actor: F.label,
    metadata: F.metadata,
  },
  hold: { account: F.account, amount: F.amount, ttlMs: F.ttlMs, idempotencyKey: F.idempotencyKey, ...attribution },
  capture: {
    holdId: F.holdId,
    amount: F.optAmount,
    idempotencyKey: F.idempotencyKey,
    reason: F.reason,
    actor: F.label,
    metadata: F.metadata,
  },
  release: { holdId: F.holdId, reason: F.reason, actor: F.label },
  extendHold: { holdId: F.holdId, ttlMs: F.requiredTtl, reason: F.reason, actor: F.label },
  history: {
    limit: numField(fc.integer({ min: 1, max: HISTORY_MAX_LIMIT })),
    cursor: strField(fc.oneof(fc.integer({ min: 1, max: 40 }).map(String), fc.constant('9999999999999999'))),
    kinds: { valid: fc.subarray([...ENTRY_KINDS], { minLength: 1 }), bad: fc.oneof(hostileValue, fc.constant([]), fc.constant(['nope'])) },
  },
  keySpend: { from: numField(timestamp), to: numField(timestamp) },
  'caps.set': {
    account: F.account,
    window: capWindow,
    limit: capLimit,
    action: strField(fc.constantFrom('deny', 'warn', 'notify')),
    ...capFilters,
    ...capCommon,
  },
  'caps.remove': { account: F.account, window: capWindow, ...capFilters, ...capCommon },
  'caps.floor': { account: F.account, floor: floorValue, ...capCommon },
  'alerts.set': {
    account: F.account,
    lowBalance: numField(fc.oneof(fc.integer({ min: 1, max: 500 }), fc.constant(MAX_AMOUNT))),
    expiringWithinMs: numField(fc.integer({ min: 1, max: ALERT_EXPIRING_MAX_MS })),
    ...capCommon,
  },
  'alerts.remove': { account: F.account, lowBalance: numField(fc.integer({ min: 1, max: 500 })), ...capCommon },
  'events.list': {
    after: numField(fc.integer({ min: 0, max: 60 })),
    limit: numField(fc.integer({ min: 1, max: 1000 })),
    types: { valid: fc.subarray([...EVENT_TYPES], { minLength: 1 }), bad: fc.oneof(hostileValue, fc.constant([]), fc.constant(['nope'])) },
  },
  ...PRICING_FIELDS,
  ...PLAN_FIELDS,
  ...TEAM_FIELDS,
  expiring: { withinMs: numField(fc.integer({ min: 1, max: EXPIRING_MAX_WINDOW_MS }), true) },
  'analytics.spend': {
    from: numField(from, true),
    to: numField(to, true),
    groupBy: { valid: fc.subarray([...GROUP_KEYS]), bad: fc.oneof(hostileValue, fc.constant(['week']), fc.constant(['model', 'model'])) },
    account: strField(account),
    model: strField(labelFilter),
    keyId: strField(labelFilter),
    actor: strField(labelFilter),
    limit: numField(fc.integer({ min: 1, max: SPEND_MAX_LIMIT })),
    tzOffsetMinutes: numField(fc.constantFrom(-840, -300, 0, 90, 330, 345, 840)),
  },
  'analytics.top': {
    by: { valid: fc.constantFrom('account', 'model', 'keyId', 'actor'), bad: fc.oneof(hostileValue, fc.constantFrom('day', 'hour', '')) },
    from: numField(from, true),
    to: numField(to, true),
    account: strField(account),
    model: strField(labelFilter),
    limit: numField(fc.integer({ min: 1, max: SPEND_MAX_LIMIT })),
  },
  'analytics.summary': { from: numField(from, true), to: numField(to, true) },
  entries: {
    after: strField(fc.oneof(fc.constant('0'), fc.integer({ min: 1, max: 60 }).map(String), fc.constant('9999999999999999'))),
    limit: numField(fc.integer({ min: 1, max: 1_000 })),
  },
  sweep: {
    dryRun: { valid: fc.boolean(), bad: hostileValue },
    batchSize: numField(fc.integer({ min: 1, max: SWEEP_BATCH_MAX })),
    onProgress: { valid: fc.constant(() => undefined), bad: hostileValue },
  },
};

/** Keys a caller might add by mistake or malice. */
const EXTRA_KEYS = fc.oneof(
  fc.constantFrom(
    '__proto__',
    'constructor',
    'prototype',
    'toString',
    'valueOf',
    'hasOwnProperty',
    'then',
    'idempotency_key',
    'Account',
    'amount ',
    'op',
    '',
    'entry_id',
  ),
  fc.string({ maxLength: 10 }),
);

function wellFormed(fields: Record<string, Field>): fc.Arbitrary<Record<string, unknown>> {
  const model: Record<string, fc.Arbitrary<unknown>> = {};
  for (const [k, f] of Object.entries(fields)) model[k] = f.valid;
  return fc.record(model, { requiredKeys: Object.entries(fields).flatMap(([k, f]) => (f.required ? [k] : [])) }) as fc.Arbitrary<
    Record<string, unknown>
  >;
}

type Mutation = { kind: 'set'; key: string; value: unknown } | { kind: 'delete'; key: string } | { kind: 'nullProto' };

function mutation(fields: Record<string, Field>): fc.Arbitrary<Mutation> {
  const keys = Object.keys(fields);
  const key = keys.length > 0 ? fc.constantFrom(...keys) : EXTRA_KEYS;
  return fc.oneof(
    {
      weight: 4,
      arbitrary: key.chain((k) =>
        fc.oneof(fields[k]?.bad ?? hostileValue, hostileValue).map((value) => ({ kind: 'set' as const, key: k, value })),
      ),
    },
    { weight: 2, arbitrary: key.map((k) => ({ kind: 'delete' as const, key: k })) },
    { weight: 1, arbitrary: key.map((k) => ({ kind: 'set' as const, key: k, value: undefined })) },
    {
      weight: 2,
      arbitrary: fc
        .tuple(EXTRA_KEYS, fc.oneof(hostileValue, fc.constant({ polluted: true })))
        .map(([k, value]) => ({ kind: 'set' as const, key: k, value })),
    },
    { weight: 1, arbitrary: fc.constant({ kind: 'nullProto' as const }) },
  );
}

/** Applies mutations to a copy that keeps the base's prototype and own keys (even "__proto__"). */
function applyMutations(base: Record<string, unknown>, ms: Mutation[]): Record<string, unknown> {
  let o: Record<string, unknown> = Object.defineProperties(
    Object.create(Object.getPrototypeOf(base)),
    Object.getOwnPropertyDescriptors(base),
  );
  for (const m of ms) {
    if (m.kind === 'delete') delete o[m.key];
    else if (m.kind === 'nullProto') o = Object.defineProperties(Object.create(null), Object.getOwnPropertyDescriptors(o));
    // defineProperty, so "__proto__" becomes an own key instead of changing the prototype.
    else Object.defineProperty(o, m.key, { value: m.value, enumerable: true, writable: true, configurable: true });
  }
  return o;
}

function mutated(fields: Record<string, Field>): fc.Arbitrary<Record<string, unknown>> {
  return fc.tuple(wellFormed(fields), fc.array(mutation(fields), { minLength: 1, maxLength: 3 })).map(([b, ms]) => applyMutations(b, ms));
}

/** An object argument: mostly well-formed or slightly wrong, sometimes anything at all. */
export function inputArb(fields: Record<string, Field>, { optional = false } = {}): fc.Arbitrary<unknown> {
  return fc.oneof(
    { weight: 5, arbitrary: wellFormed(fields) },
    { weight: 6, arbitrary: mutated(fields) },
    { weight: 1, arbitrary: anything },
    { weight: 1, arbitrary: hostileValue },
    { weight: optional ? 2 : 0, arbitrary: fc.constant(undefined) },
  );
}

const stringArg = (valid: fc.Arbitrary<unknown>) =>
  fc.oneof({ weight: 6, arbitrary: valid }, { weight: 3, arbitrary: hostileString }, { weight: 2, arbitrary: hostileValue });

/** A batch op: the input of one method, tagged with its op name; sometimes wrong. */
const batchOp: fc.Arbitrary<unknown> = fc.oneof(
  ...(
    [
      ['grant', 'grant'],
      ['debit', 'debitIfCovers'],
      ['debitOnce', 'debitOnceIfCovers'],
      ['refund', 'refund'],
      ['adjust', 'adjust'],
      ['hold', 'hold'],
      ['capture', 'capture'],
      ['release', 'release'],
      ['charge', 'charge'],
      ['transfer', 'transfer'],
    ] as const
  ).map(([op, method]) => {
    const fields = INPUT_FIELDS[method] as Record<string, Field>;
    return fc.oneof(
      { weight: 6, arbitrary: wellFormed(fields).map((i) => ({ op, ...i })) },
      { weight: 3, arbitrary: mutated(fields).map((i) => applyMutations(i, [{ kind: 'set', key: 'op', value: op }])) },
    );
  }),
  // Wrong op names, bigints and objects without a prototype included (findings 6 and 7).
  fc
    .record({
      op: fc.oneof(
        hostileString,
        hostileNumber,
        hostileValue,
        fc.constantFrom(null, undefined, true, {}, [], ['grant'], [10n], 10n, Symbol('op'), 'extendHold', 'Grant', 'debitIfCovers'),
        fc.constant(null).map(() => Object.create(null)),
      ),
    })
    .chain((o) => wellFormed(INPUT_FIELDS.grant as Record<string, Field>).map((i) => ({ ...i, ...o }))),
  hostileValue,
);

const tooManyOps = fc
  .constant(null)
  .map(() => Array.from({ length: BATCH_MAX_OPS + 1 }, () => ({ op: 'debit', account: 'acct_a', amount: 1 })));

/** Arguments for each method: what the README documents, plus an occasional stray extra argument. */
export const ARGS: Record<Method, fc.Arbitrary<unknown[]>> = {
  grant: fc.tuple(inputArb(INPUT_FIELDS.grant as Record<string, Field>)),
  debitIfCovers: fc.tuple(inputArb(INPUT_FIELDS.debitIfCovers as Record<string, Field>)),
  debitOnceIfCovers: fc.tuple(inputArb(INPUT_FIELDS.debitOnceIfCovers as Record<string, Field>)),
  refund: fc.tuple(inputArb(INPUT_FIELDS.refund as Record<string, Field>)),
  adjust: fc.tuple(inputArb(INPUT_FIELDS.adjust as Record<string, Field>)),
  hold: fc.tuple(inputArb(INPUT_FIELDS.hold as Record<string, Field>)),
  capture: fc.tuple(inputArb(INPUT_FIELDS.capture as Record<string, Field>)),
  release: fc.tuple(inputArb(INPUT_FIELDS.release as Record<string, Field>)),
  extendHold: fc.tuple(inputArb(INPUT_FIELDS.extendHold as Record<string, Field>)),
  getBalance: fc.tuple(stringArg(account)),
  history: fc.tuple(stringArg(account), inputArb(INPUT_FIELDS.history as Record<string, Field>, { optional: true })),
  keySpend: fc.tuple(stringArg(label), inputArb(INPUT_FIELDS.keySpend as Record<string, Field>, { optional: true })),
  holds: fc.tuple(stringArg(account)),
  lots: fc.tuple(stringArg(account)),
  expiring: fc.tuple(stringArg(account), inputArb(INPUT_FIELDS.expiring as Record<string, Field>)),
  allocations: fc.tuple(stringArg(entryId)),
  sweep: fc.tuple(inputArb(INPUT_FIELDS.sweep as Record<string, Field>, { optional: true })),
  'analytics.spend': fc.tuple(inputArb(INPUT_FIELDS['analytics.spend'] as Record<string, Field>)),
  'analytics.top': fc.tuple(inputArb(INPUT_FIELDS['analytics.top'] as Record<string, Field>)),
  'analytics.summary': fc.tuple(inputArb(INPUT_FIELDS['analytics.summary'] as Record<string, Field>)),
  entries: fc.tuple(inputArb(INPUT_FIELDS.entries as Record<string, Field>, { optional: true })),
  entry: fc.tuple(stringArg(entryId)),
  'caps.set': fc.tuple(inputArb(INPUT_FIELDS['caps.set'] as Record<string, Field>)),
  'caps.remove': fc.tuple(inputArb(INPUT_FIELDS['caps.remove'] as Record<string, Field>)),
  'caps.list': fc.tuple(stringArg(account)),
  'caps.floor': fc.tuple(inputArb(INPUT_FIELDS['caps.floor'] as Record<string, Field>)),
  'pricing.publish': fc.tuple(inputArb(INPUT_FIELDS['pricing.publish'] as Record<string, Field>)),
  'pricing.activate': fc.oneof(
    fc.tuple(version.valid),
    fc.tuple(hostileNumber),
    fc.tuple(inputArb(INPUT_FIELDS['pricing.activate'] as Record<string, Field>)),
  ),
  'pricing.active': fc.constant([]),
  'pricing.get': fc.oneof(fc.tuple(version.valid), fc.tuple(hostileValue)),
  'pricing.history': fc.constant([]),
  'pricing.quote': fc.tuple(inputArb(INPUT_FIELDS['pricing.quote'] as Record<string, Field>)),
  charge: fc.tuple(inputArb(INPUT_FIELDS.charge as Record<string, Field>)),
  'plans.define': fc.tuple(inputArb(INPUT_FIELDS['plans.define'] as Record<string, Field>)),
  'plans.get': fc.oneof(
    fc.tuple(stringArg(planId)),
    fc.tuple(stringArg(planId), inputArb(INPUT_FIELDS['plans.get'] as Record<string, Field>, { optional: true })),
  ),
  'plans.list': fc.constant([]),
  'plans.subscribe': fc.tuple(inputArb(INPUT_FIELDS['plans.subscribe'] as Record<string, Field>)),
  'plans.change': fc.tuple(inputArb(INPUT_FIELDS['plans.change'] as Record<string, Field>)),
  'plans.cancel': fc.tuple(inputArb(INPUT_FIELDS['plans.cancel'] as Record<string, Field>)),
  'plans.subscription': fc.tuple(stringArg(account)),
  'plans.entitlements': fc.tuple(stringArg(account)),
  'plans.checkFeature': fc.tuple(stringArg(account), stringArg(featureKey)),
  'teams.create': fc.tuple(inputArb(INPUT_FIELDS['teams.create'] as Record<string, Field>)),
  'teams.addMember': fc.tuple(inputArb(INPUT_FIELDS['teams.addMember'] as Record<string, Field>)),
  'teams.setRole': fc.tuple(inputArb(INPUT_FIELDS['teams.setRole'] as Record<string, Field>)),
  'teams.removeMember': fc.tuple(inputArb(INPUT_FIELDS['teams.removeMember'] as Record<string, Field>)),
  'teams.get': fc.tuple(stringArg(teamName)),
  'teams.members': fc.tuple(stringArg(teamName)),
  'teams.memberships': fc.tuple(stringArg(person)),
  transfer: fc.tuple(inputArb(INPUT_FIELDS.transfer as Record<string, Field>)),
  'alerts.set': fc.tuple(inputArb(INPUT_FIELDS['alerts.set'] as Record<string, Field>)),
  'alerts.remove': fc.tuple(inputArb(INPUT_FIELDS['alerts.remove'] as Record<string, Field>)),
  'alerts.list': fc.tuple(stringArg(account)),
  'events.list': fc.tuple(inputArb(INPUT_FIELDS['events.list'] as Record<string, Field>, { optional: true })),
  'events.get': fc.oneof(fc.tuple(fc.integer({ min: 0, max: 60 })), fc.tuple(hostileValue)),
  batch: fc.tuple(
    fc.oneof(
      { weight: 12, arbitrary: fc.array(batchOp, { maxLength: 6 }) },
      // Holes (finding 4): each must be rejected, not skipped.
      { weight: 2, arbitrary: fc.sparseArray(batchOp, { maxLength: 6 }) },
      { weight: 1, arbitrary: hostileValue },
      { weight: 1, arbitrary: tooManyOps },
    ),
  ),
};

/** One fuzzed call: its arguments, sometimes a stray extra one, and how far the clock moves first. */
export function callArb(method: Method): fc.Arbitrary<{ args: unknown[]; advance: number }> {
  return fc.record({
    args: fc.tuple(ARGS[method], fc.option(hostileValue, { freq: 10 })).map(([a, extra]) => (extra === null ? a : [...a, extra])),
    // Mostly still, sometimes seconds, rarely an hour or days: holds and lots lapse now and
    // then, not all at once (a mean step of about an hour over a method's runs).
    advance: fc.oneof(
      { weight: 40, arbitrary: fc.constant(0) },
      { weight: 16, arbitrary: fc.integer({ min: 1, max: 60_000 }) },
      { weight: 3, arbitrary: fc.integer({ min: 1, max: 3_600_000 }) },
      { weight: 1, arbitrary: fc.integer({ min: 1, max: 3 * 86_400_000 }) },
    ),
  });
}
