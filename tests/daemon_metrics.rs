//! `run` with `[metrics] listen`: `/healthz` answers 200 and `/metrics` is
//! valid Prometheus text whose fetch counters equal the `fetches` table of
//! the same run (CONTRACT §2 `[metrics]`).

mod support;

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use support::*;

/// One sample line: `name{labels} value`.
#[derive(Debug, Clone, PartialEq)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

#[derive(Debug, Default)]
struct Exposition {
    samples: Vec<Sample>,
    types: BTreeMap<String, String>,
    helps: BTreeMap<String, String>,
}

impl Exposition {
    fn get(&self, name: &str) -> Vec<&Sample> {
        self.samples.iter().filter(|s| s.name == name).collect()
    }
    fn sum(&self, name: &str) -> f64 {
        self.get(name).iter().map(|s| s.value).sum()
    }
    fn with_label(&self, name: &str, key: &str, value: &str) -> Option<f64> {
        self.get(name)
            .into_iter()
            .find(|s| s.labels.get(key).map(String::as_str) == Some(value))
            .map(|s| s.value)
    }
    /// The fetch-related counters, to see whether two scrapes agree.
    fn fetch_counters(&self) -> Vec<Sample> {
        self.samples
            .iter()
            .filter(|s| {
                s.name.starts_with("feedcrawler_fetch")
                    || s.name.starts_with("feedcrawler_articles_")
                    || s.name == "feedcrawler_source_failures_total"
            })
            .cloned()
            .collect()
    }
}

fn valid_metric_name(n: &str) -> bool {
    let mut cs = n.chars();
    matches!(cs.next(), Some(c) if c.is_ascii_alphabetic() || c == '_' || c == ':')
        && cs.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

fn valid_label_name(n: &str) -> bool {
    let mut cs = n.chars();
    matches!(cs.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && cs.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn parse_value(v: &str) -> Result<f64, String> {
    match v {
        "+Inf" | "Inf" => Ok(f64::INFINITY),
        "-Inf" => Ok(f64::NEG_INFINITY),
        "NaN" => Ok(f64::NAN),
        _ => v.parse::<f64>().map_err(|e| format!("value {v:?}: {e}")),
    }
}

/// A strict parser of the Prometheus text exposition format 0.0.4.
fn parse_exposition(text: &str) -> Result<Exposition, String> {
    let mut out = Exposition::default();
    let mut seen_samples_of: Vec<String> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let ln = i + 1;
        let err = |m: String| format!("line {ln} {line:?}: {m}");
        if line.trim().is_empty() {
            continue;
        }
        if let Some(rest) = line.strip_prefix('#') {
            let rest = rest.trim_start();
            let mut parts = rest.splitn(3, ' ');
            match parts.next() {
                Some("HELP") => {
                    let name = parts.next().ok_or_else(|| err("HELP without a name".into()))?;
                    if !valid_metric_name(name) {
                        return Err(err(format!("bad metric name {name:?}")));
                    }
                    if out
                        .helps
                        .insert(name.into(), parts.next().unwrap_or("").into())
                        .is_some()
                    {
                        return Err(err(format!("second HELP for {name}")));
                    }
                }
                Some("TYPE") => {
                    let name = parts.next().ok_or_else(|| err("TYPE without a name".into()))?;
                    if !valid_metric_name(name) {
                        return Err(err(format!("bad metric name {name:?}")));
                    }
                    let ty = parts.next().unwrap_or("").trim();
                    if !["counter", "gauge", "histogram", "summary", "untyped"].contains(&ty) {
                        return Err(err(format!("bad type {ty:?}")));
                    }
                    if seen_samples_of.iter().any(|s| s == name) {
                        return Err(err(format!("TYPE for {name} after its samples")));
                    }
                    if out.types.insert(name.into(), ty.into()).is_some() {
                        return Err(err(format!("second TYPE for {name}")));
                    }
                }
                _ => {} // other comments are allowed
            }
            continue;
        }
        // name[{labels}] value [timestamp]
        let name_end = line
            .find(['{', ' ', '\t'])
            .ok_or_else(|| err("no value".into()))?;
        let name = &line[..name_end];
        if !valid_metric_name(name) {
            return Err(err(format!("bad metric name {name:?}")));
        }
        let mut rest = &line[name_end..];
        let mut labels = BTreeMap::new();
        if let Some(r) = rest.strip_prefix('{') {
            let mut chars = r.char_indices().peekable();
            let mut consumed = None;
            loop {
                // skip spaces
                while let Some((_, ' ')) = chars.peek() {
                    chars.next();
                }
                match chars.peek() {
                    Some((j, '}')) => {
                        consumed = Some(j + 1);
                        break;
                    }
                    None => break,
                    _ => {}
                }
                let mut lname = String::new();
                while let Some(&(_, c)) = chars.peek() {
                    if c == '=' {
                        break;
                    }
                    lname.push(c);
                    chars.next();
                }
                if !valid_label_name(lname.trim()) {
                    return Err(err(format!("bad label name {lname:?}")));
                }
                if chars.next().map(|x| x.1) != Some('=') || chars.next().map(|x| x.1) != Some('"') {
                    return Err(err(format!("label {lname}: expected =\"")));
                }
                let mut val = String::new();
                let mut closed = false;
                while let Some((_, c)) = chars.next() {
                    match c {
                        '\\' => match chars.next().map(|x| x.1) {
                            Some('\\') => val.push('\\'),
                            Some('"') => val.push('"'),
                            Some('n') => val.push('\n'),
                            other => return Err(err(format!("bad escape \\{other:?}"))),
                        },
                        '"' => {
                            closed = true;
                            break;
                        }
                        c => val.push(c),
                    }
                }
                if !closed {
                    return Err(err("unterminated label value".into()));
                }
                if labels.insert(lname.trim().to_string(), val).is_some() {
                    return Err(err(format!("duplicate label {lname}")));
                }
                match chars.peek() {
                    Some((_, ',')) => {
                        chars.next();
                    }
                    Some((_, '}')) => {}
                    other => return Err(err(format!("expected , or }} after a label, got {other:?}"))),
                }
            }
            let c = consumed.ok_or_else(|| err("unterminated label set".into()))?;
            rest = &r[c..];
        }
        if !rest.starts_with([' ', '\t']) {
            return Err(err("no space before the value".into()));
        }
        let fields: Vec<&str> = rest.split_whitespace().collect();
        if fields.is_empty() || fields.len() > 2 {
            return Err(err(format!("expected `value [timestamp]`, got {fields:?}")));
        }
        let value = parse_value(fields[0]).map_err(err)?;
        if let Some(ts) = fields.get(1) {
            ts.parse::<i64>()
                .map_err(|e| err(format!("timestamp {ts:?}: {e}")))?;
        }
        if out.samples.iter().any(|s| s.name == name && s.labels == labels) {
            return Err(err(format!("duplicate series {name}{labels:?}")));
        }
        if !seen_samples_of.iter().any(|s| s == name) {
            seen_samples_of.push(name.to_string());
        }
        out.samples.push(Sample {
            name: name.to_string(),
            labels,
            value,
        });
    }
    Ok(out)
}

#[test]
fn exposition_parser_is_strict() {
    let ok = "# HELP a_total Things.\n# TYPE a_total counter\na_total{status=\"200\",x=\"q\\\"\"} 3\n\
              a_total{status=\"error\"} 1e0\nb 4.5 1650342164000\n";
    let e = parse_exposition(ok).unwrap();
    assert_eq!(e.sum("a_total"), 4.0);
    assert_eq!(e.with_label("a_total", "x", "q\""), Some(3.0));
    for bad in [
        "1abc 3\n",
        "a{status=200} 1\n",
        "a{status=\"1\"}\n",
        "a three\n",
        "a 1\n# TYPE a counter\n",
        "# TYPE a countr\n",
        "a{b=\"1\",b=\"2\"} 1\n",
        "a 1\na 2\n",
    ] {
        assert!(parse_exposition(bad).is_err(), "must reject {bad:?}");
    }
}

/// The `fetches` table, as the metrics should see it.
#[derive(Debug, PartialEq)]
struct DbCounts {
    total: i64,
    by_status: BTreeMap<String, i64>,
    bytes: i64,
    new_articles: i64,
    bad_fetches: i64,
}

fn db_counts(conn: &rusqlite::Connection, bad_id: i64) -> DbCounts {
    let mut st = conn
        .prepare("SELECT status, COUNT(*) FROM fetches GROUP BY status")
        .unwrap();
    let by_status: BTreeMap<String, i64> = st
        .query_map([], |r| {
            Ok((
                r.get::<_, Option<i64>>(0)?
                    .map(|s| s.to_string())
                    .unwrap_or_else(|| "error".into()),
                r.get::<_, i64>(1)?,
            ))
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let (total, bytes, new_articles): (i64, i64, i64) = conn
        .query_row(
            "SELECT COUNT(*), COALESCE(SUM(bytes), 0), COALESCE(SUM(new_articles), 0) FROM fetches",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    DbCounts {
        total,
        by_status,
        bytes,
        new_articles,
        bad_fetches: count(conn, &format!("fetches WHERE source_id = {bad_id}")),
    }
}

#[test]
fn metrics_and_healthz_match_the_fetches_table() {
    let server = TestServer::start();
    server.set("/good.xml", Route::atom(fixture("atom.xml")));
    server.set("/bad.xml", Route::status(500));
    let dir = tempdir();
    let db = db_path(dir.path());
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let mut cfg = daemon_config(&DaemonOpts {
        interval: "3s".into(),
        min_interval: "1s".into(),
        metrics_listen: Some(addr.clone()),
        ..DaemonOpts::default()
    });
    cfg.push_str(&feed_source("good", &server.url("/good.xml"), "emnews", &[]));
    cfg.push_str(&feed_source("bad", &server.url("/bad.xml"), "emnews", &[]));
    let config = write_config(dir.path(), &cfg);
    let mut daemon = Daemon::start(&config);
    let t = Duration::from_secs(2);

    // /healthz once the listener is up.
    let health = daemon.poll_until(Duration::from_secs(10), Duration::from_millis(100), || {
        http_get(&addr, "/healthz", t).ok()
    });
    let health = health.unwrap_or_else(|| panic!("GET http://{addr}/healthz: no answer within 10 s"));
    assert_eq!(health.status, 200, "/healthz: {health:?}");

    // Both sources polled and their fetches recorded.
    let settled = daemon.poll_until(Duration::from_secs(10), Duration::from_millis(100), || {
        let conn = try_open_db(&db)?;
        let good = source_state(&conn, "good")?;
        let bad = source_state(&conn, "bad")?;
        (good.last_status == Some(200) && bad.last_status == Some(500)).then_some(bad.id)
    });
    let bad_id = settled.unwrap_or_else(|| {
        panic!(
            "both sources polled within 10 s; requests:\n{}",
            server.describe_requests()
        )
    });

    // A consistent pair: two scrapes that agree around two equal reads of the table.
    let conn = open_db(&db);
    let mut last_try = String::new();
    let pair = daemon.poll_until(Duration::from_secs(12), Duration::from_millis(200), || {
        let r1 = http_get(&addr, "/metrics", t).ok()?;
        let db1 = db_counts(&conn, bad_id);
        std::thread::sleep(Duration::from_millis(300));
        let db2 = db_counts(&conn, bad_id);
        let r2 = http_get(&addr, "/metrics", t).ok()?;
        let e1 = parse_exposition(&r1.text());
        let e2 = parse_exposition(&r2.text());
        last_try = format!("{db1:?}\n{}", r2.text());
        match (e1, e2) {
            (Ok(a), Ok(b)) if a.fetch_counters() == b.fetch_counters() && db1 == db2 => {
                Some(Ok((r2, b, db2)))
            }
            (Err(e), _) | (_, Err(e)) => Some(Err((e, r1.text()))),
            _ => None,
        }
    });
    let (resp, m, dbc) = match pair {
        Some(Ok(x)) => x,
        Some(Err((e, text))) => panic!("/metrics is not valid Prometheus text: {e}\n{text}"),
        None => {
            panic!("no quiet moment in 12 s to compare /metrics with the fetches table; last:\n{last_try}")
        }
    };
    let _body = PrintOnPanic(resp.text());

    let mut soft = Soft::new();
    soft.eq(resp.status, 200, "GET /metrics status");
    soft.check(
        resp.header("content-type")
            .is_some_and(|c| c.starts_with("text/plain")),
        || {
            format!(
                "Content-Type text/plain (version=0.0.4): {:?}",
                resp.header("content-type")
            )
        },
    );
    for name in [
        "feedcrawler_fetches_total",
        "feedcrawler_fetch_bytes_total",
        "feedcrawler_articles_new_total",
        "feedcrawler_articles_updated_total",
        "feedcrawler_source_failures_total",
        "feedcrawler_queue_depth",
        "feedcrawler_next_poll_timestamp_seconds",
    ] {
        soft.check(!m.get(name).is_empty(), || format!("metric {name} present"));
    }
    for (name, ty) in [
        ("feedcrawler_fetches_total", "counter"),
        ("feedcrawler_fetch_bytes_total", "counter"),
        ("feedcrawler_articles_new_total", "counter"),
        ("feedcrawler_articles_updated_total", "counter"),
        ("feedcrawler_source_failures_total", "counter"),
        ("feedcrawler_queue_depth", "gauge"),
        ("feedcrawler_next_poll_timestamp_seconds", "gauge"),
    ] {
        soft.eq(
            m.types.get(name).map(String::as_str),
            Some(ty),
            &format!("# TYPE of {name}"),
        );
    }

    // The counters equal the fetches table.
    soft.eq(
        m.sum("feedcrawler_fetches_total"),
        dbc.total as f64,
        "sum of feedcrawler_fetches_total = SELECT COUNT(*) FROM fetches",
    );
    let mut by_status: BTreeMap<String, f64> = BTreeMap::new();
    for s in m.get("feedcrawler_fetches_total") {
        let st = s
            .labels
            .get("status")
            .cloned()
            .unwrap_or_else(|| "<no status label>".into());
        if s.value != 0.0 {
            *by_status.entry(st).or_default() += s.value;
        }
    }
    let db_by_status: BTreeMap<String, f64> = dbc
        .by_status
        .iter()
        .map(|(k, v)| (k.clone(), *v as f64))
        .collect();
    soft.eq(
        by_status,
        db_by_status,
        "feedcrawler_fetches_total by status = fetches GROUP BY status",
    );
    soft.check(dbc.by_status.get("500").copied().unwrap_or(0) >= 1, || {
        format!("the 500 source has fetches rows: {dbc:?}")
    });
    soft.eq(
        m.sum("feedcrawler_fetch_bytes_total"),
        dbc.bytes as f64,
        "feedcrawler_fetch_bytes_total = SUM(fetches.bytes)",
    );
    soft.eq(
        m.sum("feedcrawler_articles_new_total"),
        dbc.new_articles as f64,
        "feedcrawler_articles_new_total = SUM(fetches.new_articles)",
    );
    soft.eq(
        m.sum("feedcrawler_articles_new_total"),
        count(&conn, "articles") as f64,
        "feedcrawler_articles_new_total = articles stored (fresh database)",
    );
    soft.eq(
        m.with_label("feedcrawler_source_failures_total", "source", "bad"),
        Some(dbc.bad_fetches as f64),
        "feedcrawler_source_failures_total{source=\"bad\"} = the failing source's fetches",
    );
    soft.check(
        m.with_label("feedcrawler_source_failures_total", "source", "good")
            .unwrap_or(0.0)
            == 0.0,
        || "no failures counted for the good source".into(),
    );
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    for s in m.get("feedcrawler_next_poll_timestamp_seconds") {
        soft.check(s.value > now - 120.0 && s.value < now + 7200.0, || {
            format!("next poll timestamp {s:?} is a plausible Unix time near now ({now})")
        });
    }
    for s in m.get("feedcrawler_queue_depth") {
        soft.check(s.value >= 0.0 && s.value.fract() == 0.0, || {
            format!("queue depth {s:?}")
        });
    }
    let (exit, took) = daemon.terminate(Duration::from_secs(10));
    soft.eq(
        exit.map(|s| s.code()),
        Some(Some(0)),
        &format!("exit status after SIGTERM (took {took:?})"),
    );
    soft.finish();
    drop(daemon);
}

/// Prints the scraped exposition if the test fails while it is alive.
struct PrintOnPanic(String);

impl Drop for PrintOnPanic {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("--- /metrics ---\n{}", self.0);
        }
    }
}
