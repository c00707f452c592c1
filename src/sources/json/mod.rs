//! JSON and JSONP list endpoints (East Money's news columns) and their per-item detail
//! responses.
//!
//! This module owns reading such a body: decoding it to UTF-8 through [`crate::charset`],
//! peeling a JSONP wrapper off (`cb({...})`, `var x = {...};`), finding the items at the
//! configured JSON pointers (RFC 6901) and turning each into an [`Entry`] — the values as
//! the publisher wrote them, dates through [`crate::dates`], links made absolute. Strings and
//! numbers are accepted wherever a value is expected. It never normalizes infoCodes (a bare
//! 18-digit id stays bare), never deduplicates, never fetches a detail URL and never does
//! any other I/O.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde_json::Value;
use url::Url;

use super::{ContentRank, Entry, MediaRank};
use crate::charset;
use crate::config::JsonListConfig;
use crate::dates;

/// A JSON list or detail response that could not be used at all.
#[derive(Debug, thiserror::Error)]
pub enum JsonError {
    /// The body is not JSON and carries no recognizable JSONP wrapper.
    #[error("response is not JSON: {message}")]
    NotJson {
        /// The parser's complaint and the start of the body.
        message: String,
    },
    /// The body is a JSONP wrapper (`cb(...)`, `var x = ...;`) around something that is not JSON.
    #[error("JSONP wrapper does not contain JSON: {message}")]
    JsonpNotJson {
        /// The parser's complaint and the start of the wrapped text.
        message: String,
    },
    /// The items pointer names a value that is not an array.
    #[error("no array at {}: found {found}", show(pointer))]
    NoArray {
        /// The configured `items` pointer.
        pointer: String,
        /// What is there instead (`an object`, `null`, …).
        found: &'static str,
    },
    /// Nothing at all is at the pointer (a missing key, an index out of range, or a pointer
    /// that does not start with `/`).
    #[error("nothing at JSON pointer {}", show(pointer))]
    MissingPointer {
        /// The pointer that led nowhere.
        pointer: String,
    },
    /// The detail pointer names a value that is not text.
    #[error("no text at {}: found {found}", show(pointer))]
    NotText {
        /// The configured `detail_content` pointer.
        pointer: String,
        /// What is there instead.
        found: &'static str,
    },
    /// The detail pointer names an empty (or whitespace-only) string.
    #[error("empty text at {}", show(pointer))]
    EmptyText {
        /// The configured `detail_content` pointer.
        pointer: String,
    },
}

/// Items of one list response; `skipped` holds one human-readable reason per item that could
/// not be used.
#[derive(Clone, Debug, Default)]
pub struct JsonList {
    /// The usable items, in document order.
    pub entries: Vec<Entry>,
    /// One reason per dropped item, e.g. `item 3: no title at /title` (items are numbered
    /// from 0, as in the array).
    pub skipped: Vec<String>,
}

/// Parses a list response: the array at `list.items`, each element mapped by `list.fields`.
///
/// `content_type` is the HTTP header (for the charset); `base_url` (the list URL) resolves
/// relative and protocol-relative item URLs; `tz` reads naive times; `now` resolves relative
/// ones. `info_code` becomes both [`Entry::info_code`] and [`Entry::guid`], as given (a
/// number becomes its decimal text). An item without a usable title is dropped and listed in
/// [`JsonList::skipped`]; an optional field of the wrong type, or a date or URL that cannot
/// be read, is left out of its entry (logged at debug).
pub fn parse_list(
    body: &[u8],
    content_type: Option<&str>,
    list: &JsonListConfig,
    base_url: &Url,
    tz: Tz,
    now: DateTime<Utc>,
) -> Result<JsonList, JsonError> {
    let text = charset::decode_text(body, content_type).text;
    let root = parse_json(&text)?;
    let items = match root.pointer(&list.items) {
        None => {
            return Err(JsonError::MissingPointer {
                pointer: list.items.clone(),
            });
        }
        Some(Value::Array(items)) => items,
        Some(other) => {
            return Err(JsonError::NoArray {
                pointer: list.items.clone(),
                found: type_name(other),
            });
        }
    };

    let fields = &list.fields;
    let mut out = JsonList::default();
    for (index, item) in items.iter().enumerate() {
        let title = match scalar(item, &fields.title) {
            Scalar::Text(t) if !t.trim().is_empty() => t,
            Scalar::Text(_) => {
                out.skipped
                    .push(format!("item {index}: empty title at {}", show(&fields.title)));
                continue;
            }
            Scalar::Missing => {
                out.skipped
                    .push(format!("item {index}: no title at {}", show(&fields.title)));
                continue;
            }
            Scalar::Wrong(found) => {
                out.skipped.push(format!(
                    "item {index}: no title at {} (found {found}, not a string)",
                    show(&fields.title)
                ));
                continue;
            }
        };
        let field = |name: &str, pointer: &Option<String>| -> Option<String> {
            optional_text(item, index, name, pointer.as_deref()?)
        };

        let code = field("info_code", &fields.info_code);
        let published = field("published", &fields.published).and_then(|raw| {
            let parsed = dates::parse(&raw, tz, now);
            if parsed.is_none() {
                tracing::debug!(item = index, raw = %raw, "json list: unreadable published time ignored");
            }
            parsed
        });
        let link = field("url", &fields.url).and_then(|raw| {
            let resolved = resolve_link(base_url, &raw);
            if resolved.is_none() {
                tracing::debug!(item = index, raw = %raw, "json list: unusable url ignored");
            }
            resolved
        });

        out.entries.push(Entry {
            guid: code.clone(),
            info_code: code,
            link,
            title: Some(title),
            published,
            media: field("media", &fields.media).map(|m| (m, MediaRank::Field)),
            summary: field("summary", &fields.summary),
            content: field("content", &fields.content).map(|c| (c, ContentRank::Feed)),
            ..Entry::default()
        });
    }
    Ok(out)
}

/// The HTML body of a detail response at `pointer` (JSON or JSONP).
///
/// A number is accepted as its text; anything else at the pointer, or an empty string, is an
/// error.
pub fn parse_detail(body: &[u8], content_type: Option<&str>, pointer: &str) -> Result<String, JsonError> {
    let text = charset::decode_text(body, content_type).text;
    let root = parse_json(&text)?;
    let value = root.pointer(pointer).ok_or_else(|| JsonError::MissingPointer {
        pointer: pointer.to_owned(),
    })?;
    match scalar_of(value) {
        Scalar::Text(t) if t.trim().is_empty() => Err(JsonError::EmptyText {
            pointer: pointer.to_owned(),
        }),
        Scalar::Text(t) => Ok(t),
        Scalar::Missing => Err(JsonError::NotText {
            pointer: pointer.to_owned(),
            found: "null",
        }),
        Scalar::Wrong(found) => Err(JsonError::NotText {
            pointer: pointer.to_owned(),
            found,
        }),
    }
}

/// The JSON inside a JSONP wrapper: `cb({...})`, `cb({...});`, `var x = {...};`,
/// `/**/cb(...)`, `window.x = {...}`, or the text itself (trimmed, without a BOM) when it is
/// plain JSON or no wrapper is recognized.
pub fn unwrap_jsonp(text: &str) -> &str {
    unwrap(text).0
}

/// [`unwrap_jsonp`], also saying whether a wrapper was removed.
fn unwrap(text: &str) -> (&str, bool) {
    let plain = text.trim_start_matches('\u{FEFF}').trim();
    let mut t = plain;
    // Leading `/**/` (and other block or line comments) that JSONP servers prepend.
    loop {
        if let Some(rest) = t.strip_prefix("/*") {
            match rest.find("*/") {
                Some(end) => t = rest[end + 2..].trim_start(),
                None => return (plain, false),
            }
        } else if let Some(rest) = t.strip_prefix("//") {
            match rest.find('\n') {
                Some(end) => t = rest[end + 1..].trim_start(),
                None => return (plain, false),
            }
        } else {
            break;
        }
    }
    if t.starts_with(['{', '[', '"']) {
        return (t, t.len() != plain.len());
    }
    let body = t.trim_end_matches(|c: char| c == ';' || c.is_whitespace());

    // `var x = {...}`, `window.x = {...}`, `x = {...}`.
    let assigned = ["var ", "let ", "const "]
        .iter()
        .find_map(|kw| body.strip_prefix(kw))
        .unwrap_or(body);
    if let Some(eq) = assigned.find('=') {
        let (name, value) = (assigned[..eq].trim(), assigned[eq + 1..].trim_start());
        if !name.is_empty() && name.chars().all(is_callback_char) && !value.starts_with('=') {
            return (value, true);
        }
    }

    // `cb({...})`, `jQuery123_456({...})`, `a.b["c"]( {...} )`.
    if let (Some(open), true) = (body.find('('), body.ends_with(')')) {
        let name = body[..open].trim();
        if !name.is_empty() && name.chars().all(|c| is_callback_char(c) || "[]'\"".contains(c)) {
            return (body[open + 1..body.len() - 1].trim(), true);
        }
    }
    (plain, false)
}

/// A character of a JavaScript callback or variable path (`jQuery123_4`, `window.x`).
fn is_callback_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '$' || c == '.'
}

/// Parses the (possibly JSONP-wrapped) text as JSON. Inside a wrapper, statements after the
/// value (`var x = {...}; var y = 2;`) are ignored.
fn parse_json(text: &str) -> Result<Value, JsonError> {
    let (json, wrapped) = unwrap(text);
    let error = match serde_json::from_str(json) {
        Ok(value) => return Ok(value),
        Err(e) => e,
    };
    if wrapped {
        let mut stream = serde_json::Deserializer::from_str(json).into_iter::<Value>();
        if let Some(Ok(value)) = stream.next()
            && json[stream.byte_offset()..].trim_start().starts_with(';')
        {
            return Ok(value);
        }
    }
    let message = format!("{error} (text starts {:?})", excerpt(json));
    Err(if wrapped {
        JsonError::JsonpNotJson { message }
    } else {
        JsonError::NotJson { message }
    })
}

/// The first 60 characters of `text`, for error messages.
fn excerpt(text: &str) -> String {
    const MAX: usize = 60;
    let mut out: String = text.chars().take(MAX).collect();
    if text.chars().nth(MAX).is_some() {
        out.push('…');
    }
    out
}

/// A value read where text is expected.
enum Scalar {
    /// A string, or a number's decimal text.
    Text(String),
    /// Absent or `null`.
    Missing,
    /// Something else: its JSON type.
    Wrong(&'static str),
}

/// The value at `pointer` in `item`, as text.
fn scalar(item: &Value, pointer: &str) -> Scalar {
    item.pointer(pointer).map_or(Scalar::Missing, scalar_of)
}

/// A JSON value as text: strings as they are, numbers as their decimal text (a float with no
/// fractional part as an integer, so that `1650342164000.0` stays an epoch time).
fn scalar_of(value: &Value) -> Scalar {
    match value {
        Value::String(s) => Scalar::Text(s.clone()),
        Value::Number(n) => Scalar::Text(match (n.as_u64(), n.as_i64(), n.as_f64()) {
            (Some(u), _, _) => u.to_string(),
            (None, Some(i), _) => i.to_string(),
            (None, None, Some(f)) if f.fract() == 0.0 && f.abs() < 1e18 => format!("{f:.0}"),
            _ => n.to_string(),
        }),
        Value::Null => Scalar::Missing,
        other => Scalar::Wrong(type_name(other)),
    }
}

/// An optional field of item `index`: non-empty text, or `None` (logged when of the wrong type).
fn optional_text(item: &Value, index: usize, name: &str, pointer: &str) -> Option<String> {
    match scalar(item, pointer) {
        Scalar::Text(t) if !t.trim().is_empty() => Some(t),
        Scalar::Text(_) | Scalar::Missing => None,
        Scalar::Wrong(found) => {
            tracing::debug!(
                item = index,
                field = name,
                pointer,
                found,
                "json list: field of the wrong type ignored"
            );
            None
        }
    }
}

/// An item URL made absolute against the list URL; only `http` and `https` results count.
fn resolve_link(base_url: &Url, raw: &str) -> Option<String> {
    let raw = raw.trim();
    if raw.is_empty() || raw.starts_with('#') || raw.to_ascii_lowercase().starts_with("javascript:") {
        return None;
    }
    let url = base_url.join(raw).ok()?;
    matches!(url.scheme(), "http" | "https").then(|| url.to_string())
}

/// A JSON pointer for messages: `/data/list`, or `the root` for `""`.
fn show(pointer: &str) -> &str {
    if pointer.is_empty() { "the root" } else { pointer }
}

/// A JSON value's type, for messages.
fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests;
