/**
 * A webhook receiver on 127.0.0.1 (node:http) for tests: records every request (path,
 * Standard Webhooks headers, raw body) and answers what the test's `respond` says, after an
 * optional delay. `inFlight` tracks (path, webhook-id, attempt) while a request is open, so a
 * test can see whether one attempt was ever being sent twice at once.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';

export interface Received {
  path: string;
  id: string;
  timestamp: string;
  signature: string;
  attempt: number;
  contentType: string;
  body: string;
  at: number;
  /** The status answered, once the answer reached an open connection (a deliverer that timed out had closed it). */
  answered?: number;
}

export interface Reply {
  status: number;
  headers?: Record<string, string>;
  /** Answer this many milliseconds later (longer than the deliverer's time limit: a timeout). */
  delayMs?: number;
}

export interface Receiver {
  readonly url: string;
  readonly received: Received[];
  /** Requests answered 2xx, by path then webhook-id. */
  readonly delivered: Map<string, Set<string>>;
  /** (path, id, attempt) keys seen open at the same time as another with the same key. */
  readonly concurrentDuplicates: string[];
  respond: (r: Received) => Reply;
  close(): Promise<void>;
}

const header = (req: IncomingMessage, name: string) => String(req.headers[name] ?? '');

export async function startReceiver(respond: (r: Received) => Reply = () => ({ status: 200 })): Promise<Receiver> {
  const inFlight = new Set<string>();
  const r: Receiver = {
    url: '',
    received: [],
    delivered: new Map(),
    concurrentDuplicates: [],
    respond,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((res) => server.close(() => res()));
    },
  };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const rec: Received = {
        path: req.url ?? '/',
        id: header(req, 'webhook-id'),
        timestamp: header(req, 'webhook-timestamp'),
        signature: header(req, 'webhook-signature'),
        attempt: Number(header(req, 'webhook-attempt')),
        contentType: header(req, 'content-type'),
        body: Buffer.concat(chunks).toString('utf8'),
        at: Date.now(),
      };
      r.received.push(rec);
      const key = `${rec.path} ${rec.id} #${rec.attempt}`;
      if (inFlight.has(key)) r.concurrentDuplicates.push(key);
      inFlight.add(key);
      let reply: Reply;
      try {
        reply = r.respond(rec);
      } catch {
        reply = { status: 500 };
      }
      const answer = () => {
        inFlight.delete(key);
        if (res.destroyed || req.socket.destroyed) return;
        rec.answered = reply.status;
        if (reply.status >= 200 && reply.status <= 299) {
          const ids = r.delivered.get(rec.path) ?? new Set<string>();
          ids.add(rec.id);
          r.delivered.set(rec.path, ids);
        }
        res.writeHead(reply.status, reply.headers ?? {});
        res.end();
      };
      // A deliverer that gave up (timeout) closes the socket: the attempt is no longer in flight.
      res.on('close', () => inFlight.delete(key));
      if (reply.delayMs === undefined) answer();
      else setTimeout(answer, reply.delayMs);
    });
  });
  server.keepAliveTimeout = 1_000;
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', () => res()));
  (r as { url: string }).url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return r;
}

/**
 * Standard Webhooks verification by the reference library, at the time the request was
 * signed for: `Webhook.verify` checks the timestamp against Date.now() (±5 min), and tests
 * step the ledger clock hours ahead.
 */
export function verifyAt(secret: string, r: Received): unknown {
  const headers = { 'webhook-id': r.id, 'webhook-timestamp': r.timestamp, 'webhook-signature': r.signature };
  const realNow = Date.now;
  Date.now = () => Number(r.timestamp) * 1000;
  try {
    return new Webhook(secret).verify(r.body, headers);
  } finally {
    Date.now = realNow;
  }
}

/** Verification exactly as a receiver does it, against the real clock. */
export function verifyNow(secret: string, r: Received): unknown {
  return new Webhook(secret).verify(r.body, { 'webhook-id': r.id, 'webhook-timestamp': r.timestamp, 'webhook-signature': r.signature });
}
