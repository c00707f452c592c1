//! Title, time and outlet rules on small pages written by hand after the layouts of real
//! Chinese news pages (Xinhua's split header time, Sina's `date-source` line and `mediaid`
//! meta, NetEase's `来源: X(城市)` byline with a 举报 link, og:titles cut at an unescaped
//! quote, site banners in `<h1>`). Every expected value is read off the HTML by hand.

use url::Url;

use super::headline::{confirms, segments, strip_site};
use super::page::{outlet_name, source_of};
use super::tests_corpus::now;
use super::{Extracted, extract};
use crate::dates::{Precision, format_local};
use crate::sources::MediaRank;

const TZ: chrono_tz::Tz = chrono_tz::Asia::Shanghai;

const BODY: &str = "<p>3月3日，中国人民银行开展了1000亿元逆回购操作，中标利率维持在2.2%不变，当日实现净投放。</p>\
<p>分析人士认为，货币政策将保持连续性、稳定性、可持续性，流动性合理充裕的基调不会改变。</p>";

fn run(html: &str) -> Extracted {
    let url = Url::parse("https://news.example.cn/2021-03/04/c_1127167021.htm").expect("literal");
    extract(html, &url, None, TZ, now()).expect("an article")
}

fn title(got: &Extracted) -> &str {
    got.entry.title.as_deref().expect("a title")
}

/// The published time as the publisher wrote it, and its precision.
fn when(got: &Extracted) -> (String, Precision) {
    let p = got.entry.published.expect("a published time");
    (format_local(p.local), p.precision)
}

fn media(got: &Extracted) -> Option<(String, MediaRank)> {
    got.entry.media.clone()
}

fn page(head: &str, body: &str) -> String {
    format!("<!DOCTYPE html><html><head><meta charset=\"utf-8\">{head}</head><body>{body}</body></html>")
}

#[test]
fn site_names_come_off_titles() {
    for (raw, want) in [
        ("央行开展1000亿元逆回购操作-新华网", "央行开展1000亿元逆回购操作"),
        (
            "央行开展1000亿元逆回购操作_新浪财经_新浪网",
            "央行开展1000亿元逆回购操作",
        ),
        (
            "央行开展1000亿元逆回购操作_网易财经",
            "央行开展1000亿元逆回购操作",
        ),
        (
            "央行开展1000亿元逆回购操作 | 第一财经",
            "央行开展1000亿元逆回购操作",
        ),
        (
            "央行开展1000亿元逆回购操作—中国证券报·中证网",
            "央行开展1000亿元逆回购操作",
        ),
        (
            "央行开展1000亿元逆回购操作-证券时报网",
            "央行开展1000亿元逆回购操作",
        ),
        (
            "第一财经 | 央行开展1000亿元逆回购操作",
            "央行开展1000亿元逆回购操作",
        ),
        (
            "劳伦斯：一个无法定义的“洛克菲勒”-搜狐财经",
            "劳伦斯：一个无法定义的“洛克菲勒”",
        ),
        ("日本无性婚姻问题严重(图)--雅虎新闻", "日本无性婚姻问题严重(图)"),
        // Hyphens between ASCII letters or digits are the headline's own.
        (
            "COVID-19疫苗2021-2022年供应计划公布-新华网",
            "COVID-19疫苗2021-2022年供应计划公布",
        ),
        // A doubled dash is a Chinese headline's subtitle dash, not a separator.
        (
            "稳字当头——国常会部署六项举措_新浪财经",
            "稳字当头——国常会部署六项举措",
        ),
        // A short headline still beats the site's parts (a name ending in 网, a domain).
        ("涨停_新浪网", "涨停"),
        ("涨停 - finance.sina.com.cn", "涨停"),
        ("没有分隔符的标题", "没有分隔符的标题"),
    ] {
        assert_eq!(strip_site(raw, None), want, "{raw}");
    }
    // The page's og:site_name marks its segment as the site's, whatever its shape.
    assert_eq!(
        strip_site("早盘速递_华尔街见闻资讯", Some("华尔街见闻资讯")),
        "早盘速递"
    );
    assert_eq!(segments("A-share指数 | 财经"), vec!["A-share指数", "财经"]);
}

#[test]
fn titles_confirm_headline_elements() {
    // Equal up to spaces and punctuation; a title cut short; an h1 inside the title.
    assert!(confirms("证监会：“严打”财务造假", "证监会:严打 财务造假"));
    assert!(confirms("证监会：\"严打\"财务造假 零容忍", "证监会："));
    assert!(confirms("央行开展逆回购", "央行开展逆回购操作 中标利率维持不变"));
    // A site banner is not confirmed by the headline part of the title.
    assert!(!confirms("新华网", "央行开展1000亿元逆回购操作"));
    assert!(!confirms("财经", "财经早报：央行开展1000亿元逆回购操作"));
}

/// Xinhua's article head: the time split in three spans and the source before the `<h1>`,
/// a date-only `publishdate` meta, a `-新华网` title and a banner `<h1>` in the header.
const XINHUA: &str = r#"<title>央行开展1000亿元逆回购操作 维护流动性合理充裕-新华网</title>
<meta name="publishdate" content="2021-03-04">
<meta name="source" content="新华网">"#;

fn xinhua_body(source_div: &str) -> String {
    format!(
        r#"<div class="header"><h1 class="logo">新华网</h1><div class="nav"><a href="/">首页</a></div></div>
<div class="header-cont clearfix"><div class="header-time left"><span class="year"><em> 2021</em></span>
<span class="day"><em> 03</em>/<em>04</em></span><span class="time"> 08:18:05</span></div>
{source_div}</div>
<div class="head-line clearfix"><h1><span class="title">央行开展1000亿元逆回购操作 维护流动性合理充裕</span></h1></div>
<div id="detail">{BODY}</div>"#
    )
}

#[test]
fn xinhua_head() {
    let got = run(&page(
        XINHUA,
        &xinhua_body(r#"<div class="source">来源：经济参考报</div>"#),
    ));
    assert_eq!(title(&got), "央行开展1000亿元逆回购操作 维护流动性合理充裕");
    // The visible time (to the second) beats the date-only meta.
    assert_eq!(
        when(&got),
        ("2021-03-04T08:18:05+08:00".to_owned(), Precision::NaiveSeconds)
    );
    assert_eq!(media(&got), Some(("经济参考报".to_owned(), MediaRank::Page)));
    // Without a 来源 line, the `source` meta names the outlet.
    let got = run(&page(XINHUA, &xinhua_body("")));
    assert_eq!(media(&got), Some(("新华网".to_owned(), MediaRank::Page)));
}

#[test]
fn a_truncated_og_title_loses_to_the_h1() {
    // The publisher wrote the quote unescaped: og:title ends at `证监会：`.
    let head = r#"<meta property="og:title" content="证监会："严打"财务造假 零容忍">
<meta property="og:type" content="article"><title>证监会："严打"财务造假 零容忍_网易财经</title>"#;
    let body = format!(
        r#"<div class="post_main"><h1 class="post_title">证监会："严打"财务造假 零容忍</h1>
<div class="post_info">2021-03-04 08:18:05　来源: <a id="ne_article_source" href="https://www.cs.com.cn/">中国证券报(北京)</a><a class="post_jubao" href="/jubao">举报</a></div>
<div class="post_body">{BODY}</div></div>"#
    );
    let got = run(&page(head, &body));
    assert_eq!(got.extractor, "open-graph");
    assert_eq!(title(&got), "证监会：\"严打\"财务造假 零容忍");
    assert_eq!(
        when(&got),
        ("2021-03-04T08:18:05+08:00".to_owned(), Precision::NaiveSeconds)
    );
    // The city tag and the neighbouring 举报 link are not part of the outlet.
    assert_eq!(media(&got), Some(("中国证券报".to_owned(), MediaRank::Page)));
}

#[test]
fn banners_lose_to_the_confirmed_headline() {
    // The only h1 is the site's banner; the headline sits in a `div.detail-title`.
    let head = "<title>两市成交额连续第8个交易日突破1万亿元-证券时报网</title>";
    let body = format!(
        r#"<h1 class="logo"><a href="/">证券时报网</a></h1>
<div class="detail-title">两市成交额连续第8个交易日突破1万亿元</div>
<div class="detail-info"><span>2021-03-04 08:18</span><span>来源：证券时报网</span></div>
<div class="detail-content">{BODY}</div>"#
    );
    let got = run(&page(head, &body));
    assert_eq!(title(&got), "两市成交额连续第8个交易日突破1万亿元");
    assert_eq!(
        when(&got),
        ("2021-03-04T08:18:00+08:00".to_owned(), Precision::NaiveMinutes)
    );
    assert_eq!(media(&got), Some(("证券时报网".to_owned(), MediaRank::Page)));
    // No headline element at all: the title without its site.
    let body = format!(r#"<h1 class="logo">证券时报网</h1><div class="detail-content">{BODY}</div>"#);
    let got = run(&page(head, &body));
    assert_eq!(title(&got), "两市成交额连续第8个交易日突破1万亿元");
    // A title that is only the site's name does not beat the page's h1.
    let body = format!(r#"<h1>两市成交额连续第8个交易日突破1万亿元</h1><div class="content">{BODY}</div>"#);
    let got = run(&page("<title>证券时报网</title>", &body));
    assert_eq!(title(&got), "两市成交额连续第8个交易日突破1万亿元");
}

/// Sina's article head: `date-source` holds the time and the outlet's link, no label;
/// `article:published_time` gives the full time with an offset.
fn sina(meta_time: &str) -> String {
    let head = format!(
        r#"<title>A股三大指数集体高开 创业板指涨1.2%_新浪财经_新浪网</title>
<meta property="og:type" content="news"><meta property="og:title" content="A股三大指数集体高开 创业板指涨1.2%">
{meta_time}<meta name="mediaid" content="证券日报">"#
    );
    let body = format!(
        r#"<div class="main-content w1240"><h1 class="main-title">A股三大指数集体高开 创业板指涨1.2%</h1>
<div class="top-bar-wrap"><div class="date-source"><span class="date">2021年03月04日 09:30</span>
<a href="http://www.zqrb.cn/" target="_blank" class="source ent-source">证券时报</a></div></div>
<div class="article" id="artibody">{BODY}</div></div>"#
    );
    page(&head, &body)
}

#[test]
fn byline_times_against_metas() {
    // A full meta time agreeing with the visible minute is kept (seconds and offset).
    let got = run(&sina(
        r#"<meta property="article:published_time" content="2021-03-04T09:30:27+08:00">"#,
    ));
    assert_eq!(title(&got), "A股三大指数集体高开 创业板指涨1.2%");
    assert_eq!(
        when(&got),
        ("2021-03-04T09:30:27+08:00".to_owned(), Precision::OffsetSeconds)
    );
    // The labelled class beats the mediaid meta.
    assert_eq!(media(&got), Some(("证券时报".to_owned(), MediaRank::Page)));
    // A date-only meta loses to the visible 09:30.
    let got = run(&sina(
        r#"<meta property="article:published_time" content="2021-03-04">"#,
    ));
    assert_eq!(
        when(&got),
        ("2021-03-04T09:30:00+08:00".to_owned(), Precision::NaiveMinutes)
    );
    // A meta disagreeing with the page (here a modification a day later) is not taken.
    let got = run(&sina(
        r#"<meta property="article:published_time" content="2021-03-05T10:00:00+08:00">"#,
    ));
    assert_eq!(
        when(&got),
        ("2021-03-04T09:30:00+08:00".to_owned(), Precision::NaiveMinutes)
    );
    // No meta at all: the byline.
    let got = run(&sina(""));
    assert_eq!(
        when(&got),
        ("2021-03-04T09:30:00+08:00".to_owned(), Precision::NaiveMinutes)
    );
    // Without the source link, the mediaid meta.
    let html = sina("").replace(
        r#"<a href="http://www.zqrb.cn/" target="_blank" class="source ent-source">证券时报</a>"#,
        "",
    );
    assert_eq!(media(&run(&html)), Some(("证券日报".to_owned(), MediaRank::Page)));
}

#[test]
fn byline_times_in_other_forms() {
    for (line, want, precision) in [
        (
            "2021/3/4 8:18:05 来源：上海证券报",
            "2021-03-04T08:18:05+08:00",
            Precision::NaiveSeconds,
        ),
        (
            "2021年03月04日 08:18 来源：上海证券报",
            "2021-03-04T08:18:00+08:00",
            Precision::NaiveMinutes,
        ),
        (
            "发布时间：2021-03-04 08:18 | 来源：上海证券报",
            "2021-03-04T08:18:00+08:00",
            Precision::NaiveMinutes,
        ),
    ] {
        // The byline is a bare `<p>` after the h1: no class says time.
        let body = format!(
            r#"<div class="wrap"><h1>上交所发布科创板新规</h1><p>{line}</p><div class="content">{BODY}</div></div>"#
        );
        let got = run(&page("<title>上交所发布科创板新规_中国证券网</title>", &body));
        assert_eq!(title(&got), "上交所发布科创板新规", "{line}");
        assert_eq!(when(&got), (want.to_owned(), precision), "{line}");
        assert_eq!(
            media(&got),
            Some(("上海证券报".to_owned(), MediaRank::Page)),
            "{line}"
        );
    }
    // A date alone is kept as a date when nothing better is shown.
    let body = format!(
        r#"<h1>上交所发布科创板新规</h1><div class="info">2021-03-04</div><div class="content">{BODY}</div>"#
    );
    let got = run(&page("<title>上交所发布科创板新规</title>", &body));
    assert_eq!(
        when(&got),
        ("2021-03-04T00:00:00+08:00".to_owned(), Precision::DateOnly)
    );
}

#[test]
fn source_labels_and_their_ends() {
    for (line, want) in [
        ("来源：证券市场红周刊 举报", "证券市场红周刊"),
        ("来源：证券市场红周刊举报", "证券市场红周刊"),
        ("来源: 中国证券报", "中国证券报"),
        ("来源:中国证券报 作者:张三", "中国证券报"),
        ("本文来源：券商中国", "券商中国"),
        ("文章来源：上海证券报 责任编辑：李四", "上海证券报"),
        ("来源：经济观察报(北京)", "经济观察报"),
        ("来源：[ 人民网 ]", "人民网"),
        ("来源：每日经济新闻|编辑：王五", "每日经济新闻"),
        ("来源：第一财经 2021-03-04 08:18", "第一财经"),
        ("来源：Wall Street Journal 编辑：王五", "Wall Street Journal"),
        ("2021-03-04 08:18 来源：澎湃新闻 字号", "澎湃新闻"),
    ] {
        assert_eq!(source_of(line).as_deref(), Some(want), "{line}");
    }
    assert_eq!(source_of("图片来源：视觉中国"), None);
    assert_eq!(source_of("来源： 举报"), None);
    assert_eq!(outlet_name("《理财周刊》").as_deref(), Some("理财周刊"));
}

#[test]
fn source_links_and_placeholders_on_pages() {
    // A label with no text of its own: the link after it is the outlet.
    let body = format!(
        r#"<h1>上交所发布科创板新规</h1><div class="box"><span class="lbl">来源：</span><a href="http://www.cnstock.com/">上海证券报</a> <a href="/report">举报</a></div><div class="content">{BODY}</div>"#
    );
    let got = run(&page("<title>上交所发布科创板新规</title>", &body));
    assert_eq!(media(&got), Some(("上海证券报".to_owned(), MediaRank::Page)));
    // `来源：转载文章` names no outlet; the next 来源 line does.
    let body = format!(
        r#"<h1>上交所发布科创板新规</h1><div>2021-03-04 08:18 来源：转载文章</div><div class="content">{BODY}<p>来源：新闻晨报</p></div>"#
    );
    let got = run(&page("<title>上交所发布科创板新规</title>", &body));
    assert_eq!(media(&got), Some(("新闻晨报".to_owned(), MediaRank::Page)));
    // An old dateline: the name alone after the time.
    let body = format!(
        r#"<table><tr><th class="f24"><font>上交所发布科创板新规(图)</font></th></tr>
<tr><td>http://finance.sina.com.cn 2005年03月31日03:18 <font color=red>北京娱乐信报 </font></td></tr>
<tr><td>{BODY}</td></tr></table>"#
    );
    let got = run(&page(
        "<title>上交所发布科创板新规(图)_新浪财经_新浪网</title>",
        &body,
    ));
    assert_eq!(title(&got), "上交所发布科创板新规(图)");
    assert_eq!(
        when(&got),
        ("2005-03-31T03:18:00+08:00".to_owned(), Precision::NaiveMinutes)
    );
    assert_eq!(media(&got), Some(("北京娱乐信报".to_owned(), MediaRank::Page)));
}

#[test]
fn a_deck_inside_the_h1_and_a_date_from_the_url() {
    // A digital newspaper's `<h1>` holds a table: the headline, then its deck. The page
    // shows no time; its URL carries the issue date.
    let body = format!(
        r#"<div class="dTit2"><h1><table><tr><td class="font02"></td></tr>
<tr><td class="font01">拿起跨界“指挥棒”成长</td></tr>
<tr><td class="font02">年过五十的她带领学校民乐团一路前行</td></tr></table></h1></div>
<div class="dContents">{BODY}</div>"#
    );
    let html = page("<title>拿起跨界“指挥棒”成长--大河网</title>", &body);
    let url =
        Url::parse("http://newpaper.dahe.cn/hnsb/html/2022-02/12/content_274a65d9.htm").expect("literal");
    let got = extract(&html, &url, None, TZ, now()).expect("an article");
    assert_eq!(title(&got), "拿起跨界“指挥棒”成长");
    assert_eq!(
        when(&got),
        ("2022-02-12T00:00:00+08:00".to_owned(), Precision::DateOnly)
    );
    // Dates inside longer numbers are no dates: NetEase's `/18/1008/18/` and ids.
    let url = Url::parse("http://lady.163.com/18/1008/18/DTK8I87G00267VQQ.html").expect("literal");
    let got = extract(&html, &url, None, TZ, now()).expect("an article");
    assert_eq!(got.entry.published, None);
    for (path, want) in [
        ("/2021/0304/c1004-32041917.html", "2021-03-04T00:00:00+08:00"),
        (
            "/zgjq/20220213/t20220213_525740010.html",
            "2022-02-13T00:00:00+08:00",
        ),
        ("/sm/2005-03-21/244339.shtml", "2005-03-21T00:00:00+08:00"),
    ] {
        let url = Url::parse(&format!("http://example.cn{path}")).expect("literal");
        let got = extract(&html, &url, None, TZ, now()).expect("an article");
        assert_eq!(when(&got), (want.to_owned(), Precision::DateOnly), "{path}");
    }
}

#[test]
fn paragraphs_written_as_divs() {
    // A government portal writes one `<div>` per paragraph: the article is all of them,
    // not the longest one.
    let paras = [
        "新征程催人奋进，新使命激荡人心。今天，市政协第五届委员会第一次会议隆重开幕。",
        "本次大会是在全市上下深入贯彻落实各项目标任务的关键时刻召开的一次重要会议，意义重大，影响深远。",
        "时间的年轮，刻印着奋斗者的足迹。五年来，市政协紧紧围绕中心工作，履职尽责，成效显著，广受好评。",
        "预祝大会圆满成功！",
    ];
    let divs: String = paras.iter().map(|p| format!("<div>　　{p}</div>\n")).collect();
    let body = format!(
        r#"<div class="mm_title"><h1>热烈祝贺市政协五届一次会议开幕</h1></div>
<div class="mm_all_article"><div class="TRS_Editor"><div class="Custom_UnionStyle">{divs}</div></div></div>"#
    );
    let got = run(&page("<title>热烈祝贺市政协五届一次会议开幕</title>", &body));
    assert_eq!(got.extractor, "readability");
    let text = super::tests::body_text(&got);
    assert_eq!(text.lines().collect::<Vec<_>>().len(), 4, "{text}");
    assert!(
        text.starts_with("新征程催人奋进") && text.ends_with("预祝大会圆满成功！"),
        "{text}"
    );
}

#[test]
fn a_lead_box_the_description_confirms_opens_the_body() {
    // NetEase shows the article's lead in `div.post_desc` right before `#endText`; the
    // page's description is the same text.
    let lead = "一看标题我就知道是说哪里了……";
    let head = format!(
        r#"<title>世界上唯一的女儿国_网易旅游</title><meta name="description" content="{lead}">
<meta property="og:type" content="article"><meta property="og:title" content="世界上唯一的女儿国">"#
    );
    let body = format!(
        r#"<div class="post_content_main"><h1>世界上唯一的女儿国</h1>
<div class="post_body"><div class="post_desc">{lead}<i class="quot"></i></div>
<div class="post_text" id="endText">{BODY}</div></div></div>"#
    );
    let got = run(&page(&head, &body));
    let text = super::tests::body_text(&got);
    assert!(
        text.starts_with(lead) && text.contains("中标利率维持在2.2%不变"),
        "{text}"
    );
    // A box that is not the description stays out.
    let got = run(&page(&head.replace(lead, "别的摘要"), &body));
    let text = super::tests::body_text(&got);
    assert!(text.starts_with("3月3日，中国人民银行"), "{text}");
}
