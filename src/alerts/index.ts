/**
 * `ledger.alerts`: low-balance thresholds and an expiring-credits window per account. Each change
 * is a row on the account's log (`alert_set`, `alert_remove`); the events they cause are written
 * by triggers inside the unit that crosses the threshold (`balance.low`) and by `sweep()`
 * (`credits.expiring`), see src/events/.
 */
import { guard } from '../guard.js';
import type { Context } from '../ops/context.js';
import { accountSchema, parse } from '../validate.js';
import { listAlerts, removeAlert, setAlert } from './ops.js';
import type { Alert, RemoveAlertInput, RemoveAlertResult, SetAlertInput, SetAlertResult } from './types.js';
import { removeAlertInput, setAlertInput } from './validate.js';

export interface Alerts {
  /**
   * Sets an alert on `account`: a `lowBalance` threshold (several may be set, one alert each), an
   * `expiringWithinMs` window for `credits.expiring`, or both. Setting the same threshold again
   * changes its window. Idempotent: with a key a retry replays; without, setting what is set writes nothing.
   */
  set(input: SetAlertInput): Promise<SetAlertResult>;
  /** Removes the alert with this `lowBalance` (none: the expiring-only alert); `absent` when there is none. */
  remove(input: RemoveAlertInput): Promise<RemoveAlertResult>;
  /** The account's alerts, lowest threshold first, each saying whether available is below it now. */
  list(account: string): Promise<Alert[]>;
}

export function createAlerts(ctx: Context): Alerts {
  return {
    set: (input) => guard(() => setAlert(ctx, parse(setAlertInput, input, 'alerts.set'))),
    remove: (input) => guard(() => removeAlert(ctx, parse(removeAlertInput, input, 'alerts.remove'))),
    list: (account) => guard(() => listAlerts(ctx, parse(accountSchema, account, 'alerts.list', 'invalid_account'))),
  };
}
