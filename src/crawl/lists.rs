//! The list sources of a poll: a feed, JSON list or HTML list and the second requests its
//! items need (article pages, detail bodies), and the `share_links` source's queueing.

use std::collections::HashSet;
use std::sync::{LazyLock, Mutex, PoisonError};

use chrono::{DateTime, Utc};
use tracing::Instrument;
use url::Url;

use super::{Parsed, PollContext, Polled, status_text};
use crate::admission::{Origin, Purpose};
use crate::charset;
use crate::config::{DedupConfig, SourceConfig, SourceKind};
use crate::cpu;
use crate::fetch::{Body, FetchError, FetchResult, Outcome};
use crate::filter;
use crate::normalize::{self, Article, SourceContext};
use crate::page_jobs;
use crate::pages;
use crate::share;
use crate::sources::{ContentRank, Entry, Read, Skipped, feed, html_list, json};
use crate::store::{
    CommitReport, FetchBatch, NewPageJob, NewShareLink, PageJob, PageJobKind, SourceOutcome, SourceState,
};

/// A `share_links` source: its URLs go into the queue (the queue's worker fetches them).
pub(super) fn poll_share_links(context: &PollContext, source: &SourceConfig, state: &SourceState) -> Polled {
    let rules = context.share_rules();
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
        committed: CommitReport::default(),
    }
}

/// A feed, JSON list or HTML list: the list request, its items, and the pages or detail
/// bodies of items whose article has no full text yet.
pub(super) async fn poll_list(
    context: &PollContext,
    source: &SourceConfig,
    state: &SourceState,
    kind: SourceKind,
    url: Url,
    now: DateTime<Utc>,
) -> Polled {
    let config = &*context.config;
    // The configured URL is the config's; a stored 301 target was learned from the network.
    let origin = if source.url.as_ref() == Some(&url) {
        Origin::Config
    } else {
        Origin::Network
    };
    let FetchResult {
        mut attempts,
        moved_permanently,
        outcome,
    } = context
        .fetcher
        .fetch(&url, &state.validators, origin, Purpose::List)
        .instrument(tracing::debug_span!("fetch", url = %url))
        .await;
    let failed = |attempts, parsed| Polled {
        attempts,
        moved_permanently: moved_permanently.clone(),
        parsed,
        committed: CommitReport::default(),
    };
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
                // …or its host went to another daemon: whoever holds it polls it.
                Err(FetchError::ShuttingDown { .. } | FetchError::NotLeased { .. }) => {
                    Parsed::outcome(SourceOutcome::Deferred { until: now })
                }
                Err(e) => Parsed::failed(attempts.last().and_then(|a| a.status), e.to_string()),
            };
            return failed(attempts, parsed);
        }
    };

    // Parsing and normalizing are CPU work: off the async workers.
    let status = body.status;
    let body_url = body.url.clone();
    let validators = body.validators.clone();
    let read = {
        let source = source.clone();
        let tz = config.source_timezone(&source);
        // The config is shared, not its dedup rules cloned: a cloned Regex starts with empty
        // match caches, which every poll would then fill again (memory and time).
        let config = std::sync::Arc::clone(&context.config);
        cpu::run("parsing a list", move || {
            read_and_normalize(&source, kind, &body, tz, now, &config.dedup)
        })
        .await
    };
    let (listed, published, skipped) = match read {
        Ok(Ok(read)) => read,
        Ok(Err(error)) => {
            return failed(
                attempts,
                Parsed::failed(Some(status), format!("{body_url}: {error}")),
            );
        }
        Err(error) => {
            return failed(
                attempts,
                Parsed::failed(Some(status), format!("{body_url}: {error}")),
            );
        }
    };
    tracing::debug!(entries = listed.len(), "parsed");
    if let Some(reason) = skipped.summary() {
        // Entries the operator's filters drop are expected, not worth a warning per poll.
        if skipped.count() > skipped.count_of(filter::FILTERED_REASON) {
            tracing::warn!(url = %body_url, skipped = skipped.count(), %reason, "items skipped");
        } else {
            tracing::debug!(url = %body_url, skipped = skipped.count(), %reason, "items filtered out");
        }
        // The request that delivered the body (the last hop) carries the count.
        if let Some(last) = attempts.last_mut() {
            last.entries_skipped = skipped.count();
            last.skip_reason = Some(reason);
        }
    }

    let rules = context.share_rules();
    let mut queue_links: Vec<NewShareLink> = Vec::new();
    for (_, article) in &listed {
        queue_links.extend(share::discover(config, rules, Some(state.id), article, &[]));
    }
    let mut committed = CommitReport::default();
    let jobs = second_requests(context, source, kind, &listed).await;
    let articles: Vec<Article> = if jobs.is_empty() {
        listed.into_iter().map(|(_, a)| a).collect()
    } else {
        // The listed copies first, with the second requests they owe as jobs (durable: a
        // request that fails now is retried by the queue, even behind a 304), so each page
        // merges into its item's row as a new revision; then the pages, in groups, as they
        // arrive; the outcome last.
        let mut first = FetchBatch::empty(Some(state.id), now);
        first.attempts = std::mem::take(&mut attempts);
        first.articles = listed.into_iter().map(|(_, a)| a).collect();
        first.queue_links = share::dedup_links(std::mem::take(&mut queue_links));
        first.page_jobs = jobs.clone();
        // Entries, the jobs they owe and the feed's new validators in one transaction: a
        // 304 from here on cannot hide an entry's page, which its job still owes.
        first.validators = Some(validators.clone());
        match commit_counted(context, first).await {
            Ok(report) => add_report(&mut committed, report),
            Err(e) => {
                let mut polled = failed(
                    Vec::new(),
                    Parsed::failed(Some(status), format!("{body_url}: storing entries: {e}")),
                );
                polled.committed = committed;
                return polled;
            }
        }
        let owed = jobs
            .into_iter()
            .map(|job| PageJob {
                job,
                source_id: Some(state.id),
                source_name: Some(source.name.clone()),
                attempts: 0,
            })
            .collect();
        // `once` (which waits out short pauses) retries failed pages after short delays.
        let once = !context.fetcher.defers_paused_hosts();
        match page_jobs::work_batch(context, Some(source), Some(state.id), owed, once).await {
            Ok(report) => add_report(&mut committed, report),
            Err(e) => {
                let mut polled = failed(
                    Vec::new(),
                    Parsed::failed(Some(status), format!("{body_url}: storing article pages: {e}")),
                );
                polled.committed = committed;
                return polled;
            }
        }
        Vec::new()
    };
    Polled {
        attempts,
        moved_permanently,
        parsed: Parsed {
            articles,
            outcome: SourceOutcome::Fetched { status, validators },
            published,
            queue_links: share::dedup_links(queue_links),
        },
        committed,
    }
}

/// A list response read: each kept entry with its article, every entry's time, and the
/// items that did not become articles.
type ListRead = (Vec<(Entry, Article)>, Vec<DateTime<Utc>>, Skipped);

/// Reads a list response's items (at most the source's `max_items`) and normalizes them.
/// Returns each kept entry with its article, and every entry's publication time (for the
/// adaptive schedule).
fn read_and_normalize(
    source: &SourceConfig,
    kind: SourceKind,
    body: &Body,
    tz: chrono_tz::Tz,
    now: DateTime<Utc>,
    dedup: &DedupConfig,
) -> Result<ListRead, String> {
    let Read {
        entries: mut items,
        mut skipped,
    } = read_items(source, kind, body, tz, now)?;
    if items.len() > source.max_items {
        skipped.add(
            format!("over the source's max_items ({})", source.max_items),
            items.len() - source.max_items,
        );
        items.truncate(source.max_items);
    }
    let normalize_context = SourceContext {
        name: &source.name,
        category: source.category.as_deref(),
        tags: &source.tags,
        dedup,
    };
    let published = items.iter().filter_map(|e| e.published.map(|p| p.utc)).collect();
    let read = items.len();
    let mut listed: Vec<(Entry, Article)> = items
        .into_iter()
        .filter_map(|entry| normalize::normalize(entry.clone(), &normalize_context).map(|a| (entry, a)))
        .collect();
    skipped.add("neither a title nor any text", read - listed.len());
    let normalized = listed.len();
    listed.retain(|(_, article)| filter::keeps(&source.filters, article));
    skipped.add(filter::FILTERED_REASON, normalized - listed.len());
    unshare_url_keys(&source.name, &mut listed);
    Ok((listed, published, skipped))
}

/// CONTRACT §6 *Entry identity inside one document*: a `url:` key identifies an entry only
/// when no other entry of the same document, with a different guid, has the same
/// normalized URL — a blog whose items differ only by `#fragment`, a podcast whose episodes
/// all link to its home page. Those entries fall back to their `guid:` key (then `hash:`).
/// The same item listed twice (same guid) keeps its `url:` key.
fn unshare_url_keys(source: &str, listed: &mut [(Entry, Article)]) {
    let mut guids_by_key: std::collections::HashMap<&str, HashSet<Option<&str>>> =
        std::collections::HashMap::new();
    for (_, article) in listed.iter() {
        if article.dedup_key.starts_with("url:") {
            guids_by_key
                .entry(article.dedup_key.as_str())
                .or_default()
                .insert(article.entry_guid.as_deref());
        }
    }
    let shared: HashSet<String> = guids_by_key
        .into_iter()
        .filter(|(_, guids)| guids.len() > 1)
        .map(|(key, _)| key.to_owned())
        .collect();
    if shared.is_empty() {
        return;
    }
    for (_, article) in listed.iter_mut().filter(|(_, a)| shared.contains(&a.dedup_key)) {
        let published = article.published.map(|p| crate::dates::format_utc(p.utc));
        article.dedup_key = crate::dedup::dedup_key(
            None,
            None,
            source,
            article.entry_guid.as_deref(),
            &article.title,
            published.as_deref(),
        );
    }
    tracing::debug!(urls = shared.len(), "entries sharing a URL keyed by their guids");
}

/// Commits a batch of a poll before its end, counting its requests in the metrics (the
/// poll's last batch is counted by the poll).
async fn commit_counted(
    context: &PollContext,
    batch: FetchBatch,
) -> Result<CommitReport, crate::store::StoreError> {
    let fetches: Vec<(Option<u16>, u64, std::time::Duration)> = batch
        .attempts
        .iter()
        .map(|a| (a.status, a.bytes, a.duration))
        .collect();
    let report = context.store.commit(batch).await?;
    if let Some(metrics) = &context.metrics {
        for (status, bytes, duration) in fetches {
            metrics.record_fetch(status, bytes);
            metrics.record_fetch_duration(duration);
        }
    }
    Ok(report)
}

fn add_report(total: &mut CommitReport, report: CommitReport) {
    total.new_articles += report.new_articles;
    total.updated_articles += report.updated_articles;
    total.unchanged_articles += report.unchanged_articles;
}

/// The second requests of a poll: the article page (`full_text` feeds, HTML lists) or the
/// detail body (JSON lists with `detail_url`) of every listed article that has no full text
/// yet, stored or in this list, with the index of the listed copy that leads to it.
async fn second_requests(
    context: &PollContext,
    source: &SourceConfig,
    kind: SourceKind,
    listed: &[(Entry, Article)],
) -> Vec<NewPageJob> {
    let wanted = match kind {
        SourceKind::Feed => source.full_text,
        SourceKind::Json => source.json.as_ref().is_some_and(|j| j.detail_url.is_some()),
        SourceKind::Html => true,
        SourceKind::ShareLinks => false,
    };
    if !wanted || listed.is_empty() {
        return Vec::new();
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
    listed
        .iter()
        .filter(|(_, a)| {
            !full.contains(&a.dedup_key)
                && a.content.as_ref().is_none_or(|c| c.rank < ContentRank::Full)
                && seen.insert(a.dedup_key.clone())
        })
        .filter_map(|(entry, article)| second_request(source, kind, entry, article))
        .collect()
}

/// The items of a list response, by source type.
fn read_items(
    source: &SourceConfig,
    kind: SourceKind,
    body: &Body,
    tz: chrono_tz::Tz,
    now: DateTime<Utc>,
) -> Result<Read, String> {
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
            let mut skipped = Skipped::default();
            if let Some(first) = parsed.skipped.first() {
                skipped.add(
                    format!("JSON items not read (the first: {first})"),
                    parsed.skipped.len(),
                );
            }
            Ok(Read {
                entries: parsed.entries,
                skipped,
            })
        }
        (SourceKind::Html, _, Some(list)) => {
            let html = charset::decode_html(&body.bytes, body.content_type.as_deref()).text;
            let items = html_list::parse_list(&html, &body.url, list, tz, now).map_err(|e| e.to_string())?;
            if items.is_empty() {
                warn_once(&source.name, &list.item);
            }
            Ok(Read {
                entries: items
                    .into_iter()
                    .map(|item| Entry {
                        link: Some(item.link.to_string()),
                        title: item.title,
                        published: item.published,
                        ..Entry::default()
                    })
                    .collect(),
                skipped: Skipped::default(),
            })
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

/// What to fetch for an item's full text, if anything.
fn second_request(
    source: &SourceConfig,
    kind: SourceKind,
    entry: &Entry,
    article: &Article,
) -> Option<NewPageJob> {
    match kind {
        SourceKind::Json => {
            let list = source.json.as_ref()?;
            let template = list.detail_url.as_deref()?;
            let link = article.url.as_deref().or(article.share_url.as_deref());
            let url = pages::fill_template(template, article.info_code.as_deref(), link)?;
            let pointer = list.detail_content.clone().unwrap_or_default();
            Some(page_jobs::new_job(
                PageJobKind::Detail,
                url.to_string(),
                Some(pointer),
                article,
            ))
        }
        // The item's own page; a share link is the share-link worker's business. A link the
        // article may not carry (not http(s)) is still asked for, so that the gate's refusal
        // is recorded where the operator looks (`fetches`).
        _ => {
            let unusable_link = entry.link.as_deref().filter(|_| article.share_url.is_none());
            let link = article.url.as_deref().or(unusable_link)?;
            Url::parse(link)
                .ok()
                .map(|url| page_jobs::new_job(PageJobKind::Page, url.to_string(), None, article))
        }
    }
}
