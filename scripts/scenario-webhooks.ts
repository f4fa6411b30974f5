/**
 * `npm start`, webhooks: real ledger operations fill the event outbox (low-balance alerts
 * crossed by debits, a notify cap reaching 80 % and 100 %, an expired hold and an expired lot
 * written down by sweep()), and `ledger.webhooks.deliver()` sends them to a receiver on
 * 127.0.0.1 (node:http) that verifies every signature with the `standardwebhooks` reference
 * library, as a receiver would. Four endpoints: all events; cap events only; one that fails
 * each event's first attempt (retried 5 s later on the ledger clock); one that answers
 * 410 Gone (disabled). At the end each endpoint's 2xx set is compared with what
 * `ledger.events.list()` says it should have received. Exit code 1 on any difference.
 *
 *   npx tsx scripts/scenario-webhooks.ts
 */
import { mkdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { drizzle } from 'drizzle-orm/better-sqlite3';
import { Webhook } from 'standardwebhooks';
import { gridTable } from '../src/cli/format.js';
import { createLedger, type EventType, type LedgerEvent } from '../src/index.js';

const DIR = resolve(import.meta.dirname, '../.tmp');
const FILE = join(DIR, 'scenario-webhooks.db');
const MINUTE = 60_000;

interface Seen {
  attempts: number;
  ok: Set<string>;
  badSignatures: number;
}

export async function runWebhooksScenario(file: string = FILE): Promise<{ ok: boolean; text: string }> {
  mkdirSync(DIR, { recursive: true });
  for (const suffix of ['', '-wal', '-shm']) rmSync(`${file}${suffix}`, { force: true });
  const client = new Database(file);
  client.pragma('journal_mode = WAL');
  // The ledger clock starts at the real time (receivers check webhook-timestamp against theirs)
  // and is moved by seconds only, within the 5-minute tolerance of the reference verifier.
  let now = Date.now();
  const ledger = createLedger(drizzle(client), { clock: () => now });
  await ledger.migrate();

  // The receiver: verifies, counts, answers per endpoint.
  const secrets = new Map<string, string>();
  const seen = new Map<string, Seen>();
  const firstAttemptSeen = new Set<string>();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = req.url ?? '/';
      const body = Buffer.concat(chunks).toString('utf8');
      const s = seen.get(path) ?? { attempts: 0, ok: new Set<string>(), badSignatures: 0 };
      seen.set(path, s);
      s.attempts++;
      const headers = {
        'webhook-id': String(req.headers['webhook-id']),
        'webhook-timestamp': String(req.headers['webhook-timestamp']),
        'webhook-signature': String(req.headers['webhook-signature']),
      };
      try {
        new Webhook(secrets.get(path) ?? '').verify(body, headers);
      } catch {
        s.badSignatures++;
        res.writeHead(401).end();
        return;
      }
      const id = headers['webhook-id'];
      if (path === '/gone') return void res.writeHead(410).end();
      if (path === '/flaky' && !firstAttemptSeen.has(id)) {
        firstAttemptSeen.add(id);
        return void res.writeHead(500).end();
      }
      s.ok.add(id);
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const endpoints: { path: string; types?: EventType[] }[] = [
    { path: '/all' },
    { path: '/caps', types: ['cap.warning', 'cap.reached'] },
    { path: '/flaky' },
    { path: '/gone' },
  ];
  const ids = new Map<string, string>();
  for (const e of endpoints) {
    const added = await ledger.webhooks.add({ url: `${base}${e.path}`, types: e.types });
    secrets.set(e.path, added.secret);
    ids.set(e.path, added.id);
  }

  // Real operations; the triggers write the events in the same units.
  for (const user of ['alice', 'bob', 'carol']) {
    await ledger.alerts.set({ account: user, lowBalance: 100 });
    await ledger.grant({ account: user, amount: 500 });
  }
  await ledger.caps.set({ account: 'alice', window: 'day', limit: 1_000, action: 'notify' });
  await ledger.debitIfCovers({ account: 'alice', amount: 450, model: 'gpt-4o' }); // balance.low (50 < 100)
  await ledger.grant({ account: 'alice', amount: 1_000 }); // re-armed above 100
  await ledger.debitIfCovers({ account: 'alice', amount: 400 }); // 850 of 1,000 today: cap.warning (80 %)
  await ledger.debitIfCovers({ account: 'alice', amount: 200 }); // 1,050: cap.reached (100 %)
  await ledger.debitIfCovers({ account: 'bob', amount: 420 }); // balance.low
  await ledger.hold({ account: 'carol', amount: 50, ttlMs: MINUTE });
  await ledger.grant({ account: 'carol', amount: 30, expiresAt: now + 2 * MINUTE });
  now += 3 * MINUTE;
  await ledger.sweep(); // hold.expired, credits.expired

  // Deliver until nothing is due; a failed first attempt is retried 5 s later on the ledger clock.
  const reports = [];
  for (let round = 0; round < 6; round++) {
    const r = await ledger.webhooks.deliver();
    reports.push(r);
    if (!r.more && r.retried === 0 && r.sent === 0) break;
    now += 5_000;
  }
  server.closeAllConnections();
  server.close();

  const { events } = await ledger.events.list({ limit: 1_000 });
  const hooks = await ledger.webhooks.list();
  let ok = true;
  const rows = endpoints.map((e) => {
    const hook = hooks.find((h) => h.id === ids.get(e.path));
    const want = events.filter((ev: LedgerEvent) => e.types === undefined || e.types.includes(ev.type)).map((ev) => `evt_${ev.id}`);
    const s = seen.get(e.path) ?? { attempts: 0, ok: new Set<string>(), badSignatures: 0 };
    const expected = e.path === '/gone' ? [] : want;
    const missing = expected.filter((id) => !s.ok.has(id));
    const extra = [...s.ok].filter((id) => !want.includes(id));
    const good = missing.length === 0 && extra.length === 0 && s.badSignatures === 0 && (e.path !== '/gone' || hook?.status === 'disabled');
    ok &&= good;
    return [
      e.path,
      e.types?.join(',') ?? 'all',
      want.length,
      s.ok.size,
      s.attempts,
      s.badSignatures,
      hook?.status ?? '?',
      good ? 'ok' : `MISMATCH ${missing.join(' ')}`,
    ];
  });
  const byType = new Map<string, number>();
  for (const ev of events) byType.set(ev.type, (byType.get(ev.type) ?? 0) + 1);
  const total = reports.reduce(
    (t, r) => ({
      sent: t.sent + r.sent,
      delivered: t.delivered + r.delivered,
      retried: t.retried + r.retried,
      disabled: t.disabled + r.disabled,
    }),
    { sent: 0, delivered: 0, retried: 0, disabled: 0 },
  );
  const text = [
    `Events written by the ledger's own operations: ${events.length} (${[...byType].map(([t, n]) => `${t} ${n}`).join(', ')})`,
    `deliver() called ${reports.length} times: sent ${total.sent}, delivered ${total.delivered}, retried ${total.retried}, endpoints disabled ${total.disabled}`,
    gridTable(['endpoint', 'types', 'should get', 'got (2xx)', 'requests', 'bad signatures', 'status', 'check'], rows, [
      'left',
      'left',
      'right',
      'right',
      'right',
      'right',
      'left',
      'left',
    ]),
  ].join('\n');
  client.close();
  return { ok, text };
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === resolve(import.meta.filename)) {
  const { ok, text } = await runWebhooksScenario();
  console.log('\n== Webhooks: the outbox delivered, signed per Standard Webhooks, to a receiver on 127.0.0.1 ==');
  console.log(text);
  console.log(
    ok ? 'webhooks: every endpoint got exactly what events.list() says it should, every signature verified' : 'webhooks: MISMATCH',
  );
  if (!ok) process.exitCode = 1;
}
