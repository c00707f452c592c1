//! Open Graph pages: `og:title`, `article:published_time` (and `og:type = article`) name
//! the article; the body is the page's `[itemprop=articleBody]`, its `<article>` with the
//! most text, or the main-text heuristic's block.

use super::Found;
use super::page::{Page, css};
use super::readability;

pub(super) fn extract(page: &Page<'_>) -> Option<Found> {
    let og_title = page.meta(&["og:title"]);
    let og_published = page.meta(&["article:published_time", "og:article:published_time"]);
    let og_article = page
        .meta(&["og:type"])
        .is_some_and(|t| t.eq_ignore_ascii_case("article"));
    if og_title.is_none() && og_published.is_none() && !og_article {
        return None;
    }
    let body = page
        .doc
        .select(&css("[itemprop=articleBody]"))
        .next()
        .or_else(|| {
            page.doc
                .select(&css("article"))
                .max_by_key(|a| page.signals().text_len(*a))
        })
        .map(|e| e.inner_html())
        .or_else(|| readability::main_body(page));
    Some(Found {
        // The confirmed headline: og:title alone is cut short on some pages.
        title: page.fallback_title(),
        body,
        // The byline's time is weighed against this one in `finish`.
        published: og_published.and_then(|d| page.parse_date(&d)),
        media: page.byline_media(),
        ..Found::default()
    })
}
