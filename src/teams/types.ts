import type { Cap } from '../caps/types.js';
import type { TeamRole } from '../schema.js';
import type { Entry } from '../types.js';

export type { TeamRole } from '../schema.js';
/** Roles `addMember` and `setRole` may give (the owner is set by `create` and never changes). */
export type MemberRole = Exclude<TeamRole, 'owner'>;

export interface Team {
  /** The team's account. */
  team: string;
  owner: string;
  name: string | null;
  /** The `team_create` entry. */
  createdBy: string;
  createdAt: number;
}

export interface TeamMember {
  team: string;
  member: string;
  role: TeamRole;
  /** When the member joined. */
  since: number;
  /** The entry that gave the member this role. */
  setBy: string;
  /** The team's caps on this member (`member` filter) at now: spent, held, remaining in the current window. */
  caps: Cap[];
}

export interface Membership {
  team: string;
  role: TeamRole;
  since: number;
}

interface Common {
  reason?: string;
  /**
   * Who makes the change. When given, it must be the team's owner or an admin (a member may
   * also remove themselves), checked inside the statement: otherwise `forbidden`.
   */
  actor?: string;
}

export interface CreateTeamInput {
  team: string;
  owner: string;
  name?: string;
  /** Scoped to the team's `team_create` rows. Without one, creating the same team again replays. */
  idempotencyKey?: string;
  reason?: string;
  actor?: string;
}
export interface AddMemberInput extends Common {
  team: string;
  member: string;
  role: MemberRole;
}
export interface SetRoleInput extends Common {
  team: string;
  member: string;
  role: MemberRole;
}
export interface RemoveMemberInput extends Common {
  team: string;
  member: string;
}

/** `replayed`: the change was already in force (nothing written; `entry` is the original when known). */
export type CreateTeamResult = { outcome: 'created' | 'replayed'; team: Team; entry?: Entry };
export type AddMemberResult = { outcome: 'added' | 'replayed'; member: Omit<TeamMember, 'caps'>; entry?: Entry };
export type SetRoleResult = { outcome: 'updated' | 'replayed'; member: Omit<TeamMember, 'caps'>; entry?: Entry };
/** `absent`: not a member (nothing written). */
export type RemoveMemberResult = { outcome: 'removed'; entry: Entry } | { outcome: 'absent' };
