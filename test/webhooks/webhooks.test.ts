/**
 * ledger.webhooks on every driver of the matrix, against a real node:http receiver on
 * 127.0.0.1 (bun:sqlite runs in its own process, where a fetch function cannot be passed).
 * Events are inserted into credit_event directly: the triggers that write them are another
 * change; delivery only reads the outbox.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LedgerError, WEBHOOK_FANOUT_MAX, WEBHOOK_MAX_ATTEMPTS, WEBHOOK_RETRY_SCHEDULE_MS } from '../../src/index.js';
import * as q from '../../src/webhooks/sql.js';
import { DRIVERS, manualClock, type TestDb } from '../support/drivers.js';
import { type Receiver, startReceiver, verifyAt, verifyNow } from '../support/webhook-receiver.js';

/** Inserts an event as the triggers would (the next id, commit order); returns its id. */
async function insertEvent(db: TestDb, at: number, type = 'balance.low', account = 'user_1'): Promise<number> {
  await db.all('INSERT INTO credit_event (type, account, entry, ref, created_at, data) VALUES (?, ?, NULL, NULL, ?, ?)', [
    type,
    account,
    at,
    JSON.stringify({ available: 5, threshold: 10 }),
  ]);
  const [row] = await db.all('SELECT MAX(id) AS id FROM credit_event');
  return Number(row?.id);
}

const WEBHOOK_TABLES = ['credit_webhook', 'credit_delivery', 'credit_delivery_attempt'];
const snapshot = async (db: TestDb) => {
  const out: Record<string, unknown> = {};
  for (const t of WEBHOOK_TABLES) out[t] = await db.all(`SELECT * FROM ${t} ORDER BY rowid`);
  return out;
};

describe.each(DRIVERS)('webhooks on $name', (driver) => {
  // Starts at the real time: receivers check webhook-timestamp against their own clock.
  const clock = manualClock(Date.now());
  let db: TestDb;
  let rx: Receiver;
  beforeAll(async () => {
    db = await driver.open({ clock: clock.now });
    rx = await startReceiver();
  });
  afterAll(async () => {
    await db?.close();
    await rx?.close();
  });
  const fresh = () => {
    rx.received.length = 0;
    rx.respond = () => ({ status: 200 });
  };
  const only = (path: string) => rx.received.filter((r) => r.path === path);
  // D1 through miniflare costs ~8 ms a statement: it runs the cases that exercise its batch
  // path (fan-out + claim, records, redeliver); the rest run the same SQL on the other drivers.
  const notOnD1 = driver.slow ? it.skip : it;

  it('add, list, remove; misuse is a LedgerError and writes nothing', async () => {
    const a = await db.ledger.webhooks.add({ url: `${rx.url}/a`, types: ['cap.reached', 'balance.low', 'cap.reached'] });
    expect(a.id).toMatch(/^wh_[0-9a-f]{24}$/);
    expect(a.secret).toMatch(/^whsec_[A-Za-z0-9+/]+=*$/);
    expect(Buffer.from(a.secret.slice(6), 'base64').length).toBeGreaterThanOrEqual(24);
    expect(a.webhook).toMatchObject({ id: a.id, url: `${rx.url}/a`, types: ['balance.low', 'cap.reached'], status: 'active' });
    const secret = `whsec_${Buffer.alloc(32, 7).toString('base64')}`;
    const b = await db.ledger.webhooks.add({ url: `${rx.url}/b`, secret });
    expect(b.secret).toBe(secret);
    const list = await db.ledger.webhooks.list();
    expect(list.map((w) => w.id)).toEqual([a.id, b.id]);
    expect(JSON.stringify(list)).not.toContain('whsec_');

    const before = await snapshot(db);
    const bad: [string, () => Promise<unknown>][] = [
      ['invalid_argument', () => db.ledger.webhooks.add({ url: 'ftp://example.com/x' })],
      ['invalid_argument', () => db.ledger.webhooks.add({ url: 'not a url' })],
      ['invalid_argument', () => db.ledger.webhooks.add({ url: `${rx.url}/c`, types: ['nope' as never] })],
      ['invalid_argument', () => db.ledger.webhooks.add({ url: `${rx.url}/c`, types: [] })],
      ['invalid_argument', () => db.ledger.webhooks.add({ url: `${rx.url}/c`, secret: 'whsec_c2hvcnQ=' })],
      ['invalid_argument', () => db.ledger.webhooks.add({ url: `${rx.url}/c`, secret: 'sk_live' })],
      ['invalid_argument', () => db.ledger.webhooks.add({ url: `${rx.url}/c`, extra: 1 } as never)],
      ['invalid_argument', () => db.ledger.webhooks.add(null as never)],
      ['invalid_argument', () => db.ledger.webhooks.remove('x')],
      ['not_found', () => db.ledger.webhooks.remove('wh_000000')],
      ['not_found', () => db.ledger.webhooks.enable('wh_000000')],
      ['invalid_argument', () => db.ledger.webhooks.deliver({ limit: 0 })],
      ['invalid_argument', () => db.ledger.webhooks.deliver({ timeoutMs: -1 })],
      ['invalid_argument', () => db.ledger.webhooks.deliver({ fetch: 'no' as never })],
      ['invalid_argument', () => db.ledger.webhooks.redeliver(1.5)],
      ['not_found', () => db.ledger.webhooks.redeliver(999_999)],
      ['not_found', () => db.ledger.webhooks.attempts(999_999)],
    ];
    for (const [code, call] of bad) {
      const e = await call().then(
        () => 'returned',
        (x) => x,
      );
      expect(e, String(call)).toBeInstanceOf(LedgerError);
      expect((e as LedgerError).code, String(call)).toBe(code);
    }
    expect(await snapshot(db)).toEqual(before);

    expect(await db.ledger.webhooks.remove(b.id)).toEqual({ removed: b.id });
    await expect(db.ledger.webhooks.remove(b.id)).rejects.toMatchObject({ code: 'not_found' });
    expect((await db.ledger.webhooks.list()).map((w) => w.id)).toEqual([a.id]);
    await db.ledger.webhooks.remove(a.id);
  });

  it('delivers events created after the endpoint was added, signed per Standard Webhooks, once; types filter', async () => {
    fresh();
    const old = await insertEvent(db, clock.now());
    const all = await db.ledger.webhooks.add({ url: `${rx.url}/all` });
    const caps = await db.ledger.webhooks.add({ url: `${rx.url}/caps`, types: ['cap.reached'] });
    const e1 = await insertEvent(db, clock.now(), 'balance.low');
    const e2 = await insertEvent(db, clock.now(), 'cap.reached', 'team:acme');
    const r = await db.ledger.webhooks.deliver();
    expect(r).toMatchObject({ queued: 3, sent: 3, delivered: 3, retried: 0, failed: 0, lost: 0, more: false });
    expect(
      only('/all')
        .map((x) => x.id)
        .sort(),
    ).toEqual([`evt_${e1}`, `evt_${e2}`].sort());
    expect(only('/caps').map((x) => x.id)).toEqual([`evt_${e2}`]);
    for (const x of only('/all')) {
      const payload = verifyNow(all.secret, x);
      const id = Number(x.id.slice(4));
      const event = await db.ledger.events.get(id);
      expect(payload).toEqual({ type: event?.type, timestamp: event?.timestamp, data: event?.data });
      expect(x.contentType).toBe('application/json');
      expect(x.timestamp).toBe(String(Math.floor(clock.now() / 1000)));
      expect(x.attempt).toBe(1);
      // Signed with this endpoint's secret, not another's.
      expect(() => verifyNow(caps.secret, x)).toThrow();
    }
    expect(verifyNow(caps.secret, only('/caps')[0] as never)).toMatchObject({ type: 'cap.reached', data: { account: 'team:acme' } });
    expect(rx.received.some((x) => x.id === `evt_${old}`)).toBe(false);
    expect(await db.ledger.webhooks.deliver()).toMatchObject({ queued: 0, sent: 0 });
    const attempts = await db.ledger.webhooks.attempts(e2);
    expect(attempts.map((a) => [a.webhookId, a.attempt, a.outcome, a.status])).toEqual(
      [
        [all.id, 1, 'delivered', 200],
        [caps.id, 1, 'delivered', 200],
      ].sort((x, y) => String(x[0]).localeCompare(String(y[0]))),
    );
    expect(await db.ledger.webhooks.attempts(old)).toEqual([]);
    await db.ledger.webhooks.remove(all.id);
    await db.ledger.webhooks.remove(caps.id);
    // Removal takes the endpoint's deliveries and attempts with it.
    expect(await db.ledger.webhooks.attempts(e2)).toEqual([]);
  });

  it('delivers an event written by a real ledger operation (a low-balance alert crossed by a debit)', async () => {
    fresh();
    const w = await db.ledger.webhooks.add({ url: `${rx.url}/real`, types: ['balance.low'] });
    await db.ledger.alerts.set({ account: 'real_1', lowBalance: 50 });
    await db.ledger.grant({ account: 'real_1', amount: 100 });
    await db.ledger.debitIfCovers({ account: 'real_1', amount: 60 });
    const { events } = await db.ledger.events.list({ types: ['balance.low'] });
    const event = events.find((e) => e.account === 'real_1');
    expect(event).toBeDefined();
    expect(await db.ledger.webhooks.deliver()).toMatchObject({ queued: 1, delivered: 1 });
    const [got] = only('/real');
    expect(got?.id).toBe(`evt_${event?.id}`);
    expect(verifyNow(w.secret, got as never)).toEqual({ type: 'balance.low', timestamp: event?.timestamp, data: event?.data });
    await db.ledger.webhooks.remove(w.id);
  });

  it('retries on the schedule, honours Retry-After, fails after the last attempt; redeliver sends it again', async () => {
    fresh();
    const w = await db.ledger.webhooks.add({ url: `${rx.url}/retry` });
    const e = await insertEvent(db, clock.now());
    const t0 = clock.now();
    rx.respond = (x) => (x.attempt === 1 ? { status: 503, headers: { 'retry-after': '120' } } : { status: 500 });
    expect(await db.ledger.webhooks.deliver()).toMatchObject({ sent: 1, retried: 1 });
    // Retry-After 120 s asks for later than the schedule's 5 s.
    clock.set(t0 + 119_999);
    expect((await db.ledger.webhooks.deliver()).sent).toBe(0);
    clock.set(t0 + 120_000);
    let at = clock.now();
    expect(await db.ledger.webhooks.deliver()).toMatchObject({ sent: 1, retried: 1 });
    // Attempt n failed at `at`: attempt n + 1 is due exactly schedule[n - 1] later.
    for (let n = 2; n < WEBHOOK_MAX_ATTEMPTS; n++) {
      const delay = WEBHOOK_RETRY_SCHEDULE_MS[n - 1] as number;
      clock.set(at + delay - 1);
      expect((await db.ledger.webhooks.deliver()).sent, `attempt ${n + 1} early`).toBe(0);
      clock.set(at + delay);
      at = clock.now();
      const r = await db.ledger.webhooks.deliver();
      expect(r.sent, `attempt ${n + 1}`).toBe(1);
      expect(n + 1 === WEBHOOK_MAX_ATTEMPTS ? r.failed : r.retried).toBe(1);
    }
    clock.advance(48 * 3_600_000);
    expect((await db.ledger.webhooks.deliver()).sent).toBe(0);
    const got = only('/retry');
    expect(got.map((x) => x.attempt)).toEqual(Array.from({ length: WEBHOOK_MAX_ATTEMPTS }, (_, i) => i + 1));
    expect(new Set(got.map((x) => x.id))).toEqual(new Set([`evt_${e}`]));
    for (const x of got) expect(verifyAt(w.secret, x)).toMatchObject({ type: 'balance.low' });
    const [delivery] = await db.all('SELECT status, attempts, last_status FROM credit_delivery WHERE event = ?', [e]);
    expect(delivery).toMatchObject({ status: 'failed', last_status: 500 });

    // A Retry-After as an HTTP date, then a success after redeliver (a fresh schedule).
    rx.respond = (x) =>
      x.attempt === WEBHOOK_MAX_ATTEMPTS + 1
        ? { status: 429, headers: { 'retry-after': new Date(clock.now() + 3_600_000).toUTCString() } }
        : { status: 204 };
    expect(await db.ledger.webhooks.redeliver(e)).toEqual({ eventId: e, webhooks: [w.id] });
    expect(await db.ledger.webhooks.deliver()).toMatchObject({ sent: 1, retried: 1 });
    clock.advance(3_599_000); // the date has a 1 s resolution
    expect((await db.ledger.webhooks.deliver()).sent).toBe(0);
    clock.advance(1_000);
    expect(await db.ledger.webhooks.deliver()).toMatchObject({ sent: 1, delivered: 1 });
    const attempts = await db.ledger.webhooks.attempts(e);
    expect(attempts.map((a) => a.attempt)).toEqual(Array.from({ length: WEBHOOK_MAX_ATTEMPTS + 2 }, (_, i) => i + 1));
    expect(attempts.map((a) => a.outcome)).toEqual([...Array(WEBHOOK_MAX_ATTEMPTS + 1).fill('error'), 'delivered']);
    expect(attempts[0]).toMatchObject({ status: 503, error: 'HTTP 503', webhookId: w.id, eventId: e });
    expect(attempts.every((a) => a.durationMs !== null && a.durationMs >= 0)).toBe(true);
    // Redelivering a delivered event sends it again.
    await db.ledger.webhooks.redeliver(e);
    expect(await db.ledger.webhooks.deliver()).toMatchObject({ sent: 1, delivered: 1 });
    await db.ledger.webhooks.remove(w.id);
  });

  it('prune deletes finished deliveries created before the cut-off with their attempts, oldest first; pending ones and events stay', async () => {
    fresh();
    const w = await db.ledger.webhooks.add({ url: `${rx.url}/prune` });
    // A delivery that fails after the last attempt …
    const failed = await insertEvent(db, clock.now());
    rx.respond = () => ({ status: 500 });
    for (let n = 0; n < WEBHOOK_MAX_ATTEMPTS; n++) {
      await db.ledger.webhooks.deliver();
      clock.advance(25 * 3_600_000);
    }
    // … one delivered, one still pending (its retry a day away), then the cut-off, then one delivered after it.
    const delivered = await insertEvent(db, clock.now());
    const pending = await insertEvent(db, clock.now());
    rx.respond = (x) => (x.id === `evt_${pending}` ? { status: 503, headers: { 'retry-after': '86400' } } : { status: 200 });
    expect(await db.ledger.webhooks.deliver()).toMatchObject({ delivered: 1, retried: 1 });
    const cutoff = clock.now() + 1;
    clock.advance(10);
    const later = await insertEvent(db, clock.now());
    expect(await db.ledger.webhooks.deliver()).toMatchObject({ delivered: 1 });
    const status = async () =>
      Object.fromEntries(
        (await db.all('SELECT event, status FROM credit_delivery WHERE webhook = ? ORDER BY event', [w.id])).map((r) => [
          Number(r.event),
          r.status,
        ]),
      );
    expect(await status()).toEqual({ [failed]: 'failed', [delivered]: 'delivered', [pending]: 'pending', [later]: 'delivered' });

    const before = await snapshot(db);
    const bad: unknown[] = [
      undefined,
      {},
      { before: -1 },
      { before: 1.5 },
      { before: '1' },
      { before: 1, limit: 0 },
      { before: 1, limit: 10_001 },
      { before: 1, x: 1 },
    ];
    for (const input of bad)
      await expect(db.ledger.webhooks.prune(input as never), JSON.stringify(input)).rejects.toMatchObject({ code: 'invalid_argument' });
    expect(await snapshot(db)).toEqual(before);

    // Oldest first, `limit` at a time; the failed one went through every attempt.
    expect(await db.ledger.webhooks.prune({ before: cutoff, limit: 1 })).toEqual({
      deliveries: 1,
      attempts: WEBHOOK_MAX_ATTEMPTS,
      more: true,
    });
    expect(await db.ledger.webhooks.prune({ before: cutoff })).toEqual({ deliveries: 1, attempts: 1, more: false });
    expect(await db.ledger.webhooks.prune({ before: cutoff })).toEqual({ deliveries: 0, attempts: 0, more: false });
    expect(await status()).toEqual({ [pending]: 'pending', [later]: 'delivered' });
    expect(await db.ledger.webhooks.attempts(failed)).toEqual([]);
    expect(await db.ledger.webhooks.attempts(delivered)).toEqual([]);
    expect((await db.ledger.webhooks.attempts(pending)).map((a) => a.outcome)).toEqual(['error']);
    expect((await db.ledger.webhooks.attempts(later)).map((a) => a.outcome)).toEqual(['delivered']);
    // Events stay: a pruned event can be redelivered.
    expect((await db.ledger.events.list({ after: failed - 1, limit: 1 })).events.map((e) => e.id)).toEqual([failed]);
    expect(await db.ledger.webhooks.redeliver(delivered)).toEqual({ eventId: delivered, webhooks: [w.id] });
    expect(await db.ledger.webhooks.deliver()).toMatchObject({ sent: 1, delivered: 1 });
    await db.ledger.webhooks.remove(w.id);
  });

  notOnD1('410 Gone disables the endpoint and pauses its deliveries; enable resumes them and what it missed', async () => {
    fresh();
    const w = await db.ledger.webhooks.add({ url: `${rx.url}/gone` });
    const e1 = await insertEvent(db, clock.now());
    const e2 = await insertEvent(db, clock.now());
    rx.respond = () => ({ status: 410 });
    const r = await db.ledger.webhooks.deliver({ concurrency: 1 });
    expect(r.disabled).toBe(1);
    const [hook] = await db.ledger.webhooks.list();
    expect(hook).toMatchObject({ id: w.id, status: 'disabled', disabledAt: clock.now() });
    expect(hook?.disabledReason).toContain('410 Gone');
    const e3 = await insertEvent(db, clock.now());
    clock.advance(3_600_000);
    expect(await db.ledger.webhooks.deliver()).toMatchObject({ queued: 0, sent: 0 });
    expect((await db.all('SELECT DISTINCT status FROM credit_delivery WHERE webhook = ?', [w.id])).map((x) => x.status)).toEqual([
      'paused',
    ]);
    rx.respond = () => ({ status: 200 });
    expect((await db.ledger.webhooks.enable(w.id)).status).toBe('active');
    const again = await db.ledger.webhooks.deliver();
    expect(again).toMatchObject({ queued: 1, delivered: 3 });
    expect([...(rx.delivered.get('/gone') ?? [])].sort()).toEqual([`evt_${e1}`, `evt_${e2}`, `evt_${e3}`].sort());
    expect((await db.ledger.webhooks.attempts(e1)).map((a) => a.outcome)).toEqual(['gone', 'delivered']);
    // Claimed in the same call as the 410, and then not sent.
    const [skipped] = await db.ledger.webhooks.attempts(e2);
    expect(skipped).toMatchObject({ outcome: 'error', status: null });
    expect(skipped?.error).toContain('not sent');
    expect(rx.received.filter((x) => x.id === `evt_${e2}`)).toHaveLength(1);
    await db.ledger.webhooks.remove(w.id);
  });

  notOnD1('a timeout and a refused connection are failed attempts, retried', async () => {
    fresh();
    const slow = await db.ledger.webhooks.add({ url: `${rx.url}/slow` });
    const closed = await db.ledger.webhooks.add({ url: 'http://127.0.0.1:9/closed' });
    const moved = await db.ledger.webhooks.add({ url: `${rx.url}/moved` });
    const e = await insertEvent(db, clock.now());
    // Redirects are not followed: a 3xx is a failed attempt.
    rx.respond = (x) => (x.path === '/moved' ? { status: 307, headers: { location: `${rx.url}/slow` } } : { status: 200, delayMs: 1_000 });
    const r = await db.ledger.webhooks.deliver({ timeoutMs: 100 });
    expect(r).toMatchObject({ sent: 3, retried: 3 });
    const attempts = await db.ledger.webhooks.attempts(e);
    const of = (id: string) => attempts.find((a) => a.webhookId === id);
    expect(of(slow.id)).toMatchObject({ outcome: 'timeout', status: null });
    expect(of(closed.id)).toMatchObject({ outcome: 'error', status: null });
    expect(of(closed.id)?.error).toMatch(/ECONNREFUSED|refused|fetch failed|connect/i);
    expect(of(moved.id)).toMatchObject({ outcome: 'error', status: 307 });
    expect(only('/slow')).toHaveLength(1);
    await db.ledger.webhooks.remove(moved.id);
    await db.ledger.webhooks.remove(slow.id);
    await db.ledger.webhooks.remove(closed.id);
  });

  notOnD1('two deliverers at once never send the same delivery twice', async () => {
    fresh();
    const w = await db.ledger.webhooks.add({ url: `${rx.url}/race` });
    const ids: number[] = [];
    for (let i = 0; i < 6; i++) ids.push(await insertEvent(db, clock.now()));
    rx.respond = () => ({ status: 200, delayMs: 20 });
    const other = (await db.another?.()) ?? db.ledger;
    const [a, b] = await Promise.all([db.ledger.webhooks.deliver({ limit: 4 }), other.webhooks.deliver({ limit: 4 })]);
    const c = await db.ledger.webhooks.deliver();
    expect(a.sent + b.sent + c.sent).toBe(6);
    expect(
      only('/race')
        .map((x) => x.id)
        .sort(),
    ).toEqual(ids.map((i) => `evt_${i}`).sort());
    expect(rx.concurrentDuplicates).toEqual([]);
    await db.ledger.webhooks.remove(w.id);
  });
});

describe('webhooks fan-out in bounded steps (better-sqlite3)', () => {
  it('query plans: the fan-out seeks the outbox by id range per endpoint, the claim reads the due index (cost flat in history)', async () => {
    const spec = DRIVERS.find((d) => d.name === 'better-sqlite3 :memory:');
    if (spec === undefined) throw new Error('no driver');
    const db = await spec.open();
    try {
      const plan = async (sql: string, args: unknown[]) =>
        (await db.all(`EXPLAIN QUERY PLAN ${sql}`, args)).map((r) => String(r.detail)).join(' | ');
      const fanOut = await plan(q.FAN_OUT, [0, 0, 10]);
      expect(fanOut).toMatch(/SEARCH e USING INTEGER PRIMARY KEY \(rowid>\? AND rowid<\?\)/);
      expect(fanOut).not.toMatch(/SCAN e\b/);
      expect(await plan(q.CLAIM, ['t', 1, 1, 0, 10])).toMatch(/credit_delivery_due/);
      expect(await plan(q.CLAIMED, ['t'])).toMatch(/credit_delivery_claim/);
    } finally {
      await db.close();
    }
  });

  it(`fans out at most WEBHOOK_FANOUT_MAX events per endpoint per call, and says there is more`, async () => {
    const spec = DRIVERS.find((d) => d.name === 'better-sqlite3 :memory:');
    if (spec === undefined) throw new Error('no driver');
    const db = await spec.open();
    try {
      const sent: string[] = [];
      const fetch = async (_url: string, init: { headers: Record<string, string> }) => {
        sent.push(init.headers['webhook-id'] as string);
        return { status: 204, headers: new Headers(), body: null };
      };
      await db.ledger.webhooks.add({ url: 'http://127.0.0.1:9/x' });
      const n = WEBHOOK_FANOUT_MAX + 1;
      await db.all(
        `WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < ${n})
         INSERT INTO credit_event (type, account, entry, ref, created_at, data) SELECT 'hold.expired', 'u', NULL, NULL, 0, '{}' FROM k`,
      );
      const first = await db.ledger.webhooks.deliver({ fetch, limit: 10 });
      expect(first).toMatchObject({ queued: WEBHOOK_FANOUT_MAX, sent: 10, more: true });
      const second = await db.ledger.webhooks.deliver({ fetch, limit: 1_000 });
      expect(second).toMatchObject({ queued: 1, sent: n - 10, delivered: n - 10, more: false });
      expect((await db.ledger.webhooks.list())[0]?.cursor).toBe(n);
      expect(await db.ledger.webhooks.deliver({ fetch, limit: 1_000 })).toMatchObject({ queued: 0, sent: 0, more: false });
      expect(sent.length).toBe(n);
      expect(new Set(sent).size).toBe(n);
    } finally {
      await db.close();
    }
  });
});
