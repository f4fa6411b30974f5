/** Holds: reserve, capture, release, extend. */
import { z } from '@hono/zod-openapi';
import { captureInput, extendInput, holdIdSchema, holdInput, releaseInput } from '../../validate.js';
import { type Operation, withIdempotencyKey, withPath } from '../route.js';
import { outcome } from '../schemas.js';

const tag = 'Holds';
const holdParam = z.object({ holdId: holdIdSchema });

export function holdsRoutes(): Operation[] {
  return [
    {
      method: 'post',
      path: '/v1/holds',
      operationId: 'hold',
      tag,
      summary: 'Reserve credits (lowers available until captured, released or lapsed)',
      scope: 'write',
      body: holdInput,
      idempotencyHeader: true,
      response: outcome('HoldResult', ['held', 'replayed', 'insufficient', 'capped']),
      handler: async ({ ledger, body, idempotencyKey }) => ledger.hold(withIdempotencyKey(await body(), idempotencyKey, 'hold') as never),
    },
    {
      method: 'post',
      path: '/v1/holds/{holdId}/capture',
      operationId: 'capture',
      tag,
      summary: 'Capture a hold (default: the held amount; less releases the rest)',
      scope: 'write',
      params: holdParam,
      body: captureInput.omit({ holdId: true }),
      bodyOptional: true,
      idempotencyHeader: true,
      response: outcome('CaptureResult', ['captured', 'replayed', 'insufficient', 'capped']),
      handler: async ({ ledger, body, param, idempotencyKey }) =>
        ledger.capture(
          withIdempotencyKey(withPath(await body(), { holdId: param('holdId') }, 'capture'), idempotencyKey, 'capture') as never,
        ),
    },
    {
      method: 'post',
      path: '/v1/holds/{holdId}/release',
      operationId: 'release',
      tag,
      summary: 'Release a hold (idempotent)',
      scope: 'write',
      params: holdParam,
      body: releaseInput.omit({ holdId: true }),
      bodyOptional: true,
      response: outcome('ReleaseResult', ['released', 'replayed']),
      handler: async ({ ledger, body, param }) => ledger.release(withPath(await body(), { holdId: param('holdId') }, 'release') as never),
    },
    {
      method: 'post',
      path: '/v1/holds/{holdId}/extend',
      operationId: 'extendHold',
      tag,
      summary: 'Move a hold’s end to ttlMs after now',
      scope: 'write',
      params: holdParam,
      body: extendInput.omit({ holdId: true }),
      response: outcome('ExtendResult', ['extended']),
      handler: async ({ ledger, body, param }) =>
        ledger.extendHold(withPath(await body(), { holdId: param('holdId') }, 'extendHold') as never),
    },
  ];
}
