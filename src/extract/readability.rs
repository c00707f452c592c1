//! The last resort: the page's block with the most paragraph text.
//!
//! Every `<p>` (and every text run written straight into a `<div>`/`<td>`, as older
//! Chinese sites do with `<br>`) scores its visible characters minus those of its links;
//! the score goes to its parent in full and to its grandparent by half. Navigation,
//! headers, footers, asides, forms and blocks whose class or id says menu, sidebar,
//! comment, share, related… score nothing. The best block wins when it holds at least
//! [`MIN_SCORE`] characters; `<article>`, `<main>` and `content`/`article`/`body`-like
//! classes weigh a little more.

use std::collections::HashMap;

use scraper::ElementRef;

use super::Found;
use super::page::{Page, text_of};
use super::signals::{Measure, names_of};

/// Characters of paragraph text a block needs to count as the article.
const MIN_SCORE: f64 = 40.0;

const POSITIVE_NAMES: &[&str] = &[
    "content", "article", "body", "text", "post", "entry", "main", "detail", "news",
];

pub(super) fn extract(page: &Page<'_>) -> Option<Found> {
    let body = main_body(page)?;
    let title = page.fallback_title();
    Some(Found {
        title,
        body: Some(body),
        // `finish` reads the byline's time.
        media: page.byline_media(),
        ..Found::default()
    })
}

/// The inner HTML of the page's main text block, if it has one.
pub(super) fn main_body(page: &Page<'_>) -> Option<String> {
    let block = main_block(page)?;
    let body = block.inner_html();
    Some(match lead_before(page, block) {
        Some(lead) => format!("<p>{}</p>{body}", html_escape::encode_text(&lead)),
        None => body,
    })
}

/// The article's lead shown in its own box right before the main block (NetEase's
/// `div.post_desc`), when the page's description confirms it is the article's own: its
/// text equals `description` / `og:description`. Kept as the body's first paragraph.
fn lead_before(page: &Page<'_>, block: ElementRef<'_>) -> Option<String> {
    let description = page.meta(&["description", "og:description"])?;
    let signals = page.signals();
    let previous = block
        .prev_siblings()
        .filter_map(ElementRef::wrap)
        .take(3)
        .find(|e| signals.has_text(*e))?;
    if signals.text_len(previous) > 400 || signals.excluded(previous) {
        return None;
    }
    let lead = text_of(previous);
    let same = |a: &str, b: &str| {
        let keep = |s: &str| s.chars().filter(|c| c.is_alphanumeric()).collect::<String>();
        let (a, b) = (keep(a), keep(b));
        !a.is_empty() && a == b
    };
    same(&lead, &description).then_some(lead)
}

/// The block with the most paragraph text. Scores come from the page's [`Signals`](super::signals::Signals)
/// (measured once for the whole page), so this is one pass over the elements.
fn main_block<'p>(page: &'p Page<'_>) -> Option<ElementRef<'p>> {
    let signals = page.signals();
    let mut scores = HashMap::new();
    let mut order: Vec<ElementRef<'p>> = Vec::new();
    let mut add = |el: ElementRef<'p>, score: f64| {
        let entry = scores.entry(el.id()).or_insert_with(|| {
            order.push(el);
            0.0
        });
        *entry += score;
    };
    for el in page.doc.root_element().descendent_elements() {
        let name = el.value().name();
        let measure = signals.of_node(el.id());
        // A `<div>` holding only text and inline elements is a paragraph written as a div
        // (government portals: one `<div>` per paragraph): scored like a `<p>`.
        let div_paragraph = name == "div" && measure.direct_chars > 0 && !has_block_child(el);
        let score = match name {
            "p" | "pre" | "blockquote" => paragraph_score(measure),
            "div" if div_paragraph => paragraph_score(measure),
            "div" | "td" | "section" | "article" => measure.direct_chars as f64,
            _ => continue,
        };
        if score < 2.0 || measure.excluded {
            continue;
        }
        if matches!(name, "div" | "td" | "section" | "article") && !div_paragraph {
            add(el, score);
            continue;
        }
        let Some(parent) = el.parent().and_then(ElementRef::wrap) else {
            continue;
        };
        add(parent, score);
        if let Some(grand) = parent.parent().and_then(ElementRef::wrap) {
            add(grand, score / 2.0);
        }
    }
    order
        .into_iter()
        .map(|el| (el, scores.get(&el.id()).copied().unwrap_or_default() * weight(el)))
        .filter(|(_, s)| *s >= MIN_SCORE)
        .fold(None, |best: Option<(ElementRef<'p>, f64)>, (el, s)| match best {
            Some((_, b)) if b >= s => best,
            _ => Some((el, s)),
        })
        .map(|(el, _)| el)
}

/// Whether one of the element's children is a block (its text is then no single
/// paragraph). Looks at the children only: each element is looked at once, by its parent.
fn has_block_child(el: ElementRef<'_>) -> bool {
    el.children().filter_map(ElementRef::wrap).any(|c| {
        matches!(
            c.value().name(),
            "div"
                | "p"
                | "table"
                | "ul"
                | "ol"
                | "dl"
                | "section"
                | "article"
                | "h1"
                | "h2"
                | "h3"
                | "h4"
                | "h5"
                | "h6"
                | "blockquote"
                | "pre"
                | "form"
                | "center"
        )
    })
}

/// Visible characters of a paragraph minus its link text; link lists score nothing.
fn paragraph_score(p: Measure) -> f64 {
    let (all, linked) = (p.chars, p.link_chars);
    if linked * 2 > all {
        return 0.0;
    }
    (all - linked) as f64
}

fn weight(el: ElementRef<'_>) -> f64 {
    let names = names_of(el);
    if matches!(el.value().name(), "article" | "main") || POSITIVE_NAMES.iter().any(|n| names.contains(n)) {
        1.25
    } else {
        1.0
    }
}
