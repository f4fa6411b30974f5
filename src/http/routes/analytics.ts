/** Usage analytics: spend grouped, top spenders, summaries (query parameters; lists repeated or comma-separated). */
import { spendInput, summaryInput, topInput } from '../../usage/validate.js';
import type { OpContext, Operation } from '../route.js';
import { listOf, object, spendRowSchema } from '../schemas.js';
import { defined } from './accounts.js';

const tag = 'Analytics';

const filters = (q: OpContext) => ({
  from: q.query('from'),
  to: q.query('to'),
  account: q.queryText('account'),
  model: q.queryText('model'),
  keyId: q.queryText('keyId'),
  actor: q.queryText('actor'),
  limit: q.query('limit'),
});

export function analyticsRoutes(): Operation[] {
  return [
    {
      method: 'get',
      path: '/v1/analytics/spend',
      operationId: 'spend',
      tag,
      summary: 'Spend in [from, to) grouped by account, model, keyId, actor, day or hour',
      scope: 'read',
      query: spendInput,
      response: listOf('SpendRows', 'rows', spendRowSchema),
      handler: async (q) => ({
        rows: await q.ledger.analytics.spend(
          defined({ ...filters(q), groupBy: q.queryList('groupBy'), tzOffsetMinutes: q.query('tzOffsetMinutes') }) as never,
        ),
      }),
    },
    {
      method: 'get',
      path: '/v1/analytics/top',
      operationId: 'top',
      tag,
      summary: 'Top accounts, models, keys or actors by spend in [from, to)',
      scope: 'read',
      query: topInput,
      response: listOf('TopRows', 'rows', spendRowSchema),
      handler: async (q) => ({ rows: await q.ledger.analytics.top(defined({ ...filters(q), by: q.queryText('by') }) as never) }),
    },
    {
      method: 'get',
      path: '/v1/analytics/summary',
      operationId: 'summary',
      tag,
      summary: 'Consumed, granted, refunded, expired, active accounts, top model and account in [from, to)',
      scope: 'read',
      query: summaryInput,
      response: object('UsageSummary'),
      handler: (q) => q.ledger.analytics.summary(defined({ from: q.query('from'), to: q.query('to') }) as never),
    },
  ];
}
