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

export const balanceSchema = z
  .object({
    account: z.string(),
    balance: z.number().int(),
    held: z.number().int(),
    available: z.number().int(),
    seq: z.number().int(),
    floor: z.number().int(),
    headroom: z.number().int().nullable(),
    caps: z.array(z.looseObject({})),
  })
  .openapi('Balance');

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
