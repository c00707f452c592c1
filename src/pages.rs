//! Article pages and detail bodies: the second request a source's item may need.
//!
//! An article page (a share link's candidates, a `full_text` feed entry, an HTML list's
//! item) is fetched through the same politeness as everything else, decoded, and read by
//! the [`crate::extract`] chain; a JSON detail endpoint's body is read at its pointer. Both
//! come back as an [`Entry`] with rank-3 content, plus the attempts made. No SQL here.

use chrono::Utc;
use url::Url;

use crate::charset;
use crate::config::{Config, SourceConfig};
use crate::extract::{self, ExtractError};
use crate::fetch::{Attempt, Fetcher, Outcome, Validators};
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

fn describe_failure(url: &Url, outcome: Result<Outcome, crate::fetch::FetchError>) -> PageError {
    match outcome {
        Ok(Outcome::Status { status, .. }) => PageError::Fetch(format!("{url}: HTTP {status}")),
        Ok(Outcome::NotModified) => PageError::Fetch(format!("{url}: unexpected 304")),
        Ok(Outcome::Body(_)) => PageError::Fetch(format!("{url}: unexpected body")),
        Err(e) => PageError::Fetch(e.to_string()),
    }
}

/// Fetches an article page and extracts its article.
pub async fn fetch_article(
    config: &Config,
    fetcher: &Fetcher,
    url: &Url,
    source: Option<&SourceConfig>,
) -> Page {
    let fetched = fetcher.fetch(url, &Validators::default()).await;
    let result = match fetched.outcome {
        Ok(Outcome::Body(body)) => {
            let html = charset::decode_html(&body.bytes, body.content_type.as_deref()).text;
            let selectors = body
                .url
                .host_str()
                .and_then(|h| config.host_for(h))
                .and_then(|h| h.article.as_ref());
            let tz = source.map_or(config.daemon.timezone, |s| config.source_timezone(s));
            extract::extract(&html, &body.url, selectors, tz, Utc::now())
                .map(|found| {
                    tracing::debug!(url = %body.url, extractor = found.extractor, "article extracted");
                    let mut entry = found.entry;
                    if entry.link.is_none() {
                        entry.link = Some(body.url.to_string());
                    }
                    PageArticle {
                        entry,
                        links: found.links,
                    }
                })
                .map_err(PageError::from)
        }
        other => Err(describe_failure(url, other)),
    };
    Page {
        attempts: fetched.attempts,
        result,
    }
}

/// Fetches a JSON detail body for `entry` and returns the entry with it as rank-3 content.
pub async fn fetch_detail(fetcher: &Fetcher, detail_url: &Url, pointer: &str, mut entry: Entry) -> Page {
    let fetched = fetcher.fetch(detail_url, &Validators::default()).await;
    let result = match fetched.outcome {
        Ok(Outcome::Body(body)) => json::parse_detail(&body.bytes, body.content_type.as_deref(), pointer)
            .map(|html| {
                entry.content = Some((html, ContentRank::Full));
                PageArticle {
                    entry,
                    links: Vec::new(),
                }
            })
            .map_err(|error| PageError::Detail {
                url: detail_url.to_string(),
                error,
            }),
        other => Err(describe_failure(detail_url, other)),
    };
    Page {
        attempts: fetched.attempts,
        result,
    }
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
