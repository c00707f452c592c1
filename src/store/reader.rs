//! [`Reader`]: the command line's and the daemon's reads, on either engine.

use super::{
    ArticleFilter, ArticleRecord, NotifyCounts, PruneCounts, QueueCounts, RetentionPolicy, SourceSummary,
    StoreError, postgres, sqlite,
};
use crate::config::Database;
use crate::search::{SearchError, SearchHit, SearchRequest};

/// A read-only view of the database for the command line and the daemon's gauges. Its
/// reads never block the writer (SQLite's WAL; PostgreSQL's MVCC).
pub enum Reader {
    /// A read-only SQLite connection.
    Sqlite(sqlite::Reader),
    /// A PostgreSQL connection on a thread of its own (callable from async code too).
    Postgres(postgres::Reader),
}

macro_rules! dispatch {
    ($self:ident . $method:ident ( $($arg:expr),* )) => {
        match $self {
            Reader::Sqlite(r) => r.$method($($arg),*),
            Reader::Postgres(r) => r.$method($($arg),*),
        }
    };
}

impl Reader {
    /// Opens the database for reading (it must exist; run `migrate` or `once` first).
    pub fn open(database: &Database) -> Result<Reader, StoreError> {
        match database {
            Database::Sqlite(path) => sqlite::Reader::open(path).map(Reader::Sqlite),
            Database::Postgres(target) => postgres::Reader::open(target).map(Reader::Postgres),
        }
    }

    /// Every source with its health, ordered by name.
    pub fn sources(&self) -> Result<Vec<SourceSummary>, StoreError> {
        dispatch!(self.sources())
    }

    /// `(name, consecutive_failures, last_success_at)` of every enabled source.
    pub fn source_health(&self) -> Result<Vec<(String, i64, Option<String>)>, StoreError> {
        dispatch!(self.source_health())
    }

    /// Share links waiting.
    pub fn pending_share_links(&self) -> Result<u64, StoreError> {
        dispatch!(self.pending_share_links())
    }

    /// Rows of the work queues by state.
    pub fn queue_counts(&self) -> Result<QueueCounts, StoreError> {
        dispatch!(self.queue_counts())
    }

    /// Search, newest first (`src/search.rs`, docs/search.md).
    pub fn search(&self, request: &SearchRequest) -> Result<Vec<SearchHit>, SearchError> {
        dispatch!(self.search(request))
    }

    /// Whether a source of this name is in the database.
    pub fn has_source(&self, name: &str) -> Result<bool, StoreError> {
        dispatch!(self.has_source(name))
    }

    /// How many articles [`Reader::for_each_article`] would visit (for a progress bar).
    pub fn count_articles(&self, filter: &ArticleFilter) -> Result<u64, StoreError> {
        dispatch!(self.count_articles(filter))
    }

    /// Calls `visit` with every article that passes `filter`, in id order, without
    /// collecting them. `visit`'s error stops the walk and is returned as `Err(Ok(e))`; a
    /// database error as `Err(Err(e))`.
    pub fn for_each_article<E>(
        &self,
        filter: &ArticleFilter,
        visit: impl FnMut(&ArticleRecord) -> Result<(), E>,
    ) -> Result<(), Result<E, StoreError>> {
        dispatch!(self.for_each_article(filter, visit))
    }

    /// Each `[[notify]]` name found in the queue with its counts and last error, by name.
    pub fn notify_counts(&self) -> Result<Vec<NotifyCounts>, StoreError> {
        dispatch!(self.notify_counts())
    }

    /// What a prune with `policy` would delete now, without changing anything.
    pub fn prune_counts(&self, policy: &RetentionPolicy) -> Result<PruneCounts, StoreError> {
        dispatch!(self.prune_counts(policy))
    }
}
