/**
 * `drizzle-credits webhooks add | list | remove | enable | deliver [--watch] | redeliver |
 * attempts | prune` and `drizzle-credits events`: `ledger.webhooks` and `ledger.events` from the
 * shell. Handlers parse what was typed before calling the ledger (a bad value writes
 * nothing), like commands.ts; program.ts registers them with `addWebhooksCommands`.
 * Exit codes are the CLI's: 0 on success, 2 for a ledger error (bad input, `not_found`)
 * with nothing written, 64 for usage. `deliver` exits 0 whatever the receivers answered:
 * failed attempts are retried on the schedule and listed by `attempts`.
 */
import type { Command } from 'commander';
import {
  type DeliverReport,
  EVENT_TYPES,
  EVENTS_MAX_LIMIT,
  type EventType,
  type Ledger,
  LedgerError,
  MAX_AMOUNT,
  WEBHOOK_DELIVER_MAX_LIMIT,
  WEBHOOK_PRUNE_MAX_LIMIT,
  WEBHOOK_TIMEOUT_MAX_MS,
  type Webhook,
} from '../index.js';
import { durationText, optional, parseBefore, parseDuration } from './args.js';
import type { Output } from './commands.js';
import { EXIT } from './exit.js';
import { gridTable, isoTime, keyValueTable } from './format.js';

const ok = (data: unknown, text: string): Output => ({ exit: EXIT.ok, data, text });
const invalid = (field: string, message: string) => new LedgerError('invalid_argument', message, { field });

/** Plain decimal digits from `min` to `max` (the rule of args.ts). */
function whole(field: string, raw: string, min: number, max: number): number {
  if (!/^(0|[1-9][0-9]*)$/.test(raw) || Number(raw) < min || Number(raw) > max)
    throw invalid(field, `${field} must be a whole number from ${min} to ${max}, in plain decimal digits (got ${JSON.stringify(raw)})`);
  return Number(raw);
}

function duration(field: string, raw: string, max: number): number {
  const ms = parseDuration(raw);
  if (Number.isNaN(ms) || ms < 1 || ms > max)
    throw invalid(field, `${field} must be a duration from 1ms to ${durationText(max)}: 500ms, 30s, 2m (got ${JSON.stringify(raw)})`);
  return ms;
}

/** `--types a,b` or repeated `--type a --type b`: event types, checked here so the message names the option. */
function eventTypes(raw: readonly string[] | undefined, field: string): EventType[] | undefined {
  if (raw === undefined) return undefined;
  const types = raw.flatMap((r) => r.split(',')).map((t) => t.trim());
  for (const t of types) {
    if (!(EVENT_TYPES as readonly string[]).includes(t))
      throw invalid(field, `${field}: each type must be one of ${EVENT_TYPES.join(', ')} (got ${JSON.stringify(t)})`);
  }
  return types as EventType[];
}

const webhookRows = (w: Webhook): [string, string | number][] => [
  ['id', w.id],
  ['url', w.url],
  ['types', w.types === null ? 'all' : w.types.join(', ')],
  ['status', w.status],
  ...(w.disabledReason === null ? [] : [['disabled', w.disabledReason] as [string, string]]),
  ['receives events after', w.cursor],
  ['added', isoTime(w.createdAt)],
];

export async function webhooksAdd(ledger: Ledger, url: string, o: { types?: string[]; secret?: string }): Promise<Output> {
  const r = await ledger.webhooks.add({ url, types: eventTypes(o.types, 'types'), secret: o.secret });
  return ok(
    r,
    `${keyValueTable([...webhookRows(r.webhook), ['secret', r.secret]])}\n` +
      'Give the secret to the receiver to verify webhook-signature; `webhooks list` does not show it again.',
  );
}

export async function webhooksList(ledger: Ledger): Promise<Output> {
  const list = await ledger.webhooks.list();
  if (list.length === 0) return ok(list, 'no webhook endpoints (add one with `webhooks add <url>`)');
  return ok(
    list,
    gridTable(
      ['id', 'url', 'types', 'status', 'after event', 'added'],
      list.map((w) => [w.id, w.url, w.types === null ? 'all' : w.types.join(','), w.status, w.cursor, isoTime(w.createdAt)]),
    ),
  );
}

export async function webhooksRemove(ledger: Ledger, id: string): Promise<Output> {
  const r = await ledger.webhooks.remove(id);
  return ok(r, `removed ${r.removed} (with its pending deliveries and its attempt history)`);
}

export async function webhooksEnable(ledger: Ledger, id: string): Promise<Output> {
  const w = await ledger.webhooks.enable(id);
  return ok(w, `${keyValueTable(webhookRows(w))}\nIts paused deliveries are due now; it receives the events it missed.`);
}

const reportLine = (r: DeliverReport) =>
  `queued ${r.queued}, sent ${r.sent}: delivered ${r.delivered}, retried ${r.retried}, failed ${r.failed}` +
  `${r.lost > 0 ? `, lost ${r.lost}` : ''}${r.disabled > 0 ? `, ${r.disabled} endpoint(s) disabled (410 Gone)` : ''}`;

interface DeliverFlags {
  limit?: string;
  timeout?: string;
  watch?: boolean;
  interval?: string;
}

/**
 * One `deliver()` call, or with --watch a loop that never returns by itself (stop it with
 * Ctrl-C / SIGTERM): each call with activity prints a line (with --json a JSON document per
 * line), and it sleeps `--interval` when nothing more was due.
 */
export async function webhooksDeliver(
  ledger: Ledger,
  o: DeliverFlags,
  stream?: { write(s: string): unknown; asJson: boolean /** Ends --watch (tests; the bin runs until killed). */; stop?: AbortSignal },
): Promise<Output> {
  const options = {
    limit: optional(o.limit, (raw) => whole('limit', raw, 1, WEBHOOK_DELIVER_MAX_LIMIT)),
    timeoutMs: optional(o.timeout, (raw) => duration('timeoutMs', raw, WEBHOOK_TIMEOUT_MAX_MS)),
  };
  const interval = optional(o.interval, (raw) => duration('interval', raw, 3_600_000)) ?? 1_000;
  if (!o.watch || stream === undefined) {
    const r = await ledger.webhooks.deliver(options);
    return ok(r, `${reportLine(r)}${r.more ? '\nmore is due: run it again (or use --watch)' : ''}`);
  }
  let calls = 0;
  while (stream.stop?.aborted !== true) {
    const r = await ledger.webhooks.deliver(options);
    calls++;
    if (r.queued > 0 || r.sent > 0)
      stream.write(
        `${stream.asJson ? JSON.stringify({ at: new Date().toISOString(), ...r }) : `${new Date().toISOString()} ${reportLine(r)}`}\n`,
      );
    if (!r.more) await new Promise((res) => setTimeout(res, interval));
  }
  return ok({ calls }, `stopped after ${calls} deliver calls`);
}

const eventId = (raw: string) => whole('eventId', raw, 0, MAX_AMOUNT);

export async function webhooksRedeliver(ledger: Ledger, id: string): Promise<Output> {
  const r = await ledger.webhooks.redeliver(eventId(id));
  const text =
    r.webhooks.length === 0
      ? `event ${r.eventId} matches no active endpoint: nothing queued`
      : `event ${r.eventId} queued again, due now, for ${r.webhooks.join(', ')}`;
  return ok(r, text);
}

export async function webhooksAttempts(ledger: Ledger, id: string): Promise<Output> {
  const list = await ledger.webhooks.attempts(eventId(id));
  if (list.length === 0) return ok(list, `no delivery attempts for event ${id} yet`);
  return ok(
    list,
    gridTable(
      ['endpoint', 'attempt', 'started', 'ms', 'status', 'outcome', 'error'],
      list.map((a) => [a.webhookId, a.attempt, isoTime(a.startedAt), a.durationMs ?? '', a.status ?? '', a.outcome, a.error ?? '']),
      ['left', 'right', 'left', 'right', 'right', 'left', 'left'],
    ),
  );
}

interface PruneFlags {
  olderThan?: string;
  before?: string;
  limit?: string;
}

/** The longest `--older-than`: about 100 years. */
const PRUNE_MAX_AGE_MS = 36_500 * 86_400_000;

/**
 * `webhooks prune`: finished deliveries created before the cut-off go with their attempts,
 * `--limit` per call (each its own atomic unit) until none is left.
 */
export async function webhooksPrune(ledger: Ledger, o: PruneFlags): Promise<Output> {
  if ((o.olderThan === undefined) === (o.before === undefined))
    throw invalid('olderThan', 'webhooks prune: give one of --older-than <duration> (30d) or --before <time>');
  const before =
    o.before !== undefined
      ? parseBefore(o.before)
      : // Older than the epoch itself: nothing to prune, not an error about a negative time.
        Math.max(0, Date.now() - duration('olderThan', o.olderThan as string, PRUNE_MAX_AGE_MS));
  const limit = optional(o.limit, (raw) => whole('limit', raw, 1, WEBHOOK_PRUNE_MAX_LIMIT));
  const total = { before, deliveries: 0, attempts: 0, calls: 0 };
  for (let more = true; more; ) {
    const r = await ledger.webhooks.prune({ before, limit });
    total.deliveries += r.deliveries;
    total.attempts += r.attempts;
    total.calls++;
    more = r.more && r.deliveries > 0;
  }
  return ok(
    total,
    `pruned ${total.deliveries} finished deliveries created before ${isoTime(before)} and ${total.attempts} attempts` +
      ' (pending and paused deliveries and every event stay)',
  );
}

export async function events(ledger: Ledger, o: { after?: string; limit?: string; type?: string[] }): Promise<Output> {
  const page = await ledger.events.list({
    after: optional(o.after, (raw) => whole('after', raw, 0, MAX_AMOUNT)),
    limit: optional(o.limit, (raw) => whole('limit', raw, 1, EVENTS_MAX_LIMIT)),
    types: eventTypes(o.type, 'type'),
  });
  const table =
    page.events.length === 0
      ? 'no events'
      : gridTable(
          ['id', 'type', 'time', 'account', 'data'],
          page.events.map((e) => {
            const { account: _a, ...rest } = e.data;
            return [e.id, e.type, e.timestamp, e.account, JSON.stringify(rest)];
          }),
          ['right', 'left', 'left', 'left', 'left'],
        );
  return ok(page, `${table}${page.hasMore ? `\nmore: --after ${page.cursor}` : ''}`);
}

type Run = (cmd: Command, handler: (ledger: Ledger) => Promise<Output>) => Promise<void>;
const collect = (v: string, prev: string[] = []) => [...prev, v];

const DELIVERY_HELP = `
Delivery follows Standard Webhooks: POST with content-type application/json, webhook-id
(evt_<event id>, the same on every retry), webhook-timestamp and webhook-signature
(v1,<base64 HMAC-SHA256>), body {"type","timestamp","data"}. 2xx is delivered; 410 Gone
disables the endpoint; anything else, a network error or a timeout is retried 5s, 5m, 30m,
2h, 5h, 10h, 14h, 20h, 24h after each failure (later if Retry-After asks), then failed
(see redeliver). Run deliver from cron, or keep one running with --watch: any number of
deliverers may run at once (claims are conditional writes; at least once).`;

/** Registers `webhooks` and its subcommands, and `events`, on the program. */
export function addWebhooksCommands(program: Command, run: Run, stdout: { write(s: string): unknown }): void {
  const webhooks = program.command('webhooks').description('webhook endpoints: signed delivery of the event outbox (Standard Webhooks)');
  webhooks
    .command('add')
    .description('add an endpoint; it receives the events created from now on')
    .argument('<url>', 'http: or https: URL that events are POSTed to')
    .option('--types <list>', `only these event types, comma separated: ${EVENT_TYPES.join(',')}`, collect)
    .option('--secret <whsec>', 'the signing secret (whsec_ + base64 of 24–64 bytes); generated when omitted')
    .addHelpText('after', DELIVERY_HELP)
    .action((url: string, o: { types?: string[]; secret?: string }, cmd: Command) => run(cmd, (l) => webhooksAdd(l, url, o)));
  webhooks
    .command('list')
    .description('the endpoints (secrets are not shown)')
    .action((_o, cmd: Command) => run(cmd, webhooksList));
  webhooks
    .command('remove')
    .description('remove an endpoint with its pending deliveries and attempt history')
    .argument('<id>', 'wh_… as printed by add')
    .action((id: string, _o, cmd: Command) => run(cmd, (l) => webhooksRemove(l, id)));
  webhooks
    .command('enable')
    .description('re-enable a disabled endpoint (after a 410): it catches up on what it missed')
    .argument('<id>', 'wh_… as printed by add')
    .action((id: string, _o, cmd: Command) => run(cmd, (l) => webhooksEnable(l, id)));
  webhooks
    .command('deliver')
    .description('fan out new events, send what is due, record each attempt')
    .option('--limit <n>', `deliveries per call (default 100, at most ${WEBHOOK_DELIVER_MAX_LIMIT})`)
    .option('--timeout <duration>', 'time limit of one attempt (default 15s, at most 2m)')
    .option('--watch', 'keep delivering until stopped (Ctrl-C); one line per call that did something')
    .option('--interval <duration>', 'with --watch: pause when nothing is due (default 1s)')
    .addHelpText('after', DELIVERY_HELP)
    .action((o: DeliverFlags, cmd: Command) =>
      run(cmd, (l) =>
        webhooksDeliver(l, o, { write: (s) => stdout.write(s), asJson: cmd.optsWithGlobals<{ json?: boolean }>().json === true }),
      ),
    );
  webhooks
    .command('redeliver')
    .description('queue an event again, due now with a fresh retry schedule, for every endpoint it went to or matches')
    .argument('<eventId>', 'the event id (events lists them)')
    .action((id: string, _o, cmd: Command) => run(cmd, (l) => webhooksRedeliver(l, id)));
  webhooks
    .command('attempts')
    .description('every delivery attempt of an event, by endpoint')
    .argument('<eventId>', 'the event id')
    .action((id: string, _o, cmd: Command) => run(cmd, (l) => webhooksAttempts(l, id)));
  webhooks
    .command('prune')
    .description('delete finished deliveries (delivered or failed) and their attempts created before a cut-off; events stay')
    .option('--older-than <duration>', 'created longer ago than this: 30d, 12h')
    .option('--before <time>', 'created before this time: ms since the epoch or ISO 8601 (2030-01-31)')
    .option('--limit <n>', `deliveries per atomic call (default 1000, at most ${WEBHOOK_PRUNE_MAX_LIMIT})`)
    .action((o: PruneFlags, cmd: Command) => run(cmd, (l) => webhooksPrune(l, o)));

  program
    .command('events')
    .description('the event outbox, oldest first, one page at a time')
    .option('--after <id>', 'events after this id (default 0)')
    .option('--limit <n>', `events per page (default 100, at most ${EVENTS_MAX_LIMIT})`)
    .option('--type <type>', `only this type (repeat for more): ${EVENT_TYPES.join(', ')}`, collect)
    .action((o: { after?: string; limit?: string; type?: string[] }, cmd: Command) => run(cmd, (l) => events(l, o)));
}
