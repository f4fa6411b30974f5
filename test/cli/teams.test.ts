/**
 * `drizzle-credits teams create | add | role | remove | members | memberships` and
 * `drizzle-credits transfer` in-process (runCli), against a better-sqlite3 file: outcomes,
 * --json (the library's result) and tables, and exit codes: 0 for every `teams` outcome and
 * for a transfer, 1 for an insufficient or capped transfer (as `debit`), 2 for a ledger
 * error — forbidden (a viewer spending through `debit --actor` or `transfer --actor`, a
 * member managing members), not_found, already_exists, bad input — with nothing written,
 * and 64 for usage.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cliOn } from '../support/cli-capture.js';

const dir = mkdtempSync(join(tmpdir(), 'drizzle-credits-cli-teams-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const { cli, json } = cliOn(join(dir, 'teams.db'));
const error = (r: { json: Record<string, unknown> }) => (r.json.error as { code: string }).code;
/** The whole log: equal before and after means a refused command wrote nothing. */
const log = async () => (await json(['entries', '--after', '0', '--limit', '1000'])).json;
const ISO = /\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z/;

describe('drizzle-credits teams', () => {
  it('create (replay, --idempotency-key), add, role, remove, members with caps, memberships', async () => {
    expect((await cli(['migrate'])).code).toBe(0);

    const created = await json(['teams', 'create', 'acme', '--owner', 'alice', '--name', 'Acme', '--reason', 'signup', '--actor', 'ops']);
    expect(created.code).toBe(0);
    expect(created.json).toMatchObject({
      outcome: 'created',
      team: { team: 'acme', owner: 'alice', name: 'Acme', createdBy: 'ce_1' },
      entry: { id: 'ce_1', kind: 'team_create', account: 'acme', delta: 0, reason: 'signup', actor: 'ops' },
    });
    const again = await cli(['teams', 'create', 'acme', '--owner', 'alice', '--name', 'Acme']);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/replayed \(already a team with this owner and name\)/);
    expect(again.stdout).toMatch(/owner\s*│\s*alice/);
    const keyed = await json(['teams', 'create', 'beta', '--owner', 'bob', '--idempotency-key', 'k1']);
    expect(keyed.json).toMatchObject({ outcome: 'created', team: { team: 'beta', owner: 'bob', name: null } });
    expect((await json(['teams', 'create', 'beta', '--owner', 'bob', '--idempotency-key', 'k1'])).json).toMatchObject({
      outcome: 'replayed',
      entry: { id: (keyed.json.entry as { id: string }).id },
    });

    const added = await json(['teams', 'add', 'acme', 'bob', '--role', 'admin', '--actor', 'alice', '--reason', 'hire']);
    expect(added.code).toBe(0);
    expect(added.json).toMatchObject({
      outcome: 'added',
      member: { team: 'acme', member: 'bob', role: 'admin' },
      entry: { kind: 'team_add', actor: 'alice', reason: 'hire', metadata: { member: 'bob', role: 'admin' } },
    });
    const addText = await cli(['teams', 'add', 'acme', 'carol', '--role', 'member', '--actor', 'bob']);
    expect(addText.code).toBe(0);
    expect(addText.stdout).toMatch(/outcome\s*│\s*added/);
    expect(addText.stdout).toMatch(/kind\s*│\s*team_add/);
    expect((await cli(['teams', 'add', 'acme', 'vic', '--role', 'member'])).code).toBe(0);
    const replay = await cli(['teams', 'add', 'acme', 'vic', '--role', 'member']);
    expect(replay.code).toBe(0);
    expect(replay.stdout).toMatch(/replayed \(already a member in that role\)/);

    const role = await json(['teams', 'role', 'acme', 'vic', 'viewer', '--actor', 'bob', '--reason', 'read only']);
    expect(role.code).toBe(0);
    expect(role.json).toMatchObject({ outcome: 'updated', member: { member: 'vic', role: 'viewer' }, entry: { kind: 'team_role' } });
    expect((await cli(['teams', 'role', 'acme', 'vic', 'viewer'])).stdout).toMatch(/replayed \(already in that role\)/);

    expect((await cli(['teams', 'add', 'acme', 'dan', '--role', 'member'])).code).toBe(0);
    const removed = await json(['teams', 'remove', 'acme', 'dan', '--actor', 'dan', '--reason', 'leaving']);
    expect(removed.code).toBe(0);
    expect(removed.json).toMatchObject({ outcome: 'removed', entry: { kind: 'team_remove', actor: 'dan', reason: 'leaving' } });
    const absent = await cli(['teams', 'remove', 'acme', 'dan']);
    expect(absent.code).toBe(0);
    expect(absent.stdout).toMatch(/absent \(dan is not a member of acme; nothing written\)/);
    expect((await json(['teams', 'remove', 'acme', 'dan'])).json).toEqual({ outcome: 'absent' });

    expect((await cli(['caps', 'set', 'acme', 'day', '300', '--member', 'carol'])).code).toBe(0);
    expect((await cli(['caps', 'set', 'acme', 'month', '1000', '--member', 'carol', '--action', 'warn'])).code).toBe(0);
    const members = await json(['teams', 'members', 'acme']);
    expect(members.code).toBe(0);
    const list = members.json as unknown as { member: string; role: string; caps: { window: string; limit: number; member: string }[] }[];
    expect(list.map((m) => [m.member, m.role, m.caps.map((c) => [c.window, c.limit, c.member])])).toEqual([
      ['alice', 'owner', []],
      ['bob', 'admin', []],
      [
        'carol',
        'member',
        [
          ['day', 300, 'carol'],
          ['month', 1000, 'carol'],
        ],
      ],
      ['vic', 'viewer', []],
    ]);
    const table = await cli(['teams', 'members', 'acme']);
    expect(table.stdout).toMatch(/member\s*│\s*role\s*│\s*since\s*│\s*cap window\s*│\s*limit\s*│\s*spent\s*│\s*remaining/);
    expect(table.stdout).toMatch(/alice\s*│\s*owner\s*│\s*\d{4}-/);
    expect(table.stdout).toMatch(/carol\s*│\s*member\s*│[^│]+│\s*day\s*│\s*300\s*│\s*0\s*│\s*300/);
    expect(table.stdout).toMatch(/carol\s*│\s*member\s*│[^│]+│\s*month\s*│\s*1000 \(warn\)\s*│\s*0\s*│\s*1000/);
    expect(table.stdout).toMatch(ISO);

    const memberships = await json(['teams', 'memberships', 'bob']);
    expect((memberships.json as unknown as { team: string; role: string }[]).map((m) => [m.team, m.role])).toEqual([
      ['acme', 'admin'],
      ['beta', 'owner'],
    ]);
    expect((await cli(['teams', 'memberships', 'bob'])).stdout).toMatch(/acme\s*│\s*admin\s*│/);
    expect((await cli(['teams', 'memberships', 'nobody'])).stdout).toBe('nobody belongs to no team\n');
    expect((await json(['teams', 'memberships', 'nobody'])).json).toEqual([]);
  });

  it('transfer: the out entry, the arriving lots, both balances; replay; insufficient and capped exit 1', async () => {
    expect((await cli(['grant', 'acme', '400', '--expires-at', '2099-01-01T00:00:00Z', '--priority', '10'])).code).toBe(0);
    expect((await cli(['grant', 'acme', '600'])).code).toBe(0);

    const args = ['transfer', 'acme', 'carol', '250', '--actor', 'carol', '--idempotency-key', 't1', '--metadata', '{"ticket":"T-1"}'];
    const moved = await json(args);
    expect(moved.code).toBe(0);
    expect(moved.json).toMatchObject({
      outcome: 'transferred',
      out: { kind: 'transfer_out', account: 'acme', delta: -250, actor: 'carol', idempotencyKey: 't1', metadata: { ticket: 'T-1' } },
      in: [{ kind: 'transfer_in', account: 'carol', amount: 250, priority: 10, expiresAt: Date.UTC(2099, 0, 1) }],
      balance: 750,
      available: 750,
      to: { balance: 250, available: 250 },
    });
    const outId = (moved.json.out as { id: string }).id;
    expect((moved.json.in as { ref: string }[])[0]?.ref).toBe(outId);
    const replayed = await json(args);
    expect(replayed.code).toBe(0);
    expect(replayed.json).toMatchObject({ outcome: 'replayed', out: { id: outId }, balance: 750, to: { balance: 250 } });
    const conflict = await json([...args.slice(0, 3), '251', '--actor', 'carol', '--idempotency-key', 't1']);
    expect([conflict.code, error(conflict)]).toEqual([2, 'idempotency_conflict']);

    // Across the lot and the unlotted balance: two arrivals; the owner may spend.
    const text = await cli(['transfer', 'acme', 'zoe', '300', '--actor', 'alice', '--reason', 'move']);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/outcome\s*│\s*transferred/);
    expect(text.stdout).toMatch(/acme balance now\s*│\s*450/);
    expect(text.stdout).toMatch(/zoe balance now\s*│\s*300/);
    expect(text.stdout).toMatch(/kind\s*│\s*transfer_out/);
    expect(text.stdout).toMatch(/arrived as\s*│\s*amount\s*│\s*priority\s*│\s*expires/);
    expect(text.stdout).toMatch(/│\s*150\s*│\s*10\s*│\s*2099-01-01T00:00:00\.000Z/);
    expect(text.stdout).toMatch(/│\s*150\s*│\s*unlotted\s*│/);
    expect((await json(['lots', 'zoe'])).json).toMatchObject([{ priority: 10, remaining: 150, expiresAt: Date.UTC(2099, 0, 1) }]);

    const before = await log();
    const short = await json(['transfer', 'acme', 'zoe', '5000']);
    expect(short.code).toBe(1);
    expect(short.json).toMatchObject({ outcome: 'insufficient', requested: 5000, available: 450, balance: 450 });
    const shortText = await cli(['transfer', 'acme', 'zoe', '5000', '--idempotency-key', 't2']);
    expect(shortText.code).toBe(1);
    expect(shortText.stdout).toMatch(/insufficient \(nothing transferred\)/);
    // carol has spent 250 of her 300 a day: a deny cap of the team on her refuses 100 more.
    const capped = await json(['transfer', 'acme', 'carol', '100', '--actor', 'carol']);
    expect(capped.code).toBe(1);
    expect(capped.json).toMatchObject({ outcome: 'capped', spent: 250, limit: 300, requested: 100 });
    expect((await cli(['transfer', 'acme', 'carol', '100', '--actor', 'carol'])).stdout).toMatch(/capped \(nothing transferred\)/);
    expect(await log()).toEqual(before);
    // The key of the insufficient transfer was not used up.
    expect((await json(['transfer', 'acme', 'zoe', '50', '--idempotency-key', 't2'])).json).toMatchObject({ outcome: 'transferred' });
  });

  it('forbidden, not_found, already_exists and bad input exit 2 with the JSON error shape, and write nothing', async () => {
    const before = await log();
    const refused = [
      // A viewer may not spend the team's credits, by debit or transfer; a member may not manage members.
      [['debit', 'acme', '5', '--actor', 'vic'], 'forbidden'],
      [['debit', 'acme', '5', '--actor', 'vic', '--idempotency-key', 'd1'], 'forbidden'],
      [['transfer', 'acme', 'vic', '5', '--actor', 'vic'], 'forbidden'],
      [['transfer', 'acme', 'vic', '5', '--actor', 'stranger'], 'forbidden'],
      [['hold', 'acme', '5', '--actor', 'vic'], 'forbidden'],
      [['hold', 'acme', '5', '--actor', 'stranger', '--ttl', '1m'], 'forbidden'],
      [['teams', 'add', 'acme', 'eve', '--role', 'member', '--actor', 'carol'], 'forbidden'],
      [['teams', 'role', 'acme', 'vic', 'admin', '--actor', 'vic'], 'forbidden'],
      [['teams', 'remove', 'acme', 'bob', '--actor', 'carol'], 'forbidden'],
      [['teams', 'role', 'acme', 'alice', 'viewer'], 'forbidden'],
      [['teams', 'remove', 'acme', 'alice'], 'forbidden'],
      [['teams', 'add', 'nope', 'eve', '--role', 'member'], 'not_found'],
      [['teams', 'role', 'acme', 'eve', 'member'], 'not_found'],
      [['teams', 'remove', 'nope', 'eve'], 'not_found'],
      [['teams', 'members', 'nope'], 'not_found'],
      [['teams', 'create', 'acme', '--owner', 'mallory'], 'already_exists'],
      [['teams', 'add', 'acme', 'bob', '--role', 'viewer'], 'already_exists'],
      [['teams', 'create', 'beta', '--owner', 'mallory', '--idempotency-key', 'k1'], 'idempotency_conflict'],
      [['teams', 'add', 'acme', 'eve', '--role', 'owner'], 'invalid_argument'],
      [['teams', 'role', 'acme', 'vic', 'boss'], 'invalid_argument'],
      [['teams', 'create', 'solo', '--owner', 'solo'], 'invalid_argument'],
      [['teams', 'create', '$x', '--owner', 'alice'], 'invalid_account'],
      [['transfer', 'acme', 'zoe', '1.5'], 'invalid_amount'],
      [['transfer', 'acme', 'zoe', '5', '--metadata', '[1]'], 'invalid_argument'],
      [['transfer', 'acme', 'zoe', '5', '--metadata', '{oops'], 'invalid_argument'],
    ] as const;
    for (const [args, code] of refused) {
      const r = await json([...args]);
      expect([args.join(' '), r.code, error(r)]).toEqual([args.join(' '), 2, code]);
      expect(Object.keys(r.json.error as object)).toEqual(expect.arrayContaining(['code', 'message']));
    }
    const text = await cli(['debit', 'acme', '5', '--actor', 'vic']);
    expect(text.code).toBe(2);
    expect(text.stdout).toBe('');
    expect(text.stderr).toMatch(/^error \[forbidden\]: acme is a team, and vic may not spend its credits/);
    const transferText = await cli(['transfer', 'acme', 'vic', '5', '--actor', 'vic']);
    expect([transferText.code, transferText.stdout]).toEqual([2, '']);
    expect(transferText.stderr).toMatch(/^error \[forbidden\]/);
    expect((await cli(['teams', 'members', 'nope'])).stderr).toMatch(/^error \[not_found\]: .*nope is not a team/);
    expect(await log()).toEqual(before);
    // A member's hold; a viewer may not capture it (a capture that names no actor is the holder's).
    const held = await json(['hold', 'acme', '5', '--actor', 'carol']);
    expect(held.json).toMatchObject({ outcome: 'held' });
    const holdId = (held.json as { hold: { id: string } }).hold.id;
    const viewerCapture = await json(['capture', holdId, '--actor', 'vic']);
    expect([viewerCapture.code, error(viewerCapture)]).toEqual([2, 'forbidden']);
    expect((await json(['release', holdId])).json).toMatchObject({ outcome: 'released' });

    // A member may spend; a non-team account ignores the actor.
    expect((await json(['debit', 'acme', '5', '--actor', 'carol'])).json).toMatchObject({ outcome: 'debited', entry: { actor: 'carol' } });
    expect((await cli(['debit', 'zoe', '5', '--actor', 'anyone'])).code).toBe(0);

    // Usage: exit 64.
    expect((await cli(['teams', 'create', 'x'])).code).toBe(64);
    expect((await cli(['teams', 'add', 'acme', 'eve'])).code).toBe(64);
    expect((await cli(['teams', 'role', 'acme', 'eve'])).code).toBe(64);
    expect((await cli(['transfer', 'acme', 'zoe'])).code).toBe(64);
    expect((await json(['teams', 'frobnicate'])).json).toMatchObject({ error: { code: 'usage' } });
    expect((await cli(['verify'])).code).toBe(0);
  });
});
