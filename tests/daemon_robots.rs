//! `run` with `respect_robots = true` (CONTRACT §2 `[http]`, §6 *Every HTTP
//! request*): robots.txt is fetched once per host, a disallowed feed is never
//! requested and its source records an error naming robots.txt, an allowed
//! feed on the same host is polled.

mod support;

use std::time::Duration;

use support::*;

const ATOM_TITLE: &str = "外资杀入A股！高景气度军工全产业链上涨 新能源风口依旧";

#[test]
fn disallowed_feed_is_never_requested() {
    let server = TestServer::start();
    server.set(
        "/robots.txt",
        Route::ok(
            "text/plain; charset=utf-8",
            "User-agent: *\nDisallow: /private/\n",
        ),
    );
    server.set("/private/feed.xml", Route::rss(fixture("reference_rss.xml")));
    server.set("/public/feed.xml", Route::atom(fixture("atom.xml")));
    let dir = tempdir();
    let db = db_path(dir.path());
    let mut cfg = daemon_config(&DaemonOpts {
        respect_robots: true,
        interval: "1s".into(),
        min_interval: "1s".into(),
        ..DaemonOpts::default()
    });
    cfg.push_str(&feed_source(
        "private",
        &server.url("/private/feed.xml"),
        "emnews",
        &[],
    ));
    cfg.push_str(&feed_source(
        "public",
        &server.url("/public/feed.xml"),
        "emnews",
        &[],
    ));
    let config = write_config(dir.path(), &cfg);
    let mut daemon = Daemon::start(&config);

    // Several polls of the allowed feed, and the blocked source's error.
    let done = daemon.poll_until(Duration::from_secs(12), Duration::from_millis(100), || {
        let conn = try_open_db(&db)?;
        let private = source_state(&conn, "private")?;
        (server.requests_for("/public/feed.xml").len() >= 3 && private.last_error.is_some()).then_some(())
    });
    let (exit, took) = daemon.terminate(Duration::from_secs(10));

    let conn = open_db(&db);
    let mut soft = Soft::new();
    soft.check(done.is_some(), || {
        format!(
            "within 12 s: /public/feed.xml polled 3 times and `private` has an error; requests:\n{}",
            server.describe_requests()
        )
    });
    soft.eq(
        server.requests_for("/private/feed.xml").len(),
        0,
        "requests to the disallowed feed",
    );
    soft.eq(
        server.requests_for("/robots.txt").len(),
        1,
        "robots.txt requests (once per host)",
    );
    let reqs = server.requests();
    soft.check(reqs.first().is_some_and(|r| r.path() == "/robots.txt"), || {
        format!(
            "robots.txt is read before the host's first feed request:\n{}",
            server.describe_requests()
        )
    });
    match source_state(&conn, "private") {
        Some(p) => {
            soft.check(
                p.last_error.as_deref().unwrap_or("").contains("robots.txt"),
                || format!("private: last_error mentions robots.txt: {p:?}"),
            );
            soft.eq(p.last_status, None, "private: no HTTP status (never requested)");
        }
        None => soft.check(false, || "a sources row for `private`".into()),
    }
    match source_state(&conn, "public") {
        Some(p) => {
            soft.eq(p.last_status, Some(200), "public: last_status");
            soft.check(p.last_error.as_deref().unwrap_or("").is_empty(), || {
                format!("public: no error: {p:?}")
            });
        }
        None => soft.check(false, || "a sources row for `public`".into()),
    }
    soft.check(article_by_title(&conn, ATOM_TITLE).is_some(), || {
        format!("the allowed feed is stored; titles {:?}", titles(&conn))
    });
    soft.eq(
        count(&conn, "articles WHERE info_code = 'NW202204192348095567'"),
        0,
        "nothing from the disallowed feed",
    );
    soft.eq(
        exit.map(|s| s.code()),
        Some(Some(0)),
        &format!("exit status after SIGTERM (took {took:?})"),
    );
    soft.finish();
    drop(daemon);
}
