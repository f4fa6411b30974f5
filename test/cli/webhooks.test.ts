/**
 * `drizzle-credits webhooks …` and `drizzle-credits events` in-process (runCli) against a
 * better-sqlite3 file and a node:http receiver: results, --json, exit codes (0, 2 with
 * nothing written, 64 for usage). Events are inserted into the outbox directly.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { drizzle } from 'drizzle-orm/better-sqlite3';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { webhooksDeliver } from '../../src/cli/webhooks.js';
import { createLedger } from '../../src/index.js';
import { cliOn } from '../support/cli-capture.js';
import { type Receiver, startReceiver, verifyNow } from '../support/webhook-receiver.js';

const dir = mkdtempSync(join(tmpdir(), 'drizzle-credits-cli-webhooks-'));
const file = join(dir, 'hooks.db');
const { cli, json } = cliOn(file);
let rx: Receiver;
beforeAll(async () => {
  rx = await startReceiver();
});
afterAll(async () => {
  await rx?.close();
  rmSync(dir, { recursive: true, force: true });
});

function insertEvents(types: string[]): void {
  const db = new Database(file);
  const stmt = db.prepare('INSERT INTO credit_event (type, account, entry, ref, created_at, data) VALUES (?, ?, NULL, NULL, ?, ?)');
  for (const t of types) stmt.run(t, 'user_42', Date.now(), JSON.stringify({ available: 3 }));
  db.close();
}
const tables = () => {
  const db = new Database(file, { readonly: true });
  const out = ['credit_webhook', 'credit_delivery', 'credit_delivery_attempt'].map((t) => db.prepare(`SELECT * FROM ${t}`).all());
  db.close();
  return out;
};

describe('drizzle-credits webhooks and events', () => {
  it('add, list, events, deliver, attempts, redeliver, remove', async () => {
    expect((await cli(['migrate'])).code).toBe(0);
    const added = await json(['webhooks', 'add', `${rx.url}/in`, '--types', 'balance.low,cap.reached']);
    expect(added.code).toBe(0);
    const { id, secret } = added.json as { id: string; secret: string };
    expect(added.json).toMatchObject({ webhook: { url: `${rx.url}/in`, types: ['balance.low', 'cap.reached'], status: 'active' } });
    const listed = await cli(['webhooks', 'list']);
    expect(listed.stdout).toContain(id);
    expect(listed.stdout).not.toContain(secret);

    insertEvents(['balance.low', 'hold.expired', 'cap.reached']);
    const page = await json(['events', '--after', '0', '--limit', '2']);
    expect(page.json).toMatchObject({
      cursor: 2,
      hasMore: true,
      events: [
        { id: 1, type: 'balance.low' },
        { id: 2, type: 'hold.expired' },
      ],
    });
    expect((await json(['events', '--type', 'cap.reached'])).json).toMatchObject({ events: [{ id: 3, type: 'cap.reached' }] });
    expect((await cli(['events', '--after', '2'])).stdout).toMatch(/3\s*│\s*cap\.reached/);

    const delivered = await json(['webhooks', 'deliver']);
    expect(delivered.code).toBe(0);
    expect(delivered.json).toMatchObject({ queued: 2, sent: 2, delivered: 2, more: false });
    expect(rx.received.map((r) => r.id).sort()).toEqual(['evt_1', 'evt_3']);
    for (const r of rx.received) expect(verifyNow(secret, r)).toMatchObject({ data: { account: 'user_42' } });
    expect((await cli(['webhooks', 'attempts', '3'])).stdout).toMatch(/delivered/);
    const again = await json(['webhooks', 'redeliver', '3']);
    expect(again.json).toEqual({ eventId: 3, webhooks: [id] });
    expect((await cli(['webhooks', 'deliver'])).stdout).toMatch(/sent 1: delivered 1/);
    expect((await json(['webhooks', 'attempts', '3'])).json).toMatchObject([
      { attempt: 1 },
      { attempt: 2, outcome: 'delivered', status: 200 },
    ]);

    // Nothing finished before 2000-01-01; everything (both events, 3 attempts) before tomorrow.
    expect((await json(['webhooks', 'prune', '--before', '2000-01-01'])).json).toMatchObject({ deliveries: 0, attempts: 0 });
    const pruned = await json(['webhooks', 'prune', '--before', '2100-01-01', '--limit', '1']);
    expect(pruned.code).toBe(0);
    expect(pruned.json).toEqual({ before: expect.any(Number), deliveries: 2, attempts: 3, calls: 2 });
    expect((await json(['webhooks', 'attempts', '3'])).json).toEqual([]);
    expect((await cli(['webhooks', 'prune', '--older-than', '30d'])).stdout).toMatch(/pruned 0 finished deliveries created before /);
    // Older than the epoch: a cut-off of 0, nothing pruned (not an error about a negative time).
    expect((await json(['webhooks', 'prune', '--older-than', '36500d'])).json).toEqual({ before: 0, deliveries: 0, attempts: 0, calls: 1 });

    expect((await cli(['webhooks', 'remove', id])).code).toBe(0);
    expect((await json(['webhooks', 'list'])).json).toEqual([]);
  });

  it('deliver --watch keeps delivering what arrives, one line per call that did something', async () => {
    await cli(['migrate']);
    const { id } = (await json(['webhooks', 'add', `${rx.url}/watch`])).json as { id: string };
    const db = new Database(file);
    const ledger = createLedger(drizzle(db));
    const lines: string[] = [];
    const stop = new AbortController();
    const watching = webhooksDeliver(
      ledger,
      { watch: true, interval: '20ms' },
      { write: (s) => lines.push(s), asJson: true, stop: stop.signal },
    );
    insertEvents(['hold.expired']);
    await vi.waitFor(() => expect(rx.received.filter((r) => r.path === '/watch')).toHaveLength(1), { timeout: 5_000 });
    insertEvents(['credits.expired', 'balance.low']);
    await vi.waitFor(() => expect(rx.received.filter((r) => r.path === '/watch')).toHaveLength(3), { timeout: 5_000 });
    stop.abort();
    expect((await watching).exit).toBe(0);
    const reports = lines.map((l) => JSON.parse(l) as { delivered: number });
    expect(reports.reduce((n, r) => n + r.delivered, 0)).toBe(3);
    db.close();
    await cli(['webhooks', 'remove', id]);
  });

  it('bad input exits 2 and writes nothing; usage exits 64', async () => {
    await cli(['migrate']);
    const before = tables();
    const cases: [string[], string][] = [
      [['webhooks', 'add', 'ftp://x'], 'invalid_argument'],
      [['webhooks', 'add', `${rx.url}/x`, '--types', 'balance.low,nope'], 'invalid_argument'],
      [['webhooks', 'add', `${rx.url}/x`, '--secret', 'whsec_short'], 'invalid_argument'],
      [['webhooks', 'remove', 'wh_00'], 'not_found'],
      [['webhooks', 'enable', 'nope'], 'invalid_argument'],
      [['webhooks', 'deliver', '--limit', '0'], 'invalid_argument'],
      [['webhooks', 'deliver', '--timeout', '1.5s'], 'invalid_argument'],
      [['webhooks', 'redeliver', '99999'], 'not_found'],
      [['webhooks', 'attempts', '-1'], 'invalid_argument'],
      [['webhooks', 'prune'], 'invalid_argument'],
      [['webhooks', 'prune', '--older-than', '30d', '--before', '2030-01-01'], 'invalid_argument'],
      [['webhooks', 'prune', '--older-than', '1.5d'], 'invalid_argument'],
      [['webhooks', 'prune', '--before', 'yesterday'], 'invalid_argument'],
      [['webhooks', 'prune', '--before', '2030-01-01', '--limit', '10001'], 'invalid_argument'],
      [['events', '--limit', '1e3'], 'invalid_argument'],
      [['events', '--type', 'nope'], 'invalid_argument'],
    ];
    for (const [args, code] of cases) {
      const r = await json(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect((r.json.error as { code: string }).code, args.join(' ')).toBe(code);
    }
    expect((await cli(['webhooks', 'remove', 'wh_00'])).stderr).toMatch(/error \[not_found\]/);
    expect(tables()).toEqual(before);
    expect((await cli(['webhooks', 'add'])).code).toBe(64);
    expect((await cli(['webhooks', 'deliver', '--bogus'])).code).toBe(64);
  });
});
