//! CONTRACT §7 *Admission*, as an attacker would try it, against the real binary and real
//! servers on 127.0.0.0/8: redirects to `file:` URLs, item links to local files, redirects
//! to addresses no config names, share-link candidates redirecting off the allowed hosts.
//! Every refusal is a `fetches` row whose error starts with `refused:`, and nothing of the
//! refused URL is read or stored.

mod support;

use support::*;

/// A one-item RSS feed whose item links to `link`.
fn one_item_feed(title: &str, link: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>c</title><link>http://127.0.0.1/</link><description>d</description>
<item><title>{title}</title><link>{link}</link><guid isPermaLink="false">g-{title}</guid>
<description>短摘要。</description><pubDate>Tue, 19 Apr 2022 12:22:44 +0800</pubDate></item>
</channel></rss>"#
    )
}

fn refused_rows(conn: &rusqlite::Connection) -> Vec<FetchRow> {
    fetches(conn)
        .into_iter()
        .filter(|f| f.error.as_deref().is_some_and(|e| e.starts_with("refused:")))
        .collect()
}

#[test]
fn redirects_to_local_files_are_refused_and_nothing_is_read() {
    let server = TestServer::start();
    server.set(
        "/passwd.xml",
        Route::status(302).header("Location", "file:///etc/passwd"),
    );
    server.set(
        "/zero.xml",
        Route::status(302).header("Location", "file:///dev/zero"),
    );
    let dir = tempdir();
    let mut cfg = base_config();
    cfg.push_str(&feed_source("passwd", &server.url("/passwd.xml"), "c", &[]));
    cfg.push_str(&feed_source("zero", &server.url("/zero.xml"), "c", &[]));
    let config = write_config(dir.path(), &cfg);

    let out = run_once(&config);
    let _diag = out.on_panic();
    let conn = open_db(&db_path(dir.path()));
    let mut soft = Soft::new();
    soft.eq(out.code, Some(1), "exit status (both sources failed)");
    soft.eq(count(&conn, "articles"), 0, "articles stored");
    let refused = refused_rows(&conn);
    let refused_urls: Vec<&str> = refused.iter().map(|f| f.url.as_str()).collect();
    soft.check(
        refused_urls.contains(&"file:///etc/passwd") && refused_urls.contains(&"file:///dev/zero"),
        || format!("a refused: row for each file URL; fetches: {:?}", fetches(&conn)),
    );
    soft.check(
        fetches(&conn)
            .iter()
            .filter(|f| f.url.starts_with("file:"))
            .all(|f| f.status.is_none()),
        || {
            format!(
                "no file: row has a status (nothing was read): {:?}",
                fetches(&conn)
            )
        },
    );
    for name in ["passwd", "zero"] {
        let state = source_state(&conn, name);
        soft.check(
            state
                .as_ref()
                .and_then(|s| s.last_error.as_deref())
                .is_some_and(|e| e.starts_with("refused:") && e.contains("file:")),
            || format!("{name}: last_error names the refusal: {state:?}"),
        );
    }
    // Reading /dev/zero would have taken gigabytes before anything stopped it.
    soft.check(out.peak_rss_kb.is_some_and(|kb| kb < 200 * 1024), || {
        format!("peak RSS {:?} KiB stays low", out.peak_rss_kb)
    });
    soft.finish();
}

#[test]
fn an_item_linking_to_a_local_file_is_not_read_with_full_text() {
    let server = TestServer::start();
    server.set(
        "/feed.xml",
        Route::rss(one_item_feed("本地文件", "file:///etc/passwd")),
    );
    let dir = tempdir();
    let mut cfg = base_config();
    cfg.push_str(&feed_source("files", &server.url("/feed.xml"), "c", &[]));
    cfg.push_str("full_text = true\n");
    let config = write_config(dir.path(), &cfg);

    let out = run_once(&config);
    let _diag = out.on_panic();
    let conn = open_db(&db_path(dir.path()));
    let mut soft = Soft::new();
    soft.check(
        refused_rows(&conn).iter().any(|f| f.url == "file:///etc/passwd"),
        || {
            format!(
                "the item's file: link is refused and recorded: {:?}",
                fetches(&conn)
            )
        },
    );
    let stored: Vec<(String, Option<String>, Option<String>)> = {
        let mut st = conn
            .prepare("SELECT title, url, content_text FROM articles")
            .expect("prepare");
        st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .expect("query")
            .collect::<Result<_, _>>()
            .expect("rows")
    };
    soft.check(
        stored
            .iter()
            .all(|(_, _, text)| !text.as_deref().unwrap_or("").contains("root:")),
        || format!("nothing of /etc/passwd is stored: {stored:?}"),
    );
    soft.check(
        stored
            .iter()
            .all(|(_, url, _)| url.as_deref().is_none_or(|u| u.starts_with("http"))),
        || format!("no stored url is a file: URL: {stored:?}"),
    );
    soft.finish();
}

#[test]
fn a_redirect_to_an_address_no_config_names_is_refused_unless_private_networks_are_allowed() {
    // 127.0.0.2 is loopback, but no config names it: a stranger's redirect may not lead there.
    let inner = TestServer::start_on("127.0.0.2");
    inner.set(
        "/feed.xml",
        Route::rss(mini_rss("内网", &[("内网文章", "http://127.0.0.2/a.html")])),
    );
    let outer = TestServer::start();
    outer.set(
        "/feed.xml",
        Route::status(302).header("Location", &inner.url("/feed.xml")),
    );

    for allow in [false, true] {
        outer.clear_requests();
        inner.clear_requests();
        let dir = tempdir();
        let mut cfg = base_config();
        if allow {
            cfg = cfg.replace("[http]\n", "[http]\nallow_private_networks = true\n");
        }
        cfg.push_str(&feed_source("outer", &outer.url("/feed.xml"), "c", &[]));
        let config = write_config(dir.path(), &cfg);
        let out = run_once(&config);
        let _diag = out.on_panic();
        let conn = open_db(&db_path(dir.path()));
        let mut soft = Soft::new();
        if allow {
            soft.eq(out.code, Some(0), "allowed: exit status");
            soft.eq(
                inner.requests_for("/feed.xml").len(),
                1,
                "allowed: requests to 127.0.0.2",
            );
            soft.eq(
                count(&conn, "articles"),
                1,
                "allowed: the feed behind the redirect is stored",
            );
        } else {
            soft.eq(out.code, Some(1), "refused: exit status");
            soft.eq(inner.requests().len(), 0, "refused: requests to 127.0.0.2");
            soft.eq(count(&conn, "articles"), 0, "refused: articles");
            let refused = refused_rows(&conn);
            soft.check(
                refused.iter().any(|f| {
                    f.url == inner.url("/feed.xml")
                        && f.error.as_deref().is_some_and(|e| e.contains("loopback"))
                }),
                || format!("a refused: row naming the loopback address: {:?}", fetches(&conn)),
            );
        }
        soft.finish();
    }
}

#[test]
fn a_share_candidate_redirecting_off_the_allowed_hosts_is_not_followed() {
    const CODE: &str = "NW202204192348095567";
    // The share link's own host (the mirror on 127.0.0.1) is allowed: a configured source
    // lists it. It redirects to 127.0.0.3, which no share rule allows.
    let elsewhere = TestServer::start_on("127.0.0.3");
    elsewhere.set(
        "/article.html",
        Route::ok("text/html; charset=utf-8", "<h1>不该读取</h1>"),
    );
    let mirror = TestServer::start();
    mirror.set(
        "/NewsShare.html",
        Route::status(302).header("Location", &elsewhere.url("/article.html")),
    );
    let link = format!("{}?infoCode={CODE}", mirror.url("/NewsShare.html"));
    let dir = tempdir();
    let mut cfg = base_config();
    cfg.push_str(&format!(
        "\n[[source]]\nname = \"share\"\ntype = \"share_links\"\nurls = [{link:?}]\n"
    ));
    let config = write_config(dir.path(), &cfg);

    let out = run(&config, &["once"]);
    let _diag = out.on_panic();
    let conn = open_db(&db_path(dir.path()));
    let mut soft = Soft::new();
    soft.eq(
        elsewhere.requests_for("/article.html").len(),
        0,
        "requests to the host the rules don't allow",
    );
    let links = share_links(&conn);
    soft.check(
        links.iter().any(|l| {
            l.url == link
                && matches!(l.state.as_str(), "failed" | "skipped")
                && l.last_error
                    .as_deref()
                    .is_some_and(|e| e.contains("refused:") && e.contains("127.0.0.3"))
        }),
        || format!("the link failed or skipped with the reason: {links:?}"),
    );
    soft.eq(count(&conn, "articles"), 0, "articles stored");
    soft.check(
        refused_rows(&conn)
            .iter()
            .any(|f| f.url == elsewhere.url("/article.html")),
        || format!("the hop is recorded as refused: {:?}", fetches(&conn)),
    );
    soft.finish();
}

#[test]
fn a_name_resolving_to_a_private_address_is_refused_at_connect_time() {
    // `localhost` is no IP literal: only the addresses it resolves to show it is loopback.
    let inner = TestServer::start();
    inner.set(
        "/feed.xml",
        Route::rss(mini_rss("内网", &[("内网文章", "http://127.0.0.1/a.html")])),
    );
    let outer = TestServer::start();
    outer.set(
        "/feed.xml",
        Route::status(302).header("Location", &format!("http://localhost:{}/feed.xml", inner.port())),
    );
    let dir = tempdir();
    let mut cfg = base_config();
    cfg.push_str(&feed_source("outer", &outer.url("/feed.xml"), "c", &[]));
    let config = write_config(dir.path(), &cfg);
    let out = run_once(&config);
    let _diag = out.on_panic();
    let conn = open_db(&db_path(dir.path()));
    let rows = fetches(&conn);
    assert_eq!(out.code, Some(1), "the source failed");
    assert!(
        inner.requests().is_empty(),
        "nothing reached the server behind localhost"
    );
    assert!(
        rows.iter().any(|f| f.url.starts_with("http://localhost:")
            && f.error
                .as_deref()
                .is_some_and(|e| e.starts_with("refused:") && e.contains("loopback"))),
        "a refused: row naming the loopback address: {rows:?}"
    );
    assert_eq!(count(&conn, "articles"), 0);
}
