/**
 * drizzle-credits on Cloudflare Workers + D1.
 *
 * - `fetch`: the whole credits API (`drizzle-credits/http`, mounted at `/`) behind the bearer
 *   tokens of the `CREDITS_TOKENS` secret, plus one metered endpoint of "your" app,
 *   `POST /v1/demo/generate`, that streams SSE tokens and pays for itself with `meter`.
 * - `scheduled` (the cron in wrangler.jsonc): `sweep()` writes down lapsed lots and holds, then
 *   `webhooks.deliver()` sends the events that are due.
 * - The schema is migrated once per isolate, before the first request or cron run is served.
 *
 * Nothing here needs `nodejs_compat`: the library, Hono and the token check use web APIs only.
 */
import { createLedger, type Ledger } from 'drizzle-credits';
import { type MeterEnv, meter } from 'drizzle-credits/hono';
import { createCreditsApi, hasScope, problem, problemResponse, type TokenPrincipal, tokenAuthorizer } from 'drizzle-credits/http';
import { drizzle } from 'drizzle-orm/d1';
import { Hono } from 'hono';

export interface Env {
  DB: D1Database;
  /** Secret, `token:scopes,…` as `drizzle-credits serve` reads it: `wrangler secret put CREDITS_TOKENS`. */
  CREDITS_TOKENS: string;
  /** Credits per generated token on the demo endpoint (a var in wrangler.jsonc; default 1). */
  DEMO_CREDITS_PER_TOKEN?: string;
}

type DemoInput = { prompt: string; maxTokens: number };
type AppEnv = { Bindings: Env; Variables: MeterEnv['Variables'] & { caller: TokenPrincipal; demo: DemoInput } };

interface Service {
  ledger: Ledger;
  app: Hono<AppEnv>;
}

// One per isolate. Bindings are fixed for a deployment, so the first request's env serves all.
let ready: Promise<Service> | undefined;

function service(env: Env, ctx: ExecutionContext): Promise<Service> {
  if (ready === undefined) {
    // A failed start is not cached: the next request or cron run tries again.
    ready = start(env).catch((e: unknown) => {
      ready = undefined;
      throw e;
    });
    // Keeps the migration running if the request that started it is cancelled (its client left):
    // other requests are waiting on it.
    ctx.waitUntil(ready.then(noop, noop));
  }
  return ready;
}
const noop = () => undefined;

/** The demo's pace: one token per interval, so the stream is visibly a stream. */
const TOKEN_INTERVAL_MS = 20;

async function start(env: Env): Promise<Service> {
  const ledger = createLedger(drizzle(env.DB));
  const app = createApp(ledger, env); // first: a bad secret or var fails before touching the database
  // Idempotent, tracked in the ledger's own migrations table; concurrent isolates are safe.
  const { applied } = await ledger.migrate();
  if (applied.length > 0) console.log(JSON.stringify({ migrated: applied }));
  return { ledger, app };
}

/** The paying account of a token: the token's own non-secret id (`GET /v1/demo/me` tells it). */
const accountOf = (caller: TokenPrincipal) => caller.keyId;

function createApp(ledger: Ledger, env: Env): Hono<AppEnv> {
  // Throws on a missing or malformed secret: the request fails (500) and the log says why.
  const authorize = tokenAuthorizer(env.CREDITS_TOKENS);
  const perToken = Number(env.DEMO_CREDITS_PER_TOKEN ?? '1');
  if (!Number.isSafeInteger(perToken) || perToken < 1) throw new Error('DEMO_CREDITS_PER_TOKEN must be a whole number ≥ 1');

  const api = createCreditsApi({ ledger, authorize });
  const app = new Hono<AppEnv>();

  // The demo routes' own authentication, with the same tokens. The account is the token's:
  // never taken from a header or body the client controls.
  app.use('/v1/demo/*', async (c, next) => {
    const caller = await authorize(c.req.raw);
    if (caller === null)
      return problemResponse(problem(401, 'unauthorized', 'credentials are missing or not valid'), { 'www-authenticate': 'Bearer' });
    if (!hasScope(caller, 'write')) return problemResponse(problem(403, 'forbidden', 'this endpoint needs the write scope'));
    c.set('caller', caller);
    await next();
  });

  app.get('/v1/demo/me', async (c) => {
    const account = accountOf(c.var.caller);
    const { balance, available, held } = await ledger.getBalance(account);
    return c.json({ account, balance, available, held });
  });

  app.post(
    '/v1/demo/generate',
    // Validated before the hold, so a bad body costs nothing.
    async (c, next) => {
      const body = (await c.req.json().catch(() => null)) as { prompt?: unknown; maxTokens?: unknown } | null;
      const maxTokens = body?.maxTokens ?? 64;
      if (typeof body?.prompt !== 'string' || body.prompt.length > 4096 || !Number.isSafeInteger(maxTokens))
        return problemResponse(problem(400, 'invalid_argument', 'expected {"prompt": string (≤ 4096 chars), "maxTokens"?: integer}'));
      if ((maxTokens as number) < 1 || (maxTokens as number) > 1024)
        return problemResponse(problem(400, 'invalid_argument', 'maxTokens must be 1–1024', { field: 'maxTokens' }));
      c.set('demo', { prompt: body.prompt, maxTokens: maxTokens as number });
      await next();
    },
    meter<AppEnv>({
      ledger,
      account: (c) => accountOf(c.var.caller),
      // Hold the most it can cost; the capture releases what the stream did not use.
      estimate: (c) => c.var.demo.maxTokens * perToken,
      settle: (_c, { metering }) => (metering.usage.tokens ?? 0) * perToken,
      attribution: (c) => ({ model: 'demo-echo', keyId: c.var.caller.keyId }),
      ttlMs: 5 * 60_000,
      sseEvent: true, // the client learns what it was charged in a final `event: credits`
    }),
    (c) => {
      // Stands in for an LLM: "generates" the prompt's words back, one SSE event per token.
      const words = c.var.demo.prompt.split(/\s+/).filter((w) => w !== '');
      const tokens = words.slice(0, c.var.demo.maxTokens);
      const encoder = new TextEncoder();
      let i = 0;
      const body = new ReadableStream<Uint8Array>({
        async pull(controller) {
          if (i > 0) await new Promise((r) => setTimeout(r, TOKEN_INTERVAL_MS)); // paced, as a model emits them
          const token = tokens[i++];
          if (token === undefined) {
            controller.enqueue(encoder.encode('data: [DONE]\n\n'));
            controller.close();
            return;
          }
          c.var.credits.add({ tokens: 1 }); // usage as it is produced: an abort releases, an end settles
          controller.enqueue(encoder.encode(`data: ${JSON.stringify({ token })}\n\n`));
        },
      });
      return new Response(body, { headers: { 'content-type': 'text/event-stream', 'cache-control': 'no-store' } });
    },
  );

  app.route('/', api);
  // Unknown paths answer as the API does (401 without credentials, 404 problem+json with them).
  app.notFound((c) => api.fetch(c.req.raw, c.env, c.executionCtx));
  return app;
}

/**
 * Sweeps, then delivers webhooks until nothing more is due (bounded: the next cron run takes
 * the rest). A failed sweep does not hold back delivery; the run still fails, so the cron's
 * status shows it.
 */
async function housekeeping(ledger: Ledger) {
  let failure: unknown;
  const swept = await ledger.sweep().catch((e: unknown) => {
    failure = e;
    return null;
  });
  const sent = { queued: 0, sent: 0, delivered: 0, retried: 0, failed: 0, disabled: 0, rounds: 0, more: false };
  try {
    for (let more = true; more && sent.rounds < 10; sent.rounds++) {
      const r = await ledger.webhooks.deliver();
      for (const k of ['queued', 'sent', 'delivered', 'retried', 'failed', 'disabled'] as const) sent[k] += r[k];
      more = sent.more = r.more;
    }
  } catch (e) {
    failure ??= e;
  }
  return { swept, sent, failure };
}

export default {
  async fetch(request, env, ctx) {
    const { app } = await service(env, ctx);
    return app.fetch(request, env, ctx);
  },

  async scheduled(controller, env, ctx) {
    const { ledger } = await service(env, ctx);
    const { swept, sent, failure } = await housekeeping(ledger);
    // One JSON line per run: `wrangler tail` and Workers Logs show it.
    console.log(
      JSON.stringify({
        cron: controller.cron,
        sweep: swept && { lotsExpired: swept.lotsExpired, holdsExpired: swept.holdsExpired, creditsExpired: swept.creditsExpired },
        webhooks: sent,
      }),
    );
    if (failure !== undefined) throw failure;
  },
} satisfies ExportedHandler<Env>;
