//! robots.txt per RFC 9309 as CONTRACT §7 puts it, with `once`: a 5xx robots.txt disallows
//! the whole host (nothing else is requested from it), a 404 allows everything, and
//! `Crawl-delay` slows the host below its configured rate (the server's own log is the
//! judge).

mod support;

use std::time::Instant;

use support::*;

fn robots_config(server: &TestServer, feeds: &[&str], rate: &str) -> String {
    let mut cfg = base_config()
        .replace("respect_robots = false", "respect_robots = true")
        .replace("per_host = \"1000/s\"", &format!("per_host = {rate:?}"))
        .replace("burst = 1000", "burst = 1");
    for (i, path) in feeds.iter().enumerate() {
        cfg.push_str(&feed_source(&format!("f{i}"), &server.url(path), "c", &[]));
    }
    cfg
}

fn serve_feeds(server: &TestServer, n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            let path = format!("/feed{i}.xml");
            server.set(
                &path,
                Route::rss(mini_rss(
                    "快讯",
                    &[(
                        &format!("第{i}条快讯标题"),
                        &format!("http://news.example.org/{i}.html"),
                    )],
                )),
            );
            path
        })
        .collect()
}

/// `once` over `feeds` feeds on a server whose robots.txt answers `robots`, at `rate`.
fn crawl_behind(robots: Route, feeds: usize, rate: &str) -> (TestServer, tempfile::TempDir, Output) {
    let server = TestServer::start();
    server.set("/robots.txt", robots);
    let paths = serve_feeds(&server, feeds);
    let path_refs: Vec<&str> = paths.iter().map(String::as_str).collect();
    let dir = tempdir();
    let config = write_config(dir.path(), &robots_config(&server, &path_refs, rate));
    let out = run_once(&config);
    (server, dir, out)
}

#[test]
fn robots_txt_answering_503_disallows_the_whole_host() {
    let (server, dir, out) = crawl_behind(Route::status(503), 2, "1000/s");
    let _diag = out.on_panic();
    let conn = open_db(&db_path(dir.path()));
    let mut soft = Soft::new();
    let other: Vec<String> = server
        .requests()
        .iter()
        .filter(|r| r.path() != "/robots.txt")
        .map(|r| r.url.clone())
        .collect();
    soft.check(other.is_empty(), || {
        format!("nothing but robots.txt is requested from the host: {other:?}")
    });
    soft.eq(server.requests_for("/robots.txt").len(), 1, "robots.txt requests");
    soft.eq(out.code, Some(1), "exit status (the sources failed)");
    soft.eq(count(&conn, "articles"), 0, "articles");
    let state = source_state(&conn, "f0");
    soft.check(
        state
            .as_ref()
            .and_then(|s| s.last_error.as_deref())
            .is_some_and(|e| e.starts_with("refused:") && e.contains("robots.txt could not be fetched")),
        || format!("f0: last_error says robots.txt was unavailable: {state:?}"),
    );
    soft.finish();
}

#[test]
fn robots_txt_answering_404_allows_everything() {
    let (server, dir, out) = crawl_behind(Route::status(404), 2, "1000/s");
    let _diag = out.on_panic();
    out.assert_code(0);
    let conn = open_db(&db_path(dir.path()));
    assert_eq!(count(&conn, "articles"), 2, "both feeds' articles");
    assert_eq!(server.requests_for("/robots.txt").len(), 1);
}

#[test]
fn crawl_delay_slows_the_host_below_its_configured_rate() {
    let server = TestServer::start();
    server.set(
        "/robots.txt",
        Route::ok(
            "text/plain",
            "User-agent: *\nCrawl-delay: 2\nDisallow: /private/\n",
        ),
    );
    let feeds = serve_feeds(&server, 3);
    let feed_refs: Vec<&str> = feeds.iter().map(String::as_str).collect();
    let dir = tempdir();
    let config = write_config(dir.path(), &robots_config(&server, &feed_refs, "2/s"));
    let out = run(&config, &["once"]);
    let _diag = out.on_panic();
    out.assert_code(0);
    let mut times: Vec<Instant> = server.requests().iter().map(|r| r.at).collect();
    times.sort();
    let gaps: Vec<f64> = times
        .windows(2)
        .map(|w| w[1].duration_since(w[0]).as_secs_f64())
        .collect();
    assert_eq!(times.len(), 4, "robots.txt and three feeds");
    // The server stamps arrivals; the crawler's clock started each gap a little earlier.
    assert!(
        gaps.iter().all(|g| *g >= 1.95),
        "at most one request per 2 s (Crawl-delay: 2 beats 2/s); gaps {gaps:?}"
    );
    let conn = open_db(&db_path(dir.path()));
    assert_eq!(count(&conn, "articles"), 3);
}
