/**
 * D1 and libSQL: leave a unit's settle statements (src/plans/settle.ts) out while the
 * database has no subscriptions. They are no-ops then, but not free: libSQL prepares every
 * statement of every batch again, and the allowance statement is the largest the ledger sends
 * (measured on a local file: a debit 3.0 ms alone, 5.5 ms with them).
 *
 * Safe because the spend's own guard refuses while anything is due for its account: if a
 * subscription appeared since (another process subscribed someone), the spend comes back
 * refused with `due` in its explain reads, and is sent again with the settle statements —
 * two round trips, once per process. Until the first write tells which case holds, they are sent.
 */
import type { Row, Runner, Unit, UnitResult } from './types.js';

const ANY_SUBSCRIPTION: Unit['primary'] = { sql: 'SELECT EXISTS (SELECT 1 FROM credit_subscription) AS any', args: [] };

const refusedWhileDue = (r: UnitResult) => r.rows.length === 0 && r.explain.some((rows) => rows.some((x: Row) => Number(x.due) === 1));

export function settlingLazily(inner: Runner): Runner {
  let subscriptions: 'unknown' | 'none' | 'some' = 'unknown';
  return {
    ...inner,
    async write(unit) {
      if (unit.follow !== undefined) subscriptions = 'some'; // a plan operation
      if (unit.settle === undefined || subscriptions === 'some') return inner.write(unit);
      if (subscriptions === 'unknown') {
        const r = await inner.write({ ...unit, after: [...(unit.after ?? []), ANY_SUBSCRIPTION] });
        subscriptions = Number(r.after[r.after.length - 1]?.[0]?.any) === 1 ? 'some' : 'none';
        return { ...r, after: r.after.slice(0, -1) };
      }
      const r = await inner.write({ ...unit, settle: undefined });
      if (!refusedWhileDue(r)) return r;
      subscriptions = 'some';
      return inner.write(unit);
    },
    async writeMany(units) {
      if (subscriptions !== 'none' || !units.some((u) => u.settle !== undefined)) return inner.writeMany(units);
      const results = await inner.writeMany(units.map((u) => (u.settle === undefined ? u : { ...u, settle: undefined })));
      // An op refused only because an allowance was due wrote nothing: it is sent again on its
      // own with the settle statements (after the rest of its chunk; rare — once per process).
      const out: UnitResult[] = [];
      for (const [i, r] of results.entries()) {
        const unit = units[i];
        if (unit !== undefined && refusedWhileDue(r)) {
          subscriptions = 'some';
          out.push(await inner.write(unit));
        } else out.push(r);
      }
      return out;
    },
  };
}
