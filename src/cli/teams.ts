/**
 * `drizzle-credits teams create | add | role | remove | members | memberships` and
 * `drizzle-credits transfer`: the `ledger.teams` namespace and `ledger.transfer` from the
 * shell. Handlers parse what was typed before calling the ledger (a bad value writes
 * nothing), like commands.ts; program.ts registers them with `addTeamsCommands`.
 * Exit codes are the CLI's: 0 for every `teams` outcome (a replay, removing someone who is
 * not a member); `transfer` as `debit`: 0 when transferred or replayed, 1 when insufficient
 * or capped (nothing written); 2 for a ledger error — `forbidden` (an actor whose role may
 * not do it), `not_found` (no such team or member), `already_exists`, bad input; 64 for usage.
 */
import type { Command } from 'commander';
import { type Entry, type Ledger, LedgerError, type MemberRole, type TeamMember, type TeamRole } from '../index.js';
import { parseAmount } from './args.js';
import { cappedOut, notApplied, type Output, warned } from './commands.js';
import { EXIT } from './exit.js';
import { entryFields, gridTable, isoTime, keyValueTable } from './format.js';

type Rows = [string, string | number][];

/** Roles `teams add` and `teams role` give (the owner is set by `teams create`). */
export const MEMBER_ROLES = ['admin', 'member', 'viewer'] as const satisfies readonly MemberRole[];

const ok = (data: unknown, text: string): Output => ({ exit: EXIT.ok, data, text });

const invalid = (field: string, message: string): LedgerError => new LedgerError('invalid_argument', message, { field });

function memberRole(raw: string): MemberRole {
  if ((MEMBER_ROLES as readonly string[]).includes(raw)) return raw as MemberRole;
  const owner = raw === 'owner' ? '; the owner is set by `teams create` and never changes' : '';
  throw invalid('role', `role must be one of ${MEMBER_ROLES.join(', ')} (got ${JSON.stringify(raw)})${owner}`);
}

/** `--metadata` as typed: a JSON object (the ledger checks what it may hold). */
function parseMetadata(raw: string | undefined): Record<string, unknown> | undefined {
  if (raw === undefined) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch (e) {
    throw invalid(
      'metadata',
      `metadata must be a JSON object, e.g. '{"order":"981"}' (got ${JSON.stringify(raw)}: ${(e as Error).message})`,
    );
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    throw invalid('metadata', `metadata must be a JSON object, e.g. '{"order":"981"}' (got ${JSON.stringify(raw)})`);
  return value as Record<string, unknown>;
}

const entryRows = (entry: Entry | undefined): Rows => (entry === undefined ? [] : entryFields(entry).map(([k, v]) => [k, v ?? '']));

const memberRows = (m: { team: string; member: string; role: TeamRole; since: number; setBy: string }): Rows => [
  ['team', m.team],
  ['member', m.member],
  ['role', m.role],
  ['since', isoTime(m.since)],
  ['role set by entry', m.setBy],
];

interface WriteOptions {
  actor?: string;
  reason?: string;
}

export async function teamsCreate(
  ledger: Ledger,
  team: string,
  o: { owner: string; name?: string; idempotencyKey?: string; reason?: string; actor?: string },
): Promise<Output> {
  const r = await ledger.teams.create({
    team,
    owner: o.owner,
    name: o.name,
    idempotencyKey: o.idempotencyKey,
    reason: o.reason,
    actor: o.actor,
  });
  const outcome = r.outcome === 'replayed' && r.entry === undefined ? 'replayed (already a team with this owner and name)' : r.outcome;
  return ok(
    r,
    keyValueTable([
      ['outcome', outcome],
      ['team', r.team.team],
      ['owner', r.team.owner],
      ['name', r.team.name ?? ''],
      ['team created', isoTime(r.team.createdAt)],
      ['created by entry', r.team.createdBy],
      ...entryRows(r.entry),
    ]),
  );
}

export async function teamsAdd(ledger: Ledger, team: string, member: string, o: WriteOptions & { role: string }): Promise<Output> {
  const r = await ledger.teams.addMember({ team, member, role: memberRole(o.role), actor: o.actor, reason: o.reason });
  const outcome = r.outcome === 'replayed' ? 'replayed (already a member in that role)' : r.outcome;
  return ok(r, keyValueTable([['outcome', outcome], ...memberRows(r.member), ...entryRows(r.entry)]));
}

export async function teamsRole(ledger: Ledger, team: string, member: string, role: string, o: WriteOptions): Promise<Output> {
  const r = await ledger.teams.setRole({ team, member, role: memberRole(role), actor: o.actor, reason: o.reason });
  const outcome = r.outcome === 'replayed' ? 'replayed (already in that role)' : r.outcome;
  return ok(r, keyValueTable([['outcome', outcome], ...memberRows(r.member), ...entryRows(r.entry)]));
}

export async function teamsRemove(ledger: Ledger, team: string, member: string, o: WriteOptions): Promise<Output> {
  const r = await ledger.teams.removeMember({ team, member, actor: o.actor, reason: o.reason });
  if (r.outcome === 'absent') return ok(r, keyValueTable([['outcome', `absent (${member} is not a member of ${team}; nothing written)`]]));
  return ok(r, keyValueTable([['outcome', r.outcome], ['team', team], ['member', member], ...entryRows(r.entry)]));
}

/** One row per member and cap on them (a member without caps: one row, cap columns empty). */
function membersTable(members: readonly TeamMember[]): string {
  const rows = members.flatMap((m) => {
    const who = [m.member, m.role, isoTime(m.since)];
    if (m.caps.length === 0) return [[...who, '', '', '', '']];
    return m.caps.map((c) => [...who, c.window, `${c.limit}${c.action === 'deny' ? '' : ` (${c.action})`}`, c.spent, c.remaining]);
  });
  return gridTable(['member', 'role', 'since', 'cap window', 'limit', 'spent', 'remaining'], rows, [
    'left',
    'left',
    'left',
    'left',
    'right',
    'right',
    'right',
  ]);
}

export async function teamsMembers(ledger: Ledger, team: string): Promise<Output> {
  const members = await ledger.teams.members(team);
  return ok(members, `${membersTable(members)}\n(caps: those the team set on each member with --member, in the current window)`);
}

export async function teamsMemberships(ledger: Ledger, member: string): Promise<Output> {
  const list = await ledger.teams.memberships(member);
  if (list.length === 0) return ok(list, `${member} belongs to no team`);
  return ok(
    list,
    gridTable(
      ['team', 'role', 'since'],
      list.map((m) => [m.team, m.role, isoTime(m.since)]),
    ),
  );
}

const expiry = (e: Entry): string => (e.expiresAt === null ? (e.priority === null ? '' : 'never') : isoTime(e.expiresAt));

/** The rows that arrived on `to`: a lot each (same priority and expiry as the lot drawn), or unlotted credits. */
function arrivalsTable(entries: readonly Entry[]): string {
  return gridTable(
    ['arrived as', 'amount', 'priority', 'expires', 'seq on to'],
    entries.map((e) => [e.id, e.amount, e.priority === null ? 'unlotted' : e.priority, expiry(e), e.seq]),
    ['left', 'right', 'right', 'left', 'right'],
  );
}

export async function transfer(
  ledger: Ledger,
  from: string,
  to: string,
  amount: string,
  o: { idempotencyKey?: string; reason?: string; actor?: string; metadata?: string },
): Promise<Output> {
  const r = await ledger.transfer({
    from,
    to,
    amount: parseAmount(amount),
    idempotencyKey: o.idempotencyKey,
    reason: o.reason,
    actor: o.actor,
    metadata: parseMetadata(o.metadata),
  });
  const route: [string, string][] = [['to', to]];
  if (r.outcome === 'insufficient') return notApplied('transferred', from, r, route);
  if (r.outcome === 'capped') return cappedOut('transferred', from, r, route);
  const head = keyValueTable([
    ['outcome', r.outcome],
    ['from', from],
    ['to', to],
    ['amount', r.out.amount],
    [`${from} balance now`, r.balance],
    [`${from} available now`, r.available],
    [`${to} balance now`, r.to.balance],
    [`${to} available now`, r.to.available],
    ...warned(r),
    ...entryRows(r.out),
    ...(r.out.actor === null ? [] : [['actor', r.out.actor] as [string, string]]),
    ...(r.out.metadata === null ? [] : [['metadata', JSON.stringify(r.out.metadata)] as [string, string]]),
  ]);
  return ok(r, `${head}\n${arrivalsTable(r.in)}`);
}

type Run = (cmd: Command, handler: (ledger: Ledger) => Promise<Output>) => Promise<void>;

const ROLE_HELP = `
Roles: the owner (set by create, never changed or removed), admin (manages members, spends),
member (spends), viewer (reads only). With --actor the change is checked inside the
statement that writes it: only the owner and admins may manage members (a member may
remove themselves); otherwise forbidden (exit 2), nothing written. Without --actor it is
the operator's own change.`;

const TRANSFER_HELP = `
Guarded on <from> like a debit: it must cover the amount (else insufficient, exit 1) and
pass its deny caps (else capped, exit 1); on a team account, --actor must be a member that
may spend (not a viewer: forbidden, exit 2). Credits keep their lots: what is drawn from a
lot arrives on <to> as a lot with the same priority and expiry. Not refundable: reverse it
with a transfer the other way.`;

/** Registers `teams` and its subcommands, and `transfer`, on the program. */
export function addTeamsCommands(program: Command, run: Run): void {
  const teams = program.command('teams').description('teams: accounts whose members spend them, by role');
  teams
    .command('create')
    .description('make an account a team, owned by --owner (its first member)')
    .argument('<team>', "the team's account id, e.g. team_acme")
    .requiredOption('--owner <account>', 'the owner: may spend and manage members; never changes')
    .option('--name <text>', 'display name')
    .option('--idempotency-key <key>', 'create at most once per key and team; a retry returns the original')
    .option('--reason <text>', 'stored on the entry')
    .option('--actor <name>', 'who creates it (recorded)')
    .addHelpText('after', ROLE_HELP)
    .action((team: string, o: { owner: string; name?: string; idempotencyKey?: string; reason?: string; actor?: string }, cmd: Command) =>
      run(cmd, (l) => teamsCreate(l, team, o)),
    );
  teams
    .command('add')
    .description('add a member to a team (the same member in the same role again replays)')
    .argument('<team>', "the team's account id")
    .argument('<member>', "the member's account id")
    .requiredOption('--role <role>', MEMBER_ROLES.join(' | '))
    .option('--actor <name>', 'who adds them: the owner or an admin (else forbidden)')
    .option('--reason <text>', 'stored on the entry')
    .addHelpText('after', ROLE_HELP)
    .action((team: string, member: string, o: WriteOptions & { role: string }, cmd: Command) =>
      run(cmd, (l) => teamsAdd(l, team, member, o)),
    );
  teams
    .command('role')
    .description("change a member's role (never the owner's; the same role replays)")
    .argument('<team>', "the team's account id")
    .argument('<member>', "the member's account id")
    .argument('<role>', MEMBER_ROLES.join(' | '))
    .option('--actor <name>', 'who changes it: the owner or an admin (else forbidden)')
    .option('--reason <text>', 'stored on the entry')
    .action((team: string, member: string, role: string, o: WriteOptions, cmd: Command) =>
      run(cmd, (l) => teamsRole(l, team, member, role, o)),
    );
  teams
    .command('remove')
    .description('remove a member (never the owner); outcome absent if they are not one')
    .argument('<team>', "the team's account id")
    .argument('<member>', "the member's account id")
    .option('--actor <name>', 'who removes them: the owner, an admin, or the member themselves (else forbidden)')
    .option('--reason <text>', 'stored on the entry')
    .action((team: string, member: string, o: WriteOptions, cmd: Command) => run(cmd, (l) => teamsRemove(l, team, member, o)));
  teams
    .command('members')
    .description("a team's members, owner first, with the team's caps on each (spent and remaining this window)")
    .argument('<team>', "the team's account id")
    .action((team: string, _o, cmd: Command) => run(cmd, (l) => teamsMembers(l, team)));
  teams
    .command('memberships')
    .description('the teams an account belongs to, with its role')
    .argument('<member>', 'account id')
    .action((member: string, _o, cmd: Command) => run(cmd, (l) => teamsMemberships(l, member)));

  program
    .command('transfer')
    .description('move credits from one account to another, keeping their lots (exit 1 if not covered or capped)')
    .argument('<from>', 'account the credits leave')
    .argument('<to>', 'account they arrive on')
    .argument('<amount>', 'whole number of the smallest unit')
    .option('--idempotency-key <key>', 'transfer at most once per key and <from>; a retry returns the original')
    .option('--reason <text>', 'stored on the entries')
    .option('--actor <name>', 'who moves them; on a team <from>, a member that may spend (else forbidden, exit 2)')
    .option('--metadata <json>', 'a JSON object stored on the out entry')
    .addHelpText('after', TRANSFER_HELP)
    .action(
      (
        from: string,
        to: string,
        amount: string,
        o: { idempotencyKey?: string; reason?: string; actor?: string; metadata?: string },
        cmd: Command,
      ) => run(cmd, (l) => transfer(l, from, to, amount, o)),
    );
}
