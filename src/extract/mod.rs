//! Article pages → one [`Entry`] with the publisher's full text (content rank 3).
//!
//! A chain of extractors is tried on the decoded page, first match wins: the `[[host]]
//! article` selectors (when configured), East Money's own layout, JSON-LD `NewsArticle`,
//! Open Graph / `article:published_time`, and a main-text heuristic. An extractor matches
//! when it finds a title *and* non-trivial body text, so a JavaScript shell (scripts and
//! empty containers) falls through every one of them and is [`ExtractError::NoArticle`].
//!
//! Every body goes through the same cleaning (`clean.rs`): scripts, styles, share blocks,
//! ad boxes, East Money's summary box and stock-quote images are removed; paragraphs,
//! `<strong>` and the `（文章来源：X）` line stay (normalization reads the outlet from it).
//! The page's `来源：` line is reported separately as [`MediaRank::Page`] media. The title
//! is the headline element the page's `<title>`/`og:title` confirm, else those titles
//! without the site's name (`headline.rs`). The published time is the one shown in the
//! byline, replaced by a machine one (meta `article:published_time`, JSON-LD, `<time>`)
//! only when that is more precise and agrees to the minute; without a shown time, the
//! extractor's own, refined the same way.
//! Pure functions: no I/O, no clock.

mod clean;
mod eastmoney;
mod headline;
mod jsonld;
mod ld;
mod opengraph;
mod page;
mod readability;
mod selectors;
mod signals;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_corpus;
#[cfg(test)]
mod tests_hostile;
#[cfg(test)]
mod tests_real_layouts;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use url::Url;

use crate::config::ArticleSelectors;
use crate::dates::ParsedDate;
use crate::html_bounds::{self, TooBig};
use crate::normalize::{clean_title, collapse_whitespace};
use crate::sources::{ContentRank, Entry, MediaRank};

pub use clean::MAX_LINKS;
use page::Page;

/// What an extractor read from an article page.
#[derive(Clone, Debug)]
pub struct Extracted {
    /// Title, published time, content (rank [`ContentRank::Full`]), the `来源：` outlet
    /// ([`MediaRank::Page`]), author, summary (East Money's summary box) and the canonical
    /// URL when the page gives one; `guid` is always None.
    pub entry: Entry,
    /// Which extractor matched: `host-selectors`, `eastmoney`, `json-ld`, `open-graph` or
    /// `readability`.
    pub extractor: &'static str,
    /// Absolute `http(s)` hrefs inside the extracted body, in order, without duplicates, at
    /// most [`MAX_LINKS`].
    pub links: Vec<String>,
}

/// Why a page gave no article.
#[derive(Debug, thiserror::Error)]
pub enum ExtractError {
    /// No extractor found both a title and body text.
    #[error("no article found in {url} (tried {tried})")]
    NoArticle {
        /// The page URL.
        url: String,
        /// The extractors tried, comma-separated.
        tried: String,
    },
    /// The page was not parsed at all: it nests too deep or has too many elements
    /// ([`crate::html_bounds`]), and html5ever's cost grows with the square of its depth.
    /// Reported like [`ExtractError::NoArticle`] (no extractor was tried: `none`).
    #[error("no article found in {url} (tried none: {reason})")]
    Refused {
        /// The page URL.
        url: String,
        /// The limit the page crossed.
        reason: TooBig,
    },
}

/// Fewer visible characters than this is no article body (a shell, a stub, a loader).
const MIN_BODY_CHARS: usize = 8;

/// What one extractor found, before cleaning and checks.
#[derive(Debug, Default)]
struct Found {
    title: Option<String>,
    /// Raw body HTML (cleaned in `finish`).
    body: Option<String>,
    published: Option<ParsedDate>,
    /// Whether `published` was read from the page's visible byline (a layout's info line,
    /// a configured selector) rather than from a machine field (meta, JSON-LD).
    published_shown: bool,
    updated: Option<ParsedDate>,
    /// The `来源：` outlet as written.
    media: Option<String>,
    author: Option<String>,
    summary: Option<String>,
    /// A URL the extractor's own data names (JSON-LD `url`), after `<link rel=canonical>`.
    url: Option<String>,
}

type Extractor = fn(&Page<'_>) -> Option<Found>;

/// Runs the chain on a decoded HTML page; the first extractor that finds a title AND
/// non-trivial body text wins (a JS shell with only scripts/empty containers yields
/// [`ExtractError::NoArticle`]). Naive times are read in `tz`, relative ones against `now`.
///
/// A page deeper than [`html_bounds::MAX_DEPTH`] or with more than
/// [`html_bounds::MAX_ELEMENTS`] elements is [`ExtractError::Refused`] before it is parsed.
/// Everything after the parse is O(n) in the page's size.
pub fn extract(
    html: &str,
    page_url: &Url,
    selectors: Option<&ArticleSelectors>,
    tz: Tz,
    now: DateTime<Utc>,
) -> Result<Extracted, ExtractError> {
    if let Err(reason) = html_bounds::check(html) {
        tracing::debug!(url = %page_url, %reason, "page refused before parsing");
        return Err(ExtractError::Refused {
            url: page_url.to_string(),
            reason,
        });
    }
    let page = Page::new(html, page_url, tz, now);
    let mut tried: Vec<&'static str> = Vec::new();
    if let Some(sel) = selectors {
        tried.push("host-selectors");
        if let Some(done) = selectors::extract(&page, sel).and_then(|f| finish(&page, f, "host-selectors")) {
            return Ok(done);
        }
    }
    let chain: [(&'static str, Extractor); 4] = [
        ("eastmoney", eastmoney::extract),
        ("json-ld", jsonld::extract),
        ("open-graph", opengraph::extract),
        ("readability", readability::extract),
    ];
    for (name, extractor) in chain {
        tried.push(name);
        if let Some(done) = extractor(&page).and_then(|f| finish(&page, f, name)) {
            return Ok(done);
        }
    }
    Err(ExtractError::NoArticle {
        url: page_url.to_string(),
        tried: tried.join(", "),
    })
}

/// Cleans the body, checks title and text, fills in page-level facts; None when the
/// extractor's finding is no article.
fn finish(page: &Page<'_>, found: Found, extractor: &'static str) -> Option<Extracted> {
    let title = found
        .title
        .as_deref()
        .map(clean_title)
        .filter(|t| !t.is_empty())?;
    let body = found.body.as_deref()?;
    // A body can come from outside the checked page (JSON-LD `articleBody`, an attribute
    // named by a host selector): it is parsed again, so it is checked again.
    if let Err(reason) = html_bounds::check(body) {
        tracing::debug!(extractor, url = %page.url, %reason, "body refused before parsing");
        return None;
    }
    let cleaned = clean::clean_body(body, page.url);
    if cleaned.visible_chars < MIN_BODY_CHARS {
        tracing::trace!(extractor, url = %page.url, "body too short");
        return None;
    }
    // A visible byline time beats a date-only or disagreeing machine time (see
    // `Page::best_published`); the extractor's own reading is the visible one when it
    // read the byline.
    let (primary, shown) = if found.published_shown {
        (None, found.published.or_else(|| page.shown_published()))
    } else {
        (found.published, page.shown_published())
    };
    let published = page.best_published(primary, shown);
    let updated = found.updated.or_else(|| page.meta_updated());
    let media = found
        .media
        .map(|m| collapse_whitespace(&m))
        .filter(|m| !m.is_empty())
        .map(|m| (m, MediaRank::Page));
    let author = found
        .author
        .or_else(|| page.meta_author())
        .map(|a| collapse_whitespace(&a))
        .filter(|a| !a.is_empty());
    let summary = found
        .summary
        .map(|s| collapse_whitespace(&s))
        .filter(|s| !s.is_empty());
    let link = page
        .canonical()
        .or_else(|| found.url.and_then(|u| page.absolute(&u)));
    let language = page.language();
    Some(Extracted {
        entry: Entry {
            link,
            title: Some(title),
            published,
            updated,
            author,
            media,
            summary,
            content: Some((cleaned.html, ContentRank::Full)),
            language,
            ..Entry::default()
        },
        extractor,
        links: cleaned.links,
    })
}
