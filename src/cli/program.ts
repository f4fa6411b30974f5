/**
 * `drizzle-credits` as a function: `runCli(argv, io)` parses the arguments with commander,
 * runs one handler of commands.ts, prints to the streams it is given and returns the exit
 * code. It never calls process.exit, never touches process.stdout/stderr or process.env,
 * and never throws; main.ts (the bin) is a thin wrapper around it. Opening (open.ts),
 * rendering (format.ts) and exit codes (exit.ts) live in their own modules. Only `migrate`
 * changes the schema; every other command needs it.
 */
import { Command, CommanderError, Option } from 'commander';
import { isLedgerError, type Ledger } from '../index.js';
import { addAlertsCommands } from './alerts.js';
import { addAnalyticsCommands } from './analytics.js';
import { addCapsCommands } from './caps.js';
import * as commands from './commands.js';
import { EXIT, type ExitCode } from './exit.js';
import { errorJson, errorText, json } from './format.js';
import { type ConnectionOptions, openLedger } from './open.js';
import { addPlansCommands } from './plans.js';
import { addPricingCommands } from './pricing.js';
import { sweepProgressBar } from './progress.js';
import { addServeCommand } from './serve.js';
import { addTeamsCommands } from './teams.js';
import { packageVersion } from './version.js';
import { addWebhooksCommands } from './webhooks.js';

/** Where the CLI prints: process.stdout/stderr in the bin, anything writable in tests. */
export interface CliStream extends NodeJS.WritableStream {
  /** A terminal: help is wrapped to its width; stderr gets the sweep progress bar. */
  isTTY?: boolean;
  columns?: number;
}

export interface CliIo {
  stdout: CliStream;
  stderr: CliStream;
  /** Environment variables the CLI reads (DRIZZLE_CREDITS_AUTH_TOKEN); none when omitted. */
  env?: Readonly<Record<string, string | undefined>>;
}

/** The auth token's environment variable, read when --auth-token is not given. */
export const AUTH_TOKEN_ENV = 'DRIZZLE_CREDITS_AUTH_TOKEN';

interface GlobalOptions extends ConnectionOptions {
  json?: boolean;
}

const HELP_AFTER = `
Exit codes:
  0   success (an idempotent replay is a success)
  1   not applied: insufficient credits, or capped (a deny spend cap refused it)
  2   ledger error, including a malformed or out-of-range number, duration or time;
      nothing was written: error [code]: message on stderr
  3   verify or rebuild found problems in the log
  64  usage error: unknown command or option, missing argument or option
  70  unexpected failure (not a ledger error)
With --json every error is one JSON document on stdout instead: {"error":{"code","message",…}},
code "usage" for exit 64 and "internal" for exit 70.

Numbers: plain decimal digits (amounts 1 to 9007199254740991); no +, fraction, exponent or hex.
Durations (--ttl, --within): milliseconds, or a number with ms, s, m, h or d: 500ms 30s 15m 2h 7d.
Times (--expires-at, --anchor): milliseconds since the epoch, or ISO 8601: 2030-01-31 (UTC midnight),
  2030-01-31T12:00:00Z, 2030-01-31T12:00+02:00 (a date-time needs Z or an offset);
  at most 8640000000000000 (+275760-09-13), the last time a JavaScript date can show.

Examples:
  $ drizzle-credits --db credits.db migrate
  $ drizzle-credits grant user_42 1000 --idempotency-key order-981 --reason "starter pack"
  $ drizzle-credits grant user_42 500 --expires-at 2030-01-31T00:00:00Z --priority 10 --reason "trial credits"
  $ drizzle-credits debit user_42 25 --idempotency-key req-7f3a --model gpt-4o --key-id key_1
  $ drizzle-credits hold user_42 200 --ttl 15m --idempotency-key job-42
  $ drizzle-credits capture ce_4 140 --idempotency-key job-42-done
  $ drizzle-credits caps set user_42 day 5000 --model gpt-4o
  $ drizzle-credits caps floor user_42 -500
  $ drizzle-credits plans define pro --allowance 1000 --every month --rollover-max 300 --feature sso=true
  $ drizzle-credits plans subscribe user_42 pro --anchor 2030-01-31
  $ drizzle-credits pricing publish --rates '{"gpt-4o":{"input":"0.0025","output":"0.01"}}' --label launch
  $ drizzle-credits charge user_42 gpt-4o input=1200 output=350 --idempotency-key req-7f3b
  $ drizzle-credits teams create team_acme --owner user_42 --name Acme
  $ drizzle-credits teams add team_acme user_7 --role member --actor user_42
  $ drizzle-credits debit team_acme 25 --actor user_7 --idempotency-key req-7f3c
  $ drizzle-credits transfer team_acme user_7 100 --actor user_42 --idempotency-key move-1
  $ drizzle-credits lots user_42
  $ drizzle-credits sweep --dry-run
  $ drizzle-credits history user_42 --limit 20 --kinds debit,refund
  $ drizzle-credits spend --from 2030-01-01 --to 2030-02-01 --group-by model,day
  $ drizzle-credits top account --from 2030-01-01 --limit 5
  $ drizzle-credits entries --after 0 --limit 500 --json
  $ drizzle-credits webhooks add https://example.com/hooks --types balance.low,cap.reached
  $ drizzle-credits webhooks deliver --watch
  $ drizzle-credits events --after 0 --type balance.low
  $ drizzle-credits --url file:credits.db --json balance user_42`;

/** One invocation: where it prints, what it reads, and the exit code its handler decided. */
interface Invocation {
  io: CliIo;
  env: Readonly<Record<string, string | undefined>>;
  exit: ExitCode;
}

/** Opens the ledger, runs one handler, prints its result, records the exit code, closes. */
async function runHandler(
  inv: Invocation,
  cmd: Command,
  handler: (ledger: Ledger) => Promise<commands.Output>,
  { mustExist = true } = {},
): Promise<void> {
  const { stdout, stderr } = inv.io;
  const opts = cmd.optsWithGlobals<GlobalOptions>();
  let opened: Awaited<ReturnType<typeof openLedger>> | undefined;
  try {
    opened = await openLedger({ ...opts, authToken: opts.authToken ?? inv.env[AUTH_TOKEN_ENV] }, { mustExist });
    const out = await handler(opened.ledger);
    stdout.write(`${opts.json ? json(out.data) : out.text}\n`);
    inv.exit = out.exit;
  } catch (e) {
    if (isLedgerError(e)) {
      if (opts.json) stdout.write(`${errorJson(e)}\n`);
      else {
        stderr.write(`${errorText(e)}\n`);
        if (e.code === 'schema_missing' && !e.message.includes('drizzle-credits migrate'))
          stderr.write('hint: run `drizzle-credits migrate` against this database first\n');
      }
      inv.exit = e.code === 'internal' ? EXIT.internal : EXIT.ledgerError;
    } else {
      internalError(inv.io, opts.json === true, e);
      inv.exit = EXIT.internal;
    }
  } finally {
    try {
      await opened?.close();
    } catch (e) {
      // Whatever was written is committed and its result printed: a failed close must not
      // turn that into a failure a script would retry. It is only reported.
      stderr.write(`warning: closing the database failed: ${e instanceof Error ? e.message : String(e)}\n`);
    }
  }
}

function internalError(io: CliIo, asJson: boolean, e: unknown): void {
  const message = e instanceof Error ? e.message : String(e);
  if (asJson) io.stdout.write(`${json({ error: { code: 'internal', message } })}\n`);
  else io.stderr.write(`error: ${message}\n`);
}

/** The commander program for one invocation; `writeErr` receives commander's own messages. */
function buildProgram(inv: Invocation, writeErr: (text: string) => void): Command {
  const { stdout, stderr } = inv.io;
  const run = (cmd: Command, handler: (ledger: Ledger) => Promise<commands.Output>, o?: { mustExist?: boolean }) =>
    runHandler(inv, cmd, handler, o);
  const program = new Command('drizzle-credits')
    // Before any subcommand is added: subcommands copy these settings when created.
    .configureOutput({
      writeOut: (text) => stdout.write(text),
      writeErr,
      getOutHelpWidth: () => (stdout.isTTY && stdout.columns !== undefined ? stdout.columns : 80),
      getErrHelpWidth: () => (stderr.isTTY && stderr.columns !== undefined ? stderr.columns : 80),
      getOutHasColors: () => false,
      getErrHasColors: () => false,
    })
    .exitOverride()
    .description('Prepaid-credit ledger (drizzle-credits) from the shell: grant, debit, hold, refund, expire, audit.')
    .version(packageVersion())
    .addOption(new Option('--db <file>', 'SQLite file, opened with better-sqlite3 (WAL, busy_timeout=5000)').default('./credits.db'))
    .addOption(new Option('--url <url>', 'libSQL URL instead of --db (file:…, libsql://…)').conflicts('db'))
    .addOption(new Option('--auth-token <token>', `libSQL auth token for --url (default: $${AUTH_TOKEN_ENV})`))
    .addOption(new Option('--id-prefix <prefix>', "the entry id prefix your app's ledger uses (createLedger's idPrefix; default ce_)"))
    .option('--json', 'print machine-readable JSON on stdout, errors included')
    .showHelpAfterError('(run with --help for usage)')
    .addHelpText('after', HELP_AFTER);

  program
    .command('migrate')
    .description("apply the ledger's migrations (idempotent; creates the file if needed)")
    .action((_o, cmd: Command) => run(cmd, commands.migrate, { mustExist: false }));

  program
    .command('grant')
    .description('add credits to an account')
    .argument('<account>', 'account id, e.g. user_42')
    .argument('<amount>', 'whole number of the smallest unit')
    .option('--idempotency-key <key>', 'grant at most once per key and account; a retry returns the original')
    .option('--reason <text>', 'stored on the entry')
    .option('--expires-at <time>', 'opens a lot that stops counting at this time: epoch ms or ISO 8601 (2030-01-31T00:00:00Z)')
    .option('--priority <0-100>', 'opens a lot drawn in this order: lower first (default 50)')
    .addHelpText(
      'after',
      `
A grant with --expires-at or a --priority other than 50 opens a lot. Debits draw lots by
priority, then soonest expiry (never-expiring last), then oldest; the unlotted balance last.`,
    )
    .action(
      (
        account: string,
        amount: string,
        o: { idempotencyKey?: string; reason?: string; expiresAt?: string; priority?: string },
        cmd: Command,
      ) => run(cmd, (l) => commands.grant(l, account, amount, o)),
    );

  program
    .command('debit')
    .description('spend credits if the available balance covers the amount (exit 1 if not)')
    .argument('<account>', 'account id')
    .argument('<amount>', 'whole number of the smallest unit')
    .option('--idempotency-key <key>', 'debit at most once per key and account (debitOnceIfCovers)')
    .option('--reason <text>', 'stored on the entry')
    .option('--model <name>', 'model the usage is attributed to')
    .option('--key-id <id>', 'API key the usage is attributed to')
    .option('--actor <name>', 'who spent; on a team account, a member that may spend (else forbidden, exit 2)')
    .action(
      (
        account: string,
        amount: string,
        o: { idempotencyKey?: string; reason?: string; model?: string; keyId?: string; actor?: string },
        cmd: Command,
      ) => run(cmd, (l) => commands.debit(l, account, amount, o)),
    );

  program
    .command('refund')
    .description('return credits of a debit or capture (all that is left of it, or [amount])')
    .argument('<entryId>', 'id of the debit or capture entry, e.g. ce_2')
    .argument('[amount]', 'partial refund, whole number of the smallest unit')
    .option('--idempotency-key <key>', 'refund at most once per key')
    .option('--reason <text>', 'stored on the entry')
    .action((entryId: string, amount: string | undefined, o: { idempotencyKey?: string; reason?: string }, cmd: Command) =>
      run(cmd, (l) => commands.refund(l, entryId, amount, o)),
    );

  program
    .command('adjust')
    .description('operator correction: a signed delta with a mandatory reason')
    .argument('<account>', 'account id')
    .argument('<delta>', 'signed whole number, e.g. 50 or -20')
    .requiredOption('--reason <text>', 'why (required)')
    .option('--idempotency-key <key>', 'adjust at most once per key')
    .action((account: string, delta: string, o: { reason: string; idempotencyKey?: string }, cmd: Command) =>
      run(cmd, (l) => commands.adjust(l, account, delta, o)),
    );

  program
    .command('hold')
    .description('reserve credits: lowers available, not balance, until captured, released or expired (exit 1 if not covered)')
    .argument('<account>', 'account id')
    .argument('<amount>', 'whole number of the smallest unit')
    .option('--ttl <duration>', 'how long the hold lives: ms or 30s, 15m, 2h (default 15m, at most 30d)')
    .option('--idempotency-key <key>', 'hold at most once per key and account; a retry returns the original hold')
    .option('--reason <text>', 'stored on the entry')
    .option('--model <name>', 'model the usage is attributed to (kept by the capture)')
    .option('--key-id <id>', 'API key the usage is attributed to (kept by the capture)')
    .option('--actor <name>', 'who reserves; on a team account, a member that may spend (else forbidden, exit 2)')
    .action(
      (
        account: string,
        amount: string,
        o: { ttl?: string; idempotencyKey?: string; reason?: string; model?: string; keyId?: string; actor?: string },
        cmd: Command,
      ) => run(cmd, (l) => commands.hold(l, account, amount, o)),
    );

  program
    .command('capture')
    .description('spend a hold: all of it, or [amount] (the rest is released); more than held must be covered (exit 1 if not)')
    .argument('<holdId>', 'id printed by `hold`, e.g. ce_4')
    .argument('[amount]', 'whole number of the smallest unit (default: the held amount)')
    .option('--idempotency-key <key>', 'capture at most once per key; a retry returns the original capture')
    .option('--reason <text>', 'stored on the entry')
    .option('--actor <name>', "who spends (default: the hold's actor); on a team account, a member that may spend")
    .action((holdId: string, amount: string | undefined, o: { idempotencyKey?: string; reason?: string; actor?: string }, cmd: Command) =>
      run(cmd, (l) => commands.capture(l, holdId, amount, o)),
    );

  program
    .command('release')
    .description('give a hold back unspent (idempotent: releasing a released hold replays)')
    .argument('<holdId>', 'id printed by `hold`, e.g. ce_4')
    .option('--reason <text>', 'stored on the entry')
    .action((holdId: string, o: { reason?: string }, cmd: Command) => run(cmd, (l) => commands.release(l, holdId, o)));

  program
    .command('extend')
    .description("move an open hold's expiry to --ttl from now")
    .argument('<holdId>', 'id printed by `hold`, e.g. ce_4')
    .requiredOption('--ttl <duration>', 'new lifetime from now: ms or 30s, 15m, 2h (at most 30d)')
    .option('--reason <text>', 'stored on the entry')
    .action((holdId: string, o: { ttl: string; reason?: string }, cmd: Command) => run(cmd, (l) => commands.extend(l, holdId, o)));

  program
    .command('holds')
    .description("an account's open holds, soonest expiry first")
    .argument('<account>', 'account id')
    .action((account: string, _o, cmd: Command) => run(cmd, (l) => commands.holds(l, account)));

  program
    .command('lots')
    .description("an account's open lots in drawdown order (priority, soonest expiry, oldest)")
    .argument('<account>', 'account id')
    .action((account: string, _o, cmd: Command) => run(cmd, (l) => commands.lots(l, account)));

  program
    .command('expiring')
    .description("an account's lots with credits left that lapse within --within from now")
    .argument('<account>', 'account id')
    .requiredOption('--within <duration>', 'window from now: ms or 12h, 7d (at most 10 years)')
    .action((account: string, o: { within: string }, cmd: Command) => run(cmd, (l) => commands.expiring(l, account, o)));

  program
    .command('allocations')
    .description('which lots an entry drew from (a refund: gave back to)')
    .argument('<entryId>', 'id of a debit, capture, refund or expire entry')
    .action((entryId: string, _o, cmd: Command) => run(cmd, (l) => commands.allocations(l, entryId)));

  program
    .command('sweep')
    .description('write the expire rows for lapsed lots and holds (balances are already exact without it)')
    .option('--dry-run', 'count what would be expired; write nothing')
    .option('--batch-size <n>', 'lots or holds closed per transaction (default 200, at most 5000)')
    .addHelpText('after', '\nOn a terminal (and without --json) a progress bar is drawn on stderr while the sweep runs.')
    .action((o: { dryRun?: boolean; batchSize?: string }, cmd: Command) => {
      const bar = !cmd.optsWithGlobals<GlobalOptions>().json && stderr.isTTY === true ? sweepProgressBar(stderr) : undefined;
      return run(cmd, (l) => commands.sweep(l, o, bar));
    });

  program
    .command('rebuild')
    .description('drop and re-derive the lots and holds from the log (exit 3 if the log has problems)')
    .action((_o, cmd: Command) => run(cmd, commands.rebuild));

  program
    .command('balance')
    .description('posted balance, held and available credits of an account')
    .argument('<account>', 'account id')
    .action((account: string, _o, cmd: Command) => run(cmd, (l) => commands.balance(l, account)));

  program
    .command('history')
    .description("an account's entries, newest first, one page at a time")
    .argument('<account>', 'account id')
    .option('--limit <n>', 'entries per page (default 50, at most 1000)')
    .option('--cursor <cursor>', 'continue from a previous page (its next cursor)')
    .option('--kinds <list>', 'only these kinds, comma separated: grant,debit,refund,adjust,hold,capture,release,extend,expire')
    .action((account: string, o: { limit?: string; cursor?: string; kinds?: string }, cmd: Command) =>
      run(cmd, (l) => commands.history(l, account, o)),
    );

  program
    .command('verify')
    .description('audit: replay the whole log, compare the projections, report inconsistencies (exit 3 if any)')
    .option('--digest <digest>', 'also prove the rows a digest covers unchanged (from `drizzle-credits digest`)')
    .action((o: { digest?: string }, cmd: Command) => run(cmd, (l) => commands.verify(l, o)));

  program
    .command('digest')
    .description('a digest of the log as it stands (SHA-256 chain); store it elsewhere, check it later with verify --digest')
    .action((_o, cmd: Command) => run(cmd, commands.digest));

  program
    .command('stats')
    .description('totals across the ledger')
    .action((_o, cmd: Command) => run(cmd, commands.stats));

  addAnalyticsCommands(program, run);
  addCapsCommands(program, run);
  addPlansCommands(program, run);
  addPricingCommands(program, run);
  addTeamsCommands(program, run);
  addAlertsCommands(program, run);
  addWebhooksCommands(program, run, stdout);
  addServeCommand(
    program,
    inv.io,
    (code) => {
      inv.exit = code;
    },
    (cmd) => {
      const o = cmd.optsWithGlobals<GlobalOptions>();
      return { ...o, authToken: o.authToken ?? inv.env[AUTH_TOKEN_ENV] };
    },
  );

  return program;
}

/**
 * Runs `drizzle-credits` with `argv` (the arguments after the program name) and returns
 * the exit code (exit.ts). Results go to `io.stdout`; errors to `io.stderr`, or with
 * --json as one JSON document on `io.stdout`: `{"error":{"code","message",…}}`, where a
 * usage error (unknown command or option, missing argument, conflicting options) has the
 * code `usage` and exits 64.
 */
export async function runCli(argv: readonly string[], io: CliIo): Promise<ExitCode> {
  const inv: Invocation = { io, env: io.env ?? {}, exit: EXIT.ok };
  // Commander's messages wait until it is known whether --json is on: then they are replaced.
  let commanderErr = '';
  const program = buildProgram(inv, (text) => {
    commanderErr += text;
  });
  // Commander parses the global options before it runs or rejects a subcommand.
  const asJson = (): boolean => program.opts<GlobalOptions>().json === true;
  const flush = (): void => {
    if (commanderErr !== '') io.stderr.write(commanderErr);
  };
  try {
    await program.parseAsync([...argv], { from: 'user' });
    flush();
    return inv.exit;
  } catch (e) {
    if (e instanceof CommanderError) {
      // Help and --version "fail" with exit code 0. Help asked for (`help grant`) goes to
      // stdout; its exit code is read from process.exitCode, so it is recognised by that.
      if (e.exitCode === 0 || (e.code === 'commander.help' && commanderErr === '')) {
        flush();
        return EXIT.ok;
      }
      // Everything else commander rejects is usage.
      if (asJson()) {
        // commander.help on stderr: no command was given (with --json that help is dropped).
        const message = e.code === 'commander.help' ? 'no command given' : e.message.replace(/^error: /, '');
        io.stdout.write(`${json({ error: { code: 'usage', message } })}\n`);
      } else flush();
      return EXIT.usage;
    }
    internalError(io, asJson(), e);
    return EXIT.internal;
  }
}
