/**
 * The API and the meter inside workerd (miniflare) over D1, bundled for the `neutral`
 * platform and run **without** `nodejs_compat`: nothing on the request path needs Node
 * (metadata and rate cards included).
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { utf8Length } from '../../src/validate.js';
import { startWorkerd, type Workerd } from './support/workerd.js';

let mf: Workerd;

beforeAll(async () => {
  mf = await startWorkerd(new URL('./support/worker-entry.ts', import.meta.url), { database: 'credits' });
});
afterAll(() => mf?.dispose());

const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
  mf.dispatchFetch(`http://worker${path}`, {
    method: 'POST',
    headers: { authorization: 'Bearer t', 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });

describe('in workerd without nodejs_compat', () => {
  it('on D1: grants with metadata, publishes a rate card, charges, keyed replay, meters; 401 without a token; the dashboard page', async () => {
    const g = await post('/v1/grants', { account: 'w', amount: 100, metadata: { order: 'ö-1' } });
    expect(await g.json()).toMatchObject({ outcome: 'granted', entry: { metadata: { order: 'ö-1' } } });
    expect((await post('/v1/pricing', { rates: { m: { tokens: '0.5' } } })).status).toBe(200);
    const ch = await post('/v1/charges', { account: 'w', model: 'm', usage: { tokens: 9 } }, { 'idempotency-key': 'c1' });
    expect(await ch.json()).toMatchObject({ outcome: 'debited', balance: 95 });
    const again = await post('/v1/charges', { account: 'w', model: 'm', usage: { tokens: 9 } }, { 'idempotency-key': 'c1' });
    expect(await again.json()).toMatchObject({ outcome: 'replayed', balance: 95 });
    const conflict = await post('/v1/charges', { account: 'w', model: 'm', usage: { tokens: 10 } }, { 'idempotency-key': 'c1' });
    expect({ status: conflict.status, type: conflict.headers.get('content-type') }).toEqual({
      status: 409,
      type: 'application/problem+json',
    });
    const bad = await post('/v1/grants', { account: 'w', amount: -1 });
    expect(((await bad.json()) as { code: string }).code).toBe('invalid_amount');
    const m = await mf.dispatchFetch('http://worker/metered', { method: 'POST' });
    expect(m.headers.get('x-credits-charged')).toBe('3');
    const b = await mf.dispatchFetch('http://worker/v1/accounts/w/balance', { headers: { authorization: 'Bearer t' } });
    expect(await b.json()).toMatchObject({ balance: 92, held: 0 });
    expect((await mf.dispatchFetch('http://worker/v1/stats')).status).toBe(401);
    // The dashboard is served from embedded strings: no filesystem needed.
    const page = await mf.dispatchFetch('http://worker/dashboard');
    expect({ status: page.status, html: (await page.text()).includes('dashboard/assets/uPlot.iife.min.js') }).toEqual({
      status: 200,
      html: true,
    });
    const chart = await mf.dispatchFetch('http://worker/dashboard/assets/uPlot.iife.min.js');
    expect({ status: chart.status, size: (await chart.text()).length > 50_000 }).toEqual({ status: 200, size: true });
  });
});

describe('utf8Length (the Buffer-free byte count the limits use)', () => {
  it('equals Buffer.byteLength on any string, lone surrogates included', () => {
    fc.assert(
      fc.property(
        fc.string({
          unit: fc.oneof(fc.constantFrom('\ud800', '\udc00', 'a', 'é', '€'), fc.string({ unit: 'binary', minLength: 1, maxLength: 1 })),
        }),
        (s) => {
          expect(utf8Length(s)).toBe(Buffer.byteLength(s, 'utf8'));
        },
      ),
      { numRuns: 300 },
    );
  });
});
