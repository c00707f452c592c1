//! Search for Chinese readers: how the user's text becomes an index lookup, and the snippet
//! shown with a hit. The SQL is in the store (`Reader::search`); this module holds the text
//! rules both the writer (bigram index) and the reader share. Design and figures:
//! docs/search.md.
//!
//! Two FTS5 indexes answer a literal query: `articles_fts` (trigram, any substring of three
//! or more characters, Latin case-insensitive) and `articles_bigrams` (the overlapping pairs
//! of every run of CJK ideographs, `detail=none`), which answers the two-character words
//! (股市, 银行) that a trigram index cannot. Anything else short (one character, `A股`) is
//! found by a scan of the text, newest first.

use thiserror::Error;

/// What the user asked for.
#[derive(Clone, Debug)]
pub struct SearchRequest {
    /// The user's text: a literal phrase, or an FTS5 query when `fts` is set.
    pub query: String,
    /// Pass `query` to the trigram index as FTS5 query syntax.
    pub fts: bool,
    /// At most this many hits.
    pub limit: usize,
    /// Only articles published (or, without a date, first seen) at or after this RFC 3339
    /// UTC time.
    pub since: Option<String>,
    /// Only articles seen by the source of this name.
    pub source: Option<String>,
}

/// One article found.
#[derive(Clone, Debug, serde::Serialize)]
pub struct SearchHit {
    /// `articles.id`.
    pub id: i64,
    /// The title.
    pub title: String,
    /// RFC 3339 UTC, if known.
    pub published_at: Option<String>,
    /// The article's URL.
    pub url: Option<String>,
    /// The outlet.
    pub media: Option<String>,
    /// A piece of the title or text around the first match, the match between
    /// [`MARK_OPEN`] and [`MARK_CLOSE`].
    pub snippet: String,
}

/// Opens a match in a snippet.
pub const MARK_OPEN: &str = "[";
/// Closes a match in a snippet.
pub const MARK_CLOSE: &str = "]";

/// How a literal query is looked up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Lookup {
    /// The trigram index, with this FTS5 query (a quoted phrase, or the user's own syntax).
    Trigram(String),
    /// The bigram index, with this single-token FTS5 query.
    Bigram(String),
    /// A newest-first scan for this substring.
    Scan(String),
}

/// Why a search cannot run as asked.
#[derive(Debug, Error)]
pub enum SearchError {
    /// Nothing to search for.
    #[error("the search text is empty: give a word, e.g. `feedcrawler search 股市`")]
    Empty,
    /// `--fts` with a query FTS5 refuses.
    #[error(
        "not a valid FTS5 query ({reason}): fix its syntax, or drop --fts to search for the text as written"
    )]
    BadFtsQuery {
        /// SQLite's message.
        reason: String,
    },
    /// `--source` names no source in the database.
    #[error("no source named {0:?} in the database: `feedcrawler sources` lists them")]
    UnknownSource(String),
    /// `--since` is not a date.
    #[error("--since {0:?} is not a date: use YYYY-MM-DD or an RFC 3339 time")]
    BadSince(String),
    /// The database could not be read.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

impl SearchError {
    /// Whether the user can fix it by changing the command (exit 2) rather than a failure
    /// of the database (exit 1).
    pub fn is_usage(&self) -> bool {
        !matches!(self, SearchError::Store(_))
    }
}

/// Whether `c` is a CJK ideograph, the characters the bigram index pairs.
pub fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF | 0x20000..=0x3134F)
}

/// The text the bigram index holds for `text`: the overlapping pairs of every run of two or
/// more CJK ideographs, separated by spaces. Everything else (Latin, digits, punctuation,
/// line ends, lone ideographs) is left out: those are the trigram index's or the scan's.
/// So "股市" is a token exactly where the two ideographs stand side by side.
pub fn bigrams(text: &str) -> String {
    // Each ideograph (3 bytes in UTF-8) becomes at most one pair and a space.
    let mut out = String::with_capacity(text.len() * 7 / 3);
    let mut prev: Option<char> = None;
    for c in text.chars() {
        if is_cjk(c) {
            if let Some(p) = prev {
                out.push(p);
                out.push(c);
                out.push(' ');
            }
            prev = Some(c);
        } else {
            prev = None;
        }
    }
    out
}

/// How to look up the user's literal `query` (already trimmed, not empty).
pub fn lookup(query: &str) -> Lookup {
    let chars = query.chars().count();
    if chars >= 3 {
        // A phrase: the user's quotes doubled, so that every character is literal.
        Lookup::Trigram(format!("\"{}\"", query.replace('"', "\"\"")))
    } else if chars == 2 && query.chars().all(is_cjk) {
        Lookup::Bigram(format!("\"{query}\""))
    } else {
        Lookup::Scan(query.to_owned())
    }
}

/// The piece of `title` or `text` around the first match of `needle` (case-insensitive),
/// the match marked, about `width` characters either side; the title alone when neither
/// holds it (an `--fts` query).
pub fn snippet(title: &str, text: &str, needle: &str, width: usize) -> String {
    for haystack in [text, title] {
        let chars: Vec<char> = haystack.chars().collect();
        let pattern: Vec<char> = needle.chars().flat_map(char::to_lowercase).collect();
        let Some(at) = find_folded(&chars, &pattern) else {
            continue;
        };
        let start = at.saturating_sub(width);
        let end = (at + pattern.len() + width).min(chars.len());
        let piece = |range: std::ops::Range<usize>| -> String {
            chars[range]
                .iter()
                .map(|&c| if c.is_whitespace() { ' ' } else { c })
                .collect()
        };
        return format!(
            "{}{}{MARK_OPEN}{}{MARK_CLOSE}{}{}",
            if start > 0 { "…" } else { "" },
            piece(start..at),
            piece(at..at + pattern.len()),
            piece(at + pattern.len()..end),
            if end < chars.len() { "…" } else { "" }
        );
    }
    title.chars().take(2 * width).collect()
}

/// Where `pattern` (lowercase) first starts in `chars`, comparing lowercase.
fn find_folded(chars: &[char], pattern: &[char]) -> Option<usize> {
    if pattern.is_empty() || pattern.len() > chars.len() {
        return None;
    }
    let fold = |c: char| c.to_lowercase().next().unwrap_or(c);
    (0..=chars.len() - pattern.len()).find(|&i| {
        chars[i..i + pattern.len()]
            .iter()
            .zip(pattern)
            .all(|(&c, &p)| fold(c) == p)
    })
}

/// `--since`: a date (midnight in `tz`) or an RFC 3339 time, as RFC 3339 UTC text.
pub fn parse_since(value: &str, tz: chrono_tz::Tz) -> Result<String, SearchError> {
    use chrono::TimeZone;
    let value = value.trim();
    let utc = if let Ok(t) = chrono::DateTime::parse_from_rfc3339(value) {
        t.with_timezone(&chrono::Utc)
    } else {
        let date = chrono::NaiveDate::parse_from_str(value, "%Y-%m-%d")
            .map_err(|_| SearchError::BadSince(value.to_owned()))?;
        let midnight = date
            .and_hms_opt(0, 0, 0)
            .ok_or_else(|| SearchError::BadSince(value.to_owned()))?;
        tz.from_local_datetime(&midnight)
            .earliest()
            .ok_or_else(|| SearchError::BadSince(value.to_owned()))?
            .with_timezone(&chrono::Utc)
    };
    Ok(utc.format("%Y-%m-%dT%H:%M:%SZ").to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bigrams_pair_only_adjacent_ideographs() {
        assert_eq!(bigrams("A股股市大涨"), "股股 股市 市大 大涨 ");
        assert_eq!(bigrams("股 市\n银行"), "银行 ");
        assert_eq!(bigrams("Tesla 300750 工"), "");
    }

    #[test]
    fn literal_queries_choose_their_index() {
        assert_eq!(lookup("银行"), Lookup::Bigram("\"银行\"".into()));
        assert_eq!(lookup("工业经济"), Lookup::Trigram("\"工业经济\"".into()));
        assert_eq!(lookup("\"工业经济"), Lookup::Trigram("\"\"\"工业经济\"".into()));
        assert_eq!(lookup("A股"), Lookup::Scan("A股".into()));
        assert_eq!(lookup("股"), Lookup::Scan("股".into()));
    }

    #[test]
    fn snippets_mark_the_first_match_case_insensitively() {
        assert_eq!(snippet("t", "特斯拉TESLA上涨", "tesla", 2), "…斯拉[TESLA]上涨");
        assert_eq!(snippet("银行", "无关", "银行", 3), "[银行]");
    }

    #[test]
    fn since_takes_dates_in_the_configured_zone() {
        let tz: chrono_tz::Tz = "Asia/Shanghai".parse().expect("tz");
        assert_eq!(
            parse_since("2022-04-19", tz).expect("date"),
            "2022-04-18T16:00:00Z"
        );
        assert_eq!(
            parse_since("2022-04-19T04:22:44+00:00", tz).expect("time"),
            "2022-04-19T04:22:44Z"
        );
        assert!(parse_since("yesterday", tz).is_err());
    }
}
