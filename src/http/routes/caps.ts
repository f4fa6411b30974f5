/** Spend caps and the account floor (configuration: `admin`; the list: `read`). */
import { floorInput, removeCapInput, setCapInput } from '../../caps/validate.js';
import type { Operation } from '../route.js';
import { withIdempotencyKey, withPath } from '../route.js';
import { accountParam, capSchema, listOf, outcome } from '../schemas.js';

const tag = 'Caps';

export function capsRoutes(): Operation[] {
  return [
    {
      method: 'post',
      path: '/v1/caps',
      operationId: 'setCap',
      tag,
      summary: 'Set (or change) a spend cap per day, week or month',
      scope: 'admin',
      body: setCapInput,
      idempotencyHeader: true,
      response: outcome('SetCapResult', ['set', 'replayed']),
      handler: async ({ ledger, body, idempotencyKey }) =>
        ledger.caps.set(withIdempotencyKey(await body(), idempotencyKey, 'caps.set') as never),
    },
    {
      method: 'post',
      path: '/v1/caps/remove',
      operationId: 'removeCap',
      tag,
      summary: 'Remove the cap with this window and filters',
      scope: 'admin',
      body: removeCapInput,
      idempotencyHeader: true,
      response: outcome('RemoveCapResult', ['removed', 'absent', 'replayed']),
      handler: async ({ ledger, body, idempotencyKey }) =>
        ledger.caps.remove(withIdempotencyKey(await body(), idempotencyKey, 'caps.remove') as never),
    },
    {
      method: 'get',
      path: '/v1/accounts/{account}/caps',
      operationId: 'listCaps',
      tag,
      summary: 'The account’s caps at now (spent, held, remaining, resetsAt)',
      scope: 'read',
      params: accountParam,
      response: listOf('Caps', 'caps', capSchema),
      handler: async ({ ledger, param }) => ({ caps: await ledger.caps.list(param('account')) }),
    },
    {
      method: 'put',
      path: '/v1/accounts/{account}/floor',
      operationId: 'setFloor',
      tag,
      summary: 'Set the account’s floor (> 0 a buffer, < 0 an overdraft)',
      scope: 'admin',
      params: accountParam,
      body: floorInput.omit({ account: true }),
      idempotencyHeader: true,
      response: outcome('FloorResult', ['set', 'replayed']),
      handler: async ({ ledger, body, param, idempotencyKey }) =>
        ledger.caps.floor(
          withIdempotencyKey(withPath(await body(), { account: param('account') }, 'caps.floor'), idempotencyKey, 'caps.floor') as never,
        ),
    },
  ];
}
