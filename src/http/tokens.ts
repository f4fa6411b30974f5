/**
 * Bearer tokens from configuration: the `CREDITS_TOKENS` format `drizzle-credits serve` reads
 * (`tok1:admin,tok2:read+write`), parsed once here so the CLI, a Worker and any other host
 * accept the same text. `tokenAuthorizer` uses WebCrypto only (no `node:crypto`), so it runs
 * on Workers without `nodejs_compat`, on Node ≥ 20 and on Bun.
 */
import { bearerToken, type Principal, SCOPES, type Scope } from './auth.js';

/** The environment variable (or Worker secret) holding `token:scope+scope,token:scope`. */
export const TOKENS_ENV = 'CREDITS_TOKENS';

/** One configured token and its scopes. */
export interface ApiToken {
  token: string;
  scopes: Scope[];
}

/** What `tokenAuthorizer` returns for a known token. */
export interface TokenPrincipal extends Principal {
  scopes: Scope[];
  /**
   * A stable, non-secret name for the token: `key_` and the first 16 hex digits of its SHA-256.
   * Fit for logs, for `keyId` attribution, or as the account a token's own usage is billed to.
   */
  keyId: string;
}

/**
 * `tok1:admin,tok2:read+write`: comma-separated entries, each a token, a colon and its
 * scopes joined by `+` (read, write, admin). A token may contain colons (the last one
 * separates the scopes) but not commas or whitespace; at least 16 characters.
 */
export function parseTokens(text: string | undefined): ApiToken[] {
  if (text === undefined || text.trim() === '')
    throw new Error(`${TOKENS_ENV} is not set: e.g. ${TOKENS_ENV}="<token>:admin,<token>:read+write"`);
  return text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map((entry, i) => {
      const colon = entry.lastIndexOf(':');
      if (colon < 0) throw new Error(`${TOKENS_ENV} entry ${i + 1}: expected token:scopes (e.g. <token>:read+write)`);
      const token = entry.slice(0, colon);
      const scopes = entry.slice(colon + 1).split('+');
      if (token.length < 16 || /\s/.test(token))
        throw new Error(`${TOKENS_ENV} entry ${i + 1}: a token must be at least 16 characters, without spaces`);
      if (scopes.length === 0 || scopes.some((s) => !(SCOPES as readonly string[]).includes(s)))
        throw new Error(`${TOKENS_ENV} entry ${i + 1}: scopes must be read, write or admin joined by + (e.g. read+write)`);
      return { token, scopes: scopes as Scope[] };
    });
}

const encoder = new TextEncoder();
const sha256 = async (s: string) => new Uint8Array(await crypto.subtle.digest('SHA-256', encoder.encode(s)));
const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');

/** Equal-length digests compared without an early exit. */
function sameDigest(a: Uint8Array, b: Uint8Array): boolean {
  let diff = a.length ^ b.length;
  for (let i = 0; i < a.length; i++) diff |= (a[i] ?? 0) ^ (b[i] ?? 0);
  return diff === 0;
}

/**
 * `authorize` for `createCreditsApi` from configured tokens (or the `CREDITS_TOKENS` text):
 * the presented bearer token is hashed and compared with every configured token's hash, all of
 * them every time, so neither the match nor its position shows in the timing.
 */
export function tokenAuthorizer(tokens: readonly ApiToken[] | string): (request: Request) => Promise<TokenPrincipal | null> {
  const entries = typeof tokens === 'string' ? parseTokens(tokens) : tokens;
  // Hashed on first use: a Worker may not call crypto.subtle at module scope.
  let hashed: Promise<{ hash: Uint8Array; principal: TokenPrincipal }[]> | undefined;
  const table = () =>
    (hashed ??= Promise.all(
      entries.map(async (e) => {
        const hash = await sha256(e.token);
        return { hash, principal: { scopes: [...e.scopes], keyId: `key_${hex(hash).slice(0, 16)}` } };
      }),
    ));
  return async (request) => {
    const token = bearerToken(request);
    if (token === null) return null;
    const [presented, known] = await Promise.all([sha256(token), table()]);
    let found: TokenPrincipal | null = null;
    for (const e of known) if (sameDigest(e.hash, presented) && found === null) found = e.principal;
    return found === null ? null : { scopes: [...found.scopes], keyId: found.keyId };
  };
}
