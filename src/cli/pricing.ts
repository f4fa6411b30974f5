/**
 * `drizzle-credits pricing publish | activate | list | show | quote` and `charge`: the
 * `ledger.pricing` namespace and `ledger.charge` from the shell. Handlers parse what was typed
 * before calling the ledger (a bad value writes nothing), like commands.ts; program.ts
 * registers them with `addPricingCommands`. Exit codes are the CLI's: 0 for every outcome
 * of the pricing commands and for a charge that applied, replayed or was free; 1 for a
 * charge refused as insufficient or capped; 2 for a ledger error; 64 for usage.
 */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import {
  type ChargeResult,
  type Ledger,
  LedgerError,
  PRICE_ROUNDINGS,
  type PriceRounding,
  type PricingVersion,
  type Quote,
} from '../index.js';
import { optional, parseUsage, parseVersion } from './args.js';
import type { Output } from './commands.js';
import { EXIT } from './exit.js';
import { capLabel, entryFields, gridTable, isoTime, keyValueTable } from './format.js';

const ok = (data: unknown, text: string): Output => ({ exit: EXIT.ok, data, text });

/** The rate card: `--rates '<json>'` or a JSON file, exactly one of them. */
function readRates(file: string | undefined, inline: string | undefined): unknown {
  if ((file === undefined) === (inline === undefined)) {
    throw new LedgerError('invalid_argument', 'pricing publish: give the rates as a JSON file or with --rates (one of them)', {
      field: 'rates',
    });
  }
  let text = inline;
  if (file !== undefined) {
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      throw new LedgerError('invalid_argument', `pricing publish: cannot read ${file}: ${(e as Error).message}`, { field: 'rates' });
    }
  }
  try {
    return JSON.parse(text as string);
  } catch (e) {
    throw new LedgerError('invalid_argument', `pricing publish: the rates are not JSON: ${(e as Error).message}`, { field: 'rates' });
  }
}

function rounding(raw: string | undefined): PriceRounding | undefined {
  if (raw === undefined || (PRICE_ROUNDINGS as readonly string[]).includes(raw)) return raw as PriceRounding | undefined;
  throw new LedgerError('invalid_argument', `rounding must be one of ${PRICE_ROUNDINGS.join(', ')} (got ${JSON.stringify(raw)})`, {
    field: 'rounding',
  });
}

const versionRows = (v: PricingVersion): [string, string | number][] => [
  ['version', v.version],
  ['label', v.label ?? ''],
  ['rounding', v.rounding],
  ['active', v.active ? 'yes' : 'no'],
  ['published', isoTime(v.createdAt)],
];

/** One line per model and meter: the card as a table. */
const ratesTable = (v: PricingVersion): string =>
  gridTable(
    ['model', 'meter', 'price (credits per unit)'],
    Object.entries(v.rates).flatMap(([model, meters]) => Object.entries(meters).map(([meter, price]) => [model, meter, price])),
    ['left', 'left', 'right'],
  );

const quoteRows = (q: Quote): [string, string | number][] => [
  ['credits', q.credits],
  ['exact cost', q.exact],
  ['pricing version', q.version],
  ['rounding', q.rounding],
  ...q.lines.map((l): [string, string] => [`  ${l.meter}`, `${l.quantity} × ${l.price} = ${l.cost}`]),
];

export async function pricingPublish(
  ledger: Ledger,
  file: string | undefined,
  o: { rates?: string; label?: string; rounding?: string; inactive?: boolean; idempotencyKey?: string; reason?: string },
): Promise<Output> {
  const r = await ledger.pricing.publish({
    rates: readRates(file, o.rates) as never,
    label: o.label,
    rounding: rounding(o.rounding),
    activate: o.inactive === true ? false : undefined,
    idempotencyKey: o.idempotencyKey,
    reason: o.reason,
  });
  return ok(r, `${keyValueTable([['outcome', r.outcome], ...versionRows(r.pricing), ...entryFields(r.entry)])}\n${ratesTable(r.pricing)}`);
}

export async function pricingActivate(ledger: Ledger, version: string, o: { idempotencyKey?: string; reason?: string }): Promise<Output> {
  const r = await ledger.pricing.activate({ version: parseVersion(version), idempotencyKey: o.idempotencyKey, reason: o.reason });
  const outcome = r.outcome === 'unchanged' ? 'unchanged (already active)' : r.outcome;
  return ok(
    r,
    keyValueTable([['outcome', outcome], ['active version', r.version], ...(r.entry === undefined ? [] : entryFields(r.entry))]),
  );
}

export async function pricingList(ledger: Ledger): Promise<Output> {
  const versions = await ledger.pricing.history();
  if (versions.length === 0) return ok(versions, 'no pricing versions (publish one with `drizzle-credits pricing publish`)');
  return ok(
    versions,
    gridTable(
      ['version', 'active', 'label', 'rounding', 'models', 'published'],
      versions.map((v) => [v.version, v.active ? '*' : '', v.label ?? '', v.rounding, Object.keys(v.rates).length, isoTime(v.createdAt)]),
      ['right', 'left', 'left', 'left', 'right', 'left'],
    ),
  );
}

export async function pricingShow(ledger: Ledger, version: string | undefined): Promise<Output> {
  const v = version === undefined ? await ledger.pricing.active() : await ledger.pricing.get(parseVersion(version));
  if (v === null) {
    const what = version === undefined ? 'no pricing version is active' : `no pricing version ${version}`;
    throw new LedgerError('not_found', what, { version: version ?? null });
  }
  return ok(v, `${keyValueTable(versionRows(v))}\n${ratesTable(v)}`);
}

export async function pricingQuote(ledger: Ledger, model: string, usage: string[], o: { priceVersion?: string }): Promise<Output> {
  const q = await ledger.pricing.quote({ model, usage: parseUsage(usage), version: optional(o.priceVersion, parseVersion) });
  return ok(q, keyValueTable([['model', model], ...quoteRows(q)]));
}

export async function charge(
  ledger: Ledger,
  account: string,
  model: string,
  usage: string[],
  o: { idempotencyKey: string; hold?: string; keyId?: string; actor?: string; reason?: string; priceVersion?: string },
): Promise<Output> {
  const r: ChargeResult = await ledger.charge({
    account,
    model,
    usage: parseUsage(usage),
    idempotencyKey: o.idempotencyKey,
    holdId: o.hold,
    keyId: o.keyId,
    actor: o.actor,
    reason: o.reason,
    version: optional(o.priceVersion, parseVersion),
  });
  const priced = quoteRows(r.quote);
  if (r.outcome === 'free') return ok(r, keyValueTable([['outcome', 'free (costs 0 credits; nothing written)'], ...priced]));
  if (r.outcome === 'insufficient' || r.outcome === 'capped') {
    const why: [string, string | number][] =
      r.outcome === 'capped'
        ? [
            ['cap', capLabel(r.cap)],
            ['spent this window', r.spent],
            ['limit', r.limit],
          ]
        : [];
    return {
      exit: EXIT.notApplied,
      data: r,
      text: keyValueTable([
        ['outcome', `${r.outcome} (nothing charged)`],
        ['account', account],
        ...why,
        ['requested', r.requested],
        ['available', r.available],
        ...priced,
      ]),
    };
  }
  const settled: [string, string | number][] =
    r.hold === undefined
      ? []
      : [
          ['hold', r.hold.id],
          ['released', r.released ?? 0],
        ];
  return ok(r, keyValueTable([['outcome', r.outcome], ['balance now', r.balance], ...settled, ...priced, ...entryFields(r.entry)]));
}

type Run = (cmd: Command, handler: (ledger: Ledger) => Promise<Output>) => Promise<void>;

const PRICE_HELP = `
A rate card is JSON: { "<model>": { "<meter>": "<price>" } }, prices as decimal strings of
credits per unit (at most 12 decimals, no sign or exponent), e.g.
  {"gpt-4o": {"input": "0.0025", "output": "0.01"}}
Versions are numbered 1, 2, 3 … and never change once published.`;

/** Registers `pricing` (and its subcommands) and `charge` on the program. */
export function addPricingCommands(program: Command, run: Run): void {
  const pricing = program.command('pricing').description('versioned rate cards: publish, activate, list, show, quote');
  pricing
    .command('publish')
    .description('publish the next pricing version (active at once unless --inactive)')
    .argument('[file]', 'JSON file with the rate card (or give --rates)')
    .option('--rates <json>', 'the rate card as JSON')
    .option('--label <text>', 'a name for the version')
    .option('--rounding <rule>', `${PRICE_ROUNDINGS.join(' | ')}: how a charge's exact cost becomes whole credits (default up)`)
    .option('--inactive', 'publish without activating it')
    .option('--idempotency-key <key>', 'publish at most once per key; a retry returns the original version')
    .option('--reason <text>', 'stored on the entry')
    .addHelpText('after', PRICE_HELP)
    .action((file: string | undefined, o: Parameters<typeof pricingPublish>[2], cmd: Command) =>
      run(cmd, (l) => pricingPublish(l, file, o)),
    );
  pricing
    .command('activate')
    .description('make a published version the active one')
    .argument('<version>', 'version number')
    .option('--idempotency-key <key>', 'activate at most once per key')
    .option('--reason <text>', 'stored on the entry')
    .action((version: string, o: { idempotencyKey?: string; reason?: string }, cmd: Command) =>
      run(cmd, (l) => pricingActivate(l, version, o)),
    );
  pricing
    .command('list')
    .description('every pricing version, oldest first (* = active)')
    .action((_o, cmd: Command) => run(cmd, (l) => pricingList(l)));
  pricing
    .command('show')
    .description("a version's rate card (default: the active one)")
    .argument('[version]', 'version number')
    .action((version: string | undefined, _o, cmd: Command) => run(cmd, (l) => pricingShow(l, version)));
  pricing
    .command('quote')
    .description('price usage of a model (writes nothing)')
    .argument('<model>', 'model name on the rate card')
    .argument('<usage...>', 'meter=quantity pairs, e.g. input=1200 output=350 (whole numbers)')
    .option('--price-version <n>', 'price with this pricing version instead of the active one')
    .action((model: string, usage: string[], o: { priceVersion?: string }, cmd: Command) =>
      run(cmd, (l) => pricingQuote(l, model, usage, o)),
    );

  program
    .command('charge')
    .description('price usage with the active version and debit it in one step (exit 1 if not covered or capped)')
    .argument('<account>', 'account id')
    .argument('<model>', 'model name on the rate card')
    .argument('<usage...>', 'meter=quantity pairs, e.g. input=1200 output=350 (whole numbers)')
    .requiredOption('--idempotency-key <key>', 'charge at most once per key and account')
    .option('--hold <holdId>', 'settle this hold at the priced amount (a capture) instead of debiting')
    .option('--key-id <id>', 'API key the usage is attributed to')
    .option('--actor <name>', 'who spent')
    .option('--reason <text>', 'stored on the entry')
    .option('--price-version <n>', 'price with this pricing version instead of the active one')
    .action((account: string, model: string, usage: string[], o: Parameters<typeof charge>[4], cmd: Command) =>
      run(cmd, (l) => charge(l, account, model, usage, o)),
    );
}
