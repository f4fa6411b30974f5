/**
 * The server side of `npm run bench -- --http` (bench/http.ts), in its own process: the API
 * exactly as `drizzle-credits serve` builds it (openLedger, migrate, createCreditsApi with the
 * token authorizer, @hono/node-server), and beside it, on the same Hono app, server and file,
 * the baseline route `POST /raw`: the same bearer check, the same JSON body, then a raw INSERT
 * of the same row into the minimal-append table (integer primary key, one index on account),
 * answered as JSON. Prints its URL on stdout.
 */

import type { AddressInfo } from 'node:net';
import { serve as nodeServe } from '@hono/node-server';
import Database from 'better-sqlite3';
import { Hono } from 'hono';
import { openLedger } from '../src/cli/open.js';
import { parseTokens, tokenAuthorizer } from '../src/cli/serve.js';
import { createCreditsApi } from '../src/http/index.js';
import { APPEND_DDL } from './setup.js';
import { APPEND_SQL } from './suite-scenarios.js';

const [file, tokens] = [process.argv[2], process.env.CREDITS_TOKENS];
if (file === undefined) throw new Error('usage: http-server.ts <db file>');
const authorize = tokenAuthorizer(parseTokens(tokens));
const opened = await openLedger({ db: file }, { mustExist: false });
await opened.ledger.migrate();

const raw = new Database(file);
raw.pragma('journal_mode = WAL');
raw.pragma('busy_timeout = 5000');
for (const s of APPEND_DDL)
  raw.exec(s.replace('CREATE TABLE', 'CREATE TABLE IF NOT EXISTS').replace('CREATE INDEX', 'CREATE INDEX IF NOT EXISTS'));
const append = raw.prepare(APPEND_SQL);
const seqs = new Map<string, number>();

const app = new Hono();
app.post('/raw', async (c) => {
  if (authorize(c.req.raw) === null) return c.json({ code: 'unauthorized' }, 401);
  const body = (await c.req.json()) as { account: string; amount: number };
  const seq = (seqs.get(body.account) ?? 0) + 1;
  seqs.set(body.account, seq);
  const r = append.run(body.account, seq, -seq * body.amount, Date.now());
  return c.json({ outcome: 'appended', pos: Number(r.lastInsertRowid) });
});
app.route('/', createCreditsApi({ ledger: opened.ledger, authorize }));

nodeServe({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, (info: AddressInfo) => {
  process.stdout.write(`http://127.0.0.1:${info.port}\n`);
});
