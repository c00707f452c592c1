-- feedcrawler schema, CONTRACT §3. Times are TEXT RFC 3339 UTC ending in Z; JSON arrays are TEXT.

CREATE TABLE sources (
    id                   INTEGER PRIMARY KEY,
    name                 TEXT NOT NULL UNIQUE,
    type                 TEXT NOT NULL,
    url                  TEXT,
    enabled              INTEGER NOT NULL DEFAULT 1,
    etag                 TEXT,
    last_modified        TEXT,
    last_polled_at       TEXT,
    next_poll_at         TEXT,
    last_status          INTEGER,
    last_error           TEXT,
    consecutive_failures INTEGER NOT NULL DEFAULT 0,
    articles_found       INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE articles (
    id              INTEGER PRIMARY KEY,
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
CREATE INDEX articles_published_at ON articles(published_at);
CREATE INDEX articles_first_seen_at ON articles(first_seen_at);

CREATE TABLE sightings (
    article_id    INTEGER NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
    source_id     INTEGER NOT NULL REFERENCES sources(id) ON DELETE CASCADE,
    entry_guid    TEXT,
    entry_url     TEXT,
    first_seen_at TEXT NOT NULL,
    last_seen_at  TEXT NOT NULL,
    PRIMARY KEY (article_id, source_id)
) WITHOUT ROWID;
CREATE INDEX sightings_source ON sightings(source_id);

CREATE TABLE fetches (
    id           INTEGER PRIMARY KEY,
    source_id    INTEGER REFERENCES sources(id) ON DELETE SET NULL,
    url          TEXT NOT NULL,
    started_at   TEXT NOT NULL,
    duration_ms  INTEGER NOT NULL,
    status       INTEGER,
    bytes        INTEGER NOT NULL DEFAULT 0,
    not_modified INTEGER NOT NULL DEFAULT 0,
    new_articles INTEGER NOT NULL DEFAULT 0,
    error        TEXT
);
CREATE INDEX fetches_source_started ON fetches(source_id, started_at);

CREATE TABLE share_links (
    url        TEXT NOT NULL UNIQUE,
    info_code  TEXT,
    source_id  INTEGER REFERENCES sources(id) ON DELETE SET NULL,
    state      TEXT NOT NULL DEFAULT 'pending'
               CHECK (state IN ('pending', 'done', 'failed', 'skipped')),
    attempts   INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    added_at   TEXT NOT NULL,
    fetched_at TEXT,
    article_id INTEGER REFERENCES articles(id) ON DELETE SET NULL
);
CREATE INDEX share_links_state ON share_links(state);

-- Full-text search over title and content_text. External content keeps one copy of the
-- text (in `articles`); the trigram tokenizer makes any 3+ character Chinese substring match.
CREATE VIRTUAL TABLE articles_fts USING fts5(
    title, content_text,
    content = 'articles', content_rowid = 'id',
    tokenize = 'trigram'
);

CREATE TRIGGER articles_fts_insert AFTER INSERT ON articles BEGIN
    INSERT INTO articles_fts(rowid, title, content_text)
    VALUES (new.id, new.title, coalesce(new.content_text, ''));
END;

CREATE TRIGGER articles_fts_delete AFTER DELETE ON articles BEGIN
    INSERT INTO articles_fts(articles_fts, rowid, title, content_text)
    VALUES ('delete', old.id, old.title, coalesce(old.content_text, ''));
END;

-- Only a change of the indexed text touches the index: a sighting that merely bumps
-- last_seen_at must stay cheap.
CREATE TRIGGER articles_fts_update AFTER UPDATE OF title, content_text ON articles
WHEN old.title IS NOT new.title OR old.content_text IS NOT new.content_text BEGIN
    INSERT INTO articles_fts(articles_fts, rowid, title, content_text)
    VALUES ('delete', old.id, old.title, coalesce(old.content_text, ''));
    INSERT INTO articles_fts(rowid, title, content_text)
    VALUES (new.id, new.title, coalesce(new.content_text, ''));
END;

-- Previous contents of an article, kept when a new revision replaces them.
CREATE TABLE article_revisions (
    article_id   INTEGER NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
    revision     INTEGER NOT NULL,
    content_html TEXT,
    content_text TEXT,
    content_hash TEXT,
    replaced_at  TEXT NOT NULL,
    PRIMARY KEY (article_id, revision)
) WITHOUT ROWID;
