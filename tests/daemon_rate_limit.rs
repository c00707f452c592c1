//! `run`: never more than the host's rate, whatever the number of sources on
//! that host (CONTRACT §2 `[rate_limit]`, §4). Thirty feeds on one test
//! server, `per_host = "2/s"`, `burst = 2`, `concurrency = 16`: in the
//! server's own arrival times no window of W seconds holds more than
//! `burst + 2·W` requests, every feed is polled, and SIGTERM exits 0 fast.

mod support;

use std::time::{Duration, Instant};

use support::*;

const SOURCES: usize = 30;
const BURST: usize = 2;
const RATE: f64 = 2.0;

/// `n` feeds `/f/NN.xml` on `server` as sources `sNN`, all due now: the
/// database is migrated and each source's row is stored with a
/// `next_poll_at` in the past (CONTRACT §4: a daemon resumes each source at
/// its stored `next_poll_at`), so that they all compete for the host's
/// tokens at once. Returns the config and the feed paths.
fn due_sources(
    server: &TestServer,
    dir: &std::path::Path,
    n: usize,
    opts: &DaemonOpts,
) -> (std::path::PathBuf, Vec<String>) {
    let mut cfg = daemon_config(opts);
    let mut paths = Vec::new();
    for i in 0..n {
        let path = format!("/f/{i:02}.xml");
        let title = format!("第{i}条：央行开展逆回购操作 维护银行体系流动性合理充裕");
        let link = format!("http://news.example.org/a/{i}.html");
        server.set(
            &path,
            Route::rss(mini_rss(&format!("快讯{i}"), &[(&title, &link)])),
        );
        cfg.push_str(&feed_source(
            &format!("s{i:02}"),
            &server.url(&path),
            "kuaixun",
            &[],
        ));
        paths.push(path);
    }
    let config = write_config(dir, &cfg);
    let m = run(&config, &["migrate"]);
    let _mdiag = m.on_panic();
    m.assert_code(0);
    let conn = open_db(&db_path(dir));
    let now = db_time(std::time::SystemTime::now() - Duration::from_secs(1));
    for (i, path) in paths.iter().enumerate() {
        conn.execute(
            "INSERT INTO sources (name, type, url, enabled, next_poll_at) VALUES (?1, 'feed', ?2, 1, ?3)",
            rusqlite::params![format!("s{i:02}"), server.url(path), now],
        )
        .expect("seeding sources");
    }
    (config, paths)
}

#[test]
fn thirty_sources_on_one_host_respect_the_host_rate() {
    let server = TestServer::start();
    let dir = tempdir();
    let (config, paths) = due_sources(
        &server,
        dir.path(),
        SOURCES,
        &DaemonOpts {
            per_host: "2/s".into(),
            burst: BURST as u32,
            concurrency: 16,
            // Each source is polled once within the test.
            interval: "1h".into(),
            ..DaemonOpts::default()
        },
    );

    let mut daemon = Daemon::start(&config);
    let all_polled = daemon.poll_until(Duration::from_secs(25), Duration::from_millis(50), || {
        let reqs = server.requests();
        paths
            .iter()
            .all(|p| reqs.iter().any(|r| r.path() == p))
            .then_some(())
    });
    let (exit, took) = daemon.terminate(Duration::from_secs(10));

    let reqs = server.requests();
    let mut times: Vec<Instant> = reqs.iter().map(|r| r.at).collect();
    times.sort();
    let offsets: Vec<String> = times
        .iter()
        .map(|t| format!("{:.2}", t.duration_since(times[0]).as_secs_f64()))
        .collect();
    let mut soft = Soft::new();
    let missing: Vec<&String> = paths
        .iter()
        .filter(|p| !reqs.iter().any(|r| r.path() == p.as_str()))
        .collect();
    soft.check(all_polled.is_some() && missing.is_empty(), || {
        format!(
            "all {SOURCES} feeds polled within 25 s; never requested: {missing:?}; {} requests at {offsets:?}",
            reqs.len()
        )
    });
    for w in [1u64, 5] {
        let (n, at) = max_in_window(&times, Duration::from_secs(w));
        let limit = BURST + (RATE * w as f64) as usize;
        soft.check(n <= limit, || {
            format!(
                "at most burst + 2·W = {limit} requests in any {w} s window, got {n} starting at +{} s; \
                 arrival offsets (s): {offsets:?}",
                offsets[at]
            )
        });
    }
    soft.eq(
        exit.map(|s| s.code()),
        Some(Some(0)),
        "exit status after SIGTERM (within 10 s)",
    );
    soft.check(took < Duration::from_secs(10), || {
        format!("SIGTERM exit took {took:?}")
    });
    // On failure, `daemon` prints its stderr when dropped.
    soft.finish();
    drop(daemon);
}

/// SIGTERM: no new requests (CONTRACT §4), even from polls that were
/// waiting for a rate-limit token; exit 0 within 10 s.
#[test]
fn sigterm_sends_no_new_requests() {
    let server = TestServer::start();
    let dir = tempdir();
    let (config, _paths) = due_sources(
        &server,
        dir.path(),
        10,
        &DaemonOpts {
            per_host: "1/s".into(),
            burst: 1,
            interval: "1h".into(),
            ..DaemonOpts::default()
        },
    );
    let mut daemon = Daemon::start(&config);
    // Three requests out, seven polls waiting for the host's tokens.
    let three = daemon.poll_until(Duration::from_secs(10), Duration::from_millis(20), || {
        (server.requests().len() >= 3).then_some(())
    });
    assert!(
        three.is_some(),
        "three requests within 10 s:\n{}",
        server.describe_requests()
    );
    let term = Instant::now();
    let (exit, took) = daemon.terminate(Duration::from_secs(10));
    let late: Vec<String> = server
        .requests()
        .iter()
        .filter(|r| r.at > term + Duration::from_millis(300))
        .map(|r| {
            format!(
                "{} at SIGTERM + {:.2} s",
                r.url,
                r.at.duration_since(term).as_secs_f64()
            )
        })
        .collect();
    let mut soft = Soft::new();
    soft.check(late.is_empty(), || {
        format!("no request starts after SIGTERM (300 ms grace); got {late:#?}")
    });
    soft.eq(
        exit.map(|s| s.code()),
        Some(Some(0)),
        &format!("exit status after SIGTERM (took {took:?})"),
    );
    soft.finish();
    drop(daemon);
}

/// More demand than the host's rate allows (12 sources due every 3 s, 2
/// requests/s): every source still gets its turn, none starves while others
/// are polled again and again ("poll every enabled source on its schedule").
/// Earliest-due-first polls all twelve in 6 s, before any source's second
/// poll; the test allows 12 s and a second poll, not a third.
#[test]
fn an_overloaded_host_starves_no_source() {
    let server = TestServer::start();
    let dir = tempdir();
    let n = 12;
    let (config, paths) = due_sources(
        &server,
        dir.path(),
        n,
        &DaemonOpts {
            per_host: "2/s".into(),
            burst: 1,
            interval: "3s".into(),
            min_interval: "1s".into(),
            ..DaemonOpts::default()
        },
    );
    let mut daemon = Daemon::start(&config);
    // Earliest due first, 12 polls take 6 s; allow 12 s.
    let all = daemon.poll_until(Duration::from_secs(12), Duration::from_millis(50), || {
        let reqs = server.requests();
        paths
            .iter()
            .all(|p| reqs.iter().any(|r| r.path() == p))
            .then_some(())
    });
    let reqs = server.requests();
    let (exit, took) = daemon.terminate(Duration::from_secs(10));
    let per_path: Vec<(String, usize)> = paths
        .iter()
        .map(|p| (p.clone(), reqs.iter().filter(|r| r.path() == p.as_str()).count()))
        .collect();
    let order: Vec<&str> = reqs.iter().map(|r| r.path()).collect();
    let mut polls: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    let mut third_before_all = None;
    for (i, p) in order.iter().enumerate() {
        let n = polls.entry(p).or_default();
        *n += 1;
        if *n == 3 && polls.len() < paths.len() {
            third_before_all = Some(i);
            break;
        }
    }
    let mut soft = Soft::new();
    soft.check(all.is_some(), || {
        format!("every source polled within 12 s; requests per feed: {per_path:?}")
    });
    soft.check(third_before_all.is_none(), || {
        format!(
            "no source is polled a third time while another has not been polled at all; \
             request order: {order:?}"
        )
    });
    soft.eq(
        exit.map(|s| s.code()),
        Some(Some(0)),
        &format!("exit status after SIGTERM (took {took:?})"),
    );
    soft.finish();
    drop(daemon);
}
