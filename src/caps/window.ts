/**
 * Spend-cap windows: calendar UTC. A day starts at 00:00, an ISO week on Monday 00:00, a
 * month on the 1st at 00:00. One definition in SQL (used by every guard and read) and its
 * JavaScript twin (for `resetsAt`, the auditor's replay and the tests), checked against each
 * other in test/caps/window.test.ts. Migration 0010's triggers inline the same SQL text.
 */
import type { CapWindow } from '../schema.js';

export const DAY_MS = 86_400_000;
export const WEEK_MS = 7 * DAY_MS;

/**
 * SQL: the start of the window of kind `w` (an expression giving 'day', 'week' or 'month')
 * that contains the time `t` (integer milliseconds). 1970-01-01 was a Thursday, so day
 * number d is (d + 3) % 7 days after its week's Monday. Months come from SQLite's calendar.
 */
export const windowStartSql = (w: string, t: string): string =>
  `CASE ${w} WHEN 'day' THEN ${t} - ${t} % ${DAY_MS} ` +
  `WHEN 'week' THEN ${t} - ${t} % ${DAY_MS} - ((${t} / ${DAY_MS} + 3) % 7) * ${DAY_MS} ` +
  `ELSE CAST(strftime('%s', ${t} / 1000, 'unixepoch', 'start of month') AS INTEGER) * 1000 END`;

/** JavaScript twin of windowStartSql. */
export function windowStart(w: CapWindow, t: number): number {
  const day = t - (t % DAY_MS);
  if (w === 'day') return day;
  if (w === 'week') return day - ((Math.floor(t / DAY_MS) + 3) % 7) * DAY_MS;
  const d = new Date(t);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
}

/** The first millisecond after the window of kind `w` that contains `t`: when its spend resets. */
export function windowEnd(w: CapWindow, t: number): number {
  const start = windowStart(w, t);
  if (w === 'day') return start + DAY_MS;
  if (w === 'week') return start + WEEK_MS;
  const d = new Date(start);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
}

/**
 * The latest time a window can be computed for in SQL: SQLite's calendar ends with the year
 * 9999, so caps are refused beyond it (a ledger clock there is almost certainly wrong).
 */
export const LAST_WINDOW_TIME = Date.UTC(9999, 11, 1) - 1;
