/**
 * `drizzle-credits/http`: the ledger as a Hono app with an OpenAPI 3.1 document.
 *
 *   import { createCreditsApi } from 'drizzle-credits/http';
 *   const api = createCreditsApi({ ledger, authorize: (req) => tokens.get(bearerToken(req) ?? '') ?? null });
 *   // or, from the `CREDITS_TOKENS` text `drizzle-credits serve` reads: authorize: tokenAuthorizer(env.CREDITS_TOKENS)
 *   export default api; // Workers / Bun; on Node: serve({ fetch: api.fetch })
 */
export { type CreditsApiOptions, type CreditsEnv, createCreditsApi, DEFAULT_BODY_LIMIT, operations } from './app.js';
export { type Authorize, bearerToken, hasScope, type Principal, SCOPES, type Scope } from './auth.js';
export { PROBLEM_CONTENT_TYPE, type Problem, problem, problemOf, problemResponse, STATUS_OF } from './problem.js';
export type { Operation } from './route.js';
export { type ApiToken, parseTokens, TOKENS_ENV, type TokenPrincipal, tokenAuthorizer } from './tokens.js';
