/**
 * One scenario = one way of appending a debit row to `user_bench`, timed per round.
 * Every round starts from the seeded history (the harness truncates back to it), and
 * every round checks afterwards that each op really appended exactly one row.
 */
import type { Ledger } from '../src/index.js';
import type { DebitSql } from './probe.js';
import {
  ACCOUNT,
  APPEND_TABLE,
  allocationsAfter,
  appendHead,
  BENCH_HOLDS,
  BENCH_LOTS,
  type Client,
  headSeq,
  openLotsAndHolds,
  truncateAppendTo,
  truncateTo,
} from './setup.js';
import { seconds } from './stats.js';

export interface Scenario {
  readonly key: string;
  readonly label: string;
  /** Rows of `user_bench` history every round starts from. */
  readonly history: number;
  readonly client: Client;
  /** The table it appends to: the ledger's log (default) or the minimal-append table. */
  readonly table?: 'credit_entry' | typeof APPEND_TABLE;
  /** Appends `ops` rows, one operation each; resolves when done. */
  run(ops: number): void | Promise<void>;
  /** Untimed check after each round (throws if the round did not do what it should). */
  afterRound?(fromSeq: number, ops: number): void;
}

/** The row a debit of 1 writes, values from JS; `pos` is assigned by SQLite. `%TABLE%` is credit_entry or bench_append. */
const INSERT_ROW = `INSERT INTO %TABLE%
  (account, seq, kind, delta, amount, balance, reason, idempotency_key, ref, model, key_id, actor, metadata, created_at)
  VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`;

function head(client: Client): { seq: number; balance: number } {
  const r = client.prepare('SELECT seq, balance FROM credit_entry WHERE account = ? ORDER BY seq DESC LIMIT 1').get(ACCOUNT) as
    | { seq: number; balance: number }
    | undefined;
  return r ?? { seq: 0, balance: 0 };
}

/**
 * One prepared single-row INSERT per op, autocommit, values precomputed in JS (seq and
 * balance from counters). Into `credit_entry` (default): the ledger's own table, with its
 * indexes and triggers. Into `bench_append`: the minimal append (INTEGER PRIMARY KEY and
 * one index on account), the floor.
 */
export function rawInsert(
  key: string,
  label: string,
  client: Client,
  history: number,
  table: 'credit_entry' | typeof APPEND_TABLE = 'credit_entry',
): Scenario {
  const stmt = client.prepare(INSERT_ROW.replace('%TABLE%', table));
  return {
    key,
    label,
    history,
    client,
    table,
    run(ops) {
      let { seq, balance } = table === APPEND_TABLE ? appendHead(client) : head(client);
      for (let i = 0; i < ops; i++) {
        seq++;
        balance--;
        stmt.run(ACCOUNT, seq, 'debit', -1, 1, balance, null, null, null, null, null, null, null, Date.now());
      }
    },
  };
}

/** The public API: `await ledger.debitIfCovers({ account, amount: 1 })`, one at a time. */
export function apiDebit(key: string, label: string, client: Client, ledger: Ledger, history: number): Scenario {
  return {
    key,
    label,
    history,
    client,
    async run(ops) {
      for (let i = 0; i < ops; i++) {
        const r = await ledger.debitIfCovers({ account: ACCOUNT, amount: 1 });
        if (r.outcome !== 'debited') throw new Error(`debitIfCovers returned ${r.outcome}`);
      }
    },
  };
}

/**
 * The same public call on an account with open lots and holds: each debit also draws a lot
 * (allocation insert + lot update, in one BEGIN IMMEDIATE transaction on sync drivers).
 * After each round: one allocation per debit, and every lot and hold still open.
 */
export function apiLotDebit(key: string, label: string, client: Client, ledger: Ledger, history: number): Scenario {
  return {
    ...apiDebit(key, label, client, ledger, history),
    afterRound(fromSeq, ops) {
      lotDrawCheck(label, client)(fromSeq, ops);
      const open = openLotsAndHolds(client);
      if (open.lots !== BENCH_LOTS.length || open.holds !== BENCH_HOLDS.length) {
        throw new Error(`${label}: after a round ${open.lots} lots and ${open.holds} holds are open`);
      }
    },
  };
}

/** The ledger's own debit statement, run through a raw prepared statement (no JS layers). */
export function rawDebitSql(key: string, label: string, client: Client, debitSql: DebitSql, history: number, returning = true): Scenario {
  const text = returning ? debitSql.sql : withoutReturning(debitSql.sql);
  return rawSql(key, label, client, text, (now) => debitSql.args(ACCOUNT, now), history);
}

/** The statement with its trailing RETURNING clause removed (throws if it has none). */
export function withoutReturning(sql: string): string {
  const text = sql.replace(/\s+RETURNING\s+[^;]*?;?\s*$/i, '');
  if (text === sql) throw new Error('the debit statement has no trailing RETURNING clause');
  return text;
}

/**
 * Any debit-shaped statement, prepared once and run per op with the current time;
 * `all()` when it returns rows, `run()` otherwise (better-sqlite3's rule).
 */
export function rawSql(
  key: string,
  label: string,
  client: Client,
  sql: string,
  args: (now: number) => unknown[],
  history: number,
): Scenario {
  const stmt = client.prepare(sql);
  return {
    key,
    label,
    history,
    client,
    run(ops) {
      if (stmt.reader) for (let i = 0; i < ops; i++) stmt.all(...args(Date.now()));
      else for (let i = 0; i < ops; i++) stmt.run(...args(Date.now()));
    },
  };
}

/** An afterRound check: every op of the round drew exactly one lot (recorded on its row). */
export function lotDrawCheck(label: string, client: Client): (fromSeq: number, ops: number) => void {
  return (fromSeq, ops) => {
    const drawn = allocationsAfter(client, fromSeq);
    if (drawn !== ops) throw new Error(`${label}: ${ops} debits recorded ${drawn} allocations, expected one each`);
  };
}

export interface RoundsResult {
  /** Wall-clock ops/s of every measured round, per scenario key, in round order. */
  readonly rates: Map<string, number[]>;
  /**
   * Process CPU time (user + system) per op, µs, per round: much less sensitive than
   * wall-clock time to other processes competing for the same cores.
   */
  readonly cpuUs: Map<string, number[]>;
  /** The same split: user CPU and system CPU (mostly the WAL writes of each commit), µs per op. */
  readonly userUs: Map<string, number[]>;
  readonly sysUs: Map<string, number[]>;
}

/**
 * Warm-up, then `rounds` rounds of every scenario, the order rotated each round so
 * that drift and noise hit all scenarios alike. After each round the account is cut
 * back to its seeded history (lots and allocations included); with `keepLast` the final
 * round's rows stay (for verify).
 */
export async function runRounds(
  scenarios: readonly Scenario[],
  opts: { rounds: number; ops: number; warmupOps: number; keepLast?: boolean; onRound?: (round: number) => void },
): Promise<RoundsResult> {
  const rates = new Map<string, number[]>(scenarios.map((s) => [s.key, []]));
  const cpuUs = new Map<string, number[]>(scenarios.map((s) => [s.key, []]));
  const userUs = new Map<string, number[]>(scenarios.map((s) => [s.key, []]));
  const sysUs = new Map<string, number[]>(scenarios.map((s) => [s.key, []]));
  const seqOf = (s: Scenario) => (s.table === APPEND_TABLE ? appendHead(s.client).seq : headSeq(s.client));
  const once = async (s: Scenario, ops: number, keep: boolean): Promise<{ rate: number; cpu: number; user: number; sys: number }> => {
    const start = seqOf(s);
    if (start !== s.history) throw new Error(`${s.label}: round starts at seq ${start}, expected ${s.history}`);
    const cpu0 = process.cpuUsage();
    const secs = await seconds(() => s.run(ops));
    const cpu = process.cpuUsage(cpu0);
    const end = seqOf(s);
    if (end !== start + ops) throw new Error(`${s.label}: ${ops} ops appended ${end - start} rows`);
    s.afterRound?.(start, ops);
    if (!keep) {
      if (s.table === APPEND_TABLE) truncateAppendTo(s.client, s.history);
      else truncateTo(s.client, s.history);
    }
    return { rate: ops / secs, cpu: (cpu.user + cpu.system) / ops, user: cpu.user / ops, sys: cpu.system / ops };
  };
  for (const s of scenarios) await once(s, opts.warmupOps, false);
  for (let r = 0; r < opts.rounds; r++) {
    const last = r === opts.rounds - 1;
    for (let i = 0; i < scenarios.length; i++) {
      const s = scenarios[(i + r) % scenarios.length] as Scenario;
      const m = await once(s, opts.ops, last && opts.keepLast === true);
      rates.get(s.key)?.push(m.rate);
      cpuUs.get(s.key)?.push(m.cpu);
      userUs.get(s.key)?.push(m.user);
      sysUs.get(s.key)?.push(m.sys);
    }
    opts.onRound?.(r + 1);
  }
  return { rates, cpuUs, userUs, sysUs };
}
