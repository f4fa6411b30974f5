/**
 * One handler per command: call the ledger, decide the exit code, describe the result.
 * Handlers parse what was typed (args.ts) before they call the ledger, so a bad value is
 * rejected before anything is written. They do not print and do not open databases
 * (program.ts and open.ts do; the sweep progress bar is handed in by program.ts).
 */
import type { Capped, DebitResult, Entry, Hold, Ledger, SweepInput } from '../index.js';
import {
  explainInput,
  optional,
  parseAmount,
  parseBatchSize,
  parseDelta,
  parseExpiresAt,
  parseKinds,
  parseLimit,
  parsePriority,
  parseTtl,
  parseWithin,
} from './args.js';
import { EXIT, type ExitCode } from './exit.js';
import {
  allocationsTable,
  capLabel,
  entryFields,
  historyTable,
  holdsTable,
  isoTime,
  keyValueTable,
  lotsTable,
  rebuildText,
  statsText,
  sweepText,
  verifyText,
} from './format.js';

export interface Output {
  exit: ExitCode;
  /** Printed with --json. */
  data: unknown;
  /** Printed otherwise. */
  text: string;
}

const ok = (data: unknown, text: string): Output => ({ exit: EXIT.ok, data, text });

const written = (outcome: string, balance: number, entry: Entry, extra: [string, number | string][] = []): string =>
  keyValueTable([['outcome', outcome], ['balance now', balance], ...extra, ...entryFields(entry)]);

/** A business outcome that did not apply (exit 1): nothing was written. */
export const notApplied = (
  what: string,
  account: string,
  r: { requested: number; available: number; balance: number },
  extra: [string, string][] = [],
): Output => ({
  exit: EXIT.notApplied,
  data: r,
  text: keyValueTable([
    ['outcome', `insufficient (nothing ${what})`],
    ['account', account],
    ...extra,
    ['requested', r.requested],
    ['available', r.available],
    ['balance', r.balance],
  ]),
});

/** A deny cap refused it (exit 1): nothing was written. */
export const cappedOut = (what: string, account: string, r: Capped, extra: [string, string][] = []): Output => ({
  exit: EXIT.notApplied,
  data: r,
  text: keyValueTable([
    ['outcome', `capped (nothing ${what})`],
    ['account', account],
    ...extra,
    ['cap', capLabel(r.cap)],
    ['spent this window', r.spent],
    ['held', r.held],
    ['limit', r.limit],
    ['requested', r.requested],
    ['window resets', isoTime(r.cap.resetsAt)],
    ['available', r.available],
    ['balance', r.balance],
  ]),
});

/** Warn caps an applied operation took over their limit, one line each. */
export const warned = (r: { warnings?: { cap: Parameters<typeof capLabel>[0]; spent: number; limit: number }[] }): [string, string][] =>
  (r.warnings ?? []).map((w) => ['warning', `${capLabel(w.cap)}: spent ${w.spent} of ${w.limit}`]);

/** The result of a write on a hold: the hold, the account after it, the entry written. */
const onHold = (
  outcome: string,
  hold: Hold,
  r: { balance: number; available: number; entry: Entry },
  extra: [string, number | string][] = [],
) =>
  keyValueTable([
    ['outcome', outcome],
    ['hold', hold.id],
    ['hold status', hold.status],
    ['held amount', hold.amount],
    ...(hold.status === 'open' ? [['expires', isoTime(hold.expiresAt)] as const] : []),
    ...extra,
    ['balance now', r.balance],
    ['available now', r.available],
    ...entryFields(r.entry),
  ]);

export async function migrate(ledger: Ledger): Promise<Output> {
  const r = await ledger.migrate();
  const applied = r.applied.length === 0 ? 'none (already up to date)' : r.applied.join(', ');
  return ok(
    r,
    keyValueTable([
      ['applied', applied],
      ['schema version', r.version],
    ]),
  );
}

export async function grant(
  ledger: Ledger,
  account: string,
  amount: string,
  o: { idempotencyKey?: string; reason?: string; expiresAt?: string; priority?: string },
): Promise<Output> {
  const input = {
    account,
    amount: parseAmount(amount),
    idempotencyKey: o.idempotencyKey,
    reason: o.reason,
    expiresAt: optional(o.expiresAt, parseExpiresAt),
    priority: optional(o.priority, parsePriority),
  };
  const r = await explainInput({ expiresAt: o.expiresAt }, () => ledger.grant(input));
  const lot: [string, number | string][] = [];
  if (r.entry.priority !== null) lot.push(['lot priority', r.entry.priority]);
  if (r.entry.expiresAt !== null) lot.push(['lot expires', isoTime(r.entry.expiresAt)]);
  return ok(r, written(r.outcome, r.balance, r.entry, lot));
}

export async function debit(
  ledger: Ledger,
  account: string,
  amount: string,
  o: { idempotencyKey?: string; reason?: string; model?: string; keyId?: string; actor?: string },
): Promise<Output> {
  const input = { account, amount: parseAmount(amount), reason: o.reason, model: o.model, keyId: o.keyId, actor: o.actor };
  const r: DebitResult =
    o.idempotencyKey === undefined
      ? await ledger.debitIfCovers(input)
      : await ledger.debitOnceIfCovers({ ...input, idempotencyKey: o.idempotencyKey });
  if (r.outcome === 'insufficient') return notApplied('debited', account, r);
  if (r.outcome === 'capped') return cappedOut('debited', account, r);
  return ok(r, written(r.outcome, r.balance, r.entry, warned(r)));
}

export async function refund(
  ledger: Ledger,
  entryId: string,
  amount: string | undefined,
  o: { idempotencyKey?: string; reason?: string },
): Promise<Output> {
  const r = await ledger.refund({ entryId, amount: optional(amount, parseAmount), idempotencyKey: o.idempotencyKey, reason: o.reason });
  return ok(r, written(r.outcome, r.balance, r.entry, [['still refundable', r.refundable]]));
}

export async function adjust(
  ledger: Ledger,
  account: string,
  delta: string,
  o: { reason: string; idempotencyKey?: string },
): Promise<Output> {
  const r = await ledger.adjust({ account, delta: parseDelta(delta), reason: o.reason, idempotencyKey: o.idempotencyKey });
  if (r.outcome === 'insufficient') return notApplied('adjusted', account, r);
  return ok(r, written(r.outcome, r.balance, r.entry));
}

export async function hold(
  ledger: Ledger,
  account: string,
  amount: string,
  o: { ttl?: string; idempotencyKey?: string; reason?: string; model?: string; keyId?: string; actor?: string },
): Promise<Output> {
  const r = await ledger.hold({
    actor: o.actor,
    account,
    amount: parseAmount(amount),
    ttlMs: optional(o.ttl, parseTtl),
    idempotencyKey: o.idempotencyKey,
    reason: o.reason,
    model: o.model,
    keyId: o.keyId,
  });
  if (r.outcome === 'insufficient') return notApplied('held', account, r);
  if (r.outcome === 'capped') return cappedOut('held', account, r);
  return ok(r, onHold(r.outcome, r.hold, r, warned(r)));
}

export async function capture(
  ledger: Ledger,
  holdId: string,
  amount: string | undefined,
  o: { idempotencyKey?: string; reason?: string; actor?: string },
): Promise<Output> {
  const r = await ledger.capture({
    holdId,
    amount: optional(amount, parseAmount),
    idempotencyKey: o.idempotencyKey,
    reason: o.reason,
    actor: o.actor,
  });
  if (r.outcome === 'insufficient') return notApplied('captured', r.hold.account, r, [['hold', r.hold.id]]);
  if (r.outcome === 'capped') return cappedOut('captured', r.hold.account, r, [['hold', r.hold.id]]);
  return ok(r, onHold(r.outcome, r.hold, r, [['captured', r.entry.amount], ['released (not captured)', r.released], ...warned(r)]));
}

export async function release(ledger: Ledger, holdId: string, o: { reason?: string }): Promise<Output> {
  const r = await ledger.release({ holdId, reason: o.reason });
  return ok(r, onHold(r.outcome, r.hold, r));
}

export async function extend(ledger: Ledger, holdId: string, o: { ttl: string; reason?: string }): Promise<Output> {
  const r = await ledger.extendHold({ holdId, ttlMs: parseTtl(o.ttl), reason: o.reason });
  return ok(r, onHold(r.outcome, r.hold, r));
}

export async function holds(ledger: Ledger, account: string): Promise<Output> {
  const list = await ledger.holds(account);
  return ok(list, list.length === 0 ? `no open holds for ${account}` : holdsTable(list));
}

export async function lots(ledger: Ledger, account: string): Promise<Output> {
  const list = await ledger.lots(account);
  return ok(
    list,
    list.length === 0 ? `no open lots for ${account}` : `${lotsTable(list)}\n(in drawdown order; the unlotted balance is drawn last)`,
  );
}

export async function expiring(ledger: Ledger, account: string, o: { within: string }): Promise<Output> {
  const list = await ledger.expiring(account, { withinMs: parseWithin(o.within) });
  return ok(list, list.length === 0 ? `no lots of ${account} expire within ${o.within}` : lotsTable(list));
}

export async function allocations(ledger: Ledger, entryId: string): Promise<Output> {
  const list = await ledger.allocations(entryId);
  return ok(list, list.length === 0 ? `entry ${entryId} drew from no lot (or does not exist)` : allocationsTable(list));
}

/** A progress display fed by the sweep; `stop` runs however the sweep ends. */
export interface Progress {
  onProgress: NonNullable<SweepInput['onProgress']>;
  stop(): void;
}

export async function sweep(ledger: Ledger, o: { dryRun?: boolean; batchSize?: string }, progress?: Progress): Promise<Output> {
  try {
    const r = await ledger.sweep({
      dryRun: o.dryRun === true,
      batchSize: optional(o.batchSize, parseBatchSize),
      onProgress: progress?.onProgress,
    });
    return ok(r, sweepText(r));
  } finally {
    progress?.stop();
  }
}

export async function rebuild(ledger: Ledger): Promise<Output> {
  const r = await ledger.rebuild();
  return { exit: r.problems.length === 0 ? EXIT.ok : EXIT.verifyFailed, data: r, text: rebuildText(r) };
}

export async function balance(ledger: Ledger, account: string): Promise<Output> {
  const b = await ledger.getBalance(account);
  return ok(
    b,
    keyValueTable([
      ['account', b.account],
      ['balance', b.balance],
      ['held', b.held],
      ['available', b.available],
      ['floor', b.floor],
      ['headroom (caps)', b.headroom === null ? 'no cap on all spend' : b.headroom],
      ['seq', b.seq],
    ]),
  );
}

export async function history(ledger: Ledger, account: string, o: { limit?: string; cursor?: string; kinds?: string }): Promise<Output> {
  const query = { limit: optional(o.limit, parseLimit), cursor: o.cursor, kinds: optional(o.kinds, parseKinds) };
  const page = await explainInput({ cursor: o.cursor, kinds: o.kinds }, () => ledger.history(account, query));
  const table = page.entries.length === 0 ? `no entries for ${account}` : historyTable(page.entries);
  const next = page.nextCursor === null ? 'next cursor: none (last page)' : `next cursor: ${page.nextCursor} (--cursor ${page.nextCursor})`;
  return ok(page, `${table}\n${next}`);
}

export async function verify(ledger: Ledger, o: { digest?: string } = {}): Promise<Output> {
  const r = await ledger.verify(o.digest === undefined ? undefined : { digest: o.digest });
  return { exit: r.ok ? EXIT.ok : EXIT.verifyFailed, data: r, text: verifyText(r) };
}

export async function digest(ledger: Ledger): Promise<Output> {
  const d = await ledger.digest();
  return ok(d, `${d.digest}\n(${d.entries} entries, through position ${d.through}; check later with: verify --digest ${d.digest})`);
}

export async function stats(ledger: Ledger): Promise<Output> {
  const s = await ledger.stats();
  return ok(s, statsText(s));
}
