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

use super::{ContentRank, Entry, MediaRank, Read, Skipped, jsonfeed};
use crate::charset;
use crate::dates::{self, ParsedDate};

/// A feed that could not be read.
#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    /// feed-rs rejected the document (malformed XML, not a feed, bad JSON).
    #[error("not a valid RSS/Atom/JSON feed: {0}")]
    Malformed(String),
}

/// Parses a feed body into entries, in document order, with the items it could not read.
///
/// `base_url` resolves relative links; `tz` reads dates written without an offset; `now`
/// resolves relative dates.
pub fn parse(
    body: &[u8],
    content_type: Option<&str>,
    base_url: &str,
    tz: Tz,
    now: DateTime<Utc>,
) -> Result<Read, FeedError> {
    let first = body
        .iter()
        .find(|b| !b.is_ascii_whitespace() && **b != 0xEF && **b != 0xBB && **b != 0xBF);
    if first == Some(&b'{') {
        let text = charset::decode_text(body, content_type).text;
        return jsonfeed::parse(&text, base_url, tz, now);
    }
    let text = charset::decode_xml(body, content_type).text;

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

    // Every item the document holds is counted, so that one feed-rs could not turn into an
    // entry is reported rather than lost silently.
    let items_in_document = count_items(&text);
    let mut skipped = Skipped::default();
    skipped.add(
        "no title, link or text the feed parser could read",
        items_in_document.saturating_sub(feed.entries.len()),
    );
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
            let link = item_link(&e.links)
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
                author: author_of(&e.authors),
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
    Ok(Read { entries, skipped })
}

/// The item's link among its links: an alternate (Atom's default relation; RSS links have
/// none) that is http(s) and says it is HTML, else the first http(s) alternate, else the
/// first alternate, else the first link. A `gemini:` or `text/plain` alternate listed first
/// does not hide the web page; an unlabelled link does not beat one labelled `text/html`.
fn item_link(links: &[feed_rs::model::Link]) -> Option<String> {
    let href = |l: &feed_rs::model::Link| Some(l.href.trim().to_owned()).filter(|h| !h.is_empty());
    let is_web = |l: &feed_rs::model::Link| {
        let h = l.href.trim_start();
        h.get(..7).is_some_and(|p| p.eq_ignore_ascii_case("http://"))
            || h.get(..8).is_some_and(|p| p.eq_ignore_ascii_case("https://"))
    };
    let is_html = |l: &feed_rs::model::Link| {
        l.media_type
            .as_deref()
            .is_some_and(|t| t.starts_with("text/html") || t.starts_with("application/xhtml"))
    };
    let alternates: Vec<&feed_rs::model::Link> = links
        .iter()
        .filter(|l| {
            l.rel
                .as_deref()
                .is_none_or(|r| r.trim().eq_ignore_ascii_case("alternate"))
        })
        .collect();
    alternates
        .iter()
        .copied()
        .find(|l| is_web(l) && is_html(l))
        .or_else(|| alternates.iter().copied().find(|l| is_web(l)))
        .or_else(|| alternates.first().copied())
        .or_else(|| links.first())
        .and_then(href)
}

/// The `<item>`/`<entry>` elements of a feed document (at the depth feeds put them: under
/// the root, or under the RSS `<channel>`), by one pass of quick-xml over the text. A
/// document the pass cannot finish counts the items seen before the error.
fn count_items(text: &str) -> usize {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(text);
    reader.config_mut().check_end_names = false;
    let mut depth = 0usize;
    let mut items = 0usize;
    let is_item = |name: &str| name == "item" || name == "entry";
    loop {
        match reader.read_event() {
            Ok(Event::Start(e)) => {
                depth += 1;
                if depth <= 3 && is_item(e.local_name().into_inner()) {
                    items += 1;
                }
            }
            Ok(Event::Empty(e)) => {
                if depth < 3 && is_item(e.local_name().into_inner()) {
                    items += 1;
                }
            }
            Ok(Event::End(_)) => depth = depth.saturating_sub(1),
            Ok(Event::Eof) | Err(_) => return items,
            Ok(_) => {}
        }
    }
}

/// The author as people read it (the README's precedence): the first name of an
/// `<author>` (RSS `joe@example.com (Joe Bloggs)` gives `Joe Bloggs`), else of a
/// `dc:creator`, else of an `itunes:author`, whatever their order in the item; else the
/// first e-mail address when that is all there is.
fn author_of(people: &[feed_rs::model::Person]) -> Option<String> {
    let name_of = |person: &feed_rs::model::Person| {
        let name = person.name.as_deref().map(str::trim).unwrap_or_default();
        let name = name
            .strip_prefix('(')
            .and_then(|n| n.strip_suffix(')'))
            .unwrap_or(name)
            .trim();
        Some(name.to_owned()).filter(|n| !n.is_empty())
    };
    // feed-rs names the role of each person it read (the vendored parser adds itunes:author).
    let rank = |person: &feed_rs::model::Person| match person.role.as_deref() {
        Some("creator") => 1,
        Some("itunes:author") => 2,
        _ => 0,
    };
    let mut ranked: Vec<&feed_rs::model::Person> = people.iter().collect();
    ranked.sort_by_key(|p| rank(p));
    ranked.iter().find_map(|p| name_of(p)).or_else(|| {
        ranked
            .iter()
            .filter_map(|p| p.email.as_deref().map(str::trim))
            .find(|e| !e.is_empty())
            .map(str::to_owned)
    })
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
pub(super) fn plain_to_html(text: &str) -> String {
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
        crate::sources::test_now()
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
        .expect("valid feed")
        .entries;
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
        let entries = parse(xml.as_bytes(), None, "http://example.org/", chrono_tz::UTC, now())
            .expect("valid feed")
            .entries;
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
        let entries = parse(xml.as_bytes(), None, "http://example.org/", chrono_tz::UTC, now())
            .expect("valid feed")
            .entries;
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

    fn read(xml: &str) -> Read {
        parse(xml.as_bytes(), None, "http://example.org/", chrono_tz::UTC, now()).expect("valid feed")
    }

    fn utc(d: Option<ParsedDate>) -> Option<String> {
        d.map(|d| dates::format_utc(d.utc))
    }

    /// Documents feed-rs 3.0.0 read as zero entries (exit 0, nothing said): each is read
    /// now (values written by hand from the documents).
    #[test]
    fn old_and_namespaced_formats() {
        // RSS 0.90: rdf:RDF with the Netscape namespace, items beside the channel.
        let rss090 = read(
            r#"<?xml version="1.0"?><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://my.netscape.com/rdf/simple/0.9/">
<channel><title>Mozilla Dot Org</title><link>http://www.mozilla.org</link><description>d</description></channel>
<item><title>New Status Updates</title><link>http://www.mozilla.org/status/</link></item>
<item><title>Bugzilla Reorganized</title><link>http://www.mozilla.org/bugs/</link></item></rdf:RDF>"#,
        );
        let got: Vec<_> = rss090
            .entries
            .iter()
            .map(|e| (e.title.as_deref(), e.link.as_deref()))
            .collect();
        assert_eq!(
            got,
            vec![
                (Some("New Status Updates"), Some("http://www.mozilla.org/status/")),
                (Some("Bugzilla Reorganized"), Some("http://www.mozilla.org/bugs/"))
            ]
        );
        // RSS 2.0 with a default namespace on <rss>.
        let rss2ns = read(
            r#"<rss version="2.0" xmlns="http://backend.userland.com/rss2"><channel><title>t</title>
<item><title>One</title><link>http://e.org/1</link><pubDate>Tue, 19 Apr 2022 12:22:44 +0800</pubDate></item></channel></rss>"#,
        );
        assert_eq!(rss2ns.entries.len(), 1);
        assert_eq!(
            utc(rss2ns.entries[0].published).as_deref(),
            Some("2022-04-19T04:22:44Z")
        );
        // <rss> without a version, and 0.94.
        for root in ["<rss>", r#"<rss version="0.94">"#] {
            let r = read(&format!(
                "{root}<channel><title>t</title><item><title>NV</title><link>http://e.org/nv</link></item></channel></rss>"
            ));
            assert_eq!(r.entries.len(), 1, "{root}");
        }
        // Atom 0.3: issued, created, modified, escaped content.
        let atom03 = read(
            r#"<feed version="0.3" xmlns="http://purl.org/atom/ns#"><title>dive into mark</title>
<entry><title>Atom 0.3 snapshot</title><link rel="alternate" type="text/html" href="http://diveintomark.org/2003/12/13/atom03"/>
<id>tag:diveintomark.org,2003:3.2397</id><issued>2003-12-13T08:29:29-04:00</issued><modified>2003-12-13T18:30:02Z</modified>
<author><name>Mark Pilgrim</name><url>http://diveintomark.org/</url></author>
<content type="text/html" mode="escaped">&lt;p&gt;hello&lt;/p&gt;</content></entry>
<entry><title type="text/plain">Second</title><link rel="alternate" href="http://diveintomark.org/2"/><id>tag:x,2003:2</id><created>2003-12-12T08:29:29-04:00</created>
<summary type="text/plain"></summary><content type="application/octet-stream" mode="base64">aGk=</content></entry></feed>"#,
        );
        let [first, second] = &atom03.entries[..] else {
            panic!("two entries: {:?}", atom03.entries)
        };
        assert_eq!(
            first.link.as_deref(),
            Some("http://diveintomark.org/2003/12/13/atom03")
        );
        assert_eq!(utc(first.published).as_deref(), Some("2003-12-13T12:29:29Z"));
        assert_eq!(utc(first.updated).as_deref(), Some("2003-12-13T18:30:02Z"));
        assert_eq!(first.author.as_deref(), Some("Mark Pilgrim"));
        assert_eq!(first.content.as_ref().map(|c| c.0.as_str()), Some("<p>hello</p>"));
        assert_eq!(second.title.as_deref(), Some("Second"));
        assert_eq!(utc(second.published).as_deref(), Some("2003-12-12T12:29:29Z"));
        assert_eq!(second.summary, None);
        // RSS 1.0 items named only by rdf:about.
        let rdf = read(
            r#"<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/">
<channel rdf:about="http://e.org/"><title>t</title></channel>
<item rdf:about="http://e.org/a1"><title>A1</title><dc:date>2022-04-19T12:22:44+08:00</dc:date></item>
<item rdf:about="urn:x:2"><title>A2</title></item></rdf:RDF>"#,
        );
        let got: Vec<_> = rdf
            .entries
            .iter()
            .map(|e| (e.link.as_deref(), e.guid.as_deref()))
            .collect();
        assert_eq!(
            got,
            vec![
                (Some("http://e.org/a1"), Some("http://e.org/a1")),
                (None, Some("urn:x:2"))
            ]
        );
        assert_eq!(rdf.skipped.count(), 0);
    }

    /// Atom `type="xhtml"` titles and content, and an empty content element, which rejected
    /// the whole feed before.
    #[test]
    fn atom_xhtml_and_empty_elements() {
        let r = read(
            r#"<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title><id>x</id>
<entry><title type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml">X <b>title</b></div></title><id>e1</id><link href="http://e.org/x1"/>
<content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml"><p>Hello <em>world</em></p></div></content></entry>
<entry><title>E2</title><id>e2</id><link href="http://e.org/x2"/><content type="html"></content><summary/></entry></feed>"#,
        );
        assert_eq!(r.entries.len(), 2);
        assert_eq!(
            r.entries[0].content.as_ref().map(|c| c.0.as_str()),
            Some("<p>Hello <em>world</em></p>")
        );
        assert_eq!(r.entries[1].title.as_deref(), Some("E2"));
        assert_eq!(r.entries[1].content, None);
    }

    /// The README's precedence: pubDate or atom:published before dc:date (whatever the
    /// order), updated kept apart; links from atom:link; authors from `<author><name>`,
    /// dc:creator, itunes:author.
    #[test]
    fn field_precedence_in_rss_items() {
        let r = read(
            r#"<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:atom="http://www.w3.org/2005/Atom" xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd"><channel><title>t</title>
<item><title>P1</title><link>http://e.org/p1</link><dc:date>1650000000</dc:date><pubDate>Tue, 19 Apr 2022 12:22:44 +0800</pubDate><itunes:author>Pod Person</itunes:author></item>
<item><title>P2</title><atom:link rel="alternate" href="http://e.org/p2"/><atom:published>2022-04-18T10:00:00Z</atom:published><author><name>Named Author</name></author></item>
<item><title>P3</title><link>http://e.org/p3</link><dc:date>2022-04-17T10:00:00+08:00</dc:date><atom:updated>2022-04-20T10:00:00Z</atom:updated><author>a@e.org</author><dc:creator>李四</dc:creator></item>
<item><title>P4</title><link>http://e.org/p4</link><author>only@e.org</author></item>
<item><title>P5</title><link>http://e.org/p5</link><dc:creator>Creator: www.e.org</dc:creator><itunes:author>Pod</itunes:author><author>The Author</author></item>
</channel></rss>"#,
        );
        let got: Vec<_> = r
            .entries
            .iter()
            .map(|e| {
                (
                    e.link.as_deref(),
                    utc(e.published),
                    utc(e.updated),
                    e.author.as_deref(),
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                (
                    Some("http://e.org/p1"),
                    Some("2022-04-19T04:22:44Z".to_owned()),
                    None,
                    Some("Pod Person")
                ),
                (
                    Some("http://e.org/p2"),
                    Some("2022-04-18T10:00:00Z".to_owned()),
                    None,
                    Some("Named Author")
                ),
                (
                    Some("http://e.org/p3"),
                    Some("2022-04-17T02:00:00Z".to_owned()),
                    Some("2022-04-20T10:00:00Z".to_owned()),
                    Some("李四")
                ),
                (Some("http://e.org/p4"), None, None, Some("only@e.org")),
                (Some("http://e.org/p5"), None, None, Some("The Author")),
            ]
        );
    }

    /// Of several Atom links, the web page (values written by hand).
    #[test]
    fn the_web_page_among_several_links() {
        let r = read(
            r#"<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title><id>x</id>
<entry><title>a</title><id>1</id><link href="http://e.org/a"/><link rel="alternate" type="text/html" href="http://e.org/a.html"/><link rel="edit" href="http://e.org/a/edit"/></entry>
<entry><title>b</title><id>2</id><link rel="alternate" type="text/gemini" href="gemini://e.org/b"/><link rel="alternate" type="text/html" href="http://e.org/b"/></entry>
<entry><title>c</title><id>3</id><link rel="enclosure" href="http://e.org/c.mp3"/></entry></feed>"#,
        );
        let links: Vec<_> = r.entries.iter().map(|e| e.link.as_deref()).collect();
        assert_eq!(
            links,
            vec![
                Some("http://e.org/a.html"),
                Some("http://e.org/b"),
                Some("http://e.org/c.mp3")
            ]
        );
    }

    /// Items the parser cannot turn into entries are counted, never dropped silently.
    #[test]
    fn unreadable_items_are_counted() {
        let r = read(
            r#"<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/">
<channel><title>t</title></channel><item><title>kept</title><link>http://e.org/1</link></item><item></item><item/></rdf:RDF>"#,
        );
        assert_eq!(r.entries.len(), 1);
        assert_eq!(r.skipped.count(), 2);
        assert_eq!(
            r.skipped.summary().as_deref(),
            Some("no title, link or text the feed parser could read: 2")
        );
    }
}
