/**
 * The teams share of the replay (src/replay.ts): the membership each team's log says, row by
 * row, the same rules as the INSERTs' conditions (src/teams/sql.ts) and the triggers of
 * migration 0013, written a second time on purpose. It reports a config row the statements
 * would not have written (`bad_config`) and a spend by an actor the guard would have refused
 * (`team_forbidden`), and emits the projection for rebuild() and the auditor.
 */
import type { LogRow } from '../replay.js';
import type { TeamRole } from '../schema.js';
import type { VerifyProblem } from '../types.js';
import { MANAGING_ROLES, SPENDING_ROLES } from './guard.js';

export interface DerivedTeam {
  team: string;
  owner: string;
  name: string | null;
  createdBy: string;
  createdAt: number;
}

export interface DerivedMember {
  team: string;
  member: string;
  role: TeamRole;
  setBy: string;
  since: number;
}

export interface TeamsSink {
  team(t: DerivedTeam): void;
  member(m: DerivedMember): void;
  problem(p: VerifyProblem): void;
}

export const TEAM_KINDS: ReadonlySet<string> = new Set(['team_create', 'team_add', 'team_role', 'team_remove']);
const ROLES: readonly string[] = ['admin', 'member', 'viewer'];

export class TeamsReplay {
  private team: DerivedTeam | null = null;
  private readonly members = new Map<string, DerivedMember>();

  constructor(
    readonly account: string,
    private readonly sink: TeamsSink,
  ) {}

  private problem(r: LogRow, code: VerifyProblem['code'], message: string) {
    this.sink.problem({ code, account: r.account, entryId: r.id, seq: r.seq, message });
  }

  /** A team_* row: applies it, or reports why the statement would not have written it. */
  config(r: LogRow): void {
    let s: Record<string, unknown>;
    try {
      s = JSON.parse(r.metadata ?? 'null') as Record<string, unknown>;
      if (s === null || typeof s !== 'object') throw new Error('not an object');
    } catch {
      this.problem(r, 'bad_config', `${r.kind} without its setting`);
      return;
    }
    const member = typeof s.member === 'string' ? s.member : null;
    const role = typeof s.role === 'string' ? s.role : null;
    if (r.kind === 'team_create') {
      if (this.team !== null || typeof s.owner !== 'string') {
        this.problem(r, 'bad_config', this.team !== null ? 'team_create of a team that exists' : 'team_create without an owner');
        return;
      }
      this.team = {
        team: r.account,
        owner: s.owner,
        name: typeof s.name === 'string' ? s.name : null,
        createdBy: r.id,
        createdAt: r.createdAt,
      };
      this.members.set(s.owner, { team: r.account, member: s.owner, role: 'owner', setBy: r.id, since: r.createdAt });
      return;
    }
    if (this.team === null || member === null) {
      this.problem(r, 'bad_config', `${r.kind} ${this.team === null ? 'on an account that is not a team' : 'without a member'}`);
      return;
    }
    const current = this.members.get(member);
    const manager = r.actor === null || (MANAGING_ROLES as readonly string[]).includes(this.members.get(r.actor)?.role ?? '');
    const leaving = r.kind === 'team_remove' && r.actor === member;
    if (!manager && !leaving) this.problem(r, 'team_forbidden', `${r.kind} by ${r.actor}, who may not change the members`);
    switch (r.kind) {
      case 'team_add':
        if (current !== undefined || role === null || !ROLES.includes(role)) {
          this.problem(r, 'bad_config', current !== undefined ? `team_add of ${member}, already a member` : `team_add with role ${role}`);
          return;
        }
        this.members.set(member, { team: r.account, member, role: role as TeamRole, setBy: r.id, since: r.createdAt });
        return;
      case 'team_role':
        if (current === undefined || current.role === 'owner' || current.role === role || role === null || !ROLES.includes(role)) {
          this.problem(r, 'bad_config', `team_role of ${member} to ${role}, from ${current?.role ?? 'not a member'}`);
          return;
        }
        current.role = role as TeamRole;
        current.setBy = r.id;
        return;
      case 'team_remove':
        if (current === undefined || current.role === 'owner') {
          this.problem(r, 'bad_config', `team_remove of ${member}, ${current === undefined ? 'not a member' : 'the owner'}`);
          return;
        }
        this.members.delete(member);
        return;
    }
  }

  /** A spend naming an actor on a team account: the guard let it through only for a member that may spend. */
  checkSpend(r: LogRow): void {
    if (this.team === null || r.actor === null) return;
    const role = this.members.get(r.actor)?.role;
    if (role === undefined || !(SPENDING_ROLES as readonly string[]).includes(role)) {
      this.problem(
        r,
        'team_forbidden',
        `${r.kind} of ${r.amount} by ${r.actor}, ${role === undefined ? 'not a member' : `a ${role}`} of the team`,
      );
    }
  }

  finish(): void {
    if (this.team !== null) this.sink.team(this.team);
    for (const m of this.members.values()) this.sink.member(m);
  }
}
