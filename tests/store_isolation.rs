//! CONTRACT §6 "a failing batch is its source's failure", against the real binary: a
//! trigger installed by the test makes SQLite refuse one source's rows; that source fails
//! with the error in `sources.last_error`, the other sources polled in the same write
//! transaction are stored, and the daemon keeps polling.

mod support;

use std::time::Duration;

use support::*;

/// Refuses any article whose title holds 拒收 ("refused").
const POISON_TRIGGER: &str = "CREATE TRIGGER test_refuse_articles BEFORE INSERT ON articles \
     WHEN NEW.title LIKE '%拒收%' BEGIN SELECT RAISE(ABORT, 'test trigger: row refused'); END;";

struct World {
    server: TestServer,
    dir: tempfile::TempDir,
}

/// Three feeds on one server: `bad` carries one refused item beside a good one; `good1`
/// and `good2` two items each.
fn world(head: String) -> (World, std::path::PathBuf) {
    let server = TestServer::start();
    server.set(
        "/bad.xml",
        Route::rss(mini_rss(
            "坏源",
            &[
                ("拒收的公告", "http://news.example.org/bad/1.html"),
                ("正常的公告", "http://news.example.org/bad/2.html"),
            ],
        )),
    );
    server.set(
        "/good1.xml",
        Route::rss(mini_rss(
            "好源一",
            &[
                ("央行开展逆回购操作", "http://news.example.org/g1/1.html"),
                ("沪指收涨百分之一", "http://news.example.org/g1/2.html"),
            ],
        )),
    );
    server.set(
        "/good2.xml",
        Route::rss(mini_rss(
            "好源二",
            &[
                ("统计局发布工业数据", "http://news.example.org/g2/1.html"),
                ("人民币汇率小幅波动", "http://news.example.org/g2/2.html"),
            ],
        )),
    );
    let dir = tempdir();
    let mut cfg = head;
    for name in ["good1", "bad", "good2"] {
        cfg.push_str(&feed_source(name, &server.url(&format!("/{name}.xml")), "c", &[]));
    }
    let config = write_config(dir.path(), &cfg);
    // The schema first, then the trigger the crawler knows nothing about.
    run(&config, &["migrate"]).assert_code(0);
    open_db(&db_path(dir.path()))
        .execute_batch(POISON_TRIGGER)
        .expect("install the trigger");
    (World { server, dir }, config)
}

#[test]
fn a_batch_the_database_refuses_fails_its_source_only() {
    let (world, config) = world(base_config());
    let out = run_once(&config);
    let _diag = out.on_panic();
    // A failed source makes `once` exit 1 (CONTRACT §1), not crash.
    out.assert_code(1);
    let conn = open_db(&db_path(world.dir.path()));
    let mut stored = titles(&conn);
    stored.sort();
    let mut expected = vec![
        "央行开展逆回购操作",
        "沪指收涨百分之一",
        "统计局发布工业数据",
        "人民币汇率小幅波动",
    ];
    expected.sort();
    assert_eq!(stored, expected, "the other sources' articles are stored");
    let bad = source(&conn, "bad");
    let error = bad.last_error.clone().unwrap_or_default();
    assert!(
        error.contains("test trigger: row refused") && error.contains("rolled back"),
        "the source's error names it and says what failed: {bad:?}"
    );
    assert_eq!(bad.consecutive_failures, 1);
    // Its validators were not advanced: the next poll fetches the feed again in full.
    assert_eq!(bad.etag, None);
    for good in ["good1", "good2"] {
        let row = source(&conn, good);
        assert_eq!(row.last_error, None, "{row:?}");
        assert_eq!(row.last_status, Some(200), "{row:?}");
    }
    // The poll's request is recorded with the source's error.
    let bad_fetches: Vec<_> = fetches(&conn)
        .into_iter()
        .filter(|f| f.source_id == Some(bad.id))
        .collect();
    assert_eq!(bad_fetches.len(), 1, "{bad_fetches:?}");
    assert!(
        bad_fetches[0]
            .error
            .as_deref()
            .is_some_and(|e| e.contains("row refused")),
        "{bad_fetches:?}"
    );
}

#[test]
fn the_daemon_keeps_polling_beside_a_source_whose_rows_are_refused() {
    let head = daemon_config(&DaemonOpts {
        interval: "1s".into(),
        min_interval: "1s".into(),
        max_backoff: "1s".into(),
        ..DaemonOpts::default()
    });
    let (world, config) = world(head);
    let db = db_path(world.dir.path());
    let mut daemon = Daemon::start(&config);
    // The good feeds are polled again and again while the bad one keeps failing.
    let polled = daemon.poll_until(Duration::from_secs(30), Duration::from_millis(100), || {
        let good = world.server.requests_for("/good1.xml").len();
        let bad = world.server.requests_for("/bad.xml").len();
        (good >= 3 && bad >= 2).then_some((good, bad))
    });
    let alive = daemon.is_running();
    let (exit, _) = daemon.terminate(Duration::from_secs(15));
    let conn = open_db(&db);
    let mut soft = Soft::new();
    soft.check(polled.is_some(), || {
        format!(
            "polls went on: good1 {} requests, bad {}\n{}",
            world.server.requests_for("/good1.xml").len(),
            world.server.requests_for("/bad.xml").len(),
            daemon.diag()
        )
    });
    soft.check(alive, || {
        format!("the daemon is still running\n{}", daemon.diag())
    });
    soft.eq(exit.map(|s| s.code()), Some(Some(0)), "exit status after SIGTERM");
    soft.eq(count(&conn, "articles"), 4, "the good sources' articles");
    let bad = source(&conn, "bad");
    soft.check(bad.consecutive_failures >= 2, || {
        format!("bad failed every poll: {bad:?}")
    });
    soft.finish();
}
