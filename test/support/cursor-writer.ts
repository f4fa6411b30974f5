/**
 * One writer process of test/cursor.test.ts:
 *   node --import tsx test/support/cursor-writer.ts '{"worker":1,"driver":"libsql","file":"…","ops":300}'
 * Prints `ready`, waits for `go` on stdin, then grants and debits on a few shared accounts
 * as fast as it can, and exits 0 unless a call threw.
 */
import { type ConcurrencyDriver, openFileDb } from './concurrency-db.js';

interface Plan {
  worker: number;
  driver: ConcurrencyDriver;
  file: string;
  ops: number;
}
const plan = JSON.parse(process.argv[2] ?? '') as Plan;
const db = await openFileDb(plan.driver, plan.file);
process.stdout.write('ready\n');
await new Promise<void>((res) => process.stdin.once('data', () => res()));
for (let i = 0; i < plan.ops; i++) {
  const account = `shared-${i % 3}`;
  if (i % 4 === 0) await db.ledger.grant({ account, amount: 5, reason: `w${plan.worker}` });
  else await db.ledger.debitIfCovers({ account, amount: 1, reason: `w${plan.worker}`, model: `m${i % 2}` });
}
await db.close();
process.exit(0);
