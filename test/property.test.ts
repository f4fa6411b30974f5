import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LedgerError, MAX_AMOUNT, type PriceRounding, type RateCard } from '../src/index.js';
import { APP_LINKS_DDL, linkInsert } from './support/app-links.js';
import { DRIVERS, manualClock, type TestDb } from './support/drivers.js';
import { appliedInCall, CONFIG_OPS, Model, type ModelCapView, type Op, type Outcome } from './support/model.js';

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
  | (Omit<Extract<Op, { op: 'grant' }>, 'expiresAt'> & { expiresIn?: number })
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
 */
describe.each(DRIVERS)('model-based property on $name', (driver) => {
  let db: TestDb;
  const clock = manualClock();
  beforeAll(async () => {
    db = await driver.open({ clock: clock.now });
    await db.exec(APP_LINKS_DDL);
  });
  afterAll(() => db.close());

  it('agrees with the reference model after every step', () =>
    agrees(opArb, { runs: driver.slow ? 6 : 40, steps: driver.slow ? 25 : MAX_STEPS, coverage: [...COVERAGE, ...WITH_COVERAGE] }));

  /**
   * A family's property: the same seeded sequences on every driver, the full run (and its
   * coverage check) where a step costs microseconds, a prefix of it elsewhere, to keep the
   * suite's time in bounds. `runs`: on better-sqlite3, on libSQL and bun, on D1.
   */
  const family = (arb: fc.Arbitrary<GenOp>, runs: [number, number, number], coverage: string[], prelude: Op[]) => {
    const full = driver.name.startsWith('better-sqlite3');
    return agrees(arb, {
      runs: full ? runs[0] : driver.slow ? runs[2] : runs[1],
      steps: driver.slow ? 20 : 60,
      coverage: full ? coverage : [],
      prelude,
    });
  };

  it('with charges and new rate cards (priced by the model with its own rationals): agrees after every step', () =>
    family(chargeOpArb, [30, 10, 3], CHARGE_COVERAGE, FIRST_CARD));

  it('with spend caps and floors (windows crossed by the clock, filters, holds, refunds): agrees after every step', () =>
    family(capsOpArb, [40, 15, 4], CAPS_COVERAGE, FUNDED));

  async function agrees(arb: fc.Arbitrary<GenOp>, o: { runs: number; steps: number; coverage: string[]; prelude?: Op[] }) {
    const seen = new Map<string, number>();
    await fc.assert(
      fc.asyncProperty(fc.array(arb, { minLength: 5, maxLength: o.steps, size: 'max' }), apps, async (ops, withApp) => {
        // Each run gets its own accounts (keys are per account), so one database serves all runs.
        const ns = `r${++run}:`;
        const model = new Model(clock.now());
        const keyed: Op[] = [];
        /** The app's rows this run must have: tag → "account:amount". */
        const links = new Map<string, string>();
        for (const op of o.prelude ?? []) {
          const actual = await perform(db, ns, op, undefined, clock, undefined);
          expect(actual).toEqual(model.apply(withNs(op, ns), undefined, 'entryId' in actual ? actual.entryId : undefined));
        }
        for (const [step, raw] of ops.entries()) {
          const tag = `${ns}${step}`;
          if (raw.op === 'replay' && keyed.length === 0) continue;
          const op = raw.op === 'replay' ? (keyed[raw.n % keyed.length] as Op) : resolve(raw, model, ns);
          if ('key' in op && op.key !== undefined) keyed.push(op);
          const target = targetOf(op, model);
          if ((op.op === 'capture' || op.op === 'release') && target === undefined) continue;
          const app = withApp[step] === true && (op.op === 'grant' || op.op === 'debit' || op.op === 'debitOnce') ? tag : undefined;
          const actual = await perform(db, ns, op, target, clock, app);
          const modelled = model.apply(withNs(op, ns), target, 'entryId' in actual ? actual.entryId : undefined);
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
  if (op.op === 'capture' || op.op === 'release')
    return model.holds.length === 0 ? undefined : model.holds[op.target % model.holds.length]?.id;
  return undefined;
}

/** Turns relative amounts into absolute ones: available + rel for spends, remaining/held + rel for refunds/captures. */
function resolve(op: Exclude<GenOp, { op: 'replay' }>, model: Model, ns: string): Op {
  // Expiries are absolute in the API: fixed once, so a retry resends the same instant.
  if (op.op === 'grant') {
    const { expiresIn, ...rest } = op;
    return { ...rest, expiresAt: expiresIn === undefined ? undefined : model.now + expiresIn };
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
  }
  return { ...op, amount: Math.min(MAX_AMOUNT, Math.max(1, base + a.rel)) } as Op;
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

function withNs(op: Op, ns: string): Op {
  return 'account' in op ? ({ ...op, account: ns + op.account } as Op) : op;
}

async function perform(
  db: TestDb,
  ns: string,
  op: Op,
  target: string | undefined,
  clock: ReturnType<typeof manualClock>,
  appTag: string | undefined,
): Promise<Outcome> {
  /** The app's row under the step's tag, sent `with` the call if the step carries one. */
  const app = (o: { account: string; amount: number }) =>
    appTag === undefined ? undefined : { with: [linkInsert(appTag, ns + o.account, o.amount)] };
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
              account: ns + op.account,
              amount: op.amount,
              idempotencyKey: op.key,
              expiresAt: op.expiresAt,
              priority: op.priority,
            },
            app(op),
          ),
        );
      case 'debit':
        return norm(
          await db.ledger.debitIfCovers({ account: ns + op.account, amount: op.amount, model: op.model, actor: op.actor }, app(op)),
        );
      case 'debitOnce':
        return norm(
          await db.ledger.debitOnceIfCovers(
            { account: ns + op.account, amount: op.amount, idempotencyKey: op.key, model: op.model, actor: op.actor },
            app(op),
          ),
        );
      case 'adjust':
        return norm(await db.ledger.adjust({ account: ns + op.account, delta: op.delta, reason: 'fix', idempotencyKey: op.key }));
      case 'refund':
        return norm(await db.ledger.refund({ entryId: target ?? 'no-such-entry', amount: op.amount, idempotencyKey: op.key }));
      case 'hold':
        return norm(await db.ledger.hold({ account: ns + op.account, amount: op.amount, ttlMs: op.ttl, model: op.model, actor: op.actor }));
      case 'capture':
        return norm(await db.ledger.capture({ holdId: target ?? 'none', amount: op.amount }));
      case 'release':
        return norm(await db.ledger.release({ holdId: target ?? 'none' }));
      case 'capSet': {
        const { op: _, account, key, ...setting } = op;
        return config(await db.ledger.caps.set({ account: ns + account, idempotencyKey: key, ...setting }));
      }
      case 'capRemove': {
        const { op: _, account, key, ...identity } = op;
        return config(await db.ledger.caps.remove({ account: ns + account, idempotencyKey: key, ...identity }));
      }
      case 'floor':
        return config(await db.ledger.caps.floor({ account: ns + op.account, floor: op.floor, idempotencyKey: op.key }));
      case 'publish':
        return { outcome: (await db.ledger.pricing.publish({ rates: op.rates, rounding: op.rounding })).outcome };
      case 'charge': {
        const r = await db.ledger.charge({
          account: ns + op.account,
          model: op.model,
          usage: op.usage,
          idempotencyKey: op.key,
          actor: op.actor,
        });
        return r.outcome === 'free' ? { outcome: 'free' } : norm(r);
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
