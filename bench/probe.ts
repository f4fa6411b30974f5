/**
 * Finds the exact SQL text and arguments the ledger sends for `debitIfCovers`, by
 * watching what the runner prepares and runs during one debit on a scratch database.
 * The benchmark reuses them for EXPLAIN QUERY PLAN and for the "SQL alone" measurement,
 * so neither drifts from what src/ really runs, whatever the statement looks like.
 */
import { drizzle } from 'drizzle-orm/better-sqlite3';
import { createLedger } from '../src/index.js';
import { type Client, openClient } from './setup.js';

export interface DebitSql {
  /** The first INSERT INTO credit_entry the ledger runs for a debit (the guarded append). */
  readonly sql: string;
  /** Its arguments for a debit of 1 by `account` at `now` (the row's `pos` is SQLite's to assign). */
  readonly args: (account: string, now: number) => unknown[];
}

const PROBE_ACCOUNT = 'probe:account';
const PROBE_NOW = 1_700_000_000_123;

export interface Call {
  readonly sql: string;
  readonly args: unknown[];
}

/**
 * Records every statement run through `client` (prepared with `client.prepare`, run with
 * all/get/run) into the returned array, from now on. The runner caches prepared
 * statements, so install it before the ledger prepares anything you want to see.
 */
export function recordCalls(client: Client): Call[] {
  const calls: Call[] = [];
  const prepare = client.prepare.bind(client);
  (client as { prepare: (sql: string) => unknown }).prepare = (sql: string) => {
    const stmt = prepare(sql) as unknown as Record<'all' | 'get' | 'run', (...a: unknown[]) => unknown>;
    for (const m of ['all', 'get', 'run'] as const) {
      const f = stmt[m].bind(stmt);
      stmt[m] = (...a: unknown[]) => {
        calls.push({ sql, args: a });
        return f(...a);
      };
    }
    return stmt;
  };
  return calls;
}

/** Arguments rebuilt by value: the account and the clock reading are replaced, the rest kept. */
const rebind =
  (template: readonly unknown[]) =>
  (account: string, now: number): unknown[] =>
    template.map((v) => (v === PROBE_ACCOUNT ? account : v === PROBE_NOW ? now : v));

export async function captureDebitSql(file: string): Promise<DebitSql> {
  const client = openClient(file);
  try {
    const calls = recordCalls(client);
    const ledger = createLedger(drizzle(client), { clock: () => PROBE_NOW });
    await ledger.migrate();
    await ledger.grant({ account: PROBE_ACCOUNT, amount: 10 });
    calls.length = 0;
    const r = await ledger.debitIfCovers({ account: PROBE_ACCOUNT, amount: 1 });
    if (r.outcome !== 'debited' || r.entry === undefined) throw new Error(`probe debit: ${r.outcome}`);
    const call = calls.find((c) => /^\s*INSERT\s+INTO\s+credit_entry\b/i.test(c.sql));
    if (call === undefined) throw new Error(`probe: no INSERT INTO credit_entry ran during the debit (saw ${calls.length} statements)`);
    if (!call.args.includes(PROBE_ACCOUNT) || !call.args.includes(PROBE_NOW)) {
      throw new Error('probe: the debit INSERT does not take the account and the clock reading as arguments');
    }
    return { sql: call.sql, args: rebind(call.args) };
  } finally {
    client.close();
  }
}

/**
 * Every statement the ledger runs for one `debitIfCovers` on an account with open lots and
 * holds (the guarded append first, then the lot draw; BEGIN/COMMIT left out), with their
 * arguments rebuilt like {@link captureDebitSql}'s.
 */
export async function captureLotDebit(
  file: string,
  lots: readonly { priority: number; expiresInMs: number }[],
  holds: readonly { amount: number; ttlMs: number }[],
): Promise<{ statements: DebitSql[]; transaction: boolean }> {
  const client = openClient(file);
  try {
    const calls = recordCalls(client);
    const ledger = createLedger(drizzle(client), { clock: () => PROBE_NOW });
    await ledger.migrate();
    for (const l of lots)
      await ledger.grant({ account: PROBE_ACCOUNT, amount: 1_000, priority: l.priority, expiresAt: PROBE_NOW + l.expiresInMs });
    for (const h of holds) await ledger.hold({ account: PROBE_ACCOUNT, amount: 10, ttlMs: h.ttlMs });
    calls.length = 0;
    const r = await ledger.debitIfCovers({ account: PROBE_ACCOUNT, amount: 1 });
    if (r.outcome !== 'debited' || r.entry === undefined) throw new Error(`probe lot debit: ${r.outcome}`);
    const control = (sql: string) => /^\s*(BEGIN|COMMIT|ROLLBACK|SAVEPOINT|RELEASE)\b/i.test(sql);
    const statements = calls.filter((c) => !control(c.sql)).map((c) => ({ sql: c.sql, args: rebind(c.args) }));
    if (statements.length < 1 || !/^\s*INSERT\s+INTO\s+credit_entry\b/i.test(statements[0]?.sql ?? '')) {
      throw new Error(`probe: expected the guarded INSERT first, saw ${statements.length} statements`);
    }
    return { statements, transaction: calls.some((c) => /^\s*BEGIN\b/i.test(c.sql)) };
  } finally {
    client.close();
  }
}

/**
 * The statement with the lot draw it computes for the `allocations` column (src/sql.ts
 * DRAW: `CASE WHEN EXISTS … THEN (… json_group_array …) END`) replaced by NULL: the guard
 * alone, no draw recorded, nothing for the trigger to apply.
 */
export function withoutDraw(sql: string): string {
  const start = sql.search(/CASE WHEN EXISTS \(SELECT 1 FROM credit_lot AS lx\b/);
  const end = sql.indexOf('json_group_array(', start);
  const close = sql.indexOf(' END', end);
  if (start < 0 || end < 0 || close < 0) throw new Error('withoutDraw: the statement computes no lot draw');
  return `${sql.slice(0, start)}NULL${sql.slice(close + 4)}`;
}

export interface PlanRow {
  id: number;
  parent: number;
  detail: string;
}

/** EXPLAIN QUERY PLAN of a statement, indented as the sqlite3 shell prints it. */
export function queryPlan(client: Client, sql: string, args: readonly unknown[]): { rows: PlanRow[]; text: string } {
  const rows = client.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...args) as PlanRow[];
  const depth = new Map<number, number>([[0, -1]]);
  const lines = rows.map((r) => {
    const d = (depth.get(r.parent) ?? -1) + 1;
    depth.set(r.id, d);
    return `${'  '.repeat(d)}${r.detail}`;
  });
  return { rows, text: lines.join('\n') };
}

/**
 * The head lookup must seek credit_entry_account_seq, and nothing may read a table or
 * index from end to end (a SCAN of anything but a constant row or a co-routine/subquery
 * result): either would make the debit's cost grow with history.
 */
export function checkPlan(rows: readonly PlanRow[]): { ok: boolean; reason: string } {
  const scans = fullScans(rows);
  const seeks = rows.filter((r) => /^SEARCH .*credit_entry_account_seq/.test(r.detail));
  if (scans.length > 0) return { ok: false, reason: `full scan: ${scans.map((r) => r.detail).join('; ')}` };
  if (seeks.length === 0) return { ok: false, reason: 'the head lookup does not SEARCH credit_entry_account_seq' };
  return { ok: true, reason: `head lookup seeks credit_entry_account_seq (${seeks.length}×); no table or index scan` };
}

/** SCAN lines that read a table or index end to end (not a constant row or a co-routine/subquery result). */
export function fullScans(rows: readonly PlanRow[]): PlanRow[] {
  const coroutines = new Set(rows.flatMap((r) => /^(?:CO-ROUTINE|MATERIALIZE) (\S+)/.exec(r.detail)?.[1] ?? []));
  return rows.filter((r) => {
    const m = /^SCAN (\S+)/.exec(r.detail);
    return m !== null && r.detail !== 'SCAN CONSTANT ROW' && !coroutines.has(m[1] as string);
  });
}

/**
 * The lots + holds debit: the guard must seek the head through credit_entry_account_seq
 * and read lots and holds through credit_lot_open and credit_hold_open (the per-account
 * partial indexes), and no statement of the unit may scan a table or index.
 */
export function checkLotPlans(plans: readonly { rows: readonly PlanRow[] }[]): { ok: boolean; reason: string } {
  const [guard, ...rest] = plans;
  if (guard === undefined) return { ok: false, reason: 'no statements' };
  const problems: string[] = [];
  plans.forEach((p, i) => {
    const scans = fullScans(p.rows);
    if (scans.length > 0) problems.push(`statement ${i + 1} scans: ${scans.map((r) => r.detail).join('; ')}`);
  });
  const uses = (rows: readonly PlanRow[], index: string) =>
    rows.filter((r) => new RegExp(`^SEARCH .*\\b${index}\\b`).test(r.detail)).length;
  for (const index of ['credit_entry_account_seq', 'credit_lot_open', 'credit_hold_open']) {
    if (uses(guard.rows, index) === 0) problems.push(`the guard does not SEARCH ${index}`);
  }
  const otherLotIndex = guard.rows.filter((r) => /\b(credit_lot_lapsing|credit_hold_lapsing)\b/.test(r.detail));
  if (otherLotIndex.length > 0) problems.push(`the guard uses a cross-account index: ${otherLotIndex.map((r) => r.detail).join('; ')}`);
  if (problems.length > 0) return { ok: false, reason: problems.join(' | ') };
  return {
    ok: true,
    reason:
      `guard seeks credit_entry_account_seq (${uses(guard.rows, 'credit_entry_account_seq')}×), credit_lot_open (${uses(guard.rows, 'credit_lot_open')}×), ` +
      `credit_hold_open (${uses(guard.rows, 'credit_hold_open')}×); ${rest.length} dependent statement(s); no table or index scan`,
  };
}
