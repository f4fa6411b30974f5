/** Helpers for the HTTP suites: an API over a test database, with one token per scope set. */
import { expect } from 'vitest';
import { type CreditsApiOptions, createCreditsApi } from '../../src/http/index.js';
import type { Ledger } from '../../src/index.js';

import { TOKENS } from './support/tokens.js';

export { TOKENS };

export function apiFor(ledger: Ledger, extra: Partial<CreditsApiOptions> = {}) {
  const errors: unknown[] = [];
  const app = createCreditsApi({
    ledger,
    authorize: (req) => {
      const m = /^Bearer (\w+)$/.exec(req.headers.get('authorization') ?? '');
      const scopes = m ? TOKENS[m[1] as string] : undefined;
      return scopes ? { scopes } : null;
    },
    onError: (e) => errors.push(e),
    ...extra,
  });
  return { app, errors };
}

export interface Reply {
  status: number;
  headers: Headers;
  // biome-ignore lint/suspicious/noExplicitAny: JSON of many shapes, read by the tests' assertions.
  body: any;
}

type App = { request: (path: string, init?: RequestInit) => Response | Promise<Response> };

/** One request: `body` is sent as JSON (a string is sent as is). */
export async function call(
  app: App,
  method: string,
  path: string,
  o: { token?: string | null; body?: unknown; headers?: Record<string, string> } = {},
): Promise<Reply> {
  const headers: Record<string, string> = { ...(o.headers ?? {}) };
  const token = o.token === undefined ? 'admin' : o.token;
  if (token !== null) headers.authorization = `Bearer ${token}`;
  let body: string | undefined;
  if (o.body !== undefined) {
    body = typeof o.body === 'string' ? o.body : JSON.stringify(o.body);
    headers['content-type'] ??= 'application/json';
  }
  const res = await app.request(path, { method, headers, body });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {}
  return { status: res.status, headers: res.headers, body: parsed };
}

/** Asserts an RFC 9457 problem with this status and code. */
export function expectProblem(r: Reply, status: number, code: string): void {
  expect({ status: r.status, type: r.headers.get('content-type'), code: r.body?.code }, JSON.stringify(r.body)).toEqual({
    status,
    type: 'application/problem+json',
    code,
  });
  expect(r.body).toMatchObject({
    type: `urn:drizzle-credits:problem:${code}`,
    status,
    title: expect.any(String),
    detail: expect.any(String),
  });
}
