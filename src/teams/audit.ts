/**
 * The auditor's comparison of `credit_team` and `credit_team_member` with what the replay
 * derived from the teams' logs (src/teams/replay.ts), and rebuild()'s share: replace both
 * tables with the derived ones. Problem: `team_mismatch`.
 */
import { num } from '../entry.js';
import type { Row, Statement } from '../runner/index.js';
import type { VerifyProblem } from '../types.js';
import type { DerivedMember, DerivedTeam } from './replay.js';

export interface DerivedTeams {
  teams: Map<string, DerivedTeam>;
  /** By team and member (`team\u0000member`). */
  members: Map<string, DerivedMember>;
}

export const memberKey = (team: string, member: string) => `${team}\u0000${member}`;
const text = (v: unknown) => (v === null || v === undefined ? null : String(v));

export async function compareTeams(
  teamRows: AsyncIterable<Row>,
  memberRows: AsyncIterable<Row>,
  d: DerivedTeams,
  report: (p: VerifyProblem) => void,
): Promise<void> {
  const teams = new Map(d.teams);
  for await (const r of teamRows) {
    const team = String(r.team);
    const want = teams.get(team);
    teams.delete(team);
    const stored = `owner ${String(r.owner)}, name ${text(r.name)}, created by ${String(r.created_by)} at ${num(r.created_at)}`;
    if (want === undefined) {
      report({ code: 'team_mismatch', account: team, message: `stored team (${stored}) has no team_create row` });
    } else if (
      want.owner !== String(r.owner) ||
      want.name !== text(r.name) ||
      want.createdBy !== String(r.created_by) ||
      want.createdAt !== num(r.created_at)
    ) {
      report({
        code: 'team_mismatch',
        account: team,
        message: `stored team ${stored}; replayed owner ${want.owner}, name ${want.name}, created by ${want.createdBy} at ${want.createdAt}`,
      });
    }
  }
  for (const t of teams.values())
    report({ code: 'team_mismatch', account: t.team, entryId: t.createdBy, message: 'team missing from credit_team' });
  const members = new Map(d.members);
  for await (const r of memberRows) {
    const key = memberKey(String(r.team), String(r.member));
    const want = members.get(key);
    members.delete(key);
    const stored = `${String(r.member)} as ${String(r.role)} (set by ${String(r.set_by)}, since ${num(r.since)})`;
    if (want === undefined) {
      report({
        code: 'team_mismatch',
        account: String(r.team),
        message: `stored member ${stored} is a member by no row of the team's log`,
      });
    } else if (want.role !== String(r.role) || want.setBy !== String(r.set_by) || want.since !== num(r.since)) {
      report({
        code: 'team_mismatch',
        account: want.team,
        entryId: want.setBy,
        message: `stored member ${stored}; replayed ${want.member} as ${want.role} (set by ${want.setBy}, since ${want.since})`,
      });
    }
  }
  for (const m of members.values()) {
    report({
      code: 'team_mismatch',
      account: m.team,
      entryId: m.setBy,
      message: `member ${m.member} (${m.role}) missing from credit_team_member`,
    });
  }
}

export function teamsRebuild(d: DerivedTeams, inserts: (table: string, columns: string[], rows: unknown[][]) => Statement[]): Statement[] {
  return [
    { sql: 'DELETE FROM credit_team', args: [] },
    { sql: 'DELETE FROM credit_team_member', args: [] },
    ...inserts(
      'credit_team',
      ['team', 'owner', 'name', 'created_by', 'created_at'],
      [...d.teams.values()].map((t) => [t.team, t.owner, t.name, Number(t.createdBy), t.createdAt]),
    ),
    ...inserts(
      'credit_team_member',
      ['team', 'member', 'role', 'set_by', 'since'],
      [...d.members.values()].map((m) => [m.team, m.member, m.role, Number(m.setBy), m.since]),
    ),
  ];
}
