/**
 * Round-trip counting for the batch drivers (D1 and libSQL). The raw client is wrapped in
 * a Proxy before it is handed to drizzle, so every call the ledger's runner makes on it is
 * seen here — the runner talks to `db.$client`, never to drizzle's session.
 *
 * What counts as a round trip (a request the driver sends to the database):
 * - D1: `batch`, `exec`, `dump`, and `first` / `all` / `run` / `raw` on a statement from
 *   `prepare` (or its `bind`). `prepare` and `bind` are local; a statement put into a batch
 *   is not a round trip of its own.
 * - libSQL: `execute`, `batch`, `executeMultiple`, `transaction`, `migrate`, `sync`, and
 *   every call on a transaction object `transaction()` returned (an interactive
 *   transaction costs a request per statement on a remote server).
 * Any other method call is recorded too (as `other:<name>`) and counted, so a call this
 * file does not know about shows up instead of hiding. `close` is not a round trip.
 */

export interface Call {
  /** The client method, e.g. `batch`, `execute`, `stmt.all`, `tx.commit`. */
  readonly method: string;
  /** The SQL it carried (one per statement for a batch). */
  readonly sql: readonly string[];
}

/** A PRAGMA busy_timeout read or write: the libSQL runner's local-file fix-up. */
export const isBusyTimeoutPragma = (sql: string) => /^\s*PRAGMA\s+busy_timeout\s*(=\s*\d+\s*)?;?\s*$/i.test(sql);

export class CallLog {
  #calls: Call[] = [];

  record(method: string, sql: readonly string[]): void {
    this.#calls.push({ method, sql });
  }

  reset(): void {
    this.#calls = [];
  }

  get calls(): readonly Call[] {
    return this.#calls;
  }

  /** A lone `execute` of PRAGMA busy_timeout: local to a `file:` connection, never sent to a server. */
  static isLocalPragma(c: Call): boolean {
    return c.method === 'execute' && c.sql.length === 1 && isBusyTimeoutPragma(c.sql[0] as string);
  }

  /** Calls that go to the database, busy-timeout PRAGMAs set aside. */
  get roundTrips(): Call[] {
    return this.#calls.filter((c) => !CallLog.isLocalPragma(c));
  }

  /** The busy-timeout PRAGMAs, counted apart. */
  get localPragmas(): Call[] {
    return this.#calls.filter((c) => CallLog.isLocalPragma(c));
  }
}

type AnyFn = (...args: unknown[]) => unknown;

const sqlOf = (stmt: unknown): string => {
  if (typeof stmt === 'string') return stmt;
  if (Array.isArray(stmt)) return String(stmt[0]);
  if (stmt !== null && typeof stmt === 'object' && 'sql' in stmt) return String((stmt as { sql: unknown }).sql);
  return String(stmt);
};

/**
 * Forwards every property to `target`, with methods bound to the target itself (clients
 * keep private `#fields`, which a Proxy receiver cannot reach), and lets `onCall` wrap
 * method calls. Non-function properties can be overridden through `overrides`.
 */
function forwarding<T extends object>(
  target: T,
  onCall: (name: string, fn: AnyFn, args: unknown[]) => unknown,
  overrides: Record<string | symbol, unknown> = {},
): T {
  return new Proxy(target, {
    get(t, prop) {
      if (Object.hasOwn(overrides, prop)) return overrides[prop];
      const value = (t as Record<string | symbol, unknown>)[prop];
      if (typeof value !== 'function' || typeof prop === 'symbol' || prop === 'constructor') return value;
      const fn = (value as AnyFn).bind(t);
      return (...args: unknown[]) => onCall(prop, fn, args);
    },
  });
}

const D1_STATEMENT_CALLS = new Set(['first', 'all', 'run', 'raw']);
const D1_LOCAL = new Set(['prepare']);

/** Wraps a D1Database (miniflare's or Workers') so the log sees every round trip. */
export function countingD1<T extends object>(d1: T, log: CallLog): T {
  // Our statement wrappers → the driver's own statements (unwrapped before a batch) and their SQL.
  const real = new WeakMap<object, { stmt: object; sql: string }>();
  const statement = (stmt: object, sql: string): object => {
    const wrapped = forwarding(stmt, (name, fn, args) => {
      if (name === 'bind') return statement(fn(...args) as object, sql);
      if (D1_STATEMENT_CALLS.has(name)) log.record(`stmt.${name}`, [sql]);
      return fn(...args);
    });
    real.set(wrapped, { stmt, sql });
    return wrapped;
  };
  return forwarding(d1, (name, fn, args) => {
    if (name === 'prepare') return statement(fn(...args) as object, String(args[0]));
    if (name === 'batch') {
      const stmts = (args[0] as object[]).map((s) => real.get(s) ?? { stmt: s, sql: sqlOf(s) });
      log.record(
        'batch',
        stmts.map((s) => s.sql),
      );
      return fn(
        stmts.map((s) => s.stmt),
        ...args.slice(1),
      );
    }
    if (name === 'exec') log.record('exec', [String(args[0])]);
    else if (!D1_LOCAL.has(name)) log.record(name === 'dump' ? 'dump' : `other:${name}`, []);
    return fn(...args);
  });
}

const LIBSQL_LOCAL = new Set(['close']);

/**
 * Wraps a libSQL Client so the log sees every call. `protocol` overrides what the client
 * reports (e.g. `'http'` around a `file:` client, to run the remote code path locally).
 */
export function countingLibsql<T extends object>(client: T, log: CallLog, opts: { protocol?: string } = {}): T {
  const transaction = (tx: object): object =>
    forwarding(tx, (name, fn, args) => {
      if (name !== 'close')
        log.record(`tx.${name}`, name === 'batch' ? (args[0] as unknown[]).map(sqlOf) : args.length ? [sqlOf(args[0])] : []);
      return fn(...args);
    });
  return forwarding(
    client,
    (name, fn, args) => {
      switch (name) {
        case 'execute':
          log.record('execute', [sqlOf(args[0])]);
          return fn(...args);
        case 'batch':
        case 'migrate':
          log.record(name, (args[0] as unknown[]).map(sqlOf));
          return fn(...args);
        case 'executeMultiple':
          log.record(name, [String(args[0])]);
          return fn(...args);
        case 'transaction':
          log.record(name, []);
          return (fn(...args) as Promise<object>).then(transaction);
        default:
          if (!LIBSQL_LOCAL.has(name)) log.record(name === 'sync' ? 'sync' : `other:${name}`, []);
          return fn(...args);
      }
    },
    opts.protocol === undefined ? {} : { protocol: opts.protocol },
  );
}
