/**
 * Bad input, fuzzed, for `ledger.webhooks` (the rest of the Ledger is fuzzed by
 * bad-input.test.ts, whose hostile-value generators this reuses). For every method, fast-check
 * mixes well-formed arguments (so real outcomes happen: endpoints added and removed, events —
 * written by real ledger operations crossing a low-balance alert — delivered to a stub fetch
 * that answers 2xx, 500, 410 or throws) with targeted hostile values
 * and fc.anything(). Property, call by call:
 * - the call returns a well-formed result, or throws a LedgerError whose code is in
 *   ERROR_CODES — never any other error;
 * - after a throw, and after `list`/`attempts`, the log, the outbox and the webhook tables are
 *   byte-for-byte what they were;
 * - at the end, verify() is clean and Object.prototype was not polluted.
 * Light (default): better-sqlite3 and libSQL; RELIABILITY=full: more runs.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES, EVENT_TYPES, type Ledger, LedgerError, WEBHOOK_MAX_ATTEMPTS } from '../../src/index.js';
import { DRIVERS, manualClock, type TestDb } from '../support/drivers.js';
import { anything, hostileNumber, hostileString, hostileValue } from './support/input-arbitraries.js';

const FULL = process.env.RELIABILITY === 'full';
const SEED = process.env.FC_SEED === undefined ? undefined : Number(process.env.FC_SEED);
const PLAN = [
  { driver: 'better-sqlite3 file', runs: FULL ? 600 : 40 },
  { driver: 'libsql file:', runs: FULL ? 400 : 20 },
];
const METHODS = ['add', 'remove', 'enable', 'list', 'deliver', 'redeliver', 'attempts'] as const;
type Method = (typeof METHODS)[number];
const CODES = new Set<string>(ERROR_CODES);
const TABLES = ['credit_entry', 'credit_event', 'credit_webhook', 'credit_delivery', 'credit_delivery_attempt'];
const show = (v: unknown) => fc.stringify(v).slice(0, 400);

/** Every row of every table the webhooks may touch, every column as typeof:hex. */
async function snapshot(db: TestDb): Promise<string> {
  const parts: string[] = [];
  for (const t of TABLES) {
    const cols = (await db.all(`SELECT name FROM pragma_table_info('${t}')`)).map((r) => String(r.name));
    const row = cols.map((c) => `typeof("${c}") || ':' || hex("${c}")`).join(` || '|' || `);
    const [r] = await db.all(`SELECT COALESCE(group_concat(x, char(10)), '') AS s FROM (SELECT ${row} AS x FROM ${t} ORDER BY rowid)`);
    parts.push(`${t}\n${String(r?.s)}`);
  }
  return parts.join('\n');
}

/** Ids the fuzzer cannot know up front, resolved at call time. */
interface Env {
  webhooks: string[];
  events: number[];
}
const pick = <T>(xs: readonly T[], i: number, missing: T): T => (xs.length === 0 ? missing : (xs[i % xs.length] as T));
class Lazy {
  constructor(readonly resolve: (env: Env) => unknown) {}
}
const webhookId = fc.oneof(
  { weight: 4, arbitrary: fc.nat().map((i) => new Lazy((env) => pick(env.webhooks, i, 'wh_0'))) },
  { weight: 1, arbitrary: fc.constantFrom('wh_0', 'wh_', 'WH_1', 'wh_1 ', 'wh_💥', `wh_${'a'.repeat(70)}`) },
  { weight: 2, arbitrary: hostileValue },
);
const eventId = fc.oneof(
  { weight: 4, arbitrary: fc.nat().map((i) => new Lazy((env) => pick(env.events, i, 1))) },
  { weight: 1, arbitrary: fc.constantFrom(0, 999_999, 2 ** 53) },
  { weight: 2, arbitrary: hostileNumber },
  { weight: 1, arbitrary: hostileValue },
);
const SECRET = `whsec_${Buffer.alloc(32, 1).toString('base64')}`;
const url = fc.oneof(
  { weight: 10, arbitrary: fc.constantFrom('http://127.0.0.1:9/a', 'https://example.com/hooks?x=1', 'http://[::1]:8080/x') },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      'ftp://x',
      'javascript:alert(1)',
      'http://',
      '/relative',
      'http:// spaced',
      'file:///etc/passwd',
      `http://x/${'p'.repeat(3_000)}`,
    ),
  },
  { weight: 1, arbitrary: fc.webUrl() },
  { weight: 2, arbitrary: hostileString },
);
const types = fc.oneof(
  { weight: 8, arbitrary: fc.subarray([...EVENT_TYPES], { minLength: 1 }) },
  fc.constant([]),
  fc.array(fc.oneof(fc.constantFrom(...EVENT_TYPES), hostileString), { maxLength: 3 }),
  hostileValue,
);
const secret = fc.oneof(
  { weight: 6, arbitrary: fc.constant(SECRET) },
  fc.constantFrom(
    'whsec_',
    'whsec_c2hvcnQ=',
    `whsec_${Buffer.alloc(65).toString('base64')}`,
    'whsec_!!!!',
    SECRET.slice(6),
    `${SECRET}\u0000`,
  ),
  hostileValue,
);
/** An object input: the right fields, some left out, sometimes an extra or hostile one. */
const input = (fields: Record<string, fc.Arbitrary<unknown>>, requiredKeys: string[] = []) =>
  fc.oneof(
    { weight: 6, arbitrary: fc.record(fields, { requiredKeys }) },
    {
      weight: 1,
      arbitrary: fc
        .tuple(fc.record(fields, { requiredKeys: [] }), fc.constantFrom('extra', '__proto__', 'constructor'), anything)
        .map(([o, k, v]) => {
          const copy: Record<string, unknown> = { ...o };
          Object.defineProperty(copy, k, { value: v, enumerable: true, configurable: true, writable: true });
          return copy;
        }),
    },
    { weight: 1, arbitrary: hostileValue },
  );
const stubFetch = fc.constantFrom('ok', 'fail', 'gone', 'throw', 'slow').map((kind) => {
  const f = async (_u: string, init: { signal: AbortSignal }) => {
    if (kind === 'throw') throw new TypeError('fetch failed');
    if (kind === 'slow') await new Promise((_r, rej) => init.signal.addEventListener('abort', () => rej(new Error('aborted'))));
    const status = kind === 'ok' ? 204 : kind === 'gone' ? 410 : 500;
    return { status, headers: new Headers(kind === 'fail' ? { 'retry-after': 'soon' } : {}), body: null };
  };
  Object.defineProperty(f, 'name', { value: `fetch_${kind}` });
  return f;
});
const limit = fc.oneof(fc.integer({ min: 1, max: 5 }), hostileNumber);

const ARGS: Record<Method, fc.Arbitrary<unknown[]>> = {
  add: fc.tuple(input({ url, types, secret }, ['url'])),
  remove: fc.tuple(webhookId),
  enable: fc.tuple(webhookId),
  list: fc.oneof(fc.constant<unknown[]>([]), fc.tuple(hostileValue)),
  deliver: fc.oneof(
    fc.tuple(
      input({
        fetch: fc.oneof({ weight: 5, arbitrary: stubFetch }, { weight: 1, arbitrary: hostileValue }),
        limit,
        timeoutMs: fc.oneof(fc.constant(50), hostileNumber),
        concurrency: limit,
      }),
    ),
    fc.constant<unknown[]>([]),
  ),
  redeliver: fc.tuple(eventId),
  attempts: fc.tuple(eventId),
};

const materialize = (args: unknown[], env: Env) =>
  args.map((a) => {
    if (a instanceof Lazy) return a.resolve(env);
    return a;
  });

function problemsOf(method: Method, r: unknown): string[] {
  const out: string[] = [];
  const o = r as Record<string, unknown>;
  const isWebhook = (w: unknown) => {
    const x = w as Record<string, unknown>;
    return (
      typeof x?.id === 'string' &&
      /^wh_/.test(x.id) &&
      typeof x.url === 'string' &&
      ['active', 'disabled'].includes(String(x.status)) &&
      Number.isSafeInteger(x.cursor)
    );
  };
  switch (method) {
    case 'add':
      if (
        !isWebhook(o.webhook) ||
        o.id !== (o.webhook as { id: string }).id ||
        typeof o.secret !== 'string' ||
        !o.secret.startsWith('whsec_')
      )
        out.push('malformed add result');
      break;
    case 'remove':
      if (typeof o.removed !== 'string') out.push('malformed remove result');
      break;
    case 'enable':
      if (!isWebhook(r) || o.status !== 'active') out.push('malformed enable result');
      break;
    case 'list':
      if (!Array.isArray(r) || !r.every(isWebhook)) out.push('malformed list');
      else if (JSON.stringify(r).includes('whsec_')) out.push('list shows a secret');
      break;
    case 'deliver':
      for (const k of ['queued', 'sent', 'delivered', 'retried', 'failed', 'disabled', 'lost'])
        if (!Number.isSafeInteger(o[k]) || (o[k] as number) < 0) out.push(`deliver.${k} is ${String(o[k])}`);
      if (
        (o.delivered as number) + (o.retried as number) + (o.failed as number) + (o.lost as number) >
        (o.sent as number) + (o.retried as number) + (o.failed as number)
      )
        out.push('deliver counts more results than attempts');
      if (typeof o.more !== 'boolean') out.push('deliver.more is not a boolean');
      break;
    case 'redeliver':
      if (!Number.isSafeInteger(o.eventId) || !Array.isArray(o.webhooks)) out.push('malformed redeliver result');
      break;
    case 'attempts':
      if (!Array.isArray(r)) out.push('attempts is not an array');
      else
        for (const a of r as Record<string, unknown>[])
          if (!(Number(a.attempt) >= 1) || !['sending', 'lost', 'delivered', 'error', 'timeout', 'gone'].includes(String(a.outcome)))
            out.push(`malformed attempt ${JSON.stringify(a)}`);
      break;
  }
  return out;
}

/**
 * Events made by real ledger operations (the triggers write them): with a low-balance alert at
 * 50 on acct_a, a grant of 100 then a debit of 100 crosses it once — one `balance.low` each.
 */
async function makeEvents(ledger: Ledger, n: number): Promise<number[]> {
  for (let i = 0; i < n; i++) {
    await ledger.grant({ account: 'acct_a', amount: 100 });
    await ledger.debitIfCovers({ account: 'acct_a', amount: 100 });
  }
  const { events } = await ledger.events.list({ after: 0, limit: 1_000 });
  return events.map((e) => e.id);
}

const call = (ledger: Ledger, method: Method, args: unknown[]) =>
  (ledger.webhooks[method] as (...a: unknown[]) => Promise<unknown>).apply(ledger.webhooks, args);

describe.each(PLAN)('bad input fuzz of ledger.webhooks on $driver', ({ driver, runs }) => {
  it.each(METHODS)(
    `webhooks.%s: a valid result or a LedgerError with a known code; a throw writes nothing (${runs} runs)`,
    async (method) => {
      const spec = DRIVERS.find((d) => d.name === driver);
      if (spec === undefined) throw new Error(`no driver ${driver}`);
      const clock = manualClock();
      const db = await spec.open({ clock: clock.now });
      const tally: Record<string, number> = {};
      try {
        const env: Env = { webhooks: [], events: [] };
        for (const u of ['http://127.0.0.1:9/one', 'http://127.0.0.1:9/two'])
          env.webhooks.push((await db.ledger.webhooks.add({ url: u })).id);
        await db.ledger.alerts.set({ account: 'acct_a', lowBalance: 50 });
        env.events = await makeEvents(db.ledger, 3);
        expect(env.events.length).toBe(3);
        let snap = await snapshot(db);
        const details = await fc.check(
          fc.asyncProperty(ARGS[method], fc.integer({ min: 0, max: 3 }), async (raw, more) => {
            if (more > 2) {
              env.events = await makeEvents(db.ledger, 1);
              snap = await snapshot(db);
            }
            clock.advance(more * 7_200_000);
            const args = materialize(raw, env);
            let result: unknown;
            let error: unknown;
            let threw = false;
            try {
              result = await call(db.ledger, method, args);
            } catch (e) {
              threw = true;
              error = e;
            }
            const after = await snapshot(db);
            if (threw) {
              const code = (error as { code?: unknown } | null)?.code;
              tally[`threw ${String(code)}`] = (tally[`threw ${String(code)}`] ?? 0) + 1;
              if (!(error instanceof LedgerError) || !CODES.has(error.code))
                expect.fail(`webhooks.${method}(${show(args)}) threw a non-LedgerError: ${String((error as Error)?.stack ?? error)}`);
              if (after !== snap) expect.fail(`webhooks.${method}(${show(args)}) threw ${String(code)} but changed the database`);
              return;
            }
            tally.ok = (tally.ok ?? 0) + 1;
            const problems = problemsOf(method, result);
            if (problems.length > 0) expect.fail(`webhooks.${method}(${show(args)}) returned ${show(result)}: ${problems.join('; ')}`);
            if ((method === 'list' || method === 'attempts') && after !== snap) expect.fail(`webhooks.${method} changed the database`);
            if (method === 'add') env.webhooks.push((result as { id: string }).id);
            snap = after;
          }),
          { numRuns: runs, endOnFailure: true, ...(SEED === undefined ? {} : { seed: SEED }) },
        );
        if (details.failed) {
          const cause = details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance);
          expect.fail(`webhooks.${method} on ${driver} failed after ${details.numRuns} runs (FC_SEED=${details.seed}):\n${cause}`);
        }
        console.log(`[bad-input webhooks] ${driver} ${method}: ${JSON.stringify(tally)}`);
        // Nothing a webhook call does may touch the log.
        const report = await db.ledger.verify();
        expect(report.problems).toEqual([]);
        const [{ n }] = (await db.all('SELECT MAX(attempts - retries_from) AS n FROM credit_delivery')) as [{ n: number | null }];
        expect(n ?? 0).toBeLessThanOrEqual(WEBHOOK_MAX_ATTEMPTS + 1);
        expect(({} as Record<string, unknown>).polluted).toBeUndefined();
        expect(Object.keys(Object.prototype)).toEqual([]);
      } finally {
        await db.close();
      }
    },
    FULL ? 600_000 : 30_000,
  );
});
