/**
 * Entry ids. A row's identity is its position `pos` in the log (the table's INTEGER
 * PRIMARY KEY): SQLite assigns it under the write lock, so it rises in commit order and a
 * reader can use it as a cursor. The public id is that position with a prefix (`ce_1024`):
 * opaque to callers, unique within a database, and unique across databases sharded by
 * account when each shard's ledger gets its own prefix (`createLedger(db, { idPrefix: 'eu1_' })`).
 *
 * Databases written before migration 0009 named entries by ULID. Those rows keep their
 * ULID in `legacy_id`, and every method that takes an entry id still accepts it.
 */
import { LedgerError } from './errors.js';

export const DEFAULT_ID_PREFIX = 'ce_';
const PREFIX_PATTERN = /^[A-Za-z][A-Za-z0-9_-]{0,15}$/;

/** An entry id as the SQL takes it: a position, or else a legacy ULID to look up. */
export interface IdRef {
  readonly pos: number | null;
  readonly legacy: string | null;
}

export interface Ids {
  readonly prefix: string;
  format(pos: number): string;
  formatOrNull(pos: unknown): string | null;
  parse(id: string): IdRef;
}

export function createIds(prefix: string = DEFAULT_ID_PREFIX): Ids {
  if (typeof prefix !== 'string' || !PREFIX_PATTERN.test(prefix) || /\d$/.test(prefix)) {
    throw new LedgerError(
      'invalid_argument',
      'createLedger: idPrefix must be 1–16 letters, digits, _ or -, start with a letter and not end with a digit',
    );
  }
  const format = (pos: number) => `${prefix}${pos}`;
  return {
    prefix,
    format,
    formatOrNull: (pos) => (pos === null || pos === undefined ? null : format(Number(pos))),
    parse(id) {
      if (id.startsWith(prefix)) {
        const digits = id.slice(prefix.length);
        if (/^[1-9][0-9]{0,15}$/.test(digits)) {
          const pos = Number(digits);
          if (Number.isSafeInteger(pos)) return { pos, legacy: null };
        }
      }
      return { pos: null, legacy: id };
    },
  };
}

/** SQL for "the position of the entry named by the next two arguments (pos, legacy id)". */
export const ENTRY_POS = '(SELECT COALESCE(CAST(? AS INTEGER), (SELECT pos FROM credit_entry WHERE legacy_id = ?)))';
export const idArgs = (r: IdRef): [number | null, string | null] => [r.pos, r.legacy];
