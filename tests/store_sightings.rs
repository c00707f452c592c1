//! CONTRACT §6 *Sightings*, against the real binary: every source that found or queued a
//! share link sees its article — two `share_links` sources listing the same link get a
//! sighting each although the link is fetched once, and a source that lists it after it
//! was done gets its sighting without a request.

mod support;

use support::*;

const INFO_CODE: &str = "NW202204192348095567";
const TITLE: &str = "刚刚 工信部明确表态 二季度工业经济稳增长有四大举措！";
const BODY: &str = "<p>4月19日上午，国新办举行新闻发布会，工业和信息化部新闻发言人罗俊杰介绍一季度工业和信息化发展情况。</p>\
<p>罗俊杰表示，二季度将从四个方面推动工业经济稳增长：加强运行调度，稳定产业链供应链，扩大有效投资，促进消费恢复。</p>";
const SHARE_PATH: &str = "/html_News/NewsShare.html";

fn share_source(name: &str, url: &str) -> String {
    format!("\n[[source]]\nname = {name:?}\ntype = \"share_links\"\nurls = [{url:?}]\n")
}

fn seen_by(conn: &rusqlite::Connection) -> Vec<String> {
    let mut names: Vec<String> = conn
        .prepare("SELECT s.name FROM sightings g JOIN sources s ON s.id = g.source_id")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    names.sort();
    names
}

#[test]
fn every_source_that_lists_a_share_link_sees_its_article() {
    let server = TestServer::start();
    let local = chrono::DateTime::parse_from_rfc3339("2022-04-19T12:22:44+08:00").unwrap();
    server.set(
        SHARE_PATH,
        Route::ok(
            "text/html; charset=utf-8",
            east_money_page(TITLE, &local, Some("证券日报网"), BODY, None),
        ),
    );
    let share_url = server.url(&format!("{SHARE_PATH}?infoCode={INFO_CODE}"));
    let dir = tempdir();
    let head =
        publisher_config("[share]\nresolve = []\nallow_hosts = [\"127.0.0.1\"]\nfollow_discovered = true\n");
    let mut cfg = head.clone();
    cfg.push_str(&share_source("first", &share_url));
    cfg.push_str(&share_source("second", &share_url));
    let config = write_config(dir.path(), &cfg);
    let out = run_once(&config);
    let _diag = out.on_panic();
    out.assert_code(0);
    let conn = open_db(&db_path(dir.path()));
    assert_eq!(count(&conn, "articles"), 1, "{:?}", titles(&conn));
    assert_eq!(count(&conn, "share_links"), 1);
    assert_eq!(server.requests_for(SHARE_PATH).len(), 1, "fetched once");
    assert_eq!(seen_by(&conn), vec!["first".to_owned(), "second".to_owned()]);

    // A third source lists the link after it is done: its sighting, no request.
    cfg.push_str(&share_source("third", &share_url));
    let config = write_config(dir.path(), &cfg);
    run_once(&config).assert_code(0);
    assert_eq!(server.requests_for(SHARE_PATH).len(), 1, "not fetched again");
    assert_eq!(
        seen_by(&conn),
        vec!["first".to_owned(), "second".to_owned(), "third".to_owned()]
    );
}
