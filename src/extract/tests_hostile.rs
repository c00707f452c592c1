//! Timings of the pages `tests/admission_bounds.rs` serves (100,000 links in one
//! paragraph, 100,000 sibling paragraphs, nested `<div>`s), through [`extract`] and the
//! normalization a crawl applies after it. Ignored: they print figures, they assert only
//! what the pages must give.
//!
//! ```sh
//! cargo test --lib extract::tests_hostile -- --ignored --nocapture
//! NESTED_DEPTH=16000 cargo test --lib extract::tests_hostile::nested -- --ignored --nocapture
//! ```

use std::time::Instant;

use url::Url;

use super::tests_corpus::now;
use super::{ExtractError, Extracted, extract};
use crate::normalize::content_from_html;
use crate::sources::ContentRank;

const TZ: chrono_tz::Tz = chrono_tz::Asia::Shanghai;

fn page(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>{title}</title></head>\
         <body><h1>{title}</h1><div class=\"content\">{body}</div></body></html>"
    )
}

/// Two paragraphs and one `<p>` of 100,000 share links (about 6 MiB).
fn links_page() -> String {
    let mut links = String::with_capacity(6 << 20);
    for i in 0..100_000u64 {
        links.push_str(&format!(
            "<a href=\"http://mirror.example/s?infoCode=NW2022041900{i:08}\">{i}</a> "
        ));
    }
    page(
        "公告汇总",
        &format!(
            "<p>上海证券交易所今日发布公告，多家上市公司披露年度报告。</p>\
             <p>分析人士认为，年报披露高峰期将至。</p><p>{links}</p>"
        ),
    )
}

/// 100,000 sibling paragraphs (about 5 MiB).
fn sibling_page() -> String {
    let mut body = String::with_capacity(6 << 20);
    for i in 0..100_000 {
        body.push_str(&format!("<p>第{i:06}段：市场震荡，成交量放大。</p>"));
    }
    page("兄弟页面", &body)
}

/// `depth` nested `<div>`s with a line of text each.
fn nested_page(depth: usize) -> String {
    let mut page = String::with_capacity(depth * 64);
    page.push_str("<!DOCTYPE html><html><head><title>嵌套页面</title></head><body><h1>嵌套页面</h1>");
    for i in 0..depth {
        page.push_str(&format!("<div class=\"n{}\">第{i:06}层：嵌套的段落文字。", i % 7));
    }
    page.push_str("正文结束。");
    for _ in 0..depth {
        page.push_str("</div>");
    }
    page.push_str("</body></html>");
    page
}

/// Extracts `html`, normalizes the content as a crawl does, prints the times.
fn timed(name: &str, html: &str) -> Result<Extracted, ExtractError> {
    let url = Url::parse("http://127.0.0.1/a/1.html").expect("literal");
    let started = Instant::now();
    let got = extract(html, &url, None, TZ, now());
    let extracted = started.elapsed();
    let normalized = got.as_ref().ok().map(|g| {
        let html = &g.entry.content.as_ref().expect("content").0;
        let started = Instant::now();
        let content = content_from_html(html, ContentRank::Full);
        (started.elapsed(), content.map_or(0, |c| c.text.len()))
    });
    eprintln!(
        "{name}: {} KiB, extract {extracted:.2?} ({}), normalize {:?}",
        html.len() >> 10,
        match &got {
            Ok(g) => format!("{}, {} links", g.extractor, g.links.len()),
            Err(e) => e.to_string(),
        },
        normalized,
    );
    got
}

#[test]
#[ignore = "prints timings"]
fn links() {
    let got = timed("100,000 links", &links_page()).expect("an article");
    assert!(!got.links.is_empty());
}

#[test]
#[ignore = "prints timings"]
fn siblings() {
    let got = timed("100,000 siblings", &sibling_page()).expect("an article");
    assert_eq!(got.extractor, "readability");
}

#[test]
#[ignore = "prints timings"]
fn nested() {
    let depth = std::env::var("NESTED_DEPTH")
        .ok()
        .and_then(|d| d.parse().ok())
        .unwrap_or(100_000);
    let _ = timed(&format!("{depth} nested divs"), &nested_page(depth));
}

#[test]
#[ignore = "prints timings"]
fn stages() {
    use super::page::Page;
    let html = match std::env::var("STAGE_PAGE").as_deref() {
        Ok("siblings") => sibling_page(),
        _ => links_page(),
    };
    let url = Url::parse("http://127.0.0.1/a/1.html").expect("literal");
    let t = Instant::now();
    let _ = crate::html_bounds::check(&html);
    eprintln!("check {:?}", t.elapsed());
    let t = Instant::now();
    let page = Page::new(&html, &url, TZ, now());
    eprintln!("parse {:?}", t.elapsed());
    let t = Instant::now();
    let _ = page.signals();
    eprintln!("signals {:?}", t.elapsed());
    for (name, f) in [
        ("eastmoney", super::eastmoney::extract as super::Extractor),
        ("jsonld", super::jsonld::extract),
        ("og", super::opengraph::extract),
    ] {
        let t = Instant::now();
        let _ = f(&page);
        eprintln!("{name} {:?}", t.elapsed());
    }
    let t = Instant::now();
    let body = super::readability::main_body(&page).expect("body");
    eprintln!("main_body {:?}", t.elapsed());
    let t = Instant::now();
    let _ = page.headline();
    eprintln!("headline {:?}", t.elapsed());
    let t = Instant::now();
    let _ = page.byline_date();
    eprintln!("byline_date {:?}", t.elapsed());
    let t = Instant::now();
    let _ = page.shown_published();
    eprintln!("shown_published {:?}", t.elapsed());
    let t = Instant::now();
    let _ = page.byline_media();
    eprintln!("byline_media {:?}", t.elapsed());
    let t = Instant::now();
    let cleaned = super::clean::clean_body(&body, &url);
    eprintln!("clean {:?}", t.elapsed());
    let t = Instant::now();
    let s = crate::normalize::sanitize_html(&cleaned.html);
    eprintln!("sanitize {:?}", t.elapsed());
    let t = Instant::now();
    let _ = crate::normalize::html_to_text(&s);
    eprintln!("to_text {:?}", t.elapsed());
    let t = Instant::now();
    let _ = page.best_published(None, None);
    eprintln!("best_published {:?}", t.elapsed());
    let t = Instant::now();
    drop(page);
    eprintln!("drop {:?}", t.elapsed());
}
