CREATE TABLE `credit_delivery` (
	`webhook` text NOT NULL,
	`event` integer NOT NULL,
	`status` text NOT NULL,
	`attempts` integer NOT NULL,
	`retries_from` integer NOT NULL,
	`next_at` integer NOT NULL,
	`claim` text,
	`claim_until` integer,
	`last_status` integer,
	`last_error` text,
	`created_at` integer NOT NULL,
	`delivered_at` integer,
	PRIMARY KEY(`webhook`, `event`)
);
--> statement-breakpoint
CREATE INDEX `credit_delivery_due` ON `credit_delivery` (`next_at`) WHERE status = 'pending';--> statement-breakpoint
CREATE INDEX `credit_delivery_claim` ON `credit_delivery` (`claim`) WHERE claim IS NOT NULL;--> statement-breakpoint
CREATE INDEX `credit_delivery_event` ON `credit_delivery` (`event`);--> statement-breakpoint
CREATE TABLE `credit_delivery_attempt` (
	`webhook` text NOT NULL,
	`event` integer NOT NULL,
	`attempt` integer NOT NULL,
	`started_at` integer NOT NULL,
	`duration_ms` integer,
	`status` integer,
	`error` text,
	`outcome` text NOT NULL,
	PRIMARY KEY(`webhook`, `event`, `attempt`)
);
--> statement-breakpoint
CREATE INDEX `credit_delivery_attempt_event` ON `credit_delivery_attempt` (`event`);--> statement-breakpoint
CREATE TABLE `credit_webhook` (
	`id` text PRIMARY KEY NOT NULL,
	`url` text NOT NULL,
	`types` text,
	`secret` text NOT NULL,
	`status` text NOT NULL,
	`disabled_reason` text,
	`disabled_at` integer,
	`cursor` integer NOT NULL,
	`created_at` integer NOT NULL
);
