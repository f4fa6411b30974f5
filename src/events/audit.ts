/**
 * The auditor's share for events and alerts: `credit_alert` against the alerts the log sets,
 * and the outbox against the events the log implies (src/events/replay.ts). Event ids must run
 * 1, 2, 3 … without a gap; each account's events must be exactly, and in order, those its rows
 * wrote; `credits.expiring` (written by the sweep, not by a row) must name a lot, once.
 */
import { num } from '../entry.js';
import type { Row } from '../runner/index.js';
import type { VerifyProblem } from '../types.js';
import type { DerivedAlert, ExpectedEvent } from './replay.js';

type Report = (p: VerifyProblem) => void;

export async function compareEvents(
  alertRows: AsyncIterable<Row>,
  eventRows: AsyncIterable<Row>,
  d: { alerts: DerivedAlert[]; events: Map<string, ExpectedEvent[]>; lastRowid: number },
  report: Report,
): Promise<void> {
  const alerts = new Map(d.alerts.map((a) => [`${a.account}\u0000${a.lowBalance}`, a]));
  for await (const r of alertRows) {
    const key = `${String(r.account)}\u0000${num(r.low_balance)}`;
    const want = alerts.get(key);
    alerts.delete(key);
    if (want === undefined || want.expiringWithinMs !== num(r.expiring_within_ms) || want.setBy !== String(r.set_by)) {
      report({
        code: 'alert_mismatch',
        account: String(r.account),
        message: `stored alert (lowBalance ${num(r.low_balance)}, expiringWithinMs ${num(r.expiring_within_ms)}, set by ${String(r.set_by)}) ${want === undefined ? 'is set by no alert_set row in force' : `differs from the log's (expiringWithinMs ${want.expiringWithinMs}, set by ${want.setBy})`}`,
      });
    }
  }
  for (const a of alerts.values()) {
    report({
      code: 'alert_mismatch',
      account: a.account,
      entryId: a.setBy,
      message: `alert (lowBalance ${a.lowBalance}) missing from credit_alert`,
    });
  }

  const next = new Map<string, number>();
  const announced = new Set<string>();
  let expectedId = 1;
  for await (const r of eventRows) {
    const id = num(r.id);
    const account = String(r.account);
    if (id !== expectedId)
      report({ code: 'event_mismatch', account, message: `event ids jump from ${expectedId - 1} to ${id}: events were deleted` });
    expectedId = id + 1;
    const type = String(r.type);
    const entry = r.entry === null || r.entry === undefined ? null : String(r.entry);
    if (type === 'credits.expiring') {
      if (r.ref === null || String(r.dedupe) !== `credits.expiring:${String(r.ref)}` || announced.has(String(r.ref))) {
        report({ code: 'event_mismatch', account, message: `event ${id}: credits.expiring of lot ${String(r.ref)} is not once per lot` });
      }
      announced.add(String(r.ref));
      continue;
    }
    // Written by a row the replay did not read (committed after it began): not judged.
    if (entry !== null && Number(entry) > d.lastRowid) continue;
    const list = d.events.get(account) ?? [];
    const at = next.get(account) ?? 0;
    const want = list[at];
    next.set(account, at + 1);
    const problem = want === undefined ? 'no row of the log wrote it' : difference(want, type, entry, r);
    if (problem !== null)
      report({ code: 'event_mismatch', account, entryId: entry ?? undefined, message: `event ${id} (${type}): ${problem}` });
  }
  for (const [account, list] of d.events) {
    for (const e of list.slice(next.get(account) ?? 0)) {
      report({ code: 'event_mismatch', account, entryId: e.entry, message: `${e.type} that the row wrote is missing from credit_event` });
    }
  }
}

function difference(want: ExpectedEvent, type: string, entry: string | null, r: Row): string | null {
  if (want.type !== type || want.entry !== entry || want.ref !== (r.ref === null || r.ref === undefined ? null : String(r.ref))) {
    return `expected ${want.type} of entry ${want.entry}${want.ref === null ? '' : ` on ${want.ref}`} here`;
  }
  let data: Record<string, unknown>;
  try {
    data = JSON.parse(String(r.data)) as Record<string, unknown>;
  } catch {
    return 'its data is not JSON';
  }
  for (const [k, v] of Object.entries(want.key)) {
    if (data[k] !== v) return `${k} is ${JSON.stringify(data[k])}, the log says ${JSON.stringify(v)}`;
  }
  return null;
}
