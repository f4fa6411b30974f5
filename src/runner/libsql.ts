import type { Client, InArgs, ResultSet } from '@libsql/client';
import { wrapDriverError } from '../errors.js';
import { LIBSQL_FILE_BUSY_TIMEOUT_MS } from '../limits.js';
import { writeUnits } from './batch.js';
import type { Row, Runner, Statement } from './types.js';

const toLibsql = (s: Statement) => ({ sql: s.sql, args: s.args as InArgs });

/** libSQL rows are arrays with named properties; copy to plain objects once. */
function rowsOf(rs: ResultSet): Row[] {
  const out: Row[] = [];
  for (const r of rs.rows) {
    const o: Row = {};
    rs.columns.forEach((c, i) => {
      o[c] = r[i];
    });
    out.push(o);
  }
  return out;
}

/**
 * Lets the runtime run its macrotask queue. libsql-js (under @libsql/client's `file:` URLs)
 * frees a prepared statement's native memory in a finalizer that Node runs from there, and
 * @libsql/client prepares every statement of every call again; a call resolves without ever
 * reaching that queue, so an app awaiting ledger calls in a loop (a queue consumer, a script)
 * never let it run: measured +350 KB of RSS per debit, unbounded (bench:full passed 15 GB). One
 * yield per call bounds it to what one call prepares (a few µs on calls that cost milliseconds).
 */
const yieldToMacrotasks = (): Promise<void> =>
  new Promise((resolve) => (typeof setImmediate === 'function' ? setImmediate(resolve) : setTimeout(resolve, 0)));

/**
 * libSQL (`file:` and remote Turso): `batch(…, 'write')` is one request and one
 * transaction. Local files need a busy timeout: without it a SQLITE_BUSY can drop an
 * acknowledged write (libsql-client-ts #352). @libsql/client 0.15 does not pass its
 * `timeout` option to `file:` connections, and opens a fresh connection after every
 * `transaction()`, so before each call on a local file we make sure the connection has
 * one (a local PRAGMA, no network), leaving any timeout the app set alone.
 */
export function libsqlRunner(client: Client): Runner {
  const local = client.protocol === 'file';
  const ensureBusyTimeout = async () => {
    const rs = await client.execute('PRAGMA busy_timeout');
    const current = Number(rs.rows[0]?.[0] ?? 0);
    if (current === 0) await client.execute(`PRAGMA busy_timeout = ${LIBSQL_FILE_BUSY_TIMEOUT_MS}`);
  };
  /**
   * On a local file, a statement that failed with SQLITE_BUSY stays active on the client's
   * connection (it could be retried, and nothing resets it until it is garbage collected):
   * every later COMMIT on that connection then fails ("SQL statements in progress"), and an
   * autocommit write there is acknowledged but not committed. So after a busy we hand that
   * connection to a transaction, which makes the client open a fresh one, and roll it back.
   */
  const recycleIfBusy = async (e: unknown) => {
    if (!local) return;
    const code = String((e as { code?: unknown })?.code ?? '');
    if (!/^SQLITE_(BUSY|LOCKED)/.test(code) && !/SQLITE_BUSY|database is locked/i.test(String((e as Error)?.message))) return;
    try {
      (await client.transaction('deferred')).close();
    } catch {
      // A closed client: nothing to recycle.
    }
  };
  const batch = async (statements: readonly Statement[], mode: 'write' | 'read'): Promise<Row[][]> => {
    try {
      if (local) await ensureBusyTimeout();
      // A lone write on a local file still goes in a BEGIN … COMMIT batch: in autocommit, on a
      // connection where a statement was left active (see recycleIfBusy; the app's own
      // statements share the connection), it would be acknowledged without being committed.
      if (statements.length === 1 && (mode === 'read' || !local))
        return [rowsOf(await client.execute(toLibsql(statements[0] as Statement)))];
      return (await client.batch(statements.map(toLibsql), mode)).map(rowsOf);
    } catch (e) {
      await recycleIfBusy(e);
      wrapDriverError(e);
    } finally {
      if (local) await yieldToMacrotasks();
    }
  };
  const writeMany: Runner['writeMany'] = (units) =>
    writeUnits(
      units,
      (statements) => batch(statements, 'write'),
      (statements) => batch(statements, 'read'),
    );
  return {
    driver: 'libsql',
    writeMany,
    write: async (unit) => (await writeMany([unit]))[0] as never,
    read: (statements) => batch(statements, 'read'),
    exec: async (statements) => {
      try {
        if (local) await ensureBusyTimeout();
        await client.batch(statements.map(toLibsql), 'write');
      } catch (e) {
        await recycleIfBusy(e);
        wrapDriverError(e);
      } finally {
        if (local) await yieldToMacrotasks();
      }
    },
  };
}
