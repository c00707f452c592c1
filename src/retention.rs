//! Retention (CONTRACT §5 `[retention]`): `feedcrawler prune` and the daemon's daily prune.
//!
//! The config's periods become absolute limits at the moment of the prune
//! ([`policy`]); the store deletes in short transactions through its writer
//! ([`Store::prune`]), so the crawl's commits go on between them. The daemon prunes once at
//! start-up and then every [`PRUNE_EVERY`] ([`Schedule`]); a failed prune is tried again
//! after [`RETRY_AFTER`].

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::task::JoinHandle;

use crate::config::RetentionConfig;
use crate::metrics::Metrics;
use crate::store::{PruneCounts, PruneReport, Reader, RetentionPolicy, SpaceReport, Store, StoreError};

/// How often the daemon prunes.
pub const PRUNE_EVERY: Duration = Duration::from_secs(24 * 3600);
/// When a failed prune is tried again.
pub const RETRY_AFTER: Duration = Duration::from_secs(3600);

/// The limits of `config` at `now`: rows older than `now - period` go.
pub fn policy(config: &RetentionConfig, now: DateTime<Utc>) -> RetentionPolicy {
    let before = |period: Option<Duration>| {
        period
            .and_then(|p| chrono::Duration::from_std(p).ok())
            .and_then(|p| now.checked_sub_signed(p))
    };
    RetentionPolicy {
        fetches_before: before(config.fetches),
        keep_revisions: Some(config.revisions),
        articles_before: before(config.articles),
    }
}

/// What a prune of `database` would delete now, without deleting anything (`--dry-run`).
pub fn dry_run(
    database: &crate::config::Database,
    config: &RetentionConfig,
) -> Result<PruneCounts, StoreError> {
    Reader::open(database)?.prune_counts(&policy(config, Utc::now()))
}

/// Prunes now: deletes what `config` says, gives the space back where the database allows
/// it, counts every step's rows in `metrics`, and logs the outcome.
pub async fn prune(
    store: &Store,
    config: &RetentionConfig,
    metrics: Option<&Metrics>,
) -> Result<PruneReport, StoreError> {
    let started = std::time::Instant::now();
    let report = store
        .prune(&policy(config, Utc::now()), |step| {
            if let Some(metrics) = metrics {
                for (table, rows) in step.by_table() {
                    metrics.record_pruned(table, rows);
                }
            }
        })
        .await?;
    let c = report.counts;
    // Freed pages go back to the file system only in an incremental-vacuum database;
    // otherwise they are reused by new rows and the file shrinks only with VACUUM.
    let (freed_bytes, reusable_bytes) = match report.space {
        SpaceReport::Returned { bytes } => (bytes, 0),
        SpaceReport::Reusable { bytes } => (0, bytes),
    };
    tracing::info!(
        articles = c.articles,
        sightings = c.sightings,
        article_revisions = c.article_revisions,
        fetches = c.fetches,
        freed_bytes,
        reusable_bytes,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "retention: old rows pruned"
    );
    Ok(report)
}

/// The daemon's prune: at start-up, then every [`PRUNE_EVERY`], one at a time.
pub struct Schedule {
    next: tokio::time::Instant,
    task: Option<JoinHandle<Result<PruneReport, StoreError>>>,
}

impl Schedule {
    /// A schedule whose first prune is due now; the pruned-rows series of `metrics` start at
    /// zero.
    pub fn new(metrics: &Metrics) -> Schedule {
        for (table, _) in PruneCounts::default().by_table() {
            metrics.record_pruned(table, 0);
        }
        Schedule {
            next: tokio::time::Instant::now(),
            task: None,
        }
    }

    /// Called from the daemon's housekeeping: notes how a finished prune went and starts the
    /// next one when it is due (with the config of that moment: a reload applies to the next
    /// prune).
    pub fn tick(&mut self, store: &Arc<Store>, config: &RetentionConfig, metrics: &Arc<Metrics>) {
        if let Some(task) = &self.task {
            if !task.is_finished() {
                return;
            }
            if let Some(task) = self.task.take()
                && let Some(result) = futures_util::FutureExt::now_or_never(task)
            {
                match result {
                    Ok(Ok(_)) => {}
                    Ok(Err(e)) => {
                        tracing::error!(error = %e, retry_in_secs = RETRY_AFTER.as_secs(), "retention: prune failed");
                        self.next = tokio::time::Instant::now() + RETRY_AFTER;
                    }
                    Err(e) => {
                        tracing::error!(error = %e, retry_in_secs = RETRY_AFTER.as_secs(), "retention: prune task failed");
                        self.next = tokio::time::Instant::now() + RETRY_AFTER;
                    }
                }
            }
        }
        if tokio::time::Instant::now() < self.next {
            return;
        }
        self.next = tokio::time::Instant::now() + PRUNE_EVERY;
        let (store, config, metrics) = (Arc::clone(store), config.clone(), Arc::clone(metrics));
        self.task = Some(tokio::spawn(async move {
            prune(&store, &config, Some(&metrics)).await
        }));
    }

    /// Stops a prune in progress (on shutdown): the step the writer is doing commits, the
    /// rest waits for the next start.
    pub async fn stop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
            let _ = task.await;
        }
    }
}
