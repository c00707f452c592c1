//! JSON and JSONP list sources (CONTRACT §2 `type = "json"`, §3, §6): East
//! Money's news columns in the shape `{"data":{"list":[{"code", "title",
//! "showTime", "mediaName", "summary", "url"}]}}`, once as plain JSON and once
//! wrapped as JSONP, with overlapping items. One `articles` row per infoCode
//! (`NW` + code), times read in Beijing time and stored in UTC, the outlet from
//! `mediaName`, a sighting per source that carried the item.

mod support;

use serde_json::json;
use support::*;

/// One column item as East Money serves it.
struct Item {
    code: &'static str,
    title: &'static str,
    show_time: &'static str,
    media: &'static str,
    summary: &'static str,
}

impl Item {
    fn info_code(&self) -> String {
        format!("NW{}", self.code)
    }
    fn url(&self) -> String {
        format!("http://finance.eastmoney.com/a/{}.html", self.code)
    }
    fn json(&self) -> serde_json::Value {
        json!({
            "code": self.code,
            "title": self.title,
            "showTime": self.show_time,
            "mediaName": self.media,
            "summary": self.summary,
            "url": self.url(),
            "image": "",
            "columns": "345,350",
        })
    }
}

const A: Item = Item {
    code: "202204192348095567",
    title: "刚刚 工信部明确表态 二季度工业经济稳增长有四大举措！",
    show_time: "2022-04-19 12:22:44",
    media: "证券日报网",
    summary: "4月19日上午，工业和信息化部新闻发言人罗俊杰表示，一季度工业经济实现平稳开局。",
};
const B: Item = Item {
    code: "202204202349011234",
    title: "央行：4月份LPR维持不变 1年期3.7%",
    show_time: "2022-04-20 09:15:03",
    media: "中国证券网",
    summary: "4月20日，1年期LPR为3.7%，5年期以上LPR为4.6%，均与上月持平。",
};
const C: Item = Item {
    code: "202204192348201111",
    title: "A股三大指数集体收涨 创业板指涨逾2%",
    show_time: "2022-04-19 15:02:10",
    media: "财联社",
    summary: "沪指涨0.16%，深成指涨0.83%，创业板指涨2.06%。",
};
/// Published just after midnight Beijing time: the previous day in UTC.
const D: Item = Item {
    code: "202204202349302222",
    title: "国常会：加大金融对实体经济支持力度",
    show_time: "2022-04-20 07:30:00",
    media: "央视新闻",
    summary: "国务院常务会议部署加大金融对实体经济的支持。",
};

/// `{"data":{"list":[…]}}` as the list API answers.
fn column(items: &[&Item]) -> String {
    json!({
        "re": true,
        "message": "",
        "data": {
            "list": items.iter().map(|i| i.json()).collect::<Vec<_>>(),
            "page_index": 1,
            "page_size": 50,
            "total_hits": items.len(),
        }
    })
    .to_string()
}

const JSON_PATH: &str = "/comm/web/getNewsByColumns";
const JSONP_PATH: &str = "/comm/web/getListInfo";

fn json_source(name: &str, url: &str) -> String {
    format!(
        r#"
[[source]]
name = {name:?}
type = "json"
url = {url:?}
category = "emnews"
items = "/data/list"
fields = {{ info_code = "/code", title = "/title", published = "/showTime", media = "/mediaName", summary = "/summary", url = "/url" }}
timezone = "Asia/Shanghai"
"#
    )
}

fn share_table() -> String {
    "[share]\nresolve = []\nallow_hosts = [\"127.0.0.1\"]\nfollow_discovered = true\n".to_string()
}

struct Run {
    out: Output,
    conn: rusqlite::Connection,
    server: TestServer,
    _dir: tempfile::TempDir,
}

/// Column 345 as JSON and column 350 as `jsonp_body`, both polled by one `once`.
fn crawl(json_body: String, jsonp_body: String) -> Run {
    let server = TestServer::start();
    server.set(JSON_PATH, Route::ok("application/json; charset=utf-8", json_body));
    server.set(
        JSONP_PATH,
        Route::ok("application/javascript; charset=utf-8", jsonp_body),
    );
    let dir = tempdir();
    let mut cfg = publisher_config(&share_table());
    cfg.push_str(&json_source(
        "em-column-345",
        &server.url(&format!("{JSON_PATH}?client=web&column=345&page_size=50")),
    ));
    cfg.push_str(&json_source(
        "em-column-350",
        &server.url(&format!("{JSONP_PATH}?cb=jQuery1123&column=350")),
    ));
    let config = write_config(dir.path(), &cfg);
    let out = run_once(&config);
    let conn = open_db(&db_path(dir.path()));
    Run {
        out,
        conn,
        server,
        _dir: dir,
    }
}

fn check_item(soft: &mut Soft, conn: &rusqlite::Connection, item: &Item, sources: &[&str]) {
    let code = item.info_code();
    let Some(a) = article_by_code(conn, &code) else {
        soft.check(false, || {
            format!("an article with info_code {code}; stored: {:?}", titles(conn))
        });
        return;
    };
    let local = beijing(item.show_time);
    soft.eq(a.dedup_key.as_str(), format!("info:{code}").as_str(), "dedup_key");
    soft.eq(a.title.as_str(), item.title, &format!("title of {code}"));
    soft.eq(
        a.published_at.clone(),
        Some(utc_text(&local)),
        &format!("published_at of {code} (Beijing {} − 8 h)", item.show_time),
    );
    soft.eq(
        a.published_local.clone(),
        Some(local.to_rfc3339()),
        &format!("published_local of {code}"),
    );
    soft.eq(a.media.as_deref(), Some(item.media), &format!("media of {code}"));
    soft.eq(a.url.clone(), Some(item.url()), &format!("url of {code}"));
    soft.eq(
        a.summary.as_deref(),
        Some(item.summary),
        &format!("summary of {code}"),
    );
    soft.eq(
        a.content_text.as_deref(),
        Some(item.summary),
        &format!("content_text of {code} (the summary, rank 1)"),
    );
    soft.eq(
        a.category.as_deref(),
        Some("emnews"),
        &format!("category of {code}"),
    );
    soft.eq(a.revision, 1, &format!("revision of {code}"));
    soft.eq(
        sighting_sources(conn, a.id),
        sources.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
        &format!("sightings of {code}"),
    );
}

fn check_columns(jsonp_body: String) {
    let r = crawl(column(&[&A, &B, &C]), jsonp_body);
    let _diag = r.out.on_panic();
    r.out.assert_code(0);
    let mut soft = Soft::new();
    soft.eq(
        r.server.requests().len(),
        2,
        &format!("requests (one per list):\n{}", r.server.describe_requests()),
    );
    soft.eq(
        count(&r.conn, "articles"),
        4,
        &format!("articles, one per infoCode: {:?}", titles(&r.conn)),
    );
    check_item(&mut soft, &r.conn, &A, &["em-column-345"]);
    check_item(&mut soft, &r.conn, &B, &["em-column-345", "em-column-350"]);
    check_item(&mut soft, &r.conn, &C, &["em-column-345", "em-column-350"]);
    check_item(&mut soft, &r.conn, &D, &["em-column-350"]);
    soft.eq(count(&r.conn, "sightings"), 6, "sightings in all");
    for name in ["em-column-345", "em-column-350"] {
        let s = source(&r.conn, name);
        soft.eq(s.last_status, Some(200), &format!("last_status of {name}"));
        soft.check(s.last_error.as_deref().unwrap_or("").is_empty(), || {
            format!("{name}: no last_error, got {:?}", s.last_error)
        });
    }
    soft.finish();
}

#[test]
fn json_column_and_its_jsonp_callback_twin_give_one_row_per_info_code() {
    let jsonp = format!(
        "jQuery1123035243214830467_1650342164000({});",
        column(&[&B, &C, &D])
    );
    check_columns(jsonp);
}

#[test]
fn json_column_and_its_jsonp_var_twin_give_one_row_per_info_code() {
    let jsonp = format!("var ajaxResult = {};\n", column(&[&B, &C, &D]));
    check_columns(jsonp);
}

#[test]
fn an_item_without_a_title_is_skipped_and_the_rest_stored() {
    let mut list: serde_json::Value = serde_json::from_str(&column(&[&A, &B, &C])).unwrap();
    // B loses its title.
    list["data"]["list"][1].as_object_mut().unwrap().remove("title");
    let jsonp = format!("jQuery1123({})", column(&[&D]));
    let r = crawl(list.to_string(), jsonp);
    let _diag = r.out.on_panic();
    r.out.assert_code(0);
    let mut soft = Soft::new();
    soft.eq(
        count(&r.conn, "articles"),
        3,
        &format!("articles: {:?}", titles(&r.conn)),
    );
    soft.check(article_by_code(&r.conn, &B.info_code()).is_none(), || {
        format!("the item without a title is not stored: {:?}", titles(&r.conn))
    });
    soft.check(
        !articles(&r.conn)
            .iter()
            .any(|a| a.title.trim().is_empty() || a.title == B.summary),
        || format!("no article with an empty or made-up title: {:?}", titles(&r.conn)),
    );
    check_item(&mut soft, &r.conn, &A, &["em-column-345"]);
    check_item(&mut soft, &r.conn, &C, &["em-column-345"]);
    check_item(&mut soft, &r.conn, &D, &["em-column-350"]);
    let s = source(&r.conn, "em-column-345");
    soft.eq(s.last_status, Some(200), "last_status of em-column-345");
    soft.check(s.last_error.as_deref().unwrap_or("").is_empty(), || {
        format!("a skipped item does not fail its source: {:?}", s.last_error)
    });
    soft.finish();
}

#[test]
fn a_jsonp_wrapper_around_non_json_fails_that_source_only() {
    let broken = "jQuery1123035243214830467_1650342164000(<!DOCTYPE html><html><body>系统繁忙，请稍后再试</body></html>);";
    let r = crawl(column(&[&A, &B, &C]), broken.to_string());
    let _diag = r.out.on_panic();
    let mut soft = Soft::new();
    soft.eq(r.out.code, Some(1), "exit code (one source failed)");
    soft.eq(
        r.server.requests_for(JSONP_PATH).len(),
        1,
        "the broken list was requested once",
    );
    soft.eq(
        count(&r.conn, "articles"),
        3,
        &format!("the JSON column's articles are stored: {:?}", titles(&r.conn)),
    );
    check_item(&mut soft, &r.conn, &A, &["em-column-345"]);
    check_item(&mut soft, &r.conn, &B, &["em-column-345"]);
    check_item(&mut soft, &r.conn, &C, &["em-column-345"]);

    let bad = source(&r.conn, "em-column-350");
    let err = bad.last_error.clone().unwrap_or_default();
    soft.check(err.to_lowercase().contains("jsonp"), || {
        format!("last_error of em-column-350 names the JSONP problem: {err:?}")
    });
    soft.check(bad.consecutive_failures >= 1, || {
        format!(
            "consecutive_failures of em-column-350: {}",
            bad.consecutive_failures
        )
    });
    let fetch_errors: Vec<Option<String>> = fetches(&r.conn)
        .into_iter()
        .filter(|f| f.url.contains(JSONP_PATH))
        .map(|f| f.error)
        .collect();
    soft.check(
        fetch_errors
            .iter()
            .any(|e| e.as_deref().is_some_and(|e| !e.trim().is_empty())),
        || format!("the fetch of the broken list records an error: {fetch_errors:?}"),
    );
    let good = source(&r.conn, "em-column-345");
    soft.eq(good.last_status, Some(200), "last_status of em-column-345");
    soft.check(good.last_error.as_deref().unwrap_or("").is_empty(), || {
        format!("em-column-345 has no error: {:?}", good.last_error)
    });
    soft.finish();
}
