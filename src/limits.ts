/**
 * Explicit limits, named once. Every input is checked against these before any SQL runs,
 * so a value the ledger cannot represent exactly never reaches the database.
 */

/** Largest amount, balance or delta: money stays an exact IEEE-754 integer. */
export const MAX_AMOUNT = Number.MAX_SAFE_INTEGER; // 2^53 - 1

/** Accounts are opaque app-chosen strings (`user_42`, `team:acme`). */
export const ACCOUNT_MAX_LENGTH = 200;

/** Idempotency keys: long enough for a UUID with a prefix, or a request hash. */
export const IDEMPOTENCY_KEY_MAX_LENGTH = 255;

/** Entry ids passed back in (refund and hold targets): `<prefix><pos>`, or a 26-char ULID from before migration 0009. */
export const ENTRY_ID_MAX_LENGTH = 64;

/** Free-text reason stored on a row. */
export const REASON_MAX_LENGTH = 1_000;

/** Attribution labels: model name, API key id, actor. */
export const LABEL_MAX_LENGTH = 200;

/** Metadata is stored as JSON text; bounded so a row stays small. */
export const METADATA_MAX_BYTES = 8_192;
/** …and nested at most this deep (checked before anything recurses). */
export const METADATA_MAX_DEPTH = 32;

/** History pages. */
export const HISTORY_DEFAULT_LIMIT = 50;
export const HISTORY_MAX_LIMIT = 1_000;

/** The account floor: available never goes below it. Round one fixes it at zero. */
export const ACCOUNT_FLOOR = 0;

/** The auditor reads the log in pages of this many rows (bounded memory). */
export const VERIFY_PAGE_ROWS = 5_000;

/** `digest()` hashes the log in blocks of this many rows (part of the digest's definition: never change it for v1). */
export const DIGEST_BLOCK_ROWS = 1_024;

/** The auditor stops listing problems after this many (it still counts them). */
export const VERIFY_MAX_PROBLEMS = 1_000;

/** Lot priority: 0–100, lower drawn first; grants without one are unlotted (Stripe's 50). */
export const PRIORITY_MIN = 0;
export const PRIORITY_MAX = 100;
export const PRIORITY_DEFAULT = 50;

/** Holds: how long a reservation lives without an explicit TTL, and the longest allowed. */
export const HOLD_DEFAULT_TTL_MS = 15 * 60 * 1000;
export const HOLD_MAX_TTL_MS = 30 * 24 * 60 * 60 * 1000;

/** Sweep: lapsed lots or holds closed per atomic unit (bounded transactions on big sweeps). */
export const SWEEP_BATCH = 200;
export const SWEEP_BATCH_MAX = 5_000;

/** `expiring(account, { withinMs })` looks at most this far ahead. */
export const EXPIRING_MAX_WINDOW_MS = 10 * 365 * 24 * 60 * 60 * 1000;

/** Busy timeout the libSQL runner gives a local-file connection that has none. */
export const LIBSQL_FILE_BUSY_TIMEOUT_MS = 15_000;

/** Most app statements one operation takes `with` it. */
export const WITH_MAX_STATEMENTS = 50;

/** ledger.batch(): most ops in one call, and ops per round trip on D1 and libSQL. */
export const BATCH_MAX_OPS = 10_000;
export const BATCH_CHUNK_OPS = 50;

/**
 * Usage rollup: a read (or a cap_set) first folds the log into `credit_usage` when more than
 * USAGE_FOLD_LAG rows are unfolded, USAGE_FOLD_CHUNK rows per atomic unit (bounded
 * transactions on a big backlog); the rows it leaves unfolded are added at read time.
 */
export const USAGE_FOLD_LAG = 1_000;
export const USAGE_FOLD_CHUNK = 50_000;

/** One hour, the rollup's bucket, in milliseconds. */
export const HOUR_MS = 3_600_000;

/** One day in milliseconds (analytics: `day` groups, `avgDailySpend`). */
export const DAY_MS = 86_400_000;

/** `analytics.spend()` rows: default and most per call. */
export const SPEND_DEFAULT_LIMIT = 1_000;
export const SPEND_MAX_LIMIT = 10_000;
/** `analytics.top()` rows when no limit is given (at most SPEND_MAX_LIMIT). */
export const TOP_DEFAULT_LIMIT = 10;

/**
 * `tzOffsetMinutes` of `analytics.spend()`: the offset from UTC of the days it groups by, in
 * minutes, a multiple of 15 (every offset in use is) from −14 h to +14 h.
 */
export const TZ_OFFSET_MAX_MINUTES = 840;
export const TZ_OFFSET_STEP_MINUTES = 15;

/** `ledger.entries()` pages (the change feed). */
export const ENTRIES_DEFAULT_LIMIT = 100;
export const ENTRIES_MAX_LIMIT = 1_000;

/** ledger.plans: features per plan, and the longest string a feature may carry. */
export const PLAN_FEATURES_MAX = 100;
export const PLAN_FEATURE_VALUE_MAX_LENGTH = 1000;
/** The reserved account whose log holds every pricing version and activation. */
export const PRICING_ACCOUNT = '$pricing';
/** A rate card: at most this many models, and meters per model. */
export const PRICING_MAX_MODELS = 500;
export const PRICING_MAX_METERS = 32;
/** Meter names (`input_tokens`, `requests`, `gpu_seconds` …). */
export const PRICING_METER_MAX_LENGTH = 64;
/** A version's label. */
export const PRICING_LABEL_MAX_LENGTH = 200;
/** A rate card as canonical JSON (it is stored on the log row and in the projection). */
export const PRICING_CARD_MAX_BYTES = 65_536;
/** Prices: decimal strings with at most this many integer digits and decimal places. */
export const PRICE_MAX_INTEGER_DIGITS = 15;
export const PRICE_MAX_DECIMALS = 12;
/** Pricing versions a ledger instance keeps parsed in memory (they are immutable). */
export const PRICING_CACHE_VERSIONS = 64;
/** A charge re-reads the active version and retries at most this many times when it changed meanwhile. */
export const CHARGE_ATTEMPTS = 4;

/** D1: prepared statements a runner keeps by SQL text (the ledger sends a few dozen distinct texts). */
export const D1_PREPARED_CACHE = 256;

/** D1/libSQL: accounts whose subscription due time a ledger instance remembers (src/runner/lazy-settle.ts). */
export const LEDGER_DUE_CACHE_ACCOUNTS = 10_000;

/** `ledger.events.list`: a page of the outbox. */
export const EVENTS_DEFAULT_LIMIT = 100;
export const EVENTS_MAX_LIMIT = 1_000;

/** `alerts.set({ expiringWithinMs })`: at most a year ahead (the sweep announces lots lapsing within it). */
export const ALERT_EXPIRING_MAX_MS = 366 * 24 * 60 * 60 * 1000;
/**
 * Webhooks (src/webhooks/). The retry schedule is the Standard Webhooks one: after a failed
 * attempt, the next one is due this long later (so 10 attempts in all, the first at once); a
 * `Retry-After` asking for later is honoured, up to WEBHOOK_RETRY_AFTER_MAX_MS.
 */
export const WEBHOOK_RETRY_SCHEDULE_MS: readonly number[] = Object.freeze([
  5_000,
  5 * 60_000,
  30 * 60_000,
  2 * HOUR_MS,
  5 * HOUR_MS,
  10 * HOUR_MS,
  14 * HOUR_MS,
  20 * HOUR_MS,
  24 * HOUR_MS,
]);
export const WEBHOOK_MAX_ATTEMPTS = WEBHOOK_RETRY_SCHEDULE_MS.length + 1;
export const WEBHOOK_RETRY_AFTER_MAX_MS = 24 * HOUR_MS;
/** One attempt's time limit (connect, send, response headers): default and most. */
export const WEBHOOK_TIMEOUT_MS = 15_000;
export const WEBHOOK_TIMEOUT_MAX_MS = 120_000;
/**
 * A claim lasts the attempts' time limit plus this margin (database round trips, a slow
 * event loop), so it cannot lapse while its holder is still within its time limit.
 */
export const WEBHOOK_CLAIM_MARGIN_MS = 30_000;
/** Deliveries one `deliver()` call claims: default and most; and how many it sends at once. */
export const WEBHOOK_DELIVER_DEFAULT_LIMIT = 100;
export const WEBHOOK_DELIVER_MAX_LIMIT = 1_000;
export const WEBHOOK_CONCURRENCY = 50;
/**
 * Events one `deliver()` call fans out to each endpoint (the rest on the next call): bounds
 * the unit's size (and the rows it returns) at 100 endpoints; more than one call claims.
 */
export const WEBHOOK_FANOUT_MAX = 1_000;
/** Endpoints a ledger may have. */
export const WEBHOOK_MAX_ENDPOINTS = 100;
export const WEBHOOK_URL_MAX_LENGTH = 2_048;
/** Secrets: `whsec_` + base64 of this many random bytes when generated; 24–64 bytes when given (the spec's range). */
export const WEBHOOK_SECRET_BYTES = 32;
export const WEBHOOK_SECRET_MIN_BYTES = 24;
export const WEBHOOK_SECRET_MAX_BYTES = 64;
/**
 * Finished deliveries one `webhooks.prune()` call deletes, with their attempts (at most
 * WEBHOOK_MAX_ATTEMPTS each, more after redeliveries): bounds the unit and the write lock it holds.
 */
export const WEBHOOK_PRUNE_DEFAULT_LIMIT = 1_000;
export const WEBHOOK_PRUNE_MAX_LIMIT = 10_000;
/** An attempt's error text is stored cut to this many characters. */
export const WEBHOOK_ERROR_MAX_LENGTH = 500;
