-- Two-character Chinese words (股市, 银行) for search (issue 14): the trigram index
-- (`articles_fts`) never matches fewer than three characters. `articles_bigrams` holds the
-- overlapping pairs of every run of CJK ideographs, split by the writer (the text
-- "A股股市" is indexed as "股股 股市"), so a two-character word is one token:
--   SELECT a.published_at, a.title FROM articles_bigrams b
--   JOIN article_bigram_docs d ON d.doc = b.rowid JOIN articles a ON a.id = d.article_id
--   WHERE articles_bigrams MATCH '股市' ORDER BY a.published_at DESC LIMIT 20;
-- Contentless (the text is in `articles`) and `detail=none` (single tokens need no
-- positions; longer words go to the trigram index): ~10 % of the trigram index's size and
-- about half its build time (docs/search.md). It works with any SQLite that has FTS5
-- (`contentless_delete`, SQLite 3.43+, is not used so that Debian 12's sqlite3 reads it).
-- The `ascii` tokenizer splits at the spaces between pairs: unicode61's per-character
-- category lookups, folding and diacritic removal cost the writer ~6 % of a cold crawl.
CREATE VIRTUAL TABLE articles_bigrams USING fts5(
    title, content_text,
    content = '', detail = none, tokenize = 'ascii'
);
INSERT INTO articles_bigrams(articles_bigrams, rank) VALUES ('automerge', 64);
INSERT INTO articles_bigrams(articles_bigrams, rank) VALUES ('crisismerge', 256);

-- Which article an index document is. A contentless table cannot drop a document without
-- its old tokens, which SQL alone cannot compute; so an edited article is indexed again as
-- a new document and its old one is unlinked here (its tokens stay in the index, matching
-- no article). AUTOINCREMENT: a document number is never given twice.
CREATE TABLE article_bigram_docs (
    doc        INTEGER PRIMARY KEY AUTOINCREMENT,
    article_id INTEGER NOT NULL UNIQUE REFERENCES articles(id) ON DELETE CASCADE
);

-- Articles whose indexed text changed, to be indexed again by the writer's next pass.
CREATE TABLE article_bigram_redo (
    article_id INTEGER PRIMARY KEY
);

-- Rows up to `bigrams_upto` have been split into the bigram index; the writer catches up
-- from 0 on an existing database (searches cover the rest by scanning it meanwhile).
ALTER TABLE fts_progress ADD COLUMN bigrams_upto INTEGER NOT NULL DEFAULT 0;

CREATE TRIGGER articles_bigrams_delete AFTER DELETE ON articles BEGIN
    DELETE FROM article_bigram_docs WHERE article_id = old.id;
    DELETE FROM article_bigram_redo WHERE article_id = old.id;
END;

CREATE TRIGGER articles_bigrams_update AFTER UPDATE OF title, content_text ON articles
WHEN old.id <= (SELECT bigrams_upto FROM fts_progress)
     AND (old.title IS NOT new.title OR old.content_text IS NOT new.content_text) BEGIN
    DELETE FROM article_bigram_docs WHERE article_id = old.id;
    INSERT OR IGNORE INTO article_bigram_redo (article_id) VALUES (new.id);
END;
