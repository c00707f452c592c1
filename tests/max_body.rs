//! `[http] max_body` (CONTRACT §2: "after decompression; larger bodies are
//! refused"): a 64 MiB plain body, with or without Content-Length, and a
//! ~200 KB gzip that inflates to 200 MiB are refused without being read
//! whole; bodies under the limit, plain or gzip, are accepted.

mod support;

use std::time::Duration;
use support::*;

const MIB: u64 = 1 << 20;
const BIG_TITLE: &str = "超大订阅源";

fn rss_stream(fill_len: u64, content_length: bool) -> Stream {
    let prefix = format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<rss version=\"2.0\"><channel>\
         <title>超大订阅源</title><link>http://127.0.0.1/</link><description>big</description>\
         <item><title>{BIG_TITLE}</title><link>http://127.0.0.1/big/1</link><guid>big-1</guid>\
         <pubDate>Tue, 19 Apr 2022 12:22:44 +0800</pubDate><description>"
    );
    Stream {
        prefix: prefix.into_bytes(),
        fill: b'0',
        fill_len,
        suffix: b"</description></item></channel></rss>\n".to_vec(),
        content_length,
    }
}

fn mentions_limit(s: &str) -> bool {
    let s = s.to_lowercase();
    [
        "max_body",
        "max body",
        "1mib",
        "1 mib",
        "1.0 mib",
        "1048576",
        "too large",
        "too big",
        "exceed",
        "limit",
    ]
    .iter()
    .any(|k| s.contains(k))
}

struct Run {
    out: Output,
    conn: rusqlite::Connection,
    server: TestServer,
    _dir: tempfile::TempDir,
}

/// One `once` over the route under test at `/big.xml` and a good JSON feed.
fn crawl(route: Route) -> Run {
    let server = TestServer::start();
    server.set("/big.xml", route);
    server.set("/good.json", Route::json_feed(fixture("feed.json")));
    let dir = tempdir();
    let mut cfg = base_config(); // max_body = "1MiB"
    cfg.push_str(&feed_source("big", &server.url("/big.xml"), "emnews", &[]));
    cfg.push_str(&feed_source("good", &server.url("/good.json"), "jijin", &[]));
    let config = write_config(dir.path(), &cfg);
    let out = run_once(&config);
    let conn = open_db(&db_path(dir.path()));
    Run {
        out,
        conn,
        server,
        _dir: dir,
    }
}

#[track_caller]
fn assert_refused(r: &Run) {
    let _diag = r.out.on_panic();
    r.out.assert_code(1);
    assert!(
        r.out.elapsed < Duration::from_secs(10),
        "refusing took {:?}",
        r.out.elapsed
    );
    let s = source(&r.conn, "big");
    let err = s.last_error.clone().unwrap_or_default();
    eprintln!("big: last_error = {err:?}");
    assert!(
        mentions_limit(&err),
        "last_error should mention the size limit: {err:?}\n{}",
        r.out.diag()
    );
    assert_eq!(s.consecutive_failures, 1, "{s:?}");
    let rows: Vec<FetchRow> = fetches(&r.conn)
        .into_iter()
        .filter(|f| f.source_id == Some(s.id))
        .collect();
    assert!(
        rows.iter()
            .any(|f| mentions_limit(f.error.as_deref().unwrap_or(""))),
        "fetches.error mentions the limit: {rows:#?}"
    );
    assert!(
        article_by_title(&r.conn, BIG_TITLE).is_none(),
        "nothing stored from the oversized feed"
    );
    // The other source is unaffected.
    assert_eq!(count(&r.conn, "articles"), 3, "{:?}", titles(&r.conn));
    let good = source(&r.conn, "good");
    assert!(good.last_error.as_deref().unwrap_or("").is_empty(), "{good:?}");
}

#[track_caller]
fn assert_not_read_whole(r: &Run, body_len: u64) {
    assert!(
        r.server.wait_idle(Duration::from_secs(5)),
        "the server is still writing /big.xml after the crawler exited:\n{}",
        r.server.describe_requests()
    );
    let reqs = r.server.requests_for("/big.xml");
    assert!(!reqs.is_empty(), "/big.xml requested");
    for q in &reqs {
        let written = q.bytes_written();
        eprintln!("/big.xml: {written} of {body_len} bytes written");
        assert!(
            written < body_len / 2,
            "the server wrote {written} of {body_len} bytes: the client read (nearly) \
             all of it instead of hanging up past max_body\n{}",
            r.out.diag()
        );
    }
}

#[test]
fn plain_body_with_content_length_over_max_body_is_refused() {
    let stream = rss_stream(64 * MIB, true);
    let len = stream.total_len();
    let r = crawl(Route::streamed("application/rss+xml; charset=utf-8", stream));
    assert_refused(&r);
    assert_not_read_whole(&r, len);
}

#[test]
fn chunked_body_over_max_body_is_refused_while_streaming() {
    // No Content-Length: the limit must be enforced while reading.
    let stream = rss_stream(64 * MIB, false);
    let len = stream.total_len();
    let r = crawl(Route::streamed("application/rss+xml; charset=utf-8", stream));
    assert_refused(&r);
    assert_not_read_whole(&r, len);
}

#[test]
fn gzip_bomb_over_max_body_is_refused() {
    // ~200 KB on the wire, 200 MiB of '0' inside a valid RSS item once inflated.
    let bomb = fixture("bomb_rss.xml.gz");
    assert!(bomb.len() < 400 * 1024, "the bomb is small: {}", bomb.len());
    assert_eq!(&bomb[..2], &[0x1f, 0x8b], "gzip magic");
    let route = Route::ok("application/rss+xml; charset=utf-8", Vec::new()).pre_gzipped(bomb);
    let r = crawl(route);
    assert_refused(&r);
}

#[test]
fn bodies_under_max_body_are_accepted_plain_and_gzip() {
    // 900 KiB of filler: under the 1 MiB limit, on the wire and inflated.
    let stream = rss_stream(900 * 1024, true);
    let mut plain = Vec::new();
    plain.extend_from_slice(&stream.prefix);
    plain.extend(std::iter::repeat_n(b'0', stream.fill_len as usize));
    plain.extend_from_slice(&stream.suffix);

    for (name, route) in [
        ("plain", Route::rss(plain.clone())),
        ("gzip", Route::rss(plain.clone()).gzip()),
    ] {
        let r = crawl(route);
        let _diag = r.out.on_panic();
        r.out.assert_code(0);
        let a = article_by_title(&r.conn, BIG_TITLE)
            .unwrap_or_else(|| panic!("{name}: the 900 KiB item is stored\n{}", r.out.diag()));
        assert_eq!(a.published_at.as_deref(), Some("2022-04-19T04:22:44Z"), "{name}");
        assert_eq!(count(&r.conn, "articles"), 4, "{name}");
    }
}
