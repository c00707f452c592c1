//! What every piece of crawl work shares: the config in force, the HTTP client with its
//! politeness and admission gate, the database writer and the metrics. Polls
//! ([`crate::crawl`]), the share-link queue ([`crate::share`]) and the page-job queue
//! ([`crate::page_jobs`]) all take a [`PollContext`]; none of them imports another for it.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::admission::ShareRules;
use crate::config::Config;
use crate::fetch::{FetchError, Fetcher};
use crate::metrics::Metrics;
use crate::politeness::Politeness;
use crate::store::{Store, StoreError};

/// In `once`, a request to a host paused for at most this long waits for the pause to end
/// (CONTRACT §6 *Pauses*); a longer pause fails it, and owed work due later than this is
/// left for the daemon or the next run.
pub const ONCE_MAX_PAUSE_WAIT: Duration = Duration::from_secs(60);

/// A failure of the crawl itself (not of one source).
#[derive(Debug, thiserror::Error)]
pub enum CrawlError {
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The HTTP client could not be built.
    #[error(transparent)]
    Fetch(#[from] FetchError),
}

/// Everything a poll needs, shared by all polls of a process.
#[derive(Clone)]
pub struct PollContext {
    /// The config in force.
    pub config: Arc<Config>,
    /// The HTTP client with its politeness.
    pub fetcher: Fetcher,
    /// The database writer.
    pub store: Arc<Store>,
    /// Counters for `/metrics`, when enabled.
    pub metrics: Option<Arc<Metrics>>,
}

impl PollContext {
    /// A context for `config`: a new politeness layer and HTTP client.
    pub fn new(
        config: Arc<Config>,
        store: Arc<Store>,
        metrics: Option<Arc<Metrics>>,
        max_pause_wait: Duration,
        shutdown: CancellationToken,
    ) -> Result<PollContext, CrawlError> {
        let politeness = Arc::new(Politeness::new(&config, shutdown));
        let fetcher = Fetcher::new(&config, politeness, max_pause_wait)?;
        Ok(PollContext {
            config,
            fetcher,
            store,
            metrics,
        })
    }

    /// The context of a reloaded `config`: a new HTTP client and admission rules, the same
    /// politeness layer reconfigured in place, so that every pause, limiter, robots.txt and
    /// crawl delay survives the reload (CONTRACT §7 *Rate*).
    pub fn reloaded(&self, config: Arc<Config>, max_pause_wait: Duration) -> Result<PollContext, CrawlError> {
        let politeness = self.fetcher.politeness_arc();
        politeness.reconfigure(&config);
        let fetcher = Fetcher::new(&config, politeness, max_pause_wait)?;
        Ok(PollContext {
            config,
            fetcher,
            store: Arc::clone(&self.store),
            metrics: self.metrics.clone(),
        })
    }

    /// Which hosts share links may be requested from.
    pub fn share_rules(&self) -> &ShareRules {
        self.fetcher.admission().share_rules()
    }
}
