/**
 * Model-based property test of `ledger.analytics`, on every driver. Random sequences of
 * grants (some expiring), labelled debits and idempotent debits, refunds (often hours or
 * days after what they refund), holds captured with labels, adjustments, sweeps (which
 * also fold the rollup, so answers come from the rollup, the unfolded tail, or both) and a
 * clock that moves by minutes, hours or days. The ledger's reference model (model.ts)
 * decides what applied, and must agree with the ledger on every outcome; the usage
 * reference (usage-model.ts) turns what applied into facts and answers `spend` for random
 * groupings, filters, ranges, offsets and limits, and `summary`, at random points of each
 * sequence and at its end. Every answer must be equal, row for row and in order.
 *
 * Each run has its own accounts and its own stretch of time (summary is ledger-wide): runs
 * start 200 days apart, and each ends with its lots lapsed and swept.
 *
 * Retries must resend the same request (the ledger compares labels and actors on a replay,
 * the ledger model does not know them): an idempotency key always carries the same labels,
 * and a capture of a hold always the same actor.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LedgerError, type SpendGroupKey } from '../src/index.js';
import { DRIVERS, manualClock, type TestDb } from './support/drivers.js';
import { appliedInCall, Model, type Op, type Outcome } from './support/model.js';
import { type Labels, type SpendQuery, UsageModel } from './support/usage-model.js';

const H = 3_600_000;
const D = 24 * H;
const ACCOUNTS = ['a', 'b', 'c'];
const MODELS = ['gpt', 'claude'];
const KEYS = ['k1', 'k2'];
const ACTORS = ['ann', 'bo'];
const RUN_SPAN = 200 * D;
const BASE = Date.UTC(2031, 0, 1);

const maybe = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: undefined, freq: 3 });
const labels: fc.Arbitrary<Labels> = fc.record(
  { model: maybe(fc.constantFrom(...MODELS)), keyId: maybe(fc.constantFrom(...KEYS)), actor: maybe(fc.constantFrom(...ACTORS)) },
  { requiredKeys: [] },
);
const amount = fc.integer({ min: 1, max: 300 });
const account = fc.constantFrom(...ACCOUNTS);

type Step =
  | { op: 'grant'; account: string; amount: number; expiresIn?: number; actor?: string }
  | { op: 'debit'; account: string; amount: number; labels: Labels }
  | { op: 'debitOnce'; account: string; amount: number; key: 'x' | 'y' }
  | { op: 'refund'; target: number; amount?: number }
  | { op: 'adjust'; account: string; delta: number }
  | { op: 'hold'; account: string; amount: number; ttl: number; labels: Labels }
  | { op: 'capture'; target: number; amount?: number }
  | { op: 'advance'; ms: number }
  | { op: 'sweep' }
  | { op: 'query'; q: QueryDraw }
  /** Re-send an earlier debitOnce of the run, unchanged. */
  | { op: 'replay'; n: number };

interface QueryDraw {
  groupBy: SpendGroupKey[];
  account?: string;
  model?: string | null;
  keyId?: string | null;
  actor?: string | null;
  /** Fractions of the run's span so far, for from and to. */
  from: number;
  to: number;
  tz?: number;
  limit?: number;
}

const filter = <T>(values: T[]) => fc.option(fc.constantFrom<T | null>(...values, null), { nil: undefined, freq: 2 });
const queryDraw: fc.Arbitrary<QueryDraw> = fc.record(
  {
    groupBy: fc.shuffledSubarray(['account', 'model', 'keyId', 'actor', 'day', 'hour'] as SpendGroupKey[], { maxLength: 3 }),
    account: fc.option(account, { nil: undefined, freq: 3 }),
    model: filter(MODELS),
    keyId: filter(KEYS),
    actor: filter(ACTORS),
    from: fc.oneof(fc.constant(0), fc.double({ min: 0, max: 1, noNaN: true })),
    to: fc.oneof(fc.constant(1), fc.double({ min: 0, max: 1, noNaN: true })),
    tz: fc.option(fc.constantFrom(-840, -300, -15, 0, 90, 330, 345, 840), { nil: undefined }),
    limit: fc.option(fc.integer({ min: 1, max: 6 }), { nil: undefined, freq: 3 }),
  },
  { requiredKeys: ['groupBy', 'from', 'to'] },
);

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record(
      {
        op: fc.constant('grant' as const),
        account,
        amount: fc.integer({ min: 50, max: 2_000 }),
        expiresIn: fc.option(fc.integer({ min: 1, max: 12 * H }), { nil: undefined, freq: 3 }),
        actor: maybe(fc.constantFrom(...ACTORS)),
      },
      { requiredKeys: ['op', 'account', 'amount'] },
    ),
  },
  { weight: 5, arbitrary: fc.record({ op: fc.constant('debit' as const), account, amount, labels }) },
  {
    weight: 2,
    // Few amounts, so retries with the same amount (replays) and with another (conflicts) both happen.
    arbitrary: fc.record({
      op: fc.constant('debitOnce' as const),
      account,
      amount: fc.constantFrom(5, 9),
      key: fc.constantFrom('x' as const, 'y' as const),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record(
      { op: fc.constant('refund' as const), target: fc.nat(), amount: maybe(fc.integer({ min: 1, max: 120 })) },
      { requiredKeys: ['op', 'target'] },
    ),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant('adjust' as const),
      account,
      delta: fc.integer({ min: -100, max: 100 }).filter((d) => d !== 0),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({ op: fc.constant('hold' as const), account, amount, ttl: fc.integer({ min: 60_000, max: 6 * H }), labels }),
  },
  {
    weight: 2,
    arbitrary: fc.record(
      { op: fc.constant('capture' as const), target: fc.nat(), amount: maybe(amount) },
      { requiredKeys: ['op', 'target'] },
    ),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      op: fc.constant('advance' as const),
      ms: fc.oneof(fc.integer({ min: 1, max: 30 * 60_000 }), fc.integer({ min: H, max: 9 * H }), fc.integer({ min: D, max: 2 * D })),
    }),
  },
  { weight: 1, arbitrary: fc.constant({ op: 'sweep' as const }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('replay' as const), n: fc.nat() }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('query' as const), q: queryDraw }) },
);

/** The labels a debitOnce key always carries. */
const KEY_LABELS: Record<'x' | 'y', Labels> = { x: { model: 'gpt', keyId: 'k1', actor: 'ann' }, y: {} };
/** The actor a capture of a hold always names: by the hold's position, sometimes none. */
const captureActor = (holdId: string): string | undefined => [undefined, 'ann', 'bo'][Number(holdId.replace(/\D/g, '')) % 3];

const COVERAGE = ['debit:debited', 'debitOnce:replayed', 'refund:refunded', 'capture:captured', 'adjust:adjusted', 'grant:granted'];

let run = 0;

describe.each(DRIVERS)('analytics model-based property on $name', (driver) => {
  let db: TestDb;
  const clock = manualClock(BASE);
  beforeAll(async () => {
    db = await driver.open({ clock: clock.now });
  });
  afterAll(() => db.close());

  /**
   * The same seeded sequences on every driver: all 30 (and the coverage check) on
   * better-sqlite3, where a step costs microseconds; the first 10 on libSQL and bun, which
   * prove the driver path rather than the generator's breadth; 4 shorter ones on D1.
   */
  const full = driver.name.startsWith('better-sqlite3');
  const runs = full ? 30 : driver.slow ? 4 : 10;

  it('spend and summary agree with the reference after random operations, with a moving clock', async () => {
    const seen = new Map<string, number>();
    let queries = 0;
    let folded = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(stepArb, { minLength: 8, maxLength: driver.slow ? 18 : 40, size: 'max' }),
        fc.array(queryDraw, { minLength: 2, maxLength: 3 }),
        async (steps, finals) => {
          const n = ++run;
          const ns = `p${n}:`;
          const start = BASE + n * RUN_SPAN;
          clock.set(start);
          const model = new Model(start);
          const usage = new UsageModel();
          const holdLabels = new Map<string, Labels>();
          const check = async (d: QueryDraw) => {
            const now = clock.now();
            const at = (f: number) => start + Math.floor(f * (now + H - start));
            const [from, to] = [at(d.from), at(d.to)].sort((x, y) => x - y) as [number, number];
            const q: SpendQuery = {
              from,
              to,
              groupBy: d.groupBy,
              ...(d.account === undefined ? {} : { account: ns + d.account }),
              ...(d.model === undefined ? {} : { model: d.model }),
              ...(d.keyId === undefined ? {} : { keyId: d.keyId }),
              ...(d.actor === undefined ? {} : { actor: d.actor }),
              ...(d.limit === undefined ? {} : { limit: d.limit }),
              ...(d.tz === undefined ? {} : { tzOffsetMinutes: d.tz }),
            };
            queries++;
            expect(await db.ledger.analytics.spend(q), `spend ${JSON.stringify(q)}`).toEqual(usage.spend(q));
            expect(await db.ledger.analytics.summary({ from, to }), `summary ${from}…${to}`).toEqual(usage.summary(from, to));
          };
          // Every account starts with credits, so most spends apply.
          const opening: Step[] = ACCOUNTS.map((a) => ({ op: 'grant', account: a, amount: 1_500, actor: 'ops' }));
          const keyed: Step[] = [];
          for (const drawn of [...opening, ...steps]) {
            if (drawn.op === 'replay' && keyed.length === 0) continue;
            const step = drawn.op === 'replay' ? (keyed[drawn.n % keyed.length] as Step) : drawn;
            if (step.op === 'replay') continue;
            if (step.op === 'debitOnce') keyed.push(step);
            if (step.op === 'query') {
              await check(step.q);
              continue;
            }
            if (step.op === 'sweep') {
              // The model's view of what lapsed, before the sweep writes it down.
              usage.sweep(clock.now(), (a) => model.balanceOf(a).balance);
              model.apply({ op: 'sweep' }, undefined, undefined);
              folded += (await db.ledger.sweep()).usageFolded;
              continue;
            }
            const op = toModelOp(step, model);
            const target = targetOf(step, model);
            if ((step.op === 'capture' || step.op === 'refund') && target === undefined) continue;
            const actual = await perform(db, ns, step, target, clock);
            const expected = model.apply(withNs(op, ns), target, 'entryId' in actual ? actual.entryId : undefined);
            expect(actual, JSON.stringify(step)).toEqual(expected);
            const label = `${step.op}:${'error' in actual ? actual.error : actual.outcome}`;
            seen.set(label, (seen.get(label) ?? 0) + 1);
            if (!appliedInCall(expected) || !('entryId' in expected) || expected.entryId === undefined) continue;
            const now = clock.now();
            const id = expected.entryId;
            switch (step.op) {
              case 'grant':
                usage.grant(now, ns + step.account, step.amount, step.actor);
                break;
              case 'debit':
              case 'debitOnce':
                usage.spent(now, id, ns + step.account, step.amount, step.op === 'debit' ? step.labels : KEY_LABELS[step.key]);
                break;
              case 'refund':
                usage.refund(target as string, step.amount);
                break;
              case 'adjust':
                usage.adjust(now, ns + step.account, step.delta);
                break;
              case 'hold':
                holdLabels.set(id, step.labels);
                break;
              case 'capture': {
                const h = model.holds.find((x) => x.id === target);
                const hl = holdLabels.get(target as string) ?? {};
                usage.spent(now, id, h?.account ?? '?', h?.capture?.amount ?? 0, {
                  model: hl.model,
                  keyId: hl.keyId,
                  actor: captureActor(target as string),
                });
                break;
              }
            }
          }
          // The end of the run: every lot lapsed and swept (so no later run sweeps them), then the final checks.
          clock.advance(D);
          model.apply({ op: 'advance', ms: D }, undefined, undefined);
          usage.sweep(clock.now(), (a) => model.balanceOf(a).balance);
          model.apply({ op: 'sweep' }, undefined, undefined);
          folded += (await db.ledger.sweep()).usageFolded;
          for (const d of finals) await check(d);
          await check({ groupBy: ['account', 'model', 'day'], from: 0, to: 1 });
        },
      ),
      { numRuns: runs, seed: Number(process.env.FC_SEED ?? 2718) },
    );
    if (full) {
      for (const must of COVERAGE)
        expect([...seen.keys()], `never reached ${must}: ${JSON.stringify(Object.fromEntries(seen))}`).toContain(must);
    }
    if (!driver.slow) expect(folded).toBeGreaterThan(0);
    expect(queries).toBeGreaterThan(0);
    const v = await db.ledger.verify();
    expect(v.problems).toEqual([]);
  });
});

/** The step as the ledger model knows it (labels play no part in what applies). */
function toModelOp(step: Exclude<Step, { op: 'query' | 'sweep' | 'replay' }>, model: Model): Op {
  switch (step.op) {
    case 'grant':
      return {
        op: 'grant',
        account: step.account,
        amount: step.amount,
        expiresAt: step.expiresIn === undefined ? undefined : model.now + step.expiresIn,
      };
    case 'debit':
      return { op: 'debit', account: step.account, amount: step.amount };
    case 'debitOnce':
      return { op: 'debitOnce', account: step.account, amount: step.amount, key: step.key };
    case 'refund':
      return { op: 'refund', target: step.target, amount: step.amount };
    case 'adjust':
      return { op: 'adjust', account: step.account, delta: step.delta };
    case 'hold':
      return { op: 'hold', account: step.account, amount: step.amount, ttl: step.ttl };
    case 'capture':
      return { op: 'capture', target: step.target, amount: step.amount };
    case 'advance':
      return { op: 'advance', ms: step.ms };
  }
}

/** Refunds mostly target debits and captures; captures target holds. */
function targetOf(step: Step, model: Model): string | undefined {
  if (step.op === 'refund') {
    const pool = model.entries.filter((e) => e.kind === 'debit' || e.kind === 'capture');
    return pool.length === 0 ? undefined : pool[step.target % pool.length]?.id;
  }
  if (step.op === 'capture') return model.holds.length === 0 ? undefined : model.holds[step.target % model.holds.length]?.id;
  return undefined;
}

function withNs(op: Op, ns: string): Op {
  return 'account' in op ? ({ ...op, account: ns + op.account } as Op) : op;
}

async function perform(
  db: TestDb,
  ns: string,
  step: Exclude<Step, { op: 'query' | 'sweep' | 'replay' }>,
  target: string | undefined,
  clock: ReturnType<typeof manualClock>,
): Promise<Outcome> {
  const l = db.ledger;
  try {
    switch (step.op) {
      case 'advance':
        clock.advance(step.ms);
        return { outcome: 'advanced' };
      case 'grant':
        return norm(
          await l.grant({
            account: ns + step.account,
            amount: step.amount,
            expiresAt: step.expiresIn === undefined ? undefined : clock.now() + step.expiresIn,
            actor: step.actor,
          }),
        );
      case 'debit':
        return norm(await l.debitIfCovers({ account: ns + step.account, amount: step.amount, ...step.labels }));
      case 'debitOnce':
        return norm(
          await l.debitOnceIfCovers({ account: ns + step.account, amount: step.amount, idempotencyKey: step.key, ...KEY_LABELS[step.key] }),
        );
      case 'refund':
        return norm(await l.refund({ entryId: target ?? 'none', amount: step.amount, actor: 'support' }));
      case 'adjust':
        return norm(await l.adjust({ account: ns + step.account, delta: step.delta, reason: 'fix' }));
      case 'hold':
        return norm(await l.hold({ account: ns + step.account, amount: step.amount, ttlMs: step.ttl, ...step.labels }));
      case 'capture':
        return norm(
          await l.capture({
            holdId: target ?? 'none',
            amount: step.amount,
            actor: target === undefined ? undefined : captureActor(target),
          }),
        );
    }
  } catch (e) {
    if (e instanceof LedgerError) return { error: e.code };
    throw e;
  }
}

function norm(r: { outcome: string; balance: number; available: number; entry?: { id: string } }): Outcome {
  const base = { outcome: r.outcome, balance: r.balance, available: r.available };
  return r.entry === undefined ? base : { ...base, entryId: r.entry.id };
}
