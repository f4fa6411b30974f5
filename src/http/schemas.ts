/**
 * Response shapes for the document. Results are the library's own objects serialised as
 * JSON; these describe their main fields (additional fields may appear as the library grows).
 */
import { z } from '@hono/zod-openapi';
import { ENTRY_KINDS } from '../schema.js';
import { accountSchema, entryIdSchema } from '../validate.js';

export const entrySchema = z
  .object({
    id: z.string(),
    account: z.string(),
    seq: z.number().int(),
    kind: z.enum(ENTRY_KINDS),
    delta: z.number().int(),
    amount: z.number().int(),
    balance: z.number().int(),
    reason: z.string().nullable(),
    idempotencyKey: z.string().nullable(),
    ref: z.string().nullable(),
    model: z.string().nullable(),
    keyId: z.string().nullable(),
    actor: z.string().nullable(),
    metadata: z.record(z.string(), z.unknown()).nullable(),
    expiresAt: z.number().int().nullable(),
    priority: z.number().int().nullable(),
    createdAt: z.number().int(),
  })
  .openapi('Entry');

export const holdSchema = z
  .object({
    id: z.string(),
    account: z.string(),
    amount: z.number().int(),
    expiresAt: z.number().int(),
    status: z.enum(['open', 'captured', 'released', 'expired']),
    resolvedBy: z.string().nullable(),
    createdAt: z.number().int(),
  })
  .openapi('Hold');

const int = () => z.number().int();
const label = () => z.string().nullable();

export const capSchema = z
  .looseObject({
    id: z.string(),
    account: z.string(),
    window: z.enum(['day', 'week', 'month']),
    limit: int(),
    action: z.enum(['deny', 'warn', 'notify']),
    model: label(),
    keyId: label(),
    member: label(),
    spent: int(),
    held: int(),
    remaining: int(),
    resetsAt: int(),
  })
  .openapi('Cap');

export const balanceSchema = z
  .looseObject({
    account: z.string(),
    balance: int(),
    held: int(),
    available: int(),
    seq: int(),
    floor: int(),
    headroom: int().nullable(),
    caps: z.array(capSchema),
  })
  .openapi('Balance');

export const lotSchema = z
  .looseObject({
    id: z.string(),
    account: z.string(),
    amount: int(),
    remaining: int(),
    priority: int(),
    expiresAt: int().nullable(),
    createdAt: int(),
  })
  .openapi('Lot');

export const allocationSchema = z.looseObject({ entryId: z.string(), lotId: z.string(), amount: int(), ord: int() }).openapi('Allocation');

const featureValue = z.union([z.boolean(), z.number(), z.string(), z.null()]);

export const planSchema = z
  .looseObject({
    id: z.string(),
    version: int(),
    name: z.string().nullable(),
    allowance: z
      .looseObject({ amount: int(), every: z.enum(['day', 'week', 'month', 'year']), rollover: z.object({ max: int() }).nullable() })
      .nullable(),
    features: z.record(z.string(), featureValue),
    definedAt: int(),
    entryId: z.string(),
  })
  .openapi('Plan');

export const subscriptionSchema = z
  .looseObject({
    account: z.string(),
    planId: z.string(),
    version: int(),
    status: z.enum(['active', 'canceling', 'canceled']),
    anchor: int(),
    since: int(),
    period: z.object({ start: int(), end: int() }).nullable(),
    allowance: z.looseObject({ amount: int(), remaining: int(), rollover: int(), resetsAt: int() }).nullable(),
    pendingChange: z.looseObject({ planId: z.string(), version: int(), at: int() }).nullable(),
    cancelAt: int().nullable(),
  })
  .openapi('Subscription');

export const pricingVersionSchema = z
  .looseObject({
    version: int(),
    label: z.string().nullable(),
    rounding: z.enum(['up', 'half_even', 'down']),
    rates: z.record(z.string(), z.record(z.string(), z.string())),
    active: z.boolean(),
    entryId: z.string(),
    createdAt: int(),
  })
  .openapi('PricingVersion');

export const quoteSchema = z
  .looseObject({
    credits: int(),
    exact: z.string(),
    version: int(),
    rounding: z.enum(['up', 'half_even', 'down']),
    model: z.string(),
    lines: z.array(z.looseObject({ meter: z.string(), quantity: int(), price: z.string(), cost: z.string() })),
  })
  .openapi('Quote');

const role = z.enum(['owner', 'admin', 'member', 'viewer']);
export const teamSchema = z
  .looseObject({ team: z.string(), owner: z.string(), name: z.string().nullable(), createdBy: z.string(), createdAt: int() })
  .openapi('Team');
export const teamMemberSchema = z
  .looseObject({ team: z.string(), member: z.string(), role, since: int(), setBy: z.string(), caps: z.array(capSchema) })
  .openapi('TeamMember');
export const membershipSchema = z.looseObject({ team: z.string(), role, since: int() }).openapi('Membership');

export const spendRowSchema = z
  .looseObject({
    account: z.string().optional(),
    model: label().optional(),
    keyId: label().optional(),
    actor: label().optional(),
    day: z.string().optional(),
    hour: z.string().optional(),
    debited: int(),
    refunded: int(),
    net: int(),
    count: int(),
  })
  .openapi('SpendRow');

export const alertSchema = z
  .looseObject({
    account: z.string(),
    lowBalance: int().nullable(),
    expiringWithinMs: int().nullable(),
    below: z.boolean(),
    setBy: z.string(),
  })
  .openapi('Alert');

export const eventSchema = z
  .looseObject({
    id: int(),
    type: z.string(),
    timestamp: z.string(),
    createdAt: int(),
    account: z.string(),
    data: z.looseObject({ account: z.string(), entryId: z.string().optional() }),
  })
  .openapi('LedgerEvent');

/** A result with an `outcome` and, when something was written, the `entry`. */
export const outcome = (name: string, outcomes: readonly [string, ...string[]]) =>
  z
    .looseObject({
      outcome: z.enum(outcomes),
      entry: entrySchema.optional(),
      balance: z.number().int().optional(),
      available: z.number().int().optional(),
    })
    .openapi(name);

/** Any other JSON object the library returns (described in the operation's summary and the README). */
export const object = (name: string) => z.looseObject({}).openapi(name);
export const listOf = (name: string, key: string, item: z.ZodType = z.looseObject({})) => z.object({ [key]: z.array(item) }).openapi(name);

export const accountParam = z.object({ account: accountSchema });
export const entryParam = z.object({ entryId: entryIdSchema });
