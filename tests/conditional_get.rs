//! Conditional GET (CONTRACT §4): a second `once` against an unchanged server
//! sends `If-None-Match` / `If-Modified-Since`, gets 304 for every feed,
//! stores nothing new and records `fetches.not_modified = 1`. A changed feed
//! (new ETag) is fetched and parsed again.

mod support;

use support::*;

const ETAG_V1: &str = "\"atom-v1\"";
const ETAG_V2: &str = "\"atom-v2\"";
const LAST_MODIFIED: &str = "Tue, 19 Apr 2022 04:30:00 GMT";
const BOTH_ETAG: &str = "W/\"finews-rss-1650342605\"";
const BOTH_LM: &str = "Tue, 19 Apr 2022 04:30:05 GMT";

const NEW_ENTRY: &str = r#"  <entry>
    <title>康斯特：MEMS传感器项目开发进度比预期的要顺利</title>
    <id>http://finance.eastmoney.com/news/1354,202112082206734275.html</id>
    <link href="http://finance.eastmoney.com/news/1354,202112082206734275.html"/>
    <published>2021-12-08T10:35:30+08:00</published>
    <updated>2021-12-08T10:35:30+08:00</updated>
    <summary>康斯特在机构调研时表示，MEMS传感器项目开发进度比预期的要顺利，公司是先对后部的封测工艺进行验证，同时委托外部对设计完成的芯片进行流片。</summary>
  </entry>
</feed>"#;

struct Setup {
    server: TestServer,
    dir: tempfile::TempDir,
    config: std::path::PathBuf,
}

const PATHS: [&str; 3] = ["/etag.xml", "/lm.json", "/both.xml"];

fn setup() -> Setup {
    let server = TestServer::start();
    // ETag only.
    server.set("/etag.xml", Route::atom(fixture("atom.xml")).etag(ETAG_V1));
    // Last-Modified only.
    server.set(
        "/lm.json",
        Route::json_feed(fixture("feed.json")).last_modified(LAST_MODIFIED),
    );
    // Both validators (and gzip on the wire).
    server.set(
        "/both.xml",
        Route::rss(fixture("reference_rss.xml"))
            .etag(BOTH_ETAG)
            .last_modified(BOTH_LM)
            .gzip(),
    );
    let dir = tempdir();
    let mut cfg = base_config();
    cfg.push_str(&feed_source(
        "etag-atom",
        &server.url("/etag.xml"),
        "emnews",
        &["东财滚动新闻"],
    ));
    cfg.push_str(&feed_source(
        "lm-json",
        &server.url("/lm.json"),
        "jijin",
        &["中国基金报新闻"],
    ));
    cfg.push_str(&feed_source(
        "both-rss",
        &server.url("/both.xml"),
        "zhengquanribaowang",
        &["证券日报网新闻"],
    ));
    let config = write_config(dir.path(), &cfg);
    Setup { server, dir, config }
}

#[test]
fn second_once_is_all_304() {
    let s = setup();
    let first = run_once(&s.config);
    let _diag1 = first.on_panic();
    first.assert_code(0);
    for p in PATHS {
        let reqs = s.server.requests_for(p);
        assert_eq!(
            reqs.len(),
            1,
            "{p} requested once in the first run\n{}",
            first.diag()
        );
        assert_eq!(reqs[0].status, 200);
    }
    let conn = open_db(&db_path(s.dir.path()));
    let articles_after_first = count(&conn, "articles");
    assert_eq!(
        articles_after_first,
        7,
        "3 Atom + 3 JSON + 1 RSS\n{}",
        first.diag()
    );
    let fetches_after_first = fetches(&conn).len();
    assert_eq!(
        count(&conn, "fetches WHERE not_modified = 1"),
        0,
        "nothing was 304 in the first run"
    );

    // The validators were stored with each source.
    assert_eq!(source(&conn, "etag-atom").etag.as_deref(), Some(ETAG_V1));
    assert_eq!(
        source(&conn, "lm-json").last_modified.as_deref(),
        Some(LAST_MODIFIED)
    );
    let both = source(&conn, "both-rss");
    assert_eq!(both.etag.as_deref(), Some(BOTH_ETAG));
    assert_eq!(both.last_modified.as_deref(), Some(BOTH_LM));
    let last_seen_before: Vec<(i64, String)> = conn
        .prepare("SELECT id, last_seen_at FROM articles ORDER BY id")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    drop(conn);

    // Second run against the unchanged server.
    s.server.clear_requests();
    let second = run_once(&s.config);
    let _diag2 = second.on_panic();
    second.assert_code(0);
    let reqs = s.server.requests();
    assert_eq!(
        reqs.len(),
        3,
        "one request per feed, nothing else:\n{}\n{}",
        s.server.describe_requests(),
        second.diag()
    );
    let etag_req = &s.server.requests_for("/etag.xml")[0];
    assert_eq!(etag_req.header("if-none-match"), Some(ETAG_V1));
    let lm_req = &s.server.requests_for("/lm.json")[0];
    assert_eq!(lm_req.header("if-modified-since"), Some(LAST_MODIFIED));
    let both_req = &s.server.requests_for("/both.xml")[0];
    assert!(
        both_req.header("if-none-match") == Some(BOTH_ETAG)
            || both_req.header("if-modified-since") == Some(BOTH_LM),
        "validators of /both.xml: {:?}",
        both_req.headers
    );
    for r in &reqs {
        assert!(
            r.header("if-none-match").is_some() || r.header("if-modified-since").is_some(),
            "{} sent without a validator: {:?}",
            r.url,
            r.headers
        );
        assert_eq!(r.status, 304, "{} answered {}", r.url, r.status);
    }

    let conn = open_db(&db_path(s.dir.path()));
    assert_eq!(count(&conn, "articles"), articles_after_first, "no new rows");
    let all = fetches(&conn);
    let new_fetches = &all[fetches_after_first..];
    assert_eq!(
        new_fetches.len(),
        3,
        "one fetches row per request: {new_fetches:#?}"
    );
    for f in new_fetches {
        assert_eq!(f.not_modified, 1, "second-run fetch {f:?}");
        assert!(f.error.as_deref().unwrap_or("").is_empty(), "{f:?}");
        if let Some(status) = f.status {
            assert_eq!(status, 304, "{f:?}");
        }
        assert_eq!(f.new_articles.unwrap_or(0), 0, "{f:?}");
    }
    let mut sources_304: Vec<i64> = new_fetches.iter().filter_map(|f| f.source_id).collect();
    sources_304.sort();
    let mut ids: Vec<i64> = ["etag-atom", "lm-json", "both-rss"]
        .iter()
        .map(|n| source(&conn, n).id)
        .collect();
    ids.sort();
    assert_eq!(sources_304, ids, "every source got its 304 row");
    for n in ["etag-atom", "lm-json", "both-rss"] {
        let src = source(&conn, n);
        assert!(src.last_error.as_deref().unwrap_or("").is_empty(), "{src:?}");
        assert_eq!(src.consecutive_failures, 0, "{src:?}");
    }
    // A 304 costs no parsing: the articles were not touched.
    let last_seen_after: Vec<(i64, String)> = conn
        .prepare("SELECT id, last_seen_at FROM articles ORDER BY id")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(
        last_seen_before, last_seen_after,
        "a 304 re-saw no article (nothing was parsed)"
    );
}

#[test]
fn changed_feed_after_304_is_fetched_again() {
    let s = setup();
    run_once(&s.config).assert_code(0);
    run_once(&s.config).assert_code(0);
    let conn = open_db(&db_path(s.dir.path()));
    let before = count(&conn, "articles");
    drop(conn);

    // The Atom feed gains an entry and a new ETag.
    let body = String::from_utf8(fixture("atom.xml"))
        .unwrap()
        .replace("</feed>", NEW_ENTRY);
    s.server.set("/etag.xml", Route::atom(body).etag(ETAG_V2));
    s.server.clear_requests();
    let third = run_once(&s.config);
    let _diag3 = third.on_panic();
    third.assert_code(0);
    let etag_req = &s.server.requests_for("/etag.xml")[0];
    assert_eq!(etag_req.header("if-none-match"), Some(ETAG_V1));
    assert_eq!(etag_req.status, 200);
    for p in ["/lm.json", "/both.xml"] {
        assert_eq!(s.server.requests_for(p)[0].status, 304, "{p}");
    }
    let conn = open_db(&db_path(s.dir.path()));
    assert_eq!(count(&conn, "articles"), before + 1, "{}", third.diag());
    let a = article_by_title(&conn, "康斯特：MEMS传感器项目开发进度比预期的要顺利")
        .unwrap_or_else(|| panic!("new entry stored\n{}", third.diag()));
    assert_eq!(a.published_at.as_deref(), Some("2021-12-08T02:35:30Z"));
    assert_eq!(source(&conn, "etag-atom").etag.as_deref(), Some(ETAG_V2));
}
