-- Article ids are never reused (CONTRACT §3). Without AUTOINCREMENT SQLite gives a new row
-- max(id) + 1, so deleting the newest article handed its id to the next one: below
-- `fts_progress.indexed_upto` it was never indexed, and its first UPDATE sent FTS a
-- 'delete' for text it never held. The table is rebuilt with the same columns and ids
-- (feedcrawler runs migrations with foreign keys off, so the rebuild does not cascade into
-- sightings or revisions, and checks them afterwards).

DROP TRIGGER articles_fts_delete;
DROP TRIGGER articles_fts_update;

CREATE TABLE articles_autoincrement (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    dedup_key       TEXT NOT NULL UNIQUE,
    info_code       TEXT UNIQUE,
    title           TEXT NOT NULL,
    url             TEXT,
    share_url       TEXT,
    published_at    TEXT,
    published_local TEXT,
    updated_at      TEXT,
    author          TEXT,
    media           TEXT,
    category        TEXT,
    tags            TEXT NOT NULL DEFAULT '[]',
    summary         TEXT,
    content_html    TEXT,
    content_text    TEXT,
    content_hash    TEXT,
    language        TEXT,
    revision        INTEGER NOT NULL DEFAULT 1,
    first_seen_at   TEXT NOT NULL,
    last_seen_at    TEXT NOT NULL,
    -- Merge state (CONTRACT §6), not part of the consumer contract:
    -- the rank of the stored content (3 full text, 2 feed content, 1 summary, 0 none)
    -- and the precision of the stored published time (0 date only … 4 offset + seconds).
    content_rank    INTEGER NOT NULL DEFAULT 0,
    time_precision  INTEGER,
    media_rank      INTEGER NOT NULL DEFAULT 0
);

INSERT INTO articles_autoincrement SELECT * FROM articles;
DROP TABLE articles;
ALTER TABLE articles_autoincrement RENAME TO articles;

CREATE INDEX articles_published_at ON articles(published_at);
CREATE INDEX articles_first_seen_at ON articles(first_seen_at);

-- Ids continue above every id ever given, including an indexed one since deleted (the copy
-- above left the sequence at max(id), or no row at all for an empty table).
DELETE FROM sqlite_sequence WHERE name = 'articles';
INSERT INTO sqlite_sequence (name, seq)
SELECT 'articles', max(coalesce((SELECT max(id) FROM articles), 0),
                       coalesce((SELECT indexed_upto FROM fts_progress), 0));

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
