/**
 * Runs in its own process (`node --import tsx hostile-child.ts <json>`), so that a hostile
 * database file (corrupted, read-only by file permissions) can crash, hang or segfault the
 * driver without taking the test runner down: the parent kills it after a timeout and reads
 * what it printed.
 *
 * Input: `{ driver: 'better-sqlite3' | 'libsql', file, script: 'corrupt' | 'readonly' }`.
 * Output: one JSON line per step, `{ step, ok, value? , error? }`, then `{ done: true }`.
 */
import { createLedger, type Ledger, LedgerError } from '../../../src/index.js';

export interface StepResult {
  step: string;
  ok: boolean;
  value?: unknown;
  error?: { ledger: boolean; name: string; code: string | null; message: string };
}

interface Args {
  driver: 'better-sqlite3' | 'libsql';
  file: string;
  script: 'corrupt' | 'readonly';
}

const args = JSON.parse(process.argv[2] ?? '{}') as Args;

function describeError(e: unknown): StepResult['error'] {
  const err = e as { name?: unknown; code?: unknown; message?: unknown } | null;
  return {
    ledger: e instanceof LedgerError,
    name: typeof err?.name === 'string' ? err.name : typeof e,
    code: typeof err?.code === 'string' ? err.code : null,
    message: typeof err?.message === 'string' ? err.message : String(e),
  };
}

function emit(r: StepResult | { done: true }): void {
  process.stdout.write(`${JSON.stringify(r)}\n`);
}

async function step(name: string, fn: () => unknown): Promise<unknown> {
  try {
    const value = await fn();
    emit({ step: name, ok: true, value: summarise(value) });
    return value;
  } catch (e) {
    emit({ step: name, ok: false, error: describeError(e) });
    return undefined;
  }
}

/** Keep results small: outcomes, balances, verify verdicts. */
function summarise(v: unknown): unknown {
  if (v === null || typeof v !== 'object') return v;
  if (Array.isArray(v)) return { length: v.length };
  const o = v as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const k of ['outcome', 'balance', 'available', 'held', 'seq', 'ok', 'problemCount', 'entries', 'accounts', 'applied', 'version']) {
    if (k in o) out[k] = Array.isArray(o[k]) ? (o[k] as unknown[]).length : o[k];
  }
  if (Array.isArray(o.messages)) out.messages = o.messages;
  if (Array.isArray(o.problems)) out.problemCodes = [...new Set((o.problems as { code: string }[]).map((p) => p.code))];
  return out;
}

async function open(): Promise<{ ledger: Ledger; raw: (sql: string) => Promise<unknown[]>; close: () => void } | undefined> {
  if (args.driver === 'better-sqlite3') {
    const { default: Database } = await import('better-sqlite3');
    const { drizzle } = await import('drizzle-orm/better-sqlite3');
    const client = (await step('open', () => new Database(args.file, { fileMustExist: true }))) as
      | InstanceType<typeof Database>
      | undefined;
    if (client === undefined) return undefined;
    return {
      ledger: createLedger(drizzle(client)),
      raw: async (sql) => client.prepare(sql).all(),
      close: () => client.close(),
    };
  }
  const { createClient } = await import('@libsql/client');
  const { drizzle } = await import('drizzle-orm/libsql');
  const client = (await step('open', () => createClient({ url: `file:${args.file}` }))) as ReturnType<typeof createClient> | undefined;
  if (client === undefined) return undefined;
  return {
    ledger: createLedger(drizzle(client)),
    raw: async (sql) => (await client.execute(sql)).rows.map((r) => ({ ...r })),
    close: () => client.close(),
  };
}

async function main(): Promise<void> {
  const db = await open();
  if (db !== undefined) {
    const l = db.ledger;
    if (args.script === 'corrupt') {
      // The messages themselves (up to 5), so the parent can tell 'ok' from damage.
      await step('integrity_check', async () => ({
        messages: (await db.raw('PRAGMA integrity_check')).slice(0, 5).map((r) => String(Object.values(r as object)[0])),
      }));
      await step('getBalance', () => l.getBalance('acct_1'));
      await step('history', () => l.history('acct_2', { limit: 1000 }));
      await step('lots', () => l.lots('acct_3'));
      await step('holds', () => l.holds('acct_4'));
      await step('stats', () => l.stats());
      await step('verify', () => l.verify());
      await step('migrate', () => l.migrate());
      await step('grant', () => l.grant({ account: 'acct_1', amount: 5, idempotencyKey: 'after-corruption' }));
      await step('debitIfCovers', () => l.debitIfCovers({ account: 'acct_2', amount: 1 }));
      await step('hold', () => l.hold({ account: 'acct_3', amount: 1 }));
      await step('sweep', () => l.sweep());
      await step('rebuild', () => l.rebuild());
      await step('verify again', () => l.verify());
    } else {
      await step('migrate', () => l.migrate());
      await step('getBalance', () => l.getBalance('acct_1'));
      await step('history', () => l.history('acct_1'));
      await step('verify', () => l.verify());
      await step('grant', () => l.grant({ account: 'acct_1', amount: 5, idempotencyKey: 'ro' }));
      await step('debitIfCovers', () => l.debitIfCovers({ account: 'acct_1', amount: 1 }));
      await step('batch', () => l.batch([{ op: 'grant', account: 'acct_1', amount: 1 }]));
    }
    db.close();
  }
  emit({ done: true });
}

await main();
