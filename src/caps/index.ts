/**
 * `ledger.caps`: spend caps per calendar window (day, ISO week, month; UTC) with optional
 * model / API key / member filters, and the account's floor. Configuration is written as
 * rows on the account's log (`cap_set`, `cap_remove`, `floor_set`); the guards that enforce
 * it live inside the statements that spend (src/caps/guard.ts, used by src/sql.ts and
 * src/ops/). Every method validates first and throws a LedgerError before anything is written.
 */
import { guard } from '../guard.js';
import type { Context } from '../ops/context.js';
import { accountSchema, parse } from '../validate.js';
import { listCaps, removeCap, setCap, setFloor } from './ops.js';
import type { Cap, FloorInput, FloorResult, RemoveCapInput, RemoveCapResult, SetCapInput, SetCapResult } from './types.js';
import { floorInput, parseCaps, removeCapInput, setCapInput } from './validate.js';

export interface Caps {
  /**
   * Sets a cap on what `account` may spend per window (or changes the limit and action of the
   * cap with the same window and filters; its spend so far is kept). A new cap starts from
   * the window's spend so far. Idempotent: with a key, a retry replays (same parameters) or is
   * `idempotency_conflict`; without one, setting the cap already in force writes nothing.
   */
  set(input: SetCapInput): Promise<SetCapResult>;
  /** Removes the cap with this window and filters; `absent` (nothing written) when there is none. */
  remove(input: RemoveCapInput): Promise<RemoveCapResult>;
  /** The account's caps at the ledger clock's now (spent, held, remaining, resetsAt), oldest first. */
  list(account: string): Promise<Cap[]>;
  /**
   * Sets the account's floor: `available` never goes below it. > 0 keeps a buffer, < 0 allows
   * that much overdraft; 0 is the default.
   */
  floor(input: FloorInput): Promise<FloorResult>;
}

export function createCaps(ctx: Context): Caps {
  return {
    set: (input) => guard(() => setCap(ctx, parseCaps(setCapInput, input, 'caps.set'))),
    remove: (input) => guard(() => removeCap(ctx, parseCaps(removeCapInput, input, 'caps.remove'))),
    list: (account) => guard(() => listCaps(ctx, parse(accountSchema, account, 'caps.list', 'invalid_account'))),
    floor: (input) => guard(() => setFloor(ctx, parseCaps(floorInput, input, 'caps.floor'))),
  };
}
