CREATE TABLE `credit_price_active` (
	`id` integer PRIMARY KEY NOT NULL,
	`version` integer NOT NULL,
	`set_by` integer NOT NULL,
	CONSTRAINT "credit_price_active_one_row" CHECK(id = 1)
);
--> statement-breakpoint
CREATE TABLE `credit_price_version` (
	`version` integer PRIMARY KEY NOT NULL,
	`entry` integer NOT NULL,
	`label` text,
	`rounding` text NOT NULL,
	`rates` text NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
-- Custom SQL: pricing versions and the active one, projected from the `$pricing` log.
--
-- A pricing_publish row carries its setting as canonical JSON in `metadata`, with the version
-- number the INSERT assigned (MAX + 1 under the write lock); the version is copied here, and
-- becomes the active one unless the row says `"activate":false`.
CREATE TRIGGER `credit_entry_publishes_price` AFTER INSERT ON `credit_entry`
WHEN NEW.`kind` = 'pricing_publish' AND NEW.`account` = '$pricing'
BEGIN
  INSERT INTO `credit_price_version` (`version`, `entry`, `label`, `rounding`, `rates`, `created_at`)
  VALUES (json_extract(NEW.`metadata`, '$.version'), NEW.`pos`, json_extract(NEW.`metadata`, '$.label'),
          json_extract(NEW.`metadata`, '$.rounding'), json_extract(NEW.`metadata`, '$.rates'), NEW.`created_at`);
  INSERT INTO `credit_price_active` (`id`, `version`, `set_by`)
  SELECT 1, json_extract(NEW.`metadata`, '$.version'), NEW.`pos` WHERE json_extract(NEW.`metadata`, '$.activate')
  ON CONFLICT (`id`) DO UPDATE SET `version` = excluded.`version`, `set_by` = excluded.`set_by`;
END;
--> statement-breakpoint
-- A pricing_activate row makes the version in its metadata the active one.
CREATE TRIGGER `credit_entry_activates_price` AFTER INSERT ON `credit_entry`
WHEN NEW.`kind` = 'pricing_activate' AND NEW.`account` = '$pricing'
BEGIN
  INSERT INTO `credit_price_active` (`id`, `version`, `set_by`)
  VALUES (1, json_extract(NEW.`metadata`, '$.version'), NEW.`pos`)
  ON CONFLICT (`id`) DO UPDATE SET `version` = excluded.`version`, `set_by` = excluded.`set_by`;
END;
