/**
 * The reference for the events a step must write, derived from the model's numbers alone:
 * `balance.low` where available went from at or above a threshold to below it (highest
 * threshold first), and `cap.warning` / `cap.reached` for warn and notify caps whose window's
 * spend the step raised to 80 % / 100 % of the limit, once per window. Compared per account,
 * as rendered lines, with the events the ledger wrote during the step.
 */
import { type LedgerEvent, windowStart } from '../../src/index.js';
import type { Model, ModelCapView } from './model.js';

export type AlertSpec = Readonly<Record<string, readonly number[]>>;

interface Before {
  available: Map<string, number>;
  caps: Map<string, ModelCapView[]>;
}

export class EventsOracle {
  /** Cap id → the window starts in which cap.warning / cap.reached were written. */
  private readonly warned = new Map<string, number>();
  private readonly reached = new Map<string, number>();

  constructor(
    private readonly accounts: readonly string[],
    private readonly thresholds: ReadonlyMap<string, readonly number[]>,
  ) {}

  /** The run's accounts: those it names and every one the model saw written (team members, transfer targets). */
  private all(model: Model): string[] {
    return [...new Set([...this.accounts, ...model.accountsWritten()])];
  }

  before(model: Model): Before {
    const accounts = this.all(model);
    return {
      available: new Map(accounts.map((a) => [a, model.availableOf(a)])),
      caps: new Map(accounts.map((a) => [a, model.capsOf(a)])),
    };
  }

  /** The events the step must have written, per account, as lines (see `render`). */
  expected(model: Model, b: Before, now: number): Map<string, string[]> {
    const out = new Map<string, string[]>();
    for (const a of this.all(model)) {
      const lines: string[] = [];
      // The caps' trigger runs before the alerts' (triggers run newest first; migration 0014).
      const was = new Map((b.caps.get(a) ?? []).map((c) => [c.id, c.spent]));
      const counted = model.capsOf(a).filter((c) => c.action !== 'deny' && c.spent > (was.get(c.id) ?? c.spent));
      for (const [marks, type, done] of [
        [(c: ModelCapView) => c.spent * 5 >= c.limit * 4, 'cap.warning', this.warned],
        [(c: ModelCapView) => c.spent >= c.limit, 'cap.reached', this.reached],
      ] as const) {
        for (const c of counted) {
          const ws = windowStart(c.window, now);
          if (done.get(c.id) !== ws && marks(c)) {
            done.set(c.id, ws);
            lines.push(`${type} ${c.id} ${c.spent}/${c.limit}`);
          }
        }
      }
      const before = b.available.get(a) ?? 0;
      const after = model.availableOf(a);
      for (const t of [...(this.thresholds.get(a) ?? [])].sort((x, y) => y - x)) {
        if (before >= t && after < t) lines.push(`balance.low ${t} ${Math.max(0, after)}`);
      }
      if (lines.length > 0) out.set(a, lines);
    }
    return out;
  }
}

/** The ledger's events of the oracle's types, per account, as the oracle renders them. */
export function render(events: readonly LedgerEvent[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const e of events) {
    let line: string;
    if (e.type === 'balance.low') line = `balance.low ${String(e.data.threshold)} ${String(e.data.available)}`;
    else if (e.type === 'cap.warning' || e.type === 'cap.reached')
      line = `${e.type} ${String(e.data.capId)} ${String(e.data.spent)}/${String(e.data.limit)}`;
    else continue;
    const list = out.get(e.account) ?? [];
    list.push(line);
    out.set(e.account, list);
  }
  return out;
}
