import { z } from 'zod';
import { LedgerError } from '../errors.js';
import { accountSchema, amountSchema, idempotencyKeySchema, label, metadata, parse, reason } from '../validate.js';

const schema = z
  .strictObject({
    from: accountSchema,
    to: accountSchema,
    amount: amountSchema,
    idempotencyKey: idempotencyKeySchema.optional(),
    reason: reason.optional(),
    actor: label('actor').optional(),
    metadata: metadata.optional(),
  })
  .refine((t) => t.from !== t.to, { error: 'from and to must be different accounts' });

/** The transfer input schema parseTransfer checks with (exported for documents such as the HTTP API's). */
export const transferInput = schema;

/** Parses a transfer's input; a bad `from` or `to` is `invalid_account`, like any account (the same account twice is `invalid_argument`). */
export function parseTransfer(input: unknown, operation: string): z.output<typeof schema> {
  try {
    return parse(schema, input, operation);
  } catch (e) {
    const field = e instanceof LedgerError ? e.details?.field : undefined;
    if (e instanceof LedgerError && (field === 'from' || field === 'to')) throw new LedgerError('invalid_account', e.message, e.details);
    throw e;
  }
}
