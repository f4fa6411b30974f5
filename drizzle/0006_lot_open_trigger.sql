-- Custom SQL migration: the allocation trigger also keeps credit_lot.open = (remaining > 0),
-- writing it only when a lot crosses zero (so the partial indexes on `open` are touched
-- then, not on every draw). Existing lots are brought in line first.
UPDATE `credit_lot` SET `open` = (`remaining` > 0);
--> statement-breakpoint
DROP TRIGGER `credit_allocation_applies`;
--> statement-breakpoint
CREATE TRIGGER `credit_allocation_applies` AFTER INSERT ON `credit_allocation`
BEGIN
  UPDATE `credit_lot` SET `remaining` = `remaining` - NEW.`amount` WHERE `id` = NEW.`lot_id`;
  UPDATE `credit_lot` SET `open` = (`remaining` > 0) WHERE `id` = NEW.`lot_id` AND `open` <> (`remaining` > 0);
END;
