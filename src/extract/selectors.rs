//! `[[host]] article` selectors: CSS, each optionally `selector@attr` to read an attribute.
//!
//! `content` is required (the first match's inner HTML); `title` falls back to the page's
//! `og:title`/`<h1>`/`<title>`; `published` is the first date in the matched text (so
//! `2022-04-19 12:22:44 来源：证券日报` works), else the page's byline; `media` is the
//! name after `来源：` in the matched text, or the whole text when it has no such label.

use scraper::{ElementRef, Selector};

use super::Found;
use super::page::{Page, source_of, text_of};
use crate::config::ArticleSelectors;
use crate::normalize::collapse_whitespace;

/// A parsed `selector[@attr]`.
struct Spec {
    selector: Selector,
    attr: Option<String>,
}

fn spec(raw: &str) -> Option<Spec> {
    let (css, attr) = match raw.rsplit_once('@') {
        Some((css, attr)) if !attr.is_empty() && !attr.contains([' ', ']', ')']) => (css, Some(attr.trim())),
        _ => (raw, None),
    };
    match Selector::parse(css.trim()) {
        Ok(selector) => Some(Spec {
            selector,
            attr: attr.map(str::to_owned),
        }),
        Err(e) => {
            tracing::warn!(selector = raw, error = %e, "unusable [[host]] article selector");
            None
        }
    }
}

impl Spec {
    /// The first match with a value: the attribute, or the element's text.
    fn value(&self, page: &Page<'_>) -> Option<String> {
        page.doc.select(&self.selector).find_map(|e| {
            let value = match &self.attr {
                Some(attr) => collapse_whitespace(e.attr(attr)?),
                None => text_of(e),
            };
            (!value.is_empty()).then_some(value)
        })
    }

    /// The first match (for bodies: its inner HTML, or the attribute as HTML).
    fn html(&self, page: &Page<'_>) -> Option<String> {
        let el: ElementRef<'_> = page.doc.select(&self.selector).next()?;
        match &self.attr {
            Some(attr) => el.attr(attr).map(str::to_owned),
            None => Some(el.inner_html()),
        }
    }
}

pub(super) fn extract(page: &Page<'_>, selectors: &ArticleSelectors) -> Option<Found> {
    let body = spec(selectors.content.as_deref()?)?.html(page)?;
    let field = |raw: &Option<String>| raw.as_deref().and_then(spec).and_then(|s| s.value(page));
    let title = field(&selectors.title).or_else(|| page.fallback_title());
    let published = field(&selectors.published).and_then(|d| page.parse_date(&d));
    let media = match field(&selectors.media) {
        Some(text) if text.contains("来源") => source_of(&text),
        Some(text) => Some(text),
        None => page.byline_media(),
    };
    Some(Found {
        title,
        body: Some(body),
        published,
        // A configured selector reads what the page shows; without one `finish` reads
        // the byline.
        published_shown: published.is_some(),
        media,
        ..Found::default()
    })
}
