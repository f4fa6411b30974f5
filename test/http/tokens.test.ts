/** `parseTokens` / `tokenAuthorizer` from drizzle-credits/http: the CREDITS_TOKENS format on WebCrypto (Workers, Node, Bun). */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { parseTokens, TOKENS_ENV, tokenAuthorizer } from '../../src/http/index.js';

const ADMIN = 'admin-0123456789abcdef';
const SERVICE = 'tok:with:colons-0123456789';
const req = (h?: string) => new Request('http://x/', { headers: h === undefined ? {} : { authorization: h } });
const keyIdOf = (t: string) => `key_${createHash('sha256').update(t, 'utf8').digest('hex').slice(0, 16)}`;

describe('parseTokens', () => {
  it('reads token:scope+scope entries (the last colon separates the scopes) and refuses what serve refuses', () => {
    expect(TOKENS_ENV).toBe('CREDITS_TOKENS');
    expect(parseTokens(` ${ADMIN}:admin , ${SERVICE}:read+write,`)).toEqual([
      { token: ADMIN, scopes: ['admin'] },
      { token: SERVICE, scopes: ['read', 'write'] },
    ]);
    expect(() => parseTokens('short:admin')).toThrow(/entry 1: .*16 characters/);
    expect(() => parseTokens(`${ADMIN}:admin,${ADMIN}:root`)).toThrow(/entry 2: scopes/);
    expect(() => parseTokens(`${ADMIN}:read+`)).toThrow(/scopes/);
    expect(() => parseTokens(ADMIN)).toThrow(/token:scopes/);
    expect(() => parseTokens('  ')).toThrow(/not set/);
    expect(() => parseTokens(undefined)).toThrow(/not set/);
  });
});

describe('tokenAuthorizer', () => {
  it('answers the scopes and a stable keyId (SHA-256 prefix) of a known bearer token, null otherwise', async () => {
    for (const authorize of [
      tokenAuthorizer(`${ADMIN}:admin,${SERVICE}:read+write`),
      tokenAuthorizer(parseTokens(`${ADMIN}:admin,${SERVICE}:read+write`)),
    ]) {
      expect(await authorize(req(`Bearer ${ADMIN}`))).toEqual({ scopes: ['admin'], keyId: keyIdOf(ADMIN) });
      expect(await authorize(req(`bearer ${SERVICE}`))).toEqual({ scopes: ['read', 'write'], keyId: keyIdOf(SERVICE) });
      expect(await authorize(req(`Bearer ${ADMIN.slice(0, -1)}`))).toBeNull();
      expect(await authorize(req(`Bearer ${ADMIN}x`))).toBeNull();
      expect(await authorize(req(`Basic ${ADMIN}`))).toBeNull();
      expect(await authorize(req())).toBeNull();
    }
  });

  it('hands out copies: a caller that edits its principal changes nothing for the next request', async () => {
    const authorize = tokenAuthorizer(`${ADMIN}:read`);
    const p = await authorize(req(`Bearer ${ADMIN}`));
    p!.scopes.push('admin');
    expect(await authorize(req(`Bearer ${ADMIN}`))).toEqual({ scopes: ['read'], keyId: keyIdOf(ADMIN) });
  });

  it('refuses a malformed CREDITS_TOKENS text when built, not on the first request', () => {
    expect(() => tokenAuthorizer('nope')).toThrow(/token:scopes/);
  });
});
