import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LedgerError, MAX_AMOUNT } from '../src/index.js';
import { DRIVERS, type TestDb } from './support/drivers.js';
import { Model, type Op, type Outcome } from './support/model.js';

const ACCOUNTS = ['a', 'b', 'c'];
const KEYS = ['k1', 'k2', 'k3'];

// Small amounts make exact boundaries (balance, balance ± 1) common; MAX_AMOUNT probes overflow.
const amount = fc.oneof(
  { weight: 8, arbitrary: fc.integer({ min: 1, max: 12 }) },
  { weight: 2, arbitrary: fc.integer({ min: 13, max: 400 }) },
  { weight: 1, arbitrary: fc.constant(MAX_AMOUNT) },
);
/** Relative amounts are resolved against the model's balance at the moment the op runs. */
const rel = fc.record({ rel: fc.constantFrom(-1, 0, 1) });
const debitAmount = fc.oneof({ weight: 3, arbitrary: amount }, { weight: 2, arbitrary: rel });
const account = fc.constantFrom(...ACCOUNTS);
const key = fc.constantFrom(...KEYS);

const opArb: fc.Arbitrary<GenOp> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ op: fc.constant('grant' as const), account, amount, key: fc.option(key, { nil: undefined }) }) },
  { weight: 4, arbitrary: fc.record({ op: fc.constant('debit' as const), account, amount: debitAmount }) },
  { weight: 4, arbitrary: fc.record({ op: fc.constant('debitOnce' as const), account, amount: debitAmount, key }) },
  {
    weight: 3,
    arbitrary: fc.record({
      op: fc.constant('refund' as const),
      target: fc.nat(),
      amount: fc.option(fc.oneof(fc.integer({ min: 1, max: 300 }), rel), { nil: undefined }),
      key: fc.option(key, { nil: undefined }),
    }),
  },
  // Retries: re-send an earlier keyed call of this run, parameters unchanged.
  { weight: 3, arbitrary: fc.record({ op: fc.constant('replay' as const), n: fc.nat() }) },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant('adjust' as const),
      account,
      delta: fc.integer({ min: -300, max: 300 }).filter((d) => d !== 0),
      key: fc.option(key, { nil: undefined }),
    }),
  },
);

let run = 0;

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
];

/**
 * Model-based: random sequences of grant / debit / idempotent replay / refund / adjust, on
 * each driver, against the reference model. After every step the outcome, the error code
 * and the touched balance agree; after every sequence all balances and verify() agree.
 */
describe.each(DRIVERS)('model-based property on $name', (driver) => {
  let db: TestDb;
  beforeAll(async () => {
    db = await driver.open();
  });
  afterAll(() => db.close());

  it('agrees with the reference model after every step', async () => {
    const seen = new Map<string, number>();
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 5, maxLength: driver.slow ? 25 : 80, size: 'max' }), async (ops) => {
        // Each run gets its own accounts (keys are per account), so one database serves all runs.
        const ns = `r${++run}:`;
        const model = new Model();
        const keyed: Op[] = [];
        for (const raw of ops) {
          if (raw.op === 'replay' && keyed.length === 0) continue;
          const op = raw.op === 'replay' ? (keyed[raw.n % keyed.length] as Op) : resolve(raw, model, ns);
          if ('key' in op && op.key !== undefined) keyed.push(op);
          const actual = await perform(db, ns, op, model);
          const targetId = op.op === 'refund' ? pickTarget(model, op.target) : undefined;
          const expected = model.apply(strip(op, ns), targetId, 'outcome' in actual ? actual.entryId : undefined);
          expect(actual, JSON.stringify(op)).toEqual(expected);
          const label = `${op.op}:${'error' in actual ? actual.error : actual.outcome}`;
          seen.set(label, (seen.get(label) ?? 0) + 1);
        }
        for (const a of ACCOUNTS) {
          expect((await db.ledger.getBalance(ns + a)).balance).toBe(model.balance(ns + a));
        }
      }),
      { numRuns: driver.slow ? 6 : 30, seed: Number(process.env.FC_SEED ?? 4242) },
    );
    // The generators must reach every interesting branch, or a passing run proves little.
    if (!driver.slow) {
      const labels = [...seen.keys()];
      for (const must of COVERAGE) expect(labels, `never reached ${must}: ${JSON.stringify(Object.fromEntries(seen))}`).toContain(must);
    }
    const v = await db.ledger.verify();
    expect(v.problems).toEqual([]);
    expect(v.ok).toBe(true);
  });
});

type GenOp =
  | (Op extends infer O ? (O extends { amount?: number } ? Omit<O, 'amount'> & { amount?: number | { rel: number } } : O) : never)
  | { op: 'replay'; n: number };

/** Turns relative amounts into absolute ones: balance + rel for debits, remaining + rel for refunds. */
function resolve(op: Exclude<GenOp, { op: 'replay' }>, model: Model, ns: string): Op {
  const a = 'amount' in op ? op.amount : undefined;
  if (typeof a !== 'object' || a === null) return op as Op;
  let base = 0;
  if (op.op === 'refund') {
    const t = model.entries.find((e) => e.id === pickTarget(model, op.target));
    base = t === undefined ? 0 : t.amount - t.refunded;
  } else if ('account' in op) {
    base = model.balance(ns + op.account);
  }
  return { ...op, amount: Math.min(MAX_AMOUNT, Math.max(1, base + a.rel)) } as Op;
}

/** Refund targets are picked among entries the model knows (debits and others alike). */
function pickTarget(model: Model, n: number): string | undefined {
  if (model.entries.length === 0) return undefined;
  return model.entries[n % model.entries.length]?.id;
}

function strip(op: Op, ns: string): Op {
  return 'account' in op ? ({ ...op, account: ns + op.account } as Op) : op;
}

async function perform(db: TestDb, ns: string, op: Op, model: Model): Promise<Outcome> {
  try {
    switch (op.op) {
      case 'grant':
        return norm(await db.ledger.grant({ account: ns + op.account, amount: op.amount, idempotencyKey: op.key }));
      case 'debit':
        return norm(await db.ledger.debitIfCovers({ account: ns + op.account, amount: op.amount }));
      case 'debitOnce':
        return norm(await db.ledger.debitOnceIfCovers({ account: ns + op.account, amount: op.amount, idempotencyKey: op.key }));
      case 'adjust':
        return norm(await db.ledger.adjust({ account: ns + op.account, delta: op.delta, reason: 'fix', idempotencyKey: op.key }));
      case 'refund': {
        const target = pickTarget(model, op.target) ?? 'no-such-entry';
        return norm(await db.ledger.refund({ entryId: target, amount: op.amount, idempotencyKey: op.key }));
      }
    }
  } catch (e) {
    if (e instanceof LedgerError) return { error: e.code };
    throw e;
  }
}

function norm(r: { outcome: string; balance: number; entry?: { id: string } }): Outcome {
  return r.entry === undefined
    ? { outcome: r.outcome, balance: r.balance }
    : { outcome: r.outcome, balance: r.balance, entryId: r.entry.id };
}
