//! Source parsers: a fetched body of one source type → [`Entry`] values.
//!
//! Each submodule reads one kind of document (feeds now; JSON lists, HTML lists and
//! article pages later) and reports what the publisher wrote, unjudged: raw titles, the
//! links as given, dates with their precision, content with its rank. Nothing here
//! normalizes, deduplicates or does I/O.

pub mod feed;
pub mod html_list;
pub mod json;
pub mod jsonfeed;

use crate::dates::ParsedDate;

/// How much of an article a piece of content is (CONTRACT §6): a higher rank replaces a
/// lower one whatever its length.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ContentRank {
    /// No content at all.
    None = 0,
    /// A summary: RSS `description`, Atom `summary`, JSON `summary`.
    Summary = 1,
    /// Content carried by a feed or list: Atom `content`, RSS `content:encoded`.
    Feed = 2,
    /// The publisher's full text: a detail body or an article page.
    Full = 3,
}

impl ContentRank {
    /// The rank stored in the database.
    pub fn as_i64(self) -> i64 {
        self as i64
    }

    /// The rank for a stored integer; unknown values are treated as no content.
    pub fn from_i64(value: i64) -> ContentRank {
        match value {
            1 => ContentRank::Summary,
            2 => ContentRank::Feed,
            3 => ContentRank::Full,
            _ => ContentRank::None,
        }
    }
}

/// Where an article's outlet name came from; a higher rank wins (CONTRACT §6 *Media*).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MediaRank {
    /// A JSON `media` field, a feed's author or source element.
    Field = 1,
    /// An article page's `来源：` line.
    Page = 2,
    /// The `（文章来源：X）` line of the stored content.
    ContentLine = 3,
}

impl MediaRank {
    /// The rank for a stored integer.
    pub fn from_i64(value: i64) -> Option<MediaRank> {
        match value {
            1 => Some(MediaRank::Field),
            2 => Some(MediaRank::Page),
            3 => Some(MediaRank::ContentLine),
            _ => None,
        }
    }
}

/// One item as a source delivered it, before normalization.
#[derive(Clone, Debug, Default)]
pub struct Entry {
    /// The item's id/guid, only when the document carried one (never generated).
    pub guid: Option<String>,
    /// An infoCode the source states outright (a JSON `code` field): `NW…` or the bare 18
    /// digits. Identifiers matched by the `[dedup]` patterns need not be put here.
    pub info_code: Option<String>,
    /// The item's link, absolute.
    pub link: Option<String>,
    /// The title as written (may hold entities or markup).
    pub title: Option<String>,
    /// When it was published (falls back to the updated time when only that is given).
    pub published: Option<ParsedDate>,
    /// When it was last updated, if the publisher says.
    pub updated: Option<ParsedDate>,
    /// The author's name.
    pub author: Option<String>,
    /// An explicit outlet name and where it came from (a JSON `media` field or a feed's
    /// source element: [`MediaRank::Field`]; a page's `来源：` line: [`MediaRank::Page`]).
    pub media: Option<(String, MediaRank)>,
    /// The summary, HTML or text.
    pub summary: Option<String>,
    /// The body, HTML, with its rank.
    pub content: Option<(String, ContentRank)>,
    /// The entry's own categories.
    pub categories: Vec<String>,
    /// The language, where the document says.
    pub language: Option<String>,
}

/// Items a document held that did not become articles, counted by reason, so that a
/// document never yields fewer entries silently: the counts go to the fetch's `fetches`
/// row (`entries_skipped`, `skip_reason`) and a warning.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Skipped {
    /// (reason, count), in the order the reasons were first met.
    reasons: Vec<(String, usize)>,
}

impl Skipped {
    /// Counts `count` items skipped for `reason` (nothing when `count` is 0).
    pub fn add(&mut self, reason: impl Into<String>, count: usize) {
        if count == 0 {
            return;
        }
        let reason = reason.into();
        match self.reasons.iter_mut().find(|(r, _)| *r == reason) {
            Some((_, n)) => *n += count,
            None => self.reasons.push((reason, count)),
        }
    }

    /// Adds another document's counts.
    pub fn extend(&mut self, other: Skipped) {
        for (reason, count) in other.reasons {
            self.add(reason, count);
        }
    }

    /// How many items were skipped in all.
    pub fn count(&self) -> usize {
        self.reasons.iter().map(|(_, n)| n).sum()
    }

    /// How many items were skipped for `reason`.
    pub fn count_of(&self, reason: &str) -> usize {
        self.reasons
            .iter()
            .find(|(r, _)| r == reason)
            .map_or(0, |(_, n)| *n)
    }

    /// `"not a JSON object: 1; neither a title nor any text: 2"`, or None when nothing was
    /// skipped.
    pub fn summary(&self) -> Option<String> {
        (!self.reasons.is_empty()).then(|| {
            self.reasons
                .iter()
                .map(|(reason, n)| format!("{reason}: {n}"))
                .collect::<Vec<_>>()
                .join("; ")
        })
    }
}

/// What a document yielded: its entries in document order, and the items it skipped.
#[derive(Clone, Debug, Default)]
pub struct Read {
    /// The entries read.
    pub entries: Vec<Entry>,
    /// The items that did not become entries, and why.
    pub skipped: Skipped,
}

/// The "now" of the parsers' unit tests: 2022-04-20T00:00:00Z, the day after the reference
/// article.
#[cfg(test)]
pub(crate) fn test_now() -> chrono::DateTime<chrono::Utc> {
    use chrono::TimeZone;
    chrono::Utc
        .with_ymd_and_hms(2022, 4, 20, 0, 0, 0)
        .single()
        .unwrap_or_default()
}
