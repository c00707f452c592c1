//! CONTRACT §6 "one row per infoCode, always", against the real binary. A JSON column item
//! carries infoCode `NW202204192348095567`; an RSS item of another source links to a page
//! whose canonical link is `finance.eastmoney.com/a/202204192348095567.html` (the same
//! article, found under a `url:` key first). In either order the two copies end as one row
//! keyed `info:NW202204192348095567`, with the page's full text and both sources'
//! sightings; every `once` exits 0 and later polls under either key land on that row.

mod support;

use std::time::Duration;

use serde_json::json;
use support::*;

const CODE: &str = "202204192348095567";
const INFO_CODE: &str = "NW202204192348095567";
const TITLE: &str = "刚刚 工信部明确表态 二季度工业经济稳增长有四大举措！";
const SUMMARY: &str = "4月19日上午，工业和信息化部新闻发言人罗俊杰表示，一季度工业经济实现平稳开局。";
const BODY: &str = "<p>4月19日上午，国新办举行新闻发布会，工业和信息化部新闻发言人罗俊杰介绍一季度工业和信息化发展情况。</p>\
<p>罗俊杰表示，二季度将从四个方面推动工业经济稳增长：加强运行调度，稳定产业链供应链，扩大有效投资，促进消费恢复。</p>\
<p>他说，今年以来，面对复杂严峻的国际环境和国内疫情多发的挑战，工业经济实现平稳开局。</p>";
const PAGE: &str = "/zqrb/1650342164.html";

fn column() -> String {
    json!({"data": {"list": [{
        "code": CODE,
        "title": TITLE,
        "showTime": "2022-04-19 12:22:44",
        "mediaName": "证券日报网",
        "summary": SUMMARY,
        "url": format!("http://finance.eastmoney.com/a/{CODE}.html"),
    }]}})
    .to_string()
}

fn rss(page_url: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>证券日报网</title><link>http://www.zqrb.cn/</link><description>d</description>
<item><title>{TITLE}</title><link>{page_url}</link><guid isPermaLink="false">zqrb-1650342164</guid>
<pubDate>Tue, 19 Apr 2022 12:22:44 +0800</pubDate><description>{SUMMARY}</description></item>
</channel></rss>"#
    )
}

fn json_source(url: &str) -> String {
    format!(
        r#"
[[source]]
name = "column"
type = "json"
url = {url:?}
items = "/data/list"
fields = {{ info_code = "/code", title = "/title", published = "/showTime", media = "/mediaName", summary = "/summary", url = "/url" }}
"#
    )
}

struct World {
    server: TestServer,
    dir: tempfile::TempDir,
}

impl World {
    fn new() -> World {
        let server = TestServer::start();
        server.set("/column", Route::ok("application/json; charset=utf-8", column()));
        server.set("/rss.xml", Route::rss(rss(&server.url(PAGE))));
        let local = chrono::DateTime::parse_from_rfc3339("2022-04-19T12:22:44+08:00").unwrap();
        let canonical = format!("http://finance.eastmoney.com/a/{CODE}.html");
        server.set(
            PAGE,
            Route::ok(
                "text/html; charset=utf-8",
                east_money_page(TITLE, &local, Some("证券日报网"), BODY, Some(&canonical)),
            ),
        );
        World {
            server,
            dir: tempdir(),
        }
    }

    /// A config with the JSON column and/or the RSS feed (`full_text`).
    fn config(&self, head: &str, column: bool, feed: bool) -> std::path::PathBuf {
        let mut cfg = head.to_owned();
        if column {
            cfg.push_str(&json_source(&self.server.url("/column")));
        }
        if feed {
            cfg.push_str(&feed_source("zqrb", &self.server.url("/rss.xml"), "c", &[]));
            cfg.push_str("full_text = true\n");
        }
        write_config(self.dir.path(), &cfg)
    }

    fn conn(&self) -> rusqlite::Connection {
        open_db(&db_path(self.dir.path()))
    }
}

fn once_ok(config: &std::path::Path) {
    let out = run_once(config);
    let _diag = out.on_panic();
    assert_eq!(out.code, Some(0), "once exits 0\n{}", out.diag());
}

/// The one row, with the page's full text and a sighting from both sources.
fn check_one_row(world: &World) {
    let conn = world.conn();
    let rows = articles(&conn);
    assert_eq!(rows.len(), 1, "one row per infoCode: {rows:#?}");
    let row = &rows[0];
    assert_eq!(row.info_code.as_deref(), Some(INFO_CODE));
    assert_eq!(row.dedup_key, format!("info:{INFO_CODE}"));
    assert_eq!(row.title, TITLE);
    let text = row.content_text.as_deref().unwrap_or_default();
    assert!(
        text.contains("二季度将从四个方面推动工业经济稳增长"),
        "the page's full text: {text}"
    );
    assert_eq!(row.summary.as_deref(), Some(SUMMARY));
    let mut seen_by: Vec<String> = conn
        .prepare(
            "SELECT s.name FROM sightings g JOIN sources s ON s.id = g.source_id WHERE g.article_id = ?1",
        )
        .unwrap()
        .query_map([row.id], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    seen_by.sort();
    assert_eq!(seen_by, vec!["column".to_owned(), "zqrb".to_owned()]);
    for name in ["column", "zqrb"] {
        let source = source(&conn, name);
        assert_eq!(source.last_error, None, "{source:?}");
    }
}

#[test]
fn the_info_row_first_then_the_page_that_names_its_code() {
    let world = World::new();
    once_ok(&world.config(&base_config(), true, false));
    let both = world.config(&base_config(), true, true);
    once_ok(&both);
    check_one_row(&world);
    // Later copies under either key land on the row; the page is not fetched again.
    let pages_before = world.server.requests_for(PAGE).len();
    once_ok(&both);
    check_one_row(&world);
    assert_eq!(
        world.server.requests_for(PAGE).len(),
        pages_before,
        "full text is kept"
    );
}

#[test]
fn the_page_row_first_then_the_column_item_with_its_code() {
    let world = World::new();
    once_ok(&world.config(&base_config(), false, true));
    {
        let conn = world.conn();
        let rows = articles(&conn);
        assert_eq!(rows.len(), 1);
        assert_eq!(
            rows[0].info_code.as_deref(),
            Some(INFO_CODE),
            "the page named the code"
        );
    }
    let both = world.config(&base_config(), true, true);
    once_ok(&both);
    check_one_row(&world);
    once_ok(&both);
    check_one_row(&world);
}

#[test]
fn the_daemon_keeps_running_on_a_world_that_used_to_crash_it() {
    let world = World::new();
    once_ok(&world.config(&base_config(), false, true));
    let head = daemon_config(&DaemonOpts {
        interval: "1s".into(),
        min_interval: "1s".into(),
        ..DaemonOpts::default()
    });
    let config = world.config(&head, true, true);
    let mut daemon = Daemon::start(&config);
    let polled = daemon.poll_until(Duration::from_secs(30), Duration::from_millis(100), || {
        (world.server.requests_for("/column").len() >= 3).then_some(())
    });
    let alive = daemon.is_running();
    let (exit, _) = daemon.terminate(Duration::from_secs(15));
    assert!(
        polled.is_some() && alive,
        "the daemon kept polling\n{}",
        daemon.diag()
    );
    assert_eq!(exit.map(|s| s.code()), Some(Some(0)));
    check_one_row(&world);
}
