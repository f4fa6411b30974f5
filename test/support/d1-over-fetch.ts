/**
 * D1 for tests that run in Node: a real D1 database inside workerd (miniflare), reached
 * through `dispatchFetch` instead of miniflare's `getD1Database()` proxy.
 *
 * Why: the proxy makes `prepare()` and `bind()` synchronous calls into workerd (a worker
 * thread blocked on Atomics.wait, miniflare's SynchronousFetcher). On a loaded CI host one
 * of those replies sometimes is not there when the thread wakes, and miniflare fails an
 * internal assertion (`message?.id === id`, "false == true") inside `bind()` — a test
 * harness failure that surfaced as ledger errors (app_statement_failed with no round trip,
 * internal). In a Worker, `prepare` and `bind` are local; here too: statements are plain
 * objects until they are run, and every call that reaches the database (`all`, `first`,
 * `run`, `raw`, `batch`, `exec`) is one asynchronous request to a tiny Worker that runs it
 * on its D1 binding and answers in JSON. The database, its SQL engine and its binding rules
 * are workerd's own; only the transport differs.
 *
 * Values cross as JSON with tags for what JSON cannot carry exactly (bigint, non-finite
 * numbers, blobs), so an integer up to 2^53 − 1 arrives as the same number.
 */
import type { D1Database } from '@cloudflare/workers-types';
import type { Miniflare } from 'miniflare';

const WORKER = `
const dec = (v) => {
  if (v === null || typeof v !== 'object') return v;
  if ('$big' in v) return BigInt(v.$big);
  if ('$num' in v) return Number(v.$num);
  if ('$bytes' in v) return Uint8Array.from(atob(v.$bytes), (c) => c.charCodeAt(0)).buffer;
  return v;
};
const enc = (key, v) => {
  if (typeof v === 'bigint') return { $big: String(v) };
  if (typeof v === 'number' && !Number.isFinite(v)) return { $num: String(v) };
  if (v instanceof ArrayBuffer || ArrayBuffer.isView(v)) {
    const bytes = v instanceof ArrayBuffer ? new Uint8Array(v) : new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
    let s = '';
    for (const b of bytes) s += String.fromCharCode(b);
    return { $bytes: btoa(s) };
  }
  return v;
};
const errorOf = (e, depth = 0) =>
  e === undefined || e === null || depth > 4
    ? undefined
    : { name: e.name ?? 'Error', message: e.message ?? String(e), cause: errorOf(e.cause, depth + 1) };
export default {
  async fetch(request, env) {
    const m = await request.json();
    const prep = (s) => env.DB.prepare(s.sql).bind(...s.params.map(dec));
    try {
      let out;
      const s = m.stmts?.[0];
      if (m.op === 'batch') out = await env.DB.batch(m.stmts.map(prep));
      else if (m.op === 'all') out = await prep(s).all();
      else if (m.op === 'run') out = await prep(s).run();
      else if (m.op === 'first') out = m.col === undefined ? await prep(s).first() : await prep(s).first(m.col);
      else if (m.op === 'raw') out = await prep(s).raw(m.options);
      else if (m.op === 'exec') out = await env.DB.exec(m.sql);
      else throw new Error('unknown op ' + m.op);
      return new Response(JSON.stringify({ ok: out === undefined ? null : out }, enc));
    } catch (e) {
      return new Response(JSON.stringify({ error: errorOf(e) }, enc));
    }
  },
};
`;

/** The Worker that serves the D1 calls, for `new Miniflare({ ...D1_OVER_FETCH, d1Databases, … })`. */
export const D1_OVER_FETCH = { modules: true, script: WORKER } as const;

interface Wire {
  sql: string;
  params: unknown[];
}

const encodeParam = (v: unknown): unknown => {
  if (typeof v === 'bigint') return { $big: String(v) };
  if (typeof v === 'number' && !Number.isFinite(v)) return { $num: String(v) };
  if (v instanceof ArrayBuffer || ArrayBuffer.isView(v)) {
    const bytes = v instanceof ArrayBuffer ? new Uint8Array(v) : new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
    return { $bytes: Buffer.from(bytes).toString('base64') };
  }
  return v;
};

const revive = (_key: string, v: unknown): unknown => {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return v;
  const o = v as Record<string, unknown>;
  if (typeof o.$big === 'string' && Object.keys(o).length === 1) return BigInt(o.$big);
  if (typeof o.$num === 'string' && Object.keys(o).length === 1) return Number(o.$num);
  if (typeof o.$bytes === 'string' && Object.keys(o).length === 1) {
    const b = Buffer.from(o.$bytes, 'base64');
    return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength);
  }
  return v;
};

interface WireError {
  name: string;
  message: string;
  cause?: WireError;
}

const toError = (w: WireError): Error => {
  const e = new Error(w.message, w.cause === undefined ? undefined : { cause: toError(w.cause) });
  e.name = w.name;
  return e;
};

/** A D1Database whose statements are local until run; each run is one request to the Worker. */
export function d1OverFetch(mf: Pick<Miniflare, 'dispatchFetch'>): D1Database {
  const call = async (message: Record<string, unknown>): Promise<unknown> => {
    const res = await mf.dispatchFetch('http://d1.test/', { method: 'POST', body: JSON.stringify(message) });
    const body = JSON.parse(await res.text(), revive) as { ok?: unknown; error?: WireError };
    if (body.error !== undefined) throw toError(body.error);
    return body.ok;
  };
  class Statement {
    constructor(
      readonly sql: string,
      readonly params: readonly unknown[] = [],
    ) {}
    bind(...params: unknown[]): Statement {
      return new Statement(this.sql, params);
    }
    wire(): Wire {
      return { sql: this.sql, params: this.params.map(encodeParam) };
    }
    all() {
      return call({ op: 'all', stmts: [this.wire()] });
    }
    run() {
      return call({ op: 'run', stmts: [this.wire()] });
    }
    first(col?: string) {
      return call({ op: 'first', stmts: [this.wire()], ...(col === undefined ? {} : { col }) });
    }
    raw(options?: { columnNames?: boolean }) {
      return call({ op: 'raw', stmts: [this.wire()], options });
    }
  }
  const db = {
    prepare: (sql: string) => new Statement(sql),
    batch: (statements: Statement[]) => call({ op: 'batch', stmts: statements.map((s) => s.wire()) }),
    exec: (sql: string) => call({ op: 'exec', sql }),
  };
  // The subset of D1Database the ledger, drizzle's D1 session and these tests use.
  return db as unknown as D1Database;
}
