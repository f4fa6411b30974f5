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
  /** Its arguments for a debit of 1 by `account`, with a fresh id and timestamp. */
  readonly args: (id: string, account: string, now: number) => unknown[];
}

const PROBE_ACCOUNT = 'probe:account';
const PROBE_NOW = 1_700_000_000_123;

export async function captureDebitSql(file: string): Promise<DebitSql> {
  const client = openClient(file);
  try {
    const calls: { sql: string; args: unknown[] }[] = [];
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
    const ledger = createLedger(drizzle(client), { clock: () => PROBE_NOW });
    await ledger.migrate();
    await ledger.grant({ account: PROBE_ACCOUNT, amount: 10 });
    calls.length = 0;
    const r = await ledger.debitIfCovers({ account: PROBE_ACCOUNT, amount: 1 });
    if (r.outcome !== 'debited' || r.entry === undefined) throw new Error(`probe debit: ${r.outcome}`);
    const call = calls.find((c) => /^\s*INSERT\s+INTO\s+credit_entry\b/i.test(c.sql));
    if (call === undefined) throw new Error(`probe: no INSERT INTO credit_entry ran during the debit (saw ${calls.length} statements)`);
    const entryId = r.entry.id;
    if (!call.args.includes(entryId)) throw new Error('probe: the debit INSERT does not take the entry id as an argument');
    // Rebuild the arguments by value: the id, the account and the clock reading are
    // replaced, everything else (amount 1, NULL attributions, constants) is kept.
    const template = call.args;
    return {
      sql: call.sql,
      args: (id, account, now) => template.map((v) => (v === entryId ? id : v === PROBE_ACCOUNT ? account : v === PROBE_NOW ? now : v)),
    };
  } finally {
    client.close();
  }
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
  const coroutines = new Set(rows.flatMap((r) => /^(?:CO-ROUTINE|MATERIALIZE) (\S+)/.exec(r.detail)?.[1] ?? []));
  const scans = rows.filter((r) => {
    const m = /^SCAN (\S+)/.exec(r.detail);
    return m !== null && r.detail !== 'SCAN CONSTANT ROW' && !coroutines.has(m[1] as string);
  });
  const seeks = rows.filter((r) => /^SEARCH .*credit_entry_account_seq/.test(r.detail));
  if (scans.length > 0) return { ok: false, reason: `full scan: ${scans.map((r) => r.detail).join('; ')}` };
  if (seeks.length === 0) return { ok: false, reason: 'the head lookup does not SEARCH credit_entry_account_seq' };
  return { ok: true, reason: `head lookup seeks credit_entry_account_seq (${seeks.length}×); no table or index scan` };
}
