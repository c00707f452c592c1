//! Property tests: what a hostile or broken publisher cannot get into the database.
//!
//! Every property is checked against an independent truth — a hand-written check, chrono's
//! formatters, the url crate, html5ever (through `scraper`) re-parsing the stored HTML, a
//! hand-built TOML text — never against a copy of the code under test:
//!
//! * **No panics** on arbitrary bytes and on mutated real documents (the feedparser and
//!   finews corpora in `../shared/corpus`, the fixtures) for feeds, JSON lists, HTML lists,
//!   article extraction, dates and the config.
//! * **Normalized articles** carry no C0 control character other than tab and newline in
//!   any text, only `http(s)` links, times inside 1990-01-01 … now + 2 days (or none), an
//!   infoCode only of the form `[A-Z]{2}` + 18 digits, and content HTML that, re-parsed by
//!   html5ever, holds no `<script>`, no `on*` attribute and no `javascript:`, `vbscript:` or
//!   `data:` URL — also when the publisher hides control characters inside tag names,
//!   attribute names and URL schemes.
//! * **Sanitizing is idempotent**, and so is deriving content from stored content.
//! * **Dates**: RFC 2822 and RFC 3339 texts written by chrono, epoch seconds and naive
//!   local times read in a timezone (chrono-tz) parse back to the same instant.
//! * **infoCodes**: exactly the code planted in random text is found, nothing from
//!   near-misses (17 or 19 digits, lowercase or three-letter prefixes, full-width digits).
//! * **Identity**: the `dedup_key` is the same under the URL variations CONTRACT §3/§6 treat
//!   as one URL (scheme and host case, default port, fragment, `utm_*`/`spm`, surrounding
//!   space), and different for different infoCodes and different paths.
//! * **Config**: a valid-by-construction config reads back with every value it was written
//!   with; durations beyond 10 years, zero, overflowing numbers and sizes beyond `u64` are
//!   errors, never panics or saturated values.
//!
//! Run: `cargo test --test properties` (quick: a few dozen to a few hundred cases per
//! property, well under a minute in debug). The long variant runs every property with
//! [`LONG_FACTOR`] times as many cases: `cargo test --test properties -- --ignored`.
//! Minimal failing cases are kept in `tests/properties.proptest-regressions` and replayed
//! first on every run.

use std::path::{Path, PathBuf};
use std::sync::LazyLock;
use std::time::Duration;

use chrono::{DateTime, FixedOffset, SecondsFormat, TimeZone, Timelike, Utc};
use chrono_tz::Tz;
use proptest::prelude::*;
use proptest::sample::select;
use proptest::test_runner::{Config as ProptestConfig, FileFailurePersistence, TestCaseError};
use url::Url;

use feedcrawler::config::{Config, DedupConfig, HtmlListConfig, JsonFields, JsonListConfig, MAX_DURATION};
use feedcrawler::dates::{self, ParsedDate, Precision};
use feedcrawler::dedup;
use feedcrawler::normalize::{self, Article, SourceContext};
use feedcrawler::sources::{ContentRank, Entry, MediaRank, feed, html_list, json};

/// How many times more cases the `#[ignore]`d `*_long` variants run.
const LONG_FACTOR: u32 = 20;

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource(
            "proptest-regressions",
        ))),
        ..ProptestConfig::default()
    }
}

/// One property, twice: `$quick` with `$cases` cases and an `#[ignore]`d `$long` with
/// [`LONG_FACTOR`] times as many.
macro_rules! property {
    ($quick:ident, $long:ident, $cases:expr, ($($arg:pat in $strategy:expr),+ $(,)?) $body:block) => {
        proptest! {
            #![proptest_config(config($cases))]
            #[test]
            fn $quick($($arg in $strategy),+) $body
        }
        proptest! {
            #![proptest_config(config($cases * LONG_FACTOR))]
            #[test]
            #[ignore = "long variant: cargo test --test properties -- --ignored"]
            fn $long($($arg in $strategy),+) $body
        }
    };
}

// ---------------------------------------------------------------------------------------
// Seeds: real documents to mutate.

fn corpus_dir(name: &str) -> Option<PathBuf> {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    [
        manifest.join("../shared/corpus").join(name),
        PathBuf::from("/work/shared/corpus").join(name),
        manifest.join("tests/fixtures").join(name),
    ]
    .into_iter()
    .find(|p| p.is_dir())
}

fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            files_under(&path, out);
        } else {
            out.push(path);
        }
    }
}

fn read_seeds(dir: Option<PathBuf>, keep: impl Fn(&Path) -> bool) -> Vec<Vec<u8>> {
    let mut paths = Vec::new();
    if let Some(dir) = dir {
        files_under(&dir, &mut paths);
    }
    paths
        .iter()
        .filter(|p| keep(p))
        .filter_map(|p| std::fs::read(p).ok())
        .filter(|b| b.len() <= 256 * 1024)
        .collect()
}

/// Feeds: the feedparser corpus and this crate's feed fixtures.
static FEED_SEEDS: LazyLock<Vec<Vec<u8>>> = LazyLock::new(|| {
    let mut seeds = read_seeds(corpus_dir("feedparser"), |p| {
        p.extension()
            .is_some_and(|e| e == "xml" || e == "json" || e == "rdf")
    });
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    for name in [
        "atom.xml",
        "feed.json",
        "rss1_rdf.xml",
        "rss2_gbk.xml",
        "reference_rss.xml",
        "reference_atom.xml",
    ] {
        if let Ok(bytes) = std::fs::read(fixtures.join(name)) {
            seeds.push(bytes);
        }
    }
    assert!(
        seeds.len() > 100,
        "the feedparser corpus is missing ({} seeds)",
        seeds.len()
    );
    seeds
});

/// Article HTML bodies of the finews corpus (the text after the front matter).
static FINEWS_BODIES: LazyLock<Vec<String>> = LazyLock::new(|| {
    let bodies: Vec<String> = read_seeds(corpus_dir("finews"), |p| p.extension().is_some_and(|e| e == "md"))
        .into_iter()
        .map(|b| {
            let text = String::from_utf8_lossy(&b).into_owned();
            match text.splitn(3, "---").nth(2) {
                Some(body) => body.to_owned(),
                None => text,
            }
        })
        .collect();
    assert!(
        bodies.len() >= 50,
        "the finews corpus is missing ({} posts)",
        bodies.len()
    );
    bodies
});

static EXAMPLE_CONFIG: LazyLock<String> = LazyLock::new(|| {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("config/feedcrawler.toml"))
        .expect("config/feedcrawler.toml")
});

// ---------------------------------------------------------------------------------------
// Generators.

/// Bytes and strings that break parsers: declarations, CDATA, entities, controls, markup.
const TOKENS: &[&str] = &[
    "<?xml version=\"1.0\" encoding=\"GBK\"?>",
    "<?xml version=\"1.0\" encoding=\"UTF-16\"?>",
    "<?xml version=\"1.0\"?>",
    "<!DOCTYPE rss [<!ENTITY x \"&#60;script&#62;\">]>",
    "&x;",
    "<![CDATA[",
    "]]>",
    "&#0;",
    "&#1;",
    "&#x1b;",
    "&amp;",
    "&",
    "<",
    ">",
    "\"",
    "'",
    "\0",
    "\u{1}",
    "\u{1b}",
    "\u{feff}",
    "\u{fffd}",
    "<script>alert(1)</script>",
    "<a href=\"java\u{1}script:alert(1)\">x</a>",
    "<item>",
    "</item>",
    "<entry>",
    "</entry>",
    "<title>",
    "</title>",
    "<link>javascript:alert(1)</link>",
    "<pubDate>Tue, 31 Dec 9999 23:59:60 +9999</pubDate>",
    "<updated>0001-01-01T00:00:00Z</updated>",
    "{",
    "}",
    "[",
    "]",
    "\"items\":",
    "null",
    "1e999",
    "-0",
    "99999999999999999999",
    "\\u0000",
    "\\ud800",
    "中文",
    "（文章来源：",
    "）",
    "\n",
    "\r\n",
    " ",
];

#[derive(Clone, Debug)]
enum Mutation {
    /// Flip bits of the byte at this fraction of the length.
    Flip(f64, u8),
    /// Insert one of [`TOKENS`] here.
    Insert(f64, usize),
    /// Insert random bytes here.
    InsertBytes(f64, Vec<u8>),
    /// Delete up to this many bytes here.
    Delete(f64, usize),
    /// Copy a span somewhere else.
    Duplicate(f64, f64, usize),
    /// Cut the document here.
    Truncate(f64),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let at = 0.0..1.0f64;
    prop_oneof![
        3 => (at.clone(), any::<u8>()).prop_map(|(a, b)| Mutation::Flip(a, b)),
        3 => (at.clone(), 0..TOKENS.len()).prop_map(|(a, t)| Mutation::Insert(a, t)),
        1 => (at.clone(), prop::collection::vec(any::<u8>(), 1..16)).prop_map(|(a, b)| Mutation::InsertBytes(a, b)),
        2 => (at.clone(), 1..64usize).prop_map(|(a, n)| Mutation::Delete(a, n)),
        1 => (at.clone(), at.clone(), 1..256usize).prop_map(|(a, b, n)| Mutation::Duplicate(a, b, n)),
        1 => at.prop_map(Mutation::Truncate),
    ]
}

fn mutate(seed: &[u8], mutations: &[Mutation]) -> Vec<u8> {
    let mut out = seed.to_vec();
    let pos = |len: usize, f: f64| ((len as f64 * f) as usize).min(len);
    for m in mutations {
        let len = out.len();
        match m {
            Mutation::Flip(a, bits) => {
                if len > 0 {
                    let i = pos(len - 1, *a);
                    out[i] ^= bits;
                }
            }
            Mutation::Insert(a, t) => {
                let i = pos(len, *a);
                out.splice(i..i, TOKENS[*t].bytes());
            }
            Mutation::InsertBytes(a, bytes) => {
                let i = pos(len, *a);
                out.splice(i..i, bytes.iter().copied());
            }
            Mutation::Delete(a, n) => {
                let i = pos(len, *a);
                out.drain(i..(i + n).min(len));
            }
            Mutation::Duplicate(from, to, n) => {
                let i = pos(len, *from);
                let span: Vec<u8> = out[i..(i + n).min(len)].to_vec();
                let j = pos(len, *to);
                out.splice(j..j, span);
            }
            Mutation::Truncate(a) => out.truncate(pos(len, *a)),
        }
    }
    out
}

fn mutations() -> impl Strategy<Value = Vec<Mutation>> {
    prop::collection::vec(mutation(), 0..8)
}

fn control_char() -> impl Strategy<Value = char> {
    prop_oneof![8 => proptest::char::range('\0', '\u{1f}'), 1 => Just('\u{7f}')]
}

/// A character a careless or hostile publisher writes: ASCII, C0 controls, odd spaces,
/// CJK, markup characters, anything.
fn hostile_char() -> impl Strategy<Value = char> {
    prop_oneof![
        6 => proptest::char::range(' ', '~'),
        3 => control_char(),
        2 => select(vec!['中', '文', '\u{3000}', '\u{a0}', '\u{feff}', '\u{200b}', '\u{2028}', '（', '）', '＜', '&', '<', '>', ';', '#']),
        1 => any::<char>(),
    ]
}

fn hostile_string(max: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(hostile_char(), 0..max).prop_map(|v| v.into_iter().collect())
}

/// Markup vectors with `{C}` where control characters are spliced in.
const SPLICED: &[&str] = &[
    "<a href=\"java{C}script:alert(1)\">x</a>",
    "<a href=\"{C}javascript:alert(1)\">x</a>",
    "<a href=\"javascript{C}:alert(1)\">x</a>",
    "<a href=java{C}script:alert(1)>x</a>",
    "<a href=\"vb{C}script:msgbox(1)\">x</a>",
    "<a href=\"da{C}ta:text/html,<script>alert(1)</script>\">x</a>",
    "<img src=\"java{C}script:alert(1)\">",
    "<scr{C}ipt>alert(1)</scr{C}ipt>",
    "<{C}script>alert(1)</script>",
    "<script{C}>alert(1)</script>",
    "<img src=x on{C}error=alert(1)>",
    "<img src=x {C}onerror=alert(1)>",
    "<p o{C}nclick=\"x()\">p</p>",
    "<a hr{C}ef=\"javascript:alert(1)\">x</a>",
    "<a h{C}ref=\"data:text/html,x\">x</a>",
    "<ifr{C}ame src=\"javascript:alert(1)\"></iframe>",
    "<sty{C}le>p{}</style>",
    "<a href=\"&#106;ava{C}script:alert(1)\">x</a>",
    "<a href=\"java&#x{C}09;script:alert(1)\">x</a>",
    "&lt;scr{C}ipt&gt;",
    "<!-{C}- <script>alert(1)</script> -->",
];

/// Known attack vectors and ordinary article markup.
const VECTORS: &[&str] = &[
    "<script>alert(1)</script>",
    "<SCRIPT SRC=//x.example/x.js></SCRIPT>",
    "<img src=x onerror=alert(1)>",
    "<a href=\"javascript:alert(1)\">x</a>",
    "<a href=\" JaVaScRiPt:alert(1)\">x</a>",
    "<a href=\"java&#x09;script:alert(1)\">x</a>",
    "<a href=\"java\tscript:alert(1)\">x</a>",
    "<a href=\"&#106;avascript:alert(1)\">x</a>",
    "<a href=\"java&#1;script:alert(1)\">x</a>",
    "<a href=\"&#0;javascript:alert(1)\">x</a>",
    "<a href=\"javascript&#x0b;:alert(1)\">x</a>",
    "<img src=\"vb&#x1f;script:x\">",
    "<a href=\"vbscript:msgbox(1)\">x</a>",
    "<a href=\"data:text/html;base64,PHNjcmlwdD4=\">x</a>",
    "<iframe src=\"javascript:alert(1)\"></iframe>",
    "<svg onload=alert(1)><a xlink:href=\"javascript:alert(1)\">x</a></svg>",
    "<math><mi xlink:href=\"javascript:alert(1)\">x</mi></math>",
    "<form action=\"javascript:alert(1)\"><button formaction=javascript:alert(1)>b</button></form>",
    "<object data=\"javascript:alert(1)\"></object>",
    "<embed src=javascript:alert(1)>",
    "<body onload=alert(1)>",
    "<div style=\"background:url(javascript:alert(1))\">d</div>",
    "<noscript><p title=\"</noscript><img src=x onerror=alert(1)>\"></noscript>",
    "<textarea><script>alert(1)</script></textarea>",
    "<title><script>alert(1)</script></title>",
    "<style>p{}</style>",
    "<!-- c -->",
    "<![CDATA[<script>alert(1)</script>]]>",
    "<p onclick=\"x()\" class=\"em_media\">（文章来源：证券日报网）</p>",
    "<p>",
    "</p>",
    "<table><tr><td>x</td></tr></table>",
    "<a href=\"http://example.org/a\">ok</a>",
    "<a href=\"/rel?infoCode=NW202204192348095567\">rel</a>",
    "<img src=\"https://example.org/i.png\">",
    "<br>",
    "&lt;script&gt;",
    "&#0;",
    "&#1;",
    "&#x6a;avascript:",
    "正文内容，工信部明确表态。",
    " ",
    "\n",
];

fn html_piece() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => select(VECTORS).prop_map(String::from),
        4 => (select(SPLICED), prop::collection::vec(control_char(), 1..3)).prop_map(|(t, cs)| {
            let c: String = cs.into_iter().collect();
            t.replace("{C}", &c)
        }),
        2 => hostile_string(24),
    ]
}

fn hostile_html() -> impl Strategy<Value = String> {
    prop::collection::vec(html_piece(), 0..12).prop_map(|v| v.concat())
}

/// Links a publisher may give: the dangerous, the broken and the ordinary.
fn hostile_link() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => select(vec![
            "file:///etc/passwd",
            "javascript:alert(1)",
            " JavaScript:alert(1)",
            "java\u{1}script:alert(1)",
            "\u{1}javascript:alert(1)",
            "data:text/html,<script>alert(1)</script>",
            "vbscript:msgbox(1)",
            "ftp://example.org/x",
            "mailto:a@example.org",
            "http://",
            "https:///x",
            "http://example.org/a\u{0}b",
            "http://exa\u{1}mple.org/",
            "//example.org/x",
            "/a/1.html",
            "\thttp://example.org/\n",
            "HTTP://Example.ORG:80/x?utm_source=a#f",
            "https://finance.eastmoney.com/a/202204192348095567.html",
            "http://finews.zning.xyz/html_News/NewsShare.html?infoCode=NW202204192348095567",
            "http://[::1]/x",
            "http://127.0.0.1:8080/x",
            "https://例子.测试/路径?q=中文",
        ])
        .prop_map(String::from),
        2 => hostile_string(40).prop_map(|s| format!("http://example.org/{s}")),
        1 => hostile_string(40),
    ]
}

/// An instant anywhere chrono can write, with a whole-minute offset.
fn any_time() -> impl Strategy<Value = ParsedDate> {
    let min = Utc.with_ymd_and_hms(1, 1, 1, 0, 0, 0).unwrap().timestamp();
    let max = Utc
        .with_ymd_and_hms(9999, 12, 31, 23, 59, 59)
        .unwrap()
        .timestamp();
    let recent = (Utc.with_ymd_and_hms(1985, 1, 1, 0, 0, 0).unwrap().timestamp())
        ..(Utc.with_ymd_and_hms(2110, 1, 1, 0, 0, 0).unwrap().timestamp());
    (
        prop_oneof![1 => min..max, 3 => recent, 1 => Just(0i64)],
        -720..=840i32,
    )
        .prop_map(|(secs, minutes)| {
            let utc = DateTime::from_timestamp(secs, 0).unwrap();
            let offset = FixedOffset::east_opt(minutes * 60).unwrap();
            ParsedDate {
                utc,
                local: utc.with_timezone(&offset),
                precision: Precision::OffsetSeconds,
            }
        })
}

/// "now": from 2000 to 2100.
fn now_strategy() -> impl Strategy<Value = DateTime<Utc>> {
    (946_684_800i64..4_102_444_800i64).prop_map(|s| DateTime::from_timestamp(s, 0).unwrap())
}

fn opt<S: Strategy>(s: S) -> impl Strategy<Value = Option<S::Value>> {
    prop::option::weighted(0.7, s)
}

fn hostile_entry() -> impl Strategy<Value = Entry> {
    (
        (
            opt(hostile_string(30)),
            opt(hostile_string(24)),
            opt(hostile_link()),
            opt(hostile_string(40)),
        ),
        (
            opt(any_time()),
            opt(any_time()),
            opt(hostile_string(16)),
            opt(hostile_string(16)),
        ),
        (
            opt(hostile_html()),
            opt(hostile_html()),
            prop::collection::vec(hostile_string(8), 0..4),
        ),
        opt(hostile_string(8)),
    )
        .prop_map(
            |(
                (guid, info_code, link, title),
                (published, updated, author, media),
                (summary, content, categories),
                language,
            )| Entry {
                guid,
                info_code,
                link,
                title,
                published,
                updated,
                author,
                media: media.map(|m| (m, MediaRank::Field)),
                summary,
                content: content.map(|c| (c, ContentRank::Feed)),
                categories,
                language,
            },
        )
}

// ---------------------------------------------------------------------------------------
// Independent checks.

/// A C0 control character no stored text may hold (tab and newline may).
fn stray_control(c: char) -> bool {
    (c as u32) < 0x20 && c != '\t' && c != '\n'
}

fn check_text(column: &str, text: &str) -> Result<(), TestCaseError> {
    prop_assert!(
        !text.chars().any(stray_control),
        "{column} holds a control character: {text:?}"
    );
    Ok(())
}

fn check_link(column: &str, link: &str) -> Result<(), TestCaseError> {
    check_text(column, link)?;
    prop_assert!(
        link.starts_with("http://") || link.starts_with("https://"),
        "{column} is not http(s): {link:?}"
    );
    let parsed = Url::parse(link).map_err(|e| TestCaseError::fail(format!("{column} {link:?}: {e}")))?;
    prop_assert!(
        parsed.host_str().is_some_and(|h| !h.is_empty()),
        "{column} has no host: {link:?}"
    );
    Ok(())
}

/// `[A-Z]{2}` and 18 ASCII digits, checked byte by byte.
fn wellformed_code(code: &str) -> bool {
    let b = code.as_bytes();
    b.len() == 20
        && b[..2].iter().all(|c| c.is_ascii_uppercase())
        && b[2..].iter().all(|c| c.is_ascii_digit())
}

/// Attributes that a browser reads as a URL.
const URL_ATTRIBUTES: &[&str] = &[
    "href",
    "src",
    "action",
    "formaction",
    "cite",
    "background",
    "poster",
    "srcset",
    "data",
    "longdesc",
    "lowsrc",
    "dynsrc",
    "codebase",
    "ping",
    "manifest",
    "icon",
    "usemap",
    "classid",
    "archive",
    "xlink:href",
];

/// Whether a URL attribute runs code or embeds a document: what a browser's URL parser sees
/// (leading and trailing C0 controls and spaces trimmed, tab/CR/LF removed anywhere), and,
/// stricter, with every C0 control removed, as a consumer stripping them would see it.
fn dangerous_url(value: &str) -> bool {
    let browser: String = value
        .trim_matches(|c: char| c <= ' ')
        .chars()
        .filter(|c| !matches!(c, '\t' | '\n' | '\r'))
        .collect::<String>()
        .to_ascii_lowercase();
    let stripped: String = value
        .chars()
        .filter(|c| *c >= ' ')
        .collect::<String>()
        .to_ascii_lowercase();
    [browser, stripped].iter().any(|v| {
        ["javascript:", "vbscript:", "data:"]
            .iter()
            .any(|s| v.starts_with(s))
    })
}

/// Re-parses `html` with html5ever (scraper): no script or other active element, no event
/// handler, no dangerous URL; and no `<script` anywhere in the text.
fn check_safe_html(html: &str) -> Result<(), TestCaseError> {
    check_text("content_html", html)?;
    prop_assert!(
        !html.to_ascii_lowercase().contains("<script"),
        "<script in {html:?}"
    );
    let doc = scraper::Html::parse_fragment(html);
    for node in doc.tree.nodes() {
        let Some(el) = node.value().as_element() else {
            continue;
        };
        let name = el.name().to_ascii_lowercase();
        prop_assert!(
            !matches!(
                name.as_str(),
                "script"
                    | "iframe"
                    | "object"
                    | "embed"
                    | "style"
                    | "frame"
                    | "frameset"
                    | "form"
                    | "svg"
                    | "math"
            ),
            "<{name}> in {html:?}"
        );
        for (attr, value) in el.attrs() {
            let attr = attr.to_ascii_lowercase();
            prop_assert!(
                !attr.starts_with("on"),
                "event handler {attr}={value:?} in {html:?}"
            );
            if URL_ATTRIBUTES.contains(&attr.as_str()) {
                prop_assert!(!dangerous_url(value), "{attr}={value:?} in {html:?}");
            }
        }
    }
    Ok(())
}

fn earliest() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(1990, 1, 1, 0, 0, 0).unwrap()
}

/// Everything a stored article may not hold.
fn check_article(a: &Article, now: DateTime<Utc>) -> Result<(), TestCaseError> {
    check_text("dedup_key", &a.dedup_key)?;
    check_text("title", &a.title)?;
    prop_assert!(
        !a.title.contains(['\n', '\t']),
        "title not collapsed: {:?}",
        a.title
    );
    prop_assert_eq!(a.title.trim(), a.title.as_str());
    for (column, link) in [
        ("url", &a.url),
        ("share_url", &a.share_url),
        ("entry_url", &a.entry_url),
    ] {
        if let Some(link) = link {
            check_link(column, link)?;
        }
    }
    for (column, text) in [
        ("author", &a.author),
        ("category", &a.category),
        ("summary", &a.summary),
        ("language", &a.language),
        ("entry_guid", &a.entry_guid),
    ] {
        if let Some(text) = text {
            check_text(column, text)?;
        }
    }
    if let Some((media, _)) = &a.media {
        check_text("media", media)?;
    }
    for tag in &a.tags {
        check_text("tags", tag)?;
    }
    if let Some(code) = &a.info_code {
        prop_assert!(wellformed_code(code), "info_code {code:?}");
        prop_assert_eq!(&a.dedup_key, &format!("info:{code}"));
    }
    prop_assert!(
        ["info:", "url:", "guid:", "hash:"]
            .iter()
            .any(|p| a.dedup_key.starts_with(p)),
        "dedup_key {:?}",
        a.dedup_key
    );
    if let Some(key_url) = a.dedup_key.strip_prefix("url:") {
        check_link("dedup_key url", key_url)?;
    }
    let latest = now + chrono::Duration::days(2);
    if let Some(p) = &a.published {
        prop_assert!(
            p.utc >= earliest() && p.utc <= latest,
            "published {} at {now}",
            p.utc
        );
        prop_assert_eq!(p.local.with_timezone(&Utc), p.utc);
    }
    if let Some(t) = a.updated_at {
        prop_assert!(t >= earliest() && t <= latest, "updated {t} at {now}");
    }
    if let Some(c) = &a.content {
        check_safe_html(&c.html)?;
        check_text("content_text", &c.text)?;
        prop_assert!(!c.text.is_empty());
    }
    Ok(())
}

fn dedup_config() -> &'static DedupConfig {
    static DEDUP: LazyLock<DedupConfig> = LazyLock::new(DedupConfig::default);
    &DEDUP
}

fn context() -> SourceContext<'static> {
    static TAGS: LazyLock<Vec<String>> = LazyLock::new(|| vec!["财经".to_owned(), "\u{1}宏观".to_owned()]);
    SourceContext {
        name: "props",
        category: Some("em\u{0}news"),
        tags: &TAGS,
        dedup: dedup_config(),
    }
}

fn check_entries(entries: Vec<Entry>, now: DateTime<Utc>) -> Result<(), TestCaseError> {
    for entry in entries {
        if let Some(article) = normalize::normalize_at(entry, &context(), now) {
            check_article(&article, now)?;
        }
    }
    Ok(())
}

const TZ: Tz = chrono_tz::Asia::Shanghai;
const BASE: &str = "http://example.org/list/";

fn base_url() -> Url {
    Url::parse(BASE).unwrap()
}

// ---------------------------------------------------------------------------------------
// Parsers never panic, and what they give normalizes to safe articles.

property!(feed_arbitrary_bytes, feed_arbitrary_bytes_long, 128, (
    body in prop::collection::vec(any::<u8>(), 0..512),
    now in now_strategy(),
) {
    if let Ok(read) = feed::parse(&body, None, BASE, TZ, now) {
        check_entries(read.entries, now)?;
    }
});

property!(feed_mutated_corpus, feed_mutated_corpus_long, 96, (
    seed in any::<prop::sample::Index>(),
    changes in mutations(),
    now in now_strategy(),
) {
    let seed: &Vec<u8> = seed.get(FEED_SEEDS.as_slice());
    let body = mutate(seed, &changes);
    if let Ok(read) = feed::parse(&body, Some("application/xml"), BASE, TZ, now) {
        check_entries(read.entries, now)?;
    }
});

/// A feed whose every field is hostile, written as escaped text, CDATA or character
/// references; with the number of items it holds.
fn hostile_feed() -> impl Strategy<Value = (String, usize)> {
    let item = (
        hostile_string(20),
        hostile_link(),
        hostile_html(),
        hostile_string(24),
        hostile_string(12),
        0..3u8,
    )
        .prop_map(|(title, link, html, date, guid, style)| {
            let esc = |s: &str| s.replace('&', "&amp;").replace('<', "&lt;");
            let refs = |s: &str| s.chars().map(|c| format!("&#{};", c as u32)).collect::<String>();
            let wrap = |s: &str| match style {
                0 => esc(s),
                1 => format!("<![CDATA[{}]]>", s.replace("]]>", "]]&gt;")),
                _ => refs(s),
            };
            format!(
                "<item><title>{}</title><link>{}</link><guid>{}</guid><description>{}</description>\
                 <content:encoded>{}</content:encoded><pubDate>{}</pubDate><category>{}</category></item>",
                wrap(&title),
                wrap(&link),
                wrap(&guid),
                wrap(&html),
                wrap(&html),
                esc(&date),
                wrap(&title),
            )
        });
    prop::collection::vec(item, 1..4).prop_map(|items| {
        let feed = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><rss version=\"2.0\" \
             xmlns:content=\"http://purl.org/rss/1.0/modules/content/\"><channel><title>t</title>{}</channel></rss>",
            items.concat()
        );
        (feed, items.len())
    })
}

property!(feed_hostile_fields, feed_hostile_fields_long, 96, (
    (body, items) in hostile_feed(),
    now in now_strategy(),
) {
    if let Ok(read) = feed::parse(body.as_bytes(), None, BASE, TZ, now) {
        // Never silent: every item is an entry or a counted skip.
        prop_assert_eq!(read.entries.len() + read.skipped.count(), items, "{:?}", read.skipped);
        check_entries(read.entries, now)?;
    }
});

fn json_list_config() -> JsonListConfig {
    JsonListConfig {
        items: "/data/list".to_owned(),
        fields: JsonFields {
            info_code: Some("/code".to_owned()),
            title: "/title".to_owned(),
            published: Some("/showtime".to_owned()),
            media: Some("/mediaName".to_owned()),
            summary: Some("/digest".to_owned()),
            url: Some("/url".to_owned()),
            content: Some("/content".to_owned()),
        },
        detail_url: None,
        detail_content: None,
    }
}

fn json_scalar() -> impl Strategy<Value = serde_json::Value> {
    use serde_json::Value;
    prop_oneof![
        4 => hostile_string(30).prop_map(Value::String),
        2 => hostile_link().prop_map(Value::String),
        1 => hostile_html().prop_map(Value::String),
        1 => any::<i64>().prop_map(Value::from),
        1 => any::<f64>().prop_map(Value::from),
        1 => Just(Value::Null),
        1 => Just(serde_json::json!({"a": [1, {"b": null}]})),
        1 => select(vec!["202204192348095567", "NW202204192348095567", "nw202204192348095567", "1650342164000"])
            .prop_map(|s| Value::String(s.to_owned())),
    ]
}

fn hostile_json_list() -> impl Strategy<Value = Vec<u8>> {
    let item = prop::collection::vec(
        (
            select(vec![
                "code",
                "title",
                "showtime",
                "mediaName",
                "digest",
                "url",
                "content",
                "x",
            ]),
            json_scalar(),
        ),
        0..8,
    )
    .prop_map(|fields| {
        serde_json::Value::Object(fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
    });
    (prop::collection::vec(item, 0..5), 0..3u8, mutations()).prop_map(|(items, wrap, changes)| {
        let json = serde_json::json!({"data": {"list": items}}).to_string();
        let text = match wrap {
            0 => json,
            1 => format!("jQuery123_456({json});"),
            _ => format!("/**/ var x = {json};"),
        };
        mutate(text.as_bytes(), &changes)
    })
}

property!(json_list_hostile, json_list_hostile_long, 128, (
    body in hostile_json_list(),
    now in now_strategy(),
) {
    let list = json::parse_list(&body, Some("application/json"), &json_list_config(), &base_url(), TZ, now);
    if let Ok(list) = list {
        check_entries(list.entries, now)?;
    }
});

property!(json_arbitrary_bytes, json_arbitrary_bytes_long, 256, (
    body in prop::collection::vec(any::<u8>(), 0..256),
    pointer in select(vec!["", "/", "/data/list", "/0", "/~0/~1", "/a~"]),
) {
    let mut list = json_list_config();
    list.items = pointer.to_owned();
    let _ = json::parse_list(&body, None, &list, &base_url(), TZ, Utc::now());
    let _ = json::parse_detail(&body, None, pointer);
    let _ = json::unwrap_jsonp(&String::from_utf8_lossy(&body));
});

fn html_list_config() -> HtmlListConfig {
    HtmlListConfig {
        item: "li".to_owned(),
        link: "a".to_owned(),
        title: None,
        published: Some("span".to_owned()),
    }
}

fn hostile_list_page() -> impl Strategy<Value = Vec<u8>> {
    let item = (hostile_link(), hostile_html(), hostile_string(24)).prop_map(|(link, title, date)| {
        format!(
            "<li><a href=\"{}\">{title}</a><span>{date}</span></li>",
            link.replace('"', "&quot;")
        )
    });
    (prop::collection::vec(item, 0..6), mutations()).prop_map(|(items, changes)| {
        mutate(
            format!("<html><body><ul>{}</ul></body></html>", items.concat()).as_bytes(),
            &changes,
        )
    })
}

property!(html_list_hostile, html_list_hostile_long, 96, (
    body in hostile_list_page(),
    now in now_strategy(),
) {
    let html = feedcrawler::charset::decode_html(&body, None).text;
    let items = html_list::parse_list(&html, &base_url(), &html_list_config(), TZ, now)
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    check_list_items(items, now)?;
});

/// HTML list items: only http(s) links, and as entries they normalize like any other.
fn check_list_items(items: Vec<html_list::ListItem>, now: DateTime<Utc>) -> Result<(), TestCaseError> {
    let mut entries = Vec::new();
    for item in items {
        prop_assert!(
            matches!(item.link.scheme(), "http" | "https"),
            "list link {}",
            item.link
        );
        entries.push(Entry {
            link: Some(item.link.to_string()),
            title: item.title,
            published: item.published,
            ..Entry::default()
        });
    }
    check_entries(entries, now)
}

property!(html_list_mutated_corpus, html_list_mutated_corpus_long, 48, (
    seed in any::<prop::sample::Index>(),
    changes in mutations(),
    now in now_strategy(),
) {
    // A finews article body read as a list page: every paragraph an item, its links the links.
    let body: &String = seed.get(FINEWS_BODIES.as_slice());
    let page = mutate(body.as_bytes(), &changes);
    let html = feedcrawler::charset::decode_html(&page, Some("text/html; charset=utf-8")).text;
    let cfg = HtmlListConfig {
        item: "p, li, div, body".to_owned(),
        link: "a".to_owned(),
        title: Some("strong, a".to_owned()),
        published: Some("span, p".to_owned()),
    };
    let items = html_list::parse_list(&html, &base_url(), &cfg, TZ, now)
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    check_list_items(items, now)?;
});

property!(html_list_any_selectors, html_list_any_selectors_long, 128, (
    html in hostile_html(),
    item in hostile_string(12),
    link in hostile_string(12),
) {
    let cfg = HtmlListConfig { item, link, title: Some("@title".to_owned()), published: Some("@".to_owned()) };
    let _ = html_list::parse_list(&html, &base_url(), &cfg, TZ, Utc::now());
});

/// A finews post as an article page, mutated, with hostile markup spliced into its body.
fn hostile_article_page() -> impl Strategy<Value = String> {
    (any::<prop::sample::Index>(), hostile_html(), hostile_string(20), hostile_string(24), mutations()).prop_map(
        |(seed, injected, title, date, changes)| {
            let body: &String = seed.get(FINEWS_BODIES.as_slice());
            let page = format!(
                "<html><head><title>{title}</title><meta property=\"article:published_time\" content=\"{date}\">\
                 <link rel=\"canonical\" href=\"{injected}\"></head><body><div class=\"title\">{title}</div>\
                 <div class=\"infos\"><div class=\"item\">{date}</div><div class=\"item\">来源：{title}</div></div>\
                 <div id=\"ContentBody\">{injected}{body}{injected}</div><script>var x = 1;</script></body></html>"
            );
            String::from_utf8_lossy(&mutate(page.as_bytes(), &changes)).into_owned()
        },
    )
}

property!(extract_hostile_pages, extract_hostile_pages_long, 48, (
    page in hostile_article_page(),
    now in now_strategy(),
) {
    let url = Url::parse("https://finance.eastmoney.com/a/202204192348095567.html").unwrap();
    if let Ok(found) = feedcrawler::extract::extract(&page, &url, None, TZ, now) {
        for link in &found.links {
            check_link("extracted link", link)?;
        }
        check_entries(vec![found.entry], now)?;
    }
});

property!(dates_never_panic, dates_never_panic_long, 512, (
    raw in prop_oneof![
        3 => "[0-9 :/.+TZ年月日时分秒前天刚今昨小钟-]{0,32}",
        2 => "[0-9A-Za-z ,:+()-]{0,40}",
        1 => hostile_string(40),
    ],
    now in now_strategy(),
    tz in select(vec![chrono_tz::Asia::Shanghai, chrono_tz::America::Chicago, chrono_tz::UTC, chrono_tz::Europe::London, chrono_tz::Pacific::Apia]),
) {
    if let Some(p) = dates::parse(&raw, tz, now) {
        prop_assert_eq!(p.local.with_timezone(&Utc), p.utc, "{:?}", raw);
        // What the database stores is readable back.
        let stored = dates::format_utc(p.utc);
        prop_assert_eq!(DateTime::parse_from_rfc3339(&stored).map(|t| t.timestamp()).ok(), Some(p.utc.timestamp()));
    }
    let _ = dates::parse_utc_lenient(&raw);
});

// ---------------------------------------------------------------------------------------
// Normalization and sanitizing.

property!(normalize_hostile_entries, normalize_hostile_entries_long, 256, (
    entry in hostile_entry(),
    now in now_strategy(),
) {
    check_entries(vec![entry], now)?;
});

property!(sanitized_html_is_safe, sanitized_html_is_safe_long, 512, (
    html in hostile_html(),
) {
    if let Some(content) = normalize::content_from_html(&html, ContentRank::Feed) {
        check_safe_html(&content.html)?;
        check_text("content_text", &content.text)?;
    }
});

property!(sanitize_is_idempotent, sanitize_is_idempotent_long, 256, (
    html in hostile_html(),
) {
    let once = normalize::sanitize_html(&html);
    prop_assert_eq!(normalize::sanitize_html(&once), once.clone());
    // Stored content read again (a merge, a re-crawl) is the same content.
    if let Some(content) = normalize::content_from_html(&html, ContentRank::Feed) {
        let again = normalize::content_from_html(&content.html, ContentRank::Feed);
        prop_assert_eq!(again.as_ref(), Some(&content));
    }
});

property!(titles_and_text_are_collapsed, titles_and_text_are_collapsed_long, 512, (
    raw in hostile_string(60),
) {
    for cleaned in [normalize::clean_title(&raw), normalize::collapse_whitespace(&raw), normalize::normalize_media(&raw)] {
        check_text("text", &cleaned)?;
        prop_assert!(!cleaned.contains(['\n', '\t']), "{:?}", cleaned);
        prop_assert!(!cleaned.contains("  "), "{:?}", cleaned);
        prop_assert_eq!(cleaned.trim(), cleaned.as_str());
    }
});

property!(http_url_is_http_and_stable, http_url_is_http_and_stable_long, 512, (
    link in hostile_link(),
) {
    if let Some(url) = normalize::http_url(&link) {
        check_link("http_url", &url)?;
        prop_assert_eq!(normalize::http_url(&url), Some(url.clone()));
    }
});

// ---------------------------------------------------------------------------------------
// Dates against chrono.

fn offset_strategy() -> impl Strategy<Value = FixedOffset> {
    (-720..=840i32).prop_map(|m| FixedOffset::east_opt(m * 60).unwrap())
}

fn instant_strategy() -> impl Strategy<Value = DateTime<Utc>> {
    let min = Utc.with_ymd_and_hms(1000, 1, 2, 0, 0, 0).unwrap().timestamp();
    let max = Utc.with_ymd_and_hms(9999, 12, 30, 0, 0, 0).unwrap().timestamp();
    (min..max, 0..1_000_000_000u32).prop_map(|(s, n)| DateTime::from_timestamp(s, n).unwrap())
}

property!(rfc2822_round_trip, rfc2822_round_trip_long, 512, (
    t in instant_strategy(),
    offset in offset_strategy(),
    tz in select(vec![chrono_tz::Asia::Shanghai, chrono_tz::America::New_York, chrono_tz::UTC]),
) {
    let local = t.with_timezone(&offset);
    let text = local.to_rfc2822();
    let p = dates::parse(&text, tz, Utc::now()).ok_or_else(|| TestCaseError::fail(format!("unread {text:?}")))?;
    prop_assert_eq!(p.utc.timestamp(), t.timestamp(), "{}", text);
    prop_assert_eq!(p.local.offset(), &offset, "{}", text);
    prop_assert_eq!(p.precision, Precision::OffsetSeconds);
});

property!(rfc3339_round_trip, rfc3339_round_trip_long, 512, (
    t in instant_strategy(),
    offset in offset_strategy(),
    format in select(vec![SecondsFormat::Secs, SecondsFormat::Millis, SecondsFormat::Micros, SecondsFormat::Nanos, SecondsFormat::AutoSi]),
    use_z in any::<bool>(),
) {
    let text = t.with_timezone(&offset).to_rfc3339_opts(format, use_z);
    let p = dates::parse(&text, TZ, Utc::now()).ok_or_else(|| TestCaseError::fail(format!("unread {text:?}")))?;
    let back = DateTime::parse_from_rfc3339(&text).unwrap();
    prop_assert_eq!(p.utc, back.with_timezone(&Utc), "{}", text);
    prop_assert_eq!(p.local.offset(), &offset, "{}", text);
    prop_assert_eq!(p.precision, Precision::OffsetSeconds);
    // The database's own form reads back as the same instant, to the second.
    let stored = dates::format_utc(p.utc);
    let again = dates::parse(&stored, TZ, Utc::now()).unwrap();
    prop_assert_eq!(again.utc.timestamp(), t.timestamp());
});

property!(epoch_seconds_round_trip, epoch_seconds_round_trip_long, 512, (
    secs in 1_000_000_000i64..10_000_000_000,
    millis in any::<bool>(),
) {
    let text = if millis { format!("{}", secs * 1000 + 123) } else { secs.to_string() };
    let p = dates::parse(&text, TZ, Utc::now()).ok_or_else(|| TestCaseError::fail(format!("unread {text:?}")))?;
    let expected = if millis {
        DateTime::from_timestamp_millis(secs * 1000 + 123)
    } else {
        DateTime::from_timestamp(secs, 0)
    };
    prop_assert_eq!(Some(p.utc), expected, "{}", text);
    prop_assert_eq!(p.precision, Precision::OffsetSeconds);
});

property!(naive_times_read_in_the_zone, naive_times_read_in_the_zone_long, 512, (
    t in instant_strategy(),
    tz in select(vec![chrono_tz::Asia::Shanghai, chrono_tz::America::New_York, chrono_tz::Europe::Berlin, chrono_tz::Australia::Lord_Howe]),
    form in 0..3u8,
) {
    let naive = t.naive_utc();
    let text = match form {
        0 => naive.format("%Y-%m-%d %H:%M:%S").to_string(),
        1 => naive.format("%Y/%m/%d %H:%M:%S").to_string(),
        _ => naive.format("%Y年%m月%d日 %H:%M:%S").to_string(),
    };
    let p = dates::parse(&text, tz, Utc::now()).ok_or_else(|| TestCaseError::fail(format!("unread {text:?}")))?;
    let truncated = naive.with_nanosecond(0).unwrap();
    if let Some(expected) = tz.from_local_datetime(&truncated).earliest() {
        prop_assert_eq!(p.utc, expected.with_timezone(&Utc), "{} in {}", text, tz);
    }
    prop_assert_eq!(p.precision, Precision::NaiveSeconds);
});

// ---------------------------------------------------------------------------------------
// infoCodes and identity.

const CODE_FORMS: &[&str] = &[
    "http://finews.zning.xyz/html_News/NewsShare.html?infoCode={P}{D}",
    "https://emwap.eastmoney.com/share?a=1&infocode={P}{D}&b=2",
    "http://finance.eastmoney.com/a/{D}.html",
    "https://stock.eastmoney.com/news/1406,{D}.html",
];

/// Noise without digits, capitals or the separators the patterns need, so that it cannot
/// form a code of its own.
fn noise() -> impl Strategy<Value = String> {
    "[a-z \u{4e2d}\u{6587}_~!]{0,12}"
}

fn digits18() -> impl Strategy<Value = String> {
    "[0-9]{18}"
}

/// A text that looks like an infoCode form but is none.
fn near_miss() -> impl Strategy<Value = String> {
    (select(CODE_FORMS), "[0-9]{17}", 0..6u8).prop_map(|(form, d17, kind)| {
        // A bare-id form has no prefix to get wrong: only its digits can be.
        let kind = if form.contains("{P}") {
            kind
        } else {
            [0, 1, 4][usize::from(kind % 3)]
        };
        let (prefix, digits) = match kind {
            0 => ("NW".to_owned(), d17.clone()),
            1 => ("NW".to_owned(), format!("{d17}12")),
            2 => ("nw".to_owned(), format!("{d17}1")),
            3 => ("NWX".to_owned(), format!("{d17}1")),
            4 => (
                "NW".to_owned(),
                format!("{d17}1")
                    .chars()
                    .map(|c| char::from_u32(c as u32 - '0' as u32 + 0xFF10).unwrap())
                    .collect(),
            ),
            _ => ("N".to_owned(), format!("{d17}1")),
        };
        form.replace("{P}", &prefix).replace("{D}", &digits)
    })
}

property!(info_codes_planted_are_found, info_codes_planted_are_found_long, 512, (
    before in noise(),
    after in noise(),
    misses in prop::collection::vec(near_miss(), 0..3),
    form in select(CODE_FORMS),
    prefix in "[A-Z]{2}",
    digits in digits18(),
) {
    let config = dedup_config();
    let planted = form.replace("{P}", &prefix).replace("{D}", &digits);
    // The `/a/` and `/news/` forms carry a bare id: the code gets the default prefix.
    let expected = if form.contains("{P}") { format!("{prefix}{digits}") } else { format!("NW{digits}") };
    for miss in &misses {
        prop_assert_eq!(dedup::info_code_in(config, &format!("{before} {miss} {after}")), None, "near miss {}", miss);
    }
    let text = format!("{before}{}{planted} {after}", misses.iter().map(|m| format!("{m} ")).collect::<String>());
    let found = dedup::info_code_in(config, &text).map(|m| m.info_code);
    prop_assert_eq!(found.as_deref(), Some(expected.as_str()), "{}", text);
    // Through normalization, from a guid or a link, the article's key is the code.
    let entry = Entry { link: Some(planted.clone()), title: Some("t".to_owned()), ..Entry::default() };
    let article = normalize::normalize_at(entry, &context(), Utc::now()).unwrap();
    prop_assert_eq!(article.info_code.as_deref(), Some(expected.as_str()));
    prop_assert_eq!(article.dedup_key, format!("info:{expected}"));
});

property!(info_code_guid_and_stated, info_code_guid_and_stated_long, 256, (
    prefix in "[A-Z]{2}",
    digits in digits18(),
    space in "[ \t]{0,2}",
) {
    let code = format!("{prefix}{digits}");
    let config = dedup_config();
    prop_assert_eq!(dedup::normalize_info_code(config, &format!("{space}{code}{space}")), Some(code.clone()));
    prop_assert_eq!(dedup::normalize_info_code(config, &digits), Some(format!("NW{digits}")));
    prop_assert_eq!(dedup::normalize_info_code(config, &code.to_ascii_lowercase()), None);
    prop_assert_eq!(dedup::normalize_info_code(config, &format!("{code}0")), None);
    prop_assert_eq!(dedup::normalize_info_code(config, &code[..19]), None);
    prop_assert_eq!(dedup::info_code_of(config, Some(&format!("{space}{code}{space}")), None, None), Some(code));
});

/// `(https, host labels, path segments, query pairs)`.
type UrlParts = (bool, Vec<String>, Vec<String>, Vec<(String, String)>);

fn plain_url() -> impl Strategy<Value = UrlParts> {
    (
        any::<bool>(),
        prop::collection::vec("[a-z][a-z0-9]{0,8}", 1..4),
        prop::collection::vec("[A-Za-z0-9_.-]{1,10}", 0..4),
        prop::collection::vec(("[a-tv-z][a-z0-9]{0,5}", "[A-Za-z0-9]{0,6}"), 0..3),
    )
}

fn render_url(https: bool, host: &[String], path: &[String], query: &[(String, String)]) -> String {
    let mut s = format!(
        "{}://{}.com/{}",
        if https { "https" } else { "http" },
        host.join("."),
        path.join("/")
    );
    if !query.is_empty() {
        s.push('?');
        s.push_str(
            &query
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("&"),
        );
    }
    s
}

fn key_of(link: &str, guid: &str) -> String {
    let entry = Entry {
        link: Some(link.to_owned()),
        guid: Some(guid.to_owned()),
        title: Some("标题".to_owned()),
        ..Entry::default()
    };
    normalize::normalize_at(entry, &context(), Utc::now())
        .unwrap()
        .dedup_key
}

property!(url_identity_stable_under_variations, url_identity_stable_under_variations_long, 512, (
    (https, host, path, query) in plain_url(),
    upper_scheme in any::<bool>(),
    upper_host in any::<bool>(),
    port in any::<bool>(),
    fragment in prop::option::of("[a-z0-9]{0,6}"),
    tracking in prop::collection::vec((select(vec!["utm_source", "utm_medium", "utm_campaign", "spm"]), "[a-z0-9.]{0,6}", 0..4usize), 0..3),
    pad in "[ \t\n]{0,2}",
    guid_a in "[a-z0-9]{1,8}",
    guid_b in "[a-z0-9]{1,8}",
) {
    let plain = render_url(https, &host, &path, &query);
    let scheme = match (https, upper_scheme) {
        (true, true) => "HTTPS",
        (true, false) => "https",
        (false, true) => "HTTP",
        (false, false) => "http",
    };
    let host_text = format!("{}.com", host.join("."));
    let host_text = if upper_host { host_text.to_ascii_uppercase() } else { host_text };
    let default_port = if port { if https { ":443" } else { ":80" } } else { "" };
    let mut pairs: Vec<String> = query.iter().map(|(k, v)| format!("{k}={v}")).collect();
    for (name, value, at) in &tracking {
        let at = (*at).min(pairs.len());
        pairs.insert(at, format!("{name}={value}"));
    }
    let mut varied = format!("{pad}{scheme}://{host_text}{default_port}/{}", path.join("/"));
    if !pairs.is_empty() {
        varied.push('?');
        varied.push_str(&pairs.join("&"));
    }
    if let Some(f) = &fragment {
        varied.push('#');
        varied.push_str(f);
    }
    varied.push_str(&pad);
    // Another guid: the URL alone is the identity.
    let key = key_of(&plain, &guid_a);
    prop_assert!(key.starts_with("url:"), "{}", key);
    prop_assert_eq!(key_of(&varied, &guid_b), key.clone(), "{} vs {}", plain, varied);
    // A different path is a different article.
    let other = render_url(https, &host, &[path.join("/"), "x".to_owned()], &query);
    prop_assert_ne!(key_of(&other, &guid_a), key);
});

property!(info_code_identity, info_code_identity_long, 256, (
    a in digits18(),
    b in digits18(),
    guid in "[a-z0-9]{1,8}",
) {
    let share = |d: &str| format!("http://finews.zning.xyz/html_News/NewsShare.html?infoCode=NW{d}");
    let page = |d: &str| format!("https://finance.eastmoney.com/a/{d}.html");
    // One article whichever form names it; different codes are different articles.
    prop_assert_eq!(key_of(&share(&a), &guid), format!("info:NW{a}"));
    prop_assert_eq!(key_of(&page(&a), "other"), format!("info:NW{a}"));
    if a != b {
        prop_assert_ne!(key_of(&share(&a), &guid), key_of(&share(&b), &guid));
        prop_assert_ne!(key_of(&page(&a), &guid), key_of(&page(&b), &guid));
    }
});

// ---------------------------------------------------------------------------------------
// Config.

/// A TOML basic string, quoted by hand: `"`, `\` and the controls TOML forbids escaped.
fn toml_str(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A duration written as humantime reads it, in one of several spellings.
fn duration_text(secs: u64, style: u8) -> String {
    match style {
        0 => format!("{secs}s"),
        1 if secs.is_multiple_of(60) => format!("{}m", secs / 60),
        2 => {
            let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
            format!("{h}h {m}m {s}s")
        }
        3 if secs.is_multiple_of(86400) => format!("{}days", secs / 86400),
        _ => format!("{secs} seconds"),
    }
}

#[derive(Clone, Debug)]
struct GenSource {
    name: String,
    kind: u8,
    host: String,
    interval: Option<u64>,
    category: Option<String>,
    tags: Vec<String>,
    enabled: bool,
    timezone: Option<&'static str>,
    max_items: Option<u32>,
}

#[derive(Clone, Debug)]
struct GenConfig {
    timezone: &'static str,
    json_logs: bool,
    user_agent: String,
    timeout: (u64, u8),
    max_body: (u64, bool),
    max_redirects: u32,
    concurrency: u32,
    robots: bool,
    private: bool,
    rate: (u32, u8),
    burst: u32,
    min_interval: u64,
    max_extra: u64,
    interval: u64,
    jitter: f64,
    max_backoff: u64,
    prefix: String,
    max_discovered: u32,
    sources: Vec<GenSource>,
}

const TIMEZONES: &[&str] = &[
    "Asia/Shanghai",
    "UTC",
    "America/New_York",
    "Europe/Berlin",
    "Asia/Hong_Kong",
];
const TEN_YEARS: u64 = 10 * 365 * 24 * 3600;

fn gen_source() -> impl Strategy<Value = GenSource> {
    (
        (
            "[a-z0-9_-][a-z0-9 _.中文-]{0,10}[a-z0-9]",
            0..4u8,
            "[a-z][a-z0-9]{0,6}",
        ),
        (
            opt(1..TEN_YEARS),
            opt("[a-z中文 ]{1,8}"),
            prop::collection::vec("[a-z中文]{1,6}", 0..3),
        ),
        (any::<bool>(), opt(select(TIMEZONES)), opt(1..100_000u32)),
    )
        .prop_map(
            |((name, kind, host), (interval, category, tags), (enabled, timezone, max_items))| GenSource {
                name,
                kind,
                host,
                interval,
                category: category.filter(|c| !c.trim().is_empty()),
                tags,
                enabled,
                timezone,
                max_items: if kind == 3 { None } else { max_items },
            },
        )
}

fn gen_config() -> impl Strategy<Value = GenConfig> {
    (
        (
            select(TIMEZONES),
            any::<bool>(),
            "[ -~]{1,30}",
            (1..TEN_YEARS, 0..5u8),
        ),
        (
            (1..u64::MAX, any::<bool>()),
            any::<u32>(),
            1..100_000u32,
            any::<bool>(),
            any::<bool>(),
        ),
        (
            (1..u32::MAX, 0..3u8),
            1..u32::MAX,
            1..TEN_YEARS / 2,
            0..TEN_YEARS / 2,
        ),
        (1..TEN_YEARS, 0.0..=0.5f64, 1..TEN_YEARS, "[A-Z]{2}", 1..10_000u32),
        prop::collection::vec(gen_source(), 0..5),
    )
        .prop_map(
            |(
                (timezone, json_logs, user_agent, timeout),
                (max_body, max_redirects, concurrency, robots, private),
                (rate, burst, min_interval, max_extra),
                (interval, jitter, max_backoff, prefix, max_discovered),
                sources,
            )| {
                // Unique names: later duplicates get their index appended.
                let mut seen = std::collections::HashSet::new();
                let sources = sources
                    .into_iter()
                    .enumerate()
                    .map(|(i, mut s)| {
                        if !seen.insert(s.name.clone()) {
                            s.name = format!("{}{i}", s.name);
                            seen.insert(s.name.clone());
                        }
                        s
                    })
                    .collect();
                GenConfig {
                    timezone,
                    json_logs,
                    user_agent: user_agent.trim().to_owned() + "x",
                    timeout,
                    max_body,
                    max_redirects,
                    concurrency,
                    robots,
                    private,
                    rate,
                    burst,
                    min_interval,
                    max_extra,
                    interval,
                    jitter,
                    max_backoff,
                    prefix,
                    max_discovered,
                    sources,
                }
            },
        )
}

fn render_config(g: &GenConfig) -> String {
    let mut t = String::new();
    t += "[daemon]\n";
    t += &format!(
        "timezone = {}\nlog_format = {}\n",
        toml_str(g.timezone),
        toml_str(if g.json_logs { "json" } else { "text" })
    );
    t += "database = \"db/feed.db\"\n";
    t += "[http]\n";
    t += &format!("user_agent = {}\n", toml_str(&g.user_agent));
    t += &format!(
        "timeout = {}\n",
        toml_str(&duration_text(g.timeout.0, g.timeout.1))
    );
    t += &format!("connect_timeout = \"{}s\"\n", g.timeout.0);
    let (bytes, as_text) = g.max_body;
    // TOML integers are i64: larger byte counts are written as text.
    if as_text || bytes > i64::MAX as u64 {
        t += &format!("max_body = \"{bytes}\"\n");
    } else {
        t += &format!("max_body = {bytes}\n");
    }
    t += &format!(
        "max_redirects = {}\nconcurrency = {}\n",
        g.max_redirects, g.concurrency
    );
    t += &format!(
        "respect_robots = {}\nallow_private_networks = {}\n",
        g.robots, g.private
    );
    t += "[rate_limit]\n";
    t += &format!(
        "per_host = \"{}/{}\"\nburst = {}\n",
        g.rate.0,
        ["s", "m", "h"][g.rate.1 as usize],
        g.burst
    );
    t += "[schedule]\n";
    t += &format!(
        "min_interval = \"{}s\"\nmax_interval = \"{}s\"\ninterval = \"{}s\"\njitter = {:?}\nmax_backoff = \"{}s\"\n",
        g.min_interval,
        g.min_interval + g.max_extra,
        g.interval,
        g.jitter,
        g.max_backoff
    );
    t += &format!("[dedup]\nbare_id_prefix = {}\n", toml_str(&g.prefix));
    t += &format!("[share]\nmax_discovered = {}\n", g.max_discovered);
    for s in &g.sources {
        t += "[[source]]\n";
        t += &format!("name = {}\n", toml_str(&s.name));
        let url = format!("https://{}.example.com/feed?x=1", s.host);
        match s.kind {
            0 => t += &format!("type = \"feed\"\nurl = {}\n", toml_str(&url)),
            1 => {
                t += &format!(
                    "type = \"json\"\nurl = {}\nitems = \"/data/list\"\n",
                    toml_str(&url)
                );
                t += "fields = { title = \"/title\", url = \"/url\", info_code = \"/code\" }\n";
            }
            2 => {
                t += &format!(
                    "type = \"html\"\nurl = {}\nitem = \"li\"\nlink = \"a@href\"\n",
                    toml_str(&url)
                )
            }
            _ => t += &format!("type = \"share_links\"\nurls = [{}]\n", toml_str(&url)),
        }
        if let Some(i) = s.interval {
            t += &format!("interval = \"{i}s\"\n");
        }
        if let Some(c) = &s.category {
            t += &format!("category = {}\n", toml_str(c));
        }
        t += &format!(
            "tags = [{}]\nenabled = {}\n",
            s.tags.iter().map(|x| toml_str(x)).collect::<Vec<_>>().join(", "),
            s.enabled
        );
        if let Some(tz) = s.timezone {
            t += &format!("timezone = {}\n", toml_str(tz));
        }
        if let Some(m) = s.max_items {
            t += &format!("max_items = {m}\n");
        }
    }
    t
}

property!(config_round_trip, config_round_trip_long, 128, (
    g in gen_config(),
) {
    let text = render_config(&g);
    let c = Config::parse(&text, Path::new("/etc/feedcrawler/feedcrawler.toml"))
        .map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
    let secs = Duration::from_secs;
    prop_assert_eq!(c.daemon.timezone.name(), g.timezone);
    prop_assert_eq!(c.daemon.database.sqlite_path().expect("a SQLite path"), Path::new("/etc/feedcrawler/db/feed.db"));
    prop_assert_eq!(&c.http.user_agent, &g.user_agent);
    prop_assert_eq!(c.http.timeout, secs(g.timeout.0));
    prop_assert_eq!(c.http.connect_timeout, secs(g.timeout.0));
    prop_assert_eq!(c.http.max_body, g.max_body.0);
    prop_assert_eq!(c.http.max_redirects, g.max_redirects);
    prop_assert_eq!(c.http.concurrency, g.concurrency as usize);
    prop_assert_eq!((c.http.respect_robots, c.http.allow_private_networks), (g.robots, g.private));
    prop_assert_eq!(c.rate_limit.per_host.count, g.rate.0);
    prop_assert_eq!(c.rate_limit.per_host.per, secs([1, 60, 3600][g.rate.1 as usize]));
    prop_assert_eq!(c.rate_limit.burst, g.burst);
    prop_assert_eq!(c.schedule.min_interval, secs(g.min_interval));
    prop_assert_eq!(c.schedule.max_interval, secs(g.min_interval + g.max_extra));
    prop_assert_eq!(c.schedule.interval, secs(g.interval.max(g.min_interval)));
    prop_assert_eq!(c.schedule.jitter, g.jitter);
    prop_assert_eq!(c.schedule.max_backoff, secs(g.max_backoff));
    prop_assert_eq!(&c.dedup.bare_id_prefix, &g.prefix);
    prop_assert_eq!(c.share.max_discovered, g.max_discovered as usize);
    prop_assert_eq!(c.sources.len(), g.sources.len());
    let mut raised = usize::from(g.interval < g.min_interval);
    for (s, gs) in c.sources.iter().zip(&g.sources) {
        prop_assert_eq!(&s.name, &gs.name);
        prop_assert_eq!(s.kind.as_str(), ["feed", "json", "html", "share_links"][gs.kind as usize]);
        let url = Url::parse(&format!("https://{}.example.com/feed?x=1", gs.host)).unwrap();
        if gs.kind == 3 {
            prop_assert_eq!(&s.urls, &vec![url]);
            prop_assert_eq!(s.url.as_ref(), None);
        } else {
            prop_assert_eq!(s.url.as_ref(), Some(&url));
        }
        prop_assert_eq!(s.interval, gs.interval.map(|i| secs(i.max(g.min_interval))));
        raised += usize::from(gs.interval.is_some_and(|i| i < g.min_interval));
        prop_assert_eq!(&s.category, &gs.category);
        prop_assert_eq!(&s.tags, &gs.tags);
        prop_assert_eq!(s.enabled, gs.enabled);
        prop_assert_eq!(s.timezone.map(|t| t.name()), gs.timezone);
        prop_assert_eq!(s.max_items, gs.max_items.map_or(500, |m| m as usize));
        prop_assert_eq!(s.json.is_some(), gs.kind == 1);
        prop_assert_eq!(s.html.is_some(), gs.kind == 2);
    }
    prop_assert_eq!(c.warnings.len(), raised, "{:?}", c.warnings);
});

/// A duration that is no valid config value: zero, beyond 10 years, or beyond any integer.
fn bad_duration() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("0s".to_owned()),
        (TEN_YEARS + 1..u64::MAX).prop_map(|s| format!("{s}s")),
        (TEN_YEARS / 60 + 1..u64::MAX / 60).prop_map(|m| format!("{m}m")),
        (3651..100_000_000u64).prop_map(|d| format!("{d}days")),
        (11..1_000_000_000u64).prop_map(|y| format!("{y}years")),
        "[1-9][0-9]{20,40}(s|ns|h|d|y|w)",
        (1..u64::MAX, 1..u64::MAX)
            .prop_map(|(a, b)| format!("{a}s {b}s"))
            .prop_filter("sum over 10 years", |s| {
                let mut it = s
                    .split(['s', ' '])
                    .filter(|p| !p.is_empty())
                    .map(|p| p.parse::<u128>().unwrap());
                it.next().unwrap() + it.next().unwrap() > u128::from(TEN_YEARS)
            }),
    ]
}

property!(config_bad_durations_are_errors, config_bad_durations_are_errors_long, 256, (
    key in select(vec![("http", "timeout"), ("http", "connect_timeout"), ("schedule", "interval"), ("schedule", "max_backoff"), ("schedule", "max_interval")]),
    value in bad_duration(),
) {
    let (table, name) = key;
    let text = format!("[{table}]\n{name} = {}\n", toml_str(&value));
    let result = Config::parse(&text, Path::new("/tmp/c.toml"));
    prop_assert!(result.is_err(), "{} accepted: {:?}", text, result.map(|c| (c.http.timeout, c.schedule.interval)));
});

/// A size that does not fit `u64` bytes, or is zero.
fn bad_size() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("0".to_owned()),
        Just("0 KiB".to_owned()),
        (16..u32::MAX).prop_map(|n| format!("{n} EiB")),
        (18_447..u32::MAX).prop_map(|n| format!("{n} PB")),
        (17_000_000..u32::MAX).prop_map(|n| format!("{n}TiB")),
        "[1-9][0-9]{20,30}",
        "[1-9][0-9]{20,30}\\.[0-9]{1,3} ?(B|KiB|MB)",
        "[2-9][0-9]{1,3}\\.[0-9] ?EiB",
    ]
}

property!(config_bad_sizes_are_errors, config_bad_sizes_are_errors_long, 256, (
    value in bad_size(),
) {
    let text = format!("[http]\nmax_body = {}\n", toml_str(&value));
    let result = Config::parse(&text, Path::new("/tmp/c.toml"));
    prop_assert!(result.is_err(), "{} accepted: {:?}", value, result.map(|c| c.http.max_body));
});

property!(config_sizes_read_exactly, config_sizes_read_exactly_long, 256, (
    n in 1..1_000_000u64,
    unit in select(vec![("B", 1u64), ("KiB", 1024), ("MiB", 1 << 20), ("GiB", 1 << 30), ("KB", 1000), ("MB", 1_000_000)]),
    space in any::<bool>(),
) {
    let value = format!("{n}{}{}", if space { " " } else { "" }, unit.0);
    let text = format!("[http]\nmax_body = {}\n", toml_str(&value));
    let c = Config::parse(&text, Path::new("/tmp/c.toml")).map_err(|e| TestCaseError::fail(e.to_string()))?;
    prop_assert_eq!(c.http.max_body, n * unit.1);
});

/// Mutated lines of the example config and random TOML-ish text.
fn mutated_config() -> impl Strategy<Value = String> {
    prop_oneof![
        mutations()
            .prop_map(|m| String::from_utf8_lossy(&mutate(EXAMPLE_CONFIG.as_bytes(), &m)).into_owned()),
        prop::collection::vec(
            prop_oneof![
                select(vec![
                    "[daemon]\n",
                    "[http]\n",
                    "[[source]]\n",
                    "[[host]]\n",
                    "[schedule]\n",
                    "[share]\n",
                    "[dedup]\n",
                    "[export.jekyll]\n",
                    "name = \"a\"\n",
                    "type = \"json\"\n",
                    "url = \"http://e/\"\n",
                    "interval = \"1y\"\n",
                    "jitter = nan\n",
                    "jitter = inf\n",
                    "max_body = -1\n",
                    "max_body = \"16 EiB\"\n",
                    "burst = 0\n",
                    "concurrency = 9223372036854775807\n",
                    "domain = \"*.x\"\n",
                    "fields = { title = \"x~\" }\n",
                    "info_code = [\"(\"]\n",
                    "info_code = [\"x\"]\n",
                    "item = \"@\"\n",
                    "link = \"a@\"\n",
                    "detail_url = \"{x}\"\n",
                    "recheck = [\"0s\"]\n",
                    "listen = \"::1\"\n",
                    "per_host = \"0/s\"\n",
                    "per_host = \"4294967296/s\"\n",
                    "timeout = \"18446744073709551616s\"\n"
                ])
                .prop_map(String::from),
                hostile_string(20),
            ],
            0..12,
        )
        .prop_map(|v| v.concat()),
    ]
}

property!(config_never_panics, config_never_panics_long, 256, (
    text in mutated_config(),
) {
    if let Ok(c) = Config::parse(&text, Path::new("/tmp/props/feedcrawler.toml")) {
        // Whatever is accepted is within the documented bounds.
        for d in [c.http.timeout, c.http.connect_timeout, c.schedule.interval, c.schedule.min_interval, c.schedule.max_interval, c.schedule.max_backoff] {
            prop_assert!(!d.is_zero() && d <= MAX_DURATION, "{:?}", d);
        }
        prop_assert!(c.schedule.min_interval <= c.schedule.max_interval);
        prop_assert!((0.0..=0.5).contains(&c.schedule.jitter));
        prop_assert!(c.http.max_body > 0 && c.http.concurrency > 0 && c.rate_limit.burst > 0);
        let code = format!("{}000000000000000000", c.dedup.bare_id_prefix);
        prop_assert!(wellformed_code(&code), "{:?}", code);
    }
});

#[test]
fn seeds_are_present() {
    assert!(FEED_SEEDS.len() > 100);
    assert!(FINEWS_BODIES.len() >= 50);
    // The bound the duration properties hold the config to.
    assert_eq!(MAX_DURATION, Duration::from_secs(TEN_YEARS));
}
