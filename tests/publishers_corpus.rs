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
//!
//! Expected values come from the independent oracle
//! (`tests/fixtures/finews/expected/posts.json`, written once by `oracle.py`
//! with html5lib/BeautifulSoup/PyYAML), and for four posts also from values
//! written down by hand from the post ([`HAND`]).

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

/// Values written down by hand from four posts (read in the post file, not
/// computed): a second check, independent of the oracle too.
struct Hand {
    file: &'static str,
    title: &'static str,
    published_at: &'static str,
    /// The stored outlet: the body's `（文章来源：X）`, else the column's.
    media: &'static str,
    first_line: &'static str,
    last_line: &'static str,
    lines: usize,
}

const HAND: [Hand; 4] = [
    // Outlet inside stock-link spans: `（文章来源：<span…><a…>证券</a></span><span…></span>时报）`;
    // a hidden `<p style="display:none"><br /></p>` and a K-line image paragraph
    // before the text; the `> …` digest is the summary, not the body.
    Hand {
        file: "old_post/2022-01-21-202201212257099936.md",
        title: "昇兴股份：2021年净利同比预增1117%-1233%",
        published_at: "2022-01-21T10:05:40Z",
        media: "证券时报",
        first_line: "昇兴股份(002752)1月21日晚间公告，预计2021年净利1.66亿元-1.82亿元，同比增1116.9%-1232.73%。\
                     上年同期，公司盈利1364.12万元。公司主要产品的市场需求和订单同比大幅增长，并已超过正常年份平均水平，\
                     尤其是新增能量饮料客户，订单增长态势显著，从而带动了公司制罐与灌装主营业务双增长；\
                     公司高端铝瓶项目的市场开拓取得了突破性进展，处于产能持续释放阶段。",
        last_line: "（文章来源：证券时报）",
        lines: 2,
    },
    // Two hidden paragraphs and two K-line images, then 每经AI快讯.
    Hand {
        file: "old_post/2022-02-11-NW202202112274017262.md",
        title: "潍柴动力：巴拉德和锡里斯不纳入合并财务报表范围",
        published_at: "2022-02-11T06:29:25Z",
        media: "每日经济新闻",
        first_line: "每经AI快讯，有投资者在投资者互动平台提问：海外市场波动，公司控股参股公司，\
                     比如凯傲，巴拉德，ceres，法拉蒂，对公司的业绩以及后续发展有怎样的影响？",
        last_line: "（文章来源：每日经济新闻）",
        lines: 3,
    },
    // One `<p>` per paragraph, `<strong>` subheads as their own lines.
    Hand {
        file: "old_post/2022-01-07-202201072239307540.md",
        title: "资管圈风向又变！雪球结构产品再迎强监管 信托公司雪球发行被叫停 影响多大？",
        published_at: "2022-01-07T00:14:19Z",
        media: "券商中国",
        first_line: "资管新规刚刚迈入落地元年，去年在资管圈风靡了一年的“雪球结构产品”就再次迎来强监管。",
        last_line: "（文章来源：券商中国）",
        lines: 40,
    },
    // A one-line rolling-news item with no markup and no outlet line: the
    // column's mediaName is the outlet.
    Hand {
        file: "old_post/2021-12-08-202112082206672930.md",
        title: "离岸人民币兑美元升至2018年以来最高水平",
        published_at: "2021-12-08T02:46:18Z",
        media: COLUMN_MEDIA,
        first_line: "离岸人民币兑美元升至6.3512，为2018年以来最高水平。",
        last_line: "离岸人民币兑美元升至6.3512，为2018年以来最高水平。",
        lines: 1,
    },
];

/// The oracle agrees with the values written by hand (no binary needed).
#[test]
fn the_oracle_agrees_with_the_hand_written_values() {
    for h in &HAND {
        let want = expected(h.file);
        assert_eq!(want.title_collapsed, h.title, "{}: title", h.file);
        assert_eq!(
            want.published_at.as_deref(),
            Some(h.published_at),
            "{}: published_at",
            h.file
        );
        assert_eq!(
            want.outlet.as_deref().unwrap_or(COLUMN_MEDIA),
            h.media,
            "{}: outlet",
            h.file
        );
        assert_eq!(
            want.text.first().map(String::as_str),
            Some(h.first_line),
            "{}: first line",
            h.file
        );
        assert_eq!(
            want.text.last().map(String::as_str),
            Some(h.last_line),
            "{}: last line",
            h.file
        );
        assert_eq!(want.text.len(), h.lines, "{}: lines", h.file);
    }
}

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
        posts.iter().filter(|p| expected_media(&p.file).is_some()).count(),
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
        let want = expected(&p.file);
        soft.eq(a.title.as_str(), want.title_collapsed.as_str(), &what("title"));
        soft.eq(
            a.published_at.clone(),
            want.published_at.clone(),
            &what("published_at"),
        );
        soft.eq(
            a.published_local.clone(),
            want.published_local.clone(),
            &what("published_local"),
        );
        let media = want.outlet.clone().unwrap_or_else(|| COLUMN_MEDIA.to_string());
        soft.eq(a.media.as_deref(), Some(media.as_str()), &what("media"));
        soft.check(!want.text.is_empty(), || format!("{} has body text", p.file));
        let got: Vec<&str> = a.content_text.as_deref().unwrap_or("").lines().collect();
        soft.eq(
            got,
            want.text.iter().map(String::as_str).collect(),
            &what("content_text lines"),
        );
        if let Some(h) = HAND.iter().find(|h| h.file == p.file) {
            let text = a.content_text.as_deref().unwrap_or("");
            soft.eq(a.title.as_str(), h.title, &what("title (by hand)"));
            soft.eq(
                a.published_at.as_deref(),
                Some(h.published_at),
                &what("published_at (by hand)"),
            );
            soft.eq(a.media.as_deref(), Some(h.media), &what("media (by hand)"));
            soft.eq(
                text.lines().next(),
                Some(h.first_line),
                &what("first line (by hand)"),
            );
            soft.eq(
                text.lines().last(),
                Some(h.last_line),
                &what("last line (by hand)"),
            );
            soft.eq(text.lines().count(), h.lines, &what("line count (by hand)"));
        }
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
