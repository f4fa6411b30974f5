/**
 * What the multi-process tests share: a seeded PRNG, a worker process that says "ready"
 * on stdout, a timeout around a promise, and a collector of contract violations.
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { bundled } from './worker-bundle.js';

/** mulberry32: small, seeded, good enough to pick operations. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * In a worker process: says "ready" on stdout and waits for the parent's go (a line on stdin).
 * No go before stdin closes means the parent is gone: exit 3 rather than linger as an orphan.
 */
export async function readyThenGo(): Promise<void> {
  process.stdout.write('ready\n');
  await new Promise<void>((resolve) => {
    const orphaned = () => process.exit(3);
    process.stdin.once('end', orphaned);
    process.stdin.once('data', () => {
      process.stdin.off('end', orphaned);
      resolve();
    });
  });
  process.stdin.destroy();
}

export interface Worker<P> {
  readonly plan: P;
  readonly child: ChildProcessWithoutNullStreams;
  readonly ready: Promise<void>;
  readonly exited: Promise<number | null>;
  stderr(): string;
}

/** Spawns `node script '<plan as JSON>'` in `cwd` (the script's sources bundled: worker-bundle.ts); `ready` resolves when it prints "ready". */
export function startWorker<P extends { worker: number | string }>(script: string, cwd: string, plan: P): Worker<P> {
  const child = spawn(process.execPath, [bundled(script), JSON.stringify(plan)], { cwd, stdio: 'pipe' });
  let stderr = '';
  let stdout = '';
  child.stderr.on('data', (d) => {
    stderr += String(d);
  });
  const exited = new Promise<number | null>((res) => child.once('exit', (code) => res(code)));
  const ready = new Promise<void>((res, rej) => {
    child.stdout.on('data', (d) => {
      stdout += String(d);
      if (stdout.includes('ready\n')) res();
    });
    child.once('exit', (code) => rej(new Error(`worker ${plan.worker} exited (${code}) before it was ready:\n${stderr}`)));
  });
  return { plan, child, ready, exited, stderr: () => stderr };
}

/** Rejects if `p` takes longer than `ms`; the message names the seed to reproduce. */
export function within<T>(p: Promise<T>, ms: number, what: string, seed: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, rej) => {
    timer = setTimeout(() => rej(new Error(`${what} took longer than ${ms} ms (seed ${seed})`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/** Collects contract violations by category, so one failing run reports all of them. */
export class Problems {
  readonly #lines: string[] = [];
  readonly #counts = new Map<string, number>();
  add(category: string, message: string): void {
    const n = (this.#counts.get(category) ?? 0) + 1;
    this.#counts.set(category, n);
    if (n <= 10) this.#lines.push(`${category}: ${message}`);
  }
  list(): string[] {
    const extra = [...this.#counts].filter(([, n]) => n > 10).map(([c, n]) => `${c}: … ${n} in all`);
    return [...this.#lines, ...extra];
  }
}

/** Every JSON line the workers wrote to their logs (a log a worker never opened counts as empty). */
export function readJsonLines<T>(paths: readonly string[]): T[] {
  return paths.flatMap((p) =>
    existsSync(p)
      ? readFileSync(p, 'utf8')
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l) as T)
      : [],
  );
}
