/**
 * D1 and libSQL: leave a unit's settle statements (src/plans/settle.ts) out when nothing can
 * be due for its account. They are no-ops then, but not free: libSQL prepares every statement
 * of every batch again, and the allowance statement is the largest the ledger sends
 * (measured on a local file: a debit 3.0 ms alone, 5.5 ms with them).
 *
 * - While the database has no subscriptions (learned with the instance's first spend, in the
 *   same round trip), they are never sent.
 * - Once it has some, they are sent with an account's spends until a spend has read the
 *   account's `due_at` (in the same round trip); until then, and until that time, they are
 *   left out (a bounded cache per instance).
 *
 * Safe because the spend's own guard refuses while anything is due for its account: if the
 * cache is stale (another process subscribed or changed the account), the spend comes back
 * refused with `due` in its explain reads, and is sent again with the settle statements — two
 * round trips, only then.
 */
import { LEDGER_DUE_CACHE_ACCOUNTS } from '../limits.js';
import type { Row, Runner, Statement, Unit, UnitResult } from './types.js';

const ANY_SUBSCRIPTION: Statement = { sql: 'SELECT EXISTS (SELECT 1 FROM credit_subscription) AS any', args: [] };
const DUE_AT = 'SELECT (SELECT due_at FROM credit_subscription WHERE account = ?) AS due_at';

const refusedWhileDue = (r: UnitResult) => r.rows.length === 0 && r.explain.some((rows) => rows.some((x: Row) => Number(x.due) === 1));
/** The unit without its settle statements (fields copied: `{ ...u, settle }` is V8's slow clone). */
const strip = (u: Unit): Unit =>
  u.settle === undefined
    ? u
    : { primary: u.primary, explain: u.explain, after: u.after, with: u.with, precheck: u.precheck, follow: u.follow };

export function settlingLazily(inner: Runner): Runner {
  let subscriptions: 'unknown' | 'none' | 'some' = 'unknown';
  /** account → its due_at as last read (null: nothing will ever be due). */
  const dueAt = new Map<string, number | null>();

  /** Sends the unit with its settle statements and reads what it needs to know afterwards. */
  const learning = async (unit: Unit): Promise<UnitResult> => {
    const account = unit.settle?.account;
    const reads: Statement[] = [];
    if (subscriptions === 'unknown') reads.push(ANY_SUBSCRIPTION);
    if (account !== undefined) reads.push({ sql: DUE_AT, args: [account] });
    const r = await inner.write(reads.length === 0 ? unit : { ...unit, after: [...(unit.after ?? []), ...reads] });
    const got = r.after.slice(r.after.length - reads.length);
    if (subscriptions === 'unknown') subscriptions = Number(got.shift()?.[0]?.any) === 1 ? 'some' : 'none';
    if (account !== undefined) {
      const v = got.shift()?.[0]?.due_at;
      if (dueAt.size >= LEDGER_DUE_CACHE_ACCOUNTS) dueAt.clear();
      dueAt.set(account, v === null || v === undefined ? null : Number(v));
    }
    return reads.length === 0 ? r : { ...r, after: r.after.slice(0, r.after.length - reads.length) };
  };

  /** Nothing can be due for the unit's account now, as far as this instance knows. */
  const quiet = (unit: Unit): boolean => {
    if (subscriptions === 'none') return true;
    const account = unit.settle?.account;
    if (account === undefined || !dueAt.has(account)) return false;
    const at = dueAt.get(account);
    return at === null || at === undefined || (unit.settle?.now ?? 0) < at;
  };

  return {
    ...inner,
    async write(unit) {
      if (unit.follow !== undefined) {
        // A plan operation: this account's terms change, and the database has subscriptions.
        subscriptions = 'some';
        if (unit.settle?.account !== undefined) dueAt.delete(unit.settle.account);
      }
      if (unit.settle === undefined) return inner.write(unit);
      if (!quiet(unit)) return learning(unit);
      const r = await inner.write(strip(unit));
      if (!refusedWhileDue(r)) return r;
      subscriptions = 'some';
      return learning(unit);
    },
    async writeMany(units) {
      if (!units.some((u) => u.settle !== undefined && quiet(u))) return inner.writeMany(units);
      const results = await inner.writeMany(units.map((u) => (quiet(u) ? strip(u) : u)));
      // An op refused only because an allowance was due wrote nothing: it is sent again on its
      // own with the settle statements (after the rest of its chunk; rare).
      const out: UnitResult[] = [];
      for (const [i, r] of results.entries()) {
        const unit = units[i];
        if (unit !== undefined && refusedWhileDue(r)) {
          subscriptions = 'some';
          out.push(await learning(unit));
        } else out.push(r);
      }
      return out;
    },
  };
}
