//! One daemon per database (CONTRACT §1 `run`), against the real binary: a second `run` on
//! the same database exits 2 naming the PID that holds it; `once`, `add-link`, `search` and
//! `sources` work beside the running daemon; the claim ends with the daemon, even when it
//! is killed with SIGKILL.

mod support;

use std::time::Duration;

use support::*;

#[test]
fn a_second_daemon_on_the_same_database_is_refused() {
    let server = TestServer::start();
    server.set(
        "/feed.xml",
        Route::rss(mini_rss(
            "快讯",
            &[("央行开展逆回购操作", "http://news.example.org/a/1.html")],
        )),
    );
    let dir = tempdir();
    let mut cfg = daemon_config(&DaemonOpts::default());
    cfg.push_str(&feed_source("news", &server.url("/feed.xml"), "c", &[]));
    let config = write_config(dir.path(), &cfg);
    let db = db_path(dir.path());

    let mut first = Daemon::start(&config);
    let stored = first.poll_until(Duration::from_secs(20), Duration::from_millis(50), || {
        try_open_db(&db)
            .filter(|conn| count(conn, "articles") == 1)
            .map(|_| ())
    });
    assert!(stored.is_some(), "the first daemon polled\n{}", first.diag());

    let second = run(&config, &["run"]);
    let _diag = second.on_panic();
    assert_eq!(second.code, Some(2), "a second daemon exits 2");
    assert!(
        second.stderr.contains(&format!("pid {}", first.pid())) && second.stderr.contains("in use"),
        "the message names the daemon holding the database: {}",
        second.stderr
    );
    assert!(first.is_running(), "the first daemon is untouched");

    // The one-shot commands work beside the daemon.
    run(&config, &["once"]).assert_code(0);
    run(
        &config,
        &[
            "add-link",
            "http://finance.eastmoney.com/a/202204192348095567.html",
        ],
    )
    .assert_code(0);
    let found = run(&config, &["search", "逆回购操作"]);
    found.assert_code(0);
    assert!(found.stdout.contains("央行开展逆回购操作"), "{}", found.stdout);
    run(&config, &["sources"]).assert_code(0);

    // Killed outright, the daemon leaves no claim behind.
    first.kill();
    let mut third = Daemon::start(&config);
    let lock_file = dir.path().join("test.db.lock");
    let third_pid = third.pid().to_string();
    let claimed = third.poll_until(Duration::from_secs(10), Duration::from_millis(50), || {
        let holder = std::fs::read_to_string(&lock_file).unwrap_or_default();
        (holder.trim() == third_pid).then_some(())
    });
    let alive = third.is_running();
    let (exit, _) = third.terminate(Duration::from_secs(15));
    assert!(
        claimed.is_some() && alive,
        "a new daemon claims the database after SIGKILL\n{}",
        third.diag()
    );
    assert_eq!(exit.map(|s| s.code()), Some(Some(0)));
}
