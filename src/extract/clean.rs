//! Body cleaning: the article's HTML without the page furniture that publishers put inside
//! their content containers, and the links left in it.
//!
//! Removed: scripts, styles, forms, frames, comments; share blocks (`em_sharelink`,
//! `*share*` classes); ad boxes; East Money's summary box (`div.b-review`); hidden
//! elements (`display:none`); stock-quote images (K-line charts between the
//! `EM_StockImg_Start/End` comments, `a.EmImageRemark`, images served by the quote servers)
//! together with the `<center>`/`<p>` wrappers left empty by them. Kept: everything else,
//! article photos included, and the `p.em_media` outlet line.

use scraper::{ElementRef, Html, Node};
use url::Url;

/// A cleaned body.
pub(super) struct Cleaned {
    /// The body HTML without boilerplate.
    pub html: String,
    /// Absolute `http(s)` hrefs of its links, in order, unique.
    pub links: Vec<String>,
}

/// Removes boilerplate from `body` (an element's inner HTML) and collects its links.
pub(super) fn clean_body(body: &str, base: &Url) -> Cleaned {
    let mut frag = Html::parse_fragment(body);
    let mut doomed = Vec::new();
    let mut in_stock_img = false;
    for node in frag.tree.root().descendants() {
        match node.value() {
            Node::Comment(c) => {
                if c.contains("EM_StockImg_Start") {
                    in_stock_img = true;
                } else if c.contains("EM_StockImg_End") {
                    in_stock_img = false;
                }
                doomed.push(node.id());
            }
            Node::Element(_) | Node::Text(_) if in_stock_img && is_top_level_in_range(node) => {
                doomed.push(node.id());
            }
            Node::Element(_) => {
                if let Some(el) = ElementRef::wrap(node)
                    && is_boilerplate(el)
                {
                    doomed.push(node.id());
                }
            }
            _ => {}
        }
    }
    for id in doomed {
        if let Some(mut node) = frag.tree.get_mut(id) {
            node.detach();
        }
    }
    let root = frag.root_element();
    let mut links: Vec<String> = Vec::new();
    for a in root.descendent_elements().filter(|e| e.value().name() == "a") {
        let Some(href) = a.attr("href") else { continue };
        let Ok(url) = base.join(href.trim()) else { continue };
        if matches!(url.scheme(), "http" | "https") {
            let url = url.to_string();
            if !links.contains(&url) {
                links.push(url);
            }
        }
    }
    Cleaned {
        html: root.inner_html().trim().to_owned(),
        links,
    }
}

/// Inside an `EM_StockImg` comment range, only the range's own siblings are collected
/// (their descendants go with them): a node whose previous siblings include the start
/// comment without an end comment after it.
fn is_top_level_in_range(node: ego_node::NodeRef<'_>) -> bool {
    for prev in node.prev_siblings() {
        if let Node::Comment(c) = prev.value() {
            if c.contains("EM_StockImg_End") {
                return false;
            }
            if c.contains("EM_StockImg_Start") {
                return true;
            }
        }
    }
    false
}

/// Shorthand for the tree's node reference type, without naming the tree crate.
mod ego_node {
    pub(super) type NodeRef<'a> = <scraper::ElementRef<'a> as std::ops::Deref>::Target;
}

const DROPPED_TAGS: &[&str] = &[
    "script", "style", "noscript", "iframe", "frame", "form", "button", "input", "select", "textarea",
    "link", "meta", "object", "embed", "template", "svg", "canvas",
];

fn is_boilerplate(el: ElementRef<'_>) -> bool {
    let element = el.value();
    let name = element.name();
    if DROPPED_TAGS.contains(&name) {
        return true;
    }
    if element.classes().any(is_furniture_class) || element.id().is_some_and(is_furniture_class) {
        return true;
    }
    if let Some(style) = element.attr("style") {
        let style: String = style
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect::<String>()
            .to_ascii_lowercase();
        if style.contains("display:none") || style.contains("visibility:hidden") {
            return true;
        }
    }
    match name {
        "img" => is_quote_image(el),
        "a" if element.has_class("EmImageRemark", scraper::CaseSensitivity::AsciiCaseInsensitive) => true,
        "center" | "p" | "a" | "div" | "figure" | "span" => holds_only_quote_images(el),
        _ => false,
    }
}

/// Class or id tokens of share blocks, ads and the summary box.
fn is_furniture_class(token: &str) -> bool {
    let t = token.to_ascii_lowercase();
    if t == "b-review" || t.contains("share") && !t.contains("shareholder") {
        return true;
    }
    matches!(
        t.as_str(),
        "ad" | "ads" | "adv" | "advert" | "advertisement" | "gg" | "guanggao"
    ) || [
        "ad-", "ad_", "ads-", "ads_", "adv-", "adv_", "advert", "gg_", "gg-", "guanggao",
    ]
    .iter()
    .any(|p| t.starts_with(p))
}

/// An image drawn by a quote server (K-line and time-share charts).
fn is_quote_image(img: ElementRef<'_>) -> bool {
    let src = img.attr("src").unwrap_or_default().to_ascii_lowercase();
    let alt = img.attr("alt").unwrap_or_default();
    src.contains("webquote")
        || src.contains("quote.eastmoney")
        || src.contains("getpic.aspx")
        || src.contains("imagetype=k")
        || src.contains("imagetype=r")
        || alt.starts_with("K图")
        || alt.starts_with("分时图")
}

/// A wrapper with no text whose images are all quote images.
fn holds_only_quote_images(el: ElementRef<'_>) -> bool {
    if super::page::has_text(el) {
        return false;
    }
    let mut imgs = el
        .descendent_elements()
        .filter(|e| e.value().name() == "img")
        .peekable();
    imgs.peek().is_some() && imgs.all(is_quote_image)
}
