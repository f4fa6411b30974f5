/**
 * The statements of `ledger.teams`: config rows on the team's log (delta 0, the change as
 * canonical JSON in `metadata`), each written only when its condition holds inside the INSERT
 * (the team exists, the member is or is not there, the role differs, the actor may manage).
 * The projections `credit_team` and `credit_team_member` are written by the triggers of
 * migration 0013 in the same statement.
 */
import { CONFIG_ROW, KEYED } from '../caps/sql.js';
import { ENTRY_COLUMNS, headJoin, int } from '../sql.js';
import { HOLDS_ROLE, MANAGING_ROLES } from './guard.js';

/** `p.actor` may change team `p.account`'s members (or names no one: the app's own call). */
const MAY_MANAGE = `(p.actor IS NULL OR ${HOLDS_ROLE('p.account', 'p.actor', MANAGING_ROLES)})`;
const TEAM_EXISTS = 'EXISTS (SELECT 1 FROM credit_team AS t WHERE t.team = p.account)';
/** The member's row, alias m. */
const MEMBER = 'credit_team_member AS m WHERE m.team = p.account AND m.member = p.member';

/** Args: team, reason, key, actor, metadata ({name, owner}), now. */
export const TEAM_CREATE = `INSERT INTO credit_entry (${ENTRY_COLUMNS})
${CONFIG_ROW('team_create')}
FROM (SELECT ? AS account, ? AS reason, ? AS ikey, ? AS actor, ? AS metadata, ${int('now')}) AS p
LEFT JOIN credit_entry AS h ON ${headJoin('h', 'p.account')}
WHERE NOT ${TEAM_EXISTS}
${KEYED}`;

/** Args: team, member, role, reason, actor, metadata ({member, role}), now. */
export const TEAM_ADD = `INSERT INTO credit_entry (${ENTRY_COLUMNS})
${CONFIG_ROW('team_add')}
FROM (SELECT ? AS account, ? AS member, ? AS role, ? AS reason, NULL AS ikey, ? AS actor, ? AS metadata, ${int('now')}) AS p
JOIN credit_entry AS h ON ${headJoin('h', 'p.account')}
WHERE ${TEAM_EXISTS} AND NOT EXISTS (SELECT 1 FROM ${MEMBER}) AND ${MAY_MANAGE}
RETURNING pos, seq, balance`;

/** Args: team, member, role, reason, actor, metadata ({member, role}), now. */
export const TEAM_ROLE = `INSERT INTO credit_entry (${ENTRY_COLUMNS})
${CONFIG_ROW('team_role')}
FROM (SELECT ? AS account, ? AS member, ? AS role, ? AS reason, NULL AS ikey, ? AS actor, ? AS metadata, ${int('now')}) AS p
JOIN credit_entry AS h ON ${headJoin('h', 'p.account')}
WHERE EXISTS (SELECT 1 FROM ${MEMBER} AND m.role <> p.role AND m.role <> 'owner') AND ${MAY_MANAGE}
RETURNING pos, seq, balance`;

/** A member may leave on their own. Args: team, member, reason, actor, metadata ({member}), now. */
export const TEAM_REMOVE = `INSERT INTO credit_entry (${ENTRY_COLUMNS})
${CONFIG_ROW('team_remove')}
FROM (SELECT ? AS account, ? AS member, ? AS reason, NULL AS ikey, ? AS actor, ? AS metadata, ${int('now')}) AS p
JOIN credit_entry AS h ON ${headJoin('h', 'p.account')}
WHERE EXISTS (SELECT 1 FROM ${MEMBER} AND m.role <> 'owner') AND (p.actor = p.member OR ${MAY_MANAGE})
RETURNING pos, seq, balance`;

/** The team, a member's row and the actor's role, to explain a no-op. Args: team, member, actor. */
export const TEAM_STATE = `WITH p AS (SELECT ? AS team, ? AS member, ? AS actor)
SELECT t.team, t.owner, t.name, t.created_by, t.created_at,
       m.role, m.since, m.set_by,
       (SELECT a.role FROM credit_team_member AS a WHERE a.team = p.team AND a.member = p.actor) AS actor_role
FROM p LEFT JOIN credit_team AS t ON t.team = p.team
LEFT JOIN credit_team_member AS m ON m.team = p.team AND m.member = p.member`;

/** A team's members, owner first, then by when they joined. Args: team. */
export const TEAM_MEMBERS = `SELECT team, member, role, since, set_by FROM credit_team_member WHERE team = ?
ORDER BY role <> 'owner', since, member`;

/** The teams a member belongs to. Args: member. */
export const MEMBERSHIPS = `SELECT team, role, since FROM credit_team_member WHERE member = ? ORDER BY team`;
