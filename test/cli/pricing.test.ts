/**
 * `drizzle-credits pricing publish | activate | list | show | quote` and `charge` in-process
 * (runCli), against a better-sqlite3 file: outcomes, --json, rates from a file or --rates,
 * the charge's exit codes (0 applied, replayed or free; 1 insufficient or capped), bad input
 * (exit 2 with the library's code, nothing written) and usage errors (exit 64).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cliOn } from '../support/cli-capture.js';

const dir = mkdtempSync(join(tmpdir(), 'drizzle-credits-cli-pricing-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const { cli, json } = cliOn(join(dir, 'pricing.db'));

describe('drizzle-credits pricing and charge', () => {
  it('publish (file or --rates), activate, list, show, quote', async () => {
    expect((await cli(['migrate'])).code).toBe(0);
    const file = join(dir, 'rates.json');
    writeFileSync(file, JSON.stringify({ 'gpt-4o': { input: '0.0025', output: '0.01' } }));
    const one = await json(['pricing', 'publish', file, '--label', 'launch']);
    expect(one.code).toBe(0);
    expect(one.json).toMatchObject({ outcome: 'published', version: 1, pricing: { label: 'launch', active: true, rounding: 'up' } });
    const two = await cli([
      'pricing',
      'publish',
      '--rates',
      '{"gpt-4o":{"input":"0.1","output":"0.7"}}',
      '--inactive',
      '--rounding',
      'half_even',
    ]);
    expect(two.code).toBe(0);
    expect(two.stdout).toMatch(/version\s+│?\s*2/);
    expect(two.stdout).toMatch(/0\.7/);
    const list = await cli(['pricing', 'list']);
    expect(list.stdout).toMatch(/launch/);
    expect((await json(['pricing', 'list'])).json).toMatchObject([
      { version: 1, active: true },
      { version: 2, active: false },
    ]);
    expect((await json(['pricing', 'show'])).json).toMatchObject({ version: 1 });
    expect((await json(['pricing', 'show', '2'])).json).toMatchObject({ version: 2, rounding: 'half_even' });
    const quote = await json(['pricing', 'quote', 'gpt-4o', 'input=30', 'output=10', '--price-version', '2']);
    expect(quote.json).toMatchObject({ credits: 10, exact: '10', version: 2 });
    const text = await cli(['pricing', 'quote', 'gpt-4o', 'input=100']);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/100 × 0\.0025 = 0\.25/);
    const act = await json(['pricing', 'activate', '2']);
    expect(act.json).toMatchObject({ outcome: 'activated', version: 2 });
    expect((await cli(['pricing', 'activate', '2'])).stdout).toMatch(/unchanged/);
  });

  it('charge: debited, replayed, free, insufficient and capped (exit 1), with a hold', async () => {
    expect((await cli(['grant', 'u1', '20'])).code).toBe(0);
    const c = await json(['charge', 'u1', 'gpt-4o', 'input=30', 'output=10', '--idempotency-key', 'r1', '--actor', 'alice']);
    expect(c.code).toBe(0);
    expect(c.json).toMatchObject({
      outcome: 'debited',
      balance: 10,
      quote: { credits: 10, version: 2 },
      entry: { model: 'gpt-4o', actor: 'alice' },
    });
    const again = await cli(['charge', 'u1', 'gpt-4o', 'input=30', 'output=10', '--idempotency-key', 'r1', '--actor', 'alice']);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/replayed/);
    const free = await cli(['charge', 'u1', 'gpt-4o', 'input=0', '--idempotency-key', 'r2']);
    expect(free.code).toBe(0);
    expect(free.stdout).toMatch(/free/);
    const poor = await json(['charge', 'u1', 'gpt-4o', 'output=100', '--idempotency-key', 'r3']);
    expect(poor.code).toBe(1);
    expect(poor.json).toMatchObject({ outcome: 'insufficient', requested: 70 });
    expect((await cli(['caps', 'set', 'u1', 'day', '11'])).code).toBe(0);
    const capped = await cli(['charge', 'u1', 'gpt-4o', 'input=20', '--idempotency-key', 'r4']);
    expect(capped.code).toBe(1);
    expect(capped.stdout).toMatch(/capped/);
    expect((await cli(['caps', 'remove', 'u1', 'day'])).code).toBe(0);
    const hold = await json(['hold', 'u1', '5']);
    const holdId = (hold.json.hold as { id: string }).id;
    const settled = await json(['charge', 'u1', 'gpt-4o', 'input=8', '--idempotency-key', 'r5', '--hold', holdId]);
    expect(settled.json).toMatchObject({
      outcome: 'debited',
      released: 4,
      hold: { id: holdId, status: 'captured' },
      entry: { kind: 'capture', amount: 1 },
    });
  });

  it('bad input exits 2 and writes nothing; usage errors exit 64', async () => {
    const before = (await json(['entries', '--limit', '1000'])).json;
    const cases: [string[], string][] = [
      [['pricing', 'publish', '--rates', '{"m":{"a":"-1"}}'], 'invalid_argument'],
      [['pricing', 'publish', '--rates', 'not json'], 'invalid_argument'],
      [['pricing', 'publish'], 'invalid_argument'],
      [['pricing', 'publish', join(dir, 'missing.json')], 'invalid_argument'],
      [['pricing', 'publish', '--rates', '{"m":{"a":"1"}}', '--rounding', 'nearest'], 'invalid_argument'],
      [['pricing', 'activate', '0'], 'invalid_argument'],
      [['pricing', 'activate', '99'], 'not_found'],
      [['pricing', 'show', '99'], 'not_found'],
      [['pricing', 'quote', 'gpt-4o', 'input=1.5'], 'invalid_argument'],
      [['pricing', 'quote', 'gpt-4o', 'input'], 'invalid_argument'],
      [['pricing', 'quote', 'nope', 'input=1'], 'invalid_argument'],
      [['charge', 'u1', 'gpt-4o', 'tokens=1', '--idempotency-key', 'x'], 'invalid_argument'],
      [['charge', 'u1', 'gpt-4o', 'input=-1', '--idempotency-key', 'x'], 'invalid_argument'],
    ];
    for (const [args, code] of cases) {
      const r = await json(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect((r.json.error as { code: string }).code, args.join(' ')).toBe(code);
    }
    expect((await json(['entries', '--limit', '1000'])).json).toEqual(before);
    expect((await cli(['charge', 'u1', 'gpt-4o', 'input=1'])).code).toBe(64);
    expect((await cli(['pricing', 'quote', 'gpt-4o'])).code).toBe(64);
    expect((await cli(['pricing', 'nope'])).code).toBe(64);
  });
});
