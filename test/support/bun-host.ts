/**
 * Runs inside `bun`: hosts a Ledger on bun:sqlite and serves calls from the Node test
 * process as JSON lines on stdin/stdout. The library code under test is the same src/.
 */
import { Database } from 'bun:sqlite';
import { drizzle } from 'drizzle-orm/bun-sqlite';
import { createLedger, LedgerError } from '../../src/index.js';
import { rebuildRace } from './races.js';
import { decode } from './wire.js';

const file = process.argv[2] ?? ':memory:';
let now = Date.now();
function open() {
  const c = new Database(file, { create: true });
  c.exec('PRAGMA journal_mode = WAL');
  c.exec('PRAGMA busy_timeout = 5000');
  return { client: c, ledger: createLedger(drizzle(c), { clock: () => now }) };
}
let { client, ledger } = open();
/** A second connection of this process holding a read transaction (a SHARED lock in rollback-journal mode). */
let reader: Database | undefined;

/**
 * A LedgerError inside a result (a batch op `rejected`) crosses as `{ $ledgerError }`: JSON
 * alone would drop its message (not an enumerable property) and its class.
 */
function carryErrors(_key: string, v: unknown): unknown {
  return v instanceof LedgerError ? { $ledgerError: { code: v.code, message: v.message, details: v.details } } : v;
}

/** Settles a promise into plain data: what the caller saw, without throwing. */
async function settle(p: Promise<unknown> | undefined): Promise<unknown> {
  try {
    return { ok: true, value: (await p) ?? null };
  } catch (e) {
    return e instanceof LedgerError
      ? { ok: false, code: e.code, message: e.message }
      : { ok: false, raw: String((e as Error)?.message ?? e) };
  }
}

interface Call {
  id: number;
  method: string;
  args: unknown[];
  now?: number;
}

async function handle(call: Call): Promise<unknown> {
  if (call.now !== undefined) now = call.now;
  if (call.method === '__all') return client.prepare(call.args[0] as string).all(...((call.args[1] as never[]) ?? []));
  if (call.method === '__exec') return void client.exec(call.args[0] as string);
  if (call.method === '__driver') return ledger.driver;
  if (call.method === '__inTransaction') return client.inTransaction;
  if (call.method === '__lockShared') {
    reader = new Database(file);
    reader.exec('BEGIN');
    return reader.prepare('SELECT COUNT(*) AS n FROM credit_entry').all();
  }
  if (call.method === '__unlock') {
    reader?.exec('COMMIT');
    reader?.close();
    reader = undefined;
    return;
  }
  if (call.method === '__another') {
    ledger = createLedger(drizzle(client), { clock: () => now });
    return;
  }
  if (call.method === '__reopen') {
    client.close();
    ({ client, ledger } = open());
    return;
  }
  if (call.method === '__rebuildRace') return rebuildRace(ledger, call.args[0] as never);
  if (call.method === '__inAppTransaction') return inAppTransaction(call.args[0] as string, call.args.slice(1));
  if (call.method === '__createLedgerOnTx') {
    let out: unknown;
    drizzle(client).transaction((tx) => {
      try {
        createLedger(tx as never);
        out = { ok: true };
      } catch (e) {
        out = { ok: false, code: (e as LedgerError).code, message: (e as Error).message };
      }
    });
    return out;
  }
  // "caps.set" → ledger.caps.set, called on its namespace.
  const path = call.method.split('.');
  let self: unknown = ledger;
  for (const part of path.slice(0, -1)) self = (self as Record<string, unknown>)[part];
  const fn = (self as Record<string, (...a: unknown[]) => Promise<unknown>> | undefined)?.[path[path.length - 1] as string];
  if (typeof fn !== 'function') throw new Error(`no method ${call.method}`);
  return fn.apply(self, call.args);
}

/**
 * Calls a ledger method inside the app's own drizzle transaction, which the app then rolls
 * back; reports what the call said, and whether the connection is still in a transaction.
 */
async function inAppTransaction(method: string, args: unknown[]): Promise<unknown> {
  const fn = (ledger as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>)[method];
  let p: Promise<unknown> | undefined;
  try {
    drizzle(client).transaction((tx) => {
      p = fn?.apply(ledger, args);
      tx.rollback();
    });
  } catch {
    // the rollback
  }
  return { result: await settle(p), inTransactionAfter: client.inTransaction };
}

const decoder = new TextDecoder();
let buffer = '';
for await (const chunk of Bun.stdin.stream()) {
  buffer += decoder.decode(chunk);
  let nl = buffer.indexOf('\n');
  while (nl >= 0) {
    const line = buffer.slice(0, nl);
    buffer = buffer.slice(nl + 1);
    nl = buffer.indexOf('\n');
    if (line.trim() === '') continue;
    const call = decode(line) as Call;
    try {
      const value = await handle(call);
      process.stdout.write(`${JSON.stringify({ id: call.id, ok: true, value: value ?? null }, carryErrors)}\n`);
    } catch (e) {
      const err =
        e instanceof LedgerError
          ? { ledger: true, code: e.code, message: e.message, details: e.details }
          : { ledger: false, message: String((e as Error)?.message ?? e) };
      process.stdout.write(`${JSON.stringify({ id: call.id, ok: false, error: err })}\n`);
    }
  }
}
