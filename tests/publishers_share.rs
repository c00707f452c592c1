//! Share links (CONTRACT §2 `type = "share_links"`, `[share]`; §3
//! `share_links`; §6 *Share links*). The reference article
//! (`shared/seed/000_1bd4150e373cca66.txt`, copy at
//! `tests/fixtures/finews/reference_post.md`) is reached only through its share
//! link, whose page is a JavaScript shell; a `[share] resolve` template leads to
//! an East Money–layout page with the article. Discovered links to hosts that
//! are not allowed are recorded as `skipped` and never requested.

mod support;

use support::*;

const INFO_CODE: &str = "NW202204192348095567";
const ID: &str = "202204192348095567";
const TITLE: &str = "刚刚 工信部明确表态 二季度工业经济稳增长有四大举措！";
const CANONICAL: &str = "http://finance.eastmoney.com/a/202204192348095567.html";
const SHARE_PATH: &str = "/html_News/NewsShare.html";

fn reference() -> CorpusPost {
    parse_post("reference_post.md", &fixture_str("finews/reference_post.md"))
        .expect("the reference post parses")
}

/// The reference body as East Money serves it: the outlet of `p.em_media`
/// wrapped in a stock-link span.
fn em_body(post: &CorpusPost) -> String {
    let plain = "<p class=\"em_media\">（文章来源：证券日报网）</p>";
    assert!(
        post.body.contains(plain),
        "the reference body has its em_media line"
    );
    post.body.replace(
        plain,
        "<p class=\"em_media\">（文章来源：<span id=\"stock_0.000001\"><a href=\"http://quote.eastmoney.com/unify/r/0.000001\" class=\"keytip\" data-code=\"0,000001\">证券日报网</a></span><span id=\"quote_0.000001\"></span>）</p>",
    )
}

fn article_page(post: &CorpusPost) -> String {
    east_money_page(
        &post.title,
        &post.date,
        Some("证券日报网"),
        &em_body(post),
        Some(CANONICAL),
    )
}

/// What the share link itself serves: a shell that loads the article with
/// JavaScript; no article text in the HTML.
fn js_shell() -> String {
    r#"<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>东方财富网</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<script src="//emres.dfcfw.com/newsshare/js/jquery.min.js"></script>
<script>var infoCode = (location.search.match(/infoCode=([A-Z0-9]+)/) || [])[1];
$(function () { $.getJSON("//np-listapi.eastmoney.com/news/" + infoCode, render); });</script>
</head><body><div id="app"><div class="loading"></div></div></body></html>
"#
    .to_string()
}

struct Run {
    out: Output,
    conn: rusqlite::Connection,
    server: TestServer,
    share_url: String,
    resolve_path: String,
    _dir: tempfile::TempDir,
}

/// A `share_links` source with the reference share link; `resolve` lists
/// paths (on the test server) of `[share] resolve` templates.
fn crawl(server: TestServer, resolve: &[&str]) -> Run {
    let dir = tempdir();
    let share_url = server.url(&format!("{SHARE_PATH}?infoCode={INFO_CODE}"));
    let templates: Vec<String> = resolve.iter().map(|p| format!("{:?}", server.url(p))).collect();
    let mut cfg = publisher_config(&format!(
        "[share]\nresolve = [{}]\nallow_hosts = [\"127.0.0.1\"]\nfollow_discovered = true\n",
        templates.join(", ")
    ));
    cfg.push_str(&format!(
        "\n[[source]]\nname = \"em-share\"\ntype = \"share_links\"\nurls = [{share_url:?}]\n\
         category = \"zhengquanribaowang\"\ntags = [\"证券日报网新闻\"]\n"
    ));
    let config = write_config(dir.path(), &cfg);
    let out = run_once(&config);
    let conn = open_db(&db_path(dir.path()));
    Run {
        out,
        conn,
        server,
        share_url,
        resolve_path: format!("/a/{ID}.html"),
        _dir: dir,
    }
}

/// The stored article equals the reference post.
fn check_reference_article(soft: &mut Soft, r: &Run) {
    let post = reference();
    let all = articles(&r.conn);
    soft.eq(
        all.len(),
        1,
        &format!(
            "articles: {:?}",
            all.iter().map(|a| (&a.dedup_key, &a.title)).collect::<Vec<_>>()
        ),
    );
    let Some(a) = all.first() else { return };
    soft.eq(a.info_code.as_deref(), Some(INFO_CODE), "info_code");
    soft.eq(a.dedup_key.as_str(), "info:NW202204192348095567", "dedup_key");
    soft.eq(a.title.as_str(), TITLE, "title");
    soft.eq(post.title.as_str(), TITLE, "the seed's title");
    soft.eq(
        a.published_at.as_deref(),
        Some("2022-04-19T04:22:44Z"),
        "published_at",
    );
    soft.eq(
        a.published_local.as_deref(),
        Some("2022-04-19T12:22:44+08:00"),
        "published_local",
    );
    soft.eq(a.media.as_deref(), Some("证券日报网"), "media");
    soft.eq(a.share_url.as_deref(), Some(r.share_url.as_str()), "share_url");
    // §6: the first non-null category of a source that saw it, the union of
    // the sources' tags; the share_links source saw it.
    soft.eq(
        a.category.as_deref(),
        Some("zhengquanribaowang"),
        "category (from the share_links source's config)",
    );
    soft.eq(
        tags_of(a),
        vec!["证券日报网新闻".to_string()],
        "tags (from the share_links source's config)",
    );
    // The oracle's text of the reference body (posts.json, oracle.py); 15
    // lines, the first and last as written by hand from the seed.
    let want = expected_text("reference_post.md");
    soft.eq(want.lines().count(), 15, "paragraphs of the seed body");
    soft.check(
        want.starts_with(
            "4月19日上午，在国新办举行的发布会上，工业和信息化部新闻发言人、运行监测协调局局长罗俊杰表示，",
        ) && want.ends_with("大力挖掘消费潜力。\n（文章来源：证券日报网）"),
        || format!("the oracle's text starts and ends as the seed: {want}"),
    );
    soft.check(a.content_text.as_deref() == Some(want.as_str()), || {
        format!(
            "content_text equals the seed body's text\n--- got\n{}\n--- want\n{want}",
            a.content_text.as_deref().unwrap_or("<NULL>")
        )
    });
    let html = a.content_html.as_deref().unwrap_or("");
    soft.check(html.contains("class=\"em_media\""), || {
        format!("the em_media paragraph is kept: {html}")
    });
    for boilerplate in ["分享到", "开户立享", "热门文章", "<script", "GetPic.aspx"] {
        soft.check(!html.contains(boilerplate), || {
            format!("no page boilerplate {boilerplate:?} in content_html: {html}")
        });
    }
    soft.eq(a.revision, 1, "revision");

    let links = share_links(&r.conn);
    soft.eq(links.len(), 1, &format!("share_links: {links:#?}"));
    if let Some(l) = links.first() {
        soft.eq(l.url.as_str(), r.share_url.as_str(), "share_links.url");
        soft.eq(l.info_code.as_deref(), Some(INFO_CODE), "share_links.info_code");
        soft.eq(l.state.as_str(), "done", "share_links.state");
        soft.eq(l.article_id, Some(a.id), "share_links.article_id");
        soft.eq(
            l.source_id,
            Some(source(&r.conn, "em-share").id),
            "share_links.source_id",
        );
    }
    soft.eq(
        sighting_sources(&r.conn, a.id),
        vec!["em-share".to_string()],
        "sightings",
    );
}

#[test]
fn the_reference_article_through_its_share_link_and_a_resolve_template() {
    let post = reference();
    let server = TestServer::start();
    server.set(SHARE_PATH, Route::ok("text/html; charset=utf-8", js_shell()));
    server.set(
        format!("/a/{ID}.html"),
        Route::ok("text/html; charset=utf-8", article_page(&post)),
    );
    let r = crawl(server, &["/a/{id}.html"]);
    let _diag = r.out.on_panic();
    r.out.assert_code(0);
    let mut soft = Soft::new();
    check_reference_article(&mut soft, &r);
    if let Some(a) = articles(&r.conn).first() {
        soft.eq(
            a.url.as_deref(),
            Some(CANONICAL),
            "url: the page's canonical link (a resolve URL is not a share link)",
        );
    }

    // The resolve candidate comes first; the share link, if requested at all,
    // only after it.
    let requests = r.server.requests();
    let paths: Vec<String> = requests.iter().map(|q| q.url.clone()).collect();
    soft.eq(
        paths.first().map(String::as_str),
        Some(r.resolve_path.as_str()),
        &format!("first request is the resolve candidate; requests: {paths:?}"),
    );
    soft.eq(
        r.server.requests_for(&r.resolve_path).len(),
        1,
        "requests of the resolve candidate",
    );
    soft.eq(
        r.server.requests_for(SHARE_PATH).len(),
        0,
        &format!("the JS shell is not needed once the resolve page served the article: {paths:?}"),
    );
    soft.finish();
}

/// The resolve candidate answers 404: the share link's own page (allowed:
/// the source's host) is requested next, after it.
#[test]
fn the_share_link_itself_is_requested_only_after_the_resolve_candidates() {
    let post = reference();
    let server = TestServer::start();
    server.set(
        SHARE_PATH,
        Route::ok("text/html; charset=utf-8", article_page(&post)),
    );
    // Nothing at /a/<id>.html (404), a JS shell at /m/<infoCode>.
    server.set(
        format!("/m/{INFO_CODE}"),
        Route::ok("text/html; charset=utf-8", js_shell()),
    );
    let r = crawl(server, &["/a/{id}.html", "/m/{info_code}"]);
    let _diag = r.out.on_panic();
    r.out.assert_code(0);
    let mut soft = Soft::new();
    check_reference_article(&mut soft, &r);
    let paths: Vec<String> = r.server.requests().iter().map(|q| q.url.clone()).collect();
    let pos = |p: &str| paths.iter().position(|x| x == p);
    let first_resolve = pos(&format!("/a/{ID}.html"));
    let second_resolve = pos(&format!("/m/{INFO_CODE}"));
    let share = pos(&format!("{SHARE_PATH}?infoCode={INFO_CODE}"));
    soft.check(
        first_resolve.is_some() && second_resolve.is_some() && share.is_some(),
        || format!("both resolve candidates and the share link are requested: {paths:?}"),
    );
    soft.check(first_resolve < second_resolve && second_resolve < share, || {
        format!("order: resolve templates in order, then the share link: {paths:?}")
    });
    soft.eq(
        r.server.requests_for(SHARE_PATH).len(),
        1,
        &format!("the share link is requested once: {paths:?}"),
    );
    soft.finish();
}

/// Share links discovered in a feed item's body, on hosts that are neither in
/// `allow_hosts` nor a source's host, with no `resolve` template: `skipped`
/// with a reason, no request. The second link points at a live local server
/// under the name `localhost` (the sources use `127.0.0.1`): that server
/// must see no request at all.
#[test]
fn discovered_share_links_to_hosts_not_allowed_are_skipped_and_never_requested() {
    let server = TestServer::start();
    let other = TestServer::start();
    let post = reference();
    other.set(
        SHARE_PATH,
        Route::ok("text/html; charset=utf-8", article_page(&post)),
    );
    other.set(
        format!("/a/{ID}.html"),
        Route::ok("text/html; charset=utf-8", article_page(&post)),
    );
    let invalid_link = format!("http://other.example.invalid/NewsShare.html?infoCode={INFO_CODE}");
    let local_code = "NW202204192348111111";
    let local_link = format!(
        "http://localhost:{}{SHARE_PATH}?infoCode={local_code}",
        other.port()
    );
    let rss = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>证券日报网</title><link>http://www.zqrb.cn/</link><description>zqrb</description>
<item><title>工信部：二季度工业经济稳增长有四大举措</title>
<link>{link}</link><guid isPermaLink="false">zqrb-20220419-001</guid>
<pubDate>Tue, 19 Apr 2022 13:05:00 +0800</pubDate>
<description><![CDATA[<p>工信部新闻发言人罗俊杰表示，一季度工业经济实现平稳开局。</p>
<p>原文见<a href="{invalid_link}">东方财富网</a>，另见<a href="{local_link}">镜像</a>。</p>]]></description></item>
</channel></rss>
"#,
        link = server.url("/zqrb/20220419/001.html"),
    );
    server.set("/zqrb/rss.xml", Route::rss(rss));
    let dir = tempdir();
    let mut cfg =
        publisher_config("[share]\nresolve = []\nallow_hosts = [\"127.0.0.1\"]\nfollow_discovered = true\n");
    cfg.push_str(&feed_source(
        "zqrb-rss",
        &server.url("/zqrb/rss.xml"),
        "zhengquanribaowang",
        &[],
    ));
    let config = write_config(dir.path(), &cfg);
    let out = run_once(&config);
    let _diag = out.on_panic();
    out.assert_code(0);
    let conn = open_db(&db_path(dir.path()));
    let mut soft = Soft::new();

    soft.eq(
        other.requests().len(),
        0,
        &format!(
            "requests to the server behind `localhost`:\n{}",
            other.describe_requests()
        ),
    );
    let paths: Vec<String> = server.requests().iter().map(|q| q.url.clone()).collect();
    soft.eq(
        paths.clone(),
        vec!["/zqrb/rss.xml".to_string()],
        "requests to the source's server: the feed only",
    );
    let feed_id = source(&conn, "zqrb-rss").id;
    let links = share_links(&conn);
    soft.eq(links.len(), 2, &format!("share_links: {links:#?}"));
    for (url, code) in [
        (invalid_link.as_str(), INFO_CODE),
        (local_link.as_str(), local_code),
    ] {
        match links.iter().find(|l| l.url == url) {
            None => soft.check(false, || format!("a share_links row for {url}: {links:#?}")),
            Some(l) => {
                soft.eq(l.info_code.as_deref(), Some(code), &format!("info_code of {url}"));
                soft.eq(l.state.as_str(), "skipped", &format!("state of {url}"));
                soft.check(
                    l.last_error.as_deref().is_some_and(|e| !e.trim().is_empty()),
                    || format!("{url}: a skipped link records the reason: {l:?}"),
                );
                soft.eq(l.article_id, None, &format!("article_id of {url}"));
                soft.eq(l.source_id, Some(feed_id), &format!("source_id of {url}"));
            }
        }
    }
    let fetched: Vec<String> = fetches(&conn).into_iter().map(|f| f.url).collect();
    soft.check(
        !fetched
            .iter()
            .any(|u| u.contains("localhost") || u.contains("example.invalid")),
        || format!("no fetches row for a skipped link: {fetched:?}"),
    );
    soft.eq(
        titles(&conn),
        vec!["工信部：二季度工业经济稳增长有四大举措".to_string()],
        "articles: the feed item only",
    );
    soft.finish();
}
