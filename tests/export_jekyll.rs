//! `feedcrawler export --format jekyll` (CONTRACT §5): the reference article crawled
//! through its share link exports to the seed post byte for byte; titles with YAML
//! specials stay valid front matter; `[export.jekyll]` templates and `category_map`;
//! `--since`, `--source`; idempotence (an unchanged post keeps its mtime); errors.

mod support;

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use support::*;

const INFO_CODE: &str = "NW202204192348095567";
const ID: &str = "202204192348095567";
/// The share link of the reference article (CONTRACT preamble). The crawl reads the
/// article through a `resolve` template on the test server, so this host is never
/// contacted; the link is what the post prints.
const SHARE_URL: &str = "http://finews.zning.xyz/html_News/NewsShare.html?infoCode=NW202204192348095567";
const POST: &str = "2022-04-19-NW202204192348095567.md";

/// The seed post: the in-repo copy, checked against `shared/seed` when that is present.
fn seed() -> Vec<u8> {
    let copy = fixture("finews/reference_post.md");
    let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/seed/000_1bd4150e373cca66.txt");
    if let Ok(original) = std::fs::read(&shared) {
        assert!(
            original == copy,
            "tests/fixtures/finews/reference_post.md differs from the seed"
        );
    }
    copy
}

struct Crawl {
    dir: tempfile::TempDir,
    config: PathBuf,
    _server: TestServer,
}

/// Crawls the reference article as a user would: a `share_links` source with its share
/// link, and a `[share] resolve` template to an East Money-layout page (CONTRACT §2).
fn crawl_reference(extra_config: &str) -> Crawl {
    let post = parse_post("reference_post.md", &fixture_str("finews/reference_post.md"))
        .expect("the reference post parses");
    // The body as East Money served it to the reference site: the seed shows the outlet
    // line without the stock-link span East Money wraps some names in (other posts of
    // the corpus keep theirs), so the page carries the seed's body as it is.
    let body = post.body.clone();
    let page = east_money_page(
        &post.title,
        &post.date,
        Some("证券日报网"),
        &body,
        Some("http://finance.eastmoney.com/a/202204192348095567.html"),
    );
    let server = TestServer::start();
    server.set(
        format!("/a/{ID}.html"),
        Route::ok("text/html; charset=utf-8", page),
    );
    let dir = tempdir();
    let mut cfg = publisher_config(&format!(
        "[share]\nresolve = [{:?}]\nallow_hosts = []\n",
        server.url("/a/{id}.html")
    ));
    cfg.push_str(&format!(
        "\n[[source]]\nname = \"em-share\"\ntype = \"share_links\"\nurls = [{SHARE_URL:?}]\n\
         category = \"zhengquanribaowang\"\ntags = [\"证券日报网新闻\"]\n"
    ));
    cfg.push_str(extra_config);
    let config = write_config(dir.path(), &cfg);
    let out = run_once(&config);
    let _diag = out.on_panic();
    out.assert_code(0);
    assert_eq!(
        server.requests().len(),
        1,
        "only the resolve page: {}",
        server.describe_requests()
    );
    Crawl {
        dir,
        config,
        _server: server,
    }
}

fn export(config: &Path, out: &Path, extra: &[&str]) -> Output {
    let out = out.display().to_string();
    let mut args = vec!["export", "--format", "jekyll", "--out", out.as_str()];
    args.extend_from_slice(extra);
    run(config, &args)
}

fn files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn the_reference_article_exports_to_the_seed_byte_for_byte_and_idempotently() {
    let c = crawl_reference("");
    let posts = c.dir.path().join("_posts");
    let out = export(&c.config, &posts, &[]);
    let _diag = out.on_panic();
    out.assert_code(0);
    assert_eq!(files(&posts), vec![POST.to_string()]);
    let got = std::fs::read(posts.join(POST)).unwrap();
    let want = seed();
    if got != want {
        let (g, w) = (String::from_utf8_lossy(&got), String::from_utf8_lossy(&want));
        let at = g.chars().zip(w.chars()).take_while(|(a, b)| a == b).count();
        panic!(
            "the export differs from the seed at character {at}\n--- got from there\n{}\n--- want from there\n{}",
            g.chars().skip(at).take(300).collect::<String>(),
            w.chars().skip(at).take(300).collect::<String>()
        );
    }

    // Unchanged: not rewritten. An old mtime makes any rewrite visible whatever the clock's
    // resolution.
    let old = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000_000);
    std::fs::File::options()
        .write(true)
        .open(posts.join(POST))
        .unwrap()
        .set_modified(old)
        .unwrap();
    let again = export(&c.config, &posts, &[]);
    again.assert_code(0);
    assert!(
        again.stderr.contains("0 posts written, 1 unchanged"),
        "{}",
        again.diag()
    );
    let mtime = std::fs::metadata(posts.join(POST)).unwrap().modified().unwrap();
    assert_eq!(mtime, old, "an unchanged post is not rewritten");
    assert_eq!(std::fs::read(posts.join(POST)).unwrap(), want);

    // Changed (a new revision's title): rewritten, with the new title.
    let conn = open_db(&db_path(c.dir.path()));
    conn.execute(
        "UPDATE articles SET title = '工信部：二季度工业经济稳增长有四大举措' WHERE info_code = ?1",
        [INFO_CODE],
    )
    .unwrap();
    drop(conn);
    let third = export(&c.config, &posts, &[]);
    third.assert_code(0);
    assert!(
        third.stderr.contains("1 posts written, 0 unchanged"),
        "{}",
        third.diag()
    );
    let text = std::fs::read_to_string(posts.join(POST)).unwrap();
    assert!(
        text.contains("\ntitle: \"工信部：二季度工业经济稳增长有四大举措\"\n"),
        "{text}"
    );
    assert_ne!(
        std::fs::metadata(posts.join(POST)).unwrap().modified().unwrap(),
        old
    );
    assert_eq!(
        files(&posts),
        vec![POST.to_string()],
        "no temporary file left behind"
    );
}

#[test]
fn templates_from_the_config_and_source_and_since_filters() {
    let c = crawl_reference(
        "\n[export.jekyll]\nlayout = \"article\"\ncategories = \"{{ media_pinyin }} {{ category }}\"\n\
         tags = \"{{ tags | join(' ') }} {{ info_code }}\"\n\
         footer = \"来源：{{ media }}｜{{ categories }}｜{{ sources | join(',') }}\"\n",
    );
    let posts = c.dir.path().join("posts");
    let out = export(
        &c.config,
        &posts,
        &["--source", "em-share", "--since", "2022-04-19"],
    );
    let _diag = out.on_panic();
    out.assert_code(0);
    let text = std::fs::read_to_string(posts.join(POST)).unwrap();
    assert!(text.starts_with("---\nlayout: article\n"), "{text}");
    assert!(
        text.contains("\ncategories: zhengquanribaowang zhengquanribaowang\ntags: 证券日报网新闻 NW202204192348095567\n---\n"),
        "{text}"
    );
    assert!(
        text.ends_with(&format!(
            "\n\n<{SHARE_URL}>\n\n来源：证券日报网｜zhengquanribaowang zhengquanribaowang｜em-share"
        )),
        "{text}"
    );

    // Published 2022-04-19 12:22:44 +08:00: not since 2022-04-20 (Asia/Shanghai), and
    // not since 12:23 that day.
    for since in ["2022-04-20", "2022-04-19T12:22:45+08:00"] {
        let later = c.dir.path().join(format!("later-{}", since.len()));
        let out = export(&c.config, &later, &["--since", since]);
        out.assert_code(0);
        assert_eq!(files(&later), Vec::<String>::new(), "--since {since}");
    }
    let exact = c.dir.path().join("exact");
    export(&c.config, &exact, &["--since", "2022-04-19 12:22:44"]).assert_code(0);
    assert_eq!(files(&exact), vec![POST.to_string()]);
}

/// An article stored without the crawler (the test writes the row): YAML specials in
/// titles, and the default categories and tags of an article without a source category.
fn insert(conn: &rusqlite::Connection, id: i64, title: &str, media: Option<&str>, category: Option<&str>) {
    conn.execute(
        "INSERT INTO articles (id, dedup_key, title, url, published_at, published_local, media, category,
                               tags, content_html, content_text, first_seen_at, last_seen_at)
         VALUES (?1, 'url:' || ?1, ?2, 'https://example.org/a/' || ?1, '2024-01-31T16:30:00Z',
                 '2024-02-01T00:30:00+08:00', ?3, ?4, '[\"a\",\"b\"]', '<p>正文</p>', '正文',
                 '2024-02-01T00:31:00Z', '2024-02-01T00:31:00Z')",
        rusqlite::params![id, title, media, category],
    )
    .unwrap();
}

#[test]
fn yaml_specials_in_titles_and_default_categories() {
    let dir = tempdir();
    let mut cfg = base_config();
    cfg.push_str("\n[export.jekyll]\ncategory_map = { \"东方财富网\" = \"eastmoney\" }\n");
    let config = write_config(dir.path(), &cfg);
    run(&config, &["migrate"]).assert_code(0);
    let conn = open_db(&db_path(dir.path()));
    let titles = [
        r#"He said "buy": 50% #1 \ not a path"#,
        "- starts like a list item",
        "#hashtag: colon space",
        "'single' and [brackets] {braces} & *star",
        "true",
    ];
    for (i, t) in titles.iter().enumerate() {
        insert(&conn, 10 + i as i64, t, Some("长江商报"), None);
    }
    insert(&conn, 20, "映射", Some("东方财富网"), None);
    insert(&conn, 21, "来源分类", Some("东方财富网"), Some("hk"));
    insert(&conn, 22, "no media", None, None);
    drop(conn);

    let posts = dir.path().join("posts");
    let out = export(&config, &posts, &[]);
    let _diag = out.on_panic();
    out.assert_code(0);
    assert_eq!(files(&posts).len(), 8, "{:?}", files(&posts));

    let front = |id: i64| -> yaml_rust2::Yaml {
        let name = format!("2024-02-01-{id}.md");
        let text = std::fs::read_to_string(posts.join(&name)).unwrap();
        let body = text.strip_prefix("---\n").expect("front matter opens");
        let (yaml, _) = body.split_once("\n---\n").expect("front matter closes");
        let docs = yaml_rust2::YamlLoader::load_from_str(yaml)
            .unwrap_or_else(|e| panic!("{name}: front matter is not YAML: {e}\n{yaml}"));
        docs.into_iter().next().expect("one YAML document")
    };
    for (i, t) in titles.iter().enumerate() {
        let doc = front(10 + i as i64);
        assert_eq!(doc["title"].as_str(), Some(*t), "title of {t:?}");
        assert_eq!(doc["layout"].as_str(), Some("post"));
        assert_eq!(doc["date"].as_str(), Some("2024-02-01 00:30:00 +0800"));
        // No source category: the pinyin of the outlet (长: its common reading, cháng).
        assert_eq!(doc["categories"].as_str(), Some("changjiangshangbao"));
        assert_eq!(doc["tags"].as_str(), Some("长江商报新闻"));
    }
    assert_eq!(
        front(20)["categories"].as_str(),
        Some("eastmoney"),
        "category_map"
    );
    assert_eq!(
        front(21)["categories"].as_str(),
        Some("hk"),
        "the source's category first"
    );
    // No media: the article's own tags.
    assert_eq!(front(22)["tags"].as_str(), Some("a b"));
    let text = std::fs::read_to_string(posts.join("2024-02-01-22.md")).unwrap();
    assert!(
        text.ends_with("<p>正文</p>\n\n<https://example.org/a/22>\n\n[返回a b](//finews.withounder.com/category/.html)｜[返回首页](//finews.withounder.com/)"),
        "{text}"
    );
}

#[test]
fn errors_name_the_problem_and_exit_as_the_contract_says() {
    let dir = tempdir();
    let mut cfg = base_config();
    cfg.push_str("\n[export.jekyll]\nfooter = \"{{ media \"\n");
    let config = write_config(dir.path(), &cfg);
    // Same folder, same database, no broken template.
    let good = write_config_named(dir.path(), "good.toml", &base_config());
    run(&good, &["migrate"]).assert_code(0);
    let conn = open_db(&db_path(dir.path()));
    insert(&conn, 1, "t", Some("m"), None);
    drop(conn);
    let posts = dir.path().join("posts");

    let out = run(&good, &["export", "--format", "yaml", "--out", "x"]);
    out.assert_code(2);
    assert!(out.stderr.contains("yaml"), "{}", out.diag());

    let out = export(&good, &posts, &["--since", "last tuesday"]);
    out.assert_code(2);
    assert!(
        out.stderr.contains("--since \"last tuesday\" is not a date"),
        "{}",
        out.diag()
    );

    let out = export(&good, &posts, &["--source", "nope"]);
    out.assert_code(2);
    assert!(
        out.stderr.contains("--source \"nope\": no source of that name"),
        "{}",
        out.diag()
    );

    // A template that does not parse is a config error: `check` (and every command) names
    // file, line and key.
    let out = export(&config, &posts, &[]);
    out.assert_code(2);
    assert!(out.stderr.contains("footer"), "{}", out.diag());
    let check = run(&config, &["check"]);
    check.assert_code(2);
    assert!(check.stderr.contains("feedcrawler.toml:"), "{}", check.diag());
    assert!(check.stderr.contains("footer"), "{}", check.diag());
    assert!(
        check.stderr.contains("template does not parse"),
        "{}",
        check.diag()
    );
    // One that parses but fails to render (an unknown filter) is reported by export.
    let filter_cfg = format!(
        "{}\n[export.jekyll]\ntags = \"{{{{ media | nosuchfilter }}}}\"\n",
        base_config()
    );
    let bad_filter = write_config_named(dir.path(), "filter.toml", &filter_cfg);
    let out = export(&bad_filter, &posts, &[]);
    out.assert_code(2);
    assert!(out.stderr.contains("[export.jekyll] tags in"), "{}", out.diag());

    // A file where the folder should be: a runtime failure (1) naming the path.
    let blocker = dir.path().join("a-file");
    std::fs::write(&blocker, "x").unwrap();
    let out = export(&good, &blocker.join("posts"), &[]);
    out.assert_code(1);
    assert!(out.stderr.contains("cannot write"), "{}", out.diag());
    assert!(out.stderr.contains("a-file"), "{}", out.diag());

    let out = run(&good, &["export", "--format", "jekyll", "--out", "-"]);
    out.assert_code(2);
    assert!(out.stderr.contains("--out must be a folder"), "{}", out.diag());
}
