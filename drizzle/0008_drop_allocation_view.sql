-- Custom SQL migration: the credit_allocation view (0007) goes. drizzle-kit 0.31 push/pull
-- cannot parse a view whose SELECT spans lines ("Could not process view"), which broke
-- them on every migrated database, including an app's own drizzle-kit on the same file.
-- Allocations are read from credit_entry.allocations with json_each (ledger.allocations).
DROP VIEW IF EXISTS `credit_allocation`;
