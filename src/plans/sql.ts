/**
 * The statements of `ledger.plans`. Configuration is a row on a log: definitions on the
 * reserved log `$plan:<id>` (the version is the row's seq), subscriptions, changes and
 * cancellations on the account's own. Triggers (migration 0011) keep `credit_plan` and
 * `credit_subscription` from those rows. Every decision — which version is latest, whether
 * a subscription is active, where the current period ends — is made inside the INSERT.
 */
import { MAX_AMOUNT } from '../limits.js';
import { ENTRY_COLUMNS, headJoin, int } from '../sql.js';
import { periodCtes } from './period.js';

/** The log a plan's versions are defined on. */
export const PLAN_LOG_PREFIX = '$plan:';
/** Idempotency keys (grant scope) of a period's allowance and rollover: one per terms and period start. */
export const ALLOWANCE_KEY = '$allowance:';
export const ROLLOVER_KEY = '$rollover:';

const RETURNING = 'RETURNING *';
const ON_KEY = 'ON CONFLICT (account, kind, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING';

/**
 * A new version of a plan, unless the newest version has exactly this definition (then
 * nothing is written and the call replays it). Args: log account, definition, reason, actor, now.
 */
export const PLAN_DEFINE = `INSERT INTO credit_entry (${ENTRY_COLUMNS})
SELECT p.account, COALESCE(h.seq, 0) + 1, 'plan_define', 0, 0, 0, p.reason, NULL, NULL, NULL, NULL, p.actor, p.definition,
       NULL, NULL, p.now, NULL
FROM (SELECT ? AS account, ? AS definition, ? AS reason, ? AS actor, ${int('now')}) AS p
LEFT JOIN credit_entry AS h ON ${headJoin('h', 'p.account')}
WHERE h.metadata IS NOT p.definition
${RETURNING}`;

/** A plan version as stored. Args: id, version (NULL = the newest). */
export const PLAN_GET = `SELECT pl.* FROM (SELECT ? AS id, ${int('version')}) AS p
JOIN credit_plan AS pl ON pl.id = p.id AND pl.version = COALESCE(p.version, (SELECT MAX(version) FROM credit_plan WHERE id = p.id))`;
export const PLAN_LIST = `SELECT pl.* FROM credit_plan AS pl
WHERE pl.version = (SELECT MAX(version) FROM credit_plan WHERE id = pl.id) ORDER BY pl.id`;

/** Subscription active at `now`: not cancelled, or cancelled for a time still to come. */
const ACTIVE = (s: string, now: string) => `(${s}.cancel_at IS NULL OR ${s}.cancel_at > ${now})`;

/**
 * Subscribes an account with no active subscription to the newest version of a plan.
 * Args: account, plan id, anchor (NULL = now), reason, key, actor, now.
 */
export const PLAN_SUBSCRIBE = `INSERT INTO credit_entry (${ENTRY_COLUMNS})
SELECT p.account, COALESCE(h.seq, 0) + 1, 'plan_subscribe', 0, 0, COALESCE(h.balance, 0), p.reason, p.ikey, NULL, NULL, NULL, p.actor,
       json_object('anchor', COALESCE(p.anchor, p.now), 'plan', pl.id, 'version', pl.version), NULL, NULL, p.now, NULL
FROM (SELECT ? AS account, ? AS plan, ${int('anchor')}, ? AS reason, ? AS ikey, ? AS actor, ${int('now')}) AS p
JOIN credit_plan AS pl ON pl.id = p.plan AND pl.version = (SELECT MAX(version) FROM credit_plan WHERE id = p.plan)
LEFT JOIN credit_entry AS h ON ${headJoin('h', 'p.account')}
WHERE NOT EXISTS (SELECT 1 FROM credit_subscription AS s WHERE s.account = p.account AND ${ACTIVE('s', 'p.now')})
${ON_KEY}
${RETURNING}`;

/** The terms in force, their plan and the current period, for a change or a cancellation. */
const CURRENT = (params: string) => `WITH c AS (SELECT ${params}),
cur0 AS (SELECT c.*, s.anchor, COALESCE(pl.every, 'month') AS every, s.terms_pos, s.plan_id AS cur_plan, s.version AS cur_version, s.cancel_at, s.next_pos
       FROM c JOIN credit_subscription AS s ON s.account = c.account AND ${ACTIVE('s', 'c.now')}
       JOIN credit_plan AS pl ON pl.id = s.plan_id AND pl.version = s.version),
${periodCtes('cur', 'cur0', 'f.now')}`;

/**
 * Changes the plan of an active subscription to the newest version of `plan`, now
 * (`immediate`) or at the end of the current period (`next_period`). A change to the terms
 * already in force, with nothing pending, writes nothing. The new terms keep the anchor when
 * the period length is the same, and start a new grid from their first moment otherwise.
 * Args: account, plan id, proration, reason, key, actor, now.
 */
export const PLAN_CHANGE = `${CURRENT(`? AS account, ? AS plan, ? AS proration, ? AS reason, ? AS ikey, ? AS actor, ${int('now')}`)},
x AS (SELECT cur.*, np.version AS new_version, COALESCE(np.every, 'month') AS new_every,
             CASE cur.proration WHEN 'immediate' THEN cur.now ELSE cur.cur_end END AS at
      FROM cur JOIN credit_plan AS np ON np.id = cur.plan AND np.version = (SELECT MAX(version) FROM credit_plan WHERE id = cur.plan))
INSERT INTO credit_entry (${ENTRY_COLUMNS})
SELECT x.account, h.seq + 1, 'plan_change', 0, 0, h.balance, x.reason, x.ikey, NULL, NULL, NULL, x.actor,
       json_object('anchor', CASE WHEN x.new_every = x.every THEN x.anchor ELSE x.at END, 'at', x.at, 'plan', x.plan,
                   'proration', x.proration, 'terms', x.terms_pos, 'version', x.new_version),
       NULL, NULL, x.now, NULL
FROM x JOIN credit_entry AS h ON ${headJoin('h', 'x.account')}
WHERE NOT (x.plan = x.cur_plan AND x.new_version = x.cur_version AND x.cancel_at IS NULL AND x.next_pos IS NULL)
${ON_KEY}
${RETURNING}`;

/**
 * Cancels an active subscription `now` or at the end of the current period. Cancelling at
 * the period end twice writes nothing the second time. Args: account, when, reason, key, actor, now.
 */
export const PLAN_CANCEL = `${CURRENT(`? AS account, ? AS cancel_when, ? AS reason, ? AS ikey, ? AS actor, ${int('now')}`)}
INSERT INTO credit_entry (${ENTRY_COLUMNS})
SELECT cur.account, h.seq + 1, 'plan_cancel', 0, 0, h.balance, cur.reason, cur.ikey, NULL, NULL, NULL, cur.actor,
       json_object('at', CASE cur.cancel_when WHEN 'now' THEN cur.now ELSE cur.cur_end END, 'terms', cur.terms_pos, 'when', cur.cancel_when),
       NULL, NULL, cur.now, NULL
FROM cur JOIN credit_entry AS h ON ${headJoin('h', 'cur.account')}
WHERE NOT (cur.cancel_when = 'period_end' AND cur.cancel_at IS NOT NULL AND cur.cancel_at = cur.cur_end)
${ON_KEY}
${RETURNING}`;

/** The subscription row and its plan version (NULL columns when there is none). Args: account. */
export const SUBSCRIPTION_ROW = `SELECT s.*, pl.allowance, pl.every, pl.rollover_max, pl.definition, pl.name,
       np.allowance AS next_allowance, np.every AS next_every, np.rollover_max AS next_rollover_max, np.definition AS next_definition
FROM credit_subscription AS s
JOIN credit_plan AS pl ON pl.id = s.plan_id AND pl.version = s.version
LEFT JOIN credit_plan AS np ON np.id = s.next_plan_id AND np.version = s.next_version
WHERE s.account = ?`;

// --- Settling: writing down what a subscription already holds -------------------------------
//
// Three statements, each a no-op unless the account's `due_at` has passed, run first in the
// atomic unit of a spend (src/plans/settle.ts): a pending change takes effect; the unused
// allowance of the previous period rolls over and the current period's allowance is granted
// (one INSERT; the trigger `credit_entry_schedules_plan` then moves `due_at` to the period's
// end); and if nothing was due to be granted, `due_at` moves on anyway. The grants are keyed
// (one per terms and period start, unique in the grant scope), so racing writers and sweeps
// write each once.

/** The parameter row: the account (an expression) and now. */
const SETTLE_PARAMS = (account: string) => `c AS (SELECT ${account} AS account, ${int('now')})`;

const PROMOTE = (account: string) => `WITH ${SETTLE_PARAMS(account)}
UPDATE credit_subscription SET plan_id = next_plan_id, version = next_version, terms_pos = next_pos, anchor = next_anchor, since = next_at,
  next_plan_id = NULL, next_version = NULL, next_pos = NULL, next_anchor = NULL, next_at = NULL
WHERE account = (SELECT account FROM c) AND due_at <= (SELECT now FROM c) AND next_at <= (SELECT now FROM c)`;

/**
 * The rollover (the previous period's unused allowance, up to the plan's max: what its lot
 * had left when it lapsed — still on the lot, or moved off it by the sweep's `expire` rows —
 * or the whole allowance when the account was idle through a period these terms covered),
 * then the current period's allowance: priority-0 lots expiring at the period's end. Both
 * rows come from the head as it was before either (SQLite computes an INSERT's SELECT from
 * its own table first), hence the seq and balance offsets; both or neither fit the balance.
 */
const GRANTS = (account: string) => `WITH ${SETTLE_PARAMS(account)},
s0 AS (SELECT c.account, c.now, s.plan_id, s.version, s.terms_pos, s.anchor, s.since, pl.every, pl.allowance, pl.rollover_max
       FROM c JOIN credit_subscription AS s ON s.account = c.account
       JOIN credit_plan AS pl ON pl.id = s.plan_id AND pl.version = s.version
       WHERE s.due_at <= c.now AND ${ACTIVE('s', 'c.now')} AND pl.allowance > 0),
${periodCtes('cur', 's0', 'f.now')},
r AS (SELECT cur.*, (SELECT e.pos FROM credit_entry AS e WHERE e.account = cur.account AND e.kind = 'grant'
        AND e.idempotency_key = '${ALLOWANCE_KEY}' || cur.terms_pos || ':' || cur.cur_prev) AS lot FROM cur),
g AS (SELECT r.*, CASE WHEN r.rollover_max = 0 THEN 0 ELSE MIN(r.rollover_max, CASE
          WHEN r.lot IS NOT NULL THEN (SELECT lt.remaining FROM credit_lot AS lt WHERE lt.id = r.lot)
            + (SELECT COALESCE(SUM(x.amount), 0) FROM credit_entry AS x WHERE x.ref = r.lot AND x.kind = 'expire')
          WHEN r.cur_prev >= r.since THEN r.allowance ELSE 0 END) END AS rolled,
        COALESCE(h.seq, 0) AS head_seq, COALESCE(h.balance, 0) AS head_balance
      FROM r LEFT JOIN credit_entry AS h ON ${headJoin('h', 'r.account')}),
w AS (SELECT g.*, 1 AS n, g.rolled AS amt, 'rollover' AS why, '${ROLLOVER_KEY}' AS key_prefix FROM g WHERE g.rolled > 0
      UNION ALL
      SELECT g.*, (g.rolled > 0) + 1, g.allowance, 'allowance', '${ALLOWANCE_KEY}' FROM g)
INSERT INTO credit_entry (${ENTRY_COLUMNS})
SELECT w.account, w.head_seq + w.n, 'grant', w.amt, w.amt, w.head_balance + CASE w.n WHEN 1 THEN w.amt ELSE w.rolled + w.amt END,
       w.why, w.key_prefix || w.terms_pos || ':' || w.cur_start, NULL, NULL, NULL, NULL,
       json_object('end', w.cur_end, 'plan', w.plan_id, 'start', w.cur_start, 'version', w.version),
       w.cur_end, 0, w.now, NULL
FROM w WHERE w.head_balance + w.rolled + w.allowance <= ${MAX_AMOUNT} ORDER BY w.n
${ON_KEY}`;

/**
 * Still due after the grants (nothing to grant, or it was granted before): due again at the
 * earliest of a pending change, the end of the terms, and the end of the newest allowance
 * of these terms still running; never, once the terms ended. An allowance that would not fit
 * the balance is tried again at the next write.
 */
const RESCHEDULE = (account: string) => `WITH ${SETTLE_PARAMS(account)},
x AS (SELECT CASE WHEN s.cancel_at IS NOT NULL AND s.cancel_at <= c.now THEN NULL
        ELSE NULLIF(MIN(COALESCE(s.next_at, ${MAX_AMOUNT}), COALESCE(s.cancel_at, ${MAX_AMOUNT}), CASE WHEN pl.allowance = 0 THEN ${MAX_AMOUNT}
          ELSE COALESCE((SELECT MAX(e.expires_at) FROM credit_entry AS e WHERE e.account = c.account AND e.kind = 'grant'
                 AND e.idempotency_key >= '${ALLOWANCE_KEY}' || s.terms_pos || ':' AND e.idempotency_key < '${ALLOWANCE_KEY}' || s.terms_pos || ';'
                 AND e.expires_at > c.now), c.now + 1) END), ${MAX_AMOUNT}) END AS due
      FROM c JOIN credit_subscription AS s ON s.account = c.account
      JOIN credit_plan AS pl ON pl.id = s.plan_id AND pl.version = s.version WHERE s.due_at <= c.now)
UPDATE credit_subscription SET due_at = (SELECT due FROM x)
WHERE account = (SELECT account FROM c) AND due_at <= (SELECT now FROM c)`;

/** The settle statements for an account given by `account` (an SQL expression with its own placeholders). */
export const settleSql = (account: string): string[] => [PROMOTE(account), GRANTS(account), RESCHEDULE(account)];
