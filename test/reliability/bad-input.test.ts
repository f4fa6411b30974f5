/**
 * Bad input, fuzzed. For every argument of every public Ledger method, fast-check generates
 * well-formed values (so real outcomes happen), targeted hostile values and fc.anything().
 * Property, call by call:
 * - the call returns a valid outcome (outcome in the method's set, balance/available safe
 *   integers ≥ 0, entry fields typed, the entry's account is the input's, and the row stored
 *   under that id carries exactly that account), or throws a LedgerError whose code is in
 *   ERROR_CODES — never any other error;
 * - after a throw, and after any call that did not apply (reads, insufficient, replayed,
 *   dry runs), the ledger's tables are byte-for-byte what they were;
 * - at the end, verify() is clean and Object.prototype was not polluted.
 * The CLI is fuzzed the same way with generated argv: a few calls as processes of the bin,
 * the rest in this process (runCli, what the bin runs), each on its own copy of a database.
 *
 * Two accounts are subscribed to plans (a monthly allowance with rollover, a daily one), so
 * every method also meets accounts whose allowance falls due as the clock moves. By design
 * any call on such an account — a read, a refused debit, a plans call that throws
 * not_found or already_subscribed — first writes down what its terms already hold (the
 * period's allowance, last period's rollover); before each call the test settles what is
 * due (plans.subscription of each due account) and takes its snapshot after, so the
 * property is about the call's own writes.
 *
 * Light (default): better-sqlite3 and libSQL. RELIABILITY=full: more runs, plus D1
 * (miniflare) and bun:sqlite with few runs (each call there costs a round trip, and so does
 * each snapshot).
 *
 * Inputs that hit bugs found by this suite (lone surrogates, metadata nested thousands deep
 * or cyclic, `__proto__` metadata keys, sparse batch arrays, bigint or prototype-less op
 * names) are in the generators, and each bug also has its own regression test below.
 */
import { spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Writable } from 'node:stream';
import Database from 'better-sqlite3';
import { drizzle } from 'drizzle-orm/better-sqlite3';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli as runCliProgram } from '../../src/cli/program.js';
import { createLedger, ERROR_CODES, type Ledger, LedgerError } from '../../src/index.js';
import { DRIVERS, manualClock, posOf, type TestDb } from '../support/drivers.js';
import { callArb, type Env, materialize, type PoolName, type Pools, TEAM } from './support/input-arbitraries.js';
import { checkResult, isKnownCode, METHODS, type Method, wroteNothing } from './support/input-outcomes.js';
import { type LedgerSnapshot, ledgerSnapshot, snapshotDiff } from './support/input-snapshot.js';

const FULL = process.env.RELIABILITY === 'full';
const SEED = process.env.FC_SEED === undefined ? undefined : Number(process.env.FC_SEED);

/** Runs per method on each driver. */
const PLAN: { driver: string; runs: number }[] = [
  { driver: 'better-sqlite3 file', runs: FULL ? 1_000 : 40 },
  { driver: 'libsql file:', runs: FULL ? 1_000 : 30 },
  ...(FULL
    ? [
        { driver: 'better-sqlite3 :memory:', runs: 300 },
        { driver: 'bun:sqlite', runs: 40 },
        { driver: 'd1 (miniflare)', runs: 15 },
      ]
    : []),
];

const CODES = new Set<string>(ERROR_CODES);
const show = (v: unknown) => fc.stringify(v).slice(0, 600);

interface Tally {
  calls: number;
  outcomes: Record<string, number>;
  errors: Record<string, number>;
}
const tallies = new Map<string, Map<Method, Tally>>();

function tally(driver: string, method: Method): Tally {
  const byMethod = tallies.get(driver) ?? new Map<Method, Tally>();
  tallies.set(driver, byMethod);
  const t = byMethod.get(method) ?? { calls: 0, outcomes: {}, errors: {} };
  byMethod.set(method, t);
  return t;
}
const bump = (o: Record<string, number>, k: string) => {
  o[k] = (o[k] ?? 0) + 1;
};

/** Seeds accounts with plain credits, lots, debits, a refund and holds; returns the id pools. */
async function seed(ledger: Ledger, now: () => number): Promise<Pools> {
  const pools: Pools = { account: [], debit: [], capture: [], refund: [], grant: [], hold: [], any: [] };
  // Rate cards (versions 1–4, the first active) for the models and meters the fuzzer uses.
  for (const price of ['0.01', '0.5', '2', '0.000001']) {
    await ledger.pricing.publish({ rates: { 'gpt-4o': { input: price, output: '0.03' }, claude: { input: '0.5', output: price } } });
  }
  await ledger.pricing.activate(1);
  // Plans (PLAN_IDS): a monthly allowance with rollover, a daily one, and features only.
  await ledger.plans.define({
    id: 'pro',
    allowance: { amount: 1_000, every: 'month', rollover: { max: 300 } },
    features: { sso: true, seats: 5 },
  });
  await ledger.plans.define({ id: 'basic', allowance: { amount: 200, every: 'day' }, features: { sso: false, seats: 1 } });
  await ledger.plans.define({ id: 'flags', features: { beta: true, tier: 'gold' } });
  await ledger.plans.subscribe({ account: 'acct_a', planId: 'pro', anchor: now() - 20 * 86_400_000 });
  await ledger.plans.subscribe({ account: 'acct_b', planId: 'basic', anchor: now() - 12 * 3_600_000 });
  for (const account of ['acct_a', 'acct_b', 'acct_c']) {
    pools.account.push(account);
    const g = await ledger.grant({ account, amount: 5_000, idempotencyKey: 'seed' });
    await ledger.grant({ account, amount: 500, expiresAt: now() + 86_400_000, priority: 10 });
    await ledger.grant({ account, amount: 300, expiresAt: now() + 30 * 86_400_000 });
    // A cap far above anything the runs spend: caps.remove has one to remove, caps.set one to replay.
    await ledger.caps.set({ account, window: 'day', limit: 1_000_000_000 });
    pools.grant.push(g.entry.id);
    const d = await ledger.debitOnceIfCovers({ account, amount: 700, idempotencyKey: 'seed', model: 'gpt-4o', keyId: 'key_1' });
    if (d.outcome === 'debited') pools.debit.push(d.entry.id);
    const r = await ledger.refund({ entryId: pools.debit[pools.debit.length - 1]!, amount: 50 });
    pools.refund.push(r.entry.id);
    for (let i = 0; i < 3; i++) {
      const h = await ledger.hold({ account, amount: 100, ttlMs: 7 * 86_400_000 });
      if (h.outcome === 'held') pools.hold.push(h.hold.id);
    }
    const c = await ledger.capture({ holdId: pools.hold[pools.hold.length - 1]!, amount: 60 });
    if (c.outcome === 'captured') pools.capture.push(c.entry.id);
  }
  // A team (TEAM, owned by acct_a: `ops` a member, `key_1` a viewer) with credits of its own,
  // a member cap, and a transfer out of it (a transfer_out and transfer_in to refund: not refundable).
  await ledger.teams.create({ team: TEAM, owner: 'acct_a', name: 'Acme' });
  await ledger.teams.addMember({ team: TEAM, member: 'ops', role: 'member' });
  await ledger.teams.addMember({ team: TEAM, member: 'key_1', role: 'viewer', actor: 'acct_a' });
  await ledger.grant({ account: TEAM, amount: 3_000 });
  await ledger.grant({ account: TEAM, amount: 400, expiresAt: now() + 86_400_000, priority: 20 });
  await ledger.caps.set({ account: TEAM, window: 'day', limit: 1_000_000, member: 'ops' });
  const t = await ledger.transfer({ from: TEAM, to: 'acct_b', amount: 450, actor: 'ops' });
  if (t.outcome === 'transferred') pools.any.push(t.out.id, ...t.in.map((e) => e.id));
  pools.any.push(...pools.grant, ...pools.debit, ...pools.refund, ...pools.hold, ...pools.capture);
  return pools;
}

/**
 * Before each method's run: fresh holds and debits (earlier runs captured, released or let
 * them lapse), so captures, releases, extensions and refunds get valid targets too.
 */
async function replenish(ledger: Ledger, pools: Pools): Promise<void> {
  for (const account of ['acct_a', 'acct_b', 'acct_c']) {
    await ledger.grant({ account, amount: 2_000 });
    const d = await ledger.debitIfCovers({ account, amount: 300, keyId: 'key_1' });
    if (d.outcome === 'debited') remember(pools, d);
    for (let i = 0; i < 2; i++) {
      const h = await ledger.hold({ account, amount: 100, ttlMs: 7 * 86_400_000 });
      if (h.outcome === 'held') remember(pools, h);
    }
  }
}

const KIND_POOL: Record<string, PoolName> = { debit: 'debit', capture: 'capture', refund: 'refund', grant: 'grant', hold: 'hold' };

function remember(pools: Pools, r: unknown): void {
  const add = (pool: PoolName, id: unknown) => {
    if (typeof id !== 'string') return;
    const p = pools[pool];
    if (!p.includes(id)) p.push(id);
    if (p.length > 60) p.shift();
  };
  const one = (x: unknown) => {
    const t = x as { out?: { id?: unknown; account?: unknown }; in?: { id?: unknown; account?: unknown }[] } | null;
    // A transfer: what left and what arrived (refund targets that are not refundable).
    if (t?.out !== undefined) for (const e of [t.out, ...(t.in ?? [])]) one({ entry: { ...e, kind: 'transfer' } });
    const o = x as { entry?: { id?: unknown; kind?: string; account?: unknown }; hold?: { id?: unknown } } | null;
    if (o?.entry === undefined) return;
    const pool = KIND_POOL[String(o.entry.kind)];
    if (pool !== undefined) add(pool, o.entry.id);
    add('any', o.entry.id);
    add('account', o.entry.account);
    if (o.hold !== undefined) add('hold', o.hold.id);
  };
  if (Array.isArray(r)) r.forEach(one);
  else one(r);
}

/** The (entry, input account) pairs a result wrote, to read back from the table. */
function writtenEntries(method: Method, r: unknown, args: unknown[]): { id: string; account: string }[] {
  const pairs: { id: string; account: string }[] = [];
  const add = (res: unknown, input: unknown) => {
    const x = res as { entry?: { id?: unknown }; out?: { id?: unknown }; in?: { id?: unknown }[] } | null;
    const i = input as { account?: unknown; team?: unknown; from?: unknown; to?: unknown } | null;
    // A team's config rows are on the team's log; a transfer's rows on `from` and on `to`.
    const account = method.startsWith('teams.') ? i?.team : i?.account;
    if (typeof x?.entry?.id === 'string' && typeof account === 'string') pairs.push({ id: x.entry.id, account });
    if (typeof x?.out?.id === 'string' && typeof i?.from === 'string') pairs.push({ id: x.out.id, account: i.from });
    for (const e of x?.in ?? []) if (typeof e?.id === 'string' && typeof i?.to === 'string') pairs.push({ id: e.id, account: i.to });
  };
  if (method === 'batch') (r as unknown[]).forEach((x, i) => void add(x, (args[0] as unknown[])[i]));
  else add(r, args[0]);
  return pairs;
}

/** Writes down what is due on every subscribed account at `now` (as a read of it would); whether anything was due. */
async function settleDue(db: TestDb, ledger: Ledger, now: number): Promise<boolean> {
  const due = await db.all('SELECT account FROM credit_subscription WHERE due_at <= ?', [now]);
  for (const row of due) await ledger.plans.subscription(String(row.account));
  return due.length > 0;
}

/** ledger[method](...args), or ledger.caps.set(...args) for a family's "caps.set". */
function callMethod(ledger: Ledger, method: Method, args: unknown[]): Promise<unknown> {
  const path = method.split('.');
  let self: unknown = ledger;
  for (const part of path.slice(0, -1)) self = (self as Record<string, unknown>)[part];
  const fn = (self as Record<string, (...a: unknown[]) => Promise<unknown>>)[path[path.length - 1] as string];
  return (fn as (...a: unknown[]) => Promise<unknown>).apply(self, args);
}

/** Drivers that can open a copy of a database file (DriverSpec.open's `from`). */
const COPYABLE = new Set(['better-sqlite3 file', 'libsql file:', 'bun:sqlite']);

describe.each(PLAN)('bad input fuzz on $driver', ({ driver, runs }) => {
  const spec = DRIVERS.find((d) => d.name === driver);
  const logSizes: number[] = [];
  /**
   * The seeded database (seed, then replenish) and its id pools, made once per driver and
   * saved with VACUUM INTO: each method's run opens a copy of it, the same rows a seeding of
   * its own would write (seeding costs ~60 calls, more than a light run's fuzzing on libSQL).
   */
  let seeded: { dir: string; file: string; pools: Pools } | undefined;
  beforeAll(async () => {
    if (spec === undefined || !COPYABLE.has(driver)) return;
    const clock = manualClock();
    const db = await spec.open({ clock: clock.now });
    try {
      const pools = await seed(db.ledger, clock.now);
      await replenish(db.ledger, pools);
      const dir = mkdtempSync(join(tmpdir(), 'drizzle-credits-bad-input-'));
      const file = join(dir, 'seeded.db');
      await db.exec(`VACUUM INTO '${file}'`);
      seeded = { dir, file, pools };
    } finally {
      await db.close();
    }
  });

  afterAll(() => {
    if (seeded !== undefined) rmSync(seeded.dir, { recursive: true, force: true });
    const byMethod = tallies.get(driver) ?? new Map<Method, Tally>();
    const rows = [...byMethod.entries()].map(([m, x]) => ({
      method: m,
      calls: x.calls,
      outcomes: Object.entries(x.outcomes)
        .map(([k, n]) => `${k}:${n}`)
        .join(' '),
      errors: Object.entries(x.errors)
        .map(([k, n]) => `${k}:${n}`)
        .join(' '),
    }));
    const total = rows.reduce((s, r) => s + r.calls, 0);
    console.log(
      `[bad-input] ${driver}: ${total} generated calls (${runs} per method, ${rows.length} methods, a fresh database each, ` +
        `${Math.max(0, ...logSizes)} log entries at most)\n` +
        rows
          .map((r) => `  ${r.method.padEnd(18)} ${String(r.calls).padStart(5)}  ok ${r.outcomes || '-'}  | threw ${r.errors || '-'}`)
          .join('\n'),
    );
  });

  it.each(METHODS)(
    `%s: returns a valid outcome or throws a LedgerError with a known code; a throw writes nothing; the auditor agrees after (${runs} runs)`,
    async (method) => {
      if (spec === undefined) throw new Error(`no driver ${driver}`);
      // A fresh database per method keeps snapshots (one per call) cheap on long runs: a copy
      // of the seeded one where the driver has a file, else seeded here.
      const clock = manualClock();
      const db = await spec.open({ clock: clock.now, ...(seeded === undefined ? {} : { from: seeded.file }) });
      try {
        const ledger = db.ledger;
        let pools: Pools;
        if (seeded === undefined) {
          pools = await seed(ledger, clock.now);
          await replenish(ledger, pools);
        } else pools = structuredClone(seeded.pools);
        let snap = await ledgerSnapshot(db);
        const t = tally(driver, method);
        const details = await fc.check(
          fc.asyncProperty(callArb(method), async ({ args: raw, advance }) => {
            if (t.calls > 0 && t.calls % 50 === 0) {
              // Long runs resolve or refund every target: give them fresh ones now and then.
              await replenish(ledger, pools);
              snap = await ledgerSnapshot(db);
            }
            clock.advance(advance);
            if (await settleDue(db, ledger, clock.now())) snap = await ledgerSnapshot(db);
            const env: Env = { pools, now: clock.now() };
            const args = materialize(raw, env);
            t.calls++;
            let result: unknown;
            let error: unknown;
            let threw = false;
            try {
              result = await callMethod(ledger, method, args);
            } catch (e) {
              threw = true;
              error = e;
            }
            const after = await ledgerSnapshot(db);
            if (threw) {
              const code = (error as { code?: unknown } | null)?.code;
              bump(t.errors, typeof code === 'string' ? code : `(${(error as Error)?.name ?? typeof error})`);
              if (!(error instanceof LedgerError) || !CODES.has(error.code)) {
                expect.fail(`${method}(${show(args)}) threw a non-LedgerError: ${String((error as Error)?.stack ?? error)}`);
              }
              const diff = snapshotDiff(snap, after);
              if (diff !== null) expect.fail(`${method}(${show(args)}) threw ${String(code)} but changed the database: ${diff}`);
              return;
            }
            const outcome = (result as { outcome?: unknown } | null)?.outcome;
            bump(t.outcomes, method === 'batch' ? `${(result as unknown[]).length} ops` : typeof outcome === 'string' ? outcome : 'ok');
            const problems = checkResult(method, result, args);
            if (problems.length > 0) expect.fail(`${method}(${show(args)}) returned ${show(result)}: ${problems.join('; ')}`);
            for (const { id, account } of writtenEntries(method, result, args)) {
              const rows = await db.all('SELECT account FROM credit_entry WHERE pos = ?', [posOf(id)]);
              if (rows[0]?.account !== account)
                expect.fail(`${method}: entry ${id} was stored under ${show(rows[0]?.account)}, the input said ${show(account)}`);
            }
            if (wroteNothing(method, result)) {
              const diff = snapshotDiff(snap, after);
              if (diff !== null)
                expect.fail(`${method}(${show(args)}) returned ${show(result)} (nothing applied) but changed the database: ${diff}`);
            }
            snap = after;
            remember(pools, result);
          }),
          { numRuns: runs, endOnFailure: true, ...(SEED === undefined ? {} : { seed: SEED }) },
        );
        // fast-check's own report prints the whole counterexample (inputs can be 100 kB);
        // the assertion message already shows the call, shortened.
        if (details.failed) {
          const cause = details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance);
          expect.fail(
            `${method} on ${driver} failed after ${details.numRuns} runs (FC_SEED=${details.seed}, path ${details.counterexamplePath}):\n${cause}`,
          );
        }
        const report = await ledger.verify();
        expect(report.problems).toEqual([]);
        expect(report.ok).toBe(true);
        logSizes.push(report.entries);
        expect(({} as Record<string, unknown>).polluted).toBeUndefined();
        expect(Object.keys(Object.prototype)).toEqual([]);
      } finally {
        await db.close();
      }
    },
    FULL ? 900_000 : 60_000,
  );
});

// ---------------------------------------------------------------------------------------
// Regressions: inputs this suite found the library mishandling (docs/reliability-inputs.md,
// findings 1–7), each stated as the behaviour that must hold.

const FINDING_DRIVERS = DRIVERS.filter((d) => d.name === 'better-sqlite3 file' || d.name === 'libsql file:');

describe.each(FINDING_DRIVERS)('regressions of findings 1–7 on $name', (spec) => {
  let db: TestDb;
  beforeAll(async () => {
    db = await spec.open();
  });
  afterAll(async () => {
    await db?.close();
  });

  /** The call must throw a LedgerError with `code`, and write nothing. */
  async function expectRejected(code: string, call: () => Promise<unknown>): Promise<void> {
    const before = await ledgerSnapshot(db);
    const err = await call().then(
      (v) => ({ returned: v }),
      (e) => e,
    );
    expect(err).toBeInstanceOf(LedgerError);
    expect((err as LedgerError).code).toBe(code);
    expect(snapshotDiff(before, await ledgerSnapshot(db))).toBeNull();
  }

  it('finding 1: strings with lone surrogates (ill-formed UTF-16) are rejected or stored as given', async () => {
    // Two different accounts, one idempotency key each: neither may see the other's credits.
    const a = 'user_\uD800';
    const b = 'user_\uDBFF';
    const ra = await db.ledger.grant({ account: a, amount: 10, idempotencyKey: 'k', reason: 'r\uDC00' }).catch((e) => e);
    if (ra instanceof LedgerError) {
      expect(ra.code).toBe('invalid_account');
      return;
    }
    await db.ledger.grant({ account: b, amount: 20, idempotencyKey: 'k' });
    expect((await db.ledger.getBalance(a)).balance).toBe(10);
    expect((await db.ledger.getBalance(b)).balance).toBe(20);
    const h = await db.ledger.history(a);
    expect(h.entries.map((e) => [e.account, e.reason])).toEqual([[a, 'r\uDC00']]);
    // An identical retry is a replay, not a conflict.
    expect((await db.ledger.grant({ account: a, amount: 10, idempotencyKey: 'k', reason: 'r\uDC00' })).outcome).toBe('replayed');
    expect((await db.ledger.verify()).ok).toBe(true);
  });

  it('finding 1, every string field: a lone surrogate is rejected and nothing is written', async () => {
    const g = await db.ledger.grant({ account: 'sur', amount: 100 });
    const d = await db.ledger.debitIfCovers({ account: 'sur', amount: 10 });
    const h = await db.ledger.hold({ account: 'sur', amount: 10 });
    if (d.outcome !== 'debited' || h.outcome !== 'held') throw new Error('setup');
    const bad = 'x\uDFFF';
    const cases: [string, () => Promise<unknown>][] = [
      ['invalid_account', () => db.ledger.grant({ account: bad, amount: 1 })],
      ['invalid_account', () => db.ledger.getBalance(bad)],
      ['invalid_argument', () => db.ledger.grant({ account: 'sur', amount: 1, idempotencyKey: bad })],
      ['invalid_argument', () => db.ledger.grant({ account: 'sur', amount: 1, reason: bad })],
      ['invalid_argument', () => db.ledger.grant({ account: 'sur', amount: 1, actor: bad })],
      ['invalid_argument', () => db.ledger.debitIfCovers({ account: 'sur', amount: 1, model: bad })],
      ['invalid_argument', () => db.ledger.debitIfCovers({ account: 'sur', amount: 1, keyId: bad })],
      ['invalid_argument', () => db.ledger.debitIfCovers({ account: 'sur', amount: 1, metadata: { note: bad } })],
      ['invalid_argument', () => db.ledger.debitIfCovers({ account: 'sur', amount: 1, metadata: { [bad]: 1 } })],
      ['invalid_argument', () => db.ledger.refund({ entryId: d.entry.id, reason: bad })],
      ['invalid_argument', () => db.ledger.refund({ entryId: `${d.entry.id}\uD800` })],
      ['invalid_argument', () => db.ledger.capture({ holdId: `${h.hold.id}\uD800` })],
      ['invalid_argument', () => db.ledger.keySpend(bad)],
      ['invalid_argument', () => db.ledger.allocations(bad)],
    ];
    for (const [code, call] of cases) await expectRejected(code, call);
    expect(g.outcome).toBe('granted');
  });

  it('finding 2: metadata nested ~3,000 deep (under the 8 KiB limit) is invalid_argument, not a RangeError', async () => {
    let deep: unknown = 1;
    for (let i = 0; i < 3_000; i++) deep = [deep];
    expect(JSON.stringify({ deep }).length).toBeLessThan(8_192);
    await expectRejected('invalid_argument', () => db.ledger.grant({ account: 'deep', amount: 1, metadata: { deep } as never }));
  });

  it('finding 3: cyclic metadata is invalid_argument, not a RangeError', async () => {
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = cyclic;
    await expectRejected('invalid_argument', () => db.ledger.debitIfCovers({ account: 'cyc', amount: 1, metadata: cyclic as never }));
  });

  it('finding 4: batch() with holes in the array is invalid_argument (not dropped, not a TypeError)', async () => {
    await db.ledger.grant({ account: 'holes', amount: 100 });
    // biome-ignore lint/suspicious/noSparseArray: the hole is the point.
    const ops = [{ op: 'grant', account: 'holes', amount: 1 }, , { op: 'debit', account: 'holes', amount: 1000 }] as never;
    await expectRejected('invalid_argument', () => db.ledger.batch(ops));
  });

  it('finding 6: batch() with an op name that is a bigint is invalid_argument, not a TypeError', async () => {
    await expectRejected('invalid_argument', () => db.ledger.batch([{ op: 10n, account: 'big', amount: 1 }] as never));
  });

  it('finding 7: batch() with an op name that is an object without a prototype is invalid_argument, not a TypeError', async () => {
    await expectRejected('invalid_argument', () => db.ledger.batch([{ op: Object.create(null), account: 'np', amount: 1 }] as never));
  });

  it('finding 5: a "__proto__" key in metadata is kept (or rejected), not silently dropped', async () => {
    const metadata = JSON.parse('{"__proto__": {"plan": "pro"}, "a": 1}') as Record<string, unknown>;
    const r = await db.ledger.grant({ account: 'proto', amount: 1, metadata }).catch((e) => e);
    if (r instanceof LedgerError) {
      expect(r.code).toBe('invalid_argument');
      return;
    }
    const [row] = await db.all('SELECT metadata FROM credit_entry WHERE pos = ?', [posOf(r.entry.id)]);
    expect(JSON.parse(String(row?.metadata))).toEqual(metadata);
  });
});

// ---------------------------------------------------------------------------------------
// The CLI, fuzzed: each generated argv against its own copy of a seeded database, so a
// non-zero exit can be checked to have written nothing. The first CLI_SPAWNED run as
// processes of the bin (node --import tsx src/cli/main.ts: argv, streams and exit code as a
// shell sees them); the others call runCli in this process, the program the bin runs (src/cli/
// program.ts never touches process.*), without ~1 s of process start-up each.

const ROOT = resolve(import.meta.dirname, '../..');
const TSX = resolve(ROOT, 'node_modules/tsx/dist/loader.mjs');
const CLI = resolve(ROOT, 'src/cli/main.ts');
const CLI_RUNS = FULL ? 150 : 30;
const CLI_SPAWNED = FULL ? 150 : 3;
const CLI_PARALLEL = FULL ? 6 : 8;
const EXITS = new Set([0, 1, 2, 3, 64, 70]);

const cliAccount = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom('@account', 'acct_a', 'user_42', 'new_acct') },
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      '',
      ' ',
      '-',
      '--',
      '-5',
      '--json',
      'a b',
      'ä',
      '🙂',
      'x'.repeat(201),
      '\n',
      '\t',
      '$(id)',
      "'; DROP TABLE x;--",
    ),
  },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 12 }) },
);
const cliAmount = fc.oneof(
  { weight: 4, arbitrary: fc.integer({ min: 1, max: 500 }).map(String) },
  {
    weight: 4,
    arbitrary: fc.constantFrom(
      '0',
      '-5',
      '1.5',
      '1e3',
      '0x10',
      '+5',
      '',
      'abc',
      '9007199254740991',
      '9007199254740992',
      '99999999999999999999',
      '٣',
      '１',
      ' 5',
      '5 ',
      '007',
    ),
  },
  { weight: 1, arbitrary: fc.string({ maxLength: 6 }) },
);
const cliWindow = fc.constantFrom('day', 'week', 'month', 'year', '', 'Day', '1d');
const cliId = fc.constantFrom('@debit', '@hold', '@grant', '@refund', 'nope', '', '01JD0M3ZQ6V4J8W5Y2X9K7B1C3', 'x'.repeat(65));
const cliDuration = fc.constantFrom('15m', '1.5h', '0', '31d', '30d', '1w', '2 h', '500ms', '99999999999999999999d', '-1', '', '1');
const cliTime = fc.constantFrom(
  '2030-01-31',
  '2030-02-30',
  '1896134400000',
  '0',
  'tomorrow',
  '2030-01-31T12:00:00',
  '2030-01-31T12:00:00Z',
  '2030-01-31T24:00Z',
  '-1',
  '1999-01-01',
);
const cliText = fc.oneof(fc.constantFrom('', 'r', 'x'.repeat(1001), 'ä🙂', '--json'), fc.string({ unit: 'binary', maxLength: 10 }));
const cliRole = fc.constantFrom('admin', 'member', 'viewer', 'owner', '', 'Admin');
const CLI_OPTIONS: Record<string, fc.Arbitrary<string[]>> = {
  idempotencyKey: fc.tuple(fc.constant('--idempotency-key'), fc.oneof(fc.constantFrom('k1', 'k2', '', 'k'.repeat(256)), cliText)),
  reason: fc.tuple(fc.constant('--reason'), cliText),
  expiresAt: fc.tuple(fc.constant('--expires-at'), cliTime),
  priority: fc.tuple(fc.constant('--priority'), fc.constantFrom('0', '10', '100', '101', '-1', '1.5', 'x')),
  ttl: fc.tuple(fc.constant('--ttl'), cliDuration),
  within: fc.tuple(fc.constant('--within'), cliDuration),
  limit: fc.tuple(fc.constant('--limit'), fc.constantFrom('1', '1000', '1001', '0', 'x')),
  cursor: fc.tuple(fc.constant('--cursor'), fc.constantFrom('1', '0', 'abc', '9999999999999999')),
  kinds: fc.tuple(fc.constant('--kinds'), fc.constantFrom('grant,debit', 'nope', ',', 'grant,,refund')),
  batchSize: fc.tuple(fc.constant('--batch-size'), fc.constantFrom('1', '5000', '5001', '0')),
  model: fc.tuple(fc.constant('--model'), cliText),
  keyId: fc.tuple(fc.constant('--key-id'), cliText),
  member: fc.tuple(fc.constant('--member'), cliText),
  action: fc.tuple(fc.constant('--action'), fc.constantFrom('deny', 'warn', 'notify', 'block', '', 'DENY')),
  dryRun: fc.constant(['--dry-run']),
  from: fc.tuple(fc.constant('--from'), fc.oneof(cliTime, fc.constantFrom('2030-01-31', '0', '9007199254740992'))),
  to: fc.tuple(fc.constant('--to'), fc.oneof(cliTime, fc.constantFrom('2031-01-01', '9007199254740991'))),
  groupBy: fc.tuple(fc.constant('--group-by'), fc.constantFrom('model,day', 'key-id,hour', 'account', 'week', ',', 'model,model', '')),
  tzOffset: fc.tuple(fc.constant('--tz-offset'), fc.constantFrom('330', '+05:30', '-05:00', 'Z', '7', '+14:15', '1e3', '05:30', '')),
  after: fc.tuple(fc.constant('--after'), fc.constantFrom('0', '2', '-1', 'abc', '99999999999999999', '')),
  account: fc.tuple(fc.constant('--account'), cliAccount),
  actor: fc.tuple(fc.constant('--actor'), cliText),
  name: fc.tuple(fc.constant('--name'), cliText),
  allowance: fc.tuple(fc.constant('--allowance'), cliAmount),
  every: fc.tuple(fc.constant('--every'), fc.constantFrom('day', 'week', 'month', 'year', 'fortnight', '', 'Month')),
  rolloverMax: fc.tuple(fc.constant('--rollover-max'), cliAmount),
  feature: fc.tuple(
    fc.constant('--feature'),
    fc.oneof(fc.constantFrom('sso=true', 'seats=5', 'tier=gold', 'x', '=1', 'a=', 'a=1e999'), cliText),
  ),
  features: fc.tuple(fc.constant('--features'), fc.constantFrom('{"sso":true}', 'not json', '{"a":[1]}', '[]', 'null', '{}', '{"":1}')),
  planVersion: fc.tuple(fc.constant('--plan-version'), fc.constantFrom('1', '2', '0', '-1', 'x', '9007199254740992')),
  anchor: fc.tuple(fc.constant('--anchor'), fc.oneof(cliTime, fc.constantFrom('9999-01-01', '2024-02-29', '2030-01-31T23:59:59Z'))),
  proration: fc.tuple(fc.constant('--proration'), fc.constantFrom('immediate', 'next_period', 'later', '', 'IMMEDIATE')),
  at: fc.tuple(fc.constant('--at'), fc.constantFrom('now', 'period_end', 'tomorrow', '', 'NOW')),
  owner: fc.tuple(fc.constant('--owner'), cliAccount),
  role: fc.tuple(fc.constant('--role'), cliRole),
  metadata: fc.tuple(fc.constant('--metadata'), fc.constantFrom('{"ticket":7}', '[]', 'not json', '{}', 'null', '{"a":{"b":1}}')),
};
const cliPlan = fc.constantFrom('pro', 'free', 'nope', '', '$plan:pro', 'a\u0001b', 'x'.repeat(201));
const strayOption = fc.oneof(
  fc.constantFrom(['--frobnicate'], ['--idempotency-key'], ['-x'], ['--help'], ['-V']),
  ...Object.values(CLI_OPTIONS),
);

/** Each command: its positionals and the options it takes (docs/cli.md). */
const COMMANDS: Record<string, { pos: fc.Arbitrary<string>[]; opts: string[]; required?: string[] }> = {
  migrate: { pos: [], opts: [] },
  grant: { pos: [cliAccount, cliAmount], opts: ['idempotencyKey', 'reason', 'expiresAt', 'priority'] },
  debit: { pos: [cliAccount, cliAmount], opts: ['idempotencyKey', 'reason', 'model', 'keyId', 'actor'] },
  refund: { pos: [cliId, cliAmount], opts: ['idempotencyKey', 'reason'] },
  adjust: { pos: [cliAccount, cliAmount], opts: ['idempotencyKey'], required: ['reason'] },
  hold: { pos: [cliAccount, cliAmount], opts: ['ttl', 'idempotencyKey', 'reason', 'model', 'keyId'] },
  capture: { pos: [cliId, cliAmount], opts: ['idempotencyKey', 'reason'] },
  release: { pos: [cliId], opts: ['reason'] },
  extend: { pos: [cliId], opts: ['reason'], required: ['ttl'] },
  holds: { pos: [cliAccount], opts: [] },
  lots: { pos: [cliAccount], opts: [] },
  expiring: { pos: [cliAccount], opts: [], required: ['within'] },
  allocations: { pos: [cliId], opts: [] },
  sweep: { pos: [], opts: ['dryRun', 'batchSize'] },
  rebuild: { pos: [], opts: [] },
  balance: { pos: [cliAccount], opts: [] },
  history: { pos: [cliAccount], opts: ['limit', 'cursor', 'kinds'] },
  verify: { pos: [], opts: [] },
  stats: { pos: [], opts: [] },
  spend: { pos: [], opts: ['from', 'to', 'groupBy', 'limit', 'tzOffset', 'account', 'model', 'keyId', 'actor'] },
  top: { pos: [fc.constantFrom('account', 'model', 'key-id', 'actor', 'day', '')], opts: ['from', 'to', 'limit', 'account'] },
  summary: { pos: [], opts: ['from', 'to'] },
  entries: { pos: [], opts: ['after', 'limit'] },
  frobnicate: { pos: [cliAccount], opts: [] },
  'caps set': { pos: [cliAccount, cliWindow, cliAmount], opts: ['action', 'model', 'keyId', 'member', 'idempotencyKey', 'reason'] },
  'caps remove': { pos: [cliAccount, cliWindow], opts: ['model', 'keyId', 'member', 'idempotencyKey', 'reason'] },
  'caps list': { pos: [cliAccount], opts: [] },
  'caps floor': { pos: [cliAccount, cliAmount], opts: ['idempotencyKey', 'reason'] },
  'plans define': { pos: [cliPlan], opts: ['name', 'allowance', 'every', 'rolloverMax', 'feature', 'features', 'reason'] },
  'plans list': { pos: [], opts: [] },
  'plans show': { pos: [cliPlan], opts: ['planVersion'] },
  'plans subscribe': { pos: [cliAccount, cliPlan], opts: ['anchor', 'idempotencyKey', 'reason'] },
  'plans change': { pos: [cliAccount, cliPlan], opts: ['idempotencyKey', 'reason'], required: ['proration'] },
  'plans cancel': { pos: [cliAccount], opts: ['idempotencyKey', 'reason'], required: ['at'] },
  'plans subscription': { pos: [cliAccount], opts: [] },
  'plans entitlements': { pos: [cliAccount], opts: [] },
  'teams create': { pos: [cliAccount], opts: ['name', 'idempotencyKey', 'reason', 'actor'], required: ['owner'] },
  'teams add': { pos: [cliAccount, cliAccount], opts: ['actor', 'reason'], required: ['role'] },
  'teams role': { pos: [cliAccount, cliAccount, cliRole], opts: ['actor', 'reason'] },
  'teams remove': { pos: [cliAccount, cliAccount], opts: ['actor', 'reason'] },
  'teams members': { pos: [cliAccount], opts: [] },
  'teams memberships': { pos: [cliAccount], opts: [] },
  transfer: { pos: [cliAccount, cliAccount, cliAmount], opts: ['idempotencyKey', 'reason', 'actor', 'metadata'] },
};
const cliArgv: fc.Arbitrary<{ libsql: boolean; argv: string[] }> = fc.constantFrom(...Object.keys(COMMANDS)).chain((command) => {
  const c = COMMANDS[command] as (typeof COMMANDS)[string];
  const own = [...c.opts, ...(c.required ?? [])].map((o) => CLI_OPTIONS[o] as fc.Arbitrary<string[]>);
  return fc
    .record({
      libsql: fc.boolean(),
      jsonFirst: fc.boolean(),
      json: fc.boolean(),
      positionals: fc.tuple(...c.pos),
      // Mostly the right number of positionals; sometimes one missing or one extra.
      arity: fc.constantFrom(0, 0, 0, 0, 0, 0, -1, 1),
      required: fc.tuple(...(c.required ?? []).map((o) => CLI_OPTIONS[o] as fc.Arbitrary<string[]>)),
      dropRequired: fc.constantFrom(false, false, false, false, true),
      options: fc.array(
        own.length > 0 ? fc.oneof({ weight: 8, arbitrary: fc.oneof(...own) }, { weight: 1, arbitrary: strayOption }) : strayOption,
        {
          maxLength: own.length > 0 ? 3 : 1,
        },
      ),
      stray: fc.constantFrom(false, false, false, false, false, true),
    })
    .map(({ libsql, jsonFirst, json, positionals, arity, required, dropRequired, options, stray }) => {
      const pos = arity < 0 ? positionals.slice(0, -1) : arity > 0 ? [...positionals, 'extra'] : positionals;
      const flags = [...(dropRequired ? [] : required.flat()), ...(own.length > 0 || stray ? options.flat() : [])];
      const words = command.split(' '); // "caps set": a command group and its subcommand
      const argv = json && jsonFirst ? ['--json', ...words, ...pos, ...flags] : [...words, ...pos, ...flags, ...(json ? ['--json'] : [])];
      return { libsql, argv: argv.map((a) => a.replaceAll('\u0000', '')) };
    });
});

interface CliRun {
  argv: string[];
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The environment the CLI runs with: ours, without an auth token. */
function cliEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.DRIZZLE_CREDITS_AUTH_TOKEN;
  return env;
}

function spawnCli(argv: string[], cwd: string): Promise<CliRun> {
  return new Promise((res, rej) => {
    const env = cliEnv();
    const child = spawn(process.execPath, ['--import', TSX, CLI, ...argv], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.stdout.on('data', (d) => {
      stdout += String(d);
    });
    child.stderr.on('data', (d) => {
      stderr += String(d);
    });
    child.on('error', rej);
    child.on('close', (code) => {
      clearTimeout(timer);
      res({ argv, code, stdout, stderr });
    });
  });
}

/** The CLI in this process: what the bin runs, with streams that collect the output. A throw (the bin would crash) is exit null. */
async function cliInProcess(argv: string[]): Promise<CliRun> {
  let stdout = '';
  let stderr = '';
  const sink = (add: (s: string) => void) =>
    new Writable({
      write(chunk, _e, done) {
        add(String(chunk));
        done();
      },
    });
  const out = sink((t) => {
    stdout += t;
  });
  const err = sink((t) => {
    stderr += t;
  });
  try {
    const code = await runCliProgram(argv, { stdout: out, stderr: err, env: cliEnv() });
    return { argv, code, stdout, stderr };
  } catch (e) {
    return { argv, code: null, stdout, stderr: `${stderr}runCli threw: ${String((e as Error)?.stack ?? e)}` };
  }
}

/** The code a LedgerError exit (2) reports: JSON on stdout with --json, `error [code]` on stderr without. */
function reportedCode(r: CliRun): string | undefined {
  try {
    const j = JSON.parse(r.stdout) as { error?: { code?: unknown } };
    if (typeof j.error?.code === 'string') return j.error.code;
  } catch {
    // not JSON: the text form
  }
  return /error \[([a-z_]+)\]/.exec(r.stderr)?.[1];
}

describe('CLI fuzz (node --import tsx src/cli/main.ts, and runCli in process)', () => {
  let dir: string;
  let template: string;
  let before: LedgerSnapshot;
  const ids: Record<string, string> = {};

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'drizzle-credits-cli-fuzz-'));
    template = join(dir, 'template.db');
    const client = new Database(template);
    client.pragma('journal_mode = WAL');
    const ledger = createLedger(drizzle(client));
    await ledger.migrate();
    const g = await ledger.grant({ account: 'acct_a', amount: 1_000, idempotencyKey: 'k1' });
    await ledger.grant({ account: 'acct_a', amount: 200, expiresAt: Date.now() + 86_400_000, priority: 10 });
    const d = await ledger.debitOnceIfCovers({ account: 'acct_a', amount: 300, idempotencyKey: 'k1' });
    const r = await ledger.refund({ entryId: d.outcome === 'debited' ? d.entry.id : '', amount: 10 });
    const h = await ledger.hold({ account: 'acct_a', amount: 100, ttlMs: 86_400_000 });
    await ledger.plans.define({ id: 'pro', allowance: { amount: 500, every: 'month', rollover: { max: 100 } }, features: { sso: true } });
    await ledger.plans.define({ id: 'free', features: { sso: false } });
    await ledger.plans.subscribe({ account: 'acct_a', planId: 'pro' });
    Object.assign(ids, {
      '@account': 'acct_a',
      '@grant': g.entry.id,
      '@debit': d.outcome === 'debited' ? d.entry.id : 'none',
      '@refund': r.entry.id,
      '@hold': h.outcome === 'held' ? h.hold.id : 'none',
    });
    client.close(); // checkpoints: the template is one file
    before = await snapshotFile(template);
  });
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  async function snapshotFile(file: string): Promise<LedgerSnapshot> {
    const client = new Database(file, { readonly: true });
    try {
      const fake = {
        name: 'snapshot',
        ledger: undefined as never,
        all: async (sql: string, args: unknown[] = []) => client.prepare(sql).all(...args) as Record<string, unknown>[],
        exec: async () => undefined,
        close: async () => undefined,
      } satisfies TestDb;
      return await ledgerSnapshot(fake);
    } finally {
      client.close();
    }
  }

  it(
    `exit codes are in {0,1,2,3,64,70}, exit 2 names a known code, a non-zero exit writes nothing (${CLI_RUNS} invocations, ${Math.min(CLI_SPAWNED, CLI_RUNS)} as processes)`,
    async () => {
      const cases = fc.sample(cliArgv, { numRuns: CLI_RUNS, ...(SEED === undefined ? {} : { seed: SEED }) });
      const exits: Record<string, number> = {};
      const codes: Record<string, number> = {};
      const failures: string[] = [];
      const started = Date.now();
      for (let i = 0; i < cases.length; i += CLI_PARALLEL) {
        const batch = cases.slice(i, i + CLI_PARALLEL).map(async (c, j) => {
          const file = join(dir, `run-${i + j}.db`);
          copyFileSync(template, file);
          const argv = [...(c.libsql ? ['--url', `file:${file}`] : ['--db', file]), ...c.argv.map((a) => ids[a] ?? a)];
          const r = i + j < CLI_SPAWNED ? await spawnCli(argv, dir) : await cliInProcess(argv);
          bump(exits, String(r.code));
          const where = `drizzle-credits ${argv.map((a) => JSON.stringify(a)).join(' ')} → exit ${r.code}\n${r.stderr.slice(0, 400)}${r.stdout.slice(0, 200)}`;
          if (r.code === null || !EXITS.has(r.code)) failures.push(`unexpected exit: ${where}`);
          if (r.code === 2) {
            const code = reportedCode(r);
            bump(codes, String(code));
            if (!isKnownCode(code)) failures.push(`exit 2 without a known code: ${where}`);
          }
          if (r.code === 70) failures.push(`exit 70 (not a LedgerError) on a healthy database: ${where}`);
          if (r.code !== 0) {
            const diff = snapshotDiff(before, await snapshotFile(file));
            if (diff !== null) failures.push(`non-zero exit changed the database (${diff}): ${where}`);
          }
          rmSync(file, { force: true });
          rmSync(`${file}-wal`, { force: true });
          rmSync(`${file}-shm`, { force: true });
        });
        await Promise.all(batch);
      }
      console.log(
        `[bad-input] CLI: ${cases.length} generated invocations (${Math.min(CLI_SPAWNED, cases.length)} as processes, ${CLI_PARALLEL} in parallel) in ${((Date.now() - started) / 1000).toFixed(1)} s; ` +
          `exits ${JSON.stringify(exits)}; LedgerError codes ${JSON.stringify(codes)}; ` +
          `commands ${JSON.stringify(
            cases.reduce<Record<string, number>>((o, c) => {
              const cmd = c.argv.find((a) => !a.startsWith('-')) ?? '?';
              o[cmd] = (o[cmd] ?? 0) + 1;
              return o;
            }, {}),
          )}`,
      );
      expect(failures).toEqual([]);
    },
    FULL ? 900_000 : 120_000,
  );
});
