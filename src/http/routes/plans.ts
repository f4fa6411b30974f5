/** Plans, subscriptions and entitlements. */
import { z } from '@hono/zod-openapi';
import { cancelInput, changeInput, defineInput, featureSchema, planIdSchema, subscribeInput } from '../../plans/validate.js';
import { type Operation, withIdempotencyKey } from '../route.js';
import { accountParam, listOf, outcome, planSchema, subscriptionSchema } from '../schemas.js';
import { defined } from './accounts.js';
import { found } from './entries.js';

const tag = 'Plans';

export function plansRoutes(): Operation[] {
  return [
    {
      method: 'post',
      path: '/v1/plans',
      operationId: 'definePlan',
      tag,
      summary: 'Define a plan (identical: replay; different: the next version)',
      scope: 'admin',
      body: defineInput,
      response: outcome('DefinePlanResult', ['defined', 'replayed']),
      handler: async ({ ledger, body }) => ledger.plans.define((await body()) as never),
    },
    {
      method: 'get',
      path: '/v1/plans',
      operationId: 'listPlans',
      tag,
      summary: 'The newest version of every plan',
      scope: 'read',
      response: listOf('PlanList', 'plans', planSchema),
      handler: async ({ ledger }) => ({ plans: await ledger.plans.list() }),
    },
    {
      method: 'get',
      path: '/v1/plans/{planId}',
      operationId: 'getPlan',
      tag,
      summary: 'A plan’s newest version, or ?version=',
      scope: 'read',
      params: z.object({ planId: planIdSchema }),
      query: z.object({ version: z.number().int().min(1).optional() }),
      response: planSchema,
      handler: async ({ ledger, param, query }) =>
        found(await ledger.plans.get(param('planId'), defined({ version: query('version') })), 'plan'),
    },
    {
      method: 'post',
      path: '/v1/subscriptions',
      operationId: 'subscribe',
      tag,
      summary: 'Subscribe an account to a plan’s newest version (its first allowance at once)',
      scope: 'admin',
      body: subscribeInput,
      idempotencyHeader: true,
      response: outcome('SubscribeResult', ['subscribed', 'replayed']),
      handler: async ({ ledger, body, idempotencyKey }) =>
        ledger.plans.subscribe(withIdempotencyKey(await body(), idempotencyKey, 'plans.subscribe') as never),
    },
    {
      method: 'post',
      path: '/v1/subscriptions/change',
      operationId: 'changePlan',
      tag,
      summary: 'Move a subscription to another plan, now or at the period’s end',
      scope: 'admin',
      body: changeInput,
      idempotencyHeader: true,
      response: outcome('ChangePlanResult', ['changed', 'replayed', 'unchanged']),
      handler: async ({ ledger, body, idempotencyKey }) =>
        ledger.plans.change(withIdempotencyKey(await body(), idempotencyKey, 'plans.change') as never),
    },
    {
      method: 'post',
      path: '/v1/subscriptions/cancel',
      operationId: 'cancelPlan',
      tag,
      summary: 'End a subscription now or at the period’s end',
      scope: 'admin',
      body: cancelInput,
      idempotencyHeader: true,
      response: outcome('CancelResult', ['canceled', 'replayed', 'unchanged']),
      handler: async ({ ledger, body, idempotencyKey }) =>
        ledger.plans.cancel(withIdempotencyKey(await body(), idempotencyKey, 'plans.cancel') as never),
    },
    {
      method: 'get',
      path: '/v1/accounts/{account}/subscription',
      operationId: 'subscription',
      tag,
      summary: 'The account’s subscription at now (null without one)',
      scope: 'read',
      params: accountParam,
      response: z.object({ subscription: subscriptionSchema.nullable() }).openapi('SubscriptionOf'),
      handler: async ({ ledger, param }) => ({ subscription: await ledger.plans.subscription(param('account')) }),
    },
    {
      method: 'get',
      path: '/v1/accounts/{account}/entitlements',
      operationId: 'entitlements',
      tag,
      summary: 'The features of the account’s plan now ({} without one)',
      scope: 'read',
      params: accountParam,
      response: z.object({ features: z.record(z.string(), z.unknown()) }).openapi('Entitlements'),
      handler: async ({ ledger, param }) => ({ features: await ledger.plans.entitlements(param('account')) }),
    },
    {
      method: 'get',
      path: '/v1/accounts/{account}/features/{feature}',
      operationId: 'checkFeature',
      tag,
      summary: 'Whether a feature is enabled for the account, and its value',
      scope: 'read',
      params: z.object({ account: accountParam.shape.account, feature: featureSchema }),
      response: z.object({ enabled: z.boolean(), value: z.unknown() }).openapi('FeatureCheck'),
      handler: ({ ledger, param }) => ledger.plans.checkFeature(param('account'), param('feature')),
    },
  ];
}
