//! Host leases: how daemons sharing the database divide the hosts of their sources.
//!
//! Each daemon renews its lease every `period / 3` ([`crate::store::Store::lease_hosts`]).
//! One transaction: the daemon's `daemons` row is upserted (alive until `now() + period`),
//! daemons expired for more than a period are forgotten, the request's hosts are known to
//! `host_leases`, and the daemon keeps a fair share of them: floor or ceil(hosts / daemons
//! alive), never the larger while another daemon has less than the smaller. It renews the
//! leases it holds, gives back those above its share (so a daemon that joins finds hosts
//! free at the others' next renewal), and takes free or expired ones up to its share.
//! Every time is the database's clock (`now()`), so the machines' clocks do not matter.

use std::collections::HashSet;

use super::Shared;
use crate::store::{LeaseGrant, LeaseRequest, StoreError};

/// Renews, rebalances and takes this daemon's leases; remembers the hosts held for the work
/// queues' selection.
pub(super) async fn lease_hosts(shared: &Shared, request: &LeaseRequest) -> Result<LeaseGrant, StoreError> {
    let mut hosts: Vec<String> = request.hosts.iter().map(|h| h.to_ascii_lowercase()).collect();
    hosts.sort();
    hosts.dedup();
    let period = request.period.as_secs_f64().max(1.0);
    let daemon = request.daemon.as_str();
    let started = crate::dates::format_utc(chrono::Utc::now());
    let (held, alive) = in_transaction!(shared, |tx| {
        tx.execute(
            "INSERT INTO daemons (id, started_at, expires_at) VALUES ($1, $2, now() + make_interval(secs => $3))
             ON CONFLICT (id) DO UPDATE SET expires_at = EXCLUDED.expires_at",
            &[&daemon, &started, &period],
        )
        .await?;
        tx.execute(
            "DELETE FROM daemons WHERE expires_at < now() - make_interval(secs => $1)",
            &[&period],
        )
        .await?;
        tx.execute(
            "INSERT INTO host_leases (host) SELECT h FROM unnest($1::text[]) AS h ORDER BY h
             ON CONFLICT (host) DO NOTHING",
            &[&hosts],
        )
        .await?;
        let alive: i64 = tx
            .query_one("SELECT count(*) FROM daemons WHERE expires_at >= now()", &[])
            .await?
            .get(0);
        let alive = alive.max(1);
        // Hosts no longer among this daemon's sources go back.
        tx.execute(
            "UPDATE host_leases SET holder = NULL, expires_at = NULL
             WHERE holder = $1 AND NOT (host = ANY($2))",
            &[&daemon, &hosts],
        )
        .await?;
        let mut held: Vec<String> = tx
            .query(
                "UPDATE host_leases SET expires_at = now() + make_interval(secs => $3)
                 WHERE holder = $1 AND host = ANY($2) RETURNING host",
                &[&daemon, &hosts, &period],
            )
            .await?
            .iter()
            .map(|r| r.get(0))
            .collect();
        held.sort();
        // Shares differ by one at most: `low` hosts each, and `high` for as many daemons as
        // there are hosts left over. A daemon above `high` gives back the surplus; one at
        // `high` gives one back while another daemon alive holds fewer than `low` (with a
        // first-come rule alone, 4 hosts over 3 daemons could end 2, 2, 0).
        let total = hosts.len() as i64;
        let low = (total / alive).max(0) as usize;
        let high = ((total + alive - 1) / alive).max(0) as usize;
        let starving: i64 = tx
            .query_one(
                "SELECT count(*) FROM daemons d
                 WHERE d.expires_at >= now() AND d.id <> $1
                   AND (SELECT count(*) FROM host_leases l
                        WHERE l.holder = d.id AND l.expires_at >= now()) < $2",
                &[&daemon, &(low as i64)],
            )
            .await?
            .get(0);
        let keep = if held.len() > high {
            high
        } else if held.len() > low && starving > 0 {
            low.max(held.len() - 1)
        } else {
            held.len()
        };
        if held.len() > keep {
            let surplus = held.split_off(keep);
            tx.execute(
                "UPDATE host_leases SET holder = NULL, expires_at = NULL WHERE holder = $1 AND host = ANY($2)",
                &[&daemon, &surplus],
            )
            .await?;
        } else {
            // Up to `low` from whatever is free; past it, only while nobody is starving.
            let want = if starving > 0 { low } else { high };
            if held.len() < want {
                let taken = tx
                    .query(
                        "UPDATE host_leases SET holder = $1, expires_at = now() + make_interval(secs => $3)
                         WHERE host IN (SELECT host FROM host_leases
                                        WHERE host = ANY($2) AND (holder IS NULL OR expires_at < now())
                                        ORDER BY host LIMIT $4 FOR UPDATE SKIP LOCKED)
                         RETURNING host",
                        &[&daemon, &hosts, &period, &((want - held.len()) as i64)],
                    )
                    .await?;
                held.extend(taken.iter().map(|r| r.get::<_, String>(0)));
            }
        }
        (held, alive)
    })?;
    shared.set_held(held.clone());
    Ok(LeaseGrant {
        held: Some(held.into_iter().collect::<HashSet<_>>()),
        daemons: alive as usize,
    })
}

/// Gives back every lease of `daemon` and forgets it (a graceful stop): the others take its
/// hosts at their next renewal instead of after the lease period.
pub(super) async fn release_hosts(shared: &Shared, daemon: &str) -> Result<(), StoreError> {
    in_transaction!(shared, |tx| {
        tx.execute(
            "UPDATE host_leases SET holder = NULL, expires_at = NULL WHERE holder = $1",
            &[&daemon],
        )
        .await?;
        tx.execute("DELETE FROM daemons WHERE id = $1", &[&daemon])
            .await?;
    })
}
