//! Text measures of every node of a parsed page, computed once, bottom-up.
//!
//! The extractors ask the same questions of many nested elements: how much text is in it,
//! how much of that is link text, is it inside navigation, what is its text's length once
//! whitespace is collapsed. Answering each by walking the element's subtree (or its
//! ancestors) costs the subtree's size per element: O(n²) on a page of nested blocks or
//! of one paragraph holding 100,000 links. Here every answer is filled in by one post-order
//! pass (children before parents, each node visited once) and one pre-order pass for the
//! inherited "excluded" flag, so a lookup is O(1) and the whole is O(n).

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use ego_tree::{NodeId, NodeRef};
use scraper::{ElementRef, Node};

use crate::normalize::is_stray_control;

/// A hasher for node ids: an id is already a distinct small integer (an arena index), so
/// it is its own hash. SipHash cost a third of the measuring time on a 6 MiB page.
#[derive(Default)]
pub(super) struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Not reached for `NodeId` (it hashes one usize); correct for anything else.
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_usize(&mut self, n: usize) {
        self.0 = n as u64;
    }
}

/// A map keyed by node id.
pub(super) type IdMap<V> = HashMap<NodeId, V, BuildHasherDefault<IdHasher>>;

/// Values of type `T` for the nodes of one tree, looked up by node id.
pub(super) struct NodeMap<T> {
    index: IdMap<usize>,
    values: Vec<T>,
}

impl<T> NodeMap<T> {
    /// The value of node `id`, when it belongs to the tree the map was made from.
    pub fn get(&self, id: NodeId) -> Option<&T> {
        self.index.get(&id).map(|&i| &self.values[i])
    }
}

/// Computes `f(node, children's values)` for every node under (and including) `root`,
/// children first: O(n) calls, each child's value read once.
pub(super) fn bottom_up<'a, T>(
    root: NodeRef<'a, Node>,
    mut f: impl FnMut(NodeRef<'a, Node>, &mut dyn Iterator<Item = &T>) -> T,
) -> NodeMap<T> {
    // Pre-order; walked backwards, every node comes after all of its descendants.
    let order: Vec<NodeRef<'a, Node>> = root.descendants().collect();
    let index: IdMap<usize> = order.iter().enumerate().map(|(i, n)| (n.id(), i)).collect();
    let mut values: Vec<Option<T>> = std::iter::repeat_with(|| None).take(order.len()).collect();
    for (i, node) in order.iter().enumerate().rev() {
        let value = {
            let mut kids = node
                .children()
                .filter_map(|c| index.get(&c.id()).and_then(|&k| values[k].as_ref()));
            f(*node, &mut kids)
        };
        values[i] = Some(value);
    }
    NodeMap {
        index,
        // Every slot was filled by the loop above.
        values: values.into_iter().flatten().collect(),
    }
}

/// The length of a text once whitespace runs are collapsed to one space, the ends trimmed
/// and stray control characters dropped (what [`crate::normalize::collapse_whitespace`]
/// gives), kept in a form that concatenates: the length of `a + b` follows from the
/// measures of `a` and `b`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Collapsed {
    /// Characters kept (neither whitespace nor stray control).
    kept: usize,
    /// Whitespace runs between two kept characters (each becomes one space).
    gaps: usize,
    /// Whitespace before the first kept character (any whitespace, when none is kept).
    leading_space: bool,
    /// Whitespace after the last kept character (any whitespace, when none is kept).
    trailing_space: bool,
}

impl Collapsed {
    /// The measure of one text.
    pub fn of(text: &str) -> Collapsed {
        let mut m = Collapsed::default();
        let mut space = false;
        for c in text.chars() {
            if c.is_whitespace() {
                space = true;
            } else if !is_stray_control(c) {
                if m.kept == 0 {
                    m.leading_space = space;
                } else if space {
                    m.gaps += 1;
                }
                m.kept += 1;
                space = false;
            }
        }
        if m.kept == 0 {
            m.leading_space = space;
        }
        m.trailing_space = space;
        m
    }

    /// The measure of `self` followed by `next`.
    pub fn then(self, next: Collapsed) -> Collapsed {
        if self.kept == 0 {
            return Collapsed {
                leading_space: self.leading_space || next.leading_space,
                trailing_space: if next.kept == 0 {
                    self.trailing_space || next.trailing_space
                } else {
                    next.trailing_space
                },
                ..next
            };
        }
        if next.kept == 0 {
            return Collapsed {
                trailing_space: self.trailing_space || next.trailing_space,
                ..self
            };
        }
        Collapsed {
            kept: self.kept + next.kept,
            gaps: self.gaps + next.gaps + usize::from(self.trailing_space || next.leading_space),
            leading_space: self.leading_space,
            trailing_space: next.trailing_space,
        }
    }

    /// Characters of the collapsed text.
    pub fn len(self) -> usize {
        self.kept + self.gaps
    }
}

/// What the extractors read of one node.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Measure {
    /// Non-whitespace characters of its text (control characters included).
    pub chars: usize,
    /// Non-whitespace characters of the text of each `<a>` below it, summed per `<a>`.
    pub link_chars: usize,
    /// Non-whitespace characters of the text nodes that are its own children.
    pub direct_chars: usize,
    /// Its text collapsed (see [`Collapsed`]).
    pub text: Collapsed,
    /// Whether it or an ancestor below `<body>` is navigation, a form, a sidebar… (see
    /// [`excluded_itself`]).
    pub excluded: bool,
}

/// [`Measure`]s of every node of a page.
pub(super) struct Signals {
    map: NodeMap<Measure>,
}

fn non_whitespace(text: &str) -> usize {
    text.chars().filter(|c| !c.is_whitespace()).count()
}

impl Signals {
    /// Measures every node under `root`: O(n).
    pub fn of(root: NodeRef<'_, Node>) -> Signals {
        let mut map = bottom_up::<Measure>(root, |node, kids| match node.value() {
            Node::Text(t) => Measure {
                chars: non_whitespace(t),
                text: Collapsed::of(t),
                ..Measure::default()
            },
            _ => {
                let mut m = Measure::default();
                for (kid, value) in node.children().zip(kids) {
                    // Text no reader sees (a `<style>` inside a `<p>`, a script, a
                    // hidden `<textarea>` of gallery data) is no text of the page.
                    if matches!(kid.value(), Node::Element(e) if is_unrendered(e.name())) {
                        continue;
                    }
                    m.chars += value.chars;
                    m.link_chars += value.link_chars;
                    m.text = m.text.then(value.text);
                    match kid.value() {
                        Node::Text(_) => m.direct_chars += value.chars,
                        Node::Element(e) if e.name() == "a" => m.link_chars += value.chars,
                        _ => {}
                    }
                }
                m
            }
        });
        // Inherited top-down: a node is excluded when it excludes itself or its parent is
        // excluded; `<body>` and `<html>` break the chain (what lies above them is not
        // the article's surroundings).
        for node in root.descendants() {
            let Some(el) = ElementRef::wrap(node) else {
                continue;
            };
            let name = el.value().name();
            if matches!(name, "body" | "html") {
                continue;
            }
            let inherited = node
                .parent()
                .and_then(|p| map.get(p.id()))
                .is_some_and(|m| m.excluded);
            let excluded = inherited || excluded_itself(el);
            if let Some(&i) = map.index.get(&node.id()) {
                map.values[i].excluded = excluded;
            }
        }
        Signals { map }
    }

    /// The measure of `node` (zero for a node of another tree).
    pub fn of_node(&self, id: NodeId) -> Measure {
        self.map.get(id).copied().unwrap_or_default()
    }

    /// Whether the element has visible text (what `page::has_text` walks for).
    pub fn has_text(&self, el: ElementRef<'_>) -> bool {
        self.of_node(el.id()).chars > 0
    }

    /// The length of `page::text_of(el)`, in characters.
    pub fn text_len(&self, el: ElementRef<'_>) -> usize {
        self.of_node(el.id()).text.len()
    }

    /// Whether the element is excluded from the main text (see [`Measure::excluded`]).
    pub fn excluded(&self, el: ElementRef<'_>) -> bool {
        self.of_node(el.id()).excluded
    }
}

/// Tags that are never the article's text.
const EXCLUDED_TAGS: &[&str] = &[
    "nav", "footer", "aside", "header", "form", "script", "style", "noscript", "menu", "select", "button",
    "template", "head", "title", "textarea",
];
/// Class or id words that mark navigation and other surroundings of the article.
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

/// Elements whose text content is never shown as text: style sheets, scripts, templates,
/// and `<textarea>` (pages hide data for their scripts in one).
pub(super) fn is_unrendered(name: &str) -> bool {
    matches!(
        name,
        "script" | "style" | "template" | "textarea" | "noscript" | "title" | "head"
    )
}

/// The element's `class` and `id`, lowercased, for matching names.
pub(super) fn names_of(el: ElementRef<'_>) -> String {
    let class = el.attr("class").unwrap_or_default();
    let id = el.attr("id").unwrap_or_default();
    format!("{class} {id}").to_ascii_lowercase()
}

/// Whether `el` itself is navigation, a header, footer, aside, form or the like (by tag,
/// or by a class/id saying so unless it also says content/article/main…). An element is
/// excluded from the main text when it or an ancestor below `<body>` is; the page's
/// [`Signals`] carry that down the tree in one pass.
pub(super) fn excluded_itself(el: ElementRef<'_>) -> bool {
    if EXCLUDED_TAGS.contains(&el.value().name()) {
        return true;
    }
    let names = names_of(el);
    EXCLUDED_NAMES.iter().any(|n| names.contains(n))
        && !["article", "content", "main"].iter().any(|n| names.contains(n))
}

#[cfg(test)]
mod tests {
    use scraper::{Html, Selector};

    use super::*;
    use crate::normalize::collapse_whitespace;

    #[test]
    fn collapsed_lengths_concatenate() {
        let parts = [
            "",
            " ",
            "a",
            " a",
            "a ",
            " a b ",
            "\u{1}",
            "a\u{1}b",
            " \u{1} ",
            "\n\t",
            "全角\u{3000}空格",
        ];
        for a in parts {
            for b in parts {
                for c in parts {
                    let joined = format!("{a}{b}{c}");
                    let m = Collapsed::of(a).then(Collapsed::of(b)).then(Collapsed::of(c));
                    assert_eq!(
                        m.len(),
                        collapse_whitespace(&joined).chars().count(),
                        "{joined:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn measures_by_hand() {
        let doc = Html::parse_document(
            "<body><div id=d>ab <p>cd <a href=x>ef</a> g</p><nav><p>hi</p></nav></div></body>",
        );
        let signals = Signals::of(doc.tree.root());
        let one = |css: &str| {
            doc.select(&Selector::parse(css).expect("literal"))
                .next()
                .expect("in the page")
        };
        let div = signals.of_node(one("#d").id());
        assert_eq!((div.chars, div.link_chars, div.direct_chars), (9, 2, 2));
        // `</p><nav><p>` puts no space between `g` and `hi`.
        assert_eq!(signals.text_len(one("#d")), "ab cd ef ghi".len());
        let p = signals.of_node(one("p").id());
        assert_eq!((p.chars, p.link_chars, p.direct_chars), (5, 2, 3));
        assert!(!signals.excluded(one("p")));
        assert!(signals.excluded(one("nav p")));
        assert!(!signals.excluded(one("body")));
    }
}
