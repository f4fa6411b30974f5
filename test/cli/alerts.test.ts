/**
 * `drizzle-credits alerts set | remove | list` in-process (runCli), against a better-sqlite3
 * file: outcomes in --json and as tables, durations parsed (3d), the events the alerts cause
 * visible through the library on the same file, exit 0 for every outcome, 2 for bad input
 * with nothing written, 64 for usage.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cliOn } from '../support/cli-capture.js';

const dir = mkdtempSync(join(tmpdir(), 'drizzle-credits-cli-alerts-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const { cli, json } = cliOn(join(dir, 'alerts.db'));
const log = async () => (await json(['entries', '--after', '0', '--limit', '1000'])).json;

describe('drizzle-credits alerts', () => {
  it('set (replay), list, remove (absent), and balance.low written by a debit that crosses', async () => {
    expect((await cli(['migrate'])).code).toBe(0);
    expect((await cli(['grant', 'u1', '100'])).code).toBe(0);
    const set = await json(['alerts', 'set', 'u1', '--low-balance', '50', '--expiring-within', '3d', '--reason', 'ops']);
    expect(set.code).toBe(0);
    expect(set.json).toMatchObject({
      outcome: 'set',
      alert: { account: 'u1', lowBalance: 50, expiringWithinMs: 3 * 86_400_000, below: false },
      entry: { kind: 'alert_set', reason: 'ops', metadata: { lowBalance: 50, expiringWithinMs: 259_200_000 } },
    });
    const again = await cli(['alerts', 'set', 'u1', '--low-balance', '50', '--expiring-within', '72h']);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/replayed \(this alert is already set\)/);
    expect((await cli(['debit', 'u1', '60'])).code).toBe(0);
    const list = await cli(['alerts', 'list', 'u1']);
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(/50\s*│\s*3d\s*│\s*below/);
    expect((await json(['alerts', 'list', 'u1'])).json).toMatchObject({ account: 'u1', alerts: [{ lowBalance: 50, below: true }] });
    const removed = await json(['alerts', 'remove', 'u1', '--low-balance', '50']);
    expect(removed.json).toMatchObject({ outcome: 'removed', entry: { kind: 'alert_remove' } });
    const absent = await cli(['alerts', 'remove', 'u1', '--low-balance', '50']);
    expect(absent.code).toBe(0);
    expect(absent.stdout).toMatch(/absent/);
    expect((await cli(['alerts', 'list', 'u1'])).stdout).toMatch(/no alerts on u1/);
  });

  it('bad input is exit 2 and writes nothing; a missing argument is usage (64)', async () => {
    const before = await log();
    for (const args of [
      ['alerts', 'set', 'u1'],
      ['alerts', 'set', 'u1', '--low-balance', '0'],
      ['alerts', 'set', 'u1', '--low-balance', '1.5'],
      ['alerts', 'set', 'u1', '--expiring-within', '400d'],
      ['alerts', 'set', 'u1', '--expiring-within', 'soon'],
      ['alerts', 'set', '', '--low-balance', '5'],
    ]) {
      const r = await json(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect((r.json.error as { code: string }).code, args.join(' ')).toMatch(/^invalid_/);
    }
    expect(await log()).toEqual(before);
    expect((await cli(['alerts', 'list'])).code).toBe(64);
  });
});
