/**
 * Runs inside `bun` (spawned by test/http/bun.test.ts): the API and the meter on bun:sqlite
 * through Bun's own Request/Response/streams, printing what the requests returned as JSON.
 */
import { Hono } from 'hono';
import { streamSSE } from 'hono/streaming';
import { meter } from '../../../src/hono/index.js';
import { createCreditsApi } from '../../../src/http/index.js';
import { createLedger } from '../../../src/index.js';

// A specifier in a variable: Node's type check never resolves bun's own module.
const bunSqlite = 'bun:sqlite';
const { Database } = (await import(bunSqlite)) as { Database: new (file: string) => unknown };
const { drizzle } = await import('drizzle-orm/bun-sqlite');
const ledger = createLedger(drizzle(new Database(':memory:') as never));
await ledger.migrate();
const api = createCreditsApi({ ledger, authorize: (r) => (r.headers.get('authorization') === 'Bearer t' ? { scopes: ['admin'] } : null) });
const json = { authorization: 'Bearer t', 'content-type': 'application/json' };
const out: Record<string, unknown> = {};
const send = async (path: string, init?: RequestInit) => {
  const r = await api.request(path, init);
  return { status: r.status, body: await r.json() };
};
out.grant = (await send('/v1/grants', { method: 'POST', headers: json, body: JSON.stringify({ account: 'a', amount: 100 }) })).body;
const debit = { method: 'POST', headers: { ...json, 'idempotency-key': 'k' }, body: JSON.stringify({ account: 'a', amount: 10 }) };
out.debit = (await send('/v1/debits', debit)).body;
out.replay = (await send('/v1/debits', debit)).body;
out.anonymous = await send('/v1/stats');
out.paths = Object.keys(((await send('/openapi.json', { headers: json })).body as { paths: object }).paths).length;

const app = new Hono();
app.post('/stream', meter({ ledger, account: () => 'a', estimate: () => 30, settle: () => 7 }), (c) =>
  streamSSE(c, async (s) => {
    for (let i = 0; i < 3; i++) await s.writeSSE({ data: String(i) });
  }),
);
const res = await app.request('/stream', { method: 'POST' });
out.streamed = (await res.text()).length > 0;
out.balance = await ledger.getBalance('a');
out.holds = (await ledger.holds('a')).length;
console.log(JSON.stringify(out));
