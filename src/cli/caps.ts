/**
 * `drizzle-credits caps set | remove | list | floor`: the `ledger.caps` namespace from the
 * shell. Handlers parse what was typed before calling the ledger (a bad value writes
 * nothing), like commands.ts; program.ts registers the group with `addCapsCommands`.
 * Exit codes are the CLI's: 0 for every outcome here (a replay, or removing a cap that is
 * not there, leaves the ledger as asked), 2 for a ledger error, 64 for usage.
 */
import type { Command } from 'commander';
import { CAP_ACTIONS, CAP_WINDOWS, type CapAction, type CapWindow, type Ledger, LedgerError } from '../index.js';
import { parseCapLimit, parseFloor } from './args.js';
import type { Output } from './commands.js';
import { EXIT } from './exit.js';
import { capLabel, capsTable, entryFields, keyValueTable } from './format.js';

interface Filters {
  model?: string;
  keyId?: string;
  member?: string;
  idempotencyKey?: string;
  reason?: string;
}

const ok = (data: unknown, text: string): Output => ({ exit: EXIT.ok, data, text });

/** The window or action as typed, checked against the names the library takes. */
function oneOf<T extends string>(field: string, raw: string, allowed: readonly T[]): T {
  if ((allowed as readonly string[]).includes(raw)) return raw as T;
  throw new LedgerError('invalid_argument', `${field} must be one of ${allowed.join(', ')} (got ${JSON.stringify(raw)})`, { field });
}

export async function capsSet(
  ledger: Ledger,
  account: string,
  window: string,
  limit: string,
  o: Filters & { action?: string },
): Promise<Output> {
  const r = await ledger.caps.set({
    account,
    window: oneOf<CapWindow>('window', window, CAP_WINDOWS),
    limit: parseCapLimit(limit),
    action: o.action === undefined ? undefined : oneOf<CapAction>('action', o.action, CAP_ACTIONS),
    model: o.model,
    keyId: o.keyId,
    member: o.member,
    idempotencyKey: o.idempotencyKey,
    reason: o.reason,
  });
  const rows: [string, string | number][] = [
    ['outcome', r.outcome === 'replayed' && r.entry === undefined ? 'replayed (already in force)' : r.outcome],
  ];
  if (r.cap !== null) {
    rows.push(['cap', capLabel(r.cap)], ['spent this window', r.cap.spent], ['held', r.cap.held], ['remaining', r.cap.remaining]);
  }
  return ok(r, keyValueTable([...rows, ...(r.entry === undefined ? [] : entryFields(r.entry))]));
}

export async function capsRemove(ledger: Ledger, account: string, window: string, o: Filters): Promise<Output> {
  const r = await ledger.caps.remove({
    account,
    window: oneOf<CapWindow>('window', window, CAP_WINDOWS),
    model: o.model,
    keyId: o.keyId,
    member: o.member,
    idempotencyKey: o.idempotencyKey,
    reason: o.reason,
  });
  const outcome = r.outcome === 'absent' ? 'absent (no such cap; nothing written)' : r.outcome;
  return ok(r, keyValueTable([['outcome', outcome], ...(r.entry === undefined ? [] : entryFields(r.entry))]));
}

export async function capsList(ledger: Ledger, account: string): Promise<Output> {
  const caps = await ledger.caps.list(account);
  return ok(caps, caps.length === 0 ? `no caps on ${account}` : capsTable(caps));
}

export async function capsFloor(
  ledger: Ledger,
  account: string,
  floor: string,
  o: { idempotencyKey?: string; reason?: string },
): Promise<Output> {
  const r = await ledger.caps.floor({ account, floor: parseFloor(floor), idempotencyKey: o.idempotencyKey, reason: o.reason });
  const outcome = r.outcome === 'replayed' && r.entry === undefined ? 'replayed (already in force)' : r.outcome;
  return ok(r, keyValueTable([['outcome', outcome], ['floor', r.floor], ...(r.entry === undefined ? [] : entryFields(r.entry))]));
}

type Run = (cmd: Command, handler: (ledger: Ledger) => Promise<Output>) => Promise<void>;

const FILTER_HELP = `
Windows are calendar UTC: a day from 00:00, an ISO week from Monday 00:00, a month from the 1st.
A cap counts the debits and captures that match all its filters (--member matches the actor),
less their refunds; open holds that match count against it too.`;

/** Registers `caps` and its subcommands on the program. */
export function addCapsCommands(program: Command, run: Run): void {
  const caps = program.command('caps').description('spend caps per day, week or month, and the account floor');
  caps
    .command('set')
    .description('set a cap on what an account may spend per window (or change its limit and action)')
    .argument('<account>', 'account id')
    .argument('<window>', `${CAP_WINDOWS.join(' | ')}`)
    .argument('<limit>', 'most the window may spend, whole number of the smallest unit (0: nothing)')
    .option('--action <action>', `${CAP_ACTIONS.join(' | ')} (default deny: refuse; warn: let through with a warning; notify: record only)`)
    .option('--model <name>', 'count only spend with this model')
    .option('--key-id <id>', 'count only spend through this API key')
    .option('--member <actor>', 'count only spend by this actor')
    .option('--idempotency-key <key>', 'set at most once per key and account; a retry returns the original')
    .option('--reason <text>', 'stored on the entry')
    .addHelpText('after', FILTER_HELP)
    .action((account: string, window: string, limit: string, o: Filters & { action?: string }, cmd: Command) =>
      run(cmd, (l) => capsSet(l, account, window, limit, o)),
    );
  caps
    .command('remove')
    .description('remove the cap with this window and filters (outcome absent if there is none)')
    .argument('<account>', 'account id')
    .argument('<window>', `${CAP_WINDOWS.join(' | ')}`)
    .option('--model <name>', 'the cap counting only this model')
    .option('--key-id <id>', 'the cap counting only this API key')
    .option('--member <actor>', 'the cap counting only this actor')
    .option('--idempotency-key <key>', 'remove at most once per key and account')
    .option('--reason <text>', 'stored on the entry')
    .action((account: string, window: string, o: Filters, cmd: Command) => run(cmd, (l) => capsRemove(l, account, window, o)));
  caps
    .command('list')
    .description("an account's caps now: spent this window, held, remaining, when the window resets")
    .argument('<account>', 'account id')
    .action((account: string, _o, cmd: Command) => run(cmd, (l) => capsList(l, account)));
  caps
    .command('floor')
    .description("set the account's floor: available never goes below it (> 0 a buffer, < 0 an overdraft; default 0)")
    .argument('<account>', 'account id')
    .argument('<floor>', 'signed whole number, e.g. 100 or -500')
    .option('--idempotency-key <key>', 'set at most once per key and account')
    .option('--reason <text>', 'stored on the entry')
    .action((account: string, floor: string, o: { idempotencyKey?: string; reason?: string }, cmd: Command) =>
      run(cmd, (l) => capsFloor(l, account, floor, o)),
    );
}
