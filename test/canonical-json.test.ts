/**
 * canonicalJson writes sorted-key JSON directly (src/validate.ts). Entries store it and replays
 * compare against it, so its output must never differ from what it wrote before: JSON.stringify
 * of a copy with every object's keys sorted. Checked here against that reference on arbitrary
 * values, including what the direct path hands back to the copy path (toJSON, Dates, class
 * instances, boxed primitives) and what JSON.stringify drops or turns into null.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalJson } from '../src/validate.js';

/** The reference: a sorted copy (own enumerable string keys, as JSON.stringify sees them), stringified. */
function reference(v: unknown): string | undefined {
  const sorted = (x: unknown): unknown => {
    if (Array.isArray(x)) return x.map(sorted);
    if (x !== null && typeof x === 'object') {
      const out: Record<string, unknown> = {};
      for (const k of Object.keys(x).sort()) {
        Object.defineProperty(out, k, {
          value: sorted((x as Record<string, unknown>)[k]),
          enumerable: true,
          writable: true,
          configurable: true,
        });
      }
      return out;
    }
    return x;
  };
  return JSON.stringify(sorted(v));
}

const odd = fc.oneof(
  fc.constant(undefined),
  fc.constant(() => 1),
  fc.constant(Symbol('s')),
  fc.date({ noInvalidDate: true }),
  fc.constant(new String('boxed')),
  fc.constant(Object.create(null) as object),
  fc.constant({ toJSON: () => ({ b: 1, a: 2 }) }),
  fc.constant(Object.assign(new Array(3), { 0: 1, 2: 3 })),
  fc.constant({ 10: 'a', 9: 'b', b: 1, '': 2, '01': 3, 4294967294: 4, 4294967295: 5, '-1': 6 }),
  fc.constant(-0),
  fc.constant(Number.NaN),
  fc.constant(Number.POSITIVE_INFINITY),
  fc.constant('\ud800 lone'),
  fc.constant({ __proto__: null, z: 1, a: [undefined] }),
  fc.constant(JSON.parse('{"__proto__": {"b": 1, "a": 2}, "z": 0, "1": [2]}') as object),
);

const value = fc.letrec((tie) => ({
  node: fc.oneof(
    { depthSize: 'small' },
    fc.jsonValue({ maxDepth: 2 }),
    odd,
    fc.array(tie('node'), { maxLength: 4 }),
    fc.dictionary(
      fc.oneof(fc.string({ maxLength: 6 }), fc.nat().map(String), fc.constantFrom('4294967294', '4294967295', '007', '1e3')),
      tie('node'),
      {
        maxKeys: 6,
      },
    ),
  ),
})).node;

describe('canonicalJson', () => {
  it('writes what JSON.stringify of a sorted copy writes, for any value', () => {
    fc.assert(
      fc.property(value, (v) => {
        expect(canonicalJson(v)).toBe(reference(v));
      }),
      { numRuns: 3000 },
    );
  });

  it('sorts keys at every depth and keeps array order', () => {
    expect(canonicalJson({ b: [{ d: 1, c: 2 }, 3], a: { z: null, y: 'x' } })).toBe('{"a":{"y":"x","z":null},"b":[{"c":2,"d":1},3]}');
  });

  it('throws as JSON.stringify does on a BigInt', () => {
    expect(() => canonicalJson({ a: 1n })).toThrow(TypeError);
  });
});
