//! Second requests — the article page a `full_text` feed or an HTML list item needs, the
//! detail body of a JSON list item — as durable jobs (CONTRACT §6 *Second requests are
//! durable*).
//!
//! A poll records its entries' jobs in the transaction that stores the entries, before the
//! source's new ETag/Last-Modified, then works them at once ([`work_batch`]). A job that
//! could not be finished — a timeout, a 5xx, a 429 pause on the article host, SIGTERM, a
//! crash — stays `pending` in `page_jobs` and is worked again by [`process_due`] (the
//! daemon's queue worker; `once` after its polls) with backoff, until it is `done` or, after
//! [`MAX_ATTEMPTS`], `failed`. So a 304 never hides an entry's missing full text.

use std::time::Duration;

use chrono::Utc;
use futures_util::StreamExt;
use tracing::Instrument;
use url::Url;

use crate::admission::{Origin, Purpose};
use crate::config::SourceConfig;
use crate::context::{ONCE_MAX_PAUSE_WAIT, PollContext};
use crate::fetch::Attempt;
use crate::normalize::Article;
use crate::pages::{self, PageError};
use crate::scheduler;
use crate::share;
use crate::sources::Entry;
use crate::store::{
    CommitReport, FetchBatch, NewPageJob, NewShareLink, PageJob, PageJobKind, PageJobUpdate, ShareState,
    StoreError,
};

/// A job is given up (`failed`) after this many attempts (as a share link is).
pub use crate::share::MAX_ATTEMPTS;

/// Pages are committed in groups of this many as they arrive, so the memory a poll holds
/// does not grow with the number of pages it fetches.
pub const PAGES_PER_COMMIT: usize = 16;

/// How many due jobs one round of [`process_due`] takes.
const ROUND: usize = 256;

/// What working one job produced, to commit.
struct Worked {
    attempts: Vec<Attempt>,
    article: Option<Article>,
    links: Vec<NewShareLink>,
    update: PageJobUpdate,
}

/// Fetches one job's page or detail body and completes the listed copy it belongs to.
async fn work_one(context: &PollContext, source: Option<&SourceConfig>, job: &PageJob, once: bool) -> Worked {
    let owed = &job.job;
    let span = tracing::debug_span!("page_job", kind = owed.kind.as_str(), url = %owed.url);
    async {
        let page = match Url::parse(&owed.url) {
            Err(e) => pages::Page {
                attempts: Vec::new(),
                result: Err(PageError::Refused(format!(
                    "refused: {}: not a URL: {e}",
                    owed.url
                ))),
            },
            Ok(url) => match owed.kind {
                PageJobKind::Page => {
                    pages::fetch_article(
                        &context.config,
                        &context.fetcher,
                        &url,
                        source,
                        Origin::Network,
                        Purpose::Page,
                    )
                    .await
                }
                PageJobKind::Detail => {
                    let entry = Entry {
                        title: Some(owed.title.clone()),
                        link: owed.link.clone(),
                        info_code: owed.info_code.clone(),
                        ..Entry::default()
                    };
                    let pointer = owed.pointer.clone().unwrap_or_default();
                    pages::fetch_detail(&context.fetcher, &url, &pointer, entry).await
                }
            },
        };
        let mut worked = Worked {
            attempts: page.attempts,
            article: None,
            links: Vec::new(),
            update: PageJobUpdate {
                kind: owed.kind,
                article_key: owed.article_key.clone(),
                state: ShareState::Done,
                attempted: true,
                error: None,
                next_attempt_at: None,
            },
        };
        match page.result {
            Ok(found) => {
                let mut entry = found.entry;
                if entry.title.as_deref().is_none_or(|t| t.trim().is_empty()) {
                    entry.title = Some(owed.title.clone());
                }
                match pages::normalize_page(&context.config, source, entry).await {
                    Some(mut article) => {
                        // The page is the same article as the entry that led to it.
                        article.dedup_key.clone_from(&owed.article_key);
                        article.info_code = owed.info_code.clone().or(article.info_code);
                        article.url = owed.link.clone().or(article.url);
                        article.share_url.clone_from(&owed.share_url);
                        worked.links = share::discover(
                            &context.config,
                            context.share_rules(),
                            job.source_id,
                            &article,
                            &found.links,
                        );
                        worked.article = Some(article);
                    }
                    None => fail(&mut worked.update, "the page gave no storable article".to_owned()),
                }
            }
            // Asking again cannot help: no article on the page, or a refused URL.
            Err(e @ (PageError::NoArticle(_) | PageError::Refused(_))) => {
                tracing::info!(error = %e, "no full text for an item");
                fail(&mut worked.update, e.to_string());
            }
            // Not an attempt: the host is paused, or the crawler is stopping.
            Err(PageError::Later { error, until }) => {
                tracing::info!(error, "item page deferred");
                worked.update.state = ShareState::Pending;
                worked.update.attempted = false;
                worked.update.error = Some(error);
                worked.update.next_attempt_at = Some(until.unwrap_or_else(Utc::now));
            }
            Err(e) => {
                let attempts = job.attempts + 1;
                tracing::info!(error = %e, attempts, "item page failed; retried later");
                worked.update.error = Some(e.to_string());
                (worked.update.state, worked.update.next_attempt_at) =
                    share::after_failed_attempt(attempts, once);
            }
        }
        worked
    }
    .instrument(span)
    .await
}

fn fail(update: &mut PageJobUpdate, error: String) {
    update.state = ShareState::Failed;
    update.error = Some(error);
}

/// Works `jobs` of one source, `[http] concurrency` at a time, committing each
/// [`PAGES_PER_COMMIT`] pages' articles, share links, requests and job states together.
/// `Err` only when storing failed.
pub async fn work_batch(
    context: &PollContext,
    source: Option<&SourceConfig>,
    source_id: Option<i64>,
    jobs: Vec<PageJob>,
    once: bool,
) -> Result<CommitReport, StoreError> {
    let mut total = CommitReport::default();
    let mut worked = futures_util::stream::iter(jobs)
        .map(move |job| async move { work_one(context, source, &job, once).await })
        .buffer_unordered(context.config.http.concurrency.max(1));
    let mut batch = FetchBatch::empty(source_id, Utc::now());
    let mut in_batch = 0;
    loop {
        let next = worked.next().await;
        let done = next.is_none();
        if let Some(one) = next {
            batch.attempts.extend(one.attempts);
            batch.articles.extend(one.article);
            batch.queue_links.extend(one.links);
            batch.page_job_updates.push(one.update);
            in_batch += 1;
        }
        if in_batch > 0 && (done || in_batch >= PAGES_PER_COMMIT) {
            let mut full = std::mem::replace(&mut batch, FetchBatch::empty(source_id, Utc::now()));
            full.queue_links = share::dedup_links(full.queue_links);
            let fetches: Vec<(Option<u16>, u64, std::time::Duration)> = full
                .attempts
                .iter()
                .map(|a| (a.status, a.bytes, a.duration))
                .collect();
            let report = context.store.commit(full).await?;
            if let Some(metrics) = &context.metrics {
                for (status, bytes, duration) in fetches {
                    metrics.record_fetch(status, bytes);
                    metrics.record_fetch_duration(duration);
                }
                metrics.record_articles(report.new_articles as u64, report.updated_articles as u64);
            }
            total.new_articles += report.new_articles;
            total.updated_articles += report.updated_articles;
            total.unchanged_articles += report.unchanged_articles;
            in_batch = 0;
        }
        if done {
            return Ok(total);
        }
    }
}

/// What a round of queue work did.
#[derive(Clone, Copy, Debug, Default)]
pub struct JobRound {
    /// Jobs worked on.
    pub processed: usize,
    /// Articles stored for the first time.
    pub new_articles: usize,
}

/// Works the due jobs until none is due now. With `once`, also waits out the retry delays
/// until every pending job is done or failed.
pub async fn process_due(context: &PollContext, once: bool) -> Result<JobRound, StoreError> {
    let mut total = JobRound::default();
    loop {
        let jobs = context.store.due_page_jobs(Utc::now(), ROUND).await?;
        if jobs.is_empty() {
            match (once, context.store.next_page_job_attempt().await?) {
                // Due too far ahead for `once` to wait (a long 429 pause): left pending for
                // the daemon or the next run.
                (true, Some(at)) if at > scheduler::after(Utc::now(), ONCE_MAX_PAUSE_WAIT) => {
                    tracing::info!(next_attempt_at = %at, "article pages left for a later run");
                    return Ok(total);
                }
                (true, Some(at)) => {
                    let wait = (at - Utc::now()).to_std().unwrap_or(Duration::ZERO);
                    tokio::time::sleep(wait.max(Duration::from_millis(50))).await;
                    continue;
                }
                _ => return Ok(total),
            }
        }
        total.processed += jobs.len();
        // One batch per source: its config gives category, tags and timezone.
        let mut by_source: Vec<(Option<i64>, Option<String>, Vec<PageJob>)> = Vec::new();
        for job in jobs {
            match by_source.iter_mut().find(|(id, _, _)| *id == job.source_id) {
                Some((_, _, list)) => list.push(job),
                None => by_source.push((job.source_id, job.source_name.clone(), vec![job])),
            }
        }
        for (source_id, name, list) in by_source {
            let source = name
                .as_deref()
                .and_then(|n| context.config.sources.iter().find(|s| s.name == n));
            let report = work_batch(context, source.map(|s| &**s), source_id, list, once).await?;
            total.new_articles += report.new_articles;
        }
    }
}

/// The job for a listed copy, when its source wants full text.
pub fn new_job(kind: PageJobKind, url: String, pointer: Option<String>, article: &Article) -> NewPageJob {
    NewPageJob {
        kind,
        article_key: article.dedup_key.clone(),
        url,
        pointer,
        title: article.title.clone(),
        link: article.url.clone(),
        info_code: article.info_code.clone(),
        share_url: article.share_url.clone(),
    }
}
