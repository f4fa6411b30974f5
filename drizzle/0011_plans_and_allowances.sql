CREATE TABLE `credit_plan` (
	`id` text NOT NULL,
	`version` integer NOT NULL,
	`name` text,
	`allowance` integer NOT NULL,
	`every` text,
	`rollover_max` integer NOT NULL,
	`features` text NOT NULL,
	`definition` text NOT NULL,
	`defined_by` integer NOT NULL,
	`defined_at` integer NOT NULL,
	PRIMARY KEY(`id`, `version`)
);
--> statement-breakpoint
CREATE TABLE `credit_subscription` (
	`account` text PRIMARY KEY NOT NULL,
	`plan_id` text NOT NULL,
	`version` integer NOT NULL,
	`terms_pos` integer NOT NULL,
	`anchor` integer NOT NULL,
	`since` integer NOT NULL,
	`cancel_at` integer,
	`next_plan_id` text,
	`next_version` integer,
	`next_pos` integer,
	`next_anchor` integer,
	`next_at` integer,
	`due_at` integer,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `credit_subscription_due` ON `credit_subscription` (`due_at`) WHERE due_at IS NOT NULL;--> statement-breakpoint
-- Custom SQL: plans, subscriptions and period allowances (src/plans/).
--
-- A plan version is the `plan_define` row on the reserved log `$plan:<id>`; its seq is the version.
CREATE TRIGGER `credit_entry_defines_plan` AFTER INSERT ON `credit_entry` WHEN NEW.`kind` = 'plan_define'
BEGIN
  INSERT INTO `credit_plan` (`id`, `version`, `name`, `allowance`, `every`, `rollover_max`, `features`, `definition`, `defined_by`, `defined_at`)
  VALUES (substr(NEW.`account`, 7), NEW.`seq`, json_extract(NEW.`metadata`, '$.name'),
          COALESCE(json_extract(NEW.`metadata`, '$.allowance.amount'), 0), json_extract(NEW.`metadata`, '$.allowance.every'),
          COALESCE(json_extract(NEW.`metadata`, '$.allowance.rollover.max'), 0),
          COALESCE(json_extract(NEW.`metadata`, '$.features'), '{}'), NEW.`metadata`, NEW.`pos`, NEW.`created_at`);
END;
--> statement-breakpoint
-- A subscription's terms start with the row that sets them; `due_at` = now, so the unit that
-- writes it (and every later spend) writes the first period's allowance down.
CREATE TRIGGER `credit_entry_subscribes` AFTER INSERT ON `credit_entry` WHEN NEW.`kind` = 'plan_subscribe'
BEGIN
  INSERT OR REPLACE INTO `credit_subscription` (`account`, `plan_id`, `version`, `terms_pos`, `anchor`, `since`, `cancel_at`,
    `next_plan_id`, `next_version`, `next_pos`, `next_anchor`, `next_at`, `due_at`, `created_at`)
  VALUES (NEW.`account`, json_extract(NEW.`metadata`, '$.plan'), json_extract(NEW.`metadata`, '$.version'), NEW.`pos`,
          json_extract(NEW.`metadata`, '$.anchor'), NEW.`created_at`, NULL, NULL, NULL, NULL, NULL, NULL, NEW.`created_at`, NEW.`created_at`);
END;
--> statement-breakpoint
-- The terms end now (an `immediate` change, a cancellation `now`): their allowance and
-- rollover lots (keys `$allowance:<terms>:…`, `$rollover:<terms>:…`, two ranges of the unique
-- key index) lapse now — all of them, drawn to zero or not, so a later refund cannot make them
-- spendable again. Purchased credits and grants are never touched.
CREATE TRIGGER `credit_entry_ends_terms` AFTER INSERT ON `credit_entry`
WHEN (NEW.`kind` = 'plan_change' AND json_extract(NEW.`metadata`, '$.proration') = 'immediate')
  OR (NEW.`kind` = 'plan_cancel' AND json_extract(NEW.`metadata`, '$.when') = 'now')
BEGIN
  UPDATE `credit_lot` SET `expires_at` = NEW.`created_at`
  WHERE `expires_at` > NEW.`created_at`
    AND `id` IN (
      SELECT e.`pos` FROM `credit_entry` AS e WHERE e.`account` = NEW.`account` AND e.`kind` = 'grant' AND e.`idempotency_key` IS NOT NULL
        AND e.`idempotency_key` >= '$allowance:' || json_extract(NEW.`metadata`, '$.terms') || ':'
        AND e.`idempotency_key` < '$allowance:' || json_extract(NEW.`metadata`, '$.terms') || ';'
      UNION ALL
      SELECT e.`pos` FROM `credit_entry` AS e WHERE e.`account` = NEW.`account` AND e.`kind` = 'grant' AND e.`idempotency_key` IS NOT NULL
        AND e.`idempotency_key` >= '$rollover:' || json_extract(NEW.`metadata`, '$.terms') || ':'
        AND e.`idempotency_key` < '$rollover:' || json_extract(NEW.`metadata`, '$.terms') || ';');
END;
--> statement-breakpoint
-- `immediate`: the new terms start now. `next_period`: they wait until the period's end.
CREATE TRIGGER `credit_entry_changes_plan` AFTER INSERT ON `credit_entry` WHEN NEW.`kind` = 'plan_change'
BEGIN
  UPDATE `credit_subscription` SET `plan_id` = json_extract(NEW.`metadata`, '$.plan'), `version` = json_extract(NEW.`metadata`, '$.version'),
    `terms_pos` = NEW.`pos`, `anchor` = json_extract(NEW.`metadata`, '$.anchor'), `since` = NEW.`created_at`, `cancel_at` = NULL,
    `next_plan_id` = NULL, `next_version` = NULL, `next_pos` = NULL, `next_anchor` = NULL, `next_at` = NULL, `due_at` = NEW.`created_at`
  WHERE `account` = NEW.`account` AND json_extract(NEW.`metadata`, '$.proration') = 'immediate';
  UPDATE `credit_subscription` SET `cancel_at` = NULL, `next_plan_id` = json_extract(NEW.`metadata`, '$.plan'),
    `next_version` = json_extract(NEW.`metadata`, '$.version'), `next_pos` = NEW.`pos`, `next_anchor` = json_extract(NEW.`metadata`, '$.anchor'),
    `next_at` = json_extract(NEW.`metadata`, '$.at'),
    `due_at` = MIN(COALESCE(`due_at`, json_extract(NEW.`metadata`, '$.at')), json_extract(NEW.`metadata`, '$.at'))
  WHERE `account` = NEW.`account` AND json_extract(NEW.`metadata`, '$.proration') = 'next_period';
END;
--> statement-breakpoint
-- `now`: the terms end and their allowance and rollover lapse at once. `period_end`: they run out.
CREATE TRIGGER `credit_entry_cancels_plan` AFTER INSERT ON `credit_entry` WHEN NEW.`kind` = 'plan_cancel'
BEGIN
  UPDATE `credit_subscription` SET `cancel_at` = json_extract(NEW.`metadata`, '$.at'), `next_plan_id` = NULL, `next_version` = NULL,
    `next_pos` = NULL, `next_anchor` = NULL, `next_at` = NULL,
    `due_at` = CASE WHEN json_extract(NEW.`metadata`, '$.when') = 'now' THEN NULL
                    ELSE MIN(COALESCE(`due_at`, json_extract(NEW.`metadata`, '$.at')), json_extract(NEW.`metadata`, '$.at')) END
  WHERE `account` = NEW.`account`;
END;
--> statement-breakpoint
-- A period's allowance written down: nothing is due for the account until that period ends
-- (or a pending change or the end of the terms comes first).
CREATE TRIGGER `credit_entry_schedules_plan` AFTER INSERT ON `credit_entry`
WHEN NEW.`kind` = 'grant' AND NEW.`reason` = 'allowance' AND substr(NEW.`idempotency_key`, 1, 11) = '$allowance:'
BEGIN
  UPDATE `credit_subscription` SET `due_at` = MIN(NEW.`expires_at`, COALESCE(`next_at`, NEW.`expires_at`), COALESCE(`cancel_at`, NEW.`expires_at`))
  WHERE `account` = NEW.`account`;
END;
