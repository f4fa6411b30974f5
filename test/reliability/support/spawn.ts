/** Starts reliability workers as separate Node processes (`node worker.mjs`: the worker's sources bundled, support/worker-bundle.ts). */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { bundled } from '../../support/worker-bundle.js';
import type { WorkerPlan } from './protocol.js';

const ROOT = resolve(import.meta.dirname, '../../..');
const WORKER = resolve(import.meta.dirname, 'worker.ts');

export interface Proc<P extends { name: string } = WorkerPlan> {
  readonly plan: P;
  readonly child: ChildProcessWithoutNullStreams;
  /** Modules loaded; the worker waits for `go`. */
  readonly ready: Promise<void>;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  go(): void;
  stdout(): string;
  stderr(): string;
}

/** `script`: another worker than worker.ts that speaks the same start-up protocol (ready, then go). */
export function startWorker<P extends { name: string } = WorkerPlan>(plan: P, script: string = WORKER): Proc<P> {
  const child = spawn(process.execPath, [bundled(script), JSON.stringify(plan)], { cwd: ROOT, stdio: 'pipe' });
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (d) => {
    stderr += String(d);
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) =>
    child.once('exit', (code, signal) => res({ code, signal })),
  );
  const ready = new Promise<void>((res, rej) => {
    child.stdout.on('data', (d) => {
      stdout += String(d);
      if (stdout.includes('ready\n')) res();
    });
    child.once('exit', (code, signal) => rej(new Error(`worker ${plan.name} exited (${code ?? signal}) before it was ready:\n${stderr}`)));
  });
  ready.catch(() => {}); // observed by whoever awaits it; never an unhandled rejection
  return {
    plan,
    child,
    ready,
    exited,
    go: () => child.stdin.end('go\n'),
    stdout: () => stdout,
    stderr: () => stderr,
  };
}

/** Kills what is still running and waits for it (afterEach). */
export async function reap(procs: readonly Proc<{ name: string }>[]): Promise<void> {
  for (const p of procs) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
  await Promise.all(procs.map((p) => p.exited));
}

export function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, rej) => {
    timer = setTimeout(() => rej(new Error(`${what} took longer than ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/** The connection settings a worker reported (first `pragmas` line of its stdout). */
export function reportedPragmas(p: Proc<{ name: string }>): Record<string, unknown> | undefined {
  const line = p
    .stdout()
    .split('\n')
    .find((l) => l.startsWith('pragmas '));
  return line === undefined ? undefined : (JSON.parse(line.slice('pragmas '.length)) as Record<string, unknown>);
}
