/** Teams: accounts with members and roles. */
import { z } from '@hono/zod-openapi';
import { createTeamInput } from '../../teams/validate.js';
import { accountSchema, label, reason } from '../../validate.js';
import { type Operation, withIdempotencyKey, withPath } from '../route.js';
import { accountParam, listOf, membershipSchema, outcome, teamMemberSchema, teamSchema } from '../schemas.js';
import { found } from './entries.js';

const tag = 'Teams';
const teamParam = z.object({ team: accountSchema });
const memberParam = z.object({ team: accountSchema, member: accountSchema });
const role = z.enum(['admin', 'member', 'viewer']);
const common = { reason: reason.optional(), actor: label('actor').optional() };

export function teamsRoutes(): Operation[] {
  return [
    {
      method: 'post',
      path: '/v1/teams',
      operationId: 'createTeam',
      tag,
      summary: 'Make an account a team owned by `owner`',
      scope: 'admin',
      body: createTeamInput,
      idempotencyHeader: true,
      response: outcome('CreateTeamResult', ['created', 'replayed']),
      handler: async ({ ledger, body, idempotencyKey }) =>
        ledger.teams.create(withIdempotencyKey(await body(), idempotencyKey, 'teams.create') as never),
    },
    {
      method: 'get',
      path: '/v1/teams/{team}',
      operationId: 'getTeam',
      tag,
      summary: 'A team',
      scope: 'read',
      params: teamParam,
      response: teamSchema,
      handler: async ({ ledger, param }) => found(await ledger.teams.get(param('team')), 'team'),
    },
    {
      method: 'get',
      path: '/v1/teams/{team}/members',
      operationId: 'teamMembers',
      tag,
      summary: 'Current members, owner first, with the team’s caps on each',
      scope: 'read',
      params: teamParam,
      response: listOf('TeamMembers', 'members', teamMemberSchema),
      handler: async ({ ledger, param }) => ({ members: await ledger.teams.members(param('team')) }),
    },
    {
      method: 'post',
      path: '/v1/teams/{team}/members',
      operationId: 'addMember',
      tag,
      summary: 'Add a member as admin, member or viewer',
      scope: 'admin',
      params: teamParam,
      // Documented without `team` (it is the path's); the ledger checks the merged input with addMemberInput.
      body: z.strictObject({ member: accountSchema, role, ...common }),
      response: outcome('AddMemberResult', ['added', 'replayed']),
      handler: async ({ ledger, body, param }) =>
        ledger.teams.addMember(withPath(await body(), { team: param('team') }, 'teams.addMember') as never),
    },
    {
      method: 'put',
      path: '/v1/teams/{team}/members/{member}',
      operationId: 'setRole',
      tag,
      summary: 'Change a member’s role (never the owner’s)',
      scope: 'admin',
      params: memberParam,
      body: z.strictObject({ role, ...common }),
      response: outcome('SetRoleResult', ['updated', 'replayed']),
      handler: async ({ ledger, body, param }) =>
        ledger.teams.setRole(withPath(await body(), { team: param('team'), member: param('member') }, 'teams.setRole') as never),
    },
    {
      method: 'delete',
      path: '/v1/teams/{team}/members/{member}',
      operationId: 'removeMember',
      tag,
      summary: 'Remove a member (never the owner)',
      scope: 'admin',
      params: memberParam,
      body: z.strictObject(common),
      bodyOptional: true,
      response: outcome('RemoveMemberResult', ['removed', 'absent']),
      handler: async ({ ledger, body, param }) =>
        ledger.teams.removeMember(withPath(await body(), { team: param('team'), member: param('member') }, 'teams.removeMember') as never),
    },
    {
      method: 'get',
      path: '/v1/accounts/{account}/memberships',
      operationId: 'memberships',
      tag,
      summary: 'The teams an account belongs to, with its role',
      scope: 'read',
      params: accountParam,
      response: listOf('Memberships', 'memberships', membershipSchema),
      handler: async ({ ledger, param }) => ({ memberships: await ledger.teams.memberships(param('account')) }),
    },
  ];
}
