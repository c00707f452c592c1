//! SQLite: the connection, migrations and the writer loop, which commits waiting batches as
//! one transaction. Article rows, the share-link queue and the read-only side are submodules.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OpenFlags, TransactionBehavior, params};
use rusqlite_migration::{M, Migrations};
use tokio::sync::mpsc;

use super::{Command, CommitReport, FetchBatch, SourceOutcome, SourceSpec, SourceState, StoreError};
use crate::dates;
use crate::fetch::Validators;
use crate::store::rows::parse_utc;

mod articles;
mod checkpoint;
mod notifications;
mod page_jobs;
mod reader;
mod retention;
mod search_index;
mod share_links;

use articles::{Upsert, upsert_article, upsert_sighting};
use checkpoint::Checkpointer;
use notifications::queue_notifications;
use page_jobs::{queue_page_jobs, update_page_job};
pub use reader::{ArticleFilter, ArticleRecord, Cell, QueueCounts, Reader, SourceSummary};
use search_index::{INDEX_CHUNK, INDEX_DELAY, INDEX_FORCED, INDEX_WHEN_IDLE};
use share_links::{queue_share_links, update_share_link};

/// The numbered files of `migrations/`, in order; the schema version is their count.
const MIGRATION_SQL: &[&str] = &[
    include_str!("../../../migrations/0001_init.sql"),
    include_str!("../../../migrations/0002_source_lifecycle.sql"),
    include_str!("../../../migrations/0003_share_queue.sql"),
    include_str!("../../../migrations/0004_fts_bulk_index.sql"),
    include_str!("../../../migrations/0005_fts_automerge.sql"),
    include_str!("../../../migrations/0006_fts_crisismerge.sql"),
    include_str!("../../../migrations/0007_fts_automerge_64.sql"),
    include_str!("../../../migrations/0008_article_ids_never_reused.sql"),
    include_str!("../../../migrations/0009_article_aliases.sql"),
    include_str!("../../../migrations/0010_page_jobs.sql"),
    include_str!("../../../migrations/0011_share_link_sources.sql"),
    include_str!("../../../migrations/0012_fetch_skipped_entries.sql"),
    include_str!("../../../migrations/0013_cjk_bigrams.sql"),
    include_str!("../../../migrations/0014_consumer_views.sql"),
    include_str!("../../../migrations/0015_retention.sql"),
    include_str!("../../../migrations/0016_notifications.sql"),
    include_str!("../../../migrations/0017_source_last_success.sql"),
];

/// Every migration ends with a foreign-key check: they run with foreign keys off (a table
/// rebuild must not cascade), so the check is what proves the references still hold.
static MIGRATIONS: LazyLock<Migrations<'static>> = LazyLock::new(|| {
    Migrations::new(
        MIGRATION_SQL
            .iter()
            .map(|sql| M::up(sql).foreign_key_check())
            .collect(),
    )
});

/// The newest schema version this binary knows.
fn known_version() -> usize {
    MIGRATION_SQL.len()
}

/// Where a batch's commit result goes.
type CommitReply = tokio::sync::oneshot::Sender<Result<CommitReport, StoreError>>;

/// How many waiting batches one transaction may take.
const GROUP_COMMIT: usize = 64;

/// The size (bytes) the WAL file is cut back to whenever it is reset. A consumer's long read
/// pins the WAL, which then grows for as long as the crawl writes; without a limit the file
/// keeps that size for good (measured 3.6 GB). 64 MiB is above what a busy crawl needs
/// between two checkpoints, so the cut costs nothing in the steady state.
pub(super) const WAL_SIZE_LIMIT: i64 = 64 * 1024 * 1024;

fn open_connection(path: &Path, flags: OpenFlags) -> Result<Connection, StoreError> {
    let sqlite = |source: rusqlite::Error| StoreError::Sqlite {
        path: path.to_owned(),
        source: source.into(),
    };
    let conn = Connection::open_with_flags(path, flags).map_err(sqlite)?;
    conn.busy_timeout(std::time::Duration::from_secs(10))
        .map_err(sqlite)?;
    conn.execute_batch(&format!(
        "PRAGMA foreign_keys = ON; PRAGMA journal_size_limit = {WAL_SIZE_LIMIT};"
    ))
    .map_err(sqlite)?;
    Ok(conn)
}

/// The writer's side: owns the read-write connection.
pub(super) struct Writer {
    path: PathBuf,
    conn: Connection,
    /// Articles stored since the last bulk indexing pass (an upper bound).
    unindexed: usize,
    /// When the last indexing pass failed, if it did.
    index_failed_at: Option<std::time::Instant>,
    /// The WAL checkpoint thread, while [`Writer::run`] runs.
    checkpointer: Option<Checkpointer>,
    /// Which `[[notify]]`s a new article is owed to (none until the crawl installs one).
    router: Option<std::sync::Arc<dyn super::NotifyRouter>>,
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
        let sqlite = |source: rusqlite::Error| StoreError::Sqlite {
            path: path.to_owned(),
            source: source.into(),
        };
        // An 8 MiB page cache keeps the hot b-tree pages of a busy crawl in memory (the
        // default 2 MiB made every insert re-read pages from the OS; 16 MiB cost 10 MB of
        // RSS and was no faster on a 10,000-feed crawl, 64 MiB neither). 16 KiB pages: an
        // article row (HTML, text, summary) is several KiB, and with the default 4 KiB pages
        // most rows spill into overflow pages (measured: 1.65× faster inserts). page_size
        // only takes effect on a new database, before WAL is switched on.
        conn.execute_batch(
            "PRAGMA page_size = 16384; PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;
             PRAGMA cache_size = -8192;",
        )
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
        // Foreign keys off while migrating (a pragma that cannot change inside the
        // migrations' transaction): dropping a rebuilt table would otherwise cascade.
        conn.execute_batch("PRAGMA foreign_keys = OFF;").map_err(sqlite)?;
        let migrated = MIGRATIONS.to_latest(&mut conn);
        conn.execute_batch("PRAGMA foreign_keys = ON;").map_err(sqlite)?;
        migrated.map_err(|e| StoreError::Migration {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
        Ok(Writer {
            path: path.to_owned(),
            conn,
            // Rows stored before a crash are indexed by the first pass.
            unindexed: 1,
            index_failed_at: None,
            checkpointer: None,
            router: None,
        })
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
            source: source.into(),
        }
    }

    /// The writer loop: runs until every sender is dropped and the queue is empty.
    pub(super) fn run(mut self, mut receiver: mpsc::Receiver<Command>) {
        self.checkpointer = Checkpointer::start(&self.path);
        if self.checkpointer.is_some()
            && let Err(e) = self.conn.execute_batch("PRAGMA wal_autocheckpoint = 0;")
        {
            tracing::debug!(error = %e, "cannot turn off the automatic checkpoint");
        }
        // A clock for waiting on the channel with a deadline (the indexing delay).
        let clock = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build();
        let mut index_due = std::time::Instant::now();
        let mut armed = false;
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
                Command::DuePageJobs(now, limit, reply) => {
                    let _ = reply.send(self.due_page_jobs(now, limit).map_err(|e| self.sqlite(e)));
                }
                Command::NextPageJobAttempt(reply) => {
                    let next = self
                        .next_page_job_attempt()
                        .map(|at| at.map(|at| parse_utc(&at).unwrap_or_else(Utc::now)))
                        .map_err(|e| self.sqlite(e));
                    let _ = reply.send(next);
                }
                Command::ScheduleFirstPolls(due, reply) => {
                    let _ = reply.send(self.schedule_first_polls(&due).map_err(|e| self.sqlite(e)));
                }
                Command::DueShareLinks(question, reply) => {
                    let _ = reply.send(self.due_share_links(&question).map_err(|e| self.sqlite(e)));
                }
                Command::SetNotifyRouter(router, reply) => {
                    self.router = router;
                    let _ = reply.send(());
                }
                Command::DueNotifications(question, reply) => {
                    let _ = reply.send(self.due_notifications(&question).map_err(|e| self.sqlite(e)));
                }
                Command::NotificationUpdates(updates, reply) => {
                    let _ = reply.send(self.update_notifications(&updates));
                }
                Command::Prune(step, reply) => {
                    let _ = reply.send(self.prune_step(step).map_err(|e| self.sqlite(e)));
                }
                // A SQLite file has one daemon (the DaemonLock): every host is its own.
                Command::LeaseHosts(_, reply) => {
                    let _ = reply.send(Ok(super::LeaseGrant {
                        held: None,
                        daemons: 1,
                    }));
                }
                Command::ReleaseHosts(_, reply) => {
                    let _ = reply.send(Ok(()));
                }
            }
            self.committed();
            // Under sustained load the channel is never empty, so the delay is also checked
            // here: an article is searchable at the latest INDEX_DELAY after it was stored
            // (plus one pass), however busy the writer is.
            let overdue = armed && std::time::Instant::now() >= index_due;
            if (self.unindexed >= INDEX_FORCED || overdue) && !self.index_failing() {
                self.index_pending(INDEX_CHUNK);
                if overdue {
                    armed = false;
                }
            }
            // The delay runs from the first article not yet searchable.
            if self.unindexed == 0 {
                armed = false;
            } else if !armed {
                index_due = std::time::Instant::now() + INDEX_DELAY;
                armed = true;
            }
            while next.is_none() && self.unindexed >= INDEX_WHEN_IDLE && !self.index_failing() {
                match receiver.try_recv() {
                    Ok(command) => next = Some(command),
                    // Nothing to commit this instant: a pass now makes no one wait.
                    Err(mpsc::error::TryRecvError::Empty) => self.index_pending(INDEX_CHUNK),
                    Err(mpsc::error::TryRecvError::Disconnected) => break,
                }
            }
            if next.is_none() {
                next = match (&clock, self.unindexed) {
                    (_, 0) => receiver.blocking_recv(),
                    (Ok(clock), _) => {
                        let wait = index_due.saturating_duration_since(std::time::Instant::now());
                        match clock.block_on(async { tokio::time::timeout(wait, receiver.recv()).await }) {
                            Ok(received) => received,
                            Err(_) => {
                                self.index_pending(usize::MAX);
                                armed = false;
                                receiver.blocking_recv()
                            }
                        }
                    }
                    (Err(_), _) => {
                        self.index_pending(usize::MAX);
                        receiver.blocking_recv()
                    }
                };
            }
        }
        self.index_pending(usize::MAX);
        if let Err(e) = self.conn.execute_batch("PRAGMA optimize;") {
            tracing::debug!(error = %e, "PRAGMA optimize failed");
        }
        if let Some(checkpointer) = self.checkpointer.take() {
            checkpointer.stop();
        }
    }

    /// Lets the checkpoint thread know that transactions may have been committed (called
    /// between any two of them; a nudge with nothing new to copy costs nothing).
    fn committed(&mut self) {
        if let Some(checkpointer) = &mut self.checkpointer {
            checkpointer.committed(&self.conn);
        }
    }

    fn with_full_text(&self, keys: &[String]) -> rusqlite::Result<HashSet<String>> {
        let mut found = HashSet::new();
        let mut stmt = self.conn.prepare_cached(
            "SELECT 1 FROM articles WHERE content_rank >= 3 AND id = coalesce(
                    (SELECT id FROM articles WHERE dedup_key = ?1),
                    (SELECT article_id FROM article_aliases WHERE dedup_key = ?1))",
        )?;
        for key in keys {
            if stmt.exists([key])? {
                found.insert(key.clone());
            }
        }
        Ok(found)
    }

    /// Commits waiting batches in one `BEGIN IMMEDIATE` transaction (the write lock taken
    /// up front, so a concurrent `add-link` cannot turn it into `SQLITE_BUSY_SNAPSHOT`
    /// half-way), each batch inside its own SAVEPOINT: a batch that fails is rolled back
    /// alone and answered with [`StoreError::Batch`], the others are committed. Only a
    /// failure of the transaction itself (BEGIN, COMMIT: a full disk, a read-only file)
    /// fails every batch of the group.
    fn commit_group(&mut self, group: Vec<(Box<FetchBatch>, CommitReply)>) {
        let now = dates::format_utc(Utc::now());
        let path = self.path.clone();
        let router = self.router.clone();
        let result = (|| {
            let mut tx = self
                .conn
                .transaction_with_behavior(TransactionBehavior::Immediate)?;
            let mut results = Vec::with_capacity(group.len());
            for (batch, _) in &group {
                let savepoint = tx.savepoint()?;
                match commit_batch(&savepoint, batch, &now, router.as_deref()) {
                    Ok(report) => {
                        savepoint.commit()?;
                        results.push(Ok(report));
                    }
                    Err(source) => {
                        // Dropping the savepoint rolls back this batch only.
                        drop(savepoint);
                        tracing::warn!(
                            database = %path.display(),
                            source_id = batch.source_id,
                            error = %source,
                            "a source's batch was rolled back"
                        );
                        results.push(Err(StoreError::Batch {
                            path: path.clone(),
                            source: source.into(),
                        }));
                    }
                }
            }
            tx.commit()?;
            Ok::<_, rusqlite::Error>(results)
        })();
        match result {
            Ok(results) => {
                self.unindexed += results
                    .iter()
                    .filter_map(|r| r.as_ref().ok())
                    .map(|r| r.new_articles)
                    .sum::<usize>();
                for ((_, reply), result) in group.into_iter().zip(results) {
                    let _ = reply.send(result);
                }
            }
            Err(e) => {
                tracing::error!(database = %self.path.display(), error = %e, "transaction rolled back");
                let source = std::sync::Arc::new(super::DbError::from(e));
                for (_, reply) in group {
                    let _ = reply.send(Err(StoreError::Transaction {
                        path: self.path.clone(),
                        source: std::sync::Arc::clone(&source),
                    }));
                }
            }
        }
    }

    fn sync_sources(&mut self, specs: &[SourceSpec]) -> Result<Vec<SourceState>, StoreError> {
        let result = (|| {
            let tx = self
                .conn
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
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

/// Writes one batch: its articles with their sightings, its requests, its source's new
/// state and the share links it queued or worked; each new article's notifications owed
/// (`router`) in the same transaction.
fn commit_batch(
    tx: &Connection,
    batch: &FetchBatch,
    now: &str,
    router: Option<&dyn super::NotifyRouter>,
) -> rusqlite::Result<CommitReport> {
    let mut report = CommitReport::default();
    for article in &batch.articles {
        match upsert_article(tx, article, now)? {
            Upsert::New(id) => {
                report.new_articles += 1;
                upsert_sighting(tx, id, batch.source_id, article, now)?;
                if let Some(router) = router {
                    queue_notifications(tx, router, id, batch.source_id, article, now)?;
                }
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
        "INSERT INTO fetches (source_id, url, started_at, duration_ms, status, bytes, not_modified, new_articles, error,
                              entries_skipped, skip_reason)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
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
            attempt.entries_skipped as i64,
            attempt.skip_reason,
        ])?;
    }

    queue_share_links(tx, &batch.queue_links, now)?;
    queue_page_jobs(tx, &batch.page_jobs, batch.source_id, now)?;
    if let (Some(source_id), Some(validators)) = (batch.source_id, &batch.validators) {
        tx.prepare_cached("UPDATE sources SET etag = ?2, last_modified = ?3 WHERE id = ?1")?
            .execute(params![source_id, validators.etag, validators.last_modified])?;
    }
    for update in &batch.page_job_updates {
        update_page_job(tx, update, now)?;
    }
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

impl Writer {
    /// Records when never-scheduled sources are first due (`next_poll_at` still NULL), so
    /// that `sources` shows it; a time already there is left alone.
    fn schedule_first_polls(&mut self, due: &[(i64, DateTime<Utc>)]) -> rusqlite::Result<()> {
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        {
            let mut update = tx.prepare_cached(
                "UPDATE sources SET next_poll_at = ?2 WHERE id = ?1 AND next_poll_at IS NULL",
            )?;
            for (id, at) in due {
                update.execute(params![id, dates::format_utc(*at)])?;
            }
        }
        tx.commit()
    }
}
