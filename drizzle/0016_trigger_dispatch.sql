CREATE TABLE `credit_config_apply` (
	`pos` integer PRIMARY KEY NOT NULL,
	`account` text NOT NULL,
	`seq` integer NOT NULL,
	`kind` text NOT NULL,
	`amount` integer NOT NULL,
	`balance` integer NOT NULL,
	`metadata` text,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
-- Custom SQL: cheaper triggers on credit_entry for the rows they do not act on (a plain debit
-- runs through every trigger of the table). Measured with `npm run bench -- --triggers`:
-- 1. A WHEN clause with `NEW.kind IN ('a', 'b', …)` builds an ephemeral index for the list each
--    time the trigger is considered (~0.5–0.8 µs a trigger per row): the lists become chains of
--    = / <> comparisons. Same meaning (kind is NOT NULL).
-- 2. SQLite sets up a trigger's whole program (a frame sized to its registers) every time the
--    trigger is considered, before its WHEN: the configuration trigger, by far the largest, now
--    copies a config row into credit_config_apply (and deletes it again), and the large program
--    runs as that table's trigger, for config rows only. Same statements, same order: it still
--    fires in credit_entry_configures's place among the table's triggers.
-- Every trigger of credit_entry is dropped and created again in the order it had (SQLite runs
-- a table's triggers newest first; the events' "trigger order" test depends on it).
DROP TRIGGER IF EXISTS credit_entry_alerts_before
--> statement-breakpoint
DROP TRIGGER IF EXISTS credit_entry_alerts
--> statement-breakpoint
DROP TRIGGER IF EXISTS credit_entry_allocates
--> statement-breakpoint
DROP TRIGGER IF EXISTS credit_entry_configures
--> statement-breakpoint
DROP TRIGGER IF EXISTS credit_entry_moves_hold
--> statement-breakpoint
DROP TRIGGER IF EXISTS credit_entry_opens_lot
--> statement-breakpoint
DROP TRIGGER IF EXISTS credit_entry_counts_cap
--> statement-breakpoint
CREATE TRIGGER credit_entry_alerts_before BEFORE INSERT ON credit_entry
WHEN (NEW.kind <> 'debit' AND NEW.kind <> 'transfer_out' AND NEW.kind <> 'hold')
  AND EXISTS (SELECT 1 FROM credit_alert AS ax WHERE ax.account = NEW.account AND ax.low_balance > 0)
BEGIN
  UPDATE credit_alert SET above = (av.v >= credit_alert.low_balance)
  FROM (SELECT (NEW.balance - NEW.delta - (CASE WHEN EXISTS (SELECT 1 FROM credit_lot AS lx WHERE lx.account = NEW.account AND lx.open = 1 AND lx.expires_at <= NEW.created_at) THEN (SELECT COALESCE(SUM(lt.remaining), 0) FROM credit_lot AS lt WHERE lt.account = NEW.account AND lt.open = 1 AND lt.remaining > 0 AND lt.expires_at <= NEW.created_at) ELSE 0 END) - (CASE WHEN EXISTS (SELECT 1 FROM credit_hold AS hx WHERE hx.account = NEW.account AND hx.status = 'open' AND hx.expires_at > NEW.created_at) THEN (SELECT SUM(hd.amount) FROM credit_hold AS hd WHERE hd.account = NEW.account AND hd.status = 'open' AND hd.expires_at > NEW.created_at) ELSE 0 END) - COALESCE((SELECT fl.floor FROM credit_floor AS fl WHERE fl.account = NEW.account), 0)) AS v) AS av
  WHERE credit_alert.account = NEW.account AND credit_alert.low_balance > 0 AND credit_alert.above <> (av.v >= credit_alert.low_balance);
END
--> statement-breakpoint
CREATE TRIGGER credit_entry_alerts AFTER INSERT ON credit_entry
WHEN EXISTS (SELECT 1 FROM credit_alert AS ax WHERE ax.account = NEW.account AND ax.low_balance > 0)
BEGIN
  INSERT INTO credit_event (type, account, entry, ref, created_at, data)
  SELECT 'balance.low', NEW.account, NEW.pos, NULL, NEW.created_at,
         json_object('threshold', a.low_balance, 'available', MAX(0, MIN(av.v, 9007199254740991)), 'kind', NEW.kind)
  FROM credit_alert AS a, (SELECT (NEW.balance - (CASE WHEN EXISTS (SELECT 1 FROM credit_lot AS lx WHERE lx.account = NEW.account AND lx.open = 1 AND lx.expires_at <= NEW.created_at) THEN (SELECT COALESCE(SUM(lt.remaining), 0) FROM credit_lot AS lt WHERE lt.account = NEW.account AND lt.open = 1 AND lt.remaining > 0 AND lt.expires_at <= NEW.created_at) ELSE 0 END) - (CASE WHEN EXISTS (SELECT 1 FROM credit_hold AS hx WHERE hx.account = NEW.account AND hx.status = 'open' AND hx.expires_at > NEW.created_at) THEN (SELECT SUM(hd.amount) FROM credit_hold AS hd WHERE hd.account = NEW.account AND hd.status = 'open' AND hd.expires_at > NEW.created_at) ELSE 0 END) - COALESCE((SELECT fl.floor FROM credit_floor AS fl WHERE fl.account = NEW.account), 0)) AS v) AS av
  WHERE a.account = NEW.account AND a.low_balance > 0 AND av.v < a.low_balance
    AND CASE WHEN (NEW.kind = 'debit' OR NEW.kind = 'transfer_out' OR NEW.kind = 'hold') THEN av.v + NEW.amount >= a.low_balance ELSE a.above = 1 END
  ORDER BY a.low_balance DESC;
END
--> statement-breakpoint
CREATE TRIGGER `credit_entry_allocates` AFTER INSERT ON `credit_entry` WHEN NEW.`allocations` IS NOT NULL
BEGIN
  UPDATE `credit_lot` SET `remaining` = `remaining` - a.`amount`
  FROM (SELECT json_extract(`value`, '$[0]') AS `lot_id`, json_extract(`value`, '$[1]') AS `amount`
        FROM json_each(NEW.`allocations`)) AS a
  WHERE `credit_lot`.`id` = a.`lot_id` AND `credit_lot`.`account` = NEW.`account`;
END
--> statement-breakpoint
-- Configuration rows (amount = 0) go through credit_config_apply, whose trigger applies them.
CREATE TRIGGER `credit_entry_configures` AFTER INSERT ON `credit_entry` WHEN NEW.`amount` = 0
BEGIN
  INSERT INTO credit_config_apply (pos, account, seq, kind, amount, balance, metadata, created_at) VALUES (NEW.pos, NEW.account, NEW.seq, NEW.kind, NEW.amount, NEW.balance, NEW.metadata, NEW.created_at);
  DELETE FROM credit_config_apply WHERE pos = NEW.pos;
END
--> statement-breakpoint
-- The configuration a row of the log sets (formerly the body of credit_entry_configures; NEW
-- has the same fields under the same names).
CREATE TRIGGER credit_config_apply_runs AFTER INSERT ON credit_config_apply
BEGIN
  -- sets_cap
  INSERT INTO `credit_cap` (`id`, `account`, `cap_window`, `cap_limit`, `action`, `model`, `key_id`, `member`, `set_by`, `window_start`, `spent`)
  SELECT NEW.`pos`, NEW.`account`, c.`w`, c.`lim`, c.`act`, c.`model`, c.`key_id`, c.`member`, NEW.`pos`, c.`ws`,
    (SELECT COALESCE(SUM(u.`debited` - u.`refunded` + u.`transferred_out`), 0) FROM `credit_usage` AS u
     WHERE u.`account` = NEW.`account` AND u.`hour` >= c.`ws` AND u.`hour` < c.`we`
       AND (c.`model` = '' OR u.`model` = c.`model`) AND (c.`key_id` = '' OR u.`key_id` = c.`key_id`)
       AND (c.`member` = '' OR u.`actor` = c.`member`))
    + (SELECT COALESCE(SUM(CASE WHEN t.`kind` = 'refund' THEN -t.`amount` ELSE t.`amount` END), 0)
       FROM (SELECT e.`kind`, e.`amount`,
                    CASE WHEN e.`kind` = 'refund' THEN r.`created_at` ELSE e.`created_at` END AS `at`,
                    COALESCE(CASE WHEN e.`kind` = 'refund' THEN r.`model` ELSE e.`model` END, '') AS `model`,
                    COALESCE(CASE WHEN e.`kind` = 'refund' THEN r.`key_id` ELSE e.`key_id` END, '') AS `key_id`,
                    COALESCE(CASE WHEN e.`kind` = 'refund' THEN r.`actor` ELSE e.`actor` END, '') AS `actor`
             FROM `credit_entry` AS e LEFT JOIN `credit_entry` AS r ON e.`kind` = 'refund' AND r.`pos` = e.`ref`
             WHERE e.`pos` > (SELECT `through` FROM `credit_usage_cursor` WHERE `id` = 1)
               AND e.`account` = NEW.`account` AND e.`kind` IN ('debit', 'capture', 'refund', 'transfer_out')) AS t
       WHERE t.`at` >= c.`ws` AND t.`at` < c.`we`
         AND (c.`model` = '' OR t.`model` = c.`model`) AND (c.`key_id` = '' OR t.`key_id` = c.`key_id`)
         AND (c.`member` = '' OR t.`actor` = c.`member`))
  FROM (SELECT s.*,
          CASE s.`w` WHEN 'day' THEN s.`ws` + 86400000 WHEN 'week' THEN s.`ws` + 604800000
            ELSE CAST(strftime('%s', s.`ws` / 1000, 'unixepoch', '+1 month') AS INTEGER) * 1000 END AS `we`
        FROM (SELECT p.*,
                CASE p.`w` WHEN 'day' THEN NEW.`created_at` - NEW.`created_at` % 86400000
                  WHEN 'week' THEN NEW.`created_at` - NEW.`created_at` % 86400000 - ((NEW.`created_at` / 86400000 + 3) % 7) * 86400000
                  ELSE CAST(strftime('%s', NEW.`created_at` / 1000, 'unixepoch', 'start of month') AS INTEGER) * 1000 END AS `ws`
              FROM (SELECT json_extract(NEW.`metadata`, '$.window') AS `w`, json_extract(NEW.`metadata`, '$.limit') AS `lim`,
                      json_extract(NEW.`metadata`, '$.action') AS `act`, COALESCE(json_extract(NEW.`metadata`, '$.model'), '') AS `model`,
                      COALESCE(json_extract(NEW.`metadata`, '$.keyId'), '') AS `key_id`,
                      COALESCE(json_extract(NEW.`metadata`, '$.member'), '') AS `member`) AS p) AS s) AS c
  WHERE NEW.`kind` = 'cap_set'
  ON CONFLICT (`account`, `cap_window`, `model`, `key_id`, `member`)
  DO UPDATE SET `cap_limit` = excluded.`cap_limit`, `action` = excluded.`action`, `set_by` = excluded.`set_by`;
  -- removes_cap
  DELETE FROM `credit_cap`
  WHERE NEW.`kind` = 'cap_remove' AND (`account` = NEW.`account` AND `cap_window` = json_extract(NEW.`metadata`, '$.window')
    AND `model` = COALESCE(json_extract(NEW.`metadata`, '$.model'), '')
    AND `key_id` = COALESCE(json_extract(NEW.`metadata`, '$.keyId'), '')
    AND `member` = COALESCE(json_extract(NEW.`metadata`, '$.member'), ''));
  -- sets_floor
  INSERT INTO `credit_floor` (`account`, `floor`, `set_by`)
  SELECT NEW.`account`, json_extract(NEW.`metadata`, '$.floor'), NEW.`pos`
  WHERE NEW.`kind` = 'floor_set'
  ON CONFLICT (`account`) DO UPDATE SET `floor` = excluded.`floor`, `set_by` = excluded.`set_by`;
  -- defines_plan
  INSERT INTO `credit_plan` (`id`, `version`, `name`, `allowance`, `every`, `rollover_max`, `features`, `definition`, `defined_by`, `defined_at`)
  SELECT substr(NEW.`account`, 7), NEW.`seq`, json_extract(NEW.`metadata`, '$.name'),
          COALESCE(json_extract(NEW.`metadata`, '$.allowance.amount'), 0), json_extract(NEW.`metadata`, '$.allowance.every'),
          COALESCE(json_extract(NEW.`metadata`, '$.allowance.rollover.max'), 0),
          COALESCE(json_extract(NEW.`metadata`, '$.features'), '{}'), NEW.`metadata`, NEW.`pos`, NEW.`created_at`
  WHERE NEW.`kind` = 'plan_define';
  -- subscribes
  INSERT OR REPLACE INTO `credit_subscription` (`account`, `plan_id`, `version`, `terms_pos`, `anchor`, `since`, `cancel_at`,
    `next_plan_id`, `next_version`, `next_pos`, `next_anchor`, `next_at`, `due_at`, `created_at`)
  SELECT NEW.`account`, json_extract(NEW.`metadata`, '$.plan'), json_extract(NEW.`metadata`, '$.version'), NEW.`pos`,
          json_extract(NEW.`metadata`, '$.anchor'), NEW.`created_at`, NULL, NULL, NULL, NULL, NULL, NULL, NEW.`created_at`, NEW.`created_at`
  WHERE NEW.`kind` = 'plan_subscribe';
  -- ends_terms
  UPDATE `credit_lot` SET `expires_at` = NEW.`created_at`
  WHERE ((NEW.`kind` = 'plan_change' AND json_extract(NEW.`metadata`, '$.proration') = 'immediate') OR (NEW.`kind` = 'plan_cancel' AND json_extract(NEW.`metadata`, '$.when') = 'now')) AND (`expires_at` > NEW.`created_at`
    AND `id` IN (
      SELECT e.`pos` FROM `credit_entry` AS e WHERE e.`account` = NEW.`account` AND e.`kind` = 'grant' AND e.`idempotency_key` IS NOT NULL
        AND e.`idempotency_key` >= '$allowance:' || json_extract(NEW.`metadata`, '$.terms') || ':'
        AND e.`idempotency_key` < '$allowance:' || json_extract(NEW.`metadata`, '$.terms') || ';'
      UNION ALL
      SELECT e.`pos` FROM `credit_entry` AS e WHERE e.`account` = NEW.`account` AND e.`kind` = 'grant' AND e.`idempotency_key` IS NOT NULL
        AND e.`idempotency_key` >= '$rollover:' || json_extract(NEW.`metadata`, '$.terms') || ':'
        AND e.`idempotency_key` < '$rollover:' || json_extract(NEW.`metadata`, '$.terms') || ';'));
  -- changes_plan
  UPDATE `credit_subscription` SET `plan_id` = json_extract(NEW.`metadata`, '$.plan'), `version` = json_extract(NEW.`metadata`, '$.version'),
    `terms_pos` = NEW.`pos`, `anchor` = json_extract(NEW.`metadata`, '$.anchor'), `since` = NEW.`created_at`, `cancel_at` = NULL,
    `next_plan_id` = NULL, `next_version` = NULL, `next_pos` = NULL, `next_anchor` = NULL, `next_at` = NULL, `due_at` = NEW.`created_at`
  WHERE NEW.`kind` = 'plan_change' AND (`account` = NEW.`account` AND json_extract(NEW.`metadata`, '$.proration') = 'immediate');
  -- changes_plan
  UPDATE `credit_subscription` SET `cancel_at` = NULL, `next_plan_id` = json_extract(NEW.`metadata`, '$.plan'),
    `next_version` = json_extract(NEW.`metadata`, '$.version'), `next_pos` = NEW.`pos`, `next_anchor` = json_extract(NEW.`metadata`, '$.anchor'),
    `next_at` = json_extract(NEW.`metadata`, '$.at'),
    `due_at` = MIN(COALESCE(`due_at`, json_extract(NEW.`metadata`, '$.at')), json_extract(NEW.`metadata`, '$.at'))
  WHERE NEW.`kind` = 'plan_change' AND (`account` = NEW.`account` AND json_extract(NEW.`metadata`, '$.proration') = 'next_period');
  -- cancels_plan
  UPDATE `credit_subscription` SET `cancel_at` = json_extract(NEW.`metadata`, '$.at'), `next_plan_id` = NULL, `next_version` = NULL,
    `next_pos` = NULL, `next_anchor` = NULL, `next_at` = NULL,
    `due_at` = CASE WHEN json_extract(NEW.`metadata`, '$.when') = 'now' THEN NULL
                    ELSE MIN(COALESCE(`due_at`, json_extract(NEW.`metadata`, '$.at')), json_extract(NEW.`metadata`, '$.at')) END
  WHERE NEW.`kind` = 'plan_cancel' AND (`account` = NEW.`account`);
  -- publishes_price
  INSERT INTO `credit_price_version` (`version`, `entry`, `label`, `rounding`, `rates`, `created_at`)
  SELECT json_extract(NEW.`metadata`, '$.version'), NEW.`pos`, json_extract(NEW.`metadata`, '$.label'),
          json_extract(NEW.`metadata`, '$.rounding'), json_extract(NEW.`metadata`, '$.rates'), NEW.`created_at`
  WHERE NEW.`kind` = 'pricing_publish' AND NEW.`account` = '$pricing';
  -- publishes_price
  INSERT INTO `credit_price_active` (`id`, `version`, `set_by`)
  SELECT 1, json_extract(NEW.`metadata`, '$.version'), NEW.`pos` WHERE NEW.`kind` = 'pricing_publish' AND NEW.`account` = '$pricing' AND json_extract(NEW.`metadata`, '$.activate')
  ON CONFLICT (`id`) DO UPDATE SET `version` = excluded.`version`, `set_by` = excluded.`set_by`;
  -- activates_price
  INSERT INTO `credit_price_active` (`id`, `version`, `set_by`)
  SELECT 1, json_extract(NEW.`metadata`, '$.version'), NEW.`pos`
  WHERE NEW.`kind` = 'pricing_activate' AND NEW.`account` = '$pricing'
  ON CONFLICT (`id`) DO UPDATE SET `version` = excluded.`version`, `set_by` = excluded.`set_by`;
  -- creates_team
  INSERT INTO `credit_team` (`team`, `owner`, `name`, `created_by`, `created_at`)
  SELECT NEW.`account`, json_extract(NEW.`metadata`, '$.owner'), json_extract(NEW.`metadata`, '$.name'), NEW.`pos`, NEW.`created_at`
  WHERE NEW.`kind` = 'team_create';
  -- creates_team
  INSERT INTO `credit_team_member` (`team`, `member`, `role`, `set_by`, `since`)
  SELECT NEW.`account`, json_extract(NEW.`metadata`, '$.owner'), 'owner', NEW.`pos`, NEW.`created_at`
  WHERE NEW.`kind` = 'team_create';
  -- adds_member
  INSERT INTO `credit_team_member` (`team`, `member`, `role`, `set_by`, `since`)
  SELECT NEW.`account`, json_extract(NEW.`metadata`, '$.member'), json_extract(NEW.`metadata`, '$.role'), NEW.`pos`, NEW.`created_at`
  WHERE NEW.`kind` = 'team_add';
  -- sets_role
  UPDATE `credit_team_member` SET `role` = json_extract(NEW.`metadata`, '$.role'), `set_by` = NEW.`pos`
  WHERE NEW.`kind` = 'team_role' AND (`team` = NEW.`account` AND `member` = json_extract(NEW.`metadata`, '$.member'));
  -- removes_member
  DELETE FROM `credit_team_member` WHERE NEW.`kind` = 'team_remove' AND (`team` = NEW.`account` AND `member` = json_extract(NEW.`metadata`, '$.member'));
  -- sets_alert: "above" starts as where available stands now
  INSERT INTO credit_alert (account, low_balance, expiring_within_ms, above, set_by)
  SELECT NEW.account, json_extract(NEW.metadata, '$.lowBalance'), json_extract(NEW.metadata, '$.expiringWithinMs'),
         (NEW.balance - (CASE WHEN EXISTS (SELECT 1 FROM credit_lot AS lx WHERE lx.account = NEW.account AND lx.open = 1 AND lx.expires_at <= NEW.created_at) THEN (SELECT COALESCE(SUM(lt.remaining), 0) FROM credit_lot AS lt WHERE lt.account = NEW.account AND lt.open = 1 AND lt.remaining > 0 AND lt.expires_at <= NEW.created_at) ELSE 0 END) - (CASE WHEN EXISTS (SELECT 1 FROM credit_hold AS hx WHERE hx.account = NEW.account AND hx.status = 'open' AND hx.expires_at > NEW.created_at) THEN (SELECT SUM(hd.amount) FROM credit_hold AS hd WHERE hd.account = NEW.account AND hd.status = 'open' AND hd.expires_at > NEW.created_at) ELSE 0 END) - COALESCE((SELECT fl.floor FROM credit_floor AS fl WHERE fl.account = NEW.account), 0)) >= json_extract(NEW.metadata, '$.lowBalance'), NEW.pos
  WHERE NEW.kind = 'alert_set'
  ON CONFLICT (account, low_balance) DO UPDATE SET expiring_within_ms = excluded.expiring_within_ms, set_by = excluded.set_by;
  -- removes_alert
  DELETE FROM credit_alert WHERE NEW.kind = 'alert_remove' AND (account = NEW.account AND low_balance = json_extract(NEW.metadata, '$.lowBalance'));
  -- plan.changed: a subscription, a change (now or at the period end) or a cancellation was written
  INSERT INTO credit_event (type, account, entry, ref, created_at, data)
  SELECT 'plan.changed', NEW.account, NEW.pos, NULL, NEW.created_at,
         CASE NEW.kind
           WHEN 'plan_subscribe' THEN json_object('change', 'subscribe', 'planId', json_extract(NEW.metadata, '$.plan'),
             'version', json_extract(NEW.metadata, '$.version'), 'anchor', json_extract(NEW.metadata, '$.anchor'))
           WHEN 'plan_change' THEN json_object('change', 'change', 'planId', json_extract(NEW.metadata, '$.plan'),
             'version', json_extract(NEW.metadata, '$.version'), 'proration', json_extract(NEW.metadata, '$.proration'),
             'at', json_extract(NEW.metadata, '$.at'))
           ELSE json_object('change', 'cancel', 'planId', (SELECT s.plan_id FROM credit_subscription AS s WHERE s.account = NEW.account),
             'when', json_extract(NEW.metadata, '$.when'), 'at', json_extract(NEW.metadata, '$.at')) END
  WHERE (NEW.kind = 'plan_subscribe' OR NEW.kind = 'plan_change' OR NEW.kind = 'plan_cancel');
END
--> statement-breakpoint
CREATE TRIGGER `credit_entry_moves_hold` AFTER INSERT ON `credit_entry`
WHEN (NEW.`kind` = 'hold' OR NEW.`kind` = 'capture' OR NEW.`kind` = 'release' OR NEW.`kind` = 'extend' OR NEW.`kind` = 'expire')
BEGIN
  -- opens_hold
  INSERT INTO `credit_hold` (`id`, `account`, `amount`, `expires_at`, `status`, `resolved_by`, `created_at`, `model`, `key_id`, `actor`)
  SELECT NEW.`pos`, NEW.`account`, NEW.`amount`, NEW.`expires_at`, 'open', NULL, NEW.`created_at`, NEW.`model`, NEW.`key_id`, NEW.`actor`
  WHERE NEW.`kind` = 'hold';
  -- resolves_hold
  UPDATE `credit_hold`
  SET `status` = CASE NEW.`kind` WHEN 'capture' THEN 'captured' WHEN 'release' THEN 'released' ELSE 'expired' END,
      `resolved_by` = NEW.`pos`
  WHERE ((NEW.`kind` = 'capture' OR NEW.`kind` = 'release') OR (NEW.`kind` = 'expire' AND NEW.`allocations` IS NULL)) AND (`id` = NEW.`ref` AND `account` = NEW.`account`);
  -- extends_hold
  UPDATE `credit_hold` SET `expires_at` = NEW.`expires_at` WHERE NEW.`kind` = 'extend' AND (`id` = NEW.`ref` AND `account` = NEW.`account`);
  -- credits.expired / hold.expired: an expire row moves a lapsed lot's rest off the balance, or closes a lapsed hold
  INSERT INTO credit_event (type, account, entry, ref, created_at, data)
  SELECT CASE WHEN NEW.allocations IS NULL THEN 'hold.expired' ELSE 'credits.expired' END, NEW.account, NEW.pos, NEW.ref, NEW.created_at,
         json_object('amount', NEW.amount, 'balance', NEW.balance)
  WHERE NEW.kind = 'expire';
END
--> statement-breakpoint
CREATE TRIGGER `credit_entry_opens_lot` AFTER INSERT ON `credit_entry`
WHEN (NEW.`kind` = 'grant' OR NEW.`kind` = 'transfer_in') AND (NEW.`expires_at` IS NOT NULL OR NEW.`priority` IS NOT NULL)
BEGIN
  -- opens_lot
  INSERT INTO `credit_lot` (`id`, `account`, `seq`, `amount`, `remaining`, `priority`, `expires_at`, `created_at`)
  VALUES (NEW.`pos`, NEW.`account`, NEW.`seq`, NEW.`amount`, NEW.`amount`, NEW.`priority`, NEW.`expires_at`, NEW.`created_at`);
  -- schedules_plan
  UPDATE `credit_subscription` SET `due_at` = MIN(NEW.`expires_at`, COALESCE(`next_at`, NEW.`expires_at`), COALESCE(`cancel_at`, NEW.`expires_at`))
  WHERE NEW.`kind` = 'grant' AND NEW.`reason` = 'allowance' AND substr(NEW.`idempotency_key`, 1, 11) = '$allowance:' AND (`account` = NEW.`account`);
  -- plan.renewed: a period's allowance written down (the first period's too)
  INSERT INTO credit_event (type, account, entry, ref, created_at, data)
  SELECT 'plan.renewed', NEW.account, NEW.pos, NEW.pos, NEW.created_at,
         json_object('planId', json_extract(NEW.metadata, '$.plan'), 'version', json_extract(NEW.metadata, '$.version'),
                     'periodStart', json_extract(NEW.metadata, '$.start'), 'periodEnd', json_extract(NEW.metadata, '$.end'), 'allowance', NEW.amount)
  WHERE NEW.kind = 'grant' AND NEW.reason = 'allowance' AND substr(NEW.idempotency_key, 1, 11) = '$allowance:';
END
--> statement-breakpoint
CREATE TRIGGER `credit_entry_counts_cap` AFTER INSERT ON `credit_entry`
WHEN (NEW.`kind` = 'debit' OR NEW.`kind` = 'capture' OR NEW.`kind` = 'transfer_out' OR NEW.`kind` = 'refund') AND EXISTS (SELECT 1 FROM `credit_cap` AS x WHERE x.`account` = NEW.`account`)
BEGIN
  -- counts_cap
  UPDATE `credit_cap` SET
    `spent` = CASE WHEN `window_start` = (CASE WHEN NEW.`created_at` >= `window_start` AND NEW.`created_at` < `window_start` + CASE `cap_window` WHEN 'day' THEN 86400000 WHEN 'week' THEN 604800000 ELSE 2419200000 END THEN `window_start`
        ELSE CASE `cap_window` WHEN 'day' THEN NEW.`created_at` - NEW.`created_at` % 86400000
          WHEN 'week' THEN NEW.`created_at` - NEW.`created_at` % 86400000 - ((NEW.`created_at` / 86400000 + 3) % 7) * 86400000
          ELSE CAST(strftime('%s', NEW.`created_at` / 1000, 'unixepoch', 'start of month') AS INTEGER) * 1000 END END)
      THEN `spent` + NEW.`amount` ELSE NEW.`amount` END,
    `window_start` = (CASE WHEN NEW.`created_at` >= `window_start` AND NEW.`created_at` < `window_start` + CASE `cap_window` WHEN 'day' THEN 86400000 WHEN 'week' THEN 604800000 ELSE 2419200000 END THEN `window_start`
        ELSE CASE `cap_window` WHEN 'day' THEN NEW.`created_at` - NEW.`created_at` % 86400000
          WHEN 'week' THEN NEW.`created_at` - NEW.`created_at` % 86400000 - ((NEW.`created_at` / 86400000 + 3) % 7) * 86400000
          ELSE CAST(strftime('%s', NEW.`created_at` / 1000, 'unixepoch', 'start of month') AS INTEGER) * 1000 END END)
  WHERE NEW.`kind` <> 'refund' AND (`account` = NEW.`account`
    AND (CASE WHEN NEW.`created_at` >= `window_start` AND NEW.`created_at` < `window_start` + CASE `cap_window` WHEN 'day' THEN 86400000 WHEN 'week' THEN 604800000 ELSE 2419200000 END THEN `window_start`
        ELSE CASE `cap_window` WHEN 'day' THEN NEW.`created_at` - NEW.`created_at` % 86400000
          WHEN 'week' THEN NEW.`created_at` - NEW.`created_at` % 86400000 - ((NEW.`created_at` / 86400000 + 3) % 7) * 86400000
          ELSE CAST(strftime('%s', NEW.`created_at` / 1000, 'unixepoch', 'start of month') AS INTEGER) * 1000 END END) >= `window_start`
    AND (`model` = '' OR `model` = COALESCE(NEW.`model`, ''))
    AND (`key_id` = '' OR `key_id` = COALESCE(NEW.`key_id`, ''))
    AND (`member` = '' OR `member` = COALESCE(NEW.`actor`, '')));
  -- uncounts_cap
  UPDATE `credit_cap` SET `spent` = `spent` - NEW.`amount`
  FROM (SELECT e.`created_at` AS `at`, COALESCE(e.`model`, '') AS `model`, COALESCE(e.`key_id`, '') AS `key_id`,
          COALESCE(e.`actor`, '') AS `actor` FROM `credit_entry` AS e WHERE e.`pos` = NEW.`ref`) AS r
  WHERE NEW.`kind` = 'refund' AND (`credit_cap`.`account` = NEW.`account`
    AND `credit_cap`.`window_start` = CASE `credit_cap`.`cap_window` WHEN 'day' THEN r.`at` - r.`at` % 86400000
          WHEN 'week' THEN r.`at` - r.`at` % 86400000 - ((r.`at` / 86400000 + 3) % 7) * 86400000
          ELSE CAST(strftime('%s', r.`at` / 1000, 'unixepoch', 'start of month') AS INTEGER) * 1000 END
    AND (`credit_cap`.`model` = '' OR `credit_cap`.`model` = r.`model`)
    AND (`credit_cap`.`key_id` = '' OR `credit_cap`.`key_id` = r.`key_id`)
    AND (`credit_cap`.`member` = '' OR `credit_cap`.`member` = r.`actor`));
  -- cap.warning (80 %) and cap.reached (100 %): warn and notify caps this spend counted toward, once per window
  INSERT INTO credit_event (type, account, entry, ref, created_at, data)
  SELECT 'cap.warning', NEW.account, NEW.pos, c.id, NEW.created_at,
         json_object('window', c.cap_window, 'limit', c.cap_limit, 'spent', c.spent, 'action', c.action, 'windowStart', c.window_start,
                     'model', NULLIF(c.model, ''), 'keyId', NULLIF(c.key_id, ''), 'member', NULLIF(c.member, ''))
  FROM credit_cap AS c
  WHERE c.account = NEW.account AND c.action <> 'deny' AND NEW.kind <> 'refund'
    AND (c.model = '' OR c.model = COALESCE(NEW.model, '')) AND (c.key_id = '' OR c.key_id = COALESCE(NEW.key_id, ''))
    AND (c.member = '' OR c.member = COALESCE(NEW.actor, '')) AND c.warned_window <> c.window_start AND c.spent * 5 >= c.cap_limit * 4
  ORDER BY c.id;
  UPDATE credit_cap SET warned_window = window_start
  WHERE account = NEW.account AND action <> 'deny' AND NEW.kind <> 'refund'
    AND (model = '' OR model = COALESCE(NEW.model, '')) AND (key_id = '' OR key_id = COALESCE(NEW.key_id, ''))
    AND (member = '' OR member = COALESCE(NEW.actor, '')) AND warned_window <> window_start AND spent * 5 >= cap_limit * 4;
  INSERT INTO credit_event (type, account, entry, ref, created_at, data)
  SELECT 'cap.reached', NEW.account, NEW.pos, c.id, NEW.created_at,
         json_object('window', c.cap_window, 'limit', c.cap_limit, 'spent', c.spent, 'action', c.action, 'windowStart', c.window_start,
                     'model', NULLIF(c.model, ''), 'keyId', NULLIF(c.key_id, ''), 'member', NULLIF(c.member, ''))
  FROM credit_cap AS c
  WHERE c.account = NEW.account AND c.action <> 'deny' AND NEW.kind <> 'refund'
    AND (c.model = '' OR c.model = COALESCE(NEW.model, '')) AND (c.key_id = '' OR c.key_id = COALESCE(NEW.key_id, ''))
    AND (c.member = '' OR c.member = COALESCE(NEW.actor, '')) AND c.reached_window <> c.window_start AND c.spent >= c.cap_limit
  ORDER BY c.id;
  UPDATE credit_cap SET reached_window = window_start
  WHERE account = NEW.account AND action <> 'deny' AND NEW.kind <> 'refund'
    AND (model = '' OR model = COALESCE(NEW.model, '')) AND (key_id = '' OR key_id = COALESCE(NEW.key_id, ''))
    AND (member = '' OR member = COALESCE(NEW.actor, '')) AND reached_window <> window_start AND spent >= cap_limit;
END
