/**
 * `drizzle-credits serve` as a user runs it: a real node process (sources through tsx) on an
 * ephemeral port, called over HTTP with and without a token, stopped with SIGTERM. The token
 * parser and the constant-time authorizer are checked in process.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/program.js';
import { parseTokens, tokenAuthorizer } from '../../src/cli/serve.js';

/** A writable stream that keeps what is written. */
function capture() {
  let text = '';
  return Object.assign(
    new Writable({
      write(chunk, _e, cb) {
        text += String(chunk);
        cb();
      },
    }),
    { text: () => text },
  );
}

const ROOT = resolve(import.meta.dirname, '../..');
const ADMIN = 'adm1n-token-0123456789abcdef';
const READER = 'r3ader-token-0123456789abcdef';
const dir = mkdtempSync(join(tmpdir(), 'credits-serve-'));
const children: ChildProcess[] = [];
afterAll(() => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

function start(args: string[], env: Record<string, string>) {
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'src/cli/main.ts'), ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => {
    out += d;
  });
  child.stderr!.on('data', (d) => {
    err += d;
  });
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  const url = new Promise<string>((res, rej) => {
    const timer = setTimeout(() => rej(new Error(`serve did not start: ${out} ${err}`)), 30_000);
    child.stdout!.on('data', () => {
      const m = /on (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        res(m[1]!);
      }
    });
    void exited.then(() => rej(new Error(`serve exited: ${out} ${err}`)));
  });
  return { child, url, exited, output: () => ({ out, err }) };
}

describe('drizzle-credits serve', () => {
  it('migrates, serves on 127.0.0.1 with bearer tokens (401 without, 403 without the scope), stops on SIGTERM', async () => {
    const db = join(dir, 'credits.db');
    const s = start(['--db', db, 'serve', '--port', '0'], { CREDITS_TOKENS: `${ADMIN}:admin, ${READER}:read` });
    const base = await s.url;
    expect(existsSync(db)).toBe(true);
    const anon = await fetch(`${base}/v1/stats`);
    expect(anon.status).toBe(401);
    expect(anon.headers.get('www-authenticate')).toBe('Bearer');
    expect(((await anon.json()) as { code: string }).code).toBe('unauthorized');
    const auth = (t: string) => ({ authorization: `Bearer ${t}`, 'content-type': 'application/json' });
    const grant = { method: 'POST', body: JSON.stringify({ account: 'a', amount: 7 }) };
    expect((await fetch(`${base}/v1/grants`, { ...grant, headers: auth(READER) })).status).toBe(403);
    expect((await fetch(`${base}/v1/grants`, { ...grant, headers: auth(`${ADMIN}x`) })).status).toBe(401);
    const g = await fetch(`${base}/v1/grants`, { ...grant, headers: auth(ADMIN) });
    expect(((await g.json()) as { balance: number }).balance).toBe(7);
    const b = await fetch(`${base}/v1/accounts/a/balance`, { headers: auth(READER) });
    expect(((await b.json()) as { available: number }).available).toBe(7);
    expect((await fetch(`${base}/docs`, { headers: auth(READER) })).headers.get('content-type')).toMatch(/^text\/html/);
    s.child.kill('SIGTERM');
    expect(await s.exited).toBe(0);
    expect(s.output().out).toContain('shutting down');
  });

  it('refuses to start without tokens or with a bad port (exit 64), before opening anything', async () => {
    for (const [env, port] of [
      [{}, '0'],
      [{ CREDITS_TOKENS: `${ADMIN}:admin` }, '70000'],
    ] as const) {
      const out = capture();
      const err = capture();
      const code = await runCli(['--db', join(dir, 'never.db'), 'serve', '--port', port], { stdout: out, stderr: err, env });
      expect(code).toBe(64);
      expect(err.text()).toMatch(port === '0' ? /CREDITS_TOKENS is not set/ : /--port/);
    }
    expect(existsSync(join(dir, 'never.db'))).toBe(false);
  });

  it('parses CREDITS_TOKENS and authorizes by constant-time hash comparison', () => {
    const entries = parseTokens(`${ADMIN}:admin,tok:with:colons-0123456789:read+write`);
    const authorize = tokenAuthorizer(entries);
    const req = (h?: string) => new Request('http://x/', { headers: h === undefined ? {} : { authorization: h } });
    expect(authorize(req(`Bearer ${ADMIN}`))).toEqual({ scopes: ['admin'] });
    expect(authorize(req('bearer tok:with:colons-0123456789'))).toEqual({ scopes: ['read', 'write'] });
    expect(authorize(req(`Bearer ${ADMIN.slice(0, -1)}`))).toBeNull();
    expect(authorize(req(`Basic ${ADMIN}`))).toBeNull();
    expect(authorize(req())).toBeNull();
    expect(() => parseTokens('short:admin')).toThrow(/16 characters/);
    expect(() => parseTokens(`${ADMIN}:root`)).toThrow(/scopes/);
    expect(() => parseTokens(ADMIN)).toThrow(/token:scopes/);
    expect(() => parseTokens(undefined)).toThrow(/not set/);
  });
});
