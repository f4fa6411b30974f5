/**
 * `ledger.webhooks.deliver()`: one round trip fans new events out to the endpoints and claims
 * what is due; the attempts are sent (signed, each with its own time limit); each result is
 * recorded in one round trip of writes guarded by the claim token. A deliverer killed at any
 * point loses nothing: an unrecorded claim lapses and the delivery is claimed again as the
 * next attempt (at least once).
 */
import { num } from '../entry.js';
import { errorText } from '../errors.js';
import { payloadOf, toEvent } from '../events/read.js';
import {
  WEBHOOK_CLAIM_MARGIN_MS,
  WEBHOOK_CONCURRENCY,
  WEBHOOK_DELIVER_DEFAULT_LIMIT,
  WEBHOOK_ERROR_MAX_LENGTH,
  WEBHOOK_FANOUT_MAX,
  WEBHOOK_MAX_ATTEMPTS,
  WEBHOOK_RETRY_AFTER_MAX_MS,
  WEBHOOK_RETRY_SCHEDULE_MS,
  WEBHOOK_TIMEOUT_MS,
} from '../limits.js';
import type { Context } from '../ops/context.js';
import type { Row, Unit } from '../runner/index.js';
import type { AttemptOutcome } from '../schema.js';
import { type HmacKey, importSecret, randomHex, sign } from './sign.js';
import * as q from './sql.js';
import type { DeliverOptions, DeliverReport, FetchLike } from './types.js';

const unit = (sql: string, args: unknown[]): Unit => ({ primary: { sql, args } });

/** When the next attempt is due after attempt `n` of the current round failed, or null after the last. */
export function nextAttemptAt(now: number, n: number, retryAfterMs: number | null): number | null {
  if (n >= WEBHOOK_MAX_ATTEMPTS) return null;
  const scheduled = WEBHOOK_RETRY_SCHEDULE_MS[Math.max(0, n - 1)] as number;
  const asked = retryAfterMs === null ? 0 : Math.min(retryAfterMs, WEBHOOK_RETRY_AFTER_MAX_MS);
  return now + Math.max(scheduled, asked);
}

/** `Retry-After`: delay-seconds or an HTTP date; null when absent or unreadable. */
export function parseRetryAfter(value: string | null, now: number): number | null {
  if (value === null) return null;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Math.min(Number(v) * 1000, WEBHOOK_RETRY_AFTER_MAX_MS);
  const at = Date.parse(v);
  return Number.isNaN(at) ? null : Math.max(0, at - now);
}

const clip = (s: string) => (s.length > WEBHOOK_ERROR_MAX_LENGTH ? `${s.slice(0, WEBHOOK_ERROR_MAX_LENGTH - 1)}…` : s);

/** A fetch failure with its cause (undici says "fetch failed" and puts ECONNREFUSED in `cause`). */
function describe(e: unknown): string {
  const cause = (e as { cause?: unknown })?.cause;
  const why = cause === undefined ? '' : `: ${(cause as { code?: unknown })?.code ?? errorText(cause)}`;
  return clip(`${errorText(e)}${why}`);
}

interface Sent {
  outcome: Exclude<AttemptOutcome, 'sending'>;
  status: number | null;
  error: string | null;
  retryAfterMs: number | null;
  durationMs: number;
  /**
   * Skipped because its endpoint answered 410 in this call: only the attempt row says so. The
   * delivery keeps its claim until the 410's own unit pauses it (or, if that unit failed, the
   * claim lapses and it is tried again): it is not a failure of the endpoint.
   */
  notSent?: boolean;
}

class Timeout extends Error {}

const failedBeforeSending = (error: string): Sent => ({
  outcome: 'error',
  status: null,
  error: clip(error),
  retryAfterMs: null,
  durationMs: 0,
});
const notSentGone = (): Sent => ({ ...failedBeforeSending('not sent: the endpoint answered 410 Gone to another attempt'), notSent: true });

async function send(fetchFn: FetchLike, url: string, headers: Record<string, string>, body: string, timeoutMs: number, now: () => number) {
  const started = performance.now();
  const ac = new AbortController();
  let timer: ReturnType<typeof setTimeout> | undefined;
  // Raced too, not only aborted: a fetch that ignores its signal still cannot hold the attempt past its limit.
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      ac.abort();
      reject(new Timeout(`no response within ${timeoutMs} ms`));
    }, timeoutMs);
  });
  const done = (s: Omit<Sent, 'durationMs'>): Sent => ({ ...s, durationMs: Math.round(performance.now() - started) });
  try {
    // Redirects are not followed (a 3xx is a failed attempt): the signed body goes only to the URL the endpoint names.
    const res = await Promise.race([fetchFn(url, { method: 'POST', headers, body, signal: ac.signal, redirect: 'manual' }), expired]);
    // The body is not read: dropping it frees the connection.
    res.body?.cancel().catch(() => undefined);
    const status = Number(res.status);
    if (status >= 200 && status <= 299) return done({ outcome: 'delivered', status, error: null, retryAfterMs: null });
    const retryAfterMs = parseRetryAfter(res.headers.get('retry-after'), now());
    if (status === 410) return done({ outcome: 'gone', status, error: '410 Gone', retryAfterMs: null });
    return done({ outcome: 'error', status, error: `HTTP ${status}`, retryAfterMs });
  } catch (e) {
    if (e instanceof Timeout || ac.signal.aborted)
      return done({ outcome: 'timeout', status: null, error: clip(errorText(e)), retryAfterMs: null });
    return done({ outcome: 'error', status: null, error: describe(e), retryAfterMs: null });
  } finally {
    clearTimeout(timer);
  }
}

export async function deliver(ctx: Context, o: DeliverOptions): Promise<DeliverReport> {
  const fetchFn = o.fetch ?? (globalThis.fetch as unknown as FetchLike);
  const limit = o.limit ?? WEBHOOK_DELIVER_DEFAULT_LIMIT;
  const timeoutMs = o.timeoutMs ?? WEBHOOK_TIMEOUT_MS;
  const concurrency = Math.min(o.concurrency ?? WEBHOOK_CONCURRENCY, limit);
  const now = ctx.now();
  // Attempts queue behind `concurrency`: the claim covers every wave, plus the margin.
  const waves = Math.ceil(limit / concurrency);
  const until = now + waves * timeoutMs + WEBHOOK_CLAIM_MARGIN_MS;
  const token = randomHex(16);

  // One atomic round trip: fan out, move the cursors, claim, open the attempts, read what to send.
  const [fanned, , , opened] = await ctx.runner.writeMany([
    unit(q.FAN_OUT, [now, now, WEBHOOK_FANOUT_MAX]),
    unit(q.ADVANCE, [WEBHOOK_FANOUT_MAX]),
    unit(q.CLAIM, [token, until, until, now, limit]),
    {
      primary: { sql: q.CLAIM_ATTEMPTS, args: [now, token] },
      after: [
        { sql: q.CLAIMED, args: [token] },
        { sql: q.MORE, args: [now] },
      ],
    },
  ]);
  const claimed = opened?.after[0] ?? [];
  const report: DeliverReport = {
    queued: fanned?.rows.length ?? 0,
    sent: 0,
    delivered: 0,
    retried: 0,
    failed: 0,
    disabled: 0,
    lost: 0,
    more: Boolean(num(opened?.after[1]?.[0]?.more ?? 0)) || claimed.length >= limit,
  };

  const keys = new Map<string, Promise<HmacKey>>();
  const keyFor = (secret: string) => {
    let k = keys.get(secret);
    if (k === undefined) {
      k = importSecret(secret);
      keys.set(secret, k);
    }
    return k;
  };

  const signAndSend = async (r: Row, attempt: number, eventId: number): Promise<Sent> => {
    try {
      const body = JSON.stringify(payloadOf(toEvent(r, ctx.ids)));
      const msgId = `evt_${eventId}`;
      const timestamp = Math.floor(ctx.now() / 1000);
      const signature = await sign(await keyFor(String(r.w_secret)), msgId, timestamp, body);
      const headers = {
        'content-type': 'application/json',
        'webhook-id': msgId,
        'webhook-timestamp': String(timestamp),
        'webhook-signature': signature,
        // Not part of the spec: lets a receiver log which attempt this is (never repeated per endpoint and event).
        'webhook-attempt': String(attempt),
      };
      report.sent++;
      return await send(fetchFn, String(r.w_url), headers, body, timeoutMs, ctx.now);
    } catch (e) {
      // An event row that cannot be read or signed: recorded as a failed attempt like any other.
      return failedBeforeSending(`could not prepare the request: ${errorText(e)}`);
    }
  };

  // Endpoints that answered 410 during this call: what else was claimed for them is not sent.
  const gone = new Set<string>();
  const attemptOne = async (r: Row): Promise<void> => {
    const webhook = String(r.d_webhook);
    const attempt = num(r.d_attempt);
    const eventId = num(r.id);
    const sent = gone.has(webhook) ? notSentGone() : await signAndSend(r, attempt, eventId);
    if (sent.outcome === 'gone') gone.add(webhook);
    await record(ctx, report, { webhook, eventId, attempt, round: attempt - num(r.d_retries_from), url: String(r.w_url), token }, sent);
  };

  // A failed record (the database busy past its timeout, say) does not stop the others: their
  // claims are spent either way. The first such error is thrown once all are settled.
  let firstError: unknown;
  let next = 0;
  const lane = async () => {
    while (next < claimed.length) {
      const r = claimed[next++] as Row;
      await attemptOne(r).catch((e) => {
        firstError ??= e;
      });
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, claimed.length) }, lane));
  if (firstError !== undefined) throw firstError;
  return report;
}

interface Claimed {
  webhook: string;
  eventId: number;
  attempt: number;
  /** The attempt's number within the current round of the schedule (1 = the first). */
  round: number;
  url: string;
  token: string;
}

async function record(ctx: Context, report: DeliverReport, c: Claimed, s: Sent): Promise<void> {
  const now = ctx.now();
  const attemptRow = unit(q.RECORD_ATTEMPT, [s.durationMs, s.status, s.error, s.outcome, c.webhook, c.eventId, c.attempt]);
  if (s.notSent) {
    await ctx.runner.write(attemptRow);
    return;
  }
  if (s.outcome === 'delivered') {
    const [, d] = await ctx.runner.writeMany([attemptRow, unit(q.RECORD_DELIVERED, [now, s.status, c.webhook, c.eventId, c.token])]);
    if ((d?.rows.length ?? 0) === 0) report.lost++;
    else report.delivered++;
    return;
  }
  const nextAt = nextAttemptAt(now, c.round, s.retryAfterMs);
  const failed = unit(q.RECORD_FAILED, [
    nextAt === null ? 'failed' : 'pending',
    nextAt ?? now,
    s.status,
    s.error,
    c.webhook,
    c.eventId,
    c.token,
  ]);
  const units = [attemptRow, failed];
  if (s.outcome === 'gone') {
    const reason = `${c.url} answered 410 Gone to attempt ${c.attempt} of event ${c.eventId} at ${new Date(now).toISOString()}`;
    units.push(unit(q.DISABLE, [reason, now, c.webhook]), unit(q.PAUSE, [c.webhook]));
  }
  const results = await ctx.runner.writeMany(units);
  if ((results[1]?.rows.length ?? 0) === 0) report.lost++;
  else if (nextAt === null) report.failed++;
  else if (s.outcome !== 'gone') report.retried++;
  if ((results[2]?.rows.length ?? 0) > 0) report.disabled++;
}
