//! JSON-LD `NewsArticle` (and `Article`, `BlogPosting`, …): `headline`, `datePublished`,
//! `dateModified`, `author`, `articleBody` — or, without a body, the page's main text.

use serde_json::Value;

use super::Found;
use super::page::{Page, css};
use super::readability;

/// `@type`s read as an article.
const ARTICLE_TYPES: &[&str] = &[
    "NewsArticle",
    "Article",
    "ReportageNews",
    "AnalysisNewsArticle",
    "BackgroundNewsArticle",
    "OpinionNewsArticle",
    "ReviewNewsArticle",
    "BlogPosting",
    "SocialMediaPosting",
    "LiveBlogPosting",
    "TechArticle",
    "ScholarlyArticle",
    "Report",
];

pub(super) fn extract(page: &Page<'_>) -> Option<Found> {
    let article = articles(page).into_iter().next()?;
    let title = string(&article, "headline")
        .or_else(|| string(&article, "name"))
        .or_else(|| page.fallback_title());
    let body = string(&article, "articleBody")
        .map(|b| text_to_html(&b))
        .or_else(|| readability::main_body(page));
    let date = |key: &str| string(&article, key).and_then(|d| page.parse_date(&d));
    Some(Found {
        title,
        body,
        published: date("datePublished").or_else(|| date("dateCreated")),
        updated: date("dateModified"),
        media: page.byline_media(),
        author: article.get("author").and_then(names),
        url: string(&article, "url").or_else(|| match article.get("mainEntityOfPage") {
            Some(Value::String(s)) => Some(s.clone()),
            Some(v @ Value::Object(_)) => string(v, "@id").or_else(|| string(v, "url")),
            _ => None,
        }),
        ..Found::default()
    })
}

/// The `datePublished` of the page's first JSON-LD article, for other extractors.
pub(super) fn page_published(page: &Page<'_>) -> Option<crate::dates::ParsedDate> {
    articles(page)
        .iter()
        .find_map(|a| string(a, "datePublished").and_then(|d| page.parse_date(&d)))
}

/// Every article object of the page's `application/ld+json` scripts, in order (top-level
/// objects, arrays and `@graph` members).
fn articles(page: &Page<'_>) -> Vec<Value> {
    let mut out = Vec::new();
    for script in page.doc.select(&css("script[type]")) {
        let kind = script.attr("type").unwrap_or_default().trim();
        if !kind.eq_ignore_ascii_case("application/ld+json") {
            continue;
        }
        let raw: String = script.text().collect();
        let Some(value) = parse_lenient(&raw) else {
            tracing::debug!(url = %page.url, "unreadable JSON-LD");
            continue;
        };
        collect(value, &mut out);
    }
    out
}

/// JSON as publishers write it: raw control characters inside strings are tolerated.
fn parse_lenient(raw: &str) -> Option<Value> {
    let raw = raw
        .trim()
        .trim_start_matches("<!--")
        .trim_end_matches("-->")
        .trim();
    serde_json::from_str(raw).ok().or_else(|| {
        let cleaned: String = raw
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        serde_json::from_str(&cleaned).ok()
    })
}

fn collect(value: Value, out: &mut Vec<Value>) {
    match value {
        Value::Array(items) => items.into_iter().for_each(|v| collect(v, out)),
        Value::Object(mut map) => {
            if let Some(graph) = map.remove("@graph") {
                collect(graph, out);
            }
            let is_article = match map.get("@type") {
                Some(Value::String(t)) => ARTICLE_TYPES.contains(&t.as_str()),
                Some(Value::Array(ts)) => ts
                    .iter()
                    .any(|t| t.as_str().is_some_and(|t| ARTICLE_TYPES.contains(&t))),
                _ => false,
            };
            if is_article {
                out.push(Value::Object(map));
            }
        }
        _ => {}
    }
}

/// A non-empty string member (a number is not a string here).
fn string(value: &Value, key: &str) -> Option<String> {
    let s = value.get(key)?.as_str()?.trim();
    (!s.is_empty()).then(|| s.to_owned())
}

/// `author` as a string, a Person/Organization, or a list of them: names joined by `, `.
fn names(value: &Value) -> Option<String> {
    let list: Vec<String> = match value {
        Value::String(s) => vec![s.trim().to_owned()],
        Value::Object(_) => string(value, "name").into_iter().collect(),
        Value::Array(items) => items.iter().filter_map(names).collect(),
        _ => Vec::new(),
    };
    let list: Vec<String> = list.into_iter().filter(|n| !n.is_empty()).collect();
    (!list.is_empty()).then(|| list.join(", "))
}

/// `articleBody` as HTML: kept when it is HTML, else one `<p>` per non-empty line.
fn text_to_html(body: &str) -> String {
    let looks_html = ["<p", "<br", "<div", "</"].iter().any(|t| body.contains(t));
    if looks_html {
        return body.to_owned();
    }
    body.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| format!("<p>{}</p>", html_escape::encode_text(l)))
        .collect()
}
