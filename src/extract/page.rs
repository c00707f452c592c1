//! The parsed page every extractor reads, with the page-level facts they share: metas,
//! canonical URL, date candidates, byline (`来源：`, dates near the title), titles.

use std::cell::OnceCell;
use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use ego_tree::NodeRef;
use regex::Regex;
use scraper::{ElementRef, Html, Node, Selector};
use url::Url;

use super::headline::Headline;
use super::signals::{Signals, names_of};
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
    /// The headline, chosen on first use (the title and the byline search both need it).
    headline: OnceCell<Option<Headline>>,
}

/// A selector written in this module's source.
pub(super) fn css(selector: &str) -> Selector {
    Selector::parse(selector).expect("a valid literal selector")
}

/// The element's text, whitespace collapsed.
pub(super) fn text_of(el: ElementRef<'_>) -> String {
    let mut text = String::new();
    let mut stack = vec![*el];
    // Depth-first in document order, not descending into unrendered elements (`<style>`
    // inside a paragraph, scripts, a `<textarea>` of gallery data).
    while let Some(node) = stack.pop() {
        match node.value() {
            scraper::Node::Text(t) => text.push_str(t),
            scraper::Node::Element(e) if node.id() != el.id() && super::signals::is_unrendered(e.name()) => {}
            _ => stack.extend(node.children().rev()),
        }
    }
    collapse_whitespace(&text)
}

/// A source label: `来源：`, `来源:`, and the `本文来源：` / `文章来源：` / `信息来源：` forms.
static SOURCE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?:本文|文章|新闻|信息|稿件)?来\s*源\s*[：:]").expect("literal"));
static DATE_IN_TEXT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"\d{4}\s*[-/.年]\s*\d{1,2}\s*[-/.月]\s*\d{1,2}\s*日?(?:(?:T|\s*)\d{1,2}[:：]\d{2}(?:[:：]\d{2})?(?:\.\d+)?(?:Z|\s*[+-]\d{2}:?\d{2})?)?",
    )
    .expect("literal")
});

/// A date in a URL path: year, month and day, optionally separated by `-`, `/` or `_`,
/// not inside a longer number.
static URL_DATE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:^|[^0-9])((?:19|20)\d{2})[-/_]?(0[1-9]|1[0-2])[-/_]?(0[1-9]|[12]\d|3[01])(?:[^0-9]|$)")
        .expect("literal")
});

/// A year written apart from month/day, then a time: `2021 03/04 08:18:05`.
static YEAR_APART: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(\d{4})\s+(\d{1,2})\s*/\s*(\d{1,2})\s+(\d{1,2}:\d{2}(?::\d{2})?)").expect("literal")
});

/// The outlet of a `来源：X …` text as written: X alone ([`outlet_name`]). A label that is
/// part of a longer word (`图片来源：`, `数据来源：`) is not a source line.
pub(super) fn source_of(text: &str) -> Option<String> {
    let label = SOURCE.find_iter(text).find(|m| {
        !text[..m.start()]
            .chars()
            .next_back()
            .is_some_and(char::is_alphabetic)
    })?;
    outlet_name(&text[label.end()..])
}

/// Words that start the next field of a byline: an outlet name ends before them.
const NEXT_LABELS: &[&str] = &[
    "责任编辑",
    "发布时间",
    "原标题",
    "作者",
    "编辑",
    "记者",
    "时间",
    "日期",
    "字号",
    "举报",
    "分享",
    "评论",
    "阅读",
    "浏览",
    "点击",
    "打印",
    "纠错",
    "收藏",
    "关注",
];

/// Whether `text` starts with the next field's label. At the very start of a name only a
/// label standing alone counts (`举报`, `作者：`): `编辑部` may be a name.
fn starts_label(text: &str, at_start: bool) -> bool {
    NEXT_LABELS.iter().any(|l| {
        text.starts_with(l)
            && (!at_start
                || text[l.len()..]
                    .chars()
                    .next()
                    .is_none_or(|c| c.is_whitespace() || c == ':' || c == '：'))
    })
}

/// Characters that end an outlet name: field separators and brackets.
const NAME_ENDS: &[char] = &[
    '|', '｜', '/', '／', '】', '【', '）', '（', '(', ')', '[', ']', '」', '「', '《', '》', ',', '，', ';',
    '；', '。',
];
/// Opening brackets an outlet name may be written in.
const OPENERS: &[char] = &['[', '【', '（', '(', '「', '《'];

/// Names that fill a `来源：` line without naming an outlet (`来源：转载文章`, `来源：网络`).
fn placeholder(name: &str) -> bool {
    ["转载", "网络", "互联网", "未知", "本站", "佚名"]
        .iter()
        .any(|p| name.contains(p))
}

/// The outlet at the start of `rest` (the text after a `来源：` label): up to a separator,
/// a whitespace run (unless it joins two ASCII words: `Wall Street Journal`), the next
/// field's label (作者, 编辑, 举报, 分享…) or the end. `证券市场红周刊 举报` is
/// `证券市场红周刊`.
pub(super) fn outlet_name(rest: &str) -> Option<String> {
    // `来源：[ 人民网 ]`, `《理财周刊》`: the name inside the opening bracket.
    let rest = rest.trim_start_matches(|c: char| c.is_whitespace() || OPENERS.contains(&c));
    let mut end = rest.len();
    let mut prev: Option<char> = None;
    let mut iter = rest.char_indices().peekable();
    while let Some((at, c)) = iter.next() {
        if NAME_ENDS.contains(&c) || starts_label(&rest[at..], at == 0) {
            end = at;
            break;
        }
        if c.is_whitespace() {
            while iter.peek().is_some_and(|(_, n)| n.is_whitespace()) {
                iter.next();
            }
            let next = iter.peek().map(|(_, n)| *n);
            let joins_words = prev.is_some_and(|p| p.is_ascii_alphanumeric())
                && next.is_some_and(|n| n.is_ascii_alphabetic())
                && !next.is_some_and(|_| NEXT_LABELS.iter().any(|l| rest[at..].trim_start().starts_with(l)));
            if !joins_words {
                end = at;
                break;
            }
        }
        prev = Some(c);
    }
    let name = collapse_whitespace(&rest[..end]);
    let name = name.trim_end_matches(['.', '。', ':', '：', '-', '—']).trim();
    (!name.is_empty()).then(|| name.to_owned())
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
            headline: OnceCell::new(),
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
        dates::parse(&raw, self.tz, self.now)
            .or_else(|| {
                DATE_IN_TEXT
                    .find_iter(&raw)
                    .find_map(|m| dates::parse(m.as_str(), self.tz, self.now))
            })
            .or_else(|| {
                // Year and month/day set apart (Xinhua: `<span>2021</span><span>03/04</span>
                // <span>08:18:05</span>`), read as `2021/03/04 08:18:05`.
                let c = YEAR_APART.captures(&raw)?;
                let joined = format!("{}/{}/{} {}", &c[1], &c[2], &c[3], &c[4]);
                dates::parse(&joined, self.tz, self.now)
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
            "og:release_date",
            "weibo: article:create_at",
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

    /// The published time (CONTRACT §6 precision; the visible byline first):
    ///
    /// - a time shown on the page with its time of day (`shown`: the extractor's own
    ///   when it read the byline, else [`Page::shown_published`]) is the reading, replaced
    ///   only by a machine time (the extractor's, metas, JSON-LD, `<time>`) that is strictly
    ///   more precise and agrees with it to the minute: a date-only meta never beats a
    ///   visible `08:18`, and a meta disagreeing with the page is not taken;
    /// - otherwise the extractor's time (or the first machine time), replaced by a machine
    ///   time that is strictly more precise and agrees; a date shown alone comes last.
    pub fn best_published(
        &self,
        primary: Option<ParsedDate>,
        shown: Option<ParsedDate>,
    ) -> Option<ParsedDate> {
        let machine = primary.into_iter().chain(self.page_dates());
        let refine = |start: Option<ParsedDate>, candidates: &mut dyn Iterator<Item = ParsedDate>| {
            candidates.fold(start, |best, candidate| match best {
                None => Some(candidate),
                Some(b) if candidate.precision > b.precision && agrees(b, candidate) => Some(candidate),
                keep => keep,
            })
        };
        match shown {
            Some(s) if s.precision > Precision::DateOnly => refine(Some(s), &mut machine.into_iter()),
            _ => refine(None, &mut machine.into_iter())
                .or(shown)
                .or_else(|| self.url_date()),
        }
    }

    /// The date in the page's URL path (`/2022-02/12/`, `/2021/0304/`, `/20210304/`,
    /// `t20210304_`), a date alone: the last resort for a page that shows none.
    pub fn url_date(&self) -> Option<ParsedDate> {
        let c = URL_DATE.captures(self.url.path())?;
        let joined = format!("{}-{}-{}", &c[1], &c[2], &c[3]);
        dates::parse(&joined, self.tz, self.now).filter(|d| d.precision == Precision::DateOnly)
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

    /// The page's headline ([`Page::headline`]), computed once.
    pub fn headline_cached(&self) -> Option<&Headline> {
        self.headline.get_or_init(|| self.headline()).as_ref()
    }

    /// The headline's text, for extractors without a title of their own.
    pub fn fallback_title(&self) -> Option<String> {
        self.headline_cached().map(|h| h.text.clone())
    }

    /// The page's short `来源：` lines, in order: the text node holding the label and the
    /// line it is part of (its element's text), outside scripts, navigation, long
    /// paragraphs and the body's `（文章来源：X）` line (normalization reads that one, at a
    /// higher rank).
    fn source_lines(&self) -> impl Iterator<Item = (NodeRef<'_, Node>, ElementRef<'_>, String)> {
        let signals = self.signals();
        // A parent already read gives the same line again: each is read once.
        let mut last_parent = None;
        self.doc.tree.nodes().filter_map(move |node| {
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
            let boxed = ["（文章来源", "(文章来源"].iter().any(|l| line.starts_with(l));
            if boxed || !SOURCE.is_match(&line) {
                return None;
            }
            Some((node, parent, line))
        })
    }

    /// The page's outlet, as written (CONTRACT §6 ranks it as the page's: the stored
    /// content's `（文章来源：X）` line still beats it):
    ///
    /// 1. the first short `来源：X` line ([`source_of`]: X alone, never the link or label
    ///    after it); a label with no text of its own takes the text right after it (the
    ///    `<a>` of `<span>来源：</span><a>X</a>`);
    /// 2. a short element whose class or id says source (`<a class="source">X</a>`) and
    ///    that holds no date;
    /// 3. the name after the time on the byline right after the headline, alone on it;
    /// 4. `<meta name="source">`, `mediaid`, `article:source`, `article:author`.
    pub fn byline_media(&self) -> Option<String> {
        self.source_line_media()
            .or_else(|| self.source_element_media())
            .or_else(|| self.dateline_media())
            .or_else(|| {
                let meta = self.meta(&[
                    "source",
                    "mediaid",
                    "article:source",
                    "og:article:author",
                    "article:author",
                ])?;
                let url = meta.starts_with("http://") || meta.starts_with("https://");
                (!url).then(|| outlet_name(&meta)).flatten()
            })
    }

    fn source_line_media(&self) -> Option<String> {
        let named = self.source_lines().filter_map(|(node, parent, line)| {
            source_of(&line).or_else(|| {
                // `来源：` with nothing after it in its element: the outlet is what follows.
                let after_label = SOURCE
                    .find_iter(&line)
                    .last()
                    .is_some_and(|m| line[m.end()..].trim().is_empty());
                if !after_label {
                    return None;
                }
                let next = text_after(node).or_else(|| text_after(*parent))?;
                outlet_name(&next)
            })
        });
        named.take(MAX_SOURCE_LINES).find(|n| !placeholder(n))
    }

    /// The name after the time in the byline right after the headline, when nothing else
    /// is on that line: `2005年03月31日03:18 北京娱乐信报`, Sina's dateline.
    fn dateline_media(&self) -> Option<String> {
        let line = self
            .lines_after_headline()
            .find_map(|(d, line)| (d.precision > Precision::DateOnly).then_some(line))?;
        let date = DATE_IN_TEXT.find(&line)?;
        let rest = line[date.end()..].trim();
        let plain = !rest.is_empty()
            && rest.chars().count() <= 16
            && !rest.chars().any(|c| c.is_ascii_digit() || c == ':' || c == '：')
            && !NEXT_LABELS.iter().any(|l| rest.contains(l));
        if !plain {
            return None;
        }
        outlet_name(rest).filter(|n| !placeholder(n))
    }

    fn source_element_media(&self) -> Option<String> {
        let signals = self.signals();
        self.doc.root_element().descendent_elements().find_map(|el| {
            let len = signals.text_len(el);
            if len == 0 || len > 30 || signals.excluded(el) {
                return None;
            }
            let names = names_of(el);
            let named = names.split_whitespace().any(|t| {
                (t.contains("source") && !t.contains("date") && !t.contains("time"))
                    || matches!(t, "media-name" | "media_name" | "medianame" | "mediaid")
            });
            if !named {
                return None;
            }
            let text = text_of(el);
            if DATE_IN_TEXT.is_match(&text) {
                return None;
            }
            if SOURCE.is_match(&text) {
                return source_of(&text);
            }
            outlet_name(&text)
        })
    }

    /// The first publication time shown on the page, one with its time of day before a
    /// date alone: the lines right after the headline element (until the body's first
    /// long text), the `来源：` lines, then short elements whose class or id says
    /// time/date/info/source/byline ([`Page::byline_date`]).
    pub fn shown_published(&self) -> Option<ParsedDate> {
        let mut date_only: Option<ParsedDate> = None;
        let mut consider = |d: Option<ParsedDate>| match d {
            Some(d) if d.precision > Precision::DateOnly => Some(d),
            Some(d) => {
                date_only.get_or_insert(d);
                None
            }
            None => None,
        };
        if let Some(found) = self.lines_after_headline().find_map(|(d, _)| consider(Some(d))) {
            return Some(found);
        }
        let signals = self.signals();
        let from_sources = self.source_lines().find_map(|(_, parent, line)| {
            let own = self.parse_date(&line);
            // The date often sits in the label's neighbour: `<span>时间</span><span>来源：X</span>`.
            let around = || {
                let up = parent.parent().and_then(ElementRef::wrap)?;
                (signals.text_len(up) <= 150)
                    .then(|| self.parse_date(&text_of(up)))
                    .flatten()
            };
            consider(
                own.filter(|d| d.precision > Precision::DateOnly)
                    .or_else(around)
                    .or(own),
            )
        });
        if let Some(found) = from_sources {
            return Some(found);
        }
        if let Some(found) = consider(self.byline_date()) {
            return Some(found);
        }
        date_only
    }

    /// The short lines after the headline element that hold a date, in order, with the
    /// date, until a long text (the body) starts or [`AFTER_HEADLINE_TEXTS`] texts were
    /// read.
    fn lines_after_headline(&self) -> impl Iterator<Item = (ParsedDate, String)> + '_ {
        let signals = self.signals();
        let start = self
            .headline_cached()
            .and_then(|h| h.element)
            .and_then(|id| self.doc.tree.get(id))
            .and_then(skip_subtree);
        let mut last_parent = None;
        let mut texts = 0;
        std::iter::successors(start, |n| next_in_order(*n))
            .filter(|n| matches!(n.value(), Node::Text(t) if !t.trim().is_empty()))
            .take_while(move |n| {
                texts += 1;
                let long = matches!(n.value(), Node::Text(t) if t.chars().filter(|c| !c.is_whitespace()).count() > 100);
                texts <= AFTER_HEADLINE_TEXTS && !long
            })
            .filter_map(move |n| {
                let parent = ElementRef::wrap(n.parent()?)?;
                if last_parent.replace(parent.id()) == Some(parent.id())
                    || matches!(parent.value().name(), "script" | "style")
                {
                    return None;
                }
                let line = if signals.text_len(parent) <= 150 {
                    text_of(parent)
                } else {
                    match n.value() {
                        Node::Text(t) => collapse_whitespace(t),
                        _ => return None,
                    }
                };
                self.parse_date(&line).map(|d| (d, line))
            })
    }

    /// A date in a short element whose class or id says time/date/info/source, or in a
    /// `<time>`; elements outside navigation and headers first.
    pub fn byline_date(&self) -> Option<ParsedDate> {
        const HINTS: &[&str] = &[
            "time", "date", "info", "source", "byline", "meta", "pub", "author",
        ];
        let signals = self.signals();
        let read = |el: ElementRef<'_>| {
            let names = [el.attr("class"), el.attr("id")];
            let hinted = el.value().name() == "time"
                || names
                    .iter()
                    .flatten()
                    .any(|n| HINTS.iter().any(|h| n.to_ascii_lowercase().contains(h)));
            // A long block is no byline, and its length is known without collecting it.
            if !hinted || signals.text_len(el) > 80 {
                return None;
            }
            let line = text_of(el);
            if line.chars().count() > 80 {
                return None;
            }
            el.attr("datetime")
                .and_then(|d| self.parse_date(d))
                .or_else(|| self.parse_date(&line))
        };
        let elements = || self.doc.root_element().descendent_elements();
        elements()
            .filter(|e| !signals.excluded(*e))
            .find_map(read)
            .or_else(|| elements().filter(|e| signals.excluded(*e)).find_map(read))
    }
}

/// `来源：` lines read, at most (each is short; a page of thousands is no article).
const MAX_SOURCE_LINES: usize = 50;

/// Texts read after the headline looking for its byline, at most.
const AFTER_HEADLINE_TEXTS: usize = 40;

/// The node after `node`'s subtree in document order.
fn skip_subtree(node: NodeRef<'_, Node>) -> Option<NodeRef<'_, Node>> {
    let mut cur = node;
    loop {
        if let Some(next) = cur.next_sibling() {
            return Some(next);
        }
        cur = cur.parent()?;
    }
}

/// The node after `node` in document order.
fn next_in_order(node: NodeRef<'_, Node>) -> Option<NodeRef<'_, Node>> {
    node.first_child().or_else(|| skip_subtree(node))
}

/// The first non-blank text after `node` among its next siblings (an element's whole
/// text when it is short).
fn text_after(node: NodeRef<'_, Node>) -> Option<String> {
    node.next_siblings().take(4).find_map(|sib| {
        let text = match sib.value() {
            Node::Text(t) => collapse_whitespace(t),
            Node::Element(_) => {
                let el = ElementRef::wrap(sib)?;
                let first: String = el.text().flat_map(str::chars).take(61).collect();
                if first.chars().count() > 60 {
                    return None;
                }
                collapse_whitespace(&first)
            }
            _ => return None,
        };
        (!text.is_empty()).then_some(text)
    })
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
