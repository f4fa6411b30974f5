/** A Worker (bundled by test/http/workers.test.ts, run in workerd by miniflare): the API over D1. */
import { drizzle } from 'drizzle-orm/d1';
import { Hono } from 'hono';
import { meter } from '../../../src/hono/index.js';
import { createCreditsApi } from '../../../src/http/index.js';
import { createLedger, type Ledger } from '../../../src/index.js';

let ready: Promise<{ ledger: Ledger; app: Hono }> | undefined;

async function setUp(db: D1Database) {
  const ledger = createLedger(drizzle(db));
  await ledger.migrate();
  const app = new Hono();
  app.post('/metered', meter({ ledger, account: () => 'w', estimate: () => 20, settle: () => 3 }), (c) => c.text('ok'));
  app.route(
    '/',
    createCreditsApi({ ledger, authorize: (r) => (r.headers.get('authorization') === 'Bearer t' ? { scopes: ['admin'] } : null) }),
  );
  return { ledger, app };
}

export default {
  async fetch(request: Request, env: { DB: D1Database }): Promise<Response> {
    ready ??= setUp(env.DB);
    return (await ready).app.fetch(request);
  },
};
