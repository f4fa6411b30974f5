#!/usr/bin/env node
/**
 * `drizzle-credits`: the ledger from a shell. Wires commander to the handlers in
 * commands.ts; opening (open.ts), rendering (format.ts) and exit codes (exit.ts) live in
 * their own modules. Only `migrate` changes the schema; every other command needs it.
 */
import { Command, CommanderError, Option } from 'commander';
import { isLedgerError, type Ledger } from '../index.js';
import * as commands from './commands.js';
import { EXIT } from './exit.js';
import { errorJson, errorText, json } from './format.js';
import { type ConnectionOptions, openLedger } from './open.js';
import { packageVersion } from './version.js';

interface GlobalOptions extends ConnectionOptions {
  json?: boolean;
}

const HELP_AFTER = `
Exit codes:
  0   success (an idempotent replay is a success)
  1   not applied: insufficient credits
  2   ledger error: error [code]: message on stderr (with --json: {"error":{code,message}} on stdout)
  3   verify found problems
  64  usage error
  70  unexpected failure (not a ledger error)

Examples:
  $ drizzle-credits --db credits.db migrate
  $ drizzle-credits grant user_42 1000 --idempotency-key order-981 --reason "starter pack"
  $ drizzle-credits debit user_42 25 --idempotency-key req-7f3a --model gpt-4o --key-id key_1
  $ drizzle-credits history user_42 --limit 20 --kinds debit,refund
  $ drizzle-credits --url file:credits.db --json balance user_42`;

/** Opens the ledger, runs one handler, prints its result, sets the exit code, closes. */
async function run(cmd: Command, handler: (ledger: Ledger) => Promise<commands.Output>, { mustExist = true } = {}): Promise<void> {
  const opts = cmd.optsWithGlobals<GlobalOptions>();
  let opened: Awaited<ReturnType<typeof openLedger>> | undefined;
  try {
    opened = await openLedger(opts, { mustExist });
    const out = await handler(opened.ledger);
    process.stdout.write(`${opts.json ? json(out.data) : out.text}\n`);
    process.exitCode = out.exit;
  } catch (e) {
    if (isLedgerError(e)) {
      if (opts.json) process.stdout.write(`${errorJson(e)}\n`);
      else {
        process.stderr.write(`${errorText(e)}\n`);
        if (e.code === 'schema_missing' && !e.message.includes('drizzle-credits migrate'))
          process.stderr.write('hint: run `drizzle-credits migrate` against this database first\n');
      }
      process.exitCode = EXIT.ledgerError;
    } else {
      const message = e instanceof Error ? e.message : String(e);
      if (opts.json) process.stdout.write(`${json({ error: { code: 'internal', message } })}\n`);
      else process.stderr.write(`error: ${message}\n`);
      process.exitCode = EXIT.internal;
    }
  } finally {
    await opened?.close();
  }
}

function buildProgram(): Command {
  const program = new Command('drizzle-credits')
    .description('Prepaid-credit ledger (drizzle-credits) from the shell: grant, debit, refund, audit.')
    .version(packageVersion())
    .addOption(new Option('--db <file>', 'SQLite file, opened with better-sqlite3 (WAL, busy_timeout=5000)').default('./credits.db'))
    .addOption(new Option('--url <url>', 'libSQL URL instead of --db (file:…, libsql://…)').conflicts('db'))
    .addOption(new Option('--auth-token <token>', 'libSQL auth token for --url').env('DRIZZLE_CREDITS_AUTH_TOKEN'))
    .option('--json', 'print machine-readable JSON on stdout')
    .showHelpAfterError('(run with --help for usage)')
    .addHelpText('after', HELP_AFTER)
    .exitOverride();

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
    .action((account: string, amount: string, o: { idempotencyKey?: string; reason?: string }, cmd: Command) =>
      run(cmd, (l) => commands.grant(l, account, amount, o)),
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
    .action(
      (account: string, amount: string, o: { idempotencyKey?: string; reason?: string; model?: string; keyId?: string }, cmd: Command) =>
        run(cmd, (l) => commands.debit(l, account, amount, o)),
    );

  program
    .command('refund')
    .description('return credits of a debit (all that is left of it, or [amount])')
    .argument('<entryId>', 'id of the debit entry')
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
    .option('--kinds <list>', 'only these kinds, comma separated: grant,debit,refund,adjust')
    .action((account: string, o: { limit?: string; cursor?: string; kinds?: string }, cmd: Command) =>
      run(cmd, (l) => commands.history(l, account, o)),
    );

  program
    .command('verify')
    .description('audit: replay the whole log and report inconsistencies (exit 3 if any)')
    .action((_o, cmd: Command) => run(cmd, commands.verify));

  program
    .command('stats')
    .description('totals across the ledger')
    .action((_o, cmd: Command) => run(cmd, commands.stats));

  return program;
}

async function main(argv: readonly string[] = process.argv): Promise<void> {
  try {
    await buildProgram().parseAsync([...argv]);
  } catch (e) {
    if (e instanceof CommanderError) {
      // Help and --version "fail" with exit code 0; everything else commander rejects is usage.
      process.exitCode = e.exitCode === 0 ? EXIT.ok : EXIT.usage;
      return;
    }
    throw e;
  }
}

await main();
