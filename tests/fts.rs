//! Full-text search (CONTRACT §3 `articles_fts`, FTS5 trigram): a Chinese
//! substring of three or more characters of a stored title or text matches.

mod support;

use support::*;

const REF_TITLE: &str = "刚刚 工信部明确表态 二季度工业经济稳增长有四大举措！";
const HK_TITLE: &str = "港股午评：恒指微跌 苹果概念股走强比亚迪电子涨逾5%";
const A_SHARE_TITLE: &str = "外资杀入A股！高景气度军工全产业链上涨 新能源风口依旧";

fn crawl() -> (Output, rusqlite::Connection, tempfile::TempDir, TestServer) {
    let server = TestServer::start();
    server.set("/ref.xml", Route::atom(fixture("reference_atom.xml")));
    server.set("/atom.xml", Route::atom(fixture("atom.xml")));
    let dir = tempdir();
    let mut cfg = base_config();
    cfg.push_str(&feed_source(
        "zqrb",
        &server.url("/ref.xml"),
        "zhengquanribaowang",
        &["证券日报网新闻"],
    ));
    cfg.push_str(&feed_source(
        "emnews",
        &server.url("/atom.xml"),
        "emnews",
        &["东财滚动新闻"],
    ));
    let config = write_config(dir.path(), &cfg);
    let out = run_once(&config);
    out.assert_code(0);
    let conn = open_db(&db_path(dir.path()));
    assert_eq!(count(&conn, "articles"), 4, "{}", out.diag());
    (out, conn, dir, server)
}

fn matches(conn: &rusqlite::Connection, query: &str) -> Vec<String> {
    let mut v: Vec<String> = conn
        .prepare("SELECT title FROM articles_fts WHERE articles_fts MATCH ?1")
        .unwrap()
        .query_map([query], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap_or_else(|e| panic!("MATCH {query:?}: {e}"));
    v.sort();
    v
}

#[test]
fn trigram_substrings_of_titles_match() {
    let (out, conn, _dir, _server) = crawl();
    let _diag = out.on_panic();
    // Four characters, in the reference title (and its text).
    assert_eq!(matches(&conn, "工业经济"), vec![REF_TITLE.to_string()]);
    // Three characters, only in the reference title.
    assert_eq!(matches(&conn, "四大举"), vec![REF_TITLE.to_string()]);
    // Three characters of another title.
    assert_eq!(matches(&conn, "军工全"), vec![A_SHARE_TITLE.to_string()]);
    assert_eq!(matches(&conn, "比亚迪"), vec![HK_TITLE.to_string()]);
    // Absent everywhere.
    assert!(matches(&conn, "茅台酒").is_empty());
}

#[test]
fn trigram_matches_content_text() {
    let (out, conn, _dir, _server) = crawl();
    let _diag = out.on_panic();
    // Only in the body of the reference article, not in any title.
    assert_eq!(matches(&conn, "罗俊杰"), vec![REF_TITLE.to_string()]);
    // Only in the body of the 港股午评 entry.
    assert_eq!(matches(&conn, "药明生物"), vec![HK_TITLE.to_string()]);
    // Sanitized away: the script text of that entry is not indexed.
    assert!(matches(&conn, "emTrack").is_empty());
}

#[test]
fn fts_rows_follow_articles() {
    let (out, conn, _dir, _server) = crawl();
    let _diag = out.on_panic();
    assert_eq!(count(&conn, "articles_fts"), count(&conn, "articles"));
}

#[test]
fn search_command_finds_a_title() {
    let (_out, _conn, dir, _server) = crawl();
    let config = dir.path().join("feedcrawler.toml");
    let out = run(&config, &["search", "工业经济"]);
    let _diag = out.on_panic();
    out.assert_code(0);
    assert!(out.stdout.contains(REF_TITLE), "{}", out.diag());
    assert!(!out.stdout.contains(HK_TITLE), "{}", out.diag());
}
