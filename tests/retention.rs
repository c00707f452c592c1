//! Retention (CONTRACT §5 `[retention]`, issue 15): `feedcrawler prune [--dry-run]` and the
//! daemon's prune at start-up, on a database generated here with rows of known ages.
//!
//! With `fetches = "30d"`, `revisions = 3`, `articles = "90d"` the generated database holds,
//! counted by hand:
//! - fetches: 7 started 31–40 days ago (one outside any source), 4 within 30 days → 7 go;
//! - article 1 (工业经济…, seen yesterday): 8 earlier texts (revisions 1–8) → 5 go, 6–8 stay;
//! - article 2 (央行…, seen yesterday): 2 earlier texts → both stay;
//! - article 3 (成交额…, last seen 100 days ago): 2 sightings, 4 revisions, an alias and a
//!   done share link → the article, its 2 sightings and 4 revisions go, the link stays done;
//! - article 4 (港股午评…, last seen 89 days ago): 1 sighting → stays;
//! - article 5 (新能源…, last seen 200 days ago, not yet in the search index): 1 sighting,
//!   1 revision → all go;
//! - article 6 (外资杀入…, seen an hour ago, not yet in the search index): 1 sighting → stays.
//!
//! So: articles 2, sightings 3, article_revisions 5 + 4 + 1 = 10, fetches 7.

mod support;

use std::time::Duration;

use chrono::{DateTime, Utc};
use support::*;

const RETENTION: &str = "\n[retention]\nfetches = \"30d\"\nrevisions = 3\narticles = \"90d\"\n";

/// The expected stdout of `prune` and `prune --dry-run`: one `table<TAB>rows` line each.
const EXPECTED: &str = "articles\t2\nsightings\t3\narticle_revisions\t10\nfetches\t7\n";

fn ago(days: i64, hours: i64) -> String {
    let t: DateTime<Utc> = Utc::now() - chrono::Duration::days(days) - chrono::Duration::hours(hours);
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Writes the config, creates the schema with `feedcrawler migrate` and fills in the rows
/// described at the top of this file.
fn generated(extra_config: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempdir();
    let config = write_config(dir.path(), &format!("{}{RETENTION}{extra_config}", base_config()));
    run(&config, &["migrate"]).assert_code(0);
    let conn = open_db(&db_path(dir.path()));
    conn.execute_batch(
        "INSERT INTO sources (id, name, type, url) VALUES
            (1, 'zqrb', 'feed', 'http://127.0.0.1:9/zqrb.xml'),
            (2, 'emnews', 'feed', 'http://127.0.0.1:9/em.xml');",
    )
    .unwrap();
    let fetch = |source: Option<i64>, started: String| {
        conn.execute(
            "INSERT INTO fetches (source_id, url, started_at, duration_ms, status) VALUES (?1, 'http://127.0.0.1:9/x', ?2, 12, 200)",
            rusqlite::params![source, started],
        )
        .unwrap();
    };
    for d in 31..37 {
        fetch(Some(1 + d % 2), ago(d, 0));
    }
    fetch(None, ago(40, 0));
    fetch(Some(1), ago(29, 23));
    fetch(Some(2), ago(1, 0));
    fetch(Some(1), ago(0, 1));
    fetch(None, ago(0, 2));

    // A large text for the deleted articles, so that their pages are worth giving back.
    let bulk = "沪深两市成交额突破万亿元，北向资金净流入。".repeat(4_000);
    let article = |id: i64, title: &str, text: &str, last_seen: String, revision: i64| {
        conn.execute(
            "INSERT INTO articles (id, dedup_key, title, content_text, content_html, revision, first_seen_at, last_seen_at)
             VALUES (?1, ?2, ?3, ?4, ?4, ?5, ?6, ?6)",
            rusqlite::params![id, format!("url:http://example.org/{id}"), title, text, revision, last_seen],
        )
        .unwrap();
    };
    let sighting = |article: i64, source: i64| {
        conn.execute(
            "INSERT INTO sightings (article_id, source_id, first_seen_at, last_seen_at) VALUES (?1, ?2, ?3, ?3)",
            rusqlite::params![article, source, ago(300, 0)],
        )
        .unwrap();
    };
    let revisions = |article: i64, n: i64| {
        for r in 1..=n {
            conn.execute(
                "INSERT INTO article_revisions (article_id, revision, content_text, replaced_at) VALUES (?1, ?2, ?3, ?4)",
                rusqlite::params![article, r, format!("第{r}版 {bulk}"), ago(10, 0)],
            )
            .unwrap();
        }
    };
    article(
        1,
        "工业经济稳中有进 二季度四大举措",
        "一季度工业经济运行总体平稳",
        ago(1, 0),
        9,
    );
    sighting(1, 1);
    sighting(1, 2);
    revisions(1, 8);
    article(2, "央行开展逆回购操作 维护流动性", "公开市场操作", ago(1, 0), 3);
    sighting(2, 1);
    revisions(2, 2);
    article(3, "沪深两市成交额突破万亿", &bulk, ago(100, 0), 5);
    sighting(3, 1);
    sighting(3, 2);
    revisions(3, 4);
    conn.execute_batch(&format!(
        "INSERT INTO article_aliases (dedup_key, article_id) VALUES ('info:NW202204192348095567', 3);
         INSERT INTO share_links (url, state, added_at, article_id) VALUES
            ('http://finews.zning.xyz/html_News/NewsShare.html?infoCode=NW202204192348095567', 'done', '{}', 3);",
        ago(100, 0)
    ))
    .unwrap();
    article(
        4,
        "港股午评：恒指微跌 苹果概念股走强",
        "比亚迪电子涨逾5%",
        ago(89, 0),
        1,
    );
    sighting(4, 2);
    // Articles 1–4 are in the search index, as the writer's bulk pass leaves them.
    conn.execute_batch(
        "INSERT INTO articles_fts (rowid, title, content_text)
            SELECT id, title, coalesce(content_text, '') FROM articles ORDER BY id;
         UPDATE fts_progress SET indexed_upto = 4;",
    )
    .unwrap();
    article(5, "新能源风口依旧 光伏板块大涨", &bulk, ago(200, 0), 2);
    sighting(5, 1);
    revisions(5, 1);
    article(
        6,
        "外资杀入A股 高景气度军工全产业链上涨",
        "军工板块走强",
        ago(0, 1),
        1,
    );
    sighting(6, 2);
    drop(conn);
    (dir, config)
}

/// Rows per table: what a dry run must leave as it found it.
fn table_counts(conn: &rusqlite::Connection) -> Vec<(&'static str, i64)> {
    [
        "articles",
        "sightings",
        "article_revisions",
        "article_aliases",
        "fetches",
        "share_links",
        "sources",
        "fts_progress WHERE indexed_upto = 4",
    ]
    .into_iter()
    .map(|t| (t, count(conn, t)))
    .collect()
}

fn search(config: &std::path::Path, query: &str) -> Vec<String> {
    let out = run(config, &["search", query]);
    out.assert_code(0);
    out.stdout
        .lines()
        .filter_map(|l| l.split('\t').nth(1))
        .map(str::to_owned)
        .collect()
}

/// Rowids the search index itself holds for `query` (without the join to `articles` that
/// would hide an entry left behind by a deleted row).
fn index_rowids(conn: &rusqlite::Connection, query: &str) -> Vec<i64> {
    let mut stmt = conn
        .prepare("SELECT rowid FROM articles_fts WHERE articles_fts MATCH ?1 ORDER BY rowid")
        .unwrap();
    stmt.query_map([query], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

#[test]
fn dry_run_prints_the_counts_and_changes_nothing() {
    let (dir, config) = generated("");
    let db = db_path(dir.path());
    let before = table_counts(&open_db(&db));
    let bytes_before = std::fs::read(&db).unwrap();

    let out = run(&config, &["prune", "--dry-run"]);
    let _diag = out.on_panic();
    out.assert_code(0);
    assert_eq!(out.stdout, EXPECTED);
    assert!(
        out.stderr.contains("dry run: 22 rows would be deleted")
            && out.stderr.contains("nothing was changed"),
        "{}",
        out.stderr
    );

    assert_eq!(
        std::fs::read(&db).unwrap(),
        bytes_before,
        "the database file is unchanged"
    );
    assert_eq!(table_counts(&open_db(&db)), before);
}

#[test]
fn prune_deletes_exactly_the_old_rows_and_search_follows() {
    let (dir, config) = generated("");
    let db = db_path(dir.path());
    assert_eq!(
        search(&config, "成交额突破"),
        ["沪深两市成交额突破万亿"],
        "indexed before"
    );
    let size_before = std::fs::metadata(&db).unwrap().len();

    let out = run(&config, &["prune"]);
    let _diag = out.on_panic();
    out.assert_code(0);
    assert_eq!(out.stdout, EXPECTED);
    assert!(out.stderr.contains("pruned 22 rows"), "{}", out.stderr);
    assert!(
        out.stderr.contains("free inside the file, reused by new rows"),
        "{}",
        out.stderr
    );

    let conn = open_db(&db);
    let ids: Vec<i64> = conn
        .prepare("SELECT id FROM articles ORDER BY id")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(
        ids,
        [1, 2, 4, 6],
        "articles 3 and 5 (unseen for over 90 days) are gone"
    );
    assert_eq!(
        count(&conn, "sightings"),
        5,
        "2 + 1 + 1 + 1 sightings of the kept articles"
    );
    assert_eq!(count(&conn, "sightings WHERE article_id IN (3, 5)"), 0);
    let kept: Vec<(i64, i64)> = conn
        .prepare("SELECT article_id, revision FROM article_revisions ORDER BY article_id, revision")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(
        kept,
        [(1, 6), (1, 7), (1, 8), (2, 1), (2, 2)],
        "the newest 3 per article"
    );
    assert_eq!(count(&conn, "fetches"), 4);
    assert_eq!(
        count(&conn, &format!("fetches WHERE started_at < '{}'", ago(30, 0))),
        0
    );
    assert_eq!(
        count(&conn, "article_aliases"),
        0,
        "the deleted article's alias went with it"
    );
    let link: (String, Option<i64>) = conn
        .query_row("SELECT state, article_id FROM share_links", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert_eq!(
        link,
        ("done".to_owned(), None),
        "the link stays done: not fetched again"
    );

    // Search: the deleted articles are gone from the index, the kept ones are found, and
    // the article stored after the last indexing pass was indexed when prune's writer stopped.
    assert_eq!(search(&config, "成交额突破"), Vec::<String>::new());
    assert_eq!(search(&config, "新能源风口"), Vec::<String>::new());
    assert_eq!(index_rowids(&conn, "成交额突破"), Vec::<i64>::new());
    assert_eq!(index_rowids(&conn, "新能源风口"), Vec::<i64>::new());
    assert_eq!(search(&config, "工业经济"), ["工业经济稳中有进 二季度四大举措"]);
    assert_eq!(search(&config, "恒指微跌"), ["港股午评：恒指微跌 苹果概念股走强"]);
    assert_eq!(
        search(&config, "军工全产业链"),
        ["外资杀入A股 高景气度军工全产业链上涨"]
    );
    assert_eq!(index_rowids(&conn, "逆回购"), [2]);
    // FTS5 compares its index with the `articles` rows (rank 1: external content too).
    conn.execute(
        "INSERT INTO articles_fts (articles_fts, rank) VALUES ('integrity-check', 1)",
        [],
    )
    .expect("the search index matches the articles table");

    // Space: the deleted texts' pages are free inside the file (reused by new rows) until
    // `prune --vacuum` rewrites it.
    let pragmas = |conn: &rusqlite::Connection| -> (i64, i64) {
        conn.query_row(
            "SELECT * FROM pragma_auto_vacuum, pragma_freelist_count",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap()
    };
    let (auto_vacuum, free) = pragmas(&conn);
    assert_eq!(auto_vacuum, 0);
    assert!(free > 0, "free pages after the prune");
    drop(conn);

    // A second prune finds nothing more.
    let again = run(&config, &["prune"]);
    again.assert_code(0);
    assert_eq!(
        again.stdout,
        "articles\t0\nsightings\t0\narticle_revisions\t0\nfetches\t0\n"
    );

    let vacuum = run(&config, &["prune", "--vacuum"]);
    let _diag = vacuum.on_panic();
    vacuum.assert_code(0);
    assert!(vacuum.stderr.contains("VACUUM: "), "{}", vacuum.stderr);
    let conn = open_db(&db);
    assert_eq!(pragmas(&conn).1, 0, "no free page left");
    assert_eq!(count(&conn, "articles"), 4);
    drop(conn);
    let size_after = std::fs::metadata(&db).unwrap().len();
    assert!(
        size_after < size_before,
        "the file shrank: {size_before} → {size_after} bytes"
    );
}

#[test]
fn the_daemon_prunes_at_start_up_and_counts_it_in_metrics() {
    let port = free_port();
    let (dir, config) = generated(&format!("\n[metrics]\nlisten = \"127.0.0.1:{port}\"\n"));
    let db = db_path(dir.path());
    let mut daemon = Daemon::start(&config);
    // The prune's last line is logged once it has deleted and vacuumed everything.
    let logged = poll_until(Duration::from_secs(30), Duration::from_millis(100), || {
        daemon
            .stderr()
            .contains("retention: old rows pruned")
            .then_some(())
    });
    assert!(
        logged.is_some(),
        "the daemon pruned at start-up\n{}",
        daemon.diag()
    );
    let conn = open_db(&db);
    assert_eq!(count(&conn, "fetches"), 4);
    assert_eq!(count(&conn, "article_revisions"), 5);
    assert_eq!(count(&conn, "articles"), 4);
    assert_eq!(count(&conn, "sightings"), 5);
    drop(conn);
    let metrics = poll_until(Duration::from_secs(30), Duration::from_millis(100), || {
        let body = http_get(&format!("127.0.0.1:{port}"), "/metrics", Duration::from_secs(5))
            .ok()?
            .text();
        body.contains("feedcrawler_pruned_rows_total{table=\"fetches\"} 7")
            .then_some(body)
    });
    let body = metrics.unwrap_or_else(|| panic!("pruned rows in /metrics\n{}", daemon.diag()));
    for line in [
        "feedcrawler_pruned_rows_total{table=\"article_revisions\"} 10",
        "feedcrawler_pruned_rows_total{table=\"articles\"} 2",
        "feedcrawler_pruned_rows_total{table=\"sightings\"} 3",
    ] {
        assert!(body.contains(line), "{line} in\n{body}");
    }
    // VACUUM would block the daemon's writes for as long as it copies the file: refused.
    let vacuum = run(&config, &["prune", "--vacuum"]);
    vacuum.assert_code(2);
    assert!(
        vacuum.stderr.contains(&format!("pid {}", daemon.pid())) && vacuum.stderr.contains("daemon stopped"),
        "{}",
        vacuum.diag()
    );
    let (status, _) = daemon.terminate(Duration::from_secs(15));
    assert_eq!(status.and_then(|s| s.code()), Some(0), "{}", daemon.diag());
}

#[test]
fn retention_config_errors_name_file_line_and_key() {
    let dir = tempdir();
    for (body, line, key, says) in [
        ("fetches = \"thirty days\"", 2, "fetches", "invalid duration"),
        ("revisions = -1", 2, "revisions", "0 or more"),
        (
            "articles = \"0s\"",
            2,
            "articles",
            "\"0\" keeps the rows for ever",
        ),
        ("\nkeep = \"30d\"", 3, "keep", "unknown field"),
    ] {
        let config = write_config(dir.path(), &format!("[retention]\n{body}\n"));
        let out = run(&config, &["check"]);
        let _diag = out.on_panic();
        out.assert_code(2);
        let path = config.display().to_string();
        assert!(
            out.stderr.contains(&format!("{path}:{line}")),
            "line {line}: {}",
            out.stderr
        );
        assert!(
            out.stderr.contains(key) && out.stderr.contains(says),
            "{}",
            out.stderr
        );
    }
    // "0" means never, for fetches and articles alike.
    let config = write_config(
        dir.path(),
        "[retention]\nfetches = \"0\"\narticles = \"0\"\nrevisions = 0\n",
    );
    let out = run(&config, &["check"]);
    out.assert_code(0);
    assert!(
        out.stdout
            .contains("retention fetches for ever, revisions 0, articles for ever\n"),
        "{}",
        out.diag()
    );
    // The defaults, as `check` shows them.
    let config = write_config(dir.path(), &base_config());
    let out = run(&config, &["check"]);
    out.assert_code(0);
    assert!(
        out.stdout
            .contains("retention fetches 30days, revisions 10, articles for ever\n"),
        "{}",
        out.diag()
    );
}

#[test]
fn a_database_converted_to_incremental_vacuum_gets_its_pages_back_at_each_prune() {
    let (dir, config) = generated("");
    let db = db_path(dir.path());
    // The README's one-time conversion, daemon stopped.
    open_db(&db)
        .execute_batch("PRAGMA auto_vacuum = INCREMENTAL; VACUUM;")
        .unwrap();
    let size_before = std::fs::metadata(&db).unwrap().len();

    let out = run(&config, &["prune"]);
    let _diag = out.on_panic();
    out.assert_code(0);
    assert_eq!(out.stdout, EXPECTED);
    assert!(
        out.stderr.contains("given back to the file system"),
        "{}",
        out.stderr
    );
    let conn = open_db(&db);
    let (auto_vacuum, free): (i64, i64) = conn
        .query_row(
            "SELECT * FROM pragma_auto_vacuum, pragma_freelist_count",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!((auto_vacuum, free), (2, 0), "INCREMENTAL, no free page left");
    drop(conn);
    let size_after = std::fs::metadata(&db).unwrap().len();
    assert!(size_after < size_before, "{size_before} → {size_after} bytes");
}
