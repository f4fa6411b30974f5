/**
 * drizzle-credits/hono `meter` over app.request on better-sqlite3: covered, not covered (402),
 * capped (429 + Retry-After), a thrown handler, a 5xx, an SSE stream settled at its end (an
 * OpenAI-style proxy reporting token usage from its last chunk, priced with ledger.pricing),
 * a client that aborts mid-stream. After each: the balance moved by exactly what was
 * settled and no hold is left open.
 */
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { streamSSE } from 'hono/streaming';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type MeterEnv, type MeterOptions, type MeterOutcome, meter } from '../../src/hono/index.js';
import type { Ledger } from '../../src/index.js';
import { DRIVERS, manualClock, type TestDb } from '../support/drivers.js';

const T0 = Date.UTC(2030, 0, 15, 12); // noon: a day cap resets in 12 h
const clock = manualClock(T0);
let db: TestDb;
let ledger: Ledger;
const settled: MeterOutcome[] = [];
const errors: unknown[] = [];

type Env = { Variables: MeterEnv['Variables'] & { user: string } };

/** The app's own auth: a bearer token names the user; the meter reads the user from the context. */
function appWith(route: (app: Hono<Env>, m: (o?: Partial<MeterOptions<Env>>) => ReturnType<typeof meter<Env>>) => void) {
  const app = new Hono<Env>();
  app.onError((_e, c) => c.text('internal error', 500));
  app.use('*', async (c, next) => {
    const user = /^Bearer (\w+)$/.exec(c.req.header('authorization') ?? '')?.[1];
    if (!user) return c.text('unauthorized', 401);
    c.set('user', user);
    await next();
  });
  const m = (o: Partial<MeterOptions<Env>> = {}) =>
    meter<Env>({
      ledger,
      account: (c) => c.get('user'),
      estimate: () => 100,
      settle: (_c, { metering }) => metering.usage.units ?? 0,
      onSettled: (_c, o) => void settled.push(o),
      onError: (e) => void errors.push(e),
      now: clock.now,
      ...o,
    });
  route(app, m);
  return app;
}

const as = (user: string, extra: Record<string, string> = {}) => ({
  method: 'POST',
  headers: { authorization: `Bearer ${user}`, ...extra },
});
const balanceOf = async (a: string) => (await ledger.getBalance(a)).balance;
const openHolds = async (a: string) => (await ledger.holds(a)).length;

beforeAll(async () => {
  db = await DRIVERS.find((d) => d.name === 'better-sqlite3 :memory:')!.open({ clock: clock.now });
  ledger = db.ledger;
  for (const a of ['u1', 'u2', 'u3', 'u4', 'u5', 'u6', 'u7']) await ledger.grant({ account: a, amount: 1000 });
  await ledger.grant({ account: 'poor', amount: 10 });
  await ledger.caps.set({ account: 'u3', window: 'day', limit: 50 });
  await ledger.pricing.publish({ rates: { 'gpt-x': { input_tokens: '0.5', output_tokens: '2' } } });
});
afterAll(() => db.close());

describe('meter', () => {
  it('covered: holds the estimate, captures what settle returns, headers say both', async () => {
    const app = appWith((a, m) =>
      a.post('/work', m(), (c) => {
        // The account comes from the app's auth, not from any header the client sends.
        c.var.credits.add({ units: 30 });
        c.var.credits.add({ units: 12 });
        return c.json({ held: c.var.credits.held });
      }),
    );
    const res = await app.request('/work', as('u1', { 'x-account': 'u2' }));
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ held: 100 });
    expect(res.headers.get('x-credits-held')).toBe('100');
    expect(res.headers.get('x-credits-charged')).toBe('42');
    expect(await balanceOf('u1')).toBe(958);
    expect(await balanceOf('u2')).toBe(1000);
    expect(await openHolds('u1')).toBe(0);
    expect(settled.at(-1)).toMatchObject({ account: 'u1', result: 'captured', charged: 42, held: 100 });
  });

  it('settle above the estimate: charged when covered, else the held amount with the shortfall reported; 0 releases', async () => {
    const app = appWith((a, m) => {
      a.post('/big', m({ settle: () => 150 }), (c) => c.text('ok'));
      a.post('/free', m({ settle: () => 0 }), (c) => c.text('ok'));
    });
    expect((await app.request('/big', as('u4'))).headers.get('x-credits-charged')).toBe('150');
    expect(await balanceOf('u4')).toBe(850);
    await ledger.grant({ account: 'tight', amount: 120 });
    expect((await app.request('/big', as('tight'))).headers.get('x-credits-charged')).toBe('100');
    expect(settled.at(-1)).toMatchObject({ charged: 100, shortfall: 50 });
    expect(await balanceOf('tight')).toBe(20);
    expect((await app.request('/free', as('u4'))).headers.get('x-credits-charged')).toBe('0');
    expect(settled.at(-1)).toMatchObject({ result: 'released_zero', charged: 0 });
    expect(await balanceOf('u4')).toBe(850);
    expect(await openHolds('u4')).toBe(0);
    expect(await openHolds('tight')).toBe(0);
  });

  it('not covered: 402 problem+json with the balance; the handler does not run', async () => {
    let ran = false;
    const app = appWith((a, m) =>
      a.post('/work', m(), (c) => {
        ran = true;
        return c.text('ok');
      }),
    );
    const res = await app.request('/work', as('poor'));
    expect(res.status).toBe(402);
    expect(res.headers.get('content-type')).toBe('application/problem+json');
    expect(await res.json()).toMatchObject({ status: 402, code: 'insufficient', balance: 10, available: 10, required: 100 });
    expect(ran).toBe(false);
    expect(await balanceOf('poor')).toBe(10);
  });

  it('a deny cap refuses: 429 with Retry-After in seconds to the window reset', async () => {
    const app = appWith((a, m) => a.post('/work', m(), (c) => c.text('ok')));
    const res = await app.request('/work', as('u3'));
    expect(res.status).toBe(429);
    expect(res.headers.get('retry-after')).toBe(String(12 * 3600));
    expect(await res.json()).toMatchObject({ code: 'capped', limit: 50, required: 100, resetsAt: Date.UTC(2030, 0, 16) });
    expect(await balanceOf('u3')).toBe(1000);
  });

  it('a thrown handler or a 5xx releases the hold', async () => {
    const app = appWith((a, m) => {
      a.post('/throw', m(), (c) => {
        c.var.credits.add({ units: 50 });
        throw new Error('boom');
      });
      a.post('/bad-gateway', m(), (c) => {
        c.var.credits.add({ units: 50 });
        return c.json({ error: 'upstream' }, 502);
      });
    });
    const t = await app.request('/throw', as('u5'));
    expect(t.status).toBe(500);
    expect(t.headers.get('x-credits-charged')).toBe('0');
    expect(settled.at(-1)).toMatchObject({ result: 'released_error', charged: 0 });
    const g = await app.request('/bad-gateway', as('u5'));
    expect(g.status).toBe(502);
    expect(settled.at(-1)).toMatchObject({ result: 'released_status', charged: 0 });
    expect(await balanceOf('u5')).toBe(1000);
    expect(await openHolds('u5')).toBe(0);
  });

  it('an OpenAI-style SSE stream is settled when it ends, from the usage in its last chunk (priced), with a final credits event', async () => {
    // The upstream model API: content deltas, then a chunk with usage, then [DONE].
    const upstream = () =>
      new Response(
        new ReadableStream({
          async start(ctl) {
            const enc = new TextEncoder();
            for (const w of ['Hel', 'lo']) ctl.enqueue(enc.encode(`data: {"choices":[{"delta":{"content":"${w}"}}]}\n\n`));
            await new Promise((r) => setTimeout(r, 5));
            ctl.enqueue(enc.encode('data: {"choices":[],"usage":{"prompt_tokens":40,"completion_tokens":25}}\n\ndata: [DONE]\n\n'));
            ctl.close();
          },
        }),
        { headers: { 'content-type': 'text/event-stream' } },
      );
    const app = appWith((a, m) =>
      a.post(
        '/v1/chat/completions',
        m({
          estimate: () => 200,
          sseEvent: true,
          settle: async (_c, { metering, streamed }) => {
            expect(streamed).toBe(true);
            const { input_tokens = 0, output_tokens = 0 } = metering.usage;
            return (await ledger.pricing.quote({ model: 'gpt-x', usage: { input_tokens, output_tokens } })).credits;
          },
        }),
        (c) => {
          // Pass the upstream bytes through, reading usage out of them on the way.
          let buffered = '';
          const dec = new TextDecoder();
          const tap = new TransformStream<Uint8Array, Uint8Array>({
            transform(chunk, ctl) {
              buffered += dec.decode(chunk, { stream: true });
              for (let i = buffered.indexOf('\n\n'); i >= 0; i = buffered.indexOf('\n\n')) {
                const data = buffered.slice(0, i).replace(/^data: /, '');
                buffered = buffered.slice(i + 2);
                if (data === '[DONE]') continue;
                const usage = (JSON.parse(data) as { usage?: { prompt_tokens: number; completion_tokens: number } }).usage;
                if (usage) c.var.credits.add({ input_tokens: usage.prompt_tokens, output_tokens: usage.completion_tokens });
              }
              ctl.enqueue(chunk);
            },
          });
          const up = upstream();
          return new Response(up.body!.pipeThrough(tap), { headers: { 'content-type': 'text/event-stream' } });
        },
      ),
    );
    const res = await app.request('/v1/chat/completions', as('u6'));
    expect(res.headers.get('x-credits-held')).toBe('200');
    expect(res.headers.get('x-credits-charged')).toBeNull();
    expect(await openHolds('u6')).toBe(1);
    const text = await res.text();
    expect(text).toContain('"content":"Hel"');
    expect(text).toContain('data: [DONE]');
    // 40 × 0.5 + 25 × 2 = 70 credits.
    expect(text.endsWith('event: credits\ndata: {"held":200,"charged":70}\n\n')).toBe(true);
    expect(await balanceOf('u6')).toBe(930);
    expect(await openHolds('u6')).toBe(0);
  });

  it('a client that disconnects mid-stream releases the hold (streamSSE handler)', async () => {
    let aborted = false;
    const app = appWith((a, m) =>
      a.post('/stream', m(), (c) =>
        streamSSE(c, async (s) => {
          s.onAbort(() => {
            aborted = true;
          });
          for (let i = 0; i < 100 && !aborted; i++) {
            c.var.credits.add({ units: 1 });
            await s.writeSSE({ data: `tick ${i}` });
            await s.sleep(2);
          }
        }),
      ),
    );
    const res = await app.request('/stream', as('u7'));
    const reader = res.body!.getReader();
    const first = await reader.read();
    expect(new TextDecoder().decode(first.value)).toContain('tick 0');
    await reader.cancel('client went away');
    expect(settled.at(-1)).toMatchObject({ account: 'u7', result: 'released_abort', charged: 0 });
    expect(await balanceOf('u7')).toBe(1000);
    expect(await openHolds('u7')).toBe(0);
    await new Promise((r) => setTimeout(r, 10));
    expect(aborted).toBe(true);
    expect(errors).toEqual([]);
  });

  it('over a real socket (@hono/node-server): a client abort mid-stream releases the hold', async () => {
    await ledger.grant({ account: 'sock', amount: 1000 });
    const app = appWith((a, m) =>
      a.post('/stream', m(), (c) =>
        streamSSE(c, async (s) => {
          for (let i = 0; i < 500 && !s.aborted; i++) {
            await s.writeSSE({ data: `tick ${i}` });
            await s.sleep(5);
          }
        }),
      ),
    );
    const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' });
    await new Promise((r) => server.once('listening', r));
    try {
      const { port } = server.address() as AddressInfo;
      const abort = new AbortController();
      const res = await fetch(`http://127.0.0.1:${port}/stream`, { ...as('sock'), signal: abort.signal });
      expect(res.headers.get('x-credits-held')).toBe('100');
      await res.body!.getReader().read();
      expect(await openHolds('sock')).toBe(1);
      abort.abort();
      for (let i = 0; i < 200 && (await openHolds('sock')) > 0; i++) await new Promise((r) => setTimeout(r, 10));
      expect(await openHolds('sock')).toBe(0);
      expect(await balanceOf('sock')).toBe(1000);
      expect(settled.at(-1)).toMatchObject({ account: 'sock', result: 'released_abort' });
    } finally {
      (server as import('node:http').Server).closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });
});
