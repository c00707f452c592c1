//! HTML list sources (CONTRACT §2 `type = "html"`, `[[host]] article`; §4
//! charsets; §6 merge rules): a GBK-encoded list page in the style of
//! 证券日报网 with relative links and `YYYY-MM-DD HH:MM` dates. Every item's
//! page is fetched and read — East Money–layout pages by the built-in
//! extractor, a 证券日报网 page (GB2312, on another host) by its `[[host]]
//! article` selectors — and stored with its title, exact time and absolute URL.

mod support;

use support::*;

const LIST_PATH: &str = "/finance/hangyedongtai/";

/// One list item and the page it links to.
struct Case {
    /// The `href` as written in the list (relative, or absolute on `localhost`).
    href: String,
    /// The absolute URL it must resolve to.
    url: String,
    /// The route on the server that answers it.
    path: String,
    list_title: &'static str,
    list_date: &'static str,
    /// The title stored in the end.
    title: &'static str,
    published_at: &'static str,
    published_local: &'static str,
    media: &'static str,
    /// The page body (HTML inside the article container).
    body: String,
    /// The stored `content_text`, written down by hand from `body` (CONTRACT
    /// §3: one line per paragraph, markup dropped).
    text: &'static str,
}

fn p(paragraphs: &[&str]) -> String {
    paragraphs
        .iter()
        .map(|t| format!("<p>{t}</p>"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn cases(server: &TestServer) -> Vec<Case> {
    let zqrb_host = format!("localhost:{}", server.port());
    vec![
        Case {
            href: "/finance/2022-04-19/1.html".into(),
            url: server.url("/finance/2022-04-19/1.html"),
            path: "/finance/2022-04-19/1.html".into(),
            // Cut short in the list; the page has the whole title (§6 *Title*).
            list_title: "证监会：进一步提高上市公司质量…",
            list_date: "2022-04-19 12:22",
            title: "证监会：进一步提高上市公司质量 推动资本市场高质量发展",
            published_at: "2022-04-19T04:22:44Z",
            published_local: "2022-04-19T12:22:44+08:00",
            media: "证券日报网",
            body: p(&[
                "证监会表示，将进一步提高上市公司质量，推动资本市场高质量发展，更好服务实体经济。",
                "<strong>完善上市公司治理</strong>",
                "下一步，证监会将持续完善上市公司治理，压实中介机构责任。",
                "<span class=\"em_media\">（文章来源：证券日报网）</span>",
            ]),
            text: "证监会表示，将进一步提高上市公司质量，推动资本市场高质量发展，更好服务实体经济。\n\
                   完善上市公司治理\n\
                   下一步，证监会将持续完善上市公司治理，压实中介机构责任。\n\
                   （文章来源：证券日报网）",
        },
        Case {
            href: "2.html".into(),
            url: server.url("/finance/hangyedongtai/2.html"),
            path: "/finance/hangyedongtai/2.html".into(),
            list_title: "央行：4月份LPR维持不变",
            list_date: "2022-04-20 09:15",
            title: "央行：4月份LPR维持不变",
            published_at: "2022-04-20T01:15:03Z",
            published_local: "2022-04-20T09:15:03+08:00",
            media: "中国证券网",
            body: p(&[
                "4月20日，1年期LPR为3.7%，5年期以上LPR为4.6%，均与上月持平。",
                "分析人士认为，LPR保持不变符合市场预期。",
                "（文章来源：中国证券网）",
            ]),
            text: "4月20日，1年期LPR为3.7%，5年期以上LPR为4.6%，均与上月持平。\n\
                   分析人士认为，LPR保持不变符合市场预期。\n\
                   （文章来源：中国证券网）",
        },
        Case {
            href: "../news/3.html".into(),
            url: server.url("/finance/news/3.html"),
            path: "/finance/news/3.html".into(),
            list_title: "A股三大指数集体收涨 创业板指涨逾2%",
            // Published at 23:40 Beijing time: still the 19th in UTC, the
            // 19th in Beijing too; the page is more precise (seconds).
            list_date: "2022-04-19 23:40",
            title: "A股三大指数集体收涨 创业板指涨逾2%",
            published_at: "2022-04-19T15:40:10Z",
            published_local: "2022-04-19T23:40:10+08:00",
            media: "财联社",
            body: p(&[
                "沪指涨0.16%，深成指涨0.83%，创业板指涨2.06%。",
                "两市成交额超9000亿元，北向资金净买入逾50亿元。",
                "（文章来源：财联社）",
            ]),
            text: "沪指涨0.16%，深成指涨0.83%，创业板指涨2.06%。\n\
                   两市成交额超9000亿元，北向资金净买入逾50亿元。\n\
                   （文章来源：财联社）",
        },
        Case {
            href: format!("http://{zqrb_host}/zqrb/2022-04-19/4.html"),
            url: format!("http://{zqrb_host}/zqrb/2022-04-19/4.html"),
            path: "/zqrb/2022-04-19/4.html".into(),
            list_title: "多地出台稳外贸措施 助力企业纾困解难",
            list_date: "2022-04-19 14:30",
            title: "多地出台稳外贸措施 助力企业纾困解难",
            published_at: "2022-04-19T06:30:00Z",
            published_local: "2022-04-19T14:30:00+08:00",
            media: "证券日报网",
            body: p(&[
                "近日，多地出台稳外贸措施，助力外贸企业纾困解难。",
                "业内人士表示，稳外贸政策将进一步显效。",
            ]),
            text: "近日，多地出台稳外贸措施，助力外贸企业纾困解难。\n\
                   业内人士表示，稳外贸政策将进一步显效。",
        },
    ]
}

/// The list page, in UTF-8 (the caller encodes it).
fn list_page(cases: &[Case], meta_charset: bool) -> String {
    let mut items = String::new();
    for c in cases {
        items.push_str(&format!(
            "<li><a href=\"{}\" target=\"_blank\">{}</a><span class=\"date\">{}</span></li>\n",
            c.href, c.list_title, c.list_date
        ));
    }
    let meta = if meta_charset {
        "<meta http-equiv=\"Content-Type\" content=\"text/html; charset=gbk\">"
    } else {
        ""
    };
    format!(
        r#"<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN" "http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">
<html><head>{meta}<title>行业动态_证券日报网</title>
<script type="text/javascript" src="/js/jquery.js"></script></head>
<body><div class="nav"><ul><li><a href="/">首页</a></li><li><a href="/finance/">财经</a></li></ul></div>
<div class="listMain"><ul>
{items}<li class="page"><span>下一页</span></li>
</ul></div>
<div class="footer">证券日报网版权所有</div></body></html>
"#
    )
}

/// The 证券日报网 article page, GB2312 as the site serves it.
fn zqrb_page(c: &Case) -> Vec<u8> {
    let html = format!(
        r#"<!DOCTYPE html>
<html><head><meta http-equiv="Content-Type" content="text/html; charset=gb2312">
<title>{title}-证券日报网</title></head>
<body><div class="top"><a href="/">证券日报网首页</a></div>
<div class="news_content"><h1>{title}</h1>
<div class="info_news">{date}　来源：{media}</div><div class="author">作者：张晓</div>
<div class="content-lcq">{body}</div></div>
<div class="right"><h3>热点推荐</h3><ul><li><a href="/x.html">一条推荐新闻的标题</a></li></ul></div>
</body></html>
"#,
        title = c.title,
        date = c.list_date,
        media = c.media,
        body = c.body
    );
    gbk(&html)
}

fn gbk(text: &str) -> Vec<u8> {
    let (bytes, _, unmappable) = encoding_rs::GBK.encode(text);
    assert!(!unmappable, "test text is GBK-encodable");
    bytes.into_owned()
}

fn crawl_list(meta_charset: bool) {
    let server = TestServer::start();
    let cases = cases(&server);
    let list = gbk(&list_page(&cases, meta_charset));
    let content_type = if meta_charset {
        "text/html"
    } else {
        "text/html; charset=GBK"
    };
    server.set(LIST_PATH, Route::ok(content_type, list));
    for c in &cases {
        if c.path.starts_with("/zqrb/") {
            server.set(c.path.as_str(), Route::ok("text/html", zqrb_page(c)));
        } else {
            let local = chrono::DateTime::parse_from_rfc3339(c.published_local).unwrap();
            server.set(
                c.path.as_str(),
                Route::ok(
                    "text/html; charset=utf-8",
                    east_money_page(c.title, &local, Some(c.media), &c.body, None),
                ),
            );
        }
    }
    let dir = tempdir();
    let mut cfg =
        publisher_config("[share]\nresolve = []\nallow_hosts = [\"127.0.0.1\"]\nfollow_discovered = true\n");
    cfg.push_str(
        r#"
[[host]]
domain = "localhost"
article = { title = "div.news_content h1", content = "div.content-lcq", published = "div.info_news", media = "div.info_news" }
"#,
    );
    cfg.push_str(&format!(
        r#"
[[source]]
name = "zqrb-hangye"
type = "html"
url = {url:?}
item = "div.listMain li"
link = "a@href"
title = "a"
published = "span.date"
category = "zhengquanribaowang"
tags = ["证券日报网新闻"]
"#,
        url = server.url(LIST_PATH)
    ));
    let config = write_config(dir.path(), &cfg);
    let out = run_once(&config);
    let _diag = out.on_panic();
    out.assert_code(0);
    let conn = open_db(&db_path(dir.path()));
    let mut soft = Soft::new();

    soft.eq(
        server.requests_for(LIST_PATH).len(),
        1,
        "the list is requested once",
    );
    for c in &cases {
        soft.eq(
            server.requests_for(&c.path).len(),
            1,
            &format!("requests of {}", c.url),
        );
    }
    soft.eq(
        server.requests().len(),
        1 + cases.len(),
        &format!("requests in all:\n{}", server.describe_requests()),
    );
    let all = articles(&conn);
    soft.eq(
        all.len(),
        cases.len(),
        &format!(
            "one article per item: {:?}",
            all.iter().map(|a| (&a.title, &a.url)).collect::<Vec<_>>()
        ),
    );
    for c in &cases {
        let Some(a) = all.iter().find(|a| a.url.as_deref() == Some(c.url.as_str())) else {
            soft.check(false, || {
                format!(
                    "an article with the absolute url {}: {:?}",
                    c.url,
                    all.iter().map(|a| (&a.title, &a.url)).collect::<Vec<_>>()
                )
            });
            continue;
        };
        soft.eq(a.title.as_str(), c.title, &format!("title of {}", c.url));
        soft.eq(
            a.published_at.as_deref(),
            Some(c.published_at),
            &format!("published_at of {}", c.url),
        );
        soft.eq(
            a.published_local.as_deref(),
            Some(c.published_local),
            &format!("published_local of {}", c.url),
        );
        soft.eq(a.media.as_deref(), Some(c.media), &format!("media of {}", c.url));
        soft.eq(
            a.content_text.as_deref(),
            Some(c.text),
            &format!("content_text of {}", c.url),
        );
        soft.eq(
            a.category.as_deref(),
            Some("zhengquanribaowang"),
            &format!("category of {}", c.url),
        );
        soft.eq(a.revision, 1, &format!("revision of {}", c.url));
        soft.eq(
            sighting_sources(&conn, a.id),
            vec!["zqrb-hangye".to_string()],
            &format!("sightings of {}", c.url),
        );
    }
    let s = source(&conn, "zqrb-hangye");
    soft.eq(s.last_status, Some(200), "last_status");
    soft.finish();
}

#[test]
fn gbk_list_page_declared_by_meta_charset() {
    crawl_list(true);
}

#[test]
fn gbk_list_page_declared_by_the_http_header_only() {
    crawl_list(false);
}
