/**
 * Input of `ledger.alerts.*`, checked before any SQL runs: misuse is a LedgerError naming the
 * field (`invalid_account`, `invalid_amount` for lowBalance, `invalid_argument`); nothing is written.
 */
import { z } from 'zod';
import { ALERT_EXPIRING_MAX_MS, MAX_AMOUNT } from '../limits.js';
import { accountSchema, idempotencyKeySchema, label, reason } from '../validate.js';

const whole = (what: string, max: number, unit: string) =>
  z
    .number({ error: `${what} must be a number` })
    .refine(Number.isInteger, { error: `${what} must be a whole number of ${unit}` })
    .min(1, { error: `${what} must be at least 1` })
    .max(max, { error: `${what} must be at most ${max}` });

const common = {
  idempotencyKey: idempotencyKeySchema.optional(),
  reason: reason.optional(),
  actor: label('actor').optional(),
};
const lowBalance = whole('lowBalance', MAX_AMOUNT, 'the smallest unit');

export const setAlertInput = z
  .strictObject({
    account: accountSchema,
    lowBalance: lowBalance.optional(),
    expiringWithinMs: whole('expiringWithinMs', ALERT_EXPIRING_MAX_MS, 'milliseconds').optional(),
    ...common,
  })
  .refine((o) => o.lowBalance !== undefined || o.expiringWithinMs !== undefined, {
    error: 'give lowBalance, expiringWithinMs or both',
  });

export const removeAlertInput = z.strictObject({ account: accountSchema, lowBalance: lowBalance.optional(), ...common });
