//! Corrections (CONTRACT §2 `[share] recheck`, §3 `share_links`,
//! `article_revisions`): publishers edit articles after publication. The
//! daemon re-reads a `done` share link's page at each `recheck` age, counted
//! from its fetch; a changed body replaces the stored one and becomes a new
//! revision, the previous content kept in `article_revisions`. A recheck that
//! finds the same text counts as done but makes no revision.
//!
//! The reference article is reached through its share link and a `[share]
//! resolve` template leading to an East Money–layout page. Once the page has
//! been read, the test server serves a corrected body (one figure changed,
//! same length, same title and date).

mod support;

use std::time::{Duration, Instant};

use support::*;

const INFO_CODE: &str = "NW202204192348095567";
const ID: &str = "202204192348095567";
const TITLE: &str = "刚刚 工信部明确表态 二季度工业经济稳增长有四大举措！";
const CANONICAL: &str = "http://finance.eastmoney.com/a/202204192348095567.html";
const SHARE_PATH: &str = "/html_News/NewsShare.html";
/// The figure the publisher corrects, before and after.
const ORIGINAL: &str = "规模以上工业增加值同比增长6.5%";
const CORRECTED: &str = "规模以上工业增加值同比增长6.8%";

fn reference() -> CorpusPost {
    parse_post("reference_post.md", &fixture_str("finews/reference_post.md"))
        .expect("the reference post parses")
}

fn page(post: &CorpusPost, body: &str) -> Route {
    Route::ok(
        "text/html; charset=utf-8",
        east_money_page(&post.title, &post.date, Some("证券日报网"), body, Some(CANONICAL)),
    )
}

/// The share link's recheck bookkeeping.
#[derive(Debug, Clone, PartialEq)]
struct Link {
    state: String,
    page_url: Option<String>,
    fetched_at: Option<String>,
    rechecks: i64,
    article_id: Option<i64>,
    last_error: Option<String>,
}

fn link(conn: &rusqlite::Connection, url: &str) -> Option<Link> {
    conn.query_row(
        "SELECT state, page_url, fetched_at, rechecks, article_id, last_error \
         FROM share_links WHERE url = ?1",
        [url],
        |r| {
            Ok(Link {
                state: r.get(0)?,
                page_url: r.get(1)?,
                fetched_at: r.get(2)?,
                rechecks: r.get(3)?,
                article_id: r.get(4)?,
                last_error: r.get(5)?,
            })
        },
    )
    .ok()
}

/// One `article_revisions` row.
#[derive(Debug, Clone, PartialEq)]
struct Revision {
    revision: i64,
    content_html: Option<String>,
    content_text: Option<String>,
    content_hash: Option<String>,
    replaced_at: String,
}

fn revisions(conn: &rusqlite::Connection, article_id: i64) -> Vec<Revision> {
    let mut st = conn
        .prepare(
            "SELECT revision, content_html, content_text, content_hash, replaced_at \
             FROM article_revisions WHERE article_id = ?1 ORDER BY revision",
        )
        .expect("prepare article_revisions");
    st.query_map([article_id], |r| {
        Ok(Revision {
            revision: r.get(0)?,
            content_html: r.get(1)?,
            content_text: r.get(2)?,
            content_hash: r.get(3)?,
            replaced_at: r.get(4)?,
        })
    })
    .expect("query article_revisions")
    .collect::<Result<Vec<_>, _>>()
    .expect("read article_revisions")
}

/// The share link and its article, once the database has both.
fn snapshot(db: &std::path::Path, url: &str) -> Option<(Link, Article)> {
    let conn = try_open_db(db)?;
    let l = link(&conn, url)?;
    let a = article_by_code(&conn, INFO_CODE)?;
    Some((l, a))
}

#[test]
fn a_corrected_page_becomes_a_new_revision_at_the_recheck_ages() {
    let started = Instant::now();
    let post = reference();
    assert!(
        post.body.matches(ORIGINAL).count() == 1,
        "the reference body has the figure to correct once"
    );
    let corrected_body = post.body.replace(ORIGINAL, CORRECTED);
    // The oracle's text of the reference body (posts.json, oracle.py); the
    // correction changes the same figure in the text.
    let old_text = expected_text("reference_post.md");
    assert_eq!(
        old_text.matches(ORIGINAL).count(),
        1,
        "the figure is in the text once"
    );
    let new_text = old_text.replace(ORIGINAL, CORRECTED);
    assert_ne!(old_text, new_text);
    assert_eq!(
        old_text.chars().count(),
        new_text.chars().count(),
        "the correction keeps the length (an equal-length text replaces only on a recheck)"
    );

    let server = TestServer::start();
    let resolve_path = format!("/a/{ID}.html");
    server.set(&resolve_path, page(&post, &post.body));
    let share_url = server.url(&format!("{SHARE_PATH}?infoCode={INFO_CODE}"));
    let page_url = server.url(&resolve_path);

    let dir = tempdir();
    let mut cfg = publisher_config(&format!(
        "[share]\nresolve = [{:?}]\nallow_hosts = [\"127.0.0.1\"]\nfollow_discovered = false\n\
         recheck = [\"2s\", \"4s\"]\n",
        server.url("/a/{id}.html")
    ));
    cfg.push_str(&format!(
        "\n[[source]]\nname = \"em-share\"\ntype = \"share_links\"\nurls = [{share_url:?}]\n\
         category = \"zhengquanribaowang\"\ntags = [\"证券日报网新闻\"]\n"
    ));
    let config = write_config(dir.path(), &cfg);
    let db = db_path(dir.path());
    let mut daemon = Daemon::start(&config);

    // The first read. The server clones a route before it records the request,
    // so once the request is in the log the daemon has the original page and
    // the correction can go live (well before the first recheck age).
    let first = daemon.poll_until(Duration::from_secs(10), Duration::from_millis(25), || {
        server.requests_for(&resolve_path).first().cloned()
    });
    assert!(
        first.is_some(),
        "the resolve page is requested within 10 s\n{}",
        server.describe_requests()
    );
    server.set(&resolve_path, page(&post, &corrected_body));
    let first = first.unwrap();

    // Revision 1: the share link done, the original text stored.
    let stored = daemon.poll_until(Duration::from_secs(10), Duration::from_millis(50), || {
        snapshot(&db, &share_url).filter(|(l, _)| l.state == "done")
    });
    let Some((l1, a1)) = stored else {
        let conn = try_open_db(&db);
        panic!(
            "the share link is done and the article stored within 10 s; link: {:?}\n{}",
            conn.as_ref().and_then(|c| link(c, &share_url)),
            server.describe_requests()
        );
    };
    let mut soft = Soft::new();
    soft.eq(a1.title.as_str(), TITLE, "title");
    soft.eq(a1.revision, 1, "revision after the first read");
    soft.check(a1.content_text.as_deref() == Some(old_text.as_str()), || {
        format!(
            "content_text after the first read is the original text\n--- got\n{}\n--- want\n{old_text}",
            a1.content_text.as_deref().unwrap_or("<NULL>")
        )
    });
    soft.eq(
        l1.page_url.as_deref(),
        Some(page_url.as_str()),
        "share_links.page_url",
    );
    soft.check(l1.fetched_at.is_some(), || {
        format!("share_links.fetched_at is set: {l1:?}")
    });
    soft.eq(l1.article_id, Some(a1.id), "share_links.article_id");
    soft.eq(l1.rechecks, 0, "share_links.rechecks right after the first read");

    // First recheck (age 2 s): the correction is a new revision.
    let rechecked = daemon.poll_until(Duration::from_secs(12), Duration::from_millis(100), || {
        snapshot(&db, &share_url).filter(|(l, a)| l.rechecks >= 1 && a.revision >= 2)
    });
    let conn = open_db(&db);
    let l2 = link(&conn, &share_url);
    let a2 = article_by_code(&conn, INFO_CODE);
    soft.check(rechecked.is_some(), || {
        format!(
            "within 12 s of the first read, a recheck (rechecks >= 1) stores revision 2; \
             link: {l2:?}, revision: {:?}\n{}",
            a2.as_ref().map(|a| a.revision),
            server.describe_requests()
        )
    });
    if let Some(a) = &a2 {
        soft.eq(a.id, a1.id, "the same article row");
        soft.eq(a.revision, 2, "revision after the first recheck");
        soft.check(a.content_text.as_deref() == Some(new_text.as_str()), || {
            format!(
                "content_text after the recheck is the corrected text\n--- got\n{}\n--- want\n{new_text}",
                a.content_text.as_deref().unwrap_or("<NULL>")
            )
        });
        soft.check(
            a.content_html
                .as_deref()
                .is_some_and(|h| h.contains(CORRECTED) && !h.contains(ORIGINAL)),
            || {
                let h = a.content_html.as_deref().unwrap_or("");
                format!(
                    "content_html has the corrected figure: contains {CORRECTED:?}: {}, still contains {ORIGINAL:?}: {}",
                    h.contains(CORRECTED),
                    h.contains(ORIGINAL)
                )
            },
        );
        soft.eq(a.title.as_str(), TITLE, "title after the recheck");
        soft.eq(
            a.published_at.as_deref(),
            a1.published_at.as_deref(),
            "published_at after the recheck",
        );
    }
    let revs = revisions(&conn, a1.id);
    soft.eq(
        revs.iter().map(|r| r.revision).collect::<Vec<_>>(),
        vec![1],
        "article_revisions after the first recheck",
    );
    if let Some(r) = revs.first() {
        soft.check(r.content_text.as_deref() == Some(old_text.as_str()), || {
            format!(
                "article_revisions keeps revision 1's text\n--- got\n{}\n--- want\n{old_text}",
                r.content_text.as_deref().unwrap_or("<NULL>")
            )
        });
        soft.check(
            r.content_html
                .as_deref()
                .is_some_and(|h| h.contains(ORIGINAL) && !h.contains(CORRECTED)),
            || {
                let h = r.content_html.as_deref().unwrap_or("");
                format!(
                    "article_revisions keeps revision 1's HTML: contains {ORIGINAL:?}: {}, contains {CORRECTED:?}: {}",
                    h.contains(ORIGINAL),
                    h.contains(CORRECTED)
                )
            },
        );
        soft.check(r.content_hash.as_deref().is_some_and(|h| !h.is_empty()), || {
            format!("article_revisions keeps revision 1's hash: {r:?}")
        });
        soft.check(!r.replaced_at.is_empty(), || format!("replaced_at is set: {r:?}"));
    }
    if let Some(l) = &l2 {
        soft.eq(
            l.state.as_str(),
            "done",
            "share_links.state after the first recheck",
        );
        soft.eq(
            l.fetched_at.as_deref(),
            l1.fetched_at.as_deref(),
            "fetched_at (rechecks count from the fetch)",
        );
        soft.eq(
            l.page_url.as_deref(),
            Some(page_url.as_str()),
            "page_url after the recheck",
        );
    }
    // Not before the first age: fetched_at has second precision, so the
    // recheck may come up to 1 s early relative to the first request.
    let reads = server.requests_for(&resolve_path);
    if let Some(second) = reads.get(1) {
        let gap = second.at.duration_since(first.at);
        soft.check(gap >= Duration::from_millis(900), || {
            format!("the first recheck waits for the 2 s age: it came {gap:?} after the first read")
        });
    }
    soft.eq(
        server.requests_for(SHARE_PATH).len(),
        0,
        "the share link itself is never requested (the resolve page serves it)",
    );

    // Second recheck (age 4 s): the page is unchanged, so no new revision.
    let second = daemon.poll_until(Duration::from_secs(10), Duration::from_millis(100), || {
        let conn = try_open_db(&db)?;
        link(&conn, &share_url).filter(|l| l.rechecks >= 2)
    });
    soft.check(second.is_some(), || {
        format!(
            "a second recheck (rechecks = 2) within 10 s; link: {:?}\n{}",
            link(&conn, &share_url),
            server.describe_requests()
        )
    });
    // One more housekeeping round: no third recheck (only two ages).
    std::thread::sleep(Duration::from_millis(2500));
    let conn = open_db(&db);
    let l3 = link(&conn, &share_url);
    let a3 = article_by_code(&conn, INFO_CODE);
    soft.eq(
        l3.as_ref().map(|l| l.rechecks),
        Some(2),
        "share_links.rechecks after both ages",
    );
    soft.eq(
        l3.as_ref().map(|l| l.state.as_str()),
        Some("done"),
        "share_links.state at the end",
    );
    soft.eq(
        a3.as_ref().map(|a| a.revision),
        Some(2),
        "revision after the unchanged second recheck",
    );
    soft.check(
        a3.as_ref().and_then(|a| a.content_text.as_deref()) == Some(new_text.as_str()),
        || "content_text stays the corrected text".into(),
    );
    soft.eq(
        revisions(&conn, a1.id)
            .iter()
            .map(|r| r.revision)
            .collect::<Vec<_>>(),
        vec![1],
        "article_revisions after the unchanged second recheck",
    );
    let reads = server.requests_for(&resolve_path);
    soft.eq(
        reads.len(),
        3,
        &format!(
            "reads of the page (first read + two rechecks):\n{}",
            server.describe_requests()
        ),
    );
    if let Some(third) = reads.get(2) {
        let gap = third.at.duration_since(first.at);
        soft.check(gap >= Duration::from_millis(2900), || {
            format!("the second recheck waits for the 4 s age: it came {gap:?} after the first read")
        });
    }
    soft.eq(count(&conn, "articles"), 1, "articles");

    soft.check(daemon.is_running(), || "the daemon keeps running".into());
    let (exit, took) = daemon.terminate(Duration::from_secs(10));
    soft.eq(
        exit.map(|s| s.code()),
        Some(Some(0)),
        &format!("exit status after SIGTERM (took {took:?})"),
    );
    eprintln!("recheck test took {:?}", started.elapsed());
    // On a failure the daemon (still alive here) prints its stderr as it drops.
    soft.finish();
    drop(daemon);
}
