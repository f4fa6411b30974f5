/**
 * `drizzle-credits serve`: the HTTP API (src/http) on Node through @hono/node-server, over the
 * database the global options name (`--db` better-sqlite3, `--url` libSQL). Tokens and their
 * scopes come from the environment (CREDITS_TOKENS, see `parseTokens`) and are compared in
 * constant time; the schema is migrated at start; SIGTERM or SIGINT stops accepting requests,
 * lets those in flight finish, and closes the database.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { serve as nodeServe } from '@hono/node-server';
import { type Command, Option } from 'commander';
import { type ApiToken, bearerToken, createCreditsApi, type Principal, parseTokens, TOKENS_ENV } from '../http/index.js';
import { EXIT, type ExitCode } from './exit.js';
import { type ConnectionOptions, openLedger } from './open.js';
import type { CliIo } from './program.js';

/** How long requests in flight may run after SIGTERM before their connections are closed. */
export const SHUTDOWN_GRACE_MS = 10_000;

// The format is parsed in src/http (shared with Workers, where `tokenAuthorizer` uses WebCrypto).
export { parseTokens, TOKENS_ENV };

interface TokenEntry {
  hash: Buffer;
  scopes: string[];
}

const sha256 = (s: string) => createHash('sha256').update(s, 'utf8').digest();

/** authorize() for the API: every known token is compared (hashes, constant time), so timing tells nothing. */
export function tokenAuthorizer(tokens: readonly ApiToken[]): (request: Request) => Principal | null {
  // Synchronous on Node (node:crypto): hashed once here, not per request.
  const entries: TokenEntry[] = tokens.map((t) => ({ hash: sha256(t.token), scopes: t.scopes }));
  return (request) => {
    const token = bearerToken(request);
    if (token === null) return null;
    const presented = sha256(token);
    let found: TokenEntry | null = null;
    for (const e of entries) if (timingSafeEqual(e.hash, presented) && found === null) found = e;
    return found === null ? null : { scopes: found.scopes };
  };
}

interface ServeOptions {
  port: string;
  host: string;
  bodyLimit?: string;
}

export function addServeCommand(
  program: Command,
  io: CliIo,
  setExit: (code: ExitCode) => void,
  connection: (cmd: Command) => ConnectionOptions,
): void {
  program
    .command('serve')
    .description(`serve the HTTP API (drizzle-credits/http) on Node; tokens from $${TOKENS_ENV}`)
    .addOption(new Option('--port <port>', 'TCP port (0: any free port)').default('8787'))
    .addOption(new Option('--host <host>', 'interface to listen on').default('127.0.0.1'))
    .option('--body-limit <bytes>', 'largest request body (default 1048576)')
    .addHelpText(
      'after',
      `\n$${TOKENS_ENV}: comma-separated token:scopes, scopes joined by + (read, write, admin; admin implies the others).\n` +
        `  ${TOKENS_ENV}="$(openssl rand -hex 24):admin,$(openssl rand -hex 24):read+write" drizzle-credits --db credits.db serve\n` +
        'Requests send Authorization: Bearer <token>. The schema is migrated at start; SIGTERM/SIGINT shut down gracefully.',
    )
    .action(async (o: ServeOptions, cmd: Command) => {
      const fail = (message: string, code: ExitCode) => {
        io.stderr.write(`error: ${message}\n`);
        setExit(code);
      };
      let tokens: ApiToken[];
      try {
        tokens = parseTokens(io.env?.[TOKENS_ENV]);
      } catch (e) {
        return fail((e as Error).message, EXIT.usage);
      }
      const port = Number(o.port);
      if (!/^[0-9]{1,5}$/.test(o.port) || port > 65535) return fail(`--port must be 0–65535, got ${o.port}`, EXIT.usage);
      const bodyLimit = o.bodyLimit === undefined ? undefined : Number(o.bodyLimit);
      if (bodyLimit !== undefined && (!/^[1-9][0-9]{0,9}$/.test(o.bodyLimit ?? '') || !Number.isSafeInteger(bodyLimit)))
        return fail('--body-limit must be a whole number of bytes ≥ 1', EXIT.usage);

      let opened: Awaited<ReturnType<typeof openLedger>>;
      try {
        opened = await openLedger(connection(cmd), { mustExist: false });
      } catch (e) {
        return fail((e as Error).message, EXIT.ledgerError);
      }
      try {
        await opened.ledger.migrate();
      } catch (e) {
        await opened.close().catch(() => undefined);
        return fail(`migrate: ${(e as Error).message}`, EXIT.ledgerError);
      }
      const app = createCreditsApi({
        ledger: opened.ledger,
        authorize: tokenAuthorizer(tokens),
        ...(bodyLimit === undefined ? {} : { bodyLimit }),
        onError: (e, req) =>
          io.stderr.write(
            `error: ${req.method} ${new URL(req.url).pathname}: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`,
          ),
      });
      await new Promise<void>((resolve) => {
        const server = nodeServe({ fetch: app.fetch, port, hostname: o.host }, (info: AddressInfo) => {
          const host = info.family === 'IPv6' ? `[${info.address}]` : info.address;
          io.stdout.write(
            `drizzle-credits serving ${opened.target} on http://${host}:${info.port} (dashboard: /dashboard, docs: /docs, OpenAPI: /openapi.json)\n`,
          );
        });
        server.on('error', (e) => {
          fail(`listen: ${e.message}`, EXIT.internal);
          stop();
        });
        let stopping = false;
        const stop = () => {
          if (stopping) return;
          stopping = true;
          process.off('SIGTERM', stop);
          process.off('SIGINT', stop);
          if (server.listening) io.stdout.write('drizzle-credits serve: shutting down\n');
          // Idle keep-alive connections would hold close() open; busy ones finish their request.
          const s = server as import('node:http').Server;
          s.close(() => {
            opened.close().then(resolve, (e: unknown) => {
              io.stderr.write(`warning: closing the database failed: ${(e as Error).message}\n`);
              resolve();
            });
          });
          s.closeIdleConnections?.();
          // A long stream (SSE) would hold close() open for ever: past the grace period, cut it.
          setTimeout(() => s.closeAllConnections?.(), SHUTDOWN_GRACE_MS).unref();
        };
        process.once('SIGTERM', stop);
        process.once('SIGINT', stop);
      });
    });
}
