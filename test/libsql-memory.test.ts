/**
 * libSQL `file:`: @libsql/client prepares every statement on every call, and libsql-js frees a
 * statement's native memory in a finalizer Node runs from its macrotask queue. A loop of
 * awaited ledger calls never reached that queue (each call resolves without real I/O), so the
 * memory of every statement stayed: +350 KB of RSS per debit, unbounded (a long-running consumer
 * would run out of memory). The runner now yields once per call on a local file (src/runner/libsql.ts). Measured
 * without the yield: +176 MB per 500 debits; with it, the process levels off.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DRIVERS, type TestDb } from './support/drivers.js';

const libsql = DRIVERS.find((d) => d.name === 'libsql file:');
if (libsql === undefined) throw new Error('the driver matrix has no libSQL file: driver');

describe('libSQL file: memory under a loop of awaited calls', () => {
  let db: TestDb;
  beforeAll(async () => {
    db = await libsql.open();
    await db.ledger.grant({ account: 'loop', amount: 1_000_000 });
  });
  afterAll(async () => {
    await db?.close();
  });

  it('levels off: a tight loop of debits stops growing, where each used to keep its statements', async () => {
    const mb = () => process.memoryUsage().rss / 1e6;
    const debits = async (n: number) => {
      for (let i = 0; i < n; i++) {
        const r = await db.ledger.debitIfCovers({ account: 'loop', amount: 1 });
        if (r.outcome !== 'debited') throw new Error(`debit ${i}: ${r.outcome}`);
      }
    };
    // No timers anywhere in the loop: only the runner's own yield lets Node run finalizers.
    // Native memory waits for a GC too (V8 does not see it), so the level is a GC cycle's worth.
    await debits(100);
    const start = mb();
    await debits(700);
    const middle = mb();
    await debits(700);
    const end = mb();
    // Measured: 134 → 263 → 269 MB with the yield; 154 → 415 → 664 MB without (each half alike).
    expect(end - middle, `RSS ${start.toFixed(0)} → ${middle.toFixed(0)} → ${end.toFixed(0)} MB`).toBeLessThan(80);
    expect(end - start).toBeLessThan(250);
    expect((await db.ledger.getBalance('loop')).balance).toBe(1_000_000 - 1_500);
  });
});
