//! Twenty real East Money articles from the finews corpus
//! (`tests/fixtures/finews/posts`) served the way East Money serves them: a
//! JSON news column (`code`, `title`, `showTime`, `mediaName`, `summary`) and a
//! detail endpoint (`GetNewsText.do?id=NW…`) whose `/data/text` is the post's
//! article HTML (CONTRACT §2 `type = "json"`, `detail_url`, `detail_content`;
//! §6 merge rules). Every stored title, time, outlet and first paragraph equals
//! the post's; each detail is requested once, and never again by a later run.
//!
//! The corpus has only six distinct articles whose body carries a
//! `（文章来源：X）` line with a real date; they are all here, with fourteen
//! rolling-news posts that name no outlet. The column's `mediaName` is
//! `东方财富网` for every item: the body's line must win over it (§6 *Media*),
//! and where there is no line it is the outlet.

mod support;

use serde_json::json;
use support::*;

const POSTS: [&str; 20] = [
    // With a `（文章来源：X）` line (X inside stock-link spans for 2022-01-21).
    "_posts/2022-05-29-NW202205292395438077.md",
    "_posts/2022-05-31-NW202205312398034850.md",
    "old_post/2022-01-07-202201072239307540.md",
    "old_post/2022-01-21-202201212257099936.md",
    "old_post/2022-02-11-NW202202112274017262.md",
    "old_post/2022-04-21-202204212352230938.md",
    // Rolling news naming no outlet.
    "old_post/2021-12-08-202112082206672930.md",
    "old_post/2021-12-08-202112082206703990.md",
    "old_post/2021-12-08-202112082206718253.md",
    "old_post/2021-12-08-202112082206734275.md",
    "old_post/2021-12-08-202112082206736335.md",
    "old_post/2021-12-08-202112082206748961.md",
    "old_post/2021-12-08-202112082206761079.md",
    "old_post/2021-12-08-202112082206777086.md",
    "old_post/2021-12-08-202112082206786275.md",
    "old_post/2021-12-08-202112082206797286.md",
    "old_post/2021-12-08-202112082206803113.md",
    "old_post/2021-12-08-202112082206864571.md",
    "old_post/2021-12-08-202112082206884861.md",
    "old_post/2021-12-08-202112082206885694.md",
];

const COLUMN_MEDIA: &str = "东方财富网";
const LIST_PATH: &str = "/comm/web/getNewsByColumns";
const DETAIL_PATH: &str = "/NewsData/GetNewsText.do";

fn posts() -> Vec<CorpusPost> {
    let all = corpus_files();
    POSTS
        .iter()
        .map(|f| {
            assert!(all.iter().any(|a| a == f), "{f} is in the corpus");
            corpus_post(f)
        })
        .collect()
}

fn detail_path(post: &CorpusPost) -> String {
    format!("{DETAIL_PATH}?id={}", post.info_code())
}

fn column(posts: &[CorpusPost]) -> String {
    let list: Vec<serde_json::Value> = posts
        .iter()
        .map(|p| {
            let mut item = json!({
                "code": p.id.as_deref().unwrap(),
                "title": p.title,
                "showTime": p.show_time(),
                "mediaName": COLUMN_MEDIA,
                "image": "",
            });
            if let Some(d) = &p.digest {
                item["summary"] = json!(d);
            }
            item
        })
        .collect();
    json!({"re": true, "data": {"list": list, "page_index": 1, "page_size": 50}}).to_string()
}

#[test]
fn twenty_corpus_posts_through_a_json_column_and_its_detail_endpoint() {
    let posts = posts();
    let mut codes: Vec<String> = posts.iter().map(CorpusPost::info_code).collect();
    codes.sort();
    codes.dedup();
    assert_eq!(codes.len(), 20, "twenty distinct articles");
    assert_eq!(
        posts.iter().filter(|p| media_line(&p.body).is_some()).count(),
        6,
        "six posts name their outlet in a （文章来源：X） line"
    );

    let server = TestServer::start();
    server.set(
        LIST_PATH,
        Route::ok("application/json; charset=utf-8", column(&posts)),
    );
    for p in &posts {
        server.set(
            detail_path(p),
            Route::ok(
                "application/json; charset=utf-8",
                json!({"re": true, "data": {"id": p.info_code(), "text": p.body}}).to_string(),
            ),
        );
    }
    let dir = tempdir();
    let mut cfg =
        publisher_config("[share]\nresolve = []\nallow_hosts = [\"127.0.0.1\"]\nfollow_discovered = true\n");
    cfg.push_str(&format!(
        r#"
[[source]]
name = "em-column-350"
type = "json"
url = {url:?}
category = "emnews"
items = "/data/list"
fields = {{ info_code = "/code", title = "/title", published = "/showTime", media = "/mediaName", summary = "/summary" }}
detail_url = {detail:?}
detail_content = "/data/text"
timezone = "Asia/Shanghai"
"#,
        url = server.url(&format!("{LIST_PATH}?column=350&page_size=50")),
        detail = server.url(&format!("{DETAIL_PATH}?id={{info_code}}")),
    ));
    let config = write_config(dir.path(), &cfg);
    let out = run_once(&config);
    let _diag = out.on_panic();
    out.assert_code(0);
    let conn = open_db(&db_path(dir.path()));
    let mut soft = Soft::new();

    soft.eq(
        count(&conn, "articles"),
        20,
        &format!("one article per post: {:?}", titles(&conn)),
    );
    soft.eq(server.requests_for(LIST_PATH).len(), 1, "list requests");
    for p in &posts {
        let code = p.info_code();
        let what = |field: &str| format!("{field} of {} ({code})", p.file);
        soft.eq(
            server.requests_for(&detail_path(p)).len(),
            1,
            &what("detail requests"),
        );
        let Some(a) = article_by_code(&conn, &code) else {
            soft.check(false, || format!("an article for {} ({code})", p.file));
            continue;
        };
        let title = p.title.split_whitespace().collect::<Vec<_>>().join(" ");
        soft.eq(a.title.as_str(), title.as_str(), &what("title"));
        soft.eq(
            a.published_at.clone(),
            Some(p.published_at()),
            &what("published_at"),
        );
        soft.eq(
            a.published_local.clone(),
            Some(p.date.to_rfc3339()),
            &what("published_local"),
        );
        let media = media_line(&p.body).unwrap_or_else(|| COLUMN_MEDIA.to_string());
        soft.eq(a.media.as_deref(), Some(media.as_str()), &what("media"));
        let want = text_lines(&p.body);
        soft.check(!want.is_empty(), || format!("{} has body text", p.file));
        let got: Vec<&str> = a.content_text.as_deref().unwrap_or("").lines().collect();
        soft.eq(
            got.first().copied(),
            want.first().map(String::as_str),
            &what("first paragraph"),
        );
        soft.eq(
            got.len(),
            want.len(),
            &format!("{}: {got:#?}", what("paragraph count")),
        );
        soft.eq(a.summary.clone(), p.digest.clone(), &what("summary"));
        soft.eq(a.category.as_deref(), Some("emnews"), &what("category"));
        soft.eq(
            sighting_sources(&conn, a.id),
            vec!["em-column-350".to_string()],
            &what("sightings"),
        );
    }
    drop(conn);

    // A second run: the list again, no detail again.
    let again = run_once(&config);
    let _diag2 = again.on_panic();
    again.assert_code(0);
    soft.eq(
        server.requests_for(LIST_PATH).len(),
        2,
        "list requests after two runs",
    );
    let details = server
        .requests()
        .iter()
        .filter(|r| r.path() == DETAIL_PATH)
        .count();
    soft.eq(details, 20, "detail requests after two runs (one per code)");
    let conn = open_db(&db_path(dir.path()));
    soft.eq(count(&conn, "articles"), 20, "articles after two runs");
    soft.finish();
}
