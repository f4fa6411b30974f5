/**
 * The dashboard (`GET /dashboard`): its serving rules in process, then the page in a real
 * headless Chromium (Debian's `chromium`, driven by playwright-core) against the API on
 * @hono/node-server over a seeded better-sqlite3 ledger: sign in (a wrong and a non-admin
 * token refused), look an account up and compare every number on the page with the ledger,
 * check both charts were drawn (pixels of the series colour on uPlot's canvas), page the
 * history and the event log. The screenshot is kept at .tmp/artifacts/dashboard.png.
 */
import { existsSync, mkdirSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { dirname, resolve } from 'node:path';
import { type ServerType, serve } from '@hono/node-server';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearerToken, createCreditsApi } from '../../src/http/index.js';
import type { Ledger } from '../../src/index.js';
import { DRIVERS, manualClock, type TestDb } from '../support/drivers.js';
import { apiFor, call } from './support.js';

const ROOT = resolve(import.meta.dirname, '../..');
const SCREENSHOT = resolve(ROOT, '.tmp/artifacts/dashboard.png');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const IN_CI = process.env.CI !== undefined && !['', '0', 'false'].includes(process.env.CI);
const HAVE_CHROMIUM = existsSync(CHROMIUM);
const DAY = 86_400_000;

describe('GET /dashboard (served without a token, no data in it)', () => {
  let db: TestDb;
  beforeAll(async () => {
    db = await DRIVERS.find((d) => d.name === 'better-sqlite3 :memory:')!.open();
    await db.ledger.grant({ account: 'secret-account', amount: 4242 });
  });
  afterAll(() => db.close());

  it('serves the page and its assets publicly with a strict CSP; unknown assets are 401 without a token', async () => {
    const { app } = apiFor(db.ledger);
    const page = await call(app, 'GET', '/dashboard', { token: null });
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(page.headers.get('cache-control')).toBe('no-store');
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(page.headers.get('content-security-policy')).toContain("connect-src 'self'");
    expect(page.body).toContain('data-base=""');
    expect(page.body).toContain('balance.low,cap.warning');
    expect(page.body).not.toMatch(/secret-account|4242|https?:\/\/(?!www\.w3)|<script>|<style>/);
    for (const [name, type] of [
      ['dashboard.js', 'text/javascript'],
      ['dashboard.css', 'text/css'],
      ['uPlot.iife.min.js', 'text/javascript'],
      ['uPlot.min.css', 'text/css'],
    ] as const) {
      expect(page.body).toContain(`/dashboard/assets/${name}`);
      const res = await app.request(`/dashboard/assets/${name}`);
      expect(res.status, name).toBe(200);
      expect(res.headers.get('content-type')).toMatch(new RegExp(`^${type}`));
      const etag = res.headers.get('etag')!;
      expect(etag).toMatch(/^"[0-9a-f]{20}"$/);
      expect((await app.request(`/dashboard/assets/${name}`, { headers: { 'if-none-match': etag } })).status).toBe(304);
    }
    // uPlot keeps its own header, with its MIT notice in front.
    const uplot = await (await app.request('/dashboard/assets/uPlot.iife.min.js')).text();
    expect(uplot).toMatch(/^\/\*! uPlot 1\.6\.32[^\n]*\nThe MIT License \(MIT\)\n\nCopyright \(c\) 2022 Leon Sorokin/);
    expect(uplot).toContain('/*! https://github.com/leeoniya/uPlot (v1.6.32) */');
    // Anything else under /dashboard is the API's not-found: credentials first.
    expect((await call(app, 'GET', '/dashboard/assets/nope.js', { token: null })).status).toBe(401);
    expect((await call(app, 'GET', '/dashboard/assets/__proto__', { token: null })).status).toBe(401);
    expect((await call(app, 'GET', '/dashboard/assets/nope.js', { token: 'admin' })).status).toBe(404);
    expect((await call(app, 'GET', '/dashboard/other', { token: null })).status).toBe(401);
  });

  it('under a basePath, the page points at its own assets and API', async () => {
    const { app } = apiFor(db.ledger, { basePath: '/credits' });
    const page = await call(app, 'GET', '/credits/dashboard', { token: null });
    expect(page.status).toBe(200);
    expect(page.body).toContain('data-base="/credits"');
    expect(page.body).toContain('src="/credits/dashboard/assets/dashboard.js"');
    expect((await app.request('/credits/dashboard/assets/uPlot.min.css')).status).toBe(200);
    expect((await call(app, 'GET', '/dashboard', { token: null })).status).toBe(401);
  });

  it('dashboard: false serves neither the page nor its assets', async () => {
    const { app } = apiFor(db.ledger, { dashboard: false });
    expect((await call(app, 'GET', '/dashboard', { token: null })).status).toBe(401);
    expect((await call(app, 'GET', '/dashboard/assets/dashboard.js', { token: null })).status).toBe(401);
    expect((await call(app, 'GET', '/dashboard', { token: 'admin' })).status).toBe(404);
  });
});

// The page's globals as the callbacks run in Chromium use them: the check config has no DOM
// lib, so this module declares just what it touches (for itself only).
interface PageElement {
  textContent: string | null;
  dataset: Record<string, string | undefined>;
  cells: ArrayLike<PageElement>;
  width: number;
  height: number;
  getAttribute(name: string): string | null;
  querySelector(selector: string): PageElement | null;
  querySelectorAll(selector: string): ArrayLike<PageElement>;
  getContext(kind: '2d'): { getImageData(x: number, y: number, w: number, h: number): { data: Uint8ClampedArray } };
}
declare const document: {
  getElementById(id: string): PageElement | null;
  querySelector(selector: string): PageElement | null;
  querySelectorAll(selector: string): ArrayLike<PageElement>;
};
declare const sessionStorage: { length: number; [key: string]: unknown };

const ADMIN = 'dash-admin-token-0123456789';
const READER = 'dash-reader-token-0123456789';

/** One account with two lots, a plan, caps, an alert, a week of debits by two models, and a hold open now. */
async function seed(ledger: Ledger, clock: ReturnType<typeof manualClock>, now: number): Promise<void> {
  clock.set(now - 7 * DAY);
  await ledger.grant({ account: 'acme', amount: 100_000, reason: 'top-up' });
  await ledger.grant({ account: 'acme', amount: 5_000, expiresAt: now + 20 * DAY, priority: 10, reason: 'promo' });
  await ledger.plans.define({ id: 'pro', allowance: { amount: 1_000, every: 'month' } });
  await ledger.plans.subscribe({ account: 'acme', planId: 'pro' });
  await ledger.caps.set({ account: 'acme', window: 'month', limit: 50_000, action: 'deny' });
  await ledger.caps.set({ account: 'acme', window: 'day', limit: 400, action: 'warn', model: 'gpt-4o' });
  await ledger.alerts.set({ account: 'acme', lowBalance: 104_500, expiringWithinMs: 30 * DAY });
  // Thirty balance.low events on another account: more than one page of the event log.
  await ledger.alerts.set({ account: 'other', lowBalance: 5 });
  for (let i = 0; i < 30; i++) {
    await ledger.grant({ account: 'other', amount: 6 });
    await ledger.debitIfCovers({ account: 'other', amount: 6 });
  }
  for (let i = 0; i < 7; i++) {
    clock.set(now - (6 - i) * DAY - 3 * 3_600_000);
    await ledger.debitIfCovers({ account: 'acme', amount: 100 + 7 * i, model: 'gpt-4o', keyId: 'k1' });
    clock.advance(60_000);
    await ledger.debitIfCovers({ account: 'acme', amount: 20 + i, model: 'gpt-4o', keyId: 'k1' });
    clock.advance(60_000);
    await ledger.debitIfCovers({ account: 'acme', amount: 50 + 3 * i, model: 'claude-3', keyId: 'k2' });
  }
  clock.set(now - 60_000);
  await ledger.hold({ account: 'acme', amount: 700, ttlMs: 3_600_000 });
  await ledger.sweep();
  clock.set(now);
}

/** The text of every cell of a table's body, row by row. */
const tableText = (page: Page, id: string) =>
  page.$$eval(`#${id} tbody tr`, (rows) => rows.map((r) => Array.from((r as unknown as PageElement).cells, (c) => c.textContent ?? '')));
const digits = (s: string) => s.replace(/,/g, '');

describe.runIf(HAVE_CHROMIUM || IN_CI)(
  HAVE_CHROMIUM ? 'the dashboard in headless Chromium' : `the dashboard in headless Chromium (CI: ${CHROMIUM} is missing)`,
  () => {
    let db: TestDb;
    let server: ServerType;
    let base: string;
    let browser: Browser;
    let page: Page;
    const clock = manualClock();
    // Whole seconds, like a server's clock reading; the ledger's "now" stays here for the whole test.
    const now = Math.floor(Date.now() / 1000) * 1000;

    beforeAll(async () => {
      if (!HAVE_CHROMIUM) throw new Error(`chromium is not installed at ${CHROMIUM} (.ci/run installs it with apt-get)`);
      db = await DRIVERS.find((d) => d.name === 'better-sqlite3 :memory:')!.open({ clock: clock.now });
      await seed(db.ledger, clock, now);
      const tokens = new Map([
        [ADMIN, ['admin']],
        [READER, ['read']],
      ]);
      const api = createCreditsApi({
        ledger: db.ledger,
        authorize: (req) => {
          const scopes = tokens.get(bearerToken(req) ?? '');
          return scopes ? { scopes } : null;
        },
      });
      server = await new Promise<ServerType>((res) => {
        const s = serve({ fetch: api.fetch, port: 0, hostname: '127.0.0.1' }, () => res(s));
      });
      base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      browser = await chromium.launch({
        executablePath: CHROMIUM,
        args: [
          '--headless',
          '--no-sandbox',
          '--disable-gpu',
          '--disable-quic',
          '--no-first-run',
          '--disable-background-networking',
          '--disable-component-update',
          '--disable-sync',
        ],
      });
      page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      page.setDefaultTimeout(15_000);
    });
    afterAll(async () => {
      await browser?.close();
      await new Promise((r) => (server ? server.close(r) : r(undefined)));
      await db?.close();
    });

    it('signs in, shows the account as the ledger has it, draws both charts, pages history and events', async () => {
      const pageErrors: string[] = [];
      page.on('pageerror', (e) => pageErrors.push(e.message));
      page.on('console', (m) => {
        if (m.type() === 'error') pageErrors.push(m.text());
      });
      const l = db.ledger;
      await page.goto(`${base}/dashboard`);
      await page.waitForSelector('#signin:not([hidden])');

      // A wrong token and a token without admin are refused on the page.
      await page.fill('#token', 'not-a-valid-token-at-all');
      await page.click('#signin-form button');
      await page.waitForSelector('#error:not([hidden])');
      expect(await page.textContent('#error')).toMatch(/not accepted: credentials are missing or not valid/);
      await page.fill('#token', READER);
      await page.click('#signin-form button');
      await page.waitForFunction(() => /admin scope/.test(document.getElementById('error')?.textContent ?? ''));
      expect(await page.isHidden('#app')).toBe(true);
      // Chromium logs those refused calls as failed loads; from here on, nothing may fail.
      expect(pageErrors).toHaveLength(2);
      pageErrors.length = 0;

      await page.fill('#token', ADMIN);
      await page.click('#signin-form button');
      await page.waitForSelector('#app:not([hidden])');
      expect(await page.isHidden('#error')).toBe(true);
      expect(await page.evaluate(() => Object.values(sessionStorage))).toEqual([ADMIN]);

      // Look the account up.
      await page.fill('#account', 'acme');
      await page.click('#lookup-form button');
      await page.waitForFunction(
        () =>
          document.getElementById('account-view')?.getAttribute('aria-busy') === 'false' &&
          /acme/.test(document.getElementById('spend-scope')?.textContent ?? '') &&
          document.getElementById('spend')?.getAttribute('aria-busy') === 'false' &&
          document.getElementById('events')?.getAttribute('aria-busy') === 'false',
      );
      expect(await page.isHidden('#error'), (await page.textContent('#error')) ?? '').toBe(true);

      const balance = await l.getBalance('acme');
      for (const k of ['balance', 'available', 'held', 'floor'] as const)
        expect(digits((await page.textContent(`#${k}`)) ?? ''), k).toBe(String(balance[k]));
      expect(balance.held).toBe(700);

      const lots = await l.lots('acme');
      expect(lots.some((x) => x.priority === 10)).toBe(true); // the promo lot (the allowance's is spent first)
      expect(
        (await tableText(page, 'lots')).map((r) => ({ id: r[0], remaining: digits(r[1]!), amount: digits(r[2]!), priority: r[3] })),
      ).toEqual(lots.map((x) => ({ id: x.id, remaining: String(x.remaining), amount: String(x.amount), priority: String(x.priority) })));
      const promo = lots.find((x) => x.priority === 10)!;
      expect((await tableText(page, 'lots')).find((r) => r[0] === promo.id)?.[4]).toBe(
        `${new Date(promo.expiresAt!).toISOString().slice(0, 19).replace('T', ' ')} UTC`,
      );

      const holds = await l.holds('acme');
      expect((await tableText(page, 'holds')).map((r) => [r[0], digits(r[1]!)])).toEqual(holds.map((h) => [h.id, String(h.amount)]));

      const caps = await l.caps.list('acme');
      expect(caps.length).toBe(2);
      expect((await tableText(page, 'caps')).map((r) => [r[0], r[1], r[2], ...r.slice(3, 7).map(digits)])).toEqual(
        caps.map((c) => [
          c.window,
          c.model === null ? 'all spend' : `model ${c.model}`,
          c.action,
          String(c.limit),
          String(c.spent),
          String(c.held),
          String(c.remaining),
        ]),
      );

      const sub = (await l.plans.subscription('acme'))!;
      const [plan] = await tableText(page, 'plan');
      expect([plan![0], plan![1], digits(plan![3]!), digits(plan![4]!)]).toEqual([
        `pro v${sub.version}`,
        sub.status,
        String(sub.allowance!.amount),
        String(sub.allowance!.remaining),
      ]);

      const alerts = await l.alerts.list('acme');
      expect((await tableText(page, 'alerts')).map((r) => [digits(r[0]!), r[1], r[2]])).toEqual(
        alerts.map((a) => [String(a.lowBalance), '30 d', a.below ? 'available is below' : 'above']),
      );

      // Both charts: what they plot is the API's analytics, and uPlot painted the series colour.
      const from = Date.parse(`${new Date(now).toISOString().slice(0, 10)}T00:00:00Z`) - 29 * DAY;
      const to = from + 30 * DAY;
      const byDay = await l.analytics.spend({ account: 'acme', from, to, groupBy: ['day'] });
      const byModel = await l.analytics.spend({ account: 'acme', from, to, groupBy: ['model'] });
      const chart = (id: string) =>
        page.evaluate((id) => {
          const el = document.getElementById(id)!;
          const canvas = el.querySelector('canvas');
          if (canvas === null) return null;
          const px = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data;
          let series = 0;
          let painted = 0;
          for (let i = 0; i < px.length; i += 4) {
            if (px[i + 3] !== 0) painted++;
            // #2b6cb0, the series colour (line, points, bars), fully opaque.
            if (Math.abs(px[i]! - 43) < 12 && Math.abs(px[i + 1]! - 108) < 12 && Math.abs(px[i + 2]! - 176) < 12 && px[i + 3]! > 240)
              series++;
          }
          return {
            labels: JSON.parse(el.dataset.labels ?? 'null'),
            values: JSON.parse(el.dataset.values ?? 'null'),
            width: canvas.width,
            painted,
            series,
          };
        }, id);
      const day = (await chart('chart-day'))!;
      expect(day.labels).toHaveLength(30);
      const plotted = new Map((day.labels as string[]).map((d, i) => [d, day.values[i]]));
      for (const r of byDay) expect(plotted.get(r.day!), r.day).toBe(r.net);
      expect((day.values as number[]).filter((v) => v !== 0)).toHaveLength(byDay.length);
      expect(day.series).toBeGreaterThan(100);
      const model = (await chart('chart-model'))!;
      expect(model.labels).toEqual(['gpt-4o', 'claude-3']);
      expect(model.values).toEqual(['gpt-4o', 'claude-3'].map((m) => byModel.find((r) => r.model === m)!.net));
      expect(model.series).toBeGreaterThan(1000);

      // History: newest page, then the next one through the API's cursor, then back.
      const first = await l.history('acme', { limit: 20 });
      expect(first.nextCursor).not.toBeNull();
      const rowsOf = async () => (await tableText(page, 'history')).map((r) => [r[0], r[2], ...r.slice(3, 6).map(digits)]);
      const expected = (p: typeof first) =>
        p.entries.map((e) => [e.id, e.kind, String(e.amount), e.delta > 0 ? `+${e.delta}` : String(e.delta), String(e.balance)]);
      expect(await rowsOf()).toEqual(expected(first));
      await page.click('#history-older');
      await page.waitForFunction(() => document.getElementById('history-page')?.textContent === 'page 2');
      const second = await l.history('acme', { limit: 20, cursor: first.nextCursor! });
      expect(await rowsOf()).toEqual(expected(second));
      await page.click('#history-newer');
      await page.waitForFunction(() => document.getElementById('history-page')?.textContent === 'page 1');
      expect(await rowsOf()).toEqual(expected(first));

      // The event log: newest page first, the next (older) one, back; then one type only, then every type.
      const all = (await l.events.list({ limit: 1000 })).events;
      expect(all.length).toBeGreaterThan(30);
      const newestFirst = all.reverse().map((e) => [String(e.id), e.type, e.account]);
      const eventRows = async () => (await tableText(page, 'event-table')).map((r) => [digits(r[0]!), r[2], r[3]]);
      const eventsShown = (first: string) =>
        page.waitForFunction(
          (first) =>
            document.getElementById('events')?.getAttribute('aria-busy') === 'false' &&
            document.querySelector('#event-table tbody td')?.textContent === first,
          first,
        );
      expect(await eventRows()).toEqual(newestFirst.slice(0, 25));
      await page.click('#events-older');
      await eventsShown(newestFirst[25]![0]!);
      expect(await eventRows()).toEqual(newestFirst.slice(25, 50));
      await page.click('#events-newer');
      await eventsShown(newestFirst[0]![0]!);
      const type = all.find((e) => e.type !== 'balance.low')!.type;
      const ofType = newestFirst.filter((e) => e[1] === type);
      await page.selectOption('#event-type', type);
      await eventsShown(ofType[0]![0]!);
      expect(await eventRows()).toEqual(ofType.slice(0, 25));
      await page.selectOption('#event-type', '');
      await eventsShown(newestFirst[0]![0]!);
      expect(await eventRows()).toEqual(newestFirst.slice(0, 25));

      // Another range: the by-day chart follows it.
      await page.fill('#from', new Date(now - 6 * DAY).toISOString().slice(0, 10));
      await page.click('#range-form button');
      await page.waitForFunction(() => JSON.parse(document.getElementById('chart-day')?.dataset.labels ?? '[]').length === 7);
      // A call the API refuses shows its problem+json detail (and the charts stay as they were).
      await page.fill('#from', new Date(now + 2 * DAY).toISOString().slice(0, 10));
      await page.click('#range-form button');
      await page.waitForSelector('#error:not([hidden])');
      expect(await page.textContent('#error')).toMatch(/to must not be before from/);
      // (the by-day and by-model calls, both refused)
      expect(pageErrors.splice(0)).toEqual([expect.stringMatching(/status of 400/), expect.stringMatching(/status of 400/)]);
      expect(JSON.parse((await page.getAttribute('#chart-day', 'data-labels')) ?? '[]')).toHaveLength(7);
      await page.fill('#from', new Date(from).toISOString().slice(0, 10));
      await page.click('#range-form button');
      await page.waitForFunction(() => JSON.parse(document.getElementById('chart-day')?.dataset.labels ?? '[]').length === 30);

      mkdirSync(dirname(SCREENSHOT), { recursive: true });
      await page.screenshot({ path: SCREENSHOT, fullPage: true });
      expect(pageErrors).toEqual([]);

      // A reload keeps the tab signed in (the token is checked again); sign out forgets it.
      await page.reload();
      await page.waitForSelector('#app:not([hidden])');
      await page.click('#sign-out');
      await page.waitForSelector('#signin:not([hidden])');
      expect(await page.evaluate(() => sessionStorage.length)).toBe(0);
    });
  },
);

if (!HAVE_CHROMIUM && !IN_CI)
  console.warn(`test/http/dashboard.test.ts: the browser test is skipped: no chromium at ${CHROMIUM} (apt-get install chromium)`);
