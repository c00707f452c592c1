//! The reference article (`shared/seed/000_1bd4150e373cca66.txt`) delivered
//! twice in one `once`: as an Atom entry linking the East Money `/a/` page
//! (content in `<content type="html">`), and as an RSS item whose link is the
//! finews share link and whose guid carries no infoCode (body in
//! `<description>`). One article row must come out of it (CONTRACT §4, §6).

mod support;

use support::*;

const INFO_CODE: &str = "NW202204192348095567";
const TITLE: &str = "刚刚 工信部明确表态 二季度工业经济稳增长有四大举措！";
const EM_URL: &str = "http://finance.eastmoney.com/a/202204192348095567.html";
const SHARE_URL: &str = "http://finews.zning.xyz/html_News/NewsShare.html?infoCode=NW202204192348095567";

struct Crawl {
    out: Output,
    conn: rusqlite::Connection,
    _dir: tempfile::TempDir,
    server: TestServer,
}

/// Both deliveries as two sources of one config; `atom_first` decides which
/// one the config lists first.
fn crawl_both(atom_first: bool) -> Crawl {
    let server = TestServer::start();
    server.set("/zqrb/atom.xml", Route::atom(fixture("reference_atom.xml")));
    server.set("/finews/rss.xml", Route::rss(fixture("reference_rss.xml")));
    let dir = tempdir();
    let atom = feed_source(
        "zqrb-atom",
        &server.url("/zqrb/atom.xml"),
        "zhengquanribaowang",
        &["证券日报网新闻"],
    );
    let rss = feed_source(
        "finews-rss",
        &server.url("/finews/rss.xml"),
        "zhengquanribaowang",
        &["证券日报网新闻"],
    );
    let mut cfg = base_config();
    if atom_first {
        cfg.push_str(&atom);
        cfg.push_str(&rss);
    } else {
        cfg.push_str(&rss);
        cfg.push_str(&atom);
    }
    let config = write_config(dir.path(), &cfg);
    let out = run_once(&config);
    let conn = open_db(&db_path(dir.path()));
    Crawl {
        out,
        conn,
        _dir: dir,
        server,
    }
}

fn check_reference(c: &Crawl) {
    let out = &c.out;
    let _diag = out.on_panic();
    out.assert_code(0);
    assert_eq!(c.server.requests_for("/zqrb/atom.xml").len(), 1, "{}", out.diag());
    assert_eq!(
        c.server.requests_for("/finews/rss.xml").len(),
        1,
        "{}",
        out.diag()
    );
    // Nothing but the two feeds was requested: the share link's host is not
    // allowed and no `resolve` template is configured.
    assert_eq!(
        c.server.requests().len(),
        2,
        "requests:\n{}",
        c.server.describe_requests()
    );

    let all = articles(&c.conn);
    assert_eq!(
        all.len(),
        1,
        "one article per infoCode; stored: {:#?}\n{}",
        all.iter()
            .map(|a| (&a.dedup_key, &a.title, &a.url))
            .collect::<Vec<_>>(),
        out.diag()
    );
    let a = &all[0];
    assert_eq!(a.info_code.as_deref(), Some(INFO_CODE));
    assert_eq!(a.dedup_key, format!("info:{INFO_CODE}"));
    assert_eq!(a.title, TITLE);
    assert_eq!(a.published_at.as_deref(), Some("2022-04-19T04:22:44Z"));
    assert_eq!(a.published_local.as_deref(), Some("2022-04-19T12:22:44+08:00"));
    assert_eq!(
        a.media.as_deref(),
        Some("证券日报网"),
        "media from the （文章来源：证券日报网） line, not the Atom author"
    );
    assert_eq!(
        a.url.as_deref(),
        Some(EM_URL),
        "the publisher URL beats the share link (§6)"
    );
    assert_eq!(a.share_url.as_deref(), Some(SHARE_URL));
    assert_eq!(a.category.as_deref(), Some("zhengquanribaowang"));
    let tags = tags_of(a);
    assert_eq!(
        tags.first().map(String::as_str),
        Some("证券日报网新闻"),
        "tags: {tags:?}"
    );
    assert_eq!(
        tags.iter().filter(|t| *t == "证券日报网新闻").count(),
        1,
        "no duplicate tags: {tags:?}"
    );

    let html = a.content_html.as_deref().unwrap_or("");
    assert!(html.contains("<p>"), "paragraphs kept: {html}");
    assert!(html.contains("<strong>"), "strong kept: {html}");
    assert!(
        html.contains("class=\"em_media\""),
        "the em_media paragraph keeps its class: {html}"
    );
    assert!(html.contains("（文章来源：证券日报网）"), "{html}");
    assert!(!html.to_lowercase().contains("<script"), "{html}");
    let text = a.content_text.as_deref().unwrap_or("");
    assert!(text.contains("罗俊杰表示"), "content_text: {text}");
    assert!(
        text.contains("四是加快重大项目投资挖掘新型消费潜力。"),
        "the whole body is kept: {text}"
    );
    assert!(!text.contains("<p"), "content_text is plain text: {text}");
    assert_eq!(a.revision, 1);

    // Two sightings, one per source, with each entry's guid and link.
    let mut st = c
        .conn
        .prepare(
            "SELECT s.name, g.entry_guid, g.entry_url FROM sightings g \
             JOIN sources s ON s.id = g.source_id WHERE g.article_id = ?1 ORDER BY s.name",
        )
        .unwrap();
    let sightings: Vec<(String, Option<String>, Option<String>)> = st
        .query_map([a.id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(count(&c.conn, "sightings"), 2, "{sightings:?}");
    assert_eq!(sightings.len(), 2, "{sightings:?}");
    assert_eq!(sightings[0].0, "finews-rss");
    assert_eq!(sightings[0].1.as_deref(), Some("1650342164"));
    assert_eq!(sightings[0].2.as_deref(), Some(SHARE_URL));
    assert_eq!(sightings[1].0, "zqrb-atom");
    assert_eq!(sightings[1].2.as_deref(), Some(EM_URL));
}

#[test]
fn reference_article_atom_then_rss_is_one_row() {
    check_reference(&crawl_both(true));
}

#[test]
fn reference_article_rss_then_atom_is_one_row() {
    check_reference(&crawl_both(false));
}

#[test]
fn reference_article_fts_and_sources_counts() {
    let c = crawl_both(true);
    let _diag = c.out.on_panic();
    c.out.assert_code(0);
    let hits: Vec<String> = c
        .conn
        .prepare("SELECT title FROM articles_fts WHERE articles_fts MATCH '工业经济'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(hits, vec![TITLE.to_string()]);
    for name in ["zqrb-atom", "finews-rss"] {
        let s = source(&c.conn, name);
        assert_eq!(s.last_status, Some(200), "{name}");
        assert!(
            s.last_error.as_deref().unwrap_or("").is_empty(),
            "{name}: {:?}",
            s.last_error
        );
        assert_eq!(s.consecutive_failures, 0);
    }
}

/// The RSS item's link is a share link (`?infoCode=`): with
/// `follow_discovered` on (the default) it is queued, and since its host is
/// neither allowed nor a source host and no `resolve` template exists, it is
/// `skipped` and never requested (CONTRACT §2 `[share]`, §6 "Share links").
#[test]
fn reference_share_link_is_recorded_not_fetched() {
    let c = crawl_both(true);
    let _diag = c.out.on_panic();
    c.out.assert_code(0);
    assert_eq!(c.server.requests().len(), 2, "{}", c.server.describe_requests());
    let links: Vec<(String, Option<String>, String)> = c
        .conn
        .prepare("SELECT url, info_code, state FROM share_links WHERE url = ?1")
        .unwrap()
        .query_map([SHARE_URL], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(links.len(), 1, "the discovered share link is queued: {links:?}");
    for (_, code, state) in &links {
        assert_eq!(code.as_deref(), Some(INFO_CODE));
        assert_eq!(state, "skipped", "share link state");
    }
    let reason: Option<String> = c
        .conn
        .query_row(
            "SELECT last_error FROM share_links WHERE url = ?1",
            [SHARE_URL],
            |r| r.get(0),
        )
        .unwrap();
    assert!(
        !reason.unwrap_or_default().trim().is_empty(),
        "a skipped link records the reason"
    );
}
