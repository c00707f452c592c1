//! How deep and how big a document is, measured on the raw text before it is parsed.
//!
//! html5ever (behind `scraper` and `ammonia`) scans its stack of open elements for many
//! tokens, so parsing a page of 100,000 nested `<div>`s costs 100,000² steps (minutes), and
//! every later tree walk recurses as deep. A publisher's page is never that deep (real
//! articles nest a few dozen levels), so such a document is refused before html5ever sees
//! it: [`check`] runs one linear pass over the bytes and stops at the first limit crossed.
//!
//! The pass is a small tag tokenizer with a model of the open-element stack that follows
//! the HTML parsing algorithm where depth is concerned, erring on the side of counting too
//! deep rather than too shallow (a false refusal costs one page; a miss costs a parsing
//! thread for minutes):
//!
//! * comments (`<!-- … -->`, `<!-->`), doctypes, `<?…>` and bogus comments hold no tags;
//!   `<script>`, `<style>`, `<noscript>`, `<iframe>`, `<xmp>`, `<noembed>`, `<noframes>`,
//!   `<title>` and `<textarea>` hold text up to their own end tag; `<plaintext>` ends markup;
//! * quoted attribute values may contain `>`;
//! * void elements (`<br>`, `<img>`, …) never open; `/>` closes only inside `<svg>`/`<math>`
//!   (html5ever ignores it on `<div/>`, which opens a `<div>`);
//! * end tags pop up to their element, unless a scope boundary (`<table>`, `<td>`, …) or,
//!   for ordinary inline elements, a block element is in the way, as in html5ever;
//!   `</body>` and `</html>` pop nothing (content after them goes back into the body);
//! * the end tags HTML implies are applied: a block start closes an open `<p>`, `<li>`
//!   closes `<li>`, `<dd>`/`<dt>`, `<option>`, `<td>`/`<th>`, `<tr>`, `<a>` and headings;
//! * formatting elements (`<b>`, `<font>`, …) closed implicitly are counted as still open,
//!   since html5ever reopens them ("reconstructs the active formatting elements"), with at
//!   most three identical ones, as html5ever keeps.
//!
//! Not modelled: the *number* of elements such reconstruction creates (each reopened
//! formatting element is counted once, not once per paragraph it is reopened in).

/// Deepest element nesting a document may have: real pages stay far below (tens).
pub const MAX_DEPTH: usize = 512;

/// Most elements a document may have: a long real article page has a few thousand; the
/// 100,000-link pages the crawler must still read have about 100,000.
pub const MAX_ELEMENTS: usize = 250_000;

/// What [`check_with`] refuses beyond.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Deepest nesting allowed.
    pub max_depth: usize,
    /// Most elements allowed.
    pub max_elements: usize,
}

impl Limits {
    /// [`MAX_DEPTH`] and [`MAX_ELEMENTS`].
    pub const DEFAULT: Limits = Limits {
        max_depth: MAX_DEPTH,
        max_elements: MAX_ELEMENTS,
    };
}

/// The measured shape of a document that is within the limits.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Shape {
    /// Deepest element nesting seen (the estimate described in the module docs).
    pub depth: usize,
    /// Start tags seen outside comments and raw text.
    pub elements: usize,
}

/// Why a document is refused before parsing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TooBig {
    /// Elements nest deeper than the limit.
    #[error("nesting deeper than {0}")]
    TooDeep(usize),
    /// The document has more elements than the limit.
    #[error("more than {0} elements")]
    TooManyElements(usize),
}

/// Measures `html` against [`Limits::DEFAULT`].
pub fn check(html: &str) -> Result<Shape, TooBig> {
    check_with(html, Limits::DEFAULT)
}

/// Measures `html` in one pass, stopping at the first limit crossed. O(n · limits): each
/// tag costs at most a scan of the (bounded) open-element model.
pub fn check_with(html: &str, limits: Limits) -> Result<Shape, TooBig> {
    let b = html.as_bytes();
    let mut model = Model::new(limits);
    let mut i = 0;
    while let Some(off) = b[i..].iter().position(|&c| c == b'<') {
        let lt = i + off;
        i = lt + 1;
        match b.get(i) {
            None => break,
            Some(b'!') => i = skip_declaration(b, i + 1, model.in_foreign()),
            Some(b'?') => i = skip_past_gt(b, i),
            Some(b'/') => match b.get(i + 1) {
                Some(c) if c.is_ascii_alphabetic() => {
                    // A tag cut off by the end of the document is dropped, as html5ever does.
                    let Some(tag) = read_tag(b, i + 1) else { break };
                    i = tag.end;
                    model.end(&tag.name);
                }
                Some(b'>') => i += 2,
                None => break,
                Some(_) => i = skip_past_gt(b, i + 1),
            },
            Some(c) if c.is_ascii_alphabetic() => {
                let Some(tag) = read_tag(b, i) else { break };
                i = tag.end;
                let foreign = model.start(&tag.name, &b[tag.attrs.0..tag.attrs.1], tag.self_closing)?;
                // `/>` does not end a raw-text element: html5ever ignores it there.
                if !foreign {
                    match tag.name.as_str() {
                        "script" | "style" | "noscript" | "iframe" | "xmp" | "noembed" | "noframes"
                        | "title" | "textarea" => i = raw_text_end(b, i, &tag.name),
                        "plaintext" => break,
                        _ => {}
                    }
                }
            }
            Some(_) => {} // A `<` in text.
        }
    }
    Ok(model.shape)
}

/// A start or end tag read from the bytes.
struct Tag {
    /// Lowercase name.
    name: String,
    /// Byte range of the attributes (for telling identical formatting elements apart).
    attrs: (usize, usize),
    self_closing: bool,
    /// Index just past the closing `>`.
    end: usize,
}

fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\r' | b'\x0c')
}

/// Reads a tag whose name starts at `start`, attributes and quoted values included; None
/// when the document ends inside it.
fn read_tag(b: &[u8], start: usize) -> Option<Tag> {
    let mut i = start;
    while i < b.len() && !is_space(b[i]) && b[i] != b'/' && b[i] != b'>' {
        i += 1;
    }
    let name = String::from_utf8_lossy(&b[start..i]).to_ascii_lowercase();
    let attrs_start = i;
    loop {
        // Before an attribute name.
        while i < b.len() && is_space(b[i]) {
            i += 1;
        }
        match b.get(i)? {
            b'>' => {
                return Some(Tag {
                    name,
                    attrs: (attrs_start, i),
                    self_closing: false,
                    end: i + 1,
                });
            }
            b'/' => {
                if b.get(i + 1) == Some(&b'>') {
                    return Some(Tag {
                        name,
                        attrs: (attrs_start, i),
                        self_closing: true,
                        end: i + 2,
                    });
                }
                i += 1;
                continue;
            }
            _ => {}
        }
        // The attribute name (a leading `=` belongs to it).
        i += 1;
        while i < b.len() && !is_space(b[i]) && !matches!(b[i], b'/' | b'>' | b'=') {
            i += 1;
        }
        while i < b.len() && is_space(b[i]) {
            i += 1;
        }
        if b.get(i) != Some(&b'=') {
            continue;
        }
        i += 1;
        while i < b.len() && is_space(b[i]) {
            i += 1;
        }
        match b.get(i)? {
            q @ (b'"' | b'\'') => {
                let close = b[i + 1..].iter().position(|c| c == q)?;
                i += close + 2;
            }
            b'>' => {} // `a=>`: no value; the `>` ends the tag.
            _ => {
                while i < b.len() && !is_space(b[i]) && b[i] != b'>' {
                    i += 1;
                }
            }
        }
    }
}

/// Index past the next `>` from `i` (a bogus comment or processing instruction), or the end.
fn skip_past_gt(b: &[u8], i: usize) -> usize {
    b[i..]
        .iter()
        .position(|&c| c == b'>')
        .map_or(b.len(), |p| i + p + 1)
}

/// Index past a `<!…` construct whose `!` was just before `i`: a comment (which html5ever
/// ends at `-->`, `--!>`, or at once for `<!-->` and `<!--->`), a CDATA section inside
/// foreign content, or a doctype / bogus comment up to `>`. Unterminated: the end.
fn skip_declaration(b: &[u8], i: usize, foreign: bool) -> usize {
    let rest = &b[i..];
    if rest.starts_with(b"--") {
        let body = i + 2;
        if b[body..].starts_with(b">") {
            return body + 1;
        }
        if b[body..].starts_with(b"->") {
            return body + 2;
        }
        let mut j = body;
        while let Some(p) = b[j..].windows(2).position(|w| w == b"--") {
            let dash = j + p + 2;
            if b[dash..].starts_with(b">") {
                return dash + 1;
            }
            if b[dash..].starts_with(b"!>") {
                return dash + 2;
            }
            j = j + p + 1;
        }
        return b.len();
    }
    if foreign && rest.starts_with(b"[CDATA[") {
        return b[i..]
            .windows(3)
            .position(|w| w == b"]]>")
            .map_or(b.len(), |p| i + p + 3);
    }
    skip_past_gt(b, i)
}

/// Where the raw text of a `name` element that starts at `i` ends: at its `</name` end tag
/// (any case, followed by a space, `/` or `>`), or at the end of the document.
fn raw_text_end(b: &[u8], mut i: usize, name: &str) -> usize {
    let name = name.as_bytes();
    while let Some(p) = b[i..].windows(2).position(|w| w == b"</") {
        let lt = i + p;
        let after = lt + 2;
        let named = b.len() >= after + name.len() && b[after..after + name.len()].eq_ignore_ascii_case(name);
        if named
            && b.get(after + name.len())
                .is_none_or(|&c| is_space(c) || c == b'/' || c == b'>')
        {
            return lt;
        }
        i = after;
    }
    b.len()
}

/// An element of the open-element model.
struct Open {
    name: String,
    /// Inside `<svg>`/`<math>` (`/>` closes, no raw text).
    foreign: bool,
    /// Its serial number (links a formatting element to its active entry).
    serial: usize,
}

/// An entry of the active formatting elements.
#[derive(Clone, Copy)]
enum Active {
    /// A scope marker (`<td>`, `<th>`, `<caption>`, `<template>`, `<object>`, …).
    Marker,
    Element {
        serial: usize,
        /// Hash of the name (for its end tag).
        name: u64,
        /// Hash of name and attributes (for the "three identical" rule).
        key: u64,
        /// Popped from the stack without its end tag: html5ever will reopen it.
        off_stack: bool,
    },
}

fn hash(parts: &[&[u8]]) -> u64 {
    use std::hash::{DefaultHasher, Hash, Hasher};
    let mut h = DefaultHasher::new();
    parts.hash(&mut h);
    h.finish()
}

/// The open-element stack and the active formatting elements, as far as depth goes.
struct Model {
    limits: Limits,
    stack: Vec<Open>,
    active: Vec<Active>,
    /// Active elements that are off the stack (counted in the depth).
    off_stack: usize,
    /// Open `<svg>`/`<math>` subtrees.
    foreign_roots: usize,
    shape: Shape,
}

const FORMATTING: &[&str] = &[
    "a", "b", "big", "code", "em", "font", "i", "nobr", "s", "small", "strike", "strong", "tt", "u",
];
const MARKERS: &[&str] = &["applet", "object", "marquee", "template", "td", "th", "caption"];
const VOID: &[&str] = &[
    "area", "base", "basefont", "bgsound", "br", "col", "embed", "frame", "hr", "image", "img", "input",
    "keygen", "link", "meta", "param", "source", "track", "wbr",
];
/// Start tags that close an open `<p>` (html5ever: "close a p element" in button scope).
const CLOSES_P: &[&str] = &[
    "address",
    "article",
    "aside",
    "blockquote",
    "center",
    "details",
    "dialog",
    "dir",
    "div",
    "dl",
    "fieldset",
    "figcaption",
    "figure",
    "footer",
    "header",
    "hgroup",
    "main",
    "menu",
    "nav",
    "ol",
    "p",
    "search",
    "section",
    "summary",
    "ul",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "pre",
    "listing",
    "form",
    "plaintext",
    "xmp",
    "li",
    "dd",
    "dt",
];
/// Elements whose start tag makes html5ever leave `<svg>`/`<math>` content.
const BREAKS_FOREIGN: &[&str] = &[
    "b",
    "big",
    "blockquote",
    "body",
    "br",
    "center",
    "code",
    "dd",
    "div",
    "dl",
    "dt",
    "em",
    "embed",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "head",
    "hr",
    "i",
    "img",
    "li",
    "listing",
    "menu",
    "meta",
    "nobr",
    "ol",
    "p",
    "pre",
    "ruby",
    "s",
    "small",
    "span",
    "strong",
    "strike",
    "sub",
    "sup",
    "table",
    "tt",
    "u",
    "ul",
    "var",
    "font",
];
/// Foreign elements inside which HTML is parsed as HTML again.
const INTEGRATION_POINTS: &[&str] = &[
    "foreignobject",
    "desc",
    "title",
    "mi",
    "mo",
    "mn",
    "ms",
    "mtext",
    "annotation-xml",
];
/// Where a search for an element "in scope" stops.
const SCOPE_BOUNDARIES: &[&str] = &[
    "html", "table", "td", "th", "caption", "template", "applet", "object", "marquee",
];
/// Elements that may stay in `<head>`; any other start tag there closes the head.
const HEAD_CONTENT: &[&str] = &[
    "base", "basefont", "bgsound", "link", "meta", "noframes", "script", "style", "template", "title",
    "noscript",
];

/// html5ever's "special" category: an inline end tag does not reach past these.
fn is_special(name: &str) -> bool {
    matches!(
        name,
        "address"
            | "applet"
            | "area"
            | "article"
            | "aside"
            | "base"
            | "basefont"
            | "bgsound"
            | "blockquote"
            | "body"
            | "br"
            | "button"
            | "caption"
            | "center"
            | "col"
            | "colgroup"
            | "dd"
            | "details"
            | "dir"
            | "div"
            | "dl"
            | "dt"
            | "embed"
            | "fieldset"
            | "figcaption"
            | "figure"
            | "footer"
            | "form"
            | "frame"
            | "frameset"
            | "h1"
            | "h2"
            | "h3"
            | "h4"
            | "h5"
            | "h6"
            | "head"
            | "header"
            | "hgroup"
            | "hr"
            | "html"
            | "iframe"
            | "img"
            | "input"
            | "keygen"
            | "li"
            | "link"
            | "listing"
            | "main"
            | "marquee"
            | "menu"
            | "meta"
            | "nav"
            | "noembed"
            | "noframes"
            | "noscript"
            | "object"
            | "ol"
            | "p"
            | "param"
            | "plaintext"
            | "pre"
            | "script"
            | "search"
            | "section"
            | "select"
            | "source"
            | "style"
            | "summary"
            | "table"
            | "tbody"
            | "td"
            | "template"
            | "textarea"
            | "tfoot"
            | "th"
            | "thead"
            | "title"
            | "tr"
            | "track"
            | "ul"
            | "wbr"
            | "xmp"
    )
}

fn is_heading(name: &str) -> bool {
    matches!(name, "h1" | "h2" | "h3" | "h4" | "h5" | "h6")
}

impl Model {
    fn new(limits: Limits) -> Model {
        Model {
            limits,
            stack: Vec::new(),
            active: Vec::new(),
            off_stack: 0,
            foreign_roots: 0,
            shape: Shape::default(),
        }
    }

    /// Whether the current node is foreign content (not an HTML integration point).
    fn in_foreign(&self) -> bool {
        self.stack
            .last()
            .is_some_and(|o| o.foreign && !INTEGRATION_POINTS.contains(&o.name.as_str()))
    }

    /// Index of the topmost `wanted` element, searching down until `stop` says so.
    fn find(&self, wanted: impl Fn(&str) -> bool, stop: impl Fn(&Open) -> bool) -> Option<usize> {
        for (i, open) in self.stack.iter().enumerate().rev() {
            if wanted(&open.name) {
                return Some(i);
            }
            if stop(open) {
                return None;
            }
        }
        None
    }

    /// A start tag; returns whether it opened foreign content (no raw text then).
    fn start(&mut self, name: &str, attrs: &[u8], self_closing: bool) -> Result<bool, TooBig> {
        self.shape.elements += 1;
        if self.shape.elements > self.limits.max_elements {
            return Err(TooBig::TooManyElements(self.limits.max_elements));
        }
        if self.in_foreign() {
            let font_breaks = name != "font" || {
                let a = String::from_utf8_lossy(attrs).to_ascii_lowercase();
                ["color", "face", "size"].iter().any(|k| a.contains(k))
            };
            if !(BREAKS_FOREIGN.contains(&name) && font_breaks) {
                if !self_closing {
                    self.push(name, true)?;
                }
                return Ok(true);
            }
            // Back to HTML: html5ever pops the foreign elements.
            while self.in_foreign() {
                self.pop_top(false);
            }
        }
        if name == "svg" || name == "math" {
            if !self_closing {
                self.push(name, true)?;
            }
            return Ok(true);
        }
        if self.stack.last().is_some_and(|o| o.name == "head") && !HEAD_CONTENT.contains(&name) {
            self.pop_top(false);
        }
        match name {
            "html" | "body" if self.stack.iter().any(|o| o.name == name) => return Ok(false),
            "li" => self.close_list_item(|n| n == "li"),
            "dd" | "dt" => self.close_list_item(|n| n == "dd" || n == "dt"),
            "option" | "optgroup" if self.stack.last().is_some_and(|o| o.name == "option") => {
                self.pop_top(false);
            }
            "td" | "th" => {
                self.close_within(|n| n == "td" || n == "th", &["table", "template", "html"]);
                // html5ever opens the `<tbody>` and `<tr>` the markup left out.
                self.imply_table_section()?;
                if self
                    .stack
                    .last()
                    .is_some_and(|o| matches!(o.name.as_str(), "tbody" | "thead" | "tfoot"))
                {
                    self.push("tr", false)?;
                }
            }
            "tr" => {
                self.close_within(|n| n == "tr", &["table", "template", "html"]);
                self.imply_table_section()?;
            }
            "tbody" | "thead" | "tfoot" => self.close_within(
                |n| matches!(n, "tbody" | "thead" | "tfoot"),
                &["table", "template", "html"],
            ),
            "a" => {
                if let Some(i) = self.find(|n| n == "a", |o| is_special(&o.name)) {
                    self.pop_to(i, false);
                }
            }
            "button" => self.close_within(|n| n == "button", SCOPE_BOUNDARIES),
            _ => {}
        }
        if CLOSES_P.contains(&name) {
            self.close_within(|n| n == "p", SCOPE_BOUNDARIES);
        }
        if is_heading(name) && self.stack.last().is_some_and(|o| is_heading(&o.name)) {
            self.pop_top(false);
        }
        if VOID.contains(&name) {
            return Ok(false);
        }
        let serial = self.shape.elements;
        if FORMATTING.contains(&name) {
            self.add_formatting(serial, name, attrs);
        } else if MARKERS.contains(&name) {
            self.active.push(Active::Marker);
        }
        self.push(name, false)?;
        Ok(false)
    }

    fn push(&mut self, name: &str, foreign: bool) -> Result<(), TooBig> {
        if foreign && (name == "svg" || name == "math") {
            self.foreign_roots += 1;
        }
        self.stack.push(Open {
            name: name.to_owned(),
            foreign,
            serial: self.shape.elements,
        });
        let depth = self.stack.len() + self.off_stack;
        self.shape.depth = self.shape.depth.max(depth);
        if depth > self.limits.max_depth {
            return Err(TooBig::TooDeep(self.limits.max_depth));
        }
        Ok(())
    }

    /// A row directly in a `<table>` goes into an implied `<tbody>`.
    fn imply_table_section(&mut self) -> Result<(), TooBig> {
        if self.stack.last().is_some_and(|o| o.name == "table") {
            self.push("tbody", false)?;
        }
        Ok(())
    }

    /// `<li>`, `<dd>`, `<dt>`: close the same kind of item unless a block other than
    /// `<address>`, `<div>`, `<p>` is in the way.
    fn close_list_item(&mut self, same: impl Fn(&str) -> bool) {
        let found = self.find(&same, |o| {
            is_special(&o.name) && !matches!(o.name.as_str(), "address" | "div" | "p")
        });
        if let Some(i) = found {
            self.pop_to(i, false);
        }
    }

    /// Closes the topmost `wanted` element unless one of `boundaries` is in the way.
    fn close_within(&mut self, wanted: impl Fn(&str) -> bool, boundaries: &[&str]) {
        if let Some(i) = self.find(wanted, |o| o.foreign || boundaries.contains(&o.name.as_str())) {
            self.pop_to(i, false);
        }
    }

    /// Adds a formatting element to the active list, dropping the earliest of three
    /// identical ones after the last marker (html5ever's "Noah's Ark" clause).
    fn add_formatting(&mut self, serial: usize, name: &str, attrs: &[u8]) {
        let key = hash(&[name.as_bytes(), attrs]);
        let after_marker = self
            .active
            .iter()
            .rposition(|a| matches!(a, Active::Marker))
            .map_or(0, |m| m + 1);
        let identical: Vec<usize> = (after_marker..self.active.len())
            .filter(|&i| matches!(self.active[i], Active::Element { key: k, .. } if k == key))
            .collect();
        if identical.len() >= 3 {
            self.remove_active(identical[0]);
        }
        self.active.push(Active::Element {
            serial,
            name: hash(&[name.as_bytes()]),
            key,
            off_stack: false,
        });
    }

    fn remove_active(&mut self, index: usize) {
        if let Active::Element { off_stack: true, .. } = self.active.remove(index) {
            self.off_stack -= 1;
        }
    }

    /// Pops the top element; `closed` when by its own end tag (a formatting element so
    /// closed leaves the active list; otherwise it will be reopened).
    fn pop_top(&mut self, closed: bool) {
        let Some(open) = self.stack.pop() else { return };
        if open.foreign && (open.name == "svg" || open.name == "math") {
            self.foreign_roots = self.foreign_roots.saturating_sub(1);
        }
        if open.foreign {
            return;
        }
        if FORMATTING.contains(&open.name.as_str()) {
            let entry = self
                .active
                .iter()
                .rposition(|a| matches!(a, Active::Element { serial, .. } if *serial == open.serial));
            if let Some(i) = entry {
                if closed {
                    self.remove_active(i);
                } else if let Active::Element { off_stack, .. } = &mut self.active[i]
                    && !*off_stack
                {
                    *off_stack = true;
                    self.off_stack += 1;
                }
            }
        } else if MARKERS.contains(&open.name.as_str()) {
            // Closing a cell or the like clears the formatting elements opened inside it.
            while let Some(last) = self.active.len().checked_sub(1) {
                let marker = matches!(self.active[last], Active::Marker);
                self.remove_active(last);
                if marker {
                    break;
                }
            }
        }
    }

    /// Pops everything above `index`, then the element at `index` (closed by its own tag
    /// when `closed`).
    fn pop_to(&mut self, index: usize, closed: bool) {
        while self.stack.len() > index + 1 {
            self.pop_top(false);
        }
        self.pop_top(closed);
    }

    fn end(&mut self, name: &str) {
        if self.in_foreign() {
            // Foreign content: the nearest foreign element of that name, else HTML rules.
            for i in (0..self.stack.len()).rev() {
                let open = &self.stack[i];
                if !open.foreign {
                    break;
                }
                if open.name == name {
                    self.pop_to(i, true);
                    return;
                }
            }
        }
        match name {
            // html5ever keeps the stack: content after them goes back into the body.
            "html" | "body" | "br" => {}
            "p" => self.close_within(|n| n == "p", SCOPE_BOUNDARIES),
            "li" => {
                let stop: Vec<&str> = SCOPE_BOUNDARIES.iter().copied().chain(["ul", "ol"]).collect();
                self.close_within(|n| n == "li", &stop);
            }
            _ if FORMATTING.contains(&name) => {
                let name_hash = hash(&[name.as_bytes()]);
                match self.find(|n| n == name, |o| is_special(&o.name)) {
                    Some(i) => self.pop_to(i, true),
                    None => {
                        // Behind a block (html5ever moves it below the block: the depth
                        // stays) or already off the stack (html5ever forgets it).
                        let entry = self
                            .active
                            .iter()
                            .rposition(|a| matches!(a, Active::Element { name: n, .. } if *n == name_hash));
                        if let Some(i) = entry {
                            self.remove_active(i);
                        }
                    }
                }
            }
            _ if is_special(name) => self.close_within(|n| n == name, SCOPE_BOUNDARIES),
            _ => {
                if let Some(i) = self.find(|n| n == name, |o| is_special(&o.name)) {
                    self.pop_to(i, true);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(html: &str) -> Shape {
        check(html).expect("within the limits")
    }

    fn depth(html: &str) -> usize {
        shape(html).depth
    }

    #[test]
    fn nesting_is_counted_and_closing_tags_pop() {
        assert_eq!(
            shape(""),
            Shape {
                depth: 0,
                elements: 0
            }
        );
        assert_eq!(
            shape("just text < 3 and 4 > 2"),
            Shape {
                depth: 0,
                elements: 0
            }
        );
        assert_eq!(
            shape("<html><body><div><p>a</p><p>b</p></div></body></html>"),
            Shape {
                depth: 4,
                elements: 5
            }
        );
        assert_eq!(depth("<div><div><div></div></div></div><div></div>"), 3);
        assert_eq!(depth("<DIV><Div><div></DIV></div>"), 3);
    }

    #[test]
    fn comments_scripts_and_styles_hold_no_tags() {
        assert_eq!(
            shape("<!-- <div><div><div> --><div></div>"),
            Shape {
                depth: 1,
                elements: 1
            }
        );
        assert_eq!(
            shape("<!--><div></div>"),
            Shape {
                depth: 1,
                elements: 1
            }
        );
        assert_eq!(
            shape("<!---><div></div>"),
            Shape {
                depth: 1,
                elements: 1
            }
        );
        assert_eq!(
            shape("<!-- a -- b --!><div></div>"),
            Shape {
                depth: 1,
                elements: 1
            }
        );
        assert_eq!(
            shape("<script>if (a<b) { document.write('<div><div><div>') }</script><p>x</p>"),
            Shape {
                depth: 1,
                elements: 2
            }
        );
        assert_eq!(
            shape("<style>p>a{}</STYLE ><div></div>"),
            Shape {
                depth: 1,
                elements: 2
            }
        );
        assert_eq!(
            shape("<title><b><b></title>"),
            Shape {
                depth: 1,
                elements: 1
            }
        );
        assert_eq!(
            shape("<textarea><div></textarea><div></div>"),
            Shape {
                depth: 1,
                elements: 2
            }
        );
        assert_eq!(
            shape("<!DOCTYPE html><?xml x?><div></div>"),
            Shape {
                depth: 1,
                elements: 1
            }
        );
        assert_eq!(
            shape("<div><!-- never closed <div><div>"),
            Shape {
                depth: 1,
                elements: 1
            }
        );
        assert_eq!(
            shape("<script>never closed <div><div>"),
            Shape {
                depth: 1,
                elements: 1
            }
        );
        assert_eq!(
            shape("<plaintext><div><div>"),
            Shape {
                depth: 1,
                elements: 1
            }
        );
    }

    #[test]
    fn void_elements_and_self_closing() {
        assert_eq!(
            shape("<div><br><img src=a><hr/><input><meta charset=utf-8></div>"),
            Shape {
                depth: 1,
                elements: 6
            }
        );
        // html5ever ignores `/>` on a non-void HTML element: these nest.
        assert_eq!(depth("<div/><div/><div/>"), 3);
        // Inside SVG it closes.
        assert_eq!(depth("<svg><path/><path/><g><path/></g></svg>"), 2);
        assert_eq!(
            depth("<svg><foreignObject><div></div></foreignObject></svg><div></div>"),
            3
        );
        assert_eq!(depth("<p><svg/><b>x</b></p>"), 2);
    }

    #[test]
    fn quoted_attributes_may_hold_angle_brackets() {
        assert_eq!(
            shape(r#"<div title="a > b" data-x='<div><div>'><span class=x>y</span></div>"#),
            Shape {
                depth: 2,
                elements: 2
            }
        );
        assert_eq!(
            shape("<div a=>x</div>"),
            Shape {
                depth: 1,
                elements: 1
            }
        );
        // Cut off inside a tag: the tag is dropped.
        assert_eq!(
            shape("<div><span title=\"x>"),
            Shape {
                depth: 1,
                elements: 1
            }
        );
    }

    #[test]
    fn unclosed_tags_are_closed_as_html_implies() {
        // `<p>` closes an open `<p>`; `<li>` an open `<li>`.
        assert_eq!(depth("<p>a<p>b<p>c<p>d"), 1);
        assert_eq!(depth("<ul><li>a<li>b<li>c</ul>"), 2);
        assert_eq!(depth("<dl><dt>a<dd>b<dt>c</dl>"), 2);
        // With the `<tbody>` html5ever adds.
        assert_eq!(depth("<table><tr><td>a<td>b<tr><td>c</table>"), 4);
        assert_eq!(depth("<table><td>a</table>"), 4);
        assert_eq!(depth("<div><p>a<div>b</div></div>"), 2);
        // Unclosed `<div>`s nest.
        assert_eq!(depth("<div>a<div>b<div>c"), 3);
        // An inline end tag does not reach past a block: the `<div>`s stay open.
        assert_eq!(depth("<span><div></span><span><div></span><span><div></span>"), 6);
        // `</body>` and `</html>` pop nothing.
        assert_eq!(depth("<div><div></body></html><div>"), 3);
        // A stray end tag changes nothing.
        assert_eq!(depth("<div></span></p><div></div></div>"), 2);
        // The head closes when body content starts.
        assert_eq!(depth("<html><head><meta charset=utf-8><div><div>x"), 3);
    }

    #[test]
    fn formatting_elements_closed_implicitly_still_count() {
        // Closed properly: nothing left.
        assert_eq!(depth("<p><b>a</b></p><p><b>b</b></p>"), 2);
        // `<b>` left open in a paragraph is reopened by html5ever in the next one.
        assert_eq!(depth("<p><b class=1>a</p><p><i>b</i></p>"), 3);
        // Of identical ones, at most three are kept.
        assert_eq!(depth(&"<p><b>a</p>".repeat(10)), 4);
        // Distinct ones pile up: refused when too many.
        let distinct: String = (0..600).map(|i| format!("<p><font color={i}>a</p>")).collect();
        assert_eq!(check(&distinct), Err(TooBig::TooDeep(MAX_DEPTH)));
        // Inside a table cell, the cell's end forgets them.
        let cells: String = (0..600).map(|i| format!("<td><font color={i}>a</td>")).collect();
        assert_eq!(depth(&format!("<table><tr>{cells}</table>")), 5);
        // A script written with `/>` is still raw text.
        assert_eq!(
            shape("<script/><div><div></script><p>"),
            Shape {
                depth: 1,
                elements: 2
            }
        );
    }

    #[test]
    fn limits_are_enforced() {
        let deep = "<div>".repeat(513);
        assert_eq!(check(&deep), Err(TooBig::TooDeep(512)));
        assert_eq!(depth(&"<div>".repeat(512)), 512);
        let limits = Limits {
            max_depth: 10,
            max_elements: 3,
        };
        assert_eq!(
            check_with("<br><br><br>", limits),
            Ok(Shape {
                depth: 0,
                elements: 3
            })
        );
        assert_eq!(
            check_with("<br><br><br><br>", limits),
            Err(TooBig::TooManyElements(3))
        );
        assert_eq!(TooBig::TooDeep(512).to_string(), "nesting deeper than 512");
        // Deep nesting hidden in a comment is no nesting.
        assert_eq!(depth(&format!("<!--{deep}--><p>x</p>")), 1);
    }
}
