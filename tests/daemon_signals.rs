//! `run` and signals (CONTRACT §1, §4): SIGHUP re-reads the config (a new
//! source starts, a removed one stops and its articles stay; an invalid
//! config is logged and the old one kept); SIGTERM exits 0 promptly with a
//! consistent database.

mod support;

use std::time::Duration;

use support::*;

const ATOM_TITLE: &str = "外资杀入A股！高景气度军工全产业链上涨 新能源风口依旧";
const GBK_TITLE: &str = "长春发布若干政策措施支持市场主体纾困促进经济恢复发展";

fn head() -> String {
    daemon_config(&DaemonOpts {
        interval: "2s".into(),
        min_interval: "1s".into(),
        ..DaemonOpts::default()
    })
}

fn has_title(db: &std::path::Path, title: &str) -> bool {
    try_open_db(db)
        .map(|c| {
            c.query_row("SELECT COUNT(*) FROM articles WHERE title = ?1", [title], |r| {
                r.get::<_, i64>(0)
            })
            .unwrap_or(0)
                > 0
        })
        .unwrap_or(false)
}

#[test]
fn sighup_reloads_and_sigterm_exits_cleanly() {
    let server = TestServer::start();
    server.set("/atom.xml", Route::atom(fixture("atom.xml")));
    server.set(
        "/gbk.xml",
        Route::ok("application/rss+xml", fixture("rss2_gbk.xml")),
    );
    let dir = tempdir();
    let db = db_path(dir.path());
    let atom_src = feed_source("atom", &server.url("/atom.xml"), "emnews", &["东财滚动新闻"]);
    let gbk_src = feed_source("gbk", &server.url("/gbk.xml"), "caijing", &["财经要闻"]);
    let config = write_config(dir.path(), &format!("{}{atom_src}", head()));
    let mut daemon = Daemon::start(&config);

    // 1. The configured source is polled and stored.
    assert!(
        daemon
            .poll_until(Duration::from_secs(10), Duration::from_millis(100), || has_title(
                &db, ATOM_TITLE
            )
            .then_some(()))
            .is_some(),
        "the atom feed's articles stored within 10 s of the start"
    );
    assert!(server.requests_for("/gbk.xml").is_empty());

    // 2. A source added to the config starts after SIGHUP.
    write_config(dir.path(), &format!("{}{atom_src}{gbk_src}", head()));
    daemon.signal("HUP");
    let added = daemon.poll_until(Duration::from_secs(8), Duration::from_millis(100), || {
        has_title(&db, GBK_TITLE).then_some(())
    });
    assert!(
        added.is_some(),
        "after SIGHUP the added source's articles are stored within 8 s; /gbk.xml requested {} times",
        server.requests_for("/gbk.xml").len()
    );
    assert!(daemon.is_running(), "daemon still running after SIGHUP");

    let mut soft = Soft::new();

    // 3. A source removed from the config stops; its articles stay.
    write_config(dir.path(), &format!("{}{gbk_src}", head()));
    daemon.signal("HUP");
    std::thread::sleep(Duration::from_millis(1500));
    let atom_before = server.requests_for("/atom.xml").len();
    let gbk_before = server.requests_for("/gbk.xml").len();
    std::thread::sleep(Duration::from_secs(4));
    let atom_after = server.requests_for("/atom.xml").len();
    soft.eq(
        atom_after - atom_before,
        0,
        "requests to a removed source in the 4 s after its removal took effect",
    );
    soft.check(server.requests_for("/gbk.xml").len() > gbk_before, || {
        "the remaining source is still polled (interval 2 s)".into()
    });
    soft.check(has_title(&db, ATOM_TITLE), || {
        "the removed source's articles stay in the database".into()
    });

    // 4. An invalid config is logged and the old one (gbk only) kept.
    write_config(
        dir.path(),
        &format!(
            "{}{gbk_src}{}bogus_key = 1\n",
            head(),
            feed_source("new2", &server.url("/atom.xml"), "x", &[])
        ),
    );
    let log_from = daemon.stderr_len();
    daemon.signal("HUP");
    std::thread::sleep(Duration::from_secs(1));
    soft.check(daemon.is_running(), || {
        format!(
            "daemon survives a SIGHUP with an invalid config; exit: {:?}",
            daemon.try_exit()
        )
    });
    let gbk_before = server.requests_for("/gbk.xml").len();
    let atom_before = server.requests_for("/atom.xml").len();
    let still = daemon.poll_until(Duration::from_secs(5), Duration::from_millis(100), || {
        (server.requests_for("/gbk.xml").len() > gbk_before).then_some(())
    });
    soft.check(still.is_some(), || {
        "after the invalid reload the old config's source is still polled".into()
    });
    std::thread::sleep(Duration::from_millis(500));
    soft.eq(
        server.requests_for("/atom.xml").len(),
        atom_before,
        "requests to /atom.xml: the invalid config's new source must not start",
    );
    soft.check(daemon.is_running(), || "daemon still running".into());
    let log = daemon.stderr_since(log_from);
    soft.check(log.contains("bogus_key"), || {
        format!("the rejected config is logged, naming the bad key `bogus_key`; stderr since SIGHUP:\n{log}")
    });

    // 5. SIGTERM: exit 0 within 10 s, consistent database.
    let (exit, took) = daemon.terminate(Duration::from_secs(10));
    soft.eq(
        exit.map(|s| s.code()),
        Some(Some(0)),
        &format!("exit status after SIGTERM (took {took:?})"),
    );
    let conn = open_db(&db);
    let integrity: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .expect("integrity_check");
    soft.eq(integrity.as_str(), "ok", "PRAGMA integrity_check");
    soft.eq(count(&conn, "articles"), 4 + 3, "articles of both feeds");
    soft.finish();
    drop(daemon);
}

#[test]
fn sigint_is_graceful_too() {
    let server = TestServer::start();
    server.set("/atom.xml", Route::atom(fixture("atom.xml")));
    let dir = tempdir();
    let db = db_path(dir.path());
    let config = write_config(
        dir.path(),
        &format!(
            "{}{}",
            head(),
            feed_source("atom", &server.url("/atom.xml"), "emnews", &[])
        ),
    );
    let mut daemon = Daemon::start(&config);
    assert!(
        daemon
            .poll_until(Duration::from_secs(10), Duration::from_millis(100), || has_title(
                &db, ATOM_TITLE
            )
            .then_some(()))
            .is_some(),
        "the feed is stored within 10 s"
    );
    daemon.signal("INT");
    let exit = daemon.wait_exit(Duration::from_secs(10));
    assert_eq!(
        exit.map(|s| s.code()),
        Some(Some(0)),
        "exit 0 within 10 s of SIGINT"
    );
    let conn = open_db(&db);
    let integrity: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(integrity, "ok");
    drop(daemon);
}
