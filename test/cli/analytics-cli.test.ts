/**
 * The analytics commands of the CLI in-process (`runCli`), on better-sqlite3 (--db) and a
 * libSQL file: URL (--url): spend, top, summary and entries, their --json output (what the
 * library returns), their tables, and their exit codes on bad input (2, nothing written) and
 * usage errors (64).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { captureCli } from '../support/cli-capture.js';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const cli = captureCli;

async function cliJson(args: string[]) {
  const r = await cli(['--json', ...args]);
  return { ...r, json: JSON.parse(r.stdout) as Record<string, unknown> };
}

describe.each(['--db', '--url'])('analytics commands (%s)', (flag) => {
  it('spend, top, summary and entries: tables, --json, exit codes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'drizzle-credits-cli-analytics-'));
    dirs.push(dir);
    const db = flag === '--db' ? ['--db', join(dir, 'c.db')] : ['--url', `file:${join(dir, 'c.db')}`];
    expect((await cli([...db, 'migrate'])).code).toBe(0);
    expect((await cli([...db, 'grant', 'u1', '1000'])).code).toBe(0);
    expect((await cli([...db, 'grant', 'u2', '1000'])).code).toBe(0);
    const d = await cliJson([...db, 'debit', 'u1', '30', '--model', 'gpt', '--key-id', 'k1']);
    expect((await cli([...db, 'debit', 'u1', '20', '--model', 'claude'])).code).toBe(0);
    expect((await cli([...db, 'debit', 'u2', '50', '--model', 'gpt'])).code).toBe(0);
    expect((await cli([...db, 'refund', (d.json.entry as { id: string }).id, '5'])).code).toBe(0);
    const today = new Date().toISOString().slice(0, 10);

    const byModel = await cliJson([...db, 'spend', '--group-by', 'model,day']);
    expect(byModel.code).toBe(0);
    expect(byModel.json).toEqual([
      { model: 'gpt', day: today, debited: 80, refunded: 5, net: 75, count: 2 },
      { model: 'claude', day: today, debited: 20, refunded: 0, net: 20, count: 1 },
    ]);
    const text = await cli([...db, 'spend', '--group-by', 'key-id', '--account', 'u1', '--from', '2000-01-01']);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/key id\s*│\s*debited\s*│\s*refunded\s*│\s*net\s*│\s*count/);
    expect(text.stdout).toMatch(/k1\s*│\s*30\s*│\s*5\s*│\s*25\s*│\s*1/);
    expect(text.stdout).toMatch(/\(none\)\s*│\s*20/);
    expect(text.stdout).toMatch(/^range: 2000-01-01T00:00:00.000Z – /m);
    const day = await cliJson([...db, 'spend', '--group-by', 'day', '--tz-offset', '+05:30']);
    expect(day.json).toHaveLength(1);
    expect((await cli([...db, 'spend', '--from', '2000-01-01', '--to', '2000-01-02'])).stdout).toMatch(/debited/);
    expect((await cli([...db, 'spend', '--group-by', 'model', '--from', '2000-01-01', '--to', '2000-01-02'])).stdout).toMatch(
      /^no spend in the range/,
    );

    const top = await cliJson([...db, 'top', 'account', '--limit', '1']);
    expect(top.json).toEqual([{ account: 'u2', debited: 50, refunded: 0, net: 50, count: 1 }]);
    expect((await cli([...db, 'top', 'key-id'])).stdout).toMatch(/k1\s*│\s*30/);

    const summary = await cliJson([...db, 'summary', '--from', '2000-01-01T00:00:00Z']);
    expect(summary.json).toMatchObject({
      consumed: 95,
      granted: 2000,
      refunded: 5,
      activeAccounts: 2,
      topModel: { model: 'gpt', net: 75 },
    });
    expect((await cli([...db, 'summary'])).stdout).toMatch(/top account\s*│\s*u2 \(50\)/);

    const first = await cliJson([...db, 'entries', '--limit', '4']);
    expect(first.json).toMatchObject({ cursor: '4', hasMore: true });
    const rest = await cliJson([...db, 'entries', '--after', '4']);
    expect(rest.json).toMatchObject({ cursor: '6', hasMore: false });
    expect((rest.json.entries as { kind: string }[]).map((e) => e.kind)).toEqual(['debit', 'refund']);
    expect((await cli([...db, 'entries', '--after', '6'])).stdout).toMatch(
      /no entries after this cursor\ncursor: 6 \(--after 6\); the end/,
    );

    // Bad input: exit 2 with the field, nothing written; usage errors: 64.
    const before = (await cliJson([...db, 'entries', '--limit', '1000'])).json;
    const bad: [string[], string][] = [
      [['spend', '--group-by', 'week'], 'groupBy.0'],
      [['spend', '--from', 'tomorrow'], 'from'],
      [['spend', '--to', '1999-01-01', '--from', '2000-01-01'], 'to'],
      [['spend', '--tz-offset', '7'], 'tzOffsetMinutes'],
      [['spend', '--tz-offset', '05:30'], 'tzOffsetMinutes'],
      [['spend', '--limit', '10001'], 'limit'],
      [['top', 'day'], 'by'],
      [['entries', '--after', 'abc'], 'after'],
      [['entries', '--limit', '1001'], 'limit'],
    ];
    for (const [args, field] of bad) {
      const r = await cliJson([...db, ...args]);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.json, args.join(' ')).toMatchObject({ error: { code: 'invalid_argument', details: { field } } });
    }
    expect((await cli([...db, 'spend', '--group-by', 'week'])).stderr).toMatch(/^error \[invalid_argument\]: .*groupBy.*\(got "week"\)/);
    expect((await cli([...db, 'spend', '--frobnicate'])).code).toBe(64);
    expect((await cli([...db, 'top'])).code).toBe(64);
    expect((await cliJson([...db, 'entries', '--limit', '1000'])).json).toEqual(before);
  });
});
