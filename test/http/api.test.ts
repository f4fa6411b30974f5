/**
 * drizzle-credits/http in process (`app.request`): one test per family on every driver,
 * the auth matrix over every route, problem+json, Idempotency-Key, body limit and media type,
 * and the OpenAPI document against the routes.
 */

import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Validator } from '@seriousme/openapi-schema-validator';
import { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCreditsApi, operations } from '../../src/http/index.js';
import { LedgerError } from '../../src/index.js';
import { DRIVERS, type DriverSpec, manualClock, type TestDb } from '../support/drivers.js';
import { startWorkerd } from './support/workerd.js';
import { apiFor, call, expectProblem, TOKENS } from './support.js';

const T0 = Date.UTC(2030, 0, 15, 12);

/**
 * The family tests on every driver: each request goes through the API to a ledger on that
 * driver, and every 200 is checked against the response schema its operation documents. The
 * drivers reached from Node get `app.request`; D1 gets the same API running where D1 apps run
 * it, inside workerd (miniflare), reached with `dispatchFetch` — not through miniflare's Node
 * proxy, whose synchronous `prepare()` (SynchronousFetcher) loses a reply under load and
 * breaks the connection for the rest of a block (seen in CI with this tour's ~65 statements).
 */
const TOUR_DRIVERS = [...DRIVERS.filter((d) => d.name !== 'd1 (miniflare)').map((d) => d.name), 'd1 (workerd)'];

async function workerdApp(): Promise<{ app: { request(path: string, init?: RequestInit): Promise<Response> }; close(): Promise<void> }> {
  const mf = await startWorkerd(new URL('./support/worker-tour-entry.ts', import.meta.url), {
    database: 'tour',
    bindings: { CLOCK: String(T0) },
  });
  return { app: { request: (path, init) => mf.dispatchFetch(`http://worker${path}`, init) }, close: () => mf.dispose() };
}

describe.each(TOUR_DRIVERS)('routes on %s', (driverName) => {
  let close: () => Promise<void>;
  let api: { app: { request(path: string, init?: RequestInit): Response | Promise<Response> } };
  const clock = manualClock(T0);
  beforeAll(async () => {
    if (driverName === 'd1 (workerd)') {
      const w = await workerdApp();
      api = w;
      close = w.close;
    } else {
      const db = await (DRIVERS.find((d) => d.name === driverName) as DriverSpec).open({ clock: clock.now });
      api = apiFor(db.ledger);
      close = () => db.close();
    }
  });
  afterAll(() => close());

  /** Every 200 the family tests saw, checked against its operation's documented response schema at the end. */
  const seen: { method: string; path: string; body: unknown }[] = [];
  const req = async (method: string, path: string, o?: Parameters<typeof call>[3]) => {
    const r = await call(api.app, method, path, o);
    if (r.status === 200) seen.push({ method, path: path.split('?')[0] ?? path, body: r.body });
    return r;
  };

  describe('money verbs', () => {
    it('grants, debits (plain, keyed: replay and conflict), refunds, adjusts, transfers and batches', async () => {
      const g = await req('POST', '/v1/grants', { body: { account: 'm1', amount: 1000, reason: 'pack', metadata: { order: 7 } } });
      expect(g.status).toBe(200);
      expect(g.body).toMatchObject({ outcome: 'granted', balance: 1000, entry: { kind: 'grant', metadata: { order: 7 } } });

      const d = await req('POST', '/v1/debits', { token: 'write', body: { account: 'm1', amount: 100, model: 'gpt' } });
      expect(d.body).toMatchObject({ outcome: 'debited', balance: 900 });
      const poor = await req('POST', '/v1/debits', { token: 'write', body: { account: 'm1', amount: 5000 } });
      expect(poor.status).toBe(200);
      expect(poor.body).toMatchObject({ outcome: 'insufficient', requested: 5000, available: 900 });

      const keyed = { token: 'write', headers: { 'idempotency-key': 'req-1' }, body: { account: 'm1', amount: 50 } };
      expect((await req('POST', '/v1/debits', keyed)).body).toMatchObject({ outcome: 'debited', balance: 850 });
      expect((await req('POST', '/v1/debits', keyed)).body).toMatchObject({ outcome: 'replayed', balance: 850 });
      expectProblem(await req('POST', '/v1/debits', { ...keyed, body: { account: 'm1', amount: 51 } }), 409, 'idempotency_conflict');
      // Header and body naming different keys is a client error, not a silent choice.
      expectProblem(
        await req('POST', '/v1/debits', { ...keyed, body: { account: 'm1', amount: 50, idempotencyKey: 'other' } }),
        400,
        'invalid_argument',
      );

      const r = await req('POST', '/v1/refunds', { body: { entryId: d.body.entry.id, amount: 40 } });
      expect(r.body).toMatchObject({ outcome: 'refunded', refundable: 60, balance: 890 });
      expectProblem(await req('POST', '/v1/refunds', { body: { entryId: d.body.entry.id, amount: 61 } }), 409, 'exceeds_refundable');
      expectProblem(await req('POST', '/v1/refunds', { body: { entryId: 'ce_999999' } }), 404, 'not_found');

      expect((await req('POST', '/v1/adjustments', { body: { account: 'm1', delta: -90, reason: 'fix' } })).body).toMatchObject({
        outcome: 'adjusted',
        balance: 800,
      });
      expectProblem(await req('POST', '/v1/adjustments', { body: { account: 'm1', delta: 0, reason: 'x' } }), 400, 'invalid_amount');

      const t = await req('POST', '/v1/transfers', { token: 'write', body: { from: 'm1', to: 'm2', amount: 300 } });
      expect(t.body).toMatchObject({ outcome: 'transferred', balance: 500, to: { balance: 300 } });
      expectProblem(
        await req('POST', '/v1/transfers', { token: 'write', body: { from: 'm1', to: 'm1', amount: 1 } }),
        400,
        'invalid_argument',
      );

      // A batch with a grant needs admin; its refused op comes back as a plain JSON error.
      const ops = [
        { op: 'grant', account: 'm3', amount: 10 },
        { op: 'refund', entryId: 'ce_999999' },
        { op: 'debit', account: 'm3', amount: 4 },
      ];
      expectProblem(await req('POST', '/v1/batch', { token: 'write', body: { ops } }), 403, 'forbidden');
      const b = await req('POST', '/v1/batch', { body: { ops } });
      expect(b.body.results.map((x: { outcome: string }) => x.outcome)).toEqual(['granted', 'rejected', 'debited']);
      expect(b.body.results[1].error).toMatchObject({ code: 'not_found', message: expect.any(String) });
      expectProblem(await req('POST', '/v1/batch', { body: { ops, extra: 1 } }), 400, 'invalid_argument');
      // A batch has no key of its own: a header would promise a safe retry that applies twice.
      expectProblem(await req('POST', '/v1/batch', { body: { ops }, headers: { 'idempotency-key': 'b1' } }), 400, 'invalid_argument');
      expectProblem(await req('POST', '/v1/batch', { body: { ops: [{ op: 'nope' }] } }), 400, 'invalid_argument');
    });
  });

  describe('holds and account reads', () => {
    it('hold, capture part, release, extend; balance, history pages, lots, holds, expiring, entries feed, entry, allocations, keySpend', async () => {
      await req('POST', '/v1/grants', { body: { account: 'h1', amount: 500, expiresAt: T0 + 86_400_000, priority: 10 } });
      const h = await req('POST', '/v1/holds', {
        token: 'write',
        headers: { 'idempotency-key': 'job-1' },
        body: { account: 'h1', amount: 200, keyId: 'k1' },
      });
      expect(h.body).toMatchObject({ outcome: 'held', available: 300 });
      const id = h.body.hold.id as string;
      const h2 = await req('POST', '/v1/holds', { token: 'write', body: { account: 'h1', amount: 50, ttlMs: 60_000 } });
      expect((await req('GET', '/v1/accounts/h1/holds', { token: 'read' })).body.holds).toHaveLength(2);

      const cap = await req('POST', `/v1/holds/${id}/capture`, { token: 'write', body: { amount: 120 } });
      expect(cap.body).toMatchObject({ outcome: 'captured', released: 80, balance: 380 });
      // Capturing a captured hold again replays the capture (the library's rule); an unknown hold is 404.
      expect((await req('POST', `/v1/holds/${id}/capture`, { token: 'write' })).body.outcome).toBe('replayed');
      expectProblem(await req('POST', '/v1/holds/ce_999999/capture', { token: 'write' }), 404, 'not_found');
      expectProblem(await req('POST', `/v1/holds/${id}/capture`, { token: 'write', body: { holdId: 'ce_1' } }), 400, 'invalid_argument');
      expect((await req('POST', `/v1/holds/${h2.body.hold.id}/extend`, { token: 'write', body: { ttlMs: 120_000 } })).body.outcome).toBe(
        'extended',
      );
      expect((await req('POST', `/v1/holds/${h2.body.hold.id}/release`, { token: 'write' })).body.outcome).toBe('released');
      expect((await req('POST', `/v1/holds/${h2.body.hold.id}/release`, { token: 'write' })).body.outcome).toBe('replayed');

      const bal = await req('GET', '/v1/accounts/h1/balance', { token: 'read' });
      expect(bal.body).toMatchObject({ account: 'h1', balance: 380, held: 0, available: 380, caps: [] });
      const p1 = await req('GET', '/v1/accounts/h1/entries?limit=2', { token: 'read' });
      expect(p1.body.entries).toHaveLength(2);
      const p2 = await req('GET', `/v1/accounts/h1/entries?limit=50&cursor=${p1.body.nextCursor}&kinds=grant,hold`, { token: 'read' });
      expect(p2.body.entries.map((e: { kind: string }) => e.kind).sort()).toEqual(['grant', 'hold', 'hold']);
      expectProblem(await req('GET', '/v1/accounts/h1/entries?limit=abc', { token: 'read' }), 400, 'invalid_argument');
      expectProblem(await req('GET', '/v1/accounts/%24pricing/balance', { token: 'read' }), 400, 'invalid_account');

      expect((await req('GET', '/v1/accounts/h1/lots', { token: 'read' })).body.lots[0]).toMatchObject({ priority: 10 });
      expect((await req('GET', '/v1/accounts/h1/expiring?withinMs=172800000', { token: 'read' })).body.lots).toHaveLength(1);
      expectProblem(await req('GET', '/v1/accounts/h1/expiring', { token: 'read' }), 400, 'invalid_argument');
      expect((await req('GET', '/v1/keys/k1/spend', { token: 'read' })).body).toMatchObject({ keyId: 'k1', debited: 120 });

      const feed = await req('GET', '/v1/entries?after=0&limit=3', { token: 'read' });
      expect(feed.body).toMatchObject({ hasMore: true, cursor: expect.any(String) });
      expect((await req('GET', `/v1/entries?after=${feed.body.cursor}&limit=1000`, { token: 'read' })).body.hasMore).toBe(false);
      const capId = cap.body.entry.id as string;
      expect((await req('GET', `/v1/entries/${capId}`, { token: 'read' })).body).toMatchObject({ id: capId, kind: 'capture' });
      expect((await req('GET', `/v1/entries/${capId}/allocations`, { token: 'read' })).body.allocations.length).toBeGreaterThan(0);
      expectProblem(await req('GET', '/v1/entries/ce_999999', { token: 'read' }), 404, 'not_found');

      expect((await req('GET', '/v1/stats', { token: 'read' })).body.accounts).toBeGreaterThan(0);
      const dg = await req('GET', '/v1/digest');
      expect((await req('POST', '/v1/verify', { body: { digest: dg.body.digest } })).body).toMatchObject({ ok: true, problemCount: 0 });
      expect((await req('POST', '/v1/verify')).body.ok).toBe(true);
      expect((await req('POST', '/v1/sweep', { body: { dryRun: true } })).body).toMatchObject({ dryRun: true });
      expectProblem(await req('POST', '/v1/sweep', { body: { onProgress: 1 } }), 400, 'invalid_argument');
    });
  });

  describe('configuration families', () => {
    it('caps: set, capped debit (200 with outcome), list, remove; floor', async () => {
      await req('POST', '/v1/grants', { body: { account: 'c1', amount: 1000 } });
      const s = await req('POST', '/v1/caps', { body: { account: 'c1', window: 'day', limit: 100 } });
      expect(s.body).toMatchObject({ outcome: 'set', cap: { limit: 100, action: 'deny' } });
      const d = await req('POST', '/v1/debits', { token: 'write', body: { account: 'c1', amount: 101 } });
      expect(d.status).toBe(200);
      expect(d.body).toMatchObject({ outcome: 'capped', limit: 100 });
      expect((await req('GET', '/v1/accounts/c1/caps', { token: 'read' })).body.caps).toHaveLength(1);
      expectProblem(await req('POST', '/v1/caps', { body: { account: 'c1', window: 'year', limit: 1 } }), 400, 'invalid_argument');
      expectProblem(await req('POST', '/v1/caps', { body: { account: 'c1', window: 'day', limit: -1 } }), 400, 'invalid_amount');
      expect((await req('POST', '/v1/caps/remove', { body: { account: 'c1', window: 'day' } })).body.outcome).toBe('removed');
      expect((await req('PUT', '/v1/accounts/c1/floor', { body: { floor: -50 } })).body).toMatchObject({ outcome: 'set', floor: -50 });
      expect((await req('GET', '/v1/accounts/c1/balance', { token: 'read' })).body.available).toBe(1050);
    });

    it('plans: define, list, get (404), subscribe, subscription, entitlements, feature, change, cancel', async () => {
      const def = await req('POST', '/v1/plans', {
        body: { id: 'pro', allowance: { amount: 100, every: 'month' }, features: { sso: true, seats: 5 } },
      });
      expect(def.body).toMatchObject({ outcome: 'defined', plan: { id: 'pro', version: 1 } });
      await req('POST', '/v1/plans', { body: { id: 'max', allowance: { amount: 500, every: 'month' } } });
      expect((await req('GET', '/v1/plans', { token: 'read' })).body.plans).toHaveLength(2);
      expect((await req('GET', '/v1/plans/pro?version=1', { token: 'read' })).body.version).toBe(1);
      expectProblem(await req('GET', '/v1/plans/nope', { token: 'read' }), 404, 'not_found');
      const sub = await req('POST', '/v1/subscriptions', {
        headers: { 'idempotency-key': 'sub-1' },
        body: { account: 'p1', planId: 'pro' },
      });
      expect(sub.body).toMatchObject({ outcome: 'subscribed' });
      expectProblem(await req('POST', '/v1/subscriptions', { body: { account: 'p1', planId: 'max' } }), 409, 'already_subscribed');
      expect((await req('GET', '/v1/accounts/p1/subscription', { token: 'read' })).body.subscription).toMatchObject({ planId: 'pro' });
      expect((await req('GET', '/v1/accounts/nobody/subscription', { token: 'read' })).body).toEqual({ subscription: null });
      expect((await req('GET', '/v1/accounts/p1/entitlements', { token: 'read' })).body.features).toEqual({ sso: true, seats: 5 });
      expect((await req('GET', '/v1/accounts/p1/features/seats', { token: 'read' })).body).toEqual({ enabled: true, value: 5 });
      expect(
        (await req('POST', '/v1/subscriptions/change', { body: { account: 'p1', planId: 'max', proration: 'immediate' } })).body.outcome,
      ).toBe('changed');
      expect((await req('POST', '/v1/subscriptions/cancel', { body: { account: 'p1', at: 'period_end' } })).body.outcome).toBe('canceled');
    });

    it('pricing: publish, history, active, get, quote, charge, activate', async () => {
      expect((await req('GET', '/v1/pricing/active', { token: 'read' })).body).toEqual({ pricing: null });
      const pub = await req('POST', '/v1/pricing', { body: { rates: { gpt: { input: '0.5', output: '1.25' } }, label: 'v1' } });
      expect(pub.body).toMatchObject({ outcome: 'published', version: 1 });
      await req('POST', '/v1/pricing', { body: { rates: { gpt: { input: '1' } }, activate: false } });
      expect((await req('GET', '/v1/pricing', { token: 'read' })).body.versions).toHaveLength(2);
      expect((await req('GET', '/v1/pricing/active', { token: 'read' })).body.pricing.version).toBe(1);
      expect((await req('GET', '/v1/pricing/2', { token: 'read' })).body.active).toBe(false);
      expectProblem(await req('GET', '/v1/pricing/9', { token: 'read' }), 404, 'not_found');
      expectProblem(await req('GET', '/v1/pricing/x', { token: 'read' }), 400, 'invalid_argument');
      const q = await req('POST', '/v1/pricing/quote', { token: 'read', body: { model: 'gpt', usage: { input: 3, output: 2 } } });
      expect(q.body).toMatchObject({ credits: 4, exact: '4', version: 1 });
      expectProblem(await req('POST', '/v1/pricing', { body: { rates: { gpt: { input: 0.5 } } } }), 400, 'invalid_argument');

      await req('POST', '/v1/grants', { body: { account: 'q1', amount: 100 } });
      const ch = await req('POST', '/v1/charges', {
        token: 'write',
        headers: { 'idempotency-key': 'c-1' },
        body: { account: 'q1', model: 'gpt', usage: { input: 3 } },
      });
      expect(ch.body).toMatchObject({ outcome: 'debited', balance: 98, quote: { credits: 2 } });
      expectProblem(
        await req('POST', '/v1/charges', { token: 'write', body: { account: 'q1', model: 'gpt', usage: { input: 3 } } }),
        400,
        'invalid_argument',
      );
      expect((await req('POST', '/v1/pricing/2/activate')).body).toMatchObject({ outcome: 'activated', version: 2 });
      expectProblem(await req('POST', '/v1/pricing/7/activate'), 404, 'not_found');
    });

    it('teams: create, add, role, members, memberships, a viewer’s debit forbidden, remove', async () => {
      expect((await req('POST', '/v1/teams', { body: { team: 't1', owner: 'u1', name: 'Acme' } })).body.outcome).toBe('created');
      expect((await req('POST', '/v1/teams/t1/members', { body: { member: 'u2', role: 'viewer' } })).body.outcome).toBe('added');
      expect((await req('GET', '/v1/teams/t1', { token: 'read' })).body).toMatchObject({ team: 't1', owner: 'u1' });
      expectProblem(await req('GET', '/v1/teams/t9', { token: 'read' }), 404, 'not_found');
      await req('POST', '/v1/grants', { body: { account: 't1', amount: 100 } });
      expectProblem(await req('POST', '/v1/debits', { token: 'write', body: { account: 't1', amount: 1, actor: 'u2' } }), 403, 'forbidden');
      expect((await req('PUT', '/v1/teams/t1/members/u2', { body: { role: 'member' } })).body.outcome).toBe('updated');
      expect((await req('POST', '/v1/debits', { token: 'write', body: { account: 't1', amount: 1, actor: 'u2' } })).body.outcome).toBe(
        'debited',
      );
      expect((await req('GET', '/v1/teams/t1/members', { token: 'read' })).body.members.map((m: { member: string }) => m.member)).toEqual([
        'u1',
        'u2',
      ]);
      expect((await req('GET', '/v1/accounts/u2/memberships', { token: 'read' })).body.memberships).toEqual([
        expect.objectContaining({ team: 't1', role: 'member' }),
      ]);
      expectProblem(await req('POST', '/v1/teams/t1/members', { body: { member: 't1', role: 'member' } }), 400, 'invalid_argument');
      expect((await req('DELETE', '/v1/teams/t1/members/u2')).body.outcome).toBe('removed');
      expect((await req('DELETE', '/v1/teams/t1/members/u2')).body.outcome).toBe('absent');
    });

    it('analytics, alerts and events', async () => {
      const from = T0 - 86_400_000;
      const to = T0 + 86_400_000;
      const spend = await req('GET', `/v1/analytics/spend?from=${from}&to=${to}&groupBy=account,day`, { token: 'read' });
      expect(spend.body.rows.length).toBeGreaterThan(0);
      expect(spend.body.rows[0]).toMatchObject({ account: expect.any(String), day: '2030-01-15' });
      const top = await req('GET', `/v1/analytics/top?by=account&from=${from}&to=${to}&limit=2`, { token: 'read' });
      expect(top.body.rows).toHaveLength(2);
      expect((await req('GET', `/v1/analytics/summary?from=${from}&to=${to}`, { token: 'read' })).body.consumed).toBeGreaterThan(0);
      expectProblem(await req('GET', `/v1/analytics/summary?from=${to}&to=${from}`, { token: 'read' }), 400, 'invalid_argument');
      expectProblem(await req('GET', `/v1/analytics/top?by=planet&from=${from}&to=${to}`, { token: 'read' }), 400, 'invalid_argument');

      // Alerts and the events they cause: a low-balance threshold crossed by a debit, a warn cap reached.
      const set = await req('POST', '/v1/alerts', { body: { account: 'e1', lowBalance: 50 } });
      expect(set.body).toMatchObject({ outcome: 'set', alert: { lowBalance: 50, below: true } }); // nothing granted yet
      expectProblem(await req('POST', '/v1/alerts', { body: { account: 'e1' } }), 400, 'invalid_argument');
      expectProblem(await req('POST', '/v1/alerts', { body: { account: 'e1', lowBalance: 0 } }), 400, 'invalid_amount');
      await req('POST', '/v1/caps', { body: { account: 'e1', window: 'day', limit: 10, action: 'warn' } });
      await req('POST', '/v1/grants', { body: { account: 'e1', amount: 100 } });
      const before = (await req('GET', '/v1/events?after=0&limit=1000', { token: 'read' })).body.cursor as number;
      await req('POST', '/v1/debits', { token: 'write', body: { account: 'e1', amount: 60 } });
      expect((await req('GET', '/v1/accounts/e1/alerts', { token: 'read' })).body.alerts).toEqual([
        expect.objectContaining({ account: 'e1', lowBalance: 50, below: true }),
      ]);
      const low = await req('GET', `/v1/events?after=${before}&types=balance.low`, { token: 'read' });
      expect(low.body.events).toEqual([expect.objectContaining({ type: 'balance.low', account: 'e1' })]);
      const caps = await req('GET', `/v1/events?after=${before}&types=cap.warning,cap.reached`, { token: 'read' });
      expect(caps.body.events.map((e: { type: string }) => e.type).sort()).toEqual(['cap.reached', 'cap.warning']);
      const all = await req('GET', `/v1/events?after=${before}&limit=1`, { token: 'read' });
      expect(all.body).toMatchObject({ hasMore: true, cursor: before + 1 });
      const one = low.body.events[0];
      expect((await req('GET', `/v1/events/${one.id}`, { token: 'read' })).body).toEqual(one);
      expect((await req('POST', '/v1/alerts/remove', { body: { account: 'e1', lowBalance: 50 } })).body.outcome).toBe('removed');
      expect((await req('POST', '/v1/alerts/remove', { body: { account: 'e1', lowBalance: 50 } })).body.outcome).toBe('absent');
      expectProblem(await req('GET', '/v1/events/999999', { token: 'read' }), 404, 'not_found');
      expectProblem(await req('GET', '/v1/events?types=nope', { token: 'read' }), 400, 'invalid_argument');
    });
  });

  describe('webhooks', () => {
    it('add (secret once), list, deliver to a receiver (signed), attempts, redeliver, enable, remove', async () => {
      const received: { headers: Record<string, unknown>; body: string }[] = [];
      const server = createServer((rq, rs) => {
        let body = '';
        rq.on('data', (d) => {
          body += d;
        });
        rq.on('end', () => {
          received.push({ headers: rq.headers, body });
          rs.writeHead(204).end();
        });
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      try {
        const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
        expectProblem(await req('POST', '/v1/webhooks', { body: { url: 'ftp://x' } }), 400, 'invalid_argument');
        expectProblem(await req('POST', '/v1/webhooks', { token: 'rw', body: { url } }), 403, 'forbidden');
        const added = await req('POST', '/v1/webhooks', { body: { url, types: ['balance.low'] } });
        expect(added.body).toMatchObject({ id: expect.stringMatching(/^wh_/), secret: expect.stringMatching(/^whsec_/), webhook: { url } });
        const id = added.body.id as string;
        const listed = await req('GET', '/v1/webhooks');
        expect(listed.body.webhooks).toEqual([expect.objectContaining({ id, url, types: ['balance.low'] })]);
        expect(JSON.stringify(listed.body)).not.toContain(added.body.secret);

        await req('POST', '/v1/alerts', { body: { account: 'w1', lowBalance: 10 } });
        await req('POST', '/v1/grants', { body: { account: 'w1', amount: 20 } });
        await req('POST', '/v1/debits', { token: 'write', body: { account: 'w1', amount: 15 } });
        const d = await req('POST', '/v1/webhooks/deliver', { body: { limit: 10, timeoutMs: 5000 } });
        expect(d.body).toMatchObject({ queued: 1, sent: 1, delivered: 1 });
        expect(received).toHaveLength(1);
        expect(received[0]!.headers['webhook-signature']).toMatch(/^v1,/);
        const event = JSON.parse(received[0]!.body) as { type: string; data: { account: string } };
        expect(event).toMatchObject({ type: 'balance.low', data: { account: 'w1' } });
        const lows = (await req('GET', '/v1/events?types=balance.low&limit=1000', { token: 'read' })).body.events as {
          id: number;
          account: string;
        }[];
        const eventId = lows.find((e) => e.account === 'w1')!.id;
        const attempts = await req('GET', `/v1/events/${eventId}/attempts`);
        expect(attempts.body.attempts).toEqual([expect.objectContaining({ webhookId: id, attempt: 1, status: 204, outcome: 'delivered' })]);
        expect((await req('POST', `/v1/events/${eventId}/redeliver`)).body).toEqual({ eventId, webhooks: [id] });
        expect((await req('POST', '/v1/webhooks/deliver')).body).toMatchObject({ delivered: 1 });
        expectProblem(await req('POST', '/v1/webhooks/deliver', { body: { fetch: 'x' } }), 400, 'invalid_argument');
        // Both deliveries of the event (attempts 1 and 2) are finished: prune takes them, the event stays.
        expect((await req('POST', '/v1/webhooks/prune', { body: { before: 8_640_000_000_000_000 } })).body).toMatchObject({
          deliveries: 1,
          attempts: 2,
          more: false,
        });
        expect((await req('GET', `/v1/events/${eventId}/attempts`)).body.attempts).toEqual([]);
        expectProblem(await req('POST', '/v1/webhooks/prune', { body: { before: -1 } }), 400, 'invalid_argument');
        expectProblem(await req('POST', '/v1/webhooks/prune', { token: 'rw', body: { before: 1 } }), 403, 'forbidden');
        expect((await req('POST', `/v1/webhooks/${id}/enable`)).body).toMatchObject({ id, status: 'active' });
        expectProblem(await req('POST', `/v1/webhooks/${id}/enable`, { body: { x: 1 } }), 400, 'invalid_argument');
        expect((await req('DELETE', `/v1/webhooks/${id}`)).body).toEqual({ removed: id });
        expectProblem(await req('DELETE', `/v1/webhooks/${id}`), 404, 'not_found');
        expectProblem(await req('DELETE', '/v1/webhooks/nope'), 400, 'invalid_argument');
      } finally {
        await new Promise((r) => server.close(r));
      }
    });
  });

  it('every 200 the family tests received matches its operation’s documented response schema', () => {
    const ops = operations().map((op) => ({ op, re: new RegExp(`^${op.path.replace(/\{\w+\}/g, '[^/]+')}$`) }));
    const covered = new Set<string>();
    for (const r of seen) {
      const match = ops.find(({ op, re }) => op.method.toUpperCase() === r.method && re.test(r.path));
      if (!match) continue; // /openapi.json, /docs
      covered.add(match.op.operationId);
      const check = match.op.response.safeParse(r.body);
      expect(check.success, `${r.method} ${r.path}: ${check.error?.message}`).toBe(true);
    }
    // The family tests reach nearly every operation with a 200.
    const missed = operations()
      .filter((o) => !covered.has(o.operationId))
      .map((o) => o.operationId);
    expect(missed).toEqual([]);
  });
});

/** The HTTP layer itself (auth, core, the document): one driver is enough, the routes are the same. */
let db: TestDb;
let api: ReturnType<typeof apiFor>;
const clock = manualClock(T0);
beforeAll(async () => {
  db = await DRIVERS.find((d) => d.name === 'better-sqlite3 :memory:')!.open({ clock: clock.now });
  api = apiFor(db.ledger);
});
afterAll(() => db.close());
const req = (method: string, path: string, o?: Parameters<typeof call>[3]) => call(api.app, method, path, o);

/** A request every route accepts as far as routing goes (parameters filled in). */
const concrete = (path: string) =>
  path.replace(/\{(\w+)\}/g, (_m, name: string) => (name === 'version' || name === 'eventId' ? '1' : 'x1'));

describe('auth', () => {
  it('every route: 401 without credentials (WWW-Authenticate), 403 without the scope, past auth with it', async () => {
    for (const op of operations()) {
      const path = concrete(op.path);
      const method = op.method.toUpperCase();
      const body = op.method === 'get' ? undefined : {};
      const anon = await req(method, path, { token: null, body });
      expectProblem(anon, 401, 'unauthorized');
      expect(anon.headers.get('www-authenticate')).toBe('Bearer');
      expectProblem(await req(method, path, { token: 'bogus', body }), 401, 'unauthorized');
      expectProblem(await req(method, path, { token: 'none', body }), 403, 'forbidden');
      for (const [token, scopes] of Object.entries(TOKENS)) {
        const allowed = scopes.includes('admin') || scopes.includes(op.scope);
        const r = await req(method, path, { token, body });
        if (allowed) expect([401, 403, 500].includes(r.status), `${method} ${path} ${token}: ${r.status}`).toBe(false);
        else expectProblem(r, 403, 'forbidden');
      }
    }
    // Unknown paths, the document and the page need credentials too.
    expectProblem(await req('GET', '/v1/nowhere', { token: null }), 401, 'unauthorized');
    expectProblem(await req('GET', '/v1/nowhere', { token: 'read' }), 404, 'not_found');
    expectProblem(await req('GET', '/openapi.json', { token: null }), 401, 'unauthorized');
    expectProblem(await req('GET', '/docs', { token: 'write' }), 403, 'forbidden');
  });
});

describe('the HTTP core', () => {
  it('bad bodies: 400 not JSON, 400 missing, 415 not application/json, 413 past the limit (declared or streamed)', async () => {
    expectProblem(await req('POST', '/v1/grants', { body: '{"account":' }), 400, 'invalid_argument');
    expectProblem(await req('POST', '/v1/grants'), 400, 'invalid_argument');
    expectProblem(
      await req('POST', '/v1/grants', { body: 'account=a', headers: { 'content-type': 'application/x-www-form-urlencoded' } }),
      415,
      'unsupported_media_type',
    );
    expectProblem(await req('POST', '/v1/grants', { body: '[1]' }), 400, 'invalid_argument');
    const small = apiFor(db.ledger, { bodyLimit: 64 });
    const big = { account: 'b1', amount: 1, reason: 'x'.repeat(100) };
    expectProblem(await call(small.app, 'POST', '/v1/grants', { body: big }), 413, 'payload_too_large');
    const chunks = new ReadableStream({
      start(c) {
        for (let i = 0; i < 4; i++) c.enqueue(new TextEncoder().encode('{"reason":"xxxxxxxxxxxxxxxxxxxxxxxxxx'));
        c.close();
      },
    });
    const streamed = await small.app.request('/v1/grants', {
      method: 'POST',
      headers: { authorization: 'Bearer admin', 'content-type': 'application/json' },
      body: chunks,
      duplex: 'half',
    } as RequestInit);
    expect(streamed.status).toBe(413);
    expect(await call(small.app, 'POST', '/v1/grants', { body: { account: 'b1', amount: 1 } })).toMatchObject({ status: 200 });
    // Vendor JSON media types are JSON.
    expect(
      (await req('POST', '/v1/grants', { body: { account: 'b1', amount: 1 }, headers: { 'content-type': 'application/merge-patch+json' } }))
        .status,
    ).toBe(200);
  });

  it('an internal error is a 500 problem that shows nothing of it; busy is 503 with Retry-After', async () => {
    const failing = new Proxy(db.ledger, {
      get(target, prop, receiver) {
        if (prop === 'getBalance') return () => Promise.reject(new Error('secret: /var/db/ledger.db is corrupt'));
        if (prop === 'stats') return () => Promise.reject(new LedgerError('busy', 'locked'));
        if (prop === 'lots') return () => Promise.reject(new LedgerError('schema_missing', 'no such table credit_lot at /srv/x.db'));
        return Reflect.get(target, prop, receiver);
      },
    });
    const { app, errors } = apiFor(failing);
    const r = await call(app, 'GET', '/v1/accounts/a/balance');
    expectProblem(r, 500, 'internal');
    expect(JSON.stringify(r.body)).not.toContain('secret');
    const s = await call(app, 'GET', '/v1/accounts/a/lots');
    expectProblem(s, 500, 'schema_missing');
    expect(JSON.stringify(s.body)).not.toContain('/srv');
    const busy = await call(app, 'GET', '/v1/stats');
    expectProblem(busy, 503, 'busy');
    expect(busy.headers.get('retry-after')).toBe('1');
    expect(errors).toHaveLength(2);
    const throwing = createCreditsApi({
      ledger: db.ledger,
      authorize: () => Promise.reject(new Error('auth backend down')),
      onError: () => {},
    });
    expectProblem(await call(throwing, 'GET', '/v1/stats'), 500, 'internal');
  });

  it('basePath mounts every route (and the document) under it', async () => {
    const { app } = apiFor(db.ledger, { basePath: '/credits' });
    expect((await call(app, 'GET', '/credits/v1/stats')).status).toBe(200);
    expect((await call(app, 'GET', '/v1/stats')).status).toBe(404);
    expect((await call(app, 'GET', '/credits/openapi.json')).body.servers).toEqual([{ url: '/credits' }]);
    expect(() => apiFor(db.ledger, { basePath: 'credits/' })).toThrow(TypeError);
  });

  it('mounted in a parent app, it guards its own routes only', async () => {
    const parent = new Hono();
    parent.route('/', apiFor(db.ledger).app);
    parent.get('/health', (c) => c.text('ok'));
    parent.route('/billing', apiFor(db.ledger).app);
    expect((await call(parent, 'GET', '/health', { token: null })).body).toBe('ok');
    expectProblem(await call(parent, 'GET', '/v1/stats', { token: null }), 401, 'unauthorized');
    expect((await call(parent, 'GET', '/v1/stats', { token: 'read' })).status).toBe(200);
    expectProblem(await call(parent, 'GET', '/billing/v1/stats', { token: null }), 401, 'unauthorized');
    expect((await call(parent, 'GET', '/billing/v1/accounts/m1/balance', { token: 'read' })).body.account).toBe('m1');
    expectProblem(await call(parent, 'POST', '/billing/v1/grants', { token: 'read', body: {} }), 403, 'forbidden');
  });
});

describe('OpenAPI', () => {
  it('a 3.1 document with every route, its parameters and scopes, every $ref resolved; the docs page embeds it offline', async () => {
    const r = await req('GET', '/openapi.json', { token: 'read' });
    const doc = r.body;
    expect(doc.openapi).toBe('3.1.0');
    // Valid against the OpenAPI 3.1 JSON schema (a validator tested on thousands of real APIs), not only by shape.
    const validation = await new Validator().validate(structuredClone(doc));
    expect(validation.errors ?? [], JSON.stringify(validation.errors)).toEqual([]);
    expect(validation.valid).toBe(true);
    expect(doc.components.securitySchemes.bearer).toMatchObject({ type: 'http', scheme: 'bearer' });
    const ids = new Set<string>();
    for (const op of operations()) {
      const o = doc.paths[op.path]?.[op.method];
      expect(o, `${op.method} ${op.path}`).toBeDefined();
      expect(ids.has(o.operationId)).toBe(false);
      ids.add(o.operationId);
      expect(o['x-scope']).toBe(op.scope);
      expect(o.security).toEqual([{ bearer: [op.scope] }]);
      expect(o.responses['200'].content['application/json'].schema).toBeDefined();
      expect(o.responses['401'].content['application/problem+json'].schema).toEqual({ $ref: '#/components/schemas/Problem' });
      // Every {param} of the path is declared as a required path parameter, and nothing else is.
      const names = [...op.path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]);
      const declared = (o.parameters ?? []).filter((p: { in: string }) => p.in === 'path');
      expect(declared.map((p: { name: string }) => p.name).sort()).toEqual(names.sort());
      for (const p of declared) expect(p.required).toBe(true);
      if (op.body) expect(o.requestBody.content['application/json'].schema).toBeDefined();
    }
    expect(Object.values(doc.paths).flatMap((p) => Object.keys(p as object))).toHaveLength(operations().length);
    // Every route the app serves (but the document, the docs page and the dashboard) is in the document.
    // (a route with middleware is listed once per handler: deduplicated)
    const served = [
      ...new Set(api.app.routes.filter((x) => x.method !== 'ALL').map((x) => `${x.method} ${x.path.replace(/:(\w+)/g, '{$1}')}`)),
    ];
    const documented = new Set(operations().map((o) => `${o.method.toUpperCase()} ${o.path}`));
    expect(served.filter((s) => !documented.has(s)).sort()).toEqual([
      'GET /dashboard',
      'GET /dashboard/assets/{name}',
      'GET /docs',
      'GET /openapi.json',
    ]);
    // $refs resolve.
    const refs = JSON.stringify(doc).match(/"\$ref":"[^"]+"/g) ?? [];
    for (const ref of new Set(refs)) {
      const path = ref.slice(9, -1).split('/').slice(1);
      expect(
        path.reduce((o: Record<string, unknown> | undefined, k) => o?.[k] as Record<string, unknown> | undefined, doc),
        ref,
      ).toBeDefined();
    }
    // Library schemas, not copies: the grant body is grantInput's JSON Schema (strict, its limits).
    expect(doc.paths['/v1/grants'].post.requestBody.content['application/json'].schema).toMatchObject({
      additionalProperties: false,
      required: ['account', 'amount'],
      properties: { account: { maxLength: 200 }, priority: { minimum: 0, maximum: 100 }, metadata: { type: 'object' } },
    });
    const page = await call(api.app, 'GET', '/docs', { token: 'read' });
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(page.body).toContain('"operationId":"getBalance"');
    expect(page.body).not.toMatch(/<script[^>]+src=|<link[^>]+href=|https?:\/\/(?!www\.w3)/);
    // The embedded document parses back to the served one, and the page's script compiles.
    const embedded = /<script type="application\/json" id="openapi">([\s\S]*?)<\/script>/.exec(page.body)?.[1] ?? '';
    expect(JSON.parse(embedded)).toEqual(doc);
    const script = /<script>([\s\S]*?)<\/script>/.exec(page.body)?.[1] ?? '';
    expect(script.length).toBeGreaterThan(500);
    expect(() => new Function(script)).not.toThrow();
  });
});
