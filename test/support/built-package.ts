/**
 * The package as an app installs it: package.json plus the `tsc -p tsconfig.json` build,
 * and a throwaway app directory whose node_modules links it by name. Tests that import
 * 'drizzle-credits' by name (CommonJS require, drizzle-kit configs) use this rather than
 * dist/, which is only as fresh as the last `npm run build`.
 *
 * The build goes to .tmp/package-<hash of src, package.json, tsconfig.json>/ and is reused
 * while those are unchanged. One process builds (under a lock directory) into a unique
 * name and renames it into place; test files running side by side wait for it and never
 * see half a build.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildOnce } from './build-once.js';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../..');

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .flatMap((d) => (d.isDirectory() ? files(join(dir, d.name)) : [join(dir, d.name)]))
    .sort();
}

/** The root of a built copy of the package (package.json and dist/). */
export function builtPackage(): string {
  const hash = createHash('sha256');
  for (const f of [...files(join(ROOT, 'src')), join(ROOT, 'package.json'), join(ROOT, 'tsconfig.json')]) {
    hash.update(relative(ROOT, f)).update('\0').update(readFileSync(f)).update('\0');
  }
  const target = join(ROOT, '.tmp', `package-${hash.digest('hex').slice(0, 16)}`);
  // One build at a time: test files asking together wait for the first one's build
  // rather than each running tsc on a shared 2-core machine.
  buildOnce(
    target,
    () => existsSync(join(target, 'package.json')),
    () => build(target),
    120_000,
  );
  return target;
}

function build(target: string): void {
  const work = mkdtempSync(`${target}.build-`);
  try {
    try {
      execFileSync(
        process.execPath,
        [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json', '--outDir', join(work, 'dist')],
        {
          cwd: ROOT,
          stdio: 'pipe',
        },
      );
    } catch (e) {
      throw new Error(`building the package failed:\n${(e as { stdout?: Buffer }).stdout ?? ''}`, { cause: e });
    }
    // package.json last: its presence marks a complete build.
    cpSync(join(ROOT, 'package.json'), join(work, 'package.json'));
    renameSync(work, target);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/**
 * A fresh app directory under the OS temp dir whose node_modules has `drizzle-credits`
 * (the built package) and the named dependencies (from this repository) linked by name.
 */
export function appDir(prefix: string, deps: string[] = []): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  mkdirSync(join(dir, 'node_modules'));
  symlinkSync(builtPackage(), join(dir, 'node_modules/drizzle-credits'), 'dir');
  for (const d of deps) symlinkSync(join(ROOT, 'node_modules', d), join(dir, 'node_modules', d), 'dir');
  return dir;
}
