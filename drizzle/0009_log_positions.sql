-- Custom SQL: the log is keyed by its position in commit order.
--
-- Before: `credit_entry` had a 26-character ULID text primary key, five secondary indexes
-- (one on created_at) and projections keyed by that text; a debit wrote ~6 B-trees and ran
-- at ~0.45× a minimal append. After: `pos INTEGER PRIMARY KEY` (the rowid: rows are
-- clustered in commit order, appends land at the right edge, readers get a cursor), the
-- public id is `pos` with a prefix, and a plain debit writes two B-trees (the table and
-- its (account, seq) index), like a minimal append. Entry references (`ref`, lot and hold
-- ids, `resolved_by`, the lot ids inside `allocations`) become positions.
--
-- Every projection write that used to be a second statement of the unit (open a lot, open,
-- close or extend a hold) is a trigger on the log row, so each operation is one statement.
--
-- Existing rows keep their order (pos = the old rowid, which is insertion order) and their
-- ULID in `legacy_id`, which every method that takes an id still accepts.
DROP VIEW IF EXISTS `credit_allocation`;
--> statement-breakpoint
DROP TRIGGER IF EXISTS `credit_entry_allocates`;
--> statement-breakpoint
DROP TRIGGER IF EXISTS `credit_lot_crosses_zero`;
--> statement-breakpoint
CREATE TABLE `credit_entry_next` (
	`pos` integer PRIMARY KEY NOT NULL,
	`account` text NOT NULL,
	`seq` integer NOT NULL,
	`kind` text NOT NULL,
	`delta` integer NOT NULL,
	`amount` integer NOT NULL,
	`balance` integer NOT NULL,
	`reason` text,
	`idempotency_key` text,
	`ref` integer,
	`model` text,
	`key_id` text,
	`actor` text,
	`metadata` text,
	`expires_at` integer,
	`priority` integer,
	`created_at` integer NOT NULL,
	`allocations` text,
	`legacy_id` text
);
--> statement-breakpoint
INSERT INTO `credit_entry_next` (`pos`, `account`, `seq`, `kind`, `delta`, `amount`, `balance`, `reason`, `idempotency_key`,
  `ref`, `model`, `key_id`, `actor`, `metadata`, `expires_at`, `priority`, `created_at`, `allocations`, `legacy_id`)
SELECT e.rowid, e.`account`, e.`seq`, e.`kind`, e.`delta`, e.`amount`, e.`balance`, e.`reason`, e.`idempotency_key`,
  (SELECT r.rowid FROM `credit_entry` AS r WHERE r.`id` = e.`ref`), e.`model`, e.`key_id`, e.`actor`, e.`metadata`,
  e.`expires_at`, e.`priority`, e.`created_at`,
  CASE WHEN e.`allocations` IS NOT NULL THEN
    (SELECT json_group_array(json_array((SELECT l.rowid FROM `credit_entry` AS l WHERE l.`id` = json_extract(j.`value`, '$[0]')),
                                        json_extract(j.`value`, '$[1]')) ORDER BY j.`key`)
     FROM json_each(e.`allocations`) AS j) END,
  e.`id`
FROM `credit_entry` AS e ORDER BY e.rowid;
--> statement-breakpoint
CREATE UNIQUE INDEX `credit_entry_legacy_id` ON `credit_entry_next` (`legacy_id`) WHERE legacy_id IS NOT NULL;
--> statement-breakpoint
CREATE TABLE `credit_lot_next` (
	`id` integer PRIMARY KEY NOT NULL,
	`account` text NOT NULL,
	`seq` integer NOT NULL,
	`amount` integer NOT NULL,
	`remaining` integer NOT NULL,
	`open` integer DEFAULT 1 NOT NULL,
	`priority` integer NOT NULL,
	`expires_at` integer,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
INSERT INTO `credit_lot_next` (`id`, `account`, `seq`, `amount`, `remaining`, `open`, `priority`, `expires_at`, `created_at`)
SELECT (SELECT n.`pos` FROM `credit_entry_next` AS n WHERE n.`legacy_id` = l.`id`), l.`account`, l.`seq`, l.`amount`,
  l.`remaining`, l.`open`, l.`priority`, l.`expires_at`, l.`created_at`
FROM `credit_lot` AS l;
--> statement-breakpoint
CREATE TABLE `credit_hold_next` (
	`id` integer PRIMARY KEY NOT NULL,
	`account` text NOT NULL,
	`amount` integer NOT NULL,
	`expires_at` integer NOT NULL,
	`status` text NOT NULL,
	`resolved_by` integer,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
INSERT INTO `credit_hold_next` (`id`, `account`, `amount`, `expires_at`, `status`, `resolved_by`, `created_at`)
SELECT (SELECT n.`pos` FROM `credit_entry_next` AS n WHERE n.`legacy_id` = h.`id`), h.`account`, h.`amount`, h.`expires_at`,
  h.`status`, (SELECT n.`pos` FROM `credit_entry_next` AS n WHERE n.`legacy_id` = h.`resolved_by`), h.`created_at`
FROM `credit_hold` AS h;
--> statement-breakpoint
DROP TABLE `credit_lot`;
--> statement-breakpoint
DROP TABLE `credit_hold`;
--> statement-breakpoint
DROP TABLE `credit_entry`;
--> statement-breakpoint
ALTER TABLE `credit_entry_next` RENAME TO `credit_entry`;
--> statement-breakpoint
ALTER TABLE `credit_lot_next` RENAME TO `credit_lot`;
--> statement-breakpoint
ALTER TABLE `credit_hold_next` RENAME TO `credit_hold`;
--> statement-breakpoint
CREATE UNIQUE INDEX `credit_entry_account_seq` ON `credit_entry` (`account`,`seq`);
--> statement-breakpoint
CREATE UNIQUE INDEX `credit_entry_idempotency` ON `credit_entry` (`account`,`kind`,`idempotency_key`) WHERE idempotency_key IS NOT NULL;
--> statement-breakpoint
CREATE INDEX `credit_entry_ref` ON `credit_entry` (`ref`) WHERE ref IS NOT NULL;
--> statement-breakpoint
CREATE INDEX `credit_entry_key_time` ON `credit_entry` (`key_id`,`created_at`) WHERE key_id IS NOT NULL;
--> statement-breakpoint
CREATE INDEX `credit_lot_open` ON `credit_lot` (`account`,`expires_at`) WHERE open = 1;
--> statement-breakpoint
-- The draw order, so a debit finds its first lot without a sort (written only when a lot opens or closes).
CREATE INDEX `credit_lot_draw` ON `credit_lot` (`account`,`priority`,expires_at IS NULL,`expires_at`,`seq`) WHERE open = 1;
--> statement-breakpoint
CREATE INDEX `credit_lot_lapsing` ON `credit_lot` (`expires_at`) WHERE open = 1 AND expires_at IS NOT NULL;
--> statement-breakpoint
-- Covering: a guard sums an account's open holds from the index alone.
CREATE INDEX `credit_hold_open` ON `credit_hold` (`account`,`expires_at`,`amount`) WHERE status = 'open';
--> statement-breakpoint
CREATE INDEX `credit_hold_lapsing` ON `credit_hold` (`expires_at`) WHERE status = 'open';
--> statement-breakpoint
CREATE TABLE `credit_unit_guard` (
	`ok` integer NOT NULL,
	CONSTRAINT "credit_unit_not_applied" CHECK(ok <> 0),
	CONSTRAINT "credit_unit_schema_not_current" CHECK(ok <> 2),
	CONSTRAINT "credit_unit_guard_stays_empty" CHECK(ok IN (0, 2))
);
--> statement-breakpoint
-- A grant with an expiry or a priority opens its lot, in the statement that writes it.
CREATE TRIGGER `credit_entry_opens_lot` AFTER INSERT ON `credit_entry`
WHEN NEW.`kind` = 'grant' AND (NEW.`expires_at` IS NOT NULL OR NEW.`priority` IS NOT NULL)
BEGIN
  INSERT INTO `credit_lot` (`id`, `account`, `seq`, `amount`, `remaining`, `priority`, `expires_at`, `created_at`)
  VALUES (NEW.`pos`, NEW.`account`, NEW.`seq`, NEW.`amount`, NEW.`amount`, NEW.`priority`, NEW.`expires_at`, NEW.`created_at`);
END;
--> statement-breakpoint
-- A hold opens its reservation.
CREATE TRIGGER `credit_entry_opens_hold` AFTER INSERT ON `credit_entry` WHEN NEW.`kind` = 'hold'
BEGIN
  INSERT INTO `credit_hold` (`id`, `account`, `amount`, `expires_at`, `status`, `resolved_by`, `created_at`)
  VALUES (NEW.`pos`, NEW.`account`, NEW.`amount`, NEW.`expires_at`, 'open', NULL, NEW.`created_at`);
END;
--> statement-breakpoint
-- A capture, a release or a hold's expiry (an `expire` row that moves no credits) closes it.
-- The writing statement already checked the hold was open and live.
CREATE TRIGGER `credit_entry_resolves_hold` AFTER INSERT ON `credit_entry`
WHEN NEW.`kind` IN ('capture', 'release') OR (NEW.`kind` = 'expire' AND NEW.`allocations` IS NULL)
BEGIN
  UPDATE `credit_hold`
  SET `status` = CASE NEW.`kind` WHEN 'capture' THEN 'captured' WHEN 'release' THEN 'released' ELSE 'expired' END,
      `resolved_by` = NEW.`pos`
  WHERE `id` = NEW.`ref` AND `account` = NEW.`account`;
END;
--> statement-breakpoint
CREATE TRIGGER `credit_entry_extends_hold` AFTER INSERT ON `credit_entry` WHEN NEW.`kind` = 'extend'
BEGIN
  UPDATE `credit_hold` SET `expires_at` = NEW.`expires_at` WHERE `id` = NEW.`ref` AND `account` = NEW.`account`;
END;
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
