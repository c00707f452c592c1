//! `Commit`: one poll's results in one transaction, the same rows as SQLite's `commit_batch`.
//!
//! Identity across daemons: before it looks any article up, the transaction takes an
//! advisory lock (`pg_advisory_xact_lock`) on every identity key of its articles (each
//! article's `dedup_key` and `info:<code>`), deduplicated and in one order (sorted by their
//! hash), so that two batches never wait for each other in a circle. Two daemons storing the
//! same infoCode take turns: the second finds the first's row and merges into it. What the
//! key locks cannot see (a row reached through an alias or a learned infoCode) is covered by
//! the row locks of the lookups (`FOR UPDATE`) and, for the last races, by the unique
//! constraints: the loser's transaction is tried again and then finds the winner's row.

use chrono::Utc;

use super::articles::{Upsert, upsert_article, upsert_sighting};
use super::changes::Changes;
use super::jobs::{queue_page_jobs, queue_share_links, update_page_job, update_share_link};
use super::notifications::queue_notifications;
use super::{Pg, Shared, Tx};
use crate::dates;
use crate::store::{CommitReport, FetchBatch, NotifyRouter, SourceOutcome, StoreError};

/// Commits `batch` (tried again on conflicts); a failure is this batch's
/// ([`StoreError::Batch`]), as on SQLite.
pub(super) async fn commit(shared: &Shared, batch: &FetchBatch) -> Result<CommitReport, StoreError> {
    let router = shared.router();
    let result = in_transaction!(shared, |tx| {
        let now = dates::format_utc(Utc::now());
        commit_batch(&tx, batch, &now, router.as_deref()).await?
    });
    result.map_err(|e| match e {
        StoreError::Sqlite { path, source } => {
            tracing::warn!(
                database = %path.display(),
                source_id = batch.source_id,
                error = %source,
                "a source's batch was rolled back"
            );
            StoreError::Batch { path, source }
        }
        other => other,
    })
}

/// Takes the advisory locks of the batch's identity keys, in one order.
async fn lock_identities(tx: &Tx<'_>, batch: &FetchBatch) -> Result<(), Pg> {
    let mut keys: Vec<String> = Vec::with_capacity(batch.articles.len() * 2);
    for article in &batch.articles {
        keys.push(article.dedup_key.clone());
        if let Some(code) = &article.info_code {
            keys.push(format!("info:{code}"));
        }
    }
    if keys.is_empty() {
        return Ok(());
    }
    // Sorted by the lock's own key (the hash), distinct: two keys of one hash are one lock.
    let stmt = tx
        .prepare_cached(
            "SELECT count(pg_advisory_xact_lock(h)) FROM
                (SELECT DISTINCT hashtextextended(k, 0) AS h FROM unnest($1::text[]) AS k ORDER BY 1) AS l",
        )
        .await?;
    tx.query_one(&stmt, &[&keys]).await?;
    Ok(())
}

/// Writes one batch, as SQLite's `commit_batch` does: its articles with their sightings (and
/// each new article's notifications, `router`), its requests, the share links and page jobs
/// it queued or worked, and its source's new state. Last, the change log of the articles
/// it changed, under the change-log lock ([`Changes::log`]).
async fn commit_batch(
    tx: &Tx<'_>,
    batch: &FetchBatch,
    now: &str,
    router: Option<&dyn NotifyRouter>,
) -> Result<CommitReport, Pg> {
    let mut report = CommitReport::default();
    let mut changes = Changes::default();
    lock_identities(tx, batch).await?;
    for article in &batch.articles {
        match upsert_article(tx, article, now, &mut changes).await? {
            Upsert::New(id) => {
                report.new_articles += 1;
                upsert_sighting(tx, id, batch.source_id, article, now, &mut changes).await?;
                if let Some(router) = router {
                    queue_notifications(tx, router, id, batch.source_id, article, now).await?;
                }
            }
            Upsert::Updated(id) => {
                report.updated_articles += 1;
                upsert_sighting(tx, id, batch.source_id, article, now, &mut changes).await?;
            }
            Upsert::Unchanged(id) => {
                report.unchanged_articles += 1;
                upsert_sighting(tx, id, batch.source_id, article, now, &mut changes).await?;
            }
        }
    }

    if !batch.attempts.is_empty() {
        let insert = tx
            .prepare_cached(
                "INSERT INTO fetches (source_id, url, started_at, duration_ms, status, bytes, not_modified,
                                      new_articles, error, entries_skipped, skip_reason)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            )
            .await?;
        let last = batch.attempts.len() - 1;
        for (i, attempt) in batch.attempts.iter().enumerate() {
            // New articles belong to the request that delivered the body: the last hop.
            let new_articles = if i == last { report.new_articles as i64 } else { 0 };
            tx.execute(
                &insert,
                &[
                    &batch.source_id,
                    &attempt.url,
                    &dates::format_utc(attempt.started_at),
                    &(attempt.duration.as_millis() as i64),
                    &attempt.status.map(i64::from),
                    &(attempt.bytes as i64),
                    &i64::from(attempt.not_modified),
                    &new_articles,
                    &attempt.error,
                    &(attempt.entries_skipped as i64),
                    &attempt.skip_reason,
                ],
            )
            .await?;
        }
    }

    queue_share_links(tx, &batch.queue_links, now, &mut changes).await?;
    queue_page_jobs(tx, &batch.page_jobs, batch.source_id, now).await?;
    if let (Some(source_id), Some(validators)) = (batch.source_id, &batch.validators) {
        let stmt = tx
            .prepare_cached("UPDATE sources SET etag = $2, last_modified = $3 WHERE id = $1")
            .await?;
        tx.execute(&stmt, &[&source_id, &validators.etag, &validators.last_modified])
            .await?;
    }
    for update in &batch.page_job_updates {
        update_page_job(tx, update, now).await?;
    }
    for update in &batch.share_links {
        update_share_link(tx, update, batch.source_id, now, &mut changes).await?;
    }

    if let (Some(source_id), Some(outcome)) = (batch.source_id, &batch.outcome) {
        source_outcome(tx, batch, source_id, outcome, report.new_articles as i64).await?;
    }
    // The last statements before COMMIT: the change-log lock is held only from here on.
    changes.log(tx).await?;
    Ok(report)
}

/// The `sources` row after a poll.
async fn source_outcome(
    tx: &Tx<'_>,
    batch: &FetchBatch,
    source_id: i64,
    outcome: &SourceOutcome,
    new_articles: i64,
) -> Result<(), Pg> {
    let polled_at = dates::format_utc(batch.polled_at);
    let next_poll_at = batch.next_poll_at.map(dates::format_utc);
    if let Some(moved_to) = &batch.moved_to {
        let stmt = tx
            .prepare_cached("UPDATE sources SET url = $2 WHERE id = $1")
            .await?;
        tx.execute(&stmt, &[&source_id, moved_to]).await?;
    }
    if let Some(interval) = batch.poll_interval {
        let stmt = tx
            .prepare_cached("UPDATE sources SET poll_interval_secs = $2 WHERE id = $1")
            .await?;
        tx.execute(&stmt, &[&source_id, &(interval.as_secs() as i64)])
            .await?;
    }
    match outcome {
        SourceOutcome::Fetched { status, validators } => {
            let stmt = tx
                .prepare_cached(
                    "UPDATE sources SET last_polled_at = $2, next_poll_at = $3, last_status = $4,
                        last_error = NULL, consecutive_failures = 0, etag = $5, last_modified = $6,
                        articles_found = articles_found + $7
                     WHERE id = $1",
                )
                .await?;
            tx.execute(
                &stmt,
                &[
                    &source_id,
                    &polled_at,
                    &next_poll_at,
                    &i64::from(*status),
                    &validators.etag,
                    &validators.last_modified,
                    &new_articles,
                ],
            )
            .await?;
        }
        SourceOutcome::NotModified => {
            let stmt = tx
                .prepare_cached(
                    "UPDATE sources SET last_polled_at = $2, next_poll_at = $3, last_status = 304,
                        last_error = NULL, consecutive_failures = 0
                     WHERE id = $1",
                )
                .await?;
            tx.execute(&stmt, &[&source_id, &polled_at, &next_poll_at])
                .await?;
        }
        SourceOutcome::Deferred { .. } => {
            let stmt = tx
                .prepare_cached("UPDATE sources SET next_poll_at = $2 WHERE id = $1")
                .await?;
            tx.execute(&stmt, &[&source_id, &next_poll_at]).await?;
        }
        SourceOutcome::Listed => {
            let stmt = tx
                .prepare_cached(
                    "UPDATE sources SET last_polled_at = $2, next_poll_at = $3, last_status = NULL,
                        last_error = NULL, consecutive_failures = 0
                     WHERE id = $1",
                )
                .await?;
            tx.execute(&stmt, &[&source_id, &polled_at, &next_poll_at])
                .await?;
        }
        SourceOutcome::Gone { error } => {
            let stmt = tx
                .prepare_cached(
                    "UPDATE sources SET last_polled_at = $2, next_poll_at = NULL, last_status = 410,
                        last_error = $3, consecutive_failures = consecutive_failures + 1,
                        enabled = 0, disabled_reason = $3
                     WHERE id = $1",
                )
                .await?;
            tx.execute(&stmt, &[&source_id, &polled_at, error]).await?;
        }
        SourceOutcome::Failed { status, error } => {
            let stmt = tx
                .prepare_cached(
                    "UPDATE sources SET last_polled_at = $2, next_poll_at = $3, last_status = $4,
                        last_error = $5, consecutive_failures = consecutive_failures + 1
                     WHERE id = $1",
                )
                .await?;
            tx.execute(
                &stmt,
                &[
                    &source_id,
                    &polled_at,
                    &next_poll_at,
                    &status.map(i64::from),
                    error,
                ],
            )
            .await?;
        }
    }
    Ok(())
}
