-- Notifications owed for new articles (CONTRACT §5 `[[notify]]`): one row per [[notify]]
-- name and article, inserted in the same transaction as the article itself, so that an
-- article stored is an article whose notifications are owed, across restarts and kill -9.
-- A delivery in flight when the process dies is still `pending` and is made again
-- (at-least-once). Not part of the consumer contract, but readable: `notify status` counts it.
CREATE TABLE notifications (
    id              INTEGER PRIMARY KEY,
    -- `[[notify]] name`.
    notify          TEXT NOT NULL,
    article_id      INTEGER NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
    state           TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    -- NULL: due now.
    next_attempt_at TEXT,
    last_error      TEXT,
    -- exec: the exit status of the last run; webhook: the last HTTP status.
    last_status     INTEGER,
    added_at        TEXT NOT NULL,
    done_at         TEXT,
    UNIQUE (notify, article_id)
);
CREATE INDEX notifications_due ON notifications(state, next_attempt_at);
CREATE INDEX notifications_article ON notifications(article_id);
