-- With `automerge = 16` (0005) every level reached FTS5's default `crisismerge` of 16 segments
-- at once and was merged in one go: on a 188,000-article index one indexing pass took ~3 s
-- instead of ~0.15 s, and the crawl waited for the writer meanwhile. With the crisis limit
-- well above the automerge width, merging stays incremental: a little after every pass.
INSERT INTO articles_fts(articles_fts, rank) VALUES ('crisismerge', 64);
