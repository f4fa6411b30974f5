/**
 * Tamper evidence for the log. `digest()` hashes every row of `credit_entry` in commit
 * order into a chain; an operator stores the result somewhere the database's writers
 * cannot reach. `verify({ digest })` recomputes the chain over the rows the digest covers:
 * any edit, deletion, insertion or reordering among them — the newest rows included —
 * changes it. Nothing is written and nothing is added to the write path: the cost is one
 * read of the log when a digest is taken or checked.
 *
 * Web Crypto (SHA-256) only, so it runs on Node, Bun and Workers alike.
 */
import { num } from './entry.js';
import { LedgerError } from './errors.js';
import { DIGEST_BLOCK_ROWS } from './limits.js';
import type { Row, Runner } from './runner/index.js';

/** Every column, in a fixed order: a change to any of them changes the digest. */
const COLUMNS = [
  'pos',
  'account',
  'seq',
  'kind',
  'delta',
  'amount',
  'balance',
  'reason',
  'idempotency_key',
  'ref',
  'model',
  'key_id',
  'actor',
  'metadata',
  'expires_at',
  'priority',
  'created_at',
  'allocations',
  'legacy_id',
] as const;

const VERSION = 'v1';
const encoder = new TextEncoder();

export interface LogDigest {
  /** Opaque; pass it to `verify({ digest })`. Format: `v1.<entries>.<last position>.<sha-256, base64url>`. */
  digest: string;
  /** Rows it covers: every row up to `through`. */
  entries: number;
  /** The position of the newest row it covers (0 for an empty log). */
  through: number;
}

interface Parsed {
  entries: number;
  through: number;
  hash: string;
}

/** A value as the chain sees it: integers as integers, text as text, absent as null. */
function canonical(r: Row): string {
  return JSON.stringify(
    COLUMNS.map((c) => {
      const v = r[c];
      if (v === null || v === undefined) return null;
      if (typeof v === 'bigint') return Number(v);
      if (typeof v === 'number' || typeof v === 'string') return v;
      return String(v);
    }),
  );
}

async function sha256(parts: Uint8Array[]): Promise<Uint8Array> {
  let size = 0;
  for (const p of parts) size += p.length;
  const all = new Uint8Array(size);
  let at = 0;
  for (const p of parts) {
    all.set(p, at);
    at += p.length;
  }
  return new Uint8Array(await crypto.subtle.digest('SHA-256', all));
}

function base64url(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/**
 * The chain over rows with pos ≤ `through`, in pos order: blocks of DIGEST_BLOCK_ROWS rows,
 * h₀ = 32 zero bytes, hₖ = SHA-256(hₖ₋₁ ‖ rows of block k, one canonical line each), and the
 * digest SHA-256(hₙ ‖ "entries.through"), so the count and the end are covered too.
 */
async function chain(runner: Runner, through: number): Promise<{ entries: number; hash: string }> {
  let h: Uint8Array = new Uint8Array(32);
  let entries = 0;
  let after = 0;
  for (;;) {
    const [rows = []] = await runner.read([
      {
        sql: `SELECT ${COLUMNS.join(', ')} FROM credit_entry WHERE pos > ? AND pos <= ? ORDER BY pos LIMIT ?`,
        args: [after, through, DIGEST_BLOCK_ROWS],
      },
    ]);
    if (rows.length === 0) break;
    h = await sha256([h, encoder.encode(`${rows.map(canonical).join('\n')}\n`)]);
    entries += rows.length;
    after = num(rows[rows.length - 1]?.pos);
    if (rows.length < DIGEST_BLOCK_ROWS) break;
  }
  return { entries, hash: base64url(await sha256([h, encoder.encode(`${entries}.${through}`)])) };
}

export async function digest(runner: Runner): Promise<LogDigest> {
  const [[top] = []] = await runner.read([{ sql: 'SELECT COALESCE(MAX(pos), 0) AS through FROM credit_entry', args: [] }]);
  const through = num(top?.through);
  const { entries, hash } = await chain(runner, through);
  return { digest: `${VERSION}.${entries}.${through}.${hash}`, entries, through };
}

export function parseDigest(text: unknown): Parsed {
  const m = typeof text === 'string' ? /^v1\.(0|[1-9][0-9]{0,15})\.(0|[1-9][0-9]{0,15})\.([A-Za-z0-9_-]{43})$/.exec(text) : null;
  const entries = Number(m?.[1]);
  const through = Number(m?.[2]);
  if (m === null || !Number.isSafeInteger(entries) || !Number.isSafeInteger(through) || entries > through) {
    throw new LedgerError('invalid_argument', 'verify: digest is not one that ledger.digest() returned (v1.<entries>.<through>.<hash>)');
  }
  return { entries, through, hash: String(m[3]) };
}

/** Why the log no longer matches a digest, or null when every row it covers is unchanged. */
export async function digestDifference(runner: Runner, expected: Parsed): Promise<string | null> {
  const { entries, hash } = await chain(runner, expected.through);
  if (entries !== expected.entries) {
    return `the digest covers ${expected.entries} entries up to position ${expected.through}; the log now has ${entries} there (rows deleted or inserted)`;
  }
  if (hash !== expected.hash) {
    return `the ${entries} entries up to position ${expected.through} no longer hash to the digest (a row was edited, replaced or reordered)`;
  }
  return null;
}
