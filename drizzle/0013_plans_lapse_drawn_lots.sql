-- Custom SQL migration: an immediate change and a cancellation now end ALL the allowance and
-- rollover lots of the terms in force, not only those with credits left (`open` = 1, as in
-- 0011): a lot drawn to zero keeps its row, and a refund of the debit that drew it gives its
-- credits back to it — they must have lapsed with the terms, not be spendable until the end
-- of the period. The lots are found by their grants' keys (`$allowance:<terms>:…`,
-- `$rollover:<terms>:…`: two ranges of the unique key index), since every index on
-- credit_lot covers open lots only.
DROP TRIGGER `credit_entry_changes_plan`;
--> statement-breakpoint
CREATE TRIGGER `credit_entry_changes_plan` AFTER INSERT ON `credit_entry` WHEN NEW.`kind` = 'plan_change'
BEGIN
  UPDATE `credit_lot` SET `expires_at` = NEW.`created_at`
  WHERE json_extract(NEW.`metadata`, '$.proration') = 'immediate' AND `expires_at` > NEW.`created_at`
    AND `id` IN (
      SELECT e.`pos` FROM `credit_entry` AS e WHERE e.`account` = NEW.`account` AND e.`kind` = 'grant' AND e.`idempotency_key` IS NOT NULL
        AND e.`idempotency_key` >= '$allowance:' || json_extract(NEW.`metadata`, '$.terms') || ':'
        AND e.`idempotency_key` < '$allowance:' || json_extract(NEW.`metadata`, '$.terms') || ';'
      UNION ALL
      SELECT e.`pos` FROM `credit_entry` AS e WHERE e.`account` = NEW.`account` AND e.`kind` = 'grant' AND e.`idempotency_key` IS NOT NULL
        AND e.`idempotency_key` >= '$rollover:' || json_extract(NEW.`metadata`, '$.terms') || ':'
        AND e.`idempotency_key` < '$rollover:' || json_extract(NEW.`metadata`, '$.terms') || ';');
  UPDATE `credit_subscription` SET `plan_id` = json_extract(NEW.`metadata`, '$.plan'), `version` = json_extract(NEW.`metadata`, '$.version'),
    `terms_pos` = NEW.`pos`, `anchor` = json_extract(NEW.`metadata`, '$.anchor'), `since` = NEW.`created_at`, `cancel_at` = NULL,
    `next_plan_id` = NULL, `next_version` = NULL, `next_pos` = NULL, `next_anchor` = NULL, `next_at` = NULL, `due_at` = NEW.`created_at`
  WHERE `account` = NEW.`account` AND json_extract(NEW.`metadata`, '$.proration') = 'immediate';
  UPDATE `credit_subscription` SET `cancel_at` = NULL, `next_plan_id` = json_extract(NEW.`metadata`, '$.plan'),
    `next_version` = json_extract(NEW.`metadata`, '$.version'), `next_pos` = NEW.`pos`, `next_anchor` = json_extract(NEW.`metadata`, '$.anchor'),
    `next_at` = json_extract(NEW.`metadata`, '$.at'),
    `due_at` = MIN(COALESCE(`due_at`, json_extract(NEW.`metadata`, '$.at')), json_extract(NEW.`metadata`, '$.at'))
  WHERE `account` = NEW.`account` AND json_extract(NEW.`metadata`, '$.proration') = 'next_period';
END;
--> statement-breakpoint
DROP TRIGGER `credit_entry_cancels_plan`;
--> statement-breakpoint
CREATE TRIGGER `credit_entry_cancels_plan` AFTER INSERT ON `credit_entry` WHEN NEW.`kind` = 'plan_cancel'
BEGIN
  UPDATE `credit_lot` SET `expires_at` = NEW.`created_at`
  WHERE json_extract(NEW.`metadata`, '$.when') = 'now' AND `expires_at` > NEW.`created_at`
    AND `id` IN (
      SELECT e.`pos` FROM `credit_entry` AS e WHERE e.`account` = NEW.`account` AND e.`kind` = 'grant' AND e.`idempotency_key` IS NOT NULL
        AND e.`idempotency_key` >= '$allowance:' || json_extract(NEW.`metadata`, '$.terms') || ':'
        AND e.`idempotency_key` < '$allowance:' || json_extract(NEW.`metadata`, '$.terms') || ';'
      UNION ALL
      SELECT e.`pos` FROM `credit_entry` AS e WHERE e.`account` = NEW.`account` AND e.`kind` = 'grant' AND e.`idempotency_key` IS NOT NULL
        AND e.`idempotency_key` >= '$rollover:' || json_extract(NEW.`metadata`, '$.terms') || ':'
        AND e.`idempotency_key` < '$rollover:' || json_extract(NEW.`metadata`, '$.terms') || ';');
  UPDATE `credit_subscription` SET `cancel_at` = json_extract(NEW.`metadata`, '$.at'), `next_plan_id` = NULL, `next_version` = NULL,
    `next_pos` = NULL, `next_anchor` = NULL, `next_at` = NULL,
    `due_at` = CASE WHEN json_extract(NEW.`metadata`, '$.when') = 'now' THEN NULL
                    ELSE MIN(COALESCE(`due_at`, json_extract(NEW.`metadata`, '$.at')), json_extract(NEW.`metadata`, '$.at')) END
  WHERE `account` = NEW.`account`;
END;
