//! `check` and `migrate` (CONTRACT §1, §2, §3): config errors exit 2 naming
//! file, line and key; a valid config lists its sources; `migrate` creates
//! the schema and refuses a database written by a newer version.

mod support;

use std::path::Path;
use support::*;

/// Does `s` name line `n` in one of the usual forms (`line 7`, `:7:`, …)?
fn mentions_line(s: &str, n: usize) -> bool {
    let lower = s.to_lowercase();
    [
        format!("line {n}"),
        format!("line: {n}"),
        format!("line={n}"),
        format!("line {n},"),
        format!(":{n}:"),
        format!(":{n} "),
        format!(":{n},"),
        format!(":{n})"),
        format!(":{n}\n"),
    ]
    .iter()
    .any(|p| lower.contains(p.as_str()))
        || lower.trim_end().ends_with(&format!(":{n}"))
}

#[track_caller]
fn assert_config_error(dir: &Path, file: &str, body: &str, lines: &[usize], key: &str) {
    let config = write_config_named(dir, file, body);
    let out = run(&config, &["check"]);
    out.assert_code(2);
    let err = &out.stderr;
    assert!(err.contains(file), "stderr names the file {file}\n{}", out.diag());
    assert!(
        lines.iter().any(|&n| mentions_line(err, n)),
        "stderr names line {lines:?}\n{}",
        out.diag()
    );
    assert!(err.contains(key), "stderr names the key {key:?}\n{}", out.diag());
}

#[test]
fn unknown_key_is_an_error() {
    let dir = tempdir();
    let body = r#"[daemon]
database = "test.db"
timezone = "Asia/Shanghai"

[http]
timeout = "5s"
max_bodyy = "1MiB"
"#;
    assert_config_error(dir.path(), "unknown-key.toml", body, &[7], "max_bodyy");
}

#[test]
fn unknown_key_in_a_source_is_an_error() {
    let dir = tempdir();
    let body = r#"[daemon]
database = "test.db"

[[source]]
name = "zqrb"
type = "feed"
url = "http://127.0.0.1:9/rss.xml"
catgory = "zhengquanribaowang"
"#;
    assert_config_error(dir.path(), "source-key.toml", body, &[8], "catgory");
}

#[test]
fn duplicate_source_name_is_an_error() {
    let dir = tempdir();
    let body = r#"[daemon]
database = "test.db"

[[source]]
name = "zqrb"
type = "feed"
url = "http://127.0.0.1:9/a.xml"

[[source]]
name = "zqrb"
type = "feed"
url = "http://127.0.0.1:9/b.xml"
"#;
    let config = write_config_named(dir.path(), "duplicate.toml", body);
    let out = run(&config, &["check"]);
    out.assert_code(2);
    assert!(out.stderr.contains("duplicate.toml"), "{}", out.diag());
    // The second block's `[[source]]` or its `name` line.
    assert!(
        mentions_line(&out.stderr, 10) || mentions_line(&out.stderr, 9),
        "line of the second name\n{}",
        out.diag()
    );
    assert!(out.stderr.contains("name"), "{}", out.diag());
    assert!(out.stderr.contains("zqrb"), "{}", out.diag());
}

#[test]
fn bad_duration_is_an_error() {
    let dir = tempdir();
    let body = r#"[daemon]
database = "test.db"

[http]
timeout = "20 parsecs"
"#;
    assert_config_error(dir.path(), "bad-duration.toml", body, &[5], "timeout");
}

#[test]
fn bad_duration_in_a_source_is_an_error() {
    let dir = tempdir();
    let body = r#"[daemon]
database = "test.db"

[[source]]
name = "zqrb"
type = "feed"
url = "http://127.0.0.1:9/rss.xml"
interval = "soon"
"#;
    assert_config_error(dir.path(), "source-interval.toml", body, &[8], "interval");
}

#[test]
fn wrong_type_is_an_error() {
    let dir = tempdir();
    let body = r#"[daemon]
database = "test.db"

[http]
concurrency = "many"
"#;
    assert_config_error(dir.path(), "wrong-type.toml", body, &[5], "concurrency");
}

#[test]
fn bad_url_is_an_error() {
    let dir = tempdir();
    let body = r#"[daemon]
database = "test.db"

[[source]]
name = "zqrb"
type = "feed"
url = "not a url"
"#;
    assert_config_error(dir.path(), "bad-url.toml", body, &[7], "url");
}

#[test]
fn min_interval_above_max_interval_is_an_error() {
    let dir = tempdir();
    let body = r#"[daemon]
database = "test.db"

[schedule]
min_interval = "2h"
max_interval = "1h"
"#;
    let config = write_config_named(dir.path(), "intervals.toml", body);
    let out = run(&config, &["check"]);
    out.assert_code(2);
    assert!(out.stderr.contains("intervals.toml"), "{}", out.diag());
    assert!(out.stderr.contains("min_interval"), "{}", out.diag());
}

#[test]
fn missing_config_file_is_an_error() {
    let dir = tempdir();
    let missing = dir.path().join("nowhere.toml");
    let out = run(&missing, &["check"]);
    out.assert_code(2);
    assert!(out.stderr.contains("nowhere.toml"), "{}", out.diag());
}

#[test]
fn valid_config_lists_sources() {
    let dir = tempdir();
    let mut body = base_config();
    body.push_str(&feed_source(
        "zqrb-atom",
        "http://127.0.0.1:9/zqrb/atom.xml",
        "zhengquanribaowang",
        &["证券日报网新闻"],
    ));
    body.push_str(&feed_source(
        "em-json",
        "http://127.0.0.1:9/feed.json",
        "jijin",
        &[],
    ));
    body.push_str(
        r#"
[[source]]
name = "em-share"
type = "share_links"
urls = ["http://finews.zning.xyz/html_News/NewsShare.html?infoCode=NW202204192348095567"]
enabled = false
"#,
    );
    let config = write_config(dir.path(), &body);
    let out = run(&config, &["check"]);
    out.assert_code(0);
    for name in ["zqrb-atom", "em-json", "em-share"] {
        assert!(out.stdout.contains(name), "stdout lists {name}\n{}", out.diag());
    }
    assert!(
        out.stdout.contains("http://127.0.0.1:9/zqrb/atom.xml"),
        "the resolved source shows its URL\n{}",
        out.diag()
    );
}

#[test]
fn interval_below_min_interval_warns() {
    let dir = tempdir();
    let mut body = base_config();
    body.push_str(&feed_source("fast", "http://127.0.0.1:9/rss.xml", "emnews", &[]));
    body.push_str("interval = \"10s\"\n");
    let config = write_config(dir.path(), &body);
    let out = run(&config, &["check"]);
    out.assert_code(0);
    let all = format!("{}\n{}", out.stdout, out.stderr).to_lowercase();
    assert!(
        all.contains("warn") && all.contains("interval"),
        "check warns about the raised interval\n{}",
        out.diag()
    );
}

const TABLES: [&str; 6] = [
    "articles",
    "sources",
    "sightings",
    "fetches",
    "share_links",
    "articles_fts",
];

fn table_names(conn: &rusqlite::Connection) -> Vec<String> {
    conn.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

#[test]
fn migrate_creates_the_schema() {
    let dir = tempdir();
    let config = write_config(dir.path(), &base_config());
    let out = run(&config, &["migrate"]);
    let _diag = out.on_panic();
    out.assert_code(0);
    // `database = "test.db"` resolves next to the config, not in the cwd.
    let db = db_path(dir.path());
    assert!(db.exists(), "{} created\n{}", db.display(), out.diag());
    assert!(!dir.path().join("cwd").join("test.db").exists());
    let conn = open_db(&db);
    let names = table_names(&conn);
    for t in TABLES {
        assert!(names.iter().any(|n| n == t), "table {t} in {names:?}");
    }
    let fts_sql: String = conn
        .query_row(
            "SELECT sql FROM sqlite_master WHERE name = 'articles_fts'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let lower = fts_sql.to_lowercase();
    assert!(lower.contains("fts5"), "{fts_sql}");
    assert!(lower.contains("trigram"), "{fts_sql}");
    let mode: String = conn.query_row("PRAGMA journal_mode", [], |r| r.get(0)).unwrap();
    assert_eq!(mode.to_lowercase(), "wal");
    // The columns consumers query (CONTRACT §3).
    let mut cols: Vec<String> = conn
        .prepare("SELECT name FROM pragma_table_info('articles')")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    cols.sort();
    for c in [
        "id",
        "dedup_key",
        "info_code",
        "title",
        "url",
        "share_url",
        "published_at",
        "published_local",
        "updated_at",
        "author",
        "media",
        "category",
        "tags",
        "summary",
        "content_html",
        "content_text",
        "content_hash",
        "language",
        "revision",
        "first_seen_at",
        "last_seen_at",
    ] {
        assert!(cols.iter().any(|x| x == c), "articles.{c} in {cols:?}");
    }
    drop(conn);

    // Idempotent.
    run(&config, &["migrate"]).assert_code(0);
    let conn = open_db(&db);
    assert_eq!(table_names(&conn), names);
}

#[test]
fn newer_database_is_refused() {
    let dir = tempdir();
    let config = write_config(dir.path(), &base_config());
    run(&config, &["migrate"]).assert_code(0);
    {
        let conn = open_db(&db_path(dir.path()));
        conn.pragma_update(None, "user_version", 999).unwrap();
    }
    for cmd in ["migrate", "once"] {
        let out = run(&config, &[cmd]);
        assert!(
            out.code.is_some() && out.code != Some(0),
            "{cmd} on a newer database must fail\n{}",
            out.diag()
        );
        assert!(
            out.stderr.to_lowercase().contains("newer"),
            "{cmd}: the message says the database is newer\n{}",
            out.diag()
        );
    }
    // The database was left alone.
    let conn = open_db(&db_path(dir.path()));
    let v: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
    assert_eq!(v, 999);
}

// ---------------------------------------------------------------------------
// `check` validates everything it can: CSS selectors, templates, regexes, URLs
// put to the admission gate. Each error is one line naming file, line, table
// and key, written down here in full.
// ---------------------------------------------------------------------------

/// `check` of `body` fails with exit 2 and exactly the one stderr line
/// `feedcrawler: <config>:<rest>`.
#[track_caller]
fn assert_check_line(body: &str, rest: &str) {
    let dir = tempdir();
    let config = write_config_named(dir.path(), "checked.toml", body);
    let out = run(&config, &["check"]);
    out.assert_code(2);
    assert_eq!(
        out.stderr.trim_end(),
        format!("feedcrawler: {}:{rest}", config.display()),
        "\n{}",
        out.diag()
    );
}

const HEAD: &str = "[daemon]\ndatabase = \"test.db\"\n";

#[test]
fn check_compiles_html_list_selectors() {
    let body = format!(
        "{HEAD}\n[[source]]\nname = \"list\"\ntype = \"html\"\nurl = \"https://example.com/list.html\"\n\
         item = \"div..listMain >> li\"\nlink = \"a@href\"\n"
    );
    assert_check_line(
        &body,
        r#"8: [[source]] "list": key `item`: invalid CSS selector "div..listMain >> li": a `.` must be followed by a class name"#,
    );
    let body = format!(
        "{HEAD}\n[[source]]\nname = \"list\"\ntype = \"html\"\nurl = \"https://example.com/list.html\"\n\
         item = \"ul.list > li\"\nlink = \"a >> b@href\"\n"
    );
    assert_check_line(
        &body,
        r#"9: [[source]] "list": key `link`: invalid CSS selector "a >> b": a combinator (`>`, `+`, `~`) needs a selector on both sides"#,
    );
}

#[test]
fn check_compiles_host_article_selectors() {
    let body = format!(
        "{HEAD}\n[[host]]\ndomain = \"example.com\"\narticle = {{ content = \"div.body\", published = \"span:when\" }}\n"
    );
    assert_check_line(
        &body,
        r#"6: [[host]] "example.com": key `article.published`: invalid CSS selector "span:when": unsupported pseudo-class or pseudo-element"#,
    );
}

#[test]
fn check_parses_export_templates() {
    let body = format!("{HEAD}\n[export.jekyll]\nlayout = \"post\"\nfooter = \"{{{{ media \"\n");
    let dir = tempdir();
    let config = write_config_named(dir.path(), "checked.toml", &body);
    let out = run(&config, &["check"]);
    out.assert_code(2);
    // minijinja words the syntax error itself; the line names file, line, table and key.
    let prefix = format!(
        "feedcrawler: {}:6: [export.jekyll]: key `footer`: template does not parse: ",
        config.display()
    );
    assert!(out.stderr.starts_with(&prefix), "{prefix}\n{}", out.diag());
}

#[test]
fn check_compiles_filter_regexes() {
    let source = "\n[[source]]\nname = \"broad\"\nurl = \"https://example.com/rss.xml\"\n";
    assert_check_line(
        &format!("{HEAD}{source}include = [\"证券\", \"(A股\"]\n"),
        r#"7: [[source]] "broad": key `include`: invalid regex "(A股": unclosed group"#,
    );
    assert_check_line(
        &format!("{HEAD}{source}exclude = [\"\"]\n"),
        r#"7: [[source]] "broad": key `exclude`: an empty pattern matches every entry; remove it"#,
    );
}

#[test]
fn check_puts_configured_urls_to_the_admission_gate() {
    let json = "\n[[source]]\nname = \"column\"\ntype = \"json\"\nurl = \"https://example.com/list.json\"\n\
                fields = { title = \"/title\", url = \"/url\" }\n";
    assert_check_line(
        &format!("{HEAD}{json}detail_url = \"http://10.1.2.3/detail/{{id}}\"\n"),
        "9: [[source]] \"column\": key `detail_url`: http://10.1.2.3/detail/202204192348095567 would be refused \
         by the admission gate (CONTRACT §7): 10.1.2.3 is 10.1.2.3, a private address, and the config does not \
         name that host ([http] allow_private_networks = true allows it)",
    );
    assert_check_line(
        &format!("{HEAD}{json}detail_url = \"file:///srv/detail/{{id}}.json\"\n"),
        "9: [[source]] \"column\": key `detail_url`: file:///srv/detail/202204192348095567.json would be refused \
         by the admission gate (CONTRACT §7): a file: URL learned from the network is never read (only file: URLs \
         written in the config are)",
    );
    assert_check_line(
        &format!(
            "{HEAD}\n[share]\nresolve = [\"https://example.com/a/{{id}}.html\", \"file:///srv/{{id}}.html\"]\n"
        ),
        "5: [share]: key `resolve`: file:///srv/202204192348095567.html would be refused by the admission gate \
         (CONTRACT §7): a file: URL learned from the network is never read (only file: URLs written in the config are)",
    );
    // What the gate admits passes: a private detail host the config names, or with
    // allow_private_networks.
    let dir = tempdir();
    for extra in [
        "\n[[host]]\ndomain = \"10.1.2.3\"\n",
        "\n[http]\nallow_private_networks = true\n",
    ] {
        let body = format!("{HEAD}{extra}{json}detail_url = \"http://10.1.2.3/detail/{{id}}\"\n");
        let config = write_config(dir.path(), &body);
        run(&config, &["check"]).assert_code(0);
    }
}
