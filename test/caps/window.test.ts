/**
 * The window rule has two implementations: SQL (src/caps/window.ts windowStartSql, inlined
 * in migration 0010's triggers) and its JavaScript twin (resetsAt, the auditor's replay).
 * They must agree on every time; both must be calendar UTC: a day from 00:00, an ISO week
 * from Monday, a month from the 1st, whatever the month's length or the year.
 */
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LAST_WINDOW_TIME, windowEnd, windowStart, windowStartSql } from '../../src/caps/window.js';
import type { CapWindow } from '../../src/index.js';

const db = new Database(':memory:');
const stmt = db.prepare(`WITH p AS (SELECT ? AS w, CAST(? AS INTEGER) AS t) SELECT ${windowStartSql('p.w', 'p.t')} AS s FROM p`);
const sqlStart = (w: CapWindow, t: number): number => Number((stmt.get(w, t) as { s: number }).s);
const WINDOWS: CapWindow[] = ['day', 'week', 'month'];
const iso = (t: number) => new Date(t).toISOString();

describe('cap windows', () => {
  it('SQL and JavaScript agree on random times (epoch to the year 9999)', () => {
    fc.assert(
      fc.property(fc.constantFrom(...WINDOWS), fc.integer({ min: 0, max: LAST_WINDOW_TIME }), (w, t) => {
        expect(sqlStart(w, t)).toBe(windowStart(w, t));
      }),
      { numRuns: 3000 },
    );
  });

  it('SQL and JavaScript agree at every boundary ± 1 ms', () => {
    for (const w of WINDOWS) {
      let t = Date.UTC(2023, 10, 1);
      for (let i = 0; i < 60; i++) {
        const end = windowEnd(w, t);
        for (const x of [end - 1, end, end + 1]) expect(sqlStart(w, x), `${w} ${iso(x)}`).toBe(windowStart(w, x));
        t = end;
      }
    }
  });

  it('a day starts at 00:00 UTC', () => {
    expect(iso(windowStart('day', Date.UTC(2024, 2, 10, 23, 59, 59, 999)))).toBe('2024-03-10T00:00:00.000Z');
    expect(iso(windowEnd('day', Date.UTC(2024, 2, 10, 0)))).toBe('2024-03-11T00:00:00.000Z');
  });

  it('an ISO week starts on Monday 00:00 UTC (also across a month and a year)', () => {
    // Sunday 2024-03-10 → Monday 2024-03-04; Monday itself starts its week.
    expect(iso(windowStart('week', Date.UTC(2024, 2, 10, 23)))).toBe('2024-03-04T00:00:00.000Z');
    expect(iso(windowStart('week', Date.UTC(2024, 2, 11)))).toBe('2024-03-11T00:00:00.000Z');
    expect(iso(windowStart('week', Date.UTC(2024, 2, 11) - 1))).toBe('2024-03-04T00:00:00.000Z');
    // Thursday 2026-01-01 is in the week of Monday 2025-12-29.
    expect(iso(windowStart('week', Date.UTC(2026, 0, 1, 12)))).toBe('2025-12-29T00:00:00.000Z');
    expect(iso(windowEnd('week', Date.UTC(2026, 0, 1, 12)))).toBe('2026-01-05T00:00:00.000Z');
    // 1970-01-01 was a Thursday: its week began on Monday 1969-12-29.
    expect(windowStart('week', 0)).toBe(Date.UTC(1969, 11, 29));
    expect(sqlStart('week', 0)).toBe(Date.UTC(1969, 11, 29));
    for (let d = 0; d < 400; d++) expect(new Date(windowStart('week', Date.UTC(2023, 0, 1) + d * 86_400_000)).getUTCDay()).toBe(1);
  });

  it('a month starts on the 1st, whatever its length; leap years included', () => {
    expect(iso(windowStart('month', Date.UTC(2024, 1, 29, 23, 59)))).toBe('2024-02-01T00:00:00.000Z');
    expect(iso(windowEnd('month', Date.UTC(2024, 1, 29, 23, 59)))).toBe('2024-03-01T00:00:00.000Z');
    expect(iso(windowEnd('month', Date.UTC(2023, 1, 15)))).toBe('2023-03-01T00:00:00.000Z');
    expect(iso(windowEnd('month', Date.UTC(2100, 1, 15)))).toBe('2100-03-01T00:00:00.000Z'); // 2100: not leap
    expect(iso(windowEnd('month', Date.UTC(2000, 1, 15)))).toBe('2000-03-01T00:00:00.000Z');
    expect(windowEnd('month', Date.UTC(2000, 1, 15)) - windowStart('month', Date.UTC(2000, 1, 15))).toBe(29 * 86_400_000);
    expect(iso(windowEnd('month', Date.UTC(2024, 11, 31, 23, 59)))).toBe('2025-01-01T00:00:00.000Z');
    for (const [m, days] of [
      [0, 31],
      [3, 30],
      [1, 29],
    ] as const) {
      const t = Date.UTC(2024, m, 10);
      expect(windowEnd('month', t) - windowStart('month', t)).toBe(days * 86_400_000);
      expect(sqlStart('month', windowEnd('month', t) - 1)).toBe(windowStart('month', t));
    }
  });
});
