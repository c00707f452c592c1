//! CONTRACT §6 *Second requests are durable*, against the real binary: a `full_text` feed
//! whose item page could not be read in the poll that listed it — a 429 with a long
//! `Retry-After`, or a daemon stopped (SIGTERM) while the page was in flight — still gets
//! its full text on a later run, although the feed then answers 304.

mod support;

use std::time::Duration;

use support::*;

const TITLE: &str = "刚刚 工信部明确表态 二季度工业经济稳增长有四大举措！";
const SUMMARY: &str = "4月19日上午，工业和信息化部新闻发言人罗俊杰表示。";
const BODY: &str = "<p>4月19日上午，国新办举行新闻发布会，工业和信息化部新闻发言人罗俊杰介绍一季度工业和信息化发展情况。</p>\
<p>罗俊杰表示，二季度将从四个方面推动工业经济稳增长：加强运行调度，稳定产业链供应链，扩大有效投资，促进消费恢复。</p>";
/// A sentence only the page has.
const FULL_TEXT_MARK: &str = "二季度将从四个方面推动工业经济稳增长";
const PAGE: &str = "/zqrb/1650342164.html";
const FEED: &str = "/rss.xml";

fn rss(page_url: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>证券日报网</title><link>http://www.zqrb.cn/</link><description>d</description>
<item><title>{TITLE}</title><link>{page_url}</link><guid isPermaLink="false">zqrb-1650342164</guid>
<pubDate>Tue, 19 Apr 2022 12:22:44 +0800</pubDate><description>{SUMMARY}</description></item>
</channel></rss>"#
    )
}

fn page_route() -> Route {
    let local = chrono::DateTime::parse_from_rfc3339("2022-04-19T12:22:44+08:00").unwrap();
    Route::ok(
        "text/html; charset=utf-8",
        east_money_page(TITLE, &local, Some("证券日报网"), BODY, None),
    )
}

struct World {
    server: TestServer,
    dir: tempfile::TempDir,
}

impl World {
    fn new(page: Route) -> World {
        let server = TestServer::start();
        server.set(FEED, Route::rss(rss(&server.url(PAGE))).etag("\"zqrb-v1\""));
        server.set(PAGE, page);
        World {
            server,
            dir: tempdir(),
        }
    }

    fn config(&self, head: String) -> std::path::PathBuf {
        let mut cfg = head;
        cfg.push_str(&feed_source("zqrb", &self.server.url(FEED), "c", &[]));
        cfg.push_str("full_text = true\n");
        write_config(self.dir.path(), &cfg)
    }

    fn content_text(&self) -> String {
        let conn = open_db(&db_path(self.dir.path()));
        let rows = articles(&conn);
        assert_eq!(rows.len(), 1, "{rows:#?}");
        rows[0].content_text.clone().unwrap_or_default()
    }

    fn jobs(&self) -> Vec<(String, i64)> {
        open_db(&db_path(self.dir.path()))
            .prepare("SELECT state, attempts FROM page_jobs ORDER BY id")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    /// The statuses the server gave the feed, in order.
    fn feed_statuses(&self) -> Vec<u16> {
        self.server.requests_for(FEED).iter().map(|r| r.status).collect()
    }
}

#[test]
fn a_page_refused_with_429_gets_its_full_text_behind_a_304() {
    // An hour's pause: more than `once` waits for.
    let world = World::new(Route::status(429).header("Retry-After", "3600"));
    let config = world.config(base_config());
    let first = run_once(&config);
    let _diag = first.on_panic();
    first.assert_code(0);
    assert!(
        !world.content_text().contains(FULL_TEXT_MARK),
        "no full text yet: {}",
        world.content_text()
    );
    assert_eq!(
        world.jobs(),
        vec![("pending".to_owned(), 1)],
        "the page is still owed"
    );

    // An hour later (the job's due time moved back, as the clock would), the page answers.
    world.server.set(PAGE, page_route());
    open_db(&db_path(world.dir.path()))
        .execute("UPDATE page_jobs SET next_attempt_at = NULL", [])
        .unwrap();
    let second = run_once(&config);
    let _diag2 = second.on_panic();
    second.assert_code(0);
    assert_eq!(
        world.feed_statuses(),
        vec![200, 304],
        "the feed answered 304 the second time"
    );
    assert!(
        world.content_text().contains(FULL_TEXT_MARK),
        "the full text arrived behind the 304: {}",
        world.content_text()
    );
    assert_eq!(world.jobs(), vec![("done".to_owned(), 2)]);

    // Done is done: a third run asks for the page no more.
    let pages = world.server.requests_for(PAGE).len();
    run_once(&config).assert_code(0);
    assert_eq!(world.server.requests_for(PAGE).len(), pages);
}

#[test]
fn a_page_in_flight_at_sigterm_is_fetched_after_the_restart() {
    // The page takes longer than the daemon's shutdown grace (5 s), within the timeout.
    let world = World::new(page_route().delay(Duration::from_secs(12)));
    let config =
        world.config(daemon_config(&DaemonOpts::default()).replace("timeout = \"5s\"", "timeout = \"30s\""));
    let mut daemon = Daemon::start(&config);
    let asked = daemon.poll_until(Duration::from_secs(20), Duration::from_millis(50), || {
        (!world.server.requests_for(PAGE).is_empty()).then_some(())
    });
    assert!(asked.is_some(), "the page was requested\n{}", daemon.diag());
    let (exit, took) = daemon.terminate(Duration::from_secs(15));
    assert_eq!(exit.map(|s| s.code()), Some(Some(0)), "{}", daemon.diag());
    assert!(took < Duration::from_secs(10), "stopped in {took:?}");
    assert!(!world.content_text().contains(FULL_TEXT_MARK));
    assert_eq!(world.jobs().first().map(|(s, _)| s.as_str()), Some("pending"));

    world.server.set(PAGE, page_route());
    let out = run_once(&config);
    let _diag = out.on_panic();
    out.assert_code(0);
    assert_eq!(world.feed_statuses(), vec![200, 304]);
    assert!(
        world.content_text().contains(FULL_TEXT_MARK),
        "the full text after the restart: {}",
        world.content_text()
    );
    assert_eq!(world.jobs().first().map(|(s, _)| s.as_str()), Some("done"));
}
