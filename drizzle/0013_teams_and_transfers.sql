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
-- Custom SQL: teams and transfers (src/teams/, src/transfers/).
--
-- A transfer's arriving rows (`transfer_in`) that keep a lot open one on `to`, with the
-- expiry and priority of the lot they came from, like a grant with an expiry or a priority.
DROP TRIGGER IF EXISTS `credit_entry_opens_lot`;
--> statement-breakpoint
CREATE TRIGGER `credit_entry_opens_lot` AFTER INSERT ON `credit_entry`
WHEN NEW.`kind` IN ('grant', 'transfer_in') AND (NEW.`expires_at` IS NOT NULL OR NEW.`priority` IS NOT NULL)
BEGIN
  INSERT INTO `credit_lot` (`id`, `account`, `seq`, `amount`, `remaining`, `priority`, `expires_at`, `created_at`)
  VALUES (NEW.`pos`, NEW.`account`, NEW.`seq`, NEW.`amount`, NEW.`amount`, NEW.`priority`, NEW.`expires_at`, NEW.`created_at`);
END;
--> statement-breakpoint
-- Caps bound what leaves an account: debits, captures and transfers out. A cap set mid-window
-- starts from the window's spend so far, transfers out included.
DROP TRIGGER IF EXISTS `credit_entry_sets_cap`;
--> statement-breakpoint
CREATE TRIGGER `credit_entry_sets_cap` AFTER INSERT ON `credit_entry` WHEN NEW.`kind` = 'cap_set'
BEGIN
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
  WHERE true
  ON CONFLICT (`account`, `cap_window`, `model`, `key_id`, `member`)
  DO UPDATE SET `cap_limit` = excluded.`cap_limit`, `action` = excluded.`action`, `set_by` = excluded.`set_by`;
END;
--> statement-breakpoint
DROP TRIGGER IF EXISTS `credit_entry_counts_cap`;
--> statement-breakpoint
CREATE TRIGGER `credit_entry_counts_cap` AFTER INSERT ON `credit_entry`
WHEN NEW.`kind` IN ('debit', 'capture', 'transfer_out') AND EXISTS (SELECT 1 FROM `credit_cap` AS x WHERE x.`account` = NEW.`account`)
BEGIN
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
  WHERE `account` = NEW.`account`
    AND (CASE WHEN NEW.`created_at` >= `window_start` AND NEW.`created_at` < `window_start` + CASE `cap_window` WHEN 'day' THEN 86400000 WHEN 'week' THEN 604800000 ELSE 2419200000 END THEN `window_start`
        ELSE CASE `cap_window` WHEN 'day' THEN NEW.`created_at` - NEW.`created_at` % 86400000
          WHEN 'week' THEN NEW.`created_at` - NEW.`created_at` % 86400000 - ((NEW.`created_at` / 86400000 + 3) % 7) * 86400000
          ELSE CAST(strftime('%s', NEW.`created_at` / 1000, 'unixepoch', 'start of month') AS INTEGER) * 1000 END END) >= `window_start`
    AND (`model` = '' OR `model` = COALESCE(NEW.`model`, ''))
    AND (`key_id` = '' OR `key_id` = COALESCE(NEW.`key_id`, ''))
    AND (`member` = '' OR `member` = COALESCE(NEW.`actor`, ''));
END;
--> statement-breakpoint
-- A team is created with its owner as its first member.
CREATE TRIGGER `credit_entry_creates_team` AFTER INSERT ON `credit_entry` WHEN NEW.`kind` = 'team_create'
BEGIN
  INSERT INTO `credit_team` (`team`, `owner`, `name`, `created_by`, `created_at`)
  VALUES (NEW.`account`, json_extract(NEW.`metadata`, '$.owner'), json_extract(NEW.`metadata`, '$.name'), NEW.`pos`, NEW.`created_at`);
  INSERT INTO `credit_team_member` (`team`, `member`, `role`, `set_by`, `since`)
  VALUES (NEW.`account`, json_extract(NEW.`metadata`, '$.owner'), 'owner', NEW.`pos`, NEW.`created_at`);
END;
--> statement-breakpoint
CREATE TRIGGER `credit_entry_adds_member` AFTER INSERT ON `credit_entry` WHEN NEW.`kind` = 'team_add'
BEGIN
  INSERT INTO `credit_team_member` (`team`, `member`, `role`, `set_by`, `since`)
  VALUES (NEW.`account`, json_extract(NEW.`metadata`, '$.member'), json_extract(NEW.`metadata`, '$.role'), NEW.`pos`, NEW.`created_at`);
END;
--> statement-breakpoint
CREATE TRIGGER `credit_entry_sets_role` AFTER INSERT ON `credit_entry` WHEN NEW.`kind` = 'team_role'
BEGIN
  UPDATE `credit_team_member` SET `role` = json_extract(NEW.`metadata`, '$.role'), `set_by` = NEW.`pos`
  WHERE `team` = NEW.`account` AND `member` = json_extract(NEW.`metadata`, '$.member');
END;
--> statement-breakpoint
CREATE TRIGGER `credit_entry_removes_member` AFTER INSERT ON `credit_entry` WHEN NEW.`kind` = 'team_remove'
BEGIN
  DELETE FROM `credit_team_member` WHERE `team` = NEW.`account` AND `member` = json_extract(NEW.`metadata`, '$.member');
END;
