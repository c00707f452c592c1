//! Per-source filters (`[[source]] include` / `exclude`), against the real binary: a feed
//! and a JSON list with hand-written items; only the entries the filters keep are stored,
//! the others are counted in the list fetch's `entries_skipped` / `skip_reason`, and
//! `check` lists the filters.

mod support;

use serde_json::json;
use support::*;

/// An RSS 2.0 feed of `(title, summary, outlet)` items, the outlet as `dc:creator`.
fn feed(items: &[(&str, &str, &str)]) -> String {
    let mut s = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rss version=\"2.0\" \
         xmlns:dc=\"http://purl.org/dc/elements/1.1/\"><channel><title>t</title>\
         <link>http://example.org/</link><description>d</description>\n",
    );
    for (i, (title, summary, outlet)) in items.iter().enumerate() {
        s.push_str(&format!(
            "<item><title>{title}</title><link>http://news.example.org/a/{i}.html</link>\
             <guid isPermaLink=\"false\">item-{i}</guid><dc:creator>{outlet}</dc:creator>\
             <pubDate>Tue, 19 Apr 2022 12:22:44 +0800</pubDate><description>{summary}</description></item>\n"
        ));
    }
    s.push_str("</channel></rss>\n");
    s
}

/// The hand-written items: which the filters below keep is written in each comment.
const ITEMS: &[(&str, &str, &str)] = &[
    // kept: `A股` in the title
    ("A股三大指数集体收涨", "沪指涨1%，成交额放大。", "新华社"),
    // kept: `证券` in the outlet
    (
        "央行开展逆回购操作",
        "公开市场操作维持流动性合理充裕。",
        "证券日报",
    ),
    // kept: `证券` in the summary
    ("午后市场观察", "证券板块午后走强，券商股领涨。", "财联社"),
    // dropped: nothing included
    ("美联储议息会议前瞻", "海外市场关注加息节奏。", "华尔街见闻"),
    // dropped: included by `A股`, excluded by `广告`
    ("A股开户广告：新客送好礼", "限时活动。", "某券商"),
    // kept: `(?i)ipo` matches `IPO`
    ("新股IPO周报", "本周三只新股申购。", "上海证券报"),
    // dropped: `Ipo` does not match the case-sensitive `IPO` exclude, but nothing includes it
    ("Ipo market wrap", "Global listings slow.", "Reuters"),
];

fn filtered_config(server: &TestServer) -> String {
    let mut cfg = base_config();
    cfg.push_str(&feed_source("broad", &server.url("/broad.xml"), "c", &[]));
    cfg.push_str("include = [\"证券\", \"A股\", \"(?i)^新股ipo\"]\nexclude = [\"广告\", \"IPO market\"]\n");
    cfg.push_str(&format!(
        r#"
[[source]]
name = "column"
type = "json"
url = {url:?}
items = "/data/list"
fields = {{ title = "/title", summary = "/summary", media = "/mediaName", url = "/url" }}
exclude = ["(?i)advert", "推广"]
"#,
        url = server.url("/column.json")
    ));
    cfg
}

fn column() -> String {
    let item = |i: u32, title: &str, summary: &str, media: &str| {
        json!({
            "title": title,
            "summary": summary,
            "mediaName": media,
            "url": format!("http://column.example.org/n/{i}.html"),
        })
    };
    json!({"data": {"list": [
        item(1, "两市成交额突破万亿", "市场情绪回暖。", "证券时报"),
        item(2, "ADVERT: open an account", "Sign up today.", "Broker"),
        item(3, "基金发行回暖", "新发基金规模环比增长。", "中国基金报"),
        item(4, "理财课堂", "推广内容。", "某平台"),
    ]}})
    .to_string()
}

/// `(title)` of every stored article, sorted.
fn titles(conn: &rusqlite::Connection) -> Vec<String> {
    let mut stmt = conn
        .prepare("SELECT title FROM articles ORDER BY title")
        .expect("prepare");
    stmt.query_map([], |r| r.get::<_, String>(0))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows")
}

/// `(entries_skipped, skip_reason)` of the fetches of `path`.
fn skipped(conn: &rusqlite::Connection, url: &str) -> Vec<(i64, Option<String>)> {
    let mut stmt = conn
        .prepare("SELECT entries_skipped, skip_reason FROM fetches WHERE url = ?1 ORDER BY id")
        .expect("prepare");
    stmt.query_map([url], |r| Ok((r.get(0)?, r.get(1)?)))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows")
}

#[test]
fn only_the_entries_the_filters_keep_are_stored_and_the_rest_counted() {
    let server = TestServer::start();
    server.set("/broad.xml", Route::rss(feed(ITEMS)));
    server.set("/column.json", Route::ok("application/json", column()));
    let dir = tempdir();
    let config = write_config(dir.path(), &filtered_config(&server));
    let out = run_once(&config);
    let _diag = out.on_panic();
    out.assert_code(0);

    let conn = open_db(&db_path(dir.path()));
    let mut expected = vec![
        "A股三大指数集体收涨",
        "央行开展逆回购操作",
        "午后市场观察",
        "新股IPO周报",
        "两市成交额突破万亿",
        "基金发行回暖",
    ];
    expected.sort();
    assert_eq!(titles(&conn), expected);
    assert_eq!(
        skipped(&conn, &server.url("/broad.xml")),
        vec![(3, Some("filtered out by include/exclude: 3".to_owned()))]
    );
    assert_eq!(
        skipped(&conn, &server.url("/column.json")),
        vec![(2, Some("filtered out by include/exclude: 2".to_owned()))]
    );
}

#[test]
fn check_lists_the_filters() {
    let server = TestServer::start();
    let dir = tempdir();
    let config = write_config(dir.path(), &filtered_config(&server));
    let out = run(&config, &["check"]);
    let _diag = out.on_panic();
    out.assert_code(0);
    let lines: Vec<&str> = out.stdout.lines().collect();
    let broad = lines
        .iter()
        .position(|l| l.starts_with("broad\t"))
        .expect("a line for the source broad");
    assert_eq!(
        lines[broad + 1],
        r#"  include (title, summary, media): "证券", "A股", "(?i)^新股ipo""#
    );
    assert_eq!(
        lines[broad + 2],
        r#"  exclude (title, summary, media): "广告", "IPO market""#
    );
    let column = lines
        .iter()
        .position(|l| l.starts_with("column\t"))
        .expect("a line for the source column");
    assert_eq!(
        lines[column + 1],
        r#"  exclude (title, summary, media): "(?i)advert", "推广""#
    );
    assert_eq!(lines.len(), column + 2, "nothing after the column's filter");
}

/// An article page with a headline, a byline and a few paragraphs.
fn page(title: &str, outlet: &str) -> String {
    format!(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>{title}</title></head><body>\
         <h1>{title}</h1><div class=\"info\">2022-04-19 12:22:44 来源：{outlet}</div>\
         <div class=\"content\"><p>{title}。记者从有关方面获悉，相关工作正在有序推进，各方面反映良好。</p>\
         <p>业内人士表示，下一步将继续加强统筹协调，确保各项措施落到实处，取得更大成效。</p>\
         <p>据介绍，今年以来相关指标总体平稳，部分领域出现积极变化，市场预期逐步改善。</p></div>\
         </body></html>"
    )
}

#[test]
fn share_link_pages_are_filtered_by_their_source() {
    let server = TestServer::start();
    server.set(
        "/a.html",
        Route::ok(
            "text/html; charset=utf-8",
            page("证券市场周报：成交活跃", "证券日报"),
        ),
    );
    server.set(
        "/b.html",
        Route::ok("text/html; charset=utf-8", page("明日天气晴转多云", "气象台")),
    );
    let dir = tempdir();
    let mut cfg = base_config();
    cfg.push_str(&format!(
        "\n[[source]]\nname = \"links\"\ntype = \"share_links\"\nurls = [{:?}, {:?}]\ninclude = [\"证券\"]\n",
        server.url("/a.html"),
        server.url("/b.html")
    ));
    let config = write_config(dir.path(), &cfg);
    let out = run_once(&config);
    let _diag = out.on_panic();
    out.assert_code(0);

    let conn = open_db(&db_path(dir.path()));
    assert_eq!(titles(&conn), vec!["证券市场周报：成交活跃"]);
    let mut stmt = conn
        .prepare("SELECT url, state, last_error FROM share_links ORDER BY url")
        .expect("prepare");
    let links: Vec<(String, String, Option<String>)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows");
    assert_eq!(
        links,
        vec![
            (server.url("/a.html"), "done".to_owned(), None),
            (
                server.url("/b.html"),
                "skipped".to_owned(),
                Some("filtered out by include/exclude".to_owned())
            ),
        ]
    );
    assert_eq!(
        skipped(&conn, &server.url("/b.html")),
        vec![(1, Some("filtered out by include/exclude: 1".to_owned()))]
    );
    assert_eq!(skipped(&conn, &server.url("/a.html")), vec![(0, None)]);
}
