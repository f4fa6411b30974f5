/**
 * `createCreditsApi`: the ledger as a Hono app (Workers, Node, Bun: web-standard APIs only).
 * The core is small — authentication, scope checks, body limit and media type, JSON and
 * query decoding, problem+json errors — and each family's routes live in routes/.
 */
import { OpenAPIHono } from '@hono/zod-openapi';
import type { Context, MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { LedgerError } from '../errors.js';
import type { Ledger } from '../ledger.js';
import { type Authorize, hasScope, type Principal, type Scope } from './auth.js';
import { mountDashboard } from './dashboard/index.js';
import { docsPage } from './docs.js';
import { type Problem, problem, problemOf, problemResponse } from './problem.js';
import { document, type OpContext, type Operation } from './route.js';
import { accountRoutes } from './routes/accounts.js';
import { alertsRoutes } from './routes/alerts.js';
import { analyticsRoutes } from './routes/analytics.js';
import { capsRoutes } from './routes/caps.js';
import { entriesRoutes } from './routes/entries.js';
import { eventsRoutes } from './routes/events.js';
import { holdsRoutes } from './routes/holds.js';
import { moneyRoutes } from './routes/money.js';
import { plansRoutes } from './routes/plans.js';
import { pricingRoutes } from './routes/pricing.js';
import { teamsRoutes } from './routes/teams.js';
import { webhooksRoutes } from './routes/webhooks.js';

/** Bodies larger than this are refused with 413 unless `bodyLimit` says otherwise (a batch of 10,000 ops fits). */
export const DEFAULT_BODY_LIMIT = 1_048_576;

export interface CreditsApiOptions {
  ledger: Ledger;
  /** Checks a request's credentials; null refuses it (401). Called for every request, docs included. */
  authorize: Authorize;
  /** Where the API is mounted, e.g. `/credits` (routes are `/credits/v1/…`). Default: none. */
  basePath?: string;
  /** Largest request body in bytes (413 past it). Default 1 MiB. */
  bodyLimit?: number;
  /** Told about every 5xx the API answers (the client only sees `internal`); default: console.error. */
  onError?: (error: unknown, request: Request) => void;
  /** Serve the admin dashboard at `GET {basePath}/dashboard` (its page and assets need no token; see docs/http.md). Default true. */
  dashboard?: boolean;
  /** The document's `info`. */
  info?: { title?: string; version?: string; description?: string };
}

export type CreditsEnv = { Variables: { principal: Principal } };

/** Every operation, in the order the document lists them (static paths before parameterised ones). */
export function operations(): Operation[] {
  return [
    ...moneyRoutes(),
    ...holdsRoutes(),
    ...accountRoutes(),
    ...entriesRoutes(),
    ...capsRoutes(),
    ...plansRoutes(),
    ...pricingRoutes(),
    ...teamsRoutes(),
    ...analyticsRoutes(),
    ...alertsRoutes(),
    ...eventsRoutes(),
    ...webhooksRoutes(),
  ];
}

const JSON_TYPE = /^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i;
const NUMBER = /^-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?$/;

/** A query value as the ledger expects it: digits are numbers, true/false booleans; the rest stays text for the ledger to refuse. */
function queryValue(v: string): unknown {
  if (NUMBER.test(v)) return Number(v);
  if (v === 'true') return true;
  if (v === 'false') return false;
  return v;
}

export function createCreditsApi(options: CreditsApiOptions): OpenAPIHono<CreditsEnv> {
  const { ledger, authorize } = options;
  if (ledger === null || typeof ledger !== 'object' || typeof ledger.getBalance !== 'function')
    throw new TypeError('createCreditsApi: ledger must be a Ledger (createLedger(db))');
  if (typeof authorize !== 'function') throw new TypeError('createCreditsApi: authorize must be a function');
  const base = normaliseBase(options.basePath);
  const maxBody = options.bodyLimit ?? DEFAULT_BODY_LIMIT;
  if (!Number.isSafeInteger(maxBody) || maxBody < 1)
    throw new TypeError('createCreditsApi: bodyLimit must be a positive whole number of bytes');
  const report = options.onError ?? ((e: unknown) => console.error('drizzle-credits/http: internal error', e));

  const app = new OpenAPIHono<CreditsEnv>();
  const fail = (c: Context, p: Problem, headers?: Record<string, string>) => {
    if (p.status >= 500 && p.code !== 'busy') report(c.error ?? new Error(p.detail), c.req.raw);
    return problemResponse(p, headers);
  };
  const errorResponse = (c: Context, e: unknown) => {
    const p = problemOf(e);
    // busy is load, not a fault: the client retries.
    if (p.status >= 500 && p.code !== 'busy') report(e, c.req.raw);
    return problemResponse(p, p.code === 'busy' ? { 'retry-after': '1' } : {});
  };

  app.onError((e, c) => errorResponse(c, e));
  const unauthorized = (c: Context) =>
    fail(c, problem(401, 'unauthorized', 'credentials are missing or not valid'), { 'www-authenticate': 'Bearer' });
  const principalOf = async (c: Context): Promise<Principal | null> => {
    const p = await authorize(c.req.raw);
    return p === null || p === undefined || !Array.isArray(p.scopes) ? null : p;
  };

  // Authentication is a middleware of each route (and the not-found handler), not a global
  // `use('*')`: mounted with parent.route('/', api), the API must not guard the parent's routes.
  const authenticate: MiddlewareHandler<CreditsEnv> = async (c, next) => {
    const principal = await principalOf(c);
    if (principal === null) return unauthorized(c);
    c.set('principal', principal);
    await next();
  };
  // Unknown paths need credentials too: nothing reveals what exists.
  app.notFound(async (c) =>
    (await principalOf(c)) === null
      ? unauthorized(c)
      : fail(c, problem(404, 'not_found', `no route ${c.req.method} ${new URL(c.req.url).pathname}`)),
  );

  const requireScope = (c: Context<CreditsEnv>, scope: Scope): Response | null =>
    hasScope(c.get('principal'), scope) ? null : fail(c, problem(403, 'forbidden', `this operation needs the ${scope} scope`));

  const limit = bodyLimit({
    maxSize: maxBody,
    onError: (c) => fail(c, problem(413, 'payload_too_large', `the body must be at most ${maxBody} bytes`)),
  });

  for (const op of operations()) {
    document(app, op);
    const path = base + op.path.replace(/\{(\w+)\}/g, ':$1');
    const handler = async (c: Context<CreditsEnv>) => {
      const refused = requireScope(c, op.scope);
      if (refused) return refused;
      let parsed: { body: unknown } | null = null;
      const readBody = async (): Promise<unknown> => {
        if (parsed) return parsed.body;
        const text = await c.req.text();
        if (text.trim() === '') {
          if (!op.bodyOptional) throw new LedgerError('invalid_argument', `${op.operationId}: a JSON body is required`, { field: 'input' });
          parsed = { body: {} };
          return parsed.body;
        }
        const type = c.req.header('content-type') ?? '';
        if (!JSON_TYPE.test(type)) throw new MediaTypeError();
        try {
          parsed = { body: JSON.parse(text) };
        } catch {
          throw new LedgerError('invalid_argument', `${op.operationId}: the body is not valid JSON`, { field: 'input' });
        }
        return parsed.body;
      };
      const ctx: OpContext = {
        c,
        ledger,
        param: (name) => c.req.param(name) ?? '',
        body: readBody,
        query: (name) => {
          const v = c.req.query(name);
          return v === undefined ? undefined : queryValue(v);
        },
        queryText: (name) => c.req.query(name),
        queryList: (name) => {
          const all = c.req.queries(name);
          return all === undefined ? undefined : all.flatMap((v) => v.split(',')).filter((v) => v !== '');
        },
        idempotencyKey: c.req.header('idempotency-key'),
        requireScope: (scope) => {
          if (!hasScope(c.get('principal'), scope)) throw new ScopeError(scope);
        },
      };
      try {
        // A retry of an operation that has no key would apply twice (a batch): say so rather than ignore it.
        if (!op.idempotencyHeader && ctx.idempotencyKey !== undefined)
          throw new LedgerError(
            'invalid_argument',
            `${op.operationId}: takes no Idempotency-Key${op.operationId === 'batch' ? ' (give each op its own idempotencyKey)' : ''}`,
            { field: 'idempotencyKey' },
          );
        // Media type and JSON are checked before anything else can fail, so a 415 is a 415.
        if (op.method !== 'get' && op.body !== undefined) await readBody();
        const result = await op.handler(ctx);
        return c.json(result as object, 200, { 'cache-control': 'no-store' });
      } catch (e) {
        if (e instanceof MediaTypeError) return fail(c, problem(415, 'unsupported_media_type', 'the body must be application/json'));
        if (e instanceof ScopeError) return fail(c, problem(403, 'forbidden', `this request needs the ${e.scope} scope`));
        return errorResponse(c, e);
      }
    };
    if (op.method === 'get') app.get(path, authenticate, handler);
    else app.on(op.method.toUpperCase(), path, authenticate, limit, handler);
  }

  const info = {
    title: options.info?.title ?? 'drizzle-credits',
    version: options.info?.version ?? '1',
    description:
      options.info?.description ??
      'The drizzle-credits ledger over HTTP. Every request needs a bearer token; scopes: read, write, admin (admin implies the others).',
  };
  const openapi = () => {
    const doc = app.getOpenAPI31Document({ openapi: '3.1.0', info, servers: [{ url: base || '/' }] });
    doc.components = {
      ...doc.components,
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'A token the app’s authorize() accepts' } },
    };
    return doc;
  };
  let cached: ReturnType<typeof openapi> | undefined;
  const doc = () => {
    cached ??= openapi();
    return cached;
  };
  // The document and the page describe the API: they need `read` like any read.
  app.get(`${base}/openapi.json`, authenticate, (c) => requireScope(c, 'read') ?? c.json(doc()));
  app.get(`${base}/docs`, authenticate, (c) => requireScope(c, 'read') ?? c.html(docsPage(doc())));
  // The dashboard's page and assets carry no data: public (its data calls are API calls with a token).
  if (options.dashboard !== false) mountDashboard(app, base);
  return app;
}

class MediaTypeError extends Error {}
class ScopeError extends Error {
  constructor(readonly scope: Scope) {
    super(`needs ${scope}`);
  }
}

function normaliseBase(basePath: string | undefined): string {
  if (basePath === undefined || basePath === '' || basePath === '/') return '';
  if (!/^\/[\w\-./~]*[^/]$/.test(basePath)) throw new TypeError('createCreditsApi: basePath must start with / and not end with one');
  return basePath;
}
