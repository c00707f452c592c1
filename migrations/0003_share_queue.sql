-- The share-link queue's schedule (issue 5): when a pending link is tried next (retries
-- back off), which candidate URL served the article (re-read for corrections), and how
-- many of the `[share] recheck` ages have been done.
ALTER TABLE share_links ADD COLUMN next_attempt_at TEXT;
ALTER TABLE share_links ADD COLUMN page_url TEXT;
ALTER TABLE share_links ADD COLUMN rechecks INTEGER NOT NULL DEFAULT 0;
CREATE INDEX share_links_info_code ON share_links(info_code);
