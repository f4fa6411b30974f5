/**
 * `ledger.teams`: a team is an account with members. Each change is a row on the team's log
 * (`team_create`, `team_add`, `team_role`, `team_remove`); the membership projection is kept by
 * triggers, rebuilt by `rebuild()` and compared by `verify()`. The guard that makes membership
 * count lives in every spending statement (src/teams/guard.ts, used by src/sql.ts).
 */
import { guard } from '../guard.js';
import type { Context } from '../ops/context.js';
import { accountSchema, parse } from '../validate.js';
import { addMember, createTeam, getTeam, members, memberships, removeMember, setRole } from './ops.js';
import type {
  AddMemberInput,
  AddMemberResult,
  CreateTeamInput,
  CreateTeamResult,
  Membership,
  RemoveMemberInput,
  RemoveMemberResult,
  SetRoleInput,
  SetRoleResult,
  Team,
  TeamMember,
} from './types.js';
import { addMemberInput, createTeamInput, removeMemberInput, setRoleInput } from './validate.js';

export interface Teams {
  /** Makes `team` (an account) a team owned by `owner`, its first member. The same call again replays. */
  create(input: CreateTeamInput): Promise<CreateTeamResult>;
  /** Adds a member as admin, member or viewer; adding them again in the same role replays. */
  addMember(input: AddMemberInput): Promise<AddMemberResult>;
  /** Changes a member's role (never the owner's); the same role replays. */
  setRole(input: SetRoleInput): Promise<SetRoleResult>;
  /** Removes a member (never the owner); `absent` when they are not one. */
  removeMember(input: RemoveMemberInput): Promise<RemoveMemberResult>;
  /** The team, or null. */
  get(team: string): Promise<Team | null>;
  /** Current members, owner first, each with the team's caps on them at now. */
  members(team: string): Promise<TeamMember[]>;
  /** The teams `member` belongs to, with their role. */
  memberships(member: string): Promise<Membership[]>;
}

export function createTeams(ctx: Context): Teams {
  const account = (v: string, op: string) => parse(accountSchema, v, op, 'invalid_account');
  return {
    create: (input) => guard(() => createTeam(ctx, parse(createTeamInput, input, 'teams.create'))),
    addMember: (input) => guard(() => addMember(ctx, parse(addMemberInput, input, 'teams.addMember'))),
    setRole: (input) => guard(() => setRole(ctx, parse(setRoleInput, input, 'teams.setRole'))),
    removeMember: (input) => guard(() => removeMember(ctx, parse(removeMemberInput, input, 'teams.removeMember'))),
    get: (team) => guard(() => getTeam(ctx, account(team, 'teams.get'))),
    members: (team) => guard(() => members(ctx, account(team, 'teams.members'))),
    memberships: (member) => guard(() => memberships(ctx, account(member, 'teams.memberships'))),
  };
}
