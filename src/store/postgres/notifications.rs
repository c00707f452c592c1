//! The `notifications` queue (CONTRACT §5 `[[notify]]`) on a shared database: rows queued in
//! the article's own transaction, and handed out cluster-wide once at a time: a daemon
//! claims the rows it delivers (`claimed_until`, `FOR UPDATE SKIP LOCKED`), so that two
//! daemons never deliver the same pending row at once. A claim expires after [`CLAIM`]: the
//! rows of a daemon that died mid-delivery are then retried by another (at-least-once).

use std::collections::HashMap;

use chrono::Utc;

use super::reader::{ARTICLE_SOURCES, record};
use super::{Pg, Shared, Tx};
use crate::dates;
use crate::normalize::Article;
use crate::store::notify::DueNotifications;
use crate::store::{NotificationJob, NotificationUpdate, NotifyRouter, StoreError};

/// How long a claim holds a row. The delivery worker takes up to 64 rows a round and delivers
/// 4 at a time, each within its `[[notify]] timeout` (30 s by default): 16 × 30 s is 8 min.
/// A delivery slower than this may be made twice (at-least-once allows it).
const CLAIM: std::time::Duration = std::time::Duration::from_secs(15 * 60);

/// A question about a time this far ahead or more is a look ahead (`once` asks whether a
/// retry is due soon), not a take: it claims nothing.
const LOOK_AHEAD: chrono::TimeDelta = chrono::TimeDelta::seconds(1);

/// Queues the deliveries `router` asks for of the new article `article_id`, first stored
/// from `source_id`, inside the article's transaction.
pub(super) async fn queue_notifications(
    tx: &Tx<'_>,
    router: &dyn NotifyRouter,
    article_id: i64,
    source_id: Option<i64>,
    article: &Article,
    now: &str,
) -> Result<(), Pg> {
    let source: Option<String> = match source_id {
        Some(id) => {
            let stmt = tx
                .prepare_cached("SELECT name FROM sources WHERE id = $1")
                .await?;
            tx.query_opt(&stmt, &[&id]).await?.map(|r| r.get(0))
        }
        None => None,
    };
    let media = article.media.as_ref().map(|(m, _)| m.as_str());
    let names = router.route(source.as_deref(), &article.title, media);
    if names.is_empty() {
        return Ok(());
    }
    let insert = tx
        .prepare_cached(
            "INSERT INTO notifications (notify, article_id, added_at) VALUES ($1, $2, $3)
             ON CONFLICT (notify, article_id) DO NOTHING",
        )
        .await?;
    for name in names {
        tx.execute(&insert, &[&name, &article_id, &now]).await?;
    }
    Ok(())
}

/// The rows due: pending, their time come, of the named `[[notify]]`s, not claimed by a
/// daemon now, and not waiting for their page job's first attempt (a listed entry is
/// notified with its full text).
const DUE: &str = "SELECT n.id FROM notifications n JOIN articles a ON a.id = n.article_id
     WHERE n.state = 'pending' AND (n.next_attempt_at IS NULL OR n.next_attempt_at <= $1)
       AND n.notify = ANY($2)
       AND (n.claimed_until IS NULL OR n.claimed_until < now())
       AND NOT EXISTS (SELECT 1 FROM page_jobs j WHERE j.kind IN ('page', 'detail')
                         AND j.article_key = a.dedup_key AND j.state = 'pending'
                         AND j.attempts = 0)
     ORDER BY n.id LIMIT $3";

/// Up to `limit` due deliveries, oldest first, each with its article as stored now; claimed
/// for this daemon (unless the question is a look ahead).
pub(super) async fn due_notifications(
    shared: &Shared,
    q: &DueNotifications,
) -> Result<Vec<NotificationJob>, StoreError> {
    let now = dates::format_utc(q.now);
    let limit = q.limit as i64;
    let claim = q.now < Utc::now() + LOOK_AHEAD;
    in_transaction!(shared, |tx| {
        let rows = if claim {
            let stmt = tx
                .prepare_cached(&format!(
                    "UPDATE notifications SET claimed_until = now() + make_interval(secs => $4)
                     WHERE id IN ({DUE} FOR UPDATE OF n SKIP LOCKED)
                     RETURNING id, notify, attempts, article_id"
                ))
                .await?;
            tx.query(&stmt, &[&now, &q.names, &limit, &CLAIM.as_secs_f64()])
                .await?
        } else {
            let stmt = tx
                .prepare_cached(&format!(
                    "SELECT id, notify, attempts, article_id FROM notifications WHERE id IN ({DUE})"
                ))
                .await?;
            tx.query(&stmt, &[&now, &q.names, &limit]).await?
        };
        let mut queued: Vec<(i64, String, i64, i64)> = rows
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
            .collect();
        queued.sort_by_key(|row| row.0);
        let ids: Vec<i64> = queued.iter().map(|row| row.3).collect();
        let stmt = tx
            .prepare_cached(&format!(
                "SELECT a.*, {ARTICLE_SOURCES} AS \"sources()\" FROM articles a WHERE a.id = ANY($1)"
            ))
            .await?;
        let mut articles: HashMap<i64, crate::store::ArticleRecord> = HashMap::new();
        let mut columns = None;
        for row in tx.query(&stmt, &[&ids]).await? {
            let article = record(&row, &mut columns);
            if let Some(id) = article.integer("id") {
                articles.insert(id, article);
            }
        }
        queued
            .into_iter()
            .filter_map(|(id, notify, attempts, article_id)| {
                Some(NotificationJob {
                    id,
                    notify,
                    attempts: attempts.clamp(0, i64::from(u32::MAX)) as u32,
                    article: articles.get(&article_id)?.clone(),
                })
            })
            .collect::<Vec<_>>()
    })
}

/// Records how deliveries ended, in one transaction, and gives up their claims.
pub(super) async fn update_notifications(
    shared: &Shared,
    updates: &[NotificationUpdate],
) -> Result<(), StoreError> {
    let now = dates::format_utc(Utc::now());
    in_transaction!(shared, |tx| {
        let update = tx
            .prepare_cached(
                "UPDATE notifications SET state = $2, attempts = attempts + 1, last_status = $3,
                    last_error = coalesce($4, last_error), next_attempt_at = $5,
                    done_at = CASE WHEN $2 = 'pending' THEN NULL ELSE $6 END,
                    claimed_until = NULL
                 WHERE id = $1",
            )
            .await?;
        for u in updates {
            tx.execute(
                &update,
                &[
                    &u.id,
                    &u.state.as_str(),
                    &u.status,
                    &u.error,
                    &u.next_attempt_at.map(dates::format_utc),
                    &now,
                ],
            )
            .await?;
        }
    })
}
