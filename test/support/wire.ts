/**
 * JSON for the bun RPC that keeps the values bad-input tests send (NaN, ±Infinity, bigint,
 * undefined, functions) instead of silently turning them into null or dropping them.
 */
type Tagged =
  | { $wire: 'nan' | 'inf' | '-inf' | 'undefined' | 'fn' }
  | { $wire: 'bigint'; v: string }
  | { $wire: 'sql'; sql: string; params: unknown[] };

export function encode(value: unknown): string {
  return JSON.stringify(value, function (this: Record<string, unknown>, key, v) {
    const raw = key === '' ? v : this[key];
    if (typeof raw === 'number' && !Number.isFinite(raw)) return { $wire: Number.isNaN(raw) ? 'nan' : raw > 0 ? 'inf' : '-inf' };
    if (typeof raw === 'bigint') return { $wire: 'bigint', v: raw.toString() };
    if (raw === undefined && key !== '') return { $wire: 'undefined' };
    if (typeof raw === 'function') return { $wire: 'fn' };
    // A Drizzle query (for `with`): sent rendered, rebuilt on the other side with a toSQL().
    if (raw !== null && typeof raw === 'object' && typeof (raw as { toSQL?: unknown }).toSQL === 'function') {
      const { sql, params } = (raw as { toSQL: () => { sql: string; params: unknown[] } }).toSQL();
      return { $wire: 'sql', sql, params };
    }
    return v;
  });
}

export function decode(text: string): unknown {
  return revive(JSON.parse(text));
}

function revive(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(revive);
  if (v !== null && typeof v === 'object') {
    const t = v as Tagged;
    if (typeof t.$wire === 'string') {
      switch (t.$wire) {
        case 'nan':
          return Number.NaN;
        case 'inf':
          return Number.POSITIVE_INFINITY;
        case '-inf':
          return Number.NEGATIVE_INFINITY;
        case 'undefined':
          return undefined;
        case 'fn':
          return () => undefined;
        case 'bigint':
          return BigInt((t as { v: string }).v);
        case 'sql': {
          const { sql, params } = t as { sql: string; params: unknown[] };
          return { toSQL: () => ({ sql, params: revive(params) }) };
        }
      }
    }
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) {
      const r = revive(x);
      // A key whose value was undefined stays present, as the caller wrote it.
      out[k] = r;
    }
    return out;
  }
  return v;
}
