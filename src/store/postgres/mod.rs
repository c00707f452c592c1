//! PostgreSQL: several daemons on one database. (Skeleton: the calls the rest of the
//! store dispatches to; each answers that the engine is not built in yet.)

use std::path::PathBuf;

use tokio::sync::mpsc;

use super::{
    ArticleFilter, ArticleRecord, Command, NotifyCounts, PruneCounts, QueueCounts, RetentionPolicy,
    SourceSummary, StoreError,
};
use crate::config::PostgresTarget;
use crate::search::{SearchError, SearchHit, SearchRequest};

fn unsupported(target: &PostgresTarget) -> StoreError {
    StoreError::Migration {
        path: PathBuf::from(target.to_string()),
        message: "PostgreSQL is not supported by this build yet".into(),
    }
}

/// The writer's side: a pool of connections answering [`Command`]s.
pub(super) struct Writer {
    target: PostgresTarget,
}

impl Writer {
    /// Connects, applies pending migrations (refusing a newer schema) and returns the
    /// writer, ready to [`Writer::run`].
    pub(super) async fn open(target: &PostgresTarget) -> Result<Writer, StoreError> {
        Err(unsupported(target))
    }

    /// Answers requests until every sender is dropped.
    pub(super) async fn run(self, mut receiver: mpsc::Receiver<Command>) {
        while let Some(command) = receiver.recv().await {
            let daemon = match &command {
                Command::LeaseHosts(request, _) => Some(&request.daemon),
                Command::ReleaseHosts(daemon, _) => Some(daemon),
                _ => None,
            };
            tracing::error!(database = %self.target, ?daemon, "PostgreSQL is not supported by this build yet");
        }
    }
}

/// `feedcrawler add-link` on PostgreSQL (a plain thread, no runtime).
pub(super) fn add_share_links(
    target: &PostgresTarget,
    _links: &[(String, Option<String>)],
) -> Result<usize, StoreError> {
    Err(unsupported(target))
}

/// `feedcrawler migrate` on PostgreSQL (a plain thread, no runtime).
pub(super) fn migrate(target: &PostgresTarget) -> Result<usize, StoreError> {
    Err(unsupported(target))
}

/// `feedcrawler prune --vacuum` on PostgreSQL (a plain thread, no runtime).
pub(super) fn vacuum(target: &PostgresTarget) -> Result<(), StoreError> {
    Err(unsupported(target))
}

/// The read side on PostgreSQL: callable from plain threads and from inside the tokio
/// runtime alike.
pub struct Reader {
    target: PostgresTarget,
}

impl Reader {
    pub(super) fn open(target: &PostgresTarget) -> Result<Reader, StoreError> {
        Err(unsupported(target))
    }

    pub(super) fn sources(&self) -> Result<Vec<SourceSummary>, StoreError> {
        Err(unsupported(&self.target))
    }

    pub(super) fn source_health(&self) -> Result<Vec<(String, i64, Option<String>)>, StoreError> {
        Err(unsupported(&self.target))
    }

    pub(super) fn pending_share_links(&self) -> Result<u64, StoreError> {
        Err(unsupported(&self.target))
    }

    pub(super) fn queue_counts(&self) -> Result<QueueCounts, StoreError> {
        Err(unsupported(&self.target))
    }

    pub(super) fn search(&self, _request: &SearchRequest) -> Result<Vec<SearchHit>, SearchError> {
        Err(unsupported(&self.target).into())
    }

    pub(super) fn has_source(&self, _name: &str) -> Result<bool, StoreError> {
        Err(unsupported(&self.target))
    }

    pub(super) fn count_articles(&self, _filter: &ArticleFilter) -> Result<u64, StoreError> {
        Err(unsupported(&self.target))
    }

    pub(super) fn for_each_article<E>(
        &self,
        _filter: &ArticleFilter,
        _visit: impl FnMut(&ArticleRecord) -> Result<(), E>,
    ) -> Result<(), Result<E, StoreError>> {
        Err(Err(unsupported(&self.target)))
    }

    pub(super) fn notify_counts(&self) -> Result<Vec<NotifyCounts>, StoreError> {
        Err(unsupported(&self.target))
    }

    pub(super) fn prune_counts(&self, _policy: &RetentionPolicy) -> Result<PruneCounts, StoreError> {
        Err(unsupported(&self.target))
    }
}
