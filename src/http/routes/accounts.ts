/** Reads of one account: balance, history, lots, holds, expiring lots; and a key's spend. */
import { z } from '@hono/zod-openapi';
import { expiringOptions, historyOptions, keyIdSchema, keySpendOptions } from '../../validate.js';
import type { Operation } from '../route.js';
import { accountParam, balanceSchema, entrySchema, holdSchema, listOf, lotSchema, object } from '../schemas.js';

const tag = 'Accounts';

export function accountRoutes(): Operation[] {
  return [
    {
      method: 'get',
      path: '/v1/accounts/{account}/balance',
      operationId: 'getBalance',
      tag,
      summary: 'Balance, held, available, floor and caps at now',
      scope: 'read',
      params: accountParam,
      response: balanceSchema,
      handler: ({ ledger, param }) => ledger.getBalance(param('account')),
    },
    {
      method: 'get',
      path: '/v1/accounts/{account}/entries',
      operationId: 'history',
      tag,
      summary: 'The account’s entries, newest first, a page at a time',
      description: 'Pass `nextCursor` back as `cursor` for the next (older) page; `kinds` is repeated or comma-separated.',
      scope: 'read',
      params: accountParam,
      query: historyOptions.unwrap(),
      response: z.object({ entries: z.array(entrySchema), nextCursor: z.string().nullable() }).openapi('HistoryPage'),
      handler: ({ ledger, param, query, queryText, queryList }) =>
        ledger.history(
          param('account'),
          defined({ limit: query('limit'), cursor: queryText('cursor'), kinds: queryList('kinds') }) as never,
        ),
    },
    {
      method: 'get',
      path: '/v1/accounts/{account}/lots',
      operationId: 'lots',
      tag,
      summary: 'Open lots, in the order debits draw them',
      scope: 'read',
      params: accountParam,
      response: listOf('Lots', 'lots', lotSchema),
      handler: async ({ ledger, param }) => ({ lots: await ledger.lots(param('account')) }),
    },
    {
      method: 'get',
      path: '/v1/accounts/{account}/holds',
      operationId: 'holds',
      tag,
      summary: 'Holds that are open and still count now',
      scope: 'read',
      params: accountParam,
      response: listOf('Holds', 'holds', holdSchema),
      handler: async ({ ledger, param }) => ({ holds: await ledger.holds(param('account')) }),
    },
    {
      method: 'get',
      path: '/v1/accounts/{account}/expiring',
      operationId: 'expiring',
      tag,
      summary: 'Lots with credits left that lapse within withinMs',
      scope: 'read',
      params: accountParam,
      query: expiringOptions,
      response: listOf('ExpiringLots', 'lots', lotSchema),
      handler: async ({ ledger, param, query }) => ({
        lots: await ledger.expiring(param('account'), { withinMs: query('withinMs') } as never),
      }),
    },
    {
      method: 'get',
      path: '/v1/keys/{keyId}/spend',
      operationId: 'keySpend',
      tag,
      summary: 'What an API key spent (debits and captures, less refunds)',
      scope: 'read',
      params: z.object({ keyId: keyIdSchema }),
      query: keySpendOptions.unwrap(),
      response: object('KeySpend'),
      handler: ({ ledger, param, query }) => ledger.keySpend(param('keyId'), defined({ from: query('from'), to: query('to') }) as never),
    },
  ];
}

/** The object without its undefined fields: the ledger's strict inputs see only what was sent. */
export function defined(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
}
