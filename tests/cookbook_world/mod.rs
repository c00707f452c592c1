//! The small world the read-API tests crawl (tests/cookbook.rs, tests/datasette_live.rs):
//! three feeds that share articles, one that fails, and an article whose text is revised
//! between two crawls; and the cookbook queries read from docs/schema.md itself.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::support::*;

/// One RSS item: title, path of its link, pubDate, description (plain text).
pub struct Item {
    pub title: &'static str,
    pub path: &'static str,
    pub date: &'static str,
    pub text: &'static str,
}

/// 工业经济 (4 characters) in A's title and text; 股市 (2) in B's title and D's text; the
/// stock code 300750 in D; A is listed by three feeds, B by two.
pub const A: Item = Item {
    title: "工业经济稳步恢复",
    path: "/a/1.html",
    date: "Tue, 19 Apr 2022 12:00:00 +0800",
    text: "4月份工业经济运行总体平稳，制造业增加值同比增长。（文章来源：证券日报网）",
};
pub const B: Item = Item {
    title: "股市震荡上行 银行板块领涨",
    path: "/a/2.html",
    date: "Tue, 19 Apr 2022 13:00:00 +0800",
    text: "今日沪深两市震荡上行，银行板块领涨。（文章来源：证券日报网）",
};
pub const C: Item = Item {
    title: "央行决定降准",
    path: "/a/3.html",
    date: "Mon, 18 Apr 2022 09:00:00 +0800",
    text: "央行决定下调存款准备金率。（文章来源：上海证券报）",
};
/// C as the second crawl finds it: the text corrected (longer, so it replaces the first).
pub const C_REVISED: Item = Item {
    text: "央行决定下调金融机构存款准备金率0.25个百分点，释放长期资金约5300亿元。（文章来源：上海证券报）",
    ..C
};
pub const D: Item = Item {
    title: "宁德时代一季度营收大增",
    path: "/a/4.html",
    date: "Tue, 19 Apr 2022 14:00:00 +0800",
    text: "宁德时代（300750）一季度营收同比增长，带动新能源板块，股市情绪回暖。",
};

/// An RSS 2.0 feed of these items, links on `server`.
pub fn rss(server: &TestServer, channel: &str, items: &[&Item]) -> String {
    let mut s = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rss version=\"2.0\"><channel>\
         <title>{channel}</title><link>{}</link><description>{channel}</description>\n",
        server.url("/")
    );
    for item in items {
        let link = server.url(item.path);
        s.push_str(&format!(
            "<item><title>{}</title><link>{link}</link><guid>{link}</guid><pubDate>{}</pubDate>\
             <description>{}</description></item>\n",
            item.title, item.date, item.text
        ));
    }
    s.push_str("</channel></rss>\n");
    s
}

/// Serves the first crawl's feeds: `zqrb` (A, B, C), `cnstock` (A, D), `sina` (A, B), and
/// `broken` answering 500.
pub fn serve_first(server: &TestServer) {
    server.set("/zqrb.xml", Route::rss(rss(server, "证券日报", &[&A, &B, &C])));
    server.set("/cnstock.xml", Route::rss(rss(server, "中国证券网", &[&A, &D])));
    server.set("/sina.xml", Route::rss(rss(server, "新浪财经", &[&A, &B])));
    server.set("/broken.xml", Route::status(500));
}

/// The second crawl: `zqrb` lists C with its corrected text.
pub fn serve_second(server: &TestServer) {
    server.set(
        "/zqrb.xml",
        Route::rss(rss(server, "证券日报", &[&A, &B, &C_REVISED])),
    );
}

/// The `[[source]]` blocks of the world.
pub fn sources(server: &TestServer) -> String {
    let mut s = String::new();
    for name in ["zqrb", "cnstock", "sina", "broken"] {
        s.push_str(&feed_source(
            name,
            &server.url(&format!("/{name}.xml")),
            "财经",
            &[],
        ));
    }
    s
}

/// docs/schema.md.
pub fn schema_doc_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("docs")
        .join("schema.md")
}

/// The cookbook: every fenced ```sql block of docs/schema.md whose first line is
/// `-- name: NAME`, by name, with the SQL text as written (the comment lines included).
pub fn cookbook() -> BTreeMap<String, String> {
    let path = schema_doc_path();
    let doc = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    let mut queries = BTreeMap::new();
    let mut rest = doc.as_str();
    while let Some(start) = rest.find("```sql\n") {
        let body = &rest[start + "```sql\n".len()..];
        let end = body
            .find("\n```")
            .expect("a closed ```sql block in docs/schema.md");
        let block = &body[..end];
        if let Some(name) = block.lines().next().and_then(|l| l.strip_prefix("-- name: ")) {
            let previous = queries.insert(name.trim().to_owned(), block.to_owned());
            assert!(previous.is_none(), "two cookbook queries named {name}");
        }
        rest = &body[end + 4..];
    }
    queries
}

/// The named parameters (`:name`) a query uses, in order of first use.
pub fn parameters(sql: &str) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    let code: String = sql
        .lines()
        .map(|l| l.split("--").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n");
    let bytes = code.as_bytes();
    let mut i = 0;
    let mut in_string = false;
    while i < bytes.len() {
        match bytes[i] {
            b'\'' => in_string = !in_string,
            b':' if !in_string => {
                let name: String = code[i + 1..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() && !names.contains(&name) {
                    names.push(name);
                }
            }
            _ => {}
        }
        i += 1;
    }
    names
}
