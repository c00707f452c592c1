//! East Money's article layout (`finance.eastmoney.com/a/<id>.html` and its sister sites):
//!
//! ```html
//! <div class="mainleft"><div class="title">…</div>
//! <div class="infos"><div class="item">2022年04月19日 12:22</div>
//!   <div class="item">来源：<a href="…">证券日报网</a></div><div class="item">评论</div></div>
//! <div class="txtinfos" id="ContentBody"><div class="b-review">摘要</div><p>…</p>
//!   <p class="em_media">（文章来源：<span><a>证券日报网</a></span>）</p>
//!   <div class="em_sharelink">…</div><center><img src="…quote…"/></center></div></div>
//! ```
//!
//! Title from `div.title`; time, `来源：` and `作者：` from the info items; the body is
//! `#ContentBody`, cleaned by `clean.rs`; the summary box becomes the summary.

use scraper::ElementRef;

use super::Found;
use super::page::{Page, css, source_of, text_of};

/// Body containers, most specific first.
const BODIES: &[&str] = &[
    "#ContentBody",
    "div.txtinfos",
    "div.newsContent div.Body",
    "#newsContent",
];
/// Title elements, most specific first.
const TITLES: &[&str] = &[
    "div.mainleft > div.title",
    "div.mainleft div.title",
    "div.newsContent > h1",
    "div.detail-title",
    "div.title",
];
/// Info lines: time, `来源：`, `作者：`.
const INFOS: &[&str] = &[
    "div.infos > div.item",
    "div.infos .item",
    "div.Info div.time-source > *",
];

pub(super) fn extract(page: &Page<'_>) -> Option<Found> {
    let body = BODIES.iter().find_map(|s| page.doc.select(&css(s)).next())?;
    let title = TITLES
        .iter()
        .find_map(|s| page.first_with_text(s))
        .map(text_of)
        .or_else(|| page.fallback_title());
    let mut found = Found {
        title,
        body: Some(body.inner_html()),
        published_shown: true,
        summary: body
            .select(&css("div.b-review"))
            .find(|e| page.signals().has_text(*e))
            .map(text_of),
        ..Found::default()
    };
    let items: Vec<ElementRef<'_>> = INFOS
        .iter()
        .map(|s| page.doc.select(&css(s)).collect::<Vec<_>>())
        .find(|v| !v.is_empty())
        .unwrap_or_default();
    for item in items {
        let line = text_of(item);
        if let Some(author) = line.strip_prefix("作者") {
            let author = author.trim_start_matches([':', '：', ' ']).trim();
            if !author.is_empty() && found.author.is_none() {
                found.author = Some(author.to_owned());
            }
            continue;
        }
        if found.media.is_none() && line.contains("来源") {
            found.media = source_of(&line);
        }
        if found.published.is_none() {
            // Older pages write time and source on one line.
            found.published = page.parse_date(&line);
        }
    }
    if found.published.is_none() {
        found.published = page.byline_date();
    }
    Some(found)
}
