/**
 * What stands in the database under the ledger's names, compared with what this version's
 * migrations build: for error messages that say exactly what differs. Read only on error
 * paths.
 */
import { getTableConfig, type SQLiteTable } from 'drizzle-orm/sqlite-core';
import type { Runner } from '../runner/index.js';
import {
  creditAlert,
  creditCap,
  creditConfigApply,
  creditDelivery,
  creditDeliveryAttempt,
  creditEntry,
  creditEvent,
  creditFloor,
  creditHold,
  creditLot,
  creditOutbox,
  creditPlan,
  creditPriceActive,
  creditPriceVersion,
  creditSubscription,
  creditTeam,
  creditTeamMember,
  creditUnitGuard,
  creditUsage,
  creditUsageCursor,
  creditWebhook,
} from '../schema.js';

/** The triggers the ledger relies on (migration 0009): without them writes would succeed and lie. */
export const LEDGER_TRIGGERS = [
  // migration 0009
  'credit_entry_allocates',
  'credit_lot_crosses_zero',
  // migration 0013 (regrouped: one trigger per group of kinds)
  'credit_entry_configures',
  'credit_entry_moves_hold',
  'credit_entry_opens_lot',
  'credit_entry_counts_cap',
  // migration 0014 (the event outbox and alerts)
  'credit_entry_alerts_before',
  'credit_entry_alerts',
  // migration 0016 (configures dispatches config rows to credit_config_apply)
  'credit_config_apply_runs',
  // migration 0017 (cap events only for accounts with a warn or notify cap)
  'credit_entry_cap_events',
] as const;

const TABLES: SQLiteTable[] = [
  creditEntry,
  creditLot,
  creditHold,
  creditUnitGuard,
  creditCap,
  creditFloor,
  creditUsage,
  creditUsageCursor,
  creditPlan,
  creditSubscription,
  creditPriceVersion,
  creditPriceActive,
  creditTeam,
  creditTeamMember,
  creditEvent,
  creditAlert,
  creditOutbox,
  creditWebhook,
  creditDelivery,
  creditDeliveryAttempt,
  creditConfigApply,
];

export interface SchemaReport {
  /** One line per ledger table that exists with other columns than this version's. */
  differences: string[];
  /** Ledger tables that exist. */
  present: string[];
  missingTriggers: string[];
}

export async function inspectSchema(runner: Runner): Promise<SchemaReport | null> {
  try {
    const reads = TABLES.map((t) => ({ sql: 'SELECT name FROM pragma_table_info(?)', args: [getTableConfig(t).name] }));
    const results = await runner.read([...reads, { sql: "SELECT name FROM sqlite_master WHERE type = 'trigger'", args: [] }]);
    const report: SchemaReport = { differences: [], present: [], missingTriggers: [] };
    TABLES.forEach((t, i) => {
      const { name, columns } = getTableConfig(t);
      const have = (results[i] ?? []).map((r) => String(r.name));
      if (have.length === 0) return;
      report.present.push(name);
      const want = columns.map((c) => c.name);
      const missing = want.filter((c) => !have.includes(c));
      const extra = have.filter((c) => !want.includes(c));
      if (missing.length > 0 || extra.length > 0) {
        report.differences.push(
          `${name}: ${[missing.length > 0 ? `missing ${missing.join(', ')}` : '', extra.length > 0 ? `unexpected ${extra.join(', ')}` : '']
            .filter(Boolean)
            .join('; ')}`,
        );
      }
    });
    const triggers = new Set((results[TABLES.length] ?? []).map((r) => String(r.name)));
    report.missingTriggers = LEDGER_TRIGGERS.filter((t) => !triggers.has(t));
    return report;
  } catch {
    return null; // a driver that refuses these reads: the caller says what it can without them
  }
}

/** One sentence on what differs, for a schema_conflict or schema_missing message. */
export function describe(report: SchemaReport | null): string {
  if (report === null) return 'the existing tables could not be inspected';
  if (report.present.length === 0) return 'no ledger table exists yet';
  if (report.differences.length > 0) return `columns differ from this version's — ${report.differences.join(' | ')}`;
  const triggers = report.missingTriggers.length > 0 ? `, but the triggers ${report.missingTriggers.join(', ')} are missing` : '';
  return `${report.present.join(', ')} have this version's columns${triggers}`;
}
