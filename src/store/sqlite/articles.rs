//! The `articles` and `sightings` rows: insert, merge into a stored article (keeping the
//! replaced content as a revision), and reading a stored row back as an [`Article`].

use chrono::DateTime;
use rusqlite::{Connection, OptionalExtension, params};

use super::parse_utc;
use crate::dates::{self, ParsedDate, Precision};
use crate::merge;
use crate::normalize::{Article, Content, MediaRank};
use crate::sources::ContentRank;

/// What storing an incoming article did, with the article's id.
pub(super) enum Upsert {
    New(i64),
    Updated(i64),
    Unchanged(i64),
}

/// The `articles` columns [`read_article`] reads, in its order.
macro_rules! article_columns {
    () => {
        "id, dedup_key, info_code, title, url, share_url, published_at, published_local, time_precision, \
         updated_at, author, media, media_rank, category, tags, summary, content_html, content_text, \
         content_hash, content_rank, language, revision"
    };
}

pub(super) fn upsert_article(tx: &Connection, incoming: &Article, now: &str) -> rusqlite::Result<Upsert> {
    let found = {
        let mut by_key = tx.prepare_cached(concat!(
            "SELECT ",
            article_columns!(),
            " FROM articles WHERE dedup_key = ?1"
        ))?;
        let mut found = by_key.query_row([&incoming.dedup_key], read_article).optional()?;
        // An `info:` key is the infoCode itself; other keys may meet a row that learned
        // the infoCode from another copy.
        if found.is_none()
            && !incoming.dedup_key.starts_with("info:")
            && let Some(code) = &incoming.info_code
        {
            let mut by_code = tx.prepare_cached(concat!(
                "SELECT ",
                article_columns!(),
                " FROM articles WHERE info_code = ?1"
            ))?;
            found = by_code.query_row([code], read_article).optional()?;
        }
        found
    };
    let Some((id, revision, mut stored)) = found else {
        let id = insert_article(tx, incoming, now)?;
        return Ok(Upsert::New(id));
    };
    let old_content = stored.content.clone();
    let effect = merge::merge(&mut stored, incoming);
    if !effect.changed {
        tx.prepare_cached("UPDATE articles SET last_seen_at = ?2 WHERE id = ?1")?
            .execute(params![id, now])?;
        return Ok(Upsert::Unchanged(id));
    }
    let mut new_revision = revision;
    if effect.content_changed {
        if let Some(old) = &old_content {
            tx.prepare_cached(
                "INSERT OR REPLACE INTO article_revisions (article_id, revision, content_html, content_text, content_hash, replaced_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![id, revision, old.html, old.text, old.hash, now])?;
        }
        new_revision += 1;
    }
    let row = ArticleRow::from(&stored);
    tx.prepare_cached(
        "UPDATE articles SET info_code = ?2, title = ?3, url = ?4, share_url = ?5, published_at = ?6,
            published_local = ?7, time_precision = ?8, updated_at = ?9, author = ?10, media = ?11,
            media_rank = ?12, category = ?13, tags = ?14, summary = ?15, content_html = ?16,
            content_text = ?17, content_hash = ?18, content_rank = ?19, language = ?20,
            revision = ?21, last_seen_at = ?22
         WHERE id = ?1",
    )?
    .execute(params![
        id,
        stored.info_code,
        stored.title,
        row.url,
        stored.share_url,
        row.published_at,
        row.published_local,
        row.time_precision,
        row.updated_at,
        stored.author,
        row.media,
        row.media_rank,
        stored.category,
        row.tags,
        stored.summary,
        row.content_html,
        row.content_text,
        row.content_hash,
        row.content_rank,
        stored.language,
        new_revision,
        now,
    ])?;
    Ok(Upsert::Updated(id))
}

fn insert_article(tx: &Connection, article: &Article, now: &str) -> rusqlite::Result<i64> {
    let row = ArticleRow::from(article);
    tx.prepare_cached(
        "INSERT INTO articles (dedup_key, info_code, title, url, share_url, published_at, published_local,
            time_precision, updated_at, author, media, media_rank, category, tags, summary, content_html,
            content_text, content_hash, content_rank, language, revision, first_seen_at, last_seen_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, 1, ?21, ?21)",
    )?
    .execute(params![
        article.dedup_key,
        article.info_code,
        article.title,
        row.url,
        article.share_url,
        row.published_at,
        row.published_local,
        row.time_precision,
        row.updated_at,
        article.author,
        row.media,
        row.media_rank,
        article.category,
        row.tags,
        article.summary,
        row.content_html,
        row.content_text,
        row.content_hash,
        row.content_rank,
        article.language,
        now,
    ])?;
    Ok(tx.last_insert_rowid())
}

pub(super) fn upsert_sighting(
    tx: &Connection,
    article_id: i64,
    source_id: Option<i64>,
    article: &Article,
    now: &str,
) -> rusqlite::Result<()> {
    let Some(source_id) = source_id else {
        return Ok(());
    };
    tx.prepare_cached(
        "INSERT INTO sightings (article_id, source_id, entry_guid, entry_url, first_seen_at, last_seen_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?5)
         ON CONFLICT(article_id, source_id) DO UPDATE SET
            last_seen_at = excluded.last_seen_at,
            entry_guid = coalesce(excluded.entry_guid, sightings.entry_guid),
            entry_url = coalesce(excluded.entry_url, sightings.entry_url)",
    )?
    .execute(params![
        article_id,
        source_id,
        article.entry_guid,
        article.entry_url,
        now
    ])?;
    Ok(())
}

/// An article's derived column values.
struct ArticleRow {
    url: Option<String>,
    published_at: Option<String>,
    published_local: Option<String>,
    time_precision: Option<i64>,
    updated_at: Option<String>,
    media: Option<String>,
    media_rank: i64,
    tags: String,
    content_html: Option<String>,
    content_text: Option<String>,
    content_hash: Option<String>,
    content_rank: i64,
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

/// Reads a stored row back into the form [`merge::merge`] works on.
fn read_article(r: &rusqlite::Row<'_>) -> rusqlite::Result<(i64, i64, Article)> {
    let id: i64 = r.get(0)?;
    let url: Option<String> = r.get(4)?;
    let share_url: Option<String> = r.get(5)?;
    let published_at: Option<String> = r.get(6)?;
    let published_local: Option<String> = r.get(7)?;
    let precision: Option<i64> = r.get(8)?;
    let published = match (published_at.as_deref().and_then(parse_utc), published_local) {
        (Some(utc), Some(local)) => DateTime::parse_from_rfc3339(&local).ok().map(|local| ParsedDate {
            utc,
            local,
            precision: precision_from_i64(precision.unwrap_or(0)),
        }),
        _ => None,
    };
    let media: Option<String> = r.get(11)?;
    let media_rank = MediaRank::from_i64(r.get(12)?);
    let tags: String = r.get(14)?;
    let content_html: Option<String> = r.get(16)?;
    let content_text: Option<String> = r.get(17)?;
    let content_hash: Option<String> = r.get(18)?;
    let content = match (content_html, content_text, content_hash) {
        (Some(html), Some(text), Some(hash)) => Some(Content {
            html,
            text,
            hash,
            rank: ContentRank::from_i64(r.get(19)?),
        }),
        _ => None,
    };
    let article = Article {
        dedup_key: r.get(1)?,
        info_code: r.get(2)?,
        title: r.get(3)?,
        // A stored url equal to the share link was only standing in for a publisher URL.
        url: url.filter(|u| Some(u) != share_url.as_ref()),
        share_url,
        published,
        updated_at: r.get::<_, Option<String>>(9)?.as_deref().and_then(parse_utc),
        author: r.get(10)?,
        media: media.zip(media_rank),
        category: r.get(13)?,
        tags: serde_json::from_str(&tags).unwrap_or_default(),
        summary: r.get(15)?,
        content,
        language: r.get(20)?,
        entry_guid: None,
        entry_url: None,
        replaces_content: false,
    };
    Ok((id, r.get(21)?, article))
}
