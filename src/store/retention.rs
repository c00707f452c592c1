//! Retention (CONTRACT §5 `[retention]`): deleting old rows in small steps through the writer.
//!
//! [`Store::prune`] does the work as a series of short write transactions, each one command
//! on the writer's queue: the crawl's commits queue between them, so a prune of millions of
//! rows never holds the write lock for long. Articles and revisions are visited in windows of
//! ids (bounded work per transaction, without an index on `last_seen_at` that every sighting
//! would have to update); old `fetches` are found through their `started_at` index (0015).
//! [`Reader::prune_counts`](super::Reader::prune_counts) answers the same question without
//! deleting anything (`prune --dry-run`).

use chrono::{DateTime, Utc};
use tokio::sync::oneshot;

use super::{Command, Store, StoreError};

/// Rewrites the database without its free pages (`VACUUM`), for `prune --vacuum`. The caller
/// holds the [`DaemonLock`](super::DaemonLock): the rewrite blocks every writer meanwhile.
pub fn vacuum(database: &crate::config::Database) -> Result<(), StoreError> {
    match database {
        crate::config::Database::Sqlite(path) => super::sqlite::Writer::open(path)?.vacuum(),
        crate::config::Database::Postgres(target) => super::postgres::vacuum(target),
    }
}

/// What `[retention]` asks to delete, as absolute limits at the moment of the prune.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RetentionPolicy {
    /// `fetches` rows that started before this are deleted (None: kept for ever).
    pub fetches_before: Option<DateTime<Utc>>,
    /// Earlier texts kept per article in `article_revisions`, the newest ones (None: all).
    pub keep_revisions: Option<u32>,
    /// Articles last seen before this are deleted with their sightings and revisions (None:
    /// articles are never deleted, the default).
    pub articles_before: Option<DateTime<Utc>>,
}

/// Rows deleted by a prune, or that a dry run would delete, per table.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PruneCounts {
    /// `fetches` rows older than the limit.
    pub fetches: u64,
    /// `article_revisions` rows: beyond the cap, or of deleted articles.
    pub article_revisions: u64,
    /// `articles` not seen for longer than the limit.
    pub articles: u64,
    /// `sightings` of those articles.
    pub sightings: u64,
}

impl PruneCounts {
    /// Every table with its count, in the order a prune deletes them (for output and metrics).
    pub fn by_table(&self) -> [(&'static str, u64); 4] {
        [
            ("articles", self.articles),
            ("sightings", self.sightings),
            ("article_revisions", self.article_revisions),
            ("fetches", self.fetches),
        ]
    }

    /// All rows together.
    pub fn total(&self) -> u64 {
        self.fetches + self.article_revisions + self.articles + self.sightings
    }

    fn add(&mut self, other: &PruneCounts) {
        self.fetches += other.fetches;
        self.article_revisions += other.article_revisions;
        self.articles += other.articles;
        self.sightings += other.sightings;
    }
}

/// How the space of deleted rows was given back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SpaceReport {
    /// The database has `auto_vacuum = INCREMENTAL` (set by the operator, see the README):
    /// free pages were returned to the file system.
    Returned {
        /// Bytes the file shrank by.
        bytes: u64,
    },
    /// A database without incremental vacuum (the default): the free pages are reused by new
    /// rows, but the file only shrinks with a `VACUUM` ([`vacuum`], daemon stopped).
    Reusable {
        /// Bytes free inside the file.
        bytes: u64,
    },
}

/// What a prune did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PruneReport {
    /// Rows deleted per table.
    pub counts: PruneCounts,
    /// The space given back.
    pub space: SpaceReport,
}

/// One short write transaction of a prune (a writer command).
#[derive(Clone, Debug)]
pub(super) enum PruneStep {
    /// The bounds of the windows, and the vacuum mode.
    Bounds,
    /// Articles with `from < id <= to` last seen before `before`, with their sightings,
    /// revisions and aliases.
    Articles { before: String, from: i64, to: i64 },
    /// Revisions beyond the newest `keep` of the articles with `from < id <= to`.
    Revisions { keep: u32, from: i64, to: i64 },
    /// At most `limit` fetches started before `before`.
    Fetches { before: String, limit: u32 },
    /// At most `pages` free pages returned to the file system.
    Vacuum { pages: u32 },
}

/// What one [`PruneStep`] did.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct StepDone {
    /// Rows deleted.
    pub(super) counts: PruneCounts,
    /// [`PruneStep::Bounds`]: the ids of articles lie in `min_article..=max_article`.
    pub(super) min_article: i64,
    /// [`PruneStep::Bounds`]: the highest article id.
    pub(super) max_article: i64,
    /// [`PruneStep::Bounds`]: the ids of articles with revisions lie in
    /// `min_revised..=max_revised`.
    pub(super) min_revised: i64,
    /// [`PruneStep::Bounds`]: the highest article id with revisions.
    pub(super) max_revised: i64,
    /// Whether the database has incremental vacuum.
    pub(super) incremental: bool,
    /// [`PruneStep::Vacuum`]: pages returned to the file system.
    pub(super) returned_pages: u64,
    /// Free pages left in the file.
    pub(super) free_pages: u64,
    /// The page size in bytes.
    pub(super) page_size: u64,
}

/// Article ids per transaction: deleting an article also deletes its sightings, revisions
/// and search-index entries (a trigram per character of its text): measured ~160 ms for a
/// window of 1,000 ids (500 deleted 3 KB articles) in a debug build on a loaded machine.
const ARTICLE_WINDOW: i64 = 500;
/// Article ids per transaction when capping revisions (measured ~45 ms for 1,000 ids, 2,250
/// revisions deleted, debug build).
const REVISION_WINDOW: i64 = 1_000;
/// `fetches` rows per transaction (small rows, found through an index).
const FETCH_CHUNK: u32 = 5_000;
/// Pages returned to the file system per transaction (4 MiB at 16 KiB pages).
const VACUUM_PAGES: u32 = 256;

impl Store {
    /// Applies `policy`: deletes in many short transactions (articles with their sightings
    /// and revisions, then revisions beyond the cap, then old fetches), then gives the space
    /// back where the database allows it. `progress` is told of every step's deletions (for
    /// metrics: a prune stopped half-way has still counted what it did).
    pub async fn prune(
        &self,
        policy: &RetentionPolicy,
        mut progress: impl FnMut(&PruneCounts),
    ) -> Result<PruneReport, StoreError> {
        let mut total = PruneCounts::default();
        let mut record = |done: &StepDone, total: &mut PruneCounts| {
            if done.counts.total() > 0 {
                total.add(&done.counts);
                progress(&done.counts);
            }
        };
        let bounds = self.prune_step(PruneStep::Bounds).await?;
        if let Some(before) = policy.articles_before {
            let before = crate::dates::format_utc(before);
            // From below the lowest id: the ids of rows pruned on earlier days are no windows.
            let mut from = bounds.min_article - 1;
            while from < bounds.max_article {
                let to = from + ARTICLE_WINDOW;
                let done = self
                    .prune_step(PruneStep::Articles {
                        before: before.clone(),
                        from,
                        to,
                    })
                    .await?;
                record(&done, &mut total);
                from = to;
            }
        }
        if let Some(keep) = policy.keep_revisions {
            let mut from = bounds.min_revised - 1;
            while from < bounds.max_revised {
                let to = from + REVISION_WINDOW;
                let done = self.prune_step(PruneStep::Revisions { keep, from, to }).await?;
                record(&done, &mut total);
                from = to;
            }
        }
        if let Some(before) = policy.fetches_before {
            let before = crate::dates::format_utc(before);
            loop {
                let done = self
                    .prune_step(PruneStep::Fetches {
                        before: before.clone(),
                        limit: FETCH_CHUNK,
                    })
                    .await?;
                record(&done, &mut total);
                if done.counts.fetches < u64::from(FETCH_CHUNK) {
                    break;
                }
            }
        }
        let space = if bounds.incremental {
            let mut returned = 0;
            loop {
                let done = self.prune_step(PruneStep::Vacuum { pages: VACUUM_PAGES }).await?;
                returned += done.returned_pages * done.page_size;
                // No progress (another connection holds the pages) ends it too.
                if done.free_pages == 0 || done.returned_pages == 0 {
                    break;
                }
            }
            SpaceReport::Returned { bytes: returned }
        } else {
            let after = self.prune_step(PruneStep::Vacuum { pages: 0 }).await?;
            SpaceReport::Reusable {
                bytes: after.free_pages * after.page_size,
            }
        };
        Ok(PruneReport { counts: total, space })
    }

    async fn prune_step(&self, step: PruneStep) -> Result<StepDone, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.send(Command::Prune(step, reply)).await?;
        answer.await.map_err(|_| self.gone())?
    }
}
