use chrono::{DateTime, Utc};
use url::Url;

use super::page::source_of;
use super::tests_corpus::{now, parse_post, render_east_money};
use super::{ExtractError, Extracted, extract};
use crate::config::ArticleSelectors;
use crate::dates::{Precision, format_utc};
use crate::normalize::{content_from_html, html_to_text, media_from_text, sanitize_html};
use crate::sources::{ContentRank, MediaRank};

const TZ: chrono_tz::Tz = chrono_tz::Asia::Shanghai;

fn url(s: &str) -> Url {
    Url::parse(s).unwrap()
}

fn run(html: &str, page: &str) -> Result<Extracted, ExtractError> {
    extract(html, &url(page), None, TZ, now())
}

fn utc(got: &Extracted) -> String {
    format_utc(got.entry.published.expect("a published time").utc)
}

pub(super) fn body_text(got: &Extracted) -> String {
    html_to_text(&sanitize_html(&got.entry.content.as_ref().expect("content").0))
}

/// The layout of finance.eastmoney.com/a/<id>.html, as in the issue.
const EAST_MONEY: &str = r#"<html><head><title>刚刚 工信部明确表态 二季度工业经济稳增长有四大举措！_东方财富网</title>
<meta property="article:published_time" content="2022-04-19T12:22:44+08:00">
<link rel="canonical" href="http://finance.eastmoney.com/a/202204192348095567.html"></head><body>
<div class="mainleft"><div class="title">刚刚 工信部明确表态 二季度工业经济稳增长有四大举措！</div>
<div class="infos"><div class="item">2022年04月19日 12:22</div><div class="item">来源：<a href="http://www.zqrb.cn/">证券日报网</a></div><div class="item">评论</div></div>
<div class="txtinfos" id="ContentBody"> <div class="b-review">工信部表示，二季度将从四方面稳增长。</div>
<p>4月19日上午，在国新办举行的发布会上，工业和信息化部新闻发言人罗俊杰表示，一季度工业经济实现平稳开局。</p>
<p><strong>四方面举措实现二季度的平稳接续</strong></p>
<!-- EM_StockImg_Start --><p style="text-align:center;"><a href="http://quote.eastmoney.com/unify/r/1.600000" class="EmImageRemark"><img src="https://webquoteklinepic.eastmoney.com/GetPic.aspx?nid=1.600000&imageType=k" alt="K图 600000_0"></a></p><!-- EM_StockImg_End -->
<p><span id="stock_1.600000"><a href="http://quote.eastmoney.com/unify/r/1.600000" class="keytip">浦发银行</a></span>等银行将加大信贷支持。</p>
<center><img src="https://dfscdn.dfcfw.com/download/photo_w692h398.jpg" alt="image"></center>
<p class="em_media">（文章来源：<span id="stock_1.600000"><a href="http://quote.eastmoney.com/unify/r/1.600000">证券日报网</a></span>）</p>
<div class="em_sharelink">分享到：<a href="http://finews.zning.xyz/html_News/NewsShare.html?infoCode=NW202204192348095567">微信</a></div>
<center><img src="https://webquoteklinepic.eastmoney.com/GetPic.aspx?nid=1.000001&imageType=r"/></center>
<script>loadQuote();</script></div></div></body></html>"#;

#[test]
fn east_money_layout() {
    let page = "https://finance.eastmoney.com/a/202204192348095567.html";
    let got = run(EAST_MONEY, page).unwrap();
    assert_eq!(got.extractor, "eastmoney");
    let e = &got.entry;
    assert_eq!(
        e.title.as_deref(),
        Some("刚刚 工信部明确表态 二季度工业经济稳增长有四大举措！")
    );
    // The meta's seconds beat the infos' minutes.
    assert_eq!(utc(&got), "2022-04-19T04:22:44Z");
    assert_eq!(e.published.unwrap().precision, Precision::OffsetSeconds);
    assert_eq!(e.media, Some(("证券日报网".to_owned(), MediaRank::Page)));
    assert_eq!(e.summary.as_deref(), Some("工信部表示，二季度将从四方面稳增长。"));
    assert_eq!(
        e.link.as_deref(),
        Some("http://finance.eastmoney.com/a/202204192348095567.html")
    );
    assert!(e.guid.is_none());
    let (html, rank) = e.content.as_ref().unwrap();
    assert_eq!(*rank, ContentRank::Full);
    for gone in [
        "b-review",
        "em_sharelink",
        "webquoteklinepic",
        "EmImageRemark",
        "loadQuote",
        "<!--",
    ] {
        assert!(!html.contains(gone), "{gone} left in {html}");
    }
    assert!(html.contains(r#"<p class="em_media">"#) && html.contains("<strong>"));
    assert!(
        html.contains("dfscdn.dfcfw.com/download/photo"),
        "article photos stay"
    );
    assert_eq!(
        body_text(&got),
        "4月19日上午，在国新办举行的发布会上，工业和信息化部新闻发言人罗俊杰表示，一季度工业经济实现平稳开局。\n\
         四方面举措实现二季度的平稳接续\n浦发银行等银行将加大信贷支持。\n（文章来源：证券日报网）"
    );
    // Normalization reads the outlet from the line, nested spans and all.
    let content = content_from_html(html, ContentRank::Full).unwrap();
    assert_eq!(media_from_text(&content.text).as_deref(), Some("证券日报网"));
    assert_eq!(
        got.links,
        vec!["http://quote.eastmoney.com/unify/r/1.600000".to_owned()]
    );
}

#[test]
fn east_money_minutes_without_the_meta() {
    let html = EAST_MONEY.replace(
        r#"<meta property="article:published_time" content="2022-04-19T12:22:44+08:00">"#,
        "",
    );
    let got = run(&html, "https://finance.eastmoney.com/a/1.html").unwrap();
    assert_eq!(utc(&got), "2022-04-19T04:22:00Z");
    assert_eq!(got.entry.published.unwrap().precision, Precision::NaiveMinutes);
    // A meta that disagrees with the page's minute is not taken.
    let html = EAST_MONEY.replace("2022-04-19T12:22:44+08:00", "2022-04-18T09:00:05+08:00");
    let got = run(&html, "https://finance.eastmoney.com/a/1.html").unwrap();
    assert_eq!(utc(&got), "2022-04-19T04:22:00Z");
}

#[test]
fn the_reference_article_page() {
    // A copy of shared/seed/000_1bd4150e373cca66.txt.
    let text = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/finews/reference_post.md"
    ));
    let post = parse_post("2022-04-19-NW202204192348095567.md", text).unwrap();
    let page = "https://finance.eastmoney.com/a/202204192348095567.html";
    let got = run(&render_east_money(&post), page).unwrap();
    assert_eq!(got.extractor, "eastmoney");
    assert_eq!(
        got.entry.title.as_deref(),
        Some("刚刚 工信部明确表态 二季度工业经济稳增长有四大举措！")
    );
    assert_eq!(utc(&got), "2022-04-19T04:22:44Z");
    assert_eq!(got.entry.media, Some(("证券日报网".to_owned(), MediaRank::Page)));
    let text = body_text(&got);
    assert!(text.starts_with("4月19日上午，在国新办举行的发布会上"));
    assert!(
        text.ends_with("大力挖掘消费潜力。\n（文章来源：证券日报网）"),
        "{text}"
    );
    assert_eq!(text.lines().count(), 15);
}

#[test]
fn javascript_shells_and_junk_are_no_article() {
    let shell = r#"<html><head><script src="https://emres.dfcfw.com/js/app.js"></script></head><body><div id="app"></div><script>window.__INIT__ = {"title": "刚刚 工信部明确表态", "content": "正文在这里加载很长很长很长"};</script></body></html>"#;
    let err = run(
        shell,
        "http://finews.zning.xyz/html_News/NewsShare.html?infoCode=NW1",
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "no article found in http://finews.zning.xyz/html_News/NewsShare.html?infoCode=NW1 \
         (tried eastmoney, json-ld, open-graph, readability)"
    );
    // East Money's share page before its script fills it in.
    let empty = r#"<html><head><title>东方财富网</title><meta property="og:title" content="东方财富网"></head><body><div class="title"></div><div class="infos"></div><div id="ContentBody"> <div class="em_sharelink">分享到：微信 微博</div> </div><script>load()</script></body></html>"#;
    assert!(run(empty, "https://finance.eastmoney.com/a/1.html").is_err());
    for junk in [
        "",
        "not html at all",
        "<html><body><p>短</p></body></html>",
        "{\"json\": true}",
    ] {
        assert!(
            matches!(
                run(junk, "https://x.example/"),
                Err(ExtractError::NoArticle { .. })
            ),
            "{junk:?}"
        );
    }
    let selectors = ArticleSelectors::default();
    let err = extract(shell, &url("https://x.example/"), Some(&selectors), TZ, now()).unwrap_err();
    assert!(
        err.to_string()
            .ends_with("(tried host-selectors, eastmoney, json-ld, open-graph, readability)")
    );
}

const NAV: &str = r#"<nav><a href="/">首页</a><a href="/finance">财经</a><a href="/stock">股票</a></nav>"#;
const PARAS: &str = "<p>央行今日开展了1000亿元逆回购操作，中标利率维持在2.1%不变，市场流动性总体充裕。</p>\
     <p>分析人士认为，二季度货币政策仍将保持稳健偏宽松的取向，以支持实体经济恢复。</p>";

#[test]
fn json_ld_news_article() {
    let html = format!(
        r#"<html><head><title>站点</title><script type="application/ld+json">
{{"@context":"https://schema.org","@graph":[{{"@type":"WebSite","name":"站点"}},
 {{"@type":["NewsArticle"],"headline":"央行开展1000亿元逆回购","datePublished":"2022-04-19T09:30:05+08:00",
   "dateModified":"2022-04-19T10:00:00+08:00","author":[{{"@type":"Person","name":"张三"}}],
   "url":"/news/20220419/1.html","articleBody":"央行今日开展了1000亿元逆回购操作。\n\n中标利率维持在2.1%不变，<市场>流动性总体充裕。"}}]}}
</script></head><body>{NAV}<div id="app"></div></body></html>"#
    );
    let got = run(&html, "https://news.example.cn/a?id=1").unwrap();
    assert_eq!(got.extractor, "json-ld");
    assert_eq!(got.entry.title.as_deref(), Some("央行开展1000亿元逆回购"));
    assert_eq!(utc(&got), "2022-04-19T01:30:05Z");
    assert_eq!(format_utc(got.entry.updated.unwrap().utc), "2022-04-19T02:00:00Z");
    assert_eq!(got.entry.author.as_deref(), Some("张三"));
    assert_eq!(
        got.entry.link.as_deref(),
        Some("https://news.example.cn/news/20220419/1.html")
    );
    assert_eq!(
        body_text(&got),
        "央行今日开展了1000亿元逆回购操作。\n中标利率维持在2.1%不变，<市场>流动性总体充裕。"
    );

    // Without articleBody, the page's main text; a list at the top level.
    let html = format!(
        r#"<html><head><script type="application/ld+json">[{{"@type":"NewsArticle","headline":"逆回购","datePublished":"2022-04-19 09:30"}}]</script></head>
<body>{NAV}<div class="main"><div class="article-content">{PARAS}</div><div class="side"><p>热门：别的新闻</p></div></div><footer><p>版权所有 © 2022 某某网站 保留所有权利 未经授权禁止转载本站内容</p></footer></body></html>"#
    );
    let got = run(&html, "https://news.example.cn/1.html").unwrap();
    assert_eq!(got.extractor, "json-ld");
    assert_eq!(utc(&got), "2022-04-19T01:30:00Z");
    assert!(
        body_text(&got).starts_with("央行今日开展了1000亿元逆回购操作") && !body_text(&got).contains("版权")
    );
}

#[test]
fn open_graph_page() {
    let html = format!(
        r#"<html lang="zh-CN"><head><meta property="og:title" content="逆回购操作维持利率不变">
<meta property="og:type" content="article"><meta property="og:url" content="https://www.example.com/2022/04/19/rrp.html">
<meta property="article:published_time" content="2022-04-19T09:30:05+08:00"><meta name="author" content="李四"></head>
<body><header>{NAV}<h1>站点名称</h1></header><aside><p>推荐阅读：这是侧栏里一段相当长的推荐文字，不应被当作正文的一部分而抽取出来。</p></aside>
<article><h1>逆回购操作维持利率不变</h1><div class="byline">来源：第一财经 作者：李四</div>{PARAS}<p><a href="/2022/04/18/prev.html">上一篇</a></p></article>
<footer><p>联系我们</p></footer></body></html>"#
    );
    let got = run(&html, "https://www.example.com/p?id=9").unwrap();
    assert_eq!(got.extractor, "open-graph");
    assert_eq!(got.entry.title.as_deref(), Some("逆回购操作维持利率不变"));
    assert_eq!(utc(&got), "2022-04-19T01:30:05Z");
    assert_eq!(got.entry.media, Some(("第一财经".to_owned(), MediaRank::Page)));
    assert_eq!(got.entry.author.as_deref(), Some("李四"));
    assert_eq!(got.entry.language.as_deref(), Some("zh-CN"));
    assert_eq!(
        got.entry.link.as_deref(),
        Some("https://www.example.com/2022/04/19/rrp.html")
    );
    assert!(body_text(&got).contains("中标利率维持在2.1%不变") && !body_text(&got).contains("推荐阅读"));
    assert_eq!(
        got.links,
        vec!["https://www.example.com/2022/04/18/prev.html".to_owned()]
    );
}

fn zqrb_page() -> String {
    format!(
        r#"<html><head><title>工信部：二季度工业经济稳增长_证券日报网</title></head><body>{NAV}
<div class="news_content"><h1>工信部：二季度工业经济稳增长有四大举措</h1>
<div class="info_news">2022-04-19 12:22:44 来源：证券日报 作者：张三</div>
<div class="content-lcq">{PARAS}<div class="share-box">分享到微信</div></div></div>
<div class="footer"><p>证券日报网版权所有</p></div></body></html>"#
    )
}

#[test]
fn host_selectors() {
    let selectors = ArticleSelectors {
        title: Some("div.news_content h1".into()),
        content: Some("div.content-lcq".into()),
        published: Some("div.info_news".into()),
        media: Some("div.info_news".into()),
    };
    let page = url("http://www.zqrb.cn/finance/hangyedongtai/2022-04-19/A1650352.html");
    let got = extract(&zqrb_page(), &page, Some(&selectors), TZ, now()).unwrap();
    assert_eq!(got.extractor, "host-selectors");
    assert_eq!(
        got.entry.title.as_deref(),
        Some("工信部：二季度工业经济稳增长有四大举措")
    );
    assert_eq!(utc(&got), "2022-04-19T04:22:44Z");
    assert_eq!(got.entry.published.unwrap().precision, Precision::NaiveSeconds);
    assert_eq!(got.entry.media, Some(("证券日报".to_owned(), MediaRank::Page)));
    assert!(body_text(&got).starts_with("央行今日") && !body_text(&got).contains("分享"));

    // `@attr` reads attributes; a selector that matches nothing falls through the chain.
    let attr = ArticleSelectors {
        title: Some("meta[name=title]@content".into()),
        content: Some("div.content-lcq".into()),
        ..ArticleSelectors::default()
    };
    let html = zqrb_page().replace("<head>", r#"<head><meta name="title" content="元数据标题">"#);
    let got = extract(&html, &page, Some(&attr), TZ, now()).unwrap();
    assert_eq!(got.entry.title.as_deref(), Some("元数据标题"));
    assert_eq!(utc(&got), "2022-04-19T04:22:44Z", "the byline gives the time");
    let missing = ArticleSelectors {
        content: Some("div.nothing-here".into()),
        ..ArticleSelectors::default()
    };
    let got = extract(&zqrb_page(), &page, Some(&missing), TZ, now()).unwrap();
    assert_eq!(got.extractor, "readability");
}

#[test]
fn readability_finds_the_main_text() {
    let html = format!(
        r#"<html><head><title>逆回购操作维持利率不变 - 某某博客</title></head><body class="single has-sidebar">
<div id="nav">{NAV}</div>
<div class="sidebar"><p>这是侧栏中一段很长很长的文字，介绍博主本人以及博客的历史，足足有好几十个字那么长。</p></div>
<div class="wrap"><div class="post"><h2>逆回购操作维持利率不变</h2><span class="date">2022-04-19 09:30</span>
{PARAS}<p>第三段：后续走势仍需观察，市场人士建议关注月末资金面的季节性波动。</p></div>
<div class="comments"><p>网友评论：这篇文章写得很好，我非常同意作者的观点，希望多写一些这样的文章。</p></div></div>
<div class="footer"><p>Copyright 2022 某某博客 All rights reserved. Powered by something.</p></div></body></html>"#
    );
    let got = run(&html, "https://blog.example.com/2022/04/19/").unwrap();
    assert_eq!(got.extractor, "readability");
    assert_eq!(got.entry.title.as_deref(), Some("逆回购操作维持利率不变"));
    assert_eq!(utc(&got), "2022-04-19T01:30:00Z");
    let text = body_text(&got);
    assert!(text.contains("央行今日") && text.contains("第三段"), "{text}");
    for furniture in ["侧栏", "网友评论", "Copyright", "首页"] {
        assert!(!text.contains(furniture), "{furniture} in {text}");
    }
    assert!(got.entry.media.is_none());
}

#[test]
fn relative_times_resolve_against_now() {
    let html = EAST_MONEY.replace("2022年04月19日 12:22", "今天 09:10").replace(
        r#"<meta property="article:published_time" content="2022-04-19T12:22:44+08:00">"#,
        "",
    );
    let now: DateTime<Utc> = "2022-04-19T06:00:00Z".parse().unwrap();
    let got = extract(
        &html,
        &url("https://finance.eastmoney.com/a/1.html"),
        None,
        TZ,
        now,
    )
    .unwrap();
    assert_eq!(utc(&got), "2022-04-19T01:10:00Z");
}

#[test]
fn source_lines() {
    assert_eq!(source_of("来源：证券日报网").as_deref(), Some("证券日报网"));
    assert_eq!(
        source_of("2022-04-19 12:22:44 来源：证券日报").as_deref(),
        Some("证券日报")
    );
    assert_eq!(
        source_of("来源： 第一财经 作者：李四").as_deref(),
        Some("第一财经")
    );
    assert_eq!(
        source_of("来源:上海证券报｜编辑:王五").as_deref(),
        Some("上海证券报")
    );
    assert_eq!(source_of("来源：").as_deref(), None);
    assert_eq!(source_of("没有").as_deref(), None);
}

#[test]
fn sidebars_and_photo_credits_are_no_source() {
    assert_eq!(source_of("图片来源：霍尼韦尔官网"), None);
    assert_eq!(source_of("数据来源：Wind"), None);
    assert_eq!(source_of("【来源：新华社】").as_deref(), Some("新华社"));
    // An older East Money layout: time and source on one line.
    let html = EAST_MONEY.replace(
        r#"<div class="item">2022年04月19日 12:22</div><div class="item">来源："#,
        r#"<div class="item">2022年04月19日 12:22 来源："#,
    );
    let got = run(&html, "https://finance.eastmoney.com/a/1.html").unwrap();
    assert_eq!(utc(&got), "2022-04-19T04:22:44Z");
    assert_eq!(got.entry.media, Some(("证券日报网".to_owned(), MediaRank::Page)));
    // Without a 来源 item, nothing else on the page is taken for one.
    let html = EAST_MONEY
        .replace(
            r#"<div class="item">来源：<a href="http://www.zqrb.cn/">证券日报网</a></div>"#,
            "",
        )
        .replace(
            "</body>",
            r#"<div class="sidebar"><p>来源：某侧栏</p></div><p>图片来源：网络</p></body>"#,
        );
    let got = run(&html, "https://finance.eastmoney.com/a/1.html").unwrap();
    assert_eq!(got.entry.media, None);
}
