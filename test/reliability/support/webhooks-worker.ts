/**
 * One deliverer of test/reliability/webhooks.test.ts, killed with SIGKILL at random moments.
 * Run as  node --import tsx test/reliability/support/webhooks-worker.ts '<WebhooksWorkerPlan>'.
 * It calls `ledger.webhooks.deliver()` in a loop on a better-sqlite3 file shared with the
 * other deliverer. The ledger clock is the real time plus an offset the parent moves forward
 * by appending bytes to `clockFile` (its size × `tickMs`), so retry schedules and lapsed
 * claims come due in seconds.
 */
import { statSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { type Driver, openDb } from './db.js';

export interface WebhooksWorkerPlan {
  name: string;
  driver: Driver;
  file: string;
  clockFile: string;
  tickMs: number;
  limit: number;
  timeoutMs: number;
}

async function main(plan: WebhooksWorkerPlan): Promise<void> {
  const clock = () => Date.now() + statSync(plan.clockFile).size * plan.tickMs;
  const db = await openDb(plan.driver, plan.file, 'FULL', { clock });
  await db.ledger.webhooks.list(); // warm up before "ready"
  process.stdout.write('ready\n');
  await new Promise<void>((resolve) => {
    const rl = createInterface({ input: process.stdin });
    rl.on('line', (line) => {
      if (line.trim() === 'go') {
        rl.close();
        resolve();
      }
    });
  });
  for (;;) {
    const r = await db.ledger.webhooks.deliver({ limit: plan.limit, timeoutMs: plan.timeoutMs });
    if (r.sent > 0 || r.queued > 0) process.stdout.write(`${JSON.stringify(r)}\n`);
    if (r.sent === 0) await new Promise((res) => setTimeout(res, 15));
  }
}

main(JSON.parse(process.argv[2] as string) as WebhooksWorkerPlan).catch((e) => {
  process.stderr.write(`${(e as Error)?.stack ?? String(e)}\n`);
  process.exit(1);
});
