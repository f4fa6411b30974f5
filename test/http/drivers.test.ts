/**
 * The same API over libSQL (`file:`): a money flow, an error, a page of history, a metered request.
 * D1 runs the same flow inside workerd itself (workers.test.ts), which is where D1 apps run it.
 */
import { Hono } from 'hono';
import { afterAll, describe, expect, it } from 'vitest';
import { meter } from '../../src/hono/index.js';
import { DRIVERS, type TestDb } from '../support/drivers.js';
import { apiFor, call, expectProblem } from './support.js';

const opened: TestDb[] = [];
afterAll(async () => {
  for (const d of opened) await d.close();
});

describe.each(['libsql file:'])('HTTP on %s', (name) => {
  it('grant, keyed debit (replay, conflict), hold + capture, balance, history, a bad input, a metered request', async () => {
    const db = await DRIVERS.find((d) => d.name === name)!.open();
    opened.push(db);
    const { app, errors } = apiFor(db.ledger);
    expect((await call(app, 'POST', '/v1/grants', { body: { account: 'a', amount: 500 } })).body.outcome).toBe('granted');
    const keyed = { token: 'write', headers: { 'idempotency-key': 'k1' }, body: { account: 'a', amount: 40 } };
    expect((await call(app, 'POST', '/v1/debits', keyed)).body).toMatchObject({ outcome: 'debited', balance: 460 });
    expect((await call(app, 'POST', '/v1/debits', keyed)).body.outcome).toBe('replayed');
    expectProblem(await call(app, 'POST', '/v1/debits', { ...keyed, body: { account: 'a', amount: 41 } }), 409, 'idempotency_conflict');
    const h = await call(app, 'POST', '/v1/holds', { token: 'write', body: { account: 'a', amount: 100 } });
    expect((await call(app, 'POST', `/v1/holds/${h.body.hold.id}/capture`, { token: 'write', body: { amount: 60 } })).body.outcome).toBe(
      'captured',
    );
    expect((await call(app, 'GET', '/v1/accounts/a/balance', { token: 'read' })).body).toMatchObject({
      balance: 400,
      held: 0,
      available: 400,
    });
    expect((await call(app, 'GET', '/v1/accounts/a/entries?limit=10', { token: 'read' })).body.entries).toHaveLength(4);
    expectProblem(await call(app, 'POST', '/v1/grants', { body: { account: 'a', amount: 1.5 } }), 400, 'invalid_amount');

    const metered = new Hono();
    metered.post('/work', meter({ ledger: db.ledger, account: () => 'a', estimate: () => 50, settle: () => 20 }), (c) => c.text('ok'));
    const res = await metered.request('/work', { method: 'POST' });
    expect(res.headers.get('x-credits-charged')).toBe('20');
    expect((await db.ledger.getBalance('a')).balance).toBe(380);
    expect(await db.ledger.holds('a')).toEqual([]);
    expect(errors).toEqual([]);
  });
});
