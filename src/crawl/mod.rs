//! One poll of one source — fetch → parse → normalize → store → schedule — and `once`, a
//! pass over every enabled source. The daemon ([`crate::daemon`]) runs the same
//! [`poll_source`] on its schedule.
//!
//! A source's failure is a value recorded in its `sources` and `fetches` rows, never an
//! early return: every other source is still processed.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use indicatif::ProgressBar;
use sha2::{Digest, Sha256};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;
use url::Url;

use crate::config::{Config, SourceConfig, SourceKind};
use crate::fetch::Attempt;
use crate::normalize::Article;

mod lists;
pub use crate::context::{CrawlError, PollContext};
use crate::page_jobs;
use crate::scheduler::{self, PollResult};
use crate::share;
use crate::store::{
    CommitReport, FetchBatch, NewShareLink, SourceOutcome, SourceSpec, SourceState, Store, StoreError,
};
use lists::{poll_list, poll_share_links};

pub use crate::context::ONCE_MAX_PAUSE_WAIT;

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
    /// Share links worked on.
    pub share_links: usize,
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
            config_hash: hex::encode(Sha256::digest(s.canonical_settings().as_bytes())),
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
        CancellationToken::new(),
    )?;
    // Before any poll: every new article of this run queues its notifications.
    crate::notify::install(config, &store).await?;
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
        .filter_map(|s| states.get(&s.name).map(|state| (&**s, state)))
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
        .buffer_unordered(polls_in_flight(config));
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
    drop(polls);
    // Then every second request still owed (a page that failed or was deferred during its
    // poll, or left by an earlier run), until each is done or failed.
    let owed = page_jobs::process_due(&context, true).await?;
    report.new_articles += owed.new_articles;
    // Then every share link the sources listed or discovered, until each is done, failed
    // or skipped.
    let shared = share::process_due(&context, true).await?;
    report.new_articles += shared.new_articles;
    report.share_links = shared.processed;
    // Then the notifications owed (this run's and any left by earlier runs).
    let notifier = crate::notify::Notifier::new(Arc::clone(&context.config), Arc::clone(&store), None);
    let notified = notifier.process_due(true).await?;
    if notified.delivered + notified.failed > 0 {
        tracing::info!(
            delivered = notified.delivered,
            failed = notified.failed,
            "notifications"
        );
    }
    Ok(report)
}

/// How many polls may be under way at once. More than `[http] concurrency` (which the
/// fetcher enforces on requests): a poll whose articles wait for the writer holds no
/// connection, and while the writer is busy (a search-index pass) the next polls keep
/// fetching and parsing instead of the whole crawl waiting for the writer.
pub fn polls_in_flight(config: &Config) -> usize {
    config.http.concurrency.max(1) * 4
}

/// What a poll produced, before it is stored.
struct Parsed {
    articles: Vec<Article>,
    outcome: SourceOutcome,
    published: Vec<DateTime<Utc>>,
    queue_links: Vec<NewShareLink>,
}

impl Parsed {
    fn failed(status: Option<u16>, error: String) -> Parsed {
        Parsed::outcome(SourceOutcome::Failed { status, error })
    }

    fn outcome(outcome: SourceOutcome) -> Parsed {
        Parsed {
            articles: Vec::new(),
            outcome,
            published: Vec::new(),
            queue_links: Vec::new(),
        }
    }
}

/// The requests of a poll and what they came to.
struct Polled {
    attempts: Vec<Attempt>,
    moved_permanently: Option<Url>,
    parsed: Parsed,
    /// What the poll already committed before its end (listed copies and article pages of
    /// a poll with second requests).
    committed: CommitReport,
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
    let polled = match (source.kind, url) {
        (SourceKind::ShareLinks, _) => poll_share_links(context, source, state),
        (kind, Some(url)) => poll_list(context, source, state, kind, url, polled_at).await,
        (_, None) => Polled {
            attempts: Vec::new(),
            moved_permanently: None,
            parsed: Parsed::failed(None, format!("source {} has no url", source.name)),
            committed: CommitReport::default(),
        },
    };
    let Polled {
        attempts: mut all_attempts,
        moved_permanently,
        parsed,
        committed,
    } = polled;
    let host = all_attempts
        .first()
        .and_then(|a| Url::parse(&a.url).ok())
        .or_else(|| source.url.clone())
        .and_then(|u| u.host_str().map(str::to_owned));
    let not_modified = matches!(parsed.outcome, SourceOutcome::NotModified);
    let error = match &parsed.outcome {
        SourceOutcome::Failed { error, .. } | SourceOutcome::Gone { error } => Some(error.clone()),
        _ => None,
    };
    let consecutive_failures = match &parsed.outcome {
        _ if error.is_some() => state.consecutive_failures.saturating_add(1),
        // Waiting out a host's pause is not the source's failure.
        SourceOutcome::Deferred { .. } => state.consecutive_failures,
        _ => 0,
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
        SourceOutcome::NotModified | SourceOutcome::Listed | SourceOutcome::Deferred { .. } => {
            PollResult::NotModified
        }
        SourceOutcome::Failed { .. } | SourceOutcome::Gone { .. } => {
            PollResult::Failed { consecutive_failures }
        }
    };
    let base = scheduler::base_interval(config, source, poll_interval);
    let delay = scheduler::next_delay(config, base, &result, fastrand::f64());
    let mut next_poll_at = match &parsed.outcome {
        SourceOutcome::Deferred { until } => *until,
        _ => scheduler::after(polled_at, delay),
    };
    if let Some(until) = host.and_then(|h| context.fetcher.politeness().paused_until(&h)) {
        next_poll_at = next_poll_at.max(until);
    }
    let gone = matches!(parsed.outcome, SourceOutcome::Gone { .. });

    // The request that delivered a bad status or an unreadable body carries the source's
    // error in `fetches.error` too.
    if let (Some(error), Some(last)) = (&error, all_attempts.last_mut())
        && last.error.is_none()
    {
        last.error = Some(error.clone());
    }
    let moved_to = moved_permanently.as_ref().map(ToString::to_string);
    let validators = match &parsed.outcome {
        SourceOutcome::Fetched { validators, .. } => validators.clone(),
        _ => state.validators.clone(),
    };
    let batch = FetchBatch {
        source_id: Some(state.id),
        attempts: all_attempts,
        articles: parsed.articles,
        outcome: Some(parsed.outcome),
        queue_links: parsed.queue_links,
        share_links: Vec::new(),
        page_jobs: Vec::new(),
        page_job_updates: Vec::new(),
        validators: None,
        polled_at,
        next_poll_at: (!gone).then_some(next_poll_at),
        moved_to: moved_to.clone(),
        poll_interval,
    };
    let batch_attempts: Vec<(Option<u16>, u64, std::time::Duration)> = batch
        .attempts
        .iter()
        .map(|a| (a.status, a.bytes, a.duration))
        .collect();
    let kept_attempts = batch.attempts.clone();
    let mut commit = match context.store.commit(batch).await {
        Ok(commit) => commit,
        // This poll's rows could not be stored (rolled back alone): the source failed
        // this time; its validators stay as they were, so the next poll fetches again.
        Err(e @ StoreError::Batch { .. }) => {
            return store_failed(context, source, state, kept_attempts, polled_at, base, &e).await;
        }
        Err(e) => return Err(e),
    };
    commit.new_articles += committed.new_articles;
    commit.updated_articles += committed.updated_articles;
    commit.unchanged_articles += committed.unchanged_articles;

    if let Some(metrics) = &context.metrics {
        for (status, bytes, duration) in batch_attempts {
            metrics.record_fetch(status, bytes);
            metrics.record_fetch_duration(duration);
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

/// Records a poll whose rows the database refused ([`StoreError::Batch`]) as the source's
/// failure: its requests, the error in `last_error`, the next poll backed off.
async fn store_failed(
    context: &PollContext,
    source: &SourceConfig,
    state: &SourceState,
    mut attempts: Vec<Attempt>,
    polled_at: DateTime<Utc>,
    base: std::time::Duration,
    failure: &StoreError,
) -> Result<PollReport, StoreError> {
    let error = failure.to_string();
    // The request whose rows were refused carries the error, as a bad status would.
    if let Some(last) = attempts.last_mut()
        && last.error.is_none()
    {
        last.error = Some(error.clone());
    }
    let consecutive_failures = state.consecutive_failures.saturating_add(1);
    let delay = scheduler::next_delay(
        &context.config,
        base,
        &PollResult::Failed { consecutive_failures },
        fastrand::f64(),
    );
    let next_poll_at = scheduler::after(polled_at, delay);
    let mut batch = FetchBatch::empty(Some(state.id), polled_at);
    batch.attempts = attempts;
    batch.outcome = Some(SourceOutcome::Failed {
        status: None,
        error: error.clone(),
    });
    batch.next_poll_at = Some(next_poll_at);
    batch.poll_interval = state.poll_interval;
    context.store.commit(batch).await?;
    if let Some(metrics) = &context.metrics {
        metrics.record_source_failure(&source.name);
    }
    tracing::warn!(error = %error, failures = consecutive_failures, next_poll_at = %next_poll_at, "source failed");
    Ok(PollReport {
        source: source.name.clone(),
        commit: CommitReport::default(),
        not_modified: false,
        error: Some(error),
        state: SourceState {
            id: state.id,
            name: state.name.clone(),
            validators: state.validators.clone(),
            next_poll_at: Some(next_poll_at),
            consecutive_failures,
            url: state.url.clone(),
            disabled_reason: None,
            poll_interval: state.poll_interval,
        },
    })
}

fn status_text(status: u16) -> &'static str {
    reqwest::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("")
}
