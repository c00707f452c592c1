//! Migrations: the numbered files of `migrations/postgres/`, applied in one transaction under
//! a cluster-wide advisory lock (several daemons start at once) and recorded in
//! `schema_migrations`.

use std::path::PathBuf;

use crate::config::PostgresTarget;
use crate::store::StoreError;

/// The numbered files of `migrations/postgres/`, in order; the schema version is their count.
const MIGRATION_SQL: &[&str] = &[include_str!("../../../migrations/postgres/0001_init.sql")];

/// The advisory lock taken by every migration run (`pg_advisory_xact_lock(key)`): the first
/// daemon migrates, the others wait and then find nothing left to do.
const MIGRATION_LOCK: i64 = 0x6665_6564_6d69_6772; // "feedmigr"

/// The newest schema version this binary knows.
pub(super) fn known_version() -> usize {
    MIGRATION_SQL.len()
}

/// Creates the record of migrations on a new database. (Not `CREATE TABLE IF NOT EXISTS`:
/// its NOTICE on every existing database would be logged by the driver at each start.)
const PREPARE: &str = "DO $$ BEGIN
        IF to_regclass('schema_migrations') IS NULL THEN
            CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL);
        END IF;
    END $$";
const FOUND: &str = "SELECT coalesce(max(version), 0) FROM schema_migrations";
const RECORD: &str = "INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)";

fn too_new(target: &PostgresTarget, found: i32) -> StoreError {
    StoreError::TooNew {
        path: PathBuf::from(target.to_string()),
        found: i64::from(found),
        known: known_version(),
    }
}

fn failed(target: &PostgresTarget, e: &tokio_postgres::Error) -> StoreError {
    StoreError::Migration {
        path: PathBuf::from(target.to_string()),
        message: super::message(e),
    }
}

/// Applies pending migrations on one of the writer's connections; returns the schema
/// version.
pub(super) async fn migrate(
    client: &mut tokio_postgres::Client,
    target: &PostgresTarget,
) -> Result<usize, StoreError> {
    let now = crate::dates::format_utc(chrono::Utc::now());
    let fail = |e: tokio_postgres::Error| failed(target, &e);
    let tx = client.transaction().await.map_err(fail)?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await
        .map_err(fail)?;
    tx.batch_execute(PREPARE).await.map_err(fail)?;
    let found: i32 = tx.query_one(FOUND, &[]).await.map_err(fail)?.get(0);
    if found as usize > known_version() {
        return Err(too_new(target, found));
    }
    for (i, sql) in MIGRATION_SQL.iter().enumerate().skip(found.max(0) as usize) {
        let version = i as i32 + 1;
        tx.batch_execute(sql).await.map_err(fail)?;
        tx.execute(RECORD, &[&version, &now]).await.map_err(fail)?;
    }
    tx.commit().await.map_err(fail)?;
    Ok(known_version())
}
