//! The parsed page every extractor reads, with the page-level facts they share: metas,
//! canonical URL, date candidates, byline (`来源：`, dates near the title), titles.

use std::cell::OnceCell;
use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use regex::Regex;
use scraper::{ElementRef, Html, Node, Selector};
use url::Url;

use super::signals::Signals;
use crate::dates::{self, ParsedDate, Precision};
use crate::normalize::collapse_whitespace;

/// A decoded, parsed page.
pub(super) struct Page<'a> {
    pub doc: Html,
    pub url: &'a Url,
    pub tz: Tz,
    pub now: DateTime<Utc>,
    /// Per-node text measures, made on first use (most pages stop at an extractor that
    /// needs none).
    signals: OnceCell<Signals>,
    /// The JSON-LD article objects, read on first use (by the `jsonld` extractor and the
    /// page's date signals: once for both).
    linked_data: OnceCell<Vec<serde_json::Value>>,
}

/// A selector written in this module's source.
pub(super) fn css(selector: &str) -> Selector {
    Selector::parse(selector).expect("a valid literal selector")
}

/// The element's text, whitespace collapsed.
pub(super) fn text_of(el: ElementRef<'_>) -> String {
    collapse_whitespace(&el.text().collect::<String>())
}

static SOURCE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"来\s*源\s*[：:]").expect("literal"));
/// Where an outlet name written after `来源：` ends: a separator, the next `label：`, a date.
static SOURCE_END: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"[|｜】）)\]」]|\s{2,}|\s+\S{1,6}[：:]|\s+\d|\s+(?:作者|编辑|责任编辑|记者|原标题|评论|阅读)")
        .expect("literal")
});
static DATE_IN_TEXT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"\d{4}\s*[-/.年]\s*\d{1,2}\s*[-/.月]\s*\d{1,2}\s*日?(?:(?:T|\s*)\d{1,2}[:：]\d{2}(?:[:：]\d{2})?(?:\.\d+)?(?:Z|\s*[+-]\d{2}:?\d{2})?)?",
    )
    .expect("literal")
});

/// The outlet of a `来源：X …` text as written: X, up to a separator or the next field.
/// A label that is part of a longer word (`图片来源：`, `数据来源：`) is not a source line.
pub(super) fn source_of(text: &str) -> Option<String> {
    let label = SOURCE.find_iter(text).find(|m| {
        !text[..m.start()]
            .chars()
            .next_back()
            .is_some_and(char::is_alphabetic)
    })?;
    let rest = text[label.end()..].trim_start();
    let end = SOURCE_END.find(rest).map_or(rest.len(), |m| m.start());
    let name = collapse_whitespace(&rest[..end]);
    (!name.is_empty()).then_some(name)
}

impl<'a> Page<'a> {
    pub fn new(html: &str, url: &'a Url, tz: Tz, now: DateTime<Utc>) -> Page<'a> {
        Page {
            doc: Html::parse_document(html),
            url,
            tz,
            now,
            signals: OnceCell::new(),
            linked_data: OnceCell::new(),
        }
    }

    /// The text measures of every node of the page (computed once, in O(n)).
    pub fn signals(&self) -> &Signals {
        self.signals.get_or_init(|| Signals::of(self.doc.tree.root()))
    }

    /// The page's JSON-LD article objects, in order ([`super::ld::articles`], read once).
    pub fn linked_data(&self) -> &[serde_json::Value] {
        self.linked_data.get_or_init(|| super::ld::articles(&self.doc))
    }

    /// The first element matching `selector` (a literal) that has text.
    pub fn first_with_text(&self, selector: &str) -> Option<ElementRef<'_>> {
        let signals = self.signals();
        self.doc.select(&css(selector)).find(|e| signals.has_text(*e))
    }

    /// `content` of the first `<meta property|name|itemprop=key>` among `keys` (names
    /// compared without case), non-empty.
    pub fn meta(&self, keys: &[&str]) -> Option<String> {
        let metas: Vec<ElementRef<'_>> = self.doc.select(&css("meta[content]")).collect();
        keys.iter().find_map(|key| {
            metas.iter().find_map(|m| {
                let named = ["property", "name", "itemprop"]
                    .iter()
                    .any(|a| m.attr(a).is_some_and(|v| v.trim().eq_ignore_ascii_case(key)));
                let content = m.attr("content").map(str::trim).unwrap_or_default();
                (named && !content.is_empty()).then(|| content.to_owned())
            })
        })
    }

    /// `href` resolved against the page URL, `http(s)` only.
    pub fn absolute(&self, href: &str) -> Option<String> {
        let url = self.url.join(href.trim()).ok()?;
        matches!(url.scheme(), "http" | "https").then(|| url.to_string())
    }

    /// `<link rel=canonical>`, else `og:url`.
    pub fn canonical(&self) -> Option<String> {
        self.doc
            .select(&css("link[rel][href]"))
            .find(|l| {
                l.attr("rel")
                    .is_some_and(|r| r.split_whitespace().any(|t| t.eq_ignore_ascii_case("canonical")))
            })
            .and_then(|l| self.absolute(l.attr("href")?))
            .or_else(|| self.meta(&["og:url"]).and_then(|u| self.absolute(&u)))
    }

    /// `<html lang>`.
    pub fn language(&self) -> Option<String> {
        let lang = self.doc.root_element().attr("lang")?.trim();
        (!lang.is_empty()).then(|| lang.to_owned())
    }

    /// A date in `raw`: the whole text, else the first date-like part of it that parses.
    pub fn parse_date(&self, raw: &str) -> Option<ParsedDate> {
        let raw = collapse_whitespace(raw);
        if raw.is_empty() {
            return None;
        }
        dates::parse(&raw, self.tz, self.now).or_else(|| {
            DATE_IN_TEXT
                .find_iter(&raw)
                .find_map(|m| dates::parse(m.as_str(), self.tz, self.now))
        })
    }

    /// Publication times the page states outside any one layout: metas, microdata,
    /// JSON-LD, `<time>`.
    fn page_dates(&self) -> Vec<ParsedDate> {
        let mut out: Vec<ParsedDate> = Vec::new();
        let metas = [
            "article:published_time",
            "og:article:published_time",
            "datePublished",
            "pubdate",
            "publishdate",
            "publish_date",
            "PubDate",
            "dc.date.issued",
            "dc.date",
        ];
        out.extend(self.meta(&metas).and_then(|d| self.parse_date(&d)));
        out.extend(
            self.linked_data()
                .iter()
                .find_map(|a| super::ld::string(a, "datePublished").and_then(|d| self.parse_date(&d))),
        );
        let stamped = self
            .doc
            .select(&css("[itemprop=datePublished], time[datetime]"))
            .filter_map(|e| e.attr("datetime").or(e.attr("content")))
            .find_map(|d| self.parse_date(d));
        out.extend(stamped);
        out
    }

    /// The extractor's date, replaced by a page-level one that is strictly more precise
    /// and agrees with it (or the first page-level one when the extractor has none).
    pub fn best_published(&self, primary: Option<ParsedDate>) -> Option<ParsedDate> {
        let mut best = primary;
        for candidate in self.page_dates() {
            best = match best {
                None => Some(candidate),
                Some(b) if candidate.precision > b.precision && agrees(b, candidate) => Some(candidate),
                keep => keep,
            };
        }
        best
    }

    /// `article:modified_time` and its relatives.
    pub fn meta_updated(&self) -> Option<ParsedDate> {
        let keys = [
            "article:modified_time",
            "og:updated_time",
            "dateModified",
            "lastmod",
        ];
        self.meta(&keys).and_then(|d| self.parse_date(&d))
    }

    /// `<meta name=author>` (or `article:author`) unless it is a URL.
    pub fn meta_author(&self) -> Option<String> {
        self.meta(&["author", "article:author"])
            .filter(|a| !a.starts_with("http://") && !a.starts_with("https://"))
    }

    /// `<title>` without a site suffix (`…_东方财富网`, `… - Site`, `… | Site`).
    pub fn doc_title(&self) -> Option<String> {
        let title = text_of(self.first_with_text("title")?);
        for sep in ["_", " - ", " | ", " – ", " — "] {
            if let Some((head, tail)) = title.rsplit_once(sep) {
                let (head, tail) = (head.trim(), tail.trim());
                if head.chars().count() >= 4 && tail.chars().count() <= 20 {
                    return Some(head.to_owned());
                }
            }
        }
        (!title.is_empty()).then_some(title)
    }

    /// `og:title`, else the one `<h1>` with text, else `<title>`.
    pub fn fallback_title(&self) -> Option<String> {
        self.meta(&["og:title", "twitter:title"])
            .or_else(|| self.single_h1())
            .or_else(|| self.doc_title())
    }

    /// The text of the page's `<h1>` when exactly one has text.
    pub fn single_h1(&self) -> Option<String> {
        let h1 = css("h1");
        let signals = self.signals();
        let mut h1s = self.doc.select(&h1).filter(|e| signals.has_text(*e));
        let first = h1s.next()?;
        h1s.next().is_none().then(|| text_of(first))
    }

    /// The outlet of the first short `来源：X` text on the page, outside `（文章来源：X）`
    /// lines, scripts and long paragraphs.
    pub fn byline_media(&self) -> Option<String> {
        let signals = self.signals();
        // A parent already read gives the same line again: each is read once.
        let mut last_parent = None;
        self.doc.tree.nodes().find_map(|node| {
            let Node::Text(text) = node.value() else {
                return None;
            };
            if !text.contains('源') {
                return None;
            }
            let parent = ElementRef::wrap(node.parent()?)?;
            if last_parent.replace(parent.id()) == Some(parent.id())
                || matches!(parent.value().name(), "script" | "style" | "title")
                || signals.excluded(parent)
                // Known long before its text is collected.
                || signals.text_len(parent) > 100
            {
                return None;
            }
            let line = text_of(parent);
            if line.contains("文章来源") || line.chars().count() > 100 {
                return None;
            }
            source_of(&line)
        })
    }

    /// A date in a short element whose class or id says time/date/info/source, or in a
    /// `<time>`.
    pub fn byline_date(&self) -> Option<ParsedDate> {
        const HINTS: &[&str] = &[
            "time", "date", "info", "source", "byline", "meta", "pub", "author",
        ];
        self.doc.root_element().descendent_elements().find_map(|el| {
            let names = [el.attr("class"), el.attr("id")];
            let hinted = el.value().name() == "time"
                || names
                    .iter()
                    .flatten()
                    .any(|n| HINTS.iter().any(|h| n.to_ascii_lowercase().contains(h)));
            // A long block is no byline, and its length is known without collecting it.
            if !hinted || self.signals().text_len(el) > 80 {
                return None;
            }
            let line = text_of(el);
            if line.chars().count() > 80 {
                return None;
            }
            el.attr("datetime")
                .and_then(|d| self.parse_date(d))
                .or_else(|| self.parse_date(&line))
        })
    }
}

/// Whether `finer` is a more precise reading of the same time as `coarse`.
fn agrees(coarse: ParsedDate, finer: ParsedDate) -> bool {
    match coarse.precision {
        Precision::DateOnly => {
            coarse.local.date_naive() == finer.utc.with_timezone(coarse.local.offset()).date_naive()
        }
        Precision::NaiveMinutes | Precision::OffsetMinutes => {
            (0..60).contains(&(finer.utc - coarse.utc).num_seconds())
        }
        Precision::NaiveSeconds | Precision::OffsetSeconds => finer.utc == coarse.utc,
    }
}
