//! The list sources of a poll: a feed, JSON list or HTML list and the second requests its
//! items need (article pages, detail bodies), and the `share_links` source's queueing.

use std::collections::HashSet;
use std::sync::{LazyLock, Mutex, PoisonError};

use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use tracing::Instrument;
use url::Url;

use super::{Parsed, PollContext, Polled, status_text};
use crate::charset;
use crate::config::{SourceConfig, SourceKind};
use crate::fetch::{Attempt, Body, FetchError, FetchResult, Outcome};
use crate::normalize::{self, Article, SourceContext};
use crate::pages;
use crate::share;
use crate::sources::{ContentRank, Entry, feed, html_list, json};
use crate::store::{NewShareLink, SourceOutcome, SourceState};

/// A `share_links` source: its URLs go into the queue (the queue's worker fetches them).
pub(super) fn poll_share_links(context: &PollContext, source: &SourceConfig, state: &SourceState) -> Polled {
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
pub(super) async fn poll_list(
    context: &PollContext,
    source: &SourceConfig,
    state: &SourceState,
    kind: SourceKind,
    url: Url,
    now: DateTime<Utc>,
) -> Polled {
    let config = &*context.config;
    let FetchResult {
        mut attempts,
        moved_permanently,
        outcome,
    } = context
        .fetcher
        .fetch(&url, &state.validators)
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
                    pages::fetch_detail(&context.fetcher, &url, &pointer, *entry).await
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
