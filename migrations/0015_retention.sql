-- Retention (issue 15, CONTRACT §5 `[retention]`): the daily prune deletes old rows in small
-- transactions, and each must find its rows without scanning the table.
-- `fetches` gains ~1 M rows a day at 10,000 sources: the rows older than the limit are found
-- by their start time (one index entry more per request).
CREATE INDEX fetches_started ON fetches(started_at);
-- Deleting an article sets `share_links.article_id` to NULL (ON DELETE SET NULL): without an
-- index every deleted article would scan the whole share-link queue.
CREATE INDEX share_links_article ON share_links(article_id);
