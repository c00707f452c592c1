//! `run`: crawl state survives restarts (CONTRACT §4, §6 *Schedule*). New
//! sources are spread over their first interval, the first one due at once;
//! after SIGTERM a restarted daemon resumes each source at its stored
//! `sources.next_poll_at` instead of polling everything at once.

mod support;

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use support::*;

const NAMES: [&str; 3] = ["r0", "r1", "r2"];
const INTERVAL: f64 = 6.0;

fn is_db_time(s: &str) -> bool {
    // 2022-04-19T04:22:44Z
    let b = s.as_bytes();
    b.len() == 20
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b'T'
        && b[13] == b':'
        && b[16] == b':'
        && b[19] == b'Z'
        && s.chars()
            .enumerate()
            .all(|(i, c)| matches!(i, 4 | 7 | 10 | 13 | 16 | 19) || c.is_ascii_digit())
}

#[test]
fn restart_resumes_at_stored_next_poll() {
    let server = TestServer::start();
    let dir = tempdir();
    let mut cfg = daemon_config(&DaemonOpts {
        interval: "6s".into(),
        min_interval: "1s".into(),
        ..DaemonOpts::default()
    });
    for (i, name) in NAMES.iter().enumerate() {
        let path = format!("/{name}.xml");
        let title = format!("第{i}条：工信部发布一季度工业经济运行情况");
        let link = format!("http://news.example.org/a/{name}.html");
        server.set(&path, Route::rss(mini_rss(name, &[(&title, &link)])));
        cfg.push_str(&feed_source(name, &server.url(&path), "gongye", &[]));
    }
    let config = write_config(dir.path(), &cfg);
    let db = db_path(dir.path());

    // First run: every source polled once.
    let mut first = Daemon::start(&config);
    let polled = first.poll_until(Duration::from_secs(15), Duration::from_millis(50), || {
        NAMES
            .iter()
            .all(|n| !server.requests_for(&format!("/{n}.xml")).is_empty())
            .then_some(())
    });
    assert!(
        polled.is_some(),
        "each source polled within 15 s of the first start:\n{}\n{}",
        server.describe_requests(),
        first.diag()
    );
    let (exit, took) = first.terminate(Duration::from_secs(10));
    assert_eq!(
        exit.map(|s| s.code()),
        Some(Some(0)),
        "first run: exit 0 within 10 s of SIGTERM (took {took:?})\n{}",
        first.diag()
    );
    let first_diag = first.diag();
    drop(first);

    let mut soft = Soft::new();
    // New sources are spread over their first interval: not all at once.
    let mut firsts: Vec<_> = NAMES
        .iter()
        .map(|n| server.requests_for(&format!("/{n}.xml"))[0].at)
        .collect();
    firsts.sort();
    let spread = firsts[2].duration_since(firsts[0]).as_secs_f64();
    soft.check((1.5..=INTERVAL + 1.0).contains(&spread), || {
        format!(
            "the first polls of {} new sources spread over their first interval ({INTERVAL} s): \
             first to last {spread:.2} s",
            NAMES.len()
        )
    });

    // The schedule as stored at shutdown.
    let conn = open_db(&db);
    let mut stored: BTreeMap<&str, SystemTime> = BTreeMap::new();
    for n in NAMES {
        let s = source_state(&conn, n).unwrap_or_else(|| panic!("no sources row {n}\n{first_diag}"));
        let next = s.next_poll_at.clone().unwrap_or_default();
        let last = s.last_polled_at.clone().unwrap_or_default();
        assert!(
            is_db_time(&next) && is_db_time(&last),
            "{n}: last_polled_at {last:?} and next_poll_at {next:?} in RFC 3339 UTC seconds (…Z)\n{first_diag}"
        );
        let gap = secs_between(parse_db_time(&last), parse_db_time(&next));
        soft.check((INTERVAL - 1.0..=INTERVAL + 1.0).contains(&gap), || {
            format!("{n}: next_poll_at - last_polled_at = {gap} s, expected the interval {INTERVAL} s: {s:?}")
        });
        stored.insert(n, parse_db_time(&next));
    }
    drop(conn);

    // Second run.
    let restart_at = SystemTime::now();
    let before = server.requests().len();
    let mut second = Daemon::start(&config);
    let latest = stored.values().max().copied().unwrap();
    let wait = secs_between(SystemTime::now(), latest).max(0.0) + 3.0;
    let again = second.poll_until(
        Duration::from_secs_f64(wait.min(15.0)),
        Duration::from_millis(50),
        || {
            let reqs = &server.requests()[before..];
            NAMES
                .iter()
                .all(|n| reqs.iter().any(|r| r.path() == format!("/{n}.xml")))
                .then_some(())
        },
    );
    let (exit2, took2) = second.terminate(Duration::from_secs(10));
    let reqs = server.requests()[before..].to_vec();
    for n in NAMES {
        let due = stored[n];
        let mine: Vec<f64> = reqs
            .iter()
            .filter(|r| r.path() == format!("/{n}.xml"))
            .map(|r| secs_between(due, wall_time(r.at)))
            .collect();
        soft.check(mine.iter().all(|d| *d >= -1.0), || {
            format!(
                "{n}: no request before its stored next_poll_at {} (1 s tolerance); requests at \
                 {mine:?} s relative to it (restart was {:.2} s before it)",
                db_time(due),
                secs_between(restart_at, due)
            )
        });
        soft.check(!mine.is_empty(), || {
            format!(
                "{n}: polled again after the restart, by its next_poll_at {} + 3 s",
                db_time(due)
            )
        });
    }
    soft.check(again.is_some(), || {
        "every source resumed in the second run".into()
    });
    soft.eq(
        exit2.map(|s| s.code()),
        Some(Some(0)),
        &format!("second run: exit status after SIGTERM (took {took2:?})"),
    );
    soft.finish();
    drop(second);
}
