/**
 * Hostile database files for test/reliability/hostile.test.ts: a seeded ledger file, copies
 * of it damaged in reproducible ways, and a runner for hostile-child.ts that survives the
 * driver crashing or hanging.
 */
import { spawn } from 'node:child_process';
import { closeSync, copyFileSync, existsSync, openSync, readSync, statSync, truncateSync, writeSync } from 'node:fs';
import { resolve } from 'node:path';
import Database from 'better-sqlite3';
import { drizzle } from 'drizzle-orm/better-sqlite3';
import { createLedger } from '../../../src/index.js';
import { bundled } from '../../support/worker-bundle.js';
import type { StepResult } from './hostile-child.js';

export const ROOT = resolve(import.meta.dirname, '../../..');
export const TSX = resolve(ROOT, 'node_modules/tsx/dist/loader.mjs');
export const CHILD = resolve(import.meta.dirname, 'hostile-child.ts');

/** The seed's known accounts, so damaged copies can be compared with what was written. */
export interface Seeded {
  file: string;
  balances: Record<string, number>;
  entries: number;
  pageSize: number;
  pages: number;
}

/**
 * A ledger of `accounts` accounts with grants, lots, debits, holds, a capture and a refund
 * each, written by better-sqlite3 and left as a single rollback-journal file (no -wal), so a
 * copy of the file is the whole database.
 */
export async function seedLedgerFile(file: string, accounts = 40): Promise<Seeded> {
  const client = new Database(file);
  client.pragma('journal_mode = WAL');
  const ledger = createLedger(drizzle(client));
  await ledger.migrate();
  const balances: Record<string, number> = {};
  const far = Date.now() + 365 * 86_400_000;
  for (let i = 1; i <= accounts; i++) {
    const account = `acct_${i}`;
    await ledger.grant({ account, amount: 1_000, idempotencyKey: `g-${i}`, reason: 'seed', metadata: { i, pad: 'p'.repeat(200) } });
    await ledger.grant({ account, amount: 300, expiresAt: far, priority: 10 });
    const d = await ledger.debitOnceIfCovers({ account, amount: 120, idempotencyKey: `d-${i}`, model: 'm', keyId: 'k' });
    if (d.outcome === 'debited') await ledger.refund({ entryId: d.entry.id, amount: 20 });
    const h = await ledger.hold({ account, amount: 50, ttlMs: 86_400_000 });
    if (h.outcome === 'held' && i % 2 === 0) await ledger.capture({ holdId: h.hold.id, amount: 30 });
    balances[account] = (await ledger.getBalance(account)).balance;
  }
  const entries = Number((client.prepare('SELECT COUNT(*) AS n FROM credit_entry').get() as { n: number }).n);
  client.pragma('wal_checkpoint(TRUNCATE)');
  client.pragma('journal_mode = DELETE');
  const pageSize = Number(client.pragma('page_size', { simple: true }));
  const pages = Number(client.pragma('page_count', { simple: true }));
  client.close();
  return { file, balances, entries, pageSize, pages };
}

/** A small deterministic PRNG (mulberry32), so a damaged copy can be reproduced from its seed. */
import { prng as rng } from '../../support/processes.js';

export { rng };

export const CORRUPTIONS = ['header', 'middle-garbage', 'middle-zeroed-page', 'scattered-bytes', 'truncated', 'schema-page'] as const;
export type Corruption = (typeof CORRUPTIONS)[number];

/**
 * Copies `seed.file` to `target` and damages the copy:
 * - header: the first 100 bytes (the SQLite header) overwritten with random bytes;
 * - middle-garbage: one page in the middle of the file overwritten with random bytes;
 * - middle-zeroed-page: one page in the middle zeroed;
 * - scattered-bytes: 64 random bytes past the first page changed;
 * - truncated: the file cut in the middle of a page, at about half its length;
 * - schema-page: random bytes written into page 1 after the header (sqlite_master).
 */
export function corruptCopy(seed: Seeded, target: string, kind: Corruption, seedNo: number): { offset: number; length: number } {
  copyFileSync(seed.file, target);
  const rand = rng(seedNo);
  const size = statSync(target).size;
  const { pageSize, pages } = seed;
  const randomBytes = (n: number) => Buffer.from(Array.from({ length: n }, () => Math.floor(rand() * 256)));
  const write = (offset: number, bytes: Buffer) => {
    const fd = openSync(target, 'r+');
    try {
      writeSync(fd, bytes, 0, bytes.length, offset);
    } finally {
      closeSync(fd);
    }
  };
  switch (kind) {
    case 'header':
      write(0, randomBytes(100));
      return { offset: 0, length: 100 };
    case 'middle-garbage': {
      const page = 1 + Math.floor(pages / 4 + rand() * (pages / 2));
      write(page * pageSize, randomBytes(pageSize));
      return { offset: page * pageSize, length: pageSize };
    }
    case 'middle-zeroed-page': {
      const page = 1 + Math.floor(pages / 4 + rand() * (pages / 2));
      write(page * pageSize, Buffer.alloc(pageSize));
      return { offset: page * pageSize, length: pageSize };
    }
    case 'scattered-bytes': {
      for (let i = 0; i < 64; i++) write(pageSize + Math.floor(rand() * (size - pageSize)), randomBytes(1));
      return { offset: pageSize, length: size - pageSize };
    }
    case 'truncated': {
      const at = Math.floor(size / 2) + 123;
      truncateSync(target, at);
      return { offset: at, length: size - at };
    }
    case 'schema-page': {
      const offset = 100 + Math.floor(rand() * (pageSize - 300));
      write(offset, randomBytes(200));
      return { offset, length: 200 };
    }
  }
}

export interface ChildRun {
  steps: StepResult[];
  done: boolean;
  code: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  stderr: string;
  ms: number;
}

/** Runs hostile-child.ts with `args`, killing it after `timeoutMs`. `uid`: run as that user (root only). */
export function runChild(
  args: { driver: 'better-sqlite3' | 'libsql'; file: string; script: 'corrupt' | 'readonly' },
  { timeoutMs = 30_000, uid }: { timeoutMs?: number; uid?: number } = {},
): Promise<ChildRun> {
  const started = Date.now();
  return new Promise((res, rej) => {
    const child = spawn(process.execPath, [bundled(CHILD), JSON.stringify(args)], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(uid === undefined ? {} : { uid, gid: uid }),
    });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.stdout.on('data', (d) => {
      stdout += String(d);
    });
    child.stderr.on('data', (d) => {
      stderr += String(d);
    });
    child.on('error', (e) => {
      clearTimeout(timer);
      rej(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const lines = stdout
        .split('\n')
        .filter((l) => l.trim() !== '')
        .map((l) => JSON.parse(l) as StepResult | { done: true });
      res({
        steps: lines.filter((l): l is StepResult => !('done' in l)),
        done: lines.some((l) => 'done' in l),
        code,
        signal,
        timedOut,
        stderr,
        ms: Date.now() - started,
      });
    });
  });
}

/** Driver messages that name the problem plainly enough for an operator (corruption, not a database …). */
export const CLEAR_CORRUPTION =
  /malformed|not a database|corrupt|SQLITE_CORRUPT|SQLITE_NOTADB|disk I\/O error|SQLITE_IOERR|file is not a database|unable to open database/i;

/** Reads the whole file (for byte-for-byte comparisons of files that must not change). */
export function fileBytes(file: string): Buffer {
  if (!existsSync(file)) return Buffer.alloc(0);
  const fd = openSync(file, 'r');
  try {
    const size = statSync(file).size;
    const buf = Buffer.alloc(size);
    readSync(fd, buf, 0, size, 0);
    return buf;
  } finally {
    closeSync(fd);
  }
}
