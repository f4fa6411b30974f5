import { num } from './entry.js';
import { ACCOUNT_FLOOR, MAX_AMOUNT, VERIFY_MAX_PROBLEMS, VERIFY_PAGE_ROWS } from './limits.js';
import { REFUNDABLE_KINDS } from './ops/refund.js';
import type { Runner } from './runner/index.js';
import { ENTRY_KINDS } from './schema.js';
import type { VerifyProblem, VerifyReport } from './types.js';

const isMoney = (v: number) => Number.isSafeInteger(v) && Math.abs(v) <= MAX_AMOUNT;

/** Per kind: is this (delta, amount) pair well formed? */
const DELTA_RULES: Record<string, (delta: number, amount: number) => boolean> = {
  grant: (d, a) => a >= 1 && d === a,
  debit: (d, a) => a >= 1 && d === -a,
  refund: (d, a) => a >= 1 && d === a,
  adjust: (d, a) => a >= 1 && Math.abs(d) === a,
};

/**
 * The auditor (TigerBeetle-style): replays every account's log from seq 1 and recomputes
 * what the library stored, in pages of bounded size. It trusts nothing written on a row —
 * a row edited, inserted or deleted behind the library's back shows up as a problem.
 */
export async function verify(runner: Runner): Promise<VerifyReport> {
  const problems: VerifyProblem[] = [];
  let problemCount = 0;
  const report = (p: VerifyProblem) => {
    problemCount++;
    if (problems.length < VERIFY_MAX_PROBLEMS) problems.push(p);
  };

  let accounts = 0;
  let entries = 0;
  let outstanding = 0;
  let account: string | null = null;
  let expectedSeq = 1;
  let running = 0;
  let after: [string, number] = ['', 0];

  for (;;) {
    const [rows = []] = await runner.read([
      {
        sql: `SELECT id, account, seq, kind, delta, amount, balance, ref, metadata FROM credit_entry
              WHERE (account, seq) > (?, ?) ORDER BY account, seq LIMIT ?`,
        args: [after[0], after[1], VERIFY_PAGE_ROWS],
      },
    ]);
    for (const r of rows) {
      const id = String(r.id);
      const acct = String(r.account);
      const seq = num(r.seq);
      const delta = num(r.delta);
      const amount = num(r.amount);
      const balance = num(r.balance);
      const kind = String(r.kind);
      entries++;
      if (acct !== account) {
        if (account !== null) outstanding += running;
        account = acct;
        accounts++;
        expectedSeq = 1;
        running = 0;
      }
      const at = { account: acct, entryId: id, seq };
      if (seq !== expectedSeq) {
        report({ code: 'seq_gap', ...at, message: `expected seq ${expectedSeq}, found ${seq}` });
      }
      expectedSeq = seq + 1;
      if (!isMoney(delta) || !isMoney(amount) || !isMoney(balance)) {
        report({
          code: 'bad_amount',
          ...at,
          message: `delta ${delta}, amount ${amount}, balance ${balance} are not exact integers in range`,
        });
      }
      if (!(ENTRY_KINDS as readonly string[]).includes(kind)) {
        report({ code: 'unknown_kind', ...at, message: `unknown kind "${kind}"` });
      } else if (!DELTA_RULES[kind]?.(delta, amount)) {
        report({ code: 'bad_delta', ...at, message: `${kind} with delta ${delta} and amount ${amount}` });
      }
      running += delta;
      if (balance !== running) {
        report({ code: 'balance_mismatch', ...at, message: `stored balance ${balance}, replayed Σ delta ${running}` });
        running = balance; // report each divergence once, not every row after it
      }
      if (balance < ACCOUNT_FLOOR) {
        report({ code: 'below_floor', ...at, message: `balance ${balance} is below the floor ${ACCOUNT_FLOOR}` });
      }
      if (r.metadata !== null && r.metadata !== undefined) {
        try {
          JSON.parse(String(r.metadata));
        } catch {
          report({ code: 'bad_metadata', ...at, message: 'metadata is not JSON' });
        }
      }
    }
    const last = rows[rows.length - 1];
    if (last === undefined || rows.length < VERIFY_PAGE_ROWS) break;
    after = [String(last.account), num(last.seq)];
  }
  if (account !== null) outstanding += running;

  const kinds = REFUNDABLE_KINDS.map((k) => `'${k}'`).join(', ');
  const [refunds = [], dupes = []] = await runner.read([
    {
      // Grouped in SQL: memory stays bounded however many refunds there are.
      sql: `SELECT r.ref AS ref, r.account AS account, SUM(r.amount) AS refunded, MIN(r.id) AS id,
                   o.id AS oid, o.account AS oaccount, o.kind AS okind, o.amount AS oamount
            FROM credit_entry AS r LEFT JOIN credit_entry AS o ON o.id = r.ref
            WHERE r.kind = 'refund'
            GROUP BY r.ref, r.account
            HAVING o.id IS NULL OR o.kind NOT IN (${kinds}) OR o.account <> r.account OR SUM(r.amount) > o.amount`,
      args: [],
    },
    {
      sql: `SELECT account, kind, idempotency_key, COUNT(*) AS n FROM credit_entry
            WHERE idempotency_key IS NOT NULL GROUP BY account, kind, idempotency_key HAVING COUNT(*) > 1`,
      args: [],
    },
  ]);
  for (const r of refunds) {
    const at = { account: String(r.account), entryId: String(r.id) };
    if (r.oid === null || r.oid === undefined) {
      report({ code: 'refund_target', ...at, message: `refund of ${String(r.ref)}, which does not exist` });
    } else if (!(REFUNDABLE_KINDS as readonly string[]).includes(String(r.okind)) || r.oaccount !== r.account) {
      report({ code: 'refund_target', ...at, message: `refund of ${String(r.ref)}, a ${String(r.okind)} on ${String(r.oaccount)}` });
    } else {
      report({
        code: 'refund_exceeds',
        ...at,
        message: `refunds of ${String(r.ref)} total ${num(r.refunded)}, more than its ${num(r.oamount)}`,
      });
    }
  }
  for (const r of dupes) {
    report({
      code: 'duplicate_idempotency_key',
      account: String(r.account),
      message: `${String(r.kind)} key "${String(r.idempotency_key)}" used ${num(r.n)} times`,
    });
  }
  return { ok: problemCount === 0, accounts, entries, outstanding, problemCount, problems };
}
