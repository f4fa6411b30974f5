/**
 * The auditors' pairing of a stored projection with what the replay derived: each stored row
 * with the derived value of its key (or undefined: nothing in the log makes it), then the
 * derived values no stored row had (missing from the projection).
 */
import type { Row } from './runner/index.js';

export async function pairByKey<K, W>(
  rows: AsyncIterable<Row>,
  derived: ReadonlyMap<K, W>,
  keyOf: (r: Row) => K,
  each: (r: Row, want: W | undefined) => void,
): Promise<W[]> {
  const left = new Map(derived);
  for await (const r of rows) {
    const k = keyOf(r);
    const want = left.get(k);
    left.delete(k);
    each(r, want);
  }
  return [...left.values()];
}
