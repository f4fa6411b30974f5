/**
 * `drizzle-credits caps set | remove | list | floor` in-process (runCli), against a
 * better-sqlite3 file: outcomes, --json, the capped debit and hold (exit 1), bad windows,
 * limits and floors (exit 2 with the library's code, nothing written), usage (exit 64).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { captureCli } from '../support/cli-capture.js';

const dir = mkdtempSync(join(tmpdir(), 'drizzle-credits-cli-caps-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function cli(args: string[]) {
  return captureCli(['--db', join(dir, 'caps.db'), ...args]);
}

async function json(args: string[]) {
  const r = await cli(['--json', ...args]);
  return { ...r, json: JSON.parse(r.stdout) as Record<string, unknown> };
}

describe('drizzle-credits caps', () => {
  it('set, list, floor, remove; capped debits and holds exit 1; bad input exits 2 and writes nothing', async () => {
    expect((await cli(['migrate'])).code).toBe(0);
    expect((await cli(['grant', 'u1', '1000'])).code).toBe(0);

    const set = await json(['caps', 'set', 'u1', 'day', '100', '--reason', 'budget']);
    expect(set.code).toBe(0);
    expect(set.json).toMatchObject({ outcome: 'set', cap: { window: 'day', limit: 100, action: 'deny' }, entry: { kind: 'cap_set' } });
    const again = await cli(['caps', 'set', 'u1', 'day', '100']);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/replayed \(already in force\)/);
    const model = await cli(['caps', 'set', 'u1', 'month', '500', '--model', 'gpt', '--action', 'warn', '--member', 'alice']);
    expect(model.stdout).toMatch(/warn 500 per month, model gpt, member alice/);

    expect((await cli(['debit', 'u1', '80'])).code).toBe(0);
    const capped = await json(['debit', 'u1', '30']);
    expect(capped.code).toBe(1);
    expect(capped.json).toMatchObject({ outcome: 'capped', spent: 80, limit: 100, requested: 30 });
    const cappedText = await cli(['hold', 'u1', '30']);
    expect(cappedText.code).toBe(1);
    expect(cappedText.stdout).toMatch(/capped \(nothing held\)/);
    expect(cappedText.stdout).toMatch(/deny 100 per day/);

    const list = await json(['caps', 'list', 'u1']);
    expect((list.json as unknown as { window: string; spent: number }[]).map((c) => [c.window, c.spent])).toEqual([
      ['day', 80],
      ['month', 0],
    ]);
    expect((await cli(['caps', 'list', 'u1'])).stdout).toMatch(/remaining/);
    expect((await cli(['caps', 'list', 'nobody'])).stdout).toBe('no caps on nobody\n');

    const floor = await json(['caps', 'floor', 'u1', '-50']);
    expect(floor.json).toMatchObject({ outcome: 'set', floor: -50 });
    const balance = await json(['balance', 'u1']);
    expect(balance.json).toMatchObject({ balance: 920, available: 970, floor: -50, headroom: 20 });
    expect((await cli(['balance', 'u1'])).stdout).toMatch(/headroom \(caps\)\s*│\s*20/);

    expect((await json(['caps', 'remove', 'u1', 'day'])).json).toMatchObject({ outcome: 'removed' });
    const absent = await cli(['caps', 'remove', 'u1', 'day']);
    expect(absent.code).toBe(0);
    expect(absent.stdout).toMatch(/absent/);
    expect((await cli(['debit', 'u1', '30'])).code).toBe(0);

    // Bad input: the library's code, nothing written.
    const before = (await json(['history', 'u1'])).json;
    const bad = await Promise.all([
      json(['caps', 'set', 'u1', 'fortnight', '5']),
      json(['caps', 'set', 'u1', 'day', '-5']),
      json(['caps', 'set', 'u1', 'day', '1.5']),
      json(['caps', 'set', 'u1', 'day', '5', '--action', 'block']),
      json(['caps', 'floor', 'u1', '9007199254740992']),
      json(['caps', 'floor', 'u1', 'x']),
    ]);
    expect(bad.map((r) => [r.code, (r.json.error as { code: string }).code])).toEqual([
      [2, 'invalid_argument'],
      [2, 'invalid_amount'],
      [2, 'invalid_amount'],
      [2, 'invalid_argument'],
      [2, 'invalid_amount'],
      [2, 'invalid_amount'],
    ]);
    expect((await json(['history', 'u1'])).json).toEqual(before);
    expect((await cli(['caps', 'set', 'u1', 'day'])).code).toBe(64);
    expect((await cli(['caps', 'frobnicate'])).code).toBe(64);
    expect((await cli(['verify'])).code).toBe(0);
  });
});
