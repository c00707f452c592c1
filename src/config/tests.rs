//! Unit tests of the config module: defaults, the example file, error locations, path
//! resolution, host matching and value parsing.

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono_tz::Tz;

use super::validate::normalize_path;
use super::*;

fn parse(text: &str) -> Result<Config, ConfigError> {
    Config::parse(text, Path::new("/etc/fc/feedcrawler.toml"))
}

/// Asserts that `text` fails on `line` naming `key`, and returns the message.
fn fails(text: &str, line: usize, key: &str) -> String {
    match parse(text) {
        Err(e @ ConfigError::Invalid { .. }) => {
            let ConfigError::Invalid { line: l, key: k, .. } = &e else {
                unreachable!()
            };
            assert_eq!((*l, k.as_str()), (Some(line), key), "{e}");
            e.to_string()
        }
        other => panic!("expected an error on line {line} key {key}, got {other:?}"),
    }
}

#[test]
fn defaults() {
    let c = parse("").unwrap();
    assert_eq!(
        c.daemon.database,
        Database::Sqlite(PathBuf::from(DEFAULT_DATABASE))
    );
    assert_eq!(c.daemon.timezone, Tz::Asia__Shanghai);
    assert_eq!(c.daemon.log_format, LogFormat::Text);
    assert_eq!(c.http.user_agent, DEFAULT_USER_AGENT);
    assert_eq!(
        (c.http.timeout, c.http.connect_timeout),
        (Duration::from_secs(20), Duration::from_secs(10))
    );
    assert_eq!(
        (
            c.http.max_body,
            c.http.max_redirects,
            c.http.concurrency,
            c.http.respect_robots
        ),
        (8 << 20, 5, 16, true)
    );
    assert_eq!(
        c.rate_limit.per_host,
        Rate {
            count: 1,
            per: Duration::from_secs(1)
        }
    );
    assert_eq!(c.rate_limit.burst, 1);
    let s = &c.schedule;
    assert_eq!(
        (s.interval, s.min_interval, s.max_interval),
        (
            Duration::from_secs(900),
            Duration::from_secs(60),
            Duration::from_secs(21600)
        )
    );
    assert!(s.adaptive && s.jitter == 0.1 && s.max_backoff == Duration::from_secs(86400));
    assert!(c.metrics.is_none() && c.hosts.is_empty() && c.sources.is_empty() && c.warnings.is_empty());
    assert_eq!(c.dedup.info_code.len(), DEFAULT_INFO_CODE_PATTERNS.len());
    assert_eq!(c.dedup.bare_id_prefix, "NW");
    assert!(c.share.follow_discovered && c.share.resolve.is_empty());
    assert_eq!(
        c.share.recheck,
        vec![Duration::from_secs(3600), Duration::from_secs(86400)]
    );
    assert_eq!(c.export.jekyll.layout, "post");
    let share = "http://finews.zning.xyz/html_News/NewsShare.html?infoCode=NW202204192348095567";
    assert_eq!(
        &c.dedup.info_code[0].captures(share).unwrap()[1],
        "NW202204192348095567"
    );
    assert_eq!(
        &c.dedup.info_code[2]
            .captures("https://finance.eastmoney.com/a/202204192348095567.html")
            .unwrap()[1],
        "202204192348095567"
    );
    assert_eq!(
        &c.dedup.info_code[3]
            .captures("http://x/news/1345,202204192348095567.html")
            .unwrap()[1],
        "202204192348095567"
    );
    let c = parse("[metrics]\n").unwrap();
    assert_eq!(c.metrics.unwrap().listen.to_string(), DEFAULT_METRICS_LISTEN);
}

#[test]
fn example_file_loads() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/feedcrawler.toml");
    let c = Config::load(&path).unwrap_or_else(|e| panic!("{e}"));
    let dir = normalize_path(&std::path::absolute(path.parent().unwrap()).unwrap());
    assert_eq!(c.daemon.database, Database::Sqlite(dir.join("feedcrawler.db")));
    assert!(c.metrics.is_some() && !c.hosts.is_empty() && c.warnings.is_empty());
    for kind in [
        SourceKind::Feed,
        SourceKind::Json,
        SourceKind::Html,
        SourceKind::ShareLinks,
    ] {
        assert!(c.sources.iter().any(|s| s.kind == kind), "no {kind} source");
    }
    let enabled: Vec<_> = c.sources.iter().filter(|s| s.enabled).collect();
    assert!(enabled.len() >= 2);
    for s in enabled {
        let url = s.url.as_ref().unwrap();
        assert_eq!(url.scheme(), "file", "{}", s.name);
        assert!(url.to_file_path().unwrap().starts_with(dir.join("samples")));
    }
    assert!(
        c.host_for("finance.eastmoney.com")
            .is_some_and(|h| !h.headers.is_empty())
    );
}

#[test]
fn serde_errors_name_line_and_key() {
    let m = fails(
        "[http]\ntimeout = \"5s\"\n\n[[source]]\nname = \"a\"\nurl = \"https://a.example/\"\nintreval = \"5m\"\n",
        7,
        "intreval",
    );
    assert!(m.contains("[[source]] \"a\""), "{m}");
    fails("[http]\nmax_redirects = \"five\"\n", 2, "max_redirects");
    fails(
        "[[source]]\nname = \"a\"\ntype = \"json\"\nurl = \"https://a.example/\"\nfields = { title = 1 }\n",
        5,
        "title",
    );
    fails(
        "[[source]]\nname = \"a\"\nurl = \"https://a.example/\"\ntags = [\n  \"x\",\n  2,\n]\n",
        6,
        "tags",
    );
    fails("\n[nonsense]\nx = 1\n", 2, "nonsense");
}

#[test]
fn validation_errors_name_line_and_key() {
    let src = "[[source]]\nname = \"a\"\nurl = \"https://a.example/\"\n";
    let m = fails(
        &format!("{src}\n[[source]]\nname = \"a\"\nurl = \"https://b.example/\"\n"),
        6,
        "name",
    );
    assert!(m.contains("line 2"), "{m}");
    let m = fails(&format!("{src}interval = \"ten minutes\"\n"), 4, "interval");
    assert!(
        m.starts_with("/etc/fc/feedcrawler.toml:4: [[source]] \"a\": key `interval`: invalid duration"),
        "{m}"
    );
    fails("[rate_limit]\nburst = 2\nper_host = \"2/d\"\n", 3, "per_host");
    fails("[rate_limit]\nper_host = \"0/s\"\n", 2, "per_host");
    fails(
        "[[source]]\nname = \"a\"\nurl = \"ftp://a.example/x\"\n",
        3,
        "url",
    );
    fails("[[source]]\nname = \"a\"\nurl = \"not a url\"\n", 3, "url");
    fails(
        "[schedule]\nmin_interval = \"2h\"\nmax_interval = \"1h\"\n",
        2,
        "min_interval",
    );
    let m = fails(&format!("{src}items = \"/data\"\n"), 4, "items");
    assert!(m.contains("type = \"feed\""), "{m}");
    fails(
        "[[source]]\nname = \"a\"\ntype = \"html\"\nurl = \"https://a.example/\"\nitem = \"li\"\n",
        1,
        "link",
    );
    fails("[[source]]\nname = \"a\"\ntype = \"json\"\n", 1, "url");
    fails("[[source]]\nname = \"a\"\ntype = \"share_links\"\n", 1, "urls");
    fails("[[source]]\nname = \"a\"\ntype = \"rss\"\n", 3, "type");
    fails("[daemon]\ntimezone = \"Asia/Shangai\"\n", 2, "timezone");
    fails("[dedup]\ninfo_code = ['NW\\d{18}']\n", 2, "info_code");
    fails("[dedup]\ninfo_code = ['(unclosed']\n", 2, "info_code");
    // An infoCode is [A-Z]{2} + 18 digits; other prefixes made codes nothing matched again.
    for prefix in ["nw", "N1", "NWX", "N", "", "Ｎ"] {
        fails(
            &format!("[dedup]\nbare_id_prefix = {prefix:?}\n"),
            2,
            "bare_id_prefix",
        );
    }
    fails(
        "[share]\nresolve = [\"https://x.example/{nope}\"]\n",
        2,
        "resolve",
    );
    fails("[[host]]\ndomain = \"*.eastmoney.com\"\n", 2, "domain");
    fails("[schedule]\njitter = 0.9\n", 2, "jitter");
    fails(
        &format!("{src}type = \"json\"\nfields = {{ title = \"title\" }}\n"),
        5,
        "fields.title",
    );
}

#[test]
fn relative_paths_resolve_against_the_config_folder() {
    let text = "[daemon]\ndatabase = \"../data/fc.db\"\n[[source]]\nname = \"s\"\nurl = \"file:samples/a b.xml\"\n\
                [[source]]\nname = \"t\"\nurl = \"file:///srv/x.xml\"\n";
    let c = parse(text).unwrap();
    assert_eq!(
        c.daemon.database,
        Database::Sqlite(PathBuf::from("/etc/data/fc.db"))
    );
    assert_eq!(
        c.sources[0].url.as_ref().unwrap().as_str(),
        "file:///etc/fc/samples/a%20b.xml"
    );
    assert_eq!(c.sources[1].url.as_ref().unwrap().as_str(), "file:///srv/x.xml");
}

#[test]
fn host_matching() {
    let text = "[[host]]\ndomain = \"EastMoney.com\"\n[[host]]\ndomain = \"finance.eastmoney.com\"\nburst = 3\n\
                [[host]]\ndomain = \"10.0.0.1\"\n[[host]]\ndomain = \"[::1]\"\n";
    let c = parse(text).unwrap();
    let d = |h: &str| c.host_for(h).map(|h| h.domain.as_str());
    assert_eq!(d("eastmoney.com"), Some("eastmoney.com"));
    assert_eq!(d("NP-listapi.EastMoney.com."), Some("eastmoney.com"));
    assert_eq!(d("finance.eastmoney.com"), Some("finance.eastmoney.com"));
    assert_eq!(d("a.finance.eastmoney.com"), Some("finance.eastmoney.com"));
    assert_eq!(d("noteastmoney.com"), None);
    assert_eq!(d("10.0.0.1"), Some("10.0.0.1"));
    assert_eq!(d("1.10.0.0.1"), None);
    assert_eq!(d("[::1]"), Some("::1"));
    assert!(host_matches("zning.xyz", "finews.zning.xyz") && !host_matches("zning.xyz", "zning.xyz.evil"));
}

#[test]
fn interval_below_min_is_raised_with_a_warning() {
    let text = "[schedule]\nmin_interval = \"2m\"\n[[source]]\nname = \"a\"\nurl = \"https://a.example/\"\ninterval = \"30s\"\n\
                [[source]]\nname = \"b\"\nurl = \"https://b.example/\"\n";
    let c = parse(text).unwrap();
    assert_eq!(c.source_interval(&c.sources[0]), Duration::from_secs(120));
    assert_eq!(c.source_interval(&c.sources[1]), Duration::from_secs(900));
    assert_eq!(c.warnings.len(), 1);
    assert!(
        c.warnings[0]
            .starts_with("/etc/fc/feedcrawler.toml:6: [[source]] \"a\": key `interval`: 30s is below"),
        "{}",
        c.warnings[0]
    );
    assert_eq!(c.source_timezone(&c.sources[0]), Tz::Asia__Shanghai);
}

#[test]
fn values_parse() {
    assert_eq!(
        "30/m".parse::<Rate>().unwrap(),
        Rate {
            count: 30,
            per: Duration::from_secs(60)
        }
    );
    assert_eq!("100 / h".parse::<Rate>().unwrap().to_string(), "100/h");
    let c =
        parse("[http]\nmax_body = \"1MiB\"\n[daemon]\nlog_format = \"json\"\ntimezone = \"UTC\"\n").unwrap();
    assert_eq!(
        (c.http.max_body, c.daemon.log_format, c.daemon.timezone),
        (1 << 20, LogFormat::Json, Tz::UTC)
    );
    assert_eq!(parse("[http]\nmax_body = 1000\n").unwrap().http.max_body, 1000);
    fails("[http]\nmax_body = \"lots\"\n", 2, "max_body");
    let m = fails("[http]\ntimeout = 20\n", 2, "timeout");
    assert!(m.contains("durations are quoted"), "{m}");
}

/// The settings that key a source's learned state are a fixed string, written out here by
/// hand: a compiler or crate upgrade cannot change them (the `Debug` output it replaced could).
#[test]
fn canonical_settings_are_fixed_text() {
    let c = parse(
        r#"
[[source]]
name = "columns"
type = "json"
url = "https://np-listapi.example.com/comm/web/getNewsByColumns?column=350"
interval = "5m"
category = "要闻"
tags = ["东方财富", "A股"]
timezone = "Asia/Shanghai"
items = "/data/list"
fields = { info_code = "/code", title = "/title", published = "/showTime" }

[[source]]
name = "zqrb"
type = "feed"
url = "https://example.org/zqrb/rss.xml"
"#,
    )
    .unwrap();
    assert_eq!(
        c.sources[0].canonical_settings(),
        concat!(
            r#"{"category":"要闻","enabled":true,"full_text":false,"interval_secs":300,"#,
            r#""json":{"detail_content":null,"detail_url":null,"fields":{"content":null,"info_code":"/code","#,
            r#""media":null,"published":"/showTime","summary":null,"title":"/title","url":null},"items":"/data/list"},"#,
            r#""max_items":500,"tags":["东方财富","A股"],"timezone":"Asia/Shanghai","type":"json","#,
            r#""url":"https://np-listapi.example.com/comm/web/getNewsByColumns?column=350","urls":[]}"#
        )
    );
    assert_eq!(
        c.sources[1].canonical_settings(),
        r#"{"enabled":true,"full_text":false,"max_items":500,"tags":[],"type":"feed","url":"https://example.org/zqrb/rss.xml","urls":[]}"#
    );
}

/// Found by `tests/properties.rs` (config_bad_sizes_are_errors): bytesize saturates, so
/// `max_body = "16 EiB"` (2^64 bytes) or a 21-digit size was accepted as 2^64 − 1.
#[test]
fn sizes_beyond_u64_are_errors() {
    for size in [
        "16 EiB",
        "16EiB",
        "20 EiB",
        "18447 PB",
        "100000000000000000000",
        "99999999999999999999.5 B",
        "16.5 EiB",
    ] {
        fails(&format!("[http]\nmax_body = \"{size}\"\n"), 2, "max_body");
    }
    let read = |size: &str| {
        parse(&format!("[http]\nmax_body = \"{size}\"\n"))
            .unwrap()
            .http
            .max_body
    };
    assert_eq!(read("15 EiB"), 15 << 60);
    assert_eq!(read("18446744073709551615"), u64::MAX);
    assert_eq!(read("1.5 KiB"), 1536);
    assert_eq!(read("8MiB"), 8 << 20);
}
