CREATE TABLE `credit_entry` (
	`id` text PRIMARY KEY NOT NULL,
	`account` text NOT NULL,
	`seq` integer NOT NULL,
	`kind` text NOT NULL,
	`delta` integer NOT NULL,
	`amount` integer NOT NULL,
	`balance` integer NOT NULL,
	`reason` text,
	`idempotency_key` text,
	`ref` text,
	`model` text,
	`key_id` text,
	`actor` text,
	`metadata` text,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `credit_entry_account_seq` ON `credit_entry` (`account`,`seq`);--> statement-breakpoint
CREATE UNIQUE INDEX `credit_entry_idempotency` ON `credit_entry` (`account`,`kind`,`idempotency_key`) WHERE idempotency_key IS NOT NULL;--> statement-breakpoint
CREATE INDEX `credit_entry_ref` ON `credit_entry` (`ref`) WHERE ref IS NOT NULL;--> statement-breakpoint
CREATE INDEX `credit_entry_key_time` ON `credit_entry` (`key_id`,`created_at`) WHERE key_id IS NOT NULL;--> statement-breakpoint
CREATE INDEX `credit_entry_created_at` ON `credit_entry` (`created_at`);