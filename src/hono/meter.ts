/**
 * `meter`: Hono middleware that makes an endpoint pay for itself. Before the handler it holds
 * `estimate(c)` credits on `account(c)`; after it, it captures what `settle(c, info)` returns
 * (the unused rest of the hold is released by the capture). A streamed response (SSE:
 * `text/event-stream`) is settled when its body ends, so `settle` can read what the handler
 * learned during the stream (an LLM's token usage arrives in the last chunk); a client that
 * disconnects mid-stream, a thrown error or a 4xx/5xx response releases the hold instead.
 *
 * Refusals: `402` problem+json (`insufficient`, with the balance) when the hold is not
 * covered, `429` with `Retry-After` (seconds until the refusing cap's window resets) when a
 * deny cap refuses it. Headers: `X-Credits-Held` always; `X-Credits-Charged` when the charge is
 * known before the headers are sent (not for streams: HTTP/1.1 trailers are not dependable, so
 * a stream can carry it in a final SSE event with `sseEvent`, and `onSettled` always gets it).
 */
import type { Context, Env, MiddlewareHandler } from 'hono';
import { isLedgerError } from '../errors.js';
import { problem, problemResponse } from '../http/problem.js';
import type { Ledger } from '../ledger.js';

/** What the middleware puts on the context as `c.var.credits`, for the handler to fill. */
export interface Metering {
  account: string;
  holdId: string;
  /** Credits held for this request. */
  held: number;
  /** Usage the handler reports (e.g. `{ input_tokens, output_tokens }` from the stream's last chunk); `settle` reads it. */
  usage: Record<string, number>;
  /** Adds quantities to `usage`. */
  add(usage: Record<string, number>): void;
}

export interface SettleInfo {
  /** The handler's response (for a stream: as it was returned; its body is being sent). Read it through `response.clone()`: the body is the client's. */
  response: Response;
  /** The same object as `c.var.credits`, with the usage the handler reported. */
  metering: Metering;
  /** The body was streamed to the client and has ended. */
  streamed: boolean;
  /** Bytes of the body sent (streams only; 0 otherwise). */
  bytes: number;
}

/** How a metered request ended, for `onSettled`. */
export interface MeterOutcome {
  account: string;
  holdId: string;
  held: number;
  /** Credits captured (0 when released). */
  charged: number;
  /** `settle` asked for more than was held and the rest was not covered: it was not charged. */
  shortfall: number;
  /** `captured`, or why the hold was released. */
  result: 'captured' | 'released_error' | 'released_status' | 'released_abort' | 'released_zero' | 'released_settle_failed';
}

export interface MeterOptions<E extends Env = Env> {
  ledger: Ledger;
  /** The paying account, from the app's own auth context (never a client-supplied header). */
  account: (c: Context<E>) => string | Promise<string>;
  /** Credits to hold before the handler runs (a whole number ≥ 1): the most the request should cost. */
  estimate: (c: Context<E>) => number | Promise<number>;
  /** Credits to charge once the response is complete (0 releases the hold; more than held is charged only if covered). */
  settle: (c: Context<E>, info: SettleInfo) => number | Promise<number>;
  /** How long the hold lives (default the ledger's 15 minutes): longer than the longest response. */
  ttlMs?: number;
  /** Attribution recorded on the hold and capture (model, keyId, actor, reason, metadata). */
  attribution?: (c: Context<E>) => { model?: string; keyId?: string; actor?: string; reason?: string; metadata?: Record<string, unknown> };
  /** Which responses are settled when their body ends. Default: `Content-Type: text/event-stream`. */
  isStream?: (response: Response) => boolean;
  /** Which responses are charged. Default: status < 400 (a 4xx or 5xx releases the hold). */
  chargeable?: (response: Response) => boolean;
  /** Append `event: credits` with `{ held, charged }` to an SSE stream before it closes. Default false. */
  sseEvent?: boolean;
  /** Told how every metered request ended (after the capture or release committed). */
  onSettled?: (c: Context<E>, outcome: MeterOutcome) => void | Promise<void>;
  /** Told about failures after the response was chosen (settle threw, a capture failed); default console.error. */
  onError?: (error: unknown, c: Context<E>) => void;
  /** Clock for Retry-After (milliseconds); default Date.now. Give the ledger's clock if it has one. */
  now?: () => number;
}

export type MeterEnv = { Variables: { credits: Metering } };

const isSse = (r: Response) => /^text\/event-stream\b/i.test(r.headers.get('content-type') ?? '');

export function meter<E extends Env = Env>(options: MeterOptions<E>): MiddlewareHandler<E & MeterEnv> {
  const { ledger, settle } = options;
  if (typeof options.account !== 'function' || typeof options.estimate !== 'function' || typeof settle !== 'function')
    throw new TypeError('meter: account, estimate and settle must be functions');
  const isStream = options.isStream ?? isSse;
  const chargeable = options.chargeable ?? ((r: Response) => r.status < 400);
  const now = options.now ?? Date.now;

  return async (c, next) => {
    const ctx = c as unknown as Context<E>;
    const report = (e: unknown) =>
      options.onError ? options.onError(e, ctx) : console.error('drizzle-credits/hono meter: settling failed', e);
    const account = await options.account(ctx);
    const amount = await options.estimate(ctx);
    const attribution = options.attribution?.(ctx) ?? {};
    // A capture takes its model and key from the hold; only who and why may be given again.
    const onCapture = { ...(attribution.actor === undefined ? {} : { actor: attribution.actor }), reason: attribution.reason ?? 'meter' };
    let held: Awaited<ReturnType<Ledger['hold']>>;
    try {
      held = await ledger.hold({ account, amount, ...(options.ttlMs === undefined ? {} : { ttlMs: options.ttlMs }), ...attribution });
    } catch (e) {
      if (isLedgerError(e, 'busy')) return problemResponse(problem(503, 'busy', 'the ledger is busy; retry'), { 'retry-after': '1' });
      if (isLedgerError(e, 'forbidden')) return problemResponse(problem(403, 'forbidden', e.message));
      throw e; // the app's own misuse (a bad account or estimate): its error handler decides
    }
    if (held.outcome === 'insufficient') {
      return problemResponse(
        problem(402, 'insufficient', `this request needs ${amount} credits; ${held.available} are available`, {
          balance: held.balance,
          available: held.available,
          required: amount,
        }),
      );
    }
    if (held.outcome === 'capped') {
      const retry = Math.max(1, Math.ceil((held.cap.resetsAt - now()) / 1000));
      return problemResponse(
        problem(429, 'capped', `a ${held.cap.window} spend cap of ${held.limit} refuses this request until its window resets`, {
          limit: held.limit,
          spent: held.spent,
          held: held.held,
          required: amount,
          resetsAt: held.cap.resetsAt,
        }),
        { 'retry-after': String(retry) },
      );
    }

    const usage: Record<string, number> = {};
    const metering: Metering = {
      account,
      holdId: held.hold.id,
      held: amount,
      usage,
      add: (u) => {
        for (const [k, v] of Object.entries(u)) usage[k] = (usage[k] ?? 0) + v;
      },
    };
    c.set('credits', metering);
    const outcome = (result: MeterOutcome['result'], charged = 0, shortfall = 0): MeterOutcome => ({
      account,
      holdId: metering.holdId,
      held: amount,
      charged,
      shortfall,
      result,
    });
    const done = async (o: MeterOutcome) => {
      try {
        await options.onSettled?.(ctx, o);
      } catch (e) {
        report(e);
      }
      return o;
    };
    const release = async (why: MeterOutcome['result']) => {
      try {
        await ledger.release({ holdId: metering.holdId, reason: `meter: ${why}` });
      } catch (e) {
        report(e); // the hold still lapses at its TTL
      }
      return done(outcome(why));
    };
    /** Captures `settle`'s number; more than held is charged only when the extra is covered. */
    const capture = async (info: SettleInfo): Promise<MeterOutcome> => {
      let credits: number;
      try {
        credits = await settle(ctx, info);
        if (!Number.isSafeInteger(credits) || credits < 0)
          throw new TypeError(`meter: settle returned ${String(credits)}, not a whole number ≥ 0`);
      } catch (e) {
        report(e);
        return release('released_settle_failed');
      }
      if (credits === 0) return release('released_zero');
      try {
        const r = await ledger.capture({ holdId: metering.holdId, amount: credits, ...onCapture });
        if (r.outcome === 'captured' || r.outcome === 'replayed') return done(outcome('captured', credits));
        // Not covered beyond the hold (or a cap): charge what was held, report the rest.
        const rest = await ledger.capture({ holdId: metering.holdId, amount, ...onCapture });
        return done(outcome('captured', rest.outcome === 'captured' ? amount : 0, credits - amount));
      } catch (e) {
        if (isLedgerError(e, 'hold_expired')) {
          // The hold lapsed during a very long response: charge it as a plain debit if covered.
          let d: Awaited<ReturnType<Ledger['debitIfCovers']>> | null = null;
          try {
            d = await ledger.debitIfCovers({ account, amount: credits, ...attribution });
          } catch (x) {
            report(x);
          }
          return done(outcome('captured', d?.outcome === 'debited' ? credits : 0, d?.outcome === 'debited' ? 0 : credits));
        }
        report(e);
        return release('released_settle_failed');
      }
    };

    await next();

    const res = c.res;
    if (c.error !== undefined) {
      await release('released_error');
      c.res = withHeaders(c.res, { 'x-credits-held': String(amount), 'x-credits-charged': '0' });
      return;
    }
    if (!chargeable(res)) {
      await release('released_status');
      c.res = withHeaders(res, { 'x-credits-held': String(amount), 'x-credits-charged': '0' });
      return;
    }
    if (res.body !== null && isStream(res)) {
      const { body, settled } = settledStream(res, metering, capture, release, options.sseEvent === true);
      c.res = new Response(body, {
        status: res.status,
        statusText: res.statusText,
        headers: headersWith(res.headers, { 'x-credits-held': String(amount) }),
      });
      // Workers drop a request's pending work when its client disconnects, and then never cancel
      // the body (the hold would stay open until its TTL) unless something is left in waitUntil.
      keepAliveUntil(c, settled);
      return;
    }
    const o = await capture({ response: res, metering, streamed: false, bytes: 0 });
    c.res = withHeaders(res, { 'x-credits-held': String(amount), 'x-credits-charged': String(o.charged) });
  };
}

/**
 * The body, passed through as it is read; when it ends the hold is captured (before the
 * stream closes, so a client that read to the end sees the charge committed), when the client
 * cancels it or the source fails it is released. Exactly one of the two happens.
 */
function settledStream(
  res: Response,
  metering: Metering,
  capture: (info: SettleInfo) => Promise<MeterOutcome>,
  release: (why: MeterOutcome['result']) => Promise<MeterOutcome>,
  sseEvent: boolean,
): { body: ReadableStream<Uint8Array>; settled: Promise<void> } {
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  let bytes = 0;
  let finished = false;
  let settle!: () => void;
  const settled = new Promise<void>((resolve) => {
    settle = resolve;
  });
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      let chunk: Awaited<ReturnType<typeof reader.read>>;
      try {
        chunk = await reader.read();
      } catch (e) {
        if (!finished) {
          finished = true;
          await release('released_error');
          settle();
        }
        controller.error(e);
        return;
      }
      if (!chunk.done) {
        bytes += chunk.value.byteLength;
        controller.enqueue(chunk.value);
        return;
      }
      if (finished) return;
      finished = true;
      const o = await capture({ response: res, metering, streamed: true, bytes });
      settle();
      if (sseEvent)
        controller.enqueue(new TextEncoder().encode(`event: credits\ndata: ${JSON.stringify({ held: o.held, charged: o.charged })}\n\n`));
      controller.close();
    },
    async cancel(reason) {
      if (!finished) {
        finished = true;
        await release('released_abort');
        settle();
      }
      await reader.cancel(reason).catch(() => undefined);
    },
  });
  return { body, settled };
}

/** `waitUntil` where the runtime has one (Workers); Node and Bun give Hono no execution context. */
function keepAliveUntil(c: Context, settled: Promise<void>): void {
  let ctx: { waitUntil(p: Promise<unknown>): void };
  try {
    ctx = c.executionCtx;
  } catch {
    return;
  }
  ctx.waitUntil(settled);
}

function headersWith(h: Headers, add: Record<string, string>): Headers {
  const out = new Headers(h);
  for (const [k, v] of Object.entries(add)) out.set(k, v);
  return out;
}

/** The response with headers added (a copy: a fetched Response's headers are immutable). */
function withHeaders(res: Response, add: Record<string, string>): Response {
  return new Response(res.body, { status: res.status, statusText: res.statusText, headers: headersWith(res.headers, add) });
}
