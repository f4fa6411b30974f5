CREATE TABLE `credit_team` (
	`team` text PRIMARY KEY NOT NULL,
	`owner` text NOT NULL,
	`name` text,
	`created_by` integer NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `credit_team_member` (
	`team` text NOT NULL,
	`member` text NOT NULL,
	`role` text NOT NULL,
	`set_by` integer NOT NULL,
	`since` integer NOT NULL,
	PRIMARY KEY(`team`, `member`)
);
--> statement-breakpoint
CREATE INDEX `credit_team_member_member` ON `credit_team_member` (`member`);--> statement-breakpoint
ALTER TABLE `credit_usage` ADD `transferred_out` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `credit_usage` ADD `transferred_in` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
-- Custom SQL: teams and transfers (src/teams/, src/transfers/), and the triggers regrouped.
--
-- Every AFTER INSERT trigger on credit_entry costs each insert a sub-program call, even when
-- its WHEN is false (SQLite evaluates WHEN inside the trigger's program): 22 triggers cost a
-- debit ~3.3 µs of ~22 (measured, better-sqlite3 :memory:, 13 config triggers dropped vs
-- kept). So the triggers are grouped by what fires them: one for every configuration row
-- (amount = 0: no money row has amount 0), one for holds, one for lots, one for caps; each
-- statement in a group is guarded by the kinds it is for. A debit now meets 5 triggers.
DROP TRIGGER IF EXISTS `credit_entry_sets_cap`;
--> statement-breakpoint
DROP TRIGGER IF EXISTS `credit_entry_removes_cap`;
--> statement-breakpoint
DROP TRIGGER IF EXISTS `credit_entry_sets_floor`;
--> statement-breakpoint
DROP TRIGGER IF EXISTS `credit_entry_defines_plan`;
--> statement-breakpoint
DROP TRIGGER IF EXISTS `credit_entry_subscribes`;
--> statement-breakpoint
DROP TRIGGER IF EXISTS `credit_entry_ends_terms`;
--> statement-breakpoint
DROP TRIGGER IF EXISTS `credit_entry_changes_plan`;
--> statement-breakpoint
DROP TRIGGER IF EXISTS `credit_entry_cancels_plan`;
--> statement-breakpoint
DROP TRIGGER IF EXISTS `credit_entry_publishes_price`;
--> statement-breakpoint
DROP TRIGGER IF EXISTS `credit_entry_activates_price`;
--> statement-breakpoint
DROP TRIGGER IF EXISTS `credit_entry_creates_team`;
--> statement-breakpoint
DROP TRIGGER IF EXISTS `credit_entry_adds_member`;
--> statement-breakpoint
DROP TRIGGER IF EXISTS `credit_entry_sets_role`;
--> statement-breakpoint
DROP TRIGGER IF EXISTS `credit_entry_removes_member`;
--> statement-breakpoint
DROP TRIGGER IF EXISTS `credit_entry_opens_hold`;
--> statement-breakpoint
DROP TRIGGER IF EXISTS `credit_entry_resolves_hold`;
--> statement-breakpoint
DROP TRIGGER IF EXISTS `credit_entry_extends_hold`;
--> statement-breakpoint
DROP TRIGGER IF EXISTS `credit_entry_opens_lot`;
--> statement-breakpoint
DROP TRIGGER IF EXISTS `credit_entry_schedules_plan`;
--> statement-breakpoint
DROP TRIGGER IF EXISTS `credit_entry_counts_cap`;
--> statement-breakpoint
DROP TRIGGER IF EXISTS `credit_entry_uncounts_cap`;
--> statement-breakpoint
-- Configuration rows (delta 0, amount 0): caps and floors, plans and subscriptions, pricing,
-- teams. Each statement acts only on the kinds it names.
CREATE TRIGGER `credit_entry_configures` AFTER INSERT ON `credit_entry` WHEN NEW.`amount` = 0
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
END;
--> statement-breakpoint
-- Holds: a hold opens its reservation; a capture, a release or a hold's expiry (an `expire`
-- row that moves no credits) closes it; an extension moves its expiry. The writing statement
-- already checked the hold was open and live.
CREATE TRIGGER `credit_entry_moves_hold` AFTER INSERT ON `credit_entry`
WHEN NEW.`kind` IN ('hold', 'capture', 'release', 'extend', 'expire')
BEGIN
  -- opens_hold
  INSERT INTO `credit_hold` (`id`, `account`, `amount`, `expires_at`, `status`, `resolved_by`, `created_at`, `model`, `key_id`, `actor`)
  SELECT NEW.`pos`, NEW.`account`, NEW.`amount`, NEW.`expires_at`, 'open', NULL, NEW.`created_at`, NEW.`model`, NEW.`key_id`, NEW.`actor`
  WHERE NEW.`kind` = 'hold';
  -- resolves_hold
  UPDATE `credit_hold`
  SET `status` = CASE NEW.`kind` WHEN 'capture' THEN 'captured' WHEN 'release' THEN 'released' ELSE 'expired' END,
      `resolved_by` = NEW.`pos`
  WHERE (NEW.`kind` IN ('capture', 'release') OR (NEW.`kind` = 'expire' AND NEW.`allocations` IS NULL)) AND (`id` = NEW.`ref` AND `account` = NEW.`account`);
  -- extends_hold
  UPDATE `credit_hold` SET `expires_at` = NEW.`expires_at` WHERE NEW.`kind` = 'extend' AND (`id` = NEW.`ref` AND `account` = NEW.`account`);
END;
--> statement-breakpoint
-- A grant with an expiry or a priority opens its lot; so does a transfer's arriving row that
-- keeps the lot it came from (same expiry and priority). A period's allowance written down:
-- nothing is due for the account until that period ends (or a pending change or the end of
-- the terms comes first).
CREATE TRIGGER `credit_entry_opens_lot` AFTER INSERT ON `credit_entry`
WHEN NEW.`kind` IN ('grant', 'transfer_in') AND (NEW.`expires_at` IS NOT NULL OR NEW.`priority` IS NOT NULL)
BEGIN
  -- opens_lot
  INSERT INTO `credit_lot` (`id`, `account`, `seq`, `amount`, `remaining`, `priority`, `expires_at`, `created_at`)
  VALUES (NEW.`pos`, NEW.`account`, NEW.`seq`, NEW.`amount`, NEW.`amount`, NEW.`priority`, NEW.`expires_at`, NEW.`created_at`);
  -- schedules_plan
  UPDATE `credit_subscription` SET `due_at` = MIN(NEW.`expires_at`, COALESCE(`next_at`, NEW.`expires_at`), COALESCE(`cancel_at`, NEW.`expires_at`))
  WHERE NEW.`kind` = 'grant' AND NEW.`reason` = 'allowance' AND substr(NEW.`idempotency_key`, 1, 11) = '$allowance:' AND (`account` = NEW.`account`);
END;
--> statement-breakpoint
-- Caps bound what leaves an account: debits, captures and transfers out count toward every cap
-- of the account they match, in the window of their own time (a counter still on an older
-- window starts over); a refund lowers the spend of the window of the entry it refunds, if that
-- is the window a cap is counting.
CREATE TRIGGER `credit_entry_counts_cap` AFTER INSERT ON `credit_entry`
WHEN NEW.`kind` IN ('debit', 'capture', 'transfer_out', 'refund') AND EXISTS (SELECT 1 FROM `credit_cap` AS x WHERE x.`account` = NEW.`account`)
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
END;
