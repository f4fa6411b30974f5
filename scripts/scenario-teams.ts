/**
 * `npm start`, part 3: teams and transfers, on its own file (`.tmp/scenario-teams.db`) and a
 * ledger clock the script moves, so an expiry passes without waiting.
 *
 * The team `team_acme` is owned by alice, with bob as admin, carol as member and dave as
 * viewer; the team caps carol at 200 credits a day (a member cap: `caps.set` with `member`).
 * Every spend names its `actor`, so the membership guard inside the statement decides:
 * carol over her cap is `capped`, dave (a viewer) and an outsider are `forbidden` (before
 * `insufficient`: an outsider learns nothing of the balance), carol may not add members.
 * Credits move both ways between alice and the team: alice's expiring promo credits arrive on
 * the team as a lot with the same expiry, and move back to her the same way; a transfer out
 * counts toward carol's cap like a debit. A week later the moved promo credits lapse on both
 * sides at the original expiry. The auditor checks it all.
 */
import { rmSync } from 'node:fs';
import Database from 'better-sqlite3';
import { drizzle } from 'drizzle-orm/better-sqlite3';
import { gridTable } from '../src/cli/format.js';
import { createLedger, type Entry, isLedgerError, type Ledger } from '../src/index.js';

const DAY = 86_400_000;
const START = Date.UTC(2027, 3, 5, 9); // a Monday, 09:00 UTC
const PROMO_EXPIRES = START + 7 * DAY;
const TEAM = 'team_acme';
const OUTSIDER = 'mallory';

export interface TeamsScenario {
  checks: [string, string | number, string | number][];
  tables: string[];
}

/** The outcome of a call, or the code of the LedgerError it threw. */
async function outcomeOf(p: Promise<{ outcome: string }>): Promise<string> {
  try {
    return (await p).outcome;
  } catch (e) {
    if (isLedgerError(e)) return e.code;
    throw e;
  }
}

const when = (ms: number | null) => (ms === null ? 'never' : new Date(ms).toISOString().slice(0, 16).replace('T', ' '));
/** An arriving entry as `amount (expires …, priority p)` or `amount unlotted`. */
const piece = (e: Entry) =>
  e.expiresAt === null && e.priority === null ? `${e.amount} unlotted` : `${e.amount} until ${when(e.expiresAt)}`;

export async function runTeamsScenario(file: string): Promise<TeamsScenario> {
  for (const suffix of ['', '-wal', '-shm']) rmSync(`${file}${suffix}`, { force: true });
  const client = new Database(file);
  client.pragma('journal_mode = WAL');
  let now = START;
  const ledger = createLedger(drizzle(client), { clock: () => now });
  await ledger.migrate();
  const checks: TeamsScenario['checks'] = [];
  const spends: (string | number)[][] = [];

  // The team: alice owns it; bob (admin) adds carol; alice adds dave as a viewer.
  await ledger.teams.create({ team: TEAM, owner: 'alice', name: 'Acme' });
  await ledger.teams.addMember({ team: TEAM, member: 'bob', role: 'admin', actor: 'alice' });
  await ledger.teams.addMember({ team: TEAM, member: 'carol', role: 'member', actor: 'bob' });
  await ledger.teams.addMember({ team: TEAM, member: 'dave', role: 'viewer', actor: 'alice' });
  const byMember = await outcomeOf(ledger.teams.addMember({ team: TEAM, member: 'erin', role: 'member', actor: 'carol' }));
  checks.push(['teams: carol (member) adding a member', 'forbidden', byMember]);
  await ledger.caps.set({ account: TEAM, window: 'day', limit: 200, member: 'carol', reason: 'per-seat budget' });
  await ledger.grant({ account: TEAM, amount: 5_000, reason: 'invoice INV-1', idempotencyKey: 'inv-1' });
  await ledger.grant({ account: 'alice', amount: 1_000, reason: 'top-up' });
  await ledger.grant({ account: 'alice', amount: 300, reason: 'promo', expiresAt: PROMO_EXPIRES });
  const total0 = await totalOf(ledger);

  // Spends on the team account, each naming its actor.
  const spend = async (actor: string, amount: number) => {
    const r = await outcomeOf(ledger.debitIfCovers({ account: TEAM, amount, actor, model: 'gpt-4o' }));
    spends.push([actor, 'debit', amount, r]);
    return r;
  };
  await spend('carol', 120);
  checks.push(['teams: carol over her cap (120 + 100 > 200)', 'capped', await spend('carol', 100)]);
  await spend('bob', 500);
  checks.push(['teams: dave (viewer) spending', 'forbidden', await spend('dave', 10)]);
  checks.push(['teams: outsider asking for more than the balance', 'forbidden', await spend(OUTSIDER, 1_000_000)]);
  // A member cap cannot be bypassed by moving team credits to oneself: transfers out count.
  const toSelf = await outcomeOf(ledger.transfer({ from: TEAM, to: 'carol', amount: 100, actor: 'carol' }));
  spends.push(['carol', 'transfer to carol', 100, toSelf]);
  checks.push(['teams: carol moving 100 to herself (cap)', 'capped', toSelf]);
  const small = await outcomeOf(ledger.transfer({ from: TEAM, to: 'carol', amount: 50, actor: 'carol' }));
  spends.push(['carol', 'transfer to carol', 50, small]);
  checks.push(['teams: the 50 carol moved counts on her cap', 170, (await capOf(ledger, 'carol'))?.spent ?? -1]);

  // alice → team: 400 from her 300 promo credits (expiring, drawn first) and 100 unlotted.
  const up = await ledger.transfer({ from: 'alice', to: TEAM, amount: 400, idempotencyKey: 'seat-topup-1', reason: 'top up the team' });
  if (up.outcome !== 'transferred') throw new Error(`alice → team: ${up.outcome}`);
  const retry = await ledger.transfer({ from: 'alice', to: TEAM, amount: 400, idempotencyKey: 'seat-topup-1', reason: 'top up the team' });
  checks.push(['teams: keyed transfer retried', 'replayed', retry.outcome]);
  checks.push(['teams: alice → team arrivals', `300 until ${when(PROMO_EXPIRES)}, 100 unlotted`, up.in.map(piece).join(', ')]);
  // team → alice (by its owner): 200, drawn from the promo lot that arrived (it expires first).
  const down = await ledger.transfer({ from: TEAM, to: 'alice', amount: 200, actor: 'alice', reason: 'expense' });
  if (down.outcome !== 'transferred') throw new Error(`team → alice: ${down.outcome}`);
  checks.push(['teams: team → alice arrivals', `200 until ${when(PROMO_EXPIRES)}`, down.in.map(piece).join(', ')]);
  checks.push(['teams: a transfer is not refundable', 'not_refundable', await outcomeOf(ledger.refund({ entryId: down.out.id }))]);
  checks.push(['teams: transfers create and destroy nothing', total0 - 120 - 500, await totalOf(ledger)]);

  const lotRows = async () =>
    (
      await Promise.all(
        [TEAM, 'alice'].map(async (a) => (await ledger.lots(a)).map((l) => [a, l.id, l.amount, l.remaining, when(l.expiresAt)])),
      )
    ).flat();
  const lotsBefore = await lotRows();
  const members = await ledger.teams.members(TEAM);
  const before = await balances(ledger);
  const beforeAt = now;

  // A week later: the moved promo credits lapse where they are, at the original expiry.
  now = PROMO_EXPIRES + 3_600_000;
  const after = await balances(ledger);
  checks.push(['teams: team lost its 100 moved promo credits', (before[TEAM] ?? 0) - 100, after[TEAM] ?? -1]);
  checks.push(['teams: alice lost her 200 moved-back promo credits', (before.alice ?? 0) - 200, after.alice ?? -1]);
  await ledger.sweep();
  const verify = await ledger.verify();
  checks.push(['teams: auditor problems', 0, verify.problemCount]);
  client.close();

  const tables = [
    `Teams and transfers: ${TEAM} (owner alice, admin bob, member carol capped at 200/day, viewer dave); every spend names its actor`,
    gridTable(
      ['member', 'role', 'cap (day)', 'spent', 'remaining'],
      members.map((m) => {
        const c = m.caps[0];
        return [m.member, m.role, c?.limit ?? '—', c?.spent ?? '—', c?.remaining ?? '—'];
      }),
      ['left', 'left', 'right', 'right', 'right'],
    ),
    gridTable(['actor', 'on the team account', 'amount', 'outcome'], spends, ['left', 'left', 'right', 'left']),
    gridTable(
      ['transfer', 'amount', 'arrived as', 'from: balance after', 'to: balance after'],
      [
        ['alice → team (keyed; retry replayed)', 400, up.in.map(piece).join(' + '), up.balance, up.to.balance],
        ['team → alice (actor alice)', 200, down.in.map(piece).join(' + '), down.balance, down.to.balance],
      ],
      ['left', 'right', 'left', 'right', 'right'],
    ),
    'Open lots after the transfers (the promo lot moved, keeping its expiry)',
    gridTable(['account', 'lot', 'amount', 'remaining', 'expires'], lotsBefore, ['left', 'left', 'right', 'right', 'left']),
    gridTable(
      ['balance', when(beforeAt), `${when(now)} (past the promo expiry)`],
      [TEAM, 'alice', 'carol'].map((a) => [a, before[a] ?? 0, after[a] ?? 0]),
      ['left', 'right', 'right'],
    ),
  ];
  return { checks, tables };

  async function balances(l: Ledger): Promise<Record<string, number>> {
    const out: Record<string, number> = {};
    for (const a of [TEAM, 'alice', 'carol']) out[a] = (await l.getBalance(a)).balance;
    return out;
  }
}

async function totalOf(l: Ledger): Promise<number> {
  let sum = 0;
  for (const a of [TEAM, 'alice', 'carol']) sum += (await l.getBalance(a)).balance;
  return sum;
}

async function capOf(l: Ledger, member: string) {
  return (await l.teams.members(TEAM)).find((m) => m.member === member)?.caps[0];
}
