/**
 * Runs inside `bun`: hosts a Ledger on bun:sqlite and serves calls from the Node test
 * process as JSON lines on stdin/stdout. The library code under test is the same src/.
 */
import { Database } from 'bun:sqlite';
import { drizzle } from 'drizzle-orm/bun-sqlite';
import { createLedger, LedgerError } from '../../src/index.js';
import { decode } from './wire.js';

const file = process.argv[2] ?? ':memory:';
const client = new Database(file, { create: true });
client.exec('PRAGMA journal_mode = WAL');
client.exec('PRAGMA busy_timeout = 5000');
let now = Date.now();
const ledger = createLedger(drizzle(client), { clock: () => now });

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
  const fn = (ledger as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>)[call.method];
  if (typeof fn !== 'function') throw new Error(`no method ${call.method}`);
  return fn.apply(ledger, call.args);
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
      process.stdout.write(`${JSON.stringify({ id: call.id, ok: true, value: value ?? null })}\n`);
    } catch (e) {
      const err =
        e instanceof LedgerError
          ? { ledger: true, code: e.code, message: e.message, details: e.details }
          : { ledger: false, message: String((e as Error)?.message ?? e) };
      process.stdout.write(`${JSON.stringify({ id: call.id, ok: false, error: err })}\n`);
    }
  }
}
