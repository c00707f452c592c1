//! The `page_jobs` queue: the second requests listed entries owe (article pages, detail
//! bodies), recorded with the entries and worked until done or failed.

use rusqlite::{Connection, params};

use super::Writer;
use crate::dates;
use crate::store::{NewPageJob, PageJob, PageJobKind, PageJobUpdate};

/// Records the jobs; one per kind and article, so a job already recorded (pending, done
/// or failed) is left as it is.
pub(super) fn queue_page_jobs(
    tx: &Connection,
    jobs: &[NewPageJob],
    source_id: Option<i64>,
    now: &str,
) -> rusqlite::Result<()> {
    if jobs.is_empty() {
        return Ok(());
    }
    let mut insert = tx.prepare_cached(
        "INSERT INTO page_jobs (kind, article_key, url, pointer, title, link, info_code, share_url,
                                source_id, added_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
         ON CONFLICT(kind, article_key) DO NOTHING",
    )?;
    for job in jobs {
        insert.execute(params![
            job.kind.as_str(),
            job.article_key,
            job.url,
            job.pointer,
            job.title,
            job.link,
            job.info_code,
            job.share_url,
            source_id,
            now,
        ])?;
    }
    Ok(())
}

/// Records how working on a job ended.
pub(super) fn update_page_job(tx: &Connection, update: &PageJobUpdate, now: &str) -> rusqlite::Result<()> {
    let done_at = matches!(update.state, crate::store::ShareState::Done).then_some(now);
    tx.prepare_cached(
        "UPDATE page_jobs SET state = ?3, attempts = attempts + ?4, last_error = ?5,
            next_attempt_at = ?6, done_at = coalesce(?7, done_at)
         WHERE kind = ?1 AND article_key = ?2",
    )?
    .execute(params![
        update.kind.as_str(),
        update.article_key,
        update.state.as_str(),
        i64::from(update.attempted),
        update.error,
        update.next_attempt_at.map(dates::format_utc),
        done_at,
    ])?;
    Ok(())
}

impl Writer {
    /// Up to `limit` pending jobs due at `now`, oldest first.
    pub(super) fn due_page_jobs(
        &self,
        now: chrono::DateTime<chrono::Utc>,
        limit: usize,
    ) -> rusqlite::Result<Vec<PageJob>> {
        let mut due = self.conn.prepare_cached(
            "SELECT j.kind, j.article_key, j.url, j.pointer, j.title, j.link, j.info_code, j.share_url,
                    j.source_id, s.name, j.attempts
             FROM page_jobs j LEFT JOIN sources s ON s.id = j.source_id
             WHERE j.state = 'pending' AND (j.next_attempt_at IS NULL OR j.next_attempt_at <= ?1)
             ORDER BY j.id LIMIT ?2",
        )?;
        due.query_map(params![dates::format_utc(now), limit as i64], |r| {
            let kind: String = r.get(0)?;
            Ok(PageJob {
                job: NewPageJob {
                    kind: if kind == "detail" {
                        PageJobKind::Detail
                    } else {
                        PageJobKind::Page
                    },
                    article_key: r.get(1)?,
                    url: r.get(2)?,
                    pointer: r.get(3)?,
                    title: r.get(4)?,
                    link: r.get(5)?,
                    info_code: r.get(6)?,
                    share_url: r.get(7)?,
                },
                source_id: r.get(8)?,
                source_name: r.get(9)?,
                attempts: r.get(10)?,
            })
        })?
        .collect()
    }

    /// When the earliest pending job may be tried (now, for one never tried).
    pub(super) fn next_page_job_attempt(&self) -> rusqlite::Result<Option<String>> {
        self.conn.query_row(
            "SELECT min(coalesce(next_attempt_at, '')) FROM page_jobs WHERE state = 'pending'",
            [],
            |r| r.get(0),
        )
    }
}
