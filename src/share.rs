//! Share links: article URLs that name an East Money infoCode (`…?infoCode=NW…`), often on
//! short-lived mirrors. This module finds them in items and pages, decides which may be
//! requested (CONTRACT §6 *Share links*), and works the `share_links` queue:
//! `pending → done | failed | skipped`.
//!
//! For each link the `[share] resolve` templates are tried first (the infoCode outlives the
//! mirror), then the link itself if its host is allowed; a JavaScript shell with no article
//! falls through to the next candidate. A link whose article already has the publisher's
//! full text costs no request.

use std::time::Duration;

use chrono::Utc;
use futures_util::StreamExt;
use regex::Regex;
use std::sync::LazyLock;
use tracing::Instrument;
use url::Url;

use crate::admission::{Origin, Purpose, ShareRules};
use crate::config::Config;
use crate::context::PollContext;
use crate::dedup;
use crate::normalize::Article;
use crate::pages::{self, fill_template};
use crate::scheduler;
use crate::store::{FetchBatch, NewShareLink, ShareLinkJob, ShareLinkUpdate, ShareState, StoreError};

/// A link is given up (`failed`) after this many attempts.
pub const MAX_ATTEMPTS: u32 = 5;

/// How many due links one round of [`process_due`] takes.
const ROUND: usize = 64;

static HREF: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#"href\s*=\s*["']([^"'#\s]+)["']"#).expect("a literal pattern"));

/// Share links carried by an article copy (its own link, hrefs in its content) and by a
/// page (`page_links`), as rows to queue: `pending`, or `skipped` with the reason when no
/// candidate could ever be requested. At most `[share] max_discovered` of them (CONTRACT §7
/// *Bounds*): one page cannot queue a day of requests on a stranger's behalf.
pub fn discover(
    config: &Config,
    rules: &ShareRules,
    source_id: Option<i64>,
    article: &Article,
    page_links: &[String],
) -> Vec<NewShareLink> {
    if !config.share.follow_discovered {
        return Vec::new();
    }
    let base = article
        .url
        .as_deref()
        .or(article.share_url.as_deref())
        .and_then(|u| Url::parse(u).ok());
    let hrefs: Vec<&str> = article
        .content
        .as_ref()
        .map(|c| {
            HREF.captures_iter(&c.html)
                .filter_map(|m| m.get(1))
                .map(|m| m.as_str())
                .collect()
        })
        .unwrap_or_default();
    let mut found: Vec<NewShareLink> = Vec::new();
    let candidates = article
        .share_url
        .iter()
        .map(String::as_str)
        .chain(hrefs)
        .chain(page_links.iter().map(String::as_str));
    for raw in candidates {
        if found.len() >= config.share.max_discovered {
            tracing::info!(
                max_discovered = config.share.max_discovered,
                "more share links on one page than [share] max_discovered; the rest are not queued"
            );
            break;
        }
        let url = match &base {
            Some(base) => base.join(&html_escape::decode_html_entities(raw)),
            None => Url::parse(raw),
        };
        let Ok(url) = url else { continue };
        if !dedup::is_share_link(&config.dedup, url.as_str()) || found.iter().any(|l| l.url == url.as_str()) {
            continue;
        }
        found.push(new_link(config, rules, &url, source_id));
    }
    found
}

/// A share link as a queue row: `pending` when some candidate may be requested, else
/// `skipped` with the reason (it is never requested).
pub fn new_link(config: &Config, rules: &ShareRules, url: &Url, source_id: Option<i64>) -> NewShareLink {
    let info_code = dedup::info_code_in(&config.dedup, url.as_str()).map(|m| m.info_code);
    let resolvable = info_code.is_some() && !config.share.resolve.is_empty();
    let (state, reason) = if resolvable || rules.host_allowed(url) {
        (ShareState::Pending, None)
    } else {
        (ShareState::Skipped, Some(not_allowed(url)))
    };
    NewShareLink {
        url: url.to_string(),
        info_code,
        source_id,
        state,
        reason,
    }
}

fn not_allowed(url: &Url) -> String {
    format!(
        "host {} is not in [share] allow_hosts, a configured source's host or a resolve host, \
         and no [share] resolve template applies; not requested",
        url.host_str().unwrap_or("?")
    )
}

/// Why a share link given to `add-link` will never be requested under `config`, if so:
/// no `[share] resolve` template applies and the admission gate (CONTRACT §7) refuses the
/// link itself, or every candidate is refused. None when some candidate may be fetched.
pub fn add_link_warning(config: &Config, url: &Url, info_code: Option<&str>) -> Option<String> {
    let admission = crate::admission::Admission::new(config);
    let resolved: Vec<Url> = config
        .share
        .resolve
        .iter()
        .filter_map(|t| fill_template(t, info_code, Some(url.as_str())))
        .collect();
    let mut reasons = Vec::new();
    for candidate in resolved.iter().chain(std::iter::once(url)) {
        match admission.check(candidate, Origin::Network, Purpose::ShareLink) {
            Ok(()) => return None,
            Err(refusal) if candidate == url => reasons.push(refusal.to_string()),
            Err(refusal) => reasons.push(format!("{candidate}: {refusal}")),
        }
    }
    if resolved.is_empty() {
        reasons.push("no [share] resolve template applies to it".into());
    }
    Some(reasons.join("; "))
}

/// Share links to queue, each once.
pub fn dedup_links(mut links: Vec<NewShareLink>) -> Vec<NewShareLink> {
    links.sort_by(|a, b| a.url.cmp(&b.url));
    links.dedup_by(|a, b| a.url == b.url);
    links
}

/// How long pending work (a share link, a page job) waits after a failed attempt: short
/// in `once`, which waits for all of it, longer in the daemon.
pub fn retry_delay(attempts: u32, once: bool) -> Duration {
    let step = attempts.saturating_sub(1).min(6);
    if once {
        Duration::from_millis(500) * 2u32.pow(step.min(3))
    } else {
        Duration::from_secs(60) * 4u32.pow(step.min(4))
    }
}

/// The state of owed work (a share link, a page job) after its `attempts`-th failed
/// attempt: `pending` again after [`retry_delay`], or `failed` after [`MAX_ATTEMPTS`].
pub fn after_failed_attempt(attempts: u32, once: bool) -> (ShareState, Option<chrono::DateTime<Utc>>) {
    if attempts >= MAX_ATTEMPTS {
        (ShareState::Failed, None)
    } else {
        (
            ShareState::Pending,
            Some(scheduler::after(Utc::now(), retry_delay(attempts, once))),
        )
    }
}

/// What a round of queue work did.
#[derive(Clone, Copy, Debug, Default)]
pub struct ShareRound {
    /// Links worked on.
    pub processed: usize,
    /// Articles stored for the first time.
    pub new_articles: usize,
}

/// Works the due share links, `[http] concurrency` at a time, until none is due now. With
/// `once`, also waits out the retry delays until every pending link is done, failed or
/// skipped; rechecks are left to the daemon.
pub async fn process_due(context: &PollContext, once: bool) -> Result<ShareRound, StoreError> {
    let mut total = ShareRound::default();
    let concurrency = context.config.http.concurrency.max(1);
    loop {
        let recheck = if once {
            Vec::new()
        } else {
            context.config.share.recheck.clone()
        };
        let jobs = context.store.due_share_links(Utc::now(), recheck, ROUND).await?;
        if jobs.is_empty() {
            match (once, context.store.next_share_attempt().await?) {
                (true, Some(at)) => {
                    let wait = (at - Utc::now()).to_std().unwrap_or(Duration::ZERO);
                    tokio::time::sleep(wait.max(Duration::from_millis(50))).await;
                    continue;
                }
                _ => return Ok(total),
            }
        }
        let mut work = futures_util::stream::iter(jobs)
            .map(|job| process_link(context, job, once))
            .buffer_unordered(concurrency);
        while let Some(result) = work.next().await {
            let new_articles = result?;
            total.processed += 1;
            total.new_articles += new_articles;
        }
    }
}

/// Works one link; returns the number of new articles stored.
async fn process_link(context: &PollContext, job: ShareLinkJob, once: bool) -> Result<usize, StoreError> {
    let span = tracing::info_span!("share_link", url = %job.url);
    work_link(context, job, once).instrument(span).await
}

async fn work_link(context: &PollContext, job: ShareLinkJob, once: bool) -> Result<usize, StoreError> {
    let config = &*context.config;
    let rules = context.share_rules();
    let now = Utc::now();
    let mut batch = FetchBatch::empty(job.source_id, now);
    let info_key = job.info_code.as_ref().map(|c| format!("info:{c}"));
    let is_recheck = job.recheck_page.is_some();

    // Already read in full elsewhere: no request, just the sighting and the share URL.
    if !is_recheck
        && let Some(key) = &info_key
        && context
            .store
            .with_full_text(vec![key.clone()])
            .await?
            .contains(key)
    {
        batch.share_links.push(done(&job, None, key.clone(), true, false));
        context.store.commit(batch).await?;
        tracing::debug!(url = %job.url, "article already has full text; share link done without a request");
        return Ok(0);
    }

    let candidates: Vec<Url> = match &job.recheck_page {
        Some(page) => Url::parse(page).into_iter().collect(),
        None => {
            let resolved = config
                .share
                .resolve
                .iter()
                .filter_map(|t| fill_template(t, job.info_code.as_deref(), Some(&job.url)));
            let own = Url::parse(&job.url).ok().filter(|u| rules.host_allowed(u));
            resolved.chain(own).collect()
        }
    };
    if candidates.is_empty() {
        let reason = Url::parse(&job.url).map_or_else(|e| format!("not a URL: {e}"), |u| not_allowed(&u));
        tracing::info!(url = %job.url, reason, "share link skipped");
        batch.share_links.push(ShareLinkUpdate {
            url: job.url.clone(),
            state: ShareState::Skipped,
            attempted: false,
            error: Some(reason),
            next_attempt_at: None,
            page_url: None,
            article_key: None,
            touch_article: false,
            rechecked: false,
        });
        context.store.commit(batch).await?;
        return Ok(0);
    }

    // The source that listed or discovered the link gives the article its category, tags
    // and timezone, as if the source had carried the article itself.
    let source = job
        .source_name
        .as_deref()
        .and_then(|name| config.sources.iter().find(|s| s.name == name))
        .map(|s| &**s);
    let mut errors = Vec::new();
    let mut stored = None;
    let mut filtered = None;
    for candidate in &candidates {
        // A link a share_links source lists is the config's own URL; any other was learned.
        let origin = if source.is_some_and(|s| s.urls.contains(candidate)) {
            Origin::Config
        } else {
            Origin::Network
        };
        let page = pages::fetch_article(
            config,
            &context.fetcher,
            candidate,
            source,
            origin,
            Purpose::ShareLink,
        )
        .await;
        batch.attempts.extend(page.attempts);
        match page.result {
            Ok(found) => {
                let mut entry = found.entry;
                entry.info_code = job.info_code.clone().or(entry.info_code);
                if let Some(mut article) = pages::normalize_page(&context.config, source, entry).await {
                    article.share_url = Some(job.url.clone());
                    if article.url.as_deref() == Some(job.url.as_str()) {
                        article.url = None;
                    }
                    article.replaces_content = is_recheck;
                    // The source's include/exclude (a recheck re-reads an article once kept).
                    if !is_recheck && source.is_some_and(|s| !crate::filter::keeps(&s.filters, &article)) {
                        filtered = Some(candidate.to_string());
                        break;
                    }
                    batch
                        .queue_links
                        .extend(discover(config, rules, job.source_id, &article, &found.links));
                    stored = Some((candidate.to_string(), article));
                    break;
                }
                errors.push(format!("{candidate}: page has no usable article"));
            }
            Err(e) => {
                tracing::debug!(candidate = %candidate, error = %e, "candidate gave no article");
                errors.push(e.to_string());
            }
        }
    }

    let update = match (stored, filtered) {
        (None, Some(page_url)) => {
            // Read, but not wanted: not stored, counted on the request that read it, and
            // never requested again.
            let reason = crate::filter::FILTERED_REASON;
            if let Some(last) = batch.attempts.last_mut() {
                last.entries_skipped = 1;
                last.skip_reason = Some(format!("{reason}: 1"));
            }
            tracing::info!(url = %job.url, "share link's article filtered out by include/exclude");
            ShareLinkUpdate {
                url: job.url.clone(),
                state: ShareState::Skipped,
                attempted: true,
                error: Some(reason.to_owned()),
                next_attempt_at: None,
                page_url: Some(page_url),
                article_key: None,
                touch_article: false,
                rechecked: false,
            }
        }
        (Some((page_url, article)), _) => {
            let key = article.dedup_key.clone();
            batch.articles.push(article);
            let mut update = done(&job, Some(page_url), key, false, is_recheck);
            update.attempted = !is_recheck;
            update
        }
        (None, None) if is_recheck => {
            // A correction check that failed leaves the article as it was; try the next age.
            let mut update = done(&job, None, info_key.unwrap_or_default(), false, true);
            update.error = Some(errors.join("; "));
            update
        }
        (None, None) => {
            let attempts = job.attempts + 1;
            let error = errors.join("; ");
            let (state, next_attempt_at) = after_failed_attempt(attempts, once);
            tracing::info!(url = %job.url, attempts, state = state.as_str(), error, "share link attempt failed");
            ShareLinkUpdate {
                url: job.url.clone(),
                state,
                attempted: true,
                error: Some(error),
                next_attempt_at,
                page_url: None,
                article_key: None,
                touch_article: false,
                rechecked: false,
            }
        }
    };
    batch.share_links.push(update);
    let fetches: Vec<(Option<u16>, u64, std::time::Duration)> = batch
        .attempts
        .iter()
        .map(|a| (a.status, a.bytes, a.duration))
        .collect();
    let kept_attempts = batch.attempts.clone();
    let report = match context.store.commit(batch).await {
        Ok(report) => report,
        // The article could not be stored (its batch rolled back alone): this attempt of
        // the link failed, and is retried like a failed request.
        Err(e @ StoreError::Batch { .. }) => {
            let attempts = job.attempts + 1;
            let (state, next_attempt_at) = after_failed_attempt(attempts, once);
            tracing::warn!(url = %job.url, error = %e, "share link's article could not be stored");
            let mut failed = FetchBatch::empty(job.source_id, now);
            failed.attempts = kept_attempts;
            failed.share_links.push(ShareLinkUpdate {
                url: job.url.clone(),
                state,
                attempted: true,
                error: Some(e.to_string()),
                next_attempt_at,
                page_url: None,
                article_key: None,
                touch_article: false,
                rechecked: false,
            });
            context.store.commit(failed).await?
        }
        Err(e) => return Err(e),
    };
    if let Some(metrics) = &context.metrics {
        for (status, bytes, duration) in fetches {
            metrics.record_fetch(status, bytes);
            metrics.record_fetch_duration(duration);
        }
        metrics.record_articles(report.new_articles as u64, report.updated_articles as u64);
    }
    Ok(report.new_articles)
}

fn done(
    job: &ShareLinkJob,
    page_url: Option<String>,
    key: String,
    touch: bool,
    rechecked: bool,
) -> ShareLinkUpdate {
    ShareLinkUpdate {
        url: job.url.clone(),
        state: ShareState::Done,
        attempted: false,
        error: None,
        next_attempt_at: None,
        page_url,
        article_key: Some(key),
        touch_article: touch,
        rechecked,
    }
}
