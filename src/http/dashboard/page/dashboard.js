/*
 * The dashboard's page script: plain DOM code, no framework, no build step (embedded into
 * src/http/dashboard/assets.generated.ts by scripts/embed-dashboard.ts). Every piece of data
 * comes from the JSON API with the token the user typed; it is written with textContent only
 * (the page's CSP allows no inline script, and the token sits in sessionStorage).
 * Amounts are shown exactly: the API's integers are formatted as digits, never through float
 * arithmetic (nothing here adds, divides or rounds an amount).
 */
/* global uPlot */

const root = document.documentElement;
const BASE = root.dataset.base ?? '';
const EVENT_TYPES = (root.dataset.eventTypes ?? '').split(',').filter((t) => t !== '');
const TOKEN_KEY = 'drizzle-credits.dashboard.token';
const HISTORY_PAGE = 20;
const EVENTS_PAGE = 25;
/** The API's largest events page: a filtered scan reads this many ids per request. */
const EVENTS_WINDOW = 1000;
/** A filtered scan stops after this many requests per click (the next click continues). */
const EVENTS_SCAN_REQUESTS = 20;
const DAY_MS = 86_400_000;
const SERIES_COLOUR = '#2b6cb0';

const $ = (id) => {
  const el = document.getElementById(id);
  if (el === null) throw new Error(`dashboard: #${id} is missing`);
  return el;
};

// ---- formatting ---------------------------------------------------------------------

/** An integer as grouped digits, exactly (a safe integer's decimal string is exact). */
function fmt(n) {
  if (typeof n !== 'number' || !Number.isSafeInteger(n)) return n === null || n === undefined ? '–' : String(n);
  const digits = String(n < 0 ? -n : n).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return n < 0 ? `-${digits}` : digits;
}
const signed = (n) => (typeof n === 'number' && n > 0 ? `+${fmt(n)}` : fmt(n));
/** A UTC time to the second: the ledger's timestamps are milliseconds since the epoch. */
function when(ms) {
  if (typeof ms !== 'number' || !Number.isFinite(ms)) return '–';
  return `${new Date(ms).toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}
function duration(ms) {
  if (typeof ms !== 'number') return '–';
  if (ms % DAY_MS === 0) return `${fmt(ms / DAY_MS)} d`;
  if (ms % 3_600_000 === 0) return `${fmt(ms / 3_600_000)} h`;
  return `${fmt(ms)} ms`;
}
const isoDay = (ms) => new Date(ms).toISOString().slice(0, 10);

// ---- API ----------------------------------------------------------------------------

class ApiError extends Error {
  constructor(status, detail, code) {
    super(detail);
    this.status = status;
    this.code = code;
  }
}

let token = sessionStorage.getItem(TOKEN_KEY);

/** GET a JSON API path with the bearer token; a non-2xx throws its problem+json `detail`. */
async function api(path) {
  let res;
  try {
    res = await fetch(BASE + path, { headers: { authorization: `Bearer ${token}`, accept: 'application/json' }, cache: 'no-store' });
  } catch (e) {
    throw new ApiError(0, `the API could not be reached (${e instanceof Error ? e.message : String(e)})`, 'network');
  }
  const text = await res.text();
  let body = null;
  try {
    body = JSON.parse(text);
  } catch {
    body = null;
  }
  if (!res.ok) {
    const detail = body && typeof body.detail === 'string' ? body.detail : `HTTP ${res.status}`;
    throw new ApiError(res.status, detail, body && typeof body.code === 'string' ? body.code : 'http');
  }
  return body;
}

const q = (params) =>
  Object.entries(params)
    .filter(([, v]) => v !== undefined && v !== null && v !== '')
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`)
    .join('&');
const accountPath = (account, rest) => `/v1/accounts/${encodeURIComponent(account)}/${rest}`;

// ---- messages -----------------------------------------------------------------------

function showError(message) {
  const box = $('error');
  box.textContent = message;
  box.hidden = false;
}
function clearError() {
  const box = $('error');
  box.textContent = '';
  box.hidden = true;
}
/** Shows a failed call; a token the API stops accepting signs the page out. */
function failed(e) {
  if (e instanceof ApiError && e.status === 401) {
    signOut();
    showError(`Signed out: the API no longer accepts this token (${e.message}).`);
    return;
  }
  showError(e instanceof ApiError ? e.message : `Unexpected error: ${e instanceof Error ? e.message : String(e)}`);
}

/** The latest run in each section: an answer that arrives after a newer request was made is dropped. */
const runs = new Map();

/**
 * Runs `work(current)` for a section, marked aria-busy meanwhile (tests and screen readers wait
 * on aria-busy="false"); `current()` turns false once a newer run starts, so a slow answer never
 * paints over a newer one. True when the work finished and was still current.
 */
async function busy(section, work) {
  const run = (runs.get(section) ?? 0) + 1;
  runs.set(section, run);
  const current = () => runs.get(section) === run;
  section.setAttribute('aria-busy', 'true');
  try {
    await work(current);
    return current();
  } catch (e) {
    if (current()) failed(e);
    return false;
  } finally {
    if (current()) section.setAttribute('aria-busy', 'false');
  }
}

// ---- tables -------------------------------------------------------------------------

function cell(content, className) {
  const td = document.createElement('td');
  if (content instanceof Node) td.append(content);
  else td.textContent = content;
  if (className) td.className = className;
  return td;
}
/** Fills a table's body: `cells(item)` returns [text or node, className?] pairs. */
function fill(tableId, items, cells, emptyText) {
  const table = $(tableId);
  const body = table.tBodies[0];
  body.replaceChildren();
  if (items.length === 0) {
    const tr = document.createElement('tr');
    const td = cell(emptyText, 'empty');
    td.colSpan = table.tHead.rows[0].cells.length;
    tr.append(td);
    body.append(tr);
    return;
  }
  for (const item of items) {
    const tr = document.createElement('tr');
    for (const [content, className] of cells(item)) tr.append(cell(content, className));
    body.append(tr);
  }
}
const amountClass = (n) => (n < 0 ? 'n neg' : n > 0 ? 'n pos' : 'n');

// ---- sign in / out ------------------------------------------------------------------

/**
 * The dashboard is for admins: the token must pass an admin-only read (the webhook list,
 * cheap and side-effect free) before the page shows anything.
 */
async function checkToken() {
  try {
    await api('/v1/webhooks');
    return null;
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) return `This token is not accepted: ${e.message}.`;
    if (e instanceof ApiError && e.status === 403)
      return `This token does not have the admin scope, which the dashboard needs (${e.message}).`;
    return e instanceof Error ? e.message : String(e);
  }
}

function showSignedIn(on) {
  $('signin').hidden = on;
  $('app').hidden = !on;
  $('sign-out').hidden = !on;
  $('signed-in').hidden = !on;
}

async function signIn(event) {
  event.preventDefault();
  clearError();
  const input = $('token');
  token = input.value.trim();
  const section = $('signin');
  section.setAttribute('aria-busy', 'true');
  const refused = await checkToken();
  section.setAttribute('aria-busy', 'false');
  if (refused !== null) {
    token = null;
    showError(refused);
    return;
  }
  input.value = '';
  sessionStorage.setItem(TOKEN_KEY, token);
  start();
}

function signOut() {
  token = null;
  runs.clear(); // answers still in flight are dropped
  $('event-table').tBodies[0].replaceChildren();
  sessionStorage.removeItem(TOKEN_KEY);
  state.account = null;
  destroyCharts();
  $('account-view').hidden = true;
  $('account').value = '';
  showSignedIn(false);
  clearError();
}

// ---- account ------------------------------------------------------------------------

const state = {
  account: null,
  /** history cursors: [undefined] is the newest page; each Older pushes the page's nextCursor. */
  historyCursors: [undefined],
  historyNext: null,
  /** events pages: the highest id each page starts below (a stack for Newer), and where Older continues. */
  eventsTops: [],
  eventsNextTop: 0,
  lastEventId: 0,
};

async function lookUp(account) {
  clearError();
  const view = $('account-view');
  const shown = await busy(view, async (current) => {
    const [balance, lots, holds, caps, subscription, alerts, history] = await Promise.all([
      api(accountPath(account, 'balance')),
      api(accountPath(account, 'lots')),
      api(accountPath(account, 'holds')),
      api(accountPath(account, 'caps')),
      api(accountPath(account, 'subscription')),
      api(accountPath(account, 'alerts')),
      historyPage(account, undefined),
    ]);
    if (!current()) return;
    state.account = account;
    state.historyCursors = [undefined];
    $('account-name').textContent = account;
    $('balance').textContent = fmt(balance.balance);
    $('available').textContent = fmt(balance.available);
    $('held').textContent = fmt(balance.held);
    $('floor').textContent = fmt(balance.floor);
    fill(
      'lots',
      lots.lots,
      (l) => [
        [l.id],
        [fmt(l.remaining), 'n'],
        [fmt(l.amount), 'n'],
        [fmt(l.priority), 'n'],
        [l.expiresAt === null ? 'never' : when(l.expiresAt)],
        [when(l.createdAt)],
      ],
      'No open lots',
    );
    fill('holds', holds.holds, (h) => [[h.id], [fmt(h.amount), 'n'], [when(h.expiresAt)], [when(h.createdAt)]], 'No open holds');
    fill(
      'caps',
      caps.caps,
      (c) => [
        [c.window],
        [capScope(c)],
        [c.action],
        [fmt(c.limit), 'n'],
        [fmt(c.spent), 'n'],
        [fmt(c.held), 'n'],
        [fmt(c.remaining), 'n'],
        [when(c.resetsAt)],
      ],
      'No caps',
    );
    const s = subscription.subscription;
    fill(
      'plan',
      s === null ? [] : [s],
      (p) => [
        [`${p.planId} v${p.version}`],
        [planStatus(p)],
        [p.period === null ? '–' : `${when(p.period.start)} → ${when(p.period.end)}`],
        [p.allowance === null ? '–' : fmt(p.allowance.amount), 'n'],
        [p.allowance === null ? '–' : fmt(p.allowance.remaining), 'n'],
        [p.allowance === null ? '–' : fmt(p.allowance.rollover), 'n'],
        [p.allowance === null ? '–' : when(p.allowance.resetsAt)],
      ],
      'No plan subscription',
    );
    fill(
      'alerts',
      alerts.alerts,
      (a) => [
        [a.lowBalance === null ? '–' : fmt(a.lowBalance), 'n'],
        [a.expiringWithinMs === null ? '–' : duration(a.expiringWithinMs)],
        [a.lowBalance === null ? '–' : a.below ? 'available is below' : 'above'],
        [a.setBy],
      ],
      'No alerts',
    );
    showHistory(history);
    view.hidden = false;
  });
  if (shown) await loadSpend();
}

function capScope(c) {
  const parts = [];
  if (c.model !== null) parts.push(`model ${c.model}`);
  if (c.keyId !== null) parts.push(`key ${c.keyId}`);
  if (c.member !== null) parts.push(`member ${c.member}`);
  return parts.length === 0 ? 'all spend' : parts.join(', ');
}
function planStatus(p) {
  if (p.pendingChange) return `${p.status}; → ${p.pendingChange.planId} v${p.pendingChange.version} at ${when(p.pendingChange.at)}`;
  if (p.cancelAt !== null && p.cancelAt !== undefined) return `${p.status}; ends ${when(p.cancelAt)}`;
  return p.status;
}

const historyPage = (account, cursor) => api(`${accountPath(account, 'entries')}?${q({ limit: HISTORY_PAGE, cursor })}`);

function showHistory(page) {
  state.historyNext = page.nextCursor;
  fill(
    'history',
    page.entries,
    (e) => [
      [e.id],
      [when(e.createdAt)],
      [e.kind],
      [fmt(e.amount), 'n'],
      [signed(e.delta), amountClass(e.delta)],
      [fmt(e.balance), 'n'],
      [e.model ?? ''],
      [[e.reason, e.ref].filter((x) => x !== null && x !== '').join(' · ')],
    ],
    'No entries',
  );
  $('history-page').textContent = `page ${state.historyCursors.length}`;
  $('history-older').disabled = state.historyNext === null;
  $('history-newer').disabled = state.historyCursors.length === 1;
}

function pageHistory(older) {
  clearError();
  const cursors = [...state.historyCursors];
  if (older) {
    if (state.historyNext === null) return;
    cursors.push(state.historyNext);
  } else if (cursors.length > 1) cursors.pop();
  return busy($('account-view'), async (current) => {
    const page = await historyPage(state.account, cursors.at(-1));
    if (!current()) return;
    state.historyCursors = cursors;
    showHistory(page);
  });
}

// ---- spend charts -------------------------------------------------------------------

let charts = [];
function destroyCharts() {
  for (const c of charts) c.destroy();
  charts = [];
  for (const id of ['chart-day', 'chart-model']) {
    const el = $(id);
    el.replaceChildren();
    delete el.dataset.labels;
    delete el.dataset.values;
  }
}

/** What a chart shows, on its element: a reader (or a test) can check it against the API. */
function describeChart(el, labels, values) {
  el.dataset.labels = JSON.stringify(labels);
  el.dataset.values = JSON.stringify(values);
}

/** Whole-number y ticks (amounts are integers): 1, 2, 5, 10, 20, 50 … */
const INCRS = [];
for (let p = 1; p <= 1e15; p *= 10) INCRS.push(p, 2 * p, 5 * p);
const yRange = (_u, min, max) => [Math.min(0, min ?? 0), Math.max(1, max ?? 1)];
const yAxis = () => ({ values: (_u, splits) => splits.map(fmt), incrs: INCRS, size: 80 });
const chartWidth = (el) => Math.max(300, el.clientWidth || 500);

function noData(el, text) {
  const p = document.createElement('p');
  p.className = 'nodata';
  p.textContent = text;
  el.replaceChildren(p);
}

function rangeDefaults() {
  // Last 30 days, today included (UTC days, like the chart).
  const today = Date.parse(`${isoDay(Date.now())}T00:00:00Z`);
  $('from').value = isoDay(today - 29 * DAY_MS);
  $('to').value = isoDay(today);
}

async function loadSpend() {
  const section = $('spend');
  const account = state.account;
  $('spend-scope').textContent = account === null ? '— every account' : `— account ${account}`;
  await busy(section, async (current) => {
    const from = Date.parse(`${$('from').value}T00:00:00Z`);
    const toDay = Date.parse(`${$('to').value}T00:00:00Z`);
    if (!Number.isFinite(from) || !Number.isFinite(toDay)) throw new ApiError(0, 'Choose a from and a to date.', 'range');
    const to = toDay + DAY_MS;
    const filters = { from, to, account: account ?? undefined };
    const [byDay, byModel] = await Promise.all([
      api(`/v1/analytics/spend?${q({ ...filters, groupBy: 'day' })}`),
      api(`/v1/analytics/spend?${q({ ...filters, groupBy: 'model' })}`),
    ]);
    if (!current()) return;
    destroyCharts();
    drawByDay(byDay.rows, from, to);
    drawByModel(byModel.rows);
  });
}

function drawByDay(rows, from, to) {
  const el = $('chart-day');
  const net = new Map(rows.map((r) => [r.day, r.net]));
  const xs = [];
  const ys = [];
  // Every day of the range, a zero where nothing was spent (uPlot's time axis is in seconds).
  for (let t = from; t < to; t += DAY_MS) {
    xs.push(t / 1000);
    ys.push(net.get(isoDay(t)) ?? 0);
  }
  if (rows.length === 0) return noData(el, 'No spend in this range.');
  describeChart(
    el,
    xs.map((x) => isoDay(x * 1000)),
    ys,
  );
  const chart = new uPlot(
    {
      width: chartWidth(el),
      height: 240,
      tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), 'Etc/UTC'),
      scales: { y: { range: yRange } },
      axes: [{}, yAxis()],
      series: [
        { value: (_u, ts) => (ts === null ? '–' : isoDay(ts * 1000)) },
        {
          label: 'net spend',
          stroke: SERIES_COLOUR,
          width: 2,
          fill: 'rgba(43,108,176,0.12)',
          points: { show: true, size: 6 },
          value: (_u, v) => fmt(v),
        },
      ],
    },
    [xs, ys],
    el,
  );
  charts.push(chart);
}

function drawByModel(rows) {
  const el = $('chart-model');
  if (rows.length === 0) return noData(el, 'No spend in this range.');
  const sorted = [...rows].sort((a, b) => b.net - a.net || String(a.model).localeCompare(String(b.model)));
  const names = sorted.map((r) => (r.model === null ? '(no model)' : r.model));
  const xs = names.map((_, i) => i);
  describeChart(
    el,
    names,
    sorted.map((r) => r.net),
  );
  const chart = new uPlot(
    {
      width: chartWidth(el),
      height: 240,
      scales: { x: { time: false, range: [-0.5, names.length - 0.5] }, y: { range: yRange } },
      axes: [{ splits: () => xs, values: (_u, splits) => splits.map((i) => names[i] ?? ''), grid: { show: false } }, yAxis()],
      series: [
        { label: 'model', value: (_u, i) => (i === null ? '–' : (names[i] ?? '')) },
        {
          label: 'net spend',
          stroke: SERIES_COLOUR,
          fill: SERIES_COLOUR,
          paths: uPlot.paths.bars({ size: [0.6, 80] }),
          points: { show: false },
          value: (_u, v) => fmt(v),
        },
      ],
    },
    [xs, sorted.map((r) => r.net)],
    el,
  );
  charts.push(chart);
}

let resizeTimer = 0;
addEventListener('resize', () => {
  clearTimeout(resizeTimer);
  resizeTimer = setTimeout(() => {
    for (const c of charts) c.setSize({ width: chartWidth(c.root.parentElement), height: 240 });
  }, 150);
});

// ---- event log ----------------------------------------------------------------------

/** ?after=x&limit=1 is empty exactly when no event id is above x. */
async function anyAfter(x) {
  const page = await api(`/v1/events?${q({ after: x, limit: 1 })}`);
  return page.events.length > 0;
}

/**
 * The newest event id. The API lists events oldest first after an id, and ids are dense
 * (MAX + 1 under the write lock, no gaps), so the last id is found by doubling then halving
 * with one-row probes, starting from the last one seen.
 */
async function findLastEventId() {
  let lo = state.lastEventId; // an id known to exist (0: none)
  if (!(await anyAfter(lo))) return lo;
  let step = 1;
  let hi = lo + step; // invariant once found: an event after lo, none after hi
  while (await anyAfter(hi)) {
    lo = hi;
    step *= 2;
    hi = lo + step;
  }
  while (hi - lo > 1) {
    const mid = lo + Math.floor((hi - lo) / 2);
    if (await anyAfter(mid)) lo = mid;
    else hi = mid;
  }
  return hi;
}

/**
 * One page, newest first, of the events with ids ≤ top: reads id windows downwards (a window
 * of n ids holds at most n events, so one request of limit n returns all of its matches).
 */
async function eventsBelow(top, type) {
  const window = type === '' ? EVENTS_PAGE : EVENTS_WINDOW;
  const out = [];
  let hi = top;
  let requests = 0;
  while (hi > 0 && out.length < EVENTS_PAGE && requests < EVENTS_SCAN_REQUESTS) {
    const lo = Math.max(0, hi - window);
    const page = await api(`/v1/events?${q({ after: lo, limit: hi - lo, types: type })}`);
    requests++;
    const found = page.events.filter((e) => e.id <= hi).reverse();
    let next = lo;
    for (const e of found) {
      if (out.length === EVENTS_PAGE) break;
      out.push(e);
      next = e.id - 1;
    }
    hi = out.length === EVENTS_PAGE ? next : lo;
  }
  return { events: out, nextTop: hi };
}

async function loadEvents(mode) {
  clearError();
  const type = $('event-type').value;
  await busy($('events'), async (current) => {
    let tops = [...state.eventsTops];
    if (mode === 'newest') {
      const last = await findLastEventId();
      if (!current()) return;
      state.lastEventId = last;
      tops = [last];
    } else if (mode === 'older') tops.push(state.eventsNextTop);
    else if (tops.length > 1) tops.pop();
    const top = tops.at(-1) ?? 0;
    const { events, nextTop } = await eventsBelow(top, type);
    if (!current()) return;
    state.eventsTops = tops;
    state.eventsNextTop = nextTop;
    fill(
      'event-table',
      events,
      (e) => [[fmt(e.id), 'n'], [when(e.createdAt)], [e.type], [accountLink(e.account)], [JSON.stringify(e.data), 'data']],
      top === 0 ? 'No events yet' : `No ${type === '' ? '' : `${type} `}events at or below id ${fmt(top)}`,
    );
    const shown = events.length === 0 ? '' : `ids ${fmt(events.at(-1).id)}–${fmt(events[0].id)}`;
    $('events-page').textContent =
      `${shown}${state.eventsNextTop > 0 && events.length < EVENTS_PAGE ? ' (scan continues with Older)' : ''}`;
    $('events-older').disabled = state.eventsNextTop <= 0;
    $('events-newer').disabled = state.eventsTops.length <= 1;
  });
}

function accountLink(account) {
  const a = document.createElement('a');
  a.className = 'account-link';
  a.textContent = account;
  a.href = '#';
  a.addEventListener('click', (e) => {
    e.preventDefault();
    $('account').value = account;
    void lookUp(account);
  });
  return a;
}

// ---- wiring -------------------------------------------------------------------------

function start() {
  showSignedIn(true);
  state.lastEventId = 0;
  void loadSpend();
  void loadEvents('newest');
}

function init() {
  const select = $('event-type');
  for (const t of EVENT_TYPES) {
    const o = document.createElement('option');
    o.value = t;
    o.textContent = t;
    select.append(o);
  }
  rangeDefaults();
  $('signin-form').addEventListener('submit', (e) => void signIn(e));
  $('sign-out').addEventListener('click', signOut);
  $('lookup-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const account = $('account').value.trim();
    if (account !== '') void lookUp(account);
  });
  $('history-older').addEventListener('click', () => void pageHistory(true));
  $('history-newer').addEventListener('click', () => void pageHistory(false));
  $('range-form').addEventListener('submit', (e) => {
    e.preventDefault();
    clearError();
    void loadSpend();
  });
  $('events-form').addEventListener('submit', (e) => {
    e.preventDefault();
    void loadEvents('newest');
  });
  $('event-type').addEventListener('change', () => void loadEvents('newest'));
  $('events-older').addEventListener('click', () => void loadEvents('older'));
  $('events-newer').addEventListener('click', () => void loadEvents('newer'));
  if (token === null) {
    showSignedIn(false);
    return;
  }
  // A token from an earlier visit in this tab: check it again (it may have been revoked).
  void checkToken().then((refused) => {
    if (refused === null) return start();
    signOut();
    showError(refused);
  });
}

init();
