-- Custom SQL (edited after drizzle-kit generate): the lots an entry draws move from the
-- credit_allocation table onto the entry itself, as a JSON array of [lotId, amount]
-- pairs decided by the same statement that writes the row (like seq and balance). A debit
-- that draws lots is then one statement on every driver and writes no extra B-tree.
-- credit_allocation stays readable as a view with the same columns.
ALTER TABLE `credit_entry` ADD `allocations` text;
--> statement-breakpoint
-- Existing draws are carried over (a new column, filled once from the old projection).
UPDATE `credit_entry` SET `allocations` = (
  SELECT json_group_array(json_array(a.`lot_id`, a.`amount`) ORDER BY a.`ord`)
  FROM `credit_allocation` AS a WHERE a.`entry_id` = `credit_entry`.`id`)
WHERE `id` IN (SELECT `entry_id` FROM `credit_allocation`);
--> statement-breakpoint
DROP TABLE `credit_allocation`;
--> statement-breakpoint
CREATE VIEW `credit_allocation` AS
SELECT e.`id` AS `entry_id`, json_extract(j.`value`, '$[0]') AS `lot_id`, e.`account` AS `account`,
       json_extract(j.`value`, '$[1]') AS `amount`, j.`key` + 1 AS `ord`
FROM `credit_entry` AS e, json_each(e.`allocations`) AS j
WHERE e.`allocations` IS NOT NULL;
--> statement-breakpoint
-- Applies an entry's allocations to the lots inside the INSERT that writes it: no unit can
-- record a draw, a give-back or an expiry without applying it.
CREATE TRIGGER `credit_entry_allocates` AFTER INSERT ON `credit_entry` WHEN NEW.`allocations` IS NOT NULL
BEGIN
  UPDATE `credit_lot` SET `remaining` = `remaining` - a.`amount`
  FROM (SELECT json_extract(`value`, '$[0]') AS `lot_id`, json_extract(`value`, '$[1]') AS `amount`
        FROM json_each(NEW.`allocations`)) AS a
  WHERE `credit_lot`.`id` = a.`lot_id` AND `credit_lot`.`account` = NEW.`account`;
END;
--> statement-breakpoint
-- credit_lot.open = (remaining > 0), written only when a lot crosses zero, so the partial
-- indexes on `open` are not rewritten by every draw.
CREATE TRIGGER `credit_lot_crosses_zero` AFTER UPDATE OF `remaining` ON `credit_lot`
WHEN (NEW.`remaining` > 0) <> (OLD.`remaining` > 0)
BEGIN
  UPDATE `credit_lot` SET `open` = (NEW.`remaining` > 0) WHERE `id` = NEW.`id`;
END;
