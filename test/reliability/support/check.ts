/**
 * The parent's side: everything the workers logged (intents and acks), checked against
 * the rows in the database. Shared by the contention and crash tests.
 */
import { ALLOCATION_ROWS } from '../../../src/sql.js';
import { LINKS_SELECT } from '../../support/app-links.js';
import type { Db, Row } from './db.js';
import { opsOf, reasonOf } from './ops.js';
import { type AckLine, APPLIED, type Call, type EntrySummary, type IntentLine, type LogLine, type OpResult } from './protocol.js';

/** Collects contract violations by category, so one failing run reports all of them. */
export class Problems {
  readonly #lines: string[] = [];
  readonly #counts = new Map<string, number>();
  add(category: string, message: string): void {
    const n = (this.#counts.get(category) ?? 0) + 1;
    this.#counts.set(category, n);
    if (n <= 8) this.#lines.push(`${category}: ${message}`);
  }
  get count(): number {
    return [...this.#counts.values()].reduce((a, b) => a + b, 0);
  }
  list(): string[] {
    const extra = [...this.#counts].filter(([, n]) => n > 8).map(([c, n]) => `${c}: … ${n} in all`);
    return [...this.#lines, ...extra];
  }
}

/** Worker label of a tag (`w3-17` → `w3`, `r2w1-5.3` → `r2w1`). */
export const workerOf = (tag: string) => tag.slice(0, tag.lastIndexOf('-'));

/** Everything logged so far: intents, acks, and the parent's own setup rows. */
export class Book {
  readonly intents = new Map<string, IntentLine>();
  readonly acks = new Map<string, AckLine>();
  /** Rows the parent wrote before the workers started: id → account, delta. */
  readonly setup = new Map<string, { account: string; delta: number }>();
  /** Reason → the intents whose calls carry it. */
  readonly byReason = new Map<string, IntentLine[]>();
  /** Times at which a sweep was about to run. */
  readonly sweeps: number[] = [];
  torn = 0;

  add(lines: readonly LogLine[], torn = 0): void {
    this.torn += torn;
    for (const l of lines) {
      if (l.type === 'ack') {
        this.acks.set(l.tag, l);
        continue;
      }
      this.intents.set(l.tag, l);
      if (l.call.method === 'sweep') this.sweeps.push(l.t);
      for (const op of opsOf(l.call)) {
        const r = reasonOf(op);
        if (r !== null) this.byReason.set(r, [...(this.byReason.get(r) ?? []), l]);
      }
    }
  }

  /** Intents with no ack: the call was in flight when its process died. */
  inFlight(): IntentLine[] {
    return [...this.intents.values()].filter((i) => !this.acks.has(i.tag));
  }
}

export interface AuditOptions {
  /** Error codes an operation may legitimately end with in this test. */
  allowedErrors: ReadonlySet<string>;
  /** Every row must be acknowledged (no process died). */
  allAcked: boolean;
}

export interface Audit {
  problems: string[];
  rows: number;
  /** Acknowledged results that carry an entry, each compared with its row. */
  entriesChecked: number;
  /** Of those, the ones the workers acknowledged (the rest are the parent's own retries). */
  workerEntriesChecked: number;
  /** Acknowledged results that applied (wrote a new row). */
  applied: number;
  outcomes: Record<string, number>;
  errors: Record<string, number>;
  /** Shared-key replays answered with a row another process wrote. */
  crossProcessReplays: number;
  /** Shared keys that more than one process succeeded with. */
  racedKeys: number;
  /** Adjacent rows of one account written by different processes: proof they interleaved. */
  interleavings: number;
  /** Rows written by calls that never got their ack (in flight at a kill). */
  committedInFlight: number;
  /** Median and slowest ledger call of the workers, lock waits included (ms). */
  medianMs: number;
  slowestMs: number;
  /** Head (posted) balance per account. */
  heads: Map<string, number>;
  /** Σ of setup and acknowledged applied deltas per account. */
  ackedSums: Map<string, number>;
}

const ENTRY_COLUMNS =
  "'ce_' || pos AS id, account, seq, kind, delta, amount, balance, 'ce_' || ref AS ref, idempotency_key, reason, actor, created_at";

/** What a single call's entry must look like, from its input alone. */
function expectedOf(op: Call): Partial<EntrySummary> {
  const i = op.input as Record<string, unknown>;
  const key = (i.idempotencyKey as string | undefined) ?? null;
  const reason = (i.reason as string | undefined) ?? null;
  const amount = i.amount === undefined ? {} : { amount: i.amount as number };
  switch (op.method) {
    case 'grant':
      return { kind: 'grant', account: op.input.account, amount: op.input.amount, delta: op.input.amount, key, reason };
    case 'debitIfCovers':
    case 'debitOnceIfCovers':
      return { kind: 'debit', account: op.input.account, amount: op.input.amount, delta: -op.input.amount, key, reason };
    case 'refund':
      return { kind: 'refund', ref: op.input.entryId, ...amount, key, reason };
    case 'adjust':
      return { kind: 'adjust', account: op.input.account, delta: op.input.delta, amount: Math.abs(op.input.delta), key, reason };
    case 'hold':
      return { kind: 'hold', account: op.input.account, amount: op.input.amount, delta: 0, key, reason };
    case 'capture':
      return { kind: 'capture', ref: op.input.holdId, ...amount, key, reason };
    case 'release':
      return { kind: 'release', ref: op.input.holdId, delta: 0, reason };
    case 'transfer':
      return { kind: 'transfer_out', account: op.input.from, amount: op.input.amount, delta: -op.input.amount, key, reason };
    default:
      return {};
  }
}

const rowSummary = (r: Row): EntrySummary => ({
  id: String(r.id),
  account: String(r.account),
  kind: String(r.kind),
  delta: Number(r.delta),
  amount: Number(r.amount),
  balance: Number(r.balance),
  ref: r.ref === null ? null : String(r.ref),
  key: r.idempotency_key === null ? null : String(r.idempotency_key),
  reason: r.reason === null ? null : String(r.reason),
});

function differs(want: Partial<EntrySummary>, got: EntrySummary): string[] {
  return (Object.keys(want) as (keyof EntrySummary)[]).filter((k) => want[k] !== got[k]);
}

/** Checks every acknowledged result and every row of the log against each other. */
export async function audit(db: Db, book: Book, options: AuditOptions): Promise<Audit> {
  const problems = new Problems();
  const rows = await db.all(`SELECT ${ENTRY_COLUMNS} FROM credit_entry ORDER BY account, seq`);
  const byId = new Map(rows.map((r) => [String(r.id), r]));
  const rowsByReason = new Map<string, Row[]>();
  /** A transfer's arriving rows, by the id of the row that left (their `ref`). */
  const arrivalsOf = new Map<string, Row[]>();
  for (const r of rows) {
    if (r.kind === 'transfer_in') arrivalsOf.set(String(r.ref), [...(arrivalsOf.get(String(r.ref)) ?? []), r]);
    // A transfer's arriving rows carry its reason too: one op, one leaving row.
    if (r.reason === null || r.kind === 'transfer_in') continue;
    const k = String(r.reason);
    rowsByReason.set(k, [...(rowsByReason.get(k) ?? []), r]);
  }

  // No row ever takes an account below zero.
  const heads = new Map<string, number>();
  for (const r of rows) {
    if (Number(r.balance) < 0) problems.add('negative balance', `${String(r.account)} seq ${Number(r.seq)}: ${Number(r.balance)}`);
    heads.set(String(r.account), Number(r.balance));
  }

  // Every acknowledged result against its row and against its request.
  const appliedBy = new Map<string, string>(); // entry id → tag that applied it
  const entriesOfReason = new Map<string, Set<string>>();
  const successByReason = new Map<string, Set<string>>(); // reason → workers that got an entry
  const outcomes: Record<string, number> = {};
  const errors: Record<string, number> = {};
  const ackedSums = new Map<string, number>();
  const addSum = (account: string, delta: number) => ackedSums.set(account, (ackedSums.get(account) ?? 0) + delta);
  for (const s of book.setup.values()) addSum(s.account, s.delta);
  let entriesChecked = 0;
  let workerEntriesChecked = 0;
  let crossProcessReplays = 0;
  const replays: Array<{ id: string; tag: string }> = [];

  for (const ack of book.acks.values()) {
    const intent = book.intents.get(ack.tag);
    if (intent === undefined) {
      problems.add('ack without intent', ack.tag);
      continue;
    }
    const ops = opsOf(intent.call);
    if (ack.error !== undefined) {
      errors[ack.error.code] = (errors[ack.error.code] ?? 0) + 1;
      if (!options.allowedErrors.has(ack.error.code))
        problems.add('unexpected error', `${ack.tag} ${intent.call.method}: ${ack.error.code} ${ack.error.message}`);
      continue;
    }
    if (intent.call.method === 'sweep') continue;
    if (ack.results.length !== ops.length) {
      problems.add('result count', `${ack.tag}: ${ack.results.length} results for ${ops.length} ops`);
      continue;
    }
    ops.forEach((op, i) => {
      const res = ack.results[i] as OpResult;
      outcomes[res.outcome] = (outcomes[res.outcome] ?? 0) + 1;
      if (res.outcome === 'rejected') {
        const code = res.code ?? '?';
        errors[code] = (errors[code] ?? 0) + 1;
        if (!options.allowedErrors.has(code)) problems.add('unexpected rejection', `${ack.tag}[${i}] ${op.method}: ${code}`);
      }
      const e = res.entry;
      const reason = reasonOf(op);
      if (e === undefined) {
        if (res.outcome !== 'insufficient' && res.outcome !== 'rejected') problems.add('no entry', `${ack.tag}[${i}] ${res.outcome}`);
        return;
      }
      entriesChecked++;
      if (!ack.tag.startsWith('parent')) workerEntriesChecked++;
      const row = byId.get(e.id);
      if (row === undefined) {
        problems.add(
          APPLIED.has(res.outcome) ? 'lost acknowledged write' : 'replay of a missing row',
          `${ack.tag}[${i}] ${JSON.stringify(e)}`,
        );
        return;
      }
      const bad = differs(e, rowSummary(row));
      if (bad.length > 0)
        problems.add('row differs from ack', `${ack.tag}[${i}] ${bad.join(',')}: ack ${JSON.stringify(e)} row ${JSON.stringify(row)}`);
      // A capture or release of a hold another call already closed replays that call's entry,
      // with that call's reason and idempotency key (none, or another): two crash writers can
      // load the same open hold (each takes every other one of the list, which shifts if the
      // other has already written a hold).
      const { reason: _, key: __, ...withoutReason } = expectedOf(op);
      const closedByAnother = (op.method === 'capture' || op.method === 'release') && res.outcome === 'replayed';
      const wrong = differs(closedByAnother ? withoutReason : expectedOf(op), e);
      if (wrong.length > 0)
        problems.add('entry differs from request', `${ack.tag}[${i}] ${wrong.join(',')}: ${JSON.stringify(op)} → ${JSON.stringify(e)}`);
      if (reason !== null) {
        entriesOfReason.set(reason, (entriesOfReason.get(reason) ?? new Set()).add(e.id));
        successByReason.set(reason, (successByReason.get(reason) ?? new Set()).add(workerOf(ack.tag)));
      }
      // A transfer: the arrivals it reported are exactly the rows on `to` that name its leaving row.
      const arrivals = op.method === 'transfer' ? (res.arrivals ?? []) : [];
      if (op.method === 'transfer') {
        const inDb = (arrivalsOf.get(e.id) ?? []).map((r) => String(r.id));
        const acked = arrivals.map((a) => a.id);
        if (JSON.stringify([...inDb].sort()) !== JSON.stringify([...acked].sort()))
          problems.add('transfer arrivals differ', `${ack.tag}[${i}] ${e.id}: acked ${acked.join(',')}, rows ${inDb.join(',')}`);
        const sum = arrivals.reduce((t, a) => t + a.amount, 0);
        if (sum !== e.amount) problems.add('transfer arrivals sum', `${ack.tag}[${i}] ${e.id}: ${e.amount} left, ${sum} arrived`);
        for (const a of arrivals) {
          const row = byId.get(a.id);
          const want = { kind: 'transfer_in', account: op.input.to, ref: e.id, reason: e.reason, delta: a.amount };
          const bad = [...(row === undefined ? ['missing'] : differs(a, rowSummary(row))), ...differs(want, a)];
          if (bad.length > 0) problems.add('transfer arrival', `${ack.tag}[${i}] ${bad.join(',')}: ${JSON.stringify(a)}`);
        }
      }
      if (APPLIED.has(res.outcome)) {
        for (const x of [e, ...arrivals]) {
          const before = appliedBy.get(x.id);
          if (before !== undefined) problems.add('applied twice', `${x.id} by ${before} and ${ack.tag}`);
          appliedBy.set(x.id, ack.tag);
          addSum(x.account, x.delta);
        }
      } else if (res.outcome === 'replayed') {
        replays.push({ id: e.id, tag: ack.tag });
      } else {
        problems.add('unknown outcome', `${ack.tag}[${i}] ${res.outcome}`);
      }
    });
  }
  for (const r of replays) {
    const by = appliedBy.get(r.id);
    if (by !== undefined && workerOf(by) !== workerOf(r.tag)) crossProcessReplays++;
  }

  // One operation, one row; every caller of it saw that row.
  for (const [reason, ids] of entriesOfReason) {
    if (ids.size > 1) problems.add('one op, several entries', `${reason}: ${[...ids].join(', ')}`);
  }
  for (const [reason, list] of rowsByReason) {
    if (list.length > 1 && book.byReason.has(reason))
      problems.add('one op, several rows', `${reason}: ${list.map((r) => String(r.id)).join(', ')}`);
  }

  // Every row was asked for: by the setup, by an acknowledged call, or by a call in flight.
  const inFlightReasons = new Set<string>();
  for (const i of book.inFlight()) for (const op of opsOf(i.call)) inFlightReasons.add(reasonOf(op) ?? '');
  if (options.allAcked && book.inFlight().length > 0)
    problems.add(
      'missing acks',
      book
        .inFlight()
        .map((i) => i.tag)
        .join(', '),
    );
  let committedInFlight = 0;
  for (const r of rows) {
    const id = String(r.id);
    if (book.setup.has(id) || appliedBy.has(id)) continue;
    if (r.kind === 'expire' && r.actor === 'sweep') {
      const at = Number(r.created_at);
      if (!book.sweeps.some((t) => t <= at && at <= t + 60_000)) problems.add('expire row without a sweep', JSON.stringify(r));
      continue;
    }
    const reason = r.reason === null ? null : String(r.reason);
    if (reason === null || !book.byReason.has(reason)) {
      problems.add('row without an intent', JSON.stringify(r));
    } else if (!options.allAcked && inFlightReasons.has(reason)) {
      if (r.kind !== 'transfer_in') committedInFlight++;
    } else {
      const acked = (book.byReason.get(reason) ?? []).map(
        (i) => `${i.tag}: ${JSON.stringify(book.acks.get(i.tag)?.results ?? book.acks.get(i.tag)?.error)}`,
      );
      problems.add('unacknowledged row', `${JSON.stringify(r)} — acks ${acked.join('; ')}`);
    }
  }

  let interleavings = 0;
  for (let i = 1; i < rows.length; i++) {
    const [a, b] = [rows[i - 1] as Row, rows[i] as Row];
    const [wa, wb] = [appliedBy.get(String(a.id)), appliedBy.get(String(b.id))];
    if (a.account === b.account && wa !== undefined && wb !== undefined && workerOf(wa) !== workerOf(wb)) interleavings++;
  }

  let racedKeys = 0;
  for (const [reason, workers] of successByReason) if (reason.startsWith('shared:') && workers.size > 1) racedKeys++;

  const times = [...book.acks.values()]
    .filter((a) => !a.tag.startsWith('parent'))
    .map((a) => a.ms)
    .sort((a, b) => a - b);

  return {
    problems: problems.list(),
    rows: rows.length,
    entriesChecked,
    workerEntriesChecked,
    applied: appliedBy.size,
    outcomes,
    errors,
    crossProcessReplays,
    racedKeys,
    interleavings,
    committedInFlight,
    medianMs: times[Math.floor(times.length / 2)] ?? 0,
    slowestMs: times[times.length - 1] ?? 0,
    heads,
    ackedSums,
  };
}

export interface LinkAudit {
  problems: string[];
  /** Rows of the app's table. */
  appRows: number;
  /** Log entries written by a call that carried `with`. */
  linkedEntries: number;
  /** Acknowledged results of calls carrying `with`: applied (an app row) or not (none). */
  linkedApplied: number;
  linkedNoops: number;
}

/**
 * `with` in the log and in the app's table: never one without the other. Every app row has
 * exactly one log entry whose reason is its note, on its account and for its amount, written
 * by a call that carried `with`; every log entry written by such a call has its app row.
 */
export async function auditLinks(db: Db, book: Book): Promise<LinkAudit> {
  const problems = new Problems();
  const links = await db.all(LINKS_SELECT);
  const entries = await db.all("SELECT 'ce_' || pos AS id, account, kind, amount, reason FROM credit_entry WHERE reason IS NOT NULL");
  const entriesOf = new Map<string, Row[]>();
  for (const e of entries) entriesOf.set(String(e.reason), [...(entriesOf.get(String(e.reason)) ?? []), e]);
  /** Whether the calls that carry this reason carry `with` (every one of them, or none). */
  const linked = (reason: string): boolean => {
    const carry = (book.byReason.get(reason) ?? []).flatMap((i) =>
      opsOf(i.call)
        .filter((op) => reasonOf(op) === reason)
        .map((op) => op.link !== undefined),
    );
    if (new Set(carry).size > 1) problems.add('calls of one reason disagree on with', reason);
    return carry.includes(true);
  };

  const notes = new Set<string>();
  for (const l of links) {
    const note = String(l.entry_note);
    notes.add(note);
    const rows = entriesOf.get(note) ?? [];
    if (rows.length !== 1) {
      problems.add(
        rows.length === 0 ? 'app row without its entry' : 'app row with several entries',
        `${JSON.stringify(l)}: ${JSON.stringify(rows)}`,
      );
      continue;
    }
    const e = rows[0] as Row;
    if (String(e.account) !== String(l.account) || Number(e.amount) !== Number(l.amount))
      problems.add('app row differs from its entry', `${JSON.stringify(l)} vs ${JSON.stringify(e)}`);
    if (!linked(note)) problems.add('app row of a call without with', `${JSON.stringify(l)}`);
  }
  let linkedEntries = 0;
  for (const [reason, rows] of entriesOf) {
    if (!linked(reason)) continue;
    linkedEntries += rows.length;
    if (!notes.has(reason)) problems.add('entry without its app row', `${reason}: ${JSON.stringify(rows)}`);
  }

  let linkedApplied = 0;
  let linkedNoops = 0;
  for (const ack of book.acks.values()) {
    const call = book.intents.get(ack.tag)?.call;
    if (call === undefined || ack.error !== undefined) continue;
    opsOf(call).forEach((op, i) => {
      if (op.link === undefined) return;
      if (APPLIED.has(ack.results[i]?.outcome ?? '')) linkedApplied++;
      else linkedNoops++;
    });
  }
  return { problems: problems.list(), appRows: links.length, linkedEntries, linkedApplied, linkedNoops };
}

/** Projections as sorted JSON, to compare before and after rebuild(). */
export async function projections(db: Db): Promise<Record<string, string>> {
  return {
    credit_lot: JSON.stringify(await db.all('SELECT * FROM credit_lot ORDER BY id')),
    credit_hold: JSON.stringify(await db.all('SELECT * FROM credit_hold ORDER BY id')),
    allocations: JSON.stringify(await db.all(`SELECT * FROM (${ALLOCATION_ROWS}) ORDER BY entry_id, lot_id`)),
  };
}

export interface TransferAudit {
  problems: string[];
  /** `transfer_out` rows, and `transfer_in` rows. */
  transfers: number;
  arrivals: number;
  /** Arriving rows that opened a lot on `to` (an expiry or a priority came along). */
  lotArrivals: number;
  /** `expire` rows of lots that arrived by a transfer. */
  expiredArrivals: number;
  /** Σ amount of the rows that left, and of the rows that arrived. */
  outSum: number;
  inSum: number;
}

/**
 * Transfers straight from the rows, without the library's auditor: never half-applied. Every
 * `transfer_out` has arriving rows, all on one other account, at the same time, with its reason,
 * adding up to its amount; every `transfer_in` names an existing `transfer_out`.
 */
export async function auditTransferRows(db: Db): Promise<TransferAudit> {
  const problems = new Problems();
  const outs = await db.all(
    `SELECT o.pos, o.account, o.amount, o.created_at, o.reason,
            (SELECT COUNT(*) FROM credit_entry AS i WHERE i.ref = o.pos AND i.kind = 'transfer_in') AS n,
            (SELECT TOTAL(i.amount) FROM credit_entry AS i WHERE i.ref = o.pos AND i.kind = 'transfer_in') AS arrived,
            (SELECT COUNT(DISTINCT i.account) FROM credit_entry AS i WHERE i.ref = o.pos AND i.kind = 'transfer_in') AS targets,
            (SELECT COUNT(*) FROM credit_entry AS i WHERE i.ref = o.pos AND i.kind = 'transfer_in'
               AND (i.account = o.account OR i.created_at <> o.created_at OR i.reason IS NOT o.reason OR i.amount <= 0 OR i.delta <> i.amount)) AS odd
     FROM credit_entry AS o WHERE o.kind = 'transfer_out'`,
  );
  for (const o of outs) {
    if (Number(o.n) === 0 || Number(o.arrived) !== Number(o.amount) || Number(o.targets) !== 1 || Number(o.odd) > 0)
      problems.add('half-applied transfer', JSON.stringify(o));
  }
  const orphans = await db.all(
    `SELECT i.pos, i.account, i.ref, o.kind AS ref_kind FROM credit_entry AS i LEFT JOIN credit_entry AS o ON o.pos = i.ref
     WHERE i.kind = 'transfer_in' AND (o.pos IS NULL OR o.kind <> 'transfer_out')`,
  );
  for (const r of orphans) problems.add('transfer_in without its transfer_out', JSON.stringify(r));
  const [n] = await db.all(
    `SELECT (SELECT COUNT(*) FROM credit_entry WHERE kind = 'transfer_in') AS arrivals,
            (SELECT COUNT(*) FROM credit_entry WHERE kind = 'transfer_in' AND (expires_at IS NOT NULL OR priority IS NOT NULL)) AS lots,
            (SELECT COUNT(*) FROM credit_entry AS x JOIN credit_entry AS l ON l.pos = x.ref
               WHERE x.kind = 'expire' AND x.delta < 0 AND l.kind = 'transfer_in') AS expired,
            (SELECT TOTAL(amount) FROM credit_entry WHERE kind = 'transfer_out') AS out_sum,
            (SELECT TOTAL(amount) FROM credit_entry WHERE kind = 'transfer_in') AS in_sum`,
  );
  const outSum = Number(n?.out_sum);
  const inSum = Number(n?.in_sum);
  if (outSum !== inSum) problems.add('transfers do not sum to zero', `${outSum} left, ${inSum} arrived`);
  return {
    problems: problems.list(),
    transfers: outs.length,
    arrivals: Number(n?.arrivals),
    lotArrivals: Number(n?.lots),
    expiredArrivals: Number(n?.expired),
    outSum,
    inSum,
  };
}
