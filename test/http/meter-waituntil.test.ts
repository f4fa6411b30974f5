/**
 * `meter` on a runtime with an execution context (Workers): a streamed response's settlement is
 * handed to `waitUntil`, resolved once the hold is captured (the stream ended) or released (the
 * client cancelled). Without it, workerd drops the request's pending work when the client leaves
 * and never cancels the body (test/examples/worker.test.ts sees the release in real workerd).
 */
import { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type MeterEnv, meter } from '../../src/hono/index.js';
import type { Ledger } from '../../src/index.js';
import { DRIVERS, type TestDb } from '../support/drivers.js';

let db: TestDb;
let ledger: Ledger;
beforeAll(async () => {
  db = await DRIVERS.find((d) => d.name === 'better-sqlite3 :memory:')!.open();
  ledger = db.ledger;
  await ledger.grant({ account: 'u', amount: 100 });
});
afterAll(() => db?.close());

function app() {
  const a = new Hono<MeterEnv>();
  a.post('/s', meter({ ledger, account: () => 'u', estimate: () => 10, settle: (_c, { metering }) => metering.usage.n ?? 0 }), (c) => {
    let i = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(ctl) {
        if (i++ === 3) return ctl.close();
        c.var.credits.add({ n: 1 });
        ctl.enqueue(new TextEncoder().encode('data: x\n\n'));
      },
    });
    return new Response(body, { headers: { 'content-type': 'text/event-stream' } });
  });
  a.post('/plain', meter({ ledger, account: () => 'u', estimate: () => 10, settle: () => 1 }), (c) => c.text('ok'));
  return a;
}

/** An ExecutionContext that records what is handed to waitUntil. */
function executionCtx() {
  const pending: Promise<unknown>[] = [];
  return { pending, ctx: { waitUntil: (p: Promise<unknown>) => void pending.push(p), passThroughOnException: () => undefined, props: {} } };
}

describe('meter with an execution context', () => {
  it('a stream read to its end: waitUntil resolves after the capture', async () => {
    const { pending, ctx } = executionCtx();
    const res = await app().request('/s', { method: 'POST' }, {}, ctx);
    expect(pending).toHaveLength(1);
    let resolved = false;
    void pending[0]!.then(() => (resolved = true));
    await new Promise((r) => setTimeout(r, 10));
    expect(resolved).toBe(false); // nobody has read the body yet
    await res.text();
    await pending[0];
    expect(await ledger.getBalance('u')).toMatchObject({ balance: 97, held: 0 });
  });

  it('a stream the client cancels: waitUntil resolves after the release', async () => {
    const { pending, ctx } = executionCtx();
    const res = await app().request('/s', { method: 'POST' }, {}, ctx);
    const reader = res.body!.getReader();
    await reader.read();
    await reader.cancel();
    await pending[0];
    expect(await ledger.getBalance('u')).toMatchObject({ balance: 97, held: 0 });
  });

  it('a response that is not a stream settles before it is returned: nothing is handed to waitUntil', async () => {
    const { pending, ctx } = executionCtx();
    expect((await app().request('/plain', { method: 'POST' }, {}, ctx)).headers.get('x-credits-charged')).toBe('1');
    expect(pending).toHaveLength(0);
  });
});
