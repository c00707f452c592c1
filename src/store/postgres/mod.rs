//! PostgreSQL: several daemons on one database.
//!
//! The writer ([`Writer`]) answers each [`Command`] on its own task with a pooled connection
//! (`deadpool-postgres`), many at a time; what SQLite gets from its single writer PostgreSQL
//! gets from locks:
//! - identity (CONTRACT §6): a batch takes a transaction-scoped advisory lock on every
//!   identity key of its articles (`info:<code>` and the `dedup_key`), sorted, before it
//!   looks an article up, and locks the rows it merges into (`FOR UPDATE`): two daemons
//!   storing the same infoCode at once end with one row, every sighting and every revision
//!   ([`commit`], [`articles`]);
//! - work queues: page jobs and share links are selected by the hosts this daemon leases
//!   ([`leases`]); notifications are claimed (`FOR UPDATE SKIP LOCKED`), so that each is
//!   delivered by one daemon at a time ([`notifications`]);
//! - migrations run under an advisory lock ([`schema`]).
//!
//! A transaction that meets a serialization failure, a deadlock or a unique violation (the
//! loser of a race to insert) is tried again, up to [`MAX_TRIES`] times.
//!
//! The read side ([`Reader`]) is a blocking client on a thread of its own, callable from
//! plain threads and from inside the tokio runtime alike.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio::sync::{Semaphore, mpsc};
use tokio_postgres::NoTls;
use tokio_postgres::error::SqlState;

use super::{Command, DbError, NotifyRouter, StoreError};
use crate::config::PostgresTarget;

/// Runs `$body` (an expression that may `.await` and use `?` on `tokio_postgres::Error`)
/// inside a transaction `$tx` on a pooled connection of `$shared`, committing it; a conflict
/// another try may not meet ([`retry_worthy`]) runs it again from the start, up to
/// [`MAX_TRIES`] times. Evaluates to `Result<T, StoreError>`.
macro_rules! in_transaction {
    ($shared:expr, |$tx:ident| $body:expr) => {{
        let shared: &$crate::store::postgres::Shared = $shared;
        match shared.client().await {
            Err(e) => Err(e),
            Ok(mut client) => {
                let mut tries = 0u32;
                loop {
                    tries += 1;
                    let result: Result<_, tokio_postgres::Error> = async {
                        let $tx = client.transaction().await?;
                        let value = $body;
                        $tx.commit().await?;
                        Ok(value)
                    }
                    .await;
                    match result {
                        Ok(value) => break Ok(value),
                        Err(e) if tries < $crate::store::postgres::MAX_TRIES
                            && $crate::store::postgres::retry_worthy(&e) =>
                        {
                            tracing::debug!(error = %e, tries, "transaction conflict; trying again");
                            $crate::store::postgres::backoff(tries).await;
                        }
                        Err(e) => break Err(shared.error(&e)),
                    }
                }
            }
        }
    }};
}

mod articles;
mod changes;
mod commit;
mod jobs;
mod leases;
mod notifications;
mod reader;
mod retention;
mod schema;
mod search;
mod sources;

pub use reader::Reader;

/// Connections in the writer's pool, and so requests answered at once: 8 serves a daemon's
/// fetchers without crowding a small server (a config key is left for when one is needed).
const POOL_SIZE: usize = 8;

/// Tries of one transaction that keeps meeting conflicts.
const MAX_TRIES: u32 = 5;

/// A transaction of the writer's pool (with its statement cache).
type Tx<'a> = deadpool_postgres::Transaction<'a>;

/// The error of a statement.
type Pg = tokio_postgres::Error;

/// What PostgreSQL said, without the driver's "db error:" wrapping.
pub(super) fn message(e: &Pg) -> String {
    match e.as_db_error() {
        Some(db) => db.to_string(),
        None => e.to_string(),
    }
}

/// A serialization failure or a deadlock: the transaction was rolled back by the server and
/// may simply be tried again (what [`DbError::is_retryable`] tells callers).
fn is_conflict(e: &Pg) -> bool {
    e.code()
        .is_some_and(|c| *c == SqlState::T_R_SERIALIZATION_FAILURE || *c == SqlState::T_R_DEADLOCK_DETECTED)
}

/// A conflict, or a unique violation: the loser of a race to insert the same row (which the
/// next try finds and merges into).
fn retry_worthy(e: &Pg) -> bool {
    is_conflict(e) || e.code() == Some(&SqlState::UNIQUE_VIOLATION)
}

/// Our error type for a driver error.
fn db_error(e: &Pg) -> DbError {
    DbError::new(message(e), is_conflict(e))
}

/// A short, growing, jittered pause between two tries, so that two daemons that just
/// collided do not collide again.
async fn backoff(tries: u32) {
    let ms = 5u64 << tries.min(6);
    tokio::time::sleep(std::time::Duration::from_millis(ms + fastrand::u64(0..ms))).await;
}

/// The lower-case host (no port) of a URL: the `host` of page jobs and share links, compared
/// with the hosts of [`super::LeaseRequest`].
fn host_of(url: &str) -> Option<String> {
    url::Url::parse(url).ok()?.host_str().map(|h| {
        h.trim_start_matches('[')
            .trim_end_matches(']')
            .to_ascii_lowercase()
    })
}

/// What the writer's tasks share.
pub(super) struct Shared {
    pool: Pool,
    /// The database as errors name it.
    path: PathBuf,
    /// Which `[[notify]]`s a new article is owed to (none until the crawl installs one).
    router: Mutex<Option<Arc<dyn NotifyRouter>>>,
    /// The hosts of this daemon's last [`super::LeaseGrant`]; None (never leased, e.g.
    /// `feedcrawler once`): every host.
    held: Mutex<Option<Arc<Vec<String>>>>,
}

impl Shared {
    fn error(&self, e: &Pg) -> StoreError {
        StoreError::Sqlite {
            path: self.path.clone(),
            source: db_error(e),
        }
    }

    async fn client(&self) -> Result<deadpool_postgres::Object, StoreError> {
        self.pool.get().await.map_err(|e| StoreError::Sqlite {
            path: self.path.clone(),
            source: match e {
                deadpool_postgres::PoolError::Backend(e) => db_error(&e),
                e => DbError::new(e.to_string(), false),
            },
        })
    }

    fn router(&self) -> Option<Arc<dyn NotifyRouter>> {
        self.router.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn set_router(&self, router: Option<Arc<dyn NotifyRouter>>) {
        *self.router.lock().unwrap_or_else(|p| p.into_inner()) = router;
    }

    fn held(&self) -> Option<Arc<Vec<String>>> {
        self.held.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn set_held(&self, hosts: Vec<String>) {
        *self.held.lock().unwrap_or_else(|p| p.into_inner()) = Some(Arc::new(hosts));
    }

    /// Answers one request.
    async fn answer(&self, command: Command) {
        match command {
            Command::SyncSources(specs, reply) => {
                let _ = reply.send(sources::sync_sources(self, &specs).await);
            }
            Command::Commit(batch, reply) => {
                let _ = reply.send(commit::commit(self, &batch).await);
            }
            Command::FullText(keys, reply) => {
                let _ = reply.send(sources::with_full_text(self, &keys).await);
            }
            Command::DueShareLinks(question, reply) => {
                let _ = reply.send(jobs::due_share_links(self, &question).await);
            }
            Command::NextShareAttempt(reply) => {
                let _ = reply.send(jobs::next_attempt(self, "share_links").await);
            }
            Command::DuePageJobs(now, limit, reply) => {
                let _ = reply.send(jobs::due_page_jobs(self, now, limit).await);
            }
            Command::NextPageJobAttempt(reply) => {
                let _ = reply.send(jobs::next_attempt(self, "page_jobs").await);
            }
            Command::SetNotifyRouter(router, reply) => {
                self.set_router(router);
                let _ = reply.send(());
            }
            Command::DueNotifications(question, reply) => {
                let _ = reply.send(notifications::due_notifications(self, &question).await);
            }
            Command::NotificationUpdates(updates, reply) => {
                let _ = reply.send(notifications::update_notifications(self, &updates).await);
            }
            Command::Prune(step, reply) => {
                let _ = reply.send(retention::prune_step(self, step).await);
            }
            Command::ScheduleFirstPolls(due, reply) => {
                let _ = reply.send(sources::schedule_first_polls(self, &due).await);
            }
            Command::LeaseHosts(request, reply) => {
                let _ = reply.send(leases::lease_hosts(self, &request).await);
            }
            Command::ReleaseHosts(daemon, reply) => {
                let _ = reply.send(leases::release_hosts(self, &daemon).await);
            }
        }
    }
}

/// The writer's side: a pool of connections answering [`Command`]s.
pub(super) struct Writer {
    shared: Arc<Shared>,
}

impl Writer {
    /// Connects, applies pending migrations (refusing a newer schema) and returns the
    /// writer, ready to [`Writer::run`].
    pub(super) async fn open(target: &PostgresTarget) -> Result<Writer, StoreError> {
        let path = PathBuf::from(target.to_string());
        let refuse = |message: String| StoreError::Sqlite {
            path: path.clone(),
            source: DbError::new(message, false),
        };
        let config: tokio_postgres::Config =
            target.conninfo().parse().map_err(|e: Pg| refuse(message(&e)))?;
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                // A connection whose server went away is found out by its next statement,
                // and the command fails once; checking each one out costs a round trip.
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .build()
            .map_err(|e| refuse(e.to_string()))?;
        let shared = Shared {
            pool,
            path: path.clone(),
            router: Mutex::new(None),
            held: Mutex::new(None),
        };
        {
            let mut client = shared.client().await?;
            schema::migrate(&mut client, target).await?;
        }
        Ok(Writer {
            shared: Arc::new(shared),
        })
    }

    /// Answers requests until every sender is dropped: each on a task of its own, at most
    /// [`POOL_SIZE`] at a time (the channel pushes back on the senders beyond that).
    /// `SetNotifyRouter` is answered in order: every commit received after it uses the new
    /// router.
    pub(super) async fn run(self, mut receiver: mpsc::Receiver<Command>) {
        let slots = Arc::new(Semaphore::new(POOL_SIZE));
        while let Some(command) = receiver.recv().await {
            if let Command::SetNotifyRouter(router, reply) = command {
                self.shared.set_router(router);
                let _ = reply.send(());
                continue;
            }
            let Ok(slot) = Arc::clone(&slots).acquire_owned().await else {
                break;
            };
            let shared = Arc::clone(&self.shared);
            tokio::spawn(async move {
                shared.answer(command).await;
                drop(slot);
            });
        }
        // What is in flight finishes before the pool goes.
        let _ = slots.acquire_many(POOL_SIZE as u32).await;
    }
}

/// A driver error of a call outside the writer, naming the database.
fn target_error(target: &PostgresTarget, e: &Pg) -> StoreError {
    StoreError::Sqlite {
        path: PathBuf::from(target.to_string()),
        source: db_error(e),
    }
}

/// Connects the blocking client (for the command line's plain threads and the reader's).
fn connect_sync(target: &PostgresTarget) -> Result<postgres::Client, StoreError> {
    postgres::Client::connect(target.conninfo(), postgres::NoTls).map_err(|e| target_error(target, &e))
}

/// Runs `work` with a blocking client on a thread of its own: the blocking client runs a
/// runtime of its own, which panics inside another one, and these calls may come from
/// anywhere.
fn blocking<T: Send>(
    target: &PostgresTarget,
    work: impl FnOnce(&mut postgres::Client) -> Result<T, StoreError> + Send,
) -> Result<T, StoreError> {
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                let mut client = connect_sync(target)?;
                work(&mut client)
            })
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}

/// `feedcrawler add-link` on PostgreSQL: queues the links as `pending` (a URL already queued
/// is left as it is) and returns how many were new.
pub(super) fn add_share_links(
    target: &PostgresTarget,
    links: &[(String, Option<String>)],
) -> Result<usize, StoreError> {
    let now = crate::dates::format_utc(chrono::Utc::now());
    blocking(target, |client| {
        let fail = |e: Pg| target_error(target, &e);
        let mut tx = client.transaction().map_err(fail)?;
        let insert = tx
            .prepare(
                "INSERT INTO share_links (url, info_code, state, attempts, added_at, host)
                 VALUES ($1, $2, 'pending', 0, $3, $4) ON CONFLICT (url) DO NOTHING",
            )
            .map_err(fail)?;
        let mut added = 0;
        for (url, info_code) in links {
            added += tx
                .execute(&insert, &[url, info_code, &now, &host_of(url)])
                .map_err(fail)? as usize;
        }
        tx.commit().map_err(fail)?;
        Ok(added)
    })
}

/// `feedcrawler migrate` on PostgreSQL (a plain thread): opening the writer applies the
/// pending migrations, on a runtime of this call's own.
pub(super) fn migrate(target: &PostgresTarget) -> Result<usize, StoreError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| StoreError::Migration {
            path: PathBuf::from(target.to_string()),
            message: format!("cannot start a runtime: {e}"),
        })?;
    runtime.block_on(Writer::open(target))?;
    Ok(schema::known_version())
}

/// `feedcrawler prune --vacuum` on PostgreSQL: `VACUUM (ANALYZE)` (it returns the space of
/// deleted rows for reuse and refreshes the planner's statistics; the daemon may keep
/// running, PostgreSQL's VACUUM blocks no writer).
pub(super) fn vacuum(target: &PostgresTarget) -> Result<(), StoreError> {
    blocking(target, |client| {
        client
            .batch_execute("VACUUM (ANALYZE)")
            .map_err(|e| target_error(target, &e))
    })
}
