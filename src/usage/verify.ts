/**
 * The auditor's part for the usage rollup: reads the log by position up to the fold's
 * cursor, derives every hourly bucket in JavaScript (the bucket rules written a second time
 * on purpose, apart from the SQL of src/usage/sql.ts), and compares them with credit_usage,
 * bucket by bucket and measure by measure. Every difference is a `usage_mismatch`.
 *
 * Folds may run while it reads (any reader folds when the rollup falls behind). Each page of
 * the rollup is read together with the cursor; if the cursor moved, the rows it passed are
 * added to the derived buckets and the comparison starts over, so a concurrent fold is never
 * reported as a mismatch. Memory: one entry per bucket of the rollup.
 */
import { num } from '../entry.js';
import { LedgerError } from '../errors.js';
import { HOUR_MS, VERIFY_PAGE_ROWS } from '../limits.js';
import type { Row, Runner } from '../runner/index.js';
import type { VerifyProblem } from '../types.js';
import { hourKey } from './query.js';
import { FOLD_STATE, USAGE_MEASURES } from './sql.js';

const MEASURES = USAGE_MEASURES;
type Measure = (typeof MEASURES)[number];
type Bucket = Record<Measure, bigint>;
const ATTEMPTS = 5;

interface Derived {
  buckets: Map<string, { key: BucketKey; m: Bucket }>;
}
type BucketKey = [hour: string, account: string, model: string, keyId: string, actor: string];

const keyOf = (k: BucketKey) => JSON.stringify(k);
const zero = (): Bucket => Object.fromEntries(MEASURES.map((m) => [m, 0n])) as Bucket;
const text = (v: unknown): string => (v === null || v === undefined ? '' : String(v));
const big = (v: unknown): bigint => BigInt(num(v));

/** The bucket's hour: the time truncated to the hour, as SQLite's integer division does it. */
const hourOf = (at: number): string => String(at - (at % HOUR_MS));

/** Adds one log row to the buckets it counts in (or none), by the rules in the README. */
function apply(d: Derived, r: Row): void {
  const kind = String(r.kind);
  let src = r;
  const add: Partial<Bucket> = {};
  switch (kind) {
    case 'debit':
    case 'capture':
      add.debited = big(r.amount);
      add.debits = 1n;
      break;
    case 'refund':
      // Counted where the refunded entry counts (its hour and labels), on the refund's account.
      if (r.r_pos !== null && r.r_pos !== undefined)
        src = { created_at: r.r_at, model: r.r_model, key_id: r.r_key, actor: r.r_actor } as Row;
      add.refunded = big(r.amount);
      add.refunds = 1n;
      break;
    case 'grant':
      add.granted = big(r.amount);
      break;
    case 'adjust':
      add.adjusted = big(r.delta);
      break;
    case 'transfer_out':
      add.transferred_out = big(r.amount);
      break;
    case 'transfer_in':
      add.transferred_in = big(r.amount);
      break;
    case 'expire':
      if (num(r.delta) === 0) return; // a lapsed hold: no credits moved
      add.expired = -big(r.delta);
      break;
    default:
      return;
  }
  const key: BucketKey = [hourOf(num(src.created_at)), String(r.account), text(src.model), text(src.key_id), text(src.actor)];
  const k = keyOf(key);
  let b = d.buckets.get(k);
  if (b === undefined) {
    b = { key, m: zero() };
    d.buckets.set(k, b);
  }
  for (const m of MEASURES) b.m[m] += add[m] ?? 0n;
}

/** Adds the log rows with positions in (after, through]. */
async function accumulate(runner: Runner, d: Derived, after: number, through: number): Promise<void> {
  let cursor = after;
  for (;;) {
    const [rows = []] = await runner.read([
      {
        sql: `SELECT e.pos, e.kind, e.account, e.amount, e.delta, e.created_at, e.model, e.key_id, e.actor,
                     r.pos AS r_pos, r.created_at AS r_at, r.model AS r_model, r.key_id AS r_key, r.actor AS r_actor
              FROM credit_entry AS e LEFT JOIN credit_entry AS r ON e.kind = 'refund' AND r.pos = e.ref
              WHERE e.pos > ? AND e.pos <= ? ORDER BY e.pos LIMIT ?`,
        args: [cursor, through, VERIFY_PAGE_ROWS],
      },
    ]);
    for (const r of rows) apply(d, r);
    const last = rows[rows.length - 1];
    if (last === undefined || rows.length < VERIFY_PAGE_ROWS) return;
    cursor = num(last.pos);
  }
}

const describeKey = (k: BucketKey) => {
  const hour = /^\d+$/.test(k[0]) && Number.isSafeInteger(Number(k[0])) ? hourKey(Number(k[0])) : k[0];
  return `bucket ${hour} model=${k[2] || '-'} keyId=${k[3] || '-'} actor=${k[4] || '-'}`;
};
const show = (b: Bucket, only: readonly Measure[]) => only.map((m) => `${m} ${b[m]}`).join(', ');

/** Compares every stored bucket with the derived ones; null when done, else the cursor it moved to. */
async function compare(runner: Runner, d: Derived, through: number, problems: VerifyProblem[]): Promise<number | null> {
  const seen = new Set<string>();
  let after: string[] | null = null;
  const cols = 'hour, account, model, key_id, actor';
  for (;;) {
    const where: string = after === null ? '' : 'WHERE (hour, account, model, key_id, actor) > (?, ?, ?, ?, ?)';
    const [rows = [], [st] = []]: Row[][] = await runner.read([
      {
        // As text: a tampered value past 2^53 (or not a number) is compared, not rounded or thrown.
        sql: `SELECT CAST(hour AS TEXT) AS hour, account, model, key_id, actor, ${MEASURES.map((m) => `CAST(${m} AS TEXT) AS ${m}`).join(', ')}
              FROM credit_usage ${where} ORDER BY ${cols} LIMIT ?`,
        args: [...(after ?? []), VERIFY_PAGE_ROWS],
      },
      { sql: FOLD_STATE, args: [] },
    ]);
    const now = st?.through === null || st?.through === undefined ? null : num(st.through);
    if (now !== through) return now ?? through;
    for (const r of rows) {
      const key: BucketKey = [text(r.hour), text(r.account), text(r.model), text(r.key_id), text(r.actor)];
      const k = keyOf(key);
      seen.add(k);
      const want = d.buckets.get(k)?.m ?? zero();
      const stored = zero();
      const unreadable: Measure[] = [];
      for (const m of MEASURES) {
        try {
          stored[m] = BigInt(text(r[m]));
        } catch {
          unreadable.push(m);
        }
      }
      const differ = MEASURES.filter((m) => unreadable.includes(m) || stored[m] !== want[m]);
      if (differ.length === 0) continue;
      const storedText = differ.map((m) => `${m} ${unreadable.includes(m) ? JSON.stringify(text(r[m])) : stored[m]}`).join(', ');
      const message = d.buckets.has(k)
        ? `usage rollup ${describeKey(key)}: stored ${storedText}; the log says ${show(want, differ)}`
        : `usage rollup ${describeKey(key)}: stored ${storedText}, but no log row up to position ${through} counts there`;
      problems.push({ code: 'usage_mismatch', account: key[1], message });
    }
    const last = rows[rows.length - 1];
    if (last === undefined || rows.length < VERIFY_PAGE_ROWS) break;
    after = [text(last.hour), text(last.account), text(last.model), text(last.key_id), text(last.actor)];
  }
  for (const [k, { key, m }] of d.buckets) {
    if (seen.has(k)) continue;
    const differ = MEASURES.filter((x) => m[x] !== 0n);
    problems.push({
      code: 'usage_mismatch',
      account: key[1],
      message: `usage rollup ${describeKey(key)} is missing: the log up to position ${through} says ${show(m, differ)}`,
    });
  }
  return null;
}

export async function verifyUsage(runner: Runner, report: (p: VerifyProblem) => void): Promise<void> {
  const [[st] = []] = await runner.read([{ sql: FOLD_STATE, args: [] }]);
  if (st?.through === null || st?.through === undefined) {
    report({ code: 'usage_mismatch', message: 'the usage rollup has no cursor row (credit_usage_cursor): rebuild() restores it' });
    return;
  }
  let through = num(st.through);
  const top = num(st.top);
  if (through > top) {
    report({ code: 'usage_mismatch', message: `the usage rollup's cursor (${through}) is past the log's last position (${top})` });
  }
  const d: Derived = { buckets: new Map() };
  await accumulate(runner, d, 0, through);
  for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
    const problems: VerifyProblem[] = [];
    const moved = await compare(runner, d, through, problems);
    if (moved === null) {
      for (const p of problems) report(p);
      return;
    }
    // A fold ran meanwhile: count what it folded, and compare again. (A cursor that moved
    // back — a rebuild in between — means deriving again from the start.)
    if (moved < through) d.buckets.clear();
    await accumulate(runner, d, moved < through ? 0 : through, moved);
    through = moved;
  }
  throw new LedgerError('busy', `verify: the usage rollup kept being folded during ${ATTEMPTS} comparisons; retry when reads are quieter`);
}
