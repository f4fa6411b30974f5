/**
 * Only LedgerErrors leave the public API. A driver error of unknown meaning, or a TypeError
 * from a driver response of an unexpected shape, becomes LedgerError('internal') with the
 * original as `cause` — on every method, rebuild/stats/verify/migrate included.
 */
import Database from 'better-sqlite3';
import { drizzle as drizzleBetter } from 'drizzle-orm/better-sqlite3';
import { drizzle as drizzleD1 } from 'drizzle-orm/d1';
import { describe, expect, it } from 'vitest';
import { createIds } from '../src/ids.js';
import { createLedger, ERROR_CODES, LedgerError } from '../src/index.js';
import { rebuild } from '../src/rebuild.js';
import type { Row, Runner, Statement } from '../src/runner/index.js';
import { everyCall } from './support/every-call.js';

const thrown = (call: () => Promise<unknown>) =>
  call().then(
    () => undefined,
    (e: unknown) => e,
  );

describe("errors the ledger does not know become LedgerError('internal')", () => {
  it('is a documented code', () => {
    expect(ERROR_CODES).toContain('internal');
    expect(ERROR_CODES).toContain('in_transaction');
  });

  it('a driver that throws an arbitrary Error: every method, cause kept', async () => {
    const client = new Database(':memory:');
    const ledger = createLedger(drizzleBetter(client));
    const boom = new Error('the disk controller caught fire');
    client.prepare = () => {
      throw boom;
    };
    for (const [name, call] of everyCall(ledger, { migrate: true })) {
      const e = await thrown(call);
      expect(e, name).toBeInstanceOf(LedgerError);
      expect((e as LedgerError).code, name).toBe('internal');
      expect((e as LedgerError).cause, name).toBe(boom);
      expect((e as LedgerError).message, name).toContain('the disk controller caught fire');
    }
    client.close();
  });

  it('a driver whose response has an unexpected shape (a TypeError inside the ledger): every method, cause kept', async () => {
    // D1-shaped: `batch` answers null instead of an array of results.
    const fake = {
      prepare: () => ({ bind: () => ({}) }),
      batch: async () => null,
      exec: async () => null,
    };
    const ledger = createLedger(drizzleD1(fake as never));
    expect(ledger.driver).toBe('d1');
    for (const [name, call] of everyCall(ledger, { migrate: true })) {
      const e = await thrown(call);
      expect(e, name).toBeInstanceOf(LedgerError);
      expect((e as LedgerError).code, name).toBe('internal');
      expect((e as LedgerError).cause, name).toBeInstanceOf(TypeError);
    }
  });

  it('a driver error of known meaning keeps its code', async () => {
    const client = new Database(':memory:');
    const ledger = createLedger(drizzleBetter(client));
    client.prepare = () => {
      throw Object.assign(new Error('database is locked'), { code: 'SQLITE_BUSY' });
    };
    await expect(ledger.getBalance('a')).rejects.toMatchObject({ code: 'busy' });
    client.close();
  });
});

/** A runner over a log that a concurrent writer grows, and whose abort says something new. */
function racingRunner(opts: { growsFor: number; abort: () => Error }) {
  let top = 10;
  let execs = 0;
  const runner: Runner = {
    driver: 'better-sqlite3',
    write: async () => {
      throw new Error('unused');
    },
    writeMany: async () => {
      throw new Error('unused');
    },
    read: async (statements: readonly Statement[]): Promise<Row[][]> =>
      statements.map((s) => (/MAX\((rowid|pos)\)/.test(s.sql) ? [{ r: top }] : [])),
    exec: async () => {
      execs++;
      if (execs <= opts.growsFor) {
        top++; // a writer appended between the replay and the write
        throw opts.abort();
      }
    },
  };
  return { runner, execs: () => execs };
}

describe('rebuild: a concurrent writer is recognised whatever the abort says', () => {
  it('an abort worded in a way the ledger does not know, while the log grew: replays again', async () => {
    const r = racingRunner({ growsFor: 2, abort: () => new Error('SQLITE_CONSTRAINT: something phrased anew') });
    const report = await rebuild(r.runner, createIds());
    expect(r.execs()).toBe(3);
    expect(report.entries).toBe(0);
  });

  it("the guard's abort wrapped by a driver (in `cause`): replays again", async () => {
    const r = racingRunner({
      growsFor: 1,
      abort: () => new Error('batch failed', { cause: new Error('CHECK constraint failed: credit_unit_not_applied') }),
    });
    await rebuild(r.runner, createIds());
    expect(r.execs()).toBe(2);
  });

  it('the log kept growing through every attempt: busy, the last abort as cause', async () => {
    const r = racingRunner({ growsFor: 99, abort: () => new Error('CHECK constraint failed: credit_unit_not_applied') });
    const e = await thrown(() => rebuild(r.runner, createIds()));
    expect(e).toBeInstanceOf(LedgerError);
    expect(e).toMatchObject({ code: 'busy' });
    expect(((e as LedgerError).cause as Error).message).toContain('credit_unit_not_applied');
    expect(r.execs()).toBe(5);
  });

  it('a failure while the log did not grow is not a race: thrown as it is (the facade makes it internal)', async () => {
    const boom = new Error('something else');
    let execs = 0;
    const runner = {
      ...racingRunner({ growsFor: 0, abort: () => boom }).runner,
      exec: async () => {
        execs++;
        throw boom;
      },
    };
    expect(await thrown(() => rebuild(runner, createIds()))).toBe(boom);
    expect(execs).toBe(1);
  });
});
