//! The page's headline: the `<h1>` (or another headline element) that the page's
//! `<title>` / `og:title` confirm, else those titles without the site's name.
//!
//! Real pages mislead a naive reader three ways: an `og:title` cut short at an unescaped
//! quote (`content="他说"明年…"`), an `<h1>` holding the site's banner, and a `<title>` that
//! carries the site's name (`…-新华网`, `…_新浪财经_新浪网`, `第一财经 | …`). So an element
//! is the headline only when a title agrees with it (one contains the other, or their
//! character pairs largely overlap); titles alone are split at their separators and the
//! segment that looks like a headline is kept. No list of sites is involved.
//!
//! Cost: one pass over the elements; a candidate's text is collected only when the page's
//! [`Signals`](super::signals::Signals) say it is short, and every comparison is linear in
//! two bounded strings.

use std::collections::HashSet;

use ego_tree::NodeId;
use scraper::ElementRef;

use super::page::{Page, text_of};
use super::signals::names_of;

/// Longest text (characters) an element may have to be a headline candidate.
const MAX_HEADLINE_CHARS: usize = 200;
/// Titles are compared on at most this many characters (a `<title>` can be anything).
const MAX_TITLE_CHARS: usize = 400;
/// Headline candidates looked at, at most (a page of 100,000 `.title` elements is no
/// article page, and the first ones are the page's own).
const MAX_CANDIDATES: usize = 400;
/// Share of character pairs two texts must have in common to be the same headline.
const MIN_OVERLAP: f64 = 0.6;

/// The chosen headline and the element it came from (None when it came from a title).
#[derive(Clone, Debug)]
pub(super) struct Headline {
    /// The headline text, whitespace collapsed.
    pub text: String,
    /// The element read, when an element was; the byline is looked for after it.
    pub element: Option<NodeId>,
}

/// A text reduced to what headlines are compared on: letters and digits, lowercased
/// (spaces, punctuation and quotes differ between `<h1>` and `<title>` on real pages).
fn key(text: &str) -> Vec<char> {
    text.chars()
        .take(MAX_TITLE_CHARS)
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

fn contains(hay: &[char], needle: &[char]) -> bool {
    let hay: String = hay.iter().collect();
    let needle: String = needle.iter().collect();
    hay.contains(&needle)
}

/// Dice coefficient of the two texts' sets of adjacent character pairs.
fn overlap(a: &[char], b: &[char]) -> f64 {
    let pairs = |s: &[char]| -> HashSet<(char, char)> { s.windows(2).map(|w| (w[0], w[1])).collect() };
    let (pa, pb) = (pairs(a), pairs(b));
    if pa.is_empty() || pb.is_empty() {
        return 0.0;
    }
    let common = pa.intersection(&pb).count();
    2.0 * common as f64 / (pa.len() + pb.len()) as f64
}

/// Whether `title` (a page title's headline part, or a whole title) confirms the
/// element text `element`: the element contains the title (a title cut short, at least
/// four characters or the element's start), or the title contains the element (the
/// element being no short banner: six characters or half the title), or they largely
/// overlap.
pub(super) fn confirms(element: &str, title: &str) -> bool {
    let (e, t) = (key(element), key(title));
    if e.is_empty() || t.is_empty() {
        return false;
    }
    if e == t {
        return true;
    }
    if contains(&e, &t) && (t.len() >= 4 || e.starts_with(&t)) {
        return true;
    }
    if contains(&t, &e) && (e.len() >= 6 || 2 * e.len() >= t.len()) {
        return true;
    }
    overlap(&e, &t) >= MIN_OVERLAP
}

/// Whether the `-` at byte `at` of `s` separates (it does not between two ASCII letters or
/// digits: `COVID-19`, `2021-2022`, `A-share`).
fn hyphen_separates(s: &str, at: usize) -> bool {
    let before = s[..at].chars().next_back();
    let after = s[at + 1..].chars().next();
    !matches!((before, after), (Some(b), Some(a)) if b.is_ascii_alphanumeric() && a.is_ascii_alphanumeric())
}

/// The parts of a page title between site separators: `_ | ｜ – › » -` and a single `—`
/// (a doubled `——` is a Chinese headline's own dash, and `·` joins parts of site names).
pub(super) fn segments(title: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let chars: Vec<(usize, char)> = title.char_indices().collect();
    for (i, &(at, c)) in chars.iter().enumerate() {
        let separates = match c {
            '_' | '|' | '｜' | '–' | '›' | '»' => true,
            '-' => hyphen_separates(title, at),
            '—' => {
                let prev = i.checked_sub(1).map(|p| chars[p].1);
                let next = chars.get(i + 1).map(|n| n.1);
                prev != Some('—') && next != Some('—')
            }
            _ => false,
        };
        if separates {
            out.push(title[start..at].trim());
            start = at + c.len_utf8();
        }
    }
    out.push(title[start..].trim());
    out.retain(|s| !key(s).is_empty());
    out
}

/// A title segment that names a site rather than an article: the page's `og:site_name`,
/// a domain, or a short name ending in `网`.
fn site_like(segment: &str, site_name: Option<&str>) -> bool {
    let k = key(segment);
    if site_name.is_some_and(|s| !key(s).is_empty() && key(s) == k) {
        return true;
    }
    let lower = segment.to_ascii_lowercase();
    let domain = [".com", ".cn", ".net", ".org", "www."]
        .iter()
        .any(|d| lower.contains(d));
    domain || (k.len() <= 8 && segment.ends_with('网'))
}

/// A page title without the site's name: the longest segment that does not look like
/// a site (the longest of all when every one does).
pub(super) fn strip_site(title: &str, site_name: Option<&str>) -> String {
    let parts = segments(title);
    let best = longest(parts.iter().copied().filter(|s| !site_like(s, site_name)))
        .or_else(|| longest(parts.iter().copied()))
        .unwrap_or(title.trim());
    best.trim().to_owned()
}

/// The longest text, the first among equals.
fn longest<'s>(parts: impl Iterator<Item = &'s str>) -> Option<&'s str> {
    parts.fold(None, |best, s| match best {
        Some(b) if b.chars().count() >= s.chars().count() => Some(b),
        _ => Some(s),
    })
}

impl Page<'_> {
    /// The page's titles: `og:title`, `twitter:title`, `<title>` (those present).
    fn titles(&self) -> Vec<String> {
        let mut out: Vec<String> = [
            self.meta(&["og:title"]),
            self.meta(&["twitter:title"]),
            self.first_with_text("title").map(text_of),
        ]
        .into_iter()
        .flatten()
        .collect();
        out.dedup();
        out
    }

    /// The headline (see the module comment): a confirmed `<h1>` first, then another
    /// confirmed headline element (`h2`/`h3`, a class or id saying title/headline), then
    /// the titles without the site's name, then an unconfirmed `<h1>`.
    pub fn headline(&self) -> Option<Headline> {
        let site = self.meta(&["og:site_name", "application-name"]);
        let titles = self.titles();
        let stripped: Vec<String> = titles.iter().map(|t| strip_site(t, site.as_deref())).collect();
        let signals = self.signals();
        let mut h1s: Vec<ElementRef<'_>> = Vec::new();
        let mut others: Vec<ElementRef<'_>> = Vec::new();
        let body = self
            .doc
            .root_element()
            .descendent_elements()
            .find(|e| e.value().name() == "body");
        for el in body.into_iter().flat_map(|b| b.descendent_elements()) {
            if h1s.len() + others.len() >= MAX_CANDIDATES {
                break;
            }
            let len = signals.text_len(el);
            if len == 0 || len > MAX_HEADLINE_CHARS {
                continue;
            }
            match el.value().name() {
                "h1" => h1s.push(el),
                "h2" | "h3" => others.push(el),
                "script" | "style" | "a" | "li" | "option" => {}
                _ => {
                    let names = names_of(el);
                    if ["title", "headline", "biaoti"].iter().any(|n| names.contains(n)) {
                        others.push(el);
                    }
                }
            }
        }
        let confirmed = |el: &ElementRef<'_>| {
            let text = text_of(*el);
            let ok = stripped.iter().any(|t| confirms(&text, t))
                || titles.iter().any(|t| {
                    let (e, t) = (key(&text), key(t));
                    (contains(&e, &t) && t.len() >= 4) || overlap(&e, &t) >= MIN_OVERLAP
                });
            ok.then_some(text)
        };
        // Non-excluded h1s first: the article's own before one in a header.
        let pick = h1s
            .iter()
            .filter(|h| !signals.excluded(**h))
            .chain(h1s.iter().filter(|h| signals.excluded(**h)))
            .chain(others.iter().filter(|h| !signals.excluded(**h)))
            .find_map(|el| confirmed(el).map(|text| (text, *el)));
        if let Some((text, el)) = pick {
            // An h1 holding the headline and its deck (`<h1><table>…<td>标题</td><td>副题
            // …</td></table></h1>`): the part that is the title exactly.
            let wanted: Vec<Vec<char>> = stripped.iter().map(|t| key(t)).filter(|k| k.len() >= 4).collect();
            let exact = el.descendent_elements().skip(1).find(|d| {
                let len = signals.text_len(*d);
                len > 0 && len < text.chars().count() && wanted.contains(&key(&text_of(*d)))
            });
            let (text, id) = exact.map_or((text, el.id()), |d| (text_of(d), d.id()));
            return Some(Headline {
                text,
                element: Some(id),
            });
        }
        // A title that is only the site's name (one short part) is no headline; an
        // unconfirmed h1 is better then.
        let only_site = titles
            .iter()
            .all(|t| segments(t).len() <= 1 && (site_like(t, site.as_deref()) || key(t).len() <= 6));
        // An element showing exactly the title's headline (old layouts set it in a
        // `<th>`, `<td>` or `<font>`): the outermost one, first in the page.
        if let Some(want) = best_title(&stripped)
            .map(|t| key(&t))
            .filter(|k| k.len() >= 4 && !only_site)
        {
            let shown = body.into_iter().flat_map(|b| b.descendent_elements()).find(|el| {
                let len = signals.text_len(*el);
                len >= want.len()
                    && len <= 2 * want.len() + 10
                    && !matches!(el.value().name(), "a" | "script" | "style" | "option" | "title")
                    && key(&text_of(*el)) == want
            });
            if let Some(el) = shown {
                return Some(Headline {
                    text: text_of(el),
                    element: Some(el.id()),
                });
            }
        }
        let lone_h1 = || {
            h1s.iter()
                .find(|h| !signals.excluded(**h))
                .or(h1s.first())
                .map(|h| Headline {
                    text: text_of(*h),
                    element: Some(h.id()),
                })
        };
        let Some(title) = best_title(&stripped) else {
            return lone_h1();
        };
        if only_site && let Some(h) = lone_h1() {
            return Some(h);
        }
        Some(Headline {
            text: title,
            element: None,
        })
    }
}

/// Among the stripped titles (og:title first), the first, unless a later one starts with
/// it and is longer (an `og:title` cut at an unescaped quote).
fn best_title(stripped: &[String]) -> Option<String> {
    let mut best: Option<&String> = None;
    for t in stripped.iter().filter(|t| !t.is_empty()) {
        best = match best {
            None => Some(t),
            Some(b) if t.chars().count() > b.chars().count() && key(t).starts_with(&key(b)) => Some(t),
            keep => keep,
        };
    }
    best.cloned()
}
