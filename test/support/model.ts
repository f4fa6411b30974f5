/**
 * A plain in-memory reference model of the ledger: what a careful reader of the README's
 * API and rules expects each call to do, with no SQL and no projections. Property tests run random
 * operation sequences against it and the real ledger and require them to agree.
 */
import {
  type CapAction,
  type CapWindow,
  MAX_AMOUNT,
  PRIORITY_DEFAULT,
  type PriceRounding,
  type RateCard,
  windowStart,
} from '../../src/index.js';
import { exactCost, rounded } from './rational.js';

/** Who spends: the model and actor a debit or hold is attributed to (spend caps filter on them). */
interface Spender {
  model?: string;
  actor?: string;
}

export type Op =
  | { op: 'grant'; account: string; amount: number; key?: string; expiresAt?: number; priority?: number }
  | ({ op: 'debit'; account: string; amount: number } & Spender)
  | ({ op: 'debitOnce'; account: string; amount: number; key: string } & Spender)
  | { op: 'refund'; target: number; amount?: number; key?: string }
  | { op: 'adjust'; account: string; delta: number; key?: string }
  | ({ op: 'hold'; account: string; amount: number; ttl: number } & Spender)
  // `open`: the test picks the target among holds still open (the model does not look at it).
  | { op: 'capture'; target: number; amount?: number; actor?: string; open?: boolean }
  | { op: 'release'; target: number }
  | { op: 'advance'; ms: number }
  | { op: 'sweep' }
  | { op: 'capSet'; account: string; window: CapWindow; limit: number; action: CapAction; model?: string; member?: string; key?: string }
  | { op: 'capRemove'; account: string; window: CapWindow; model?: string; member?: string; key?: string }
  | { op: 'floor'; account: string; floor: number; key?: string }
  | { op: 'publish'; rates: RateCard; rounding: PriceRounding }
  | { op: 'charge'; account: string; model: string; usage: Record<string, number>; key: string; actor?: string }
  | { op: 'teamCreate'; team: string; owner: string; name?: string }
  | { op: 'teamAdd'; team: string; member: string; role: MemberRole; actor?: string }
  | { op: 'teamRole'; team: string; member: string; role: MemberRole; actor?: string }
  | { op: 'teamRemove'; team: string; member: string; actor?: string }
  | { op: 'transfer'; from: string; to: string; amount: number; key?: string; actor?: string };

export type MemberRole = 'admin' | 'member' | 'viewer';
type TeamRole = MemberRole | 'owner';
/** Roles that may spend a team's credits, and roles that may change its members. */
const SPENDING: ReadonlySet<string> = new Set(['owner', 'admin', 'member']);
const MANAGING: ReadonlySet<string> = new Set(['owner', 'admin']);

/** A piece of a transfer as it arrives on `to`: amount, priority and expiry (null, null: unlotted). */
export type Arrival = [amount: number, priority: number | null, expiresAt: number | null];
/** Kinds that move credits (delta ≠ 0); every other kind is a config or hold row with delta 0. */
export const MONEY_KINDS = ['grant', 'debit', 'capture', 'refund', 'adjust', 'expire', 'transfer_out', 'transfer_in'] as const;

/** Config operations answer with an outcome and an entry, not balances. */
export const CONFIG_OPS: ReadonlySet<string> = new Set(['capSet', 'capRemove', 'floor', 'teamCreate', 'teamAdd', 'teamRole', 'teamRemove']);

/**
 * What a call returned, reduced to what both sides can be compared on. `headroom`: of the cap
 * a capped call reports (limit − spent − held); `warnings`: the ids of the warn caps an
 * applied call took over, sorted.
 */
export type Outcome =
  | {
      outcome: string;
      balance?: number;
      available?: number;
      entryId?: string;
      headroom?: number;
      warnings?: string[];
      /** A transfer: `to`'s numbers after it, and the pieces that arrived there. */
      to?: { balance: number; available: number };
      arrived?: Arrival[];
    }
  | { error: string };

/** A cap as `caps.list` reports it, reduced to what the model knows. */
export interface ModelCapView {
  id: string;
  window: CapWindow;
  limit: number;
  action: CapAction;
  model: string | null;
  member: string | null;
  spent: number;
  held: number;
}

const APPLIED = new Set(['granted', 'debited', 'refunded', 'adjusted', 'held', 'captured', 'released', 'transferred']);

/**
 * The call wrote its entry now, so the app's statements sent `with` it commit too. Not a
 * replay (the entry was written by an earlier call), not insufficient, not an error.
 */
export const appliedInCall = (o: Outcome): boolean => 'outcome' in o && APPLIED.has(o.outcome);

interface Lot {
  id: string;
  seq: number;
  amount: number;
  remaining: number;
  priority: number;
  expiresAt: number | null;
}
interface Hold extends Spender {
  id: string;
  account: string;
  amount: number;
  expiresAt: number;
  status: 'open' | 'captured' | 'released' | 'expired';
  capture?: { id: string; amount: number };
  release?: string;
}
interface MoneyOut extends Spender {
  id: string;
  account: string;
  kind: string;
  amount: number;
  refunded: number;
  createdAt: number;
  /** lot id → drawn, in draw order */
  drawn: { lot: string; amount: number; back: number }[];
}
interface Account {
  posted: number;
  seq: number;
  lots: Lot[];
  floor: number;
  /** Spend caps by identity (window and filters). */
  caps: Map<string, ModelCap>;
}

/** A cap: its setting only. Its spend is computed from the spends themselves (the counting rules). */
interface ModelCap {
  id: string;
  window: CapWindow;
  limit: number;
  action: CapAction;
  model: string | null;
  member: string | null;
}

/** The log position in an entry id (`ce_42` → 42): caps.list orders caps by it. */
const position = (id: string) => Number(/[0-9]+$/.exec(id)?.[0] ?? Number.NaN);
const capIdentity = (window: string, model?: string, member?: string) => JSON.stringify([window, model ?? null, member ?? null]);
const capMatches = (c: ModelCap, who: Spender) =>
  (c.model === null || c.model === who.model) && (c.member === null || c.member === who.actor);

export class Model {
  now: number;
  private readonly accounts = new Map<string, Account>();
  /** Every entry the ledger created, in order (refund targets are picked among them). */
  readonly entries: { id: string; account: string; kind: string }[] = [];
  readonly holds: Hold[] = [];
  private readonly outs = new Map<string, MoneyOut>();
  private readonly keys = new Map<string, { entryId: string; amount: number; ref?: string; extra?: string }>();
  private readonly amounts = new Map<string, number>();
  /** The active pricing version's card (the last one published). */
  private card: { rates: RateCard; rounding: PriceRounding } | null = null;
  /** Teams by account: owner, name, and each current member's role and when they joined. */
  private readonly teams = new Map<
    string,
    { owner: string; name: string | null; members: Map<string, { role: TeamRole; since: number }> }
  >();
  /** Σ delta of every row written, by kind (exact: BigInt). */
  readonly sums = new Map<string, bigint>();
  /** Keyed transfers by (from, key): what the original did, for replays. */
  private readonly transfers = new Map<string, { entryId: string; amount: number; to: string; actor: string | null; arrived: Arrival[] }>();

  constructor(now: number) {
    this.now = now;
  }

  private acct(a: string): Account {
    let s = this.accounts.get(a);
    if (!s) {
      s = { posted: 0, seq: 0, lots: [], floor: 0, caps: new Map() };
      this.accounts.set(a, s);
    }
    return s;
  }

  private expired(a: string) {
    return this.acct(a).lots.reduce(
      (n, l) => n + (l.remaining > 0 && l.expiresAt !== null && l.expiresAt <= this.now ? l.remaining : 0),
      0,
    );
  }
  private held(a: string) {
    return this.holds.reduce((n, h) => n + (h.account === a && h.status === 'open' && h.expiresAt > this.now ? h.amount : 0), 0);
  }
  /** The Balance numbers getBalance() must report. */
  balanceOf(a: string) {
    const balance = this.acct(a).posted - this.expired(a);
    const held = this.held(a);
    const floor = this.acct(a).floor;
    return { balance, held, available: Math.min(MAX_AMOUNT, Math.max(0, balance - held - floor)), floor };
  }
  private numbers(a: string) {
    const b = this.balanceOf(a);
    return { balance: b.balance, available: b.available };
  }
  private spendable(a: string) {
    return this.acct(a).posted - this.expired(a) - this.held(a) - this.acct(a).floor;
  }
  /** Available before clamping (posted − lapsed lots − open holds − floor): what balance.low compares. */
  availableOf(a: string): number {
    return this.spendable(a);
  }
  /** A configuration row the ledger wrote outside the ops the model knows (an alert): it takes a seq. */
  config(a: string, kind: string, id: string): void {
    this.write(a, kind, 0, id);
  }

  /** The cap's window spend now: debits and captures in the window matching it, less their refunds. */
  private capSpent(a: string, c: ModelCap) {
    const w = windowStart(c.window, this.now);
    let n = 0;
    for (const o of this.outs.values())
      if (
        o.account === a &&
        (o.kind === 'debit' || o.kind === 'capture' || o.kind === 'transfer_out') &&
        capMatches(c, o) &&
        windowStart(c.window, o.createdAt) === w
      )
        n += o.amount - o.refunded;
    return n;
  }
  private capHeld(a: string, c: ModelCap) {
    return this.holds.reduce(
      (n, h) => n + (h.account === a && h.status === 'open' && h.expiresAt > this.now && capMatches(c, h) ? h.amount : 0),
      0,
    );
  }

  /** Every cap of the account as caps.list reports it, by id. */
  capsOf(a: string): ModelCapView[] {
    return [...this.acct(a).caps.values()]
      .map((c) => ({
        id: c.id,
        window: c.window,
        limit: c.limit,
        action: c.action,
        model: c.model,
        member: c.member,
        spent: this.capSpent(a, c),
        held: this.capHeld(a, c),
      }))
      .sort((x, y) => position(x.id) - position(y.id));
  }

  /**
   * What the caps say about spending `amount` as `who` (a capture: settling hold `settled`,
   * which counts already where it matches): the least headroom among the deny caps it would
   * take past their limit (undefined: none refuses), and the warn caps it takes over.
   */
  private capCheck(a: string, who: Spender, amount: number, settled?: Hold): { headroom?: number; warn: string[] } {
    let headroom: number | undefined;
    const warn: string[] = [];
    for (const c of this.acct(a).caps.values()) {
      if (!capMatches(c, who) || c.action === 'notify') continue;
      const inc = amount - (settled !== undefined && capMatches(c, settled) ? settled.amount : 0);
      const room = c.limit - this.capSpent(a, c) - this.capHeld(a, c);
      if (inc <= 0 || inc <= room) continue;
      if (c.action === 'warn') warn.push(c.id);
      else headroom = Math.min(headroom ?? room, room);
    }
    return { headroom, warn: warn.sort() };
  }

  /** `extra`: the warn caps an applied call took over, when there are any. */
  private static warned(warn: string[]) {
    return warn.length === 0 ? {} : { warnings: warn };
  }

  /** Applies `op`; `newId` is the id the real ledger gave the entry it wrote (ids are its to choose). */
  apply(op: Op, target: string | undefined, newId: string | undefined, arrivals?: readonly string[]): Outcome {
    switch (op.op) {
      case 'teamCreate':
      case 'teamAdd':
      case 'teamRole':
      case 'teamRemove':
        return this.team(op, newId);
      case 'transfer':
        return this.transfer(op, newId, arrivals ?? []);
      case 'advance':
        this.now += op.ms;
        return { outcome: 'advanced' };
      case 'sweep':
        return this.sweep();
      case 'grant':
        return this.keyed(op.account, 'grant', op.key, { amount: op.amount, extra: lotSignature(op) }, () => {
          const s = this.acct(op.account);
          if (op.expiresAt !== undefined && op.expiresAt <= this.now) return { error: 'invalid_argument' };
          if (s.posted + op.amount > MAX_AMOUNT) return { error: 'overflow' };
          const id = this.write(op.account, 'grant', op.amount, newId);
          if (op.expiresAt !== undefined || (op.priority !== undefined && op.priority !== PRIORITY_DEFAULT)) {
            s.lots.push({
              id,
              seq: s.seq,
              amount: op.amount,
              remaining: op.amount,
              priority: op.priority ?? PRIORITY_DEFAULT,
              expiresAt: op.expiresAt ?? null,
            });
          }
          return { outcome: 'granted', ...this.numbers(op.account), entryId: id };
        });
      case 'debit':
        return this.debit(op.account, op.amount, op, newId);
      case 'publish':
        this.card = { rates: op.rates, rounding: op.rounding };
        return { outcome: 'published' };
      case 'charge':
        return this.charge(op, newId);
      case 'debitOnce':
        // The model and actor are part of the request: a retry with others under the key conflicts.
        return this.keyed(
          op.account,
          'debit',
          op.key,
          { amount: op.amount, extra: JSON.stringify([op.model ?? null, op.actor ?? null]) },
          () => this.debit(op.account, op.amount, op, newId),
        );
      case 'adjust':
        return this.keyed(op.account, 'adjust', op.key, { amount: op.delta }, () => {
          const s = this.acct(op.account);
          if (op.delta > 0) {
            if (s.posted + op.delta > MAX_AMOUNT) return { error: 'overflow' };
            const id = this.write(op.account, 'adjust', op.delta, newId);
            return { outcome: 'adjusted', ...this.numbers(op.account), entryId: id };
          }
          if (s.seq === 0 || this.spendable(op.account) < -op.delta) return { outcome: 'insufficient', ...this.numbers(op.account) };
          const id = this.write(op.account, 'adjust', op.delta, newId);
          this.draw(op.account, id, 'adjust', -op.delta);
          return { outcome: 'adjusted', ...this.numbers(op.account), entryId: id };
        });
      case 'refund':
        return this.refund(op, target, newId);
      case 'hold': {
        if (this.forbids(op.account, op.actor)) return { error: 'forbidden' };
        if (this.acct(op.account).seq === 0 || this.spendable(op.account) < op.amount)
          return { outcome: 'insufficient', ...this.numbers(op.account) };
        const caps = this.capCheck(op.account, op, op.amount);
        if (caps.headroom !== undefined) return { outcome: 'capped', ...this.numbers(op.account), headroom: caps.headroom };
        const id = this.write(op.account, 'hold', 0, newId);
        this.holds.push({
          id,
          account: op.account,
          amount: op.amount,
          expiresAt: this.now + op.ttl,
          status: 'open',
          model: op.model,
          actor: op.actor,
        });
        return { outcome: 'held', ...this.numbers(op.account), entryId: id, ...Model.warned(caps.warn) };
      }
      case 'capSet':
        return this.capSet(op, newId);
      case 'capRemove':
        return this.keyed(op.account, 'cap_remove', op.key, { extra: capIdentity(op.window, op.model, op.member) }, () => {
          const caps = this.acct(op.account).caps;
          const k = capIdentity(op.window, op.model, op.member);
          if (!caps.has(k)) return { outcome: 'absent' };
          caps.delete(k);
          return { outcome: 'removed', entryId: this.write(op.account, 'cap_remove', 0, newId) };
        });
      case 'floor':
        return this.keyed(op.account, 'floor_set', op.key, { extra: String(op.floor) }, () => {
          const s = this.acct(op.account);
          if (op.key === undefined && s.floor === op.floor) return { outcome: 'replayed' };
          s.floor = op.floor;
          return { outcome: 'set', entryId: this.write(op.account, 'floor_set', 0, newId) };
        });
      case 'capture': {
        const h = this.holds.find((x) => x.id === target);
        if (h === undefined) return { error: 'not_found' };
        const amount = op.amount ?? h.amount;
        if (h.capture && (op.amount === undefined || op.amount === h.capture.amount)) {
          return { outcome: 'replayed', ...this.numbers(h.account), entryId: h.capture.id };
        }
        const st = this.statusOf(h);
        if (st === 'expired') return { error: 'hold_expired' };
        if (st !== 'open') return { error: 'hold_closed' };
        // The capture keeps the hold's model, and its actor unless the call names another: that
        // actor is the one a team's membership guard checks.
        const who: Spender = { model: h.model, actor: op.actor ?? h.actor };
        if (this.forbids(h.account, who.actor)) return { error: 'forbidden' };
        if (this.spendable(h.account) + h.amount < amount) return { outcome: 'insufficient', ...this.numbers(h.account) };
        const caps = this.capCheck(h.account, who, amount, h);
        if (caps.headroom !== undefined) return { outcome: 'capped', ...this.numbers(h.account), headroom: caps.headroom };
        const id = this.write(h.account, 'capture', -amount, newId);
        h.status = 'captured';
        h.capture = { id, amount };
        this.draw(h.account, id, 'capture', amount, who);
        return { outcome: 'captured', ...this.numbers(h.account), entryId: id, ...Model.warned(caps.warn) };
      }
      case 'release': {
        const h = this.holds.find((x) => x.id === target);
        if (h === undefined) return { error: 'not_found' };
        if (h.status === 'released' && h.release) return { outcome: 'replayed', ...this.numbers(h.account), entryId: h.release };
        const st = this.statusOf(h);
        if (st === 'expired') return { error: 'hold_expired' };
        if (st !== 'open') return { error: 'hold_closed' };
        const id = this.write(h.account, 'release', 0, newId);
        h.status = 'released';
        h.release = id;
        return { outcome: 'released', ...this.numbers(h.account), entryId: id };
      }
    }
  }

  private statusOf(h: Hold) {
    return h.status === 'open' && h.expiresAt <= this.now ? 'expired' : h.status;
  }

  private write(account: string, kind: string, delta: number, newId: string | undefined): string {
    const s = this.acct(account);
    s.posted += delta;
    s.seq++;
    this.sums.set(kind, (this.sums.get(kind) ?? 0n) + BigInt(delta));
    const id = newId ?? `missing-${this.entries.length}`;
    // Sweep rows have ids the model cannot know; they are not offered as refund targets.
    if (kind !== 'expire') this.entries.push({ id, account, kind });
    this.amounts.set(id, Math.abs(delta));
    return id;
  }

  /**
   * Priced with the model's own rational arithmetic, rounded once; then a keyed debit. The key
   * replays a charge of the same model, usage and actor whatever the price is now (its amount is
   * not compared); a cost of 0 writes nothing, before any key is looked at.
   */
  private charge(op: Extract<Op, { op: 'charge' }>, newId: string | undefined): Outcome {
    const rates = this.card?.rates[op.model];
    if (this.card === null || rates === undefined || Object.keys(op.usage).some((m) => rates[m] === undefined))
      return { error: 'invalid_argument' };
    const credits = rounded(exactCost(rates, op.usage), this.card.rounding);
    if (credits > BigInt(MAX_AMOUNT)) return { error: 'overflow' };
    if (credits === 0n) return { outcome: 'free' };
    const usage = Object.fromEntries(Object.entries(op.usage).sort(([a], [b]) => (a < b ? -1 : 1)));
    return this.keyed(op.account, 'debit', op.key, { extra: JSON.stringify(['charge', op.model, usage, op.actor ?? null]) }, () =>
      this.debit(op.account, Number(credits), { model: op.model, actor: op.actor }, newId),
    );
  }

  private debit(account: string, amount: number, who: Spender, newId: string | undefined): Outcome {
    if (this.forbids(account, who.actor)) return { error: 'forbidden' };
    if (this.acct(account).seq === 0 || this.spendable(account) < amount) return { outcome: 'insufficient', ...this.numbers(account) };
    const caps = this.capCheck(account, who, amount);
    if (caps.headroom !== undefined) return { outcome: 'capped', ...this.numbers(account), headroom: caps.headroom };
    const id = this.write(account, 'debit', -amount, newId);
    this.draw(account, id, 'debit', amount, who);
    return { outcome: 'debited', ...this.numbers(account), entryId: id, ...Model.warned(caps.warn) };
  }

  /** caps.set: with a key, written unless the key was used; without, nothing when exactly this cap is in force. */
  private capSet(op: Extract<Op, { op: 'capSet' }>, newId: string | undefined): Outcome {
    const setting = JSON.stringify([op.window, op.limit, op.action, op.model ?? null, op.member ?? null]);
    return this.keyed(op.account, 'cap_set', op.key, { extra: setting }, () => {
      const caps = this.acct(op.account).caps;
      const k = capIdentity(op.window, op.model, op.member);
      const existing = caps.get(k);
      if (op.key === undefined && existing !== undefined && existing.limit === op.limit && existing.action === op.action)
        return { outcome: 'replayed' };
      const id = this.write(op.account, 'cap_set', 0, newId);
      if (existing !== undefined) {
        existing.limit = op.limit;
        existing.action = op.action;
      } else {
        caps.set(k, { id, window: op.window, limit: op.limit, action: op.action, model: op.model ?? null, member: op.member ?? null });
      }
      return { outcome: 'set', entryId: id };
    });
  }

  /** Lots by priority, soonest expiry (never last), oldest; live ones only; unlotted rest last. */
  private draw(account: string, id: string, kind: string, amount: number, who: Spender = {}): MoneyOut {
    const live = this.acct(account)
      .lots.filter((l) => l.remaining > 0 && (l.expiresAt === null || l.expiresAt > this.now))
      .sort(
        (a, b) =>
          a.priority - b.priority || (a.expiresAt ?? Number.POSITIVE_INFINITY) - (b.expiresAt ?? Number.POSITIVE_INFINITY) || a.seq - b.seq,
      );
    const out: MoneyOut = { id, account, kind, amount, refunded: 0, createdAt: this.now, model: who.model, actor: who.actor, drawn: [] };
    let left = amount;
    for (const l of live) {
      if (left === 0) break;
      const take = Math.min(left, l.remaining);
      l.remaining -= take;
      left -= take;
      out.drawn.push({ lot: l.id, amount: take, back: 0 });
    }
    this.outs.set(id, out);
    return out;
  }

  private refund(op: Extract<Op, { op: 'refund' }>, target: string | undefined, newId: string | undefined): Outcome {
    const e = this.entries.find((x) => x.id === target);
    if (e === undefined) return { error: 'not_found' };
    return this.keyed(e.account, 'refund', op.key, { amount: op.amount, ref: e.id }, () => {
      const out = this.outs.get(e.id);
      if (out === undefined || (out.kind !== 'debit' && out.kind !== 'capture')) return { error: 'not_refundable' };
      const remaining = out.amount - out.refunded;
      const amount = op.amount ?? remaining;
      if (remaining === 0 || amount > remaining) return { error: 'exceeds_refundable' };
      if (this.acct(e.account).posted + amount > MAX_AMOUNT) return { error: 'overflow' };
      const id = this.write(e.account, 'refund', amount, newId);
      // The unlotted part was drawn last and comes back first; then lots in reverse order.
      const unlottedLeft =
        out.amount - out.drawn.reduce((n, d) => n + d.amount, 0) - (out.refunded - out.drawn.reduce((n, d) => n + d.back, 0));
      let toLots = amount - Math.min(amount, Math.max(0, unlottedLeft));
      for (const d of [...out.drawn].reverse()) {
        if (toLots === 0) break;
        const give = Math.min(toLots, d.amount - d.back);
        if (give <= 0) continue;
        d.back += give;
        toLots -= give;
        const lot = this.acct(e.account).lots.find((l) => l.id === d.lot);
        if (lot) lot.remaining += give;
      }
      out.refunded += amount;
      return { outcome: 'refunded', ...this.numbers(e.account), entryId: id };
    });
  }

  private sweep(): Outcome {
    let lots = 0;
    let holds = 0;
    for (const [a, s] of this.accounts) {
      for (const l of s.lots) {
        if (l.remaining > 0 && l.expiresAt !== null && l.expiresAt <= this.now) {
          this.write(a, 'expire', -l.remaining, undefined);
          l.remaining = 0;
          lots++;
        }
      }
    }
    for (const h of this.holds) {
      if (h.status === 'open' && h.expiresAt <= this.now) {
        this.write(h.account, 'expire', 0, undefined);
        h.status = 'expired';
        holds++;
      }
    }
    return { outcome: `swept ${lots} lots ${holds} holds` };
  }

  /** A spend on team `account` naming `actor` who is not a member that may spend (a viewer, an outsider). */
  private forbids(account: string, actor: string | undefined): boolean {
    const t = this.teams.get(account);
    if (t === undefined || actor === undefined) return false;
    return !SPENDING.has(t.members.get(actor)?.role ?? '');
  }

  /** teams.create, addMember, setRole, removeMember: a config row on the team's log, or why not. */
  private team(op: Extract<Op, { op: 'teamCreate' | 'teamAdd' | 'teamRole' | 'teamRemove' }>, newId: string | undefined): Outcome {
    const t = this.teams.get(op.team);
    if (op.op === 'teamCreate') {
      if (t !== undefined)
        return t.owner === op.owner && t.name === (op.name ?? null) ? { outcome: 'replayed' } : { error: 'already_exists' };
      const entryId = this.write(op.team, 'team_create', 0, newId);
      this.teams.set(op.team, {
        owner: op.owner,
        name: op.name ?? null,
        members: new Map([[op.owner, { role: 'owner', since: this.now }]]),
      });
      return { outcome: 'created', entryId };
    }
    if (t === undefined) return { error: 'not_found' };
    const current = t.members.get(op.member);
    // Only the owner and admins may change members (a call without an actor is the app's own).
    const manages = op.actor === undefined || MANAGING.has(t.members.get(op.actor)?.role ?? '');
    // An actor who may not manage the team is forbidden before anything else is said (a
    // member may still leave on their own).
    if (!manages && !(op.op === 'teamRemove' && op.actor === op.member)) return { error: 'forbidden' };
    switch (op.op) {
      case 'teamAdd':
        if (current === undefined) {
          const entryId = this.write(op.team, 'team_add', 0, newId);
          t.members.set(op.member, { role: op.role, since: this.now });
          return { outcome: 'added', entryId };
        }
        return current.role === op.role ? { outcome: 'replayed' } : { error: 'already_exists' };
      case 'teamRole':
        if (current === undefined) return { error: 'not_found' };
        if (current.role === 'owner') return { error: 'forbidden' };
        if (current.role === op.role) return { outcome: 'replayed' };
        current.role = op.role;
        return { outcome: 'updated', entryId: this.write(op.team, 'team_role', 0, newId) };
      case 'teamRemove':
        if (current === undefined) return { outcome: 'absent' };
        if (current.role === 'owner') return { error: 'forbidden' };
        t.members.delete(op.member);
        return { outcome: 'removed', entryId: this.write(op.team, 'team_remove', 0, newId) };
    }
  }

  /**
   * transfer: guarded like a debit on `from` (the membership guard, covers, deny caps), then
   * `to`'s balance must stay ≤ MAX_AMOUNT. It draws `from`'s lots in draw order; each piece drawn
   * from a lot arrives on `to` as a lot with the same priority and expiry, in that order, and
   * what came from the unlotted balance arrives last, unlotted. `arrivals`: the ids the real
   * ledger gave the arriving rows.
   */
  private transfer(op: Extract<Op, { op: 'transfer' }>, newId: string | undefined, arrivals: readonly string[]): Outcome {
    const k = `${op.from}\u0000${op.key ?? ''}`;
    const prior = op.key === undefined ? undefined : this.transfers.get(k);
    if (prior !== undefined) {
      if (prior.amount !== op.amount || prior.to !== op.to || prior.actor !== (op.actor ?? null)) return { error: 'idempotency_conflict' };
      return { outcome: 'replayed', ...this.numbers(op.from), entryId: prior.entryId, to: this.numbers(op.to), arrived: prior.arrived };
    }
    if (this.forbids(op.from, op.actor)) return { error: 'forbidden' };
    if (this.acct(op.from).seq === 0 || this.spendable(op.from) < op.amount) return { outcome: 'insufficient', ...this.numbers(op.from) };
    const who: Spender = { actor: op.actor };
    const caps = this.capCheck(op.from, who, op.amount);
    if (caps.headroom !== undefined) return { outcome: 'capped', ...this.numbers(op.from), headroom: caps.headroom };
    if (this.acct(op.to).posted + op.amount > MAX_AMOUNT) return { error: 'overflow' };
    const entryId = this.write(op.from, 'transfer_out', -op.amount, newId);
    const out = this.draw(op.from, entryId, 'transfer_out', op.amount, who);
    const arrived: Arrival[] = [];
    for (const d of out.drawn) {
      const lot = this.acct(op.from).lots.find((l) => l.id === d.lot);
      if (lot === undefined) throw new Error(`model: drew from unknown lot ${d.lot}`);
      // Lots with the same priority and expiry (adjacent in draw order) arrive as one.
      const last = arrived[arrived.length - 1];
      if (last !== undefined && last[1] === lot.priority && last[2] === lot.expiresAt) last[0] += d.amount;
      else arrived.push([d.amount, lot.priority, lot.expiresAt]);
    }
    const unlotted = op.amount - out.drawn.reduce((n, d) => n + d.amount, 0);
    if (unlotted > 0) arrived.push([unlotted, null, null]);
    const to = this.acct(op.to);
    for (const [i, [amount, priority, expiresAt]] of arrived.entries()) {
      const id = this.write(op.to, 'transfer_in', amount, arrivals[i]);
      if (priority !== null) to.lots.push({ id, seq: to.seq, amount, remaining: amount, priority, expiresAt });
    }
    if (op.key !== undefined) this.transfers.set(k, { entryId, amount: op.amount, to: op.to, actor: op.actor ?? null, arrived });
    return { outcome: 'transferred', ...this.numbers(op.from), entryId, to: this.numbers(op.to), arrived, ...Model.warned(caps.warn) };
  }

  /** The account's posted balance: the sum of its rows' deltas (lapsed lots not yet swept included). */
  postedOf(a: string): number {
    return this.acct(a).posted;
  }

  /** Every account the model wrote a row on. */
  accountsWritten(): string[] {
    return [...this.accounts].filter(([, s]) => s.seq > 0).map(([a]) => a);
  }

  /** Open lots at now (something left, not past expiry) in draw order, as `ledger.lots` lists them. */
  lotsOf(a: string): { amount: number; remaining: number; priority: number; expiresAt: number | null }[] {
    return this.acct(a)
      .lots.filter((l) => l.remaining > 0 && (l.expiresAt === null || l.expiresAt > this.now))
      .sort(
        (x, y) =>
          x.priority - y.priority || (x.expiresAt ?? Number.POSITIVE_INFINITY) - (y.expiresAt ?? Number.POSITIVE_INFINITY) || x.seq - y.seq,
      )
      .map((l) => ({ amount: l.amount, remaining: l.remaining, priority: l.priority, expiresAt: l.expiresAt }));
  }

  /** The team's current members, owner first, then by when they joined and name (as teams.members lists them); null: not a team. */
  membersOf(team: string): { member: string; role: string; since: number }[] | null {
    const t = this.teams.get(team);
    if (t === undefined) return null;
    return [...t.members]
      .map(([member, m]) => ({ member, role: m.role, since: m.since }))
      .sort(
        (x, y) =>
          Number(x.role !== 'owner') - Number(y.role !== 'owner') ||
          x.since - y.since ||
          (x.member < y.member ? -1 : x.member > y.member ? 1 : 0),
      );
  }

  /** The teams `member` belongs to, by team. */
  membershipsOf(member: string): { team: string; role: string; since: number }[] {
    return [...this.teams]
      .flatMap(([team, t]) => {
        const m = t.members.get(member);
        return m === undefined ? [] : [{ team, role: m.role, since: m.since }];
      })
      .sort((x, y) => (x.team < y.team ? -1 : x.team > y.team ? 1 : 0));
  }

  /** Per (account, family, key): a replay with equal parameters returns the original. */
  private keyed(
    account: string,
    family: string,
    key: string | undefined,
    params: { amount?: number; ref?: string; extra?: string },
    apply: () => Outcome,
  ): Outcome {
    if (key === undefined) return apply();
    const k = `${account}\u0000${family}\u0000${key}`;
    const prior = this.keys.get(k);
    if (prior !== undefined) {
      const sameAmount = params.amount === undefined || prior.amount === (family === 'adjust' ? params.amount : Math.abs(params.amount));
      const sameRef = params.ref === undefined || prior.ref === params.ref;
      if (!sameAmount || !sameRef || prior.extra !== params.extra) return { error: 'idempotency_conflict' };
      return { outcome: 'replayed', ...this.numbers(account), entryId: prior.entryId };
    }
    const result = apply();
    if ('outcome' in result && result.outcome !== 'insufficient' && result.entryId !== undefined) {
      // A replay must match what the original did (a refund of "the rest" took an amount).
      const amount = family === 'adjust' ? (params.amount as number) : (this.amounts.get(result.entryId) ?? 0);
      this.keys.set(k, { entryId: result.entryId, amount, ref: params.ref, extra: params.extra });
    }
    return result;
  }
}

/** A grant replay must match the lot it opened: expiry and (effective) priority. */
function lotSignature(op: { expiresAt?: number; priority?: number }): string {
  const lotted = op.expiresAt !== undefined || (op.priority !== undefined && op.priority !== PRIORITY_DEFAULT);
  return JSON.stringify([op.expiresAt ?? null, lotted ? (op.priority ?? PRIORITY_DEFAULT) : null]);
}
