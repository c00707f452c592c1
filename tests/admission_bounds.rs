//! CONTRACT §7 *Bounds* and the crawler's own bounded work, against the real binary: one
//! page with 100,000 share links queues `[share] max_discovered` (50) of them; 5 MiB pages
//! of 100,000 nested and 100,000 sibling elements are read (or refused) without a stack
//! overflow while another source on the same daemon keeps being polled.

mod support;

use std::time::{Duration, Instant};

use support::*;

fn feed_with_item(title: &str, link: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>c</title><link>http://127.0.0.1/</link><description>d</description>
<item><title>{title}</title><link>{link}</link><guid isPermaLink="false">{link}</guid>
<description>摘要。</description><pubDate>Tue, 19 Apr 2022 12:22:44 +0800</pubDate></item>
</channel></rss>"#
    )
}

fn article_page(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>{title}</title></head>\
         <body><h1>{title}</h1><div class=\"content\">{body}</div></body></html>"
    )
}

#[test]
fn a_page_with_100000_share_links_queues_max_discovered() {
    let server = TestServer::start();
    let mut links = String::with_capacity(6 << 20);
    for i in 0..100_000u64 {
        // A host no rule allows: the rows are queued as skipped, and nothing is requested.
        links.push_str(&format!(
            "<a href=\"http://mirror.example/s?infoCode=NW2022041900{i:08}\">{i}</a> "
        ));
    }
    let body = format!(
        "<p>上海证券交易所今日发布公告，多家上市公司披露年度报告。公告显示，多数公司营业收入同比增长，\
         净利润保持稳定，现金分红方案陆续出炉。</p><p>分析人士认为，年报披露高峰期将至，投资者应关注业绩确定性较高的板块。</p>\
         <p>{links}</p>"
    );
    server.set(
        "/a/1.html",
        Route::ok("text/html; charset=utf-8", article_page("公告汇总", &body)),
    );
    server.set(
        "/feed.xml",
        Route::rss(feed_with_item("公告汇总", &server.url("/a/1.html"))),
    );
    let dir = tempdir();
    let mut cfg = base_config().replace("max_body = \"1MiB\"", "max_body = \"8MiB\"");
    cfg.push_str(&feed_source("notices", &server.url("/feed.xml"), "c", &[]));
    cfg.push_str("full_text = true\n");
    let config = write_config(dir.path(), &cfg);
    let out = run_once_slow(&config);
    let _diag = out.on_panic();
    let conn = open_db(&db_path(dir.path()));
    let rows = share_links(&conn);
    assert_eq!(
        rows.len(),
        50,
        "share links queued from the page ([share] max_discovered)"
    );
    assert!(
        rows.iter().all(|r| r.state == "skipped"),
        "links to a host no rule allows are skipped: {:?}",
        rows.first()
    );
    assert_eq!(count(&conn, "articles WHERE title = '公告汇总'"), 1);
}

/// 100,000 nested `<div>`s with a line of text each (about 5 MiB).
fn nested_page() -> String {
    let mut page = String::with_capacity(6 << 20);
    page.push_str("<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>嵌套页面</title></head><body><h1>嵌套页面</h1>");
    for i in 0..100_000 {
        page.push_str(&format!("<div class=\"n{}\">第{i:06}层：嵌套的段落文字。", i % 7));
    }
    page.push_str("正文结束。");
    for _ in 0..100_000 {
        page.push_str("</div>");
    }
    page.push_str("</body></html>");
    page
}

/// 100,000 sibling paragraphs (about 5 MiB).
fn sibling_page() -> String {
    let mut page = String::with_capacity(6 << 20);
    page.push_str("<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>兄弟页面</title></head><body><h1>兄弟页面</h1><div class=\"content\">");
    for i in 0..100_000 {
        page.push_str(&format!("<p>第{i:06}段：市场震荡，成交量放大。</p>"));
    }
    page.push_str("</div></body></html>");
    page
}

#[test]
fn hostile_pages_do_not_stop_the_daemon_or_other_sources() {
    let server = TestServer::start();
    let nested = nested_page();
    let siblings = sibling_page();
    assert!(
        nested.len() > 4 << 20 && siblings.len() > 4 << 20,
        "pages of about 5 MiB"
    );
    server.set("/nested.html", Route::ok("text/html; charset=utf-8", nested));
    server.set("/siblings.html", Route::ok("text/html; charset=utf-8", siblings));
    server.set(
        "/hostile1.xml",
        Route::rss(feed_with_item("嵌套页面", &server.url("/nested.html"))),
    );
    server.set(
        "/hostile2.xml",
        Route::rss(feed_with_item("兄弟页面", &server.url("/siblings.html"))),
    );
    server.set(
        "/quiet.xml",
        Route::rss(mini_rss(
            "快讯",
            &[("央行开展逆回购操作", "http://news.example.org/a/1.html")],
        )),
    );
    let dir = tempdir();
    let mut cfg = daemon_config(&DaemonOpts {
        interval: "1s".into(),
        min_interval: "1s".into(),
        ..DaemonOpts::default()
    })
    .replace("max_body = \"1MiB\"", "max_body = \"8MiB\"");
    cfg.push_str(&feed_source("hostile1", &server.url("/hostile1.xml"), "c", &[]));
    cfg.push_str("full_text = true\n");
    cfg.push_str(&feed_source("hostile2", &server.url("/hostile2.xml"), "c", &[]));
    cfg.push_str("full_text = true\n");
    cfg.push_str(&feed_source("quiet", &server.url("/quiet.xml"), "c", &[]));
    let config = write_config(dir.path(), &cfg);
    let db = db_path(dir.path());

    let started = Instant::now();
    let mut daemon = Daemon::start(&config);
    // Both hostile pages requested, and then the quiet feed polled several more times.
    let pages_asked = daemon.poll_until(Duration::from_secs(30), Duration::from_millis(50), || {
        (!server.requests_for("/nested.html").is_empty() && !server.requests_for("/siblings.html").is_empty())
            .then_some(())
    });
    let quiet_before = server.requests_for("/quiet.xml").len();
    let quiet_after = daemon.poll_until(Duration::from_secs(20), Duration::from_millis(50), || {
        (server.requests_for("/quiet.xml").len() >= quiet_before + 3).then_some(())
    });
    let alive = daemon.is_running();
    let (exit, _) = daemon.terminate(Duration::from_secs(15));

    let conn = open_db(&db);
    let mut soft = Soft::new();
    soft.check(pages_asked.is_some(), || {
        "both hostile pages were requested".into()
    });
    soft.check(quiet_after.is_some(), || {
        format!(
            "the quiet feed kept being polled: {} requests in {:?}",
            server.requests_for("/quiet.xml").len(),
            started.elapsed()
        )
    });
    soft.check(alive, || {
        format!("the daemon is still running\n{}", daemon.diag())
    });
    soft.eq(exit.map(|s| s.code()), Some(Some(0)), "exit status after SIGTERM");
    soft.eq(
        count(&conn, "articles WHERE title IN ('嵌套页面', '兄弟页面')"),
        2,
        "both hostile items are stored (with their page's text, or the feed's summary)",
    );
    soft.finish();
}
