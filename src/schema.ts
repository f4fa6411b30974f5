import { sql } from 'drizzle-orm';
import { check, index, integer, primaryKey, sqliteTable, text, uniqueIndex } from 'drizzle-orm/sqlite-core';

/**
 * Every kind of row the log can hold. Money rows move the posted balance; `hold`,
 * `release` and `extend` carry delta = 0 (they change what is available, not what is
 * posted); `expire` removes a lapsed lot's remainder (or closes a lapsed hold, delta 0).
 */
export const ENTRY_KINDS = [
  'grant',
  'debit',
  'refund',
  'adjust',
  'hold',
  'capture',
  'release',
  'extend',
  'expire',
  // Configuration rows (delta = 0, amount = 0; the setting is canonical JSON in `metadata`).
  'cap_set',
  'cap_remove',
  'floor_set',
  // Plans (src/plans/): definitions on the reserved log `$plan:<id>`, subscriptions on the account's.
  'plan_define',
  'plan_subscribe',
  'plan_change',
  'plan_cancel',
  // Pricing, on the reserved account `$pricing` (config rows too).
  'pricing_publish',
  'pricing_activate',
  // Transfers (src/transfers/): the row that leaves `from` and the rows that arrive on `to`
  // (one per expiry and priority kept, one for unlotted credits; each `ref` is the transfer_out's pos).
  'transfer_out',
  'transfer_in',
  // Teams (src/teams/), config rows on the team's log.
  'team_create',
  'team_add',
  'team_role',
  'team_remove',
  // Alerts (src/alerts/), config rows on the account's log.
  'alert_set',
  'alert_remove',
] as const;
export type EntryKind = (typeof ENTRY_KINDS)[number];

/**
 * The log: the source of truth. Rows are only ever inserted.
 *
 * `pos` is the row's position in commit order (an INTEGER PRIMARY KEY, so the table is
 * clustered on it and appends land at its right edge); the public entry id is `pos` with
 * a prefix (see ids.ts), so no second key is stored or indexed. `seq` and `balance` make
 * the newest row of an account (its head) carry the posted balance, so guards read one row
 * through `credit_entry_account_seq` instead of summing history. `amount` is the
 * operation's unsigned size (|delta| for money rows), kept so a replay can be compared
 * with the original request. Indexes are only those a guard or a lookup needs: every
 * other one costs a B-tree write per entry (migration 0009 measured the old text key and
 * created_at index at ~40 % of the write rate).
 */
export const creditEntry = sqliteTable(
  'credit_entry',
  {
    pos: integer('pos').primaryKey(),
    account: text('account').notNull(),
    seq: integer('seq').notNull(),
    kind: text('kind', { enum: ENTRY_KINDS }).notNull(),
    delta: integer('delta').notNull(),
    amount: integer('amount').notNull(),
    balance: integer('balance').notNull(),
    reason: text('reason'),
    idempotencyKey: text('idempotency_key'),
    /** The `pos` of the entry this one acts on (refund → debit, capture → hold, expire → lot). */
    ref: integer('ref'),
    model: text('model'),
    keyId: text('key_id'),
    actor: text('actor'),
    metadata: text('metadata'),
    /** Lot expiry on grants; hold expiry on holds and extensions. */
    expiresAt: integer('expires_at'),
    /** Lot priority on grants (0–100, lower drawn first). */
    priority: integer('priority'),
    createdAt: integer('created_at').notNull(),
    /**
     * The lots this entry drew from (positive) or gave back to (negative), in draw order:
     * a JSON array of [lotPos, amount] pairs, NULL when none. Decided and written by the
     * same statement as the row, like `seq` and `balance`; the trigger
     * `credit_entry_allocates` applies it to `credit_lot.remaining`.
     */
    allocations: text('allocations'),
    /** The ULID a row written before migration 0009 was known by; NULL for newer rows. */
    legacyId: text('legacy_id'),
  },
  (t) => [
    uniqueIndex('credit_entry_account_seq').on(t.account, t.seq),
    // Idempotency scope: (account, operation family, key). Partial, so unkeyed rows pay nothing.
    uniqueIndex('credit_entry_idempotency').on(t.account, t.kind, t.idempotencyKey).where(sql`idempotency_key IS NOT NULL`),
    index('credit_entry_ref').on(t.ref).where(sql`ref IS NOT NULL`),
    index('credit_entry_key_time').on(t.keyId, t.createdAt).where(sql`key_id IS NOT NULL`),
    uniqueIndex('credit_entry_legacy_id').on(t.legacyId).where(sql`legacy_id IS NOT NULL`),
  ],
);

export type CreditEntryRow = typeof creditEntry.$inferSelect;

/** Our own migrations table: an app's `__drizzle_migrations` never hides ours. */
export const MIGRATIONS_TABLE = 'drizzle_credits_migrations';

/**
 * Projection: credit lots. A grant with an expiry or a non-default priority opens one.
 * `remaining` is a cache of `amount − Σ` the lot's allocations on the log, kept by a trigger.
 */
export const creditLot = sqliteTable(
  'credit_lot',
  {
    id: integer('id').primaryKey(), // the grant's entry pos
    account: text('account').notNull(),
    seq: integer('seq').notNull(), // the grant's seq: "oldest first" among equals
    amount: integer('amount').notNull(),
    remaining: integer('remaining').notNull(),
    /**
     * 1 while `remaining > 0`. Flipped by the trigger `credit_lot_crosses_zero` only when a lot crosses
     * zero, so the partial indexes below (which depend on it, not on `remaining`) are not
     * rewritten by every draw.
     */
    open: integer('open').notNull().default(1),
    priority: integer('priority').notNull(),
    expiresAt: integer('expires_at'),
    createdAt: integer('created_at').notNull(),
  },
  (t) => [
    index('credit_lot_open').on(t.account, t.expiresAt).where(sql`open = 1`),
    // The draw order (priority, soonest expiry, never-expiring last, oldest): a debit finds the
    // lot it draws first without sorting. Only opening and closing a lot writes it, never a draw.
    index('credit_lot_draw').on(t.account, t.priority, sql`expires_at IS NULL`, t.expiresAt, t.seq).where(sql`open = 1`),
    index('credit_lot_lapsing').on(t.expiresAt).where(sql`open = 1 AND expires_at IS NOT NULL`),
  ],
);

/** Projection: holds (reservations) and how each resolved. */
export const creditHold = sqliteTable(
  'credit_hold',
  {
    id: integer('id').primaryKey(), // the hold's entry pos
    account: text('account').notNull(),
    amount: integer('amount').notNull(),
    expiresAt: integer('expires_at').notNull(),
    status: text('status', { enum: ['open', 'captured', 'released', 'expired'] }).notNull(),
    resolvedBy: integer('resolved_by'),
    createdAt: integer('created_at').notNull(),
    // The hold's attribution, so deny caps with filters count the open holds they match.
    model: text('model'),
    keyId: text('key_id'),
    actor: text('actor'),
  },
  (t) => [
    // Covering (amount included): a guard sums an account's open holds from the index alone.
    index('credit_hold_open').on(t.account, t.expiresAt, t.amount).where(sql`status = 'open'`),
    index('credit_hold_lapsing').on(t.expiresAt).where(sql`status = 'open'`),
  ],
);

/**
 * Never holds a row. Inserting into it is how an atomic unit aborts itself from inside
 * SQL, where no RAISE() is available outside triggers (D1 and libSQL batches): a unit
 * inserts `0` when its operation did not apply (so statements the app sent `with` it are
 * rolled back too) and `2` when the schema is not the one this package migrated. Each
 * value fails its own named CHECK, so the error says which.
 */
export const creditUnitGuard = sqliteTable('credit_unit_guard', { ok: integer('ok').notNull() }, () => [
  check('credit_unit_not_applied', sql`ok <> 0`),
  check('credit_unit_schema_not_current', sql`ok <> 2`),
  check('credit_unit_guard_stays_empty', sql`ok IN (0, 2)`),
]);

/**
 * Always empty between statements. A configuration row of the log (`amount = 0`) passes
 * through it: the trigger `credit_entry_configures` inserts the row's fields here and deletes
 * them again, and the large trigger on this table applies the configuration (caps, floors,
 * plans, prices, teams, alerts). SQLite sets up a trigger's whole program on every row it is
 * considered for, WHEN clause or not, so the large program lives where only config rows reach
 * it and a debit pays for a small one (migration 0016; measured in docs/benchmarks.md).
 */
export const creditConfigApply = sqliteTable('credit_config_apply', {
  pos: integer('pos').primaryKey(),
  account: text('account').notNull(),
  seq: integer('seq').notNull(),
  kind: text('kind').notNull(),
  amount: integer('amount').notNull(),
  balance: integer('balance').notNull(),
  metadata: text('metadata'),
  createdAt: integer('created_at').notNull(),
});

export type CreditLotRow = typeof creditLot.$inferSelect;
export type CreditHoldRow = typeof creditHold.$inferSelect;

/** Spend-cap windows: calendar UTC (day from 00:00, ISO week from Monday, month from the 1st). */
export const CAP_WINDOWS = ['day', 'week', 'month'] as const;
export type CapWindow = (typeof CAP_WINDOWS)[number];
/** deny refuses inside the guard; warn lets it through with `warnings`; notify only records. */
export const CAP_ACTIONS = ['deny', 'warn', 'notify'] as const;
export type CapAction = (typeof CAP_ACTIONS)[number];

/**
 * Projection: spend caps, set and removed by `cap_set` / `cap_remove` rows on the account's
 * log. Filters are '' when absent (so the identity is a plain unique index). `spent` is the
 * spend counted in the window that starts at `window_start` — debits and captures that
 * match the filters, less their refunds — kept by triggers on the rows that spend, so a
 * guard reads one row per cap instead of summing history. A cap set mid-window starts
 * from the window's spend so far (read from the usage rollup).
 */
export const creditCap = sqliteTable(
  'credit_cap',
  {
    id: integer('id').primaryKey(), // the pos of the cap_set row that first set it
    account: text('account').notNull(),
    window: text('cap_window', { enum: CAP_WINDOWS }).notNull(), // `window` is an SQL keyword
    limit: integer('cap_limit').notNull(),
    action: text('action', { enum: CAP_ACTIONS }).notNull(),
    model: text('model').notNull().default(''),
    keyId: text('key_id').notNull().default(''),
    member: text('member').notNull().default(''),
    /** The pos of the cap_set row that last changed it. */
    setBy: integer('set_by').notNull(),
    windowStart: integer('window_start').notNull(),
    spent: integer('spent').notNull(),
    /** The window_start of the window in which `cap.warning` (80 %) / `cap.reached` (100 %) was last emitted (-1: never). */
    warnedWindow: integer('warned_window').notNull().default(-1),
    reachedWindow: integer('reached_window').notNull().default(-1),
  },
  (t) => [uniqueIndex('credit_cap_identity').on(t.account, t.window, t.model, t.keyId, t.member)],
);

/** Projection: an account's floor, when a `floor_set` row set one (absent = 0). */
export const creditFloor = sqliteTable('credit_floor', {
  account: text('account').primaryKey(),
  floor: integer('floor').notNull(),
  setBy: integer('set_by').notNull(),
});

/**
 * Projection: the usage rollup. Hourly UTC buckets by account, model, keyId and actor ('' when
 * absent). Folded from the log by position (see usage/fold.ts): every row up to
 * `credit_usage_cursor.through` is counted here, exactly once; readers add the rows after it.
 * `debited`/`debits`: debits and captures; `refunded`/`refunds`: refunds, counted in the bucket
 * of the entry they refund; `granted`, `expired` (credits removed by expiry) and `adjusted`
 * (signed) feed `summary`.
 */
export const creditUsage = sqliteTable(
  'credit_usage',
  {
    hour: integer('hour').notNull(),
    account: text('account').notNull(),
    model: text('model').notNull(),
    keyId: text('key_id').notNull(),
    actor: text('actor').notNull(),
    debited: integer('debited').notNull().default(0),
    debits: integer('debits').notNull().default(0),
    refunded: integer('refunded').notNull().default(0),
    refunds: integer('refunds').notNull().default(0),
    granted: integer('granted').notNull().default(0),
    expired: integer('expired').notNull().default(0),
    adjusted: integer('adjusted').notNull().default(0),
    /** Credits moved out by transfers (by the bucket's actor) and in. Caps count what moves out. */
    transferredOut: integer('transferred_out').notNull().default(0),
    transferredIn: integer('transferred_in').notNull().default(0),
  },
  (t) => [primaryKey({ columns: [t.hour, t.account, t.model, t.keyId, t.actor] }), index('credit_usage_account').on(t.account, t.hour)],
);

/** How far the usage rollup has folded the log: every row with pos <= through. One row. */
export const creditUsageCursor = sqliteTable(
  'credit_usage_cursor',
  {
    id: integer('id').primaryKey(),
    through: integer('through').notNull(),
  },
  () => [check('credit_usage_cursor_one_row', sql`id = 1`)],
);

export type CreditCapRow = typeof creditCap.$inferSelect;
export type CreditUsageRow = typeof creditUsage.$inferSelect;

/** Allowance periods: UTC, anchored like Stripe's billing cycle (src/plans/period.ts). */
export const PLAN_PERIODS = ['day', 'week', 'month', 'year'] as const;
export type PlanPeriod = (typeof PLAN_PERIODS)[number];

/**
 * Projection: plan versions, one per `plan_define` row on the log `$plan:<id>` (the version
 * is that row's seq). `allowance` is 0 for a plan without one; `definition` is the canonical
 * JSON the row carries, so an identical definition is recognised and replays.
 */
export const creditPlan = sqliteTable(
  'credit_plan',
  {
    id: text('id').notNull(),
    version: integer('version').notNull(),
    name: text('name'),
    allowance: integer('allowance').notNull(),
    every: text('every', { enum: PLAN_PERIODS }),
    rolloverMax: integer('rollover_max').notNull(),
    features: text('features').notNull(),
    definition: text('definition').notNull(),
    definedBy: integer('defined_by').notNull(),
    definedAt: integer('defined_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.id, t.version] })],
);

/**
 * Projection: an account's subscription, kept by triggers on `plan_subscribe`, `plan_change`
 * and `plan_cancel` rows. The terms in force are (plan_id, version, anchor), set by the row at
 * `terms_pos` and in force since `since`; a `next_period` change waits in `next_*` until
 * `next_at`. `cancel_at` ends the terms. `due_at` is the earliest time at which the account has
 * something to write down (a period's allowance, a pending change, the end): every spending
 * statement refuses while `due_at <= now`, so the allowance is always written first, in the
 * same atomic unit (src/plans/settle.ts).
 */
export const creditSubscription = sqliteTable(
  'credit_subscription',
  {
    account: text('account').primaryKey(),
    planId: text('plan_id').notNull(),
    version: integer('version').notNull(),
    termsPos: integer('terms_pos').notNull(),
    anchor: integer('anchor').notNull(),
    since: integer('since').notNull(),
    cancelAt: integer('cancel_at'),
    nextPlanId: text('next_plan_id'),
    nextVersion: integer('next_version'),
    nextPos: integer('next_pos'),
    nextAnchor: integer('next_anchor'),
    nextAt: integer('next_at'),
    dueAt: integer('due_at'),
    createdAt: integer('created_at').notNull(),
  },
  // The sweep finds idle accounts whose allowance is due without scanning every subscription.
  (t) => [index('credit_subscription_due').on(t.dueAt).where(sql`due_at IS NOT NULL`)],
);

export type CreditPlanRow = typeof creditPlan.$inferSelect;
export type CreditSubscriptionRow = typeof creditSubscription.$inferSelect;
/** How a pricing version rounds a charge's exact cost to whole credits, once per charge. */
export const PRICE_ROUNDINGS = ['up', 'half_even', 'down'] as const;
export type PriceRounding = (typeof PRICE_ROUNDINGS)[number];

/**
 * Projection: pricing versions, one per `pricing_publish` row on the `$pricing` log. The
 * version number is assigned inside the INSERT that writes the row (MAX + 1 under the write
 * lock) and recorded in the row's metadata; the trigger copies the setting here. Immutable:
 * nothing updates a version once written.
 */
export const creditPriceVersion = sqliteTable('credit_price_version', {
  version: integer('version').primaryKey(),
  /** The pos of the pricing_publish row. */
  entry: integer('entry').notNull(),
  label: text('label'),
  rounding: text('rounding', { enum: PRICE_ROUNDINGS }).notNull(),
  /** The rate card as JSON: { model: { meter: "price" } }. */
  rates: text('rates').notNull(),
  createdAt: integer('created_at').notNull(),
});

/** Projection: the active pricing version (one row once a version was activated). */
export const creditPriceActive = sqliteTable(
  'credit_price_active',
  {
    id: integer('id').primaryKey(),
    version: integer('version').notNull(),
    /** The pos of the row that activated it (a pricing_publish or a pricing_activate). */
    setBy: integer('set_by').notNull(),
  },
  () => [check('credit_price_active_one_row', sql`id = 1`)],
);

/** Team roles. The owner is set by `team_create` and never changes; viewers may not spend. */
export const TEAM_ROLES = ['owner', 'admin', 'member', 'viewer'] as const;
export type TeamRole = (typeof TEAM_ROLES)[number];

/** Projection: teams, one per `team_create` row (the team is the account whose log it is on). */
export const creditTeam = sqliteTable('credit_team', {
  team: text('team').primaryKey(),
  owner: text('owner').notNull(),
  name: text('name'),
  /** The pos of the team_create row. */
  createdBy: integer('created_by').notNull(),
  createdAt: integer('created_at').notNull(),
});

/**
 * Projection: current members of each team and their role, kept by triggers on `team_create`
 * (the owner), `team_add`, `team_role` and `team_remove` rows. Every spending statement on a
 * team account that names an actor reads its row through the primary key (src/teams/guard.ts).
 */
export const creditTeamMember = sqliteTable(
  'credit_team_member',
  {
    team: text('team').notNull(),
    member: text('member').notNull(),
    role: text('role', { enum: TEAM_ROLES }).notNull(),
    /** The pos of the row that gave the member this role. */
    setBy: integer('set_by').notNull(),
    /** When the member joined (the created_at of their team_create or team_add row). */
    since: integer('since').notNull(),
  },
  (t) => [primaryKey({ columns: [t.team, t.member] }), index('credit_team_member_member').on(t.member)],
);

export type CreditTeamRow = typeof creditTeam.$inferSelect;
export type CreditTeamMemberRow = typeof creditTeamMember.$inferSelect;

/** The events the outbox carries (src/events/). */
export const EVENT_TYPES = [
  'balance.low',
  'cap.warning',
  'cap.reached',
  'credits.expiring',
  'credits.expired',
  'hold.expired',
  'plan.renewed',
  'plan.changed',
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

/**
 * The transactional outbox. Rows are written by triggers on the log (and by the sweep for
 * `credits.expiring`) inside the atomic unit that writes their cause, and never updated or
 * deleted: `id` is an INTEGER PRIMARY KEY assigned MAX + 1 under the write lock, so ids
 * increase in commit order without gaps (a rolled-back unit takes none). `entry` is the pos
 * of the log row that caused the event (for `credits.expiring`, the lot's grant); `ref` the
 * lot, hold or cap it concerns; `data` the event's numbers as JSON (ids are rendered with
 * the ledger's prefix when read). `dedupe` makes once-only events (one `credits.expiring`
 * per lot) a unique key.
 */
export const creditEvent = sqliteTable(
  'credit_event',
  {
    id: integer('id').primaryKey(),
    type: text('type', { enum: EVENT_TYPES }).notNull(),
    account: text('account').notNull(),
    entry: integer('entry'),
    ref: integer('ref'),
    createdAt: integer('created_at').notNull(),
    data: text('data').notNull(),
    dedupe: text('dedupe'),
  },
  (t) => [index('credit_event_type').on(t.type, t.id), uniqueIndex('credit_event_dedupe').on(t.dedupe).where(sql`dedupe IS NOT NULL`)],
);

/**
 * Where the outbox begins: the log position of the last row written before migration 0014
 * created it (one row). Rows after it cause their events; rows before it were written when
 * there were no events, so the auditor expects none for them.
 */
export const creditOutbox = sqliteTable(
  'credit_outbox',
  {
    id: integer('id').primaryKey(),
    since: integer('since').notNull(),
  },
  () => [check('credit_outbox_one_row', sql`id = 1`)],
);

/**
 * Projection: alerts, set and removed by `alert_set` / `alert_remove` rows on the account's
 * log. The identity is (account, low_balance); 0 = no low-balance threshold (an alert only for
 * expiring credits). `above` carries, from the BEFORE trigger to the AFTER trigger of the row
 * being written, whether available was at or above the threshold just before it:
 * `balance.low` fires when before ≥ t > after. (Debits, transfers out and holds lower
 * available by exactly their amount, so for them the AFTER trigger needs no message.)
 */
export const creditAlert = sqliteTable(
  'credit_alert',
  {
    account: text('account').notNull(),
    lowBalance: integer('low_balance').notNull(),
    expiringWithinMs: integer('expiring_within_ms').notNull(),
    above: integer('above').notNull(),
    setBy: integer('set_by').notNull(),
  },
  (t) => [primaryKey({ columns: [t.account, t.lowBalance] })],
);

export type CreditEventRow = typeof creditEvent.$inferSelect;
export type CreditAlertRow = typeof creditAlert.$inferSelect;

/*
 * Webhooks (src/webhooks/): Standard Webhooks delivery of the outbox. These three tables are
 * operational state, not log rows nor projections of it: endpoints carry signing secrets,
 * which must never enter the log an app exports or digests, and delivery progress is about
 * the receivers, not the money. `rebuild()` and `verify()` leave them alone.
 */

export const WEBHOOK_STATUSES = ['active', 'disabled'] as const;
export type WebhookStatus = (typeof WEBHOOK_STATUSES)[number];

/**
 * An endpoint. `types` is a JSON array of event types, NULL for all. `cursor` is the id of the
 * last event already fanned out to it (turned into `credit_delivery` rows): set to the newest
 * event when the endpoint is added, so it receives the events created after that, and only
 * ever moved forward. A disabled endpoint (a `410 Gone`, or by hand) is skipped by the fan-out
 * and its pending deliveries are paused until it is enabled again.
 */
export const creditWebhook = sqliteTable('credit_webhook', {
  id: text('id').primaryKey(),
  url: text('url').notNull(),
  types: text('types'),
  secret: text('secret').notNull(),
  status: text('status', { enum: WEBHOOK_STATUSES }).notNull(),
  disabledReason: text('disabled_reason'),
  disabledAt: integer('disabled_at'),
  cursor: integer('cursor').notNull(),
  createdAt: integer('created_at').notNull(),
});

export const DELIVERY_STATUSES = ['pending', 'delivered', 'failed', 'paused'] as const;
export type DeliveryStatus = (typeof DELIVERY_STATUSES)[number];

/**
 * One event to one endpoint. A deliverer claims due rows (`pending`, `next_at` ≤ now) with a
 * conditional UPDATE that sets a random `claim` token, `claim_until`, and `next_at` =
 * `claim_until` (so a claimed row is not due again until its claim lapses) and counts the
 * attempt; only the holder of the token may record the result. `attempts` is the number of
 * the last attempt claimed (attempt numbers never repeat); `retries_from` is its value when
 * the current round of the retry schedule began (0, or when `redeliver` re-queued it).
 */
export const creditDelivery = sqliteTable(
  'credit_delivery',
  {
    webhook: text('webhook').notNull(),
    event: integer('event').notNull(),
    status: text('status', { enum: DELIVERY_STATUSES }).notNull(),
    attempts: integer('attempts').notNull(),
    retriesFrom: integer('retries_from').notNull(),
    nextAt: integer('next_at').notNull(),
    claim: text('claim'),
    claimUntil: integer('claim_until'),
    lastStatus: integer('last_status'),
    lastError: text('last_error'),
    createdAt: integer('created_at').notNull(),
    deliveredAt: integer('delivered_at'),
  },
  (t) => [
    primaryKey({ columns: [t.webhook, t.event] }),
    index('credit_delivery_due').on(t.nextAt).where(sql`status = 'pending'`),
    index('credit_delivery_claim').on(t.claim).where(sql`claim IS NOT NULL`),
    index('credit_delivery_event').on(t.event),
  ],
);

export const ATTEMPT_OUTCOMES = ['sending', 'delivered', 'error', 'timeout', 'gone'] as const;
export type AttemptOutcome = (typeof ATTEMPT_OUTCOMES)[number];

/**
 * One row per attempt, written when it is claimed (`sending`) and completed with its result
 * by the deliverer that sent it. An attempt whose deliverer died stays `sending`; it reads as
 * `lost` once its claim lapsed or a later attempt was claimed.
 */
export const creditDeliveryAttempt = sqliteTable(
  'credit_delivery_attempt',
  {
    webhook: text('webhook').notNull(),
    event: integer('event').notNull(),
    attempt: integer('attempt').notNull(),
    startedAt: integer('started_at').notNull(),
    durationMs: integer('duration_ms'),
    status: integer('status'),
    error: text('error'),
    outcome: text('outcome', { enum: ATTEMPT_OUTCOMES }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.webhook, t.event, t.attempt] }), index('credit_delivery_attempt_event').on(t.event)],
);

export type CreditWebhookRow = typeof creditWebhook.$inferSelect;
export type CreditDeliveryRow = typeof creditDelivery.$inferSelect;
export type CreditDeliveryAttemptRow = typeof creditDeliveryAttempt.$inferSelect;
