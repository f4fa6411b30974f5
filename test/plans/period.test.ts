import Database from 'better-sqlite3';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LAST_PERIOD_TIME, periodAt, periodCtes } from '../../src/plans/period.js';
import { PLAN_PERIODS, type PlanPeriod } from '../../src/schema.js';

const db = new Database(':memory:');
const stmt = db.prepare(
  `WITH src AS (SELECT CAST(? AS INTEGER) AS anchor, ? AS every, CAST(? AS INTEGER) AS t), ${periodCtes('per', 'src', 'f.t')}
   SELECT per_start AS start, per_end AS end, per_prev AS prev FROM per`,
);
const sqlPeriod = (every: PlanPeriod, anchor: number, t: number) => {
  const { start, end, prev } = stmt.get(anchor, every, t) as { start: number; end: number; prev: number };
  // The period before starts at prev and ends at start.
  expect(periodAt(every, anchor, start - 1)).toEqual({ start: prev, end: start });
  return { start, end };
};
const utc = (s: string) => Date.parse(`${s}Z`);

describe('allowance periods', () => {
  it('monthly on the 31st falls on the last day of shorter months and returns to the 31st', () => {
    const anchor = utc('2027-01-31T10:00:00');
    const starts = [];
    let t = anchor;
    for (let i = 0; i < 4; i++) {
      const p = periodAt('month', anchor, t);
      expect(sqlPeriod('month', anchor, t)).toEqual(p);
      starts.push(new Date(p.start).toISOString());
      t = p.end;
    }
    expect(starts).toEqual([
      '2027-01-31T10:00:00.000Z',
      '2027-02-28T10:00:00.000Z',
      '2027-03-31T10:00:00.000Z',
      '2027-04-30T10:00:00.000Z',
    ]);
    // Leap year: 29 February.
    expect(new Date(periodAt('month', utc('2028-01-31T00:00:00'), utc('2028-03-01T00:00:00')).start).toISOString()).toBe(
      '2028-02-29T00:00:00.000Z',
    );
  });

  it('yearly on 29 February falls on 28 February in other years and returns in leap years', () => {
    const anchor = utc('2028-02-29T00:00:00');
    expect(periodAt('year', anchor, utc('2029-06-01T00:00:00'))).toEqual({
      start: utc('2029-02-28T00:00:00'),
      end: utc('2030-02-28T00:00:00'),
    });
    expect(periodAt('year', anchor, utc('2032-03-01T00:00:00')).start).toBe(utc('2032-02-29T00:00:00'));
    expect(sqlPeriod('year', anchor, utc('2029-06-01T00:00:00'))).toEqual(periodAt('year', anchor, utc('2029-06-01T00:00:00')));
  });

  it('an idle account lands in the period of now, computed from the anchor (no drift)', () => {
    const anchor = utc('2027-01-31T00:00:00');
    expect(periodAt('month', anchor, utc('2027-07-15T00:00:00'))).toEqual({
      start: utc('2027-06-30T00:00:00'),
      end: utc('2027-07-31T00:00:00'),
    });
    expect(periodAt('week', anchor, anchor + 3 * 7 * 86_400_000 + 5)).toEqual({
      start: anchor + 3 * 7 * 86_400_000,
      end: anchor + 4 * 7 * 86_400_000,
    });
  });

  it('SQL and JavaScript agree, and every period contains t, for random anchors and times', () => {
    const time = fc.integer({ min: 0, max: LAST_PERIOD_TIME - 2 * 366 * 86_400_000 });
    fc.assert(
      fc.property(fc.constantFrom(...PLAN_PERIODS), time, time, (every, anchor, t) => {
        const js = periodAt(every, anchor, t);
        expect(js.start).toBeLessThanOrEqual(t);
        expect(js.end).toBeGreaterThan(t);
        expect(sqlPeriod(every, anchor, t)).toEqual(js);
        // The next period starts where this one ends.
        expect(periodAt(every, anchor, js.end).start).toBe(js.end);
      }),
      { numRuns: 3000 },
    );
  });
});
