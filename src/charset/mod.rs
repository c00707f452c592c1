//! Bytes → UTF-8 text: this module owns the choice of a response body's character
//! encoding (CONTRACT §4 "Charsets") and its decoding to UTF-8, for feeds (XML), pages
//! (HTML) and everything else (JSON, JSONP, plain text). It never does I/O, never logs,
//! never reads a clock and never fails: every byte sequence yields some text, and
//! [`Decoded::had_errors`] says when that text is doubtful.
//!
//! Order of signals, strongest first:
//!
//! 1. A byte order mark (UTF-8, UTF-16LE/BE, UTF-32LE/BE). A BOM beats even the HTTP
//!    header — as RFC 7303 §3.3 (XML media types) and the WHATWG encoding standard
//!    prescribe — because a body that starts with one was written in that encoding.
//! 2. XML only: the byte pattern of a UTF-16 / UTF-32 document without a BOM (XML 1.0
//!    Appendix F: `00 3C 00 3F` and friends), which no ASCII-compatible label can describe.
//! 3. The `charset=` of the `Content-Type` header. An unknown label (and WHATWG's
//!    "replacement" labels such as `iso-2022-kr`) is ignored in favour of the next signal;
//!    so is a UTF-16 label on a body with no NUL byte near its start. RFC 3023's
//!    "text/xml without charset means US-ASCII" is *not* applied (RFC 7303 dropped it).
//! 4. The document's own declaration: `<?xml … encoding="…"?>` for XML; `<meta charset>`
//!    or `<meta http-equiv … content="…charset=…">` in the first 4096 bytes for HTML (then
//!    an XML declaration, for XHTML). A declaration read as ASCII that names UTF-16 is
//!    read as UTF-8, as browsers do.
//! 5. Sniffing: valid UTF-8 stays UTF-8; anything else goes to `chardetng` (no TLD hint),
//!    which recognises GBK/GB18030, Big5, EUC-KR, Shift_JIS and the single-byte encodings.
//! 6. UTF-8 (only reached for bodies that are empty or pure ASCII).
//!
//! Pragmatic corrections of a declared encoding (each sets `had_errors`, source `Sniffed`):
//!
//! * **Declared UTF-8, bytes not valid UTF-8.** If valid multi-byte UTF-8 sequences
//!   outnumber the malformed ones at least two to one, the body is UTF-8 with a few bad
//!   bytes (truncation, a stray Latin-1 byte): it is decoded as UTF-8 with U+FFFD for the
//!   bad bytes and the declared source is kept. Otherwise the declaration is wrong (a GBK
//!   page behind a `charset=utf-8` server default): the body is sniffed.
//! * **Declared legacy encoding (GBK, ISO-8859-1 …), bytes valid UTF-8 with at least four
//!   non-ASCII characters.** Real GBK or Latin-1 text essentially never forms valid UTF-8,
//!   so the body is UTF-8 whatever the label says (a UTF-8 feed behind a `charset=gbk`
//!   server default is common on Chinese hosts). A few malformed sequences are tolerated
//!   at the same ratio as above.
//! * **Declared legacy encoding that produces malformed sequences.** If the sniffed encoding
//!   decodes the body cleanly, it is used instead.
//!
//! `had_errors` is therefore "the text is not a clean decoding of the bytes in the
//! encoding they declared": U+FFFD was inserted, or a declared encoding was overruled.
//!
//! Every returned text is free of a leading BOM, and for XML the declaration's `encoding`
//! attribute is rewritten to `UTF-8`, because feed-rs decodes by that attribute and would
//! otherwise decode our UTF-8 a second time as GBK (or reject `encoding="bogus"`).

use std::sync::LazyLock;

use chardetng::{EncodingDetector, Iso2022JpDetection, Utf8Detection};
use encoding_rs::{BIG5, Encoding, GBK, UTF_8, UTF_16BE, UTF_16LE};
use regex::Regex;
use regex::bytes::Regex as BytesRegex;

/// Which signal decided the encoding (for debug logs and tests).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CharsetSource {
    /// The `charset=` parameter of the HTTP `Content-Type` header.
    Header,
    /// A byte order mark at the start of the body.
    Bom,
    /// The document's own declaration: `<?xml encoding?>` or an HTML `<meta>`.
    Declaration,
    /// The bytes themselves: UTF-8 validity, the XML UTF-16/32 byte pattern, or `chardetng`;
    /// also used when a declared encoding was overruled by the bytes.
    Sniffed,
    /// No signal at all (an empty or pure-ASCII body): UTF-8.
    Default,
}

/// A body decoded to UTF-8, with how its encoding was chosen.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decoded {
    /// The decoded text; never starts with a BOM. For XML, the declaration (if any) says
    /// `encoding="UTF-8"` or nothing.
    pub text: String,
    /// The encoding the bytes were read in. UTF-32, which `encoding_rs` does not model, is
    /// reported as `UTF_8` (the form of `text`) with source `Bom` or `Sniffed`.
    pub encoding: &'static Encoding,
    /// The signal that decided `encoding`.
    pub source: CharsetSource,
    /// True when `text` is not a clean decoding of the bytes in their declared encoding:
    /// malformed sequences were replaced by U+FFFD, or a declared encoding was overruled.
    pub had_errors: bool,
}

/// How many leading bytes are searched for an XML declaration.
const XML_DECL_WINDOW: usize = 1024;
/// How many leading bytes are searched for an HTML `<meta>` charset.
const HTML_PRESCAN_WINDOW: usize = 4096;
/// How many leading bytes `chardetng` sees (it only needs a sample).
const SNIFF_WINDOW: usize = 128 * 1024;
/// How many leading bytes must contain a NUL for a UTF-16 header label to be believed.
const UTF16_NUL_WINDOW: usize = 1024;
/// A body that is valid UTF-8 overrules a declared legacy encoding only with at least this
/// many non-ASCII characters.
const MIN_UTF8_OVERRULE: usize = 4;

/// `<?xml … encoding="label"` at the start of ASCII-compatible bytes.
static XML_DECL_BYTES: LazyLock<BytesRegex> = LazyLock::new(|| {
    BytesRegex::new(
        r#"(?-u)\A(?:\xEF\xBB\xBF)?\s*<\?xml\s[^>]*?\bencoding\s*=\s*["']\s*([A-Za-z0-9._:+\-]+)\s*["']"#,
    )
    .expect("static regex")
});

/// `<meta charset=label>` or `<meta http-equiv … content="…; charset=label">`.
static HTML_META_BYTES: LazyLock<BytesRegex> = LazyLock::new(|| {
    BytesRegex::new(r#"(?i-u)<meta\s[^>]*?\bcharset\s*=\s*["']?\s*([A-Za-z0-9._:+\-]+)"#)
        .expect("static regex")
});

/// The encoding attribute of an XML declaration in decoded text; group 1 or 2 is the value.
static XML_DECL_TEXT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"\A\s*<\?xml\s[^>]*?\bencoding\s*=\s*(?:"([^"]*)"|'([^']*)')"#).expect("static regex")
});

/// What kind of document is being decoded; decides which declarations are looked for.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Xml,
    Html,
    Text,
}

/// XML documents (feeds): BOM → UTF-16/32 byte pattern → header charset →
/// `<?xml … encoding="…"?>` → sniffing (chardetng, no TLD hint) → UTF-8.
///
/// The returned text has its XML declaration's encoding rewritten to `UTF-8`, because
/// feed-rs decodes by the declaration and would otherwise decode our UTF-8 as GBK a
/// second time.
pub fn decode_xml(body: &[u8], content_type: Option<&str>) -> Decoded {
    decode(body, content_type, Kind::Xml)
}

/// HTML pages: BOM → header charset → `<meta charset>` / `<meta http-equiv
/// content="…charset=…">` in the first 4096 bytes (then an XHTML `<?xml encoding?>`) →
/// sniffing → UTF-8.
pub fn decode_html(body: &[u8], content_type: Option<&str>) -> Decoded {
    decode(body, content_type, Kind::Html)
}

/// Anything else (JSON, JSONP, text): BOM → header charset → sniffing (valid UTF-8 stays
/// UTF-8) → UTF-8.
pub fn decode_text(body: &[u8], content_type: Option<&str>) -> Decoded {
    decode(body, content_type, Kind::Text)
}

/// The `charset=` parameter of a Content-Type header value, if any: parameter name
/// case-insensitive, spaces around `=` allowed, value quoted (`"…"` or `'…'`) or not.
/// `text/xml; charset:iso-8859-1` (no `=`) has none.
pub fn charset_from_content_type(content_type: &str) -> Option<&str> {
    content_type.split(';').skip(1).find_map(|param| {
        let (name, value) = param.split_once('=')?;
        if !name.trim().eq_ignore_ascii_case("charset") {
            return None;
        }
        let value = value.trim().trim_matches(|c| c == '"' || c == '\'').trim();
        (!value.is_empty()).then_some(value)
    })
}

fn decode(body: &[u8], content_type: Option<&str>, kind: Kind) -> Decoded {
    let decoded = choose_and_decode(body, content_type, kind);
    finish(decoded, kind)
}

fn choose_and_decode(body: &[u8], content_type: Option<&str>, kind: Kind) -> Decoded {
    if let Some(decoded) = decode_with_bom(body) {
        return decoded;
    }
    let header = content_type
        .and_then(charset_from_content_type)
        .and_then(encoding_for_label)
        .filter(|enc| !is_utf16(enc) || has_nul_near_start(body));
    if kind == Kind::Xml
        && let Some(wide) = xml_wide_pattern(body)
    {
        let source = match header {
            Some(enc) if wide.is_utf16() && is_utf16(enc) => CharsetSource::Header,
            _ => CharsetSource::Sniffed,
        };
        let mut decoded = wide.decode(body, source);
        if source == CharsetSource::Sniffed && text_declares_wide(&decoded.text) {
            decoded.source = CharsetSource::Declaration;
        }
        return decoded;
    }
    if let Some(enc) = header {
        return decode_declared(body, enc, CharsetSource::Header);
    }
    let declared = match kind {
        Kind::Xml => xml_declared_encoding(body),
        Kind::Html => html_declared_encoding(body).or_else(|| xml_declared_encoding(body)),
        Kind::Text => None,
    };
    if let Some(enc) = declared {
        return decode_declared(body, enc, CharsetSource::Declaration);
    }
    decode_undeclared(body)
}

/// Strips a leading U+FEFF (e.g. GB18030's own BOM) and, for XML, makes the declaration
/// say UTF-8.
fn finish(mut decoded: Decoded, kind: Kind) -> Decoded {
    if decoded.text.starts_with('\u{FEFF}') {
        decoded.text.drain(..'\u{FEFF}'.len_utf8());
    }
    if kind == Kind::Xml {
        rewrite_xml_declaration(&mut decoded.text);
    }
    decoded
}

/// Replaces the value of the XML declaration's `encoding` attribute by `UTF-8`, in place.
fn rewrite_xml_declaration(text: &mut String) {
    let range = XML_DECL_TEXT.captures(text).and_then(|caps| {
        let value = caps.get(1).or_else(|| caps.get(2))?;
        let label = value.as_str().trim();
        let already_utf8 = label.eq_ignore_ascii_case("utf-8") || label.eq_ignore_ascii_case("utf8");
        (!already_utf8).then(|| value.range())
    });
    if let Some(range) = range {
        text.replace_range(range, "UTF-8");
    }
}

/// Maps a charset label to an encoding: WHATWG labels via `Encoding::for_label`, plus a few
/// aliases servers send that WHATWG lacks. Unknown labels and WHATWG's "replacement" labels give `None`.
fn encoding_for_label(label: &str) -> Option<&'static Encoding> {
    let label = label.trim();
    if let Some(enc) = Encoding::for_label_no_replacement(label.as_bytes()) {
        return Some(enc);
    }
    let lower = label.to_ascii_lowercase();
    match lower.as_str() {
        "cp936" | "ms936" | "windows-936" | "euc-cn" | "gb_18030" | "gb-18030" => Some(GBK),
        "cp950" | "ms950" | "windows-950" | "big5hkscs" | "big5_hkscs" => Some(BIG5),
        "utf_8" => Some(UTF_8),
        _ => None,
    }
}

fn is_utf16(enc: &'static Encoding) -> bool {
    enc == UTF_16LE || enc == UTF_16BE
}

/// UTF-16 text with any markup or ASCII in it has NUL bytes; a body without one near its
/// start is not UTF-16 whatever the header says.
fn has_nul_near_start(body: &[u8]) -> bool {
    body[..body.len().min(UTF16_NUL_WINDOW)].contains(&0)
}

/// A declaration read from ASCII-compatible bytes cannot truthfully say UTF-16.
fn ascii_declared(enc: &'static Encoding) -> &'static Encoding {
    if is_utf16(enc) { UTF_8 } else { enc }
}

fn xml_declared_encoding(body: &[u8]) -> Option<&'static Encoding> {
    let window = &body[..body.len().min(XML_DECL_WINDOW)];
    let caps = XML_DECL_BYTES.captures(window)?;
    let label = std::str::from_utf8(caps.get(1)?.as_bytes()).ok()?;
    encoding_for_label(label).map(ascii_declared)
}

fn html_declared_encoding(body: &[u8]) -> Option<&'static Encoding> {
    let window = &body[..body.len().min(HTML_PRESCAN_WINDOW)];
    HTML_META_BYTES.captures_iter(window).find_map(|caps| {
        let label = std::str::from_utf8(caps.get(1)?.as_bytes()).ok()?;
        encoding_for_label(label).map(ascii_declared)
    })
}

/// Does the decoded text's XML declaration name a UTF-16 or UTF-32 encoding?
fn text_declares_wide(text: &str) -> bool {
    XML_DECL_TEXT
        .captures(text)
        .and_then(|caps| caps.get(1).or_else(|| caps.get(2)))
        .is_some_and(|value| {
            let label: String = value
                .as_str()
                .chars()
                .filter(|c| c.is_ascii_alphanumeric())
                .map(|c| c.to_ascii_lowercase())
                .collect();
            label.starts_with("utf16")
                || label.starts_with("utf32")
                || label.starts_with("ucs")
                || label == "unicode"
        })
}

/// Decodes a body whose first bytes are a BOM; `None` without one.
fn decode_with_bom(body: &[u8]) -> Option<Decoded> {
    if body.starts_with(&[0x00, 0x00, 0xFE, 0xFF]) {
        return Some(Wide::Utf32Be.decode(&body[4..], CharsetSource::Bom));
    }
    if body.starts_with(&[0xFF, 0xFE, 0x00, 0x00]) {
        return Some(Wide::Utf32Le.decode(&body[4..], CharsetSource::Bom));
    }
    let (enc, bom_len) = Encoding::for_bom(body)?;
    let rest = &body[bom_len..];
    let (text, had_errors) = if enc == UTF_8 {
        utf8_lossy(rest)
    } else {
        let (text, had_errors) = enc.decode_without_bom_handling(rest);
        (text.into_owned(), had_errors)
    };
    Some(Decoded {
        text,
        encoding: enc,
        source: CharsetSource::Bom,
        had_errors,
    })
}

/// The wide Unicode encodings an XML document can be recognised in without a BOM.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Wide {
    Utf16Be,
    Utf16Le,
    Utf32Be,
    Utf32Le,
}

impl Wide {
    fn is_utf16(self) -> bool {
        matches!(self, Wide::Utf16Be | Wide::Utf16Le)
    }

    fn decode(self, bytes: &[u8], source: CharsetSource) -> Decoded {
        let (text, encoding, had_errors) = match self {
            Wide::Utf16Be => {
                let (text, errors) = UTF_16BE.decode_without_bom_handling(bytes);
                (text.into_owned(), UTF_16BE, errors)
            }
            Wide::Utf16Le => {
                let (text, errors) = UTF_16LE.decode_without_bom_handling(bytes);
                (text.into_owned(), UTF_16LE, errors)
            }
            Wide::Utf32Be => {
                let (text, errors) = decode_utf32(bytes, u32::from_be_bytes);
                (text, UTF_8, errors)
            }
            Wide::Utf32Le => {
                let (text, errors) = decode_utf32(bytes, u32::from_le_bytes);
                (text, UTF_8, errors)
            }
        };
        Decoded {
            text,
            encoding,
            source,
            had_errors,
        }
    }
}

/// XML 1.0 Appendix F: a document without a BOM starts with `<` (or whitespace), whose
/// NUL padding gives away UTF-16 and UTF-32 and their byte order.
fn xml_wide_pattern(body: &[u8]) -> Option<Wide> {
    let is_start = |b: u8| matches!(b, b'<' | b' ' | b'\t' | b'\r' | b'\n');
    let is_ascii_nonnul = |b: u8| b != 0 && b.is_ascii();
    match *body.get(..4)? {
        [0, 0, 0, c] if is_start(c) => Some(Wide::Utf32Be),
        [c, 0, 0, 0] if is_start(c) => Some(Wide::Utf32Le),
        [0, c, 0, d] if is_start(c) && is_ascii_nonnul(d) => Some(Wide::Utf16Be),
        [c, 0, d, 0] if is_start(c) && is_ascii_nonnul(d) => Some(Wide::Utf16Le),
        _ => None,
    }
}

/// Decodes UTF-32 (not in `encoding_rs`); invalid code points and a trailing partial
/// unit become U+FFFD.
fn decode_utf32(bytes: &[u8], unit: fn([u8; 4]) -> u32) -> (String, bool) {
    let chunks = bytes.chunks_exact(4);
    let partial = !chunks.remainder().is_empty();
    let mut had_errors = partial;
    let mut text = String::with_capacity(bytes.len() / 4);
    for chunk in chunks {
        let code = unit([chunk[0], chunk[1], chunk[2], chunk[3]]);
        match char::from_u32(code) {
            Some(c) => text.push(c),
            None => {
                text.push(char::REPLACEMENT_CHARACTER);
                had_errors = true;
            }
        }
    }
    if partial {
        text.push(char::REPLACEMENT_CHARACTER);
    }
    (text, had_errors)
}

/// Decodes a body in the encoding a header or declaration named, with the corrections
/// described in the module documentation.
fn decode_declared(body: &[u8], enc: &'static Encoding, source: CharsetSource) -> Decoded {
    if enc == UTF_8 {
        if let Ok(text) = std::str::from_utf8(body) {
            return clean(text.to_owned(), UTF_8, source);
        }
        let profile = Utf8Profile::of(body);
        if profile.mostly_utf8(2) {
            let (text, _) = utf8_lossy(body);
            return Decoded {
                text,
                encoding: UTF_8,
                source,
                had_errors: true,
            };
        }
        let mut decoded = decode_sniffed(body);
        decoded.had_errors = true;
        return decoded;
    }
    if enc.is_ascii_compatible() && !body.is_ascii() {
        let profile = Utf8Profile::of(body);
        if profile.multibyte >= MIN_UTF8_OVERRULE && profile.mostly_utf8(8) {
            let (text, _) = utf8_lossy(body);
            return Decoded {
                text,
                encoding: UTF_8,
                source: CharsetSource::Sniffed,
                had_errors: true,
            };
        }
    }
    let (text, had_errors) = enc.decode_without_bom_handling(body);
    if had_errors && enc.is_ascii_compatible() {
        let sniffed = sniff(body);
        if sniffed != enc {
            let (alt, alt_errors) = sniffed.decode_without_bom_handling(body);
            if !alt_errors {
                return Decoded {
                    text: alt.into_owned(),
                    encoding: sniffed,
                    source: CharsetSource::Sniffed,
                    had_errors: true,
                };
            }
        }
    }
    Decoded {
        text: text.into_owned(),
        encoding: enc,
        source,
        had_errors,
    }
}

/// No signal named an encoding: valid UTF-8 stays UTF-8 (`Default` when pure ASCII), UTF-8
/// with a few bad bytes stays UTF-8, anything else is sniffed.
fn decode_undeclared(body: &[u8]) -> Decoded {
    if let Ok(text) = std::str::from_utf8(body) {
        let source = if text.is_ascii() {
            CharsetSource::Default
        } else {
            CharsetSource::Sniffed
        };
        return clean(text.to_owned(), UTF_8, source);
    }
    let profile = Utf8Profile::of(body);
    if profile.multibyte >= MIN_UTF8_OVERRULE && profile.mostly_utf8(8) {
        let (text, _) = utf8_lossy(body);
        return Decoded {
            text,
            encoding: UTF_8,
            source: CharsetSource::Sniffed,
            had_errors: true,
        };
    }
    decode_sniffed(body)
}

/// Decodes in the encoding `chardetng` guesses.
fn decode_sniffed(body: &[u8]) -> Decoded {
    let enc = sniff(body);
    let (text, had_errors) = enc.decode_without_bom_handling(body);
    Decoded {
        text: text.into_owned(),
        encoding: enc,
        source: CharsetSource::Sniffed,
        had_errors,
    }
}

/// `chardetng`'s guess for a legacy-encoded body (never UTF-8: validity is checked apart).
fn sniff(body: &[u8]) -> &'static Encoding {
    let mut detector = EncodingDetector::new(Iso2022JpDetection::Deny);
    let whole = body.len() <= SNIFF_WINDOW;
    detector.feed(&body[..body.len().min(SNIFF_WINDOW)], whole);
    detector.guess(None, Utf8Detection::Deny)
}

fn clean(text: String, encoding: &'static Encoding, source: CharsetSource) -> Decoded {
    Decoded {
        text,
        encoding,
        source,
        had_errors: false,
    }
}

/// UTF-8 decoding with U+FFFD for malformed sequences; one copy when the bytes are valid.
fn utf8_lossy(bytes: &[u8]) -> (String, bool) {
    match String::from_utf8_lossy(bytes) {
        std::borrow::Cow::Borrowed(text) => (text.to_owned(), false),
        std::borrow::Cow::Owned(text) => (text, true),
    }
}

/// How much of a body reads as UTF-8: valid multi-byte characters against malformed
/// sequences.
#[derive(Default)]
struct Utf8Profile {
    multibyte: usize,
    errors: usize,
}

impl Utf8Profile {
    fn of(mut bytes: &[u8]) -> Self {
        let mut profile = Utf8Profile::default();
        loop {
            match std::str::from_utf8(bytes) {
                Ok(valid) => {
                    profile.multibyte += count_multibyte(valid.as_bytes());
                    return profile;
                }
                Err(err) => {
                    let (valid, rest) = bytes.split_at(err.valid_up_to());
                    profile.multibyte += count_multibyte(valid);
                    profile.errors += 1;
                    match err.error_len() {
                        Some(len) => bytes = &rest[len..],
                        None => return profile,
                    }
                }
            }
        }
    }

    /// At least `ratio` valid multi-byte characters per malformed sequence, and some.
    fn mostly_utf8(&self, ratio: usize) -> bool {
        self.multibyte > 0 && self.multibyte >= ratio.saturating_mul(self.errors)
    }
}

/// Number of characters of at least two bytes in valid UTF-8 (lead bytes ≥ 0xC0).
fn count_multibyte(valid_utf8: &[u8]) -> usize {
    valid_utf8.iter().filter(|&&b| b >= 0xC0).count()
}

#[cfg(test)]
mod tests;
