/**
 * Webhook delivery benchmark: events per second delivered by `ledger.webhooks.deliver()` to
 * a local node:http receiver that answers 204, on better-sqlite3 (WAL, the bench pragmas).
 * The receiver runs in a child process, so its HTTP parsing does not share the deliverer's
 * event loop. N events are seeded into the outbox in one statement, then one deliverer calls
 * deliver({ limit, concurrency }) until everything is delivered; the time covers the fan-out,
 * claims, signing, HTTP and the recorded results (two round trips per attempt). The issue's
 * goal: at least 1,000 events/s to one endpoint.
 *
 *   npx tsx bench/webhooks.ts [--events=5000] [--endpoints=1] [--limit=500] [--concurrency=50]
 *   npm run bench -- --webhooks [same flags]
 */
import { fork } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openLedger, tempDir } from './setup.js';

const arg = (name: string, fallback: number) => {
  const a = process.argv.find((x) => x.startsWith(`--${name}=`));
  return a === undefined ? fallback : Number(a.slice(name.length + 3));
};

/** In the child: a receiver that counts and answers 204 at once. */
function serve(): void {
  let count = 0;
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      count++;
      res.writeHead(204).end();
    });
  });
  server.keepAliveTimeout = 10_000;
  server.listen(0, '127.0.0.1', () => process.send?.({ port: (server.address() as AddressInfo).port }));
  process.on('message', () => process.send?.({ count }));
}

export async function runWebhooksBench(): Promise<void> {
  const events = arg('events', 5_000);
  const endpoints = arg('endpoints', 1);
  const limit = arg('limit', 500);
  const concurrency = arg('concurrency', 50);
  const child = fork(fileURLToPath(import.meta.url), ['--serve'], { execArgv: ['--import', 'tsx'] });
  const port = await new Promise<number>((res) => child.once('message', (m) => res((m as { port: number }).port)));
  const dir = tempDir();
  try {
    const { client, ledger } = await openLedger(join(dir.path, 'webhooks.db'));
    for (let i = 0; i < endpoints; i++) await ledger.webhooks.add({ url: `http://127.0.0.1:${port}/e${i}` });
    client
      .prepare(
        `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
         INSERT INTO credit_event (type, account, entry, ref, created_at, data)
         SELECT 'balance.low', 'user_' || (i % 1000), i, NULL, ?, '{"available":5,"threshold":10}' FROM n`,
      )
      .run(events, Date.now());
    const started = performance.now();
    let calls = 0;
    let delivered = 0;
    for (;;) {
      const r = await ledger.webhooks.deliver({ limit, concurrency });
      calls++;
      delivered += r.delivered;
      if (!r.more && r.sent === 0) break;
    }
    const seconds = (performance.now() - started) / 1000;
    const received = await new Promise<number>((res) => {
      child.once('message', (m) => res((m as { count: number }).count));
      child.send('count');
    });
    const pending = client.prepare("SELECT COUNT(*) AS n FROM credit_delivery WHERE status <> 'delivered'").get() as { n: number };
    client.close();
    const rate = Math.round(delivered / seconds);
    console.log(
      `webhooks: ${events} events × ${endpoints} endpoint(s) = ${delivered} deliveries in ${seconds.toFixed(2)} s ` +
        `(${calls} deliver calls, limit ${limit}, concurrency ${concurrency}): ${rate} deliveries/s; ` +
        `receiver got ${received}, not delivered ${pending.n}; goal ≥ 1,000/s ${rate >= 1_000 ? 'met' : 'NOT met'}`,
    );
  } finally {
    child.kill();
    dir.remove();
  }
}

if (process.argv.includes('--serve')) serve();
else if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) await runWebhooksBench();
