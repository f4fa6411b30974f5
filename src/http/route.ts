/**
 * One operation of the API: its OpenAPI description (built from the library's own zod
 * schemas) and its handler, registered together so the document and the routes cannot drift.
 * The handler receives the raw JSON body and hands it to the ledger, whose own `parse` checks
 * it: the API answers bad input with exactly the LedgerError code the library would throw.
 * The schemas are used for the document only (several transform their input, e.g. metadata to
 * canonical JSON, so validating here and passing the output on would change what the ledger sees).
 */
import type { OpenAPIHono } from '@hono/zod-openapi';
import { z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { LedgerError } from '../errors.js';
import type { Ledger } from '../ledger.js';
import type { Scope } from './auth.js';
import { PROBLEM_CONTENT_TYPE } from './problem.js';

export type Method = 'get' | 'post' | 'put' | 'delete';

export interface OpContext {
  c: Context;
  ledger: Ledger;
  /** Path parameters, decoded. */
  param(name: string): string;
  /** The JSON body (`{}` when the route's body is optional and none was sent). */
  body(): Promise<unknown>;
  /** A query parameter: numbers as numbers, `true`/`false` as booleans, text as is (the ledger checks it). */
  query(name: string): unknown;
  /** A query parameter as sent (cursors and names stay text). */
  queryText(name: string): string | undefined;
  /** A list query parameter: repeated (`?kinds=a&kinds=b`) or comma-separated (`?kinds=a,b`). */
  queryList(name: string): string[] | undefined;
  /** The `Idempotency-Key` header, when sent. */
  idempotencyKey: string | undefined;
  /** Throws a 403 unless the caller has `scope` (for operations whose scope depends on the body, like a batch). */
  requireScope(scope: Scope): void;
}

export interface Operation {
  method: Method;
  /** OpenAPI-style path (`/v1/accounts/{account}/balance`), relative to the API's base path. */
  path: string;
  operationId: string;
  tag: string;
  summary: string;
  description?: string;
  scope: Scope;
  params?: z.ZodObject;
  query?: z.ZodObject;
  /** The library's input schema for the JSON body. */
  body?: z.ZodType;
  /** The body may be omitted (e.g. releasing a hold named in the path). */
  bodyOptional?: boolean;
  /** The operation takes an `Idempotency-Key` header. */
  idempotencyHeader?: boolean;
  /** What a 200 carries (documented; results are the library's own, as JSON). */
  response: z.ZodType;
  handler(op: OpContext): Promise<unknown>;
}

/** Turns an idempotency key from the header into the body's field; both and different is a 400. */
export function withIdempotencyKey(body: unknown, key: string | undefined, operation: string): unknown {
  if (key === undefined || body === null || typeof body !== 'object' || Array.isArray(body)) return body;
  const own = (body as { idempotencyKey?: unknown }).idempotencyKey;
  if (own !== undefined && own !== key)
    throw new LedgerError('invalid_argument', `${operation}: the Idempotency-Key header and the body's idempotencyKey differ`, {
      field: 'idempotencyKey',
    });
  return { ...body, idempotencyKey: key };
}

/**
 * The body with fields named in the path (`{ holdId }` of /v1/holds/{holdId}/capture): a body
 * that names the same field with another value is a 400. A body that is not an object is
 * passed on unchanged, for the ledger to refuse with its own message.
 */
export function withPath(body: unknown, fields: Record<string, string>, operation: string): unknown {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return body;
  for (const [k, v] of Object.entries(fields)) {
    const own = (body as Record<string, unknown>)[k];
    if (own !== undefined && own !== v)
      throw new LedgerError('invalid_argument', `${operation}: ${k} in the body differs from the path`, { field: k });
  }
  return { ...body, ...fields };
}

/** A JSON-able copy of a thrown LedgerError inside a result (batch `rejected` ops). */
export function errorJson(e: LedgerError): { code: string; message: string } {
  return { code: e.code, message: e.message };
}

export const problemSchema = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.number().int(),
    detail: z.string(),
    code: z.string(),
    field: z.string().optional(),
  })
  .openapi('Problem', { description: 'RFC 9457 problem details; `code` is the LedgerError code (docs/http.md).' });

const problemContent = { [PROBLEM_CONTENT_TYPE]: { schema: problemSchema } };

/** Adds the operation's description to the document. */
export function document(app: Pick<OpenAPIHono, 'openAPIRegistry'>, op: Operation): void {
  const errors: Record<number, { description: string; content: typeof problemContent }> = {
    400: { description: 'Bad input (`invalid_argument`, `invalid_amount`, `invalid_account`)', content: problemContent },
    401: { description: 'No or unknown credentials', content: problemContent },
    403: { description: `The token lacks the \`${op.scope}\` scope, or a team role forbids it`, content: problemContent },
    404: { description: 'Not found', content: problemContent },
    503: { description: 'The database is busy or read-only; retry', content: problemContent },
  };
  if (op.method !== 'get') {
    errors[409] = { description: 'Conflict (`idempotency_conflict`, `already_exists`, a closed hold …)', content: problemContent };
    errors[413] = { description: 'The body is larger than the limit', content: problemContent };
    errors[415] = { description: 'The body is not JSON', content: problemContent };
  }
  app.openAPIRegistry.registerPath({
    method: op.method,
    path: op.path,
    operationId: op.operationId,
    tags: [op.tag],
    summary: op.summary,
    description: `${op.description ? `${op.description}\n\n` : ''}Scope: \`${op.scope}\`${op.scope === 'admin' ? '' : ' (or `admin`)'}.`,
    security: [{ bearer: [op.scope] }],
    'x-scope': op.scope,
    request: {
      ...(op.params ? { params: op.params } : {}),
      ...(op.query ? { query: op.query } : {}),
      ...(op.idempotencyHeader
        ? {
            headers: z.object({
              'idempotency-key': z
                .string()
                .optional()
                .openapi({ description: 'Sets the operation’s idempotencyKey (a retry replays the original).' }),
            }),
          }
        : {}),
      ...(op.body ? { body: { required: !op.bodyOptional, content: { 'application/json': { schema: op.body } } } } : {}),
    },
    responses: {
      200: {
        description: 'The result; business outcomes (`insufficient`, `capped` …) are 200 with their `outcome`',
        content: { 'application/json': { schema: op.response } },
      },
      ...errors,
    },
  } as never);
}
