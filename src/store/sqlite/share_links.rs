//! The `share_links` queue: adding links, recording each attempt's result, and choosing
//! the links due for a fetch or a recheck.

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, params};

use super::Writer;
use crate::dates;
use crate::store::{DueShareLinks, NewShareLink, ShareLinkJob, ShareLinkUpdate, ShareState, StoreError};

impl Writer {
    /// Queues share links (`url`, infoCode) as `pending`; a URL already queued is left as
    /// it is. Returns how many were new.
    pub(in crate::store) fn add_share_links(
        &mut self,
        links: &[(String, Option<String>)],
    ) -> Result<usize, StoreError> {
        let now = dates::format_utc(Utc::now());
        let result = (|| {
            let tx = self
                .conn
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let mut added = 0;
            {
                let mut insert = tx.prepare_cached(
                    "INSERT INTO share_links (url, info_code, state, attempts, added_at)
                     VALUES (?1, ?2, 'pending', 0, ?3) ON CONFLICT(url) DO NOTHING",
                )?;
                for (url, info_code) in links {
                    added += insert.execute(params![url, info_code, now])?;
                }
            }
            tx.commit()?;
            Ok(added)
        })();
        result.map_err(|e| self.sqlite(e))
    }

    pub(super) fn due_share_links(&self, question: &DueShareLinks) -> rusqlite::Result<Vec<ShareLinkJob>> {
        let now = dates::format_utc(question.now);
        let mut jobs: Vec<ShareLinkJob> = {
            let mut pending = self.conn.prepare_cached(
                "SELECT l.url, l.info_code, l.source_id, l.attempts, s.name
                 FROM share_links l LEFT JOIN sources s ON s.id = l.source_id
                 WHERE l.state = 'pending' AND (l.next_attempt_at IS NULL OR l.next_attempt_at <= ?1)
                 ORDER BY l.added_at LIMIT ?2",
            )?;
            pending
                .query_map(params![now, question.limit as i64], |r| {
                    Ok(ShareLinkJob {
                        url: r.get(0)?,
                        info_code: r.get(1)?,
                        source_id: r.get(2)?,
                        attempts: r.get(3)?,
                        source_name: r.get(4)?,
                        recheck_page: None,
                        rechecks: 0,
                    })
                })?
                .collect::<rusqlite::Result<_>>()?
        };
        // A done link is re-read at each `[share] recheck` age, counted from its fetch.
        for (index, age) in question.recheck.iter().enumerate() {
            if jobs.len() >= question.limit {
                break;
            }
            let cutoff = dates::format_utc(
                // Saturating: no configured age can make the writer thread panic.
                chrono::Duration::from_std(*age)
                    .ok()
                    .and_then(|age| question.now.checked_sub_signed(age))
                    .unwrap_or(DateTime::<Utc>::MIN_UTC),
            );
            let mut due = self.conn.prepare_cached(
                "SELECT l.url, l.info_code, l.source_id, l.attempts, l.page_url, l.rechecks, s.name
                 FROM share_links l LEFT JOIN sources s ON s.id = l.source_id
                 WHERE l.state = 'done' AND l.page_url IS NOT NULL AND l.rechecks = ?1 AND l.fetched_at <= ?2
                 ORDER BY l.fetched_at LIMIT ?3",
            )?;
            let rows = due.query_map(
                params![index as i64, cutoff, (question.limit - jobs.len()) as i64],
                |r| {
                    Ok(ShareLinkJob {
                        url: r.get(0)?,
                        info_code: r.get(1)?,
                        source_id: r.get(2)?,
                        attempts: r.get(3)?,
                        recheck_page: r.get(4)?,
                        rechecks: r.get(5)?,
                        source_name: r.get(6)?,
                    })
                },
            )?;
            for row in rows {
                jobs.push(row?);
            }
        }
        Ok(jobs)
    }
}

pub(super) fn queue_share_links(tx: &Connection, links: &[NewShareLink], now: &str) -> rusqlite::Result<()> {
    let mut insert = tx.prepare_cached(
        "INSERT INTO share_links (url, info_code, source_id, state, attempts, last_error, added_at)
         VALUES (?1, ?2, ?3, ?4, 0, ?5, ?6) ON CONFLICT(url) DO NOTHING",
    )?;
    let mut also_from = tx.prepare_cached(
        "INSERT INTO share_link_sources (url, source_id, added_at) VALUES (?1, ?2, ?3)
         ON CONFLICT(url, source_id) DO NOTHING",
    )?;
    // A link already done: a source that finds it later sees its article now.
    let mut seen_done = tx.prepare_cached(
        "INSERT INTO sightings (article_id, source_id, entry_url, first_seen_at, last_seen_at)
         SELECT article_id, ?2, url, ?3, ?3 FROM share_links
         WHERE url = ?1 AND state = 'done' AND article_id IS NOT NULL
         ON CONFLICT(article_id, source_id) DO UPDATE SET last_seen_at = excluded.last_seen_at",
    )?;
    for link in links {
        insert.execute(params![
            link.url,
            link.info_code,
            link.source_id,
            link.state.as_str(),
            link.reason,
            now
        ])?;
        if let Some(source_id) = link.source_id {
            also_from.execute(params![link.url, source_id, now])?;
            seen_done.execute(params![link.url, source_id, now])?;
        }
    }
    Ok(())
}

pub(super) fn update_share_link(
    tx: &Connection,
    update: &ShareLinkUpdate,
    source_id: Option<i64>,
    now: &str,
) -> rusqlite::Result<()> {
    let article_id: Option<i64> = match &update.article_key {
        Some(key) => tx
            .prepare_cached(
                "SELECT coalesce((SELECT id FROM articles WHERE dedup_key = ?1),
                                 (SELECT article_id FROM article_aliases WHERE dedup_key = ?1))",
            )?
            .query_row([key], |r| r.get::<_, Option<i64>>(0))
            .optional()?
            .flatten(),
        None => None,
    };
    let fetched_at = (update.state == ShareState::Done && !update.rechecked).then_some(now);
    tx.prepare_cached(
        "UPDATE share_links SET state = ?2, attempts = attempts + ?3, last_error = ?4,
            next_attempt_at = ?5, page_url = coalesce(?6, page_url),
            fetched_at = coalesce(?7, fetched_at), article_id = coalesce(?8, article_id),
            rechecks = rechecks + ?9
         WHERE url = ?1",
    )?
    .execute(params![
        update.url,
        update.state.as_str(),
        i64::from(update.attempted),
        update.error,
        update.next_attempt_at.map(dates::format_utc),
        update.page_url,
        fetched_at,
        article_id,
        i64::from(update.rechecked),
    ])?;
    // Every source that found or queued the link sees its article.
    if update.state == ShareState::Done
        && let Some(article_id) = article_id
    {
        tx.prepare_cached(
            "INSERT INTO sightings (article_id, source_id, entry_url, first_seen_at, last_seen_at)
             SELECT ?1, source_id, url, ?3, ?3 FROM share_link_sources WHERE url = ?2
             ON CONFLICT(article_id, source_id) DO UPDATE SET last_seen_at = excluded.last_seen_at",
        )?
        .execute(params![article_id, update.url, now])?;
    }
    if update.touch_article
        && let Some(article_id) = article_id
    {
        tx.prepare_cached(
            "UPDATE articles SET share_url = coalesce(share_url, ?2), last_seen_at = ?3 WHERE id = ?1",
        )?
        .execute(params![article_id, update.url, now])?;
        if let Some(source_id) = source_id {
            tx.prepare_cached(
                "INSERT INTO sightings (article_id, source_id, entry_url, first_seen_at, last_seen_at)
                 VALUES (?1, ?2, ?3, ?4, ?4)
                 ON CONFLICT(article_id, source_id) DO UPDATE SET last_seen_at = excluded.last_seen_at",
            )?
            .execute(params![article_id, source_id, update.url, now])?;
        }
    }
    Ok(())
}
