//! An article as both engines store it: the column values derived from an [`Article`]
//! ([`ArticleRow`]), and a stored row read back into the form the §6 merge works on
//! ([`StoredColumns::into_stored`]). Only reading the values out of a driver's row is left
//! to each engine.

use chrono::{DateTime, Utc};

use crate::dates::{self, ParsedDate, Precision};
use crate::normalize::{Article, Content, MediaRank};
use crate::sources::ContentRank;

/// The `articles` columns [`StoredColumns`] holds, in its order (shared by both engines'
/// `SELECT`s).
macro_rules! article_columns {
    () => {
        "id, dedup_key, info_code, title, url, share_url, published_at, published_local, time_precision, \
         updated_at, author, media, media_rank, category, tags, summary, content_html, content_text, \
         content_hash, content_rank, language, revision"
    };
}
pub(super) use article_columns;

/// An article's derived column values.
pub(super) struct ArticleRow {
    pub(super) url: Option<String>,
    pub(super) published_at: Option<String>,
    pub(super) published_local: Option<String>,
    pub(super) time_precision: Option<i64>,
    pub(super) updated_at: Option<String>,
    pub(super) media: Option<String>,
    pub(super) media_rank: i64,
    pub(super) tags: String,
    pub(super) content_html: Option<String>,
    pub(super) content_text: Option<String>,
    pub(super) content_hash: Option<String>,
    pub(super) content_rank: i64,
}

impl From<&Article> for ArticleRow {
    fn from(a: &Article) -> ArticleRow {
        ArticleRow {
            // A share link stands in as `url` only while no publisher URL is known.
            url: a.url.clone().or_else(|| a.share_url.clone()),
            published_at: a.published.map(|p| dates::format_utc(p.utc)),
            published_local: a.published.map(|p| dates::format_local(p.local)),
            time_precision: a.published.map(|p| precision_to_i64(p.precision)),
            updated_at: a.updated_at.map(dates::format_utc),
            media: a.media.as_ref().map(|(m, _)| m.clone()),
            media_rank: a.media.as_ref().map_or(0, |(_, r)| *r as i64),
            tags: serde_json::to_string(&a.tags).unwrap_or_else(|_| "[]".to_owned()),
            content_html: a.content.as_ref().map(|c| c.html.clone()),
            content_text: a.content.as_ref().map(|c| c.text.clone()),
            content_hash: a.content.as_ref().map(|c| c.hash.clone()),
            content_rank: a.content.as_ref().map_or(0, |c| c.rank.as_i64()),
        }
    }
}

fn precision_to_i64(p: Precision) -> i64 {
    match p {
        Precision::DateOnly => 0,
        Precision::NaiveMinutes => 1,
        Precision::OffsetMinutes => 2,
        Precision::NaiveSeconds => 3,
        Precision::OffsetSeconds => 4,
    }
}

fn precision_from_i64(v: i64) -> Precision {
    match v {
        4 => Precision::OffsetSeconds,
        3 => Precision::NaiveSeconds,
        2 => Precision::OffsetMinutes,
        1 => Precision::NaiveMinutes,
        _ => Precision::DateOnly,
    }
}

/// A stored time (`…Z`) as UTC.
pub(super) fn parse_utc(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// The values of [`article_columns!`], as a driver read them.
pub(super) struct StoredColumns {
    pub(super) id: i64,
    pub(super) dedup_key: String,
    pub(super) info_code: Option<String>,
    pub(super) title: String,
    pub(super) url: Option<String>,
    pub(super) share_url: Option<String>,
    pub(super) published_at: Option<String>,
    pub(super) published_local: Option<String>,
    pub(super) time_precision: Option<i64>,
    pub(super) updated_at: Option<String>,
    pub(super) author: Option<String>,
    pub(super) media: Option<String>,
    pub(super) media_rank: i64,
    pub(super) category: Option<String>,
    pub(super) tags: String,
    pub(super) summary: Option<String>,
    pub(super) content_html: Option<String>,
    pub(super) content_text: Option<String>,
    pub(super) content_hash: Option<String>,
    pub(super) content_rank: i64,
    pub(super) language: Option<String>,
    pub(super) revision: i64,
}

impl StoredColumns {
    /// `(id, revision, article)`: the row in the form [`crate::merge::merge`] works on.
    pub(super) fn into_stored(self) -> (i64, i64, Article) {
        let published = match (
            self.published_at.as_deref().and_then(parse_utc),
            self.published_local,
        ) {
            (Some(utc), Some(local)) => DateTime::parse_from_rfc3339(&local).ok().map(|local| ParsedDate {
                utc,
                local,
                precision: precision_from_i64(self.time_precision.unwrap_or(0)),
            }),
            _ => None,
        };
        let content = match (self.content_html, self.content_text, self.content_hash) {
            (Some(html), Some(text), Some(hash)) => Some(Content {
                html,
                text,
                hash,
                rank: ContentRank::from_i64(self.content_rank),
            }),
            _ => None,
        };
        let share_url = self.share_url;
        let article = Article {
            dedup_key: self.dedup_key,
            info_code: self.info_code,
            title: self.title,
            // A stored url equal to the share link was only standing in for a publisher URL.
            url: self.url.filter(|u| Some(u) != share_url.as_ref()),
            share_url,
            published,
            updated_at: self.updated_at.as_deref().and_then(parse_utc),
            author: self.author,
            media: self.media.zip(MediaRank::from_i64(self.media_rank)),
            category: self.category,
            tags: serde_json::from_str(&self.tags).unwrap_or_default(),
            summary: self.summary,
            content,
            language: self.language,
            entry_guid: None,
            entry_url: None,
            replaces_content: false,
        };
        (self.id, self.revision, article)
    }
}
