/**
 * The membership guard, as the spending statements use it: inside the statement that writes,
 * read under the same write lock, so a member removed while a debit runs either was removed
 * after the debit committed or forbids it — never after. Two primary-key probes: is the
 * account a team (`credit_team`), and is the actor a member whose role may spend.
 *
 * This module imports nothing, so src/sql.ts can use it.
 */

/** Roles that may spend a team's credits (a viewer may only read). */
export const SPENDING_ROLES = ['owner', 'admin', 'member'] as const;
/** Roles that may add, change and remove members (never the owner). */
export const MANAGING_ROLES = ['owner', 'admin'] as const;

/**
 * `tm.role = 'a' OR tm.role = 'b' …` rather than `tm.role IN ('a', 'b', …)`: SQLite builds an
 * ephemeral index for a constant IN list each time the statement runs (measured ~0.5 µs; see
 * migration 0016, which does the same for the log's triggers).
 */
const anyOf = (column: string, roles: readonly string[]) => `(${roles.map((r) => `${column} = '${r}'`).join(' OR ')})`;

/** `actor` holds one of `roles` on team `team` (SQL expressions). */
export const HOLDS_ROLE = (team: string, actor: string, roles: readonly string[]) =>
  `EXISTS (SELECT 1 FROM credit_team_member AS tm WHERE tm.team = ${team} AND tm.member = ${actor} AND ${anyOf('tm.role', roles)})`;

/**
 * An operation on `account` naming `actor` may spend: no actor named (the app's own call), or
 * the account is not a team, or the actor is a current member that may spend.
 */
export const TEAM_ALLOWS = (account: string, actor: string) =>
  `(${actor} IS NULL OR NOT EXISTS (SELECT 1 FROM credit_team AS tt WHERE tt.team = ${account}) OR ${HOLDS_ROLE(account, actor, SPENDING_ROLES)})`;
