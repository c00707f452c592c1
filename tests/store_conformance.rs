//! The storage conformance suite (issue 16): the same crawl, the same commands and the same
//! hand-written expectations against both engines — a SQLite file and a PostgreSQL
//! database (a throwaway cluster; skipped with a message where PostgreSQL is absent outside
//! CI). What a consumer sees must not depend on the engine:
//! - `once` stores a feed's articles with the §3 columns as the feed gave them (title, UTC
//!   and local times, outlet, tags), and one row per infoCode when two feeds list it (§6);
//! - a second `once` with changed text keeps the old content as revision 1 and counts
//!   revision 2; an unchanged copy only moves `last_seen_at`;
//! - an article page is fetched as a second request (`full_text`), its text stored;
//! - `add-link` queues a share link once; `sources`, `search` (a two- and a four-character
//!   word), `export --format jsonl`, `notify status`, `prune --dry-run` and `migrate`
//!   answer the same.

mod support;

use serde_json::{Value, json};
use support::pg::PgCluster;
use support::*;

/// Where a test's database lives.
enum Engine {
    Sqlite,
    Postgres(String),
}

impl Engine {
    fn config_line(&self) -> String {
        match self {
            Engine::Sqlite => "database = \"test.db\"".into(),
            Engine::Postgres(url) => format!("database = {url:?}"),
        }
    }
}

const CODE: &str = "NW202204192348095567";

fn em_link() -> String {
    format!("http://finance.eastmoney.com/a/{}.html", &CODE[2..])
}

/// Two feeds (both list the infoCode article) and a full-text feed whose page is served.
fn world(server: &TestServer, engine: &Engine) -> String {
    let shared = ("央行开展逆回购操作 维护银行体系流动性合理充裕", em_link());
    server.set(
        "/a.xml",
        Route::rss(mini_rss(
            "快讯A",
            &[
                (shared.0, shared.1.as_str()),
                ("工业经济实现平稳开局", "http://news.example.org/a/1.html"),
            ],
        )),
    );
    server.set(
        "/b.xml",
        Route::rss(mini_rss("快讯B", &[(shared.0, shared.1.as_str())])),
    );
    let page_url = server.url("/p/1.html");
    server.set(
        "/c.xml",
        Route::rss(mini_rss(
            "全文",
            &[("股市早知道：三大指数集体高开", page_url.as_str())],
        )),
    );
    let local = chrono::DateTime::parse_from_rfc3339("2022-04-19T12:22:44+08:00").unwrap();
    server.set(
        "/p/1.html",
        Route::ok(
            "text/html; charset=utf-8",
            east_money_page(
                "股市早知道：三大指数集体高开",
                &local,
                Some("证券日报网"),
                "<p>沪深两市今日集体高开，银行板块领涨，成交额较昨日放大。</p>",
                None,
            ),
        ),
    );
    let mut cfg = base_config().replace("database = \"test.db\"", &engine.config_line());
    cfg.push_str(&feed_source("src-a", &server.url("/a.xml"), "kuaixun", &["t1"]));
    cfg.push_str(&feed_source("src-b", &server.url("/b.xml"), "kuaixun", &[]));
    cfg.push_str(&feed_source("src-c", &server.url("/c.xml"), "gushi", &[]));
    cfg.push_str("full_text = true\n");
    cfg
}

fn export(config: &std::path::Path) -> Vec<Value> {
    let out = run(config, &["export", "--format", "jsonl", "--out", "-"]);
    let _diag = out.on_panic();
    out.assert_code(0);
    out.stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect()
}

fn by_title<'a>(rows: &'a [Value], title: &str) -> &'a Value {
    rows.iter()
        .find(|r| r["title"] == json!(title))
        .unwrap_or_else(|| panic!("no article {title:?} in {rows:#?}"))
}

fn conformance(engine: Engine) {
    let server = TestServer::start();
    let dir = tempdir();
    let config = write_config(dir.path(), &world(&server, &engine));

    let migrated = run(&config, &["migrate"]);
    migrated.assert_code(0);
    assert!(migrated.stdout.contains("schema version"), "{}", migrated.stdout);

    let first = run(&config, &["once"]);
    let _d1 = first.on_panic();
    first.assert_code(0);
    let rows = export(&config);
    assert_eq!(rows.len(), 3, "three articles: {rows:#?}");

    let shared = by_title(&rows, "央行开展逆回购操作 维护银行体系流动性合理充裕");
    assert_eq!(shared["info_code"], json!(CODE));
    assert_eq!(shared["dedup_key"], json!(format!("info:{CODE}")));
    assert_eq!(shared["published_at"], json!("2022-04-19T04:00:44Z"));
    assert_eq!(shared["published_local"], json!("2022-04-19T12:00:44+08:00"));
    assert_eq!(shared["media"], json!("证券日报网"));
    assert_eq!(shared["revision"], json!(1));
    assert_eq!(
        shared["sources"],
        json!(["src-a", "src-b"]),
        "one row, both sightings"
    );

    let plain = by_title(&rows, "工业经济实现平稳开局");
    assert_eq!(plain["info_code"], json!(null));
    assert_eq!(plain["url"], json!("http://news.example.org/a/1.html"));
    assert_eq!(plain["published_at"], json!("2022-04-19T04:01:44Z"));
    assert_eq!(plain["tags"], json!(["t1"]));
    assert_eq!(plain["category"], json!("kuaixun"));

    let full = by_title(&rows, "股市早知道：三大指数集体高开");
    assert_eq!(full["media"], json!("证券日报网"));
    assert!(
        full["content_text"]
            .as_str()
            .is_some_and(|t| t.contains("银行板块领涨")),
        "the page's text: {full:#?}"
    );
    assert_eq!(full["category"], json!("gushi"));

    // A changed text: revision 2, the old content kept; the unchanged copies stay at 1.
    server.set(
        "/a.xml",
        Route::rss(
            mini_rss(
                "快讯A",
                &[
                    (
                        "央行开展逆回购操作 维护银行体系流动性合理充裕",
                        em_link().as_str(),
                    ),
                    ("工业经济实现平稳开局", "http://news.example.org/a/1.html"),
                ],
            )
            .replace(
                "工业经济实现平稳开局。（文章来源：证券日报网）",
                "工业经济实现平稳开局，一季度工业增加值同比增长6.5%。（文章来源：证券日报网）",
            ),
        ),
    );
    let second = run(&config, &["once"]);
    let _d2 = second.on_panic();
    second.assert_code(0);
    let rows = export(&config);
    assert_eq!(rows.len(), 3, "no article stored twice");
    let plain = by_title(&rows, "工业经济实现平稳开局");
    assert_eq!(plain["revision"], json!(2));
    assert!(
        plain["content_text"]
            .as_str()
            .is_some_and(|t| t.contains("同比增长6.5%")),
        "{plain:#?}"
    );
    assert_eq!(
        by_title(&rows, "央行开展逆回购操作 维护银行体系流动性合理充裕")["revision"],
        json!(1)
    );

    // Search: a two-character and a four-character word, newest first.
    let search = |q: &str| -> Vec<String> {
        let out = run(&config, &["search", q, "--json"]);
        let _d = out.on_panic();
        out.assert_code(0);
        out.stdout
            .lines()
            .map(|l| {
                serde_json::from_str::<Value>(l).expect("json")["title"]
                    .as_str()
                    .unwrap_or("")
                    .to_owned()
            })
            .collect()
    };
    // (Both published at 12:00:44 +08:00: their order is the order they were stored in.)
    let mut two = search("银行");
    two.sort();
    assert_eq!(
        two,
        vec![
            "央行开展逆回购操作 维护银行体系流动性合理充裕",
            "股市早知道：三大指数集体高开"
        ]
    );
    assert_eq!(search("工业增加值"), vec!["工业经济实现平稳开局"]);
    assert!(search("鲲鹏芯片").is_empty());

    // The share-link queue: queued once.
    let link = format!("http://finance.eastmoney.com/a/{}.html", "202204200000000001");
    let added = run(&config, &["add-link", &link]);
    added.assert_code(0);
    assert!(
        added.stdout.starts_with("1 of 1 links queued"),
        "{}",
        added.stdout
    );
    let again = run(&config, &["add-link", &link]);
    assert!(
        again.stdout.starts_with("0 of 1 links queued"),
        "{}",
        again.stdout
    );

    let sources = run(&config, &["sources"]);
    let _d3 = sources.on_panic();
    sources.assert_code(0);
    for name in ["src-a", "src-b", "src-c"] {
        assert!(sources.stdout.contains(name), "{}", sources.stdout);
    }
    run(&config, &["notify", "status"]).assert_code(0);
    let dry = run(&config, &["prune", "--dry-run"]);
    let _d4 = dry.on_panic();
    dry.assert_code(0);
}

#[test]
fn sqlite_conforms() {
    conformance(Engine::Sqlite);
}

#[test]
fn postgres_conforms() {
    let Some(pg) = PgCluster::shared() else { return };
    conformance(Engine::Postgres(pg.database("conformance")));
}

/// A PostgreSQL database written by a newer feedcrawler is refused, as a SQLite file is;
/// an unreachable server is an error that names the database without its password.
#[test]
fn postgres_refuses_a_newer_schema_and_names_the_database_without_its_password() {
    let Some(pg) = PgCluster::shared() else { return };
    let url = pg.database("newer");
    let dir = tempdir();
    let config = write_config(
        dir.path(),
        &base_config().replace("database = \"test.db\"", &format!("database = {url:?}")),
    );
    run(&config, &["migrate"]).assert_code(0);
    // Article texts are compressed with lz4 (Debian's PostgreSQL has it), not pglz.
    assert_eq!(
        pg.psql(
            &url,
            "SELECT string_agg(attname || '=' || attcompression::text, ',' ORDER BY attname) FROM pg_attribute
             WHERE attrelid = 'articles'::regclass AND attname IN ('content_html', 'content_text')"
        ),
        "content_html=l,content_text=l"
    );
    pg.psql(
        &url,
        "INSERT INTO schema_migrations (version, applied_at) VALUES (99, '2030-01-01T00:00:00Z')",
    );
    let refused = run(&config, &["once"]);
    assert_ne!(refused.code, Some(0), "{}", refused.stderr);
    assert!(
        refused.stderr.contains("newer than this feedcrawler knows"),
        "{}",
        refused.stderr
    );

    // Port 1 on loopback: nothing listens there.
    let config = write_config(
        dir.path(),
        &base_config().replace(
            "database = \"test.db\"",
            "database = \"postgres://crawler:s3cret@127.0.0.1:1/news\"",
        ),
    );
    let failed = run(&config, &["once"]);
    assert_ne!(failed.code, Some(0), "{}", failed.stderr);
    assert!(
        failed.stderr.contains("postgres://crawler@127.0.0.1:1/news"),
        "names the database: {}",
        failed.stderr
    );
    assert!(
        !failed.stderr.contains("s3cret"),
        "never the password: {}",
        failed.stderr
    );
}
