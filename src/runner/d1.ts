import type { D1Database } from '@cloudflare/workers-types';
import { wrapDriverError } from '../errors.js';
import { D1_PREPARED_CACHE } from '../limits.js';
import { writeUnits } from './batch.js';
import type { Row, Runner, Statement } from './types.js';

/** D1 has no BEGIN; its `batch` is atomic and one round trip. */
export function d1Runner(d1: D1Database): Runner {
  // Prepared statements by SQL text (the ledger's texts are constants): `bind` returns a new
  // statement and leaves the prepared one as it was, so one serves every call. Through a proxy
  // (miniflare in Node) each `prepare` is a synchronous call into workerd; cached, a statement
  // costs one such call (its bind) instead of two.
  const prepared = new Map<string, ReturnType<D1Database['prepare']>>();
  /** D1 binds no `undefined`; every statement here passes null for "absent". */
  const prepare = (s: Statement) => {
    let p = prepared.get(s.sql);
    if (p === undefined) {
      if (prepared.size >= D1_PREPARED_CACHE) prepared.delete(prepared.keys().next().value as string);
      p = d1.prepare(s.sql);
      prepared.set(s.sql, p);
    }
    return p.bind(...s.args.map((a) => (a === undefined ? null : a)));
  };
  const batch = async (statements: readonly Statement[]): Promise<Row[][]> => {
    try {
      const results = await d1.batch(statements.map(prepare));
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
