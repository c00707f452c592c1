-- Sightings for every source that found or queued a share link (CONTRACT §6 *Sightings*):
-- `share_links.source_id` is the first; this table holds them all, so that each gets its
-- sighting when the link's article is stored (or at once, when it already is).
CREATE TABLE share_link_sources (
    url       TEXT NOT NULL REFERENCES share_links(url) ON DELETE CASCADE,
    source_id INTEGER NOT NULL REFERENCES sources(id) ON DELETE CASCADE,
    added_at  TEXT NOT NULL,
    PRIMARY KEY (url, source_id)
) WITHOUT ROWID;
INSERT INTO share_link_sources (url, source_id, added_at)
SELECT url, source_id, added_at FROM share_links WHERE source_id IS NOT NULL;
