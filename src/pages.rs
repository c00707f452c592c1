//! Article pages and detail bodies: the second request a source's item may need.
//!
//! An article page (a share link's candidates, a `full_text` feed entry, an HTML list's
//! item) is fetched through the same politeness as everything else, decoded, and read by
//! the [`crate::extract`] chain; a JSON detail endpoint's body is read at its pointer. Both
//! come back as an [`Entry`] with rank-3 content, plus the attempts made. No SQL here.

use std::sync::Arc;

use chrono::Utc;
use url::Url;

use crate::admission::{Origin, Purpose};
use crate::charset;
use crate::config::{Config, SourceConfig};
use crate::cpu;
use crate::extract::{self, ExtractError};
use crate::fetch::{Attempt, FetchError, Fetcher, Outcome, Validators};
use crate::normalize::{self, Article, SourceContext};
use crate::sources::{ContentRank, Entry, json};

/// A page fetched and read, or why not.
pub struct Page {
    /// The requests made.
    pub attempts: Vec<Attempt>,
    /// The article read from the page, or the reason there is none.
    pub result: Result<PageArticle, PageError>,
}

/// An article read from a page.
pub struct PageArticle {
    /// The article, content rank 3; `link` is the page's canonical URL or the page URL.
    pub entry: Entry,
    /// Absolute links inside the article body (for share-link discovery).
    pub links: Vec<String>,
}

/// Why a page gave no article.
#[derive(Debug, thiserror::Error)]
pub enum PageError {
    /// The request failed (transport, status, robots.txt, a pause, the size cap).
    #[error("{0}")]
    Fetch(String),
    /// The page has no article an extractor could find (a JavaScript shell, say).
    #[error(transparent)]
    NoArticle(#[from] ExtractError),
    /// Reading the page failed inside the crawler (a bug on this input, or shutdown).
    #[error("{url}: {error}")]
    Internal {
        /// The page URL.
        url: String,
        /// What happened.
        error: cpu::CpuError,
    },
    /// The request was not made yet and should be made later: its host is paused, or the
    /// crawler is stopping. Not an attempt.
    #[error("{error}")]
    Later {
        /// What stopped it.
        error: String,
        /// When the host's pause ends (None: as soon as the crawler runs again).
        until: Option<chrono::DateTime<chrono::Utc>>,
    },
    /// The admission gate refused the URL: asking again cannot help.
    #[error("{0}")]
    Refused(String),
    /// A detail response without the configured content.
    #[error("{url}: {error}")]
    Detail {
        /// The detail URL.
        url: String,
        /// What was wrong with it.
        error: json::JsonError,
    },
}

impl PageError {
    /// Whether the page was fetched but held no article (the next candidate may do better).
    pub fn is_no_article(&self) -> bool {
        matches!(self, PageError::NoArticle(_))
    }
}

fn describe_failure(url: &Url, outcome: Result<Outcome, FetchError>) -> PageError {
    match outcome {
        Ok(Outcome::Status { status, .. }) => PageError::Fetch(format!("{url}: HTTP {status}")),
        Ok(Outcome::NotModified) => PageError::Fetch(format!("{url}: unexpected 304")),
        Ok(Outcome::Body(_)) => PageError::Fetch(format!("{url}: unexpected body")),
        Err(e) => {
            let error = e.to_string();
            match e {
                FetchError::HostPaused { until, .. } => PageError::Later {
                    error,
                    until: Some(until),
                },
                // Left pending for the daemon that holds the host (or for the next run).
                FetchError::ShuttingDown { .. } | FetchError::NotLeased { .. } => {
                    PageError::Later { error, until: None }
                }
                FetchError::Refused { .. } => PageError::Refused(error),
                _ => PageError::Fetch(error),
            }
        }
    }
}

/// Fetches an article page and extracts its article. `origin` and `purpose` go to the
/// admission gate (a share link's candidate obeys the share rules on every hop). Decoding
/// and extraction run off the async workers ([`cpu::run`]).
pub async fn fetch_article(
    config: &Config,
    fetcher: &Fetcher,
    url: &Url,
    source: Option<&SourceConfig>,
    origin: Origin,
    purpose: Purpose,
) -> Page {
    let fetched = fetcher.fetch(url, &Validators::default(), origin, purpose).await;
    let result = match fetched.outcome {
        Ok(Outcome::Body(body)) => {
            let selectors = body
                .url
                .host_str()
                .and_then(|h| config.host_for(h))
                .and_then(|h| h.article.clone());
            let tz = source.map_or(config.daemon.timezone, |s| config.source_timezone(s));
            let page_url = body.url.clone();
            let read = cpu::run("extracting an article page", move || {
                let html = charset::decode_html(&body.bytes, body.content_type.as_deref()).text;
                extract::extract(&html, &body.url, selectors.as_ref(), tz, Utc::now())
            })
            .await;
            match read {
                Ok(extracted) => extracted
                    .map(|found| {
                        tracing::debug!(url = %page_url, extractor = found.extractor, "article extracted");
                        let mut entry = found.entry;
                        if entry.link.is_none() {
                            entry.link = Some(page_url.to_string());
                        }
                        PageArticle {
                            entry,
                            links: found.links,
                        }
                    })
                    .map_err(PageError::from),
                Err(error) => Err(PageError::Internal {
                    url: page_url.to_string(),
                    error,
                }),
            }
        }
        other => Err(describe_failure(url, other)),
    };
    Page {
        attempts: fetched.attempts,
        result,
    }
}

/// Fetches a JSON detail body for `entry` and returns the entry with it as rank-3 content.
/// The URL is a config template filled with an item's values: learned from the network.
pub async fn fetch_detail(fetcher: &Fetcher, detail_url: &Url, pointer: &str, mut entry: Entry) -> Page {
    let fetched = fetcher
        .fetch(
            detail_url,
            &Validators::default(),
            Origin::Network,
            Purpose::Detail,
        )
        .await;
    let result = match fetched.outcome {
        Ok(Outcome::Body(body)) => {
            let pointer = pointer.to_owned();
            let parsed = cpu::run("reading a detail body", move || {
                json::parse_detail(&body.bytes, body.content_type.as_deref(), &pointer)
            })
            .await;
            match parsed {
                Ok(Ok(html)) => {
                    entry.content = Some((html, ContentRank::Full));
                    Ok(PageArticle {
                        entry,
                        links: Vec::new(),
                    })
                }
                Ok(Err(error)) => Err(PageError::Detail {
                    url: detail_url.to_string(),
                    error,
                }),
                Err(error) => Err(PageError::Internal {
                    url: detail_url.to_string(),
                    error,
                }),
            }
        }
        other => Err(describe_failure(detail_url, other)),
    };
    Page {
        attempts: fetched.attempts,
        result,
    }
}

/// Normalizes a page's entry as `source` would (its name, category and tags; a share link
/// without a source is `share`), off the async workers: sanitizing a large page is CPU
/// work. None when the entry is no article, or the work failed (logged).
pub async fn normalize_page(
    config: &Arc<Config>,
    source: Option<&SourceConfig>,
    entry: Entry,
) -> Option<Article> {
    let config = Arc::clone(config);
    let name = source.map_or_else(|| "share".to_owned(), |s| s.name.clone());
    let category = source.and_then(|s| s.category.clone());
    let tags = source.map(|s| s.tags.clone()).unwrap_or_default();
    cpu::run("normalizing an article page", move || {
        let context = SourceContext {
            name: &name,
            category: category.as_deref(),
            tags: &tags,
            dedup: &config.dedup,
        };
        normalize::normalize(entry, &context)
    })
    .await
    .ok()
    .flatten()
}

/// Fills a `detail_url` or `[share] resolve` template: `{info_code}` (`NW…`), `{id}` (its 18
/// digits) and `{url}` (the item's link, percent-encoded). None when a placeholder has no
/// value or the result is not a URL.
pub fn fill_template(template: &str, info_code: Option<&str>, link: Option<&str>) -> Option<Url> {
    let mut filled = template.to_owned();
    if filled.contains("{info_code}") {
        filled = filled.replace("{info_code}", info_code?);
    }
    if filled.contains("{id}") {
        let code = info_code?;
        let id = code.trim_start_matches(|c: char| c.is_ascii_alphabetic());
        filled = filled.replace("{id}", id);
    }
    if filled.contains("{url}") {
        let encoded: String = url::form_urlencoded::byte_serialize(link?.as_bytes()).collect();
        filled = filled.replace("{url}", &encoded);
    }
    Url::parse(&filled).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_take_the_code_the_id_and_the_url() {
        let code = Some("NW202204192348095567");
        assert_eq!(
            fill_template("https://finance.eastmoney.com/a/{id}.html", code, None).map(|u| u.to_string()),
            Some("https://finance.eastmoney.com/a/202204192348095567.html".to_owned())
        );
        assert_eq!(
            fill_template("http://x/NewsText?id={info_code}", code, None).map(|u| u.to_string()),
            Some("http://x/NewsText?id=NW202204192348095567".to_owned())
        );
        assert_eq!(fill_template("http://x/{id}", None, None), None);
        assert_eq!(
            fill_template("http://x/page?u={url}", None, Some("http://a/b?c=1")).map(|u| u.to_string()),
            Some("http://x/page?u=http%3A%2F%2Fa%2Fb%3Fc%3D1".to_owned())
        );
    }
}
