/**
 * RFC 9457 problem details: every error the API returns is `application/problem+json` with
 * `type`, `title`, `status`, `detail` and `code` (a LedgerError code, or one of the HTTP
 * layer's own: `unauthorized`, `forbidden`, `payload_too_large`, `unsupported_media_type`,
 * `not_found`, `method_not_allowed`, `insufficient`, `capped`, `internal`).
 */
import { isLedgerError, type LedgerError, type LedgerErrorCode } from '../errors.js';

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

/** `type` is a URN per code (docs/http.md lists them): stable, and no made-up URL to dereference. */
export const PROBLEM_TYPE_BASE = 'urn:drizzle-credits:problem:';

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: string;
  [extension: string]: unknown;
}

/**
 * HTTP status of each LedgerError code. Client misuse is 4xx; codes that only the server's
 * state or configuration can cause (schema, driver, the app's own statements) are 5xx, and
 * their detail is not shown (see `problemOf`).
 */
export const STATUS_OF: Record<LedgerErrorCode, number> = {
  invalid_amount: 400,
  invalid_account: 400,
  invalid_argument: 400,
  idempotency_conflict: 409,
  not_found: 404,
  not_refundable: 409,
  exceeds_refundable: 409,
  overflow: 422,
  hold_closed: 409,
  hold_expired: 409,
  already_subscribed: 409,
  forbidden: 403,
  already_exists: 409,
  busy: 503,
  readonly: 503,
  storage_full: 507,
  schema_missing: 500,
  schema_newer: 500,
  schema_conflict: 500,
  driver_unsupported: 500,
  in_transaction: 500,
  app_statement_failed: 500,
  internal: 500,
};

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  402: 'Payment Required',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  413: 'Content Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Content',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
  507: 'Insufficient Storage',
};

export function problem(status: number, code: string, detail: string, extensions: Record<string, unknown> = {}): Problem {
  return { type: PROBLEM_TYPE_BASE + code, title: TITLES[status] ?? 'Error', status, detail, code, ...extensions };
}

/** The problem for a thrown value: a LedgerError by its code; anything else a 500 that shows nothing of it. */
export function problemOf(e: unknown): Problem {
  if (!isLedgerError(e)) return problem(500, 'internal', 'an internal error occurred');
  const status = STATUS_OF[e.code] ?? 500;
  // 5xx details may name tables, files or driver messages: not for clients.
  if (status >= 500 && e.code !== 'busy' && e.code !== 'readonly' && e.code !== 'storage_full')
    return problem(status, e.code, 'an internal error occurred');
  return problem(status, e.code, e.message, detailsOf(e));
}

/** Only the `field` a validation error names (details may carry internal values otherwise). */
function detailsOf(e: LedgerError): Record<string, unknown> {
  const field = e.details?.field;
  return typeof field === 'string' ? { field } : {};
}

export function problemResponse(p: Problem, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(p), {
    status: p.status,
    headers: { 'content-type': PROBLEM_CONTENT_TYPE, 'cache-control': 'no-store', ...headers },
  });
}
