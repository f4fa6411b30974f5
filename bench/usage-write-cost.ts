/**
 * What would it cost the debit to keep the usage rollup itself? The decision this measures:
 * `credit_usage` is folded from the log by position when it is read (src/usage/fold.ts), so
 * the plain debit writes nothing for analytics. The alternative is a trigger that upserts
 * the debit's hourly bucket inside the debit's own INSERT.
 *
 *   npx tsx bench/usage-write-cost.ts [--rounds=8] [--ops=5000] [--sync=NORMAL|FULL]
 *
 * Two better-sqlite3 files in WAL mode (synchronous NORMAL by default, busy_timeout 5000),
 * both migrated by the ledger and seeded alike (one account with a large grant). File B
 * also gets the trigger below. Each round runs --ops debits of 1 (model and key id set, so
 * the bucket is a realistic one) on A and then on B, or B then A (alternating), through the
 * public API, one awaited call at a time; per round, µs per debit. Reported: the median over
 * rounds of each, and the median of the per-round ratios B ÷ A. Then what file A still owes:
 * the fold of all it wrote (nothing read it, so nothing was folded), timed as one
 * `foldUsage` call, in µs per log row. Writes nothing else.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { drizzle } from 'drizzle-orm/better-sqlite3';
import { createLedger, type Ledger } from '../src/index.js';
import { runnerFor } from '../src/runner/index.js';
import { foldUsage } from '../src/usage/fold.js';

const arg = (name: string, fallback: string) => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? fallback;
const ROUNDS = Number(arg('rounds', '8'));
const OPS = Number(arg('ops', '5000'));
const SYNC = arg('sync', 'NORMAL');

/** The write-time alternative: every debit or capture upserts its bucket. */
const TRIGGER = `CREATE TRIGGER bench_usage_on_write AFTER INSERT ON credit_entry WHEN NEW.kind IN ('debit', 'capture')
BEGIN
  INSERT INTO credit_usage (hour, account, model, key_id, actor, debited, debits)
  VALUES (NEW.created_at / 3600000 * 3600000, NEW.account, COALESCE(NEW.model, ''), COALESCE(NEW.key_id, ''), COALESCE(NEW.actor, ''), NEW.amount, 1)
  ON CONFLICT (hour, account, model, key_id, actor) DO UPDATE SET debited = debited + excluded.debited, debits = debits + 1;
END`;

interface Side {
  name: string;
  ledger: Ledger;
  client: Database.Database;
  perRound: number[];
}

async function open(file: string, withTrigger: boolean): Promise<Side> {
  const client = new Database(file);
  client.pragma('journal_mode = WAL');
  client.pragma(`synchronous = ${SYNC}`);
  client.pragma('busy_timeout = 5000');
  const ledger = createLedger(drizzle(client));
  await ledger.migrate();
  if (withTrigger) client.exec(TRIGGER);
  await ledger.grant({ account: 'bench', amount: 1_000_000_000 });
  return { name: withTrigger ? 'debit + bucket upsert trigger' : 'debit (rollup folded at read)', ledger, client, perRound: [] };
}

async function round(side: Side): Promise<void> {
  const started = performance.now();
  for (let i = 0; i < OPS; i++) {
    const r = await side.ledger.debitIfCovers({ account: 'bench', amount: 1, model: 'gpt-4o', keyId: 'key_1' });
    if (r.outcome !== 'debited') throw new Error(`${side.name}: ${r.outcome}`);
  }
  side.perRound.push(((performance.now() - started) * 1000) / OPS);
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};

const dir = mkdtempSync(join(tmpdir(), 'drizzle-credits-usage-cost-'));
try {
  const a = await open(join(dir, 'fold.db'), false);
  const b = await open(join(dir, 'trigger.db'), true);
  // Warm-up (JIT, page cache), untimed.
  for (const s of [a, b]) for (let i = 0; i < 500; i++) await s.ledger.debitIfCovers({ account: 'bench', amount: 1, model: 'gpt-4o' });
  a.perRound.length = 0;
  b.perRound.length = 0;
  for (let r = 0; r < ROUNDS; r++) {
    const order = r % 2 === 0 ? [a, b] : [b, a];
    for (const s of order) await round(s);
  }
  const rows = (b.client.prepare('SELECT COUNT(*) AS n, SUM(debits) AS d FROM credit_usage').get() as { n: number; d: number }) ?? {};
  const foldStarted = performance.now();
  const fold = await foldUsage(runnerFor(drizzle(a.client)), { lag: 0 });
  const foldUs = ((performance.now() - foldStarted) * 1000) / fold.folded;
  const ratios = a.perRound.map((x, i) => (b.perRound[i] as number) / x);
  const load = (await import('node:os')).loadavg().map((x) => x.toFixed(2));
  console.log(`better-sqlite3 file, WAL, synchronous=${SYNC}; ${ROUNDS} interleaved rounds × ${OPS} debits each; load ${load.join(' ')}`);
  for (const s of [a, b])
    console.log(
      `  ${s.name.padEnd(32)} median ${median(s.perRound).toFixed(1)} µs/debit  (rounds: ${s.perRound.map((x) => x.toFixed(1)).join(' ')})`,
    );
  console.log(
    `  trigger ÷ fold: median of per-round ratios ${median(ratios).toFixed(3)} (min ${Math.min(...ratios).toFixed(3)}, max ${Math.max(...ratios).toFixed(3)})`,
  );
  console.log(`  (trigger side: ${rows.n} bucket rows hold ${rows.d} debits)`);
  console.log(`  the fold side's deferred work: foldUsage of its ${fold.folded} rows, ${foldUs.toFixed(2)} µs per row`);
  a.client.close();
  b.client.close();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
