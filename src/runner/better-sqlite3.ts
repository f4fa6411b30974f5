import type BetterSqlite3 from 'better-sqlite3';
import { createSyncRunner, type SyncDatabase } from './sync.js';
import type { Row, Runner } from './types.js';

/** better-sqlite3: `all()` throws on statements that return no data, so use `run()` there. */
export function betterSqlite3Runner(client: BetterSqlite3.Database): Runner {
  const db: SyncDatabase = {
    inTransaction: () => client.inTransaction,
    prepare(sql) {
      const stmt = client.prepare(sql);
      if (stmt.reader) return { all: (args) => stmt.all(...args) as Row[], run: (args) => void stmt.run(...args) };
      return {
        all: (args) => {
          stmt.run(...args);
          return [];
        },
        run: (args) => void stmt.run(...args),
      };
    },
  };
  return createSyncRunner('better-sqlite3', db);
}
