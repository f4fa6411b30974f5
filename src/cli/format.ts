/**
 * Rendering only: readable tables (cli-table3) for people, JSON for machines. Nothing here
 * talks to the database or decides exit codes.
 */
import Table from 'cli-table3';
import {
  type Allocation,
  type Cap,
  type Entry,
  type Hold,
  type Ledger,
  type LedgerError,
  type LedgerStats,
  type Lot,
  type SweepReport,
  VERIFY_MAX_PROBLEMS,
  type VerifyProblem,
  type VerifyReport,
} from '../index.js';

/** What `ledger.rebuild()` reports (the type is not exported by name). */
export type RebuildReport = Awaited<ReturnType<Ledger['rebuild']>>;

type Cell = string | number | null | undefined;

// No colours: output is the same on a terminal, in a pipe and in a CI log.
const STYLE = { head: [], border: [], compact: true };

/** Two-column table of labelled values. */
export function keyValueTable(rows: ReadonlyArray<readonly [string, Cell]>): string {
  const t = new Table({ style: STYLE });
  for (const [k, v] of rows) t.push({ [k]: show(v) });
  return t.toString();
}

/** A table with a header row. */
export function gridTable(head: string[], rows: Cell[][], colAligns?: ('left' | 'right')[]): string {
  const t = new Table({ head, style: STYLE, ...(colAligns ? { colAligns } : {}) });
  for (const r of rows) t.push(r.map(show));
  return t.toString();
}

export const show = (v: Cell): string => (v === null || v === undefined ? '' : String(v));

export const signed = (n: number): string => (n > 0 ? `+${n}` : String(n));

/** The latest (and, negated, the earliest) millisecond a JavaScript Date can hold: +275760-09-13T00:00:00.000Z. */
export const MAX_DATE_MS = 8_640_000_000_000_000;

/**
 * A timestamp as ISO 8601. Total: a value no Date can hold (the ledger stores any integer
 * up to 2^53-1) prints as the raw number of milliseconds instead of throwing.
 */
export const isoTime = (ms: number): string =>
  Number.isFinite(ms) && Math.abs(ms) <= MAX_DATE_MS ? new Date(ms).toISOString() : String(ms);

/** The fields of one log row, for the result of a write. */
export function entryFields(e: Entry): [string, Cell][] {
  const rows: [string, Cell][] = [
    ['entry', e.id],
    ['account', e.account],
    ['kind', e.kind],
    ['delta', signed(e.delta)],
    ['balance after entry', e.balance],
    ['seq', e.seq],
  ];
  if (e.reason !== null) rows.push(['reason', e.reason]);
  if (e.idempotencyKey !== null) rows.push(['idempotency key', e.idempotencyKey]);
  if (e.ref !== null) rows.push(['ref', e.ref]);
  if (e.model !== null) rows.push(['model', e.model]);
  if (e.keyId !== null) rows.push(['key id', e.keyId]);
  rows.push(['created', isoTime(e.createdAt)]);
  return rows;
}

/** A cap in a few words: "deny 1000 per day, model gpt-4o (ce_12)". */
export function capLabel(c: Pick<Cap, 'id' | 'action' | 'limit' | 'window' | 'model' | 'keyId' | 'member'>): string {
  const filters = [
    c.model === null ? null : `model ${c.model}`,
    c.keyId === null ? null : `key ${c.keyId}`,
    c.member === null ? null : `member ${c.member}`,
  ].filter((f) => f !== null);
  return `${c.action} ${c.limit} per ${c.window}${filters.length === 0 ? '' : `, ${filters.join(', ')}`} (${c.id})`;
}

/** Caps of an account, oldest first. */
export function capsTable(caps: readonly Cap[]): string {
  return gridTable(
    ['cap', 'window', 'action', 'limit', 'spent', 'held', 'remaining', 'resets', 'model', 'key id', 'member'],
    caps.map((c) => [c.id, c.window, c.action, c.limit, c.spent, c.held, c.remaining, isoTime(c.resetsAt), c.model, c.keyId, c.member]),
  );
}

/** History: newest first, one row per entry. */
export function historyTable(entries: readonly Entry[]): string {
  return gridTable(
    ['seq', 'created', 'kind', 'delta', 'balance', 'reason', 'model', 'key id', 'idempotency key', 'ref', 'entry'],
    entries.map((e) => [
      e.seq,
      isoTime(e.createdAt),
      e.kind,
      signed(e.delta),
      e.balance,
      e.reason,
      e.model,
      e.keyId,
      e.idempotencyKey,
      e.ref,
      e.id,
    ]),
    ['right', 'left', 'left', 'right', 'right', 'left', 'left', 'left', 'left', 'left', 'left'],
  );
}

export function statsText(s: LedgerStats): string {
  const totals = keyValueTable([
    ['accounts', s.accounts],
    ['entries', s.entries],
    ['granted', s.granted],
    ['debited', s.debited],
    ['refunded', s.refunded],
    ['adjusted (net)', signed(s.adjusted)],
    ['outstanding', s.outstanding],
  ]);
  const kinds = Object.entries(s.byKind).sort(([a], [b]) => a.localeCompare(b));
  if (kinds.length === 0) return totals;
  const byKind = gridTable(
    ['kind', 'entries', 'amount'],
    kinds.map(([k, v]) => [k, v.entries, v.amount]),
    ['left', 'right', 'right'],
  );
  return `${totals}\n${byKind}`;
}

export function verifyText(r: VerifyReport): string {
  const head = keyValueTable([
    ['verdict', r.ok ? 'ok' : 'PROBLEMS FOUND'],
    ['accounts', r.accounts],
    ['entries', r.entries],
    ['outstanding', r.outstanding],
    ['problems', r.problemCount],
  ]);
  if (r.problems.length === 0) return head;
  const more = r.problemCount > r.problems.length ? `\n(${r.problemCount - r.problems.length} more not listed)` : '';
  return `${head}\n${problemsTable(r.problems)}${more}`;
}

function problemsTable(problems: readonly VerifyProblem[]): string {
  return gridTable(
    ['code', 'account', 'seq', 'entry', 'message'],
    problems.map((p) => [p.code, p.account, p.seq, p.entryId, p.message]),
  );
}

/** An expiry, or `never` for lots without one. */
const expiry = (ms: number | null): string => (ms === null ? 'never' : isoTime(ms));

/** Open holds, soonest expiry first. */
export function holdsTable(holds: readonly Hold[]): string {
  return gridTable(
    ['hold', 'amount', 'expires', 'created'],
    holds.map((h) => [h.id, h.amount, isoTime(h.expiresAt), isoTime(h.createdAt)]),
    ['left', 'right', 'left', 'left'],
  );
}

/** Lots in the order given (drawdown order for `lots`, soonest expiry for `expiring`). */
export function lotsTable(lots: readonly Lot[]): string {
  return gridTable(
    ['#', 'lot', 'priority', 'expires', 'remaining/amount', 'created'],
    lots.map((l, i) => [i + 1, l.id, l.priority, expiry(l.expiresAt), `${l.remaining}/${l.amount}`, isoTime(l.createdAt)]),
    ['right', 'left', 'right', 'left', 'right', 'left'],
  );
}

/** Which lots an entry drew from (positive) or gave back to (negative). */
export function allocationsTable(allocations: readonly Allocation[]): string {
  return gridTable(
    ['#', 'lot', 'amount'],
    allocations.map((a) => [a.ord, a.lotId, a.amount]),
    ['right', 'left', 'right'],
  );
}

export function sweepText(r: SweepReport): string {
  const verb = r.dryRun ? 'would expire' : 'expired';
  return keyValueTable([
    ['mode', r.dryRun ? 'dry run (nothing written)' : 'swept'],
    [`lots ${verb}`, r.lotsExpired],
    [`credits ${verb}`, r.creditsExpired],
    [`holds ${verb}`, r.holdsExpired],
    [r.dryRun ? 'credits would be released' : 'credits released', r.creditsReleased],
    ['batches', r.batches],
    ['usage rollup: log rows folded', r.usageFolded],
    ['subscriptions settled (allowances written down)', r.subscriptionsSettled],
    ['expiring-credit notices (credits.expiring events)', r.expiringNotices],
  ]);
}

export function rebuildText(r: RebuildReport): string {
  const head = keyValueTable([
    ['verdict', r.problems.length === 0 ? 'ok: projections re-derived from the log' : 'REBUILT, BUT THE LOG HAS PROBLEMS'],
    ['entries replayed', r.entries],
    ['lots', r.lots],
    ['holds', r.holds],
    ['allocations', r.allocations],
    ['problems', r.problems.length],
  ]);
  if (r.problems.length === 0) return head;
  const listed = r.problems.slice(0, VERIFY_MAX_PROBLEMS);
  const more = r.problems.length > listed.length ? `\n(${r.problems.length - listed.length} more not listed; --json lists all)` : '';
  return `${head}\n${problemsTable(listed)}${more}\nrebuild cannot mend the log itself; see \`drizzle-credits verify\``;
}

export const json = (value: unknown): string => JSON.stringify(value, null, 2);

export const errorText = (e: LedgerError): string => `error [${e.code}]: ${e.message}`;

export const errorJson = (e: LedgerError): string =>
  json({ error: { code: e.code, message: e.message, ...(e.details === undefined ? {} : { details: e.details }) } });
