//! CONTRACT §3 "article ids are never reused", against the real binary: a consumer deletes
//! the newest article; the next article gets a higher id and is found by search. A database
//! of schema version 7 (ids without AUTOINCREMENT) is migrated with its ids, sightings and
//! revisions intact.

mod support;

use support::*;

/// The schema files up to version 7, applied by hand to build an old database.
const SCHEMA_V7: &[&str] = &[
    include_str!("../migrations/0001_init.sql"),
    include_str!("../migrations/0002_source_lifecycle.sql"),
    include_str!("../migrations/0003_share_queue.sql"),
    include_str!("../migrations/0004_fts_bulk_index.sql"),
    include_str!("../migrations/0005_fts_automerge.sql"),
    include_str!("../migrations/0006_fts_crisismerge.sql"),
    include_str!("../migrations/0007_fts_automerge_64.sql"),
];

fn max_id(conn: &rusqlite::Connection) -> i64 {
    conn.query_row("SELECT coalesce(max(id), 0) FROM articles", [], |r| r.get(0))
        .unwrap()
}

#[test]
fn a_deleted_articles_id_is_not_given_to_the_next_one() {
    let server = TestServer::start();
    server.set(
        "/feed.xml",
        Route::rss(mini_rss(
            "快讯",
            &[
                ("央行开展逆回购操作", "http://news.example.org/a/1.html"),
                ("沪指收涨百分之一", "http://news.example.org/a/2.html"),
            ],
        )),
    );
    let dir = tempdir();
    let mut cfg = base_config();
    cfg.push_str(&feed_source("news", &server.url("/feed.xml"), "c", &[]));
    let config = write_config(dir.path(), &cfg);
    run_once(&config).assert_code(0);
    let db = db_path(dir.path());
    let conn = open_db(&db);
    assert_eq!(count(&conn, "articles"), 2);
    let newest = max_id(&conn);
    // A consumer removes the newest article (the index follows: it was indexed).
    conn.execute("DELETE FROM articles WHERE id = ?1", [newest])
        .unwrap();

    server.set(
        "/feed.xml",
        Route::rss(mini_rss(
            "快讯",
            &[
                ("央行开展逆回购操作", "http://news.example.org/a/1.html"),
                ("统计局发布工业数据", "http://news.example.org/a/3.html"),
            ],
        )),
    );
    run_once(&config).assert_code(0);
    let added: i64 = conn
        .query_row(
            "SELECT id FROM articles WHERE title = '统计局发布工业数据'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(added > newest, "new id {added} after deleting {newest}");
    let out = run(&config, &["search", "工业数据"]);
    out.assert_code(0);
    assert!(out.stdout.contains("统计局发布工业数据"), "{}", out.stdout);
}

#[test]
fn a_version_7_database_is_migrated_with_its_ids_and_references() {
    let dir = tempdir();
    let db = db_path(dir.path());
    {
        let conn = rusqlite::Connection::open(&db).unwrap();
        conn.execute_batch("PRAGMA journal_mode = WAL;").unwrap();
        for sql in SCHEMA_V7 {
            conn.execute_batch(sql).unwrap();
        }
        conn.execute_batch(
            "PRAGMA user_version = 7;
             INSERT INTO sources (id, name, type) VALUES (1, 'news', 'feed');
             INSERT INTO articles (id, dedup_key, title, content_text, first_seen_at, last_seen_at)
               VALUES (5, 'url:http://a/5', '旧文章五', '正文五', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z'),
                      (9, 'url:http://a/9', '旧文章九', '正文九', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z');
             INSERT INTO sightings (article_id, source_id, first_seen_at, last_seen_at)
               VALUES (5, 1, '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z'),
                      (9, 1, '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z');
             INSERT INTO article_revisions (article_id, revision, content_text, replaced_at)
               VALUES (9, 1, '旧正文', '2026-01-01T00:00:00Z');
             INSERT INTO articles_fts (rowid, title, content_text) VALUES (5, '旧文章五', '正文五');
             INSERT INTO articles_fts (rowid, title, content_text) VALUES (9, '旧文章九', '正文九');
             -- The newest indexed article, 12, was deleted before the upgrade.
             UPDATE fts_progress SET indexed_upto = 12;",
        )
        .unwrap();
    }
    let config = write_config(dir.path(), &base_config());
    let out = run(&config, &["migrate"]);
    out.assert_code(0);
    let conn = open_db(&db);
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
    assert!(version >= 8, "migrated past version 7: {version}");
    let ids: Vec<i64> = conn
        .prepare("SELECT id FROM articles ORDER BY id")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(ids, vec![5, 9]);
    assert_eq!(count(&conn, "sightings"), 2, "sightings survive the rebuild");
    assert_eq!(count(&conn, "article_revisions WHERE article_id = 9"), 1);
    let seq: i64 = conn
        .query_row(
            "SELECT seq FROM sqlite_sequence WHERE name = 'articles'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(seq, 12, "ids continue above the highest ever indexed");
    // The index still follows edits of indexed rows (the triggers were recreated).
    conn.execute("UPDATE articles SET content_text = '新正文九' WHERE id = 9", [])
        .unwrap();
    let found: i64 = conn
        .query_row(
            "SELECT count(*) FROM articles_fts WHERE articles_fts MATCH '新正文'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(found, 1);
    conn.execute(
        "INSERT INTO articles (dedup_key, title, first_seen_at, last_seen_at)
         VALUES ('url:http://a/new', '新文章', '2026-01-02T00:00:00Z', '2026-01-02T00:00:00Z')",
        [],
    )
    .unwrap();
    assert_eq!(conn.last_insert_rowid(), 13);
}
