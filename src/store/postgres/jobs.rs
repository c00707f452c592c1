//! The work queues of second requests (`page_jobs`) and share links (`share_links`): rows
//! queued and updated inside a batch's transaction (as SQLite's `page_jobs.rs` and
//! `share_links.rs`), and the rows due for work, selected among the hosts this daemon leases.

use chrono::{DateTime, Utc};

use super::changes::Changes;
use super::{Pg, Shared, Tx, host_of};
use crate::dates;
use crate::store::rows::parse_utc;
use crate::store::{
    DueShareLinks, NewPageJob, NewShareLink, PageJob, PageJobKind, PageJobUpdate, ShareLinkJob,
    ShareLinkUpdate, ShareState, StoreError,
};

/// Records the jobs; one per kind and article, so a job already recorded (pending, done or
/// failed) is left as it is.
pub(super) async fn queue_page_jobs(
    tx: &Tx<'_>,
    jobs: &[NewPageJob],
    source_id: Option<i64>,
    now: &str,
) -> Result<(), Pg> {
    if jobs.is_empty() {
        return Ok(());
    }
    let insert = tx
        .prepare_cached(
            "INSERT INTO page_jobs (kind, article_key, url, pointer, title, link, info_code, share_url,
                                    source_id, added_at, host)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
             ON CONFLICT (kind, article_key) DO NOTHING",
        )
        .await?;
    for job in jobs {
        tx.execute(
            &insert,
            &[
                &job.kind.as_str(),
                &job.article_key,
                &job.url,
                &job.pointer,
                &job.title,
                &job.link,
                &job.info_code,
                &job.share_url,
                &source_id,
                &now,
                &host_of(&job.url),
            ],
        )
        .await?;
    }
    Ok(())
}

/// Records how working on a job ended.
pub(super) async fn update_page_job(tx: &Tx<'_>, update: &PageJobUpdate, now: &str) -> Result<(), Pg> {
    let done_at = matches!(update.state, ShareState::Done).then_some(now);
    let stmt = tx
        .prepare_cached(
            "UPDATE page_jobs SET state = $3, attempts = attempts + $4, last_error = $5,
                next_attempt_at = $6, done_at = coalesce($7, done_at)
             WHERE kind = $1 AND article_key = $2",
        )
        .await?;
    tx.execute(
        &stmt,
        &[
            &update.kind.as_str(),
            &update.article_key,
            &update.state.as_str(),
            &i64::from(update.attempted),
            &update.error,
            &update.next_attempt_at.map(dates::format_utc),
            &done_at,
        ],
    )
    .await?;
    Ok(())
}

/// Queues share links found by a poll (a link already queued is left as it is); a source
/// that finds a link already done sees its article at once.
pub(super) async fn queue_share_links(
    tx: &Tx<'_>,
    links: &[NewShareLink],
    now: &str,
    changes: &mut Changes,
) -> Result<(), Pg> {
    if links.is_empty() {
        return Ok(());
    }
    let insert = tx
        .prepare_cached(
            "INSERT INTO share_links (url, info_code, source_id, state, attempts, last_error, added_at, host)
             VALUES ($1, $2, $3, $4, 0, $5, $6, $7) ON CONFLICT (url) DO NOTHING",
        )
        .await?;
    let also_from = tx
        .prepare_cached(
            "INSERT INTO share_link_sources (url, source_id, added_at) VALUES ($1, $2, $3)
             ON CONFLICT (url, source_id) DO NOTHING",
        )
        .await?;
    let seen_done = tx
        .prepare_cached(
            "INSERT INTO sightings (article_id, source_id, entry_url, first_seen_at, last_seen_at)
             SELECT article_id, $2, url, $3, $3 FROM share_links
             WHERE url = $1 AND state = 'done' AND article_id IS NOT NULL
             ON CONFLICT (article_id, source_id) DO UPDATE SET last_seen_at = EXCLUDED.last_seen_at
             RETURNING article_id, (xmax = 0)",
        )
        .await?;
    for link in links {
        tx.execute(
            &insert,
            &[
                &link.url,
                &link.info_code,
                &link.source_id,
                &link.state.as_str(),
                &link.reason,
                &now,
                &host_of(&link.url),
            ],
        )
        .await?;
        if let Some(source_id) = link.source_id {
            tx.execute(&also_from, &[&link.url, &source_id, &now]).await?;
            for row in tx.query(&seen_done, &[&link.url, &source_id, &now]).await? {
                if row.get::<_, bool>(1) {
                    changes.changed(row.get(0), now);
                }
            }
        }
    }
    Ok(())
}

/// Records how working on a share link ended (SQLite's `update_share_link`).
pub(super) async fn update_share_link(
    tx: &Tx<'_>,
    update: &ShareLinkUpdate,
    source_id: Option<i64>,
    now: &str,
    changes: &mut Changes,
) -> Result<(), Pg> {
    let article_id: Option<i64> = match &update.article_key {
        Some(key) => {
            let stmt = tx
                .prepare_cached(
                    "SELECT coalesce((SELECT id FROM articles WHERE dedup_key = $1),
                                     (SELECT article_id FROM article_aliases WHERE dedup_key = $1))",
                )
                .await?;
            tx.query_opt(&stmt, &[key]).await?.and_then(|r| r.get(0))
        }
        None => None,
    };
    let fetched_at = (update.state == ShareState::Done && !update.rechecked).then_some(now);
    let stmt = tx
        .prepare_cached(
            "UPDATE share_links SET state = $2, attempts = attempts + $3, last_error = $4,
                next_attempt_at = $5, page_url = coalesce($6, page_url),
                fetched_at = coalesce($7, fetched_at), article_id = coalesce($8, article_id),
                rechecks = rechecks + $9
             WHERE url = $1",
        )
        .await?;
    tx.execute(
        &stmt,
        &[
            &update.url,
            &update.state.as_str(),
            &i64::from(update.attempted),
            &update.error,
            &update.next_attempt_at.map(dates::format_utc),
            &update.page_url,
            &fetched_at,
            &article_id,
            &i64::from(update.rechecked),
        ],
    )
    .await?;
    // Every source that found or queued the link sees its article.
    if update.state == ShareState::Done
        && let Some(article_id) = article_id
    {
        let stmt = tx
            .prepare_cached(
                "INSERT INTO sightings (article_id, source_id, entry_url, first_seen_at, last_seen_at)
                 SELECT $1, source_id, url, $3, $3 FROM share_link_sources WHERE url = $2
                 ON CONFLICT (article_id, source_id) DO UPDATE SET last_seen_at = EXCLUDED.last_seen_at
                 RETURNING (xmax = 0)",
            )
            .await?;
        let rows = tx.query(&stmt, &[&article_id, &update.url, &now]).await?;
        if rows.iter().any(|r| r.get::<_, bool>(0)) {
            changes.changed(article_id, now);
        }
    }
    if update.touch_article
        && let Some(article_id) = article_id
    {
        // The share link is a change where the row had none: `o` is the row as the
        // statement's snapshot saw it (a share_url, once set, is never cleared, so a
        // concurrent writer can at worst make this log a change twice, never miss one).
        let stmt = tx
            .prepare_cached(
                "UPDATE articles a SET share_url = coalesce(a.share_url, $2), last_seen_at = $3
                 FROM articles o WHERE a.id = $1 AND o.id = $1
                 RETURNING o.share_url IS NULL",
            )
            .await?;
        let rows = tx.query(&stmt, &[&article_id, &update.url, &now]).await?;
        if rows.iter().any(|r| r.get::<_, bool>(0)) {
            changes.changed(article_id, now);
        }
        if let Some(source_id) = source_id {
            let stmt = tx
                .prepare_cached(
                    "INSERT INTO sightings (article_id, source_id, entry_url, first_seen_at, last_seen_at)
                     VALUES ($1, $2, $3, $4, $4)
                     ON CONFLICT (article_id, source_id) DO UPDATE SET last_seen_at = EXCLUDED.last_seen_at
                     RETURNING (xmax = 0)",
                )
                .await?;
            let new: bool = tx
                .query_one(&stmt, &[&article_id, &source_id, &update.url, &now])
                .await?
                .get(0);
            if new {
                changes.changed(article_id, now);
            }
        }
    }
    Ok(())
}

/// The hosts whose work this daemon does, as a query parameter: NULL (every host) until it
/// has leased any.
fn held_param(shared: &Shared) -> Option<Vec<String>> {
    shared.held().map(|held| held.as_ref().clone())
}

/// Share links due for work at `now` among the hosts held: pending ones whose retry time has
/// come, and done ones due for a recheck at the `recheck` ages; at most `limit`.
pub(super) async fn due_share_links(
    shared: &Shared,
    q: &DueShareLinks,
) -> Result<Vec<ShareLinkJob>, StoreError> {
    let client = shared.client().await?;
    let held = held_param(shared);
    let now = dates::format_utc(q.now);
    let run = async {
        let pending = client
            .prepare_cached(
                "SELECT l.url, l.info_code, l.source_id, l.attempts, s.name
                 FROM share_links l LEFT JOIN sources s ON s.id = l.source_id
                 WHERE l.state = 'pending' AND (l.next_attempt_at IS NULL OR l.next_attempt_at <= $1)
                   AND ($3::text[] IS NULL OR l.host = ANY($3))
                 ORDER BY l.added_at LIMIT $2",
            )
            .await?;
        let mut jobs: Vec<ShareLinkJob> = client
            .query(&pending, &[&now, &(q.limit as i64), &held])
            .await?
            .iter()
            .map(|r| ShareLinkJob {
                url: r.get(0),
                info_code: r.get(1),
                source_id: r.get(2),
                attempts: r.get::<_, i64>(3).max(0) as u32,
                source_name: r.get(4),
                recheck_page: None,
                rechecks: 0,
            })
            .collect();
        // A done link is re-read at each `[share] recheck` age, counted from its fetch.
        let due = client
            .prepare_cached(
                "SELECT l.url, l.info_code, l.source_id, l.attempts, l.page_url, l.rechecks, s.name
                 FROM share_links l LEFT JOIN sources s ON s.id = l.source_id
                 WHERE l.state = 'done' AND l.page_url IS NOT NULL AND l.rechecks = $1 AND l.fetched_at <= $2
                   AND ($4::text[] IS NULL OR l.host = ANY($4))
                 ORDER BY l.fetched_at LIMIT $3",
            )
            .await?;
        for (index, age) in q.recheck.iter().enumerate() {
            if jobs.len() >= q.limit {
                break;
            }
            let cutoff = dates::format_utc(
                chrono::Duration::from_std(*age)
                    .ok()
                    .and_then(|age| q.now.checked_sub_signed(age))
                    .unwrap_or(DateTime::<Utc>::MIN_UTC),
            );
            let rows = client
                .query(
                    &due,
                    &[&(index as i64), &cutoff, &((q.limit - jobs.len()) as i64), &held],
                )
                .await?;
            jobs.extend(rows.iter().map(|r| ShareLinkJob {
                url: r.get(0),
                info_code: r.get(1),
                source_id: r.get(2),
                attempts: r.get::<_, i64>(3).max(0) as u32,
                recheck_page: r.get(4),
                rechecks: r.get::<_, i64>(5).max(0) as u32,
                source_name: r.get(6),
            }));
        }
        Ok::<_, Pg>(jobs)
    };
    run.await.map_err(|e| shared.error(&e))
}

/// Up to `limit` pending second requests due at `now` among the hosts held, oldest first.
pub(super) async fn due_page_jobs(
    shared: &Shared,
    now: DateTime<Utc>,
    limit: usize,
) -> Result<Vec<PageJob>, StoreError> {
    let client = shared.client().await?;
    let held = held_param(shared);
    let run = async {
        let stmt = client
            .prepare_cached(
                "SELECT j.kind, j.article_key, j.url, j.pointer, j.title, j.link, j.info_code, j.share_url,
                        j.source_id, s.name, j.attempts
                 FROM page_jobs j LEFT JOIN sources s ON s.id = j.source_id
                 WHERE j.state = 'pending' AND (j.next_attempt_at IS NULL OR j.next_attempt_at <= $1)
                   AND ($3::text[] IS NULL OR j.host = ANY($3))
                 ORDER BY j.id LIMIT $2",
            )
            .await?;
        let rows = client
            .query(&stmt, &[&dates::format_utc(now), &(limit as i64), &held])
            .await?;
        Ok::<_, Pg>(
            rows.iter()
                .map(|r| {
                    let kind: &str = r.get(0);
                    PageJob {
                        job: NewPageJob {
                            kind: if kind == "detail" {
                                PageJobKind::Detail
                            } else {
                                PageJobKind::Page
                            },
                            article_key: r.get(1),
                            url: r.get(2),
                            pointer: r.get(3),
                            title: r.get(4),
                            link: r.get(5),
                            info_code: r.get(6),
                            share_url: r.get(7),
                        },
                        source_id: r.get(8),
                        source_name: r.get(9),
                        attempts: r.get::<_, i64>(10).max(0) as u32,
                    }
                })
                .collect(),
        )
    };
    run.await.map_err(|e| shared.error(&e))
}

/// When the earliest pending row of `table` (`share_links` or `page_jobs`) among the hosts
/// held may be tried (now, for one never tried); None when none is pending.
pub(super) async fn next_attempt(
    shared: &Shared,
    table: &'static str,
) -> Result<Option<DateTime<Utc>>, StoreError> {
    let client = shared.client().await?;
    let held = held_param(shared);
    let sql = format!(
        "SELECT min(coalesce(next_attempt_at, '')) FROM {table}
         WHERE state = 'pending' AND ($1::text[] IS NULL OR host = ANY($1))"
    );
    let run = async {
        let stmt = client.prepare_cached(&sql).await?;
        let at: Option<String> = client.query_one(&stmt, &[&held]).await?.get(0);
        Ok::<_, Pg>(at.map(|at| parse_utc(&at).unwrap_or_else(Utc::now)))
    };
    run.await.map_err(|e| shared.error(&e))
}
