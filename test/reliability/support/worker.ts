/**
 * A reliability worker: one OS process, one connection to the shared database file.
 *
 * It loads its modules, prints `ready`, and waits for `go` on stdin (so the parent can
 * start it ahead of time and the start-up cost stays out of the measured window). Then it
 * opens the database and runs the operation mix, appending to its log:
 *   - an `intent` line (write(2)) before each ledger call, with the call's exact input;
 *   - an `ack` line after the call returned (or threw), with every result, written with
 *     write(2) and — in the crash test — fsync(2) before the next call starts.
 * Contention mode runs `plan.ops` operations on `plan.lanes` async loops and exits 0.
 * Crash mode loops until the parent kills it with SIGKILL.
 */

import { readyThenGo } from '../../support/processes.js';
import type { Db } from './db.js';
import { openDb, preload } from './db.js';
import { execute, Mix } from './ops.js';
import { type Call, LineLog, type WorkerPlan } from './protocol.js';

const plan = JSON.parse(process.argv[2] ?? '') as WorkerPlan;
const log = new LineLog(plan.log, plan.fsyncAcks);

/** In crash mode, start from what earlier rounds left: debits to refund, open holds. */
async function loadState(db: Db, mix: Mix, part: number, parts: number): Promise<void> {
  const mine = (_: unknown, i: number) => i % parts === part;
  const targets = await db.all(
    `SELECT 'ce_' || e.pos AS id, e.account,
            e.amount - COALESCE((SELECT SUM(r.amount) FROM credit_entry AS r WHERE r.ref = e.pos AND r.kind = 'refund'), 0) AS remaining
     FROM credit_entry AS e WHERE e.kind IN ('debit', 'capture') ORDER BY e.pos DESC LIMIT 200`,
  );
  for (const t of targets.filter(mine)) {
    if (Number(t.remaining) > 0) mix.refundable.push({ id: String(t.id), account: String(t.account), remaining: Number(t.remaining) });
  }
  const holds = await db.all(`SELECT 'ce_' || id AS id, account, amount FROM credit_hold WHERE status = 'open' ORDER BY id DESC LIMIT 60`);
  for (const h of holds.filter(mine)) mix.holds.push({ id: String(h.id), account: String(h.account), amount: Number(h.amount) });
}

async function main(): Promise<void> {
  await preload(plan.driver);
  await readyThenGo();

  const db = await openDb(plan.driver, plan.file, plan.synchronous);
  process.stdout.write(`pragmas ${JSON.stringify(await db.pragmas())}\n`);
  const crash = plan.mode === 'crash';
  const mix = new Mix({
    seed: plan.seed,
    accounts: plan.accounts,
    sharedDebits: plan.sharedDebits,
    sharedGrants: plan.sharedGrants,
    sweeps: crash,
    total: crash ? 0 : plan.ops,
    links: crash,
    transfers: true,
    leadWithTransfer: crash && plan.part[0] === 0,
  });
  const [part, parts] = plan.part;
  if (crash) await loadState(db, mix, part, parts);

  const run = async (n: number) => {
    const tag = `${plan.name}-${n}`;
    const call: Call = mix.next(n, tag);
    log.write({ type: 'intent', tag, call, t: Date.now() });
    const t0 = performance.now();
    try {
      const results = await execute(db.ledger, call);
      log.write({ type: 'ack', tag, results, t: Date.now(), ms: Math.round(performance.now() - t0) });
      mix.observe(call, results);
    } catch (e) {
      const code = (e as { code?: unknown }).code;
      const error = { code: code === undefined ? (e as Error)?.name : String(code), message: e instanceof Error ? e.message : String(e) };
      log.write({ type: 'ack', tag, results: [], error, t: Date.now(), ms: Math.round(performance.now() - t0) });
      mix.forget(call);
    }
  };

  // A crash writer runs until it is killed; if its parent is gone (or a kill never comes),
  // it must not go on hammering the disk as an orphan.
  const parent = process.ppid;
  const deadline = Date.now() + 60_000;
  const orphaned = () => crash && (process.ppid !== parent || Date.now() > deadline);
  let next = 0;
  const lane = async () => {
    while ((crash || next < plan.ops) && !orphaned()) await run(next++);
  };
  await Promise.all(Array.from({ length: plan.lanes }, lane));
  process.stdout.write(`pragmas ${JSON.stringify(await db.pragmas())}\n`);
  await db.close();
}

main().then(
  () => {
    log.close();
    process.exit(0);
  },
  (e: unknown) => {
    process.stderr.write(`worker ${plan.name} crashed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(2);
  },
);
