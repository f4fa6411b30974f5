/**
 * Hostile conditions: the database file, not the caller, misbehaves.
 * - read-only: a read-only connection (better-sqlite3 `readonly: true`; libSQL
 *   `PRAGMA query_only`, since @libsql/client 0.15 rejects `file:…?mode=ro`), and a file whose
 *   permissions forbid writing (0444 in a 0555 directory, run as an unprivileged user when
 *   the suite runs as root, where chmod alone stops nothing) → writes throw `readonly`, reads
 *   work, nothing changes;
 * - full disk: `PRAGMA max_page_count` just above the page count (SQLITE_FULL), raised a page
 *   at a time → `storage_full`, nothing half-written, the same idempotent call succeeds
 *   once there is room;
 * - corrupted file: a copy with its header, a page or scattered bytes overwritten, or cut
 *   short, opened in a child process (so a driver crash cannot take the runner down) → a
 *   clear error, no hang, no crash;
 * - a foreign `credit_entry` table, a database migrated by a newer version, no schema.
 * Findings of docs/reliability-inputs.md that were fixed in src/ have regression tests here
 * (8, 10, 11); finding 9, a libSQL driver crash, is pinned as `it.fails`: it states the
 * correct behaviour and starts failing once the driver is fixed.
 */
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient } from '@libsql/client';
import Database from 'better-sqlite3';
import { drizzle as drizzleBetter } from 'drizzle-orm/better-sqlite3';
import { drizzle as drizzleLibsql } from 'drizzle-orm/libsql';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLedger, ERROR_CODES, type Ledger, LedgerError, MIGRATIONS_TABLE } from '../../src/index.js';
import { DRIVERS, manualClock, posOf, type TestDb } from '../support/drivers.js';
import { everyCall } from '../support/every-call.js';
import {
  type ChildRun,
  CLEAR_CORRUPTION,
  CORRUPTIONS,
  corruptCopy,
  fileBytes,
  ROOT,
  runChild,
  type Seeded,
  seedLedgerFile,
  TSX,
} from './support/hostile-files.js';
import { ledgerSnapshot, snapshotDiff } from './support/input-snapshot.js';

const FULL = process.env.RELIABILITY === 'full';
const CODES = new Set<string>(ERROR_CODES);
const T0 = 1_800_000_000_000;
const HOUR = 3_600_000;

const dirs: string[] = [];
const tempDir = (prefix = 'drizzle-credits-hostile-') => {
  const d = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(d);
  return d;
};
/** Makes every directory under `d` writable again (the permission tests leave 0555 ones). */
function unlock(d: string): void {
  try {
    chmodSync(d, 0o755);
    for (const e of readdirSync(d, { withFileTypes: true })) if (e.isDirectory()) unlock(join(d, e.name));
  } catch {
    // already gone
  }
}
afterAll(() => {
  for (const d of dirs) {
    unlock(d);
    rmSync(d, { recursive: true, force: true });
  }
});

/** Resolves to the error a call threw, or fails the test if it returned. */
async function thrown(call: () => Promise<unknown>): Promise<unknown> {
  return call().then(
    (v) => expect.fail(`expected an error, got ${fc.stringify(v).slice(0, 300)}`),
    (e: unknown) => e,
  );
}

function expectCode(e: unknown, code: string): void {
  expect(e, String(e)).toBeInstanceOf(LedgerError);
  expect((e as LedgerError).code, (e as Error).message).toBe(code);
}

/** A TestDb over a raw better-sqlite3 or libSQL connection (for snapshots of connections we opened ourselves). */
function rawBetter(client: Database.Database, ledger: Ledger): TestDb {
  return {
    name: 'better-sqlite3',
    ledger,
    all: async (sql, args = []) => {
      const s = client.prepare(sql);
      if (s.reader) return s.all(...args) as Record<string, unknown>[];
      s.run(...args);
      return [];
    },
    exec: async (sql) => void client.exec(sql),
    close: async () => void client.close(),
  };
}
function rawLibsql(client: ReturnType<typeof createClient>, ledger: Ledger): TestDb {
  return {
    name: 'libsql',
    ledger,
    all: async (sql, args = []) => {
      const rs = await client.execute({ sql, args: args as never });
      return rs.rows.map((r) => Object.fromEntries(rs.columns.map((c, i) => [c, r[i]])));
    },
    exec: async (sql) => void (await client.executeMultiple(sql)),
    close: async () => client.close(),
  };
}

type Kind = 'better-sqlite3' | 'libsql';

/** Opens `file` with a driver and a clock; `readOnly` as a user of that driver would. */
async function openFile(kind: Kind, file: string, clock: () => number, readOnly = false): Promise<TestDb> {
  if (kind === 'better-sqlite3') {
    const client = new Database(file, readOnly ? { readonly: true, fileMustExist: true } : {});
    if (!readOnly) {
      client.pragma('journal_mode = WAL');
      client.pragma('busy_timeout = 5000');
    }
    return rawBetter(client, createLedger(drizzleBetter(client), { clock }));
  }
  const client = createClient({ url: `file:${file}` });
  if (readOnly) await client.execute('PRAGMA query_only = ON');
  else await client.execute('PRAGMA journal_mode = WAL');
  return rawLibsql(client, createLedger(drizzleLibsql(client), { clock }));
}

/**
 * A ledger with plain credits, a debit and a refund, an expiring lot (drawn by a capture, so
 * credits are left in it when it lapses an hour after T0), a hold that lapses with it, and an
 * open hold.
 */
async function seedAccounts(ledger: Ledger) {
  await ledger.migrate();
  await ledger.grant({ account: 'alice', amount: 1_000, idempotencyKey: 'g1' });
  const d = await ledger.debitOnceIfCovers({ account: 'alice', amount: 250, idempotencyKey: 'd1', keyId: 'key_1' });
  if (d.outcome !== 'debited') throw new Error('seed debit');
  await ledger.refund({ entryId: d.entry.id, amount: 20 });
  await ledger.grant({ account: 'alice', amount: 200, expiresAt: T0 + HOUR, priority: 10 });
  const h1 = await ledger.hold({ account: 'alice', amount: 50, ttlMs: HOUR });
  const h2 = await ledger.hold({ account: 'alice', amount: 60, ttlMs: 10 * HOUR });
  if (h1.outcome !== 'held' || h2.outcome !== 'held') throw new Error('seed holds');
  const c = await ledger.capture({ holdId: h2.hold.id, amount: 30 });
  const h3 = await ledger.hold({ account: 'alice', amount: 70, ttlMs: 10 * HOUR });
  if (h3.outcome !== 'held' || c.outcome !== 'captured') throw new Error('seed capture');
  return { debitId: d.entry.id, captureId: c.entry.id, openHold: h3.hold.id, lapsingHold: h1.hold.id };
}

/** Everything the read methods say about the seeded account, to compare across connections. */
async function readAll(l: Ledger, ids: { debitId: string; captureId: string }) {
  return {
    balance: await l.getBalance('alice'),
    history: await l.history('alice', { limit: 1_000 }),
    keySpend: await l.keySpend('key_1'),
    holds: await l.holds('alice'),
    lots: await l.lots('alice'),
    expiring: await l.expiring('alice', { withinMs: 100 * HOUR }),
    allocations: [await l.allocations(ids.debitId), await l.allocations(ids.captureId)],
    stats: await l.stats(),
    dryRun: await l.sweep({ dryRun: true }),
    verify: await l.verify(),
  };
}

const KINDS: Kind[] = ['better-sqlite3', 'libsql'];

// ---------------------------------------------------------------------------------------

describe.each(KINDS)('read-only database (%s)', (kind) => {
  it('writes throw readonly, reads (and a dry-run sweep) work, nothing changes, and the write succeeds later on a writable connection', async () => {
    const dir = tempDir();
    const file = join(dir, 'ledger.db');
    const clock = manualClock(T0);
    const rw = await openFile(kind, file, clock.now);
    const ids = await seedAccounts(rw.ledger);
    // Two hours later: the lot (170 credits left) and the first hold have lapsed, so a
    // sweep would have work to write.
    clock.set(T0 + 2 * HOUR);
    const expected = await readAll(rw.ledger, ids);
    expect(expected.dryRun).toMatchObject({ lotsExpired: 1, holdsExpired: 1 });
    await rw.close();

    const ro = await openFile(kind, file, clock.now, true);
    const l = ro.ledger;
    const before = await ledgerSnapshot(ro);
    const writes: [string, () => Promise<unknown>][] = [
      ['grant', () => l.grant({ account: 'alice', amount: 5, idempotencyKey: 'ro-1' })],
      ['debitIfCovers', () => l.debitIfCovers({ account: 'alice', amount: 5 })],
      ['debitOnceIfCovers', () => l.debitOnceIfCovers({ account: 'alice', amount: 5, idempotencyKey: 'ro-2' })],
      ['refund', () => l.refund({ entryId: ids.debitId, amount: 5 })],
      ['adjust', () => l.adjust({ account: 'alice', delta: -5, reason: 'ro' })],
      ['hold', () => l.hold({ account: 'alice', amount: 5 })],
      ['capture', () => l.capture({ holdId: ids.openHold, amount: 10 })],
      ['release', () => l.release({ holdId: ids.openHold })],
      ['extendHold', () => l.extendHold({ holdId: ids.openHold, ttlMs: HOUR })],
      ['batch', () => l.batch([{ op: 'grant', account: 'alice', amount: 1 }])],
      ['sweep', () => l.sweep()],
      ['rebuild', () => l.rebuild()],
    ];
    for (const [name, call] of writes) {
      const e = await thrown(call);
      expect(e, name).toBeInstanceOf(LedgerError);
      expect((e as LedgerError).code, `${name}: ${(e as Error).message}`).toBe('readonly');
    }
    // Reads (and a dry-run sweep) answer exactly what the writable connection said.
    expect(await readAll(l, ids)).toEqual(expected);
    // migrate() on an up-to-date read-only database: better-sqlite3 has nothing to write and
    // returns; libSQL's write batch refuses to start. Either is acceptable; nothing changes.
    const migrated = await l.migrate().then(
      (r) => `returned applied=[${r.applied.join(',')}]`,
      (e: unknown) => {
        expectCode(e, 'readonly');
        return 'threw readonly';
      },
    );
    expect(snapshotDiff(before, await ledgerSnapshot(ro))).toBeNull();
    await ro.close();

    // Writable again: the refused keyed grant was never recorded, so it applies now.
    const again = await openFile(kind, file, clock.now);
    expect((await again.ledger.grant({ account: 'alice', amount: 5, idempotencyKey: 'ro-1' })).outcome).toBe('granted');
    expect(await again.ledger.sweep()).toMatchObject({ lotsExpired: 1, holdsExpired: 1 });
    expect(await again.ledger.verify()).toMatchObject({ ok: true, problemCount: 0 });
    await again.close();
    console.log(
      `[hostile] read-only ${kind}: ${writes.length} writes refused with readonly, 10 reads answered as before; migrate() ${migrated}`,
    );
  });
});

// ---------------------------------------------------------------------------------------

const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
const NOBODY = 65_534;
/** As root, permission checks need another user; some containers forbid switching (no CAP_SETUID). */
const canTestPermissions = !isRoot || spawnSync(process.execPath, ['-e', ''], { uid: NOBODY, gid: NOBODY }).error === undefined;

/** Spawns the CLI (tsx), as `uid` when given. */
function cli(args: string[], uid?: number): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((res, rej) => {
    const child = spawn(process.execPath, ['--import', TSX, join(ROOT, 'src/cli/main.ts'), ...args], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(uid === undefined ? {} : { uid, gid: uid }),
    });
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

describe.skipIf(!canTestPermissions)('read-only by file permissions (0444 file in a 0555 directory)', () => {
  // As root, chmod stops nothing: the children run as "nobody". Otherwise as ourselves.
  const uid = isRoot ? NOBODY : undefined;
  const files: Record<'delete' | 'wal', string> = { delete: '', wal: '' };
  const bytes: Record<string, Buffer> = {};

  beforeAll(async () => {
    const base = tempDir();
    chmodSync(base, 0o755);
    for (const mode of ['delete', 'wal'] as const) {
      const dir = join(base, mode);
      mkdirSync(dir);
      const file = join(dir, 'ledger.db');
      await seedLedgerFile(file, 3);
      if (mode === 'wal') {
        const c = new Database(file);
        c.pragma('journal_mode = WAL');
        c.close();
      }
      chmodSync(file, 0o444);
      chmodSync(dir, 0o555);
      files[mode] = file;
      bytes[mode] = fileBytes(file);
    }
  });

  it.each(KINDS)('%s: writes throw readonly; reads work in rollback-journal mode; the file is untouched', async (kind) => {
    for (const mode of ['delete', 'wal'] as const) {
      const run = await runChild({ driver: kind, file: files[mode], script: 'readonly' }, { uid });
      expect(run.done, `${mode}: child did not finish: ${run.stderr}`).toBe(true);
      const steps = Object.fromEntries(run.steps.map((s) => [s.step, s]));
      for (const w of ['grant', 'debitIfCovers', 'batch']) {
        expect(steps[w]?.ok, `${mode} ${w}`).toBe(false);
        expect(steps[w]?.error, `${mode} ${w}`).toMatchObject({ ledger: true, code: 'readonly' });
      }
      for (const r of ['getBalance', 'history', 'verify', 'migrate']) {
        const s = steps[r];
        if (mode === 'delete') expect(s?.ok, `${mode} ${r}: ${JSON.stringify(s?.error)}`).toBe(true);
        // WAL needs a writable -shm next to the file: SQLite refuses even reads, as readonly.
        else expect(s?.ok || (s?.error?.ledger && s.error.code === 'readonly'), `${mode} ${r}: ${JSON.stringify(s?.error)}`).toBe(true);
      }
      expect(fileBytes(files[mode]).equals(bytes[mode] as Buffer)).toBe(true);
      console.log(
        `[hostile] file permissions, ${mode} journal, ${kind}${uid === undefined ? '' : ' (as uid 65534)'}: ` +
          run.steps.map((s) => `${s.step}=${s.ok ? 'ok' : (s.error?.code ?? s.error?.name)}`).join(' '),
      );
    }
  });

  it('the CLI with --url: reads work, writes exit 2 readonly', async () => {
    const read = await cli(['--url', `file:${files.delete}`, '--json', 'balance', 'acct_1'], uid);
    expect(read.code, read.stderr).toBe(0);
    const write = await cli(['--url', `file:${files.delete}`, 'grant', 'acct_1', '5'], uid);
    expect(write.code).toBe(2);
    expect(write.stderr).toMatch(/error \[readonly\]/);
  });

  it('finding 8: the CLI with --db on a read-only file reads it, and refuses writes with exit 2 [readonly] (was: exit 70 for every command)', async () => {
    const read = await cli(['--db', files.delete, 'balance', 'acct_1'], uid);
    const write = await cli(['--db', files.delete, 'grant', 'acct_1', '5'], uid);
    console.log(
      `[hostile] CLI --db on a read-only file: balance → exit ${read.code} ${read.stderr.trim()}; grant → exit ${write.code} ${write.stderr.trim()}`,
    );
    expect(read.code, read.stderr).toBe(0);
    expect(write.code, write.stderr).toBe(2);
    expect(write.stderr).toMatch(/error \[readonly\]/);
  });
});

// ---------------------------------------------------------------------------------------

describe.each(KINDS)('full disk: PRAGMA max_page_count (%s)', (kind) => {
  it('writes that do not fit throw storage_full and leave nothing behind; with room again the same idempotent call succeeds', async () => {
    const dir = tempDir();
    const clock = manualClock(T0);
    const db = await openFile(kind, join(dir, 'ledger.db'), clock.now);
    const l = db.ledger;
    await seedAccounts(l);
    for (const a of ['bob', 'carol']) {
      await l.grant({ account: a, amount: 100_000 });
      await l.grant({ account: a, amount: 5_000, expiresAt: T0 + 100 * HOUR, priority: 5 });
    }
    const seeded = await ledgerSnapshot(db);
    const pages = async () => Number((await db.all('PRAGMA page_count'))[0]?.page_count);
    const setMax = async (n: number) => {
      await db.all(`PRAGMA max_page_count = ${n}`);
    };
    await setMax(await pages());

    // 1. Fill: keyed grants with 8 KB metadata until the database is full.
    const big = { note: 'x'.repeat(8_000) };
    let firstRefused: { key: string } | undefined;
    for (let i = 0; i < 200 && firstRefused === undefined; i++) {
      const before = await ledgerSnapshot(db);
      const r = await l.grant({ account: 'bob', amount: 1, idempotencyKey: `fill-${i}`, metadata: big }).catch((e: unknown) => e);
      if (r instanceof Error) {
        expectCode(r, 'storage_full');
        expect(snapshotDiff(before, await ledgerSnapshot(db))).toBeNull();
        firstRefused = { key: `fill-${i}` };
      }
    }
    expect(firstRefused, 'the database never filled up').toBeDefined();
    expect(await l.verify()).toMatchObject({ ok: true });

    // 2. Near the limit, a page at a time: a random mix of operations, each either applies
    //    whole or throws storage_full having written nothing (wherever in its unit it hit).
    const steps = FULL ? 400 : 60;
    const ops = fc.sample(
      fc.record({
        op: fc.constantFrom('debit', 'debitLots', 'hold', 'capture', 'refund', 'grantLot', 'adjust', 'batch', 'sweep'),
        pad: fc.integer({ min: 0, max: 7_900 }),
        amount: fc.integer({ min: 1, max: 50 }),
        raise: fc.constantFrom(0, 0, 0, 1, 2),
      }),
      { numRuns: steps },
    );
    const openHolds: string[] = [];
    const debits: string[] = [];
    const tally: Record<string, number> = {};
    let limit = await pages();
    for (const [i, o] of ops.entries()) {
      if (o.raise > 0) {
        limit += o.raise;
        await setMax(limit);
      }
      clock.advance(60_000);
      const metadata = o.pad === 0 ? undefined : { pad: 'p'.repeat(o.pad) };
      const before = await ledgerSnapshot(db);
      const account = i % 2 === 0 ? 'bob' : 'carol';
      const call = async (): Promise<unknown> => {
        switch (o.op) {
          case 'debit':
            return l.debitIfCovers({ account, amount: o.amount, metadata });
          case 'debitLots': {
            const r = await l.debitOnceIfCovers({ account, amount: o.amount, idempotencyKey: `dl-${i}`, metadata });
            if (r.outcome === 'debited') debits.push(r.entry.id);
            return r;
          }
          case 'hold': {
            const r = await l.hold({ account, amount: o.amount, ttlMs: 50 * HOUR, metadata });
            if (r.outcome === 'held') openHolds.push(r.hold.id);
            return r;
          }
          case 'capture': {
            const id = openHolds.shift();
            return id === undefined ? l.getBalance(account) : l.capture({ holdId: id, metadata });
          }
          case 'refund': {
            const id = debits.shift();
            return id === undefined ? l.getBalance(account) : l.refund({ entryId: id, amount: 1, metadata });
          }
          case 'grantLot':
            return l.grant({ account, amount: o.amount, expiresAt: clock.now() + 5 * 60_000, priority: 1, metadata });
          case 'adjust':
            return l.adjust({ account, delta: -o.amount, reason: 'x'.repeat(Math.max(1, Math.min(o.pad, 1_000))) });
          case 'batch':
            return l.batch([
              { op: 'debit', account, amount: o.amount, metadata },
              { op: 'grant', account, amount: o.amount, metadata },
              { op: 'hold', account, amount: 1, metadata },
            ]);
          default:
            return l.sweep();
        }
      };
      const r = await call().catch((e: unknown) => e);
      if (r instanceof Error) {
        expectCode(r, 'storage_full');
        const diff = snapshotDiff(before, await ledgerSnapshot(db));
        expect(diff, `${o.op} threw storage_full but wrote: ${diff}`).toBeNull();
        tally[`${o.op}:storage_full`] = (tally[`${o.op}:storage_full`] ?? 0) + 1;
      } else tally[`${o.op}:ok`] = (tally[`${o.op}:ok`] ?? 0) + 1;
    }
    const report = await l.verify();
    expect(report.problems).toEqual([]);

    // 3. The log only grew: every row written before the disk filled is still there, as it was.
    const now = await ledgerSnapshot(db);
    expect(now.bytes.credit_entry?.startsWith(seeded.bytes.credit_entry as string)).toBe(true);

    // 4. Room again: the first refused grant was never recorded, so the same call applies now.
    await setMax(1_000_000);
    const retry = await l.grant({ account: 'bob', amount: 1, idempotencyKey: firstRefused!.key, metadata: big });
    expect(retry.outcome).toBe('granted');
    expect((await l.grant({ account: 'bob', amount: 1, idempotencyKey: firstRefused!.key, metadata: big })).outcome).toBe('replayed');
    expect(await l.verify()).toMatchObject({ ok: true, problemCount: 0 });
    await db.close();
    const full = Object.entries(tally)
      .filter(([k]) => k.endsWith('storage_full'))
      .reduce((s, [, n]) => s + n, 0);
    console.log(
      `[hostile] full disk ${kind}: filled after ${firstRefused!.key}; ${steps} operations near the limit, ${full} refused with storage_full: ${JSON.stringify(tally)}`,
    );
  });
});

// ---------------------------------------------------------------------------------------

describe('corrupted database file (a damaged copy, opened in a child process)', () => {
  let seed: Seeded;
  let dir: string;
  const seeds = FULL ? [1, 2, 3, 4, 5, 6, 7, 8] : [1];
  const runs: { kind: Kind; corruption: string; seed: number; run: ChildRun }[] = [];

  beforeAll(async () => {
    dir = tempDir();
    seed = await seedLedgerFile(join(dir, 'seed.db'));
  });

  it(`every call answers (a result or a clear error) without hanging; ${CORRUPTIONS.length} kinds of damage × ${seeds.length} seeds × ${FULL ? 2 : 1} driver(s)`, async () => {
    // Light: each kind of damage once, on one driver or the other. Full: every seed on both.
    const cases = CORRUPTIONS.flatMap((corruption, i) =>
      seeds.flatMap((s) => (FULL ? KINDS : [KINDS[i % 2] as Kind]).map((kind) => ({ corruption, seed: s, kind }))),
    );
    const parallel = 4;
    for (let i = 0; i < cases.length; i += parallel) {
      await Promise.all(
        cases.slice(i, i + parallel).map(async (c) => {
          const file = join(dir, `${c.corruption}-${c.seed}-${c.kind}.db`);
          corruptCopy(seed, file, c.corruption, c.seed);
          runs.push({ ...c, run: await runChild({ driver: c.kind, file, script: 'corrupt' }, { timeoutMs: 60_000 }) });
        }),
      );
    }
    const problems: string[] = [];
    const summary: Record<string, number> = {};
    const count = (k: string) => {
      summary[k] = (summary[k] ?? 0) + 1;
    };
    for (const { kind, corruption, seed: s, run } of runs) {
      const at = `${corruption} seed ${s} on ${kind}`;
      if (run.timedOut) problems.push(`${at}: hung (killed after 60 s)`);
      else if (!run.done) {
        // libSQL (0.9.30, Rust) panics and aborts the whole process on a TEXT value that is
        // not UTF-8, which random damage can create: finding 9 (pinned below with a
        // deterministic reproduction). Anything else that kills the process is a failure here.
        if (kind === 'libsql' && run.signal === 'SIGABRT' && /panicked[\s\S]*Utf8Error/.test(run.stderr))
          count('libSQL aborted (finding 9)');
        else problems.push(`${at}: the process died (code ${run.code}, signal ${run.signal}): ${run.stderr.slice(0, 300)}`);
      }
      const integrity = run.steps.find((x) => x.step === 'integrity_check');
      const messages = (integrity?.value as { messages?: string[] } | undefined)?.messages;
      const sqliteSeesDamage = integrity !== undefined && (!integrity.ok || !(messages?.length === 1 && messages[0] === 'ok'));
      for (const st of run.steps) {
        if (st.ok || st.step === 'integrity_check') continue;
        const e = st.error!;
        const clear = (e.ledger && CODES.has(String(e.code))) || CLEAR_CORRUPTION.test(e.message);
        if (!clear) problems.push(`${at}: ${st.step} threw an unclear ${e.name} (${e.code}): ${e.message}`);
        count(e.ledger ? `LedgerError ${e.code}` : `driver error ${e.code ?? e.name}`);
      }
      const verify = run.steps.find((x) => x.step === 'verify');
      // verify() runs PRAGMA quick_check (finding 10): it must not call a damaged file ok.
      if (verify?.ok && (verify.value as { ok?: boolean }).ok === true && sqliteSeesDamage)
        problems.push(`${at}: verify() said ok on a file integrity_check reports malformed`);
      else if (verify?.ok) count('verify reported problems');
      else if (verify !== undefined) count('verify threw a clear error');
    }
    console.log(`[hostile] corruption: ${runs.length} damaged copies opened; outcomes ${JSON.stringify(summary)}`);
    expect(problems).toEqual([]);
  }, 600_000);

  it.fails('finding 9: libSQL reads a TEXT value that is not valid UTF-8 without aborting the process', async () => {
    const file = join(tempDir(), 'surrogate.db');
    const client = new Database(file);
    const ledger = createLedger(drizzleBetter(client));
    await ledger.migrate();
    const g = await ledger.grant({ account: 'acct_1', amount: 100, reason: 'bonus' });
    // The bytes better-sqlite3 stored for 'bonus \uD83D' before lone surrogates were
    // rejected (finding 1): ED A0 BD is not UTF-8. Other writers, or damage, can still leave them.
    client.prepare("UPDATE credit_entry SET reason = CAST(X'626F6E757320EDA0BD' AS TEXT) WHERE pos = ?").run(posOf(g.entry.id));
    client.close();
    const run = await runChild({ driver: 'libsql', file, script: 'readonly' });
    console.log(`[hostile] libSQL reading a non-UTF-8 reason: exit ${run.code}, signal ${run.signal}: ${run.stderr.split('\n')[1] ?? ''}`);
    expect(run.signal).toBeNull();
    expect(run.done).toBe(true);
  });

  it("finding 10: verify() does not call a file SQLite reports malformed 'ok' (an index page zeroed)", async () => {
    const file = join(tempDir(), 'index-page.db');
    copyFileSync(seed.file, file);
    const c = new Database(file);
    const root = Number(
      (c.prepare("SELECT rootpage FROM sqlite_master WHERE name = 'credit_entry_ref'").get() as { rootpage: number }).rootpage,
    );
    c.close();
    const bytes = Buffer.alloc(seed.pageSize);
    const { openSync, writeSync, closeSync } = await import('node:fs');
    const fd = openSync(file, 'r+');
    writeSync(fd, bytes, 0, bytes.length, (root - 1) * seed.pageSize);
    closeSync(fd);
    const run = await runChild({ driver: 'better-sqlite3', file, script: 'corrupt' });
    const integrity = run.steps.find((s) => s.step === 'integrity_check');
    const verify = run.steps.find((s) => s.step === 'verify');
    console.log(
      `[hostile] index page zeroed: integrity_check ${JSON.stringify(integrity?.error?.message ?? integrity?.value)}; verify ${JSON.stringify(verify?.value ?? verify?.error)}`,
    );
    expect(integrity?.ok).toBe(false); // SQLite sees the damage
    // Acceptable: verify() reports problems, or throws a clear error. Not: ok.
    expect(verify?.ok === true && (verify.value as { ok?: boolean }).ok === true).toBe(false);
    if (verify?.ok) expect((verify.value as { problemCodes?: string[] }).problemCodes).toContain('corrupt_file');
  });
});

// ---------------------------------------------------------------------------------------

/** Schema cases run on every driver in full mode, on better-sqlite3 and libSQL in light mode. */
const SCHEMA_DRIVERS = FULL ? DRIVERS : DRIVERS.filter((d) => d.name === 'better-sqlite3 file' || d.name === 'libsql file:');
const tables = async (db: TestDb) =>
  (
    await db.all("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%' ORDER BY name")
  ).map((r) => String(r.name));

describe.each(SCHEMA_DRIVERS)('schema conditions on $name', (spec) => {
  /** Opens a database for one test and always closes it (bun and D1 hold a process or a worker). */
  async function withDb(opts: { migrate?: boolean }, fn: (db: TestDb) => Promise<void>): Promise<void> {
    const db = await spec.open(opts);
    try {
      await fn(db);
    } finally {
      await db.close();
    }
  }

  it('missing schema: every method throws schema_missing and creates nothing', () =>
    withDb({ migrate: false }, async (db) => {
      const before = await tables(db);
      for (const [name, call] of everyCall(db.ledger)) {
        const e = await thrown(call);
        expect(e, name).toBeInstanceOf(LedgerError);
        expect((e as LedgerError).code, `${name}: ${(e as Error).message}`).toBe('schema_missing');
        expect((e as Error).message).toMatch(/migrate/);
      }
      expect(await tables(db)).toEqual(before);
    }));

  it('a database migrated by a newer version: migrate() throws schema_newer and writes nothing', () =>
    withDb({}, async (db) => {
      await db.ledger.grant({ account: 'a', amount: 10 });
      await db.exec(`INSERT INTO ${MIGRATIONS_TABLE} (id, tag, hash, applied_at) VALUES (99, '0098_future', 'f', 0)`);
      const snap = await ledgerSnapshot(db);
      const migrations = await db.all(`SELECT * FROM ${MIGRATIONS_TABLE} ORDER BY id`);
      const e = await thrown(() => db.ledger.migrate());
      expectCode(e, 'schema_newer');
      expect((e as LedgerError).details).toMatchObject({ databaseVersion: 99 });
      expect((e as Error).message).toMatch(/upgrade/);
      expect(await db.all(`SELECT * FROM ${MIGRATIONS_TABLE} ORDER BY id`)).toEqual(migrations);
      expect(snapshotDiff(snap, await ledgerSnapshot(db))).toBeNull();
      // Observation (not a contract today): the operations themselves do not check the version.
      const op = await db.ledger.getBalance('a').then(
        () => 'operations still run',
        (x: unknown) => `operations throw ${(x as LedgerError).code}`,
      );
      console.log(`[hostile] newer schema on ${spec.name}: migrate() threw schema_newer; ${op}`);
    }));

  it("someone else's credit_entry table: migrate() fails with an error naming it; operations fail; their rows are untouched", () =>
    withDb({ migrate: false }, async (db) => {
      await db.exec('CREATE TABLE credit_entry (id INTEGER PRIMARY KEY, customer TEXT NOT NULL, cents INTEGER NOT NULL)');
      await db.exec("INSERT INTO credit_entry (customer, cents) VALUES ('acme', 500)");
      const theirs = await db.all('SELECT * FROM credit_entry');
      const m = await thrown(() => db.ledger.migrate());
      expect((m as Error).message).toMatch(/credit_entry/);
      expect(await db.all(`SELECT COUNT(*) AS n FROM ${MIGRATIONS_TABLE}`)).toEqual([{ n: 0 }]);
      // The failed migration rolled back whole: none of its other tables exist.
      expect((await tables(db)).filter((t) => t.startsWith('credit_'))).toEqual(['credit_entry']);
      const outcomes: string[] = [];
      for (const [name, call] of everyCall(db.ledger)) {
        const e = await thrown(call);
        const code = e instanceof LedgerError ? e.code : `raw ${(e as Error).name}`;
        outcomes.push(`${name}=${code}`);
        // Clear: a LedgerError, or a driver error that names the table or column it tripped on.
        if (!(e instanceof LedgerError)) expect((e as Error).message, name).toMatch(/credit_entry|column|table/);
      }
      expect(await db.all('SELECT * FROM credit_entry')).toEqual(theirs);
      expect((await tables(db)).filter((t) => t.startsWith('credit_'))).toEqual(['credit_entry']);
      console.log(
        `[hostile] foreign credit_entry on ${spec.name}: migrate() threw ${m instanceof LedgerError ? m.code : `a raw ${(m as Error).name}`}: ${(m as Error).message}; ${outcomes.join(' ')}`,
      );
    }));

  it("finding 11: someone else's credit_entry table gets LedgerError codes from every method, not raw driver errors", () =>
    withDb({ migrate: false }, async (db) => {
      await db.exec('CREATE TABLE credit_entry (id INTEGER PRIMARY KEY, customer TEXT NOT NULL, cents INTEGER NOT NULL)');
      expectCode(await thrown(() => db.ledger.migrate()), 'schema_conflict');
      expectCode(await thrown(() => db.ledger.grant({ account: 'a', amount: 1 })), 'schema_conflict');
      for (const [name, call] of everyCall(db.ledger)) {
        const e = await thrown(call);
        expect(e, `${name}: ${String(e)}`).toBeInstanceOf(LedgerError);
        expect(['schema_conflict', 'schema_missing'], name).toContain((e as LedgerError).code);
      }
    }));
});
