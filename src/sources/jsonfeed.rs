//! JSON Feed 1.0 and 1.1 (<https://www.jsonfeed.org/version/1.1/>), read leniently.
//!
//! Real JSON Feeds break the letter of the spec in small ways: an `http://` version URL,
//! no `version` at all, `tags` given as one string, an attachment without `mime_type`, an
//! `id` written as a number. A strict reader (feed-rs's, through serde) rejects the whole
//! feed for any of them. Here each field is read on its own: a field of the wrong type is
//! ignored, an item that is not an object is skipped and counted, and the feed fails only
//! when it has no `items` array at all.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde_json::{Map, Value};
use url::Url;

use super::feed::{FeedError, plain_to_html};
use super::{ContentRank, Entry, Read, Skipped};
use crate::dates;

/// Reads a JSON Feed document (already decoded to text) into entries, in document order.
///
/// `base_url` resolves relative item URLs; `tz` reads dates written without an offset;
/// `now` resolves relative dates.
pub fn parse(text: &str, base_url: &str, tz: Tz, now: DateTime<Utc>) -> Result<Read, FeedError> {
    let document: Value = serde_json::from_str(text.trim_start_matches('\u{feff}'))
        .map_err(|e| FeedError::Malformed(format!("not valid JSON: {e}")))?;
    let Value::Object(feed) = document else {
        return Err(FeedError::Malformed(
            "not a JSON Feed: the document is not a JSON object".into(),
        ));
    };
    let Some(Value::Array(items)) = feed.get("items") else {
        return Err(FeedError::Malformed("not a JSON Feed: no \"items\" array".into()));
    };
    let base = Url::parse(base_url).ok();
    let base = feed
        .get("home_page_url")
        .and_then(Value::as_str)
        .and_then(|home| resolve(base.as_ref(), home))
        .and_then(|home| Url::parse(&home).ok())
        .or(base);
    let feed_language = string(&feed, "language");
    let feed_author = author(&feed);

    let mut read = Read::default();
    let mut not_objects = 0;
    for item in items {
        let Value::Object(item) = item else {
            not_objects += 1;
            continue;
        };
        let link = ["url", "external_url"]
            .iter()
            .filter_map(|key| item.get(*key).and_then(Value::as_str))
            .find_map(|u| resolve(base.as_ref(), u));
        let date = |key: &str| string(item, key).and_then(|raw| dates::parse(&raw, tz, now));
        let published = date("date_published");
        let updated = date("date_modified");
        let content = string(item, "content_html")
            .map(|html| (html, ContentRank::Feed))
            .or_else(|| string(item, "content_text").map(|text| (plain_to_html(&text), ContentRank::Feed)));
        read.entries.push(Entry {
            guid: id(item),
            info_code: None,
            link,
            title: string(item, "title"),
            published: published.or(updated),
            updated,
            author: author(item).or_else(|| feed_author.clone()),
            media: None,
            summary: string(item, "summary"),
            content,
            categories: tags(item),
            language: string(item, "language").or_else(|| feed_language.clone()),
        });
    }
    let mut skipped = Skipped::default();
    skipped.add("not a JSON object", not_objects);
    read.skipped = skipped;
    Ok(read)
}

/// A non-empty string field; any other type counts as absent.
fn string(object: &Map<String, Value>, key: &str) -> Option<String> {
    object
        .get(key)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

/// The item's `id`: a string, or a number written as one (the spec says string; feeds
/// write numbers).
fn id(item: &Map<String, Value>) -> Option<String> {
    match item.get("id") {
        Some(Value::String(s)) => Some(s.trim().to_owned()).filter(|s| !s.is_empty()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    }
}

/// The first named author: 1.1's `authors` array, else 1.0's `author` object (a bare string
/// is taken as the name).
fn author(object: &Map<String, Value>) -> Option<String> {
    let name_of = |value: &Value| match value {
        Value::Object(person) => string(person, "name"),
        Value::String(name) => Some(name.trim().to_owned()).filter(|n| !n.is_empty()),
        _ => None,
    };
    match object.get("authors") {
        Some(Value::Array(authors)) => authors.iter().find_map(name_of),
        Some(other) => name_of(other),
        None => None,
    }
    .or_else(|| object.get("author").and_then(name_of))
}

/// `tags`: an array of strings, or one string (comma-separated where it has commas).
fn tags(item: &Map<String, Value>) -> Vec<String> {
    let clean = |s: &str| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
    match item.get("tags") {
        Some(Value::Array(tags)) => tags.iter().filter_map(Value::as_str).filter_map(clean).collect(),
        Some(Value::String(tags)) => tags.split(',').filter_map(clean).collect(),
        _ => Vec::new(),
    }
}

/// An absolute http(s) URL for `raw`, resolved against `base` when relative.
fn resolve(base: Option<&Url>, raw: &str) -> Option<String> {
    let raw = raw.trim();
    if raw.is_empty() {
        return None;
    }
    let url = match base {
        Some(base) => base.join(raw).ok()?,
        None => Url::parse(raw).ok()?,
    };
    Some(url.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        crate::sources::test_now()
    }

    fn read(json: &str) -> Read {
        parse(json, "https://example.org/feed.json", chrono_tz::UTC, now()).expect("a JSON Feed")
    }

    /// Each deviation real feeds make (values written by hand from the documents).
    #[test]
    fn lenient_fields() {
        let r = read(
            r#"{"version": "http://jsonfeed.org/version/1", "title": "t", "home_page_url": "https://example.org/blog/",
              "author": {"name": "Feed Author"},
              "items": [
                {"id": 1, "url": "posts/1", "title": "One", "content_text": "a\n\nb", "tags": "x, y",
                 "date_published": "2022-04-19T12:22:44+08:00",
                 "attachments": [{"url": "https://example.org/a.mp3"}]},
                {"id": "2", "external_url": "https://other.example/2", "title": "Two", "content_html": "<p>h</p>",
                 "authors": [{"url": "https://x"}, {"name": "Second Author"}], "tags": ["p", 3, " q "],
                 "date_modified": "2022-04-18T00:00:00Z", "title_extra": {"bad": true}},
                "not an item",
                {"id": "3", "title": 42, "summary": "only a summary", "url": 17}
              ]}"#,
        );
        assert_eq!(r.entries.len(), 3);
        assert_eq!(r.skipped.count(), 1);
        assert_eq!(r.skipped.summary().as_deref(), Some("not a JSON object: 1"));
        let [one, two, three] = &r.entries[..] else {
            panic!("three entries")
        };
        assert_eq!(one.guid.as_deref(), Some("1"));
        assert_eq!(one.link.as_deref(), Some("https://example.org/blog/posts/1"));
        assert_eq!(
            one.content,
            Some(("<p>a</p><p>b</p>".to_owned(), ContentRank::Feed))
        );
        assert_eq!(one.categories, vec!["x".to_owned(), "y".to_owned()]);
        assert_eq!(one.author.as_deref(), Some("Feed Author"));
        let published = one.published.expect("a date");
        assert_eq!(dates::format_utc(published.utc), "2022-04-19T04:22:44Z");
        assert_eq!(two.link.as_deref(), Some("https://other.example/2"));
        assert_eq!(two.author.as_deref(), Some("Second Author"));
        assert_eq!(two.categories, vec!["p".to_owned(), "q".to_owned()]);
        // Only a modified time: it is the publication time too, and the updated time.
        assert_eq!(
            two.published.map(|p| dates::format_utc(p.utc)).as_deref(),
            Some("2022-04-18T00:00:00Z")
        );
        assert_eq!(
            two.updated.map(|p| dates::format_utc(p.utc)).as_deref(),
            Some("2022-04-18T00:00:00Z")
        );
        assert_eq!(three.title, None);
        assert_eq!(three.link, None);
        assert_eq!(three.summary.as_deref(), Some("only a summary"));
    }

    #[test]
    fn no_version_is_read_and_no_items_is_an_error() {
        let r = read(r#"{"title": "t", "items": [{"id": "a", "title": "A", "url": "https://e.org/a"}]}"#);
        assert_eq!(r.entries.len(), 1);
        assert_eq!(r.entries[0].title.as_deref(), Some("A"));
        let err = parse(r#"{"title": "t"}"#, "https://e.org/", chrono_tz::UTC, now());
        assert!(
            matches!(err, Err(FeedError::Malformed(ref m)) if m.contains("items")),
            "{err:?}"
        );
        let err = parse("[1, 2]", "https://e.org/", chrono_tz::UTC, now());
        assert!(matches!(err, Err(FeedError::Malformed(_))), "{err:?}");
    }
}
