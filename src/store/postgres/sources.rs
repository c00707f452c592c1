//! The `sources` rows: syncing them with the config, first poll times, and which articles
//! already have their full text.

use std::collections::HashSet;

use chrono::{DateTime, Utc};

use super::Shared;
use crate::dates;
use crate::fetch::Validators;
use crate::store::rows::parse_utc;
use crate::store::{SourceSpec, SourceState, StoreError};

/// Makes the `sources` table match the config, as SQLite does: every source disabled, then
/// each configured one upserted (an unchanged config entry keeps what the crawler learned:
/// validators, a moved URL, a 410's disabling; a changed one starts afresh).
pub(super) async fn sync_sources(
    shared: &Shared,
    specs: &[SourceSpec],
) -> Result<Vec<SourceState>, StoreError> {
    in_transaction!(shared, |tx| {
        // Sources no longer configured stop being polled; their articles stay.
        tx.execute("UPDATE sources SET enabled = 0 WHERE enabled <> 0", &[])
            .await?;
        let upsert = tx
            .prepare_cached(
                "INSERT INTO sources (name, type, url, enabled, config_hash) VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (name) DO UPDATE SET
                    type = EXCLUDED.type,
                    etag = CASE WHEN sources.config_hash IS NOT DISTINCT FROM EXCLUDED.config_hash
                           THEN sources.etag END,
                    last_modified = CASE WHEN sources.config_hash IS NOT DISTINCT FROM EXCLUDED.config_hash
                                    THEN sources.last_modified END,
                    url = CASE WHEN sources.config_hash IS NOT DISTINCT FROM EXCLUDED.config_hash
                          THEN sources.url ELSE EXCLUDED.url END,
                    disabled_reason = CASE WHEN sources.config_hash IS NOT DISTINCT FROM EXCLUDED.config_hash
                                      THEN sources.disabled_reason END,
                    enabled = CASE WHEN EXCLUDED.enabled <> 0
                                     AND (sources.config_hash IS DISTINCT FROM EXCLUDED.config_hash
                                          OR sources.disabled_reason IS NULL)
                                   THEN 1 ELSE 0 END,
                    config_hash = EXCLUDED.config_hash
                 RETURNING id, etag, last_modified, next_poll_at, consecutive_failures, url,
                           disabled_reason, poll_interval_secs",
            )
            .await?;
        let mut states = Vec::with_capacity(specs.len());
        for spec in specs {
            let r = tx
                .query_one(
                    &upsert,
                    &[
                        &spec.name,
                        &spec.kind,
                        &spec.url,
                        &i64::from(spec.enabled),
                        &spec.config_hash,
                    ],
                )
                .await?;
            let next_poll_at: Option<String> = r.get(3);
            states.push(SourceState {
                id: r.get(0),
                name: spec.name.clone(),
                validators: Validators {
                    etag: r.get(1),
                    last_modified: r.get(2),
                },
                next_poll_at: next_poll_at.as_deref().and_then(parse_utc),
                consecutive_failures: r.get::<_, i64>(4).clamp(0, i64::from(u32::MAX)) as u32,
                url: r.get(5),
                disabled_reason: r.get(6),
                poll_interval: r
                    .get::<_, Option<i64>>(7)
                    .map(|s| std::time::Duration::from_secs(s.max(0) as u64)),
            });
        }
        states
    })
}

/// Records when never-scheduled sources are first due; a time already there is left alone.
pub(super) async fn schedule_first_polls(
    shared: &Shared,
    due: &[(i64, DateTime<Utc>)],
) -> Result<(), StoreError> {
    in_transaction!(shared, |tx| {
        let update = tx
            .prepare_cached("UPDATE sources SET next_poll_at = $2 WHERE id = $1 AND next_poll_at IS NULL")
            .await?;
        for (id, at) in due {
            tx.execute(&update, &[id, &dates::format_utc(*at)]).await?;
        }
    })
}

/// Which of these `dedup_key`s belong to articles that already have the publisher's full
/// text (rank 3), through their key or an alias.
pub(super) async fn with_full_text(shared: &Shared, keys: &[String]) -> Result<HashSet<String>, StoreError> {
    let client = shared.client().await?;
    let run = async {
        let stmt = client
            .prepare_cached(
                "SELECT k FROM unnest($1::text[]) AS k
                 WHERE EXISTS (SELECT 1 FROM articles WHERE content_rank >= 3 AND id = coalesce(
                        (SELECT id FROM articles WHERE dedup_key = k),
                        (SELECT article_id FROM article_aliases WHERE dedup_key = k)))",
            )
            .await?;
        let rows = client.query(&stmt, &[&keys]).await?;
        Ok::<_, tokio_postgres::Error>(rows.iter().map(|r| r.get::<_, String>(0)).collect())
    };
    run.await.map_err(|e| shared.error(&e))
}
