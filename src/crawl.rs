//! One poll of one source — fetch → parse → normalize → store → schedule — and `once`, a
//! pass over every enabled source. The daemon ([`crate::daemon`]) runs the same
//! [`poll_source`] on its schedule.
//!
//! A source's failure is a value recorded in its `sources` and `fetches` rows, never an
//! early return: every other source is still processed.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, LazyLock, Mutex, PoisonError};
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use indicatif::ProgressBar;
use sha2::{Digest, Sha256};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;
use url::Url;

use crate::charset;
use crate::config::{Config, SourceConfig, SourceKind};
use crate::fetch::{Attempt, Body, FetchError, FetchResult, Fetcher, Outcome};
use crate::metrics::Metrics;
use crate::normalize::{self, Article, SourceContext};
use crate::pages;
use crate::politeness::Politeness;
use crate::scheduler::{self, PollResult};
use crate::share::{self, ShareRules};
use crate::sources::{ContentRank, Entry, feed, html_list, json};
use crate::store::{
    CommitReport, FetchBatch, NewShareLink, SourceOutcome, SourceSpec, SourceState, Store, StoreError,
};

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
    /// Which hosts share links may be requested from.
    pub share_rules: Arc<ShareRules>,
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
        let fetcher = Fetcher::new(&config.http, politeness, max_pause_wait)?;
        let share_rules = Arc::new(ShareRules::new(&config));
        Ok(PollContext {
            share_rules,
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
        CancellationToken::new(),
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
    drop(polls);
    // Then every share link the sources listed or discovered, until each is done, failed
    // or skipped.
    let shared = share::process_due(&context, true).await?;
    report.new_articles += shared.new_articles;
    report.share_links = shared.processed;
    Ok(report)
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
        },
    };
    let Polled {
        attempts: mut all_attempts,
        moved_permanently,
        parsed,
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
        _ => add(polled_at, delay),
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

/// A `share_links` source: its URLs go into the queue (the queue's worker fetches them).
fn poll_share_links(context: &PollContext, source: &SourceConfig, state: &SourceState) -> Polled {
    let rules = &context.share_rules;
    let mut parsed = Parsed::outcome(SourceOutcome::Listed);
    parsed.queue_links = source
        .urls
        .iter()
        .map(|url| share::new_link(&context.config, rules, url, Some(state.id)))
        .collect();
    Polled {
        attempts: Vec::new(),
        moved_permanently: None,
        parsed,
    }
}

/// A feed, JSON list or HTML list: the list request, its items, and the pages or detail
/// bodies of items whose article has no full text yet.
async fn poll_list(
    context: &PollContext,
    source: &SourceConfig,
    state: &SourceState,
    kind: SourceKind,
    url: Url,
    now: DateTime<Utc>,
) -> Polled {
    let config = &*context.config;
    let headers = url
        .host_str()
        .and_then(|h| config.host_for(h))
        .map(|h| h.headers.as_slice())
        .unwrap_or_default();
    let FetchResult {
        mut attempts,
        moved_permanently,
        outcome,
    } = context
        .fetcher
        .fetch(&url, &state.validators, headers)
        .instrument(tracing::debug_span!("fetch", url = %url))
        .await;
    let body = match outcome {
        Ok(Outcome::Body(body)) => body,
        other => {
            let parsed = match other {
                Ok(Outcome::NotModified) => Parsed::outcome(SourceOutcome::NotModified),
                Ok(Outcome::Status { status: 410, .. }) => Parsed::outcome(SourceOutcome::Gone {
                    error: format!("{url}: HTTP 410 Gone; source disabled until its config entry changes"),
                }),
                Ok(Outcome::Status { status, .. }) => Parsed::failed(
                    Some(status),
                    format!("{url}: HTTP {status} {}", status_text(status)),
                ),
                Ok(Outcome::Body(_)) => Parsed::failed(None, format!("{url}: unexpected response")),
                // The daemon polls again when the pause ends; `once` reports it as a failure.
                Err(FetchError::HostPaused { until, .. }) if context.fetcher.defers_paused_hosts() => {
                    tracing::info!(%until, "host paused; poll deferred");
                    Parsed::outcome(SourceOutcome::Deferred { until })
                }
                // Stopped before its request: due again as soon as the daemon is back.
                Err(FetchError::ShuttingDown { .. }) => {
                    Parsed::outcome(SourceOutcome::Deferred { until: now })
                }
                Err(e) => Parsed::failed(attempts.last().and_then(|a| a.status), e.to_string()),
            };
            return Polled {
                attempts,
                moved_permanently,
                parsed,
            };
        }
    };

    let tz = config.source_timezone(source);
    let items = match read_items(source, kind, &body, tz, now) {
        Ok(items) => items,
        Err(error) => {
            return Polled {
                attempts,
                moved_permanently,
                parsed: Parsed::failed(Some(body.status), format!("{}: {error}", body.url)),
            };
        }
    };
    let normalize_context = SourceContext {
        name: &source.name,
        category: source.category.as_deref(),
        tags: &source.tags,
        dedup: &config.dedup,
    };
    let published = items.iter().filter_map(|e| e.published.map(|p| p.utc)).collect();
    let listed: Vec<(Entry, Article)> = items
        .into_iter()
        .filter_map(|entry| normalize::normalize(entry.clone(), &normalize_context).map(|a| (entry, a)))
        .collect();
    tracing::debug!(entries = listed.len(), "parsed");

    let (pages, page_attempts) = full_texts(context, source, kind, &listed, &normalize_context).await;
    attempts.extend(page_attempts);

    let rules = &*context.share_rules;
    let mut queue_links: Vec<NewShareLink> = Vec::new();
    let mut articles: Vec<Article> = listed.into_iter().map(|(_, a)| a).collect();
    for article in &articles {
        queue_links.extend(share::discover(config, rules, Some(state.id), article, &[]));
    }
    for (article, links) in &pages {
        queue_links.extend(share::discover(config, rules, Some(state.id), article, links));
    }
    queue_links.sort_by(|a, b| a.url.cmp(&b.url));
    queue_links.dedup_by(|a, b| a.url == b.url);
    // The full text follows the list's copy, so it merges into it as a new revision.
    articles.extend(pages.into_iter().map(|(article, _)| article));
    Polled {
        attempts,
        moved_permanently,
        parsed: Parsed {
            articles,
            outcome: SourceOutcome::Fetched {
                status: body.status,
                validators: body.validators,
            },
            published,
            queue_links,
        },
    }
}

/// The second requests of a poll: the article page (`full_text` feeds, HTML lists) or the
/// detail body (JSON lists with `detail_url`) of every listed article that has no full text
/// yet, stored or in this list. Returns each page's article (identified as the listed copy
/// that led to it) with the links found in it, and the attempts made.
async fn full_texts(
    context: &PollContext,
    source: &SourceConfig,
    kind: SourceKind,
    listed: &[(Entry, Article)],
    normalize_context: &SourceContext<'_>,
) -> (Vec<(Article, Vec<String>)>, Vec<Attempt>) {
    let config = &*context.config;
    let wanted = match kind {
        SourceKind::Feed => source.full_text,
        SourceKind::Json => source.json.as_ref().is_some_and(|j| j.detail_url.is_some()),
        SourceKind::Html => true,
        SourceKind::ShareLinks => false,
    };
    if !wanted || listed.is_empty() {
        return (Vec::new(), Vec::new());
    }
    let keys: Vec<String> = listed.iter().map(|(_, a)| a.dedup_key.clone()).collect();
    let full = match context.store.with_full_text(keys.clone()).await {
        Ok(full) => full,
        Err(e) => {
            tracing::error!(error = %e, "cannot look up stored articles; no article pages this poll");
            keys.into_iter().collect()
        }
    };
    let mut seen = HashSet::new();
    let requests: Vec<(usize, SecondRequest)> = listed
        .iter()
        .enumerate()
        .filter(|(_, (_, a))| {
            !full.contains(&a.dedup_key)
                && a.content.as_ref().is_none_or(|c| c.rank < ContentRank::Full)
                && seen.insert(a.dedup_key.clone())
        })
        .filter_map(|(i, (entry, article))| second_request(source, kind, entry, article).map(|r| (i, r)))
        .collect();
    let fetched: Vec<(usize, pages::Page)> = futures_util::stream::iter(requests)
        .map(|(i, request)| async move {
            let page = match request {
                SecondRequest::Page(url) => {
                    pages::fetch_article(config, &context.fetcher, &url, Some(source)).await
                }
                SecondRequest::Detail(url, pointer, entry) => {
                    pages::fetch_detail(config, &context.fetcher, &url, &pointer, *entry).await
                }
            };
            (i, page)
        })
        .buffer_unordered(config.http.concurrency.max(1))
        .collect()
        .await;
    let mut found_pages = Vec::with_capacity(fetched.len());
    let mut attempts = Vec::new();
    for (i, page) in fetched {
        attempts.extend(page.attempts);
        let found = match page.result {
            Ok(found) => found,
            Err(e) => {
                tracing::info!(error = %e, "no full text for an item");
                continue;
            }
        };
        let listed_copy = &listed[i].1;
        let mut entry = found.entry;
        if entry.title.as_deref().is_none_or(|t| t.trim().is_empty()) {
            entry.title = Some(listed_copy.title.clone());
        }
        if entry.published.is_none() {
            entry.published = listed_copy.published;
        }
        if let Some(mut article) = normalize::normalize(entry, normalize_context) {
            // The page is the same article as the item that led to it.
            article.dedup_key.clone_from(&listed_copy.dedup_key);
            article.info_code = listed_copy.info_code.clone().or(article.info_code);
            article.url = listed_copy.url.clone().or(article.url);
            article.share_url = listed_copy.share_url.clone();
            found_pages.push((article, found.links));
        }
    }
    (found_pages, attempts)
}

/// The items of a list response, by source type.
fn read_items(
    source: &SourceConfig,
    kind: SourceKind,
    body: &Body,
    tz: chrono_tz::Tz,
    now: DateTime<Utc>,
) -> Result<Vec<Entry>, String> {
    match (kind, &source.json, &source.html) {
        (SourceKind::Json, Some(list), _) => {
            let parsed = json::parse_list(
                &body.bytes,
                body.content_type.as_deref(),
                list,
                &body.url,
                tz,
                now,
            )
            .map_err(|e| e.to_string())?;
            if let Some(first) = parsed.skipped.first() {
                tracing::warn!(skipped = parsed.skipped.len(), first = %first, "JSON items skipped");
            }
            Ok(parsed.entries)
        }
        (SourceKind::Html, _, Some(list)) => {
            let html = charset::decode_html(&body.bytes, body.content_type.as_deref()).text;
            let items = html_list::parse_list(&html, &body.url, list, tz, now).map_err(|e| e.to_string())?;
            if items.is_empty() {
                warn_once(&source.name, &list.item);
            }
            Ok(items
                .into_iter()
                .map(|item| Entry {
                    link: Some(item.link.to_string()),
                    title: item.title,
                    published: item.published,
                    ..Entry::default()
                })
                .collect())
        }
        _ => feed::parse(
            &body.bytes,
            body.content_type.as_deref(),
            body.url.as_str(),
            tz,
            now,
        )
        .map_err(|e| e.to_string()),
    }
}

/// A selector that matches nothing is worth one warning per source, not one per poll.
fn warn_once(source: &str, selector: &str) {
    static WARNED: LazyLock<Mutex<HashSet<String>>> = LazyLock::new(Mutex::default);
    if WARNED
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .insert(source.to_owned())
    {
        tracing::warn!(selector, "the item selector matched nothing on the list page");
    }
}

/// An item's second request.
enum SecondRequest {
    /// Its article page.
    Page(Url),
    /// Its detail body: URL, JSON pointer, and the item to complete.
    Detail(Url, String, Box<Entry>),
}

/// What to fetch for an item's full text, if anything.
fn second_request(
    source: &SourceConfig,
    kind: SourceKind,
    entry: &Entry,
    article: &Article,
) -> Option<SecondRequest> {
    match kind {
        SourceKind::Json => {
            let list = source.json.as_ref()?;
            let template = list.detail_url.as_deref()?;
            let link = article.url.as_deref().or(article.share_url.as_deref());
            let url = pages::fill_template(template, article.info_code.as_deref(), link)?;
            let pointer = list.detail_content.clone().unwrap_or_default();
            Some(SecondRequest::Detail(url, pointer, Box::new(entry.clone())))
        }
        // The item's own page; a share link is the share-link worker's business.
        _ => Url::parse(article.url.as_deref()?).ok().map(SecondRequest::Page),
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
