//! SQLite: the connection, migrations, the writer loop and the read queries.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OpenFlags, OptionalExtension, Transaction, params};
use rusqlite_migration::{M, Migrations};
use tokio::sync::mpsc;

use super::{
    Command, CommitReport, DueShareLinks, FetchBatch, NewShareLink, ShareLinkJob, ShareLinkUpdate,
    ShareState, SourceOutcome, SourceSpec, SourceState, StoreError,
};
use crate::dates::{self, ParsedDate, Precision};
use crate::fetch::Validators;
use crate::merge;
use crate::normalize::{Article, Content, MediaRank};
use crate::sources::ContentRank;

/// The numbered files of `migrations/`, in order; the schema version is their count.
const MIGRATION_SQL: &[&str] = &[
    include_str!("../../migrations/0001_init.sql"),
    include_str!("../../migrations/0002_source_lifecycle.sql"),
    include_str!("../../migrations/0003_share_queue.sql"),
];

static MIGRATIONS: LazyLock<Migrations<'static>> =
    LazyLock::new(|| Migrations::new(MIGRATION_SQL.iter().map(|sql| M::up(sql)).collect()));

/// The newest schema version this binary knows.
fn known_version() -> usize {
    MIGRATION_SQL.len()
}

/// Where a batch's commit result goes.
type CommitReply = tokio::sync::oneshot::Sender<Result<CommitReport, StoreError>>;

/// One search hit: `(published_at, title, url)`.
pub type SearchHit = (Option<String>, String, Option<String>);

/// How many waiting batches one transaction may take.
const GROUP_COMMIT: usize = 64;

fn open_connection(path: &Path, flags: OpenFlags) -> Result<Connection, StoreError> {
    let sqlite = |source| StoreError::Sqlite {
        path: path.to_owned(),
        source,
    };
    let conn = Connection::open_with_flags(path, flags).map_err(sqlite)?;
    conn.busy_timeout(std::time::Duration::from_secs(10))
        .map_err(sqlite)?;
    conn.execute_batch("PRAGMA foreign_keys = ON;").map_err(sqlite)?;
    Ok(conn)
}

/// The writer's side: owns the read-write connection.
pub(super) struct Writer {
    path: PathBuf,
    conn: Connection,
}

impl Writer {
    /// Opens the database read-write, sets WAL and applies migrations.
    pub(super) fn open(path: &Path) -> Result<Writer, StoreError> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|source| StoreError::CreateDir {
                path: path.to_owned(),
                source,
            })?;
        }
        let mut conn = open_connection(path, OpenFlags::default())?;
        let sqlite = |source| StoreError::Sqlite {
            path: path.to_owned(),
            source,
        };
        conn.execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;")
            .map_err(sqlite)?;
        let found: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(sqlite)?;
        if found > known_version() as i64 {
            return Err(StoreError::TooNew {
                path: path.to_owned(),
                found,
                known: known_version(),
            });
        }
        MIGRATIONS
            .to_latest(&mut conn)
            .map_err(|e| StoreError::Migration {
                path: path.to_owned(),
                message: e.to_string(),
            })?;
        Ok(Writer {
            path: path.to_owned(),
            conn,
        })
    }

    /// Queues share links (`url`, infoCode) as `pending`; a URL already queued is left as
    /// it is. Returns how many were new.
    pub(super) fn add_share_links(
        &mut self,
        links: &[(String, Option<String>)],
    ) -> Result<usize, StoreError> {
        let now = dates::format_utc(Utc::now());
        let result = (|| {
            let tx = self.conn.transaction()?;
            let mut added = 0;
            {
                let mut insert = tx.prepare_cached(
                    "INSERT INTO share_links (url, info_code, state, attempts, added_at)
                     VALUES (?1, ?2, 'pending', 0, ?3) ON CONFLICT(url) DO NOTHING",
                )?;
                for (url, info_code) in links {
                    added += insert.execute(params![url, info_code, now])?;
                }
            }
            tx.commit()?;
            Ok(added)
        })();
        result.map_err(|e| self.sqlite(e))
    }

    pub(super) fn schema_version(&self) -> usize {
        self.conn
            .query_row("PRAGMA user_version", [], |r| r.get::<_, i64>(0))
            .map(|v| v as usize)
            .unwrap_or(0)
    }

    fn sqlite(&self, source: rusqlite::Error) -> StoreError {
        StoreError::Sqlite {
            path: self.path.clone(),
            source,
        }
    }

    /// The writer loop: runs until every sender is dropped and the queue is empty.
    pub(super) fn run(mut self, mut receiver: mpsc::Receiver<Command>) {
        let mut next = receiver.blocking_recv();
        while let Some(command) = next.take() {
            match command {
                Command::Commit(batch, reply) => {
                    // Group commit: every batch already waiting joins this transaction.
                    let mut group = vec![(batch, reply)];
                    while group.len() < GROUP_COMMIT {
                        match receiver.try_recv() {
                            Ok(Command::Commit(batch, reply)) => group.push((batch, reply)),
                            Ok(other) => {
                                next = Some(other);
                                break;
                            }
                            Err(_) => break,
                        }
                    }
                    self.commit_group(group);
                }
                Command::SyncSources(specs, reply) => {
                    let _ = reply.send(self.sync_sources(&specs));
                }
                Command::FullText(keys, reply) => {
                    let _ = reply.send(self.with_full_text(&keys).map_err(|e| self.sqlite(e)));
                }
                Command::NextShareAttempt(reply) => {
                    let next = self
                        .conn
                        .query_row(
                            "SELECT min(coalesce(next_attempt_at, '')) FROM share_links WHERE state = 'pending'",
                            [],
                            |r| r.get::<_, Option<String>>(0),
                        )
                        .map(|at| at.map(|at| parse_utc(&at).unwrap_or_else(Utc::now)))
                        .map_err(|e| self.sqlite(e));
                    let _ = reply.send(next);
                }
                Command::DueShareLinks(question, reply) => {
                    let _ = reply.send(self.due_share_links(&question).map_err(|e| self.sqlite(e)));
                }
            }
            if next.is_none() {
                next = receiver.blocking_recv();
            }
        }
        if let Err(e) = self.conn.execute_batch("PRAGMA optimize;") {
            tracing::debug!(error = %e, "PRAGMA optimize failed");
        }
    }

    fn with_full_text(&self, keys: &[String]) -> rusqlite::Result<HashSet<String>> {
        let mut found = HashSet::new();
        let mut stmt = self
            .conn
            .prepare_cached("SELECT 1 FROM articles WHERE dedup_key = ?1 AND content_rank >= 3")?;
        for key in keys {
            if stmt.exists([key])? {
                found.insert(key.clone());
            }
        }
        Ok(found)
    }

    fn due_share_links(&self, question: &DueShareLinks) -> rusqlite::Result<Vec<ShareLinkJob>> {
        let now = dates::format_utc(question.now);
        let mut jobs: Vec<ShareLinkJob> = {
            let mut pending = self.conn.prepare_cached(
                "SELECT url, info_code, source_id, attempts FROM share_links
                 WHERE state = 'pending' AND (next_attempt_at IS NULL OR next_attempt_at <= ?1)
                 ORDER BY added_at LIMIT ?2",
            )?;
            pending
                .query_map(params![now, question.limit as i64], |r| {
                    Ok(ShareLinkJob {
                        url: r.get(0)?,
                        info_code: r.get(1)?,
                        source_id: r.get(2)?,
                        attempts: r.get(3)?,
                        recheck_page: None,
                        rechecks: 0,
                    })
                })?
                .collect::<rusqlite::Result<_>>()?
        };
        // A done link is re-read at each `[share] recheck` age, counted from its fetch.
        for (index, age) in question.recheck.iter().enumerate() {
            if jobs.len() >= question.limit {
                break;
            }
            let cutoff = dates::format_utc(
                question.now - chrono::Duration::from_std(*age).unwrap_or(chrono::Duration::MAX),
            );
            let mut due = self.conn.prepare_cached(
                "SELECT url, info_code, source_id, attempts, page_url, rechecks FROM share_links
                 WHERE state = 'done' AND page_url IS NOT NULL AND rechecks = ?1 AND fetched_at <= ?2
                 ORDER BY fetched_at LIMIT ?3",
            )?;
            let rows = due.query_map(
                params![index as i64, cutoff, (question.limit - jobs.len()) as i64],
                |r| {
                    Ok(ShareLinkJob {
                        url: r.get(0)?,
                        info_code: r.get(1)?,
                        source_id: r.get(2)?,
                        attempts: r.get(3)?,
                        recheck_page: r.get(4)?,
                        rechecks: r.get(5)?,
                    })
                },
            )?;
            for row in rows {
                jobs.push(row?);
            }
        }
        Ok(jobs)
    }

    fn commit_group(&mut self, group: Vec<(Box<FetchBatch>, CommitReply)>) {
        let now = dates::format_utc(Utc::now());
        let result = (|| {
            let tx = self.conn.transaction()?;
            let mut reports = Vec::with_capacity(group.len());
            for (batch, _) in &group {
                reports.push(commit_batch(&tx, batch, &now)?);
            }
            tx.commit()?;
            Ok::<_, rusqlite::Error>(reports)
        })();
        match result {
            Ok(reports) => {
                for ((_, reply), report) in group.into_iter().zip(reports) {
                    let _ = reply.send(Ok(report));
                }
            }
            Err(e) => {
                tracing::error!(database = %self.path.display(), error = %e, "transaction rolled back");
                for (_, reply) in group {
                    let _ = reply.send(Err(StoreError::Sqlite {
                        path: self.path.clone(),
                        source: clone_error(&e),
                    }));
                }
            }
        }
    }

    fn sync_sources(&mut self, specs: &[SourceSpec]) -> Result<Vec<SourceState>, StoreError> {
        let result = (|| {
            let tx = self.conn.transaction()?;
            // Sources no longer configured stop being polled; their articles stay.
            tx.execute("UPDATE sources SET enabled = 0", [])?;
            let mut states = Vec::with_capacity(specs.len());
            {
                // An unchanged config entry keeps what the crawler learned (validators, a URL
                // moved by 301/308, a 410's disabling); a changed one starts afresh.
                let mut upsert = tx.prepare_cached(
                    "INSERT INTO sources (name, type, url, enabled, config_hash) VALUES (?1, ?2, ?3, ?4, ?5)
                     ON CONFLICT(name) DO UPDATE SET
                        type = excluded.type,
                        etag = CASE WHEN sources.config_hash IS excluded.config_hash THEN sources.etag END,
                        last_modified = CASE WHEN sources.config_hash IS excluded.config_hash
                                        THEN sources.last_modified END,
                        url = CASE WHEN sources.config_hash IS excluded.config_hash THEN sources.url
                              ELSE excluded.url END,
                        disabled_reason = CASE WHEN sources.config_hash IS excluded.config_hash
                                          THEN sources.disabled_reason END,
                        enabled = excluded.enabled AND (sources.config_hash IS NOT excluded.config_hash
                                                        OR sources.disabled_reason IS NULL),
                        config_hash = excluded.config_hash
                     RETURNING id, etag, last_modified, next_poll_at, consecutive_failures, url,
                               disabled_reason, poll_interval_secs",
                )?;
                for spec in specs {
                    let state = upsert.query_row(
                        params![spec.name, spec.kind, spec.url, spec.enabled, spec.config_hash],
                        |r| {
                            Ok(SourceState {
                                id: r.get(0)?,
                                name: spec.name.clone(),
                                validators: Validators {
                                    etag: r.get(1)?,
                                    last_modified: r.get(2)?,
                                },
                                next_poll_at: r.get::<_, Option<String>>(3)?.as_deref().and_then(parse_utc),
                                consecutive_failures: r.get(4)?,
                                url: r.get(5)?,
                                disabled_reason: r.get(6)?,
                                poll_interval: r
                                    .get::<_, Option<i64>>(7)?
                                    .map(|s| std::time::Duration::from_secs(s.max(0) as u64)),
                            })
                        },
                    )?;
                    states.push(state);
                }
            }
            tx.commit()?;
            Ok(states)
        })();
        result.map_err(|e| self.sqlite(e))
    }
}

/// rusqlite errors are not Clone; a grouped transaction reports its failure to every batch.
fn clone_error(e: &rusqlite::Error) -> rusqlite::Error {
    rusqlite::Error::ToSqlConversionFailure(e.to_string().into())
}

fn commit_batch(tx: &Transaction<'_>, batch: &FetchBatch, now: &str) -> rusqlite::Result<CommitReport> {
    let mut report = CommitReport::default();
    for article in &batch.articles {
        match upsert_article(tx, article, now)? {
            Upsert::New(id) => {
                report.new_articles += 1;
                upsert_sighting(tx, id, batch.source_id, article, now)?;
            }
            Upsert::Updated(id) => {
                report.updated_articles += 1;
                upsert_sighting(tx, id, batch.source_id, article, now)?;
            }
            Upsert::Unchanged(id) => {
                report.unchanged_articles += 1;
                upsert_sighting(tx, id, batch.source_id, article, now)?;
            }
        }
    }

    let mut insert_fetch = tx.prepare_cached(
        "INSERT INTO fetches (source_id, url, started_at, duration_ms, status, bytes, not_modified, new_articles, error)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?;
    let last = batch.attempts.len().saturating_sub(1);
    for (i, attempt) in batch.attempts.iter().enumerate() {
        // New articles belong to the request that delivered the body: the last hop.
        let new_articles = if i == last { report.new_articles } else { 0 };
        insert_fetch.execute(params![
            batch.source_id,
            attempt.url,
            dates::format_utc(attempt.started_at),
            attempt.duration.as_millis() as i64,
            attempt.status,
            attempt.bytes as i64,
            attempt.not_modified,
            new_articles as i64,
            attempt.error,
        ])?;
    }

    queue_share_links(tx, &batch.queue_links, now)?;
    for update in &batch.share_links {
        update_share_link(tx, update, batch.source_id, now)?;
    }

    if let (Some(source_id), Some(outcome)) = (batch.source_id, &batch.outcome) {
        let polled_at = dates::format_utc(batch.polled_at);
        let next_poll_at = batch.next_poll_at.map(dates::format_utc);
        if let Some(moved_to) = &batch.moved_to {
            tx.prepare_cached("UPDATE sources SET url = ?2 WHERE id = ?1")?
                .execute(params![source_id, moved_to])?;
        }
        if let Some(interval) = batch.poll_interval {
            tx.prepare_cached("UPDATE sources SET poll_interval_secs = ?2 WHERE id = ?1")?
                .execute(params![source_id, interval.as_secs() as i64])?;
        }
        match outcome {
            SourceOutcome::Fetched { status, validators } => {
                tx.prepare_cached(
                    "UPDATE sources SET last_polled_at = ?2, next_poll_at = ?3, last_status = ?4,
                        last_error = NULL, consecutive_failures = 0, etag = ?5, last_modified = ?6,
                        articles_found = articles_found + ?7
                     WHERE id = ?1",
                )?
                .execute(params![
                    source_id,
                    polled_at,
                    next_poll_at,
                    status,
                    validators.etag,
                    validators.last_modified,
                    report.new_articles as i64
                ])?;
            }
            SourceOutcome::NotModified => {
                tx.prepare_cached(
                    "UPDATE sources SET last_polled_at = ?2, next_poll_at = ?3, last_status = 304,
                        last_error = NULL, consecutive_failures = 0
                     WHERE id = ?1",
                )?
                .execute(params![source_id, polled_at, next_poll_at])?;
            }
            SourceOutcome::Deferred { .. } => {
                tx.prepare_cached("UPDATE sources SET next_poll_at = ?2 WHERE id = ?1")?
                    .execute(params![source_id, next_poll_at])?;
            }
            SourceOutcome::Listed => {
                tx.prepare_cached(
                    "UPDATE sources SET last_polled_at = ?2, next_poll_at = ?3, last_status = NULL,
                        last_error = NULL, consecutive_failures = 0
                     WHERE id = ?1",
                )?
                .execute(params![source_id, polled_at, next_poll_at])?;
            }
            SourceOutcome::Gone { error } => {
                tx.prepare_cached(
                    "UPDATE sources SET last_polled_at = ?2, next_poll_at = NULL, last_status = 410,
                        last_error = ?3, consecutive_failures = consecutive_failures + 1,
                        enabled = 0, disabled_reason = ?3
                     WHERE id = ?1",
                )?
                .execute(params![source_id, polled_at, error])?;
            }
            SourceOutcome::Failed { status, error } => {
                tx.prepare_cached(
                    "UPDATE sources SET last_polled_at = ?2, next_poll_at = ?3, last_status = ?4,
                        last_error = ?5, consecutive_failures = consecutive_failures + 1
                     WHERE id = ?1",
                )?
                .execute(params![source_id, polled_at, next_poll_at, status, error])?;
            }
        }
    }
    Ok(report)
}

fn queue_share_links(tx: &Transaction<'_>, links: &[NewShareLink], now: &str) -> rusqlite::Result<()> {
    let mut insert = tx.prepare_cached(
        "INSERT INTO share_links (url, info_code, source_id, state, attempts, last_error, added_at)
         VALUES (?1, ?2, ?3, ?4, 0, ?5, ?6) ON CONFLICT(url) DO NOTHING",
    )?;
    for link in links {
        insert.execute(params![
            link.url,
            link.info_code,
            link.source_id,
            link.state.as_str(),
            link.reason,
            now
        ])?;
    }
    Ok(())
}

fn update_share_link(
    tx: &Transaction<'_>,
    update: &ShareLinkUpdate,
    source_id: Option<i64>,
    now: &str,
) -> rusqlite::Result<()> {
    let article_id: Option<i64> = match &update.article_key {
        Some(key) => tx
            .prepare_cached("SELECT id FROM articles WHERE dedup_key = ?1")?
            .query_row([key], |r| r.get(0))
            .optional()?,
        None => None,
    };
    let fetched_at = (update.state == ShareState::Done && !update.rechecked).then_some(now);
    tx.prepare_cached(
        "UPDATE share_links SET state = ?2, attempts = attempts + ?3, last_error = ?4,
            next_attempt_at = ?5, page_url = coalesce(?6, page_url),
            fetched_at = coalesce(?7, fetched_at), article_id = coalesce(?8, article_id),
            rechecks = rechecks + ?9
         WHERE url = ?1",
    )?
    .execute(params![
        update.url,
        update.state.as_str(),
        i64::from(update.attempted),
        update.error,
        update.next_attempt_at.map(dates::format_utc),
        update.page_url,
        fetched_at,
        article_id,
        i64::from(update.rechecked),
    ])?;
    if update.touch_article
        && let Some(article_id) = article_id
    {
        tx.prepare_cached(
            "UPDATE articles SET share_url = coalesce(share_url, ?2), last_seen_at = ?3 WHERE id = ?1",
        )?
        .execute(params![article_id, update.url, now])?;
        if let Some(source_id) = source_id {
            tx.prepare_cached(
                "INSERT INTO sightings (article_id, source_id, entry_url, first_seen_at, last_seen_at)
                 VALUES (?1, ?2, ?3, ?4, ?4)
                 ON CONFLICT(article_id, source_id) DO UPDATE SET last_seen_at = excluded.last_seen_at",
            )?
            .execute(params![article_id, source_id, update.url, now])?;
        }
    }
    Ok(())
}

enum Upsert {
    New(i64),
    Updated(i64),
    Unchanged(i64),
}

/// The `articles` columns [`read_article`] reads, in its order.
macro_rules! article_columns {
    () => {
        "id, dedup_key, info_code, title, url, share_url, published_at, published_local, time_precision, \
         updated_at, author, media, media_rank, category, tags, summary, content_html, content_text, \
         content_hash, content_rank, language, revision"
    };
}

fn upsert_article(tx: &Transaction<'_>, incoming: &Article, now: &str) -> rusqlite::Result<Upsert> {
    let found = {
        let mut by_key = tx.prepare_cached(concat!(
            "SELECT ",
            article_columns!(),
            " FROM articles WHERE dedup_key = ?1"
        ))?;
        let mut found = by_key.query_row([&incoming.dedup_key], read_article).optional()?;
        if found.is_none()
            && let Some(code) = &incoming.info_code
        {
            let mut by_code = tx.prepare_cached(concat!(
                "SELECT ",
                article_columns!(),
                " FROM articles WHERE info_code = ?1"
            ))?;
            found = by_code.query_row([code], read_article).optional()?;
        }
        found
    };
    let Some((id, revision, mut stored)) = found else {
        let id = insert_article(tx, incoming, now)?;
        return Ok(Upsert::New(id));
    };
    let old_content = stored.content.clone();
    let effect = merge::merge(&mut stored, incoming);
    if !effect.changed {
        tx.prepare_cached("UPDATE articles SET last_seen_at = ?2 WHERE id = ?1")?
            .execute(params![id, now])?;
        return Ok(Upsert::Unchanged(id));
    }
    let mut new_revision = revision;
    if effect.content_changed {
        if let Some(old) = &old_content {
            tx.prepare_cached(
                "INSERT OR REPLACE INTO article_revisions (article_id, revision, content_html, content_text, content_hash, replaced_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![id, revision, old.html, old.text, old.hash, now])?;
        }
        new_revision += 1;
    }
    let row = ArticleRow::from(&stored);
    tx.prepare_cached(
        "UPDATE articles SET info_code = ?2, title = ?3, url = ?4, share_url = ?5, published_at = ?6,
            published_local = ?7, time_precision = ?8, updated_at = ?9, author = ?10, media = ?11,
            media_rank = ?12, category = ?13, tags = ?14, summary = ?15, content_html = ?16,
            content_text = ?17, content_hash = ?18, content_rank = ?19, language = ?20,
            revision = ?21, last_seen_at = ?22
         WHERE id = ?1",
    )?
    .execute(params![
        id,
        stored.info_code,
        stored.title,
        row.url,
        stored.share_url,
        row.published_at,
        row.published_local,
        row.time_precision,
        row.updated_at,
        stored.author,
        row.media,
        row.media_rank,
        stored.category,
        row.tags,
        stored.summary,
        row.content_html,
        row.content_text,
        row.content_hash,
        row.content_rank,
        stored.language,
        new_revision,
        now,
    ])?;
    Ok(Upsert::Updated(id))
}

fn insert_article(tx: &Transaction<'_>, article: &Article, now: &str) -> rusqlite::Result<i64> {
    let row = ArticleRow::from(article);
    tx.prepare_cached(
        "INSERT INTO articles (dedup_key, info_code, title, url, share_url, published_at, published_local,
            time_precision, updated_at, author, media, media_rank, category, tags, summary, content_html,
            content_text, content_hash, content_rank, language, revision, first_seen_at, last_seen_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, 1, ?21, ?21)",
    )?
    .execute(params![
        article.dedup_key,
        article.info_code,
        article.title,
        row.url,
        article.share_url,
        row.published_at,
        row.published_local,
        row.time_precision,
        row.updated_at,
        article.author,
        row.media,
        row.media_rank,
        article.category,
        row.tags,
        article.summary,
        row.content_html,
        row.content_text,
        row.content_hash,
        row.content_rank,
        article.language,
        now,
    ])?;
    Ok(tx.last_insert_rowid())
}

fn upsert_sighting(
    tx: &Transaction<'_>,
    article_id: i64,
    source_id: Option<i64>,
    article: &Article,
    now: &str,
) -> rusqlite::Result<()> {
    let Some(source_id) = source_id else {
        return Ok(());
    };
    tx.prepare_cached(
        "INSERT INTO sightings (article_id, source_id, entry_guid, entry_url, first_seen_at, last_seen_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?5)
         ON CONFLICT(article_id, source_id) DO UPDATE SET
            last_seen_at = excluded.last_seen_at,
            entry_guid = coalesce(excluded.entry_guid, sightings.entry_guid),
            entry_url = coalesce(excluded.entry_url, sightings.entry_url)",
    )?
    .execute(params![
        article_id,
        source_id,
        article.entry_guid,
        article.entry_url,
        now
    ])?;
    Ok(())
}

/// An article's derived column values.
struct ArticleRow {
    url: Option<String>,
    published_at: Option<String>,
    published_local: Option<String>,
    time_precision: Option<i64>,
    updated_at: Option<String>,
    media: Option<String>,
    media_rank: i64,
    tags: String,
    content_html: Option<String>,
    content_text: Option<String>,
    content_hash: Option<String>,
    content_rank: i64,
}

impl From<&Article> for ArticleRow {
    fn from(a: &Article) -> ArticleRow {
        ArticleRow {
            // A share link stands in as `url` only while no publisher URL is known.
            url: a.url.clone().or_else(|| a.share_url.clone()),
            published_at: a.published.map(|p| dates::format_utc(p.utc)),
            published_local: a.published.map(|p| dates::format_local(p.local)),
            time_precision: a.published.map(|p| precision_to_i64(p.precision)),
            updated_at: a.updated_at.map(dates::format_utc),
            media: a.media.as_ref().map(|(m, _)| m.clone()),
            media_rank: a.media.as_ref().map_or(0, |(_, r)| *r as i64),
            tags: serde_json::to_string(&a.tags).unwrap_or_else(|_| "[]".to_owned()),
            content_html: a.content.as_ref().map(|c| c.html.clone()),
            content_text: a.content.as_ref().map(|c| c.text.clone()),
            content_hash: a.content.as_ref().map(|c| c.hash.clone()),
            content_rank: a.content.as_ref().map_or(0, |c| c.rank.as_i64()),
        }
    }
}

fn precision_to_i64(p: Precision) -> i64 {
    match p {
        Precision::DateOnly => 0,
        Precision::NaiveMinutes => 1,
        Precision::OffsetMinutes => 2,
        Precision::NaiveSeconds => 3,
        Precision::OffsetSeconds => 4,
    }
}

fn precision_from_i64(v: i64) -> Precision {
    match v {
        4 => Precision::OffsetSeconds,
        3 => Precision::NaiveSeconds,
        2 => Precision::OffsetMinutes,
        1 => Precision::NaiveMinutes,
        _ => Precision::DateOnly,
    }
}

fn parse_utc(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// Reads a stored row back into the form [`merge::merge`] works on.
fn read_article(r: &rusqlite::Row<'_>) -> rusqlite::Result<(i64, i64, Article)> {
    let id: i64 = r.get(0)?;
    let url: Option<String> = r.get(4)?;
    let share_url: Option<String> = r.get(5)?;
    let published_at: Option<String> = r.get(6)?;
    let published_local: Option<String> = r.get(7)?;
    let precision: Option<i64> = r.get(8)?;
    let published = match (published_at.as_deref().and_then(parse_utc), published_local) {
        (Some(utc), Some(local)) => DateTime::parse_from_rfc3339(&local).ok().map(|local| ParsedDate {
            utc,
            local,
            precision: precision_from_i64(precision.unwrap_or(0)),
        }),
        _ => None,
    };
    let media: Option<String> = r.get(11)?;
    let media_rank = MediaRank::from_i64(r.get(12)?);
    let tags: String = r.get(14)?;
    let content_html: Option<String> = r.get(16)?;
    let content_text: Option<String> = r.get(17)?;
    let content_hash: Option<String> = r.get(18)?;
    let content = match (content_html, content_text, content_hash) {
        (Some(html), Some(text), Some(hash)) => Some(Content {
            html,
            text,
            hash,
            rank: ContentRank::from_i64(r.get(19)?),
        }),
        _ => None,
    };
    let article = Article {
        dedup_key: r.get(1)?,
        info_code: r.get(2)?,
        title: r.get(3)?,
        // A stored url equal to the share link was only standing in for a publisher URL.
        url: url.filter(|u| Some(u) != share_url.as_ref()),
        share_url,
        published,
        updated_at: r.get::<_, Option<String>>(9)?.as_deref().and_then(parse_utc),
        author: r.get(10)?,
        media: media.zip(media_rank),
        category: r.get(13)?,
        tags: serde_json::from_str(&tags).unwrap_or_default(),
        summary: r.get(15)?,
        content,
        language: r.get(20)?,
        entry_guid: None,
        entry_url: None,
        replaces_content: false,
    };
    Ok((id, r.get(21)?, article))
}

/// One line of `feedcrawler sources`.
#[derive(Clone, Debug)]
pub struct SourceSummary {
    /// `sources.name`.
    pub name: String,
    /// `sources.type`.
    pub kind: String,
    /// `sources.url`.
    pub url: Option<String>,
    /// Whether the source is polled.
    pub enabled: bool,
    /// Last HTTP status.
    pub last_status: Option<i64>,
    /// Last error.
    pub last_error: Option<String>,
    /// Last poll time (RFC 3339).
    pub last_polled_at: Option<String>,
    /// Next poll time (RFC 3339).
    pub next_poll_at: Option<String>,
    /// Failures in a row.
    pub consecutive_failures: i64,
    /// Articles first stored from this source.
    pub articles_found: i64,
    /// Articles this source has seen (sightings).
    pub sightings: i64,
}

/// A read-only connection for the command line and consumers' queries.
pub struct Reader {
    path: PathBuf,
    conn: Connection,
}

impl Reader {
    /// Opens the database read-only (it must exist; run `migrate` or `once` first).
    pub fn open(path: &Path) -> Result<Reader, StoreError> {
        let conn = open_connection(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        Ok(Reader {
            path: path.to_owned(),
            conn,
        })
    }

    fn sqlite(&self, source: rusqlite::Error) -> StoreError {
        StoreError::Sqlite {
            path: self.path.clone(),
            source,
        }
    }

    /// Every source with its health, ordered by name.
    pub fn sources(&self) -> Result<Vec<SourceSummary>, StoreError> {
        let query = || -> rusqlite::Result<Vec<SourceSummary>> {
            let mut stmt = self.conn.prepare(
                "SELECT s.name, s.type, s.url, s.enabled, s.last_status, s.last_error, s.last_polled_at,
                        s.next_poll_at, s.consecutive_failures, s.articles_found,
                        (SELECT count(*) FROM sightings g WHERE g.source_id = s.id)
                 FROM sources s ORDER BY s.name",
            )?;
            stmt.query_map([], |r| {
                Ok(SourceSummary {
                    name: r.get(0)?,
                    kind: r.get(1)?,
                    url: r.get(2)?,
                    enabled: r.get(3)?,
                    last_status: r.get(4)?,
                    last_error: r.get(5)?,
                    last_polled_at: r.get(6)?,
                    next_poll_at: r.get(7)?,
                    consecutive_failures: r.get(8)?,
                    articles_found: r.get(9)?,
                    sightings: r.get(10)?,
                })
            })?
            .collect()
        };
        query().map_err(|e| self.sqlite(e))
    }

    /// How many share links wait to be fetched.
    pub fn pending_share_links(&self) -> Result<u64, StoreError> {
        self.conn
            .query_row(
                "SELECT count(*) FROM share_links WHERE state = 'pending'",
                [],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n.max(0) as u64)
            .map_err(|e| self.sqlite(e))
    }

    /// Full-text search (FTS5 trigram syntax), newest first: `(published_at, title, url)`.
    pub fn search(&self, query: &str, limit: usize) -> Result<Vec<SearchHit>, StoreError> {
        let run = || -> rusqlite::Result<Vec<_>> {
            let mut stmt = self.conn.prepare(
                "SELECT a.published_at, a.title, a.url FROM articles_fts f JOIN articles a ON a.id = f.rowid
                 WHERE articles_fts MATCH ?1
                 ORDER BY a.published_at DESC LIMIT ?2",
            )?;
            stmt.query_map(params![query, limit as i64], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })?
            .collect()
        };
        run().map_err(|e| self.sqlite(e))
    }
}
