export type { Alerts } from './alerts/index.js';
export type * from './alerts/types.js';
export type { AppStatement, WriteOptions } from './app-statements.js';
export type { Caps } from './caps/index.js';
export { windowEnd, windowStart } from './caps/window.js';
export type { LogDigest } from './digest.js';
export { ERROR_CODES, isLedgerError, LedgerError, type LedgerErrorCode } from './errors.js';
export type { Events } from './events/index.js';
export type * from './events/types.js';
export type {
  AdjustInput,
  BatchOp,
  BatchResult,
  CaptureInput,
  DebitInput,
  DebitOnceInput,
  ExtendHoldInput,
  GrantInput,
  HistoryOptions,
  HoldInput,
  LedgerOptions,
  RefundInput,
  ReleaseInput,
  SweepInput,
} from './ledger.js';
export { createLedger, Ledger } from './ledger.js';
export * from './limits.js';
export type { MigrateResult } from './migrate/index.js';
export { REFUNDABLE_KINDS } from './ops/refund.js';
export type { Plans } from './plans/index.js';
export type * from './plans/types.js';
export type { Pricing } from './pricing/index.js';
export type * from './pricing/types.js';
export type { AnySQLiteDatabase, DriverName } from './runner/index.js';
export {
  CAP_ACTIONS,
  CAP_WINDOWS,
  type CreditEntryRow,
  creditEntry,
  ENTRY_KINDS,
  type EntryKind,
  EVENT_TYPES,
  type EventType,
  MIGRATIONS_TABLE,
  PLAN_PERIODS,
  type PlanPeriod,
  PRICE_ROUNDINGS,
  WEBHOOK_STATUSES,
  type WebhookStatus,
} from './schema.js';
export type { Teams } from './teams/index.js';
export type * from './teams/types.js';
export type * from './transfers/types.js';
export type * from './types.js';
export type { Analytics } from './usage/analytics.js';
export type * from './usage/types.js';
export type { Webhooks } from './webhooks/index.js';
export type * from './webhooks/types.js';
