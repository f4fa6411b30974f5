CREATE TABLE `credit_cap` (
	`id` integer PRIMARY KEY NOT NULL,
	`account` text NOT NULL,
	`cap_window` text NOT NULL,
	`cap_limit` integer NOT NULL,
	`action` text NOT NULL,
	`model` text DEFAULT '' NOT NULL,
	`key_id` text DEFAULT '' NOT NULL,
	`member` text DEFAULT '' NOT NULL,
	`set_by` integer NOT NULL,
	`window_start` integer NOT NULL,
	`spent` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `credit_cap_identity` ON `credit_cap` (`account`,`cap_window`,`model`,`key_id`,`member`);--> statement-breakpoint
CREATE TABLE `credit_floor` (
	`account` text PRIMARY KEY NOT NULL,
	`floor` integer NOT NULL,
	`set_by` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `credit_usage` (
	`hour` integer NOT NULL,
	`account` text NOT NULL,
	`model` text NOT NULL,
	`key_id` text NOT NULL,
	`actor` text NOT NULL,
	`debited` integer DEFAULT 0 NOT NULL,
	`debits` integer DEFAULT 0 NOT NULL,
	`refunded` integer DEFAULT 0 NOT NULL,
	`refunds` integer DEFAULT 0 NOT NULL,
	`granted` integer DEFAULT 0 NOT NULL,
	`expired` integer DEFAULT 0 NOT NULL,
	`adjusted` integer DEFAULT 0 NOT NULL,
	PRIMARY KEY(`hour`, `account`, `model`, `key_id`, `actor`)
);
--> statement-breakpoint
CREATE INDEX `credit_usage_account` ON `credit_usage` (`account`,`hour`);--> statement-breakpoint
CREATE TABLE `credit_usage_cursor` (
	`id` integer PRIMARY KEY NOT NULL,
	`through` integer NOT NULL,
	CONSTRAINT "credit_usage_cursor_one_row" CHECK(id = 1)
);
--> statement-breakpoint
ALTER TABLE `credit_hold` ADD `model` text;--> statement-breakpoint
ALTER TABLE `credit_hold` ADD `key_id` text;--> statement-breakpoint
ALTER TABLE `credit_hold` ADD `actor` text;--> statement-breakpoint
-- Custom SQL: usage rollups, spend caps and account floors.
--
-- Holds carry their attribution so deny caps with filters count the open holds they match.
UPDATE `credit_hold` SET
  `model` = (SELECT e.`model` FROM `credit_entry` AS e WHERE e.`pos` = `credit_hold`.`id`),
  `key_id` = (SELECT e.`key_id` FROM `credit_entry` AS e WHERE e.`pos` = `credit_hold`.`id`),
  `actor` = (SELECT e.`actor` FROM `credit_entry` AS e WHERE e.`pos` = `credit_hold`.`id`);
--> statement-breakpoint
DROP TRIGGER IF EXISTS `credit_entry_opens_hold`;
--> statement-breakpoint
CREATE TRIGGER `credit_entry_opens_hold` AFTER INSERT ON `credit_entry` WHEN NEW.`kind` = 'hold'
BEGIN
  INSERT INTO `credit_hold` (`id`, `account`, `amount`, `expires_at`, `status`, `resolved_by`, `created_at`, `model`, `key_id`, `actor`)
  VALUES (NEW.`pos`, NEW.`account`, NEW.`amount`, NEW.`expires_at`, 'open', NULL, NEW.`created_at`, NEW.`model`, NEW.`key_id`, NEW.`actor`);
END;
--> statement-breakpoint
-- The usage rollup of the history written before this migration: the same fold as
-- src/usage/sql.ts (USAGE_FOLD), over every row, and the cursor after the last one. A refund
-- whose ref names no entry (a damaged log) counts in its own bucket, as in USAGE_SOURCE.
INSERT INTO `credit_usage` (`hour`, `account`, `model`, `key_id`, `actor`, `debited`, `debits`, `refunded`, `refunds`, `granted`, `expired`, `adjusted`)
SELECT * FROM (
  SELECT (CASE WHEN r.`pos` IS NOT NULL THEN r.`created_at` ELSE e.`created_at` END) / 3600000 * 3600000,
         e.`account`,
         COALESCE(CASE WHEN r.`pos` IS NOT NULL THEN r.`model` ELSE e.`model` END, ''),
         COALESCE(CASE WHEN r.`pos` IS NOT NULL THEN r.`key_id` ELSE e.`key_id` END, ''),
         COALESCE(CASE WHEN r.`pos` IS NOT NULL THEN r.`actor` ELSE e.`actor` END, ''),
         SUM(CASE WHEN e.`kind` IN ('debit', 'capture') THEN e.`amount` ELSE 0 END),
         SUM(e.`kind` IN ('debit', 'capture')),
         SUM(CASE WHEN e.`kind` = 'refund' THEN e.`amount` ELSE 0 END),
         SUM(e.`kind` = 'refund'),
         SUM(CASE WHEN e.`kind` = 'grant' THEN e.`amount` ELSE 0 END),
         SUM(CASE WHEN e.`kind` = 'expire' THEN -e.`delta` ELSE 0 END),
         SUM(CASE WHEN e.`kind` = 'adjust' THEN e.`delta` ELSE 0 END)
  FROM `credit_entry` AS e LEFT JOIN `credit_entry` AS r ON e.`kind` = 'refund' AND r.`pos` = e.`ref`
  WHERE e.`kind` IN ('debit', 'capture', 'refund', 'grant', 'adjust') OR (e.`kind` = 'expire' AND e.`delta` <> 0)
  GROUP BY 1, 2, 3, 4, 5
) WHERE true;
--> statement-breakpoint
INSERT INTO `credit_usage_cursor` (`id`, `through`) SELECT 1, COALESCE(MAX(`pos`), 0) FROM `credit_entry`;
--> statement-breakpoint
-- A cap_set row sets a cap (or changes the limit and action of the one with the same
-- window and filters). A new cap starts from the window's spend so far: the rollup's
-- buckets in the window plus the log rows not folded yet (the ledger folds before it
-- writes a cap_set, so that tail is short). An existing cap keeps its exact counter.
CREATE TRIGGER `credit_entry_sets_cap` AFTER INSERT ON `credit_entry` WHEN NEW.`kind` = 'cap_set'
BEGIN
  INSERT INTO `credit_cap` (`id`, `account`, `cap_window`, `cap_limit`, `action`, `model`, `key_id`, `member`, `set_by`, `window_start`, `spent`)
  SELECT NEW.`pos`, NEW.`account`, c.`w`, c.`lim`, c.`act`, c.`model`, c.`key_id`, c.`member`, NEW.`pos`, c.`ws`,
    (SELECT COALESCE(SUM(u.`debited` - u.`refunded`), 0) FROM `credit_usage` AS u
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
               AND e.`account` = NEW.`account` AND e.`kind` IN ('debit', 'capture', 'refund')) AS t
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
CREATE TRIGGER `credit_entry_removes_cap` AFTER INSERT ON `credit_entry` WHEN NEW.`kind` = 'cap_remove'
BEGIN
  DELETE FROM `credit_cap`
  WHERE `account` = NEW.`account` AND `cap_window` = json_extract(NEW.`metadata`, '$.window')
    AND `model` = COALESCE(json_extract(NEW.`metadata`, '$.model'), '')
    AND `key_id` = COALESCE(json_extract(NEW.`metadata`, '$.keyId'), '')
    AND `member` = COALESCE(json_extract(NEW.`metadata`, '$.member'), '');
END;
--> statement-breakpoint
-- Debits and captures count toward every cap of the account they match, in the window of
-- their own time; a counter still on an older window starts over. (A row dated before the
-- counter's window, which only a clock moving backwards writes, counts nowhere.) The window
-- of the row is the counter's own when the row falls within its first 1/7/28 days, so the
-- calendar arithmetic runs only at a window change (measured: an UPDATE … FROM form of this
-- trigger cost a debit with 3 caps ~7 µs more).
CREATE TRIGGER `credit_entry_counts_cap` AFTER INSERT ON `credit_entry`
WHEN NEW.`kind` IN ('debit', 'capture') AND EXISTS (SELECT 1 FROM `credit_cap` AS x WHERE x.`account` = NEW.`account`)
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
-- A refund lowers the spend of the window of the entry it refunds, if that is the window
-- a cap is counting.
CREATE TRIGGER `credit_entry_uncounts_cap` AFTER INSERT ON `credit_entry`
WHEN NEW.`kind` = 'refund' AND EXISTS (SELECT 1 FROM `credit_cap` AS x WHERE x.`account` = NEW.`account`)
BEGIN
  UPDATE `credit_cap` SET `spent` = `spent` - NEW.`amount`
  FROM (SELECT e.`created_at` AS `at`, COALESCE(e.`model`, '') AS `model`, COALESCE(e.`key_id`, '') AS `key_id`,
          COALESCE(e.`actor`, '') AS `actor` FROM `credit_entry` AS e WHERE e.`pos` = NEW.`ref`) AS r
  WHERE `credit_cap`.`account` = NEW.`account`
    AND `credit_cap`.`window_start` = CASE `credit_cap`.`cap_window` WHEN 'day' THEN r.`at` - r.`at` % 86400000
          WHEN 'week' THEN r.`at` - r.`at` % 86400000 - ((r.`at` / 86400000 + 3) % 7) * 86400000
          ELSE CAST(strftime('%s', r.`at` / 1000, 'unixepoch', 'start of month') AS INTEGER) * 1000 END
    AND (`credit_cap`.`model` = '' OR `credit_cap`.`model` = r.`model`)
    AND (`credit_cap`.`key_id` = '' OR `credit_cap`.`key_id` = r.`key_id`)
    AND (`credit_cap`.`member` = '' OR `credit_cap`.`member` = r.`actor`);
END;
--> statement-breakpoint
CREATE TRIGGER `credit_entry_sets_floor` AFTER INSERT ON `credit_entry` WHEN NEW.`kind` = 'floor_set'
BEGIN
  INSERT INTO `credit_floor` (`account`, `floor`, `set_by`)
  VALUES (NEW.`account`, json_extract(NEW.`metadata`, '$.floor'), NEW.`pos`)
  ON CONFLICT (`account`) DO UPDATE SET `floor` = excluded.`floor`, `set_by` = excluded.`set_by`;
END;
