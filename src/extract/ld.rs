//! The page's JSON-LD, read once for whoever needs it: the article objects of its
//! `application/ld+json` scripts. The `jsonld` extractor builds an article from them; the
//! page's date signals read `datePublished` from them. Reading depends on no extractor.

use std::sync::LazyLock;

use scraper::{Html, Selector};
use serde_json::Value;

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

static SCRIPTS: LazyLock<Selector> =
    LazyLock::new(|| Selector::parse("script[type]").expect("a valid selector"));

/// Every article object of the page's `application/ld+json` scripts, in order (top-level
/// objects, arrays and `@graph` members).
pub(super) fn articles(doc: &Html) -> Vec<Value> {
    let mut out = Vec::new();
    for script in doc.select(&SCRIPTS) {
        let kind = script.attr("type").unwrap_or_default().trim();
        if !kind.eq_ignore_ascii_case("application/ld+json") {
            continue;
        }
        let raw: String = script.text().collect();
        let Some(value) = parse_lenient(&raw) else {
            tracing::debug!("unreadable JSON-LD");
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
pub(super) fn string(value: &Value, key: &str) -> Option<String> {
    let s = value.get(key)?.as_str()?.trim();
    (!s.is_empty()).then(|| s.to_owned())
}
