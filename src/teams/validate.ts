/**
 * Input of `ledger.teams.*`, checked before any SQL runs. Teams, owners and members are
 * accounts (no reserved `$` prefix); roles are named. Misuse is a LedgerError naming the field.
 */
import { z } from 'zod';
import { LABEL_MAX_LENGTH } from '../limits.js';
import { accountSchema, id, idempotencyKeySchema, label, reason } from '../validate.js';

const role = z.enum(['admin', 'member', 'viewer'], { error: 'role must be one of admin, member, viewer (the owner is set by create)' });
const member = accountSchema;
const common = { reason: reason.optional(), actor: label('actor').optional() };
const notSelf = (t: { team: string; member: string }) => t.team !== t.member;
const selfError = { error: 'a team cannot be its own member', path: ['member'] };

export const createTeamInput = z
  .strictObject({
    team: accountSchema,
    owner: accountSchema,
    name: id(LABEL_MAX_LENGTH, 'name').optional(),
    idempotencyKey: idempotencyKeySchema.optional(),
    ...common,
  })
  .refine((t) => t.team !== t.owner, { error: 'a team cannot be its own owner' });

export const addMemberInput = z.strictObject({ team: accountSchema, member, role, ...common }).refine(notSelf, selfError);
export const setRoleInput = addMemberInput;
export const removeMemberInput = z.strictObject({ team: accountSchema, member, ...common }).refine(notSelf, selfError);
