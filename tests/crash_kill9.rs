//! Crashes lose nothing (CONTRACT §6 *Second requests are durable*), against the real
//! binary: a loopback world of 200 sources — 150 `full_text` feeds, 30 JSON lists with
//! detail bodies, 20 `share_links` sources — one article each. The daemon is killed with
//! SIGKILL at 10 random moments and restarted each time; a final `once` finishes the work.
//! Then: `PRAGMA integrity_check` is ok, every expected article is stored exactly once
//! with its full text, no second request or share link is left pending, and the search
//! index finds every article.

mod support;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use serde_json::json;
use support::*;

const FEEDS: usize = 150;
const LISTS: usize = 30;
const SHARES: usize = 20;
const KILLS: usize = 10;

fn info_code(i: usize) -> String {
    format!("NW202204190000{i:06}")
}

/// The sentence only article `i`'s full text has (a search term too).
fn marker(i: usize) -> String {
    format!("第{i:04}号稿件正文")
}

fn title(i: usize) -> String {
    format!("第{i:04}号快讯：市场要闻速递")
}

fn body(i: usize) -> String {
    format!(
        "<p>{}：上海证券交易所今日发布公告，多家上市公司披露年度报告，营业收入同比增长。</p>\
         <p>分析人士认为，年报披露高峰期将至，投资者应关注业绩确定性较高的板块，现金分红方案陆续出炉。</p>",
        marker(i)
    )
}

fn page(i: usize) -> String {
    let local = chrono::DateTime::parse_from_rfc3339("2022-04-19T12:22:44+08:00").unwrap();
    east_money_page(&title(i), &local, Some("证券日报网"), &body(i), None)
}

/// A tiny deterministic generator (xorshift), seeded from the clock and printed, so that a
/// failing run can be replayed with `KILL9_SEED`.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn kill_9_at_random_moments_loses_nothing() {
    let server = TestServer::start();
    let dir = tempdir();
    let mut cfg = daemon_config(&DaemonOpts {
        interval: "2s".into(),
        min_interval: "1s".into(),
        concurrency: 4,
        ..DaemonOpts::default()
    })
    .replace(
        "[share]\nresolve = []\nallow_hosts = []\n",
        "[share]\nresolve = []\nallow_hosts = [\"127.0.0.1\"]\nfollow_discovered = false\n",
    );
    let mut expected = BTreeSet::new();
    let mut n = 0;
    for _ in 0..FEEDS {
        let (feed, link) = (format!("/feeds/{n}.xml"), format!("/p/{n}.html"));
        // With an ETag: a restarted daemon gets 304s, so a page a killed poll owed must come
        // from its job.
        server.set(
            &feed,
            Route::rss(mini_rss(&format!("源{n}"), &[(&title(n), &server.url(&link))]))
                .etag(&format!("\"f{n}\"")),
        );
        server.set(&link, Route::ok("text/html; charset=utf-8", page(n)));
        cfg.push_str(&feed_source(&format!("feed-{n}"), &server.url(&feed), "c", &[]));
        cfg.push_str("full_text = true\n");
        expected.insert(n);
        n += 1;
    }
    for _ in 0..LISTS {
        let code = info_code(n);
        let list = json!({"data": {"list": [{
            "code": &code[2..], "title": title(n), "showTime": "2022-04-19 12:22:44",
            "url": format!("http://finance.eastmoney.com/a/{}.html", &code[2..]),
        }]}});
        server.set(
            format!("/lists/{n}"),
            Route::ok("application/json", list.to_string()),
        );
        server.set(
            format!("/detail/{code}"),
            Route::ok(
                "application/json",
                json!({"data": {"content": body(n)}}).to_string(),
            ),
        );
        cfg.push_str(&format!(
            "\n[[source]]\nname = \"list-{n}\"\ntype = \"json\"\nurl = {:?}\nitems = \"/data/list\"\n\
             fields = {{ info_code = \"/code\", title = \"/title\", published = \"/showTime\", url = \"/url\" }}\n\
             detail_url = {:?}\ndetail_content = \"/data/content\"\n",
            server.url(&format!("/lists/{n}")),
            server.url("/detail/{info_code}"),
        ));
        expected.insert(n);
        n += 1;
    }
    for _ in 0..SHARES {
        let path = format!("/share/{n}/NewsShare.html");
        server.set(&path, Route::ok("text/html; charset=utf-8", page(n)));
        let url = server.url(&format!("{path}?infoCode={}", info_code(n)));
        cfg.push_str(&format!(
            "\n[[source]]\nname = \"share-{n}\"\ntype = \"share_links\"\nurls = [{url:?}]\n"
        ));
        expected.insert(n);
        n += 1;
    }
    let config = write_config(dir.path(), &cfg);
    let db = db_path(dir.path());

    let seed = std::env::var("KILL9_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
                | 1
        });
    eprintln!("KILL9_SEED={seed}");
    let mut rng = Rng(seed);
    let started = Instant::now();
    let mut kills = Vec::new();
    for _ in 0..KILLS {
        let mut daemon = Daemon::start(&config);
        // Somewhere between start-up and the middle of the crawl.
        let after = Duration::from_millis(150 + rng.next() % 900);
        std::thread::sleep(after);
        let stored = try_open_db(&db).map_or(0, |c| count(&c, "articles"));
        daemon.kill();
        kills.push((after, stored));
    }
    eprintln!(
        "kills (after, articles stored): {kills:?} in {:?}",
        started.elapsed()
    );

    let out = run_once(&config);
    let _diag = out.on_panic();
    out.assert_code(0);

    let conn = open_db(&db);
    let integrity: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(integrity, "ok");
    let stored = articles(&conn);
    assert_eq!(stored.len(), expected.len(), "every article exactly once");
    let mut missing_text = Vec::new();
    let mut found = BTreeSet::new();
    for a in &stored {
        let i: usize = a.title[3..7].parse().unwrap_or(usize::MAX);
        found.insert(i);
        if !a.content_text.as_deref().is_some_and(|t| t.contains(&marker(i))) {
            missing_text.push(a.title.clone());
        }
    }
    assert_eq!(found, expected, "the stored articles are the expected ones");
    assert!(missing_text.is_empty(), "without full text: {missing_text:?}");
    assert_eq!(
        count(&conn, "page_jobs WHERE state != 'done'"),
        0,
        "second requests left"
    );
    assert_eq!(
        count(&conn, "share_links WHERE state != 'done'"),
        0,
        "share links left"
    );
    let mut unsearchable = Vec::new();
    for i in &expected {
        let hits: i64 = conn
            .query_row(
                "SELECT count(*) FROM articles_fts WHERE articles_fts MATCH ?1",
                [format!("\"{}\"", marker(*i))],
                |r| r.get(0),
            )
            .unwrap();
        if hits != 1 {
            unsearchable.push((*i, hits));
        }
    }
    assert!(unsearchable.is_empty(), "search misses: {unsearchable:?}");
}
