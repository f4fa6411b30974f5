/**
 * The benchmark measures what it says it measures: every scenario of `npm run bench`
 * (bench/suite-scenarios.ts), run a few ops on a small copy of the suite's own fixtures, appends
 * exactly the rows it declares per op, passes its own check, and leaves a log `verify()`
 * accepts, on better-sqlite3 and the `libsql` package (libSQL native); the raw floors on
 * @libsql/client too (their atomic unit is a `client.batch` there).
 * Nothing here is timed: a scenario that rots (a fixture it needs, a row it no longer writes)
 * fails here instead of in the middle of a benchmark run.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACCOUNT } from '../bench/setup.js';
import { type DriverKind, openConn } from '../bench/suite-driver.js';
import { freshCopy, type Pristine, removeDb, seedPristine } from '../bench/suite-fixtures.js';
import { headOf, SCENARIOS } from '../bench/suite-scenarios.js';

const HISTORY = 200;
const OPS = 4;

let dir: string;
let pristine: Pristine;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'dc-bench-scenarios-'));
  pristine = await seedPristine(dir, HISTORY);
}, 60_000);

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

interface Case {
  driver: DriverKind;
  key: string;
  s: (typeof SCENARIOS)[number];
}
const cases: Case[] = [
  ...SCENARIOS.map((s): Case => ({ driver: 'better-sqlite3', key: s.key, s })),
  ...SCENARIOS.map((s): Case => ({ driver: 'libsql-native', key: s.key, s })),
  ...SCENARIOS.filter((s) => s.key.startsWith('guard_floor')).map((s): Case => ({ driver: 'libsql', key: s.key, s })),
];

describe('bench scenarios', () => {
  it.each(cases)('$driver: $key', async ({ driver, s }) => {
    const work = join(dir, `work-${driver}-${s.key}.db`);
    freshCopy(pristine[s.writes ? s.fixture : 'plain'], work);
    const conn = await openConn(driver, work);
    try {
      const prepared = await s.prepare(conn, ACCOUNT);
      const before = (await headOf(conn, ACCOUNT, s.table)).seq;
      for (let i = 0; i < OPS; i++) await prepared.op(i);
      const after = (await headOf(conn, ACCOUNT, s.table)).seq;
      expect(after - before).toBe(s.rowsPerOp * OPS);
      await prepared.check?.();
      if (s.writes && s.table === 'credit_entry') {
        const report = await conn.ledger.verify();
        expect(report.problems).toEqual([]);
        expect(report.ok).toBe(true);
      }
    } finally {
      conn.close();
      removeDb(work);
    }
  });
});
