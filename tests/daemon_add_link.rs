//! `add-link URL...` from another process while `run` is running (CONTRACT
//! §1, §3 `share_links`, §6 *Share links*): rows are queued with their
//! infoCode, a second add does not duplicate, and the daemon picks them up.

mod support;

use std::time::Duration;

use support::*;

const ATOM_TITLE: &str = "外资杀入A股！高景气度军工全产业链上涨 新能源风口依旧";
const SHARE: &str = "http://finews.zning.xyz/html_News/NewsShare.html?infoCode=NW202204192348095567";
const LOCAL_CODE: &str = "NW202204201530123456";
const LOCAL_TITLE: &str = "证监会：进一步提高上市公司质量 推动资本市场高质量发展";

#[derive(Debug, Clone, PartialEq)]
struct Link {
    url: String,
    info_code: Option<String>,
    source_id: Option<i64>,
    state: String,
    attempts: i64,
    last_error: Option<String>,
    added_at: String,
}

fn links(conn: &rusqlite::Connection) -> Vec<Link> {
    let mut st = conn
        .prepare(
            "SELECT url, info_code, source_id, state, attempts, last_error, added_at \
             FROM share_links ORDER BY rowid",
        )
        .unwrap();
    st.query_map([], |r| {
        Ok(Link {
            url: r.get(0)?,
            info_code: r.get(1)?,
            source_id: r.get(2)?,
            state: r.get(3)?,
            attempts: r.get(4)?,
            last_error: r.get(5)?,
            added_at: r.get(6)?,
        })
    })
    .unwrap()
    .collect::<Result<_, _>>()
    .unwrap()
}

fn article_page() -> String {
    format!(
        r#"<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8">
<title>{LOCAL_TITLE}_东方财富网</title>
<meta property="og:title" content="{LOCAL_TITLE}">
<meta property="og:type" content="article">
<script type="application/ld+json">{{"@context":"https://schema.org","@type":"NewsArticle","headline":"{LOCAL_TITLE}","datePublished":"2022-04-20T15:30:12+08:00","articleBody":"证监会表示，将进一步提高上市公司质量。"}}</script>
</head><body>
<div class="newsContent"><h1>{LOCAL_TITLE}</h1>
<div class="infos"><div class="item">2022年04月20日 15:30</div><div class="item">来源：证券日报网</div></div>
<div class="txtinfos" id="ContentBody">
<p>证监会表示，将进一步提高上市公司质量，推动资本市场高质量发展，更好服务实体经济。</p>
<p>（文章来源：证券日报网）</p>
</div></div></body></html>
"#
    )
}

/// Starts a daemon with one feed on `server` and waits until it is working.
fn start(server: &TestServer, dir: &std::path::Path) -> (std::path::PathBuf, Daemon) {
    server.set("/atom.xml", Route::atom(fixture("atom.xml")));
    let mut cfg = daemon_config(&DaemonOpts::default());
    cfg.push_str(&feed_source("atom", &server.url("/atom.xml"), "emnews", &[]));
    let config = write_config(dir, &cfg);
    let mut daemon = Daemon::start(&config);
    let db = db_path(dir);
    let up = daemon.poll_until(Duration::from_secs(10), Duration::from_millis(100), || {
        let conn = try_open_db(&db)?;
        article_by_title(&conn, ATOM_TITLE).map(|_| ())
    });
    assert!(
        up.is_some(),
        "the daemon stores its feed within 10 s\n{}",
        daemon.diag()
    );
    (config, daemon)
}

#[test]
fn add_link_queues_while_the_daemon_runs_without_duplicates() {
    let server = TestServer::start();
    let dir = tempdir();
    let (config, mut daemon) = start(&server, dir.path());
    let local = server.url(&format!("/html_News/NewsShare.html?infoCode={LOCAL_CODE}"));
    server.set(
        "/html_News/NewsShare.html",
        Route::ok("text/html; charset=utf-8", article_page()),
    );

    let out = run(&config, &["add-link", SHARE, &local]);
    let _d = out.on_panic();
    out.assert_code(0);
    let conn = open_db(&db_path(dir.path()));
    let rows = links(&conn);
    let mut soft = Soft::new();
    soft.eq(rows.len(), 2, "share_links rows after adding two URLs");
    for (url, code) in [(SHARE, "NW202204192348095567"), (local.as_str(), LOCAL_CODE)] {
        match rows.iter().find(|l| l.url == url) {
            None => soft.check(false, || format!("a share_links row for {url}: {rows:#?}")),
            Some(l) => {
                soft.eq(l.info_code.as_deref(), Some(code), &format!("info_code of {url}"));
                soft.eq(l.source_id, None, &format!("source_id of {url} (added by hand)"));
                soft.check(!l.added_at.is_empty(), || format!("added_at of {url}: {l:?}"));
                // Queued as `pending`; the daemon may already have moved it on.
                soft.check(["pending", "skipped", "done"].contains(&l.state.as_str()), || {
                    format!("{url}: queued as pending (or already picked up): {l:?}")
                });
            }
        }
    }

    // The same URL again: exit 0, no new row.
    let again = run(&config, &["add-link", SHARE]);
    let _d2 = again.on_panic();
    soft.eq(
        again.code,
        Some(0),
        "exit code of a second add-link of the same URL",
    );
    soft.eq(
        count(&conn, &format!("share_links WHERE url = '{SHARE}'")),
        1,
        "rows for the URL added twice",
    );
    soft.eq(
        count(&conn, "share_links"),
        2,
        "share_links rows after the duplicate add",
    );
    soft.check(daemon.is_running(), || "the daemon keeps running".into());
    let (exit, took) = daemon.terminate(Duration::from_secs(10));
    soft.eq(
        exit.map(|s| s.code()),
        Some(Some(0)),
        &format!("exit status after SIGTERM (took {took:?})"),
    );
    soft.finish();
    drop(daemon);
}

#[test]
fn the_running_daemon_picks_added_links_up() {
    let server = TestServer::start();
    let dir = tempdir();
    let (config, mut daemon) = start(&server, dir.path());
    server.set(
        "/html_News/NewsShare.html",
        Route::ok("text/html; charset=utf-8", article_page()),
    );
    let local = server.url(&format!("/html_News/NewsShare.html?infoCode={LOCAL_CODE}"));

    let out = run(&config, &["add-link", SHARE, &local]);
    let _d = out.on_panic();
    out.assert_code(0);
    let db = db_path(dir.path());

    // The local link's host is a configured source's host: fetched, `done`.
    // The zning.xyz link's host is not allowed (`allow_hosts = []`, no
    // `resolve`): `skipped` with a reason, never requested.
    let settled = daemon.poll_until(Duration::from_secs(15), Duration::from_millis(200), || {
        let conn = try_open_db(&db)?;
        let rows = links(&conn);
        rows.iter().all(|l| l.state != "pending").then_some(rows)
    });
    let conn = open_db(&db);
    let rows = links(&conn);
    let mut soft = Soft::new();
    soft.check(settled.is_some(), || {
        format!(
            "both links leave `pending` within 15 s: {rows:#?}\n{}",
            server.describe_requests()
        )
    });
    let state_of = |url: &str| rows.iter().find(|l| l.url == url).cloned();
    match state_of(SHARE) {
        Some(l) => {
            soft.eq(
                l.state.as_str(),
                "skipped",
                "state of the link to a host that is not allowed",
            );
            soft.check(!l.last_error.as_deref().unwrap_or("").is_empty(), || {
                format!("a skipped link records its reason: {l:?}")
            });
        }
        None => soft.check(false, || format!("row for {SHARE}: {rows:#?}")),
    }
    match state_of(&local) {
        Some(l) => soft.eq(l.state.as_str(), "done", "state of the link on the test server"),
        None => soft.check(false, || format!("row for {local}: {rows:#?}")),
    }
    soft.check(
        server
            .requests_for(&format!("/html_News/NewsShare.html?infoCode={LOCAL_CODE}"))
            .len()
            == 1,
        || {
            format!(
                "the local share link requested once:\n{}",
                server.describe_requests()
            )
        },
    );
    let art: Option<(String, Option<String>)> = conn
        .query_row(
            "SELECT title, share_url FROM articles WHERE info_code = ?1",
            [LOCAL_CODE],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .ok();
    soft.eq(
        art,
        Some((LOCAL_TITLE.to_string(), Some(local.clone()))),
        "the article read from the added link: (title, share_url)",
    );
    soft.eq(
        count(
            &conn,
            &format!(
                "sightings WHERE article_id IN (SELECT id FROM articles WHERE info_code = '{LOCAL_CODE}')"
            ),
        ),
        0,
        "links queued by add-link have no sighting",
    );
    let (exit, took) = daemon.terminate(Duration::from_secs(10));
    soft.eq(
        exit.map(|s| s.code()),
        Some(Some(0)),
        &format!("exit status after SIGTERM (took {took:?})"),
    );
    soft.finish();
    drop(daemon);
}
