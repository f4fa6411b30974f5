/**
 * Route fuzz (fast-check): for every route of the OpenAPI document, random methods, path
 * parameters, query strings, headers and bodies (hostile JSON shaped by the route's own body
 * schema, broken JSON, wrong media types). Never a 5xx; every error is problem+json with a
 * code; after every error the ledger's tables are byte-for-byte what they were.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ledgerSnapshot, snapshotDiff } from '../reliability/support/input-snapshot.js';
import { DRIVERS, type TestDb } from '../support/drivers.js';
import { apiFor } from './support.js';

let db: TestDb;
let api: ReturnType<typeof apiFor>;
type Doc = {
  paths: Record<
    string,
    Record<
      string,
      { requestBody?: { content: Record<string, { schema: { properties?: object } }> }; parameters?: { name: string; in: string }[] }
    >
  >;
};
let doc: Doc;

beforeAll(async () => {
  db = await DRIVERS.find((d) => d.name === 'better-sqlite3 :memory:')!.open();
  api = apiFor(db.ledger);
  const l = db.ledger;
  // Something to find: accounts, an entry, an open hold, a plan, a pricing version, a team.
  await l.grant({ account: 'x1', amount: 1000, expiresAt: Date.now() + 86_400_000 });
  await l.debitIfCovers({ account: 'x1', amount: 10, keyId: 'x1', model: 'x1' });
  await l.hold({ account: 'x1', amount: 10 });
  await l.plans.define({ id: 'x1', allowance: { amount: 5, every: 'month' } });
  await l.pricing.publish({ rates: { x1: { x1: '1' } } });
  await l.teams.create({ team: 'team1', owner: 'x1' });
  const res = await api.app.request('/openapi.json', { headers: { authorization: 'Bearer admin' } });
  doc = (await res.json()) as Doc;
});
afterAll(() => db.close());

const hostileString = fc.oneof(
  fc.constantFrom(
    '',
    'x1',
    'ce_1',
    'ce_3',
    '1',
    '0',
    '-1',
    '$pricing',
    '$plan:x1',
    '__proto__',
    'constructor',
    '\u0000',
    '\ud800',
    'a\nb',
    '%',
    '%ZZ',
    '..',
  ),
  fc.constantFrom(
    'x'.repeat(201),
    'x'.repeat(1001),
    'team1',
    'day',
    'deny',
    'immediate',
    'now',
    'up',
    'admin',
    'grant',
    'debit',
    'cap.reached',
  ),
  fc.string({ maxLength: 20 }),
  fc.string({ unit: 'binary', maxLength: 8 }),
);
const hostileNumber = fc.oneof(
  fc.constantFrom(0, -0, 1, -1, 0.5, 2 ** 53, 2 ** 53 - 1, -(2 ** 53), 1e308, -1e308, 86_400_000, 1_700_000_000_000),
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
);
const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  hostileString,
  hostileNumber,
  fc.constantFrom(true, false, null, [], {}, [1], { __proto__: 1 }, { a: { b: { c: {} } } }),
  fc.jsonValue({ maxDepth: 3 }),
);

/** Query strings: the route's documented keys (and others) with hostile values, sometimes repeated. */
const queryArb = (names: string[]) =>
  fc
    .array(
      fc.tuple(
        fc.oneof(fc.constantFrom(...(names.length ? names : ['limit'])), fc.string({ maxLength: 6 })),
        fc.oneof(hostileString, hostileNumber.map(String)),
      ),
      {
        maxLength: 4,
      },
    )
    .map((pairs) => (pairs.length === 0 ? '' : `?${new URLSearchParams(pairs.map(([k, v]) => [k, String(v)])).toString()}`));

/** Bodies: objects built from the route's own body properties with hostile values, plus raw text and deep nesting. */
const bodyArb = (props: string[]) =>
  fc.oneof(
    fc
      .dictionary(fc.oneof(fc.constantFrom(...(props.length ? props : ['x'])), fc.string({ maxLength: 5 })), hostileValue, { maxKeys: 6 })
      .map((o) => JSON.stringify(o)),
    fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v)),
    fc.constantFrom(
      '',
      '{',
      'null',
      '[]',
      '"x"',
      '{"__proto__":{"admin":true}}',
      `{"metadata":${'['.repeat(5000)}${']'.repeat(5000)}}`,
      '\u0000',
    ),
    fc.string({ maxLength: 30 }),
  );

const headerArb = fc.record({
  contentType: fc.constantFrom(
    'application/json',
    'application/json; charset=utf-8',
    'text/plain',
    'application/x-www-form-urlencoded',
    'application/problem+json',
    'json',
    '',
  ),
  idempotencyKey: fc.option(
    fc.oneof(fc.constantFrom('', 'k', '$x', 'x'.repeat(300)), fc.string({ unit: fc.constantFrom('a', 'b', '-', ' ', ':'), maxLength: 10 })),
    {
      nil: undefined,
    },
  ),
  token: fc.constantFrom('admin', 'admin', 'admin', 'rw', 'read', 'none', 'bogus'),
});

/** A path segment: percent-encoded; `%` and `%ZZ` stay malformed on purpose; a lone surrogate becomes its (invalid) UTF-8 bytes. */
function segment(v: string): string {
  if (v === '%' || v === '%ZZ') return v;
  try {
    return encodeURIComponent(v);
  } catch {
    return '%ED%A0%80';
  }
}

describe('HTTP fuzz', () => {
  it('every route: never a 5xx, errors are problem+json with a code, an error leaves the database unchanged', async () => {
    const routes = Object.entries(doc.paths).flatMap(([path, item]) => Object.entries(item).map(([method, op]) => ({ path, method, op })));
    expect(routes.length).toBeGreaterThan(45);
    let baseline = await ledgerSnapshot(db);
    let events = (await db.all('SELECT COUNT(*) AS n FROM credit_event'))[0]?.n;
    const seen = new Set<number>();
    const arb = fc.integer({ min: 0, max: routes.length - 1 }).chain((i) => {
      const { path, method, op } = routes[i]!;
      const props = Object.keys(op.requestBody?.content['application/json']?.schema.properties ?? {});
      const query = (op.parameters ?? []).filter((p) => p.in === 'query').map((p) => p.name);
      const params = [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]!);
      return fc.record({
        i: fc.constant(i),
        method: fc.oneof(
          { weight: 6, arbitrary: fc.constant(method.toUpperCase()) },
          fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS'),
        ),
        params: fc.tuple(...params.map(() => hostileString)),
        query: queryArb(query),
        body: bodyArb(props),
        headers: headerArb,
        mangle: fc.oneof({ weight: 12, arbitrary: fc.constant(0) }, fc.constantFrom(1, 2, 3)),
      });
    });
    await fc.assert(
      fc.asyncProperty(arb, async ({ i, method, params, query, body, headers, mangle }) => {
        const route = routes[i]!;
        let n = 0;
        let path = route.path.replace(/\{\w+\}/g, () => segment(String(params[n++])));
        // Now and then a path that is not a route: an extra segment, a doubled slash, a missing tail.
        if (mangle === 1) path += `/${segment(String(params[0] ?? 'x'))}`;
        if (mangle === 2) path = path.replace('/v1/', '/v1//');
        if (mangle === 3) path = path.slice(0, path.lastIndexOf('/') + 1);
        const h: Record<string, string> = { authorization: `Bearer ${headers.token}` };
        if (headers.contentType) h['content-type'] = headers.contentType;
        if (headers.idempotencyKey !== undefined) h['idempotency-key'] = headers.idempotencyKey;
        const res = await api.app.request(path + query, {
          method,
          headers: h,
          body: method === 'GET' || method === 'HEAD' ? undefined : body,
        });
        seen.add(res.status);
        const text = await res.text();
        expect(res.status, `${method} ${path}${query} ${body.slice(0, 200)} → ${text.slice(0, 300)}`).toBeLessThan(500);
        if (res.status >= 400) {
          if (method !== 'HEAD') {
            expect(res.headers.get('content-type')).toBe('application/problem+json');
            const p = JSON.parse(text) as { code?: unknown; status?: unknown };
            expect(typeof p.code).toBe('string');
            expect(p.status).toBe(res.status);
          }
          const after = await ledgerSnapshot(db);
          expect(snapshotDiff(baseline, after), `${method} ${path}`).toBeNull();
          expect((await db.all('SELECT COUNT(*) AS n FROM credit_event'))[0]?.n).toBe(events);
        } else {
          // A valid request the fuzzer stumbled on: what it wrote is the new baseline.
          baseline = await ledgerSnapshot(db);
          events = (await db.all('SELECT COUNT(*) AS n FROM credit_event'))[0]?.n;
        }
      }),
      { numRuns: 1000 },
    );
    expect(api.errors).toEqual([]);
    // The run reached past validation too, not only 4xx.
    expect(seen.has(200)).toBe(true);
    expect(seen.has(400)).toBe(true);
  });
});
