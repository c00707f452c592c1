//! The read API (issue 14, docs/schema.md): every cookbook query of docs/schema.md — read
//! from the document itself, so the two cannot drift — runs against a database the real
//! binary crawled (three feeds sharing articles, a failing feed, an article corrected
//! between two crawls), and its rows are checked against values written down from the
//! feeds. Each query's plan must not scan a large table without an index, and each must be
//! a canned query of docs/datasette.yml with the same SQL.

mod cookbook_world;
mod support;

use std::collections::BTreeMap;
use std::path::Path;

use cookbook_world::*;
use rusqlite::types::ValueRef;
use sha2::{Digest, Sha256};
use support::*;

/// A row as text: NULL as `NULL`, numbers and text as written.
type Row = Vec<String>;

fn run_query(conn: &rusqlite::Connection, sql: &str, params: &[(&str, &str)]) -> Vec<Row> {
    let mut stmt = conn
        .prepare(sql)
        .unwrap_or_else(|e| panic!("preparing\n{sql}\n: {e}"));
    let names: Vec<String> = params.iter().map(|(n, _)| format!(":{n}")).collect();
    let bound: Vec<(&str, &dyn rusqlite::ToSql)> = names
        .iter()
        .zip(params)
        .map(|(n, (_, v))| (n.as_str(), v as &dyn rusqlite::ToSql))
        .collect();
    let width = stmt.column_count();
    let rows = stmt
        .query_map(bound.as_slice(), |r| {
            (0..width)
                .map(|i| {
                    Ok(match r.get_ref(i)? {
                        ValueRef::Null => "NULL".to_owned(),
                        ValueRef::Integer(v) => v.to_string(),
                        ValueRef::Real(v) => v.to_string(),
                        ValueRef::Text(t) => String::from_utf8_lossy(t).into_owned(),
                        ValueRef::Blob(_) => "<blob>".to_owned(),
                    })
                })
                .collect::<rusqlite::Result<Row>>()
        })
        .unwrap_or_else(|e| panic!("running\n{sql}\n: {e}"));
    rows.collect::<rusqlite::Result<Vec<Row>>>()
        .unwrap_or_else(|e| panic!("reading the rows of\n{sql}\n: {e}"))
}

fn sha256_hex(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// Columns `cols` of every row.
fn pick(rows: &[Row], cols: &[usize]) -> Vec<Vec<String>> {
    rows.iter()
        .map(|r| cols.iter().map(|&c| r[c].clone()).collect())
        .collect()
}

fn strings(rows: &[&[&str]]) -> Vec<Vec<String>> {
    rows.iter()
        .map(|r| r.iter().map(|s| s.to_string()).collect())
        .collect()
}

/// Tables that grow with the crawl: a plan must reach them through an index.
const LARGE: &[&str] = &[
    "articles",
    "a",
    "sightings",
    "g",
    "fetches",
    "f",
    "article_changes",
    "c",
    "article_revisions",
    "r",
];

fn check_plan(conn: &rusqlite::Connection, name: &str, sql: &str, params: &[(&str, &str)]) {
    let plan = run_query(conn, &format!("EXPLAIN QUERY PLAN {sql}"), params);
    let details: Vec<String> = plan.iter().map(|r| r[3].clone()).collect();
    println!("{name}:\n  {}", details.join("\n  "));
    for line in &details {
        let Some(rest) = line.strip_prefix("SCAN ") else {
            continue;
        };
        let table = rest.split_whitespace().next().unwrap_or("");
        assert!(
            !LARGE.contains(&table) || line.contains("USING"),
            "{name}: a full scan of {table} ({line}); plan:\n{details:#?}"
        );
    }
}

/// The SQL of every cookbook query appears, with the same name, as a canned query in
/// docs/datasette.yml (`sql: |-` block at 10 spaces).
fn check_datasette_yml(queries: &BTreeMap<String, String>) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/datasette.yml");
    let yml = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    for (name, sql) in queries {
        assert!(
            yml.contains(&format!("\n      {name}:\n")),
            "docs/datasette.yml has no canned query {name}"
        );
        let indented: String = sql.lines().map(|l| format!("          {l}\n")).collect();
        assert!(
            yml.contains(&indented),
            "docs/datasette.yml: canned query {name} differs from docs/schema.md; expected\n{indented}"
        );
    }
}

#[test]
fn every_cookbook_query_answers_with_the_crawled_rows() {
    let queries = cookbook();
    let expected_names = [
        "changed_since",
        "changes_after",
        "newest_of_outlet",
        "newest_of_source",
        "revisions",
        "search_phrase",
        "search_short_word",
        "seen_by_several",
        "source_health",
    ];
    assert_eq!(
        queries.keys().map(String::as_str).collect::<Vec<_>>(),
        expected_names,
        "the cookbook of docs/schema.md"
    );
    check_datasette_yml(&queries);

    let server = TestServer::start();
    serve_first(&server);
    let dir = tempdir();
    let config = write_config(dir.path(), &format!("{}{}", base_config(), sources(&server)));
    let out = run_once(&config);
    let _diag = out.on_panic();
    // `broken` failed: exit 1, everything else stored.
    out.assert_code(1);
    let db = db_path(dir.path());
    let cursor: i64 = open_db(&db)
        .query_row("SELECT max(seq) FROM article_changes", [], |r| r.get(0))
        .unwrap();
    // The second crawl starts in a later second than anything the first one wrote.
    let since = loop {
        let now = chrono::Utc::now();
        let first_second = open_db(&db)
            .query_row("SELECT max(changed_at) FROM article_changes", [], |r| {
                r.get::<_, String>(0)
            })
            .unwrap();
        let text = now.format("%Y-%m-%dT%H:%M:%SZ").to_string();
        if text > first_second {
            break text;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    serve_second(&server);
    let out = run_once(&config);
    let _diag2 = out.on_panic();
    out.assert_code(1);

    let conn = open_db(&db);
    let id_of = |item: &Item| -> String {
        conn.query_row(
            "SELECT id FROM articles WHERE url = ?1",
            [server.url(item.path)],
            |r| r.get::<_, i64>(0),
        )
        .unwrap_or_else(|e| panic!("article {}: {e}", item.title))
        .to_string()
    };
    let (a, b, c, d) = (id_of(&A), id_of(&B), id_of(&C), id_of(&D));
    let cursor = cursor.to_string();
    let c_id = c.clone();
    let q = |name: &str, params: &[(&str, &str)]| -> Vec<Row> {
        let sql = &queries[name];
        let mut wanted = parameters(sql);
        wanted.sort();
        let mut given: Vec<String> = params.iter().map(|(n, _)| n.to_string()).collect();
        given.sort();
        assert_eq!(wanted, given, "{name}: the parameters of the query");
        check_plan(&conn, name, sql, params);
        run_query(&conn, sql, params)
    };

    // newest_of_outlet: id, published_at, title, url, sources.
    let rows = q("newest_of_outlet", &[("media", "证券日报网")]);
    assert_eq!(
        rows,
        vec![
            vec![
                b.clone(),
                "2022-04-19T05:00:00Z".into(),
                B.title.into(),
                server.url(B.path),
                r#"["sina","zqrb"]"#.into()
            ],
            vec![
                a.clone(),
                "2022-04-19T04:00:00Z".into(),
                A.title.into(),
                server.url(A.path),
                r#"["cnstock","sina","zqrb"]"#.into()
            ],
        ]
    );
    assert_eq!(
        pick(&q("newest_of_outlet", &[("media", "上海证券报")]), &[0, 1]),
        vec![vec![c.clone(), "2022-04-18T01:00:00Z".to_string()]]
    );

    // newest_of_source: id, published_at, title, url.
    assert_eq!(
        pick(&q("newest_of_source", &[("source", "cnstock")]), &[0, 1, 2]),
        strings(&[
            &[&d, "2022-04-19T06:00:00Z", D.title],
            &[&a, "2022-04-19T04:00:00Z", A.title],
        ])
    );
    assert!(q("newest_of_source", &[("source", "broken")]).is_empty());

    // seen_by_several: id, published_at, title, source_count, sources.
    assert_eq!(
        q("seen_by_several", &[]),
        strings(&[
            &[&b, "2022-04-19T05:00:00Z", B.title, "2", r#"["sina","zqrb"]"#],
            &[
                &a,
                "2022-04-19T04:00:00Z",
                A.title,
                "3",
                r#"["cnstock","sina","zqrb"]"#
            ],
        ])
    );

    // search_phrase: id, published_at, title, snippet.
    let rows = q("search_phrase", &[("phrase", "工业经济")]);
    assert_eq!(pick(&rows, &[0, 2]), strings(&[&[&a, A.title]]));
    assert!(
        rows[0][3].contains("【工业经济】"),
        "the snippet highlights the phrase: {}",
        rows[0][3]
    );
    assert_eq!(
        pick(&q("search_phrase", &[("phrase", "300750")]), &[0, 2]),
        strings(&[&[&d, D.title]])
    );
    assert_eq!(
        pick(&q("search_phrase", &[("phrase", "银行板块")]), &[0, 2]),
        strings(&[&[&b, B.title]])
    );
    // Quotes and operators are text: no FTS5 syntax error, and no match.
    assert!(q("search_phrase", &[("phrase", "\"工业经济")]).is_empty());
    assert!(q("search_phrase", &[("phrase", "工业 AND 经济*")]).is_empty());
    // The corrected text is what is indexed.
    assert_eq!(
        pick(&q("search_phrase", &[("phrase", "5300亿元")]), &[0]),
        vec![vec![c.clone()]]
    );

    // search_short_word: id, published_at, title — newest first.
    assert_eq!(
        q("search_short_word", &[("word", "股市")]),
        strings(&[
            &[&d, "2022-04-19T06:00:00Z", D.title],
            &[&b, "2022-04-19T05:00:00Z", B.title],
        ])
    );
    assert_eq!(
        pick(&q("search_short_word", &[("word", "央行")]), &[0]),
        vec![vec![c.clone()]]
    );
    assert!(q("search_short_word", &[("word", "房价")]).is_empty());

    // source_health: name, health, last_status, consecutive_failures, last_error,
    // last_polled_at, last_success_at, articles_seen, fetches_24h, failures_24h.
    let rows = q("source_health", &[]);
    assert_eq!(
        pick(&rows, &[0, 1, 2, 3, 7, 8, 9]),
        strings(&[
            &["broken", "failing", "500", "2", "0", "2", "2"],
            &["cnstock", "ok", "200", "0", "2", "2", "0"],
            &["sina", "ok", "200", "0", "2", "2", "0"],
            &["zqrb", "ok", "200", "0", "3", "2", "0"],
        ])
    );
    assert!(rows[0][4].contains("500"), "broken's last_error: {}", rows[0][4]);
    assert_eq!(rows[0][6], "NULL", "broken never succeeded");
    for row in &rows {
        assert!(
            row[5].ends_with('Z') && row[5].len() == 20,
            "last_polled_at {row:?}"
        );
    }
    for row in &rows[1..] {
        assert!(
            row[4] == "NULL" && row[6].ends_with('Z'),
            "a healthy source: {row:?}"
        );
    }

    // changed_since: seq, article_id, changed_at, deleted, title, revision — only the
    // correction happened after `since` (the other articles were only seen again).
    let rows = q("changed_since", &[("since", &since)]);
    assert_eq!(pick(&rows, &[1, 3, 4, 5]), strings(&[&[&c, "0", C.title, "2"]]));
    assert!(rows[0][2] >= since, "changed_at {} >= {since}", rows[0][2]);
    assert_eq!(q("changed_since", &[("since", "2000-01-01T00:00:00Z")]).len(), 4);

    // changes_after: seq, article_id, deleted, title, revision, published_at, sources.
    let rows = q("changes_after", &[("cursor", &cursor)]);
    assert_eq!(
        pick(&rows, &[1, 2, 3, 4, 5, 6]),
        strings(&[&[&c, "0", C.title, "2", "2022-04-18T01:00:00Z", r#"["zqrb"]"#]])
    );
    assert!(rows[0][0].parse::<i64>().unwrap() > cursor.parse::<i64>().unwrap());
    let all = q("changes_after", &[("cursor", "0")]);
    let mut first: Vec<String> = all[..3].iter().map(|r| r[1].clone()).collect();
    first.sort_by_key(|id| id.parse::<i64>().unwrap());
    let mut abd = vec![a.clone(), b.clone(), d.clone()];
    abd.sort_by_key(|id| id.parse::<i64>().unwrap());
    assert_eq!(first, abd, "the first crawl's articles, then the correction");
    assert_eq!(all[3][1], c);
    assert!(
        all.windows(2)
            .all(|w| w[0][0].parse::<i64>().unwrap() < w[1][0].parse::<i64>().unwrap())
    );
    assert!(
        q("changes_after", &[("cursor", &rows[0][0])]).is_empty(),
        "nothing after the last"
    );

    // revisions: revision, current, replaced_at, content_hash, content_text.
    let rows = q("revisions", &[("article_id", &c_id)]);
    assert_eq!(
        pick(&rows, &[0, 1, 3, 4]),
        vec![
            vec!["1".into(), "0".into(), sha256_hex(C.text), C.text.to_string()],
            vec![
                "2".into(),
                "1".into(),
                sha256_hex(C_REVISED.text),
                C_REVISED.text.to_string()
            ],
        ]
    );
    assert!(
        rows[0][2] >= since && rows[0][2].ends_with('Z'),
        "replaced_at {}",
        rows[0][2]
    );
    assert_eq!(rows[1][2], "NULL");
    assert_eq!(
        pick(&q("revisions", &[("article_id", &a)]), &[0, 1, 4]),
        strings(&[&["1", "1", A.text]])
    );
}
