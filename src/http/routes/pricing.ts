/** Versioned rate cards and quotes. */
import { z } from '@hono/zod-openapi';
import { publishInput, quoteInput, versionSchema } from '../../pricing/validate.js';
import { idempotencyKeySchema, label, reason } from '../../validate.js';
import { type Operation, withIdempotencyKey } from '../route.js';
import { listOf, outcome, pricingVersionSchema, quoteSchema } from '../schemas.js';
import { found } from './entries.js';

const tag = 'Pricing';
const versionParam = z.object({ version: versionSchema });

/** A path's version as the ledger expects it: digits are a number, anything else stays text for it to refuse. */
const version = (v: string): unknown => (/^[1-9][0-9]{0,15}$/.test(v) ? Number(v) : v);

export function pricingRoutes(): Operation[] {
  return [
    {
      method: 'post',
      path: '/v1/pricing',
      operationId: 'publishPricing',
      tag,
      summary: 'Publish the next rate-card version (active at once unless activate: false)',
      scope: 'admin',
      body: publishInput,
      idempotencyHeader: true,
      response: outcome('PublishResult', ['published', 'replayed']),
      handler: async ({ ledger, body, idempotencyKey }) =>
        ledger.pricing.publish(withIdempotencyKey(await body(), idempotencyKey, 'pricing.publish') as never),
    },
    {
      method: 'get',
      path: '/v1/pricing',
      operationId: 'pricingHistory',
      tag,
      summary: 'Every pricing version, oldest first',
      scope: 'read',
      response: listOf('PricingVersions', 'versions', pricingVersionSchema),
      handler: async ({ ledger }) => ({ versions: await ledger.pricing.history() }),
    },
    {
      method: 'get',
      path: '/v1/pricing/active',
      operationId: 'activePricing',
      tag,
      summary: 'The active pricing version (null when none)',
      scope: 'read',
      response: z.object({ pricing: pricingVersionSchema.nullable() }).openapi('ActivePricing'),
      handler: async ({ ledger }) => ({ pricing: await ledger.pricing.active() }),
    },
    {
      method: 'post',
      path: '/v1/pricing/quote',
      operationId: 'quote',
      tag,
      summary: 'Price usage of a model exactly (writes nothing)',
      scope: 'read',
      body: quoteInput,
      response: quoteSchema,
      handler: async ({ ledger, body }) => ledger.pricing.quote((await body()) as never),
    },
    {
      method: 'get',
      path: '/v1/pricing/{version}',
      operationId: 'getPricing',
      tag,
      summary: 'One pricing version',
      scope: 'read',
      params: versionParam,
      response: pricingVersionSchema,
      handler: async ({ ledger, param }) => found(await ledger.pricing.get(version(param('version')) as never), 'pricing version'),
    },
    {
      method: 'post',
      path: '/v1/pricing/{version}/activate',
      operationId: 'activatePricing',
      tag,
      summary: 'Make a published version the active one',
      scope: 'admin',
      params: versionParam,
      body: z.strictObject({
        idempotencyKey: idempotencyKeySchema.optional(),
        reason: reason.optional(),
        actor: label('actor').optional(),
      }),
      bodyOptional: true,
      idempotencyHeader: true,
      response: outcome('ActivateResult', ['activated', 'replayed', 'unchanged']),
      handler: async ({ ledger, body, param, idempotencyKey }) => {
        const b = withIdempotencyKey(await body(), idempotencyKey, 'pricing.activate');
        const input = b !== null && typeof b === 'object' && !Array.isArray(b) ? { ...b, version: version(param('version')) } : b;
        return ledger.pricing.activate(input as never);
      },
    },
  ];
}
