import { createSyncRunner, type SyncDatabase } from './sync.js';
import type { Row, Runner } from './types.js';

/** The part of bun:sqlite's Database we use (typed here: `bun:sqlite` cannot load in Node). */
export interface BunSqliteClient {
  readonly inTransaction: boolean;
  prepare(sql: string): {
    all(...args: unknown[]): unknown[];
    run(...args: unknown[]): unknown;
  };
}

export function bunSqliteRunner(client: BunSqliteClient): Runner {
  const db: SyncDatabase = {
    inTransaction: () => client.inTransaction,
    prepare(sql) {
      const stmt = client.prepare(sql);
      return {
        all: (args) => stmt.all(...args) as Row[],
        run: (args) => void stmt.run(...args),
      };
    },
  };
  return createSyncRunner('bun:sqlite', db);
}
