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

fn check_failed(soft: &mut Soft, conn: &rusqlite::Connection, name: &str) -> SourceRow {
    let s = source(conn, name);
    soft.check(!s.last_error.as_deref().unwrap_or("").trim().is_empty(), || {
        format!("{name}: sources.last_error must be set: {s:?}")
    });
    soft.eq(
        s.consecutive_failures,
        1,
        &format!("{name}: consecutive_failures"),
    );
    let rows = fetch_errors_of(conn, s.id);
    soft.check(
        rows.iter()
            .any(|f| !f.error.as_deref().unwrap_or("").trim().is_empty()),
        || format!("{name}: a fetches row with its error: {rows:?}"),
    );
    s
}

fn check_healthy(soft: &mut Soft, conn: &rusqlite::Connection, name: &str) {
    let s = source(conn, name);
    soft.check(s.last_error.as_deref().unwrap_or("").is_empty(), || {
        format!("{name}: no last_error: {s:?}")
    });
    soft.eq(
        s.consecutive_failures,
        0,
        &format!("{name}: consecutive_failures"),
    );
    soft.eq(s.last_status, Some(200), &format!("{name}: last_status"));
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
    let _diag = out.on_panic();
    out.assert_code(1);

    let conn = open_db(&db_path(dir.path()));
    let mut soft = Soft::new();
    // The good feeds are stored in full.
    soft.eq(
        count(&conn, "articles"),
        4 + 3,
        "articles stored from the two good feeds",
    );
    soft.check(article_by_title(&conn, GBK_TITLE).is_some(), || {
        format!("{GBK_TITLE} stored; titles: {:?}", titles(&conn))
    });
    soft.check(article_by_title(&conn, ATOM_TITLE).is_some(), || {
        format!("{ATOM_TITLE} stored; titles: {:?}", titles(&conn))
    });
    soft.check(
        article_by_title(
            &conn,
            "中国广核：公司2022年共安排112.93亿千瓦时作为年度市场电量上限",
        )
        .is_none(),
        || "nothing from the malformed feed".into(),
    );
    check_healthy(&mut soft, &conn, "gbk");
    check_healthy(&mut soft, &conn, "atom");

    let broken = check_failed(&mut soft, &conn, "broken");
    soft.check(broken.last_status != Some(500), || format!("{broken:?}"));
    let e500 = check_failed(&mut soft, &conn, "http500");
    soft.eq(e500.last_status, Some(500), "http500: last_status");
    soft.check(e500.last_error.as_deref().unwrap_or("").contains("500"), || {
        format!("http500: the error names the status: {e500:?}")
    });
    let rows = fetch_errors_of(&conn, e500.id);
    soft.check(rows.iter().any(|f| f.status == Some(500)), || {
        format!("http500: a fetches row with status 500: {rows:?}")
    });

    // Each feed was requested (the 500 is not retried forever).
    for p in ["/broken.xml", "/error.xml", "/gbk.xml", "/atom.xml"] {
        let n = server.requests_for(p).len();
        soft.check((1..=3).contains(&n), || format!("{p} requested {n} times"));
    }
    soft.check(out.elapsed.as_secs() < 10, || {
        format!("finished fast: {:?}", out.elapsed)
    });
    soft.finish();
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
    let _diag = out.on_panic();
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
    let mut soft = Soft::new();
    check_healthy(&mut soft, &conn, "json");
    let d = check_failed(&mut soft, &conn, "dead");
    soft.eq(d.last_status, None, "dead: no HTTP status without a connection");
    soft.check(out.elapsed.as_secs() < 10, || format!("{:?}", out.elapsed));
    soft.finish();
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
    let _diag = out.on_panic();
    out.assert_code(1);
    let conn = open_db(&db_path(dir.path()));
    let s = source(&conn, "http500");
    assert_eq!(s.consecutive_failures, 2, "{s:?}\n{}", out.diag());
    assert_eq!(s.last_status, Some(500));
    assert_eq!(count(&conn, "articles"), 0);

    // Recovery resets the counter.
    server.set("/error2.xml", Route::atom(fixture("atom.xml")));
    let out = run_once(&config);
    let _diag = out.on_panic();
    out.assert_code(0);
    let conn = open_db(&db_path(dir.path()));
    let s = source(&conn, "http500");
    assert_eq!(s.consecutive_failures, 0, "{s:?}\n{}", out.diag());
    assert!(s.last_error.as_deref().unwrap_or("").is_empty(), "{s:?}");
    assert_eq!(count(&conn, "articles"), 3);
}
