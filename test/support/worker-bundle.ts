/**
 * Worker scripts of the multi-process suites, as one ES module each, bundled by esbuild (the
 * transformer tsx runs per module) once per test process. A worker started with
 * `node --import tsx worker.ts` spends ~1.4 s of CPU loading the sources through tsx's hooks
 * before it says ready; the bundle of the same sources loads in ~0.4 s, and the suite starts
 * well over a hundred workers. The processes, their connections, their interleavings and the
 * SIGKILLs are unchanged: only how the TypeScript reaches Node is.
 *
 * Packages stay external (resolved from the repository's node_modules: the bundles live under
 * .tmp/workers/<pid>/, inside the repository). Each test process bundles into its own
 * directory and removes it when it exits.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { basename, join } from 'node:path';
import { buildSync } from 'esbuild';
import { ROOT } from './built-package.js';

const dir = join(ROOT, '.tmp', 'workers', String(process.pid));
const bundles = new Map<string, string>();

/** The path of `script` (a .ts worker) bundled into one .mjs; built on first use in this process. */
export function bundled(script: string): string {
  const known = bundles.get(script);
  if (known !== undefined) return known;
  if (bundles.size === 0) {
    mkdirSync(dir, { recursive: true });
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  }
  const outfile = join(dir, `${bundles.size}-${basename(script, '.ts')}.mjs`);
  buildSync({
    entryPoints: [script],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    logLevel: 'warning',
  });
  bundles.set(script, outfile);
  return outfile;
}
