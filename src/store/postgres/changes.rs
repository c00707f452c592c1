//! The change log (`article_changes`) on PostgreSQL, kept by the writer: a transaction
//! collects the articles it changed ([`Changes`]) and logs them all at its end
//! ([`Changes::log`]), under the cluster-wide change-log lock, so that `seq` follows commit
//! order (migrations/postgres/0001_init.sql, docs/schema.md).

use std::collections::BTreeMap;

use super::{Pg, Tx};

/// The change-log lock: `pg_advisory_xact_lock(CHANGE_LOG_LOCK.0, CHANGE_LOG_LOCK.1)`.
const CHANGE_LOG_LOCK: (i32, i32) = (7262, 2);

/// The articles one write transaction changed: id → (time to log, deleted).
#[derive(Default)]
pub(super) struct Changes {
    rows: BTreeMap<i64, (String, bool)>,
}

impl Changes {
    /// Article `id` was inserted, changed in a consumer-visible column, or seen by a new
    /// source, at `at`.
    pub(super) fn changed(&mut self, id: i64, at: &str) {
        let entry = self.rows.entry(id).or_insert_with(|| (at.to_owned(), false));
        if !entry.1 {
            at.clone_into(&mut entry.0);
        }
    }

    /// Article `id` was deleted (a tombstone, whatever else happened to it before).
    pub(super) fn deleted(&mut self, id: i64, at: &str) {
        self.rows.insert(id, (at.to_owned(), true));
    }

    /// Logs the changes: to be the last statements of the transaction before its commit.
    /// Takes the change-log lock (held until the commit ends) and upserts every row in one
    /// statement, in article_id order; nothing when nothing changed.
    pub(super) async fn log(&self, tx: &Tx<'_>) -> Result<(), Pg> {
        if self.rows.is_empty() {
            return Ok(());
        }
        let mut ids = Vec::with_capacity(self.rows.len());
        let mut times = Vec::with_capacity(self.rows.len());
        let mut deleted = Vec::with_capacity(self.rows.len());
        for (id, (at, gone)) in &self.rows {
            ids.push(*id);
            times.push(at.as_str());
            deleted.push(i64::from(*gone));
        }
        let lock = tx.prepare_cached("SELECT pg_advisory_xact_lock($1, $2)").await?;
        tx.execute(&lock, &[&CHANGE_LOG_LOCK.0, &CHANGE_LOG_LOCK.1])
            .await?;
        let upsert = tx
            .prepare_cached(
                "INSERT INTO article_changes (article_id, changed_at, deleted)
                 SELECT * FROM unnest($1::bigint[], $2::text[], $3::bigint[])
                 ON CONFLICT (article_id) DO UPDATE
                    SET seq = DEFAULT, changed_at = EXCLUDED.changed_at, deleted = EXCLUDED.deleted",
            )
            .await?;
        tx.execute(&upsert, &[&ids, &times, &deleted]).await?;
        Ok(())
    }
}
