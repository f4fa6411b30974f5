/**
 * The `drizzle-credits` CLI as a user runs it: a real process per command (node --import
 * tsx), against a better-sqlite3 file (--db) and a libSQL file: URL (--url). Commands that
 * do not depend on each other run in parallel to keep the suite short.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../..');
const MAIN = join(ROOT, 'src/cli/main.ts');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function cli(args: string[]): Promise<Run> {
  return new Promise((res, rej) => {
    const child = spawn(process.execPath, ['--import', 'tsx', MAIN, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += String(d);
    });
    child.stderr.on('data', (d) => {
      stderr += String(d);
    });
    child.on('error', rej);
    child.on('close', (code) => res({ code, stdout, stderr }));
  });
}

/** Runs a command and parses its --json output. */
async function cliJson(args: string[]): Promise<Run & { json: Record<string, unknown> }> {
  const r = await cli(['--json', ...args]);
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(r.stdout) as Record<string, unknown>;
  } catch {
    throw new Error(`not JSON (exit ${r.code}): ${r.stdout}\n${r.stderr}`);
  }
  return { ...r, json };
}

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'drizzle-credits-cli-'));
  dirs.push(d);
  return d;
};

type Db = string[];

/** The full tour on better-sqlite3 (--db): every command, every exit code. */
async function fullTour(db: Db, fresh: Db, file: string): Promise<void> {
  // Round 1: migrate, and what needs no ledger (unmigrated database, usage error).
  const [migrated, unmigrated, missingArg] = await Promise.all([
    cliJson([...db, 'migrate']),
    cli([...fresh, 'balance', 'u1']),
    cli([...db, 'grant', 'u1']),
  ]);
  expect(migrated.code).toBe(0);
  expect(migrated.json.applied).toEqual(expect.arrayContaining(['0000_core_ledger']));
  expect(migrated.json.version).toBe((migrated.json.applied as string[]).length);
  expect(unmigrated.code).toBe(2);
  expect(unmigrated.stderr).toContain('error [schema_missing]:');
  expect(missingArg.code).toBe(64);
  expect(missingArg.stderr).toContain("missing required argument 'amount'");

  // Round 2: grants.
  const [g1, g2] = await Promise.all([
    cliJson([...db, 'grant', 'u1', '100', '--idempotency-key', 'order-1', '--reason', 'starter pack']),
    cliJson([...db, 'grant', 'u2', '50']),
  ]);
  expect(g1.json).toMatchObject({ outcome: 'granted', balance: 100, entry: { reason: 'starter pack', idempotencyKey: 'order-1' } });
  expect(g2.json).toMatchObject({ outcome: 'granted', balance: 50 });

  // Round 3: debits (keyed, plain, insufficient) and strictly rejected amounts.
  const [d1, d2, short, badText, ...badJson] = await Promise.all([
    cliJson([...db, 'debit', 'u1', '30', '--idempotency-key', 'req-1', '--model', 'gpt-x', '--key-id', 'key_1', '--reason', 'chat']),
    cli([...db, 'debit', 'u2', '10']),
    cli([...db, 'debit', 'u2', '1000']),
    cli([...db, 'debit', 'u1', '1.5']),
    ...['1e3', 'abc', ''].map((amount) => cliJson([...db, 'debit', 'u1', amount])),
  ]);
  expect(d1.code).toBe(0);
  expect(d1.json).toMatchObject({ outcome: 'debited', entry: { kind: 'debit', delta: -30, model: 'gpt-x', keyId: 'key_1' } });
  const debitId = (d1.json.entry as { id: string }).id;
  expect(d2.code).toBe(0);
  expect(d2.stdout).toMatch(/outcome\s*│\s*debited/);
  expect(short.code).toBe(1);
  expect(short.stdout).toContain('insufficient');
  expect(badText.code).toBe(2);
  expect(badText.stderr).toMatch(/^error \[invalid_amount\]: .*"1\.5"/);
  for (const r of badJson) {
    expect(r.code, r.stdout).toBe(2);
    expect(r.json).toMatchObject({ error: { code: 'invalid_amount' } });
  }

  // Round 4: replay, conflicting replay, partial refund, negative adjustment.
  const [replay, conflict, refund, adjust] = await Promise.all([
    cliJson([...db, 'debit', 'u1', '30', '--idempotency-key', 'req-1', '--model', 'gpt-x', '--key-id', 'key_1', '--reason', 'chat']),
    cliJson([...db, 'debit', 'u1', '31', '--idempotency-key', 'req-1']),
    cliJson([...db, 'refund', debitId, '10', '--idempotency-key', 'rf-1', '--reason', 'bad answer']),
    cliJson([...db, 'adjust', 'u2', '-5', '--reason', 'correction']),
  ]);
  expect(replay.code).toBe(0);
  expect(replay.json).toMatchObject({ outcome: 'replayed', entry: { id: debitId } });
  expect(conflict.code).toBe(2);
  expect(conflict.json).toMatchObject({ error: { code: 'idempotency_conflict' } });
  expect(refund.code).toBe(0);
  expect(refund.json).toMatchObject({ outcome: 'refunded', balance: 80, refundable: 20, entry: { ref: debitId } });
  expect(adjust.json).toMatchObject({ outcome: 'adjusted', balance: 35 });

  // Round 5: reads and the auditor.
  const [refundReplay, balance, historyText, page, kinds, verify, stats] = await Promise.all([
    cliJson([...db, 'refund', debitId, '10', '--idempotency-key', 'rf-1', '--reason', 'bad answer']),
    cliJson([...db, 'balance', 'u1']),
    cli([...db, 'history', 'u1']),
    cliJson([...db, 'history', 'u1', '--limit', '2']),
    cliJson([...db, 'history', 'u1', '--kinds', 'grant,refund']),
    cli([...db, 'verify']),
    cliJson([...db, 'stats']),
  ]);
  expect(refundReplay.json).toMatchObject({ outcome: 'replayed', balance: 80, refundable: 20 });
  expect(balance.json).toMatchObject({ account: 'u1', balance: 80, held: 0, available: 80, seq: 3 });
  expect(historyText.code).toBe(0);
  for (const s of ['grant', 'debit', 'refund', 'starter pack', 'gpt-x', debitId, 'next cursor: none'])
    expect(historyText.stdout).toContain(s);
  expect(page.json.nextCursor).toBe('2');
  expect((page.json.entries as { seq: number }[]).map((e) => e.seq)).toEqual([3, 2]);
  expect((kinds.json.entries as { kind: string }[]).map((e) => e.kind)).toEqual(['refund', 'grant']);
  expect(verify.code).toBe(0);
  expect(verify.stdout).toMatch(/verdict\s*│\s*ok/);
  expect(stats.json).toMatchObject({ accounts: 2, entries: 6, granted: 150, debited: 40, refunded: 10, adjusted: -5, outstanding: 115 });

  // Round 6: the next page, and the auditor on a log edited behind the ledger's back.
  const raw = new Database(file);
  raw.prepare('UPDATE credit_entry SET balance = 999 WHERE account = ? AND seq = 1').run('u2');
  raw.close();
  const [older, tampered] = await Promise.all([
    cliJson([...db, 'history', 'u1', '--limit', '2', '--cursor', String(page.json.nextCursor)]),
    cliJson([...db, 'verify']),
  ]);
  expect(older.json).toMatchObject({ entries: [{ seq: 1, kind: 'grant' }], nextCursor: null });
  expect(tampered.code).toBe(3);
  expect(tampered.json).toMatchObject({ ok: false });
  expect(tampered.json.problems).toEqual(
    expect.arrayContaining([expect.objectContaining({ code: 'balance_mismatch', account: 'u2', seq: 1 })]),
  );
}

/** The same path through libSQL (--url file:), in fewer processes. */
async function libsqlTour(db: Db, fresh: Db): Promise<void> {
  const [migrated, unmigrated] = await Promise.all([cliJson([...db, 'migrate']), cliJson([...fresh, 'stats'])]);
  expect(migrated.json.applied).toEqual(expect.arrayContaining(['0000_core_ledger']));
  expect(unmigrated.code).toBe(2);
  expect(unmigrated.json).toMatchObject({ error: { code: 'schema_missing' } });

  expect((await cliJson([...db, 'grant', 'u1', '100'])).json).toMatchObject({ outcome: 'granted', balance: 100 });

  const [d1, short] = await Promise.all([
    cliJson([...db, 'debit', 'u1', '30', '--idempotency-key', 'req-1']),
    cliJson([...db, 'debit', 'u1', '500']),
  ]);
  expect(d1.json).toMatchObject({ outcome: 'debited' });
  expect(short.code).toBe(1);
  expect(short.json).toMatchObject({ outcome: 'insufficient', requested: 500 });
  const debitId = (d1.json.entry as { id: string }).id;

  const [replay, refund] = await Promise.all([
    cliJson([...db, 'debit', 'u1', '30', '--idempotency-key', 'req-1']),
    cliJson([...db, 'refund', debitId]),
  ]);
  expect(replay.json).toMatchObject({ outcome: 'replayed', entry: { id: debitId } });
  expect(refund.json).toMatchObject({ outcome: 'refunded', balance: 100, refundable: 0 });

  const [balance, history, verify, stats] = await Promise.all([
    cliJson([...db, 'balance', 'u1']),
    cli([...db, 'history', 'u1']),
    cli([...db, 'verify']),
    cliJson([...db, 'stats']),
  ]);
  expect(balance.json).toMatchObject({ balance: 100, seq: 3 });
  expect(history.stdout).toContain(debitId);
  expect(history.stdout).toContain('refund');
  expect(verify.code).toBe(0);
  expect(stats.json).toMatchObject({ entries: 3, granted: 100, debited: 30, refunded: 30, outstanding: 100 });
}

describe.concurrent('drizzle-credits CLI', () => {
  it('better-sqlite3 --db: every command and exit code', async () => {
    const dir = tempDir();
    const file = join(dir, 'credits.db');
    await fullTour(['--db', file], ['--db', join(dir, 'never-migrated.db')], file);
  });

  it('libsql --url file:: the same path', async () => {
    const dir = tempDir();
    await libsqlTour(['--url', `file:${join(dir, 'credits.db')}`], ['--url', `file:${join(dir, 'never-migrated.db')}`]);
  });
});
