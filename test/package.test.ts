/**
 * The package as an app loads it by name: ESM `import`, and CommonJS `require()` through
 * the `default` export condition (Node ≥ 20.19 and ≥ 22.12 can require an ES module).
 * Each check runs in its own node process from an app directory that links the built
 * package into node_modules, the way an install does.
 */
import { spawnSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appDir } from './support/built-package.js';

const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);
const canRequireEsm = major > 22 || (major === 22 && minor >= 12) || (major === 20 && minor >= 19);

/** What each script prints: the kinds of a few exports, and a grant made through them. */
const probe = (load: string) => `${load}
const client = new Database(':memory:');
const ledger = pkg.createLedger(drizzle(client));
Promise.resolve()
  .then(() => ledger.migrate())
  .then(() => ledger.grant({ account: 'a', amount: 7 }))
  .then((r) => {
    console.log(JSON.stringify({
      createLedger: typeof pkg.createLedger,
      LedgerError: typeof pkg.LedgerError,
      creditEntry: typeof schema.creditEntry,
      tablesFilter: kit.ledgerTablesFilter,
      balance: r.balance,
    }));
  });
`;

const CJS = probe(`const pkg = require('drizzle-credits');
const schema = require('drizzle-credits/schema');
const kit = require('drizzle-credits/drizzle-kit');
const Database = require('better-sqlite3');
const { drizzle } = require('drizzle-orm/better-sqlite3');`);

const ESM = probe(`import * as pkg from 'drizzle-credits';
import * as schema from 'drizzle-credits/schema';
import * as kit from 'drizzle-credits/drizzle-kit';
import Database from 'better-sqlite3';
import { drizzle } from 'drizzle-orm/better-sqlite3';`);

const EXPECTED = {
  createLedger: 'function',
  LedgerError: 'function',
  creditEntry: 'object',
  tablesFilter: ['!credit_*', '!drizzle_credits_*'],
  balance: 7,
};

describe('loading the package by name', () => {
  let dir: string;
  beforeAll(() => {
    dir = appDir('drizzle-credits-load-', ['better-sqlite3', 'drizzle-orm']);
    writeFileSync(join(dir, 'probe.cjs'), CJS);
    writeFileSync(join(dir, 'probe.mjs'), ESM);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const run = (script: string) => {
    const r = spawnSync(process.execPath, [script], { cwd: dir, encoding: 'utf8', timeout: 30_000 });
    expect(r.status, r.stderr).toBe(0);
    return JSON.parse(r.stdout.trim().split('\n').at(-1) ?? '');
  };

  it('import from an ES module', () => {
    expect(run('probe.mjs')).toEqual(EXPECTED);
  });

  it.skipIf(!canRequireEsm)(`require() from a CommonJS file (needs Node ≥ 20.19 or ≥ 22.12; this is ${process.version})`, () => {
    expect(run('probe.cjs')).toEqual(EXPECTED);
  });
});
