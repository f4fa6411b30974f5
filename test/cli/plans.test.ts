/**
 * `drizzle-credits plans define | list | show | subscribe | change | cancel | subscription |
 * entitlements` in-process (runCli), against a better-sqlite3 file: outcomes, --json (exact
 * values) and tables (ISO UTC dates), and exit codes: 0 for every outcome, 2 for bad input
 * (the library's code, nothing written), not_found and already_subscribed, 64 for usage.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseFeatureValue } from '../../src/cli/plans.js';
import { cliOn } from '../support/cli-capture.js';

const dir = mkdtempSync(join(tmpdir(), 'drizzle-credits-cli-plans-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const { cli, json } = cliOn(join(dir, 'plans.db'));
const ANCHOR = '2026-01-31T00:00:00Z';
const error = (r: { json: Record<string, unknown> }) => (r.json.error as { code: string }).code;

describe('drizzle-credits plans', () => {
  it('define (flags or --features JSON), replay, next version, list, show (--plan-version)', async () => {
    expect((await cli(['migrate'])).code).toBe(0);
    expect((await cli(['plans', 'list'])).stdout).toMatch(/^no plans/);
    // The same definition twice: features as --feature flags, then as --features JSON.
    const proFlags = ['plans', 'define', 'pro', '--name', 'Pro', '--allowance', '1000', '--every', 'month', '--rollover-max', '300'];
    const features = ['sso=true', 'seats=5', 'tier=gold', 'beta=false'];
    const pro = await json([...proFlags, ...features.flatMap((f) => ['--feature', f])]);
    expect(pro.code).toBe(0);
    expect(pro.json).toMatchObject({
      outcome: 'defined',
      plan: {
        id: 'pro',
        version: 1,
        name: 'Pro',
        allowance: { amount: 1000, every: 'month', rollover: { max: 300 } },
        features: { sso: true, seats: 5, tier: 'gold', beta: false },
      },
      entry: { kind: 'plan_define', account: '$plan:pro', delta: 0 },
    });
    const again = await cli([...proFlags, '--features', '{"sso":true,"seats":5,"tier":"gold","beta":false}']);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/replayed \(identical to the newest version\)/);
    const free = await cli(['plans', 'define', 'free', '--features', '{"sso":false,"seats":1}']);
    expect(free.code).toBe(0);
    expect(free.stdout).toMatch(/allowance\s*│\s*none/);
    expect((await json(['plans', 'define', 'team', '--allowance', '50', '--every', 'day'])).json).toMatchObject({
      plan: { allowance: { amount: 50, every: 'day', rollover: null }, features: {} },
    });

    const list = await json(['plans', 'list']);
    expect((list.json as unknown as { id: string; version: number }[]).map((p) => [p.id, p.version])).toEqual([
      ['free', 1],
      ['pro', 1],
      ['team', 1],
    ]);
    const table = await cli(['plans', 'list']);
    expect(table.stdout).toMatch(/1000 per month, rollover up to 300/);
    expect(table.stdout).toMatch(/\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z/);

    const v2 = await json(['plans', 'define', 'team', '--allowance', '80', '--every', 'week']);
    expect(v2.json).toMatchObject({ outcome: 'defined', plan: { version: 2, allowance: { amount: 80, every: 'week' } } });
    expect((await json(['plans', 'show', 'team'])).json).toMatchObject({ version: 2 });
    expect((await json(['plans', 'show', 'team', '--plan-version', '1'])).json).toMatchObject({ version: 1, allowance: { amount: 50 } });
    const shown = await cli(['plans', 'show', 'pro']);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toMatch(/feature tier\s*│\s*"gold"/);
    expect(shown.stdout).toMatch(/feature seats\s*│\s*5/);
  });

  it('subscribe, subscription, entitlements, change, cancel; the allowance is drawn before purchased credits', async () => {
    expect((await cli(['grant', 'u1', '500'])).code).toBe(0);
    const sub = await json(['plans', 'subscribe', 'u1', 'pro', '--anchor', ANCHOR, '--idempotency-key', 's1']);
    expect(sub.code).toBe(0);
    expect(sub.json).toMatchObject({
      outcome: 'subscribed',
      subscription: {
        account: 'u1',
        planId: 'pro',
        version: 1,
        status: 'active',
        anchor: Date.parse(ANCHOR),
        allowance: { amount: 1000, remaining: 1000, rollover: 0 },
        pendingChange: null,
        cancelAt: null,
      },
      entry: { kind: 'plan_subscribe', account: 'u1' },
    });
    const replay = await cli(['plans', 'subscribe', 'u1', 'pro', '--anchor', ANCHOR, '--idempotency-key', 's1']);
    expect(replay.code).toBe(0);
    expect(replay.stdout).toMatch(/outcome\s*│\s*replayed/);

    // Anchored on the 31st: periods end on the anchor's day, or the last day of shorter months.
    const s = (await json(['plans', 'subscription', 'u1'])).json as unknown as {
      period: { start: number; end: number };
      allowance: { resetsAt: number };
    };
    for (const t of [s.period.start, s.period.end]) {
      const d = new Date(t);
      const lastDay = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 0)).getUTCDate();
      expect([d.getUTCDate(), d.getUTCHours()]).toEqual([Math.min(31, lastDay), 0]);
    }
    expect(s.allowance.resetsAt).toBe(s.period.end);

    expect((await cli(['debit', 'u1', '100'])).code).toBe(0);
    expect((await json(['balance', 'u1'])).json).toMatchObject({ balance: 1400 });
    const after = await json(['plans', 'subscription', 'u1']);
    expect(after.json).toMatchObject({ allowance: { amount: 1000, remaining: 900 } });
    const text = await cli(['plans', 'subscription', 'u1']);
    expect(text.stdout).toMatch(/status\s*│\s*active/);
    expect(text.stdout).toMatch(/allowance remaining\s*│\s*900/);
    expect(text.stdout).toMatch(/resets at\s*│\s*\d{4}-\d{2}-\d{2}T00:00:00\.000Z/);
    expect(text.stdout).toMatch(/anchor\s*│\s*2026-01-31T00:00:00\.000Z/);

    expect((await json(['plans', 'entitlements', 'u1'])).json).toEqual({ sso: true, seats: 5, tier: 'gold', beta: false });
    const ent = await cli(['plans', 'entitlements', 'u1']);
    expect(ent.stdout).toMatch(/beta\s*│\s*no/);
    expect(ent.stdout).toMatch(/sso\s*│\s*yes/);

    const next = await json(['plans', 'change', 'u1', 'free', '--proration', 'next_period']);
    expect(next.code).toBe(0);
    expect(next.json).toMatchObject({
      outcome: 'changed',
      subscription: { planId: 'pro', pendingChange: { planId: 'free', version: 1 } },
      entry: { kind: 'plan_change' },
    });
    expect((await cli(['plans', 'subscription', 'u1'])).stdout).toMatch(/pending change\s*│\s*free v1 at \d{4}-/);
    const now = await json(['plans', 'change', 'u1', 'team', '--proration', 'immediate']);
    expect(now.json).toMatchObject({
      outcome: 'changed',
      subscription: { planId: 'team', version: 2, allowance: { amount: 80, remaining: 80 }, pendingChange: null },
    });
    // The pro allowance lapsed at the change; purchased credits were not touched.
    expect((await json(['balance', 'u1'])).json).toMatchObject({ balance: 580 });
    const same = await cli(['plans', 'change', 'u1', 'team', '--proration', 'immediate']);
    expect(same.code).toBe(0);
    expect(same.stdout).toMatch(/unchanged/);

    const end = await json(['plans', 'cancel', 'u1', '--at', 'period_end']);
    expect(end.json).toMatchObject({ outcome: 'canceled', subscription: { status: 'canceling' } });
    expect(typeof (end.json.subscription as { cancelAt: unknown }).cancelAt).toBe('number');
    expect((await cli(['plans', 'cancel', 'u1', '--at', 'period_end'])).stdout).toMatch(/cancels at/);
    const gone = await json(['plans', 'cancel', 'u1', '--at', 'now']);
    expect(gone.json).toMatchObject({ outcome: 'canceled', subscription: { status: 'canceled', period: null, allowance: null } });
    expect((await json(['balance', 'u1'])).json).toMatchObject({ balance: 500 });
    expect((await json(['plans', 'entitlements', 'u1'])).json).toEqual({});
    expect((await cli(['plans', 'entitlements', 'u1'])).stdout).toMatch(/^no entitlements on u1/);
    expect((await json(['plans', 'subscription', 'nobody'])).json).toBeNull();
    expect((await cli(['plans', 'subscription', 'nobody'])).stdout).toBe('no subscription on nobody\n');
    // A canceled account may subscribe again.
    expect((await json(['plans', 'subscribe', 'u1', 'free'])).json).toMatchObject({ outcome: 'subscribed' });
    expect((await cli(['verify'])).code).toBe(0);
  });

  it('not_found, already_subscribed and bad input exit 2 and write nothing; usage errors exit 64', async () => {
    const before = (await json(['entries', '--limit', '1000'])).json;
    const cases: [string[], string][] = [
      [['plans', 'show', 'nope'], 'not_found'],
      [['plans', 'show', 'pro', '--plan-version', '9'], 'not_found'],
      [['plans', 'subscribe', 'u2', 'nope'], 'not_found'],
      [['plans', 'change', 'u2', 'pro', '--proration', 'immediate'], 'not_found'],
      [['plans', 'change', 'u1', 'nope', '--proration', 'immediate'], 'not_found'],
      [['plans', 'cancel', 'u2', '--at', 'now'], 'not_found'],
      [['plans', 'subscribe', 'u1', 'pro'], 'already_subscribed'],
      [['plans', 'subscribe', 'u2', 'pro', '--anchor', '2030-02-30'], 'invalid_argument'],
      [['plans', 'subscribe', 'u2', 'pro', '--anchor', '9999-01-01'], 'invalid_argument'],
      [['plans', 'subscribe', 'u1', 'free', '--idempotency-key', 's1'], 'idempotency_conflict'],
      [['plans', 'change', 'u1', 'pro', '--proration', 'later'], 'invalid_argument'],
      [['plans', 'cancel', 'u1', '--at', 'tomorrow'], 'invalid_argument'],
      [['plans', 'show', 'pro', '--plan-version', '0'], 'invalid_argument'],
      [['plans', 'define', 'x', '--allowance', '100'], 'invalid_argument'],
      [['plans', 'define', 'x', '--every', 'month'], 'invalid_argument'],
      [['plans', 'define', 'x', '--rollover-max', '5'], 'invalid_argument'],
      [['plans', 'define', 'x', '--allowance', '100', '--every', 'fortnight'], 'invalid_argument'],
      [['plans', 'define', 'x', '--allowance', '1.5', '--every', 'day'], 'invalid_amount'],
      [['plans', 'define', 'x', '--allowance', '0', '--every', 'day'], 'invalid_amount'],
      [['plans', 'define', 'x', '--allowance', '10', '--every', 'day', '--rollover-max', '-1'], 'invalid_amount'],
      [['plans', 'define', 'x', '--feature', 'sso'], 'invalid_argument'],
      [['plans', 'define', 'x', '--feature', 'a=1', '--feature', 'a=2'], 'invalid_argument'],
      [['plans', 'define', 'x', '--feature', 'a=1', '--features', '{}'], 'invalid_argument'],
      [['plans', 'define', 'x', '--features', 'not json'], 'invalid_argument'],
      [['plans', 'define', 'x', '--features', '{"a":[1]}'], 'invalid_argument'],
      [['plans', 'define', 'bad\u0001id'], 'invalid_argument'],
      [['plans', 'subscription', ''], 'invalid_account'],
      [['plans', 'entitlements', ''], 'invalid_account'],
    ];
    for (const [args, code] of cases) {
      const r = await json(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(error(r), args.join(' ')).toBe(code);
    }
    const text = await cli(['plans', 'subscribe', 'u1', 'pro']);
    expect(text.code).toBe(2);
    expect(text.stderr).toMatch(/^error \[already_subscribed\]: .*plans\.change/);
    expect((await cli(['plans', 'show', 'nope'])).stderr).toMatch(/^error \[not_found\]/);
    expect((await json(['entries', '--limit', '1000'])).json).toEqual(before);

    for (const args of [
      ['plans', 'change', 'u1', 'pro'],
      ['plans', 'cancel', 'u1'],
      ['plans', 'subscribe', 'u1'],
      ['plans', 'show'],
      ['plans', 'nope'],
    ]) {
      expect((await cli(args)).code, args.join(' ')).toBe(64);
    }
    // --version is the program's (it prints the package version): a plan's version is --plan-version.
    expect((await cli(['plans', 'show', 'pro', '--version'])).stdout).toMatch(/^\d+\.\d+\.\d+/);
    const usage = await json(['plans', 'cancel', 'u1']);
    expect(usage.code).toBe(64);
    expect(error(usage)).toBe('usage');
  });

  it('feature values: true, false, numbers, anything else a string', () => {
    expect(['true', 'false', '5', '-1', '2.5', '0', 'gold', '05', '1e3', 'TRUE', ''].map(parseFeatureValue)).toEqual([
      true,
      false,
      5,
      -1,
      2.5,
      0,
      'gold',
      '05',
      '1e3',
      'TRUE',
      '',
    ]);
  });
});
