/**
 * The `drizzle-credits` CLI in-process: `runCli(argv, io)` (src/cli/program.ts) is the
 * program the bin runs, with its output captured instead of printed, against a
 * better-sqlite3 file (--db) and a libSQL file: URL (--url). bin.test.ts runs the compiled
 * bin as a user would, in a few real processes. The CLI runs on the real clock, so what must
 * lapse is given an expiry a few milliseconds ahead and waited for.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import Database from 'better-sqlite3';
import { drizzle } from 'drizzle-orm/better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { isoTime, MAX_DATE_MS } from '../../src/cli/format.js';
import { type CliStream, runCli } from '../../src/cli/program.js';
import { packageVersion } from '../../src/cli/version.js';
import { createLedger, MAX_AMOUNT } from '../../src/index.js';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'drizzle-credits-cli-'));
  dirs.push(d);
  return d;
};

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** A stream that keeps what is written to it (`extra`: e.g. isTTY to pose as a terminal). */
function sink(extra: Partial<CliStream> = {}): { stream: CliStream; text: () => string } {
  let text = '';
  const stream = Object.assign(
    new Writable({
      write(chunk, _encoding, done) {
        text += String(chunk);
        done();
      },
    }),
    extra,
  );
  return { stream, text: () => text };
}

async function cli(args: string[], { stderr = sink() }: { stderr?: ReturnType<typeof sink> } = {}): Promise<Run> {
  const stdout = sink();
  const code = await runCli(args, { stdout: stdout.stream, stderr: stderr.stream });
  return { code, stdout: stdout.text(), stderr: stderr.text() };
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

  // A lot that lapses a few ms from now cannot go through the CLI, which runs on the real
  // clock (a grant must expire after its own now): write it with the library, its clock
  // held at t0, then let the real clock pass the expiry.
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
  expect(dry.json).toEqual({ dryRun: true, ...counts, batches: 0, usageFolded: 0, subscriptionsSettled: 0, expiringNotices: 0 });
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
  expect(swept.json).toEqual({
    dryRun: false,
    ...counts,
    batches: 2,
    usageFolded: expect.any(Number),
    subscriptionsSettled: 0,
    expiringNotices: 0,
  });
  expect(swept.json.usageFolded).toBeGreaterThan(0); // the sweep folds the rollup: nothing had read it

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
  expect(again.json).toEqual({
    dryRun: false,
    lotsExpired: 0,
    creditsExpired: 0,
    holdsExpired: 0,
    creditsReleased: 0,
    batches: 0,
    usageFolded: expect.any(Number),
    subscriptionsSettled: 0,
    expiringNotices: 0,
  });
  expect((expires.json.entries as { delta: number }[]).map((e) => e.delta).sort((a, b) => a - b)).toEqual([-100, 0]);
  expect(verify.code).toBe(0);
}

describe('drizzle-credits CLI', () => {
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

/** A migrated better-sqlite3 file: [--db file] and the file. */
async function migrated(): Promise<{ db: Db; file: string }> {
  const file = join(tempDir(), 'credits.db');
  const r = await cli(['--db', file, 'migrate']);
  expect(r.code, r.stderr).toBe(0);
  return { db: ['--db', file], file };
}

const nothingWritten = async (db: Db) => expect((await cliJson([...db, 'stats'])).json).toMatchObject({ accounts: 0, entries: 0 });

describe('usage errors (exit 64)', () => {
  // Each: argv, then what commander says about it.
  const cases: [string, string[], string][] = [
    ['missing argument', ['grant', 'u1'], "missing required argument 'amount'"],
    ['unknown option', ['grant', 'u1', '5', '--bogus'], "unknown option '--bogus'"],
    ['unknown command', ['frobnicate'], "unknown command 'frobnicate'"],
    ['missing required option', ['expiring', 'u1'], "required option '--within <duration>' not specified"],
    ['option without its value', ['grant', 'u1', '5', '--priority'], "option '--priority <0-100>' argument missing"],
    ['too many arguments', ['balance', 'u1', 'u2'], "too many arguments for 'balance'"],
    ['--db with --url', ['--url', 'file:x.db', '--db', 'y.db', 'stats'], "option '--url <url>' cannot be used with option '--db <file>'"],
  ];

  it.each(cases)('%s: text on stderr, nothing on stdout', async (_name, argv, message) => {
    const r = await cli(argv);
    expect(r.code).toBe(64);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain(`error: ${message}`);
    expect(r.stderr).toContain('(run with --help for usage)');
  });

  it.each(cases)('%s with --json: {"error":{"code":"usage",…}} on stdout, nothing on stderr', async (_name, argv, message) => {
    for (const args of [
      ['--json', ...argv],
      [...argv, '--json'],
    ]) {
      const r = await cli(args);
      expect(r.code, args.join(' ')).toBe(64);
      expect(r.stderr, args.join(' ')).toBe('');
      const doc = JSON.parse(r.stdout) as { error: { code: string; message: string } };
      expect(Object.keys(doc)).toEqual(['error']);
      expect(doc.error.code).toBe('usage');
      expect(doc.error.message.startsWith(message), doc.error.message).toBe(true);
    }
  });

  it('no command: help on stderr, or with --json a usage error on stdout', async () => {
    const text = await cli([]);
    expect(text.code).toBe(64);
    expect(text.stdout).toBe('');
    expect(text.stderr).toContain('Usage: drizzle-credits');
    const json = await cli(['--json']);
    expect(json.code).toBe(64);
    expect(json.stderr).toBe('');
    expect(JSON.parse(json.stdout)).toEqual({ error: { code: 'usage', message: 'no command given' } });
  });

  it('--help and --version are not errors', async () => {
    const [help, subHelp, helpCmd, version, jsonVersion] = [
      await cli(['--help']),
      await cli(['hold', '--help']),
      await cli(['help', 'grant']),
      await cli(['--version']),
      await cli(['--json', '-V']),
    ];
    for (const r of [help, subHelp, helpCmd, version, jsonVersion]) {
      expect(r.code).toBe(0);
      expect(r.stderr).toBe('');
    }
    expect(help.stdout).toContain('Exit codes:');
    expect(help.stdout).toContain('{"error":{"code","message",…}}');
    expect(subHelp.stdout).toContain('--ttl <duration>');
    expect(helpCmd.stdout).toContain('--expires-at <time>');
    expect(version.stdout).toBe(`${packageVersion()}\n`);
    expect(jsonVersion.stdout).toBe(`${packageVersion()}\n`);
  });

  it('`help <command>` is a success whatever process.exitCode holds (commander reads it)', async () => {
    const saved = process.exitCode;
    process.exitCode = 1;
    try {
      const r = await cli(['help', 'grant']);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain('--expires-at <time>');
    } finally {
      process.exitCode = saved;
    }
  });

  it('an unexpected failure (not a database) is exit 70, with --json as {"error":{"code":"internal"}}', async () => {
    const file = join(tempDir(), 'not-a.db');
    writeFileSync(file, 'this is a text file, not an SQLite database, and it is long enough to have a header');
    const [text, json] = [await cli(['--db', file, 'stats']), await cli(['--db', file, '--json', 'stats'])];
    expect(text.code).toBe(70);
    expect(text.stdout).toBe('');
    expect(text.stderr).toBe('error: file is not a database\n');
    expect(json.code).toBe(70);
    expect(json.stderr).toBe('');
    expect(JSON.parse(json.stdout)).toEqual({ error: { code: 'internal', message: 'file is not a database' } });
  });
});

describe('numbers, durations and times: what is accepted, and a true message for what is not', () => {
  const AMOUNT = `amount must be a whole number from 1 to ${MAX_AMOUNT}`;
  const DIGITS = 'write plain decimal digits, e.g. 100: no sign, fraction, exponent, hex or leading zero';
  const DELTA = `delta must be a whole number from -${MAX_AMOUNT} to ${MAX_AMOUNT}, not 0`;
  const SIGNED = 'write plain decimal digits with an optional minus, e.g. 50 or -20: no "+", fraction, exponent, hex or leading zero';
  const PRIORITY = 'priority must be a whole number from 0 (drawn first) to 100';
  const BATCH = 'batchSize must be a whole number from 1 to 5000';
  const LIMIT = 'limit must be a whole number from 1 to 1000';
  const TTL = 'ttlMs must be a duration from 1ms to 30d';
  const WITHIN = 'withinMs must be a duration from 1ms to 3650d';
  const UNITS = 'write milliseconds or a whole number with a unit: 500ms, 30s, 15m, 2h, 7d';
  const EXPIRES =
    'expiresAt must be a time from 0 (1970-01-01T00:00:00.000Z) to 8640000000000000 (+275760-09-13T00:00:00.000Z, the latest a JavaScript date can hold)';
  const ISO =
    'expiresAt must be a valid time (got "{}"; write milliseconds since the epoch or an ISO 8601 date: 2030-01-31 (UTC midnight) or 2030-01-31T12:00:00Z (zone required))';

  /** [argv after the db, error code, field, message]; `{}` in the message is what was typed. */
  const rejected = (argv: (raw: string) => string[], code: string, field: string, table: [string, string][]) =>
    table.map(([raw, message]) => [argv(raw), code, field, message.replace('{}', raw)] as const);
  const cases = [
    ...rejected((a) => ['grant', 'u1', a], 'invalid_amount', 'amount', [
      ['abc', `${AMOUNT} (got "{}"; ${DIGITS})`],
      ['', `${AMOUNT} (got "{}"; ${DIGITS})`],
      ['1.5', `${AMOUNT} (got "{}"; ${DIGITS})`],
      ['0', `${AMOUNT} (got "{}")`],
      ['-5', `${AMOUNT} (got "{}")`],
      ['9007199254740992', `${AMOUNT} (got "{}")`],
      ['9007199254740993', `${AMOUNT} (got "{}")`],
      ['99999999999999999999999', `${AMOUNT} (got "{}")`],
      ['1e3', `${AMOUNT} (got "{}"; ${DIGITS})`],
      ['0x10', `${AMOUNT} (got "{}"; ${DIGITS})`],
      ['+5', `${AMOUNT} (got "{}"; ${DIGITS})`],
      ['007', `${AMOUNT} (got "{}"; ${DIGITS})`],
    ]),
    ...rejected((a) => ['debit', 'u1', a], 'invalid_amount', 'amount', [['1e3', `${AMOUNT} (got "{}"; ${DIGITS})`]]),
    ...rejected((a) => ['hold', 'u1', a], 'invalid_amount', 'amount', [['0', `${AMOUNT} (got "{}")`]]),
    ...rejected((a) => ['refund', '01NOSUCHENTRY000000000000', a], 'invalid_amount', 'amount', [['-1', `${AMOUNT} (got "{}")`]]),
    ...rejected((a) => ['capture', '01NOSUCHHOLD0000000000000', a], 'invalid_amount', 'amount', [
      ['9007199254740993', `${AMOUNT} (got "{}")`],
    ]),
    ...rejected((a) => ['adjust', 'u1', a, '--reason', 'r'], 'invalid_amount', 'delta', [
      ['abc', `${DELTA} (got "{}"; ${SIGNED})`],
      ['2.5', `${DELTA} (got "{}"; ${SIGNED})`],
      ['0', `${DELTA} (got "{}")`],
      ['-0', `${DELTA} (got "{}"; ${SIGNED})`],
      ['9007199254740993', `${DELTA} (got "{}")`],
      ['-9007199254740993', `${DELTA} (got "{}")`],
      ['-1e3', `${DELTA} (got "{}"; ${SIGNED})`],
      ['0x10', `${DELTA} (got "{}"; ${SIGNED})`],
      ['+5', `${DELTA} (got "{}"; ${SIGNED})`],
    ]),
    ...rejected((a) => ['grant', 'u1', '5', '--priority', a], 'invalid_argument', 'priority', [
      ['high', `${PRIORITY} (got "{}"; ${DIGITS})`],
      ['1.5', `${PRIORITY} (got "{}"; ${DIGITS})`],
      ['-1', `${PRIORITY} (got "{}")`],
      ['101', `${PRIORITY} (got "{}")`],
      ['9007199254740993', `${PRIORITY} (got "{}")`],
      ['1e1', `${PRIORITY} (got "{}"; ${DIGITS})`],
      ['0xa', `${PRIORITY} (got "{}"; ${DIGITS})`],
    ]),
    ...rejected((a) => ['sweep', '--batch-size', a], 'invalid_argument', 'batchSize', [
      ['x', `${BATCH} (got "{}"; ${DIGITS})`],
      ['2.5', `${BATCH} (got "{}"; ${DIGITS})`],
      ['0', `${BATCH} (got "{}")`],
      ['-3', `${BATCH} (got "{}")`],
      ['5001', `${BATCH} (got "{}")`],
      ['9007199254740993', `${BATCH} (got "{}")`],
      ['1e2', `${BATCH} (got "{}"; ${DIGITS})`],
    ]),
    ...rejected((a) => ['history', 'u1', '--limit', a], 'invalid_argument', 'limit', [
      ['all', `${LIMIT} (got "{}"; ${DIGITS})`],
      ['0.5', `${LIMIT} (got "{}"; ${DIGITS})`],
      ['0', `${LIMIT} (got "{}")`],
      ['1001', `${LIMIT} (got "{}")`],
      ['9007199254740993', `${LIMIT} (got "{}")`],
      ['0x10', `${LIMIT} (got "{}"; ${DIGITS})`],
    ]),
    ...rejected((a) => ['hold', 'u1', '5', '--ttl', a], 'invalid_argument', 'ttlMs', [
      ['soon', `${TTL} (got "{}"; ${UNITS})`],
      ['1.5h', `${TTL} (got "{}"; ${UNITS})`],
      ['0', `${TTL} (got "{}")`],
      ['0s', `${TTL} (got "{}")`],
      ['-5m', `${TTL} (got "{}"; ${UNITS})`],
      ['31d', `${TTL} (got "{}")`],
      ['9007199254740993', `${TTL} (got "{}")`],
      ['1e3', `${TTL} (got "{}"; ${UNITS})`],
      ['1w', `${TTL} (got "{}"; ${UNITS})`],
    ]),
    ...rejected((a) => ['extend', '01NOSUCHHOLD0000000000000', '--ttl', a], 'invalid_argument', 'ttlMs', [
      ['2 h', `${TTL} (got "{}"; ${UNITS})`],
    ]),
    ...rejected((a) => ['expiring', 'u1', '--within', a], 'invalid_argument', 'withinMs', [
      ['week', `${WITHIN} (got "{}"; ${UNITS})`],
      ['0', `${WITHIN} (got "{}")`],
      ['3651d', `${WITHIN} (got "{}")`],
      ['0x10', `${WITHIN} (got "{}"; ${UNITS})`],
    ]),
    ...rejected((a) => ['grant', 'u1', '5', '--expires-at', a], 'invalid_argument', 'expiresAt', [
      ['tomorrow', ISO],
      ['2099-02-30', ISO],
      ['2099-01-01T00:00', ISO],
      ['1.5', ISO],
      ['1e15', ISO],
      ['0x10', ISO],
      ['-1', `${EXPIRES} (got "{}")`],
      ['8640000000000001', `${EXPIRES} (got "{}")`],
      ['9007199254740993', `${EXPIRES} (got "{}")`],
      ['0', 'grant: expiresAt 0 is not after now'],
    ]),
  ];

  it('each is rejected with its code, field and message, text and --json, and nothing is written', async () => {
    const { db } = await migrated();
    for (const [argv, code, field, message] of cases) {
      const where = argv.map((a) => JSON.stringify(a)).join(' ');
      const json = await cliJson([...db, ...argv]);
      expect(json.code, where).toBe(2);
      expect(json.stderr, where).toBe('');
      const error = (json.json as { error: { code: string; message: string; details: { field: string } } }).error;
      expect(error.code, where).toBe(code);
      expect(error.details.field, where).toBe(field);
      // The ledger's own message names its clock's now, which moves between the two runs.
      const dated = message.endsWith('not after now');
      if (dated) expect(error.message, where).toContain(message);
      else expect(error.message, where).toBe(message);
      const text = await cli([...db, ...argv]);
      expect(text.code, where).toBe(2);
      expect(text.stdout, where).toBe('');
      if (dated) expect(text.stderr, where).toMatch(new RegExp(`^error \\[${code}\\]: ${message} \\(\\d+\\) \\(got "0"\\)\\n$`));
      else expect(text.stderr, where).toBe(`error [${code}]: ${message}\n`);
    }
    await nothingWritten(db);
  });

  it('the limits themselves are accepted', async () => {
    const { db } = await migrated();
    const ok = async (argv: string[]) => {
      const r = await cliJson([...db, ...argv]);
      expect(r.code, `${argv.join(' ')}: ${r.stdout}`).toBe(0);
      return r.json;
    };
    expect(await ok(['grant', 'u1', String(MAX_AMOUNT)])).toMatchObject({ balance: MAX_AMOUNT });
    expect(await ok(['adjust', 'u1', `-${MAX_AMOUNT}`, '--reason', 'back to zero'])).toMatchObject({ balance: 0 });
    expect(await ok(['adjust', 'u1', '1', '--reason', 'one'])).toMatchObject({ balance: 1 });
    expect(await ok(['grant', 'u1', '1', '--priority', '0'])).toMatchObject({ entry: { priority: 0 } });
    expect(await ok(['grant', 'u1', '1', '--priority', '100'])).toMatchObject({ entry: { priority: 100 } });
    expect(await ok(['grant', 'u1', '1', '--expires-at', String(MAX_DATE_MS)])).toMatchObject({ entry: { expiresAt: MAX_DATE_MS } });
    expect(await ok(['grant', 'u1', '1', '--expires-at', '9999-12-31T23:59:59.999Z'])).toMatchObject({
      entry: { expiresAt: Date.UTC(9999, 11, 31, 23, 59, 59, 999) },
    });
    expect(await ok(['hold', 'u1', '1', '--ttl', '30d'])).toMatchObject({ outcome: 'held' });
    expect(await ok(['hold', 'u1', '1', '--ttl', '1'])).toMatchObject({ outcome: 'held' });
    const inAYear = Date.now() + 365 * 86_400_000;
    expect(await ok(['grant', 'u1', '1', '--expires-at', String(inAYear)])).toMatchObject({ entry: { expiresAt: inAYear } });
    expect(await ok(['expiring', 'u1', '--within', '3650d'])).toMatchObject([{ expiresAt: inAYear }]);
    expect(await ok(['expiring', 'u1', '--within', '1'])).toEqual([]);
    expect(await ok(['history', 'u1', '--limit', '1000'])).toMatchObject({ nextCursor: null });
    expect(await ok(['history', 'u1', '--limit', '1'])).toMatchObject({ nextCursor: expect.any(String) });
    expect(await ok(['sweep', '--batch-size', '5000'])).toMatchObject({ dryRun: false });
    expect(await ok(['sweep', '--batch-size', '1'])).toMatchObject({ dryRun: false });
  });
});

describe('expiries no JavaScript date can show (beyond 8640000000000000 ms)', () => {
  it('grant --expires-at beyond it is refused before anything is written (exit 2, invalid_argument)', async () => {
    const { db } = await migrated();
    const text = await cli([...db, 'grant', 'u1', '5', '--expires-at', '8640000000000001']);
    expect(text.code).toBe(2);
    expect(text.stdout).toBe('');
    expect(text.stderr).toMatch(/^error \[invalid_argument\]: expiresAt must be a time from 0 .* \(got "8640000000000001"\)\n$/);
    const json = await cliJson([...db, 'grant', 'u1', '5', '--expires-at', '8640000000000001', '--idempotency-key', 'k']);
    expect(json.code).toBe(2);
    expect(json.json).toMatchObject({ error: { code: 'invalid_argument', details: { field: 'expiresAt' } } });
    await nothingWritten(db);

    // The last one that can be shown is written and shown.
    const last = await cli([...db, 'grant', 'u1', '5', '--expires-at', '8640000000000000']);
    expect(last.code).toBe(0);
    expect(last.stdout).toMatch(/lot expires\s*│\s*\+275760-09-13T00:00:00\.000Z/);
  });

  it('lots and history list such rows written through the library: the raw number, text and --json', async () => {
    const { db, file } = await migrated();
    const client = new Database(file);
    const ledger = createLedger(drizzle(client));
    // The library takes any integer time up to 2^53-1.
    const beyond = await ledger.grant({ account: 'u1', amount: 7, expiresAt: MAX_DATE_MS + 1 });
    const max = await ledger.grant({ account: 'u1', amount: 9, expiresAt: MAX_AMOUNT, priority: 10, reason: 'far' });
    client.close();
    expect(beyond.entry.expiresAt).toBe(MAX_DATE_MS + 1);
    expect(max.entry.expiresAt).toBe(MAX_AMOUNT);

    const [lotsText, lotsJson, historyText, historyJson] = [
      await cli([...db, 'lots', 'u1']),
      await cliJson([...db, 'lots', 'u1']),
      await cli([...db, 'history', 'u1']),
      await cliJson([...db, 'history', 'u1']),
    ];
    expect(lotsText.code, lotsText.stderr).toBe(0);
    expect(lotsText.stderr).toBe('');
    expect(lotsText.stdout).toMatch(new RegExp(`${max.entry.id} │\\s+10 │ ${MAX_AMOUNT}\\s+│\\s+9/9`));
    expect(lotsText.stdout).toMatch(new RegExp(`${beyond.entry.id} │\\s+50 │ ${MAX_DATE_MS + 1}\\s+│\\s+7/7`));
    expect(lotsJson.code).toBe(0);
    expect(lotsJson.json).toMatchObject([
      { id: max.entry.id, expiresAt: MAX_AMOUNT, remaining: 9 },
      { id: beyond.entry.id, expiresAt: MAX_DATE_MS + 1, remaining: 7 },
    ]);
    expect(historyText.code, historyText.stderr).toBe(0);
    expect(historyText.stderr).toBe('');
    for (const s of [beyond.entry.id, max.entry.id, 'far']) expect(historyText.stdout).toContain(s);
    expect(historyJson.code).toBe(0);
    expect(historyJson.json).toMatchObject({
      entries: [
        { id: max.entry.id, expiresAt: MAX_AMOUNT },
        { id: beyond.entry.id, expiresAt: MAX_DATE_MS + 1 },
      ],
    });
  });

  it('isoTime is total: what no Date can hold prints as the raw number', () => {
    expect(isoTime(0)).toBe('1970-01-01T00:00:00.000Z');
    expect(isoTime(MAX_DATE_MS)).toBe('+275760-09-13T00:00:00.000Z');
    expect(isoTime(-MAX_DATE_MS)).toBe('-271821-04-20T00:00:00.000Z');
    expect(isoTime(MAX_DATE_MS + 1)).toBe('8640000000000001');
    expect(isoTime(-MAX_DATE_MS - 1)).toBe('-8640000000000001');
    expect(isoTime(MAX_AMOUNT)).toBe('9007199254740991');
    expect(isoTime(Number.NaN)).toBe('NaN');
    expect(isoTime(Number.POSITIVE_INFINITY)).toBe('Infinity');
  });
});

describe('sweep progress bar wiring', () => {
  /** A migrated file with two lots that have lapsed. */
  async function lapsed(): Promise<Db> {
    const { db, file } = await migrated();
    const t0 = Date.now();
    const client = new Database(file);
    const ledger = createLedger(drizzle(client), { clock: () => t0 });
    for (const account of ['u1', 'u2']) await ledger.grant({ account, amount: 10, expiresAt: t0 + 5 });
    client.close();
    await sleep(Math.max(0, t0 + 20 - Date.now()));
    return db;
  }
  const terminal = () => sink({ isTTY: true, columns: 160 });

  it('drawn on stderr when it is a terminal', async () => {
    const drawn = await cli([...(await lapsed()), 'sweep', '--batch-size', '1'], { stderr: terminal() });
    expect(drawn.code).toBe(0);
    expect(drawn.stdout).toMatch(/lots expired\s*│\s*2 /);
    expect(drawn.stderr).toContain('2/2 lots+holds');
  });

  it('not with --json, nor when stderr is not a terminal', async () => {
    const asJson = await cli([...(await lapsed()), '--json', 'sweep', '--batch-size', '1'], { stderr: terminal() });
    expect(asJson.code).toBe(0);
    expect(JSON.parse(asJson.stdout)).toMatchObject({ lotsExpired: 2, batches: 2 });
    expect(asJson.stderr).toBe('');
    const piped = await cli([...(await lapsed()), 'sweep', '--batch-size', '1']);
    expect(piped.code).toBe(0);
    expect(piped.stdout).toMatch(/lots expired\s*│\s*2 /);
    expect(piped.stderr).toBe('');
  });
});

describe('digest and verify --digest', () => {
  it('a digest taken by the CLI proves the log unchanged, and catches an edit behind the library (exit 3)', async () => {
    const { db, file } = await migrated();
    expect((await cli([...db, 'grant', 'u1', '50', '--idempotency-key', 'g1'])).code).toBe(0);
    expect((await cli([...db, 'debit', 'u1', '20', '--key-id', 'key_1'])).code).toBe(0);
    const d = await cliJson([...db, 'digest']);
    expect(d.code).toBe(0);
    expect(d.json).toMatchObject({ entries: 2, through: 2 });
    const digest = String(d.json.digest);
    const text = await cli([...db, 'digest']);
    expect(text.stdout).toContain(digest);
    expect((await cli([...db, 'verify', '--digest', digest])).code).toBe(0);
    // A key id rewritten behind the library: the replay cannot see it, the digest can.
    const c = new Database(file);
    c.prepare("UPDATE credit_entry SET key_id = 'key_2' WHERE key_id = 'key_1'").run();
    c.close();
    expect((await cli([...db, 'verify'])).code).toBe(0);
    const bad = await cliJson([...db, 'verify', '--digest', digest]);
    expect(bad.code).toBe(3);
    expect(bad.json).toMatchObject({ ok: false, problems: [expect.objectContaining({ code: 'digest_mismatch' })] });
    const malformed = await cliJson([...db, 'verify', '--digest', 'nope']);
    expect(malformed.code).toBe(2);
    expect(malformed.json).toMatchObject({ error: { code: 'invalid_argument' } });
  });
});

describe('--id-prefix', () => {
  it("names entries with the app's prefix and finds them by it; a bad prefix is invalid_argument", async () => {
    const { db } = await migrated();
    const p = [...db, '--id-prefix', 'eu1_'];
    expect((await cli([...p, 'grant', 'u1', '50'])).code).toBe(0);
    const d = await cliJson([...p, 'debit', 'u1', '20']);
    expect(d.json).toMatchObject({ outcome: 'debited', entry: { id: 'eu1_2' } });
    expect((await cliJson([...p, 'refund', 'eu1_2', '5'])).json).toMatchObject({ outcome: 'refunded', entry: { ref: 'eu1_2' } });
    expect((await cliJson([...db, 'refund', 'eu1_2', '5'])).json).toMatchObject({ error: { code: 'not_found' } });
    const bad = await cliJson([...db, '--id-prefix', '1x', 'balance', 'u1']);
    expect(bad.code).toBe(2);
    expect(bad.json).toMatchObject({ error: { code: 'invalid_argument' } });
  });
});
