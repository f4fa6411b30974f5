import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LedgerError, MAX_AMOUNT, type PriceRounding, type RateCard } from '../src/index.js';
import { APP_LINKS_DDL, linkInsert } from './support/app-links.js';
import { DRIVERS, manualClock, type TestDb } from './support/drivers.js';
import { type AlertSpec, EventsOracle, render } from './support/events-oracle.js';
import { type Arrival, appliedInCall, CONFIG_OPS, MONEY_KINDS, Model, type ModelCapView, type Op, type Outcome } from './support/model.js';

const ACCOUNTS = ['a', 'b', 'c'];
const KEYS = ['k1', 'k2', 'k3'];

// Small amounts make exact boundaries (balance, balance ± 1) common; MAX_AMOUNT probes overflow;
// amounts from 10^15 to 2^53 − 1 check that every path (draw, give-back, expiry) keeps them
// exact on drivers that bind numbers as REAL.
const BIG = fc.integer({ min: 1_000_000_000_000_000, max: MAX_AMOUNT - 1 });
const amount = fc.oneof(
  { weight: 8, arbitrary: fc.integer({ min: 1, max: 12 }) },
  { weight: 2, arbitrary: fc.integer({ min: 13, max: 400 }) },
  { weight: 1, arbitrary: BIG },
  { weight: 1, arbitrary: fc.constant(MAX_AMOUNT) },
);
/** Relative amounts are resolved against the model at the moment the op runs. */
const rel = fc.record({ rel: fc.constantFrom(-1, 0, 1) });
const spend = fc.oneof({ weight: 3, arbitrary: amount }, { weight: 2, arbitrary: rel });
const account = fc.constantFrom(...ACCOUNTS);
const key = fc.constantFrom(...KEYS);
const maybe = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: undefined });
/** Spend caps: small limits (so amounts reach them), filters on model and actor, all three windows. */
const capWindow = fc.constantFrom('day' as const, 'week' as const, 'month' as const);
// A filter on a cap is the exception (most caps bound all spend), an attribution on a spend is common.
const capModel = fc.oneof({ weight: 3, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: fc.constantFrom('m1', 'm2') });
const capMember = fc.oneof({ weight: 3, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: fc.constantFrom('u1', 'u2') });
const spender = {
  model: fc.option(fc.constantFrom('m1', 'm2'), { nil: undefined, freq: 3 }),
  actor: fc.option(fc.constantFrom('u1', 'u2'), { nil: undefined, freq: 3 }),
};
const HOUR = 3_600_000;
/** Pricing: two models, two meters; prices with few and many decimals, 0 included (free charges happen). */
const PRICED_MODELS = ['p1', 'p2'];
const priceArb = fc.constantFrom('0.1', '0.25', '0.7', '1', '3', '0.000001', '0.333333333333', '0');
const cardArb: fc.Arbitrary<RateCard> = fc.record({
  p1: fc.record({ in: priceArb, out: priceArb }),
  p2: fc.record({ in: priceArb, out: priceArb }),
});
const roundingArb = fc.constantFrom<PriceRounding>('up', 'half_even', 'down');
const usageArb = fc.oneof(
  fc.record({ in: fc.integer({ min: 0, max: 40 }) }),
  fc.record({ in: fc.integer({ min: 0, max: 40 }), out: fc.integer({ min: 0, max: 40 }) }),
  fc.record({ out: fc.integer({ min: 0, max: 1_000_000 }) }),
);
/** Spends of the caps property: mostly below the caps' small limits, sometimes relative to what is available. */
const capSpend = fc.oneof({ weight: 4, arbitrary: fc.integer({ min: 1, max: 15 }) }, { weight: 1, arbitrary: rel });
/** Every run of the caps property starts with credits on each account: the caps, not the balance, should refuse most. */
const FUNDED: Op[] = ACCOUNTS.map((a) => ({ op: 'grant', account: a, amount: 300 }));
/**
 * Whether step i's grant or debit (or replay of one) carries `with`: drawn apart from the
 * operations, so the operation sequences (and the coverage they reach) stay as they were.
 */
const MAX_STEPS = 80;
const apps = fc.array(fc.boolean(), { minLength: MAX_STEPS, maxLength: MAX_STEPS });

type Rel = { rel: number };
type GenOp =
  | (Op extends infer O
      ? O extends { op: 'grant' }
        ? never
        : O extends { amount?: number }
          ? Omit<O, 'amount'> & { amount?: number | Rel }
          : O
      : never)
  // `fill`: as much as takes the account's balance to MAX_AMOUNT − fill (transfers to it then overflow).
  | (Omit<Extract<Op, { op: 'grant' }>, 'expiresAt' | 'amount'> & { expiresIn?: number; amount: number | { fill: number } })
  | { op: 'replay'; n: number };

const opArb: fc.Arbitrary<GenOp> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      op: fc.constant('grant' as const),
      account,
      amount,
      key: maybe(key),
      // Lots: some expire within the time the clock will move, some have a priority.
      expiresIn: fc.option(fc.integer({ min: 1, max: 3000 }), { nil: undefined, freq: 2 }),
      priority: fc.option(fc.constantFrom(0, 10, 50, 90), { nil: undefined, freq: 2 }),
    }),
  },
  { weight: 4, arbitrary: fc.record({ op: fc.constant('debit' as const), account, amount: spend }) },
  { weight: 4, arbitrary: fc.record({ op: fc.constant('debitOnce' as const), account, amount: spend, key }) },
  {
    weight: 3,
    arbitrary: fc.record({
      op: fc.constant('refund' as const),
      target: fc.nat(),
      amount: maybe(fc.oneof(fc.integer({ min: 1, max: 300 }), rel, BIG)),
      key: maybe(key),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant('adjust' as const),
      account,
      delta: fc.integer({ min: -300, max: 300 }).filter((d) => d !== 0),
      key: maybe(key),
    }),
  },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('hold' as const), account, amount: spend, ttl: fc.integer({ min: 1, max: 3000 }) }) },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant('capture' as const),
      target: fc.nat(),
      amount: maybe(fc.oneof(fc.integer({ min: 1, max: 40 }), rel)),
    }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('release' as const), target: fc.nat() }) },
  {
    weight: 2,
    arbitrary: fc.record({ op: fc.constant('advance' as const), ms: fc.oneof(fc.integer({ min: 1, max: 1500 }), fc.constant(1)) }),
  },
  { weight: 1, arbitrary: fc.constant({ op: 'sweep' as const }) },
  // Retries: re-send an earlier keyed call of this run, parameters unchanged.
  { weight: 3, arbitrary: fc.record({ op: fc.constant('replay' as const), n: fc.nat() }) },
);

/**
 * The pricing property: the ops above with charges priced by the active card (the model prices
 * with its own BigInt rationals, test/support/rational.ts) and a new card now and then.
 */
const chargeOpArb: fc.Arbitrary<GenOp> = fc.oneof(
  { weight: 5, arbitrary: opArb },
  {
    weight: 3,
    arbitrary: fc.record({
      op: fc.constant('charge' as const),
      account,
      model: fc.constantFrom(...PRICED_MODELS),
      usage: usageArb,
      key,
      actor: spender.actor,
    }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('publish' as const), rates: cardArb, rounding: roundingArb }) },
);

/** A run's first card: charges price with it until the run publishes another. */
const FIRST_CARD: Op[] = [{ op: 'publish', rates: { p1: { in: '0.1', out: '0.7' }, p2: { in: '0.25', out: '3' } }, rounding: 'up' }];
const COVERAGE = [
  'event balance.low',
  'grant:granted',
  'grant:replayed',
  'grant:overflow',
  'debit:debited',
  'debit:insufficient',
  'debitOnce:debited',
  'debitOnce:replayed',
  'debitOnce:insufficient',
  'debitOnce:idempotency_conflict',
  'refund:refunded',
  'refund:replayed',
  'refund:exceeds_refundable',
  'refund:not_refundable',
  'refund:idempotency_conflict',
  'adjust:adjusted',
  'adjust:insufficient',
  'adjust:replayed',
  'hold:held',
  'hold:insufficient',
  'capture:captured',
  'capture:replayed',
  'capture:insufficient',
  'capture:hold_expired',
  'capture:hold_closed',
  'release:released',
  'release:replayed',
  'release:hold_closed',
  'release:hold_expired',
];

const CHARGE_COVERAGE = [
  'charge:debited',
  'charge:replayed',
  'charge:insufficient',
  'charge:free',
  'charge:idempotency_conflict',
  'publish:published',
  'refund:refunded',
];

/**
 * The spend-caps property: caps (all windows, deny / warn / notify, model and member
 * filters) and floors set, changed and removed among debits, holds, captures and refunds
 * attributed to models and actors, with the clock crossing days, ISO weeks and months.
 */
const capsOpArb: fc.Arbitrary<GenOp> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({
      op: fc.constant('grant' as const),
      account,
      amount: fc.integer({ min: 20, max: 200 }),
      key: maybe(key),
      expiresIn: fc.option(fc.integer({ min: 1, max: 3000 }), { nil: undefined, freq: 4 }),
      priority: fc.constant(undefined),
    }),
  },
  { weight: 4, arbitrary: fc.record({ op: fc.constant('debit' as const), account, amount: capSpend, ...spender }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('debitOnce' as const), account, amount: capSpend, key, ...spender }) },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant('refund' as const),
      target: fc.nat(),
      amount: maybe(fc.oneof(fc.integer({ min: 1, max: 30 }), rel)),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      op: fc.constant('hold' as const),
      account,
      amount: capSpend,
      ttl: fc.integer({ min: 1, max: 20 * HOUR }),
      ...spender,
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      op: fc.constant('capture' as const),
      target: fc.nat(),
      amount: maybe(fc.oneof(fc.integer({ min: 1, max: 40 }), rel)),
    }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('release' as const), target: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('advance' as const), ms: fc.integer({ min: 1, max: 3 * HOUR }) }) },
  // Across cap windows: an hour to nine days (days, ISO weeks and months roll over).
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant('advance' as const),
      ms: fc.constantFrom(HOUR, 6 * HOUR, 24 * HOUR, 3 * 24 * HOUR, 9 * 24 * HOUR),
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      op: fc.constant('capSet' as const),
      account,
      window: capWindow,
      limit: fc.oneof({ weight: 6, arbitrary: fc.integer({ min: 5, max: 40 }) }, { weight: 1, arbitrary: fc.constantFrom(0, 1_000) }),
      action: fc.constantFrom('deny' as const, 'deny' as const, 'warn' as const, 'warn' as const, 'notify' as const),
      model: capModel,
      member: capMember,
      key: maybe(key),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant('capRemove' as const),
      account,
      window: capWindow,
      model: capModel,
      member: capMember,
      key: maybe(key),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant('floor' as const),
      account,
      floor: fc.oneof(fc.integer({ min: -60, max: 20 }), fc.constant(0)),
      key: maybe(key),
    }),
  },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('replay' as const), n: fc.nat() }) },
);

const CAPS_COVERAGE = [
  'event balance.low',
  'event cap.warning',
  'event cap.reached',
  'debit:debited',
  'debit:capped',
  'debit:warned',
  'debitOnce:capped',
  'debitOnce:replayed',
  'hold:held',
  'hold:capped',
  'hold:warned',
  'capture:captured',
  'capture:capped',
  'refund:refunded',
  'capSet:set',
  'capSet:replayed',
  'capSet:idempotency_conflict',
  'capRemove:removed',
  'capRemove:absent',
  'floor:set',
  'floor:replayed',
];

/**
 * The teams-and-transfers property: accounts a, b, c may become teams (a is one from the
 * start, owned by u1), users u1…u4 are members, viewers, outsiders or removed members (and
 * accounts too: transfers go to and from them). Spends name actors (or not), transfers run
 * in every direction between accounts holding expiring and prioritised lots, member caps
 * count transfers out, keyed transfers replay or conflict, refunds of transfers are refused.
 */
const TEAMS = ['a', 'b', 'c'];
const USERS = ['u1', 'u2', 'u3', 'u4'];
const HOLDERS = [...TEAMS, 'u1', 'u2'];
const holder = fc.constantFrom(...HOLDERS);
/** Where spends go: often team a (so the guard is met often), else any account. */
const spendFrom = fc.oneof({ weight: 2, arbitrary: fc.constant('a') }, { weight: 3, arbitrary: holder });
const user = fc.constantFrom(...USERS);
/** Mostly a (a team from the start), sometimes b or c (teams once created). */
const teamAccount = fc.oneof({ weight: 3, arbitrary: fc.constant('a') }, { weight: 2, arbitrary: fc.constantFrom('b', 'c') });
const role = fc.constantFrom('admin' as const, 'member' as const, 'viewer' as const);
/** Mostly an actor (a member or not), sometimes none: the app's own call. */
const teamActor = fc.option(user, { nil: undefined, freq: 4 });
const teamSpend = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 1, max: 40 }) },
  { weight: 2, arbitrary: rel },
  { weight: 1, arbitrary: fc.integer({ min: 61, max: 400 }) },
  { weight: 1, arbitrary: BIG },
);
const teamsOpArb: fc.Arbitrary<GenOp> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({
      op: fc.constant('grant' as const),
      account: holder,
      amount: fc.oneof(
        { weight: 12, arbitrary: fc.integer({ min: 1, max: 200 }) },
        { weight: 1, arbitrary: BIG },
        { weight: 1, arbitrary: fc.constant(MAX_AMOUNT) },
        { weight: 3, arbitrary: fc.record({ fill: fc.integer({ min: 0, max: 10 }) }) },
      ),
      key: maybe(key),
      expiresIn: fc.option(fc.integer({ min: 1, max: 3000 }), { nil: undefined, freq: 2 }),
      priority: fc.option(fc.constantFrom(0, 10, 50, 90), { nil: undefined, freq: 2 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant('teamCreate' as const),
      team: teamAccount,
      owner: fc.constantFrom('u1', 'u1', 'u2', 'u4'),
      name: fc.constant('T'),
    }),
  },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('teamAdd' as const), team: teamAccount, member: user, role, actor: teamActor }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('teamRole' as const), team: teamAccount, member: user, role, actor: teamActor }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('teamRemove' as const), team: teamAccount, member: user, actor: teamActor }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('debit' as const), account: spendFrom, amount: teamSpend, actor: teamActor }) },
  {
    weight: 2,
    arbitrary: fc.record({ op: fc.constant('debitOnce' as const), account: holder, amount: teamSpend, key, actor: teamActor }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      op: fc.constant('hold' as const),
      account: spendFrom,
      amount: teamSpend,
      ttl: fc.integer({ min: 1, max: 20_000 }),
      actor: teamActor,
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      op: fc.constant('capture' as const),
      target: fc.nat(),
      amount: maybe(fc.oneof(fc.integer({ min: 1, max: 40 }), rel)),
      // The actor named on the capture (else the hold's): often a viewer or an outsider.
      actor: fc.option(fc.constantFrom(...USERS, 'u3', 'u4'), { nil: undefined, freq: 3 }),
      open: fc.boolean(),
    }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('release' as const), target: fc.nat() }) },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant('charge' as const),
      account: spendFrom,
      model: fc.constantFrom(...PRICED_MODELS),
      usage: usageArb,
      key,
      actor: teamActor,
    }),
  },
  {
    weight: 6,
    arbitrary: fc
      .record({ op: fc.constant('transfer' as const), from: spendFrom, to: holder, amount: teamSpend, key: maybe(key), actor: teamActor })
      .filter((t) => t.from !== t.to),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant('capSet' as const),
      account: holder,
      window: fc.constant('day' as const),
      limit: fc.integer({ min: 5, max: 40 }),
      action: fc.constantFrom('deny' as const, 'deny' as const, 'warn' as const),
      model: fc.constant(undefined),
      member: fc.option(user, { nil: undefined, freq: 3 }),
      key: fc.constant(undefined),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant('refund' as const),
      target: fc.nat(),
      amount: maybe(fc.integer({ min: 1, max: 30 })),
      key: fc.constant(undefined),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant('adjust' as const),
      account: holder,
      delta: fc.integer({ min: -50, max: 50 }).filter((d) => d !== 0),
      key: fc.constant(undefined),
    }),
  },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('advance' as const), ms: fc.integer({ min: 1, max: 1500 }) }) },
  { weight: 1, arbitrary: fc.constant({ op: 'sweep' as const }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('replay' as const), n: fc.nat() }) },
);

/** Every run of the teams property starts with funded accounts (lots among them), a card, and team a. */
const TEAM_PRELUDE = (now: number): Op[] => [
  ...FIRST_CARD,
  { op: 'grant', account: 'a', amount: 200 },
  { op: 'grant', account: 'a', amount: 40, priority: 10 },
  { op: 'grant', account: 'a', amount: 60, expiresAt: now + 2_500, priority: 50 },
  { op: 'grant', account: 'b', amount: 150 },
  { op: 'grant', account: 'b', amount: 50, expiresAt: now + 1_500, priority: 10 },
  { op: 'grant', account: 'c', amount: 100 },
  { op: 'grant', account: 'u1', amount: 30, priority: 90 },
  { op: 'grant', account: 'u2', amount: 80, expiresAt: now + 4_000 },
  { op: 'teamCreate', team: 'a', owner: 'u1', name: 'T' },
  { op: 'teamAdd', team: 'a', member: 'u2', role: 'member' },
  { op: 'teamAdd', team: 'a', member: 'u3', role: 'viewer', actor: 'u1' },
  // A member cap on u2's spend of a (transfers out count), and a warn cap on all of b's.
  { op: 'capSet', account: 'a', window: 'day', limit: 30, action: 'deny', member: 'u2' },
  { op: 'capSet', account: 'b', window: 'day', limit: 40, action: 'warn' },
];

const TEAMS_COVERAGE = [
  'teamCreate:created',
  'teamCreate:replayed',
  'teamCreate:already_exists',
  'teamAdd:added',
  'teamAdd:replayed',
  'teamAdd:already_exists',
  'teamAdd:forbidden',
  'teamAdd:not_found',
  'teamRole:updated',
  'teamRole:replayed',
  'teamRole:forbidden',
  'teamRole:not_found',
  'teamRemove:removed',
  'teamRemove:absent',
  'teamRemove:forbidden',
  'debit:forbidden',
  'debit:debited by a team member',
  'debitOnce:forbidden',
  'hold:forbidden',
  'capture:forbidden',
  'charge:forbidden',
  'transfer:transferred',
  'transfer:transferred from a team by a member',
  'transfer:transferred with lots',
  'transfer:transferred to a team',
  'transfer:replayed',
  'transfer:insufficient',
  'transfer:capped',
  'transfer:forbidden',
  'transfer:idempotency_conflict',
  'transfer:overflow',
  'transfer:warned',
  'refund:not_refundable',
];

/** Calls carrying `with` must meet both sides: applied (an app row) and every way of not applying (none). */
const WITH_COVERAGE = [
  'grant:granted',
  'grant:replayed',
  'grant:overflow',
  'grant:idempotency_conflict',
  'debit:debited',
  'debit:insufficient',
  'debitOnce:debited',
  'debitOnce:replayed',
  'debitOnce:insufficient',
  'debitOnce:idempotency_conflict',
].map((l) => `with ${l}`);

let run = 0;

/**
 * Model-based: random sequences of grants (with and without lots), debits, idempotent
 * replays, refunds, adjustments, holds, captures, releases, clock moves and sweeps, on
 * each driver, against the reference model. After every step the outcome, error code and
 * balance numbers agree; after every sequence all balances and verify() agree.
 *
 * Grants and debits (replays of them too) may carry `with`: an insert into the app's own
 * table, under a tag of their step. After every step the app's rows of the run are exactly
 * the steps that carried one and that the model says applied in that call — no row for a
 * replay, an insufficient debit or a refused call.
 *
 * The teams family adds teams (create, members added, roles changed, members removed), spends
 * naming actors (members, viewers, outsiders, removed members) and transfers in every
 * direction; the model predicts forbidden / insufficient / capped / transferred exactly, the
 * balances of both sides and the lots (priority, expiry) that arrive. After each of its steps
 * credits are conserved, in the database and in the model (see conserves()).
 */
/** Low-balance thresholds set on each run's accounts (after its prelude): crossed often by the amounts drawn. */
const ALERTS: AlertSpec = { a: [20, 3], b: [7] };
/** The caps family's accounts start with 300 each. */
const CAPS_ALERTS: AlertSpec = { a: [250, 100], b: [290], c: [5] };

describe.each(DRIVERS)('model-based property on $name', (driver) => {
  let db: TestDb;
  const clock = manualClock();
  /** The last event id seen: each step reads the events written since. */
  let lastEvent = 0;
  async function newEvents() {
    const out = [];
    for (;;) {
      const page = await db.ledger.events.list({ after: lastEvent, limit: 1000 });
      out.push(...page.events);
      lastEvent = page.cursor;
      if (!page.hasMore) return out;
    }
  }
  beforeAll(async () => {
    db = await driver.open({ clock: clock.now });
    await db.exec(APP_LINKS_DDL);
  });
  afterAll(() => db.close());

  /**
   * The same seeded sequences on every driver: the full 40 runs (and the coverage check) on
   * better-sqlite3, where a step costs microseconds; the first 12 on libSQL and bun (whose
   * runs prove the driver path, not the generator's breadth) and 6 shorter ones on D1.
   */
  it('agrees with the reference model after every step', () => {
    const full = driver.name.startsWith('better-sqlite3');
    return agrees(opArb, {
      runs: full ? 40 : driver.slow ? 6 : 12,
      steps: driver.slow ? 25 : MAX_STEPS,
      coverage: full ? [...COVERAGE, ...WITH_COVERAGE] : [],
    });
  });

  /**
   * A family's property: the same seeded sequences on every driver, the full run (and its
   * coverage check) where a step costs microseconds, a prefix of it elsewhere, to keep the
   * suite's time in bounds. `runs`: on better-sqlite3, on libSQL and bun, on D1.
   */
  const family = (
    arb: fc.Arbitrary<GenOp>,
    runs: [number, number, number],
    coverage: string[],
    prelude: Prelude,
    o: { teams?: boolean; steps?: [number, number]; alerts?: AlertSpec } = {},
  ) => {
    const full = driver.name.startsWith('better-sqlite3');
    return agrees(arb, {
      runs: full ? runs[0] : driver.slow ? runs[2] : runs[1],
      steps: driver.slow ? (o.steps?.[1] ?? 20) : (o.steps?.[0] ?? 60),
      coverage: full ? coverage : [],
      prelude,
      teams: o.teams,
      alerts: o.alerts,
    });
  };

  it('with charges and new rate cards (priced by the model with its own rationals): agrees after every step', () =>
    family(chargeOpArb, [30, 10, 3], CHARGE_COVERAGE, FIRST_CARD));

  it('with spend caps and floors (windows crossed by the clock, filters, holds, refunds): agrees after every step', () =>
    family(capsOpArb, [40, 15, 4], CAPS_COVERAGE, FUNDED, { alerts: CAPS_ALERTS }));

  it('with teams and transfers (roles changing, actors on spends, lots moved both ways): agrees and conserves after every step', () =>
    family(teamsOpArb, [40, 12, 3], TEAMS_COVERAGE, TEAM_PRELUDE, { teams: true, steps: [70, 20] }));

  async function agrees(
    arb: fc.Arbitrary<GenOp>,
    o: { runs: number; steps: number; coverage: string[]; prelude?: Prelude; teams?: boolean; alerts?: AlertSpec },
  ) {
    const seen = new Map<string, number>();
    await fc.assert(
      fc.asyncProperty(fc.array(arb, { minLength: 5, maxLength: o.steps, size: 'max' }), apps, async (ops, withApp) => {
        // Each run gets its own accounts (keys are per account), so one database serves all runs.
        const ns = `r${++run}:`;
        const model = new Model(clock.now());
        const keyed: Op[] = [];
        /** The app's rows this run must have: tag → "account:amount". */
        const links = new Map<string, string>();
        const prelude = typeof o.prelude === 'function' ? o.prelude(clock.now()) : (o.prelude ?? []);
        for (const op of prelude) {
          const actual = await perform(db, ns, op, undefined, clock, undefined);
          expect(actual).toEqual(model.apply(withNs(op, ns), undefined, 'entryId' in actual ? actual.entryId : undefined));
        }
        if (o.teams) await conserves(db, ns, model, 'after the prelude');
        // Alerts on the run's accounts: every step's balance.low and cap events must be the model's crossings, exactly.
        const alerts = o.alerts ?? ALERTS;
        for (const [a, ts] of Object.entries(alerts)) {
          for (const t of ts) {
            const r = await db.ledger.alerts.set({ account: ns + a, lowBalance: t });
            if (r.outcome !== 'set') throw new Error(`alerts.set: ${r.outcome}`);
            model.config(ns + a, 'alert_set', r.entry.id);
          }
        }
        const oracle = new EventsOracle(
          ACCOUNTS.map((a) => ns + a),
          new Map(Object.entries(alerts).map(([a, ts]) => [ns + a, ts])),
        );
        await newEvents();
        for (const [step, raw] of ops.entries()) {
          const tag = `${ns}${step}`;
          if (raw.op === 'replay' && keyed.length === 0) continue;
          const op = raw.op === 'replay' ? (keyed[raw.n % keyed.length] as Op) : resolve(raw, model, ns);
          if ('key' in op && op.key !== undefined) keyed.push(op);
          const target = targetOf(op, model);
          if ((op.op === 'capture' || op.op === 'release') && target === undefined) continue;
          const app = withApp[step] === true && (op.op === 'grant' || op.op === 'debit' || op.op === 'debitOnce') ? tag : undefined;
          const arrivals: string[] = [];
          const was = oracle.before(model);
          const actual = await perform(db, ns, op, target, clock, app, arrivals);
          const modelled = model.apply(withNs(op, ns), target, 'entryId' in actual ? actual.entryId : undefined, arrivals);
          const written = render(await newEvents());
          // Moving the clock writes nothing: a lot lapsing is no crossing inside a writing unit.
          const due = op.op === 'advance' ? new Map() : oracle.expected(model, was, model.now);
          expect(written, `events of ${tag} ${JSON.stringify(op)}`).toEqual(due);
          for (const line of [...written.values()].flat()) {
            const k = `event ${line.split(' ')[0]}`;
            seen.set(k, (seen.get(k) ?? 0) + 1);
          }
          // Config calls answer with an outcome and an entry only.
          const expected = CONFIG_OPS.has(op.op) && 'outcome' in modelled ? configOutcome(modelled) : modelled;
          expect(actual, JSON.stringify(op)).toEqual(expected);
          // The caps of the account the step touched: spent in the current window and held, as the model counts them.
          if ('account' in op && (CONFIG_OPS.has(op.op) || model.capsOf(ns + op.account).length > 0)) {
            expect(await capsOf(db, ns + op.account), `caps after ${JSON.stringify(op)}`).toEqual(model.capsOf(ns + op.account));
          }
          if (app !== undefined && 'account' in op && 'amount' in op && appliedInCall(expected))
            links.set(tag, `${ns}${op.account}:${op.amount}`);
          expect(await appRows(db, ns), `app rows after ${tag} ${JSON.stringify(op)}`).toEqual(expectedRows(links));
          const label = `${op.op}:${'error' in actual ? actual.error : actual.outcome}`;
          seen.set(label, (seen.get(label) ?? 0) + 1);
          if (o.teams) {
            await conserves(db, ns, model, `after ${tag} ${JSON.stringify(op)}`);
            await teamsAgree(db, ns, op, model, `after ${tag} ${JSON.stringify(op)}`);
            for (const l of teamLabels(op, actual, model, ns)) seen.set(`${label} ${l}`, (seen.get(`${label} ${l}`) ?? 0) + 1);
          }
          if ('warnings' in actual) seen.set(`${op.op}:warned`, (seen.get(`${op.op}:warned`) ?? 0) + 1);
          if (app !== undefined) seen.set(`with ${label}`, (seen.get(`with ${label}`) ?? 0) + 1);
        }
        for (const a of ACCOUNTS) {
          const b = await db.ledger.getBalance(ns + a);
          expect({ balance: b.balance, held: b.held, available: b.available, floor: b.floor }, `balance of ${a}`).toEqual(
            model.balanceOf(ns + a),
          );
        }
      }),
      { numRuns: o.runs, seed: Number(process.env.FC_SEED ?? 4242) },
    );
    // The generators must reach every interesting branch, or a passing run proves little.
    if (!driver.slow) {
      if (process.env.PROPERTY_COVERAGE) console.log(`[property] ${driver.name}: ${JSON.stringify(Object.fromEntries(seen))}`);
      const labels = [...seen.keys()];
      for (const must of o.coverage) expect(labels, `never reached ${must}: ${JSON.stringify(Object.fromEntries(seen))}`).toContain(must);
    }
    const v = await db.ledger.verify();
    expect(v.problems).toEqual([]);
    expect(v.ok).toBe(true);
    // The projections are exactly what a replay of the log derives, caps' counters included.
    const projections = async () => ({
      lots: await db.all('SELECT * FROM credit_lot ORDER BY id'),
      holds: await db.all('SELECT * FROM credit_hold ORDER BY id'),
      caps: await db.all('SELECT * FROM credit_cap ORDER BY id'),
      floors: await db.all('SELECT * FROM credit_floor ORDER BY account'),
      pricing: (await db.all('SELECT * FROM credit_price_version ORDER BY version')).map((v) => ({
        ...v,
        rates: JSON.parse(String(v.rates)),
      })),
      active: await db.all('SELECT * FROM credit_price_active'),
    });
    const before = await projections();
    const rebuilt = await db.ledger.rebuild();
    expect(rebuilt.problems).toEqual([]);
    expect(await projections()).toEqual(before);
  }
});

/** Entries (refunds) and holds (capture, release) are picked among what the model knows. */
function targetOf(op: Op, model: Model): string | undefined {
  if (op.op === 'refund') {
    // Mostly refundable entries, sometimes any entry (grants, holds…: not_refundable).
    const refundable = model.entries.filter((e) => e.kind === 'debit' || e.kind === 'capture');
    const pool = op.target % 4 !== 0 && refundable.length > 0 ? refundable : model.entries;
    return pool.length === 0 ? undefined : pool[Math.floor(op.target / 4) % pool.length]?.id;
  }
  if (op.op === 'capture' || op.op === 'release') {
    const pool = op.op === 'capture' && op.open ? model.holds.filter((h) => h.status === 'open' && h.expiresAt > model.now) : model.holds;
    return pool.length === 0 ? undefined : pool[op.target % pool.length]?.id;
  }
  return undefined;
}

/** Turns relative amounts into absolute ones: available + rel for spends, remaining/held + rel for refunds/captures. */
function resolve(op: Exclude<GenOp, { op: 'replay' }>, model: Model, ns: string): Op {
  // Expiries are absolute in the API: fixed once, so a retry resends the same instant.
  if (op.op === 'grant') {
    const { expiresIn, amount, ...rest } = op;
    const absolute = typeof amount === 'number' ? amount : Math.max(1, MAX_AMOUNT - model.postedOf(ns + op.account) - amount.fill);
    return { ...rest, amount: absolute, expiresAt: expiresIn === undefined ? undefined : model.now + expiresIn };
  }
  const a = 'amount' in op ? op.amount : undefined;
  if (typeof a !== 'object' || a === null) return op as Op;
  let base = 0;
  if (op.op === 'refund') {
    base = 10;
  } else if (op.op === 'capture') {
    const h = model.holds.length === 0 ? undefined : model.holds[op.target % model.holds.length];
    base = h === undefined ? 1 : h.amount + model.balanceOf(h.account).available;
  } else if ('account' in op) {
    base = model.balanceOf(ns + op.account).available;
  } else if (op.op === 'transfer') {
    base = model.balanceOf(ns + op.from).available;
  }
  return { ...op, amount: Math.min(MAX_AMOUNT, Math.max(1, base + a.rel)) } as Op;
}

/** Ops a run starts with; a function of the clock's now when they carry times. */
type Prelude = Op[] | ((now: number) => Op[]);

/** The run's accounts: `[ns, ns;)` holds exactly the names that start with `ns` (which ends in ':'). */
const nsRange = (ns: string) => [ns, `${ns.slice(0, -1)};`];

/**
 * Conservation, in the database and in the model, after every step: over the run's accounts,
 * Σ posted balances (each account's last row) = Σ grants − Σ spend (debits + captures) +
 * Σ refunds ± adjustments − Σ expired (expire rows), transfers out and in summing to zero and
 * every other kind moving nothing. Exact (BigInt; SQLite sums in 64-bit integers). And both
 * sides agree: the same posted balance for each account and the same sum for each kind.
 */
async function conserves(db: TestDb, ns: string, model: Model, when: string): Promise<void> {
  const [lo, hi] = nsRange(ns);
  const heads = `FROM credit_entry AS e WHERE e.account >= ? AND e.account < ?
    AND e.seq = (SELECT MAX(x.seq) FROM credit_entry AS x WHERE x.account = e.account)`;
  const [row] = await db.all(
    `SELECT (SELECT json_group_object(e.account, CAST(e.balance AS TEXT)) ${heads}) AS heads,
            (SELECT CAST(COALESCE(SUM(e.balance), 0) AS TEXT) ${heads}) AS posted,
            (SELECT json_group_object(kind, s) FROM (SELECT kind, CAST(SUM(delta) AS TEXT) AS s FROM credit_entry
              WHERE account >= ? AND account < ? GROUP BY kind)) AS kinds`,
    [lo, hi, lo, hi, lo, hi],
  );
  const kinds = Object.fromEntries(
    Object.entries(JSON.parse(String(row?.kinds ?? '{}')) as Record<string, string>).map(([k, v]) => [k, BigInt(v)]),
  );
  const k = (kind: string) => kinds[kind] ?? 0n;
  const posted = BigInt(String(row?.posted));
  const spent = -(k('debit') + k('capture'));
  const expired = -k('expire');
  const identity = k('grant') - spent + k('refund') + k('adjust') - expired + (k('transfer_out') + k('transfer_in'));
  expect(posted, `database: Σ balances ≠ grants − spend + refunds ± adjustments − expired ${when}: ${JSON.stringify(row)}`).toBe(identity);
  expect(k('transfer_out') + k('transfer_in'), `database: transfers do not sum to zero ${when}`).toBe(0n);
  for (const [kind, sum] of Object.entries(kinds))
    if (!(MONEY_KINDS as readonly string[]).includes(kind)) expect(sum, `database: ${kind} rows move credits ${when}`).toBe(0n);
  // The model, on its own terms: the same identity over what it wrote.
  const m = (kind: string) => model.sums.get(kind) ?? 0n;
  const modelPosted = model.accountsWritten().reduce((n, a) => n + BigInt(model.postedOf(a)), 0n);
  expect(modelPosted, `model: Σ balances ≠ Σ of its rows ${when}`).toBe(
    m('grant') + m('debit') + m('capture') + m('refund') + m('adjust') + m('expire') + m('transfer_out') + m('transfer_in'),
  );
  expect(m('transfer_out') + m('transfer_in'), `model: transfers do not sum to zero ${when}`).toBe(0n);
  // And the two agree, account by account and kind by kind.
  const dbHeads = JSON.parse(String(row?.heads ?? '{}')) as Record<string, string>;
  const modelHeads = Object.fromEntries(model.accountsWritten().map((a) => [a, String(model.postedOf(a))]));
  expect(dbHeads, `posted balances ${when}`).toEqual(modelHeads);
  const modelKinds = Object.fromEntries(model.sums);
  const moved = (o: Record<string, bigint>) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== 0n));
  expect(moved(kinds), `Σ delta by kind ${when}`).toEqual(moved(modelKinds));
}

/**
 * After a transfer: the lots of both sides (amount, remaining, priority, expiry, in draw
 * order) and the caps of `from`. After a team call: the team's members (owner first) and the
 * member's memberships, as the model has them.
 */
async function teamsAgree(db: TestDb, ns: string, op: Op, model: Model, when: string): Promise<void> {
  const lotsOf = async (a: string) =>
    (await db.ledger.lots(a)).map((l) => ({ amount: l.amount, remaining: l.remaining, priority: l.priority, expiresAt: l.expiresAt }));
  if (op.op === 'transfer') {
    for (const a of [ns + op.from, ns + op.to]) expect(await lotsOf(a), `lots of ${a} ${when}`).toEqual(model.lotsOf(a));
    if (model.capsOf(ns + op.from).length > 0) expect(await capsOf(db, ns + op.from), `caps ${when}`).toEqual(model.capsOf(ns + op.from));
  }
  if (op.op === 'teamCreate' || op.op === 'teamAdd' || op.op === 'teamRole' || op.op === 'teamRemove') {
    const team = ns + op.team;
    const expected = model.membersOf(team);
    const actual = await db.ledger.teams.members(team).then(
      (ms) => ms.map((m) => ({ member: m.member, role: m.role, since: m.since })),
      (e: unknown) => (e instanceof LedgerError ? e.code : e),
    );
    expect(actual, `members of ${team} ${when}`).toEqual(expected ?? 'not_found');
    const member = ns + ('member' in op ? op.member : op.owner);
    expect(await db.ledger.teams.memberships(member), `memberships of ${member} ${when}`).toEqual(model.membershipsOf(member));
  }
}

/** Finer coverage labels of the teams property: who spent, which way credits moved, whether lots moved. */
function teamLabels(op: Op, actual: Outcome, model: Model, ns: string): string[] {
  if ('error' in actual) return [];
  const isTeam = (a: string) => model.membersOf(ns + a) !== null;
  const out: string[] = [];
  if ((op.op === 'debit' || op.op === 'debitOnce') && actual.outcome === 'debited' && isTeam(op.account) && op.actor !== undefined)
    out.push('by a team member');
  if (op.op === 'transfer' && actual.outcome === 'transferred') {
    if (isTeam(op.from) && op.actor !== undefined) out.push('from a team by a member');
    if (isTeam(op.to)) out.push('to a team');
    if (actual.arrived?.some(([, priority]) => priority !== null)) out.push('with lots');
  }
  return out;
}

const configOutcome = (o: { outcome: string; entryId?: string }): Outcome =>
  o.entryId === undefined ? { outcome: o.outcome } : { outcome: o.outcome, entryId: o.entryId };

/** caps.list, reduced to what the model knows. */
async function capsOf(db: TestDb, account: string): Promise<ModelCapView[]> {
  return (await db.ledger.caps.list(account)).map((c) => ({
    id: c.id,
    window: c.window,
    limit: c.limit,
    action: c.action,
    model: c.model,
    member: c.member,
    spent: c.spent,
    held: c.held,
  }));
}

const expectedRows = (links: ReadonlyMap<string, string>) => [...links].map(([t, l]) => `${t}:${l}`).sort();

/** The app's rows of one run, as "tag:account:amount". */
async function appRows(db: TestDb, ns: string): Promise<string[]> {
  const rows = await db.all('SELECT entry_note, account, amount FROM app_ledger_links WHERE entry_note LIKE ? ORDER BY entry_note', [
    `${ns}%`,
  ]);
  return rows.map((r) => `${String(r.entry_note)}:${String(r.account)}:${Number(r.amount)}`).sort();
}

/** The run's namespace on every name the op carries: accounts, teams, members, owners, actors, cap members. */
function withNs(op: Op, ns: string): Op {
  const named: Record<string, unknown> = { ...op };
  for (const f of ['account', 'team', 'member', 'owner', 'from', 'to', 'actor'])
    if (typeof named[f] === 'string') named[f] = ns + (named[f] as string);
  return named as Op;
}

async function perform(
  db: TestDb,
  ns: string,
  raw: Op,
  target: string | undefined,
  clock: ReturnType<typeof manualClock>,
  appTag: string | undefined,
  arrivals?: string[],
): Promise<Outcome> {
  // Names (accounts, teams, members, actors) are the run's: its namespace first. Cap members
  // and actors too, so a team's member caps and guard see the names its members have.
  const op = withNs(raw, ns);
  /** The app's row under the step's tag, sent `with` the call if the step carries one. */
  const app = (o: { account: string; amount: number }) =>
    appTag === undefined ? undefined : { with: [linkInsert(appTag, o.account, o.amount)] };
  try {
    switch (op.op) {
      case 'advance':
        clock.advance(op.ms);
        return { outcome: 'advanced' };
      case 'sweep': {
        // The sweep is ledger-wide; only this run's accounts are compared: count their new rows.
        const count = async () =>
          (
            await db.all(
              "SELECT COALESCE(SUM(CASE WHEN delta < 0 THEN 1 ELSE 0 END), 0) AS lots, COALESCE(SUM(CASE WHEN delta = 0 THEN 1 ELSE 0 END), 0) AS holds FROM credit_entry WHERE kind = 'expire' AND account LIKE ?",
              [`${ns}%`],
            )
          )[0] ?? {};
        const before = await count();
        await db.ledger.sweep();
        const after = await count();
        return { outcome: `swept ${Number(after.lots) - Number(before.lots)} lots ${Number(after.holds) - Number(before.holds)} holds` };
      }
      case 'grant':
        return norm(
          await db.ledger.grant(
            {
              account: op.account,
              amount: op.amount,
              idempotencyKey: op.key,
              expiresAt: op.expiresAt,
              priority: op.priority,
            },
            app(op),
          ),
        );
      case 'debit':
        return norm(await db.ledger.debitIfCovers({ account: op.account, amount: op.amount, model: op.model, actor: op.actor }, app(op)));
      case 'debitOnce':
        return norm(
          await db.ledger.debitOnceIfCovers(
            { account: op.account, amount: op.amount, idempotencyKey: op.key, model: op.model, actor: op.actor },
            app(op),
          ),
        );
      case 'adjust':
        return norm(await db.ledger.adjust({ account: op.account, delta: op.delta, reason: 'fix', idempotencyKey: op.key }));
      case 'refund':
        return norm(await db.ledger.refund({ entryId: target ?? 'no-such-entry', amount: op.amount, idempotencyKey: op.key }));
      case 'hold':
        return norm(await db.ledger.hold({ account: op.account, amount: op.amount, ttlMs: op.ttl, model: op.model, actor: op.actor }));
      case 'capture':
        return norm(await db.ledger.capture({ holdId: target ?? 'none', amount: op.amount, actor: op.actor }));
      case 'release':
        return norm(await db.ledger.release({ holdId: target ?? 'none' }));
      case 'capSet': {
        const { op: _, account, key, ...setting } = op;
        return config(await db.ledger.caps.set({ account, idempotencyKey: key, ...setting }));
      }
      case 'capRemove': {
        const { op: _, account, key, ...identity } = op;
        return config(await db.ledger.caps.remove({ account, idempotencyKey: key, ...identity }));
      }
      case 'floor':
        return config(await db.ledger.caps.floor({ account: op.account, floor: op.floor, idempotencyKey: op.key }));
      case 'publish':
        return { outcome: (await db.ledger.pricing.publish({ rates: op.rates, rounding: op.rounding })).outcome };
      case 'charge': {
        const r = await db.ledger.charge({
          account: op.account,
          model: op.model,
          usage: op.usage,
          idempotencyKey: op.key,
          actor: op.actor,
        });
        return r.outcome === 'free' ? { outcome: 'free' } : norm(r);
      }
      case 'teamCreate':
        return config(await db.ledger.teams.create({ team: op.team, owner: op.owner, name: op.name }));
      case 'teamAdd':
        return config(await db.ledger.teams.addMember({ team: op.team, member: op.member, role: op.role, actor: op.actor }));
      case 'teamRole':
        return config(await db.ledger.teams.setRole({ team: op.team, member: op.member, role: op.role, actor: op.actor }));
      case 'teamRemove':
        return config(await db.ledger.teams.removeMember({ team: op.team, member: op.member, actor: op.actor }));
      case 'transfer': {
        const r = await db.ledger.transfer({ from: op.from, to: op.to, amount: op.amount, idempotencyKey: op.key, actor: op.actor });
        if (r.outcome !== 'transferred' && r.outcome !== 'replayed') return norm(r);
        arrivals?.push(...r.in.map((e) => e.id));
        // Every arriving row names the leaving one; what arrived is what left.
        for (const e of r.in)
          if (e.ref !== r.out.id || e.account !== op.to || e.kind !== 'transfer_in') throw new Error(`stray arrival ${JSON.stringify(e)}`);
        const arrived: Arrival[] = r.in.map((e) => [e.amount, e.priority, e.expiresAt]);
        return {
          ...norm({ ...r, entry: r.out }),
          to: { balance: r.to.balance, available: r.to.available },
          arrived,
        };
      }
    }
  } catch (e) {
    if (e instanceof LedgerError) return { error: e.code };
    throw e;
  }
}

function norm(r: {
  outcome: string;
  balance: number;
  available: number;
  entry?: { id: string };
  limit?: number;
  spent?: number;
  held?: number;
  warnings?: { cap: { id: string } }[];
}): Outcome {
  const base: Outcome = { outcome: r.outcome, balance: r.balance, available: r.available };
  if (r.outcome === 'capped') return { ...base, headroom: (r.limit ?? 0) - (r.spent ?? 0) - (r.held ?? 0) };
  const warned = r.warnings === undefined ? {} : { warnings: r.warnings.map((w) => w.cap.id).sort() };
  return r.entry === undefined ? base : { ...base, entryId: r.entry.id, ...warned };
}

const config = (r: { outcome: string; entry?: { id: string } }): Outcome => configOutcome({ outcome: r.outcome, entryId: r.entry?.id });

/**
 * Found by the teams property (FC_SEED=77 on better-sqlite3: big transfers out of an account
 * refilled to near MAX_AMOUNT, under a warn cap): a cap window's spend can pass 2^53 − 1 (the
 * spends of a day can exceed any one balance). SQLite counts it exactly in 64 bits; the
 * auditor's replay summed it in doubles and reported a cap_mismatch that was not there. The
 * replay now counts in BigInt and reads the stored counter as text; rebuild() writes it exactly.
 */
describe.each(DRIVERS)('a cap window spend above 2^53 − 1 on $name', (driver) => {
  it('verify() agrees with the stored cap, caps.list shows at most MAX_AMOUNT, rebuild() keeps it exact', async () => {
    const db = await driver.open({ clock: manualClock().now });
    try {
      const l = db.ledger;
      await l.caps.set({ account: 'b', window: 'day', limit: 40, action: 'warn' });
      await l.grant({ account: 'b', amount: MAX_AMOUNT });
      expect((await l.debitIfCovers({ account: 'b', amount: MAX_AMOUNT })).outcome).toBe('debited');
      await l.grant({ account: 'b', amount: 2 });
      const d = await l.debitIfCovers({ account: 'b', amount: 2 });
      if (d.outcome !== 'debited') throw new Error(d.outcome);
      // The window has spent 2^53 + 1: shown clamped, stored and audited exactly.
      expect((await l.caps.list('b'))[0]).toMatchObject({ spent: MAX_AMOUNT, remaining: 0 });
      expect((await db.all('SELECT CAST(spent AS TEXT) AS s FROM credit_cap'))[0]?.s).toBe('9007199254740993');
      expect((await l.verify()).problems).toEqual([]);
      await l.rebuild();
      expect((await db.all('SELECT CAST(spent AS TEXT) AS s FROM credit_cap'))[0]?.s).toBe('9007199254740993');
      await l.refund({ entryId: d.entry.id });
      expect((await l.caps.list('b'))[0]?.spent).toBe(MAX_AMOUNT);
      expect((await l.verify()).problems).toEqual([]);
    } finally {
      await db.close();
    }
  });
});
