//! JSON-LD `NewsArticle` (and `Article`, `BlogPosting`, …): `headline`, `datePublished`,
//! `dateModified`, `author`, `articleBody` — or, without a body, the page's main text.

use serde_json::Value;

use super::Found;
use super::ld::string;
use super::page::Page;
use super::readability;

pub(super) fn extract(page: &Page<'_>) -> Option<Found> {
    let article = page.linked_data().first()?;
    let title = string(article, "headline")
        .or_else(|| string(article, "name"))
        .or_else(|| page.fallback_title());
    let body = string(article, "articleBody")
        .map(|b| text_to_html(&b))
        .or_else(|| readability::main_body(page));
    let date = |key: &str| string(article, key).and_then(|d| page.parse_date(&d));
    Some(Found {
        title,
        body,
        published: date("datePublished").or_else(|| date("dateCreated")),
        updated: date("dateModified"),
        media: page.byline_media(),
        author: article.get("author").and_then(names),
        url: string(article, "url").or_else(|| match article.get("mainEntityOfPage") {
            Some(Value::String(s)) => Some(s.clone()),
            Some(v @ Value::Object(_)) => string(v, "@id").or_else(|| string(v, "url")),
            _ => None,
        }),
        ..Found::default()
    })
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
