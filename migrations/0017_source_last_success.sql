-- `feedcrawler sources` shows when a source last polled successfully (issue 15), which
-- `last_polled_at` alone cannot tell once it fails. Kept by a trigger so that every path
-- that records a successful poll (consecutive_failures back to 0 with a new
-- last_polled_at: fetched, 304, listed) keeps it without each naming the column.
ALTER TABLE sources ADD COLUMN last_success_at TEXT;
UPDATE sources SET last_success_at = last_polled_at
 WHERE consecutive_failures = 0 AND last_polled_at IS NOT NULL;
CREATE TRIGGER sources_last_success AFTER UPDATE OF last_polled_at ON sources
WHEN NEW.consecutive_failures = 0 AND NEW.last_polled_at IS NOT NULL
     AND NEW.last_polled_at IS NOT OLD.last_polled_at
BEGIN
    UPDATE sources SET last_success_at = NEW.last_polled_at WHERE id = NEW.id;
END;
