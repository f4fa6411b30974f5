/**
 * The `drizzle-credits` bin as a user runs it: one real node process per command. The
 * sources are transpiled to JavaScript once (as `npm run build` would, without the type
 * check) and run on plain node. Only what in-process tests cannot show is here: the bin
 * wiring (arguments, streams, exit code of the process), the version from package.json,
 * and both drivers loaded for real. Everything else is in cli.test.ts.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../..');
/** A cold node start with a driver loaded takes ~0.5 s idle; a loaded 2-core machine, several times that. */
const SPAWN_TIMEOUT_MS = 30_000;

/**
 * src/**\/*.ts → <ROOT>/.tmp/cli-…/src/**\/*.js. Inside the checkout, so the package's
 * dependencies resolve from its node_modules and the CLI finds its package.json (version).
 */
function transpileSources(): { main: string; dir: string } {
  mkdirSync(join(ROOT, '.tmp'), { recursive: true });
  const dir = mkdtempSync(join(ROOT, '.tmp', 'cli-'));
  const files = readdirSync(join(ROOT, 'src'), { recursive: true, encoding: 'utf8' });
  for (const rel of files.filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))) {
    const { outputText } = ts.transpileModule(readFileSync(join(ROOT, 'src', rel), 'utf8'), {
      fileName: rel,
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, verbatimModuleSyntax: true },
    });
    const out = join(dir, 'src', rel.replace(/\.ts$/, '.js'));
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(out, outputText);
  }
  return { main: join(dir, 'src/cli/main.js'), dir };
}

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'drizzle-credits-bin-'));
  dirs.push(d);
  return d;
};

let MAIN = '';
beforeAll(() => {
  const built = transpileSources();
  MAIN = built.main;
  dirs.push(built.dir);
}, SPAWN_TIMEOUT_MS);

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function bin(args: string[]): Promise<Run> {
  return new Promise((res, rej) => {
    const child = spawn(process.execPath, [MAIN, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += String(d);
    });
    child.stderr.on('data', (d) => {
      stderr += String(d);
    });
    child.on('error', rej);
    child.on('close', (code) => res({ code, stdout, stderr }));
  });
}

describe.concurrent('drizzle-credits bin (compiled, one process per command)', () => {
  it(
    '--version prints the version of package.json',
    async () => {
      const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
      const r = await bin(['--version']);
      expect(r).toEqual({ code: 0, stdout: `${pkg.version}\n`, stderr: '' });
    },
    SPAWN_TIMEOUT_MS,
  );

  it(
    'better-sqlite3 --db: migrate, grant and balance --json round trip; a rejected value exits 2',
    async () => {
      const db = ['--db', join(tempDir(), 'credits.db')];
      expect((await bin([...db, 'migrate'])).code).toBe(0);
      const grant = await bin([...db, '--json', 'grant', 'u1', '100', '--idempotency-key', 'order-1']);
      expect(grant.code).toBe(0);
      expect(JSON.parse(grant.stdout)).toMatchObject({ outcome: 'granted', balance: 100, entry: { idempotencyKey: 'order-1' } });
      const [balance, refused] = await Promise.all([
        bin([...db, 'balance', 'u1', '--json']),
        bin([...db, 'grant', 'u1', '5', '--expires-at', '8640000000000001']),
      ]);
      expect(balance.code).toBe(0);
      expect(JSON.parse(balance.stdout)).toEqual({
        account: 'u1',
        balance: 100,
        held: 0,
        available: 100,
        seq: 1,
        floor: 0,
        headroom: null,
        caps: [],
      });
      expect(refused.code).toBe(2);
      expect(refused.stderr).toMatch(/^error \[invalid_argument\]: expiresAt must be .*"8640000000000001"/);
    },
    SPAWN_TIMEOUT_MS,
  );

  it(
    'libSQL --url file:: migrate, grant and read back',
    async () => {
      const url = ['--url', `file:${join(tempDir(), 'credits.db')}`];
      expect((await bin([...url, 'migrate'])).code).toBe(0);
      expect((await bin([...url, 'grant', 'u1', '40'])).code).toBe(0);
      const history = await bin([...url, 'history', 'u1']);
      expect(history.code).toBe(0);
      expect(history.stdout).toMatch(/grant\s*│\s*\+40/);
      expect(history.stdout).toContain('next cursor: none');
    },
    SPAWN_TIMEOUT_MS,
  );

  it(
    'a usage error exits 64: text on stderr, with --json a JSON document on stdout',
    async () => {
      const [text, json] = await Promise.all([bin(['grant', 'u1']), bin(['grant', 'u1', '--json'])]);
      expect(text.code).toBe(64);
      expect(text.stdout).toBe('');
      expect(text.stderr).toBe("error: missing required argument 'amount'\n(run with --help for usage)\n");
      expect(json.code).toBe(64);
      expect(json.stderr).toBe('');
      expect(JSON.parse(json.stdout)).toEqual({ error: { code: 'usage', message: "missing required argument 'amount'" } });
    },
    SPAWN_TIMEOUT_MS,
  );
});
