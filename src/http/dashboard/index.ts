/**
 * `GET /dashboard`: an admin page (HTML, vanilla JS, CSS, uPlot for the charts) served from
 * strings embedded at build time (assets.generated.ts), so it runs offline on Workers, Node
 * and Bun alike. The page and its assets are the one exception to "nothing unauthenticated":
 * they hold no data. The page signs in with a token the user types and reads everything from
 * the JSON API with it; it only proceeds with an admin token (it checks an admin-only route).
 */
import type { Env, Hono } from 'hono';
import { EVENT_TYPES } from '../../schema.js';
import { DASHBOARD_ASSETS, DASHBOARD_HTML } from './assets.generated.js';

/**
 * The page runs only its own same-origin scripts and styles and talks only to its own origin:
 * an injected script could read the token in sessionStorage, so nothing inline is allowed
 * (uPlot sizes elements through the CSSOM, which style-src does not restrict).
 */
const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "connect-src 'self'",
  "img-src 'self' data:",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const HEADERS = {
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
};

const attr = (s: string) => s.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** The page for an API mounted at `base` ('' or '/credits'). */
export function dashboardPage(base: string): string {
  return DASHBOARD_HTML.replaceAll('{{base}}', attr(base)).replaceAll('{{eventTypes}}', attr(EVENT_TYPES.join(',')));
}

/** Adds `GET {base}/dashboard` and `GET {base}/dashboard/assets/{name}`; unknown assets fall to the app's not-found (401 without a token). */
export function mountDashboard<E extends Env>(app: Hono<E>, base: string): void {
  const html = dashboardPage(base);
  app.get(`${base}/dashboard`, (c) => c.html(html, 200, { ...HEADERS, 'cache-control': 'no-store', 'content-security-policy': CSP }));
  app.get(`${base}/dashboard/assets/:name`, (c) => {
    const asset = Object.hasOwn(DASHBOARD_ASSETS, c.req.param('name')) ? DASHBOARD_ASSETS[c.req.param('name')] : undefined;
    if (asset === undefined) return c.notFound();
    // Revalidated on every load (an upgrade must not pair a new page with an old script); a match is a 304.
    const headers = { ...HEADERS, 'cache-control': 'no-cache', etag: asset.etag };
    if (c.req.header('if-none-match') === asset.etag) return c.body(null, 304, headers);
    return c.body(asset.body, 200, { ...headers, 'content-type': asset.type });
  });
}
