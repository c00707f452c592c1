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
mod tests {
    use super::*;
    use crate::config::JsonFields;
    use crate::dates::{Precision, format_local, format_utc};

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2022-04-20T00:00:00Z")
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default()
    }

    fn config() -> JsonListConfig {
        JsonListConfig {
            items: "/data/list".into(),
            fields: JsonFields {
                info_code: Some("/code".into()),
                title: "/title".into(),
                published: Some("/showTime".into()),
                media: Some("/mediaName".into()),
                summary: Some("/summary".into()),
                url: Some("/url".into()),
                content: None,
            },
            detail_url: None,
            detail_content: None,
        }
    }

    fn base() -> Url {
        Url::parse("https://np-listapi.eastmoney.com/comm/web/getNewsByColumns?column=345")
            .unwrap_or_else(|e| panic!("base url: {e}"))
    }

    const EAST_MONEY: &str = r#"{"data":{"list":[
        {"code":"202204192348095567","title":"刚刚 工信部明确表态 二季度工业经济稳增长有四大举措！",
         "showTime":"2022-04-19 12:22:44","mediaName":"证券日报网",
         "summary":"工信部新闻发言人表示……","url":"http://finance.eastmoney.com/a/202204192348095567.html"},
        {"code":"NW202204192348011111","title":"第二条","showTime":"2022-04-19 09:05:00",
         "mediaName":"中国证券报","summary":"","url":"//finance.eastmoney.com/a/202204192348011111.html"}
    ]},"code":0,"message":"success"}"#;

    fn parse_ok(body: &str) -> JsonList {
        parse_list(
            body.as_bytes(),
            None,
            &config(),
            &base(),
            chrono_tz::Asia::Shanghai,
            now(),
        )
        .unwrap_or_else(|e| panic!("parse failed: {e}"))
    }

    fn check_east_money(list: &JsonList) {
        assert!(list.skipped.is_empty(), "{:?}", list.skipped);
        assert_eq!(list.entries.len(), 2);
        let e = &list.entries[0];
        assert_eq!(e.info_code.as_deref(), Some("202204192348095567"));
        assert_eq!(e.guid.as_deref(), Some("202204192348095567"));
        assert_eq!(
            e.title.as_deref(),
            Some("刚刚 工信部明确表态 二季度工业经济稳增长有四大举措！")
        );
        let published = e.published.unwrap_or_else(|| panic!("no date"));
        assert_eq!(format_utc(published.utc), "2022-04-19T04:22:44Z");
        assert_eq!(format_local(published.local), "2022-04-19T12:22:44+08:00");
        assert_eq!(published.precision, Precision::NaiveSeconds);
        assert_eq!(e.media, Some(("证券日报网".to_owned(), MediaRank::Field)));
        assert_eq!(e.summary.as_deref(), Some("工信部新闻发言人表示……"));
        assert_eq!(
            e.link.as_deref(),
            Some("http://finance.eastmoney.com/a/202204192348095567.html")
        );
        assert_eq!(e.content, None);

        let second = &list.entries[1];
        assert_eq!(second.info_code.as_deref(), Some("NW202204192348011111"));
        assert_eq!(second.summary, None, "an empty summary is no summary");
        assert_eq!(
            second.link.as_deref(),
            Some("https://finance.eastmoney.com/a/202204192348011111.html"),
            "protocol-relative URLs take the list's scheme"
        );
        assert_eq!(
            second.published.map(|p| format_utc(p.utc)).as_deref(),
            Some("2022-04-19T01:05:00Z")
        );
    }

    #[test]
    fn east_money_list() {
        check_east_money(&parse_ok(EAST_MONEY));
    }

    #[test]
    fn east_money_list_with_bom_and_charset_header() {
        let body = format!("\u{FEFF}  \n{EAST_MONEY}\n");
        let list = parse_list(
            body.as_bytes(),
            Some("application/json; charset=utf-8"),
            &config(),
            &base(),
            chrono_tz::Asia::Shanghai,
            now(),
        )
        .unwrap_or_else(|e| panic!("parse failed: {e}"));
        check_east_money(&list);
    }

    #[test]
    fn gbk_named_in_content_type() {
        let body = format!("cb({EAST_MONEY});");
        let (gbk, _, _) = encoding_rs::GBK.encode(&body);
        let list = parse_list(
            &gbk,
            Some("application/javascript; charset=GBK"),
            &config(),
            &base(),
            chrono_tz::Asia::Shanghai,
            now(),
        )
        .unwrap_or_else(|e| panic!("parse failed: {e}"));
        check_east_money(&list);
    }

    #[test]
    fn jsonp_forms() {
        for body in [
            format!("jQuery1123049_1650342164000({EAST_MONEY})"),
            format!("jQuery1123049_1650342164000({EAST_MONEY});\n"),
            format!("/**/ cb( {EAST_MONEY} );"),
            format!("var newsList = {EAST_MONEY};"),
            format!("window.newsList={EAST_MONEY}"),
            format!("var newsList = {EAST_MONEY}; var total = 2;"),
        ] {
            check_east_money(&parse_ok(&body));
        }
    }

    #[test]
    fn unwrap_jsonp_cases() {
        assert_eq!(unwrap_jsonp(r#"cb({"a":1})"#), r#"{"a":1}"#);
        assert_eq!(unwrap_jsonp(r#"cb({"a":1});"#), r#"{"a":1}"#);
        assert_eq!(unwrap_jsonp("var x = [1, 2];\n"), "[1, 2]");
        assert_eq!(unwrap_jsonp(r#"/**/cb({"a":"(b)"})"#), r#"{"a":"(b)"}"#);
        assert_eq!(unwrap_jsonp("\u{FEFF} {\"a\":1} "), r#"{"a":1}"#);
        assert_eq!(unwrap_jsonp("<html></html>"), "<html></html>");
    }

    #[test]
    fn numeric_code_and_epoch_millis() {
        let body = r#"{"data":{"list":[{"code":202204192348095567,"title":12345,
            "showTime":1650342164000,"url":"/a/202204192348095567.html"},
            {"code":"x","title":"秒","showTime":1650342164.0}]}}"#;
        let list = parse_ok(body);
        assert!(list.skipped.is_empty(), "{:?}", list.skipped);
        let e = &list.entries[0];
        assert_eq!(e.info_code.as_deref(), Some("202204192348095567"));
        assert_eq!(e.title.as_deref(), Some("12345"));
        let published = e.published.unwrap_or_else(|| panic!("no date"));
        assert_eq!(format_utc(published.utc), "2022-04-19T04:22:44Z");
        assert_eq!(published.precision, Precision::OffsetSeconds);
        assert_eq!(
            e.link.as_deref(),
            Some("https://np-listapi.eastmoney.com/a/202204192348095567.html")
        );
        assert_eq!(
            list.entries[1].published.map(|p| format_utc(p.utc)).as_deref(),
            Some("2022-04-19T04:22:44Z"),
            "a whole float is an epoch time too"
        );
    }

    #[test]
    fn item_without_title_is_skipped_with_reason() {
        let body = r#"{"data":{"list":[{"title":"一"},{"code":"1"},{"title":{"x":1}},
            {"title":"  "},{"title":"五","mediaName":["bad"],"showTime":"不是日期","url":"javascript:void(0)"}]}}"#;
        let list = parse_ok(body);
        assert_eq!(
            list.entries
                .iter()
                .map(|e| e.title.as_deref())
                .collect::<Vec<_>>(),
            vec![Some("一"), Some("五")]
        );
        assert_eq!(
            list.skipped,
            vec![
                "item 1: no title at /title".to_owned(),
                "item 2: no title at /title (found an object, not a string)".to_owned(),
                "item 3: empty title at /title".to_owned(),
            ]
        );
        let last = &list.entries[1];
        assert_eq!(last.media, None);
        assert_eq!(last.published, None);
        assert_eq!(last.link, None);
    }

    #[test]
    fn content_field_and_root_array() {
        let mut cfg = config();
        cfg.items = String::new();
        cfg.fields.content = Some("/body".into());
        let body = r#"[{"title":"t","body":"<p>正文</p>"}]"#;
        let list = parse_list(
            body.as_bytes(),
            None,
            &cfg,
            &base(),
            chrono_tz::Asia::Shanghai,
            now(),
        )
        .unwrap_or_else(|e| panic!("parse failed: {e}"));
        assert_eq!(list.entries.len(), 1);
        assert_eq!(
            list.entries[0].content,
            Some(("<p>正文</p>".to_owned(), ContentRank::Feed))
        );
    }

    #[test]
    fn jsonp_around_non_json_is_an_error() {
        let err = parse_list(
            b"jQuery123(<html>busy</html>);",
            None,
            &config(),
            &base(),
            chrono_tz::Asia::Shanghai,
            now(),
        )
        .err()
        .unwrap_or_else(|| panic!("accepted non-JSON"));
        assert!(matches!(err, JsonError::JsonpNotJson { .. }), "{err:?}");
        assert!(
            err.to_string()
                .starts_with("JSONP wrapper does not contain JSON: "),
            "{err}"
        );

        let err = parse_detail(b"<html>busy</html>", None, "/text")
            .err()
            .unwrap_or_else(|| panic!("accepted HTML"));
        assert!(matches!(err, JsonError::NotJson { .. }), "{err:?}");
    }

    #[test]
    fn no_array_at_pointer_is_an_error() {
        let err = parse_list(
            br#"{"data":{"list":{"a":1}}}"#,
            None,
            &config(),
            &base(),
            chrono_tz::Asia::Shanghai,
            now(),
        )
        .err()
        .unwrap_or_else(|| panic!("accepted an object"));
        assert!(matches!(err, JsonError::NoArray { .. }), "{err:?}");
        assert_eq!(err.to_string(), "no array at /data/list: found an object");

        let err = parse_list(
            br#"{"data":null,"message":"no data"}"#,
            None,
            &config(),
            &base(),
            chrono_tz::Asia::Shanghai,
            now(),
        )
        .err()
        .unwrap_or_else(|| panic!("accepted a missing list"));
        assert!(matches!(err, JsonError::MissingPointer { .. }), "{err:?}");
        assert_eq!(err.to_string(), "nothing at JSON pointer /data/list");
    }

    #[test]
    fn detail_body() {
        let json = r#"{"data":{"text":"<p>正文</p>"}}"#;
        let html = parse_detail(json.as_bytes(), None, "/data/text").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(html, "<p>正文</p>");
        let jsonp = format!("cb({json});");
        let html = parse_detail(jsonp.as_bytes(), Some("application/javascript"), "/data/text")
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(html, "<p>正文</p>");

        let err = parse_detail(json.as_bytes(), None, "/text").err();
        assert!(matches!(err, Some(JsonError::MissingPointer { .. })), "{err:?}");
        let err = parse_detail(br#"{"text":{"p":1}}"#, None, "/text").err();
        assert!(matches!(err, Some(JsonError::NotText { .. })), "{err:?}");
        let err = parse_detail(br#"{"text":" "}"#, None, "/text").err();
        assert!(matches!(err, Some(JsonError::EmptyText { .. })), "{err:?}");
    }
}
