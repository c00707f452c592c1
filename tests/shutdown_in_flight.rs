//! SIGTERM with many requests in flight, against the real binary: 60 `full_text` feeds
//! whose article pages answer slowly (9 s, beyond the 5 s shutdown grace) are being read with 64 connections when the
//! daemon gets SIGTERM. It exits 0 within 10 s; every entry it parsed is stored; the pages
//! it could not finish are still owed (`page_jobs` pending) and a later `once` fetches them,
//! although every feed read before then answers 304.

mod support;

use std::time::Duration;

use support::*;

const FEEDS: usize = 60;

fn title(i: usize) -> String {
    format!("第{i:04}号快讯：市场要闻速递")
}

fn marker(i: usize) -> String {
    format!("第{i:04}号稿件正文")
}

fn page(i: usize) -> String {
    let local = chrono::DateTime::parse_from_rfc3339("2022-04-19T12:22:44+08:00").unwrap();
    let body = format!(
        "<p>{}：上海证券交易所今日发布公告，多家上市公司披露年度报告，营业收入同比增长。</p>\
         <p>分析人士认为，年报披露高峰期将至，投资者应关注业绩确定性较高的板块。</p>",
        marker(i)
    );
    east_money_page(&title(i), &local, Some("证券日报网"), &body, None)
}

#[test]
fn sigterm_with_60_pages_in_flight_exits_promptly_and_loses_no_page() {
    let server = TestServer::start();
    let dir = tempdir();
    let mut cfg = daemon_config(&DaemonOpts {
        concurrency: 64,
        interval: "2s".into(),
        min_interval: "1s".into(),
        ..DaemonOpts::default()
    })
    .replace("timeout = \"5s\"", "timeout = \"60s\"");
    for i in 0..FEEDS {
        let (feed, link) = (format!("/feeds/{i}.xml"), format!("/p/{i}.html"));
        server.set(
            &feed,
            Route::rss(mini_rss(&format!("源{i}"), &[(&title(i), &server.url(&link))]))
                .etag(&format!("\"f{i}\"")),
        );
        server.set(
            &link,
            Route::ok("text/html; charset=utf-8", page(i)).delay(Duration::from_secs(9)),
        );
        cfg.push_str(&feed_source(&format!("feed-{i}"), &server.url(&feed), "c", &[]));
        cfg.push_str("full_text = true\n");
    }
    let config = write_config(dir.path(), &cfg);
    let db = db_path(dir.path());
    let pages_asked = || {
        server
            .requests()
            .iter()
            .filter(|r| r.path().starts_with("/p/"))
            .count()
    };

    let mut daemon = Daemon::start(&config);
    let in_flight = daemon.poll_until(Duration::from_secs(30), Duration::from_millis(50), || {
        (pages_asked() >= 50).then_some(())
    });
    assert!(
        in_flight.is_some(),
        "{} pages requested\n{}",
        pages_asked(),
        daemon.diag()
    );
    let (exit, took) = daemon.terminate(Duration::from_secs(15));
    assert_eq!(exit.map(|s| s.code()), Some(Some(0)), "{}", daemon.diag());
    assert!(took < Duration::from_secs(10), "stopped in {took:?}");

    // Every feed that answered before the signal was parsed; its entry is stored.
    let feeds_read: std::collections::BTreeSet<String> = server
        .requests()
        .iter()
        .filter(|r| r.path().starts_with("/feeds/") && r.status == 200)
        .map(|r| r.path().to_owned())
        .collect();
    let conn = open_db(&db);
    assert_eq!(
        count(&conn, "articles"),
        feeds_read.len() as i64,
        "every parsed entry is stored"
    );
    let owed = count(&conn, "page_jobs WHERE state = 'pending'");
    assert!(owed >= 50, "unfinished pages are still owed: {owed} pending");

    // The pages answer at once now; every feed answers 304.
    for i in 0..FEEDS {
        server.set(
            format!("/p/{i}.html"),
            Route::ok("text/html; charset=utf-8", page(i)),
        );
    }
    let out = run(&config, &["once"]);
    let _diag = out.on_panic();
    out.assert_code(0);
    let statuses: Vec<u16> = server
        .requests()
        .iter()
        .filter(|r| r.path().starts_with("/feeds/"))
        .map(|r| r.status)
        .collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 304).count(),
        feeds_read.len(),
        "every feed read before answered 304 to once: {statuses:?}"
    );
    assert_eq!(count(&conn, "articles"), FEEDS as i64);
    let without: Vec<String> = articles(&conn)
        .into_iter()
        .filter(|a| {
            let i: usize = a.title[3..7].parse().unwrap_or(usize::MAX);
            !a.content_text.as_deref().is_some_and(|t| t.contains(&marker(i)))
        })
        .map(|a| a.title)
        .collect();
    assert!(without.is_empty(), "articles without their page: {without:?}");
    assert_eq!(count(&conn, "page_jobs WHERE state != 'done'"), 0);
}
