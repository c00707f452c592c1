//! The `articles` and `sightings` rows on PostgreSQL: the same find → merge → insert/update as
//! SQLite's `articles.rs` (the §6 rules themselves are [`crate::merge`], shared), with the rows
//! merged into locked (`FOR UPDATE`), so that two daemons merging copies of one article take
//! turns and each reads what the other wrote.

use super::changes::Changes;
use super::{Pg, Tx};
use crate::merge;
use crate::normalize::{Article, Content};
use crate::store::rows::{ArticleRow, StoredColumns, article_columns};

/// What storing an incoming article did, with the article's id. Whether a consumer sees a
/// change (the change log) is recorded in the caller's [`Changes`]: `Updated` may only have
/// changed crawler state (a rank), and `Unchanged` may have re-keyed the row.
pub(super) enum Upsert {
    New(i64),
    Updated(i64),
    Unchanged(i64),
}

/// The consumer-visible columns of a row (`v_articles`; the old change-log trigger's list)
/// differ between `a` (revision `ra`) and `b` (revision `rb`).
fn visible_change(a: &Article, ra: i64, b: &Article, rb: i64) -> bool {
    let (x, y) = (ArticleRow::from(a), ArticleRow::from(b));
    ra != rb
        || a.dedup_key != b.dedup_key
        || a.info_code != b.info_code
        || a.title != b.title
        || x.url != y.url
        || a.share_url != b.share_url
        || x.published_at != y.published_at
        || x.published_local != y.published_local
        || x.updated_at != y.updated_at
        || a.author != b.author
        || x.media != y.media
        || a.category != b.category
        || x.tags != y.tags
        || a.summary != b.summary
        || x.content_html != y.content_html
        || x.content_text != y.content_text
        || x.content_hash != y.content_hash
        || a.language != b.language
}

/// A stored row as the merge works on it: id, revision, the article.
type StoredRow = (i64, i64, Article);

async fn by_key(tx: &Tx<'_>, key: &str) -> Result<Option<StoredRow>, Pg> {
    let stmt = tx
        .prepare_cached(concat!(
            "SELECT ",
            article_columns!(),
            " FROM articles WHERE dedup_key = $1 FOR UPDATE"
        ))
        .await?;
    Ok(tx.query_opt(&stmt, &[&key]).await?.map(|r| read_article(&r)))
}

async fn by_id(tx: &Tx<'_>, id: i64) -> Result<Option<StoredRow>, Pg> {
    let stmt = tx
        .prepare_cached(concat!(
            "SELECT ",
            article_columns!(),
            " FROM articles WHERE id = $1 FOR UPDATE"
        ))
        .await?;
    Ok(tx.query_opt(&stmt, &[&id]).await?.map(|r| read_article(&r)))
}

/// The row of another article (not `except`) holding `code`, if any.
async fn by_code(tx: &Tx<'_>, code: &str, except: Option<i64>) -> Result<Option<StoredRow>, Pg> {
    let stmt = tx
        .prepare_cached(concat!(
            "SELECT ",
            article_columns!(),
            " FROM articles WHERE info_code = $1 AND id IS DISTINCT FROM $2::bigint FOR UPDATE"
        ))
        .await?;
    Ok(tx
        .query_opt(&stmt, &[&code, &except])
        .await?
        .map(|r| read_article(&r)))
}

/// The stored row an incoming copy belongs to: its key, a key it was merged under
/// ([`join_rows`]), or its infoCode (one row per infoCode, whatever key reached it first).
async fn find_article(tx: &Tx<'_>, incoming: &Article) -> Result<Option<StoredRow>, Pg> {
    if let Some(found) = by_key(tx, &incoming.dedup_key).await? {
        return Ok(Some(found));
    }
    let stmt = tx
        .prepare_cached("SELECT article_id FROM article_aliases WHERE dedup_key = $1")
        .await?;
    let alias: Option<i64> = tx
        .query_opt(&stmt, &[&incoming.dedup_key])
        .await?
        .map(|r| r.get(0));
    if let Some(id) = alias
        && let Some(found) = by_id(tx, id).await?
    {
        return Ok(Some(found));
    }
    match &incoming.info_code {
        Some(code) => by_code(tx, code, None).await,
        None => Ok(None),
    }
}

/// Remembers that copies keyed `key` belong to article `id` (a key no live row holds).
async fn add_alias(tx: &Tx<'_>, key: &str, id: i64) -> Result<(), Pg> {
    let stmt = tx
        .prepare_cached(
            "INSERT INTO article_aliases (dedup_key, article_id) VALUES ($1, $2)
             ON CONFLICT (dedup_key) DO UPDATE SET article_id = EXCLUDED.article_id",
        )
        .await?;
    tx.execute(&stmt, &[&key, &id]).await?;
    Ok(())
}

/// Gives article `id` the key `key` (its `info:` key), which no alias may then hold.
async fn rekey(tx: &Tx<'_>, id: i64, key: &str) -> Result<(), Pg> {
    let stmt = tx
        .prepare_cached("DELETE FROM article_aliases WHERE dedup_key = $1")
        .await?;
    tx.execute(&stmt, &[&key]).await?;
    let stmt = tx
        .prepare_cached("UPDATE articles SET dedup_key = $2 WHERE id = $1")
        .await?;
    tx.execute(&stmt, &[&id, &key]).await?;
    Ok(())
}

/// Keeps `content` as revision `number` of article `id`.
async fn keep_revision(tx: &Tx<'_>, id: i64, number: i64, content: &Content, now: &str) -> Result<(), Pg> {
    let stmt = tx
        .prepare_cached(
            "INSERT INTO article_revisions (article_id, revision, content_html, content_text, content_hash, replaced_at)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (article_id, revision) DO UPDATE SET content_html = EXCLUDED.content_html,
                content_text = EXCLUDED.content_text, content_hash = EXCLUDED.content_hash,
                replaced_at = EXCLUDED.replaced_at",
        )
        .await?;
    tx.execute(
        &stmt,
        &[&id, &number, &content.html, &content.text, &content.hash, &now],
    )
    .await?;
    Ok(())
}

/// Stores one incoming copy: a new row, or merged into the row it belongs to (the caller
/// holds the advisory locks of its identity keys).
pub(super) async fn upsert_article(
    tx: &Tx<'_>,
    incoming: &Article,
    now: &str,
    changes: &mut Changes,
) -> Result<Upsert, Pg> {
    let Some((id, revision, mut stored)) = find_article(tx, incoming).await? else {
        // A new article that knows its infoCode is keyed by it, whatever key its copy had.
        let info_key = incoming.info_code.as_ref().map(|c| format!("info:{c}"));
        let id = match info_key.filter(|k| *k != incoming.dedup_key) {
            Some(info_key) => {
                let mut keyed = incoming.clone();
                keyed.dedup_key = info_key;
                let id = insert_article(tx, &keyed, now).await?;
                add_alias(tx, &incoming.dedup_key, id).await?;
                id
            }
            None => insert_article(tx, incoming, now).await?,
        };
        changes.changed(id, now);
        return Ok(Upsert::New(id));
    };
    // A copy that reached the row under another key: later copies under it land here.
    if stored.dedup_key != incoming.dedup_key {
        add_alias(tx, &incoming.dedup_key, id).await?;
    }
    let was = stored.clone();
    let old_content = was.content.clone();
    let effect = merge::merge(&mut stored, incoming);
    // The row learned an infoCode that another row holds: they are one article.
    if let Some(code) = stored.info_code.clone()
        && let Some(other) = by_code(tx, &code, Some(id)).await?
    {
        let survivor = join_rows(
            tx,
            (id, revision, stored),
            old_content,
            other,
            &code,
            now,
            changes,
        )
        .await?;
        return Ok(Upsert::Updated(survivor));
    }
    // A row that knows its infoCode is keyed by it (CONTRACT §3); its old key stays an alias.
    if let Some(code) = &stored.info_code {
        let info_key = format!("info:{code}");
        if stored.dedup_key != info_key {
            add_alias(tx, &stored.dedup_key, id).await?;
            rekey(tx, id, &info_key).await?;
            stored.dedup_key = info_key;
        }
    }
    if !effect.changed {
        let stmt = tx
            .prepare_cached("UPDATE articles SET last_seen_at = $2 WHERE id = $1")
            .await?;
        tx.execute(&stmt, &[&id, &now]).await?;
        // Only a re-key (above) is a change a consumer sees here.
        if stored.dedup_key != was.dedup_key {
            changes.changed(id, now);
        }
        return Ok(Upsert::Unchanged(id));
    }
    let mut new_revision = revision;
    if effect.content_changed {
        if let Some(old) = &old_content {
            keep_revision(tx, id, revision, old, now).await?;
        }
        new_revision += 1;
    }
    write_row(tx, id, &stored, new_revision, now).await?;
    if visible_change(&was, revision, &stored, new_revision) {
        changes.changed(id, now);
    }
    Ok(Upsert::Updated(id))
}

/// Makes two rows of one article one row, as SQLite's `join_rows` does: the older (lower
/// id) survives keyed `info:<code>`, the other is merged into it by the §6 rules and removed;
/// sightings, revisions, share links and aliases move to the survivor. Returns its id.
/// The change log gets the removed row's tombstone and the survivor (re-keyed, merged).
async fn join_rows(
    tx: &Tx<'_>,
    updated: StoredRow,
    updated_was: Option<Content>,
    other: StoredRow,
    code: &str,
    now: &str,
    changes: &mut Changes,
) -> Result<i64, Pg> {
    let other_was = other.2.content.clone();
    let ((keep_id, keep_revision_no, mut kept), kept_was, (gone_id, _, gone)) = if updated.0 < other.0 {
        (updated, updated_was, other)
    } else {
        (other, other_was, updated)
    };
    merge::merge(&mut kept, &gone);

    // Sightings: one per source, the earliest first and latest last sighting of both.
    let stmt = tx
        .prepare_cached(
            "INSERT INTO sightings (article_id, source_id, entry_guid, entry_url, first_seen_at, last_seen_at)
             SELECT $1, source_id, entry_guid, entry_url, first_seen_at, last_seen_at
             FROM sightings WHERE article_id = $2
             ON CONFLICT (article_id, source_id) DO UPDATE SET
                first_seen_at = least(sightings.first_seen_at, EXCLUDED.first_seen_at),
                last_seen_at = greatest(sightings.last_seen_at, EXCLUDED.last_seen_at),
                entry_guid = coalesce(sightings.entry_guid, EXCLUDED.entry_guid),
                entry_url = coalesce(sightings.entry_url, EXCLUDED.entry_url)",
        )
        .await?;
    tx.execute(&stmt, &[&keep_id, &gone_id]).await?;
    // Revisions: the survivor's stored content (revision `r`) when the merge replaced it; the
    // removed row's revisions numbered after it; the removed row's content when the merged
    // row does not hold it. The merged row's revision is above all of them.
    let r = keep_revision_no;
    let final_hash = kept.content.as_ref().map(|c| c.hash.clone());
    let replaced = |c: &Content| Some(&c.hash) != final_hash.as_ref();
    let kept_replaced = kept_was.as_ref().is_some_and(replaced);
    if let Some(was) = kept_was.as_ref().filter(|c| replaced(c)) {
        keep_revision(tx, keep_id, r, was, now).await?;
    }
    let stmt = tx
        .prepare_cached(
            "INSERT INTO article_revisions (article_id, revision, content_html, content_text, content_hash, replaced_at)
             SELECT $1, $2 + row_number() OVER (ORDER BY revision), content_html, content_text, content_hash, replaced_at
             FROM article_revisions WHERE article_id = $3",
        )
        .await?;
    let moved = tx.execute(&stmt, &[&keep_id, &r, &gone_id]).await?;
    let mut top = r + moved as i64;
    if let Some(was) = gone.content.as_ref().filter(|c| replaced(c))
        && kept_was.as_ref().is_none_or(|k| k.hash != was.hash)
    {
        top += 1;
        keep_revision(tx, keep_id, top, was, now).await?;
    }
    let revision = if top > r || kept_replaced { top + 1 } else { r };
    for sql in [
        "UPDATE share_links SET article_id = $1 WHERE article_id = $2",
        "UPDATE article_aliases SET article_id = $1 WHERE article_id = $2",
    ] {
        let stmt = tx.prepare_cached(sql).await?;
        tx.execute(&stmt, &[&keep_id, &gone_id]).await?;
    }
    // The removed row goes first: its key and infoCode become free for the survivor.
    let stmt = tx.prepare_cached("DELETE FROM articles WHERE id = $1").await?;
    tx.execute(&stmt, &[&gone_id]).await?;
    changes.deleted(gone_id, now);
    let info_key = format!("info:{code}");
    for key in [&gone.dedup_key, &kept.dedup_key] {
        if *key != info_key {
            add_alias(tx, key, keep_id).await?;
        }
    }
    rekey(tx, keep_id, &info_key).await?;
    kept.dedup_key = info_key;
    tracing::info!(
        article = keep_id,
        merged = gone_id,
        info_code = code,
        "two rows of one article merged"
    );
    write_row(tx, keep_id, &kept, revision, now).await?;
    changes.changed(keep_id, now);
    Ok(keep_id)
}

/// Writes a merged article over its row.
async fn write_row(tx: &Tx<'_>, id: i64, stored: &Article, revision: i64, now: &str) -> Result<(), Pg> {
    let row = ArticleRow::from(stored);
    let stmt = tx
        .prepare_cached(
            "UPDATE articles SET info_code = $2, title = $3, url = $4, share_url = $5, published_at = $6,
                published_local = $7, time_precision = $8, updated_at = $9, author = $10, media = $11,
                media_rank = $12, category = $13, tags = $14, summary = $15, content_html = $16,
                content_text = $17, content_hash = $18, content_rank = $19, language = $20,
                revision = $21, last_seen_at = $22
             WHERE id = $1",
        )
        .await?;
    tx.execute(
        &stmt,
        &[
            &id,
            &stored.info_code,
            &stored.title,
            &row.url,
            &stored.share_url,
            &row.published_at,
            &row.published_local,
            &row.time_precision,
            &row.updated_at,
            &stored.author,
            &row.media,
            &row.media_rank,
            &stored.category,
            &row.tags,
            &stored.summary,
            &row.content_html,
            &row.content_text,
            &row.content_hash,
            &row.content_rank,
            &stored.language,
            &revision,
            &now,
        ],
    )
    .await?;
    Ok(())
}

async fn insert_article(tx: &Tx<'_>, article: &Article, now: &str) -> Result<i64, Pg> {
    let row = ArticleRow::from(article);
    let stmt = tx
        .prepare_cached(
            "INSERT INTO articles (dedup_key, info_code, title, url, share_url, published_at, published_local,
                time_precision, updated_at, author, media, media_rank, category, tags, summary, content_html,
                content_text, content_hash, content_rank, language, revision, first_seen_at, last_seen_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20,
                     1, $21, $21)
             RETURNING id",
        )
        .await?;
    let row = tx
        .query_one(
            &stmt,
            &[
                &article.dedup_key,
                &article.info_code,
                &article.title,
                &row.url,
                &article.share_url,
                &row.published_at,
                &row.published_local,
                &row.time_precision,
                &row.updated_at,
                &article.author,
                &row.media,
                &row.media_rank,
                &article.category,
                &row.tags,
                &article.summary,
                &row.content_html,
                &row.content_text,
                &row.content_hash,
                &row.content_rank,
                &article.language,
                &now,
            ],
        )
        .await?;
    Ok(row.get(0))
}

/// Records that `source_id` saw article `article_id` (now); a new sighting is a change.
pub(super) async fn upsert_sighting(
    tx: &Tx<'_>,
    article_id: i64,
    source_id: Option<i64>,
    article: &Article,
    now: &str,
    changes: &mut Changes,
) -> Result<(), Pg> {
    let Some(source_id) = source_id else {
        return Ok(());
    };
    let stmt = tx
        .prepare_cached(
            "INSERT INTO sightings (article_id, source_id, entry_guid, entry_url, first_seen_at, last_seen_at)
             VALUES ($1, $2, $3, $4, $5, $5)
             ON CONFLICT (article_id, source_id) DO UPDATE SET
                last_seen_at = EXCLUDED.last_seen_at,
                entry_guid = coalesce(EXCLUDED.entry_guid, sightings.entry_guid),
                entry_url = coalesce(EXCLUDED.entry_url, sightings.entry_url)
             RETURNING (xmax = 0)",
        )
        .await?;
    let new: bool = tx
        .query_one(
            &stmt,
            &[
                &article_id,
                &source_id,
                &article.entry_guid,
                &article.entry_url,
                &now,
            ],
        )
        .await?
        .get(0);
    if new {
        changes.changed(article_id, now);
    }
    Ok(())
}

/// Reads a stored row back into the form [`merge::merge`] works on.
fn read_article(r: &tokio_postgres::Row) -> StoredRow {
    StoredColumns {
        id: r.get(0),
        dedup_key: r.get(1),
        info_code: r.get(2),
        title: r.get(3),
        url: r.get(4),
        share_url: r.get(5),
        published_at: r.get(6),
        published_local: r.get(7),
        time_precision: r.get(8),
        updated_at: r.get(9),
        author: r.get(10),
        media: r.get(11),
        media_rank: r.get(12),
        category: r.get(13),
        tags: r.get(14),
        summary: r.get(15),
        content_html: r.get(16),
        content_text: r.get(17),
        content_hash: r.get(18),
        content_rank: r.get(19),
        language: r.get(20),
        revision: r.get(21),
    }
    .into_stored()
}
