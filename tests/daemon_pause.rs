//! `run`: 429 with `Retry-After` pauses the whole host (CONTRACT §4, §6
//! *Pauses*): after the 429 the host sees no request until the pause ends,
//! the other source on the same host included, and the 429 is recorded.

mod support;

use std::time::{Duration, Instant};

use support::*;

const PAUSE: f64 = 3.0;
/// Requests already on their way when the 429 went out are not a breach.
const GRACE: f64 = 0.1;
/// Below the pause end that still counts as waiting it out.
const TOLERANCE: f64 = 0.2;

#[test]
fn retry_after_pauses_the_host_for_every_source() {
    let server = TestServer::start();
    server.set("/limited.xml", Route::status(429).header("Retry-After", "3"));
    server.set("/other.xml", Route::atom(fixture("atom.xml")));
    let dir = tempdir();
    let mut cfg = daemon_config(&DaemonOpts {
        // Every source is due every second: without the pause the host would
        // see about three requests in the three seconds.
        interval: "1s".into(),
        min_interval: "1s".into(),
        ..DaemonOpts::default()
    });
    cfg.push_str(&feed_source(
        "limited",
        &server.url("/limited.xml"),
        "emnews",
        &[],
    ));
    cfg.push_str(&feed_source("other", &server.url("/other.xml"), "emnews", &[]));
    let config = write_config(dir.path(), &cfg);
    let db = db_path(dir.path());
    let mut daemon = Daemon::start(&config);

    // The first request to /limited.xml gets the 429; from then on it serves a feed.
    let t429 = daemon
        .poll_until(Duration::from_secs(10), Duration::from_millis(5), || {
            server.requests_for("/limited.xml").first().map(|r| r.at)
        })
        .unwrap_or_else(|| panic!("/limited.xml never requested:\n{}", server.describe_requests()));
    server.set(
        "/limited.xml",
        Route::rss(mini_rss(
            "限流源",
            &[(
                "国家统计局：一季度国民经济开局总体平稳",
                "http://news.example.org/a/limited-1.html",
            )],
        )),
    );

    // Watch the database during the pause.
    let mut saw_429_status = false;
    let mut next_polls: Vec<String> = Vec::new();
    let watch_until = t429 + Duration::from_secs_f64(PAUSE + 3.0);
    while Instant::now() < watch_until {
        if let Some(s) = source_state_at(&db, "limited")
            && s.last_status == Some(429)
        {
            saw_429_status = true;
            if let Some(n) = &s.next_poll_at
                && !next_polls.contains(n)
            {
                next_polls.push(n.clone());
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let (exit, _) = daemon.terminate(Duration::from_secs(10));

    let reqs = server.requests();
    let rel = |at: Instant| -> f64 {
        if at >= t429 {
            at.duration_since(t429).as_secs_f64()
        } else {
            -t429.duration_since(at).as_secs_f64()
        }
    };
    let listing: Vec<String> = reqs
        .iter()
        .map(|r| format!("{:+.3}s {} -> {}", rel(r.at), r.url, r.status))
        .collect();
    let mut soft = Soft::new();
    let during: Vec<&String> = reqs
        .iter()
        .zip(&listing)
        .filter(|(r, _)| {
            let t = rel(r.at);
            t > GRACE && t < PAUSE - TOLERANCE
        })
        .map(|(_, l)| l)
        .collect();
    soft.check(during.is_empty(), || {
        format!(
            "no request to the paused host in the {PAUSE} s after the 429 (Retry-After: 3); \
             got {during:?}\nall requests relative to the 429: {listing:#?}"
        )
    });
    // The pause ends: both sources are polled again (within the 3 s watched
    // after it; their interval is 1 s).
    for p in ["/limited.xml", "/other.xml"] {
        let after = reqs
            .iter()
            .filter(|r| r.path() == p && rel(r.at) >= PAUSE - TOLERANCE)
            .count();
        soft.check(after >= 1, || {
            format!(
                "{p} polled again within 3 s after the pause ended (interval 1 s); requests: {listing:#?}"
            )
        });
    }
    let conn = open_db(&db);
    // The other source waited for the host; it did not fail (CONTRACT §6
    // *Pauses*: requests for a host paused for at most 60 s wait).
    let other = source(&conn, "other");
    soft.check(
        other.consecutive_failures == 0 && other.last_status == Some(200),
        || {
            format!(
                "`other` waits out its host's pause instead of failing and backing off: {other:?}; \
             its fetches: {:?}",
                fetches(&conn)
                    .into_iter()
                    .filter(|f| f.source_id == Some(other.id))
                    .collect::<Vec<_>>()
            )
        },
    );
    // The 429 is recorded.
    let limited = source(&conn, "limited");
    let rows_429 = count(
        &conn,
        &format!("fetches WHERE source_id = {} AND status = 429", limited.id),
    );
    soft.check(saw_429_status || rows_429 >= 1, || {
        format!(
            "sources.last_status = 429 seen during the pause ({saw_429_status}) or a fetches row \
             with status 429 ({rows_429})"
        )
    });
    soft.eq(rows_429, 1, "fetches rows with status 429 for `limited`");
    // The source's own next poll is not before the pause ends.
    let pause_end = wall_time(t429) + Duration::from_secs_f64(PAUSE);
    for n in &next_polls {
        let d = secs_between(pause_end, parse_db_time(n));
        soft.check(d >= -1.0, || {
            format!(
                "next_poll_at {n} of the paused source is {:.1} s before the pause ends",
                -d
            )
        });
    }
    // And after the pause, the feed that now answers 200 is stored.
    soft.check(
        article_by_title(&conn, "国家统计局：一季度国民经济开局总体平稳").is_some(),
        || {
            format!(
                "limited's feed stored after the pause; titles: {:?}",
                titles(&conn)
            )
        },
    );
    soft.eq(
        exit.map(|s| s.code()),
        Some(Some(0)),
        "exit status after SIGTERM (within 10 s)",
    );
    soft.finish();
    drop(daemon);
}
