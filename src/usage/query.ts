/**
 * The analytics reads. Each answer is ONE statement over the rollup's buckets in range
 * UNION ALL the log rows not folded yet (USAGE_TAIL), so rollup and tail are one snapshot
 * and nothing is counted twice or missed. Its cost grows with the buckets in the range and
 * the unfolded tail (at most USAGE_FOLD_LAG rows), never with the log.
 *
 * The read protocol, one round trip when the rollup is current:
 * 1. one read batch: the answer with the tail bounded to USAGE_FOLD_LAG rows, and FOLD_STATE
 *    (the same snapshot on every driver: a read transaction, or D1's atomic batch);
 * 2. if more than USAGE_FOLD_LAG rows were unfolded (the answer then missed some), fold
 *    (foldUsage: bounded write units) and read the answer again with the whole tail. A
 *    database that cannot be written (read-only, a transaction the app holds) skips the fold
 *    and reads the whole tail: exact, but as slow as the backlog is long.
 */
import { num } from '../entry.js';
import { LedgerError } from '../errors.js';
import { DAY_MS, HOUR_MS, MAX_AMOUNT, USAGE_FOLD_LAG } from '../limits.js';
import type { Context } from '../ops/context.js';
import type { Row, Statement } from '../runner/index.js';
import { foldState, foldUsage } from './fold.js';
import { FOLD_STATE, type USAGE_MEASURES, USAGE_TAIL } from './sql.js';
import type { SpendFilters, SpendGroupKey, SpendRow, UsageSummary } from './types.js';
import { SPEND_GROUP_KEYS } from './validate.js';

/**
 * The whole hours that overlap [from, to): [lo, hi), both multiples of an hour (hi at most
 * 2^53 − 1, which still takes in the last hour a timestamp can fall in); empty when from = to.
 */
export function hourRange(from: number, to: number): { lo: number; hi: number } {
  const lo = from - (from % HOUR_MS);
  if (from === to) return { lo, hi: lo };
  const r = to % HOUR_MS;
  return { lo, hi: r === 0 ? to : Math.min(to - r + HOUR_MS, MAX_AMOUNT) };
}

type Measure = (typeof USAGE_MEASURES)[number];

/** Bucket columns of the rows a query aggregates (`u`), and the filter column of each key. */
const COLUMN: Record<'account' | 'model' | 'keyId' | 'actor', string> = {
  account: 'account',
  model: 'model',
  keyId: 'key_id',
  actor: 'actor',
};

/**
 * `u`: the rollup's buckets in [lo, hi) UNION ALL the unfolded log rows in [lo, hi), each
 * with its bucket's hour, keys and the `measures`, narrowed by the filters. `maxTail` bounds
 * the tail to that many positions after the cursor.
 */
function usageRows(measures: readonly Measure[], f: SpendFilters, lo: number, hi: number, maxTail: number): Statement {
  const conds: string[] = [];
  const condArgs: unknown[] = [];
  for (const key of ['account', 'model', 'keyId', 'actor'] as const) {
    const v = f[key];
    if (v === undefined) continue;
    conds.push(`AND %.${COLUMN[key]} = ?`);
    condArgs.push(v ?? ''); // null: recorded without one, stored as ''
  }
  const where = (alias: string) => conds.map((c) => c.replace('%', alias)).join(' ');
  const cols = (alias: string) => measures.map((m) => `${alias}.${m} AS ${m}`).join(', ');
  const sql = `SELECT x.hour AS hour, x.account AS account, x.model AS model, x.key_id AS key_id, x.actor AS actor, ${cols('x')}
  FROM credit_usage AS x
  WHERE x.hour >= CAST(? AS INTEGER) AND x.hour < CAST(? AS INTEGER) ${where('x')}
  UNION ALL
  SELECT t.at - t.at % ${HOUR_MS} AS hour, t.account AS account, t.model AS model, t.key_id AS key_id, t.actor AS actor, ${cols('t')}
  FROM (${USAGE_TAIL} AND e.pos <= (SELECT through FROM credit_usage_cursor WHERE id = 1) + CAST(? AS INTEGER)) AS t
  WHERE t.at >= CAST(? AS INTEGER) AND t.at < CAST(? AS INTEGER) ${where('t')}`;
  return { sql, args: [lo, hi, ...condArgs, maxTail, lo, hi, ...condArgs] };
}

/** An aggregate as an exact safe integer, or NULL when it is past 2^53 − 1 (refused in JS as `overflow`). */
const safe = (expr: string) => `(CASE WHEN (${expr}) BETWEEN -${MAX_AMOUNT} AND ${MAX_AMOUNT} THEN (${expr}) END)`;
const total = (col: string) => safe(`COALESCE(SUM(${col}), 0)`);

function overflow(operation: string): LedgerError {
  return new LedgerError(
    'overflow',
    `${operation}: a total passes ${MAX_AMOUNT} (2^53 − 1) and cannot be returned exactly; narrow the range or the filters, or group it`,
  );
}

const amount = (v: unknown, operation: string): number => {
  if (v === null || v === undefined) throw overflow(operation);
  return num(v);
};

/** SUM of integers past 2^63 fails in SQLite ("integer overflow"): the same `overflow`. */
function messages(e: unknown): string {
  const out: string[] = [];
  for (let c = e, depth = 0; c !== undefined && c !== null && depth < 5; c = (c as { cause?: unknown }).cause, depth++) {
    out.push(c instanceof Error ? c.message : String(c));
  }
  return out.join(' | ');
}

/**
 * Runs one analytics statement by the read protocol above. `build(maxTail)` renders it with
 * the tail bounded to `maxTail` positions past the cursor.
 */
async function readExact(ctx: Context, operation: string, build: (maxTail: number) => Statement): Promise<Row[]> {
  try {
    const lag = USAGE_FOLD_LAG;
    const [rows = [], [stateRow] = []] = await ctx.runner.read([build(lag), { sql: FOLD_STATE, args: [] }]);
    const state = foldState(stateRow);
    if (state.top - state.through <= lag) return rows;
    await foldUsage(ctx.runner, { lag, state });
    const [exact = []] = await ctx.runner.read([build(MAX_AMOUNT)]);
    return exact;
  } catch (e) {
    if (!(e instanceof LedgerError) && /integer overflow/i.test(messages(e))) throw overflow(operation);
    throw e;
  }
}

// ---------------------------------------------------------------------------------------
// Keys

/** Days since the epoch → 'YYYY-MM-DD' (proleptic Gregorian; any year, no Date involved). */
export function civilDate(days: number): string {
  // Howard Hinnant's civil_from_days.
  const z = days + 719_468;
  const era = Math.floor(z / 146_097);
  const doe = z - era * 146_097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36_524) - Math.floor(doe / 146_096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const d = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const m = mp < 10 ? mp + 3 : mp - 9;
  const y = yoe + era * 400 + (m <= 2 ? 1 : 0);
  const pad = (n: number, w: number) => String(n).padStart(w, '0');
  return `${y < 0 ? '-' : ''}${pad(Math.abs(y), 4)}-${pad(m, 2)}-${pad(d, 2)}`;
}

/** An hour bucket's start (ms) → '2030-01-31T13:00:00.000Z'. */
export function hourKey(ms: number): string {
  const days = Math.floor(ms / DAY_MS);
  const hour = Math.floor((ms - days * DAY_MS) / HOUR_MS);
  return `${civilDate(days)}T${String(hour).padStart(2, '0')}:00:00.000Z`;
}

/**
 * The day a bucket belongs to: the local date of the hour's start at the offset (bound, in
 * ms) from UTC, as days since the epoch. The offset is at most a day, so adding a day first
 * keeps the integer division a floor.
 */
const DAY_EXPR = `((u.hour + CAST(? AS INTEGER) + ${DAY_MS}) / ${DAY_MS} - 1)`;

/**
 * A group is spend when it has a debit or capture, or a refund (only a damaged log has a
 * refund whose refunded entry counts elsewhere: shown rather than hidden, so rows add up).
 */
const SPENT = (u: string) => `(SUM(${u}.debits) > 0 OR SUM(${u}.refunds) > 0)`;

const label = (v: unknown): string | null => (v === null || v === undefined || v === '' ? null : String(v));

// ---------------------------------------------------------------------------------------
// spend / top

export interface SpendQuery extends SpendFilters {
  from: number;
  to: number;
  groupBy: readonly SpendGroupKey[];
  limit: number;
  tzOffsetMinutes: number;
}

export async function spend(ctx: Context, q: SpendQuery, operation = 'analytics.spend'): Promise<SpendRow[]> {
  const { lo, hi } = hourRange(q.from, q.to);
  // Canonical order: the columns, the grouping and the tie-break do not depend on how the
  // caller listed the keys.
  const keys = SPEND_GROUP_KEYS.filter((k) => q.groupBy.includes(k));
  const offsetMs = q.tzOffsetMinutes * 60_000;
  const expr: Record<SpendGroupKey, string> = {
    account: 'u.account',
    model: 'u.model',
    keyId: 'u.key_id',
    actor: 'u.actor',
    day: DAY_EXPR,
    hour: 'u.hour',
  };
  const timeKeys = keys.filter((k) => k === 'day' || k === 'hour');
  const labelKeys = keys.filter((k) => k !== 'day' && k !== 'hour');
  const net = 'SUM(u.debited) - SUM(u.refunded)';
  const order = [...timeKeys.map((k) => `g_${k}`), `${net} DESC`, ...labelKeys.map((k) => `g_${k}`)];
  const build = (maxTail: number): Statement => {
    const u = usageRows(['debited', 'debits', 'refunded', 'refunds'], q, lo, hi, maxTail);
    const select = [
      ...keys.map((k) => `${expr[k]} AS g_${k}`),
      `${total('u.debited')} AS debited`,
      `${total('u.refunded')} AS refunded`,
      `COALESCE(SUM(u.debits), 0) AS count`,
    ].join(', ');
    const grouped =
      keys.length === 0 ? '' : `GROUP BY ${keys.map((_, i) => i + 1).join(', ')} HAVING ${SPENT('u')} ORDER BY ${order.join(', ')}`;
    // The day's offset is the one parameter of the select list: it comes first.
    const dayArgs = keys.includes('day') ? [offsetMs] : [];
    return { sql: `SELECT ${select} FROM (${u.sql}) AS u ${grouped} LIMIT ?`, args: [...dayArgs, ...u.args, q.limit] };
  };
  const rows = await readExact(ctx, operation, build);
  return rows.map((r) => {
    // Keys first, then the measures (the order a table or a JSON export shows them).
    const out = {} as SpendRow;
    for (const k of keys) {
      const v = r[`g_${k}`];
      if (k === 'account') out.account = String(v);
      else if (k === 'day') out.day = civilDate(num(v));
      else if (k === 'hour') out.hour = hourKey(num(v));
      else out[k] = label(v);
    }
    out.debited = amount(r.debited, operation);
    out.refunded = amount(r.refunded, operation);
    out.net = out.debited - out.refunded;
    out.count = num(r.count);
    return out;
  });
}

// ---------------------------------------------------------------------------------------
// summary

export async function summary(ctx: Context, q: { from: number; to: number }): Promise<UsageSummary> {
  const operation = 'analytics.summary';
  const { lo, hi } = hourRange(q.from, q.to);
  const net = 'SUM(debited) - SUM(refunded)';
  const top = (col: string) =>
    `SELECT ${col} AS k, ${safe(net)} AS net FROM u GROUP BY ${col} HAVING ${SPENT('u')} ORDER BY ${net} DESC, ${col} LIMIT 1`;
  const build = (maxTail: number): Statement => {
    const u = usageRows(
      ['debited', 'debits', 'refunded', 'refunds', 'granted', 'expired', 'adjusted', 'transferred_out'],
      {},
      lo,
      hi,
      maxTail,
    );
    return {
      sql: `WITH u AS (${u.sql})
SELECT t.*, m.k AS top_model, m.net AS top_model_net, a.k AS top_account, a.net AS top_account_net
FROM (SELECT ${total('debited')} AS debited, ${total('refunded')} AS refunded, COALESCE(SUM(debits), 0) AS count,
             ${total('granted')} AS granted, ${total('expired')} AS expired, ${total('adjusted')} AS adjusted,
             ${total('transferred_out')} AS transferred,
             COUNT(DISTINCT CASE WHEN debits > 0 THEN account END) AS active FROM u) AS t
LEFT JOIN (${top('model')}) AS m ON 1
LEFT JOIN (${top('account')}) AS a ON 1`,
      args: u.args,
    };
  };
  const [r] = await readExact(ctx, operation, build);
  if (r === undefined) throw new LedgerError('internal', `${operation}: the summary statement returned no row`);
  const debited = amount(r.debited, operation);
  const refunded = amount(r.refunded, operation);
  const consumed = debited - refunded;
  const span = hi - lo;
  const modelKey = r.top_model;
  const accountKey = r.top_account;
  return {
    from: lo,
    to: hi,
    days: span / DAY_MS,
    debited,
    refunded,
    consumed,
    count: num(r.count),
    granted: amount(r.granted, operation),
    expired: amount(r.expired, operation),
    adjusted: amount(r.adjusted, operation),
    transferred: amount(r.transferred, operation),
    activeAccounts: num(r.active),
    avgDailySpend: span === 0 ? 0 : roundedDaily(consumed, span),
    topModel: modelKey === null || modelKey === undefined ? null : { model: label(modelKey), net: amount(r.top_model_net, operation) },
    topAccount:
      accountKey === null || accountKey === undefined ? null : { account: String(accountKey), net: amount(r.top_account_net, operation) },
  };
}

/** consumed ÷ (span in days), rounded to the nearest integer, halves up; exact (BigInt). */
export function roundedDaily(consumed: number, spanMs: number): number {
  // floor((2·c + s) / (2·s)) with c = consumed · DAY_MS and s the span: round half up.
  const n = 2n * BigInt(consumed) * BigInt(DAY_MS) + BigInt(spanMs);
  const d = 2n * BigInt(spanMs);
  const q = n / d;
  return Number(n < 0n && n % d !== 0n ? q - 1n : q);
}
