-- The read API for consumers (issue 14, docs/schema.md): views that hide the merge state and
-- the internal tables, a change log for incremental consumers, and the indexes the cookbook
-- in docs/schema.md needs (each checked there with EXPLAIN QUERY PLAN).

-- Newest articles of an outlet: `WHERE media = ? ORDER BY published_at DESC LIMIT n` walks
-- this index backwards and stops after n rows (without it: a scan of every article).
CREATE INDEX articles_media_published ON articles(media, published_at);

-- Incremental consumers. `last_seen_at` moves on every sighting (an unchanged copy seen
-- again), and the writer's times are taken when a transaction starts, not when it commits,
-- so "rows with a time above the last one I saw" can miss a transaction that started
-- earlier and committed later. A sequence number given inside the write transaction cannot:
-- writers are serialized, so every row with a seq at or below the highest one a reader sees
-- is already in its snapshot. One row per article (its latest change; a REPLACE moves it to
-- a new seq), so the table never grows beyond the number of articles ever stored.
-- `deleted = 1` is a tombstone: the row was merged into another article (CONTRACT §6) or
-- deleted; its `article_id` is never given again (0008).
CREATE TABLE article_changes (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    article_id INTEGER NOT NULL UNIQUE,
    changed_at TEXT NOT NULL,
    deleted    INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX article_changes_changed_at ON article_changes(changed_at);

INSERT INTO article_changes (article_id, changed_at)
SELECT id, last_seen_at FROM articles ORDER BY last_seen_at, id;

CREATE TRIGGER article_changes_insert AFTER INSERT ON articles BEGIN
    INSERT OR REPLACE INTO article_changes (article_id, changed_at, deleted)
    VALUES (new.id, new.last_seen_at, 0);
END;

-- A copy seen again only moves `last_seen_at` (a one-column UPDATE): that fires nothing, so
-- the busiest write of a crawl stays as cheap as before. Any other column that changes is a
-- change a consumer must see.
CREATE TRIGGER article_changes_update AFTER UPDATE OF
    dedup_key, info_code, title, url, share_url, published_at, published_local, updated_at,
    author, media, category, tags, summary, content_html, content_text, content_hash, language,
    revision ON articles
WHEN old.dedup_key IS NOT new.dedup_key OR old.info_code IS NOT new.info_code
  OR old.title IS NOT new.title OR old.url IS NOT new.url OR old.share_url IS NOT new.share_url
  OR old.published_at IS NOT new.published_at OR old.published_local IS NOT new.published_local
  OR old.updated_at IS NOT new.updated_at OR old.author IS NOT new.author
  OR old.media IS NOT new.media OR old.category IS NOT new.category OR old.tags IS NOT new.tags
  OR old.summary IS NOT new.summary OR old.content_html IS NOT new.content_html
  OR old.content_text IS NOT new.content_text OR old.content_hash IS NOT new.content_hash
  OR old.language IS NOT new.language OR old.revision IS NOT new.revision
BEGIN
    INSERT OR REPLACE INTO article_changes (article_id, changed_at, deleted)
    VALUES (new.id, new.last_seen_at, 0);
END;

CREATE TRIGGER article_changes_delete AFTER DELETE ON articles BEGIN
    INSERT OR REPLACE INTO article_changes (article_id, changed_at, deleted)
    VALUES (old.id, strftime('%Y-%m-%dT%H:%M:%SZ', 'now'), 1);
END;

-- A new source seeing an article changes `v_articles.sources`.
CREATE TRIGGER article_changes_sighting AFTER INSERT ON sightings BEGIN
    INSERT OR REPLACE INTO article_changes (article_id, changed_at, deleted)
    VALUES (new.article_id, new.last_seen_at, 0);
END;

-- Articles as consumers see them: the CONTRACT §3 columns without the merge state
-- (content_rank, time_precision, media_rank), with the names of the sources that saw each
-- one (a JSON array, sorted) and their number.
CREATE VIEW v_articles AS
SELECT a.id, a.dedup_key, a.info_code, a.title, a.url, a.share_url, a.published_at,
       a.published_local, a.updated_at, a.author, a.media, a.category, a.tags, a.summary,
       a.content_html, a.content_text, a.content_hash, a.language, a.revision,
       a.first_seen_at, a.last_seen_at,
       (SELECT json_group_array(name) FROM (
            SELECT s.name FROM sightings g JOIN sources s ON s.id = g.source_id
            WHERE g.article_id = a.id ORDER BY s.name)) AS sources,
       (SELECT count(*) FROM sightings g WHERE g.article_id = a.id) AS source_count
FROM articles a;

-- One row per source: its crawl state and what its requests of the last 24 hours did.
-- `health`: 'disabled' (not polled: removed from the config, or a 410), 'never polled',
-- 'failing' (the last poll failed), else 'ok'.
CREATE VIEW v_source_health AS
SELECT s.id, s.name, s.type, s.url, s.enabled, s.disabled_reason,
       CASE WHEN NOT s.enabled THEN 'disabled'
            WHEN s.last_polled_at IS NULL THEN 'never polled'
            WHEN s.consecutive_failures > 0 THEN 'failing'
            ELSE 'ok' END AS health,
       s.last_polled_at, s.next_poll_at, s.last_status, s.last_error, s.consecutive_failures,
       s.articles_found,
       (SELECT count(*) FROM sightings g WHERE g.source_id = s.id) AS articles_seen,
       (SELECT max(f.started_at) FROM fetches f
         WHERE f.source_id = s.id AND f.error IS NULL AND f.status < 400) AS last_success_at,
       (SELECT count(*) FROM fetches f
         WHERE f.source_id = s.id
           AND f.started_at >= strftime('%Y-%m-%dT%H:%M:%SZ', 'now', '-1 day')) AS fetches_24h,
       (SELECT count(*) FROM fetches f
         WHERE f.source_id = s.id
           AND f.started_at >= strftime('%Y-%m-%dT%H:%M:%SZ', 'now', '-1 day')
           AND (f.error IS NOT NULL OR f.status >= 400)) AS failures_24h
FROM sources s;

-- Every version of every article's text: the replaced ones (article_revisions) and the
-- current one (`replaced_at` NULL, `current` 1).
CREATE VIEW v_article_revisions AS
SELECT r.article_id, r.revision, r.content_text, r.content_hash, r.replaced_at, 0 AS current
FROM article_revisions r
UNION ALL
SELECT a.id, a.revision, a.content_text, a.content_hash, NULL, 1
FROM articles a;

-- The change log with each article's current title (NULL for a tombstone).
CREATE VIEW v_article_changes AS
SELECT c.seq, c.article_id, c.changed_at, c.deleted, a.title, a.revision, a.last_seen_at
FROM article_changes c LEFT JOIN articles a ON a.id = c.article_id;
