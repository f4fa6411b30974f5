/**
 * The auditor's comparison of `credit_cap` and `credit_floor` with what the replay derived
 * from the log (src/caps/replay.ts). A cap must agree in every column, its counter included
 * (the window it is on and the spend counted there, by the counting rules), so `spent` at
 * any now agrees too. Problems: `cap_mismatch`, `floor_mismatch`.
 */
import { pairByKey } from '../audit-rows.js';
import { num } from '../entry.js';
import type { Row } from '../runner/index.js';
import type { VerifyProblem } from '../types.js';
import type { DerivedCap, DerivedFloor } from './replay.js';

const describe = (c: { window: unknown; limit: unknown; action: unknown; windowStart: unknown; spent: unknown }) =>
  `${String(c.action)} ${String(c.limit)} per ${String(c.window)}, ${String(c.spent)} spent in the window from ${String(c.windowStart)}`;

/** An integer as SQLite stores it, read as text; null when the stored value is not one (tampered). */
const exact = (v: unknown): bigint | null => (/^-?\d+$/.test(String(v)) ? BigInt(String(v)) : null);

export async function compareCaps(
  capRows: AsyncIterable<Row>,
  floorRows: AsyncIterable<Row>,
  d: { caps: Map<string, DerivedCap>; floors: Map<string, DerivedFloor> },
  report: (p: VerifyProblem) => void,
): Promise<void> {
  const caps = new Map(d.caps);
  for await (const r of capRows) {
    const id = String(r.id);
    const want = caps.get(id);
    caps.delete(id);
    const stored = {
      window: r.cap_window,
      limit: num(r.cap_limit),
      action: r.action,
      windowStart: num(r.window_start),
      // Read as text (CAPS_AUDIT_ROWS): exact past 2^53 − 1.
      spent: exact(r.spent_text ?? r.spent),
    };
    if (want === undefined) {
      report({
        code: 'cap_mismatch',
        account: String(r.account),
        entryId: id,
        message: `stored cap (${describe(stored)}) is set by no cap_set row in force`,
      });
      continue;
    }
    const same =
      want.account === String(r.account) &&
      want.window === String(r.cap_window) &&
      want.limit === stored.limit &&
      want.action === String(r.action) &&
      want.model === String(r.model) &&
      want.keyId === String(r.key_id) &&
      want.member === String(r.member) &&
      want.setBy === String(r.set_by) &&
      want.windowStart === stored.windowStart &&
      want.spent === stored.spent &&
      want.warnedWindow === num(r.warned_window) &&
      want.reachedWindow === num(r.reached_window);
    if (!same) {
      report({
        code: 'cap_mismatch',
        account: want.account,
        entryId: id,
        message: `stored cap ${describe(stored)}; replayed ${describe(want)}`,
      });
    }
  }
  for (const c of caps.values())
    report({ code: 'cap_mismatch', account: c.account, entryId: c.id, message: 'cap missing from credit_cap' });

  const missing = await pairByKey(
    floorRows,
    d.floors,
    (r) => String(r.account),
    (r, want) => {
      const account = String(r.account);
      if (want === undefined) {
        report({ code: 'floor_mismatch', account, message: `stored floor ${num(r.floor)} is set by no floor_set row` });
      } else if (want.floor !== num(r.floor) || want.setBy !== String(r.set_by)) {
        report({
          code: 'floor_mismatch',
          account,
          entryId: want.setBy,
          message: `stored floor ${num(r.floor)} (set by ${String(r.set_by)}), replayed ${want.floor} (set by ${want.setBy})`,
        });
      }
    },
  );
  for (const f of missing)
    report({ code: 'floor_mismatch', account: f.account, entryId: f.setBy, message: 'floor missing from credit_floor' });
}
