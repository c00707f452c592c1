//! The database behind a narrow interface: the only module that speaks SQL.
//!
//! Two engines stand behind the same calls ([`Store`] for the crawl's writes and work
//! queues, [`Reader`] for the command line's reads); every type they take and return is
//! ours. Callers hand [`Store`] requests ([`Command`]s) over a bounded channel and await
//! the answer:
//! - SQLite (a file; the default): one writer thread owns the connection and groups the
//!   batches that are waiting into one transaction, so an article is either wholly stored
//!   or not at all and a busy crawl pays for few commits. Readers use their own
//!   connections: in WAL mode they never block the writer.
//! - PostgreSQL (`postgres://…`): a task answers each request on a pooled connection, many
//!   at a time; several daemons share the database, each polling the hosts it leases
//!   ([`Store::lease_hosts`]).
//!
//! What both engines share is above the SQL: the §6 merge of two copies
//! ([`crate::merge`]) and identity rules ([`crate::dedup`]).

mod notify;
mod postgres;
mod reader;
mod retention;
mod rows;
mod sqlite;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::thread::JoinHandle;

use chrono::{DateTime, Utc};
use tokio::sync::{mpsc, oneshot};

use crate::config::Database;
use crate::fetch::{Attempt, Validators};
use crate::normalize::Article;

pub use notify::{NotificationJob, NotificationState, NotificationUpdate, NotifyCounts, NotifyRouter};
pub use reader::Reader;
pub use retention::{PruneCounts, PruneReport, RetentionPolicy, SpaceReport, vacuum};
pub use sqlite::{ArticleFilter, ArticleRecord, Cell, QueueCounts, SourceSummary};

/// What the database engine (SQLite or PostgreSQL) said, as it said it: our own type, so
/// that no caller depends on a driver's error.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct DbError {
    message: String,
    /// A constraint or lock conflict that another try may not meet (PostgreSQL's
    /// serialization failures and deadlocks); a caller may retry the whole transaction.
    retryable: bool,
}

impl DbError {
    /// An engine error with its message.
    pub fn new(message: impl Into<String>, retryable: bool) -> DbError {
        DbError {
            message: message.into(),
            retryable,
        }
    }

    /// Whether the transaction may simply be tried again.
    pub fn is_retryable(&self) -> bool {
        self.retryable
    }
}

impl From<rusqlite::Error> for DbError {
    fn from(e: rusqlite::Error) -> DbError {
        DbError::new(e.to_string(), false)
    }
}

/// A database error, naming the database (a SQLite file, or a PostgreSQL database as
/// `postgres://user@host:port/dbname`, never with its password).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database refused an operation.
    #[error("database {path}: {source}")]
    Sqlite {
        /// The database file, or the PostgreSQL database.
        path: PathBuf,
        /// The engine's error.
        #[source]
        source: DbError,
    },
    /// One source's batch failed and was rolled back alone (the other batches of its
    /// transaction were stored): that source's failure, not the database's.
    #[error("database {path}: storing this poll's rows failed and was rolled back: {source}")]
    Batch {
        /// The database file.
        path: PathBuf,
        /// The engine's error.
        #[source]
        source: DbError,
    },
    /// A whole write transaction failed (BEGIN or COMMIT: a full disk, a read-only or
    /// corrupt file); every batch in it was rolled back.
    #[error("database {path}: write transaction failed: {source}")]
    Transaction {
        /// The database file.
        path: PathBuf,
        /// The engine's error, shared by every batch of the transaction.
        #[source]
        source: std::sync::Arc<DbError>,
    },
    /// A migration failed.
    #[error("database {path}: migration failed: {message}")]
    Migration {
        /// The database file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// The file was written by a newer feedcrawler.
    #[error(
        "database {path} has schema version {found}, newer than this feedcrawler knows ({known}); \
         upgrade feedcrawler or point [daemon] database at another file"
    )]
    TooNew {
        /// The database file.
        path: PathBuf,
        /// Its `user_version`.
        found: i64,
        /// The newest version this binary knows.
        known: usize,
    },
    /// The folder for the database could not be created.
    #[error("cannot create the folder for database {path}: {source}")]
    CreateDir {
        /// The database file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// Another daemon holds the database ([`DaemonLock`]).
    #[error(
        "database {path} is in use by another feedcrawler daemon{}; stop it first, or point \
         [daemon] database at another file",
        pid.map(|p| format!(" (pid {p})")).unwrap_or_default()
    )]
    InUse {
        /// The database file.
        path: PathBuf,
        /// The holder's PID, as it wrote it into the lock file.
        pid: Option<u32>,
    },
    /// The daemon's lock file could not be opened or written.
    #[error("cannot lock {path}: {source}")]
    Lock {
        /// The lock file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The writer thread is gone (it failed earlier, or the store was closed).
    #[error("the database writer for {path} has stopped")]
    WriterGone {
        /// The database file.
        path: PathBuf,
    },
}

/// A configured source as the database should know it.
#[derive(Clone, Debug)]
pub struct SourceSpec {
    /// `[[source]] name`.
    pub name: String,
    /// `feed`, `json`, `html` or `share_links`.
    pub kind: String,
    /// The source's URL, if it has one.
    pub url: Option<String>,
    /// `[[source]] enabled`.
    pub enabled: bool,
    /// A fingerprint of the source's config entry: when it changes, what the crawler
    /// learned about the source (validators, a moved URL, a 410) is forgotten.
    pub config_hash: String,
}

/// A source's crawl state, as stored.
#[derive(Clone, Debug)]
pub struct SourceState {
    /// `sources.id`.
    pub id: i64,
    /// `sources.name`.
    pub name: String,
    /// Validators for the next conditional GET.
    pub validators: Validators,
    /// When the source is next due.
    pub next_poll_at: Option<DateTime<Utc>>,
    /// Failures in a row.
    pub consecutive_failures: u32,
    /// The URL polled: the config's, or where a 301/308 moved it.
    pub url: Option<String>,
    /// Why the crawler disabled the source (a 410), until its config entry changes.
    pub disabled_reason: Option<String>,
    /// The interval last derived by the adaptive scheduler.
    pub poll_interval: Option<std::time::Duration>,
}

/// How a source's poll ended, for its `sources` row.
#[derive(Clone, Debug)]
pub enum SourceOutcome {
    /// A body was fetched and parsed; the validators are stored only now, after every
    /// entry is in (CONTRACT §6 *Full text*).
    Fetched {
        /// The HTTP status.
        status: u16,
        /// The response's validators.
        validators: Validators,
    },
    /// 304: nothing to do.
    NotModified,
    /// Polled without a request of its own (a `share_links` source queued its links).
    Listed,
    /// Not polled: the host asked for a pause (429/503) that ends at `until`; the source
    /// is due again then, without counting a failure.
    Deferred {
        /// When the host's pause ends.
        until: DateTime<Utc>,
    },
    /// 410: the source is gone; it is disabled until its config entry changes.
    Gone {
        /// The message, naming the URL.
        error: String,
    },
    /// The poll failed.
    Failed {
        /// The HTTP status, if one arrived.
        status: Option<u16>,
        /// What went wrong, naming the URL.
        error: String,
    },
}

/// Everything one poll of one source produced, committed in one transaction.
#[derive(Clone, Debug)]
pub struct FetchBatch {
    /// `sources.id` (None for requests outside a source).
    pub source_id: Option<i64>,
    /// One `fetches` row each.
    pub attempts: Vec<Attempt>,
    /// Normalized copies of articles, in document order.
    pub articles: Vec<Article>,
    /// How the poll ended; None for work outside a source's poll (share links), which
    /// leaves the `sources` row alone.
    pub outcome: Option<SourceOutcome>,
    /// Share links found, to queue (a link already queued is left as it is).
    pub queue_links: Vec<NewShareLink>,
    /// Share links processed.
    pub share_links: Vec<ShareLinkUpdate>,
    /// Second requests owed to listed entries, to record (one per kind and article; a job
    /// already recorded is left as it is).
    pub page_jobs: Vec<NewPageJob>,
    /// Second requests worked on.
    pub page_job_updates: Vec<PageJobUpdate>,
    /// The source's new ETag/Last-Modified, stored with this batch's entries and jobs
    /// (before the poll's outcome, which stores them again).
    pub validators: Option<Validators>,
    /// When the poll happened.
    pub polled_at: DateTime<Utc>,
    /// When the source is next due.
    pub next_poll_at: Option<DateTime<Utc>>,
    /// Where a 301/308 moved the source's URL.
    pub moved_to: Option<String>,
    /// The interval the scheduler now uses for the source (kept across restarts).
    pub poll_interval: Option<std::time::Duration>,
}

impl FetchBatch {
    /// A batch that records nothing yet, for work of `source_id` (None: no source) at
    /// `polled_at`: no outcome, so the `sources` row is left alone.
    pub fn empty(source_id: Option<i64>, polled_at: DateTime<Utc>) -> FetchBatch {
        FetchBatch {
            source_id,
            attempts: Vec::new(),
            articles: Vec::new(),
            outcome: None,
            queue_links: Vec::new(),
            share_links: Vec::new(),
            page_jobs: Vec::new(),
            page_job_updates: Vec::new(),
            validators: None,
            polled_at,
            next_poll_at: None,
            moved_to: None,
            poll_interval: None,
        }
    }
}

/// The states of a share link (CONTRACT §3 `share_links.state`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ShareState {
    /// Waiting to be fetched (or retried).
    Pending,
    /// Its article is stored.
    Done,
    /// No candidate served an article after every attempt.
    Failed,
    /// Never requested: no candidate may be fetched.
    Skipped,
}

impl ShareState {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            ShareState::Pending => "pending",
            ShareState::Done => "done",
            ShareState::Failed => "failed",
            ShareState::Skipped => "skipped",
        }
    }
}

/// A share link to queue.
#[derive(Clone, Debug)]
pub struct NewShareLink {
    /// The link as given.
    pub url: String,
    /// Its infoCode.
    pub info_code: Option<String>,
    /// The source that listed or discovered it.
    pub source_id: Option<i64>,
    /// `Pending`, or `Skipped` for a discovered link that may not be fetched.
    pub state: ShareState,
    /// Why it was skipped.
    pub reason: Option<String>,
}

/// What a second request fetches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PageJobKind {
    /// The entry's article page, read by the extractors.
    Page,
    /// A JSON list item's detail body.
    Detail,
}

impl PageJobKind {
    /// `page` or `detail` (the `page_jobs.kind` value).
    pub fn as_str(self) -> &'static str {
        match self {
            PageJobKind::Page => "page",
            PageJobKind::Detail => "detail",
        }
    }
}

/// A second request a listed entry needs: what to fetch and the listed copy it completes.
#[derive(Clone, Debug)]
pub struct NewPageJob {
    /// Page or detail body.
    pub kind: PageJobKind,
    /// The listed copy's `dedup_key`.
    pub article_key: String,
    /// What to fetch.
    pub url: String,
    /// A detail body's JSON pointer.
    pub pointer: Option<String>,
    /// The listed copy's title (a page without one keeps it).
    pub title: String,
    /// The listed copy's link.
    pub link: Option<String>,
    /// The listed copy's infoCode.
    pub info_code: Option<String>,
    /// The listed copy's share link.
    pub share_url: Option<String>,
}

/// A second request due for work.
#[derive(Clone, Debug)]
pub struct PageJob {
    /// What to fetch and for which article.
    pub job: NewPageJob,
    /// The source whose entry owes it (for the sighting, category, tags, timezone).
    pub source_id: Option<i64>,
    /// That source's name.
    pub source_name: Option<String>,
    /// Attempts made so far.
    pub attempts: u32,
}

/// How working on a second request ended.
#[derive(Clone, Debug)]
pub struct PageJobUpdate {
    /// The job's kind.
    pub kind: PageJobKind,
    /// The job's article key.
    pub article_key: String,
    /// `Pending` (again later), `Done` or `Failed`.
    pub state: ShareState,
    /// One more attempt was made (a request was sent or refused).
    pub attempted: bool,
    /// What went wrong.
    pub error: Option<String>,
    /// When to try again (pending jobs).
    pub next_attempt_at: Option<DateTime<Utc>>,
}

/// A share link due for work.
#[derive(Clone, Debug)]
pub struct ShareLinkJob {
    /// The link.
    pub url: String,
    /// Its infoCode.
    pub info_code: Option<String>,
    /// The source that listed or discovered it (for the sighting).
    pub source_id: Option<i64>,
    /// That source's name (its config gives the article's category, tags and timezone).
    pub source_name: Option<String>,
    /// Attempts made so far.
    pub attempts: u32,
    /// For a `done` link due for a `[share] recheck`: the page that served it.
    pub recheck_page: Option<String>,
    /// Rechecks done so far.
    pub rechecks: u32,
}

/// How working on a share link ended.
#[derive(Clone, Debug)]
pub struct ShareLinkUpdate {
    /// The link.
    pub url: String,
    /// Its new state.
    pub state: ShareState,
    /// One more attempt was made (a request was sent).
    pub attempted: bool,
    /// What went wrong, or why it was skipped.
    pub error: Option<String>,
    /// When to try again (pending links).
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// The page that served the article.
    pub page_url: Option<String>,
    /// The article's `dedup_key`, once it is stored.
    pub article_key: Option<String>,
    /// Without a fetch (its article already had full text): record the sighting and set
    /// `share_url` if it is empty.
    pub touch_article: bool,
    /// A `[share] recheck` was done.
    pub rechecked: bool,
}

/// What committing a batch did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CommitReport {
    /// Articles stored for the first time.
    pub new_articles: usize,
    /// Existing articles whose stored columns changed.
    pub updated_articles: usize,
    /// Copies that changed nothing but `last_seen_at`.
    pub unchanged_articles: usize,
}

enum Command {
    SyncSources(
        Vec<SourceSpec>,
        oneshot::Sender<Result<Vec<SourceState>, StoreError>>,
    ),
    Commit(Box<FetchBatch>, oneshot::Sender<Result<CommitReport, StoreError>>),
    FullText(Vec<String>, oneshot::Sender<Result<HashSet<String>, StoreError>>),
    DueShareLinks(
        DueShareLinks,
        oneshot::Sender<Result<Vec<ShareLinkJob>, StoreError>>,
    ),
    NextShareAttempt(oneshot::Sender<Result<Option<DateTime<Utc>>, StoreError>>),
    DuePageJobs(
        DateTime<Utc>,
        usize,
        oneshot::Sender<Result<Vec<PageJob>, StoreError>>,
    ),
    NextPageJobAttempt(oneshot::Sender<Result<Option<DateTime<Utc>>, StoreError>>),
    SetNotifyRouter(Option<std::sync::Arc<dyn NotifyRouter>>, oneshot::Sender<()>),
    DueNotifications(
        notify::DueNotifications,
        oneshot::Sender<Result<Vec<NotificationJob>, StoreError>>,
    ),
    NotificationUpdates(Vec<NotificationUpdate>, oneshot::Sender<Result<(), StoreError>>),
    Prune(
        retention::PruneStep,
        oneshot::Sender<Result<retention::StepDone, StoreError>>,
    ),
    ScheduleFirstPolls(Vec<(i64, DateTime<Utc>)>, oneshot::Sender<Result<(), StoreError>>),
    LeaseHosts(LeaseRequest, oneshot::Sender<Result<LeaseGrant, StoreError>>),
    ReleaseHosts(String, oneshot::Sender<Result<(), StoreError>>),
}

/// A daemon's claim on the hosts of its sources, renewed on a timer
/// ([`Store::lease_hosts`]).
#[derive(Clone, Debug)]
pub struct LeaseRequest {
    /// This daemon's id, unique in the cluster (`host:pid:random`).
    pub daemon: String,
    /// Every host (lower-case, without port) of this daemon's enabled sources.
    pub hosts: Vec<String>,
    /// How long a lease lasts without renewal: a daemon that dies loses its hosts after it.
    pub period: std::time::Duration,
}

/// The hosts a daemon may poll until its next renewal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeaseGrant {
    /// The hosts held; `None` when the database is not shared (SQLite, claimed by one
    /// daemon through [`DaemonLock`]): every host.
    pub held: Option<HashSet<String>>,
    /// Daemons alive in the cluster, this one included.
    pub daemons: usize,
}

/// The question of [`Store::due_share_links`].
struct DueShareLinks {
    now: DateTime<Utc>,
    recheck: Vec<std::time::Duration>,
    limit: usize,
}

/// How many batches may wait for the writer: enough to keep it busy, few enough that a
/// slow disk pushes back on the fetchers instead of filling memory.
const QUEUE_DEPTH: usize = 64;

/// The handle to the database's writer (SQLite's thread, or PostgreSQL's task). Cheap to
/// share by reference; dropping it (or [`Store::close`]) lets the writer finish what is
/// queued and stop.
pub struct Store {
    /// The database as errors name it (a file, or `postgres://user@host/db`).
    path: PathBuf,
    sender: Option<mpsc::Sender<Command>>,
    writer: Option<JoinHandle<()>>,
}

impl Store {
    /// Opens (creating if needed) the database, applies pending migrations and starts the
    /// writer. PostgreSQL's writer is a task of the current tokio runtime.
    pub async fn open(database: &Database) -> Result<Store, StoreError> {
        let (sender, receiver) = mpsc::channel(QUEUE_DEPTH);
        match database {
            Database::Sqlite(path) => {
                let writer = sqlite::Writer::open(path)?;
                let handle = std::thread::Builder::new()
                    .name("feedcrawler-writer".into())
                    .spawn(move || writer.run(receiver))
                    .map_err(|e| StoreError::Migration {
                        path: path.to_owned(),
                        message: format!("cannot start the writer thread: {e}"),
                    })?;
                Ok(Store {
                    path: path.to_owned(),
                    sender: Some(sender),
                    writer: Some(handle),
                })
            }
            Database::Postgres(target) => {
                let writer = postgres::Writer::open(target).await?;
                tokio::spawn(writer.run(receiver));
                Ok(Store {
                    path: PathBuf::from(target.to_string()),
                    sender: Some(sender),
                    writer: None,
                })
            }
        }
    }

    /// Makes the `sources` table match the config: new sources inserted, changed ones
    /// updated (a changed URL forgets its validators), sources no longer configured
    /// disabled (their articles stay). Returns the state of every configured source.
    pub async fn sync_sources(&self, specs: Vec<SourceSpec>) -> Result<Vec<SourceState>, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.send(Command::SyncSources(specs, reply)).await?;
        answer.await.map_err(|_| self.gone())?
    }

    /// Which of these `dedup_key`s belong to articles that already have the publisher's
    /// full text (rank 3): their pages need not be fetched again.
    pub async fn with_full_text(&self, keys: Vec<String>) -> Result<HashSet<String>, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.send(Command::FullText(keys, reply)).await?;
        answer.await.map_err(|_| self.gone())?
    }

    /// Share links due for work at `now`: pending ones whose retry time has come, and done
    /// ones due for a recheck at the `recheck` ages; at most `limit`.
    pub async fn due_share_links(
        &self,
        now: DateTime<Utc>,
        recheck: Vec<std::time::Duration>,
        limit: usize,
    ) -> Result<Vec<ShareLinkJob>, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.send(Command::DueShareLinks(
            DueShareLinks { now, recheck, limit },
            reply,
        ))
        .await?;
        answer.await.map_err(|_| self.gone())?
    }

    /// When the earliest pending share link may be tried (now, for one never tried);
    /// None when no link is pending.
    pub async fn next_share_attempt(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.send(Command::NextShareAttempt(reply)).await?;
        answer.await.map_err(|_| self.gone())?
    }

    /// Up to `limit` pending second requests due at `now`, oldest first.
    pub async fn due_page_jobs(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<PageJob>, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.send(Command::DuePageJobs(now, limit, reply)).await?;
        answer.await.map_err(|_| self.gone())?
    }

    /// When the earliest pending second request may be tried; None when none is pending.
    pub async fn next_page_job_attempt(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.send(Command::NextPageJobAttempt(reply)).await?;
        answer.await.map_err(|_| self.gone())?
    }

    /// Records the first poll times the daemon gave new sources (`(sources.id, due)`), for
    /// `feedcrawler sources`; sources that already have a `next_poll_at` keep it.
    pub async fn schedule_first_polls(&self, due: Vec<(i64, DateTime<Utc>)>) -> Result<(), StoreError> {
        let (reply, answer) = oneshot::channel();
        self.send(Command::ScheduleFirstPolls(due, reply)).await?;
        answer.await.map_err(|_| self.gone())?
    }

    /// Takes, renews and gives back host leases: the hosts this daemon may poll until its
    /// next call (every `period / 3`). On a shared database the hosts are spread evenly
    /// over the daemons alive; a daemon's hosts go to the others once its leases expire.
    pub async fn lease_hosts(&self, request: LeaseRequest) -> Result<LeaseGrant, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.send(Command::LeaseHosts(request, reply)).await?;
        answer.await.map_err(|_| self.gone())?
    }

    /// Gives back every host lease of `daemon` (a graceful stop), so that the others take
    /// its hosts at once instead of after the lease period.
    pub async fn release_hosts(&self, daemon: String) -> Result<(), StoreError> {
        let (reply, answer) = oneshot::channel();
        self.send(Command::ReleaseHosts(daemon, reply)).await?;
        answer.await.map_err(|_| self.gone())?
    }

    /// Commits one poll's results in one transaction.
    pub async fn commit(&self, batch: FetchBatch) -> Result<CommitReport, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.send(Command::Commit(Box::new(batch), reply)).await?;
        answer.await.map_err(|_| self.gone())?
    }

    /// Lets the writer finish the queue, then waits for it to stop.
    pub fn close(mut self) {
        self.shutdown();
    }

    async fn send(&self, command: Command) -> Result<(), StoreError> {
        match &self.sender {
            Some(sender) => sender.send(command).await.map_err(|_| self.gone()),
            None => Err(self.gone()),
        }
    }

    fn gone(&self) -> StoreError {
        StoreError::WriterGone {
            path: self.path.clone(),
        }
    }

    fn shutdown(&mut self) {
        self.sender.take();
        if let Some(handle) = self.writer.take()
            && handle.join().is_err()
        {
            tracing::error!(database = %self.path.display(), "the database writer panicked");
        }
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Queues share links as `pending` (for `feedcrawler add-link`, from any process: the
/// daemon's writer and this one take turns through the database's locking). Each link
/// comes with its infoCode, if one was found. Returns how many were not queued before.
pub fn add_share_links(database: &Database, links: &[(String, Option<String>)]) -> Result<usize, StoreError> {
    match database {
        Database::Sqlite(path) => sqlite::Writer::open(path)?.add_share_links(links),
        Database::Postgres(target) => postgres::add_share_links(target, links),
    }
}

/// Applies pending migrations and returns the schema version (for `feedcrawler migrate`).
pub fn migrate(database: &Database) -> Result<usize, StoreError> {
    match database {
        Database::Sqlite(path) => sqlite::Writer::open(path).map(|w| w.schema_version()),
        Database::Postgres(target) => postgres::migrate(target),
    }
}

/// The claim of one daemon on one database, held until it is dropped (or the process ends,
/// however it ends: the kernel releases the lock).
///
/// Two daemons on one database would poll every source twice and race for the share
/// queue. `once`, `add-link`, `search` and `export` take no claim: they work beside a
/// running daemon through SQLite's own locking.
///
/// A PostgreSQL database is meant to be shared: daemons divide its work through host
/// leases, and the claim there holds nothing.
#[derive(Debug)]
pub struct DaemonLock {
    _file: Option<std::fs::File>,
}

impl DaemonLock {
    /// The lock file beside `database`: `<database>.lock`, holding the daemon's PID.
    pub fn path_for(database: &Path) -> PathBuf {
        let mut name = database.as_os_str().to_owned();
        name.push(".lock");
        PathBuf::from(name)
    }

    /// Claims `database` for this process, or says which process holds it.
    pub fn acquire(database: &Database) -> Result<DaemonLock, StoreError> {
        match database {
            Database::Sqlite(path) => Self::acquire_file(path),
            Database::Postgres(_) => Ok(DaemonLock { _file: None }),
        }
    }

    fn acquire_file(database: &Path) -> Result<DaemonLock, StoreError> {
        use std::io::{Read, Seek, Write};
        let path = Self::path_for(database);
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|source| StoreError::CreateDir {
                path: database.to_owned(),
                source,
            })?;
        }
        let io = |source| StoreError::Lock {
            path: path.clone(),
            source,
        };
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                return Err(StoreError::InUse {
                    path: database.to_owned(),
                    pid: holder.trim().parse().ok(),
                });
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(io(e)),
        }
        file.set_len(0).map_err(io)?;
        file.rewind().map_err(io)?;
        writeln!(file, "{}", std::process::id()).map_err(io)?;
        file.flush().map_err(io)?;
        Ok(DaemonLock { _file: Some(file) })
    }
}
