//! `run`: a failing source backs off exponentially (interval × 2^failures, up
//! to `max_backoff`) and returns to its interval after a success (CONTRACT
//! §2 `[schedule]`, §4).

mod support;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use support::*;

const ATOM_TITLE: &str = "外资杀入A股！高景气度军工全产业链上涨 新能源风口依旧";

fn gap(s: &SourceState) -> Option<f64> {
    Some(secs_between(
        parse_db_time(s.last_polled_at.as_deref()?),
        parse_db_time(s.next_poll_at.as_deref()?),
    ))
}

#[test]
fn failures_back_off_exponentially_and_success_resets() {
    let server = TestServer::start();
    server.set("/flaky.xml", Route::status(500));
    let dir = tempdir();
    let db = db_path(dir.path());
    let mut cfg = daemon_config(&DaemonOpts {
        interval: "1s".into(),
        min_interval: "1s".into(),
        max_backoff: "1h".into(),
        ..DaemonOpts::default()
    });
    cfg.push_str(&feed_source("flaky", &server.url("/flaky.xml"), "emnews", &[]));
    let config = write_config(dir.path(), &cfg);
    let mut daemon = Daemon::start(&config);

    // The latest row seen for each value of consecutive_failures.
    let mut seen: BTreeMap<i64, SourceState> = BTreeMap::new();
    let mut order: Vec<i64> = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(14);
    while Instant::now() < deadline {
        if let Some(s) = source_state_at(&db, "flaky")
            && s.last_polled_at.is_some()
        {
            let cf = s.consecutive_failures;
            if order.last() != Some(&cf) {
                order.push(cf);
            }
            seen.insert(cf, s);
            if cf >= 3 {
                // Let the row settle, then read it once more.
                std::thread::sleep(Duration::from_millis(300));
                if let Some(s) = source_state_at(&db, "flaky")
                    && s.consecutive_failures == 3
                {
                    seen.insert(3, s);
                }
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let failing_requests: Vec<Instant> = server.requests_for("/flaky.xml").iter().map(|r| r.at).collect();
    let rows: Vec<&SourceState> = (1..=3).filter_map(|k| seen.get(&k)).collect();
    assert_eq!(
        order,
        vec![1, 2, 3],
        "consecutive_failures after each of three 500s; rows: {seen:#?}\nrequests: {}",
        server.describe_requests()
    );
    let gaps: Vec<f64> = rows.iter().map(|s| gap(s).unwrap()).collect();

    // Recovery: the route serves a feed from now on.
    server.set("/flaky.xml", Route::atom(fixture("atom.xml")));
    let recovered = daemon.poll_until(Duration::from_secs(11), Duration::from_millis(100), || {
        source_state_at(&db, "flaky").filter(|s| s.consecutive_failures == 0 && s.last_status == Some(200))
    });
    std::thread::sleep(Duration::from_millis(300));
    let after = source_state_at(&db, "flaky");

    let mut soft = Soft::new();
    soft.check(gaps.windows(2).all(|w| w[1] > w[0]), || {
        format!(
            "next_poll_at - last_polled_at strictly increasing after failures 1, 2, 3 \
             (expected about 2, 4, 8 s): {gaps:?}; rows {rows:#?}"
        )
    });
    soft.check(gaps[0] >= 1.0 && gaps[2] >= 2.0 * gaps[0], || {
        format!("the backoff doubles per failure from the 1 s interval: {gaps:?}")
    });
    for (k, s) in rows.iter().enumerate() {
        soft.eq(
            s.last_status,
            Some(500),
            &format!("last_status after failure {}", k + 1),
        );
        soft.check(s.last_error.as_deref().is_some_and(|e| e.contains("500")), || {
            format!("last_error after failure {} names the status: {s:?}", k + 1)
        });
    }
    // The server saw the polls as scheduled: the gaps between the requests
    // follow the stored backoff (second precision in the database).
    for (i, w) in failing_requests.windows(2).take(2).enumerate() {
        let observed = w[1].duration_since(w[0]).as_secs_f64();
        soft.check((observed - gaps[i]).abs() <= 1.2, || {
            format!(
                "request {} came {observed:.2} s after request {}, the stored backoff was {} s",
                i + 2,
                i + 1,
                gaps[i]
            )
        });
    }
    match (recovered, after) {
        (Some(_), Some(s)) => {
            soft.eq(
                s.consecutive_failures,
                0,
                "consecutive_failures after the success",
            );
            let g = gap(&s).unwrap_or(f64::NAN);
            soft.check((0.5..=2.0).contains(&g), || {
                format!("after the success the interval is back to the base 1 s: next - last = {g}: {s:?}")
            });
            soft.check(s.last_error.as_deref().unwrap_or("").is_empty(), || {
                format!("last_error cleared after the success: {s:?}")
            });
            let conn = open_db(&db);
            soft.check(article_by_title(&conn, ATOM_TITLE).is_some(), || {
                format!("the feed stored after recovery; titles {:?}", titles(&conn))
            });
        }
        (_, s) => soft.check(false, || {
            format!(
                "the source recovers (consecutive_failures 0, last_status 200) within 11 s of the route \
                 switching to 200; last row: {s:?}; requests:\n{}",
                server.describe_requests()
            )
        }),
    }
    let (exit, took) = daemon.terminate(Duration::from_secs(10));
    soft.eq(
        exit.map(|s| s.code()),
        Some(Some(0)),
        &format!("exit status after SIGTERM (took {took:?})"),
    );
    soft.finish();
    drop(daemon);
}
