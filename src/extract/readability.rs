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

use scraper::{ElementRef, Node};

use super::Found;
use super::page::{Page, has_text, text_of};

/// Characters of paragraph text a block needs to count as the article.
const MIN_SCORE: f64 = 40.0;

const EXCLUDED_TAGS: &[&str] = &[
    "nav", "footer", "aside", "header", "form", "script", "style", "noscript", "menu", "select", "button",
    "template", "head", "title",
];
const EXCLUDED_NAMES: &[&str] = &[
    "nav",
    "menu",
    "footer",
    "sidebar",
    "side-bar",
    "side_bar",
    "comment",
    "share",
    "related",
    "recommend",
    "breadcrumb",
    "copyright",
    "login",
    "banner",
    "widget",
    "advert",
    "toolbar",
];
const POSITIVE_NAMES: &[&str] = &[
    "content", "article", "body", "text", "post", "entry", "main", "detail", "news",
];

pub(super) fn extract(page: &Page<'_>) -> Option<Found> {
    let body = main_body(page)?;
    let title = page
        .single_h1()
        .or_else(|| {
            page.doc
                .select(&super::page::css("h1"))
                .find(|h| has_text(*h) && !excluded(*h))
                .map(text_of)
        })
        .or_else(|| page.doc_title());
    Some(Found {
        title,
        body: Some(body),
        published: page.byline_date(),
        media: page.byline_media(),
        ..Found::default()
    })
}

/// The inner HTML of the page's main text block, if it has one.
pub(super) fn main_body(page: &Page<'_>) -> Option<String> {
    main_block(page).map(|e| e.inner_html())
}

/// The block with the most paragraph text.
fn main_block<'p>(page: &'p Page<'_>) -> Option<ElementRef<'p>> {
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
        let score = match name {
            "p" | "pre" | "blockquote" => paragraph_score(el),
            "div" | "td" | "section" | "article" => direct_text_score(el),
            _ => continue,
        };
        if score < 2.0 || excluded(el) {
            continue;
        }
        if matches!(name, "div" | "td" | "section" | "article") {
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
        .map(|el| (el, scores[&el.id()] * weight(el)))
        .filter(|(_, s)| *s >= MIN_SCORE)
        .fold(None, |best: Option<(ElementRef<'p>, f64)>, (el, s)| match best {
            Some((_, b)) if b >= s => best,
            _ => Some((el, s)),
        })
        .map(|(el, _)| el)
}

fn visible_chars(text: &str) -> usize {
    text.chars().filter(|c| !c.is_whitespace()).count()
}

/// Visible characters of a paragraph minus its link text; link lists score nothing.
fn paragraph_score(p: ElementRef<'_>) -> f64 {
    let all = visible_chars(&p.text().collect::<String>());
    let linked: usize = p
        .descendent_elements()
        .filter(|e| e.value().name() == "a")
        .map(|a| visible_chars(&a.text().collect::<String>()))
        .sum();
    if linked * 2 > all {
        return 0.0;
    }
    (all - linked) as f64
}

/// Visible characters of the text nodes directly inside a block.
fn direct_text_score(el: ElementRef<'_>) -> f64 {
    el.children()
        .filter_map(|n| match n.value() {
            Node::Text(t) => Some(visible_chars(t)),
            _ => None,
        })
        .sum::<usize>() as f64
}

fn names_of(el: ElementRef<'_>) -> String {
    let class = el.attr("class").unwrap_or_default();
    let id = el.attr("id").unwrap_or_default();
    format!("{class} {id}").to_ascii_lowercase()
}

/// Whether `el` or an ancestor is navigation, a header, footer, aside, form or the like
/// (by tag, or by a class/id saying so unless it also says content/article/main…).
pub(super) fn excluded(el: ElementRef<'_>) -> bool {
    std::iter::once(*el)
        .chain(el.ancestors())
        .filter_map(ElementRef::wrap)
        .take_while(|e| !matches!(e.value().name(), "body" | "html"))
        .any(|e| {
            let names = names_of(e);
            EXCLUDED_TAGS.contains(&e.value().name())
                || (EXCLUDED_NAMES.iter().any(|n| names.contains(n))
                    && !["article", "content", "main"].iter().any(|n| names.contains(n)))
        })
}

fn weight(el: ElementRef<'_>) -> f64 {
    let names = names_of(el);
    if matches!(el.value().name(), "article" | "main") || POSITIVE_NAMES.iter().any(|n| names.contains(n)) {
        1.25
    } else {
        1.0
    }
}
