import { compareCaps } from './caps/audit.js';
import type { DerivedCap, DerivedFloor } from './caps/replay.js';
import { digestDifference, parseDigest } from './digest.js';
import { num } from './entry.js';
import { compareEvents } from './events/audit.js';
import type { DerivedAlert, ExpectedEvent } from './events/replay.js';
import type { Ids } from './ids.js';
import { MAX_AMOUNT, VERIFY_MAX_PROBLEMS, VERIFY_PAGE_ROWS } from './limits.js';
import { REFUNDABLE_KINDS } from './ops/refund.js';
import { comparePlans, type DerivedPlan, type DerivedSubscription } from './plans/replay.js';
import { comparePricing } from './pricing/audit.js';
import { auditCharges } from './pricing/charges.js';
import { PRICING_KINDS, PricingReplay } from './pricing/replay.js';
import { AccountReplay, type DerivedAllocation, type DerivedHold, type DerivedLot, type LogRow } from './replay.js';
import type { Row, Runner } from './runner/index.js';
import { ENTRY_KINDS } from './schema.js';
import { compareTeams, type DerivedTeams, memberKey } from './teams/audit.js';
import type { DerivedMember, DerivedTeam } from './teams/replay.js';
import { auditTransfers } from './transfers/audit.js';
import type { VerifyProblem, VerifyReport } from './types.js';
import { verifyUsage } from './usage/verify.js';

const isMoney = (v: number) => Number.isSafeInteger(v) && Math.abs(v) <= MAX_AMOUNT;

/** Per kind: is this (delta, amount) pair well formed? */
const DELTA_RULES: Record<string, (delta: number, amount: number) => boolean> = {
  grant: (d, a) => a >= 1 && d === a,
  debit: (d, a) => a >= 1 && d === -a,
  refund: (d, a) => a >= 1 && d === a,
  adjust: (d, a) => a >= 1 && Math.abs(d) === a,
  hold: (d, a) => a >= 1 && d === 0,
  capture: (d, a) => a >= 1 && d === -a,
  release: (d, a) => a >= 1 && d === 0,
  extend: (d, a) => a >= 1 && d === 0,
  expire: (d, a) => a >= 1 && (d === -a || d === 0),
  // Configuration rows move nothing.
  cap_set: (d, a) => d === 0 && a === 0,
  cap_remove: (d, a) => d === 0 && a === 0,
  floor_set: (d, a) => d === 0 && a === 0,
  plan_define: (d, a) => d === 0 && a === 0,
  plan_subscribe: (d, a) => d === 0 && a === 0,
  plan_change: (d, a) => d === 0 && a === 0,
  plan_cancel: (d, a) => d === 0 && a === 0,
  pricing_publish: (d, a) => d === 0 && a === 0,
  pricing_activate: (d, a) => d === 0 && a === 0,
  transfer_out: (d, a) => a >= 1 && d === -a,
  transfer_in: (d, a) => a >= 1 && d === a,
  team_create: (d, a) => d === 0 && a === 0,
  team_add: (d, a) => d === 0 && a === 0,
  team_role: (d, a) => d === 0 && a === 0,
  team_remove: (d, a) => d === 0 && a === 0,
  alert_set: (d, a) => d === 0 && a === 0,
  alert_remove: (d, a) => d === 0 && a === 0,
};

const nullableNum = (v: unknown) => (v === null || v === undefined ? null : num(v));

export interface Derived {
  lots: Map<string, DerivedLot>;
  holds: Map<string, DerivedHold>;
  /** Caps by the id (pos) of the row that set them, and floors by account. */
  caps: Map<string, DerivedCap>;
  floors: Map<string, DerivedFloor>;
  /** Plan versions by id and version, subscriptions by account (src/plans/replay.ts). */
  plans: Map<string, DerivedPlan>;
  subscriptions: Map<string, DerivedSubscription>;
  /** Pricing versions and the active one, from the `$pricing` log. */
  pricing: PricingReplay;
  /** Teams by account, members by team and member (src/teams/replay.ts). */
  teams: DerivedTeams['teams'];
  members: DerivedTeams['members'];
  /** Alerts by account and threshold, and the events the log implies, by account in row order (src/events/replay.ts). */
  alerts: DerivedAlert[];
  events: Map<string, ExpectedEvent[]>;
  /** The outbox's start (credit_outbox.since): rows at or before it expect no event. */
  outboxSince: number;
  /** Allocation pairs the replay derived (and compared with each entry's stored ones). */
  allocations: number;
  accounts: number;
  entries: number;
  outstanding: number;
  /** Highest rowid of the log when the replay read it (rebuild uses it to detect writers). */
  lastRowid: number;
}

/**
 * Replays every account's log from seq 1, in pages of bounded size, checking each row
 * against the running state and deriving the projections. It trusts nothing written on a
 * row: a row edited, inserted or deleted behind the library's back shows up as a problem.
 */
export async function replayLog(runner: Runner, report: (p: VerifyProblem) => void): Promise<Derived> {
  const d: Derived = {
    lots: new Map(),
    holds: new Map(),
    caps: new Map(),
    floors: new Map(),
    plans: new Map(),
    subscriptions: new Map(),
    pricing: new PricingReplay(report),
    teams: new Map(),
    members: new Map(),
    alerts: [],
    events: new Map(),
    outboxSince: 0,
    allocations: 0,
    accounts: 0,
    entries: 0,
    outstanding: 0,
    lastRowid: 0,
  };
  const sink = {
    lot: (l: DerivedLot) => d.lots.set(l.id, l),
    hold: (h: DerivedHold) => d.holds.set(h.id, h),
    cap: (c: DerivedCap) => d.caps.set(c.id, c),
    floor: (f: DerivedFloor) => d.floors.set(f.account, f),
    plan: (p: DerivedPlan) => d.plans.set(`${p.id}\u0000${p.version}`, p),
    subscription: (s: DerivedSubscription) => d.subscriptions.set(s.account, s),
    planOf: (id: string, version: number) => d.plans.get(`${id}\u0000${version}`),
    team: (t: DerivedTeam) => d.teams.set(t.team, t),
    member: (m: DerivedMember) => d.members.set(memberKey(m.team, m.member), m),
    get outboxSince() {
      return d.outboxSince;
    },
    event: (e: ExpectedEvent) => {
      const list = d.events.get(e.account);
      if (list === undefined) d.events.set(e.account, [e]);
      else list.push(e);
    },
    alert: (a: DerivedAlert) => d.alerts.push(a),
    problem: report,
  };
  const [[top] = [], [outbox] = []] = await runner.read([
    { sql: 'SELECT COALESCE(MAX(rowid), 0) AS r FROM credit_entry', args: [] },
    { sql: 'SELECT since FROM credit_outbox WHERE id = 1', args: [] },
  ]);
  d.lastRowid = num(top?.r);
  // No outbox row (it was deleted): every row is expected to have written its events.
  d.outboxSince = num(outbox?.since);
  let replay: AccountReplay | null = null;
  let expectedSeq = 1;
  let running = 0;
  let after: [string, number] = ['', 0];
  for (;;) {
    const [rows = []] = await runner.read([
      {
        sql: `SELECT pos, account, seq, kind, delta, amount, balance, ref, model, key_id, actor, metadata, expires_at, priority, created_at, allocations, idempotency_key FROM credit_entry
              WHERE (account, seq) > (?, ?) AND rowid <= ? ORDER BY account, seq LIMIT ?`,
        args: [after[0], after[1], d.lastRowid, VERIFY_PAGE_ROWS],
      },
    ]);
    for (const raw of rows) {
      const r = toLogRow(raw);
      d.entries++;
      if (replay === null || r.account !== replay.account) {
        if (replay !== null) {
          replay.finish();
          d.outstanding += running;
        }
        replay = new AccountReplay(r.account, sink);
        d.accounts++;
        expectedSeq = 1;
        running = 0;
      }
      const at = { account: r.account, entryId: r.id, seq: r.seq };
      if (r.seq !== expectedSeq) report({ code: 'seq_gap', ...at, message: `expected seq ${expectedSeq}, found ${r.seq}` });
      expectedSeq = r.seq + 1;
      if (!isMoney(r.delta) || !isMoney(r.amount) || !isMoney(r.balance)) {
        report({
          code: 'bad_amount',
          ...at,
          message: `delta ${r.delta}, amount ${r.amount}, balance ${r.balance} are not exact integers in range`,
        });
      }
      if (!(ENTRY_KINDS as readonly string[]).includes(r.kind)) {
        report({ code: 'unknown_kind', ...at, message: `unknown kind "${r.kind}"` });
      } else if (!DELTA_RULES[r.kind]?.(r.delta, r.amount)) {
        report({ code: 'bad_delta', ...at, message: `${r.kind} with delta ${r.delta} and amount ${r.amount}` });
      }
      const expected = running + r.delta;
      running = expected;
      if (r.balance !== expected) {
        // Each broken link is reported where it breaks: an edited delta once; an edited
        // balance twice (the row, and the next row that was computed from the true one).
        report({ code: 'balance_mismatch', ...at, message: `stored balance ${r.balance} ≠ previous balance + delta = ${expected}` });
        running = r.balance;
      }
      if (raw.metadata !== null && raw.metadata !== undefined) {
        try {
          JSON.parse(String(raw.metadata));
        } catch {
          report({ code: 'bad_metadata', ...at, message: 'metadata is not JSON' });
        }
      }
      replay.remember(r);
      const derived = replay.apply(r);
      if (PRICING_KINDS.has(r.kind)) d.pricing.apply(r);
      // Only a spend under a negative floor takes a balance below 0 (each spend's own floor
      // is checked by the replay); a later, higher floor does not make that balance wrong.
      const lowest = replay.caps.lowestFloor;
      if (r.balance < lowest) report({ code: 'below_floor', ...at, message: `balance ${r.balance} is below the floor ${lowest}` });
      d.allocations += derived.length;
      const stored = raw.allocations === null || raw.allocations === undefined ? null : String(raw.allocations);
      const problem = allocationDifference(stored, derived);
      if (problem !== null) report({ code: 'allocation_mismatch', ...at, message: problem });
    }
    const last = rows[rows.length - 1];
    if (last === undefined || rows.length < VERIFY_PAGE_ROWS) break;
    after = [String(last.account), num(last.seq)];
  }
  if (replay !== null) {
    replay.finish();
    d.outstanding += running;
  }
  return d;
}

/**
 * Why an entry's stored allocations differ from the replayed ones, or null when they agree
 * (same [lotId, amount] pairs in the same order; none stored as NULL).
 */
function allocationDifference(stored: string | null, derived: readonly DerivedAllocation[]): string | null {
  const want = derived.map((a) => [a.lotId, a.amount] as const);
  const wantText = want.length === 0 ? 'none' : JSON.stringify(want);
  if (stored === null) return want.length === 0 ? null : `no allocations stored, replayed ${wantText}`;
  let pairs: unknown;
  try {
    pairs = JSON.parse(stored);
  } catch {
    return 'stored allocations are not JSON';
  }
  const same =
    Array.isArray(pairs) &&
    pairs.length === want.length &&
    pairs.length > 0 &&
    pairs.every(
      (p, i) => Array.isArray(p) && p.length === 2 && Number.isSafeInteger(p[0]) && String(p[0]) === want[i]?.[0] && p[1] === want[i]?.[1],
    );
  return same ? null : `stored allocations ${stored.slice(0, 200)}, replayed ${wantText}`;
}

/**
 * The replay names rows by their position (as a decimal string); a problem reaches the
 * caller with the entry's public id.
 */
export function publicIds(ids: Ids, report: (p: VerifyProblem) => void): (p: VerifyProblem) => void {
  return (p) => report(p.entryId === undefined ? p : { ...p, entryId: ids.format(Number(p.entryId)) });
}

function toLogRow(r: Row): LogRow {
  return {
    id: String(r.pos),
    account: String(r.account),
    seq: num(r.seq),
    kind: String(r.kind),
    delta: num(r.delta),
    amount: num(r.amount),
    balance: num(r.balance),
    ref: r.ref === null || r.ref === undefined ? null : String(r.ref),
    expiresAt: nullableNum(r.expires_at),
    priority: nullableNum(r.priority),
    createdAt: num(r.created_at),
    model: nullableText(r.model),
    keyId: nullableText(r.key_id),
    actor: nullableText(r.actor),
    metadata: nullableText(r.metadata),
    idempotencyKey: nullableText(r.idempotency_key),
  };
}

const nullableText = (v: unknown) => (v === null || v === undefined ? null : String(v));

/** Streams a projection table in primary-key order, a page at a time. */
export async function* pages(runner: Runner, table: string, key: string[], columns = '*'): AsyncGenerator<Row> {
  let after: unknown[] | null = null;
  const cols = key.join(', ');
  for (;;) {
    const where: string = after === null ? '' : `WHERE (${cols}) > (${key.map(() => '?').join(', ')})`;
    const [rows = []]: Row[][] = await runner.read([
      { sql: `SELECT ${columns} FROM ${table} ${where} ORDER BY ${cols} LIMIT ?`, args: [...(after ?? []), VERIFY_PAGE_ROWS] },
    ]);
    for (const r of rows) yield r;
    const last: Row | undefined = rows[rows.length - 1];
    if (last === undefined || rows.length < VERIFY_PAGE_ROWS) return;
    after = key.map((k) => last[k]);
  }
}

/**
 * The auditor (TigerBeetle-style): replays the log, checks every row and every guard's
 * promise at the moment it ran, then compares the derived projections with the stored
 * ones and reports each difference.
 */
export async function verify(runner: Runner, ids: Ids, options: { digest?: string } = {}, now = Date.now()): Promise<VerifyReport> {
  // A malformed digest is misuse: refuse it before reading anything.
  const expected = options.digest === undefined ? undefined : parseDigest(options.digest);
  const problems: VerifyProblem[] = [];
  let problemCount = 0;
  const report = publicIds(ids, (p: VerifyProblem) => {
    problemCount++;
    if (problems.length < VERIFY_MAX_PROBLEMS) problems.push(p);
  });
  // The replay reads the log through its (account, seq) index only; SQLite's own check
  // sees damage to every other page (indexes, projections, free lists).
  for (const message of await quickCheck(runner)) report({ code: 'corrupt_file', message });
  const d = await replayLog(runner, report);
  if (expected !== undefined) {
    const difference = await digestDifference(runner, expected);
    if (difference !== null) report({ code: 'digest_mismatch', message: difference });
  }

  const same = (a: unknown, b: unknown) => (a ?? null) === (b ?? null);
  for await (const r of pages(runner, 'credit_lot', ['id'])) {
    const want = d.lots.get(String(r.id));
    d.lots.delete(String(r.id));
    if (want === undefined) {
      report({ code: 'lot_mismatch', account: String(r.account), entryId: String(r.id), message: 'stored lot has no grant that opens it' });
    } else if (
      !same(want.account, r.account) ||
      want.amount !== num(r.amount) ||
      want.remaining !== num(r.remaining) ||
      num(r.open) !== (want.remaining > 0 ? 1 : 0) ||
      want.priority !== num(r.priority) ||
      !same(want.expiresAt, nullableNum(r.expires_at)) ||
      want.seq !== num(r.seq)
    ) {
      report({
        code: 'lot_mismatch',
        account: want.account,
        entryId: want.id,
        message: `stored lot remaining ${num(r.remaining)} of ${num(r.amount)}, replayed ${want.remaining} of ${want.amount}`,
      });
    }
  }
  for (const l of d.lots.values())
    report({ code: 'lot_mismatch', account: l.account, entryId: l.id, message: 'lot missing from credit_lot' });

  for await (const r of pages(runner, 'credit_hold', ['id'])) {
    const want = d.holds.get(String(r.id));
    d.holds.delete(String(r.id));
    if (want === undefined) {
      report({ code: 'hold_mismatch', account: String(r.account), entryId: String(r.id), message: 'stored hold has no hold entry' });
    } else if (
      want.amount !== num(r.amount) ||
      want.expiresAt !== num(r.expires_at) ||
      want.status !== String(r.status) ||
      !same(want.resolvedBy, r.resolved_by === null || r.resolved_by === undefined ? null : String(r.resolved_by)) ||
      !same(want.account, r.account) ||
      !same(want.model, r.model) ||
      !same(want.keyId, r.key_id) ||
      !same(want.actor, r.actor)
    ) {
      report({
        code: 'hold_mismatch',
        account: want.account,
        entryId: want.id,
        message: `stored hold ${String(r.status)} ${num(r.amount)} until ${num(r.expires_at)}, replayed ${want.status} ${want.amount} until ${want.expiresAt}`,
      });
    }
  }
  for (const h of d.holds.values())
    report({ code: 'hold_mismatch', account: h.account, entryId: h.id, message: 'hold missing from credit_hold' });
  await compareCaps(
    // The counter as text: exact past 2^53 − 1, which a driver would round or refuse (libSQL).
    pages(
      runner,
      'credit_cap',
      ['id'],
      'id, account, cap_window, cap_limit, action, model, key_id, member, set_by, window_start, CAST(spent AS TEXT) AS spent_text, warned_window, reached_window',
    ),
    pages(runner, 'credit_floor', ['account']),
    d,
    report,
  );
  await comparePlans(pages(runner, 'credit_plan', ['id', 'version']), pages(runner, 'credit_subscription', ['account']), d, now, report);
  await comparePricing(pages(runner, 'credit_price_version', ['version']), pages(runner, 'credit_price_active', ['id']), d.pricing, report);
  await auditCharges(runner, d.pricing, report);
  await compareTeams(pages(runner, 'credit_team', ['team']), pages(runner, 'credit_team_member', ['team', 'member']), d, report);
  await compareEvents(pages(runner, 'credit_alert', ['account', 'low_balance']), pages(runner, 'credit_event', ['id']), d, report);
  await auditTransfers(runner, report);

  const kinds = REFUNDABLE_KINDS.map((k) => `'${k}'`).join(', ');
  const [refunds = [], dupes = []] = await runner.read([
    {
      // Grouped in SQL: memory stays bounded however many refunds there are.
      sql: `SELECT r.ref AS ref, r.account AS account, SUM(r.amount) AS refunded, MIN(r.pos) AS id,
                   o.pos AS oid, o.account AS oaccount, o.kind AS okind, o.amount AS oamount
            FROM credit_entry AS r LEFT JOIN credit_entry AS o ON o.pos = r.ref
            WHERE r.kind = 'refund'
            GROUP BY r.ref, r.account
            HAVING o.pos IS NULL OR o.kind NOT IN (${kinds}) OR o.account <> r.account OR SUM(r.amount) > o.amount`,
      args: [],
    },
    {
      sql: `SELECT account, kind, idempotency_key, COUNT(*) AS n FROM credit_entry
            WHERE idempotency_key IS NOT NULL GROUP BY account, kind, idempotency_key HAVING COUNT(*) > 1`,
      args: [],
    },
  ]);
  for (const r of refunds) {
    const at = { account: String(r.account), entryId: String(r.id) };
    if (r.oid === null || r.oid === undefined) {
      report({ code: 'refund_target', ...at, message: `refund of ${String(r.ref)}, which does not exist` });
    } else if (!(REFUNDABLE_KINDS as readonly string[]).includes(String(r.okind)) || r.oaccount !== r.account) {
      report({ code: 'refund_target', ...at, message: `refund of ${String(r.ref)}, a ${String(r.okind)} on ${String(r.oaccount)}` });
    } else {
      report({
        code: 'refund_exceeds',
        ...at,
        message: `refunds of ${String(r.ref)} total ${num(r.refunded)}, more than its ${num(r.oamount)}`,
      });
    }
  }
  for (const r of dupes) {
    report({
      code: 'duplicate_idempotency_key',
      account: String(r.account),
      message: `${String(r.kind)} key "${String(r.idempotency_key)}" used ${num(r.n)} times`,
    });
  }
  await verifyUsage(runner, report);
  return { ok: problemCount === 0, accounts: d.accounts, entries: d.entries, outstanding: d.outstanding, problemCount, problems };
}

/** `PRAGMA quick_check`, where the driver allows it (D1 may not: then nothing to add). */
async function quickCheck(runner: Runner): Promise<string[]> {
  let rows: Row[];
  try {
    [rows = []] = await runner.read([{ sql: 'PRAGMA quick_check', args: [] }]);
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    if (/not authorized|not allowed/i.test(msg)) return [];
    return [`PRAGMA quick_check failed: ${msg}`];
  }
  const lines = rows.map((r) => String(Object.values(r)[0]));
  return lines.length === 1 && lines[0] === 'ok' ? [] : lines.slice(0, 20);
}
