/**
 * For an app's drizzle.config.ts: keeps drizzle-kit `push` and `pull` away from
 * the ledger's tables when the app's own schema lives in the same database. This module
 * imports nothing, so a config file can load it without loading a driver.
 *
 * The prefix rule: every table, index and trigger the ledger creates is named `credit_*`,
 * and its migrations table is `drizzle_credits_migrations`; later migrations keep to that,
 * so these globs also cover tables added in later versions. An app table whose name
 * starts with `credit_` is excluded too: name app tables otherwise.
 */

/** The name prefixes of everything the ledger's migrations create. */
export const LEDGER_NAME_PREFIXES = ['credit_', 'drizzle_credits_'] as const;

/**
 * drizzle-kit `tablesFilter` globs that exclude the ledger's tables and keep every other
 * table: `tablesFilter: ledgerTablesFilter`, or `[...ledgerTablesFilter, '!legacy_*']` to
 * exclude more. drizzle-kit (0.31) drops a table from push/pull when a negated glob matches
 * it; a table no negated glob matches is kept even if positive globs beside them do not
 * match it, so narrow the set with more `!` globs, not with positive ones.
 */
export const ledgerTablesFilter: string[] = LEDGER_NAME_PREFIXES.map((p) => `!${p}*`);
