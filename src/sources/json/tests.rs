//! Unit tests for the JSON / JSONP list and detail parser.

use super::*;
use crate::config::JsonFields;
use crate::dates::{Precision, format_local, format_utc};

fn now() -> DateTime<Utc> {
    crate::sources::test_now()
}

fn config() -> JsonListConfig {
    JsonListConfig {
        items: "/data/list".into(),
        fields: JsonFields {
            info_code: Some("/code".into()),
            title: "/title".into(),
            published: Some("/showTime".into()),
            media: Some("/mediaName".into()),
            summary: Some("/summary".into()),
            url: Some("/url".into()),
            content: None,
        },
        detail_url: None,
        detail_content: None,
    }
}

fn base() -> Url {
    Url::parse("https://np-listapi.eastmoney.com/comm/web/getNewsByColumns?column=345")
        .unwrap_or_else(|e| panic!("base url: {e}"))
}

const EAST_MONEY: &str = r#"{"data":{"list":[
    {"code":"202204192348095567","title":"刚刚 工信部明确表态 二季度工业经济稳增长有四大举措！",
     "showTime":"2022-04-19 12:22:44","mediaName":"证券日报网",
     "summary":"工信部新闻发言人表示……","url":"http://finance.eastmoney.com/a/202204192348095567.html"},
    {"code":"NW202204192348011111","title":"第二条","showTime":"2022-04-19 09:05:00",
     "mediaName":"中国证券报","summary":"","url":"//finance.eastmoney.com/a/202204192348011111.html"}
]},"code":0,"message":"success"}"#;

fn parse_ok(body: &str) -> JsonList {
    parse_list(
        body.as_bytes(),
        None,
        &config(),
        &base(),
        chrono_tz::Asia::Shanghai,
        now(),
    )
    .unwrap_or_else(|e| panic!("parse failed: {e}"))
}

fn check_east_money(list: &JsonList) {
    assert!(list.skipped.is_empty(), "{:?}", list.skipped);
    assert_eq!(list.entries.len(), 2);
    let e = &list.entries[0];
    assert_eq!(e.info_code.as_deref(), Some("202204192348095567"));
    assert_eq!(e.guid.as_deref(), Some("202204192348095567"));
    assert_eq!(
        e.title.as_deref(),
        Some("刚刚 工信部明确表态 二季度工业经济稳增长有四大举措！")
    );
    let published = e.published.unwrap_or_else(|| panic!("no date"));
    assert_eq!(format_utc(published.utc), "2022-04-19T04:22:44Z");
    assert_eq!(format_local(published.local), "2022-04-19T12:22:44+08:00");
    assert_eq!(published.precision, Precision::NaiveSeconds);
    assert_eq!(e.media, Some(("证券日报网".to_owned(), MediaRank::Field)));
    assert_eq!(e.summary.as_deref(), Some("工信部新闻发言人表示……"));
    assert_eq!(
        e.link.as_deref(),
        Some("http://finance.eastmoney.com/a/202204192348095567.html")
    );
    assert_eq!(e.content, None);

    let second = &list.entries[1];
    assert_eq!(second.info_code.as_deref(), Some("NW202204192348011111"));
    assert_eq!(second.summary, None, "an empty summary is no summary");
    assert_eq!(
        second.link.as_deref(),
        Some("https://finance.eastmoney.com/a/202204192348011111.html"),
        "protocol-relative URLs take the list's scheme"
    );
    assert_eq!(
        second.published.map(|p| format_utc(p.utc)).as_deref(),
        Some("2022-04-19T01:05:00Z")
    );
}

#[test]
fn east_money_list() {
    check_east_money(&parse_ok(EAST_MONEY));
}

#[test]
fn east_money_list_with_bom_and_charset_header() {
    let body = format!("\u{FEFF}  \n{EAST_MONEY}\n");
    let list = parse_list(
        body.as_bytes(),
        Some("application/json; charset=utf-8"),
        &config(),
        &base(),
        chrono_tz::Asia::Shanghai,
        now(),
    )
    .unwrap_or_else(|e| panic!("parse failed: {e}"));
    check_east_money(&list);
}

#[test]
fn gbk_named_in_content_type() {
    let body = format!("cb({EAST_MONEY});");
    let (gbk, _, _) = encoding_rs::GBK.encode(&body);
    let list = parse_list(
        &gbk,
        Some("application/javascript; charset=GBK"),
        &config(),
        &base(),
        chrono_tz::Asia::Shanghai,
        now(),
    )
    .unwrap_or_else(|e| panic!("parse failed: {e}"));
    check_east_money(&list);
}

#[test]
fn jsonp_forms() {
    for body in [
        format!("jQuery1123049_1650342164000({EAST_MONEY})"),
        format!("jQuery1123049_1650342164000({EAST_MONEY});\n"),
        format!("/**/ cb( {EAST_MONEY} );"),
        format!("var newsList = {EAST_MONEY};"),
        format!("window.newsList={EAST_MONEY}"),
        format!("var newsList = {EAST_MONEY}; var total = 2;"),
    ] {
        check_east_money(&parse_ok(&body));
    }
}

#[test]
fn unwrap_jsonp_cases() {
    assert_eq!(unwrap_jsonp(r#"cb({"a":1})"#), r#"{"a":1}"#);
    assert_eq!(unwrap_jsonp(r#"cb({"a":1});"#), r#"{"a":1}"#);
    assert_eq!(unwrap_jsonp("var x = [1, 2];\n"), "[1, 2]");
    assert_eq!(unwrap_jsonp(r#"/**/cb({"a":"(b)"})"#), r#"{"a":"(b)"}"#);
    assert_eq!(unwrap_jsonp("\u{FEFF} {\"a\":1} "), r#"{"a":1}"#);
    assert_eq!(unwrap_jsonp("<html></html>"), "<html></html>");
}

#[test]
fn numeric_code_and_epoch_millis() {
    let body = r#"{"data":{"list":[{"code":202204192348095567,"title":12345,
        "showTime":1650342164000,"url":"/a/202204192348095567.html"},
        {"code":"x","title":"秒","showTime":1650342164.0}]}}"#;
    let list = parse_ok(body);
    assert!(list.skipped.is_empty(), "{:?}", list.skipped);
    let e = &list.entries[0];
    assert_eq!(e.info_code.as_deref(), Some("202204192348095567"));
    assert_eq!(e.title.as_deref(), Some("12345"));
    let published = e.published.unwrap_or_else(|| panic!("no date"));
    assert_eq!(format_utc(published.utc), "2022-04-19T04:22:44Z");
    assert_eq!(published.precision, Precision::OffsetSeconds);
    assert_eq!(
        e.link.as_deref(),
        Some("https://np-listapi.eastmoney.com/a/202204192348095567.html")
    );
    assert_eq!(
        list.entries[1].published.map(|p| format_utc(p.utc)).as_deref(),
        Some("2022-04-19T04:22:44Z"),
        "a whole float is an epoch time too"
    );
}

#[test]
fn item_without_title_is_skipped_with_reason() {
    let body = r#"{"data":{"list":[{"title":"一"},{"code":"1"},{"title":{"x":1}},
        {"title":"  "},{"title":"五","mediaName":["bad"],"showTime":"不是日期","url":"javascript:void(0)"}]}}"#;
    let list = parse_ok(body);
    assert_eq!(
        list.entries
            .iter()
            .map(|e| e.title.as_deref())
            .collect::<Vec<_>>(),
        vec![Some("一"), Some("五")]
    );
    assert_eq!(
        list.skipped,
        vec![
            "item 1: no title at /title".to_owned(),
            "item 2: no title at /title (found an object, not a string)".to_owned(),
            "item 3: empty title at /title".to_owned(),
        ]
    );
    let last = &list.entries[1];
    assert_eq!(last.media, None);
    assert_eq!(last.published, None);
    assert_eq!(last.link, None);
}

#[test]
fn content_field_and_root_array() {
    let mut cfg = config();
    cfg.items = String::new();
    cfg.fields.content = Some("/body".into());
    let body = r#"[{"title":"t","body":"<p>正文</p>"}]"#;
    let list = parse_list(
        body.as_bytes(),
        None,
        &cfg,
        &base(),
        chrono_tz::Asia::Shanghai,
        now(),
    )
    .unwrap_or_else(|e| panic!("parse failed: {e}"));
    assert_eq!(list.entries.len(), 1);
    assert_eq!(
        list.entries[0].content,
        Some(("<p>正文</p>".to_owned(), ContentRank::Feed))
    );
}

#[test]
fn jsonp_around_non_json_is_an_error() {
    let err = parse_list(
        b"jQuery123(<html>busy</html>);",
        None,
        &config(),
        &base(),
        chrono_tz::Asia::Shanghai,
        now(),
    )
    .err()
    .unwrap_or_else(|| panic!("accepted non-JSON"));
    assert!(matches!(err, JsonError::JsonpNotJson { .. }), "{err:?}");
    assert!(
        err.to_string()
            .starts_with("JSONP wrapper does not contain JSON: "),
        "{err}"
    );

    let err = parse_detail(b"<html>busy</html>", None, "/text")
        .err()
        .unwrap_or_else(|| panic!("accepted HTML"));
    assert!(matches!(err, JsonError::NotJson { .. }), "{err:?}");
}

#[test]
fn no_array_at_pointer_is_an_error() {
    let err = parse_list(
        br#"{"data":{"list":{"a":1}}}"#,
        None,
        &config(),
        &base(),
        chrono_tz::Asia::Shanghai,
        now(),
    )
    .err()
    .unwrap_or_else(|| panic!("accepted an object"));
    assert!(matches!(err, JsonError::NoArray { .. }), "{err:?}");
    assert_eq!(err.to_string(), "no array at /data/list: found an object");

    let err = parse_list(
        br#"{"data":null,"message":"no data"}"#,
        None,
        &config(),
        &base(),
        chrono_tz::Asia::Shanghai,
        now(),
    )
    .err()
    .unwrap_or_else(|| panic!("accepted a missing list"));
    assert!(matches!(err, JsonError::MissingPointer { .. }), "{err:?}");
    assert_eq!(err.to_string(), "nothing at JSON pointer /data/list");
}

#[test]
fn detail_body() {
    let json = r#"{"data":{"text":"<p>正文</p>"}}"#;
    let html = parse_detail(json.as_bytes(), None, "/data/text").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(html, "<p>正文</p>");
    let jsonp = format!("cb({json});");
    let html = parse_detail(jsonp.as_bytes(), Some("application/javascript"), "/data/text")
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(html, "<p>正文</p>");

    let err = parse_detail(json.as_bytes(), None, "/text").err();
    assert!(matches!(err, Some(JsonError::MissingPointer { .. })), "{err:?}");
    let err = parse_detail(br#"{"text":{"p":1}}"#, None, "/text").err();
    assert!(matches!(err, Some(JsonError::NotText { .. })), "{err:?}");
    let err = parse_detail(br#"{"text":" "}"#, None, "/text").err();
    assert!(matches!(err, Some(JsonError::EmptyText { .. })), "{err:?}");
}
