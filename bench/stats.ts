/** Timing helpers and the small amount of statistics the report needs. */

export const median = (xs: readonly number[]): number => {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
};

/** Wall-clock seconds of one synchronous or asynchronous block. */
export async function seconds(fn: () => unknown): Promise<number> {
  const t0 = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

/** Nanoseconds per call of a cheap synchronous function (best of three batches). */
export function nsPerCall(fn: (i: number) => unknown, calls: number): number {
  let best = Number.POSITIVE_INFINITY;
  let sink: unknown;
  for (let b = 0; b < 3; b++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < calls; i++) sink = fn(i);
    best = Math.min(best, Number(process.hrtime.bigint() - t0) / calls);
  }
  if (sink === Symbol.for('never')) console.log(sink); // keep the result observable
  return best;
}

export const fmtInt = (n: number): string => Math.round(n).toLocaleString('en-US');
export const fmtPct = (r: number): string => `${(r * 100).toFixed(1)}%`;
export const fmtUs = (s: number): string => (s * 1e6).toFixed(2);

/** A plain-text table: first row is the header, columns after the first are right-aligned. */
export function table(rows: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const r of rows) {
    r.forEach((c, i) => {
      widths[i] = Math.max(widths[i] ?? 0, c.length);
    });
  }
  const line = (r: readonly string[]) =>
    r
      .map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  const [head, ...body] = rows;
  if (head === undefined) return '';
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}
