import type { Client, InStatement, ResultSet } from '@libsql/client';
import { wrapDriverError } from '../errors.js';
import type { Row, Runner, Statement } from './types.js';

const toLibsql = (s: Statement): InStatement => ({ sql: s.sql, args: s.args as InStatement extends { args?: infer A } ? A : never });

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
 * libSQL (`file:` and remote Turso): `batch(…, 'write')` is one request and one
 * transaction. Local files need the client's `timeout` (busy timeout): without it a
 * SQLITE_BUSY can drop an acknowledged write (libsql-client-ts #352).
 */
export function libsqlRunner(client: Client): Runner {
  return {
    driver: 'libsql',
    async write(unit) {
      try {
        if (unit.statements.length === 1) return [rowsOf(await client.execute(toLibsql(unit.statements[0] as Statement)))];
        const results = await client.batch(unit.statements.map(toLibsql), 'write');
        return results.map(rowsOf);
      } catch (e) {
        wrapDriverError(e);
      }
    },
    async read(statements) {
      try {
        if (statements.length === 1) return [rowsOf(await client.execute(toLibsql(statements[0] as Statement)))];
        const results = await client.batch(statements.map(toLibsql), 'read');
        return results.map(rowsOf);
      } catch (e) {
        wrapDriverError(e);
      }
    },
    async exec(statements) {
      try {
        await client.batch(statements.map(toLibsql), 'write');
      } catch (e) {
        wrapDriverError(e);
      }
    },
  };
}
