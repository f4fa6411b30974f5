/**
 * The events share of the replay (src/replay.ts): which events the log says the triggers of
 * migration 0014 wrote, row by row — the same rules written a second time, as for every other
 * projection — and the alerts projection for rebuild() and the auditor. Rows at or before the
 * outbox's start (`credit_outbox.since`) were written before events existed and expect none.
 */
import type { LogRow } from '../replay.js';
import type { EventType } from '../schema.js';
import type { VerifyProblem } from '../types.js';

/** An event the log implies: what the auditor compares with the stored one (ids are log positions). */
export interface ExpectedEvent {
  type: EventType;
  account: string;
  entry: string;
  ref: string | null;
  /** The numbers that identify it beyond type, entry and ref (compared as JSON). */
  key: Record<string, number | string>;
}

export interface DerivedAlert {
  account: string;
  lowBalance: number;
  expiringWithinMs: number;
  /** Where available stood, against the threshold, after the account's last row. */
  above: boolean;
  setBy: string;
}

export interface EventsSink {
  /** The outbox's start; rows with a position at or below it expect no event. */
  readonly outboxSince: number;
  event(e: ExpectedEvent): void;
  alert(a: DerivedAlert): void;
  problem(p: VerifyProblem): void;
}

export const ALERT_KINDS: ReadonlySet<string> = new Set(['alert_set', 'alert_remove']);
const PLAN_CHANGES: ReadonlySet<string> = new Set(['plan_subscribe', 'plan_change', 'plan_cancel']);
const ALLOWANCE_KEY = '$allowance:';

export const shownAvailable = (v: number) => Math.max(0, v);

export class EventsReplay {
  private readonly alerts = new Map<number, { within: number; setBy: string }>();
  private lastAvailable = 0;

  constructor(
    readonly account: string,
    private readonly sink: EventsSink,
  ) {}

  /** Whether available around this row matters: an alert with a threshold is (or becomes) set. */
  watching(r: LogRow): boolean {
    return this.alerts.size > 0 || r.kind === 'alert_set';
  }

  /** Whether a row at this position writes events (after the outbox began). */
  emits(r: LogRow): boolean {
    return Number(r.id) > this.sink.outboxSince;
  }

  private expect(r: LogRow, type: EventType, ref: string | null, key: Record<string, number | string> = {}) {
    if (this.emits(r)) this.sink.event({ type, account: r.account, entry: r.id, ref, key });
  }

  /**
   * One row, with available (unclamped: posted − lapsed lots − open holds − floor) just before
   * and just after it. `thresholdsBefore` are the alerts in force before the row (the BEFORE
   * trigger sees those; the row may add or remove one).
   */
  row(r: LogRow, before: number, after: number): void {
    const thresholdsBefore = [...this.alerts.keys()];
    if (ALERT_KINDS.has(r.kind)) this.config(r);
    this.lastAvailable = after;
    // In the order the row's triggers run (newest first; the caps' events came from the caps replay already).
    if (r.kind === 'grant' && r.idempotencyKey?.startsWith(ALLOWANCE_KEY) && r.expiresAt !== null) {
      this.expect(r, 'plan.renewed', r.id, { allowance: r.amount });
    } else if (r.kind === 'expire') this.expect(r, r.delta === 0 ? 'hold.expired' : 'credits.expired', r.ref, { amount: r.amount });
    else if (PLAN_CHANGES.has(r.kind)) this.expect(r, 'plan.changed', null);
    // balance.low last: every threshold in force before and after the row, crossed from at-or-above to below, highest first.
    for (const t of thresholdsBefore.filter((t) => t > 0 && this.alerts.has(t)).sort((a, b) => b - a)) {
      if (before >= t && after < t) this.expect(r, 'balance.low', null, { threshold: t, available: shownAvailable(after) });
    }
  }

  /** A cap event the caps replay found due (src/caps/replay.ts). */
  capEvent(r: LogRow, type: 'cap.warning' | 'cap.reached', capId: string, windowStart: number): void {
    this.expect(r, type, capId, { windowStart });
  }

  private config(r: LogRow) {
    let s: { lowBalance?: unknown; expiringWithinMs?: unknown } | null;
    try {
      s = JSON.parse(r.metadata ?? 'null') as typeof s;
    } catch {
      s = null;
    }
    const low = s?.lowBalance;
    const within = r.kind === 'alert_set' ? s?.expiringWithinMs : 0;
    if (!Number.isSafeInteger(low) || (low as number) < 0 || !Number.isSafeInteger(within) || (within as number) < 0) {
      this.sink.problem({ code: 'bad_config', account: r.account, entryId: r.id, seq: r.seq, message: `${r.kind} without its setting` });
      return;
    }
    if (r.kind === 'alert_remove') this.alerts.delete(low as number);
    else this.alerts.set(low as number, { within: within as number, setBy: r.id });
  }

  finish(): void {
    for (const [low, a] of this.alerts) {
      this.sink.alert({
        account: this.account,
        lowBalance: low,
        expiringWithinMs: a.within,
        above: this.lastAvailable >= low,
        setBy: a.setBy,
      });
    }
  }
}
