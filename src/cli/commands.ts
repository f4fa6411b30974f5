/**
 * One handler per command: call the ledger, decide the exit code, describe the result.
 * Handlers do not print and do not open databases (main.ts and open.ts do; the sweep
 * progress bar is handed in by main.ts).
 */
import type { DebitResult, Entry, Hold, Ledger, SweepInput } from '../index.js';
import { explainInput, optional, parseDuration, parseInteger, parseKinds, parseTimestamp } from './args.js';
import { EXIT, type ExitCode } from './exit.js';
import {
  allocationsTable,
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
const notApplied = (
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

/** The result of a write on a hold: the hold, the account after it, the entry written. */
const onHold = (outcome: string, hold: Hold, r: { balance: number; available: number; entry: Entry }, extra: [string, number][] = []) =>
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
  const r = await explainInput({ amount, expiresAt: o.expiresAt, priority: o.priority }, () =>
    ledger.grant({
      account,
      amount: parseInteger(amount),
      idempotencyKey: o.idempotencyKey,
      reason: o.reason,
      expiresAt: optional(o.expiresAt, parseTimestamp),
      priority: optional(o.priority, parseInteger),
    }),
  );
  const lot: [string, number | string][] = [];
  if (r.entry.priority !== null) lot.push(['lot priority', r.entry.priority]);
  if (r.entry.expiresAt !== null) lot.push(['lot expires', isoTime(r.entry.expiresAt)]);
  return ok(r, written(r.outcome, r.balance, r.entry, lot));
}

export async function debit(
  ledger: Ledger,
  account: string,
  amount: string,
  o: { idempotencyKey?: string; reason?: string; model?: string; keyId?: string },
): Promise<Output> {
  const input = { account, amount: parseInteger(amount), reason: o.reason, model: o.model, keyId: o.keyId };
  const r: DebitResult = await explainInput({ amount }, () =>
    o.idempotencyKey === undefined ? ledger.debitIfCovers(input) : ledger.debitOnceIfCovers({ ...input, idempotencyKey: o.idempotencyKey }),
  );
  if (r.outcome === 'insufficient') return notApplied('debited', account, r);
  return ok(r, written(r.outcome, r.balance, r.entry));
}

export async function refund(
  ledger: Ledger,
  entryId: string,
  amount: string | undefined,
  o: { idempotencyKey?: string; reason?: string },
): Promise<Output> {
  const r = await explainInput({ amount }, () =>
    ledger.refund({
      entryId,
      amount: amount === undefined ? undefined : parseInteger(amount),
      idempotencyKey: o.idempotencyKey,
      reason: o.reason,
    }),
  );
  return ok(r, written(r.outcome, r.balance, r.entry, [['still refundable', r.refundable]]));
}

export async function adjust(
  ledger: Ledger,
  account: string,
  delta: string,
  o: { reason: string; idempotencyKey?: string },
): Promise<Output> {
  const r = await explainInput({ delta }, () =>
    ledger.adjust({ account, delta: parseInteger(delta), reason: o.reason, idempotencyKey: o.idempotencyKey }),
  );
  if (r.outcome === 'insufficient') return notApplied('adjusted', account, r);
  return ok(r, written(r.outcome, r.balance, r.entry));
}

export async function hold(
  ledger: Ledger,
  account: string,
  amount: string,
  o: { ttl?: string; idempotencyKey?: string; reason?: string; model?: string; keyId?: string },
): Promise<Output> {
  const r = await explainInput({ amount, ttlMs: o.ttl }, () =>
    ledger.hold({
      account,
      amount: parseInteger(amount),
      ttlMs: optional(o.ttl, parseDuration),
      idempotencyKey: o.idempotencyKey,
      reason: o.reason,
      model: o.model,
      keyId: o.keyId,
    }),
  );
  if (r.outcome === 'insufficient') return notApplied('held', account, r);
  return ok(r, onHold(r.outcome, r.hold, r));
}

export async function capture(
  ledger: Ledger,
  holdId: string,
  amount: string | undefined,
  o: { idempotencyKey?: string; reason?: string },
): Promise<Output> {
  const r = await explainInput({ amount }, () =>
    ledger.capture({ holdId, amount: optional(amount, parseInteger), idempotencyKey: o.idempotencyKey, reason: o.reason }),
  );
  if (r.outcome === 'insufficient') return notApplied('captured', r.hold.account, r, [['hold', r.hold.id]]);
  return ok(
    r,
    onHold(r.outcome, r.hold, r, [
      ['captured', r.entry.amount],
      ['released (not captured)', r.released],
    ]),
  );
}

export async function release(ledger: Ledger, holdId: string, o: { reason?: string }): Promise<Output> {
  const r = await ledger.release({ holdId, reason: o.reason });
  return ok(r, onHold(r.outcome, r.hold, r));
}

export async function extend(ledger: Ledger, holdId: string, o: { ttl: string; reason?: string }): Promise<Output> {
  const r = await explainInput({ ttlMs: o.ttl }, () => ledger.extendHold({ holdId, ttlMs: parseDuration(o.ttl), reason: o.reason }));
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
  const list = await explainInput({ withinMs: o.within }, () => ledger.expiring(account, { withinMs: parseDuration(o.within) }));
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
    const r = await explainInput({ batchSize: o.batchSize }, () =>
      ledger.sweep({ dryRun: o.dryRun === true, batchSize: optional(o.batchSize, parseInteger), onProgress: progress?.onProgress }),
    );
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
      ['seq', b.seq],
    ]),
  );
}

export async function history(ledger: Ledger, account: string, o: { limit?: string; cursor?: string; kinds?: string }): Promise<Output> {
  const page = await explainInput({ limit: o.limit, cursor: o.cursor, kinds: o.kinds }, () =>
    ledger.history(account, {
      limit: o.limit === undefined ? undefined : parseInteger(o.limit),
      cursor: o.cursor,
      kinds: o.kinds === undefined ? undefined : parseKinds(o.kinds),
    }),
  );
  const table = page.entries.length === 0 ? `no entries for ${account}` : historyTable(page.entries);
  const next = page.nextCursor === null ? 'next cursor: none (last page)' : `next cursor: ${page.nextCursor} (--cursor ${page.nextCursor})`;
  return ok(page, `${table}\n${next}`);
}

export async function verify(ledger: Ledger): Promise<Output> {
  const r = await ledger.verify();
  return { exit: r.ok ? EXIT.ok : EXIT.verifyFailed, data: r, text: verifyText(r) };
}

export async function stats(ledger: Ledger): Promise<Output> {
  const s = await ledger.stats();
  return ok(s, statsText(s));
}
