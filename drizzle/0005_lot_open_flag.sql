DROP INDEX `credit_lot_open`;--> statement-breakpoint
DROP INDEX `credit_lot_lapsing`;--> statement-breakpoint
ALTER TABLE `credit_lot` ADD `open` integer DEFAULT 1 NOT NULL;--> statement-breakpoint
CREATE INDEX `credit_lot_open` ON `credit_lot` (`account`,`expires_at`) WHERE open = 1;--> statement-breakpoint
CREATE INDEX `credit_lot_lapsing` ON `credit_lot` (`expires_at`) WHERE open = 1 AND expires_at IS NOT NULL;