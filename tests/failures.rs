//! A failing source never stops the others (CONTRACT §1 exit codes, §4):
//! a malformed feed, a 500 and a closed port beside good feeds → the good
//! ones are stored, the bad ones' errors are recorded, `once` exits 1.

mod support;

use support::*;

const GBK_TITLE: &str = "长春发布若干政策措施支持市场主体纾困促进经济恢复发展";
const ATOM_TITLE: &str = "外资杀入A股！高景气度军工全产业链上涨 新能源风口依旧";

fn fetch_errors_of(conn: &rusqlite::Connection, source_id: i64) -> Vec<FetchRow> {
    fetches(conn)
        .into_iter()
        .filter(|f| f.source_id == Some(source_id))
        .collect()
}

#[track_caller]
fn assert_failed(conn: &rusqlite::Connection, name: &str, out: &Output) -> SourceRow {
    let s = source(conn, name);
    assert!(
        !s.last_error.as_deref().unwrap_or("").trim().is_empty(),
        "{name}: last_error must be set: {s:?}\n{}",
        out.diag()
    );
    assert_eq!(s.consecutive_failures, 1, "{name}: {s:?}");
    let rows = fetch_errors_of(conn, s.id);
    assert!(
        rows.iter()
            .any(|f| !f.error.as_deref().unwrap_or("").trim().is_empty()),
        "{name}: a fetches row with its error: {rows:#?}"
    );
    s
}

#[track_caller]
fn assert_healthy(conn: &rusqlite::Connection, name: &str) {
    let s = source(conn, name);
    assert!(s.last_error.as_deref().unwrap_or("").is_empty(), "{name}: {s:?}");
    assert_eq!(s.consecutive_failures, 0, "{name}: {s:?}");
    assert_eq!(s.last_status, Some(200), "{name}: {s:?}");
}

#[test]
fn malformed_and_500_beside_two_good_feeds() {
    let server = TestServer::start();
    server.set("/broken.xml", Route::rss(fixture("malformed.xml")));
    server.set("/error.xml", Route::status(500));
    server.set(
        "/gbk.xml",
        Route::ok("application/rss+xml", fixture("rss2_gbk.xml")),
    );
    server.set("/atom.xml", Route::atom(fixture("atom.xml")));
    let dir = tempdir();
    let mut cfg = base_config();
    // The bad sources come first: the good ones must be processed anyway.
    cfg.push_str(&feed_source(
        "broken",
        &server.url("/broken.xml"),
        "meirijingjixinwen",
        &[],
    ));
    cfg.push_str(&feed_source("http500", &server.url("/error.xml"), "emnews", &[]));
    cfg.push_str(&feed_source(
        "gbk",
        &server.url("/gbk.xml"),
        "caijing",
        &["财经要闻"],
    ));
    cfg.push_str(&feed_source(
        "atom",
        &server.url("/atom.xml"),
        "emnews",
        &["东财滚动新闻"],
    ));
    let config = write_config(dir.path(), &cfg);
    let out = run_once(&config);
    out.assert_code(1);
    assert!(!out.timed_out);

    let conn = open_db(&db_path(dir.path()));
    // The good feeds are stored in full.
    assert_eq!(
        count(&conn, "articles"),
        4 + 3,
        "titles: {:?}\n{}",
        titles(&conn),
        out.diag()
    );
    assert!(article_by_title(&conn, GBK_TITLE).is_some());
    assert!(article_by_title(&conn, ATOM_TITLE).is_some());
    assert!(
        article_by_title(
            &conn,
            "中国广核：公司2022年共安排112.93亿千瓦时作为年度市场电量上限"
        )
        .is_none(),
        "nothing from the malformed feed"
    );
    assert_healthy(&conn, "gbk");
    assert_healthy(&conn, "atom");

    let broken = assert_failed(&conn, "broken", &out);
    assert_ne!(broken.last_status, Some(500));
    let e500 = assert_failed(&conn, "http500", &out);
    assert_eq!(e500.last_status, Some(500), "{e500:?}");
    assert!(
        e500.last_error.as_deref().unwrap_or("").contains("500"),
        "the error names the status: {e500:?}"
    );
    let rows = fetch_errors_of(&conn, e500.id);
    assert!(rows.iter().any(|f| f.status == Some(500)), "{rows:#?}");

    // Each feed was requested (the 500 is not retried forever).
    for p in ["/broken.xml", "/error.xml", "/gbk.xml", "/atom.xml"] {
        let n = server.requests_for(p).len();
        assert!((1..=3).contains(&n), "{p} requested {n} times");
    }
    assert!(out.elapsed.as_secs() < 10, "finished fast: {:?}", out.elapsed);
}

#[test]
fn closed_port_does_not_stop_the_others() {
    let server = TestServer::start();
    server.set("/feed.json", Route::json_feed(fixture("feed.json")));
    let dead = closed_port_url("/rss.xml");
    let dir = tempdir();
    let mut cfg = base_config();
    cfg.push_str(&feed_source("dead", &dead, "emnews", &[]));
    cfg.push_str(&feed_source("json", &server.url("/feed.json"), "jijin", &[]));
    let config = write_config(dir.path(), &cfg);
    let out = run_once(&config);
    out.assert_code(1);
    let conn = open_db(&db_path(dir.path()));
    assert_eq!(count(&conn, "articles"), 3, "{}", out.diag());
    assert!(
        article_by_title(
            &conn,
            "什么信号？海外中国ETF重现强劲流入 机构发话：增持时机已到！"
        )
        .is_some()
    );
    assert_healthy(&conn, "json");
    let d = assert_failed(&conn, "dead", &out);
    assert_eq!(d.last_status, None, "no HTTP status without a connection: {d:?}");
    assert!(out.elapsed.as_secs() < 10, "{:?}", out.elapsed);
}

/// `once` polls every enabled source, backoff or not: a second failure
/// counts up, a success resets the counter.
#[test]
fn second_failure_counts_up() {
    let server = TestServer::start();
    server.set("/error2.xml", Route::status(500));
    let dir = tempdir();
    let mut cfg = base_config();
    cfg.push_str(&feed_source("http500", &server.url("/error2.xml"), "emnews", &[]));
    let config = write_config(dir.path(), &cfg);
    run_once(&config).assert_code(1);
    let out = run_once(&config);
    out.assert_code(1);
    let conn = open_db(&db_path(dir.path()));
    let s = source(&conn, "http500");
    assert_eq!(s.consecutive_failures, 2, "{s:?}\n{}", out.diag());
    assert_eq!(s.last_status, Some(500));
    assert_eq!(count(&conn, "articles"), 0);

    // Recovery resets the counter.
    server.set("/error2.xml", Route::atom(fixture("atom.xml")));
    let out = run_once(&config);
    out.assert_code(0);
    let conn = open_db(&db_path(dir.path()));
    let s = source(&conn, "http500");
    assert_eq!(s.consecutive_failures, 0, "{s:?}\n{}", out.diag());
    assert!(s.last_error.as_deref().unwrap_or("").is_empty(), "{s:?}");
    assert_eq!(count(&conn, "articles"), 3);
}
