/**
 * `drizzle-credits alerts set | remove | list`: the `ledger.alerts` namespace from the shell.
 * Values are parsed before the ledger is called (a bad value writes nothing). Exit codes are
 * the CLI's: 0 for every outcome (a replay; removing an alert that is not set is `absent`), 2
 * for a ledger error, 64 for usage. (`events` and `webhooks` read and deliver what alerts cause.)
 */
import type { Command } from 'commander';
import type { Alert, Ledger } from '../index.js';
import { LedgerError } from '../index.js';
import { durationText, optional, parseExpiringWithin, parseLowBalance } from './args.js';
import type { Output } from './commands.js';
import { EXIT } from './exit.js';
import { entryFields, gridTable, keyValueTable } from './format.js';

type Run = (cmd: Command, handler: (ledger: Ledger) => Promise<Output>) => Promise<void>;

interface Common {
  idempotencyKey?: string;
  reason?: string;
  actor?: string;
}

const alertRow = (a: Alert) => [
  a.lowBalance ?? '',
  a.expiringWithinMs === null ? '' : durationText(a.expiringWithinMs),
  a.lowBalance === null ? '' : a.below ? 'below' : 'at or above',
  a.setBy,
];
const HEAD = ['low balance', 'expiring within', 'available now', 'set by entry'];

export async function alertsSet(ledger: Ledger, account: string, o: Common & { lowBalance?: string; expiringWithin?: string }) {
  const lowBalance = optional(o.lowBalance, parseLowBalance);
  const expiringWithinMs = optional(o.expiringWithin, parseExpiringWithin);
  if (lowBalance === undefined && expiringWithinMs === undefined) {
    throw new LedgerError('invalid_argument', 'give --low-balance, --expiring-within or both', { field: 'lowBalance' });
  }
  const r = await ledger.alerts.set({
    account,
    lowBalance,
    expiringWithinMs,
    idempotencyKey: o.idempotencyKey,
    reason: o.reason,
    actor: o.actor,
  });
  const entry = r.entry === undefined ? [] : entryFields(r.entry).map(([k, v]) => [k, v ?? ''] as [string, string | number]);
  const text = [`${r.outcome === 'replayed' && r.entry === undefined ? 'replayed (this alert is already set)' : r.outcome}`];
  if (r.alert !== null) text.push(gridTable(HEAD, [alertRow(r.alert)]));
  if (entry.length > 0) text.push(keyValueTable(entry));
  return { exit: EXIT.ok, data: r, text: text.join('\n') } satisfies Output;
}

export async function alertsRemove(ledger: Ledger, account: string, o: Common & { lowBalance?: string }) {
  const r = await ledger.alerts.remove({
    account,
    lowBalance: optional(o.lowBalance, parseLowBalance),
    idempotencyKey: o.idempotencyKey,
    reason: o.reason,
    actor: o.actor,
  });
  const text =
    r.outcome === 'absent'
      ? 'absent (no such alert; nothing written)'
      : `${r.outcome}\n${keyValueTable(entryFields(r.entry).map(([k, v]) => [k, v ?? '']))}`;
  return { exit: EXIT.ok, data: r, text } satisfies Output;
}

export async function alertsList(ledger: Ledger, account: string): Promise<Output> {
  const alerts = await ledger.alerts.list(account);
  return {
    exit: EXIT.ok,
    data: { account, alerts },
    text: alerts.length === 0 ? `no alerts on ${account}` : gridTable(HEAD, alerts.map(alertRow)),
  };
}

const ALERTS_HELP = `
balance.low is written, with the change that causes it, when a write takes available from at
or above a threshold to below it (once per crossing; again after available is back at or above
it). credits.expiring is written by \`sweep\` for each lot lapsing within --expiring-within, once.

Examples:
  $ drizzle-credits alerts set user_42 --low-balance 100
  $ drizzle-credits alerts set user_42 --low-balance 10 --expiring-within 3d
  $ drizzle-credits alerts list user_42
  $ drizzle-credits alerts remove user_42 --low-balance 100`;

export function addAlertsCommands(program: Command, run: Run): void {
  const alerts = program.command('alerts').description('low-balance thresholds and expiring-credit notices that write events');
  const common = (c: Command) =>
    c
      .option('--idempotency-key <key>', 'at most once per key and account; a retry returns the original')
      .option('--reason <text>', 'stored on the entry')
      .option('--actor <name>', 'who changes it (recorded)');
  common(
    alerts
      .command('set')
      .description('set an alert (the same threshold again changes its --expiring-within)')
      .argument('<account>', 'account id')
      .option('--low-balance <amount>', 'write balance.low when available falls below this')
      .option('--expiring-within <duration>', 'write credits.expiring (from sweep) for lots lapsing within this: 1h, 3d …'),
  )
    .addHelpText('after', ALERTS_HELP)
    .action((account: string, o: Common & { lowBalance?: string; expiringWithin?: string }, cmd: Command) =>
      run(cmd, (l) => alertsSet(l, account, o)),
    );
  common(
    alerts
      .command('remove')
      .description('remove the alert with this threshold (without one: the expiring-only alert)')
      .argument('<account>', 'account id')
      .option('--low-balance <amount>', 'the threshold of the alert to remove'),
  ).action((account: string, o: Common & { lowBalance?: string }, cmd: Command) => run(cmd, (l) => alertsRemove(l, account, o)));
  alerts
    .command('list')
    .description("an account's alerts, and whether available is below each threshold now")
    .argument('<account>', 'account id')
    .action((account: string, _o, cmd: Command) => run(cmd, (l) => alertsList(l, account)));
}
