/**
 * examples/worker end to end: bundled with esbuild as `wrangler deploy` would (the
 * `drizzle-credits/*` imports aliased to this checkout's src), run in workerd by miniflare over
 * D1 with the bindings, vars and cron of its wrangler.jsonc, and called over real HTTP on
 * 127.0.0.1. Miniflare 4 runs no cron schedule by itself: the test fires the configured cron
 * through `/cdn-cgi/handler/scheduled` (unsafeTriggerHandlers), as `wrangler dev --test-scheduled`
 * does. Webhooks go to a node:http receiver (miniflare's outbound network allows private addresses).
 */
import { readFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Readable } from 'node:stream';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = new URL('../../', import.meta.url).pathname;
const EXAMPLE = `${ROOT}examples/worker/`;
const ADMIN = 'admin-token-0123456789abcdef';
const APP = 'app-token-0123456789abcdef';
const READER = 'read-token-0123456789abcdef';

interface Wrangler {
  compatibility_date: string;
  d1_databases: { binding: string }[];
  triggers: { crons: string[] };
  vars: Record<string, string>;
}
// The example's own config, so the test runs what a deploy would. Its comments are whole lines.
const wrangler = JSON.parse(readFileSync(`${EXAMPLE}wrangler.jsonc`, 'utf8').replace(/^\s*\/\/.*$/gm, '')) as Wrangler;

type Mf = {
  ready: Promise<URL>;
  getD1Database(name: string): Promise<D1Database>;
  dispose(): Promise<void>;
};
let mf: Mf;
let base: URL;
let receiver: Server;
let hookUrl: string;
const received: { headers: IncomingHttpHeaders; body: string }[] = [];
let stdout = '';

beforeAll(async () => {
  receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => {
      body += c.toString('utf8');
    });
    req.on('end', () => {
      received.push({ headers: req.headers, body });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  hookUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks`;

  const { build } = await import('esbuild');
  const { Miniflare } = await import('miniflare');
  const out = await build({
    entryPoints: [`${EXAMPLE}src/index.ts`],
    bundle: true,
    format: 'esm',
    platform: 'neutral',
    mainFields: ['module', 'main'],
    alias: {
      'drizzle-credits': `${ROOT}src/index.ts`,
      'drizzle-credits/http': `${ROOT}src/http/index.ts`,
      'drizzle-credits/hono': `${ROOT}src/hono/index.ts`,
    },
    write: false,
    logLevel: 'silent',
  });
  mf = new Miniflare({
    modules: true,
    script: out.outputFiles[0]!.text,
    compatibilityDate: wrangler.compatibility_date,
    d1Databases: { [wrangler.d1_databases[0]!.binding]: 'credits' },
    // A secret is a text binding at run time, as a var is.
    bindings: { ...wrangler.vars, CREDITS_TOKENS: `${ADMIN}:admin,${APP}:read+write,${READER}:read` },
    unsafeTriggerHandlers: true,
    host: '127.0.0.1',
    port: 0,
    handleRuntimeStdio: (out: Readable, err: Readable) => {
      out.on('data', (c: Buffer) => {
        stdout += c.toString('utf8');
      });
      err.resume();
    },
  }) as unknown as Mf;
  base = await mf.ready;
});
afterAll(async () => {
  await mf?.dispose();
  await new Promise((resolve) => receiver?.close(resolve));
});

const call = (path: string, token?: string, body?: unknown, headers: Record<string, string> = {}) =>
  fetch(new URL(path, base), {
    method: body === undefined ? 'GET' : 'POST',
    headers: {
      ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...headers,
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
// biome-ignore lint/suspicious/noExplicitAny: JSON of many shapes, read by the assertions.
const json = async (r: Response | Promise<Response>): Promise<any> => (await r).json();

/** Reads an SSE body as it arrives: the events in order, and how long after the first chunk the body ended. */
async function readSse(res: Response) {
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let text = '';
  let first = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    first ||= performance.now();
    text += decoder.decode(value, { stream: true });
  }
  const tail = performance.now() - first;
  const events = text
    .split('\n\n')
    .filter((e) => e.trim() !== '')
    .map((e) => {
      const event = /^event: (.*)$/m.exec(e)?.[1] ?? 'message';
      const data = /^data: (.*)$/m.exec(e)?.[1] ?? '';
      return { event, data };
    });
  return { events, tail };
}

describe('examples/worker in workerd over HTTP', () => {
  it('migrates on first use; 401 without a token, 403 without the scope; grant → debit → balance', async () => {
    const d1 = await mf.getD1Database('DB');
    const tables = async () =>
      (
        await d1.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE '%credit%'").all<{ name: string }>()
      ).results.map((r) => r.name);
    expect(await tables()).toEqual([]);

    const unauth = await call('/v1/stats');
    expect({ status: unauth.status, type: unauth.headers.get('content-type') }).toEqual({
      status: 401,
      type: 'application/problem+json',
    });
    // The first request migrated the schema, tracked in the ledger's own table.
    expect(await tables()).toEqual(expect.arrayContaining(['drizzle_credits_migrations', 'credit_entry', 'credit_hold']));
    const { results } = await d1.prepare('SELECT count(*) AS n FROM drizzle_credits_migrations').all<{ n: number }>();
    expect(results[0]!.n).toBeGreaterThan(0);

    expect((await call('/v1/demo/generate', undefined, { prompt: 'x' })).status).toBe(401);
    expect((await call('/v1/nowhere')).status).toBe(401); // unknown paths reveal nothing either
    expect((await call('/v1/nowhere', READER)).status).toBe(404);
    const forbidden = await call('/v1/grants', READER, { account: 'u1', amount: 5 });
    expect({ status: forbidden.status, code: (await json(forbidden)).code }).toEqual({ status: 403, code: 'forbidden' });
    expect((await call('/v1/demo/generate', READER, { prompt: 'x' })).status).toBe(403);

    expect(await json(call('/v1/grants', ADMIN, { account: 'u1', amount: 100 }))).toMatchObject({ outcome: 'granted', balance: 100 });
    expect(await json(call('/v1/debits', APP, { account: 'u1', amount: 30 }, { 'idempotency-key': 'd1' }))).toMatchObject({
      outcome: 'debited',
      balance: 70,
    });
    expect(await json(call('/v1/debits', APP, { account: 'u1', amount: 30 }, { 'idempotency-key': 'd1' }))).toMatchObject({
      outcome: 'replayed',
    });
    expect(await json(call('/v1/accounts/u1/balance', APP))).toMatchObject({ balance: 70, available: 70, held: 0 });
  });

  it('the metered endpoint bills the token’s account: streams, settles, shows the charge; 402 when not covered', async () => {
    const me = await json(call('/v1/demo/me', APP));
    expect(me).toMatchObject({ account: expect.stringMatching(/^key_[0-9a-f]{16}$/), balance: 0 });
    await call('/v1/grants', ADMIN, { account: me.account, amount: 50 });

    const res = await call('/v1/demo/generate', APP, { prompt: 'the quick brown fox jumps', maxTokens: 20 });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(res.headers.get('x-credits-held')).toBe('20');
    const { events, tail } = await readSse(res);
    // Streamed: the first token arrived while four more (20 ms apart) were still to come.
    expect(tail).toBeGreaterThan(50);
    expect(events.filter((e) => e.event === 'message' && e.data !== '[DONE]').map((e) => JSON.parse(e.data).token)).toEqual([
      'the',
      'quick',
      'brown',
      'fox',
      'jumps',
    ]);
    expect(JSON.parse(events.find((e) => e.event === 'credits')!.data)).toMatchObject({ held: 20, charged: 5 });
    // Settled before the stream closed: charged 5 of the 20 held, nothing left held.
    expect(await json(call(`/v1/accounts/${me.account}/balance`, APP))).toMatchObject({ balance: 45, available: 45, held: 0 });
    const { entries } = await json(call(`/v1/accounts/${me.account}/entries`, APP));
    expect(entries[0]).toMatchObject({ kind: 'capture', amount: 5, model: 'demo-echo', keyId: me.account });

    // A client that leaves mid-stream: workerd cancels the body, the meter releases the hold.
    const abort = new AbortController();
    const left = await fetch(new URL('/v1/demo/generate', base), {
      method: 'POST',
      headers: { authorization: `Bearer ${APP}`, 'content-type': 'application/json' },
      body: JSON.stringify({ prompt: 'word '.repeat(40), maxTokens: 40 }),
      signal: abort.signal,
    });
    const reader = left.body!.getReader();
    await reader.read();
    expect(await json(call(`/v1/accounts/${me.account}/balance`, APP))).toMatchObject({ held: 40 });
    abort.abort();
    await reader.closed.catch(() => undefined);
    await expect
      .poll(async () => json(call(`/v1/accounts/${me.account}/balance`, APP)), { timeout: 3000 })
      .toMatchObject({
        balance: 45,
        held: 0,
      });

    const refused = await call('/v1/demo/generate', APP, { prompt: 'too long', maxTokens: 46 });
    expect(refused.status).toBe(402);
    expect(await refused.json()).toMatchObject({ code: 'insufficient', available: 45, required: 46 });
    expect((await call('/v1/demo/generate', APP, { prompt: 'x', maxTokens: 0 })).status).toBe(400);
    expect(await json(call(`/v1/accounts/${me.account}/balance`, APP))).toMatchObject({ balance: 45, held: 0 });
  });

  it('the cron sweeps a lapsed hold and delivers its hold.expired webhook, signed', async () => {
    const { secret } = await json(call('/v1/webhooks', ADMIN, { url: hookUrl, types: ['hold.expired'] }));
    const held = await json(call('/v1/holds', APP, { account: 'u1', amount: 20, ttlMs: 50 }));
    expect(held).toMatchObject({ outcome: 'held', available: 50 });
    await new Promise((r) => setTimeout(r, 80));
    expect(await json(call('/v1/accounts/u1/balance', APP))).toMatchObject({ balance: 70, available: 70, held: 0 }); // lapsed already

    const cron = wrangler.triggers.crons[0]!;
    const fired = await fetch(new URL(`/cdn-cgi/handler/scheduled?cron=${encodeURIComponent(cron)}`, base));
    expect({ status: fired.status, outcome: await fired.text() }).toEqual({ status: 200, outcome: 'ok' });

    expect(received).toHaveLength(1);
    const hook = received[0]!;
    const payload = new Webhook(secret).verify(hook.body, hook.headers as Record<string, string>);
    expect(payload).toMatchObject({ type: 'hold.expired', data: { account: 'u1', holdId: held.hold.id } });
    const { entries } = await json(call('/v1/accounts/u1/entries', APP));
    expect(entries[0]).toMatchObject({ kind: 'expire', ref: held.hold.id, reason: 'hold expired' });

    // The run logged its counts (one JSON line).
    await expect.poll(() => stdout).toMatch(/"cron"/);
    const line = JSON.parse(stdout.split('\n').find((l) => l.includes('"cron"'))!);
    expect(line).toMatchObject({ cron, sweep: { holdsExpired: 1 }, webhooks: { queued: 1, sent: 1, delivered: 1, more: false } });
  });
});
