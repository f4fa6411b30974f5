/**
 * `npx tsx bench/variants.ts`: measures rewrites of the debit statement on the same
 * 1M-row history, interleaved, as raw prepared statements (so only the SQL differs).
 * Evidence for proposed src/ changes; not part of `npm run bench`.
 *
 * - "as src/ sends it" is captured from the ledger; its narrow-RETURNING twin differs
 *   only in the RETURNING clause, so that pair compares like with like whatever the guard.
 * - The hand-written statements implement the round-one guard (head balance only, no
 *   holds or lots) with two head-read shapes; compare them with each other.
 *
 * Flags: --rounds=N (default 7) --ops=N per round (default 5000)
 */
import { join } from 'node:path';
import { captureDebitSql, checkPlan, queryPlan } from './probe.js';
import { rawInsert, rawSql, runRounds, type Scenario } from './scenarios.js';
import { ACCOUNT, openLedger, PRAGMAS, seedDatabase, tempDir, truncateTo } from './setup.js';
import { fmtPct, median, table } from './stats.js';

const LARGE = 1_000_000;
const flag = (name: string, fallback: number): number => {
  const a = process.argv.find((x) => x.startsWith(`--${name}=`));
  const v = a === undefined ? fallback : Number(a.slice(name.length + 3));
  if (!Number.isSafeInteger(v) || v < 1) throw new Error(`--${name} must be a positive integer`);
  return v;
};
const rounds = flag('rounds', 7);
const ops = flag('ops', 5_000);
const log = (s = '') => process.stdout.write(`${s}\n`);

type Args = (now: number) => unknown[];
interface Variant {
  key: string;
  label: string;
  sql: string;
  args: Args;
}

/**
 * A round-one debit of 1 for the columns the ledger inserts: every column the debit does
 * not set is NULL. `head` is the FROM/WHERE part; it binds its own parameters after the
 * SELECT list's.
 */
function handWritten(columns: readonly string[], head: { from: string; args: unknown[] }, returning: string): { sql: string; args: Args } {
  const exprs: string[] = [];
  const slots: ((now: number) => unknown)[] = [];
  const param = (f: (now: number) => unknown) => {
    slots.push(f);
    return '?';
  };
  for (const c of columns) {
    if (c === 'account') exprs.push(param(() => ACCOUNT));
    else if (c === 'seq') exprs.push('h.seq + 1');
    else if (c === 'kind') exprs.push(`'debit'`);
    else if (c === 'delta') exprs.push(`-${param(() => 1)}`);
    else if (c === 'amount') exprs.push(param(() => 1));
    else if (c === 'balance') exprs.push(`h.balance - ${param(() => 1)}`);
    else if (c === 'created_at') exprs.push(param((now) => now));
    else exprs.push('NULL');
  }
  const sql = `INSERT INTO credit_entry (${columns.join(', ')})
SELECT ${exprs.join(', ')}
${head.from}
ON CONFLICT (account, kind, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
RETURNING ${returning}`;
  return { sql, args: (now) => [...slots.map((f) => f(now)), ...head.args] };
}

/** Round one's head read: MAX(seq) through the index, then the row at (account, seq). */
const MAX_HEAD = {
  from: `FROM credit_entry AS h
WHERE h.account = ? AND h.seq = (SELECT MAX(seq) FROM credit_entry WHERE account = h.account) AND h.balance - ? >= 0`,
  args: [ACCOUNT, 1],
};
/** One index descent: the last (account, seq) entry, then its row. */
const LIMIT_HEAD = {
  from: `FROM (SELECT seq, balance FROM credit_entry WHERE account = ? ORDER BY seq DESC LIMIT 1) AS h
WHERE h.balance - ? >= 0`,
  args: [ACCOUNT, 1],
};

const dir = tempDir();
try {
  log(`debit statement variants — 1M rows of history, ${rounds} interleaved rounds × ${ops} ops; pragmas: ${PRAGMAS.join(', ')}`);
  const { client, ledger } = await openLedger(join(dir.path, 'ledger-1m.db'));
  seedDatabase(client, LARGE);
  const current = await captureDebitSql(join(dir.path, 'probe.db'));
  const columns = (/INSERT\s+INTO\s+credit_entry\s*\(([^)]*)\)/i.exec(current.sql)?.[1] ?? '').split(',').map((c) => c.trim());
  if (!columns.includes('seq') || !columns.includes('balance')) throw new Error(`cannot read the column list of: ${current.sql}`);
  const currentArgs: Args = (now) => current.args(ACCOUNT, now);
  const narrowCurrent = current.sql.replace(/\s+RETURNING\s+[^;]*?;?\s*$/i, '\nRETURNING seq, balance');
  if (narrowCurrent === current.sql) throw new Error('the captured debit statement has no trailing RETURNING clause');

  const variants: Variant[] = [
    { key: 'current', label: 'as src/ sends it', sql: current.sql, args: currentArgs },
    { key: 'current_narrow', label: 'as src/ sends it, RETURNING seq, balance', sql: narrowCurrent, args: currentArgs },
    { key: 'max', label: 'round-one guard, MAX(seq) head', ...handWritten(columns, MAX_HEAD, '*') },
    {
      key: 'max_narrow',
      label: 'round-one guard, MAX(seq) head, RETURNING seq, balance',
      ...handWritten(columns, MAX_HEAD, 'seq, balance'),
    },
    { key: 'limit', label: 'round-one guard, LIMIT 1 head', ...handWritten(columns, LIMIT_HEAD, '*') },
    {
      key: 'limit_narrow',
      label: 'round-one guard, LIMIT 1 head, RETURNING seq, balance',
      ...handWritten(columns, LIMIT_HEAD, 'seq, balance'),
    },
  ];

  // Each variant must append rows the auditor accepts and must not scan: check first.
  for (const v of variants) {
    const stmt = client.prepare(v.sql);
    for (let i = 0; i < 20; i++) {
      const rows = stmt.all(...v.args(Date.now()));
      if (rows.length !== 1) throw new Error(`${v.key}: inserted ${rows.length} rows`);
    }
    const report = await ledger.verify();
    truncateTo(client, LARGE);
    if (!report.ok) throw new Error(`${v.key}: verify() fails: ${JSON.stringify(report.problems.slice(0, 3))}`);
    const plan = queryPlan(client, v.sql, v.args(0));
    const check = checkPlan(plan.rows);
    log(`\n${v.label}: verify ok; plan ${check.ok ? 'ok' : `PROBLEM (${check.reason})`}:\n${plan.text.replace(/^/gm, '  ')}`);
  }

  const scenarios: Scenario[] = [
    rawInsert('insert', 'INSERT into credit_entry (same table)', client, LARGE),
    ...variants.map((v) => rawSql(v.key, v.label, client, v.sql, v.args, LARGE)),
  ];
  const { rates, cpuUs } = await runRounds(scenarios, { rounds, ops, warmupOps: 2_000 });
  const cpu = (k: string) => median(cpuUs.get(k) ?? []);
  const wall = (k: string) => 1e6 / median(rates.get(k) ?? []);
  const vs = (k: string, ref: string) => {
    const d = cpu(k) - cpu(ref);
    return `${d >= 0 ? '+' : ''}${d.toFixed(2)} µs`;
  };
  const refOf: Record<string, string> = { current_narrow: 'current', max_narrow: 'max', limit: 'max', limit_narrow: 'max' };
  log();
  log(
    table([
      ['statement', 'wall µs/op', 'CPU µs/op', 'CPU Δ', 'Δ against', 'credit_entry INSERT ÷ it (CPU)'],
      ...scenarios.map((s) => {
        const ref = refOf[s.key];
        return [
          s.label,
          wall(s.key).toFixed(1),
          cpu(s.key).toFixed(1),
          ref === undefined ? '' : vs(s.key, ref),
          ref ?? '',
          fmtPct(cpu('insert') / cpu(s.key)),
        ];
      }),
    ]),
  );
  client.close();
} finally {
  dir.remove();
}
