import type { D1Database } from '@cloudflare/workers-types';
import { wrapDriverError } from '../errors.js';
import { writeUnits } from './batch.js';
import type { Row, Runner, Statement } from './types.js';

/** D1 binds no `undefined`; every statement here passes null for "absent". */
const prepare = (d1: D1Database, s: Statement) => d1.prepare(s.sql).bind(...s.args.map((a) => (a === undefined ? null : a)));

/** D1 has no BEGIN; its `batch` is atomic and one round trip. */
export function d1Runner(d1: D1Database): Runner {
  const batch = async (statements: readonly Statement[]): Promise<Row[][]> => {
    try {
      const results = await d1.batch(statements.map((s) => prepare(d1, s)));
      return results.map((r) => (r.results ?? []) as Row[]);
    } catch (e) {
      wrapDriverError(e);
    }
  };
  const writeMany: Runner['writeMany'] = (units) => writeUnits(units, batch, batch);
  return {
    driver: 'd1',
    writeMany,
    write: async (unit) => (await writeMany([unit]))[0] as never,
    read: batch,
    exec: async (statements) => {
      await batch(statements);
    },
  };
}
