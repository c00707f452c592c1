//! The SQL of retention: one short write transaction per [`PruneStep`] on the writer, and the
//! same counts read without deleting for `prune --dry-run`.
//!
//! Deleting an article cascades to its sightings, revisions and aliases (foreign keys), sets
//! `share_links.article_id` to NULL (a `done` link stays done, so the article is not fetched
//! again because its link is re-added), and the `articles_fts_delete` trigger takes an
//! indexed article out of the search index; one not yet indexed (id above
//! `fts_progress.indexed_upto`) is simply not found by the next bulk pass.

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use super::{Reader, Writer};
use crate::dates;
use crate::store::StoreError;
use crate::store::retention::{PruneCounts, PruneStep, RetentionPolicy, StepDone};

/// Revisions of the article `r.article_id` newer than `r`: a revision goes when `keep` or
/// more are newer (the primary key makes this an index range count).
const NEWER_REVISIONS: &str = "(SELECT count(*) FROM article_revisions n
      WHERE n.article_id = r.article_id AND n.revision > r.revision)";

impl Writer {
    /// Rewrites the whole file without its free pages (`VACUUM`): the file shrinks to its
    /// content. Takes as long as copying the database and needs that much free disk.
    pub(in crate::store) fn vacuum(&self) -> Result<(), StoreError> {
        self.conn.execute_batch("VACUUM;").map_err(|e| self.sqlite(e))
    }

    /// Runs one step of a prune in its own short transaction (timed in the debug log: the
    /// crawl's commits wait for it).
    pub(super) fn prune_step(&mut self, step: PruneStep) -> rusqlite::Result<StepDone> {
        let started = std::time::Instant::now();
        let what = format!("{step:?}");
        let done = self.run_prune_step(step)?;
        tracing::debug!(
            step = %what,
            rows = done.counts.total(),
            pages = done.returned_pages,
            elapsed_ms = started.elapsed().as_secs_f64() * 1000.0,
            "retention step"
        );
        Ok(done)
    }

    fn run_prune_step(&mut self, step: PruneStep) -> rusqlite::Result<StepDone> {
        let mut done = StepDone::default();
        match step {
            PruneStep::Bounds => {
                let conn = &self.conn;
                (done.min_article, done.max_article) = conn.query_row(
                    "SELECT coalesce(min(id), 0), coalesce(max(id), 0) FROM articles",
                    [],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )?;
                (done.min_revised, done.max_revised) = conn.query_row(
                    "SELECT coalesce(min(article_id), 0), coalesce(max(article_id), 0) FROM article_revisions",
                    [],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )?;
                fill_space(conn, &mut done)?;
            }
            PruneStep::Articles { before, from, to } => {
                let tx = self
                    .conn
                    .transaction_with_behavior(TransactionBehavior::Immediate)?;
                let gone = "SELECT id FROM articles WHERE id > ?1 AND id <= ?2 AND last_seen_at < ?3";
                let args = params![from, to, before];
                let count = |table: &str| -> rusqlite::Result<u64> {
                    tx.query_row(
                        &format!("SELECT count(*) FROM {table} WHERE article_id IN ({gone})"),
                        args,
                        |r| r.get::<_, i64>(0),
                    )
                    .map(|n| n.max(0) as u64)
                };
                done.counts.sightings = count("sightings")?;
                done.counts.article_revisions = count("article_revisions")?;
                done.counts.articles = tx.execute(
                    "DELETE FROM articles WHERE id > ?1 AND id <= ?2 AND last_seen_at < ?3",
                    args,
                )? as u64;
                tx.commit()?;
            }
            PruneStep::Revisions { keep, from, to } => {
                let tx = self
                    .conn
                    .transaction_with_behavior(TransactionBehavior::Immediate)?;
                // SQLite finds every row to delete before deleting any (the WHERE reads the
                // table being deleted from), so the count of newer rows is the one before.
                done.counts.article_revisions = tx.execute(
                    &format!(
                        "DELETE FROM article_revisions AS r
                         WHERE r.article_id > ?1 AND r.article_id <= ?2 AND {NEWER_REVISIONS} >= ?3"
                    ),
                    params![from, to, keep],
                )? as u64;
                tx.commit()?;
            }
            PruneStep::Fetches { before, limit } => {
                let tx = self
                    .conn
                    .transaction_with_behavior(TransactionBehavior::Immediate)?;
                done.counts.fetches = tx.execute(
                    "DELETE FROM fetches WHERE id IN
                        (SELECT id FROM fetches WHERE started_at < ?1 ORDER BY started_at LIMIT ?2)",
                    params![before, limit],
                )? as u64;
                tx.commit()?;
            }
            PruneStep::Vacuum { pages } => {
                let before = free_pages(&self.conn)?;
                if pages > 0 && before > 0 {
                    // Its own transaction. Each step of the statement returns one page (a
                    // single step, as `execute_batch` does, returned one page per command:
                    // 26,524 writer commands for 104 MiB), so it is stepped to the end.
                    let mut stmt = self
                        .conn
                        .prepare(&format!("PRAGMA incremental_vacuum({pages})"))?;
                    let mut rows = stmt.query([])?;
                    while rows.next()?.is_some() {}
                }
                fill_space(&self.conn, &mut done)?;
                done.returned_pages = before.saturating_sub(done.free_pages);
            }
        }
        Ok(done)
    }
}

fn free_pages(conn: &Connection) -> rusqlite::Result<u64> {
    conn.query_row("PRAGMA freelist_count", [], |r| r.get::<_, i64>(0))
        .map(|n| n.max(0) as u64)
}

fn fill_space(conn: &Connection, done: &mut StepDone) -> rusqlite::Result<()> {
    // 2 = INCREMENTAL (0 = NONE, 1 = FULL: a database someone converted by hand; FULL gives
    // pages back at every commit by itself).
    let mode: i64 = conn.query_row("PRAGMA auto_vacuum", [], |r| r.get(0))?;
    done.incremental = mode == 2;
    done.free_pages = free_pages(conn)?;
    done.page_size = conn
        .query_row("PRAGMA page_size", [], |r| r.get::<_, i64>(0))
        .optional()?
        .map_or(0, |n| n.max(0) as u64);
    Ok(())
}

impl Reader {
    /// What [`Store::prune`](crate::store::Store::prune) with `policy` would delete now, read
    /// in one snapshot without changing anything (`prune --dry-run`).
    pub fn prune_counts(&self, policy: &RetentionPolicy) -> Result<PruneCounts, StoreError> {
        let fetches_before = policy.fetches_before.map(dates::format_utc);
        let articles_before = policy.articles_before.map(dates::format_utc);
        // NULL limits select nothing (`x < NULL` is never true).
        let count = |sql: &str, arg: &dyn rusqlite::ToSql| -> rusqlite::Result<u64> {
            self.conn
                .query_row(sql, [arg], |r| r.get::<_, i64>(0))
                .map(|n| n.max(0) as u64)
        };
        let gone = "SELECT id FROM articles WHERE last_seen_at < ?1";
        let run = || -> rusqlite::Result<PruneCounts> {
            self.conn.execute_batch("BEGIN")?;
            let mut counts = PruneCounts {
                fetches: count(
                    "SELECT count(*) FROM fetches WHERE started_at < ?1",
                    &fetches_before,
                )?,
                articles: count(&format!("SELECT count(*) FROM ({gone})"), &articles_before)?,
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
            counts.article_revisions += self
                .conn
                .query_row(
                    &format!(
                        "SELECT count(*) FROM article_revisions AS r
                     WHERE r.article_id NOT IN ({gone}) AND {NEWER_REVISIONS} >= ?2"
                    ),
                    params![articles_before, policy.keep_revisions],
                    |r| r.get::<_, i64>(0),
                )?
                .max(0) as u64;
            self.conn.execute_batch("COMMIT")?;
            Ok(counts)
        };
        run().map_err(|source| {
            let _ = self.conn.execute_batch("ROLLBACK");
            StoreError::Sqlite {
                path: self.path.clone(),
                source: source.into(),
            }
        })
    }
}
