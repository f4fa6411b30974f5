/**
 * Webhook endpoints and delivery (all `admin`: endpoints carry signing secrets, and the server
 * sends requests to the URLs they name). `POST /v1/webhooks/deliver` lets an external cron drive
 * delivery over HTTP; the fetch it uses is the runtime's own.
 */
import { z } from '@hono/zod-openapi';
import { LedgerError } from '../../errors.js';
import { deliverInput, eventIdSchema, pruneInput, webhookAddInput, webhookIdSchema } from '../../webhooks/validate.js';
import type { Operation } from '../route.js';
import { listOf, object } from '../schemas.js';

const tag = 'Webhooks';
const webhookParam = z.object({ webhookId: webhookIdSchema });
const eventParam = z.object({ eventId: eventIdSchema });

export const webhookSchema = z
  .looseObject({
    id: z.string(),
    url: z.string(),
    types: z.array(z.string()).nullable(),
    status: z.string(),
    disabledReason: z.string().nullable(),
    disabledAt: z.number().int().nullable(),
    cursor: z.number().int(),
    createdAt: z.number().int(),
  })
  .openapi('Webhook');

/** An event id from the path: digits are a number, anything else stays text for the ledger to refuse. */
export const eventIdOf = (raw: string): unknown => (/^(0|[1-9][0-9]{0,15})$/.test(raw) ? Number(raw) : raw);

export function webhooksRoutes(): Operation[] {
  return [
    {
      method: 'post',
      path: '/v1/webhooks',
      operationId: 'addWebhook',
      tag,
      summary: 'Add an endpoint; the response carries its signing secret (shown once)',
      scope: 'admin',
      body: webhookAddInput,
      response: z.object({ id: z.string(), secret: z.string(), webhook: webhookSchema }).openapi('WebhookAdded'),
      handler: async ({ ledger, body }) => ledger.webhooks.add((await body()) as never),
    },
    {
      method: 'get',
      path: '/v1/webhooks',
      operationId: 'listWebhooks',
      tag,
      summary: 'Every endpoint (without secrets), oldest first',
      scope: 'admin',
      response: listOf('Webhooks', 'webhooks', webhookSchema),
      handler: async ({ ledger }) => ({ webhooks: await ledger.webhooks.list() }),
    },
    {
      method: 'post',
      path: '/v1/webhooks/deliver',
      operationId: 'deliverWebhooks',
      tag,
      summary: 'Fan new events out and send what is due (call from cron; `more`: call again)',
      scope: 'admin',
      body: deliverInput.unwrap().omit({ fetch: true }),
      bodyOptional: true,
      response: object('DeliverReport'),
      handler: async ({ ledger, body }) => {
        const b = await body();
        // fetch is a function in the library: nothing JSON can carry (the runtime's own is used).
        if (b !== null && typeof b === 'object' && 'fetch' in b)
          throw new LedgerError('invalid_argument', 'webhooks.deliver: fetch is not an HTTP option', { field: 'fetch' });
        return ledger.webhooks.deliver(b as never);
      },
    },
    {
      method: 'post',
      path: '/v1/webhooks/prune',
      operationId: 'pruneDeliveries',
      tag,
      summary: 'Delete finished deliveries created before `before`, with their attempts (events stay; `more`: call again)',
      scope: 'admin',
      body: pruneInput,
      response: z.object({ deliveries: z.number().int(), attempts: z.number().int(), more: z.boolean() }).openapi('PruneReport'),
      handler: async ({ ledger, body }) => ledger.webhooks.prune((await body()) as never),
    },
    {
      method: 'delete',
      path: '/v1/webhooks/{webhookId}',
      operationId: 'removeWebhook',
      tag,
      summary: 'Remove an endpoint with its pending deliveries and attempt history',
      scope: 'admin',
      params: webhookParam,
      response: z.object({ removed: z.string() }).openapi('WebhookRemoved'),
      handler: ({ ledger, param }) => ledger.webhooks.remove(param('webhookId')),
    },
    {
      method: 'post',
      path: '/v1/webhooks/{webhookId}/enable',
      operationId: 'enableWebhook',
      tag,
      summary: 'Re-enable a disabled endpoint (its paused deliveries are due now)',
      scope: 'admin',
      params: webhookParam,
      body: z.strictObject({}),
      bodyOptional: true,
      response: webhookSchema,
      handler: async ({ ledger, body, param }) => {
        // Nothing to set: a body, if any, must be {} (strict like every input).
        const b = await body();
        if (b === null || typeof b !== 'object' || Array.isArray(b) || Object.keys(b).length > 0)
          throw new LedgerError('invalid_argument', 'webhooks.enable: the body must be empty', { field: 'input' });
        return ledger.webhooks.enable(param('webhookId'));
      },
    },
    {
      method: 'post',
      path: '/v1/events/{eventId}/redeliver',
      operationId: 'redeliverEvent',
      tag,
      summary: 'Queue an event again, due now, for every endpoint it went to or matches',
      scope: 'admin',
      params: eventParam,
      response: z.object({ eventId: z.number().int(), webhooks: z.array(z.string()) }).openapi('RedeliverResult'),
      handler: ({ ledger, param }) => ledger.webhooks.redeliver(eventIdOf(param('eventId')) as never),
    },
    {
      method: 'get',
      path: '/v1/events/{eventId}/attempts',
      operationId: 'deliveryAttempts',
      tag,
      summary: 'Every attempt at delivering an event, by endpoint and attempt number',
      scope: 'admin',
      params: eventParam,
      response: listOf('DeliveryAttempts', 'attempts'),
      handler: async ({ ledger, param }) => ({ attempts: await ledger.webhooks.attempts(eventIdOf(param('eventId')) as never) }),
    },
  ];
}
