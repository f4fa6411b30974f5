/**
 * The caps and floor of one account, replayed from its log in JavaScript: the twin of
 * migration 0010's triggers (credit_entry_sets_cap, _removes_cap, _counts_cap,
 * _uncounts_cap, _sets_floor) and of the guards in src/caps/guard.ts. src/replay.ts calls
 * these hooks row by row; the auditor compares what they derive with `credit_cap` and
 * `credit_floor`, and rebuild() writes it.
 *
 * Counting rules: a cap counts the debits and captures that match all its filters (member =
 * actor), each in the window of its own created_at, less refunds of them (in the window of
 * the entry refunded). A counter on an older window starts over at the next spend; a spend
 * dated before the counter's window (a clock moved back) counts nowhere. A new cap starts
 * from the window's spend so far; setting an existing one keeps its counter.
 */
import { ACCOUNT_FLOOR, MAX_AMOUNT } from '../limits.js';
import type { CapAction, CapWindow } from '../schema.js';
import { CAP_ACTIONS, CAP_WINDOWS } from '../schema.js';
import type { VerifyProblem } from '../types.js';
import { windowEnd, windowStart } from './window.js';

/** What the replay needs of a log row. */
export interface CapsRow {
  id: string;
  account: string;
  seq: number;
  kind: string;
  amount: number;
  ref: string | null;
  model: string | null;
  keyId: string | null;
  actor: string | null;
  metadata: string | null;
  createdAt: number;
}

/** An open or closed hold as the replay knows it. */
export interface CapsHold {
  amount: number;
  expiresAt: number;
  status: string;
  model: string | null;
  keyId: string | null;
  actor: string | null;
}

/**
 * A replayed number as BigInt. A tampered row can carry a fraction, text or a value past 2^53
 * (the auditor reports it as bad_amount); the cap replay counts its whole part and carries on
 * instead of throwing.
 */
const whole = (n: number): bigint => (Number.isFinite(n) ? BigInt(Math.trunc(n)) : 0n);

export interface DerivedCap {
  id: string;
  account: string;
  window: CapWindow;
  limit: number;
  action: CapAction;
  model: string;
  keyId: string;
  member: string;
  setBy: string;
  windowStart: number;
  /** Exact (a window's spend is a sum of amounts and may pass 2^53 − 1, as SQLite's 64-bit counter does). */
  spent: bigint;
  /** The window_start of the window in which cap.warning / cap.reached was last written (-1: never). */
  warnedWindow: number;
  reachedWindow: number;
}

/** Where the caps replay reports the cap events a spend row wrote (src/events/replay.ts). */
export interface CapEvents {
  emits(r: CapsRow): boolean;
  capEvent(r: CapsRow, type: 'cap.warning' | 'cap.reached', capId: string, windowStart: number): void;
}

export interface DerivedFloor {
  account: string;
  floor: number;
  setBy: string;
}

export interface CapsSink {
  cap(c: DerivedCap): void;
  floor(f: DerivedFloor): void;
  problem(p: VerifyProblem): void;
}

interface Spend {
  createdAt: number;
  model: string;
  keyId: string;
  actor: string;
  net: number;
}

const attr = (v: string | null) => v ?? '';
const matches = (c: DerivedCap, model: string, keyId: string, actor: string) =>
  (c.model === '' || c.model === model) && (c.keyId === '' || c.keyId === keyId) && (c.member === '' || c.member === actor);
const identity = (window: string, model: string, keyId: string, member: string) => JSON.stringify([window, model, keyId, member]);

const isLabel = (v: unknown): v is string | null => v === null || (typeof v === 'string' && v.length > 0);
const isInt = (v: unknown, min: number): v is number => Number.isSafeInteger(v) && (v as number) >= min && (v as number) <= MAX_AMOUNT;

/** A config row's setting, or why it is not one. */
function setting(r: CapsRow): Record<string, unknown> | string {
  if (r.metadata === null) return 'no setting in metadata';
  let m: unknown;
  try {
    m = JSON.parse(r.metadata);
  } catch {
    return 'metadata is not JSON';
  }
  if (m === null || typeof m !== 'object' || Array.isArray(m)) return 'the setting is not an object';
  const s = m as Record<string, unknown>;
  if (r.kind === 'floor_set') return isInt(s.floor, -MAX_AMOUNT) ? s : 'floor is not a safe integer';
  if (!(CAP_WINDOWS as readonly string[]).includes(String(s.window))) return `unknown window ${JSON.stringify(s.window)}`;
  if (!isLabel(s.model ?? null) || !isLabel(s.keyId ?? null) || !isLabel(s.member ?? null)) return 'a filter is not a label or null';
  if (r.kind === 'cap_remove') return s;
  if (!isInt(s.limit, 0)) return 'limit is not a safe integer ≥ 0';
  if (!(CAP_ACTIONS as readonly string[]).includes(String(s.action))) return `unknown action ${JSON.stringify(s.action)}`;
  return s;
}

export class CapsReplay {
  private readonly caps = new Map<string, DerivedCap>();
  private readonly spends = new Map<string, Spend>();
  private floorValue = ACCOUNT_FLOOR;
  private floorSetBy: string | null = null;
  private lowest = ACCOUNT_FLOOR;

  constructor(
    readonly account: string,
    private readonly sink: CapsSink,
    private readonly events?: CapEvents,
  ) {}

  /** The floor in force after the rows applied so far. */
  get floor(): number {
    return this.floorValue;
  }

  /** The lowest a balance may have been taken: min(0, every floor this account has had). */
  get lowestFloor(): number {
    return Math.min(0, this.lowest);
  }

  private problem(r: CapsRow, code: VerifyProblem['code'], message: string) {
    this.sink.problem({ code, account: r.account, entryId: r.id, seq: r.seq, message });
  }

  /** cap_set, cap_remove, floor_set. */
  config(r: CapsRow): void {
    const s = setting(r);
    if (typeof s === 'string') {
      this.problem(r, 'bad_config', `${r.kind}: ${s}`);
      return;
    }
    if (r.kind === 'floor_set') {
      this.floorValue = s.floor as number;
      this.floorSetBy = r.id;
      this.lowest = Math.min(this.lowest, this.floorValue);
      return;
    }
    const window = s.window as CapWindow;
    const [model, keyId, member] = [attr(s.model as string | null), attr(s.keyId as string | null), attr(s.member as string | null)];
    const key = identity(window, model, keyId, member);
    if (r.kind === 'cap_remove') {
      this.caps.delete(key);
      return;
    }
    const existing = this.caps.get(key);
    if (existing !== undefined) {
      existing.limit = s.limit as number;
      existing.action = s.action as CapAction;
      existing.setBy = r.id;
      return;
    }
    const start = windowStart(window, r.createdAt);
    const end = windowEnd(window, r.createdAt);
    const cap: DerivedCap = {
      id: r.id,
      account: r.account,
      window,
      limit: s.limit as number,
      action: s.action as CapAction,
      model,
      keyId,
      member,
      setBy: r.id,
      windowStart: start,
      spent: 0n,
      warnedWindow: -1,
      reachedWindow: -1,
    };
    for (const sp of this.spends.values()) {
      if (sp.createdAt >= start && sp.createdAt < end && matches(cap, sp.model, sp.keyId, sp.actor)) cap.spent += whole(sp.net);
    }
    this.caps.set(key, cap);
  }

  /**
   * Before a debit, hold or capture is applied: no deny cap it matches may have had its
   * window's spend plus open holds plus what it adds go past the limit (for a capture, the
   * hold it settles already counted where it matches).
   */
  checkSpend(r: CapsRow, holds: Iterable<CapsHold>, settled?: CapsHold): void {
    const [model, keyId, actor] = [attr(r.model), attr(r.keyId), attr(r.actor)];
    let open: CapsHold[] | undefined;
    for (const c of this.caps.values()) {
      if (c.action !== 'deny' || !matches(c, model, keyId, actor)) continue;
      if (c.windowStart > windowStart(c.window, r.createdAt)) {
        this.problem(r, 'cap_exceeded', `${r.kind} dated ${r.createdAt}, before the window deny cap ${c.id} had already moved to`);
        continue;
      }
      const settles = settled !== undefined && matches(c, attr(settled.model), attr(settled.keyId), attr(settled.actor));
      const inc = r.amount - (settles && settled !== undefined ? settled.amount : 0);
      if (inc <= 0) continue;
      open ??= [...holds].filter((h) => h.status === 'open' && h.expiresAt > r.createdAt);
      const held = open.reduce((n, h) => n + (matches(c, attr(h.model), attr(h.keyId), attr(h.actor)) ? h.amount : 0), 0);
      const spent = c.windowStart === windowStart(c.window, r.createdAt) ? c.spent : 0n;
      if (spent + whole(held) + whole(inc) > whole(c.limit)) {
        this.problem(
          r,
          'cap_exceeded',
          `${r.kind} of ${r.amount} took deny cap ${c.id} (${c.limit} per ${c.window}) to ${spent + whole(held) + whole(inc)}: spent ${spent}, held ${held}`,
        );
      }
    }
  }

  /** A debit or capture: counts in its window toward every cap it matches. */
  count(r: CapsRow): void {
    const sp: Spend = { createdAt: r.createdAt, model: attr(r.model), keyId: attr(r.keyId), actor: attr(r.actor), net: r.amount };
    this.spends.set(r.id, sp);
    for (const c of this.caps.values()) {
      if (!matches(c, sp.model, sp.keyId, sp.actor)) continue;
      const ws = windowStart(c.window, r.createdAt);
      if (ws < c.windowStart) continue;
      c.spent = ws === c.windowStart ? c.spent + whole(r.amount) : whole(r.amount);
      c.windowStart = ws;
    }
    this.crossings(r, sp);
  }

  /**
   * cap.warning (80 %) then cap.reached (100 %): warn and notify caps the row matches whose
   * window's spend is at or past the mark and that have not had that event in this window (the
   * trigger's statements, in cap order).
   */
  private crossings(r: CapsRow, sp: Spend): void {
    if (this.events === undefined || !this.events.emits(r)) return;
    const due = [...this.caps.values()]
      .filter((c) => c.action !== 'deny' && matches(c, sp.model, sp.keyId, sp.actor))
      .sort((a, b) => Number(a.id) - Number(b.id));
    for (const c of due) {
      if (c.warnedWindow !== c.windowStart && c.spent * 5n >= whole(c.limit) * 4n) {
        c.warnedWindow = c.windowStart;
        this.events.capEvent(r, 'cap.warning', c.id, c.windowStart);
      }
    }
    for (const c of due) {
      if (c.reachedWindow !== c.windowStart && c.spent >= whole(c.limit)) {
        c.reachedWindow = c.windowStart;
        this.events.capEvent(r, 'cap.reached', c.id, c.windowStart);
      }
    }
  }

  /** A refund: lowers the caps whose counter is on the window of the entry refunded. */
  uncount(r: CapsRow): void {
    const sp = r.ref === null ? undefined : this.spends.get(r.ref);
    if (sp === undefined) return; // the auditor reports a refund of an unknown entry on its own
    sp.net -= r.amount;
    for (const c of this.caps.values()) {
      if (matches(c, sp.model, sp.keyId, sp.actor) && c.windowStart === windowStart(c.window, sp.createdAt)) c.spent -= whole(r.amount);
    }
  }

  finish(): void {
    for (const c of this.caps.values()) this.sink.cap(c);
    if (this.floorSetBy !== null) this.sink.floor({ account: this.account, floor: this.floorValue, setBy: this.floorSetBy });
  }
}
