//! One pass over the configured sources: fetch → parse → normalize → store, per source,
//! many sources at once. `feedcrawler once` is this pass; the daemon runs the same
//! [`poll_source`] on a schedule.
//!
//! A source's failure is a value recorded in its `sources` and `fetches` rows, never an
//! early return: every other source is still processed.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use indicatif::ProgressBar;
use tracing::Instrument;

use crate::config::{Config, SourceConfig, SourceKind};
use crate::fetch::{FetchError, Fetcher, Outcome};
use crate::normalize::{self, SourceContext};
use crate::sources;
use crate::store::{CommitReport, FetchBatch, SourceOutcome, SourceSpec, SourceState, Store, StoreError};

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

/// What one pass did.
#[derive(Clone, Debug, Default)]
pub struct OnceReport {
    /// Sources polled.
    pub polled: usize,
    /// Sources that answered 304.
    pub not_modified: usize,
    /// `(source name, error)` for every source that failed.
    pub failed: Vec<(String, String)>,
    /// Articles stored for the first time.
    pub new_articles: usize,
    /// Existing articles enriched or corrected.
    pub updated_articles: usize,
}

/// How one source's poll went.
#[derive(Clone, Debug)]
pub struct PollReport {
    /// The source's name.
    pub source: String,
    /// What the store did with the articles.
    pub commit: CommitReport,
    /// Whether the answer was 304.
    pub not_modified: bool,
    /// The error, if the poll failed.
    pub error: Option<String>,
}

/// The configured sources as the `sources` table should hold them.
pub fn source_specs(config: &Config) -> Vec<SourceSpec> {
    config
        .sources
        .iter()
        .map(|s| SourceSpec {
            name: s.name.clone(),
            kind: s.kind.as_str().to_owned(),
            url: s.url.as_ref().map(ToString::to_string),
            enabled: s.enabled,
        })
        .collect()
}

/// Polls every enabled source once, `[http] concurrency` at a time, and waits for all of
/// them. `progress` ticks once per source (pass a hidden bar when nobody watches).
pub async fn once(config: &Config, store: &Store, progress: &ProgressBar) -> Result<OnceReport, CrawlError> {
    let states: HashMap<String, SourceState> = store
        .sync_sources(source_specs(config))
        .await?
        .into_iter()
        .map(|s| (s.name.clone(), s))
        .collect();
    let fetcher = Fetcher::new(&config.http)?;
    let enabled: Vec<(&SourceConfig, &SourceState)> = config
        .sources
        .iter()
        .filter(|s| s.enabled)
        .filter_map(|s| states.get(&s.name).map(|state| (s, state)))
        .collect();
    progress.set_length(enabled.len() as u64);

    let mut report = OnceReport::default();
    let mut polls = futures_util::stream::iter(enabled)
        .map(|(source, state)| poll_source(config, &fetcher, store, source, state))
        .buffer_unordered(config.http.concurrency.max(1));
    while let Some(poll) = polls.next().await {
        let poll = poll?;
        report.polled += 1;
        report.new_articles += poll.commit.new_articles;
        report.updated_articles += poll.commit.updated_articles;
        report.not_modified += usize::from(poll.not_modified);
        if let Some(error) = poll.error {
            report.failed.push((poll.source, error));
        }
        progress.inc(1);
        progress.set_message(format!("{} new articles", report.new_articles));
    }
    Ok(report)
}

/// Fetches, parses and stores one source; its failure is recorded, not returned. `Err` is
/// only for the database failing.
pub async fn poll_source(
    config: &Config,
    fetcher: &Fetcher,
    store: &Store,
    source: &SourceConfig,
    state: &SourceState,
) -> Result<PollReport, StoreError> {
    let url = source.url.as_ref().map(ToString::to_string).unwrap_or_default();
    let span = tracing::info_span!("source", source = %source.name, url = %url);
    async move {
        let polled_at = Utc::now();
        let next_poll_at = add(polled_at, config.source_interval(source));
        let (batch, not_modified) = match (source.kind, &source.url) {
            (SourceKind::Feed, Some(url)) => {
                let headers = url
                    .host_str()
                    .and_then(|h| config.host_for(h))
                    .map(|h| h.headers.as_slice())
                    .unwrap_or_default();
                let fetched = fetcher
                    .fetch(url, &state.validators, headers)
                    .instrument(tracing::debug_span!("fetch", url = %url))
                    .await;
                let not_modified = matches!(fetched.outcome, Ok(Outcome::NotModified));
                let (articles, outcome) = match fetched.outcome {
                    Ok(Outcome::Body(body)) => {
                        let tz = config.source_timezone(source);
                        match sources::feed::parse(
                            &body.bytes,
                            body.content_type.as_deref(),
                            body.url.as_str(),
                            tz,
                            polled_at,
                        ) {
                            Ok(entries) => {
                                let context = SourceContext {
                                    name: &source.name,
                                    category: source.category.as_deref(),
                                    tags: &source.tags,
                                    dedup: &config.dedup,
                                };
                                let articles: Vec<_> = entries
                                    .into_iter()
                                    .filter_map(|e| normalize::normalize(e, &context))
                                    .collect();
                                tracing::debug!(entries = articles.len(), "parsed");
                                (
                                    articles,
                                    SourceOutcome::Fetched {
                                        status: body.status,
                                        validators: body.validators,
                                    },
                                )
                            }
                            Err(e) => (
                                Vec::new(),
                                SourceOutcome::Failed {
                                    status: Some(body.status),
                                    error: format!("{}: {e}", body.url),
                                },
                            ),
                        }
                    }
                    Ok(Outcome::NotModified) => (Vec::new(), SourceOutcome::NotModified),
                    Ok(Outcome::Status { status, .. }) => (
                        Vec::new(),
                        SourceOutcome::Failed {
                            status: Some(status),
                            error: format!("{url}: HTTP {status} {}", status_text(status)),
                        },
                    ),
                    Err(e) => (
                        Vec::new(),
                        SourceOutcome::Failed {
                            status: None,
                            error: e.to_string(),
                        },
                    ),
                };
                let mut attempts = fetched.attempts;
                // The request that delivered a bad status or an unreadable body carries
                // the source's error in `fetches.error` too.
                if let (SourceOutcome::Failed { error, .. }, Some(last)) = (&outcome, attempts.last_mut())
                    && last.error.is_none()
                {
                    last.error = Some(error.clone());
                }
                let batch = FetchBatch {
                    source_id: Some(state.id),
                    attempts,
                    articles,
                    outcome,
                    polled_at,
                    next_poll_at: Some(next_poll_at),
                };
                (batch, not_modified)
            }
            (kind, _) => {
                let batch = FetchBatch {
                    source_id: Some(state.id),
                    attempts: Vec::new(),
                    articles: Vec::new(),
                    outcome: SourceOutcome::Failed {
                        status: None,
                        error: format!(
                            "sources of type \"{}\" are not crawled by this version",
                            kind.as_str()
                        ),
                    },
                    polled_at,
                    next_poll_at: Some(next_poll_at),
                };
                (batch, false)
            }
        };
        let error = match &batch.outcome {
            SourceOutcome::Failed { error, .. } => Some(error.clone()),
            _ => None,
        };
        let commit = store.commit(batch).await?;
        match &error {
            Some(e) => tracing::warn!(error = %e, "source failed"),
            None if not_modified => tracing::debug!("not modified"),
            None => tracing::info!(
                new = commit.new_articles,
                updated = commit.updated_articles,
                "polled"
            ),
        }
        Ok(PollReport {
            source: source.name.clone(),
            commit,
            not_modified,
            error,
        })
    }
    .instrument(span)
    .await
}

fn status_text(status: u16) -> &'static str {
    reqwest::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("")
}

/// `at + d`, saturating at the end of time.
fn add(at: DateTime<Utc>, d: Duration) -> DateTime<Utc> {
    chrono::Duration::from_std(d)
        .ok()
        .and_then(|d| at.checked_add_signed(d))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}
