/**
 * One handler per command: call the ledger, decide the exit code, describe the result.
 * Handlers do not print and do not open databases (main.ts and open.ts do).
 */
import type { DebitResult, Entry, Ledger } from '../index.js';
import { explainInput, parseInteger, parseKinds } from './args.js';
import { EXIT, type ExitCode } from './exit.js';
import { entryFields, historyTable, keyValueTable, statsText, verifyText } from './format.js';

export interface Output {
  exit: ExitCode;
  /** Printed with --json. */
  data: unknown;
  /** Printed otherwise. */
  text: string;
}

const ok = (data: unknown, text: string): Output => ({ exit: EXIT.ok, data, text });

const written = (outcome: string, balance: number, entry: Entry, extra: [string, number][] = []): string =>
  keyValueTable([['outcome', outcome], ['balance now', balance], ...extra, ...entryFields(entry)]);

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
  o: { idempotencyKey?: string; reason?: string },
): Promise<Output> {
  const r = await explainInput({ amount }, () =>
    ledger.grant({ account, amount: parseInteger(amount), idempotencyKey: o.idempotencyKey, reason: o.reason }),
  );
  return ok(r, written(r.outcome, r.balance, r.entry));
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
  if (r.outcome === 'insufficient') {
    return {
      exit: EXIT.notApplied,
      data: r,
      text: keyValueTable([
        ['outcome', 'insufficient (nothing debited)'],
        ['account', account],
        ['requested', r.requested],
        ['available', r.available],
        ['balance', r.balance],
      ]),
    };
  }
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
  if (r.outcome === 'insufficient') {
    return {
      exit: EXIT.notApplied,
      data: r,
      text: keyValueTable([
        ['outcome', 'insufficient (nothing adjusted)'],
        ['account', account],
        ['requested', r.requested],
        ['available', r.available],
        ['balance', r.balance],
      ]),
    };
  }
  return ok(r, written(r.outcome, r.balance, r.entry));
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
