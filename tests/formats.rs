//! The four feed formats, each through `feedcrawler once` against a local
//! server: RSS 2.0 in GBK (declared in the XML, or only in the HTTP header),
//! Atom with `+08:00` dates, JSON Feed 1.1 and RSS 1.0 (RDF, `dc:date`).
//! Titles, links and UTC / local dates are asserted exactly.

mod support;

use support::*;

/// One expected article: title, url, published_at (UTC), published_local.
struct Expect {
    title: &'static str,
    url: &'static str,
    published_at: &'static str,
    published_local: &'static str,
    info_code: Option<&'static str>,
}

/// Runs one `once` over a single feed source served at `/feed` by `route`
/// and returns the run's output and the database connection.
fn crawl_one(route: Route) -> (Output, rusqlite::Connection, tempfile::TempDir, TestServer) {
    let server = TestServer::start();
    server.set("/feed", route);
    let dir = tempdir();
    let mut cfg = base_config();
    cfg.push_str(&feed_source(
        "feed",
        &server.url("/feed"),
        "zhengquanribaowang",
        &["证券日报网新闻"],
    ));
    let config = write_config(dir.path(), &cfg);
    let out = run_once(&config);
    out.assert_code(0);
    assert!(
        !server.requests_for("/feed").is_empty(),
        "the feed was never requested\n{}",
        out.diag()
    );
    let conn = open_db(&db_path(dir.path()));
    (out, conn, dir, server)
}

fn check(conn: &rusqlite::Connection, out: &Output, expected: &[Expect]) {
    let all = articles(conn);
    assert_eq!(
        all.len(),
        expected.len(),
        "article count; stored titles: {:?}\n{}",
        titles(conn),
        out.diag()
    );
    for e in expected {
        let a = article_by_title(conn, e.title).unwrap_or_else(|| {
            panic!(
                "no article titled {:?}; stored titles: {:?}\n{}",
                e.title,
                titles(conn),
                out.diag()
            )
        });
        assert_eq!(a.url.as_deref(), Some(e.url), "url of {:?}", e.title);
        assert_eq!(
            a.published_at.as_deref(),
            Some(e.published_at),
            "published_at of {:?}",
            e.title
        );
        assert_eq!(
            a.published_local.as_deref(),
            Some(e.published_local),
            "published_local of {:?}",
            e.title
        );
        assert_eq!(a.info_code.as_deref(), e.info_code, "info_code of {:?}", e.title);
        match e.info_code {
            Some(code) => assert_eq!(a.dedup_key, format!("info:{code}")),
            None => assert!(
                a.dedup_key.starts_with("url:"),
                "dedup_key of {:?} should be url:…, is {:?}",
                e.title,
                a.dedup_key
            ),
        }
        assert_eq!(a.category.as_deref(), Some("zhengquanribaowang"));
        let tags = tags_of(&a);
        assert_eq!(
            tags.first().map(String::as_str),
            Some("证券日报网新闻"),
            "tags of {:?} start with the source's tags: {tags:?}",
            e.title
        );
        assert_eq!(a.revision, 1, "revision of a fresh article");
    }
}

const GBK_EXPECTED: &[Expect] = &[
    Expect {
        title: "长春发布若干政策措施支持市场主体纾困促进经济恢复发展",
        url: "http://finance.eastmoney.com/a/202204212352230938.html",
        published_at: "2022-04-21T10:36:14Z",
        published_local: "2022-04-21T18:36:14+08:00",
        info_code: Some("NW202204212352230938"),
    },
    Expect {
        title: "潍柴动力：巴拉德和锡里斯不纳入合并财务报表范围",
        url: "http://finance.eastmoney.com/a/202202112274017262.html",
        published_at: "2022-02-11T06:29:25Z",
        published_local: "2022-02-11T14:29:25+08:00",
        info_code: Some("NW202202112274017262"),
    },
    Expect {
        title: "昇兴股份：2021年净利同比预增1117%-1233%",
        url: "http://finance.eastmoney.com/a/202201212257099936.html",
        published_at: "2022-01-21T10:05:40Z",
        published_local: "2022-01-21T18:05:40+08:00",
        info_code: Some("NW202201212257099936"),
    },
    Expect {
        title: "“股王”茅台重回2000元关口！酿酒板块多股大涨 北上资金“扫货” 大行情要来？",
        url: "http://finance.eastmoney.com/news/1344,202112082206928461.html",
        published_at: "2021-12-08T04:41:23Z",
        published_local: "2021-12-08T12:41:23+08:00",
        info_code: Some("NW202112082206928461"),
    },
];

fn gbk_fixture() -> Vec<u8> {
    let bytes = fixture("rss2_gbk.xml");
    assert!(
        std::str::from_utf8(&bytes).is_err(),
        "rss2_gbk.xml must hold GBK bytes, not UTF-8"
    );
    let (text, _, had_errors) = encoding_rs::GBK.decode(&bytes);
    assert!(!had_errors, "rss2_gbk.xml is not valid GBK");
    assert!(text.starts_with("<?xml version=\"1.0\" encoding=\"GBK\"?>"));
    bytes
}

fn check_gbk_media(conn: &rusqlite::Connection) {
    let a = article_by_title(conn, GBK_EXPECTED[0].title).unwrap();
    assert_eq!(
        a.media.as_deref(),
        Some("财联社"),
        "media from （文章来源：财联社）"
    );
    let text = a.content_text.unwrap_or_default();
    assert!(
        text.contains("长春发布《关于支持市场主体纾困促进经济恢复发展的若干政策措施》"),
        "content_text decoded from GBK: {text:?}"
    );
    let b = article_by_title(conn, GBK_EXPECTED[1].title).unwrap();
    assert_eq!(b.media.as_deref(), Some("每日经济新闻"));
}

#[test]
fn rss2_gbk_declared_in_xml() {
    // The XML declaration says GBK; the HTTP header names no charset.
    let route = Route::ok("application/rss+xml", gbk_fixture());
    let (out, conn, _dir, _server) = crawl_one(route);
    let _diag = out.on_panic();
    check(&conn, &out, GBK_EXPECTED);
    check_gbk_media(&conn);
}

#[test]
fn rss2_gbk_declared_only_in_http_header() {
    // No XML declaration at all; only `charset=GBK` in Content-Type.
    let bytes = gbk_fixture();
    let decl = b"<?xml version=\"1.0\" encoding=\"GBK\"?>\n";
    assert!(bytes.starts_with(decl));
    let body = bytes[decl.len()..].to_vec();
    let route = Route::ok("application/rss+xml; charset=GBK", body);
    let (out, conn, _dir, _server) = crawl_one(route);
    let _diag = out.on_panic();
    check(&conn, &out, GBK_EXPECTED);
    check_gbk_media(&conn);
}

#[test]
fn atom_with_plus_0800_offsets() {
    let route = Route::atom(fixture("atom.xml"));
    let (out, conn, _dir, _server) = crawl_one(route);
    let _diag = out.on_panic();
    check(
        &conn,
        &out,
        &[
            Expect {
                // The fixture's title spans two lines with indentation:
                // whitespace is collapsed.
                title: "港股午评：恒指微跌 苹果概念股走强比亚迪电子涨逾5%",
                url: "http://finance.eastmoney.com/news/1353,202112082206885586.html",
                published_at: "2021-12-08T04:07:59Z",
                published_local: "2021-12-08T12:07:59+08:00",
                info_code: Some("NW202112082206885586"),
            },
            Expect {
                title: "外资杀入A股！高景气度军工全产业链上涨 新能源风口依旧",
                url: "http://finance.eastmoney.com/news/11158,202112082206907056.html",
                published_at: "2021-12-08T04:35:24Z",
                published_local: "2021-12-08T12:35:24+08:00",
                info_code: Some("NW202112082206907056"),
            },
            Expect {
                title: "格力电器因专利侵权被判赔偿奥克斯1.67亿元",
                url: "http://finance.eastmoney.com/news/1354,202112082207114079.html",
                published_at: "2021-12-08T06:57:03Z",
                published_local: "2021-12-08T14:57:03+08:00",
                info_code: Some("NW202112082207114079"),
            },
        ],
    );
    let a = article_by_title(&conn, "港股午评：恒指微跌 苹果概念股走强比亚迪电子涨逾5%").unwrap();
    assert_eq!(a.updated_at.as_deref(), Some("2021-12-08T04:10:00Z"));
    // Sanitized: the entry's <script> and onclick are gone, paragraphs stay.
    let html = a.content_html.clone().unwrap_or_default();
    assert!(html.contains("<p"), "paragraphs kept: {html}");
    assert!(!html.to_lowercase().contains("<script"), "script removed: {html}");
    assert!(!html.contains("emTrack"), "script text removed: {html}");
    assert!(
        !html.to_lowercase().contains("onclick"),
        "event handler removed: {html}"
    );
    let text = a.content_text.clone().unwrap_or_default();
    assert!(text.contains("比亚迪电子涨逾5%"), "content_text: {text}");
    assert!(!text.contains("<p"), "content_text is plain text: {text}");
    // Tags: the source's, then the entry's categories.
    assert_eq!(
        tags_of(&a),
        vec!["证券日报网新闻".to_string(), "港股".to_string()]
    );
    let b = article_by_title(&conn, "外资杀入A股！高景气度军工全产业链上涨 新能源风口依旧").unwrap();
    assert!(
        b.summary
            .as_deref()
            .unwrap_or("")
            .starts_with("今日早盘，A股全线走强"),
        "summary from <summary>: {:?}",
        b.summary
    );
}

#[test]
fn json_feed_1_1() {
    let route = Route::json_feed(fixture("feed.json"));
    let (out, conn, _dir, _server) = crawl_one(route);
    let _diag = out.on_panic();
    check(
        &conn,
        &out,
        &[
            Expect {
                title: "什么信号？海外中国ETF重现强劲流入 机构发话：增持时机已到！",
                url: "http://finance.eastmoney.com/a/202205292395438077.html",
                published_at: "2022-05-29T13:00:08Z",
                published_local: "2022-05-29T21:00:08+08:00",
                info_code: Some("NW202205292395438077"),
            },
            Expect {
                title: "消费电子股大爆发！旺季迎来需求复苏 业绩兑现成关键 关注电子板块两主线",
                url: "http://finance.eastmoney.com/a/202205312398034850.html",
                published_at: "2022-05-31T10:03:41Z",
                published_local: "2022-05-31T18:03:41+08:00",
                info_code: Some("NW202205312398034850"),
            },
            Expect {
                title: "在岸人民币兑美元升至2018年5月以来新高 现报6.3565",
                url: "https://www.cls.cn/detail/912345",
                published_at: "2021-12-08T02:45:29Z",
                published_local: "2021-12-08T10:45:29+08:00",
                info_code: None,
            },
        ],
    );
    let a = article_by_title(
        &conn,
        "什么信号？海外中国ETF重现强劲流入 机构发话：增持时机已到！",
    )
    .unwrap();
    assert_eq!(a.media.as_deref(), Some("中国基金报"));
    let b = article_by_title(
        &conn,
        "消费电子股大爆发！旺季迎来需求复苏 业绩兑现成关键 关注电子板块两主线",
    )
    .unwrap();
    assert_eq!(b.updated_at.as_deref(), Some("2022-05-31T10:10:00Z"));
    assert_eq!(b.media.as_deref(), Some("财联社"));
}

#[test]
fn rss1_rdf_with_dc_date() {
    let route = Route::ok("application/rdf+xml; charset=utf-8", fixture("rss1_rdf.xml"));
    let (out, conn, _dir, _server) = crawl_one(route);
    let _diag = out.on_panic();
    check(
        &conn,
        &out,
        &[
            Expect {
                // Written with numeric character references in the fixture.
                title: "《咬文嚼字》发布2021十大流行语：碳达峰、碳中和、元宇宙等入选",
                url: "http://finance.eastmoney.com/news/1345,202112082207025439.html",
                published_at: "2021-12-08T05:51:44Z",
                published_local: "2021-12-08T13:51:44+08:00",
                info_code: Some("NW202112082207025439"),
            },
            Expect {
                title: "提前抄底？南向资金连续第10日净流入！来看看都买了哪些股？（附名单）",
                url: "http://hk.eastmoney.com/news/11382,202112082207150622.html",
                published_at: "2021-12-08T07:19:24Z",
                published_local: "2021-12-08T15:19:24+08:00",
                info_code: Some("NW202112082207150622"),
            },
            Expect {
                title: "里昂：下调港交所(00388.HK)目标价至574港元",
                url: "http://hk.eastmoney.com/news/1533,202112082206736819.html",
                published_at: "2021-12-08T02:39:49Z",
                published_local: "2021-12-08T10:39:49+08:00",
                info_code: Some("NW202112082206736819"),
            },
        ],
    );
}
