//! Retention on PostgreSQL: one short transaction per [`PruneStep`], the same steps and
//! counts as SQLite's; and the dry run's counts for the reader. Deleting an article cascades
//! to its sightings, revisions, aliases and notifications and leaves a tombstone in the
//! change log, logged at the end of the step's transaction under the change-log lock
//! ([`Changes`]). There is no space to give back by hand: autovacuum makes the space
//! of deleted rows reusable, so the `Vacuum` step reports nothing free and no incremental
//! vacuum.

use chrono::Utc;

use super::changes::Changes;
use super::{Pg, Shared};
use crate::dates;
use crate::store::StoreError;
use crate::store::retention::{PruneCounts, PruneStep, RetentionPolicy, StepDone};

/// Revisions of the article `r.article_id` newer than `r` (as in SQLite's retention).
const NEWER_REVISIONS: &str = "(SELECT count(*) FROM article_revisions n
      WHERE n.article_id = r.article_id AND n.revision > r.revision)";

/// PostgreSQL's page size, reported with the (zero) free pages.
const PAGE_SIZE: u64 = 8192;

/// Runs one step of a prune in its own transaction.
pub(super) async fn prune_step(shared: &Shared, step: PruneStep) -> Result<StepDone, StoreError> {
    let started = std::time::Instant::now();
    let what = format!("{step:?}");
    let done = in_transaction!(shared, |tx| {
        let mut done = StepDone {
            page_size: PAGE_SIZE,
            ..StepDone::default()
        };
        match &step {
            PruneStep::Bounds => {
                let r = tx
                    .query_one(
                        "SELECT coalesce(min(id), 0), coalesce(max(id), 0) FROM articles",
                        &[],
                    )
                    .await?;
                (done.min_article, done.max_article) = (r.get(0), r.get(1));
                let r = tx
                    .query_one(
                        "SELECT coalesce(min(article_id), 0), coalesce(max(article_id), 0) FROM article_revisions",
                        &[],
                    )
                    .await?;
                (done.min_revised, done.max_revised) = (r.get(0), r.get(1));
            }
            PruneStep::Articles { before, from, to } => {
                let gone = "SELECT id FROM articles WHERE id > $1 AND id <= $2 AND last_seen_at < $3";
                for (table, count) in [
                    ("sightings", &mut done.counts.sightings),
                    ("article_revisions", &mut done.counts.article_revisions),
                ] {
                    let n: i64 = tx
                        .query_one(
                            &format!("SELECT count(*) FROM {table} WHERE article_id IN ({gone})"),
                            &[from, to, before],
                        )
                        .await?
                        .get(0);
                    *count = n.max(0) as u64;
                }
                let deleted = tx
                    .query(
                        "DELETE FROM articles WHERE id > $1 AND id <= $2 AND last_seen_at < $3 RETURNING id",
                        &[from, to, before],
                    )
                    .await?;
                done.counts.articles = deleted.len() as u64;
                let now = dates::format_utc(Utc::now());
                let mut changes = Changes::default();
                for row in &deleted {
                    changes.deleted(row.get(0), &now);
                }
                // The last statements before COMMIT.
                changes.log(&tx).await?;
            }
            PruneStep::Revisions { keep, from, to } => {
                // The subquery reads the statement's snapshot: the counts of newer rows are
                // the ones before the delete, as in SQLite.
                done.counts.article_revisions = tx
                    .execute(
                        &format!(
                            "DELETE FROM article_revisions AS r
                             WHERE r.article_id > $1 AND r.article_id <= $2 AND {NEWER_REVISIONS} >= $3"
                        ),
                        &[from, to, &i64::from(*keep)],
                    )
                    .await?;
            }
            PruneStep::Fetches { before, limit } => {
                done.counts.fetches = tx
                    .execute(
                        "DELETE FROM fetches WHERE id IN
                            (SELECT id FROM fetches WHERE started_at < $1 ORDER BY started_at LIMIT $2)",
                        &[before, &i64::from(*limit)],
                    )
                    .await?;
            }
            PruneStep::Vacuum { .. } => {}
        }
        done
    })?;
    tracing::debug!(
        step = %what,
        rows = done.counts.total(),
        elapsed_ms = started.elapsed().as_secs_f64() * 1000.0,
        "retention step"
    );
    Ok(done)
}

/// What a prune with `policy` would delete now, read in one snapshot (`prune --dry-run`).
pub(super) fn prune_counts(
    client: &mut postgres::Client,
    policy: &RetentionPolicy,
) -> Result<PruneCounts, Pg> {
    let fetches_before = policy.fetches_before.map(crate::dates::format_utc);
    let articles_before = policy.articles_before.map(crate::dates::format_utc);
    let keep = policy.keep_revisions.map(i64::from);
    let mut tx = client
        .build_transaction()
        .isolation_level(postgres::IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()?;
    // NULL limits select nothing (`x < NULL` is never true).
    let gone = "SELECT id FROM articles WHERE last_seen_at < $1::text";
    let mut count = |sql: &str, arg: &Option<String>| -> Result<u64, Pg> {
        let n: i64 = tx.query_one(sql, &[arg])?.get(0);
        Ok(n.max(0) as u64)
    };
    let mut counts = PruneCounts {
        fetches: count(
            "SELECT count(*) FROM fetches WHERE started_at < $1::text",
            &fetches_before,
        )?,
        articles: count(&format!("SELECT count(*) FROM ({gone}) AS g"), &articles_before)?,
        sightings: count(
            &format!("SELECT count(*) FROM sightings WHERE article_id IN ({gone})"),
            &articles_before,
        )?,
        article_revisions: count(
            &format!("SELECT count(*) FROM article_revisions WHERE article_id IN ({gone})"),
            &articles_before,
        )?,
    };
    // Revisions beyond the cap, of the articles that stay.
    let beyond: i64 = tx
        .query_one(
            &format!(
                "SELECT count(*) FROM article_revisions AS r
                 WHERE r.article_id NOT IN (SELECT id FROM articles WHERE last_seen_at < $1::text
                                            AND $1::text IS NOT NULL)
                   AND {NEWER_REVISIONS} >= $2::bigint"
            ),
            &[&articles_before, &keep],
        )?
        .get(0);
    counts.article_revisions += beyond.max(0) as u64;
    tx.commit()?;
    Ok(counts)
}
