/**
 * rebuild()'s share for caps and floors: replace `credit_cap` and `credit_floor` with what the
 * replay derived from the log (src/caps/replay.ts), counters included, in rebuild's one unit.
 */

import { inserts } from '../rebuild.js';
import type { Statement } from '../runner/index.js';
import type { DerivedCap, DerivedFloor } from './replay.js';

export function capRebuild(d: { caps: Map<string, DerivedCap>; floors: Map<string, DerivedFloor> }): Statement[] {
  return [
    { sql: 'DELETE FROM credit_cap', args: [] },
    { sql: 'DELETE FROM credit_floor', args: [] },
    ...inserts(
      'credit_cap',
      [
        'id',
        'account',
        'cap_window',
        'cap_limit',
        'action',
        'model',
        'key_id',
        'member',
        'set_by',
        'window_start',
        'spent',
        'warned_window',
        'reached_window',
      ],
      [...d.caps.values()].map((c) => [
        Number(c.id),
        c.account,
        c.window,
        c.limit,
        c.action,
        c.model,
        c.keyId,
        c.member,
        Number(c.setBy),
        c.windowStart,
        // As text: exact past 2^53 − 1; the INTEGER column stores it as the integer it spells.
        c.spent.toString(),
        c.warnedWindow,
        c.reachedWindow,
      ]),
    ),
    ...inserts(
      'credit_floor',
      ['account', 'floor', 'set_by'],
      [...d.floors.values()].map((f) => [f.account, f.floor, Number(f.setBy)]),
    ),
  ];
}
