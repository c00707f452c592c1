-- Second requests are durable (CONTRACT §6): the article page (`full_text`, HTML lists) or
-- detail body (JSON `detail_url`) that a listed entry needs is a job here, recorded in the
-- same transaction as the entry and before the source's new validators, and retried (5
-- attempts, backoff, host pauses) until done or failed — across 304s, 429s, SIGTERM,
-- restarts and kill -9. Not part of the consumer contract.
CREATE TABLE page_jobs (
    id              INTEGER PRIMARY KEY,
    kind            TEXT NOT NULL CHECK (kind IN ('page', 'detail')),
    -- The listed copy's dedup_key: the article the response completes.
    article_key     TEXT NOT NULL,
    url             TEXT NOT NULL,
    -- detail: the JSON pointer of the body.
    pointer         TEXT,
    -- The listed copy's title, link, infoCode and share link (what the page copy keeps).
    title           TEXT NOT NULL,
    link            TEXT,
    info_code       TEXT,
    share_url       TEXT,
    source_id       INTEGER REFERENCES sources(id) ON DELETE SET NULL,
    state           TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'done', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT,
    next_attempt_at TEXT,
    added_at        TEXT NOT NULL,
    done_at         TEXT,
    UNIQUE (kind, article_key)
);
CREATE INDEX page_jobs_due ON page_jobs(state, next_attempt_at);
