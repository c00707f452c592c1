//! Body cleaning: the article's HTML without the page furniture that publishers put inside
//! their content containers, and the links left in it.
//!
//! Removed: scripts, styles, forms, frames, comments; share blocks (`em_sharelink`,
//! `*share*` classes); ad boxes; East Money's summary box (`div.b-review`); hidden
//! elements (`display:none`); stock-quote images (K-line charts between the
//! `EM_StockImg_Start/End` comments, `a.EmImageRemark`, images served by the quote servers)
//! together with the `<center>`/`<p>` wrappers left empty by them. Kept: everything else,
//! article photos included, and the `p.em_media` outlet line.

use std::collections::HashSet;

use ego_tree::NodeRef;
use scraper::{ElementRef, Html, Node};
use url::Url;

use super::signals::{IdMap, NodeMap, bottom_up};
use crate::normalize::is_stray_control;

/// Most links kept from one body: discovery queues at most `[share] max_discovered` of
/// them anyway, and a page of 100,000 share links must not cost 100,000 URL parses.
pub const MAX_LINKS: usize = 1_000;

/// A cleaned body.
pub(super) struct Cleaned {
    /// The body HTML without boilerplate.
    pub html: String,
    /// Absolute `http(s)` hrefs of its links, in order, unique, at most [`MAX_LINKS`].
    pub links: Vec<String>,
    /// Characters of its text that are neither whitespace nor stray control characters:
    /// the visible text `normalize::html_to_text(sanitize_html(html))` gives, counted on
    /// the tree already parsed here instead of parsing the HTML once more.
    pub visible_chars: usize,
}

/// What a wrapper's subtree holds, for [`holds_only_quote_images`].
#[derive(Clone, Copy, Default)]
struct Holds {
    text: bool,
    images: bool,
    /// An image that is no quote image.
    other_images: bool,
}

/// Removes boilerplate from `body` (an element's inner HTML) and collects its links.
/// O(n): every node's facts come from one bottom-up pass and one pass over each node's
/// children; links are deduplicated through a set.
pub(super) fn clean_body(body: &str, base: &Url) -> Cleaned {
    let mut frag = Html::parse_fragment(body);
    let root = frag.tree.root();
    let holds = bottom_up::<Holds>(root, |node, kids| {
        let mut h = match node.value() {
            Node::Text(t) => Holds {
                text: t.chars().any(|c| !c.is_whitespace()),
                ..Holds::default()
            },
            Node::Element(e) if e.name() == "img" => {
                let quote = ElementRef::wrap(node).is_some_and(is_quote_image);
                Holds {
                    images: true,
                    other_images: !quote,
                    ..Holds::default()
                }
            }
            _ => Holds::default(),
        };
        for k in kids {
            h.text |= k.text;
            h.images |= k.images;
            h.other_images |= k.other_images;
        }
        h
    });
    let in_range = stock_image_range_members(root);
    let mut doomed = Vec::new();
    let mut in_stock_img = false;
    for node in root.descendants() {
        match node.value() {
            Node::Comment(c) => {
                if c.contains("EM_StockImg_Start") {
                    in_stock_img = true;
                } else if c.contains("EM_StockImg_End") {
                    in_stock_img = false;
                }
                doomed.push(node.id());
            }
            Node::Element(_) | Node::Text(_) if in_stock_img && in_range.contains_key(&node.id()) => {
                doomed.push(node.id());
            }
            Node::Element(_) => {
                if let Some(el) = ElementRef::wrap(node)
                    && is_boilerplate(el, &holds)
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
    let visible_chars = root
        .text()
        .flat_map(|t| t.chars())
        .filter(|&c| !c.is_whitespace() && !is_stray_control(c))
        .count();
    let mut links: Vec<String> = Vec::new();
    let mut seen: HashSet<String> = HashSet::new();
    for a in root.descendent_elements().filter(|e| e.value().name() == "a") {
        if links.len() >= MAX_LINKS {
            break;
        }
        let Some(href) = a.attr("href") else { continue };
        let Ok(url) = base.join(href.trim()) else { continue };
        if matches!(url.scheme(), "http" | "https") {
            let url = url.to_string();
            if seen.insert(url.clone()) {
                links.push(url);
            }
        }
    }
    Cleaned {
        html: root.inner_html().trim().to_owned(),
        links,
        visible_chars,
    }
}

/// Inside an `EM_StockImg` comment range, only the range's own siblings are collected
/// (their descendants go with them): the nodes whose nearest previous sibling comment
/// naming a range boundary is the start comment. One pass over each node's children.
fn stock_image_range_members(root: NodeRef<'_, Node>) -> IdMap<()> {
    let mut members = IdMap::default();
    for parent in root.descendants() {
        let mut after_start = false;
        for child in parent.children() {
            if after_start {
                members.insert(child.id(), ());
            }
            if let Node::Comment(c) = child.value() {
                if c.contains("EM_StockImg_End") {
                    after_start = false;
                } else if c.contains("EM_StockImg_Start") {
                    after_start = true;
                }
            }
        }
    }
    members
}

const DROPPED_TAGS: &[&str] = &[
    "script", "style", "noscript", "iframe", "frame", "form", "button", "input", "select", "textarea",
    "link", "meta", "object", "embed", "template", "svg", "canvas",
];

fn is_boilerplate(el: ElementRef<'_>, holds: &NodeMap<Holds>) -> bool {
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
        "center" | "p" | "a" | "div" | "figure" | "span" => {
            holds.get(el.id()).is_some_and(holds_only_quote_images)
        }
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
fn holds_only_quote_images(h: &Holds) -> bool {
    !h.text && h.images && !h.other_images
}
