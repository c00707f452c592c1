-- FTS5 merges its index segments as it writes; with the default `automerge` of 4 the bulk
-- passes of a large crawl spent much of their time re-merging (fts5IndexMergeLevel in the
-- profile). Merging 16 segments at a time does less repeated work for the same index.
INSERT INTO articles_fts(articles_fts, rank) VALUES ('automerge', 16);
