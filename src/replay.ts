/**
 * Replays the log to derive every projection (lots, holds) and each entry's allocations, and to check what
 * each guard promised at the moment it ran. The auditor compares this with what is
 * stored; rebuild() writes it. It is the same rules as the SQL, written a second time on
 * purpose: two implementations that agree are the check.
 */
import { CapsReplay, type CapsSink } from './caps/replay.js';
import { ALERT_KINDS, EventsReplay, type EventsSink } from './events/replay.js';
import { PRIORITY_DEFAULT } from './limits.js';
import { ofTerms, PlansReplay, type PlansSink } from './plans/replay.js';
import { TEAM_KINDS, TeamsReplay, type TeamsSink } from './teams/replay.js';
import type { HoldStatus, VerifyProblem } from './types.js';

export interface LogRow {
  id: string;
  account: string;
  seq: number;
  kind: string;
  delta: number;
  amount: number;
  balance: number;
  ref: string | null;
  expiresAt: number | null;
  priority: number | null;
  createdAt: number;
  model: string | null;
  keyId: string | null;
  actor: string | null;
  metadata: string | null;
  idempotencyKey: string | null;
}

export interface DerivedLot {
  id: string;
  account: string;
  seq: number;
  amount: number;
  remaining: number;
  priority: number;
  expiresAt: number | null;
  createdAt: number;
}

export interface DerivedHold {
  id: string;
  account: string;
  amount: number;
  expiresAt: number;
  status: HoldStatus;
  resolvedBy: string | null;
  createdAt: number;
  /** The hold's attribution (deny caps with filters count the open holds they match). */
  model: string | null;
  keyId: string | null;
  actor: string | null;
}

export interface DerivedAllocation {
  entryId: string;
  lotId: string;
  account: string;
  amount: number;
  ord: number;
}

interface AccountState {
  lots: DerivedLot[];
  holds: Map<string, DerivedHold>;
  /** entry id → its allocations (debits, captures, negative adjusts, refunds), for refunds. */
  allocs: Map<string, DerivedAllocation[]>;
  /** original id → refund entry ids, in order. */
  refunds: Map<string, { id: string; amount: number }[]>;
  drawn: Map<string, { amount: number }>;
}

/** Receives the derived projections account by account; memory stays per account. */
export interface ReplaySink extends CapsSink, PlansSink, TeamsSink, EventsSink {
  lot(l: DerivedLot): void;
  hold(h: DerivedHold): void;
  problem(p: VerifyProblem): void;
}

const expired = (s: AccountState, at: number) =>
  s.lots.reduce((n, l) => n + (l.remaining > 0 && l.expiresAt !== null && l.expiresAt <= at ? l.remaining : 0), 0);
const held = (s: AccountState, at: number) => {
  let n = 0;
  for (const h of s.holds.values()) if (h.status === 'open' && h.expiresAt > at) n += h.amount;
  return n;
};

function drawOrder(a: DerivedLot, b: DerivedLot): number {
  if (a.priority !== b.priority) return a.priority - b.priority;
  if ((a.expiresAt === null) !== (b.expiresAt === null)) return a.expiresAt === null ? 1 : -1;
  if (a.expiresAt !== null && b.expiresAt !== null && a.expiresAt !== b.expiresAt) return a.expiresAt - b.expiresAt;
  return a.seq - b.seq;
}

/** Replays one account's rows (in seq order) and emits its projections. */
export class AccountReplay {
  private readonly s: AccountState = { lots: [], holds: new Map(), allocs: new Map(), refunds: new Map(), drawn: new Map() };
  private balance = 0;
  /** Spend caps and the floor (src/caps/replay.ts). */
  readonly caps: CapsReplay;
  /** Plan definitions and the subscription (src/plans/replay.ts). */
  readonly plans: PlansReplay;
  /** The team's membership, when the account is a team (src/teams/replay.ts). */
  readonly teams: TeamsReplay;
  /** The account's alerts and the events its rows wrote (src/events/replay.ts). */
  readonly events: EventsReplay;
  /** The idempotency key of each grant that opened a lot (allowances lapse with their terms). */
  private readonly lotKeys = new Map<string, string | null>();

  constructor(
    readonly account: string,
    private readonly sink: ReplaySink,
  ) {
    this.events = new EventsReplay(account, sink);
    this.caps = new CapsReplay(account, sink, this.events);
    this.plans = new PlansReplay(account, sink);
    this.teams = new TeamsReplay(account, sink);
  }

  /** Available (unclamped) at `at` with the posted balance `posted`, as the alert triggers compute it. */
  private available(posted: number, at: number): number {
    return posted - expired(this.s, at) - held(this.s, at) - this.caps.floor;
  }

  /** Applies one row; returns the allocations the rules give it (to compare with the stored ones). */
  apply(r: LogRow): DerivedAllocation[] {
    const watching = this.events.watching(r);
    const before = watching ? this.available(r.balance - r.delta, r.createdAt) : 0;
    this.applyRow(r);
    this.events.row(r, before, watching ? this.available(r.balance, r.createdAt) : 0);
    return this.s.allocs.get(r.id) ?? [];
  }

  private applyRow(r: LogRow): void {
    const s = this.s;
    this.plans.observe(r);
    const at = { account: r.account, entryId: r.id, seq: r.seq };
    const before = this.balance;
    this.balance = r.balance; // balance chain itself is checked by the caller
    const spendable = before - expired(s, r.createdAt) - held(s, r.createdAt);
    const covers = (need: number, what: string) => {
      if (spendable - need < this.caps.floor) {
        this.sink.problem({
          code: 'below_floor',
          ...at,
          message: `${what} of ${need} with only ${spendable} available at ${r.createdAt} (floor ${this.caps.floor})`,
        });
      }
    };
    if (ALERT_KINDS.has(r.kind)) return; // src/events/replay.ts
    if (TEAM_KINDS.has(r.kind)) {
      this.teams.config(r);
      return;
    }
    switch (r.kind) {
      case 'grant':
      case 'transfer_in':
        // A transfer's arriving row keeps the lot it came from open on this account (src/transfers/audit.ts checks the pair).
        if (r.kind === 'grant') this.plans.grant(r);
        if (r.expiresAt !== null || r.priority !== null) {
          this.lotKeys.set(r.id, r.idempotencyKey);
          s.lots.push({
            id: r.id,
            account: r.account,
            seq: r.seq,
            amount: r.amount,
            remaining: r.amount,
            priority: r.priority ?? PRIORITY_DEFAULT,
            expiresAt: r.expiresAt,
            createdAt: r.createdAt,
          });
        }
        break;
      case 'debit':
      case 'transfer_out':
        covers(r.amount, r.kind === 'debit' ? 'debit' : 'transfer');
        this.teams.checkSpend(r);
        this.caps.checkSpend(r, s.holds.values());
        this.draw(r);
        this.caps.count(r);
        break;
      case 'cap_set':
      case 'cap_remove':
      case 'floor_set':
        this.caps.config(r);
        break;
      case 'plan_define':
      case 'plan_subscribe':
      case 'plan_change':
      case 'plan_cancel': {
        // An immediate change or a cancellation now: the allowance and rollover of the ended terms lapse now,
        // drawn to zero or not (a refund may give credits back to them later).
        const ended = this.plans.config(r);
        if (ended !== null) {
          for (const l of s.lots) {
            if (l.expiresAt !== null && l.expiresAt > r.createdAt && ofTerms(this.lotKeys.get(l.id) ?? null, ended)) {
              l.expiresAt = r.createdAt;
            }
          }
        }
        break;
      }
      case 'adjust':
        if (r.delta < 0) {
          covers(r.amount, 'negative adjustment');
          this.draw(r);
        }
        break;
      case 'hold':
        covers(r.amount, 'hold');
        this.teams.checkSpend(r);
        this.caps.checkSpend(r, s.holds.values());
        s.holds.set(r.id, {
          id: r.id,
          account: r.account,
          amount: r.amount,
          expiresAt: r.expiresAt ?? 0,
          status: 'open',
          resolvedBy: null,
          createdAt: r.createdAt,
          model: r.model,
          keyId: r.keyId,
          actor: r.actor,
        });
        break;
      case 'capture':
      case 'release':
      case 'extend': {
        const h = r.ref === null ? undefined : s.holds.get(r.ref);
        if (h === undefined || h.status !== 'open' || h.expiresAt <= r.createdAt) {
          this.sink.problem({ code: 'hold_resolution', ...at, message: `${r.kind} of hold ${r.ref} that was not open and live` });
          break;
        }
        if (r.kind === 'extend') {
          h.expiresAt = r.expiresAt ?? h.expiresAt;
        } else if (r.kind === 'release') {
          h.status = 'released';
          h.resolvedBy = r.id;
        } else {
          covers(r.amount - h.amount, 'capture beyond the hold');
          this.teams.checkSpend(r);
          this.caps.checkSpend(r, s.holds.values(), h);
          h.status = 'captured';
          h.resolvedBy = r.id;
          this.draw(r);
          this.caps.count(r);
        }
        break;
      }
      case 'refund':
        this.giveBack(r);
        this.caps.uncount(r);
        break;
      case 'expire': {
        const ref = r.ref ?? '';
        const h = s.holds.get(ref);
        if (h !== undefined) {
          if (r.delta !== 0 || r.amount !== h.amount) {
            this.sink.problem({
              code: 'bad_delta',
              ...at,
              message: `expire of hold ${ref} (${h.amount}) with delta ${r.delta} and amount ${r.amount}; a lapsed hold moves no credits`,
            });
          }
          if (h.status !== 'open' || h.expiresAt > r.createdAt) {
            this.sink.problem({ code: 'hold_resolution', ...at, message: `expire of hold ${ref} that was not open and lapsed` });
          }
          h.status = 'expired';
          h.resolvedBy = r.id;
          break;
        }
        const lot = s.lots.find((l) => l.id === ref);
        // An expiry moves exactly what was left of a lapsed lot off the posted balance: a row
        // that says so with another delta creates or destroys money.
        if (r.delta !== -r.amount) {
          this.sink.problem({ code: 'bad_delta', ...at, message: `expire of lot ${ref} with delta ${r.delta}, not −${r.amount}` });
        }
        if (lot === undefined || lot.expiresAt === null || lot.expiresAt > r.createdAt || lot.remaining !== r.amount) {
          this.sink.problem({
            code: 'lot_mismatch',
            ...at,
            message: `expire of ${r.amount} from lot ${ref}, which had ${lot?.remaining ?? 'nothing'} lapsed`,
          });
        }
        if (lot !== undefined) {
          lot.remaining -= r.amount;
          this.emitAlloc({ entryId: r.id, lotId: lot.id, account: r.account, amount: r.amount, ord: 1 });
        }
        break;
      }
    }
  }

  private emitAlloc(a: DerivedAllocation) {
    const list = this.s.allocs.get(a.entryId) ?? [];
    list.push(a);
    this.s.allocs.set(a.entryId, list);
  }

  /** Draw lots for `r.amount` in the documented order, from lots live at `r.createdAt`. */
  private draw(r: LogRow) {
    const open = this.s.lots.filter((l) => l.remaining > 0 && (l.expiresAt === null || l.expiresAt > r.createdAt)).sort(drawOrder);
    let left = r.amount;
    let ord = 0;
    for (const l of open) {
      if (left <= 0) break;
      const take = Math.min(l.remaining, left);
      l.remaining -= take;
      left -= take;
      this.emitAlloc({ entryId: r.id, lotId: l.id, account: r.account, amount: take, ord: ++ord });
    }
  }

  /** Refunds: the unlotted part comes back first, then lots in reverse draw order. */
  private giveBack(r: LogRow) {
    const s = this.s;
    const orig = r.ref ?? '';
    const origAllocs = s.allocs.get(orig) ?? [];
    const priors = s.refunds.get(orig) ?? [];
    const refundedBefore = priors.reduce((n, p) => n + p.amount, 0);
    let lotsBack = 0;
    const returned = new Map<string, number>();
    for (const p of priors) {
      for (const a of s.allocs.get(p.id) ?? []) {
        lotsBack += -a.amount;
        returned.set(a.lotId, (returned.get(a.lotId) ?? 0) + -a.amount);
      }
    }
    priors.push({ id: r.id, amount: r.amount });
    s.refunds.set(orig, priors);
    const origAmount = this.drawnAmount(orig);
    const unlotted = origAmount - origAllocs.reduce((n, a) => n + a.amount, 0);
    const toLots = r.amount - Math.min(r.amount, Math.max(0, unlotted - (refundedBefore - lotsBack)));
    let before = 0;
    let ord = 0;
    for (const a of [...origAllocs].sort((x, y) => y.ord - x.ord)) {
      const room = a.amount - (returned.get(a.lotId) ?? 0);
      if (room <= 0) continue;
      if (before >= toLots) break;
      const give = Math.min(room, toLots - before);
      before += room;
      const lot = s.lots.find((l) => l.id === a.lotId);
      if (lot) lot.remaining += give;
      this.emitAlloc({ entryId: r.id, lotId: a.lotId, account: r.account, amount: -give, ord: ++ord });
    }
  }

  /** Amount of an earlier debit/capture of this account (recorded as it was replayed). */
  private drawnAmount(id: string): number {
    return this.s.drawn.get(id)?.amount ?? 0;
  }

  /** Remember money-out rows' amounts for refunds; call for every row before apply(). */
  remember(r: LogRow) {
    if (r.kind === 'debit' || r.kind === 'capture') this.s.drawn.set(r.id, { amount: r.amount });
  }

  /** Emit the account's final lots, holds, caps and floor. */
  finish() {
    for (const l of this.s.lots) this.sink.lot(l);
    for (const h of this.s.holds.values()) this.sink.hold(h);
    this.caps.finish();
    this.plans.finish();
    this.teams.finish();
    this.events.finish();
  }
}
