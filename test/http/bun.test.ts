/** The API and the meter run on Bun too: a script on bun:sqlite (test/http/support/bun-app.ts) in a real `bun` process. */
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../..');

describe('on Bun (bun:sqlite)', () => {
  it('serves requests and meters a stream', () => {
    const r = spawnSync(resolve(ROOT, 'node_modules/.bin/bun'), [resolve(ROOT, 'test/http/support/bun-app.ts')], {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout.trim().split('\n').at(-1) ?? '');
    expect(out).toMatchObject({
      grant: { outcome: 'granted', balance: 100 },
      debit: { outcome: 'debited', balance: 90 },
      replay: { outcome: 'replayed', balance: 90 },
      anonymous: { status: 401, body: { code: 'unauthorized' } },
      streamed: true,
      balance: { balance: 83, held: 0 },
      holds: 0,
    });
    expect(out.paths).toBeGreaterThan(45);
  });
});
