//! One poll of one source — fetch → parse → normalize → store → schedule — and `once`, a
//! pass over every enabled source. The daemon ([`crate::daemon`]) runs the same
//! [`poll_source`] on its schedule.
//!
//! A source's failure is a value recorded in its `sources` and `fetches` rows, never an
//! early return: every other source is still processed.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use indicatif::ProgressBar;
use sha2::{Digest, Sha256};
use tracing::Instrument;
use url::Url;

use crate::config::{Config, SourceConfig, SourceKind};
use crate::fetch::{FetchError, FetchResult, Fetcher, Outcome};
use crate::metrics::Metrics;
use crate::normalize::{self, Article, SourceContext};
use crate::politeness::Politeness;
use crate::scheduler::{self, PollResult};
use crate::sources;
use crate::store::{CommitReport, FetchBatch, SourceOutcome, SourceSpec, SourceState, Store, StoreError};

/// In `once`, a request to a host paused for at most this long waits for the pause to end
/// (CONTRACT §6 *Pauses*); a longer pause fails it.
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
    ) -> Result<PollContext, CrawlError> {
        let politeness = Arc::new(Politeness::new(&config));
        let fetcher = Fetcher::new(&config.http, politeness, max_pause_wait)?;
        Ok(PollContext {
            config,
            fetcher,
            store,
            metrics,
        })
    }
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
    /// The source's state after the poll (validators, failures, next poll; `next_poll_at`
    /// is None when the source was disabled by a 410).
    pub state: SourceState,
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
            config_hash: hex::encode(Sha256::digest(format!("{s:?}").as_bytes())),
        })
        .collect()
}

/// Polls every enabled source once, `[http] concurrency` at a time, and waits for all of
/// them. `progress` ticks once per source (pass a hidden bar when nobody watches).
pub async fn once(
    config: &Config,
    store: Arc<Store>,
    progress: &ProgressBar,
) -> Result<OnceReport, CrawlError> {
    let context = PollContext::new(
        Arc::new(config.clone()),
        Arc::clone(&store),
        None,
        ONCE_MAX_PAUSE_WAIT,
    )?;
    let states: HashMap<String, SourceState> = store
        .sync_sources(source_specs(config))
        .await?
        .into_iter()
        .map(|s| (s.name.clone(), s))
        .collect();
    let enabled: Vec<(&SourceConfig, &SourceState)> = config
        .sources
        .iter()
        .filter(|s| s.enabled)
        .filter_map(|s| states.get(&s.name).map(|state| (s, state)))
        .filter(|(s, state)| {
            if let Some(reason) = &state.disabled_reason {
                tracing::warn!(source = %s.name, reason, "source disabled until its config entry changes");
            }
            state.disabled_reason.is_none()
        })
        .collect();
    progress.set_length(enabled.len() as u64);

    let mut report = OnceReport::default();
    let mut polls = futures_util::stream::iter(enabled)
        .map(|(source, state)| poll_source(&context, source, state))
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

/// What parsing a fetch produced, before it is stored.
struct Parsed {
    articles: Vec<Article>,
    outcome: SourceOutcome,
    published: Vec<DateTime<Utc>>,
}

/// Fetches, parses and stores one source and works out when it is due next; its failure
/// is recorded, not returned. `Err` is only for the database failing.
pub async fn poll_source(
    context: &PollContext,
    source: &SourceConfig,
    state: &SourceState,
) -> Result<PollReport, StoreError> {
    let url = state
        .url
        .as_deref()
        .and_then(|u| Url::parse(u).ok())
        .or_else(|| source.url.clone());
    let span = tracing::info_span!(
        "source",
        source = %source.name,
        url = %url.as_ref().map(Url::as_str).unwrap_or_default()
    );
    poll(context, source, state, url).instrument(span).await
}

async fn poll(
    context: &PollContext,
    source: &SourceConfig,
    state: &SourceState,
    url: Option<Url>,
) -> Result<PollReport, StoreError> {
    let config = &*context.config;
    let polled_at = Utc::now();
    let (fetched, parsed) = match (source.kind, url) {
        (SourceKind::Feed, Some(url)) => {
            let headers = url
                .host_str()
                .and_then(|h| config.host_for(h))
                .map(|h| h.headers.as_slice())
                .unwrap_or_default();
            let fetched = context
                .fetcher
                .fetch(&url, &state.validators, headers)
                .instrument(tracing::debug_span!("fetch", url = %url))
                .await;
            let parsed = parse_feed(config, source, &url, &fetched, polled_at);
            (Some(fetched), parsed)
        }
        (kind, _) => {
            let parsed = Parsed {
                articles: Vec::new(),
                outcome: SourceOutcome::Failed {
                    status: None,
                    error: format!(
                        "sources of type \"{}\" are not crawled by this version",
                        kind.as_str()
                    ),
                },
                published: Vec::new(),
            };
            (None, parsed)
        }
    };

    let host = fetched
        .as_ref()
        .and_then(|f| f.attempts.last())
        .and_then(|a| Url::parse(&a.url).ok())
        .and_then(|u| u.host_str().map(str::to_owned));
    let not_modified = matches!(parsed.outcome, SourceOutcome::NotModified);
    let error = match &parsed.outcome {
        SourceOutcome::Failed { error, .. } | SourceOutcome::Gone { error } => Some(error.clone()),
        _ => None,
    };
    let consecutive_failures = if error.is_some() {
        state.consecutive_failures.saturating_add(1)
    } else {
        0
    };

    // When next: the interval (adaptive where it applies), backoff, jitter, and never
    // before the host's pause ends.
    let mut poll_interval = state.poll_interval;
    let result = match &parsed.outcome {
        SourceOutcome::Fetched { .. } => {
            if config.schedule.adaptive && source.interval.is_none() {
                poll_interval = Some(scheduler::adaptive_interval(config, &parsed.published, polled_at));
            }
            PollResult::Fetched {
                published: parsed.published,
            }
        }
        SourceOutcome::NotModified => PollResult::NotModified,
        SourceOutcome::Failed { .. } | SourceOutcome::Gone { .. } => {
            PollResult::Failed { consecutive_failures }
        }
    };
    let base = scheduler::base_interval(config, source, poll_interval);
    let delay = scheduler::next_delay(config, base, &result, fastrand::f64());
    let mut next_poll_at = add(polled_at, delay);
    if let Some(until) = host.and_then(|h| context.fetcher.politeness().paused_until(&h)) {
        next_poll_at = next_poll_at.max(until);
    }
    let gone = matches!(parsed.outcome, SourceOutcome::Gone { .. });

    let mut attempts = fetched.as_ref().map(|f| f.attempts.clone()).unwrap_or_default();
    // The request that delivered a bad status or an unreadable body carries the source's
    // error in `fetches.error` too.
    if let (Some(error), Some(last)) = (&error, attempts.last_mut())
        && last.error.is_none()
    {
        last.error = Some(error.clone());
    }
    let moved_to = fetched
        .as_ref()
        .and_then(|f| f.moved_permanently.as_ref())
        .map(ToString::to_string);
    let validators = match &parsed.outcome {
        SourceOutcome::Fetched { validators, .. } => validators.clone(),
        _ => state.validators.clone(),
    };
    let batch = FetchBatch {
        source_id: Some(state.id),
        attempts,
        articles: parsed.articles,
        outcome: parsed.outcome,
        polled_at,
        next_poll_at: (!gone).then_some(next_poll_at),
        moved_to: moved_to.clone(),
        poll_interval,
    };
    let batch_attempts: Vec<(Option<u16>, u64)> =
        batch.attempts.iter().map(|a| (a.status, a.bytes)).collect();
    let commit = context.store.commit(batch).await?;

    if let Some(metrics) = &context.metrics {
        for (status, bytes) in batch_attempts {
            metrics.record_fetch(status, bytes);
        }
        metrics.record_articles(commit.new_articles as u64, commit.updated_articles as u64);
        if error.is_some() {
            metrics.record_source_failure(&source.name);
        }
    }
    match &error {
        Some(e) => {
            tracing::warn!(error = %e, failures = consecutive_failures, next_poll_at = %next_poll_at, "source failed")
        }
        None if not_modified => tracing::debug!(next_poll_at = %next_poll_at, "not modified"),
        None => tracing::info!(
            new = commit.new_articles,
            updated = commit.updated_articles,
            next_poll_at = %next_poll_at,
            "polled"
        ),
    }
    Ok(PollReport {
        source: source.name.clone(),
        commit,
        not_modified,
        error,
        state: SourceState {
            id: state.id,
            name: state.name.clone(),
            validators,
            next_poll_at: (!gone).then_some(next_poll_at),
            consecutive_failures,
            url: moved_to.or_else(|| state.url.clone()),
            disabled_reason: if gone {
                Some("HTTP 410 Gone".to_owned())
            } else {
                None
            },
            poll_interval,
        },
    })
}

/// Turns a feed fetch into articles and the source's outcome.
fn parse_feed(
    config: &Config,
    source: &SourceConfig,
    url: &Url,
    fetched: &FetchResult,
    now: DateTime<Utc>,
) -> Parsed {
    let failed = |status, error| Parsed {
        articles: Vec::new(),
        outcome: SourceOutcome::Failed { status, error },
        published: Vec::new(),
    };
    match &fetched.outcome {
        Ok(Outcome::Body(body)) => {
            let tz = config.source_timezone(source);
            match sources::feed::parse(
                &body.bytes,
                body.content_type.as_deref(),
                body.url.as_str(),
                tz,
                now,
            ) {
                Ok(entries) => {
                    let context = SourceContext {
                        name: &source.name,
                        category: source.category.as_deref(),
                        tags: &source.tags,
                        dedup: &config.dedup,
                    };
                    let published = entries
                        .iter()
                        .filter_map(|e| e.published.map(|p| p.utc))
                        .collect();
                    let articles: Vec<_> = entries
                        .into_iter()
                        .filter_map(|e| normalize::normalize(e, &context))
                        .collect();
                    tracing::debug!(entries = articles.len(), "parsed");
                    Parsed {
                        articles,
                        outcome: SourceOutcome::Fetched {
                            status: body.status,
                            validators: body.validators.clone(),
                        },
                        published,
                    }
                }
                Err(e) => failed(Some(body.status), format!("{}: {e}", body.url)),
            }
        }
        Ok(Outcome::NotModified) => Parsed {
            articles: Vec::new(),
            outcome: SourceOutcome::NotModified,
            published: Vec::new(),
        },
        Ok(Outcome::Status { status: 410, .. }) => Parsed {
            articles: Vec::new(),
            outcome: SourceOutcome::Gone {
                error: format!("{url}: HTTP 410 Gone; source disabled until its config entry changes"),
            },
            published: Vec::new(),
        },
        Ok(Outcome::Status { status, .. }) => failed(
            Some(*status),
            format!("{url}: HTTP {status} {}", status_text(*status)),
        ),
        Err(e) => failed(fetched.attempts.last().and_then(|a| a.status), e.to_string()),
    }
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
