-- Custom SQL migration: credit_lot.remaining is a cache of amount − Σ credit_allocation.amount.
-- A trigger keeps it so inside the statement that records an allocation, so no unit can
-- record a draw (or a give-back, or an expiry) without applying it, and each unit sends
-- one statement fewer.
CREATE TRIGGER `credit_allocation_applies` AFTER INSERT ON `credit_allocation`
BEGIN
  UPDATE `credit_lot` SET `remaining` = `remaining` - NEW.`amount` WHERE `id` = NEW.`lot_id`;
END;
