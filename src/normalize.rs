//! Entry → [`Article`]: the `articles` columns as consumers see them.
//!
//! Titles get entities decoded and whitespace collapsed; content HTML is sanitized with
//! ammonia (no script, style or event handlers; paragraphs and `class` on `p` kept) and
//! reduced to plain text, hashed for change detection; the outlet is read from the
//! `（文章来源：X）` line; tags are the source's then the entry's. Pure functions, no I/O
//! ([`normalize`] reads the clock once; [`normalize_at`] takes the time).
//!
//! What a publisher cannot put into an article (checked by `tests/properties.rs`): a C0 control character other than tab and newline in any text
//! column, a link that is not `http(s)` ([`http_url`]), a time outside
//! [`EARLIEST_TIME`] … `now` + [`MAX_FUTURE`] ([`plausible_time`]), and, through ammonia,
//! scripts, event handlers or `javascript:`/`vbscript:`/`data:` URLs in the content.

use std::sync::LazyLock;

use chrono::{DateTime, Duration, TimeZone, Utc};
use regex::Regex;
use sha2::{Digest, Sha256};
use url::Url;

use crate::config::DedupConfig;
use crate::dates::{self, ParsedDate};
use crate::dedup;
use crate::html_bounds;
pub use crate::sources::MediaRank;
use crate::sources::{ContentRank, Entry};

/// An article's body in the forms the database keeps.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Content {
    /// Sanitized HTML.
    pub html: String,
    /// Plain text of `html`, paragraphs on their own lines.
    pub text: String,
    /// sha256 (hex) of `text`.
    pub hash: String,
    /// How complete this content is.
    pub rank: ContentRank,
}

/// One copy of an article, normalized: what a source said about it, in column form.
#[derive(Clone, Debug, PartialEq)]
pub struct Article {
    /// `info:…`, `url:…`, `guid:…` or `hash:…` (CONTRACT §3).
    pub dedup_key: String,
    /// The East Money infoCode, if any identifier carried one.
    pub info_code: Option<String>,
    /// Title, entities decoded, whitespace collapsed.
    pub title: String,
    /// The publisher's article URL (never a share link).
    pub url: Option<String>,
    /// The share link the article was reached through.
    pub share_url: Option<String>,
    /// When it was published, with offset and precision.
    pub published: Option<ParsedDate>,
    /// When the publisher last updated it.
    pub updated_at: Option<DateTime<Utc>>,
    /// The author's name.
    pub author: Option<String>,
    /// The outlet and where its name came from.
    pub media: Option<(String, MediaRank)>,
    /// The source's category.
    pub category: Option<String>,
    /// Source tags, then entry categories, without duplicates.
    pub tags: Vec<String>,
    /// Plain text of the summary.
    pub summary: Option<String>,
    /// The body.
    pub content: Option<Content>,
    /// Language, where known.
    pub language: Option<String>,
    /// The entry's guid in this source (for `sightings`).
    pub entry_guid: Option<String>,
    /// The entry's link in this source (for `sightings`).
    pub entry_url: Option<String>,
    /// A re-read of the page that served the stored content (a `[share] recheck`): its
    /// content replaces the stored one of the same rank even when shorter, since
    /// publishers' corrections can shorten a text.
    pub replaces_content: bool,
}

/// What normalization needs to know about the source an entry came from.
#[derive(Clone, Copy, Debug)]
pub struct SourceContext<'a> {
    /// The source's name (part of `guid:` dedup keys).
    pub name: &'a str,
    /// `[[source]] category`.
    pub category: Option<&'a str>,
    /// `[[source]] tags`.
    pub tags: &'a [String],
    /// The infoCode rules.
    pub dedup: &'a DedupConfig,
}

/// Normalizes one entry against the current time; see [`normalize_at`].
pub fn normalize(entry: Entry, source: &SourceContext<'_>) -> Option<Article> {
    normalize_at(entry, source, Utc::now())
}

/// Normalizes one entry. Returns None for an entry with neither a title nor any content:
/// there is nothing to store.
///
/// What the publisher wrote is not trusted:
///
/// * **Times**: `published` and `updated` are kept only when [`plausible_time`] at `now`
///   (from 1990-01-01 to two days after `now`); any other time — a feed's `1970-01-01`
///   epoch zero, `0001-01-01`, `9999-12-31` — becomes None, as if the publisher had given
///   none (the `hash:` dedup key then hashes the title alone).
/// * **Links**: the entry's link is kept only when it is an absolute `http`/`https` URL with
///   a host ([`http_url`], written as the url crate serializes it); `file:`, `javascript:`,
///   `data:` and other links are dropped, so `url`, `share_url` and `entry_url` are None and
///   no infoCode is read from them.
/// * **Text**: C0 control characters other than tab and newline (NUL, ESC, …) are removed
///   from every text column; content HTML is sanitized by ammonia.
pub fn normalize_at(entry: Entry, source: &SourceContext<'_>, now: DateTime<Utc>) -> Option<Article> {
    let content = entry
        .content
        .as_ref()
        .map(|(html, rank)| (html.as_str(), *rank))
        .or_else(|| entry.summary.as_deref().map(|s| (s, ContentRank::Summary)))
        .and_then(|(html, rank)| content_from_html(html, rank));
    let summary = match (&entry.content, &content) {
        // The body is the summary (a description-only feed): its text is the summary's,
        // and sanitizing the same HTML twice was a fifth of the crawl's parsing time.
        (None, Some(body)) => Some(body.text.clone()),
        _ => entry
            .summary
            .as_deref()
            .map(|s| strip_controls(html_to_text(&sanitize_html(s))))
            .filter(|s| !s.is_empty()),
    };
    let mut title = entry.title.as_deref().map(clean_title).unwrap_or_default();
    if title.is_empty() {
        // A title is NOT NULL in the contract; an untitled post is named by the start of its
        // first line, marked with "…" where it was cut, so that no reader takes it for the
        // publisher's title.
        title = content
            .as_ref()
            .and_then(|c| c.text.lines().next())
            .map(title_from_text)
            .unwrap_or_default();
    }
    let link = entry.link.as_deref().and_then(http_url);
    // An item that is only a link (a media item, a bookmark) is still an article: its URL
    // names it.
    if title.is_empty() {
        if let Some(url) = link.as_ref().filter(|_| content.is_none()) {
            title = url.to_string();
        }
    }
    if title.is_empty() && content.is_none() {
        return None;
    }

    let (url, share_url) = match link.as_deref() {
        Some(l) if dedup::is_share_link(source.dedup, l) => (None, Some(l.to_owned())),
        Some(l) => (Some(l.to_owned()), None),
        None => (None, None),
    };
    let guid = entry
        .guid
        .as_deref()
        .map(|g| strip_controls(g.trim().to_owned()))
        .filter(|g| !g.is_empty());
    let guid = guid.as_deref();
    let stated_code = entry
        .info_code
        .as_deref()
        .and_then(|c| dedup::normalize_info_code(source.dedup, c));
    let info_code = stated_code
        .or_else(|| dedup::info_code_of(source.dedup, guid, link.as_deref(), share_url.as_deref()));
    let published = entry.published.filter(|p| plausible_time(p.utc, now));
    let updated_at = entry.updated.map(|u| u.utc).filter(|t| plausible_time(*t, now));
    let published_utc = published.map(|p| dates::format_utc(p.utc));
    let dedup_key = dedup::dedup_key(
        info_code.as_deref(),
        url.as_deref().or(share_url.as_deref()),
        source.name,
        guid,
        &title,
        published_utc.as_deref(),
    );

    let media = content
        .as_ref()
        .and_then(|c| media_from_text(&c.text))
        .map(|m| (m, MediaRank::ContentLine))
        .or_else(|| {
            entry
                .media
                .as_ref()
                .map(|(m, rank)| (normalize_media(m), *rank))
                .or_else(|| {
                    entry
                        .author
                        .as_deref()
                        .map(|a| (normalize_media(a), MediaRank::Field))
                })
                .filter(|(m, _)| !m.is_empty())
        });

    let mut tags: Vec<String> = Vec::with_capacity(source.tags.len() + entry.categories.len());
    for tag in source.tags.iter().chain(entry.categories.iter()) {
        let tag = collapse_whitespace(tag);
        if !tag.is_empty() && !tags.contains(&tag) {
            tags.push(tag);
        }
    }

    Some(Article {
        dedup_key,
        info_code,
        title,
        url,
        share_url,
        published,
        updated_at,
        author: entry
            .author
            .map(|a| collapse_whitespace(&a))
            .filter(|a| !a.is_empty()),
        media,
        category: source.category.map(|c| strip_controls(c.to_owned())),
        tags,
        summary,
        content,
        language: entry
            .language
            .as_deref()
            .map(collapse_whitespace)
            .filter(|l| !l.is_empty()),
        entry_guid: guid.map(str::to_owned),
        entry_url: link,
        replaces_content: false,
    })
}

/// Sanitizes `html` and derives its text and hash; None when nothing readable is left.
pub fn content_from_html(html: &str, rank: ContentRank) -> Option<Content> {
    let html = sanitize_html(html);
    // Stored trimmed; a U+FEFF that trimming brings to the front goes too (see sanitize_html).
    let html = html
        .trim_start_matches(|c: char| c.is_whitespace() || c == '\u{feff}')
        .trim_end();
    let text = strip_controls(html_to_text(html));
    if text.is_empty() {
        return None;
    }
    let hash = hex::encode(Sha256::digest(text.as_bytes()));
    Some(Content {
        html: html.to_owned(),
        text,
        hash,
        rank,
    })
}

static SANITIZER: LazyLock<ammonia::Builder<'static>> = LazyLock::new(|| {
    let mut builder = ammonia::Builder::default();
    builder
        // `p.em_media` carries the outlet line; publishers style paragraphs by class.
        .add_tag_attributes("p", &["class"])
        // Stored HTML is the publisher's, not ours to decorate with rel attributes.
        .link_rel(None);
    builder
});

/// Removes script, style, event handlers and anything else unsafe; keeps the structure.
/// The result holds no [stray control character](is_stray_control).
///
/// Control characters are removed *before* ammonia reads the HTML: ammonia cannot parse
/// `java\u{1}script:alert(1)` as a URL, keeps it as a relative link, and removing the
/// control afterwards would make it `javascript:alert(1)`. One written as a character
/// reference (`java&#1;script:`) only appears once ammonia has decoded it, so an output
/// that still holds one is stripped and sanitized again.
///
/// A leading U+FEFF is removed from the result: html5ever drops one at the start of its
/// input, so a result starting with it (`<iframe></iframe>\u{feff}`) would not be its own
/// sanitized form.
///
/// HTML nesting deeper than [`html_bounds::MAX_DEPTH`] or with more than
/// [`html_bounds::MAX_ELEMENTS`] elements is not given to ammonia, whose parser (html5ever)
/// takes time quadratic in the depth (seconds at 16,000 levels, minutes at 100,000): it is
/// reduced to its text instead, by a linear tag-stripping ([`text_as_paragraphs`]): one
/// `<p>` of escaped text per line, comments and the contents of scripts, styles,
/// `<noscript>` and `<template>` dropped. The article keeps its words and loses a structure
/// that no real article has; an empty or script-only body still ends as no content.
pub fn sanitize_html(html: &str) -> String {
    let html = strip_controls_str(html);
    let clean = match html_bounds::check(&html) {
        Ok(_) => SANITIZER.clean(&html).to_string(),
        Err(reason) => {
            tracing::debug!(%reason, bytes = html.len(), "HTML not parsed: kept as text");
            return strip_controls(text_as_paragraphs(&html));
        }
    };
    let clean = if clean.contains(is_stray_control) {
        strip_controls(SANITIZER.clean(&strip_controls(clean)).to_string())
    } else {
        clean
    };
    match clean.strip_prefix('\u{feff}') {
        Some(rest) => rest.trim_start_matches('\u{feff}').to_owned(),
        None => clean,
    }
}

/// The text of `html` without parsing it: comments and unseen elements' contents dropped,
/// tags stripped and entities decoded ([`html_to_text`]), each line an escaped `<p>`.
/// Linear in the input; used for HTML too deep to parse.
pub fn text_as_paragraphs(html: &str) -> String {
    let text = html_to_text(&drop_unseen(html));
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    for line in text.lines() {
        out.push_str("<p>");
        out.push_str(&html_escape::encode_text(line));
        out.push_str("</p>");
    }
    out
}

/// Elements whose contents are no visible text.
const UNSEEN: &[&str] = &["script", "style", "noscript", "template"];

/// `html` without comments and without [`UNSEEN`] elements (start tag, contents, end tag),
/// found case-insensitively; an unterminated one runs to the end. One forward pass: every
/// search starts where the previous one ended.
fn drop_unseen(html: &str) -> String {
    // ASCII lowercasing keeps every byte offset, so positions found in `lower` cut `html`.
    let lower = html.to_ascii_lowercase();
    let mut out = String::with_capacity(html.len());
    let mut i = 0;
    while let Some(p) = lower[i..].find('<') {
        let at = i + p;
        let rest = &lower[at + 1..];
        let end = if rest.starts_with("!--") {
            Some(lower[at + 4..].find("-->").map_or(html.len(), |e| at + 4 + e + 3))
        } else {
            UNSEEN
                .iter()
                .find(|name| {
                    rest.starts_with(**name)
                        && rest[name.len()..]
                            .starts_with(|c: char| c.is_ascii_whitespace() || c == '>' || c == '/')
                })
                .map(|name| {
                    let close = format!("</{name}");
                    lower[at + 1..].find(&close).map_or(html.len(), |e| {
                        let e = at + 1 + e;
                        lower[e..].find('>').map_or(html.len(), |g| e + g + 1)
                    })
                })
        };
        match end {
            Some(end) => {
                out.push_str(&html[i..at]);
                i = end;
            }
            None => {
                out.push_str(&html[i..=at]);
                i = at + 1;
            }
        }
    }
    out.push_str(&html[i..]);
    out
}

/// Plain text of (sanitized) HTML as a browser renders it (CONTRACT §3 `content_text`):
/// tags dropped, entities decoded, block elements on lines of their own, blank lines
/// removed, spaces collapsed. A line break in the source is not a line break of the text
/// (CSS Text 3 §4.1.2 segment breaks): it disappears between two CJK characters and is a
/// space elsewhere, except inside `<pre>`. Table cells of a row are separated by a space.
pub fn html_to_text(html: &str) -> String {
    /// Marks a block boundary in the raw text; source line breaks stay `\n` until resolved.
    const BLOCK_BREAK: char = '\u{2029}';
    let mut raw = String::with_capacity(html.len());
    let mut rest = html;
    let mut pre_depth = 0usize;
    let push_text = |raw: &mut String, text: &str, in_pre: bool| {
        if in_pre {
            raw.extend(text.chars().map(|c| if c == '\n' { BLOCK_BREAK } else { c }));
        } else {
            raw.push_str(text);
        }
    };
    while let Some(open) = rest.find('<') {
        push_text(&mut raw, &rest[..open], pre_depth > 0);
        let after = &rest[open + 1..];
        let Some(close) = after.find('>') else {
            rest = "";
            break;
        };
        let closing = after.starts_with('/');
        let tag = after[..close].trim_start_matches('/');
        let name_end = tag
            .find(|c: char| c.is_ascii_whitespace() || c == '/')
            .unwrap_or(tag.len());
        let name = &tag[..name_end];
        if is_block_tag(name) {
            raw.push(BLOCK_BREAK);
        } else if name.eq_ignore_ascii_case("td") || name.eq_ignore_ascii_case("th") {
            raw.push(' ');
        }
        if name.eq_ignore_ascii_case("pre") {
            pre_depth = if closing {
                pre_depth.saturating_sub(1)
            } else {
                pre_depth + 1
            };
        }
        rest = &after[close + 1..];
    }
    push_text(&mut raw, rest, pre_depth > 0);
    let decoded = html_escape::decode_html_entities(&raw);
    let mut text = String::with_capacity(decoded.len());
    for line in decoded.split(BLOCK_BREAK) {
        let line = collapse_whitespace(&resolve_segment_breaks(line));
        if !line.is_empty() {
            if !text.is_empty() {
                text.push('\n');
            }
            text.push_str(&line);
        }
    }
    text
}

/// CSS Text 3 §4.1.2: a segment break (`\n`, `\r\n`, `\r`) with the white space around it
/// is removed when the characters on both sides are East Asian wide (Chinese, Japanese,
/// full-width punctuation; not Hangul) or one side is a zero-width space, else it becomes
/// one space.
fn resolve_segment_breaks(line: &str) -> std::borrow::Cow<'_, str> {
    if !line.contains(['\n', '\r']) {
        return std::borrow::Cow::Borrowed(line);
    }
    let mut out = String::with_capacity(line.len());
    let mut chars = line.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if c != '\n' && c != '\r' {
            out.push(c);
            continue;
        }
        // The whole run of white space holding the break.
        let mut end = i + c.len_utf8();
        while let Some(&(j, next)) = chars.peek() {
            if !next.is_whitespace() {
                break;
            }
            end = j + next.len_utf8();
            chars.next();
        }
        let before = out.trim_end_matches(|c: char| c.is_whitespace() && c != '\u{200b}');
        out.truncate(before.len());
        let prev = out.chars().next_back();
        let next = line[end..].chars().next();
        let joined = match (prev, next) {
            (Some('\u{200b}'), _) | (_, Some('\u{200b}')) => true,
            (Some(a), Some(b)) => is_east_asian_wide(a) && is_east_asian_wide(b),
            _ => false,
        };
        if !joined {
            out.push(' ');
        }
    }
    std::borrow::Cow::Owned(out)
}

/// East Asian Width F or W (or H), Hangul excluded: the scripts written without spaces
/// between words, whose line breaks a renderer removes.
fn is_east_asian_wide(c: char) -> bool {
    matches!(u32::from(c),
        0x2E80..=0x303E // CJK radicals, Kangxi, ideographic description, CJK symbols and punctuation
        | 0x3041..=0x33FF // Hiragana, Katakana, Bopomofo, CJK compatibility
        | 0x3400..=0x4DBF // CJK extension A
        | 0x4E00..=0x9FFF // CJK unified ideographs
        | 0xF900..=0xFAFF // CJK compatibility ideographs
        | 0xFE30..=0xFE4F // CJK compatibility forms
        | 0xFF01..=0xFF60 // full-width forms
        | 0xFFE0..=0xFFE6
        | 0x20000..=0x3FFFD) // CJK extensions B and later
}

fn is_block_tag(name: &str) -> bool {
    // WHATWG HTML §15.3 (Rendering): the elements displayed as blocks, list items or table
    // rows (a `br` breaks a line too).
    const BLOCKS: &[&str] = &[
        "p",
        "br",
        "div",
        "li",
        "ul",
        "ol",
        "dl",
        "dd",
        "dt",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "hgroup",
        "tr",
        "table",
        "caption",
        "blockquote",
        "pre",
        "listing",
        "xmp",
        "plaintext",
        "center",
        "address",
        "dialog",
        "section",
        "article",
        "aside",
        "nav",
        "main",
        "search",
        "header",
        "footer",
        "figure",
        "figcaption",
        "details",
        "summary",
        "form",
        "fieldset",
        "legend",
        "menu",
        "hr",
    ];
    BLOCKS.iter().any(|b| b.eq_ignore_ascii_case(name))
}

/// How many characters of an untitled entry's text name it.
const TITLE_FROM_TEXT_CHARS: usize = 60;

/// An untitled entry's title: the first [`TITLE_FROM_TEXT_CHARS`] characters of its first
/// line of text, trimmed, with "…" where the line went on.
fn title_from_text(line: &str) -> String {
    let line = line.trim();
    let cut: String = line.chars().take(TITLE_FROM_TEXT_CHARS).collect();
    if cut.len() == line.len() {
        return cut;
    }
    format!("{}…", cut.trim_end())
}

/// Title cleaning: entities decoded (once), markup dropped, whitespace collapsed.
pub fn clean_title(raw: &str) -> String {
    let decoded = html_escape::decode_html_entities(raw);
    if decoded.contains('<') && decoded.contains('>') {
        collapse_whitespace(&html_to_text(&decoded).replace('\n', " "))
    } else {
        collapse_whitespace(&decoded)
    }
}

/// Collapses every run of whitespace (including full-width spaces and NBSP) into one
/// ASCII space and trims the ends; other C0 control characters (NUL, ESC, …) are removed.
pub fn collapse_whitespace(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for word in text.split(|c: char| c.is_whitespace()).filter(|w| !w.is_empty()) {
        let word = strip_controls_str(word);
        if word.is_empty() {
            continue;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(&word);
    }
    out
}

/// A C0 control character that no stored text may hold: all of U+0000–U+001F except tab
/// and newline.
pub fn is_stray_control(c: char) -> bool {
    c < ' ' && c != '\t' && c != '\n'
}

/// `text` without [stray control characters](is_stray_control).
pub fn strip_controls(text: String) -> String {
    if text.contains(is_stray_control) {
        text.replace(is_stray_control, "")
    } else {
        text
    }
}

fn strip_controls_str(text: &str) -> std::borrow::Cow<'_, str> {
    if text.contains(is_stray_control) {
        std::borrow::Cow::Owned(text.replace(is_stray_control, ""))
    } else {
        std::borrow::Cow::Borrowed(text)
    }
}

/// The earliest time an article may carry: 1990-01-01T00:00:00Z. Older "publication"
/// times are epoch zeros, `0001-01-01` placeholders and broken clocks, not news.
pub const EARLIEST_TIME: i64 = 631_152_000;

/// How far after `now` a publication or update time may be: 2 days (time zones, clock skew
/// and an article scheduled for tomorrow morning; not `9999-12-31`).
pub const MAX_FUTURE: Duration = Duration::days(2);

/// Whether `t` is a time an article may carry: from [`EARLIEST_TIME`] to `now` +
/// [`MAX_FUTURE`], both included.
pub fn plausible_time(t: DateTime<Utc>, now: DateTime<Utc>) -> bool {
    let earliest = Utc.timestamp_opt(EARLIEST_TIME, 0).single();
    earliest.is_some_and(|e| t >= e)
        && now
            .checked_add_signed(MAX_FUTURE)
            .is_none_or(|latest| t <= latest)
}

/// `link` as an absolute `http`/`https` URL with a host, as the url crate writes it; None
/// for anything else (`file:`, `javascript:`, `data:`, relative, unparsable).
pub fn http_url(link: &str) -> Option<String> {
    let url = Url::parse(link.trim()).ok()?;
    (matches!(url.scheme(), "http" | "https") && url.host_str().is_some_and(|h| !h.is_empty()))
        .then(|| url.to_string())
}

static MEDIA_LINE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"[（(]\s*文章来源[：:]\s*([^）)\n]+?)\s*[）)]").expect("a literal pattern"));

/// The outlet named by the last `（文章来源：X）` line of the text, normalized.
pub fn media_from_text(text: &str) -> Option<String> {
    MEDIA_LINE
        .captures_iter(text)
        .last()
        .and_then(|c| c.get(1))
        .map(|m| normalize_media(m.as_str()))
        .filter(|m| !m.is_empty())
}

/// An outlet name as stored: trimmed, full-width brackets and trailing punctuation removed,
/// whitespace collapsed (also where a bracket stood between two spaces).
pub fn normalize_media(raw: &str) -> String {
    let no_brackets: String = raw
        .chars()
        .filter(|c| {
            !matches!(
                c,
                '（' | '）' | '【' | '】' | '「' | '」' | '『' | '』' | '〔' | '〕'
            )
        })
        .collect();
    collapse_whitespace(&no_brackets)
        .trim_end_matches(|c: char| {
            c.is_whitespace()
                || matches!(
                    c,
                    '。' | '，' | '、' | '；' | '：' | '.' | ',' | ';' | ':' | '！' | '!'
                )
        })
        .trim()
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_are_decoded_and_collapsed() {
        assert_eq!(
            clean_title("  刚刚&nbsp;工信部\n明确表态 &amp; 举措！ "),
            "刚刚 工信部 明确表态 & 举措！"
        );
        assert_eq!(clean_title("<b>粗体</b> 标题"), "粗体 标题");
    }

    #[test]
    fn sanitizer_drops_scripts_and_keeps_paragraph_classes() {
        let html = r#"<p onclick="x()">正文</p><script>alert(1)</script><style>p{}</style><p class="em_media">（文章来源：证券日报网）</p>"#;
        let clean = sanitize_html(html);
        assert_eq!(
            clean,
            r#"<p>正文</p><p class="em_media">（文章来源：证券日报网）</p>"#
        );
        assert_eq!(html_to_text(&clean), "正文\n（文章来源：证券日报网）");
    }

    /// `depth` nested `<div>`s, a line each, a script and a last line inside the deepest.
    fn nested_content(depth: usize) -> String {
        let mut html = String::new();
        for i in 0..depth {
            html.push_str(&format!("<div class=\"n\">第{i}层"));
        }
        html.push_str("<script>alert(1)</script><!-- <b> -->正文&amp;结束。");
        html.push_str(&"</div>".repeat(depth));
        html
    }

    /// 16,000 nested `<div>`s (html5ever's parse is quadratic in depth): the content is
    /// reduced to its text, one paragraph a line, without being parsed.
    #[test]
    fn too_deep_content_is_reduced_to_its_text() {
        let started = std::time::Instant::now();
        let content = content_from_html(&nested_content(16_000), ContentRank::Full).unwrap();
        eprintln!(
            "16,000 nested divs through content_from_html: {:?}",
            started.elapsed()
        );
        let lines: Vec<&str> = content.text.lines().collect();
        // The last line has no block tag before it: it stays on the deepest `<div>`'s line.
        assert_eq!(lines.len(), 16_000);
        assert_eq!(lines[0], "第0层");
        assert_eq!(lines[1], "第1层");
        assert_eq!(lines[15_999], "第15999层正文&结束。");
        assert!(content.html.starts_with("<p>第0层</p><p>第1层</p>"));
        assert!(content.html.ends_with("<p>第15999层正文&amp;结束。</p>"));
        assert!(!content.html.contains("alert") && !content.html.contains("div"));
        assert_eq!(content.rank, ContentRank::Full);
        // Within the limits, nothing changes: ammonia keeps the structure.
        let shallow = content_from_html(&nested_content(3), ContentRank::Full).unwrap();
        assert_eq!(
            shallow.html,
            "<div>第0层<div>第1层<div>第2层正文&amp;结束。</div></div></div>"
        );
        assert_eq!(shallow.text, "第0层\n第1层\n第2层正文&结束。");
    }

    #[test]
    fn unparsed_text_drops_comments_scripts_and_styles() {
        assert_eq!(
            text_as_paragraphs(
                "<DIV>a &lt;b&gt;<!-- <p>c --><SCRIPT type=x>if (a<b) {}</script ><style>p{}</style>\
                 <scripts>d</scripts><p>e<noscript>f"
            ),
            // `<scripts>` is no script (its text stays) and no block (no new line).
            "<p>a &lt;b&gt;d</p><p>e</p>"
        );
        assert_eq!(text_as_paragraphs("<p>x<!-- never closed <p>y"), "<p>x</p>");
        assert_eq!(text_as_paragraphs(""), "");
    }

    #[test]
    fn media_comes_from_the_source_line() {
        assert_eq!(
            media_from_text("正文\n（文章来源：证券日报网）").as_deref(),
            Some("证券日报网")
        );
        assert_eq!(
            media_from_text("（文章来源： 中国证券报 。）").as_deref(),
            Some("中国证券报")
        );
        assert_eq!(media_from_text("没有来源"), None);
        assert_eq!(normalize_media("【上海证券报】"), "上海证券报");
    }

    /// Line breaks inside `<pre>` are the text's own; elsewhere a source line break is a
    /// space, or nothing between two CJK characters (values written by hand).
    #[test]
    fn preformatted_text_keeps_its_lines() {
        assert_eq!(
            html_to_text("<pre>a = 1\nb = 2</pre><p>x\ny</p>"),
            "a = 1\nb = 2\nx y"
        );
        assert_eq!(
            html_to_text("<p>上证指数\n  收涨，\r\n涨幅</p>"),
            "上证指数收涨，涨幅"
        );
        // A break between a full-width comma and a Latin letter is a space (CSS Text 3).
        assert_eq!(
            html_to_text("<p>收涨，\nA股\n上涨 0.5%\n。</p>"),
            "收涨， A股上涨 0.5% 。"
        );
    }

    /// Found by `tests/properties.rs` (normalize_hostile_entries_long): an untitled entry
    /// is named by the first 60 characters of its text (marked "…" where cut), and when the
    /// 60th was a space the title ended in one.
    #[test]
    fn a_title_from_the_text_is_trimmed() {
        let dedup = DedupConfig::default();
        let text = format!("<p>{} 续</p>", "字".repeat(59));
        let entry = Entry {
            content: Some((text, ContentRank::Feed)),
            ..Entry::default()
        };
        let a = normalize_at(entry, &context(&dedup), now()).unwrap();
        assert_eq!(a.title, format!("{}…", "字".repeat(59)));
        // A short first line is the title whole, unmarked.
        let entry = Entry {
            content: Some(("<p>只有一行</p><p>第二行</p>".to_owned(), ContentRank::Feed)),
            ..Entry::default()
        };
        assert_eq!(
            normalize_at(entry, &context(&dedup), now()).unwrap().title,
            "只有一行"
        );
    }

    /// Found by `tests/properties.rs` (sanitize_is_idempotent_long): html5ever drops a
    /// U+FEFF at the start of its input, so sanitizing `<iframe></iframe>\u{feff}` gave
    /// `\u{feff}` and sanitizing that gave `""`.
    #[test]
    fn sanitizing_is_idempotent_around_a_byte_order_mark() {
        let html = "<ifr\0ame src=\"javascript:alert(1)\"></iframe>\u{feff}";
        let once = sanitize_html(html);
        assert_eq!(once, "");
        assert_eq!(sanitize_html(&once), once);
        assert_eq!(sanitize_html("<p>a\u{feff}b</p>"), "<p>a\u{feff}b</p>");
        assert_eq!(sanitize_html("<iframe></iframe>\u{feff}\u{feff}"), "");
        // Found by the long run: content is stored trimmed, which brought the mark to the front.
        assert_eq!(content_from_html(" \u{feff}", ContentRank::Feed), None);
        let content = content_from_html(" \u{feff}<p>正文</p>", ContentRank::Feed).unwrap();
        assert_eq!(content.html, "<p>正文</p>");
        assert_eq!(content_from_html(&content.html, ContentRank::Feed), Some(content));
    }

    /// Found by `tests/properties.rs` (titles_and_text_are_collapsed): a bracket between two
    /// spaces left a double space (`中国 （ 证券报` → `中国  证券报`), so two spellings of one
    /// outlet were stored as two outlets.
    #[test]
    fn media_names_have_no_double_spaces() {
        assert_eq!(normalize_media("中国 （ 证券报 ）"), "中国 证券报");
        assert_eq!(normalize_media("\u{3000}（\t新华社 】。"), "新华社");
        assert_eq!(normalize_media("A 【 】 B"), "A B");
    }

    fn context(dedup: &DedupConfig) -> SourceContext<'_> {
        SourceContext {
            name: "s",
            category: None,
            tags: &[],
            dedup,
        }
    }

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap()
    }

    fn at(t: DateTime<Utc>) -> ParsedDate {
        ParsedDate {
            utc: t,
            local: t.fixed_offset(),
            precision: crate::dates::Precision::OffsetSeconds,
        }
    }

    fn titled(title: &str) -> Entry {
        Entry {
            title: Some(title.to_owned()),
            ..Entry::default()
        }
    }

    /// Found by `tests/properties.rs` (feed_generated, html_list): `<updated>0001-01-01`,
    /// a `0` epoch or `9999-12-31` reached `published_at` and `updated_at`.
    #[test]
    fn times_outside_1990_to_two_days_ahead_are_dropped() {
        let dedup = DedupConfig::default();
        let plain = normalize_at(titled("t"), &context(&dedup), now()).unwrap();
        let cases = [
            (Utc.with_ymd_and_hms(1, 1, 1, 0, 0, 0).unwrap(), false),
            (Utc.timestamp_opt(0, 0).unwrap(), false),
            (Utc.with_ymd_and_hms(1989, 12, 31, 23, 59, 59).unwrap(), false),
            (Utc.with_ymd_and_hms(1990, 1, 1, 0, 0, 0).unwrap(), true),
            (now() + Duration::days(2), true),
            (now() + Duration::days(2) + Duration::seconds(1), false),
            (Utc.with_ymd_and_hms(9999, 12, 31, 23, 59, 59).unwrap(), false),
        ];
        for (t, kept) in cases {
            let entry = Entry {
                published: Some(at(t)),
                updated: Some(at(t)),
                ..titled("t")
            };
            let a = normalize_at(entry, &context(&dedup), now()).unwrap();
            assert_eq!(a.published.is_some(), kept, "{t}");
            assert_eq!(a.updated_at.is_some(), kept, "{t}");
            if !kept {
                assert_eq!(
                    a.dedup_key, plain.dedup_key,
                    "a dropped time is no part of the hash"
                );
            }
        }
    }

    /// Found by `tests/properties.rs` (normalize_entries): `<link>file:///etc/passwd</link>`
    /// or `javascript:` became the article's url.
    #[test]
    fn only_http_links_are_kept() {
        let dedup = DedupConfig::default();
        for link in [
            "file:///etc/passwd",
            "javascript:alert(1)",
            " JavaScript:alert(1)",
            "data:text/html,<script>alert(1)</script>",
            "vbscript:msgbox(1)",
            "ftp://example.org/x",
            "mailto:a@example.org",
            "//example.org/x",
            "/a/1.html",
            "http://",
        ] {
            let entry = Entry {
                link: Some(link.to_owned()),
                ..titled("t")
            };
            let a = normalize_at(entry, &context(&dedup), now()).unwrap();
            assert_eq!(
                (&a.url, &a.share_url, &a.entry_url),
                (&None, &None, &None),
                "{link}"
            );
            assert!(a.dedup_key.starts_with("hash:"), "{link}: {}", a.dedup_key);
        }
        let entry = Entry {
            link: Some(" HTTP://Example.org:80/a?b=1 ".to_owned()),
            ..titled("t")
        };
        let a = normalize_at(entry, &context(&dedup), now()).unwrap();
        assert_eq!(a.url.as_deref(), Some("http://example.org/a?b=1"));
        assert_eq!(a.entry_url, a.url);
        assert_eq!(
            http_url("https://finance.eastmoney.com/a/1.html").as_deref(),
            Some("https://finance.eastmoney.com/a/1.html")
        );
    }

    /// Found by `tests/properties.rs`: a JSON title `"\u0000"` was stored as the title
    /// (json_list), a category `\u{e}` as a tag (normalize_entries), `&#1;` or a raw U+0001
    /// in content as content (extract_generated).
    #[test]
    fn control_characters_are_removed_from_every_text() {
        let dedup = DedupConfig::default();
        assert_eq!(normalize_at(titled("\0"), &context(&dedup), now()), None);
        let entry = Entry {
            guid: Some("g\u{1}1".to_owned()),
            title: Some("标\0题".to_owned()),
            author: Some("作\u{1b}者".to_owned()),
            summary: Some("摘\u{7}要".to_owned()),
            content: Some((
                "<p>\u{1}\u{2}\u{1b}[31m正文&#1;</p>".to_owned(),
                ContentRank::Feed,
            )),
            categories: vec!["\u{e}".to_owned(), "宏\u{0}观".to_owned()],
            language: Some("zh\u{0}".to_owned()),
            ..Entry::default()
        };
        let a = normalize_at(entry, &context(&dedup), now()).unwrap();
        assert_eq!(a.title, "标题");
        assert_eq!(a.author.as_deref(), Some("作者"));
        assert_eq!(a.summary.as_deref(), Some("摘要"));
        let content = a.content.unwrap();
        assert_eq!(content.html, "<p>[31m正文</p>");
        assert_eq!(content.text, "[31m正文");
        assert_eq!(a.tags, vec!["宏观".to_owned()]);
        assert_eq!(a.language.as_deref(), Some("zh"));
        assert_eq!(a.entry_guid.as_deref(), Some("g1"));
        assert_eq!(a.dedup_key, "guid:s:g1");
        assert_eq!(collapse_whitespace("a\u{0}b \u{1} c\td"), "ab c d");
    }

    /// Found by `tests/properties.rs` (sanitized_html_is_safe, feed_hostile_fields,
    /// extract_hostile_pages): ammonia kept `href="java\u{1}script:alert(1)"` as a relative
    /// link, and stripping the control character afterwards stored `javascript:alert(1)`.
    #[test]
    fn controls_inside_a_scheme_cannot_make_a_javascript_url() {
        for html in [
            "<a href=\"java\u{1}script:alert(1)\">x</a>",
            "<a href=\"javascript\u{b}:alert(1)\">x</a>",
            "<a href=\"\u{0}javascript:alert(1)\">x</a>",
            "<a href=\"java&#1;script:alert(1)\">x</a>",
            "<a href=\"java&#x1b;script:alert(1)\">x</a>",
            "<img src=\"vb\u{2}script:x\"><a href=\"da\u{1f}ta:text/html,x\">x</a>",
        ] {
            let clean = sanitize_html(html);
            assert!(
                !clean.to_ascii_lowercase().contains("script:"),
                "{html:?} -> {clean:?}"
            );
            assert!(!clean.contains("data:"), "{html:?} -> {clean:?}");
            assert!(!clean.contains(is_stray_control), "{html:?} -> {clean:?}");
            assert_eq!(sanitize_html(&clean), clean, "{html:?}");
        }
        assert_eq!(
            sanitize_html("<a href=\"java\u{1}script:alert(1)\">x</a>"),
            "<a>x</a>"
        );
        let content = content_from_html(
            "<p><a href=\"java&#1;script:alert(1)\">链接</a></p>",
            ContentRank::Feed,
        );
        assert_eq!(content.map(|c| c.html).as_deref(), Some("<p><a>链接</a></p>"));
        // Ordinary links and text are untouched.
        assert_eq!(
            sanitize_html("<p>正\u{1}文 <a href=\"https://example.org/a\">a</a></p>"),
            "<p>正文 <a href=\"https://example.org/a\">a</a></p>"
        );
    }
}
