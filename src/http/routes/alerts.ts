/** Alerts: low-balance thresholds and the expiring-credits window (configuration: `admin`; the list: `read`). */
import { removeAlertInput, setAlertInput } from '../../alerts/validate.js';
import { type Operation, withIdempotencyKey } from '../route.js';
import { accountParam, alertSchema, listOf, outcome } from '../schemas.js';

const tag = 'Alerts';

export function alertsRoutes(): Operation[] {
  return [
    {
      method: 'post',
      path: '/v1/alerts',
      operationId: 'setAlert',
      tag,
      summary: 'Set a low-balance threshold (balance.low events) and/or an expiring window (credits.expiring)',
      scope: 'admin',
      body: setAlertInput,
      idempotencyHeader: true,
      response: outcome('SetAlertResult', ['set', 'replayed']),
      handler: async ({ ledger, body, idempotencyKey }) =>
        ledger.alerts.set(withIdempotencyKey(await body(), idempotencyKey, 'alerts.set') as never),
    },
    {
      method: 'post',
      path: '/v1/alerts/remove',
      operationId: 'removeAlert',
      tag,
      summary: 'Remove the alert with this lowBalance (none: the expiring-only alert)',
      scope: 'admin',
      body: removeAlertInput,
      idempotencyHeader: true,
      response: outcome('RemoveAlertResult', ['removed', 'replayed', 'absent']),
      handler: async ({ ledger, body, idempotencyKey }) =>
        ledger.alerts.remove(withIdempotencyKey(await body(), idempotencyKey, 'alerts.remove') as never),
    },
    {
      method: 'get',
      path: '/v1/accounts/{account}/alerts',
      operationId: 'listAlerts',
      tag,
      summary: 'The account’s alerts, lowest threshold first, each saying whether available is below it now',
      scope: 'read',
      params: accountParam,
      response: listOf('Alerts', 'alerts', alertSchema),
      handler: async ({ ledger, param }) => ({ alerts: await ledger.alerts.list(param('account')) }),
    },
  ];
}
