-- Items of a fetched document that did not become articles, and why (issue 13: a document
-- never yields fewer entries silently). Counted on the request that delivered the body.
ALTER TABLE fetches ADD COLUMN entries_skipped INTEGER NOT NULL DEFAULT 0;
ALTER TABLE fetches ADD COLUMN skip_reason TEXT;
