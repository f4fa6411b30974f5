-- Custom SQL migration: credit_allocation becomes a WITHOUT ROWID table (its primary key
-- is the table: one B-tree write per allocation instead of two). drizzle-kit cannot
-- express WITHOUT ROWID, so the table is rebuilt here; the schema in src/schema.ts is
-- otherwise unchanged.
CREATE TABLE `credit_allocation_new` (
	`entry_id` text NOT NULL,
	`lot_id` text NOT NULL,
	`account` text NOT NULL,
	`amount` integer NOT NULL,
	`ord` integer NOT NULL,
	PRIMARY KEY(`entry_id`, `lot_id`)
) WITHOUT ROWID;
--> statement-breakpoint
INSERT INTO `credit_allocation_new` (`entry_id`, `lot_id`, `account`, `amount`, `ord`)
SELECT `entry_id`, `lot_id`, `account`, `amount`, `ord` FROM `credit_allocation`;
--> statement-breakpoint
DROP TABLE `credit_allocation`;
--> statement-breakpoint
ALTER TABLE `credit_allocation_new` RENAME TO `credit_allocation`;
