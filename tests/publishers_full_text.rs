//! `full_text = true` (CONTRACT §2, §6 *Full text*, content ranks): an RSS item
//! carrying only a summary (`<description>`) whose `<link>` is an East
//! Money–layout page. One row: the content becomes the page's full text as
//! revision 2, the summary's text stays in `article_revisions` (revision 1)
//! and in the `summary` column. A later `once` does not fetch the page again.

mod support;

use support::*;

const TITLE: &str = "刚刚 工信部明确表态 二季度工业经济稳增长有四大举措！";
const SUMMARY: &str = "4月19日上午，工业和信息化部新闻发言人罗俊杰表示，一季度工业经济实现平稳开局，工业和信息化发展取得积极成效。";
const PAGE: &str = "/a/202204191905123456.html";
const FEED: &str = "/zqrb/rss.xml";

fn reference() -> CorpusPost {
    parse_post("reference_post.md", &fixture_str("finews/reference_post.md"))
        .expect("the reference post parses")
}

fn rss(page_url: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>证券日报网</title><link>http://www.zqrb.cn/</link><description>证券日报网新闻</description>
<item><title>{TITLE}</title><link>{page_url}</link><guid isPermaLink="false">zqrb-1650342164</guid>
<pubDate>Tue, 19 Apr 2022 12:22:44 +0800</pubDate>
<description>{SUMMARY}</description></item>
</channel></rss>
"#
    )
}

struct Setup {
    server: TestServer,
    config: std::path::PathBuf,
    dir: tempfile::TempDir,
}

fn setup(feed_etag: bool) -> Setup {
    let post = reference();
    let server = TestServer::start();
    let mut feed = Route::rss(rss(&server.url(PAGE)));
    if feed_etag {
        feed = feed.etag("\"zqrb-v1\"");
    }
    server.set(FEED, feed);
    server.set(
        PAGE,
        Route::ok(
            "text/html; charset=utf-8",
            east_money_page(&post.title, &post.date, Some("证券日报网"), &post.body, None),
        ),
    );
    let dir = tempdir();
    let mut cfg =
        publisher_config("[share]\nresolve = []\nallow_hosts = [\"127.0.0.1\"]\nfollow_discovered = true\n");
    cfg.push_str(&feed_source(
        "zqrb-rss",
        &server.url(FEED),
        "zhengquanribaowang",
        &["证券日报网新闻"],
    ));
    cfg.push_str("full_text = true\n");
    let config = write_config(dir.path(), &cfg);
    Setup { server, config, dir }
}

fn revisions(conn: &rusqlite::Connection, article_id: i64) -> Vec<(i64, Option<String>)> {
    conn.prepare(
        "SELECT revision, content_text FROM article_revisions WHERE article_id = ?1 ORDER BY revision",
    )
    .unwrap()
    .query_map([article_id], |r| Ok((r.get(0)?, r.get(1)?)))
    .unwrap()
    .collect::<Result<_, _>>()
    .unwrap()
}

fn check_enriched(soft: &mut Soft, s: &Setup, conn: &rusqlite::Connection) {
    let all = articles(conn);
    soft.eq(all.len(), 1, &format!("one row: {:?}", titles(conn)));
    let Some(a) = all.first() else { return };
    soft.eq(a.title.as_str(), TITLE, "title");
    soft.eq(a.url.clone(), Some(s.server.url(PAGE)), "url: the item link");
    soft.eq(
        a.published_at.as_deref(),
        Some("2022-04-19T04:22:44Z"),
        "published_at",
    );
    soft.eq(a.media.as_deref(), Some("证券日报网"), "media");
    soft.eq(
        a.summary.as_deref(),
        Some(SUMMARY),
        "summary: the feed's description",
    );
    // The oracle's text of the reference body (posts.json, oracle.py).
    let want = expected_text("reference_post.md");
    soft.check(a.content_text.as_deref() == Some(want.as_str()), || {
        format!(
            "content_text is the page's full text\n--- got\n{}\n--- want\n{want}",
            a.content_text.as_deref().unwrap_or("<NULL>")
        )
    });
    soft.eq(a.revision, 2, "revision: the summary, then the full text");
    soft.eq(
        revisions(conn, a.id),
        vec![(1, Some(SUMMARY.to_string()))],
        "article_revisions: the summary as revision 1",
    );
    soft.eq(
        sighting_sources(conn, a.id),
        vec!["zqrb-rss".to_string()],
        "sightings",
    );
}

fn full_text_once_then_again(feed_etag: bool) {
    let s = setup(feed_etag);
    let out = run_once(&s.config);
    let _diag = out.on_panic();
    out.assert_code(0);
    let conn = open_db(&db_path(s.dir.path()));
    let mut soft = Soft::new();
    check_enriched(&mut soft, &s, &conn);
    soft.eq(
        s.server.requests_for(PAGE).len(),
        1,
        &format!("the page is fetched once:\n{}", s.server.describe_requests()),
    );
    drop(conn);

    let again = run_once(&s.config);
    let _diag2 = again.on_panic();
    again.assert_code(0);
    let feed_requests = s.server.requests_for(FEED);
    soft.eq(feed_requests.len(), 2, "the feed is polled by each once");
    if feed_etag {
        soft.eq(
            feed_requests.last().map(|r| r.status),
            Some(304),
            "the second poll of the feed is a 304",
        );
    } else {
        soft.eq(
            feed_requests.last().map(|r| r.status),
            Some(200),
            "the second poll of the feed is a 200 with the same item",
        );
    }
    soft.eq(
        s.server.requests_for(PAGE).len(),
        1,
        &format!(
            "the page is NOT fetched again (the article has its full text):\n{}",
            s.server.describe_requests()
        ),
    );
    let conn = open_db(&db_path(s.dir.path()));
    check_enriched(&mut soft, &s, &conn);
    soft.finish();
}

#[test]
fn full_text_replaces_the_summary_and_a_304_costs_no_page() {
    full_text_once_then_again(true);
}

#[test]
fn full_text_is_not_fetched_again_for_an_unchanged_feed() {
    full_text_once_then_again(false);
}
