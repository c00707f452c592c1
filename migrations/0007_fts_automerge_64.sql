-- The widest incremental merge FTS5 allows (issue 6): merging 64 segments at a time rewrites
-- each indexed term fewer times than 16 (0005) as the index grows. Cold 10,000-feed crawls,
-- interleaved runs on the same machine: 37-48 s instead of 50-55 s; a MATCH over the
-- resulting 188,000-article index costs the same (~10 ms a term). The crisis limit stays
-- four times the merge width, as 0006 set it, so no level is ever merged in one go.
INSERT INTO articles_fts(articles_fts, rank) VALUES ('automerge', 64);
INSERT INTO articles_fts(articles_fts, rank) VALUES ('crisismerge', 256);
