//! The `notifications` queue (CONTRACT §5 `[[notify]]`): rows queued with new articles in
//! their own transaction, taken by the delivery worker, updated when a delivery ends.

use rusqlite::{Connection, OptionalExtension, params};

use super::Writer;
use super::reader::{Reader, cell};
use crate::dates;
use crate::normalize::Article;
use crate::store::notify::DueNotifications;
use crate::store::{
    ArticleRecord, NotificationJob, NotificationUpdate, NotifyCounts, NotifyRouter, StoreError,
};

/// Queues the deliveries `router` asks for of the new article `article_id`, first stored
/// from `source_id`. Called inside the transaction that stores the article, so that the
/// article and what is owed for it are committed together or not at all.
pub(super) fn queue_notifications(
    tx: &Connection,
    router: &dyn NotifyRouter,
    article_id: i64,
    source_id: Option<i64>,
    article: &Article,
    now: &str,
) -> rusqlite::Result<()> {
    let source: Option<String> = match source_id {
        Some(id) => tx
            .prepare_cached("SELECT name FROM sources WHERE id = ?1")?
            .query_row([id], |r| r.get(0))
            .optional()?,
        None => None,
    };
    let media = article.media.as_ref().map(|(m, _)| m.as_str());
    let names = router.route(source.as_deref(), &article.title, media);
    if names.is_empty() {
        return Ok(());
    }
    let mut insert = tx.prepare_cached(
        "INSERT INTO notifications (notify, article_id, added_at) VALUES (?1, ?2, ?3)
         ON CONFLICT(notify, article_id) DO NOTHING",
    )?;
    for name in names {
        insert.execute(params![name, article_id, now])?;
    }
    Ok(())
}

impl Writer {
    /// Up to `limit` pending deliveries of the named `[[notify]]`s due at `now`, oldest
    /// first, each with its article as stored now (once its page job had its first try).
    pub(super) fn due_notifications(&self, q: &DueNotifications) -> rusqlite::Result<Vec<NotificationJob>> {
        let names = serde_json::to_string(&q.names).unwrap_or_else(|_| "[]".to_owned());
        let mut stmt = self.conn.prepare_cached(
            "SELECT n.id, n.notify, n.attempts, a.*,
                    (SELECT json_group_array(name) FROM
                        (SELECT s.name FROM sightings g JOIN sources s ON s.id = g.source_id
                         WHERE g.article_id = a.id ORDER BY s.name)) AS \"sources()\"
             FROM notifications n JOIN articles a ON a.id = n.article_id
             WHERE n.state = 'pending' AND (n.next_attempt_at IS NULL OR n.next_attempt_at <= ?1)
               AND n.notify IN (SELECT value FROM json_each(?2))
               -- A listed entry whose article page (or detail body) is being fetched by
               -- the poll that stored it is notified with its full text: it waits for the
               -- job's first attempt (seconds), not for its retries.
               AND NOT EXISTS (SELECT 1 FROM page_jobs j WHERE j.kind IN ('page', 'detail')
                                 AND j.article_key = a.dedup_key AND j.state = 'pending'
                                 AND j.attempts = 0)
             ORDER BY n.id LIMIT ?3",
        )?;
        let n = stmt.column_count();
        // The article's columns: after the three of the queue row, before `sources()`.
        let columns: std::sync::Arc<[String]> = stmt
            .column_names()
            .into_iter()
            .take(n.saturating_sub(1))
            .skip(3)
            .map(str::to_owned)
            .collect();
        let mut rows = stmt.query(params![dates::format_utc(q.now), names, q.limit as i64])?;
        let mut jobs = Vec::new();
        while let Some(row) = rows.next()? {
            let mut values = Vec::with_capacity(columns.len());
            for i in 0..columns.len() {
                values.push(cell(row.get_ref(i + 3)?));
            }
            let sources = match row.get_ref(columns.len() + 3)? {
                rusqlite::types::ValueRef::Text(t) => {
                    serde_json::from_slice::<Vec<String>>(t).unwrap_or_default()
                }
                _ => Vec::new(),
            };
            jobs.push(NotificationJob {
                id: row.get(0)?,
                notify: row.get(1)?,
                attempts: row.get(2)?,
                article: ArticleRecord {
                    columns: std::sync::Arc::clone(&columns),
                    values,
                    sources,
                },
            });
        }
        Ok(jobs)
    }

    /// Records how deliveries ended, in one transaction.
    pub(super) fn update_notifications(&mut self, updates: &[NotificationUpdate]) -> Result<(), StoreError> {
        let now = dates::format_utc(chrono::Utc::now());
        let result = (|| {
            let tx = self
                .conn
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            {
                let mut update = tx.prepare_cached(
                    "UPDATE notifications SET state = ?2, attempts = attempts + 1, last_status = ?3,
                        last_error = coalesce(?4, last_error), next_attempt_at = ?5,
                        done_at = CASE WHEN ?2 = 'pending' THEN NULL ELSE ?6 END
                     WHERE id = ?1",
                )?;
                for u in updates {
                    update.execute(params![
                        u.id,
                        u.state.as_str(),
                        u.status,
                        u.error,
                        u.next_attempt_at.map(dates::format_utc),
                        now,
                    ])?;
                }
            }
            tx.commit()
        })();
        result.map_err(|e| self.sqlite(e))
    }
}

impl Reader {
    /// Each `[[notify]]` name found in the queue with its counts and last error, by name.
    pub fn notify_counts(&self) -> Result<Vec<NotifyCounts>, StoreError> {
        let result = (|| {
            let mut stmt = self.conn.prepare(
                "SELECT notify,
                        sum(state = 'pending'), sum(state = 'delivered'), sum(state = 'failed'),
                        (SELECT last_error FROM notifications l WHERE l.notify = n.notify
                           AND l.last_error IS NOT NULL ORDER BY l.id DESC LIMIT 1)
                 FROM notifications n GROUP BY notify ORDER BY notify",
            )?;
            stmt.query_map([], |r| {
                Ok(NotifyCounts {
                    notify: r.get(0)?,
                    pending: r.get::<_, i64>(1)?.max(0) as u64,
                    delivered: r.get::<_, i64>(2)?.max(0) as u64,
                    failed: r.get::<_, i64>(3)?.max(0) as u64,
                    last_error: r.get(4)?,
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()
        })();
        result.map_err(|e| self.sqlite(e))
    }
}
