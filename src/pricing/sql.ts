/**
 * The statements of `ledger.pricing`: config rows on the reserved account `$pricing`
 * (`pricing_publish`, `pricing_activate`: delta 0, amount 0, the setting as canonical JSON in
 * `metadata`), projected into `credit_price_version` / `credit_price_active` by the triggers
 * of migration 0012 inside the same INSERT, and the reads of the projection.
 */
import { CONFIG_ROW, KEYED } from '../caps/sql.js';
import { ENTRY_COLUMNS, headJoin, int } from '../sql.js';

const PARAMS = (extra = '') => `(SELECT ? AS account, ? AS reason, ? AS ikey, ? AS actor, ? AS metadata, ${int('now')}${extra}) AS p`;

/**
 * Publishes the next version. The version number is assigned here, under the write lock:
 * MAX(version) + 1, spliced into the canonical JSON as its last key (`version` sorts after
 * every other key of the setting, so the text stays canonical). With an idempotency key
 * already used, nothing is written.
 * Args: account, reason, key, actor, metadata (canonical JSON without `version`), now.
 */
export const PRICING_PUBLISH = `INSERT INTO credit_entry (${ENTRY_COLUMNS})
${CONFIG_ROW(
  'pricing_publish',
  `substr(p.metadata, 1, length(p.metadata) - 1) || ',"version":' || (SELECT COALESCE(MAX(version), 0) + 1 FROM credit_price_version) || '}'`,
)}
FROM ${PARAMS()}
LEFT JOIN credit_entry AS h ON ${headJoin('h', 'p.account')}
WHERE p.account IS NOT NULL
${KEYED}, metadata`;

/**
 * Makes a published version the active one. Written only when the version exists and, without
 * an idempotency key, when it is not already active.
 * Args: account, reason, key, actor, metadata ({"version":n}), now, version.
 */
export const PRICING_ACTIVATE = `INSERT INTO credit_entry (${ENTRY_COLUMNS})
${CONFIG_ROW('pricing_activate')}
FROM ${PARAMS(`, ${int('v')}`)}
LEFT JOIN credit_entry AS h ON ${headJoin('h', 'p.account')}
WHERE EXISTS (SELECT 1 FROM credit_price_version WHERE version = p.v)
  AND (p.ikey IS NOT NULL OR (SELECT version FROM credit_price_active WHERE id = 1) IS NOT p.v)
${KEYED}`;

const VERSION_COLUMNS = `v.version, v.entry, v.label, v.rounding, v.rates, v.created_at,
  (v.version = (SELECT version FROM credit_price_active WHERE id = 1)) AS active`;

/** The active version with its card, or no row. */
export const PRICING_ACTIVE = `SELECT ${VERSION_COLUMNS} FROM credit_price_version AS v
WHERE v.version = (SELECT version FROM credit_price_active WHERE id = 1)`;

/** One version. Args: version. */
export const PRICING_VERSION = `SELECT ${VERSION_COLUMNS} FROM credit_price_version AS v WHERE v.version = ?`;

/** The version a keyed publish wrote. Args: account, key. */
export const PRICING_BY_KEY = `SELECT ${VERSION_COLUMNS} FROM credit_price_version AS v JOIN credit_entry AS e ON e.pos = v.entry
WHERE e.account = ? AND e.kind = 'pricing_publish' AND e.idempotency_key = ?`;

/** Every version, oldest first. */
export const PRICING_HISTORY = `SELECT ${VERSION_COLUMNS} FROM credit_price_version AS v ORDER BY v.version`;

/** The active version number (no row when none is active): the CAS a charge compares. */
export const ACTIVE_VERSION = 'SELECT version FROM credit_price_active WHERE id = 1';

/**
 * The guard a charge priced with the cached active version adds to its debit or capture: the
 * active version at commit is still the one it priced with. Args: version.
 */
export const ACTIVE_IS = `(SELECT version FROM credit_price_active WHERE id = 1) = ?`;
