/**
 * The suite's scenarios. Each one prepares an `op` (one timed operation) on an open
 * connection and an account; the harness times every op, then checks untimed that the
 * account's log grew by exactly `rowsPerOp` rows per op (the newest row's seq in the
 * scenario's table) and runs the scenario's own check.
 *
 * Four are raw SQL, the reference points every ratio is read against, each one
 * autocommit single-row INSERT per op of the row a debit writes (`pos` assigned by SQLite):
 * - minimal append: into `bench_append` (setup.ts `APPEND_DDL`): the log's columns,
 *   `pos INTEGER PRIMARY KEY` and one index, on account; no trigger, no unique or partial
 *   index. The floor for appending a row to SQLite; the goals are stated against it.
 * - INSERT into credit_entry: the same row into the ledger's own table, with its indexes
 *   and AFTER INSERT triggers (none of which fires for this row): what the schema alone costs.
 * - SUM(delta)-guarded debit, the peer design: the credit_entry INSERT as `INSERT … SELECT
 *   … WHERE (SELECT SUM(delta) FROM credit_entry WHERE account = ?) >= ?`, so its guard reads
 *   the account's whole history.
 * - head-guarded INSERT (the floor of a debit on this table): the same row, seq and balance
 *   from the account's head read in the statement, `WHERE h.balance - 1 >= 0`, `RETURNING pos,
 *   seq, balance` — the least a debit must do (read the head, guard, append, hand back the new
 *   balance) with no projection probed and no JavaScript around it. No operation on this table
 *   can beat its ratio, so it is printed beside every goal.
 * And the floors of the operations that must write more than that row, each the head-guarded
 * INSERT plus only what the operation's contract makes it write, as raw SQL in one atomic unit:
 * - with a new idempotency key (`ON CONFLICT … DO NOTHING`: the key's unique index): a keyed
 *   debit, and a charge (its key is required);
 * - with 1 or 3 counter rows raised in a table beside the log (`bench_counter`): a debit whose
 *   projection lives in its own table — a lot's `remaining` (an allowance, a lot drawn), a
 *   member cap's counter, three caps' counters;
 * - with a second row arriving on a funded peer account (its `ref` the newest pos, as a
 *   transfer's arriving row): a transfer.
 * The goals table prints each goal beside its own floor.
 * The first three take seq and balance from JS counters started at the table's head.
 */
import type { BatchOp, ChargeResult, DebitResult, Ledger, TransferResult } from '../src/index.js';
import { APPEND_HEAD_SQL, APPEND_TABLE } from './setup.js';
import type { Conn } from './suite-driver.js';
import { expectLotsAndHolds, replayKey } from './suite-fixtures.js';

export type Fixture = 'plain' | 'lots' | 'append';
export type Table = 'credit_entry' | typeof APPEND_TABLE;

export interface ScenarioDef {
  readonly key: string;
  readonly label: string;
  /** Which pristine file (or, in the many-accounts db, which kind of fresh account) it needs. */
  readonly fixture: Fixture;
  /** The table its rows go to (and the harness counts them in). */
  readonly table: Table;
  /** Writes: gets a fresh copy (or a fresh account) every round. */
  readonly writes: boolean;
  /** Log rows one op appends (checked after every round). */
  readonly rowsPerOp: number;
  /** What ops/s counts: 1,000 debits per batch call; one hold + capture pair. */
  readonly unitsPerOp: number;
  readonly unit: string;
  /** Through the public API (vs raw SQL). */
  readonly api: boolean;
  prepare(conn: Conn, account: string): Promise<Prepared>;
}

export interface Prepared {
  op(i: number): unknown;
  /** Untimed, after the round. */
  check?(): Promise<void>;
}

export const BATCH_SIZE = 1_000;

/** The caps of the `debit_caps` scenario: a day and a month cap on all spend, a month cap on one model. */
const CAP_MODEL = 'gpt-4o';
const CAP_LIMIT = 1_000_000_000_000;
/** A monthly allowance no round of 1-credit debits can use up. */
const PLAN_ALLOWANCE = 1_000_000_000_000;
const DAY_MS = 86_400_000;
/** The member of the `team_debit` scenario's team (the actor of every timed debit). */
const TEAM_MEMBER = 'bench-member';
const CAPS = [
  { window: 'day', model: undefined },
  { window: 'month', model: undefined },
  { window: 'month', model: CAP_MODEL },
] as const;

const COLUMNS = 'account, seq, kind, delta, amount, balance, reason, idempotency_key, ref, model, key_id, actor, metadata, created_at';
const VALUES = `?, ?, 'debit', -1, 1, ?, NULL, NULL, NULL, NULL, NULL, NULL, NULL, ?`;
/** Baseline (a): the minimal append. Args: account, seq, balance, created_at. */
export const APPEND_SQL = `INSERT INTO ${APPEND_TABLE} (${COLUMNS}) VALUES (${VALUES})`;
/** Baseline (b): the same row into the ledger's own table. Args: account, seq, balance, created_at. */
export const LEDGER_INSERT_SQL = `INSERT INTO credit_entry (${COLUMNS}) VALUES (${VALUES})`;
/** The peer. Args: account, seq, balance, created_at, account, amount. */
export const SUM_DEBIT_SQL = `INSERT INTO credit_entry (${COLUMNS})
SELECT ${VALUES}
WHERE (SELECT SUM(delta) FROM credit_entry WHERE account = ?) >= ?`;

/** The floor. Args: created_at, account, account. */
export const HEAD_GUARDED_SQL = `INSERT INTO credit_entry (${COLUMNS})
SELECT h.account, h.seq + 1, 'debit', -1, 1, h.balance - 1, NULL, NULL, NULL, NULL, NULL, NULL, NULL, ?
FROM credit_entry AS h
WHERE h.account = ? AND h.seq = (SELECT MAX(seq) FROM credit_entry WHERE account = ?) AND h.balance - 1 >= 0
RETURNING pos, seq, balance`;

/** The floor with an idempotency key (a keyed debit, a charge). Args: key, created_at, account, account. */
export const HEAD_GUARDED_KEYED_SQL = `INSERT INTO credit_entry (${COLUMNS})
SELECT h.account, h.seq + 1, 'debit', -1, 1, h.balance - 1, NULL, ?, NULL, NULL, NULL, NULL, NULL, ?
FROM credit_entry AS h
WHERE h.account = ? AND h.seq = (SELECT MAX(seq) FROM credit_entry WHERE account = ?) AND h.balance - 1 >= 0
ON CONFLICT (account, kind, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
RETURNING pos, seq, balance`;

/** The floor as a transfer's leaving row. Args: created_at, account, account. */
export const HEAD_GUARDED_OUT_SQL = HEAD_GUARDED_SQL.replace("'debit'", "'transfer_out'");

/** The arriving row of a transfer, at the receiver's head, referring to the newest row. Args: created_at, account, account. */
export const HEAD_CREDIT_SQL = `INSERT INTO credit_entry (${COLUMNS})
SELECT h.account, h.seq + 1, 'transfer_in', 1, 1, h.balance + 1, NULL, NULL, (SELECT MAX(pos) FROM credit_entry), NULL, NULL, NULL, NULL, ?
FROM credit_entry AS h
WHERE h.account = ? AND h.seq = (SELECT MAX(seq) FROM credit_entry WHERE account = ?)
RETURNING pos, seq, balance`;

/**
 * A table of counters beside the log, bench-only (created in each round's copy): the least a
 * projection kept in its own table costs a write — one more B-tree page dirtied and written to
 * the WAL at commit, whatever SQL computes the new value.
 */
const COUNTER_DDL = [
  'CREATE TABLE IF NOT EXISTS bench_counter (id INTEGER PRIMARY KEY, account TEXT NOT NULL, spent INTEGER NOT NULL)',
  'CREATE INDEX IF NOT EXISTS bench_counter_account ON bench_counter (account)',
] as const;
/** Raises every counter of the account. Args: account. */
const COUNTER_SQL = 'UPDATE bench_counter SET spent = spent + 1 WHERE account = ?';

const HEAD_SQL: Record<Table, string> = {
  credit_entry: 'SELECT seq, balance FROM credit_entry WHERE account = ? ORDER BY seq DESC LIMIT 1',
  [APPEND_TABLE]: APPEND_HEAD_SQL,
};

/** The newest row of `account` in `table` (seq 0, balance 0 when it has none). */
export async function headOf(conn: Conn, account: string, table: Table = 'credit_entry'): Promise<{ seq: number; balance: number }> {
  const rows = await conn.query<{ seq: number; balance: number }>(HEAD_SQL[table], account);
  return rows[0] ?? { seq: 0, balance: 0 };
}

const expect = (what: string, got: string, want: string) => {
  if (got !== want) throw new Error(`${what} returned ${got}, expected ${want}`);
};

/** A raw single-row INSERT per op, seq and balance from JS counters started at the table's head. */
const rawRow = (sql: string, table: Table, extra: (account: string) => unknown[] = () => []) =>
  async function prepare(conn: Conn, account: string): Promise<Prepared> {
    const stmt = conn.prepare(sql);
    let { seq, balance } = await headOf(conn, account, table);
    return {
      op: () => {
        seq++;
        balance--;
        return stmt(account, seq, balance, Date.now(), ...extra(account));
      },
    };
  };

/** A scenario through the API that appends one row per op to a fresh copy of the plain fixture. */
const oneRow = (
  key: string,
  label: string,
  unit: string,
  prepare: (ledger: Ledger, account: string) => Promise<Prepared>,
): ScenarioDef => ({
  key,
  label,
  fixture: 'plain',
  table: 'credit_entry',
  writes: true,
  rowsPerOp: 1,
  unitsPerOp: 1,
  unit,
  api: true,
  prepare: (conn, account) => prepare(conn.ledger, account),
});

/** A raw-SQL reference: one row per op into `table`, outside the API. */
const raw = (
  key: string,
  label: string,
  unit: string,
  prepare: ScenarioDef['prepare'],
  table: Table = 'credit_entry',
  fixture: Fixture = 'plain',
): ScenarioDef => ({ key, label, fixture, table, writes: true, rowsPerOp: 1, unitsPerOp: 1, unit, api: false, prepare });

/** The floor: the head-guarded INSERT, checked to have appended (synchronous on better-sqlite3, like the other raw rows). */
async function headGuarded(conn: Conn, account: string): Promise<Prepared> {
  const stmt = conn.prepare(HEAD_GUARDED_SQL);
  const appended = (rows: unknown[]) => {
    if (rows.length !== 1) throw new Error('the head-guarded INSERT did not append');
  };
  return {
    op: () => {
      const rows = stmt(Date.now(), account, account);
      return rows instanceof Promise ? rows.then(appended) : appended(rows);
    },
  };
}

/** The floor with a new idempotency key per op. */
async function headGuardedKeyed(conn: Conn, account: string): Promise<Prepared> {
  const stmt = conn.prepare(HEAD_GUARDED_KEYED_SQL);
  const appended = (rows: unknown[]) => {
    if (rows.length !== 1) throw new Error('the keyed head-guarded INSERT did not append');
  };
  return {
    op: (i) => {
      const rows = stmt(`floor-${i}`, Date.now(), account, account);
      return rows instanceof Promise ? rows.then(appended) : appended(rows);
    },
  };
}

/** The floor and `n` counters of the account raised, one atomic unit. */
const headGuardedCounting = (n: number) =>
  async function prepare(conn: Conn, account: string): Promise<Prepared> {
    for (const ddl of COUNTER_DDL) await conn.query(ddl);
    for (let k = 0; k < n; k++) await conn.query('INSERT INTO bench_counter (account, spent) VALUES (?, 0)', account);
    return {
      async op() {
        const [rows, raised] = await conn.unit([
          [HEAD_GUARDED_SQL, [Date.now(), account, account]],
          [COUNTER_SQL, [account]],
        ]);
        if (rows !== 1 || raised !== n) throw new Error(`the counting floor appended ${rows} rows and raised ${raised} counters`);
      },
    };
  };

/** The floor of a transfer: the guarded row leaving `account` and a row arriving on a funded peer, one atomic unit. */
async function headGuardedPair(conn: Conn, account: string): Promise<Prepared> {
  const to = `${account}-floor-peer`;
  expect('grant (floor peer)', (await conn.ledger.grant({ account: to, amount: 1_000_000 })).outcome, 'granted');
  return {
    async op() {
      const now = Date.now();
      const counts = await conn.unit([
        [HEAD_GUARDED_OUT_SQL, [now, account, account]],
        [HEAD_CREDIT_SQL, [now, to, to]],
      ]);
      if (counts[0] !== 1 || counts[1] !== 1) throw new Error('the pair floor did not append both rows');
    },
  };
}

/** BATCH_SIZE debits per op on the plain fixture, through the API or raw. */
const batchOf = (key: string, label: string, api: boolean, prepare: ScenarioDef['prepare']): ScenarioDef => ({
  key,
  label,
  fixture: 'plain',
  table: 'credit_entry',
  writes: true,
  rowsPerOp: BATCH_SIZE,
  unitsPerOp: BATCH_SIZE,
  unit: 'debit',
  api,
  prepare,
});

export const SCENARIOS: readonly ScenarioDef[] = [
  raw('append', 'minimal append (baseline)', 'row', rawRow(APPEND_SQL, APPEND_TABLE), APPEND_TABLE, 'append'),
  raw('ledger_insert', 'INSERT into credit_entry (baseline)', 'row', rawRow(LEDGER_INSERT_SQL, 'credit_entry')),
  raw(
    'sum_debit',
    'SUM(delta)-guarded debit (peer)',
    'debit',
    rawRow(SUM_DEBIT_SQL, 'credit_entry', (account) => [account, 1]),
  ),
  raw('guard_floor', 'head-guarded INSERT (floor of a debit)', 'debit', headGuarded),
  raw('guard_floor_keyed', 'head-guarded INSERT, new idempotency key (floor of a keyed debit, a charge)', 'debit', headGuardedKeyed),
  raw(
    'guard_floor_counter',
    'head-guarded INSERT + 1 counter raised (floor of a debit keeping 1 projection row)',
    'debit',
    headGuardedCounting(1),
  ),
  raw('guard_floor_counters', 'head-guarded INSERT + 3 counters raised (floor of a debit under 3 caps)', 'debit', headGuardedCounting(3)),
  raw('guard_floor_pair', 'head-guarded INSERT + arriving row on another account (floor of a transfer)', 'transfer', headGuardedPair),
  {
    key: 'debit',
    label: 'debitIfCovers',
    fixture: 'plain',
    table: 'credit_entry',
    writes: true,
    rowsPerOp: 1,
    unitsPerOp: 1,
    unit: 'debit',
    api: true,
    async prepare(conn, account) {
      return {
        async op() {
          expect('debitIfCovers', (await conn.ledger.debitIfCovers({ account, amount: 1 })).outcome, 'debited');
        },
      };
    },
  },
  {
    key: 'debit_once',
    label: 'debitOnceIfCovers, new key',
    fixture: 'plain',
    table: 'credit_entry',
    writes: true,
    rowsPerOp: 1,
    unitsPerOp: 1,
    unit: 'debit',
    api: true,
    async prepare(conn, account) {
      return {
        async op(i) {
          expect(
            'debitOnceIfCovers',
            (await conn.ledger.debitOnceIfCovers({ account, amount: 1, idempotencyKey: `req-${i}` })).outcome,
            'debited',
          );
        },
      };
    },
  },
  {
    key: 'debit_replay',
    label: 'debitOnceIfCovers, replay (same key)',
    fixture: 'plain',
    table: 'credit_entry',
    writes: false,
    rowsPerOp: 0,
    unitsPerOp: 1,
    unit: 'replay',
    api: true,
    async prepare(conn, account) {
      return {
        async op(i) {
          const r = await conn.ledger.debitOnceIfCovers({ account, amount: 1, idempotencyKey: replayKey(i) });
          expect('debitOnceIfCovers (replay)', r.outcome, 'replayed');
        },
      };
    },
  },
  {
    key: 'hold_capture',
    label: 'hold + capture',
    fixture: 'plain',
    table: 'credit_entry',
    writes: true,
    rowsPerOp: 2,
    unitsPerOp: 1,
    unit: 'pair',
    api: true,
    async prepare(conn, account) {
      const { ledger } = conn;
      return {
        async op() {
          const h = await ledger.hold({ account, amount: 1, ttlMs: 60_000 });
          if (h.outcome !== 'held') throw new Error(`hold returned ${h.outcome}`);
          const c = await ledger.capture({ holdId: h.hold.id });
          expect('capture', c.outcome, 'captured');
        },
      };
    },
  },
  {
    key: 'debit_lots',
    label: 'debitIfCovers, 3 lots + 2 holds live',
    fixture: 'lots',
    table: 'credit_entry',
    writes: true,
    rowsPerOp: 1,
    unitsPerOp: 1,
    unit: 'debit',
    api: true,
    async prepare(conn, account) {
      const { ledger } = conn;
      let last: string | undefined;
      return {
        async op() {
          const r = await ledger.debitIfCovers({ account, amount: 1 });
          expect('debitIfCovers (lots)', r.outcome, 'debited');
          last = r.entry?.id;
        },
        async check() {
          await expectLotsAndHolds(ledger, account);
          if (last === undefined) throw new Error('no debit ran');
          const drawn = await ledger.allocations(last);
          if (drawn.length === 0) throw new Error('the last debit drew no lot');
        },
      };
    },
  },
  oneRow('debit_caps', 'debitIfCovers, 3 caps live (day, month, per-model month)', 'debit', async (ledger, account) => {
    // Untimed: three deny caps far above anything a round spends, so every debit passes all
    // three guards and counts toward all three counters (the per-model cap matches it).
    for (const cap of CAPS) {
      const r = await ledger.caps.set({ account, limit: CAP_LIMIT, ...cap });
      expect('caps.set', r.outcome, 'set');
    }
    return {
      async op() {
        expect('debitIfCovers (caps)', (await ledger.debitIfCovers({ account, amount: 1, model: CAP_MODEL })).outcome, 'debited');
      },
      async check() {
        const caps = await ledger.caps.list(account);
        if (caps.length !== CAPS.length) throw new Error(`caps.list: ${caps.length} caps, expected ${CAPS.length}`);
        for (const c of caps) if (c.spent < 1) throw new Error(`cap ${c.id} (${c.window}) counted nothing`);
      },
    };
  }),
  oneRow('charge', 'charge (priced with the active version, new key)', 'charge', async (ledger, account) => {
    // Untimed: a rate card (400 input tokens at 0.0025 cost 1 credit), and the active version
    // read once into the ledger's cache, so the timed charges are the steady state: one
    // statement each, the version's compare-and-set inside its WHERE.
    await ledger.pricing.publish({ rates: { [CAP_MODEL]: { input: '0.0025', output: '0.01' } } });
    await ledger.pricing.quote({ model: CAP_MODEL, usage: { input: 400 } });
    let last: ChargeResult | undefined;
    return {
      async op(i) {
        last = await ledger.charge({ account, model: CAP_MODEL, usage: { input: 400 }, idempotencyKey: `chg-${i}` });
        expect('charge', last.outcome, 'debited');
      },
      async check() {
        if (last === undefined || last.outcome === 'free' || last.entry?.amount !== 1)
          throw new Error('charge: the last charge did not debit 1');
      },
    };
  }),
  oneRow('debit_plan', 'debitIfCovers, subscribed account mid-period (allowance drawn first)', 'debit', async (ledger, account) => {
    // Untimed: a monthly plan whose allowance no round can exhaust; the subscription writes
    // this period's allowance, so every timed debit draws it with nothing due.
    const planId = `bench-${account}`;
    await ledger.plans.define({ id: planId, allowance: { amount: PLAN_ALLOWANCE, every: 'month' } });
    expect('plans.subscribe', (await ledger.plans.subscribe({ account, planId })).outcome, 'subscribed');
    let last: string | undefined;
    return {
      async op() {
        const r = await ledger.debitIfCovers({ account, amount: 1 });
        expect('debitIfCovers (subscribed)', r.outcome, 'debited');
        last = r.entry?.id;
      },
      async check() {
        const drawn = last === undefined ? [] : await ledger.allocations(last);
        if (drawn.length !== 1) throw new Error('the last debit did not draw the allowance lot');
      },
    };
  }),
  oneRow('transfer', 'transfer between two funded accounts (plain credits; 2 rows: out + in)', 'transfer', async (ledger, account) => {
    // Untimed: fund the receiving account (plain credits), so every timed transfer finds a head
    // on both sides: one INSERT writes the leaving row on `account` and the arriving one on `to`.
    const to = `${account}-peer`;
    expect('grant (transfer peer)', (await ledger.grant({ account: to, amount: 1_000_000 })).outcome, 'granted');
    let last: TransferResult | undefined;
    return {
      async op() {
        last = await ledger.transfer({ from: account, to, amount: 1 });
        expect('transfer', last.outcome, 'transferred');
      },
      async check() {
        if (last?.outcome !== 'transferred' || last.in.length !== 1 || last.in[0]?.account !== to || last.in[0].expiresAt !== null)
          throw new Error('transfer: the last transfer did not arrive as one unlotted row on the peer');
      },
    };
  }),
  oneRow('team_debit', 'team debit by a member with a member cap (deny)', 'debit', async (ledger, account) => {
    // Untimed: the account becomes a team with a member, and the team caps that member per day;
    // every timed debit names the member as actor, so it passes the membership guard and the
    // member cap's guard, and raises the cap's counter.
    const owner = `${account}-owner`;
    expect('teams.create', (await ledger.teams.create({ team: account, owner })).outcome, 'created');
    const add = await ledger.teams.addMember({ team: account, member: TEAM_MEMBER, role: 'member', actor: owner });
    expect('teams.addMember', add.outcome, 'added');
    expect('caps.set (member)', (await ledger.caps.set({ account, window: 'day', limit: CAP_LIMIT, member: TEAM_MEMBER })).outcome, 'set');
    return {
      async op() {
        const r = await ledger.debitIfCovers({ account, amount: 1, actor: TEAM_MEMBER });
        expect('debitIfCovers (team member)', r.outcome, 'debited');
      },
      async check() {
        const caps = (await ledger.teams.members(account)).find((m) => m.member === TEAM_MEMBER)?.caps ?? [];
        if (caps.length !== 1 || (caps[0]?.spent ?? 0) < 1) throw new Error('team debit: the member cap counted nothing');
      },
    };
  }),
  oneRow('debit_alert', 'debitIfCovers, account with a low-balance alert (no crossing: no event row)', 'debit', async (ledger, account) => {
    // Untimed: a threshold far below the balance, so every timed debit runs the alert triggers
    // (available before and after) without crossing it: the cost of watching, not of an event.
    expect('alerts.set', (await ledger.alerts.set({ account, lowBalance: 1 })).outcome, 'set');
    return {
      async op() {
        expect('debitIfCovers (alerted)', (await ledger.debitIfCovers({ account, amount: 1 })).outcome, 'debited');
      },
      async check() {
        const [alert] = await ledger.alerts.list(account);
        if (alert?.below !== false) throw new Error('debit_alert: the alert is not set, or available fell below it');
      },
    };
  }),
  {
    key: 'debit_plan_first',
    label: 'first debit of a period (writes the allowance: 2 rows)',
    fixture: 'plain',
    table: 'credit_entry',
    writes: true,
    rowsPerOp: 2,
    unitsPerOp: 1,
    unit: 'debit',
    api: true,
    async prepare(conn, account) {
      // A ledger whose clock moves one day per op, on a daily plan: every timed debit is the
      // account's first write of a new period, so its unit writes that period's allowance first.
      let now = Date.now();
      const ledger = conn.withClock(() => now);
      const planId = `bench-first-${account}`;
      await ledger.plans.define({ id: planId, allowance: { amount: 10, every: 'day' } });
      await ledger.plans.subscribe({ account, planId });
      let last: DebitResult | undefined;
      return {
        async op() {
          now += DAY_MS;
          last = await ledger.debitIfCovers({ account, amount: 1 });
          expect('debitIfCovers (first of a period)', last.outcome, 'debited');
        },
        async check() {
          const s = await ledger.plans.subscription(account);
          if (s?.allowance?.remaining !== 9) throw new Error(`the period's allowance has ${s?.allowance?.remaining} left, expected 9`);
        },
      };
    },
  },
  batchOf('batch', `batch ingest (${BATCH_SIZE.toLocaleString('en-US')} debits per call)`, true, async (conn, account) => {
    const ops: BatchOp[] = Array.from({ length: BATCH_SIZE }, () => ({ op: 'debit', account, amount: 1 }));
    return {
      async op() {
        const results = await conn.ledger.batch(ops);
        if (results.length !== BATCH_SIZE) throw new Error(`batch returned ${results.length} results`);
        for (const r of results) if (r.outcome !== 'debited') throw new Error(`batch op returned ${r.outcome}`);
      },
    };
  }),
  batchOf(
    'batch_floor',
    `head-guarded INSERT × ${BATCH_SIZE.toLocaleString('en-US')} in one transaction (floor of batch ingest)`,
    false,
    async (conn, account) => {
      let now = Date.now();
      return {
        async op() {
          now++;
          const counts = await conn.batch(
            HEAD_GUARDED_SQL,
            Array.from({ length: BATCH_SIZE }, () => [now, account, account]),
          );
          if (counts.length !== BATCH_SIZE || counts.some((n) => n !== 1))
            throw new Error('the head-guarded batch did not append every row');
        },
      };
    },
  ),
  {
    key: 'balance',
    label: 'getBalance',
    fixture: 'plain',
    table: 'credit_entry',
    writes: false,
    rowsPerOp: 0,
    unitsPerOp: 1,
    unit: 'read',
    api: true,
    async prepare(conn, account) {
      return {
        async op() {
          if ((await conn.ledger.getBalance(account)).seq < 1) throw new Error('getBalance: empty account');
        },
      };
    },
  },
  {
    key: 'history',
    label: 'history page (limit 50, newest)',
    fixture: 'plain',
    table: 'credit_entry',
    writes: false,
    rowsPerOp: 0,
    unitsPerOp: 1,
    unit: 'page',
    api: true,
    async prepare(conn, account) {
      return {
        async op() {
          const p = await conn.ledger.history(account, { limit: 50 });
          if (p.entries.length !== 50 || p.nextCursor === null) throw new Error(`history: ${p.entries.length} entries`);
        },
      };
    },
  },
];

export const scenario = (key: string): ScenarioDef => {
  const s = SCENARIOS.find((x) => x.key === key);
  if (s === undefined) throw new Error(`unknown scenario ${key}`);
  return s;
};
