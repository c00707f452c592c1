//! Feeds — RSS 0.9x/1.0/2.0, Atom and JSON Feed — through feed-rs.
//!
//! The body is decoded to UTF-8 by [`crate::charset`] first (feed-rs only knows the XML
//! declaration), and every timestamp goes through [`crate::dates`] so that the
//! publisher's offset and the time's precision survive (feed-rs keeps only UTC).

use std::collections::HashMap;
use std::collections::HashSet;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, LazyLock, Mutex, PoisonError};

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use super::{ContentRank, Entry, MediaRank};
use crate::charset;
use crate::dates::{self, ParsedDate};

/// A feed that could not be read.
#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    /// feed-rs rejected the document (malformed XML, not a feed, bad JSON).
    #[error("not a valid RSS/Atom/JSON feed: {0}")]
    Malformed(String),
}

/// Parses a feed body into entries, in document order.
///
/// `base_url` resolves relative links; `tz` reads dates written without an offset; `now`
/// resolves relative dates.
pub fn parse(
    body: &[u8],
    content_type: Option<&str>,
    base_url: &str,
    tz: Tz,
    now: DateTime<Utc>,
) -> Result<Vec<Entry>, FeedError> {
    let first = body
        .iter()
        .find(|b| !b.is_ascii_whitespace() && **b != 0xEF && **b != 0xBB && **b != 0xBF);
    let text = if first == Some(&b'{') {
        charset::decode_text(body, content_type).text
    } else {
        charset::decode_xml(body, content_type).text
    };

    // feed-rs hands us UTC only; keep what our own parser saw, keyed by the instant, so the
    // entry can recover the publisher's offset and the precision.
    let seen: Arc<Mutex<HashMap<i64, ParsedDate>>> = Arc::default();
    let recorder = Arc::clone(&seen);
    let parser = feed_rs::parser::Builder::new()
        .sanitize_content(false)
        // An empty id marks "the feed carried none": never dedup on an invented id.
        .id_generator(|_, _, _| String::new())
        .timestamp_parser(move |raw| {
            let parsed = dates::parse(raw, tz, now)?;
            recorder
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(parsed.utc.timestamp(), parsed);
            Some(parsed.utc)
        })
        .base_uri(Some(base_url))
        .build();
    // quick-xml (under feed-rs) asserts instead of failing on some malformed documents: a
    // second XML declaration naming another encoding panics in `set_encoding`. A hostile
    // feed must be a malformed feed, not a crashed poll.
    let feed = std::panic::catch_unwind(AssertUnwindSafe(|| parser.parse(text.as_bytes())))
        .map_err(|panic| FeedError::Malformed(format!("the XML parser gave up: {}", panic_message(&*panic))))?
        .map_err(|e| FeedError::Malformed(e.to_string()))?;
    let seen = seen.lock().unwrap_or_else(PoisonError::into_inner);
    let lookup = |utc: Option<DateTime<Utc>>| utc.and_then(|t| seen.get(&t.timestamp()).copied());

    let feed_language = feed.language.clone();
    let not_permalinks = guids_not_permalinks(&text);
    // Titles feed-rs does not read, by item position; used only when the positions agree.
    let extra_titles = Some(item_titles(&text)).filter(|t| !t.is_empty() && t.len() == feed.entries.len());
    let entries = feed
        .entries
        .into_iter()
        .enumerate()
        .map(|(i, e)| {
            let published = lookup(e.published).or_else(|| lookup(e.updated));
            let title = e
                .title
                .map(|t| t.content)
                .filter(|t| !t.trim().is_empty())
                .or_else(|| {
                    e.media
                        .iter()
                        .find_map(|m| m.title.as_ref().map(|t| t.content.clone()))
                        .filter(|t| !t.trim().is_empty())
                })
                .or_else(|| extra_titles.as_ref().and_then(|t| t.get(i).cloned().flatten()));
            let content = e.content.and_then(|c| {
                let is_plain = c.content_type.to_string().starts_with("text/plain");
                c.body.filter(|b| !b.trim().is_empty()).map(|body| {
                    let html = if is_plain { plain_to_html(&body) } else { body };
                    (html, ContentRank::Feed)
                })
            });
            let link = e
                .links
                .iter()
                .find(|l| l.rel.as_deref().is_none_or(|r| r == "alternate"))
                .or_else(|| e.links.first())
                .map(|l| l.href.trim().to_owned())
                .filter(|l| !l.is_empty())
                // RSS: a guid is the item's permalink unless it says isPermaLink="false".
                .or_else(|| {
                    let guid = e.id.trim();
                    (guid.starts_with("http://") || guid.starts_with("https://"))
                        .then_some(guid)
                        .filter(|g| !not_permalinks.contains(*g))
                        .map(str::to_owned)
                });
            Entry {
                guid: Some(e.id).filter(|id| !id.trim().is_empty()),
                info_code: None,
                link,
                title,
                published,
                updated: lookup(e.updated),
                author: e.authors.first().and_then(author_of),
                media: e
                    .source
                    .filter(|s| !s.trim().is_empty())
                    .map(|s| (s, MediaRank::Field)),
                summary: e.summary.map(|s| s.content).filter(|s| !s.trim().is_empty()),
                content,
                categories: e
                    .categories
                    .into_iter()
                    .map(|c| c.label.unwrap_or(c.term))
                    .filter(|c| !c.trim().is_empty())
                    .collect(),
                language: feed_language.clone(),
            }
        })
        .collect();
    Ok(entries)
}

/// An author as people read it: the name, without the parentheses RSS puts around it in
/// `joe@example.com (Joe Bloggs)`; an e-mail address alone when that is all there is.
fn author_of(person: &feed_rs::model::Person) -> Option<String> {
    let name = person.name.as_deref().map(str::trim).unwrap_or_default();
    let name = name
        .strip_prefix('(')
        .and_then(|n| n.strip_suffix(')'))
        .unwrap_or(name)
        .trim();
    if !name.is_empty() {
        return Some(name.to_owned());
    }
    person
        .email
        .as_deref()
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .map(str::to_owned)
}

/// The RSS guids marked `isPermaLink="false"` (feed-rs does not keep the attribute): one
/// linear pass of a regex over the document.
fn guids_not_permalinks(text: &str) -> HashSet<String> {
    static GUID: LazyLock<Option<regex::Regex>> = LazyLock::new(|| {
        regex::Regex::new(r#"(?i)<guid\b[^>]*\bisPermaLink\s*=\s*["']false["'][^>]*>\s*([^<]*?)\s*</guid>"#)
            .ok()
    });
    let Some(guid) = GUID.as_ref() else {
        return HashSet::new();
    };
    guid.captures_iter(text)
        .filter_map(|c| c.get(1))
        .map(|m| m.as_str().to_owned())
        .collect()
}

/// For each `<item>`/`<entry>` in document order, its `dc:title` or bare `media:title`
/// (decoded), which feed-rs does not read: items titled only that way would otherwise be
/// dropped. One linear pass of two regexes.
fn item_titles(text: &str) -> Vec<Option<String>> {
    static ITEM: LazyLock<Option<regex::Regex>> =
        LazyLock::new(|| regex::Regex::new(r"(?s)<(?:item|entry)\b[^>]*>(.*?)</(?:item|entry)>").ok());
    static TITLE: LazyLock<Option<regex::Regex>> = LazyLock::new(|| {
        regex::Regex::new(r"(?s)<(dc:title|media:title)\b[^>]*>(.*?)</(?:dc:title|media:title)>").ok()
    });
    // Most feeds have neither: no pass over them at all.
    if !(text.contains("dc:title") || text.contains("media:title")) {
        return Vec::new();
    }
    let (Some(item), Some(title)) = (ITEM.as_ref(), TITLE.as_ref()) else {
        return Vec::new();
    };
    item.captures_iter(text)
        .map(|c| {
            let body = c.get(1).map_or("", |m| m.as_str());
            title
                .captures_iter(body)
                .filter_map(|t| t.get(2))
                .map(|m| {
                    let raw = m.as_str().trim();
                    let raw = raw
                        .strip_prefix("<![CDATA[")
                        .and_then(|r| r.strip_suffix("]]>"))
                        .unwrap_or(raw);
                    html_escape::decode_html_entities(raw.trim()).into_owned()
                })
                .find(|t| !t.trim().is_empty())
        })
        .collect()
}

/// The text of a caught panic's payload.
fn panic_message(payload: &(dyn std::any::Any + Send)) -> &str {
    payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("panic")
}

/// Plain-text content becomes paragraphs, so that every stored `content_html` is HTML.
fn plain_to_html(text: &str) -> String {
    text.split("\n\n")
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| format!("<p>{}</p>", html_escape::encode_text(p)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2022-04-20T00:00:00Z")
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default()
    }

    #[test]
    fn rss_keeps_offset_and_ranks() {
        let xml = r#"<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel><title>t</title>
<item><title>工信部 &amp; 发布会</title><link>http://example.org/a/1.html</link>
<description>摘要</description><content:encoded><![CDATA[<p>正文</p>]]></content:encoded>
<pubDate>Tue, 19 Apr 2022 12:22:44 +0800</pubDate><category>宏观</category></item>
<item><title>无 guid</title><pubDate>2022-04-19 12:22</pubDate></item>
</channel></rss>"#;
        let entries = parse(
            xml.as_bytes(),
            None,
            "http://example.org/",
            chrono_tz::Asia::Shanghai,
            now(),
        )
        .expect("valid feed");
        assert_eq!(entries.len(), 2);
        let first = &entries[0];
        assert_eq!(first.title.as_deref(), Some("工信部 & 发布会"));
        assert_eq!(first.summary.as_deref(), Some("摘要"));
        assert_eq!(first.content, Some(("<p>正文</p>".to_owned(), ContentRank::Feed)));
        assert_eq!(first.categories, vec!["宏观".to_owned()]);
        let published = first.published.expect("date");
        assert_eq!(dates::format_utc(published.utc), "2022-04-19T04:22:44Z");
        assert_eq!(dates::format_local(published.local), "2022-04-19T12:22:44+08:00");
        assert_eq!(entries[1].guid, None);
        let naive = entries[1].published.expect("naive date read in the timezone");
        assert_eq!(dates::format_utc(naive.utc), "2022-04-19T04:22:00Z");
    }

    /// Found by `tests/properties.rs` (feed_mutated_corpus): quick-xml 0.42 panicked in
    /// `set_encoding` on a second declaration once the first had been rewritten to UTF-8.
    #[test]
    fn a_second_xml_declaration_is_malformed_not_a_panic() {
        let xml = br#"<?xml version="1.0" encoding="GBK"?><?xml version="1.0" encoding="GBK"?><rss/>"#;
        let result = parse(xml, None, "http://e/", chrono_tz::UTC, now());
        assert!(matches!(result, Err(FeedError::Malformed(_))), "{result:?}");
    }

    #[test]
    fn malformed_is_an_error() {
        let result = parse(
            b"<rss><channel><item><title>x",
            None,
            "http://e/",
            chrono_tz::UTC,
            now(),
        );
        assert!(result.is_err());
    }

    /// RSS 2.0 §guid: a guid is the permalink unless isPermaLink="false"; `<author>` is an
    /// e-mail address with the name in parentheses (values written by hand).
    #[test]
    fn permalink_guids_and_rss_authors() {
        let xml = r#"<?xml version="1.0"?>
<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/"><channel><title>t</title>
<item><title>a</title><guid>http://example.org/p/1</guid><author>joe@example.com (Joe Bloggs)</author></item>
<item><title>b</title><guid isPermaLink="true">https://example.org/p/2</guid><author>joe@example.com</author></item>
<item><title>c</title><guid isPermaLink="false">http://example.org/p/3</guid><dc:creator>张三</dc:creator></item>
<item><title>d</title><link>http://example.org/d</link><guid>http://example.org/p/4</guid></item>
<item><title>e</title><guid>tag:example.org,2022:5</guid></item>
</channel></rss>"#;
        let entries =
            parse(xml.as_bytes(), None, "http://example.org/", chrono_tz::UTC, now()).expect("valid feed");
        let links: Vec<Option<&str>> = entries.iter().map(|e| e.link.as_deref()).collect();
        assert_eq!(
            links,
            vec![
                Some("http://example.org/p/1"),
                Some("https://example.org/p/2"),
                None,
                Some("http://example.org/d"),
                None
            ]
        );
        let authors: Vec<Option<&str>> = entries.iter().map(|e| e.author.as_deref()).collect();
        assert_eq!(
            authors,
            vec![
                Some("Joe Bloggs"),
                Some("joe@example.com"),
                Some("张三"),
                None,
                None
            ]
        );
    }

    /// Items titled only by `dc:title` or `media:title` keep their titles (feed-rs reads
    /// neither); values written by hand.
    #[test]
    fn dc_and_media_titles() {
        let xml = r#"<?xml version="1.0"?>
<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:media="http://search.yahoo.com/mrss/"><channel><title>t</title>
<item><dc:title>只有 dc 标题 &amp; 更多</dc:title><link>http://example.org/1</link></item>
<item><media:title><![CDATA[只有 media 标题]]></media:title><link>http://example.org/2</link></item>
<item><media:content url="http://example.org/v.mp4"><media:title>内容里的标题</media:title></media:content><link>http://example.org/3</link></item>
<item><title>普通标题</title><dc:title>不用这个</dc:title><link>http://example.org/4</link></item>
</channel></rss>"#;
        let entries =
            parse(xml.as_bytes(), None, "http://example.org/", chrono_tz::UTC, now()).expect("valid feed");
        let titles: Vec<Option<&str>> = entries.iter().map(|e| e.title.as_deref()).collect();
        assert_eq!(
            titles,
            vec![
                Some("只有 dc 标题 & 更多"),
                Some("只有 media 标题"),
                Some("内容里的标题"),
                Some("普通标题")
            ]
        );
    }
}
