-- The search index is filled in bulk by the crawler's writer, seconds behind the crawl,
-- instead of row by row from a trigger (issue 6): FTS5 writes one segment per
-- transaction, and the trigram index of many small transactions cost more than the
-- rest of the crawl together. `fts_progress.indexed_upto` is the highest `articles.id`
-- in the index; rows above it are indexed by the next bulk pass (at the latest when the
-- writer is idle for a moment or stops, so the index is complete when `once` ends).
-- Updates and deletes of indexed rows still keep the index in step through triggers.
DROP TRIGGER articles_fts_insert;
DROP TRIGGER articles_fts_delete;
DROP TRIGGER articles_fts_update;

CREATE TABLE fts_progress (
    id           INTEGER PRIMARY KEY CHECK (id = 1),
    indexed_upto INTEGER NOT NULL
);
INSERT INTO fts_progress (id, indexed_upto) SELECT 1, coalesce(max(id), 0) FROM articles;

CREATE TRIGGER articles_fts_delete AFTER DELETE ON articles
WHEN old.id <= (SELECT indexed_upto FROM fts_progress) BEGIN
    INSERT INTO articles_fts(articles_fts, rowid, title, content_text)
    VALUES ('delete', old.id, old.title, coalesce(old.content_text, ''));
END;

CREATE TRIGGER articles_fts_update AFTER UPDATE OF title, content_text ON articles
WHEN old.id <= (SELECT indexed_upto FROM fts_progress)
     AND (old.title IS NOT new.title OR old.content_text IS NOT new.content_text) BEGIN
    INSERT INTO articles_fts(articles_fts, rowid, title, content_text)
    VALUES ('delete', old.id, old.title, coalesce(old.content_text, ''));
    INSERT INTO articles_fts(rowid, title, content_text)
    VALUES (new.id, new.title, coalesce(new.content_text, ''));
END;
