/**
 * `ledger.teams`: plans of one conditional INSERT each (src/teams/sql.ts), and the reads. A call
 * that changes nothing (the team already created with these settings, the member already in
 * that role) writes nothing and replays; one that cannot apply says why with a typed error.
 */
import { capFromRow } from '../caps/decode.js';
import { configEntry } from '../caps/ops.js';
import { CAPS_LIST } from '../caps/sql.js';
import { num, toEntry } from '../entry.js';
import { LedgerError } from '../errors.js';
import { type Context, type Plan, runPlan } from '../ops/context.js';
import type { Row, UnitResult } from '../runner/index.js';
import type { TeamRole } from '../schema.js';
import { SELECT_BY_KEY } from '../sql.js';
import { canonicalJson } from '../validate.js';
import { MEMBERSHIPS, TEAM_ADD, TEAM_CREATE, TEAM_MEMBERS, TEAM_REMOVE, TEAM_ROLE, TEAM_STATE } from './sql.js';
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

const text = (v: unknown): string | null => (v === null || v === undefined ? null : String(v));

function teamOf(r: Row, ctx: Context): Team {
  return {
    team: String(r.team),
    owner: String(r.owner),
    name: text(r.name),
    createdBy: ctx.ids.format(num(r.created_by)),
    createdAt: num(r.created_at),
  };
}

const memberOf = (ctx: Context, team: string, member: string, r: Row) => ({
  team,
  member,
  role: String(r.role) as TeamRole,
  since: num(r.since),
  setBy: ctx.ids.format(num(r.set_by)),
});

function notFound(op: string, team: string): LedgerError {
  return new LedgerError('not_found', `${op}: ${team} is not a team (create it with teams.create)`, { team });
}

/** The actor named may not manage the team's members: only its owner and admins may. */
function assertManager(op: string, team: string, actor: string | undefined, state: Row): void {
  if (actor === undefined) return;
  const role = text(state.actor_role);
  if (role === 'owner' || role === 'admin') return;
  throw new LedgerError(
    'forbidden',
    `${op}: ${actor} may not change the members of ${team}: only its owner and admins may (${role === null ? 'not a member' : `a ${role}`})`,
    { team, actor, role },
  );
}

export function planCreateTeam(ctx: Context, req: CreateTeamInput): Plan<CreateTeamResult> {
  const now = ctx.now();
  const key = req.idempotencyKey ?? null;
  const metadata = canonicalJson({ name: req.name ?? null, owner: req.owner });
  return {
    unit: {
      primary: { sql: TEAM_CREATE, args: [req.team, req.reason ?? null, key, req.actor ?? null, metadata, now] },
      explain: [{ sql: SELECT_BY_KEY, args: [req.team, 'team_create', key] }],
      after: [{ sql: TEAM_STATE, args: [req.team, req.owner, null] }],
    },
    decode: ({ rows, explain, after }: UnitResult): CreateTeamResult => {
      const state = after[0]?.[0];
      if (state === undefined || state.team === null || state.team === undefined) {
        throw new LedgerError('internal', 'teams.create: the team_create row created no team (run rebuild())');
      }
      const team = teamOf(state, ctx);
      const row = rows[0];
      if (row !== undefined) return { outcome: 'created', team, entry: configEntry(ctx, row, 'team_create', req.team, req, metadata, now) };
      const original = explain[0]?.[0];
      const entry = original === undefined ? undefined : toEntry(original, ctx.ids);
      // The same team again (by key, or with the same owner and name): a retry.
      if (team.owner === req.owner && team.name === (req.name ?? null)) return { outcome: 'replayed', team, ...(entry ? { entry } : {}) };
      throw new LedgerError(
        entry === undefined ? 'already_exists' : 'idempotency_conflict',
        `teams.create: ${req.team} is already a team, owned by ${team.owner}${team.name === null ? '' : ` and named "${team.name}"`}`,
        { team: req.team, owner: team.owner, name: team.name },
      );
    },
  };
}

export function planAddMember(ctx: Context, req: AddMemberInput): Plan<AddMemberResult> {
  const now = ctx.now();
  const metadata = canonicalJson({ member: req.member, role: req.role });
  const op = 'teams.addMember';
  return {
    unit: {
      primary: { sql: TEAM_ADD, args: [req.team, req.member, req.role, req.reason ?? null, req.actor ?? null, metadata, now] },
      explain: [],
      after: [{ sql: TEAM_STATE, args: [req.team, req.member, req.actor ?? null] }],
    },
    decode: ({ rows, after }: UnitResult): AddMemberResult => {
      const state = after[0]?.[0];
      if (state === undefined || state.team === null || state.team === undefined) throw notFound(op, req.team);
      const row = rows[0];
      if (row !== undefined) {
        return {
          outcome: 'added',
          member: memberOf(ctx, req.team, req.member, state),
          entry: configEntry(ctx, row, 'team_add', req.team, req, metadata, now),
        };
      }
      // An actor who may not manage the team learns nothing more than that.
      assertManager(op, req.team, req.actor, state);
      const role = text(state.role);
      if (role === req.role) return { outcome: 'replayed', member: memberOf(ctx, req.team, req.member, state) };
      if (role !== null) {
        throw new LedgerError(
          'already_exists',
          `${op}: ${req.member} is already a member of ${req.team} as ${role}${role === 'owner' ? '' : ' (change it with teams.setRole)'}`,
          { team: req.team, member: req.member, role },
        );
      }
      throw new LedgerError('internal', `${op}: nothing was written and no reason was found (a concurrent change?)`);
    },
  };
}

export function planSetRole(ctx: Context, req: SetRoleInput): Plan<SetRoleResult> {
  const now = ctx.now();
  const metadata = canonicalJson({ member: req.member, role: req.role });
  const op = 'teams.setRole';
  return {
    unit: {
      primary: { sql: TEAM_ROLE, args: [req.team, req.member, req.role, req.reason ?? null, req.actor ?? null, metadata, now] },
      explain: [],
      after: [{ sql: TEAM_STATE, args: [req.team, req.member, req.actor ?? null] }],
    },
    decode: ({ rows, after }: UnitResult): SetRoleResult => {
      const state = after[0]?.[0];
      if (state === undefined || state.team === null || state.team === undefined) throw notFound(op, req.team);
      const row = rows[0];
      if (row !== undefined) {
        return {
          outcome: 'updated',
          member: memberOf(ctx, req.team, req.member, state),
          entry: configEntry(ctx, row, 'team_role', req.team, req, metadata, now),
        };
      }
      // An actor who may not manage the team learns nothing more than that.
      assertManager(op, req.team, req.actor, state);
      const role = text(state.role);
      if (role === null) {
        throw new LedgerError('not_found', `${op}: ${req.member} is not a member of ${req.team}`, { team: req.team, member: req.member });
      }
      if (role === 'owner') {
        throw new LedgerError('forbidden', `${op}: ${req.member} owns ${req.team}; the owner's role never changes`, {
          team: req.team,
          member: req.member,
        });
      }
      if (role === req.role) return { outcome: 'replayed', member: memberOf(ctx, req.team, req.member, state) };
      throw new LedgerError('internal', `${op}: nothing was written and no reason was found (a concurrent change?)`);
    },
  };
}

export function planRemoveMember(ctx: Context, req: RemoveMemberInput): Plan<RemoveMemberResult> {
  const now = ctx.now();
  const metadata = canonicalJson({ member: req.member });
  const op = 'teams.removeMember';
  return {
    unit: {
      primary: { sql: TEAM_REMOVE, args: [req.team, req.member, req.reason ?? null, req.actor ?? null, metadata, now] },
      explain: [{ sql: TEAM_STATE, args: [req.team, req.member, req.actor ?? null] }],
    },
    decode: ({ rows, explain }: UnitResult): RemoveMemberResult => {
      const row = rows[0];
      if (row !== undefined) return { outcome: 'removed', entry: configEntry(ctx, row, 'team_remove', req.team, req, metadata, now) };
      const state = explain[0]?.[0];
      if (state === undefined || state.team === null || state.team === undefined) throw notFound(op, req.team);
      // A member may leave on their own; anyone else must be able to manage the team.
      if (req.actor !== req.member) assertManager(op, req.team, req.actor, state);
      const role = text(state.role);
      if (role === null) return { outcome: 'absent' };
      if (role === 'owner') {
        throw new LedgerError('forbidden', `${op}: ${req.member} owns ${req.team}; the owner cannot be removed`, {
          team: req.team,
          member: req.member,
        });
      }
      throw new LedgerError('internal', `${op}: nothing was written and no reason was found (a concurrent change?)`);
    },
  };
}

export const createTeam = (ctx: Context, req: CreateTeamInput) => runPlan(ctx, planCreateTeam(ctx, req));
export const addMember = (ctx: Context, req: AddMemberInput) => runPlan(ctx, planAddMember(ctx, req));
export const setRole = (ctx: Context, req: SetRoleInput) => runPlan(ctx, planSetRole(ctx, req));
export const removeMember = (ctx: Context, req: RemoveMemberInput) => runPlan(ctx, planRemoveMember(ctx, req));

export async function getTeam(ctx: Context, team: string): Promise<Team | null> {
  const [[row] = []] = await ctx.runner.read([{ sql: TEAM_STATE, args: [team, null, null] }]);
  return row === undefined || row.team === null || row.team === undefined ? null : teamOf(row, ctx);
}

/** The team's members with the caps the team set on each, at now (one read). */
export async function members(ctx: Context, team: string): Promise<TeamMember[]> {
  const now = ctx.now();
  const [[state] = [], rows = [], caps = []] = await ctx.runner.read([
    { sql: TEAM_STATE, args: [team, null, null] },
    { sql: TEAM_MEMBERS, args: [team] },
    { sql: CAPS_LIST, args: [team, now] },
  ]);
  if (state === undefined || state.team === null || state.team === undefined) throw notFound('teams.members', team);
  const all = caps.map((c) => capFromRow(c, now, ctx.ids));
  return rows.map((r) => ({ ...memberOf(ctx, team, String(r.member), r), caps: all.filter((c) => c.member === String(r.member)) }));
}

export async function memberships(ctx: Context, member: string): Promise<Membership[]> {
  const [rows = []] = await ctx.runner.read([{ sql: MEMBERSHIPS, args: [member] }]);
  return rows.map((r) => ({ team: String(r.team), role: String(r.role) as TeamRole, since: num(r.since) }));
}
