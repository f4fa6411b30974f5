/** Money verbs: grants, debits, refunds, adjustments, charges, transfers and batches. */
import { z } from '@hono/zod-openapi';
import { isLedgerError, LedgerError } from '../../errors.js';
import type { BatchOp } from '../../ledger.js';
import { BATCH_MAX_OPS } from '../../limits.js';
import { chargeInput } from '../../pricing/validate.js';
import { transferInput } from '../../transfers/validate.js';
import { adjustInput, debitInput, grantInput, refundInput } from '../../validate.js';
import type { Scope } from '../auth.js';
import { errorJson, type Operation, withIdempotencyKey } from '../route.js';
import { outcome } from '../schemas.js';

const tag = 'Money';

/** Batch ops that need `admin` (the rest need `write`), as their single calls do. */
const ADMIN_OPS = new Set(['grant', 'refund', 'adjust']);

export function moneyRoutes(): Operation[] {
  return [
    {
      method: 'post',
      path: '/v1/grants',
      operationId: 'grant',
      tag,
      summary: 'Grant credits (optionally an expiring, prioritised lot)',
      scope: 'admin',
      body: grantInput,
      idempotencyHeader: true,
      response: outcome('GrantResult', ['granted', 'replayed']),
      handler: async ({ ledger, body, idempotencyKey }) => ledger.grant(withIdempotencyKey(await body(), idempotencyKey, 'grant') as never),
    },
    {
      method: 'post',
      path: '/v1/debits',
      operationId: 'debit',
      tag,
      summary: 'Debit if covered',
      description:
        'The body is `debitIfCovers`’s input. With an `Idempotency-Key` header (or an `idempotencyKey` in the body) it is `debitOnceIfCovers`: a retry replays the original, different parameters are a 409 `idempotency_conflict`.',
      scope: 'write',
      body: debitInput.extend({ idempotencyKey: z.string().optional() }),
      idempotencyHeader: true,
      response: outcome('DebitResult', ['debited', 'replayed', 'insufficient', 'capped']),
      handler: async ({ ledger, body, idempotencyKey }) => {
        const input = withIdempotencyKey(await body(), idempotencyKey, 'debit');
        const keyed = input !== null && typeof input === 'object' && (input as { idempotencyKey?: unknown }).idempotencyKey !== undefined;
        return keyed ? ledger.debitOnceIfCovers(input as never) : ledger.debitIfCovers(input as never);
      },
    },
    {
      method: 'post',
      path: '/v1/refunds',
      operationId: 'refund',
      tag,
      summary: 'Refund a debit or capture (partly or wholly)',
      scope: 'admin',
      body: refundInput,
      idempotencyHeader: true,
      response: outcome('RefundResult', ['refunded', 'replayed']),
      handler: async ({ ledger, body, idempotencyKey }) =>
        ledger.refund(withIdempotencyKey(await body(), idempotencyKey, 'refund') as never),
    },
    {
      method: 'post',
      path: '/v1/adjustments',
      operationId: 'adjust',
      tag,
      summary: 'Signed operator correction',
      scope: 'admin',
      body: adjustInput,
      idempotencyHeader: true,
      response: outcome('AdjustResult', ['adjusted', 'replayed', 'insufficient']),
      handler: async ({ ledger, body, idempotencyKey }) =>
        ledger.adjust(withIdempotencyKey(await body(), idempotencyKey, 'adjust') as never),
    },
    {
      method: 'post',
      path: '/v1/charges',
      operationId: 'charge',
      tag,
      summary: 'Price usage of a model and spend it (or settle a hold at the priced amount)',
      scope: 'write',
      body: chargeInput,
      idempotencyHeader: true,
      response: outcome('ChargeResult', ['debited', 'replayed', 'insufficient', 'capped', 'free']),
      handler: async ({ ledger, body, idempotencyKey }) =>
        ledger.charge(withIdempotencyKey(await body(), idempotencyKey, 'charge') as never),
    },
    {
      method: 'post',
      path: '/v1/transfers',
      operationId: 'transfer',
      tag,
      summary: 'Move credits between accounts (they keep their lots)',
      scope: 'write',
      body: transferInput,
      idempotencyHeader: true,
      response: outcome('TransferResult', ['transferred', 'replayed', 'insufficient', 'capped']),
      handler: async ({ ledger, body, idempotencyKey }) =>
        ledger.transfer(withIdempotencyKey(await body(), idempotencyKey, 'transfer') as never),
    },
    {
      method: 'post',
      path: '/v1/batch',
      operationId: 'batch',
      tag,
      summary: 'Many operations in order, atomic per chunk',
      description: `\`{ ops: [{ op: 'grant' | 'debit' | 'debitOnce' | 'refund' | 'adjust' | 'hold' | 'capture' | 'release' | 'charge' | 'transfer', …input }] }\`, at most ${BATCH_MAX_OPS}. Needs \`admin\` when it contains a grant, refund or adjust op, \`write\` otherwise. An op the ledger refuses comes back as \`{ outcome: 'rejected', error: { code, message } }\`.`,
      scope: 'write',
      body: z.strictObject({ ops: z.array(z.looseObject({ op: z.string() })).max(BATCH_MAX_OPS) }),
      response: z.object({ results: z.array(z.looseObject({ outcome: z.string() })) }).openapi('BatchResult'),
      handler: async ({ ledger, body, requireScope }) => {
        const b = await body();
        const ops = b !== null && typeof b === 'object' && !Array.isArray(b) ? (b as { ops?: unknown }).ops : undefined;
        const extra = b !== null && typeof b === 'object' ? Object.keys(b).filter((k) => k !== 'ops') : [];
        // Strict like the library's inputs: only `ops`, an array (each op is checked by the ledger).
        if (!Array.isArray(ops) || extra.length > 0)
          throw new LedgerError('invalid_argument', 'batch: the body must be { ops: [...] }', { field: extra[0] ?? 'ops' });
        let need: Scope = 'write';
        for (const o of ops) if (o !== null && typeof o === 'object' && ADMIN_OPS.has((o as { op?: unknown }).op as string)) need = 'admin';
        requireScope(need);
        const results = await ledger.batch(ops as BatchOp[]);
        return {
          results: results.map((r) =>
            r.outcome === 'rejected' && isLedgerError(r.error) ? { outcome: 'rejected', error: errorJson(r.error) } : r,
          ),
        };
      },
    },
  ];
}
