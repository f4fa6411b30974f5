CREATE TABLE `credit_alert` (
	`account` text NOT NULL,
	`low_balance` integer NOT NULL,
	`expiring_within_ms` integer NOT NULL,
	`above` integer NOT NULL,
	`set_by` integer NOT NULL,
	PRIMARY KEY(`account`, `low_balance`)
);
--> statement-breakpoint
CREATE TABLE `credit_event` (
	`id` integer PRIMARY KEY NOT NULL,
	`type` text NOT NULL,
	`account` text NOT NULL,
	`entry` integer,
	`ref` integer,
	`created_at` integer NOT NULL,
	`data` text NOT NULL,
	`dedupe` text
);
--> statement-breakpoint
CREATE INDEX `credit_event_type` ON `credit_event` (`type`,`id`);--> statement-breakpoint
CREATE UNIQUE INDEX `credit_event_dedupe` ON `credit_event` (`dedupe`) WHERE dedupe IS NOT NULL;--> statement-breakpoint
ALTER TABLE `credit_cap` ADD `warned_window` integer DEFAULT -1 NOT NULL;--> statement-breakpoint
ALTER TABLE `credit_cap` ADD `reached_window` integer DEFAULT -1 NOT NULL;