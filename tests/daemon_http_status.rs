//! `run` and permanent HTTP statuses: 410 Gone disables the source
//! (`sources.enabled = 0`) until its config entry changes; 301 and 308 record
//! the new URL in `sources.url` and the target's articles are stored.

mod support;

use std::time::Duration;

use support::*;

const ATOM_TITLE: &str = "外资杀入A股！高景气度军工全产业链上涨 新能源风口依旧";
const JSON_TITLE: &str = "什么信号？海外中国ETF重现强劲流入 机构发话：增持时机已到！";
const GBK_TITLE: &str = "长春发布若干政策措施支持市场主体纾困促进经济恢复发展";

fn head() -> String {
    daemon_config(&DaemonOpts {
        interval: "1s".into(),
        min_interval: "1s".into(),
        ..DaemonOpts::default()
    })
}

#[test]
fn gone_disables_and_moved_records_the_new_url() {
    let server = TestServer::start();
    server.set("/gone.xml", Route::status(410));
    server.set(
        "/old.xml",
        Route::status(301).header("Location", &server.url("/new.xml")),
    );
    server.set("/new.xml", Route::atom(fixture("atom.xml")));
    server.set(
        "/old308.json",
        Route::status(308).header("Location", &server.url("/new308.json")),
    );
    server.set("/new308.json", Route::json_feed(fixture("feed.json")));
    server.set(
        "/back.xml",
        Route::ok("application/rss+xml", fixture("rss2_gbk.xml")),
    );
    let dir = tempdir();
    let db = db_path(dir.path());
    let moved = format!(
        "{}{}",
        feed_source("moved", &server.url("/old.xml"), "emnews", &[]),
        feed_source("moved308", &server.url("/old308.json"), "jijin", &[]),
    );
    let config = write_config(
        dir.path(),
        &format!(
            "{}{}{moved}",
            head(),
            feed_source("gone", &server.url("/gone.xml"), "emnews", &[])
        ),
    );
    let mut daemon = Daemon::start(&config);
    let mut soft = Soft::new();

    // 410 → disabled.
    let disabled = daemon.poll_until(Duration::from_secs(10), Duration::from_millis(100), || {
        source_state_at(&db, "gone").filter(|s| s.enabled == 0)
    });
    let gone = disabled.unwrap_or_else(|| {
        panic!(
            "the 410 source is disabled within 10 s: {:?}\nrequests:\n{}",
            source_state_at(&db, "gone"),
            server.describe_requests()
        )
    });
    soft.eq(gone.last_status, Some(410), "gone: last_status");

    // 301 / 308 → new URL recorded, target's articles stored.
    let new_url = server.url("/new.xml");
    let new308 = server.url("/new308.json");
    let redirected = daemon.poll_until(Duration::from_secs(10), Duration::from_millis(100), || {
        let conn = try_open_db(&db)?;
        let m = source_state(&conn, "moved")?;
        let m8 = source_state(&conn, "moved308")?;
        (m.url.as_deref() == Some(new_url.as_str())
            && m8.url.as_deref() == Some(new308.as_str())
            && article_by_title(&conn, ATOM_TITLE).is_some()
            && article_by_title(&conn, JSON_TITLE).is_some())
        .then_some(())
    });
    if redirected.is_none() {
        let conn = open_db(&db);
        soft.check(false, || {
            format!(
                "within 10 s: moved.url = {new_url} and moved308.url = {new308} and both targets' \
                 articles stored; moved: {:?}; moved308: {:?}; titles: {:?}",
                source_state(&conn, "moved"),
                source_state(&conn, "moved308"),
                titles(&conn)
            )
        });
    }

    // The disabled source is not requested again (interval is 1 s).
    std::thread::sleep(Duration::from_secs(3));
    soft.eq(
        server.requests_for("/gone.xml").len(),
        1,
        "requests to the 410 source, 3 s after it was disabled (interval 1 s)",
    );
    soft.check(
        source_state_at(&db, "gone").is_some_and(|s| s.enabled == 0),
        || "gone stays disabled".into(),
    );

    // A changed config entry re-enables it (after SIGHUP).
    write_config(
        dir.path(),
        &format!(
            "{}{}{moved}",
            head(),
            feed_source("gone", &server.url("/back.xml"), "emnews", &[])
        ),
    );
    daemon.signal("HUP");
    let back = daemon.poll_until(Duration::from_secs(8), Duration::from_millis(100), || {
        let conn = try_open_db(&db)?;
        let s = source_state(&conn, "gone")?;
        (s.enabled == 1 && article_by_title(&conn, GBK_TITLE).is_some()).then_some(s)
    });
    soft.check(back.is_some(), || {
        format!(
            "after its config entry changed (new url) and SIGHUP, the source is enabled and polled \
             within 8 s: {:?}; /back.xml requests: {}",
            source_state_at(&db, "gone"),
            server.requests_for("/back.xml").len()
        )
    });
    let (exit, took) = daemon.terminate(Duration::from_secs(10));
    soft.eq(
        exit.map(|s| s.code()),
        Some(Some(0)),
        &format!("exit status after SIGTERM (took {took:?})"),
    );
    soft.finish();
    drop(daemon);
}
