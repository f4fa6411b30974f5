/**
 * rebuild()'s share for alerts: replace `credit_alert` with what the log sets. The outbox itself
 * is not a projection to rebuild — events are facts of what was delivered or due, and their ids
 * must not change — so it is left as it is (the auditor compares it with the log).
 */
import type { Statement } from '../runner/index.js';
import type { DerivedAlert } from './replay.js';

export function alertsRebuild(
  d: { alerts: DerivedAlert[] },
  inserts: (table: string, columns: string[], rows: unknown[][]) => Statement[],
): Statement[] {
  return [
    { sql: 'DELETE FROM credit_alert', args: [] },
    ...inserts(
      'credit_alert',
      ['account', 'low_balance', 'expiring_within_ms', 'above', 'set_by'],
      d.alerts.map((a) => [a.account, a.lowBalance, a.expiringWithinMs, a.above ? 1 : 0, Number(a.setBy)]),
    ),
  ];
}
