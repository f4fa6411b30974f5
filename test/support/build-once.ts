/**
 * Build something once into `.tmp/<prefix>-<hash>/` for every test file and process that asks
 * at the same time: the first takes a lock directory and builds, the others wait for it and
 * never see half a build; a lock older than `staleMs` was left by a build that died. Builds of
 * earlier sources (same prefix, other hash) are removed afterwards.
 */
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

const sleepSync = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

/** Takes `${target}.lock`, or returns false as soon as `done()` holds (another process built it). */
function lock(target: string, done: () => boolean, staleMs: number): boolean {
  const dir = `${target}.lock`;
  for (let start = Date.now(); ; ) {
    try {
      mkdirSync(dir);
      return true;
    } catch {
      if (done()) return false;
      if (Date.now() - start > staleMs) {
        rmSync(dir, { recursive: true, force: true }); // left by a build that died
        start = Date.now();
      }
      sleepSync(100);
    }
  }
}

function pruneEarlier(target: string): void {
  const name = basename(target);
  const prefix = name.slice(0, name.lastIndexOf('-') + 1);
  const pattern = new RegExp(`^${prefix.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}[0-9a-f]{16}$`);
  for (const old of readdirSync(dirname(target))) {
    if (pattern.test(old) && old !== name) rmSync(join(dirname(target), old), { recursive: true, force: true });
  }
}

/** Synchronous builds (tsc of the package). */
export function buildOnce(target: string, done: () => boolean, build: () => void, staleMs: number): void {
  if (done()) return;
  mkdirSync(dirname(target), { recursive: true });
  if (!lock(target, done, staleMs)) return;
  try {
    if (!done()) build();
  } finally {
    rmSync(`${target}.lock`, { recursive: true, force: true });
  }
  pruneEarlier(target);
}

/** Asynchronous builds (a migrate() through workerd). */
export async function buildOnceAsync(target: string, done: () => boolean, build: () => Promise<void>, staleMs: number): Promise<void> {
  if (done()) return;
  mkdirSync(dirname(target), { recursive: true });
  if (!lock(target, done, staleMs)) return;
  try {
    if (!done()) await build();
  } finally {
    rmSync(`${target}.lock`, { recursive: true, force: true });
  }
  pruneEarlier(target);
}
