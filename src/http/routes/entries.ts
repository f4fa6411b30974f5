/** The whole log: the change feed, one entry, its allocations; ledger-wide stats and upkeep (verify, digest, sweep). */
import { z } from '@hono/zod-openapi';
import { LedgerError } from '../../errors.js';
import { entriesInput } from '../../usage/validate.js';
import { sweepOptions, verifyOptions } from '../../validate.js';
import type { Operation } from '../route.js';
import { allocationSchema, entryParam, entrySchema, listOf, object } from '../schemas.js';
import { defined } from './accounts.js';

const tag = 'Entries';

export function entriesRoutes(): Operation[] {
  return [
    {
      method: 'get',
      path: '/v1/entries',
      operationId: 'entries',
      tag,
      summary: 'The change feed: the whole log in commit order, a page at a time',
      description: 'Pass `cursor` back as `after` to continue (`after=0` for the start).',
      scope: 'read',
      query: entriesInput.unwrap(),
      response: z.object({ entries: z.array(entrySchema), cursor: z.string(), hasMore: z.boolean() }).openapi('EntriesPage'),
      handler: ({ ledger, query, queryText }) => ledger.entries(defined({ after: queryText('after'), limit: query('limit') }) as never),
    },
    {
      method: 'get',
      path: '/v1/entries/{entryId}',
      operationId: 'entry',
      tag,
      summary: 'One entry by id (any account)',
      scope: 'read',
      params: entryParam,
      response: entrySchema,
      handler: async ({ ledger, param }) => found(await ledger.entry(param('entryId')), 'entry'),
    },
    {
      method: 'get',
      path: '/v1/entries/{entryId}/allocations',
      operationId: 'allocations',
      tag,
      summary: 'Which lots an entry drew from (or a refund gave back to)',
      scope: 'read',
      params: entryParam,
      response: listOf('Allocations', 'allocations', allocationSchema),
      handler: async ({ ledger, param }) => ({ allocations: await ledger.allocations(param('entryId')) }),
    },
    {
      method: 'get',
      path: '/v1/stats',
      operationId: 'stats',
      tag,
      summary: 'Totals across the ledger',
      scope: 'read',
      response: object('LedgerStats'),
      handler: ({ ledger }) => ledger.stats(),
    },
    {
      method: 'post',
      path: '/v1/verify',
      operationId: 'verify',
      tag,
      summary: 'The auditor: replay the log and report every inconsistency',
      description: 'With `{ digest }` (from GET /v1/digest) it also proves nothing the digest covers was edited. Reads the whole log.',
      scope: 'admin',
      body: verifyOptions.unwrap(),
      bodyOptional: true,
      response: object('VerifyReport'),
      handler: async ({ ledger, body }) => ledger.verify((await body()) as never),
    },
    {
      method: 'get',
      path: '/v1/digest',
      operationId: 'digest',
      tag,
      summary: 'A digest of the log as it stands (keep it elsewhere; pass it to verify later)',
      scope: 'admin',
      response: object('LogDigest'),
      handler: ({ ledger }) => ledger.digest(),
    },
    {
      method: 'post',
      path: '/v1/sweep',
      operationId: 'sweep',
      tag,
      summary: 'Write down lapsed lots and holds (balances are exact without it)',
      scope: 'admin',
      body: sweepOptions.unwrap().omit({ onProgress: true }),
      bodyOptional: true,
      response: object('SweepReport'),
      handler: async ({ ledger, body }) => {
        const b = await body();
        // onProgress is a function in the library: nothing JSON can carry.
        if (b !== null && typeof b === 'object' && 'onProgress' in b)
          throw new LedgerError('invalid_argument', 'sweep: onProgress is not an HTTP option', { field: 'onProgress' });
        return ledger.sweep(b as never);
      },
    },
  ];
}

/** The value, or a 404 `not_found` naming what was looked for. */
export function found<T>(v: T | null, what: string): T {
  if (v === null) throw new LedgerError('not_found', `no such ${what}`);
  return v;
}
