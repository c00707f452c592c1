-- One row per infoCode, always (CONTRACT §6): when two rows turn out to be one article (a
-- url-keyed row learns the infoCode an `info:` row holds), they are merged and the key of
-- the row that went away is kept here, so later copies under either key land on the
-- merged row. Not part of the consumer contract; consumers see one `articles` row.
CREATE TABLE article_aliases (
    dedup_key  TEXT PRIMARY KEY,
    article_id INTEGER NOT NULL REFERENCES articles(id) ON DELETE CASCADE
) WITHOUT ROWID;
CREATE INDEX article_aliases_article ON article_aliases(article_id);
