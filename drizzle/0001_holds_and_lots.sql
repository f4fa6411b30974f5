CREATE TABLE `credit_allocation` (
	`entry_id` text NOT NULL,
	`lot_id` text NOT NULL,
	`account` text NOT NULL,
	`amount` integer NOT NULL,
	`ord` integer NOT NULL,
	PRIMARY KEY(`entry_id`, `lot_id`)
);
--> statement-breakpoint
CREATE INDEX `credit_allocation_lot` ON `credit_allocation` (`lot_id`);--> statement-breakpoint
CREATE TABLE `credit_hold` (
	`id` text PRIMARY KEY NOT NULL,
	`account` text NOT NULL,
	`amount` integer NOT NULL,
	`expires_at` integer NOT NULL,
	`status` text NOT NULL,
	`resolved_by` text,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `credit_hold_open` ON `credit_hold` (`account`,`expires_at`) WHERE status = 'open';--> statement-breakpoint
CREATE INDEX `credit_hold_lapsing` ON `credit_hold` (`expires_at`) WHERE status = 'open';--> statement-breakpoint
CREATE TABLE `credit_lot` (
	`id` text PRIMARY KEY NOT NULL,
	`account` text NOT NULL,
	`seq` integer NOT NULL,
	`amount` integer NOT NULL,
	`remaining` integer NOT NULL,
	`priority` integer NOT NULL,
	`expires_at` integer,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `credit_lot_open` ON `credit_lot` (`account`,`expires_at`) WHERE remaining > 0;--> statement-breakpoint
CREATE INDEX `credit_lot_lapsing` ON `credit_lot` (`expires_at`) WHERE remaining > 0 AND expires_at IS NOT NULL;--> statement-breakpoint
ALTER TABLE `credit_entry` ADD `expires_at` integer;--> statement-breakpoint
ALTER TABLE `credit_entry` ADD `priority` integer;