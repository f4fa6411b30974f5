/**
 * The usage analytics commands (`spend`, `top`, `summary`) and the change feed (`entries`):
 * argument parsing, handlers and tables, registered on the program by `addAnalyticsCommands`.
 * Same rules as the other commands: every value is checked before the ledger is called,
 * results are printed as a table or, with --json, as the library returns them.
 */
import type { Command } from 'commander';
import {
  DAY_MS,
  ENTRIES_MAX_LIMIT,
  type EntriesPage,
  type Ledger,
  LedgerError,
  MAX_AMOUNT,
  SPEND_MAX_LIMIT,
  type SpendGroupKey,
  type SpendRow,
  type TopBy,
  type UsageSummary,
} from '../index.js';
import { explainInput, parseTimestamp } from './args.js';
import type { Output } from './commands.js';
import { EXIT } from './exit.js';
import { gridTable, historyTable, isoTime, keyValueTable, signed } from './format.js';

type Run = (cmd: Command, handler: (ledger: Ledger) => Promise<Output>) => Promise<void>;

const ok = (data: unknown, text: string): Output => ({ exit: EXIT.ok, data, text });

function reject(field: string, raw: string, expected: string): never {
  throw new LedgerError('invalid_argument', `${field} must be ${expected} (got ${JSON.stringify(raw)})`, { field });
}

/** `--from` / `--to`: epoch ms or ISO 8601 (as --expires-at), 0 … 2^53 − 1. */
export function parseTime(field: 'from' | 'to', raw: string): number {
  const ms = parseTimestamp(raw);
  if (Number.isNaN(ms) || ms < 0 || ms > MAX_AMOUNT)
    reject(
      field,
      raw,
      'milliseconds since the epoch or an ISO 8601 date: 2030-01-31 (UTC midnight) or 2030-01-31T12:00:00Z (zone required), not before 1970',
    );
  return ms;
}

/** The range of a report: --to defaults to now, --from to 30 days before --to. */
export function parseRange(o: { from?: string; to?: string }, now: number): { from: number; to: number } {
  const to = o.to === undefined ? now : parseTime('to', o.to);
  const from = o.from === undefined ? Math.max(0, to - 30 * DAY_MS) : parseTime('from', o.from);
  return { from, to };
}

const INTEGER = /^(0|[1-9][0-9]*)$/;

/** `--limit` of spend/top (1 … 10000) or entries (1 … 1000). */
export function parseLimitUpTo(raw: string, max: number): number {
  if (!INTEGER.test(raw) || Number(raw) < 1 || Number(raw) > max) reject('limit', raw, `a whole number from 1 to ${max}`);
  return Number(raw);
}

/** `--tz-offset`: minutes east of UTC (330, -300) or ±hh:mm (+05:30, -05:00), or Z. The ledger checks the range. */
export function parseTzOffset(raw: string): number {
  if (raw === 'Z') return 0;
  const minutes = /^-?(0|[1-9][0-9]*)$/.exec(raw);
  if (minutes !== null) return Number(raw);
  const hm = /^([+-])(\d{2}):(\d{2})$/.exec(raw);
  if (hm === null || Number(hm[3]) > 59)
    reject('tzOffsetMinutes', raw, 'minutes east of UTC (330, -300) or an offset ±hh:mm (+05:30, -05:00), or Z');
  return (hm[1] === '-' ? -1 : 1) * (Number(hm[2]) * 60 + Number(hm[3]));
}

/** CLI spellings of the keys: key-id for keyId. */
const KEY_ALIASES: Record<string, string> = { 'key-id': 'keyId' };
const key = (k: string) => KEY_ALIASES[k] ?? k;

/** "model,day" → ['model', 'day']; the ledger validates the names. */
export const parseGroupBy = (raw: string): SpendGroupKey[] =>
  raw
    .split(',')
    .map((k) => key(k.trim()))
    .filter((k) => k.length > 0) as SpendGroupKey[];

interface FilterOptions {
  account?: string;
  model?: string;
  keyId?: string;
  actor?: string;
}

const filters = (o: FilterOptions) => ({ account: o.account, model: o.model, keyId: o.keyId, actor: o.actor });

const COLUMNS: Record<SpendGroupKey, string> = {
  account: 'account',
  model: 'model',
  keyId: 'key id',
  actor: 'actor',
  day: 'day',
  hour: 'hour',
};
const ORDER: SpendGroupKey[] = ['day', 'hour', 'account', 'model', 'keyId', 'actor'];

/** Rows of spend: the group keys (time first), then debited, refunded, net, count. */
export function spendTable(rows: readonly SpendRow[], keys: readonly SpendGroupKey[]): string {
  const shown = ORDER.filter((k) => keys.includes(k));
  return gridTable(
    [...shown.map((k) => COLUMNS[k]), 'debited', 'refunded', 'net', 'count'],
    rows.map((r) => [...shown.map((k) => (r[k] === null ? '(none)' : r[k])), r.debited, r.refunded, r.net, r.count]),
    [...shown.map(() => 'left' as const), 'right', 'right', 'right', 'right'],
  );
}

const rangeLine = (from: number, to: number) => `range: ${isoTime(from)} – ${isoTime(to)} (every UTC hour that overlaps it counts in full)`;

export async function spend(
  ledger: Ledger,
  o: FilterOptions & { from?: string; to?: string; groupBy?: string; limit?: string; tzOffset?: string },
): Promise<Output> {
  const { from, to } = parseRange(o, Date.now());
  const groupBy = o.groupBy === undefined ? [] : parseGroupBy(o.groupBy);
  const input = {
    from,
    to,
    groupBy,
    ...filters(o),
    limit: o.limit === undefined ? undefined : parseLimitUpTo(o.limit, SPEND_MAX_LIMIT),
    tzOffsetMinutes: o.tzOffset === undefined ? undefined : parseTzOffset(o.tzOffset),
  };
  const rows = await explainInput({ groupBy: o.groupBy }, () => ledger.analytics.spend(input));
  const body = rows.length === 0 ? 'no spend in the range' : spendTable(rows, groupBy);
  return ok(rows, `${body}\n${rangeLine(from, to)}`);
}

export async function top(ledger: Ledger, by: string, o: FilterOptions & { from?: string; to?: string; limit?: string }): Promise<Output> {
  const { from, to } = parseRange(o, Date.now());
  const input = {
    by: key(by) as TopBy,
    from,
    to,
    ...filters(o),
    limit: o.limit === undefined ? undefined : parseLimitUpTo(o.limit, SPEND_MAX_LIMIT),
  };
  const rows = await explainInput({ by }, () => ledger.analytics.top(input));
  const body = rows.length === 0 ? 'no spend in the range' : spendTable(rows, [input.by]);
  return ok(rows, `${body}\n${rangeLine(from, to)}`);
}

export function summaryText(s: UsageSummary): string {
  const none = (v: string | null) => (v === null ? '(none)' : v);
  return keyValueTable([
    ['from', isoTime(s.from)],
    ['to', isoTime(s.to)],
    // The hours counted, in days: 25 hours show as 1.04, not 1.0416666666666667 (--json has the exact value).
    ['days', Number(s.days.toFixed(2))],
    ['consumed (debited − refunded)', s.consumed],
    ['debited', s.debited],
    ['refunded', s.refunded],
    ['debits and captures', s.count],
    ['granted', s.granted],
    ['expired (swept)', s.expired],
    ['adjusted (net)', signed(s.adjusted)],
    ['active accounts', s.activeAccounts],
    ['average per day', s.avgDailySpend],
    ['top model', s.topModel === null ? '' : `${none(s.topModel.model)} (${s.topModel.net})`],
    ['top account', s.topAccount === null ? '' : `${s.topAccount.account} (${s.topAccount.net})`],
  ]);
}

export async function summary(ledger: Ledger, o: { from?: string; to?: string }): Promise<Output> {
  const s = await ledger.analytics.summary(parseRange(o, Date.now()));
  return ok(s, summaryText(s));
}

export function entriesText(page: EntriesPage): string {
  const table = page.entries.length === 0 ? 'no entries after this cursor' : historyTable(page.entries);
  const next = `cursor: ${page.cursor} (--after ${page.cursor})${page.hasMore ? '; more entries follow' : '; the end of the log for now'}`;
  return `${table}\n${next}`;
}

export async function entries(ledger: Ledger, o: { after?: string; limit?: string }): Promise<Output> {
  const query = { after: o.after, limit: o.limit === undefined ? undefined : parseLimitUpTo(o.limit, ENTRIES_MAX_LIMIT) };
  const page = await explainInput({ after: o.after }, () => ledger.entries(query));
  return ok(page, entriesText(page));
}

const RANGE_HELP = `
--from and --to take milliseconds since the epoch or ISO 8601 (2030-01-31, 2030-01-31T12:00:00Z);
--to defaults to now and --from to 30 days before --to. Spend is kept in hourly UTC buckets:
every hour that overlaps [from, to) counts in full.`;

/** Registers spend, top, summary and entries on the program. */
export function addAnalyticsCommands(program: Command, run: Run): void {
  const withFilters = (c: Command) =>
    c
      .option('--account <account>', 'only this account')
      .option('--model <model>', 'only this model')
      .option('--key-id <id>', 'only this API key')
      .option('--actor <actor>', 'only this actor');

  withFilters(
    program
      .command('spend')
      .description('spend (debits and captures, less their refunds) in a time range, grouped')
      .option('--from <time>', 'start of the range (default: 30 days before --to)')
      .option('--to <time>', 'end of the range, exclusive (default: now)')
      .option('--group-by <keys>', 'comma separated: account,model,key-id,actor,day,hour (none: one total row)'),
  )
    .option('--limit <n>', `rows (default 1000, at most ${SPEND_MAX_LIMIT})`)
    .option('--tz-offset <offset>', 'the days of --group-by day start at this offset from UTC: 330, -300, +05:30, -05:00 (default 0)')
    .addHelpText('after', `${RANGE_HELP}\nRows are by net spend, highest first; grouped by day or hour, by time.`)
    .action((o, cmd: Command) => run(cmd, (l) => spend(l, o)));

  withFilters(
    program
      .command('top')
      .description('who or what spent the most in a time range')
      .argument('<by>', 'account, model, key-id or actor')
      .option('--from <time>', 'start of the range (default: 30 days before --to)')
      .option('--to <time>', 'end of the range, exclusive (default: now)'),
  )
    .option('--limit <n>', `rows (default 10, at most ${SPEND_MAX_LIMIT})`)
    .addHelpText('after', RANGE_HELP)
    .action((by: string, o, cmd: Command) => run(cmd, (l) => top(l, by, o)));

  program
    .command('summary')
    .description('ledger-wide totals of a time range: consumed, granted, refunded, expired, active accounts, top model and account')
    .option('--from <time>', 'start of the range (default: 30 days before --to)')
    .option('--to <time>', 'end of the range, exclusive (default: now)')
    .addHelpText('after', RANGE_HELP)
    .action((o: { from?: string; to?: string }, cmd: Command) => run(cmd, (l) => summary(l, o)));

  program
    .command('entries')
    .description('the whole log in commit order, one page at a time (a change feed for exports)')
    .option('--after <cursor>', 'continue after a previous page (its cursor; 0 = from the start)')
    .option('--limit <n>', `entries per page (default 100, at most ${ENTRIES_MAX_LIMIT})`)
    .action((o: { after?: string; limit?: string }, cmd: Command) => run(cmd, (l) => entries(l, o)));
}
