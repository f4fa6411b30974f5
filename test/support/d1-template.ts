/**
 * A D1 database that ledger.migrate() has already brought to this package's schema, for the
 * driver matrix to copy rather than migrate each time: on miniflare a migrate() from empty
 * costs ~1.5 s of CPU (17 migrations, ~8 ms a statement), and the suite opens D1 databases
 * some fifty times. A copy opens in ~0.3 s; the matrix still calls migrate() on it (the
 * already-up-to-date path every app start takes). Suites that test migrations themselves
 * open with `migrate: false` and get an empty in-memory D1 as before.
 *
 * The template is miniflare's persistence directory (d1Persist) after one migrate(), in
 * .tmp/d1-migrated-<hash of src and the miniflare version>/, built once by whichever test
 * file asks first (under a lock directory, into a unique name renamed into place) and
 * reused while those are unchanged.
 */
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { buildOnceAsync } from './build-once.js';
import { ROOT } from './built-package.js';
import { D1_OVER_FETCH, d1OverFetch } from './d1-over-fetch.js';

const DONE = 'migrated'; // written last: its presence marks a complete template

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .flatMap((d) => (d.isDirectory() ? files(join(dir, d.name)) : [join(dir, d.name)]))
    .sort();
}

function templatePath(): string {
  const hash = createHash('sha256');
  for (const f of [...files(join(ROOT, 'src')), join(ROOT, 'node_modules/miniflare/package.json')]) {
    hash.update(relative(ROOT, f)).update('\0').update(readFileSync(f)).update('\0');
  }
  return join(ROOT, '.tmp', `d1-migrated-${hash.digest('hex').slice(0, 16)}`);
}

async function build(target: string): Promise<void> {
  const { Miniflare } = await import('miniflare');
  const { drizzle } = await import('drizzle-orm/d1');
  const { createLedger } = await import('../../src/index.js');
  const work = mkdtempSync(`${target}.build-`);
  try {
    const mf = new Miniflare({ ...D1_OVER_FETCH, d1Databases: { DB: 'ledger' }, d1Persist: work });
    try {
      await createLedger(drizzle(d1OverFetch(mf) as never)).migrate();
    } finally {
      await mf.dispose();
    }
    mkdirSync(join(work, DONE));
    renameSync(work, target);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

let template: Promise<string> | undefined;

/** The template's directory (built on first use in this process, or found on disk). */
function migratedTemplate(): Promise<string> {
  template ??= (async () => {
    const target = templatePath();
    await buildOnceAsync(
      target,
      () => existsSync(join(target, DONE)),
      () => build(target),
      60_000,
    );
    return target;
  })();
  return template;
}

/** A fresh persistence directory holding a copy of the migrated template; the caller removes it. */
export async function migratedD1Copy(): Promise<string> {
  const from = await migratedTemplate();
  const dir = mkdtempSync(join(tmpdir(), 'drizzle-credits-d1-'));
  cpSync(from, dir, { recursive: true, filter: (src) => relative(from, src) !== DONE });
  return dir;
}
