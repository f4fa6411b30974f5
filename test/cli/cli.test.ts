/**
 * The `drizzle-credits` CLI as a user runs it: a real process per command, against a
 * better-sqlite3 file (--db) and a libSQL file: URL (--url). The sources are transpiled to
 * JavaScript once (as `npm run build` would, without the type check) and every command runs
 * on plain node: the same code as under tsx at less than half the start-up cost per process.
 * Commands that do not depend on each other run in parallel to keep the suite short. The
 * CLI runs on the real clock, so what must lapse is given an expiry a few milliseconds
 * ahead and waited for.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { drizzle } from 'drizzle-orm/better-sqlite3';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLedger } from '../../src/index.js';

const ROOT = resolve(import.meta.dirname, '../..');

/**
 * src/**\/*.ts → <ROOT>/.tmp/cli-…/src/**\/*.js. Inside the checkout, so the package's
 * dependencies resolve from its node_modules and the CLI finds its package.json (version).
 */
function transpileSources(): { main: string; dir: string } {
  mkdirSync(join(ROOT, '.tmp'), { recursive: true });
  const dir = mkdtempSync(join(ROOT, '.tmp', 'cli-'));
  const files = readdirSync(join(ROOT, 'src'), { recursive: true, encoding: 'utf8' });
  for (const rel of files.filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))) {
    const { outputText } = ts.transpileModule(readFileSync(join(ROOT, 'src', rel), 'utf8'), {
      fileName: rel,
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, verbatimModuleSyntax: true },
    });
    const out = join(dir, 'src', rel.replace(/\.ts$/, '.js'));
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(out, outputText);
  }
  return { main: join(dir, 'src/cli/main.js'), dir };
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

let MAIN = '';
beforeAll(() => {
  const built = transpileSources();
  MAIN = built.main;
  dirs.push(built.dir);
});

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function cli(args: string[]): Promise<Run> {
  return new Promise((res, rej) => {
    const child = spawn(process.execPath, [MAIN, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
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

const HOUR = 3_600_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const idOf = (r: { json: Record<string, unknown> }, key = 'entry') => (r.json[key] as { id: string }).id;

/** Lots (grant --expires-at/--priority), holds, capture, release, extend, allocations, rebuild. */
async function holdsAndLotsTour(db: Db, file: string): Promise<void> {
  const [migrated, help, noWithin] = await Promise.all([cli([...db, 'migrate']), cli(['hold', '--help']), cli([...db, 'expiring', 'u1'])]);
  expect(migrated.code).toBe(0);
  expect(help.code).toBe(0);
  expect(help.stdout).toContain('--ttl <duration>');
  expect(noWithin.code).toBe(64);
  expect(noWithin.stderr).toContain("required option '--within <duration>' not specified");

  // Lots in every flavour, given out of drawdown order; strictly rejected expiries and priorities.
  const inTwoHours = Date.now() + 2 * HOUR;
  const [never90, far10, soon, plain, badDate, zoneless, badPriority, outOfRange] = await Promise.all([
    cliJson([...db, 'grant', 'u1', '30', '--priority', '90']),
    cliJson([...db, 'grant', 'u1', '100', '--priority', '10', '--expires-at', '2099-01-01T00:00:00Z', '--reason', 'trial']),
    cliJson([...db, 'grant', 'u1', '50', '--expires-at', String(inTwoHours)]),
    cliJson([...db, 'grant', 'u1', '20']),
    cli([...db, 'grant', 'u1', '5', '--expires-at', '2099-02-30']),
    cliJson([...db, 'grant', 'u1', '5', '--expires-at', '2099-01-01T00:00']),
    cli([...db, 'grant', 'u1', '5', '--priority', '1.5']),
    cliJson([...db, 'grant', 'u1', '5', '--priority', '101']),
  ]);
  expect(far10.json).toMatchObject({ outcome: 'granted', entry: { priority: 10, expiresAt: Date.UTC(2099, 0, 1), reason: 'trial' } });
  expect(soon.json).toMatchObject({ outcome: 'granted', entry: { priority: 50, expiresAt: inTwoHours } });
  expect(never90.json).toMatchObject({ entry: { priority: 90, expiresAt: null } });
  expect(plain.json).toMatchObject({ entry: { priority: null, expiresAt: null } });
  expect(badDate.code).toBe(2);
  expect(badDate.stderr).toMatch(/^error \[invalid_argument\]: .*"2099-02-30".*ISO 8601/);
  expect(zoneless.json).toMatchObject({ error: { code: 'invalid_argument', details: { field: 'expiresAt' } } });
  expect(badPriority.code).toBe(2);
  expect(badPriority.stderr).toMatch(/^error \[invalid_argument\]: .*priority.*"1\.5"/);
  expect(outOfRange.code).toBe(2);
  expect(outOfRange.json).toMatchObject({ error: { code: 'invalid_argument', details: { field: 'priority' } } });
  const [lotFar, lotSoon, lotNever] = [idOf(far10), idOf(soon), idOf(never90)];

  // Drawdown order, expiring windows, a hold and the ways a hold is refused.
  const [lotsText, lotsJson, within3h, tooFar, held, short, badTtl] = await Promise.all([
    cli([...db, 'lots', 'u1']),
    cliJson([...db, 'lots', 'u1']),
    cliJson([...db, 'expiring', 'u1', '--within', '3h']),
    cliJson([...db, 'expiring', 'u1', '--within', '100000d']),
    cliJson([...db, 'hold', 'u1', '60', '--ttl', '15m', '--idempotency-key', 'h1', '--model', 'm1', '--key-id', 'k1']),
    cli([...db, 'hold', 'u1', '100000']),
    cli([...db, 'hold', 'u1', '5', '--ttl', '2x']),
  ]);
  expect(lotsText.code).toBe(0);
  const positions = [lotFar, lotSoon, lotNever].map((id) => lotsText.stdout.indexOf(id));
  expect(positions.every((p) => p >= 0)).toBe(true);
  expect([...positions].sort((a, b) => a - b)).toEqual(positions);
  for (const s of ['2099-01-01T00:00:00.000Z', new Date(inTwoHours).toISOString(), 'never', '100/100', '50/50', 'priority'])
    expect(lotsText.stdout).toContain(s);
  expect(lotsJson.json).toMatchObject([
    { id: lotFar, priority: 10, remaining: 100 },
    { id: lotSoon, priority: 50, remaining: 50 },
    { id: lotNever, priority: 90, expiresAt: null },
  ]);
  expect(within3h.json).toMatchObject([{ id: lotSoon, remaining: 50 }]);
  expect((within3h.json as unknown as unknown[]).length).toBe(1);
  expect(tooFar.code).toBe(2);
  expect(tooFar.json).toMatchObject({ error: { code: 'invalid_argument', details: { field: 'withinMs' } } });
  expect(held.code).toBe(0);
  expect(held.json).toMatchObject({ outcome: 'held', balance: 200, available: 140, hold: { amount: 60, status: 'open' } });
  const holdId = idOf(held, 'hold');
  const heldUntil = (held.json.hold as { expiresAt: number }).expiresAt;
  expect(short.code).toBe(1);
  expect(short.stdout).toContain('insufficient (nothing held)');
  expect(badTtl.code).toBe(2);
  expect(badTtl.stderr).toMatch(/^error \[invalid_argument\]: .*ttlMs.*"2x".*30s, 15m, 2h/);

  const [holdsText, holdsJson, holdReplay, extended, balance] = await Promise.all([
    cli([...db, 'holds', 'u1']),
    cliJson([...db, 'holds', 'u1']),
    cliJson([...db, 'hold', 'u1', '60', '--ttl', '15m', '--idempotency-key', 'h1', '--model', 'm1', '--key-id', 'k1']),
    cliJson([...db, 'extend', holdId, '--ttl', '30m']),
    cliJson([...db, 'balance', 'u1']),
  ]);
  expect(holdsText.code).toBe(0);
  expect(holdsText.stdout).toContain(holdId);
  expect(holdsText.stdout).toMatch(/│\s+60 │/);
  expect(holdsJson.json).toMatchObject([{ id: holdId, amount: 60 }]);
  expect(holdReplay.json).toMatchObject({ outcome: 'replayed', hold: { id: holdId } });
  expect(extended.json).toMatchObject({ outcome: 'extended', hold: { id: holdId, status: 'open' } });
  expect((extended.json.hold as { expiresAt: number }).expiresAt).toBeGreaterThan(heldUntil);
  expect(balance.json).toMatchObject({ balance: 200, held: 60, available: 140 });

  const captured = await cliJson([...db, 'capture', holdId, '40', '--idempotency-key', 'c1', '--reason', 'job done']);
  expect(captured.code).toBe(0);
  expect(captured.json).toMatchObject({
    outcome: 'captured',
    released: 20,
    balance: 160,
    available: 160,
    entry: { kind: 'capture', amount: 40, ref: holdId, model: 'm1', keyId: 'k1' },
  });
  const captureId = idOf(captured);

  // The hold is closed: retries replay; release and extend are refused; allocations show the draw.
  const [again, againText, releaseText, releaseJson, extendClosed, unknown, allocText, allocJson, openHolds, lotsAfter] = await Promise.all(
    [
      cliJson([...db, 'capture', holdId, '40', '--idempotency-key', 'c1', '--reason', 'job done']),
      cli([...db, 'capture', holdId, '40']),
      cli([...db, 'release', holdId]),
      cliJson([...db, 'release', holdId]),
      cliJson([...db, 'extend', holdId, '--ttl', '1h']),
      cliJson([...db, 'capture', '01NOSUCHHOLD0000000000000']),
      cli([...db, 'allocations', captureId]),
      cliJson([...db, 'allocations', captureId]),
      cliJson([...db, 'holds', 'u1']),
      cliJson([...db, 'lots', 'u1']),
    ],
  );
  expect(again.code).toBe(0);
  expect(again.json).toMatchObject({ outcome: 'replayed', entry: { id: captureId }, released: 20 });
  expect(againText.code).toBe(0);
  expect(againText.stdout).toMatch(/outcome\s*│\s*replayed/);
  expect(releaseText.code).toBe(2);
  expect(releaseText.stderr).toMatch(/^error \[hold_closed\]: /);
  expect(releaseJson.json).toMatchObject({ error: { code: 'hold_closed', details: { status: 'captured', resolvedBy: captureId } } });
  expect(extendClosed.code).toBe(2);
  expect(extendClosed.json).toMatchObject({ error: { code: 'hold_closed' } });
  expect(unknown.code).toBe(2);
  expect(unknown.json).toMatchObject({ error: { code: 'not_found' } });
  expect(allocText.stdout).toContain(lotFar);
  expect(allocJson.json).toEqual([{ entryId: captureId, lotId: lotFar, amount: 40, ord: 1 }]);
  expect(openHolds.json).toEqual([]);
  expect(lotsAfter.json).toMatchObject([{ id: lotFar, remaining: 60 }, { id: lotSoon }, { id: lotNever }]);

  const rebuilt = await cliJson([...db, 'rebuild']);
  expect(rebuilt.code).toBe(0);
  expect(rebuilt.json).toMatchObject({ lots: 3, holds: 1, allocations: 1, problems: [] });
  const [verify, lotsRebuilt, rebuiltText] = await Promise.all([
    cli([...db, 'verify']),
    cliJson([...db, 'lots', 'u1']),
    cli([...db, 'rebuild']),
  ]);
  expect(verify.code).toBe(0);
  expect(lotsRebuilt.json).toEqual(lotsAfter.json);
  expect(rebuiltText.code).toBe(0);
  expect(rebuiltText.stdout).toMatch(/verdict\s*│\s*ok/);

  // A log edited behind the ledger's back: rebuild re-derives what it can and exits 3.
  const raw = new Database(file);
  raw.prepare('UPDATE credit_entry SET balance = 999 WHERE account = ? AND seq = 2').run('u1');
  raw.close();
  const tampered = await cliJson([...db, 'rebuild']);
  expect(tampered.code).toBe(3);
  expect(tampered.json.problems).toEqual(expect.arrayContaining([expect.objectContaining({ code: 'balance_mismatch', account: 'u1' })]));
}

/** Lots and holds that lapse in real time; sweep --dry-run, sweep, sweep again. */
async function sweepTour(db: Db, file: string): Promise<void> {
  expect((await cli([...db, 'migrate'])).code).toBe(0);

  // A lot that lapses a few ms from now cannot go through a CLI process (it starts slower
  // than that, and a grant must expire after its own now): write it with the library, its
  // clock held at t0, then let the real clock pass the expiry.
  const t0 = Date.now();
  const client = new Database(file);
  const ledger = createLedger(drizzle(client), { clock: () => t0 });
  await ledger.grant({ account: 'u1', amount: 100, expiresAt: t0 + 5, reason: 'lapses' });
  await ledger.grant({ account: 'u1', amount: 10 });
  await ledger.grant({ account: 'u2', amount: 50, expiresAt: t0 + 48 * HOUR });
  client.close();
  await sleep(Math.max(0, t0 + 50 - Date.now()));

  const [h1, h2] = await Promise.all([
    cliJson([...db, 'hold', 'u1', '5', '--ttl', '1ms']),
    cliJson([...db, 'hold', 'u2', '10', '--ttl', '1']),
  ]);
  expect(h1.json).toMatchObject({ outcome: 'held', balance: 10 });
  expect(h2.json).toMatchObject({ outcome: 'held', balance: 50 });
  await sleep(50);

  const [lapsed, week, day, dry, dryText, balance, zeroBatch, badBatch, late] = await Promise.all([
    cliJson([...db, 'expiring', 'u1', '--within', '7d']),
    cliJson([...db, 'expiring', 'u2', '--within', '7d']),
    cli([...db, 'expiring', 'u2', '--within', '1d']),
    cliJson([...db, 'sweep', '--dry-run']),
    cli([...db, 'sweep', '--dry-run']),
    cliJson([...db, 'balance', 'u1']),
    cliJson([...db, 'sweep', '--batch-size', '0']),
    cli([...db, 'sweep', '--batch-size', 'x']),
    cliJson([...db, 'capture', idOf(h1, 'hold')]),
  ]);
  expect(lapsed.json).toEqual([]);
  expect(week.json).toMatchObject([{ account: 'u2', remaining: 50 }]);
  expect(day.code).toBe(0);
  expect(day.stdout).toContain('no lots of u2 expire within 1d');
  const counts = { lotsExpired: 1, creditsExpired: 100, holdsExpired: 2, creditsReleased: 15 };
  expect(dry.json).toEqual({ dryRun: true, ...counts, batches: 0 });
  expect(dryText.stdout).toMatch(/lots would expire\s*│\s*1/);
  expect(dryText.stderr).toBe('');
  expect(balance.json).toMatchObject({ balance: 10, held: 0, available: 10 });
  expect(zeroBatch.code).toBe(2);
  expect(zeroBatch.json).toMatchObject({ error: { code: 'invalid_argument', details: { field: 'batchSize' } } });
  expect(badBatch.code).toBe(2);
  expect(badBatch.stderr).toMatch(/^error \[invalid_argument\]: .*batchSize.*"x"/);
  expect(late.code).toBe(2);
  expect(late.json).toMatchObject({ error: { code: 'hold_expired' } });

  const swept = await cliJson([...db, 'sweep', '--batch-size', '1']);
  expect(swept.code).toBe(0);
  expect(swept.json).toEqual({ dryRun: false, ...counts, batches: 2 });

  // One more hold lapses; swept in text mode with stderr not a terminal: no progress bar.
  expect((await cliJson([...db, 'hold', 'u2', '3', '--ttl', '1ms'])).json).toMatchObject({ outcome: 'held' });
  await sleep(20);
  const swept2 = await cli([...db, 'sweep', '--batch-size', '1']);
  expect(swept2.code).toBe(0);
  expect(swept2.stdout).toMatch(/holds expired\s*│\s*1 /);
  expect(swept2.stdout).toMatch(/credits released\s*│\s*3 /);
  expect(swept2.stderr).toBe('');

  const [again, expires, verify] = await Promise.all([
    cliJson([...db, 'sweep']),
    cliJson([...db, 'history', 'u1', '--kinds', 'expire']),
    cli([...db, 'verify']),
  ]);
  expect(again.json).toEqual({ dryRun: false, lotsExpired: 0, creditsExpired: 0, holdsExpired: 0, creditsReleased: 0, batches: 0 });
  expect((expires.json.entries as { delta: number }[]).map((e) => e.delta).sort((a, b) => a - b)).toEqual([-100, 0]);
  expect(verify.code).toBe(0);
}

describe.concurrent('drizzle-credits CLI', () => {
  it('holds, lots, allocations and rebuild', async () => {
    const file = join(tempDir(), 'credits.db');
    await holdsAndLotsTour(['--db', file], file);
  });

  it('sweep: lapsed lots and holds in real time', async () => {
    const file = join(tempDir(), 'credits.db');
    await sweepTour(['--db', file], file);
  });

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
