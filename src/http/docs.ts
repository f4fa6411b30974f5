/**
 * `GET /docs`: one self-contained HTML page (no CDN, no asset to fetch) that renders the
 * OpenAPI document embedded in it — the page needs a token like everything else, so it
 * carries the document instead of fetching /openapi.json without one.
 */
import type { OpenAPIHono } from '@hono/zod-openapi';

type OpenAPIObject = ReturnType<OpenAPIHono['getOpenAPI31Document']>;

/** JSON safe inside <script>: no `</script>`, no `<!--`, no U+2028/2029 surprises. */
function scriptJson(v: unknown): string {
  return JSON.stringify(v)
    .replace(/</g, '\\u003c')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

const STYLE = `
body{font:15px/1.5 system-ui,sans-serif;margin:0;color:#1d1d1f;background:#fafafa}
header{background:#111;color:#fff;padding:1rem 2rem}header h1{margin:0;font-size:1.3rem}
main{max-width:960px;margin:0 auto;padding:1rem 2rem}
h2{border-bottom:1px solid #ddd;padding-bottom:.3rem;margin-top:2rem}
details{background:#fff;border:1px solid #e3e3e3;border-radius:6px;margin:.5rem 0}
summary{cursor:pointer;padding:.5rem .8rem;display:flex;gap:.8rem;align-items:baseline}
.m{font:600 12px monospace;padding:2px 6px;border-radius:4px;color:#fff;min-width:3.5rem;text-align:center}
.get{background:#2b7bb9}.post{background:#3a9b4b}.put{background:#b9822b}.delete{background:#b93a2b}
code,pre{font:13px/1.4 ui-monospace,monospace}.p{font-family:ui-monospace,monospace}
pre{background:#f4f4f4;padding:.6rem;overflow:auto;border-radius:4px;margin:.3rem 0}
.body{padding:0 1rem 1rem}.scope{color:#666;font-size:12px;margin-left:auto}
table{border-collapse:collapse}td,th{border:1px solid #e3e3e3;padding:2px 8px;text-align:left;font-size:13px}`;

// Plain DOM code, no framework: renders tags → operations → parameters, body and result schemas.
const SCRIPT = `
const doc = JSON.parse(document.getElementById('openapi').textContent);
const main = document.querySelector('main');
const el = (t, attrs = {}, ...kids) => { const e = document.createElement(t); Object.assign(e, attrs); e.append(...kids); return e; };
const resolve = (s) => { let n = 0; while (s && s.$ref && n++ < 10) s = s.$ref.split('/').slice(1).reduce((o, k) => o && o[k], doc); return s; };
const show = (s, depth = 0) => {
  s = resolve(s); if (!s || depth > 6) return s;
  if (s.properties) { const o = {}; for (const [k, v] of Object.entries(s.properties)) o[k + ((s.required || []).includes(k) ? '' : '?')] = show(v, depth + 1); return o; }
  if (s.items) return [show(s.items, depth + 1)];
  if (s.enum) return s.enum.join(' | ');
  if (s.anyOf || s.oneOf) return (s.anyOf || s.oneOf).map((x) => show(x, depth + 1));
  return s.type || 'any';
};
main.append(el('p', { textContent: (doc.info.description || '') + ' Base: ' + ((doc.servers || [])[0] || {}).url }));
const tags = {};
for (const [path, item] of Object.entries(doc.paths || {}))
  for (const [method, op] of Object.entries(item)) (tags[(op.tags || ['Other'])[0]] ||= []).push([method, path, op]);
for (const [tag, ops] of Object.entries(tags)) {
  main.append(el('h2', { textContent: tag }));
  for (const [method, path, op] of ops) {
    const body = el('div', { className: 'body' });
    if (op.description) body.append(el('p', { textContent: op.description }));
    if (op.parameters && op.parameters.length) {
      const t = el('table', {}, el('tr', {}, el('th', { textContent: 'in' }), el('th', { textContent: 'name' }), el('th', { textContent: 'schema' })));
      for (const p of op.parameters) t.append(el('tr', {}, el('td', { textContent: p.in }), el('td', { textContent: p.name + (p.required ? '' : '?') }), el('td', {}, el('code', { textContent: JSON.stringify(show(p.schema)) }))));
      body.append(el('h4', { textContent: 'Parameters' }), t);
    }
    const req = op.requestBody && op.requestBody.content && op.requestBody.content['application/json'];
    if (req) body.append(el('h4', { textContent: 'Body' + (op.requestBody.required ? '' : ' (optional)') }), el('pre', { textContent: JSON.stringify(show(req.schema), null, 2) }));
    const ok = op.responses && op.responses['200'] && op.responses['200'].content;
    if (ok) body.append(el('h4', { textContent: '200' }), el('pre', { textContent: JSON.stringify(show(ok['application/json'].schema), null, 2) }));
    body.append(el('p', { textContent: 'Errors: ' + Object.keys(op.responses || {}).filter((s) => s !== '200').join(', ') + ' (application/problem+json)' }));
    main.append(el('details', { id: op.operationId }, el('summary', {}, el('span', { className: 'm ' + method, textContent: method.toUpperCase() }), el('span', { className: 'p', textContent: path }), el('span', { textContent: op.summary || '' }), el('span', { className: 'scope', textContent: (op['x-scope'] || '') })), body));
  }
}`;

export function docsPage(doc: OpenAPIObject): string {
  const title = String(doc.info?.title ?? 'API').replace(/[<&"]/g, '');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${title} — HTTP API</title><style>${STYLE}</style></head>
<body><header><h1>${title} — HTTP API</h1></header><main></main>
<script type="application/json" id="openapi">${scriptJson(doc)}</script>
<script>${SCRIPT}</script></body></html>`;
}
