//! `[[notify]]` (CONTRACT §5): an `exec` program and a `webhook` receive exactly the new
//! articles that pass their `sources` / `include` / `exclude` filters, once each, as the
//! object `export --format jsonl` writes; a failing webhook is retried and then delivered;
//! a delivery in flight when the daemon is killed with SIGKILL is made after the restart.

mod support;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use support::*;

/// One POST the webhook server received.
#[derive(Clone, Debug)]
struct Hook {
    path: String,
    headers: BTreeMap<String, String>,
    body: Value,
}

/// How the webhook server answers.
#[derive(Default)]
struct HookState {
    received: Vec<Hook>,
    /// Statuses for the next answers, in order; 200 once they are used up.
    statuses: Vec<u16>,
    /// Read the request, record it, and never answer (until the connection closes).
    hang: bool,
}

/// A webhook receiver on 127.0.0.1 that records each request's body.
struct HookServer {
    port: u16,
    state: Arc<Mutex<HookState>>,
}

impl HookServer {
    fn start() -> HookServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the webhook server");
        let port = listener.local_addr().expect("local address").port();
        let state = Arc::new(Mutex::new(HookState::default()));
        let shared = Arc::clone(&state);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let state = Arc::clone(&shared);
                std::thread::spawn(move || serve(stream, &state));
            }
        });
        HookServer { port, state }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn received(&self) -> Vec<Hook> {
        self.state.lock().unwrap().received.clone()
    }

    fn titles(&self) -> Vec<String> {
        let mut titles: Vec<String> = self.received().iter().map(|h| title_of(&h.body)).collect();
        titles.sort();
        titles
    }
}

/// Serves one connection: requests one after another (keep-alive), each recorded.
fn serve(stream: TcpStream, state: &Mutex<HookState>) {
    let mut reader = BufReader::new(stream.try_clone().expect("clone the stream"));
    let mut out = stream;
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
            return;
        }
        let path = request_line.split_whitespace().nth(1).unwrap_or("").to_owned();
        let mut headers = BTreeMap::new();
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((k, v)) = line.split_once(':') {
                headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
            }
        }
        let len: usize = headers
            .get("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0; len];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let body: Value = serde_json::from_slice(&body).unwrap_or_else(|e| {
            panic!(
                "webhook body is not JSON ({e}): {}",
                String::from_utf8_lossy(&body)
            )
        });
        let (status, hang) = {
            let mut s = state.lock().unwrap();
            s.received.push(Hook { path, headers, body });
            let status = if s.statuses.is_empty() {
                200
            } else {
                s.statuses.remove(0)
            };
            (status, s.hang)
        };
        if hang {
            // Hold the connection until the client goes away.
            let mut rest = Vec::new();
            let _ = reader.read_to_end(&mut rest);
            return;
        }
        let reply = format!("HTTP/1.1 {status} X\r\ncontent-length: 2\r\n\r\nno");
        if out.write_all(reply.as_bytes()).is_err() {
            return;
        }
    }
}

fn title_of(v: &Value) -> String {
    v["title"].as_str().unwrap_or_default().to_owned()
}

/// An RSS feed of `(id, title, media)` items.
fn rss(items: &[(&str, &str, &str)]) -> String {
    let mut out = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rss version=\"2.0\" xmlns:dc=\"http://purl.org/dc/elements/1.1/\"><channel><title>t</title>\
         <link>http://news.example.org/</link><description>d</description>\n",
    );
    for (id, title, media) in items {
        out.push_str(&format!(
            "<item><title>{title}</title><link>http://news.example.org/a/{id}.html</link>\
             <guid>http://news.example.org/a/{id}.html</guid>\
             <dc:creator>{media}</dc:creator>\
             <pubDate>Tue, 19 Apr 2022 12:00:00 +0800</pubDate>\
             <description>摘要 {id}</description></item>\n"
        ));
    }
    out.push_str("</channel></rss>\n");
    out
}

/// The exec program: writes its stdin to a new file in the folder given as `$1`.
fn write_script(dir: &Path) -> (String, std::path::PathBuf) {
    let out = dir.join("exec-out");
    std::fs::create_dir_all(&out).unwrap();
    let script = dir.join("notify.sh");
    std::fs::write(
        &script,
        "#!/bin/sh\nf=$(mktemp \"$1/n.XXXXXX\") || exit 3\ncat > \"$f\"\n",
    )
    .unwrap();
    (script.display().to_string(), out)
}

/// The JSON objects the exec program received.
fn exec_received(out: &Path) -> Vec<Value> {
    let mut files: Vec<_> = std::fs::read_dir(out)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    files.sort();
    files
        .iter()
        .map(|f| {
            let text = std::fs::read_to_string(f).unwrap();
            serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("exec stdin is not one JSON object ({e}): {text}"))
        })
        .collect()
}

fn sorted_titles(values: &[Value]) -> Vec<String> {
    let mut titles: Vec<String> = values.iter().map(title_of).collect();
    titles.sort();
    titles
}

/// The articles `export --format jsonl` writes, by title.
fn exported(config: &Path) -> BTreeMap<String, Value> {
    let out = run(config, &["export", "--format", "jsonl", "--out", "-"]);
    out.assert_code(0);
    out.stdout
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("export line is JSON"))
        .map(|v| (title_of(&v), v))
        .collect()
}

fn strings(list: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = list.iter().map(|s| s.to_string()).collect();
    v.sort();
    v
}

#[test]
fn exec_and_webhook_receive_exactly_the_new_matching_articles_once() {
    let server = TestServer::start();
    let hook = HookServer::start();
    let dir = tempdir();
    let (script, out) = write_script(dir.path());
    server.set(
        "/main.xml",
        Route::rss(rss(&[
            ("1", "证券公司发布年报", "证券日报网"),
            ("2", "A股三大指数收涨", "新华网"),
            ("3", "北京明日晴", "中国天气网"),
            ("4", "证券板块午后拉升", "某某广告网"),
        ])),
    );
    server.set("/other.xml", Route::rss(rss(&[("5", "证券市场周评", "其他网")])));
    let mut cfg = base_config();
    cfg.push_str(&feed_source("main", &server.url("/main.xml"), "c", &[]));
    cfg.push_str(&feed_source("other", &server.url("/other.xml"), "c", &[]));
    cfg.push_str(&format!(
        r#"
[[notify]]
name = "script"
exec = ["/bin/sh", {script:?}, {out:?}]
sources = ["main"]
include = ["证券", "A股"]
exclude = "广告"
timeout = "20s"

[[notify]]
name = "hook"
webhook = {url:?}
headers = {{ Authorization = "Bearer t0ken" }}
include = "证券"
"#,
        out = out.display().to_string(),
        url = hook.url("/hook"),
    ));
    let config = write_config(dir.path(), &cfg);

    run_once(&config).assert_code(0);

    let exec = exec_received(&out);
    assert_eq!(
        sorted_titles(&exec),
        strings(&["证券公司发布年报", "A股三大指数收涨"]),
        "exec: only `main`, matching 证券|A股, not 广告 (media)"
    );
    assert_eq!(
        hook.titles(),
        strings(&["证券公司发布年报", "证券板块午后拉升", "证券市场周评"]),
        "webhook: any source, matching 证券"
    );
    for h in hook.received() {
        assert_eq!(h.path, "/hook");
        assert_eq!(
            h.headers.get("authorization").map(String::as_str),
            Some("Bearer t0ken")
        );
        assert_eq!(
            h.headers.get("content-type").map(String::as_str),
            Some("application/json")
        );
    }
    // The object is the one `export --format jsonl` writes for the article.
    let export = exported(&config);
    for v in exec.iter().chain(hook.received().iter().map(|h| &h.body)) {
        assert_eq!(
            Some(v),
            export.get(&title_of(v)),
            "notification object = export line"
        );
    }
    assert_eq!(exec[0]["sources"], serde_json::json!(["main"]));
    let db = open_db(&db_path(dir.path()));
    assert_eq!(
        count(
            &db,
            "notifications WHERE notify = 'script' AND state = 'delivered' AND last_status = 0"
        ),
        2,
        "exit status 0 recorded"
    );

    // A second run with nothing new notifies nobody; a new item is notified alone.
    run_once(&config).assert_code(0);
    assert_eq!(exec_received(&out).len(), 2);
    assert_eq!(hook.received().len(), 3);
    server.set(
        "/main.xml",
        Route::rss(rss(&[
            ("1", "证券公司发布年报", "证券日报网"),
            ("6", "A股收评：沪指涨1%", "新华网"),
        ])),
    );
    run_once(&config).assert_code(0);
    assert_eq!(
        sorted_titles(&exec_received(&out)),
        strings(&["证券公司发布年报", "A股三大指数收涨", "A股收评：沪指涨1%"])
    );
    assert_eq!(hook.received().len(), 3, "A股收评 does not match 证券");

    let status = run(&config, &["notify", "status"]);
    status.assert_code(0);
    assert_eq!(
        status.stdout,
        "NAME\tTYPE\tPENDING\tDELIVERED\tFAILED\tLAST ERROR\n\
         script\texec\t0\t3\t0\t-\n\
         hook\twebhook\t0\t3\t0\t-\n"
    );
}

#[test]
fn failing_webhook_is_retried_then_delivered_once() {
    let server = TestServer::start();
    let hook = HookServer::start();
    hook.state.lock().unwrap().statuses = vec![500, 500];
    let dir = tempdir();
    server.set(
        "/main.xml",
        Route::rss(rss(&[("1", "证券公司发布年报", "证券日报网")])),
    );
    let mut cfg = base_config();
    cfg.push_str(&feed_source("main", &server.url("/main.xml"), "c", &[]));
    cfg.push_str(&format!(
        "\n[[notify]]\nname = \"hook\"\nwebhook = {:?}\n",
        hook.url("/hook")
    ));
    let config = write_config(dir.path(), &cfg);

    let once = run_once(&config);
    once.assert_code(0);
    let _diag = once.on_panic();
    assert_eq!(
        hook.titles(),
        strings(&["证券公司发布年报", "证券公司发布年报", "证券公司发布年报"]),
        "two answers 500, then 200"
    );
    let db = open_db(&db_path(dir.path()));
    let (state, attempts, status): (String, i64, i64) = db
        .query_row(
            "SELECT state, attempts, last_status FROM notifications",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert_eq!((state.as_str(), attempts, status), ("delivered", 3, 200));
    let status = run(&config, &["notify", "status"]);
    let line = status.stdout.lines().nth(1).unwrap_or_default().to_owned();
    assert!(
        line.starts_with("hook\twebhook\t0\t1\t0\twebhook http://127.0.0.1:")
            && line.ends_with("/hook: HTTP 500: no"),
        "status line: {line}"
    );

    // Delivered: a later run sends nothing again.
    run_once(&config).assert_code(0);
    assert_eq!(hook.received().len(), 3);
}

#[test]
fn kill_9_between_store_and_delivery_loses_nothing() {
    let server = TestServer::start();
    let hook = HookServer::start();
    hook.state.lock().unwrap().hang = true;
    let dir = tempdir();
    server.set(
        "/main.xml",
        Route::rss(rss(&[
            ("1", "证券公司发布年报", "证券日报网"),
            ("2", "A股三大指数收涨", "新华网"),
        ])),
    );
    let mut cfg = base_config();
    let metrics = format!("127.0.0.1:{}", free_port());
    cfg.push_str(&format!(
        "\n[schedule]\ninterval = \"1h\"\n\n[metrics]\nlisten = {metrics:?}\n"
    ));
    cfg.push_str(&feed_source("main", &server.url("/main.xml"), "c", &[]));
    cfg.push_str(&format!(
        "\n[[notify]]\nname = \"hook\"\nwebhook = {:?}\ntimeout = \"10m\"\n",
        hook.url("/hook")
    ));
    let config = write_config(dir.path(), &cfg);
    let db = db_path(dir.path());

    // The articles are stored and their deliveries are in flight (unanswered): kill -9.
    let mut first = Daemon::start(&config);
    let both = first.poll_until(Duration::from_secs(30), Duration::from_millis(50), || {
        (hook.received().len() == 2).then_some(())
    });
    assert!(both.is_some(), "both deliveries started:\n{}", first.diag());
    first.kill();
    let pending = count(
        &open_db(&db),
        "notifications WHERE state = 'pending' AND attempts = 0",
    );
    assert_eq!(pending, 2, "deliveries in flight at the kill are still owed");

    // Restarted, with the webhook answering: each delivery is made again.
    hook.state.lock().unwrap().hang = false;
    let mut second = Daemon::start(&config);
    let delivered = second.poll_until(Duration::from_secs(30), Duration::from_millis(50), || {
        (count(&open_db(&db), "notifications WHERE state = 'delivered'") == 2).then_some(())
    });
    assert!(
        delivered.is_some(),
        "delivered after the restart:\n{}",
        second.diag()
    );
    second.terminate(Duration::from_secs(10));
    assert_eq!(
        hook.titles(),
        strings(&[
            "证券公司发布年报",
            "证券公司发布年报",
            "A股三大指数收涨",
            "A股三大指数收涨"
        ]),
        "each article: the delivery cut by the kill, then the one after the restart"
    );
}

/// Each mistake in a `[[notify]]` table: `check` exits 2 with file, line, table and key.
#[test]
fn notify_config_errors_name_file_line_and_key() {
    let dir = tempdir();
    let head = format!(
        "{}{}",
        base_config(),
        feed_source("main", "http://news.example.org/rss", "c", &[])
    );
    let head_lines = head.lines().count();
    let cases: &[(&str, usize, &str, &str)] = &[
        // (the [[notify]] table, line of the mistake within it (1 = the header), expected text)
        (
            "[[notify]]\nname = \"n\"\nwebhook = \"http://h.example/x\"\ninclude = \"证券(\"\n",
            4,
            "[[notify]] \"n\": key `include`: invalid regex",
            "include",
        ),
        (
            "[[notify]]\nname = \"n\"\nexec = [\"/bin/true\"]\nsources = [\"main\", \"nosuch\"]\n",
            4,
            "[[notify]] \"n\": key `sources`: no [[source]] is named \"nosuch\"",
            "sources",
        ),
        (
            "[[notify]]\nname = \"n\"\nexec = [\"/bin/true\"]\nwebhook = \"http://h.example/x\"\n",
            4,
            "[[notify]] \"n\": key `webhook`: give either exec or webhook, not both",
            "webhook",
        ),
        (
            "[[notify]]\nname = \"n\"\nwebhook = \"ftp://h.example/x\"\n",
            3,
            "[[notify]] \"n\": key `webhook`: invalid URL",
            "webhook",
        ),
        (
            "[[notify]]\nname = \"n\"\nexec = []\n",
            3,
            "[[notify]] \"n\": key `exec`: must name a program",
            "exec",
        ),
        (
            "[[notify]]\nname = \"n\"\nexec = [\"/bin/true\"]\ntimeout = \"soon\"\n",
            4,
            "[[notify]] \"n\": key `timeout`: invalid duration",
            "timeout",
        ),
        (
            "[[notify]]\nname = \"n\"\nexec = [\"/bin/true\"]\nretries = 3\n",
            4,
            "[[notify]] \"n\": key `retries`: unknown field `retries`",
            "retries",
        ),
        (
            "[[notify]]\nname = \"n\"\nexec = [\"/bin/true\"]\n\n[[notify]]\nname = \"n\"\nexec = [\"/bin/true\"]\n",
            6,
            "[[notify]] \"n\": key `name`: duplicate notify name (first defined on line",
            "name",
        ),
    ];
    for (table, line, expected, key) in cases {
        let config = write_config(dir.path(), &format!("{head}\n{table}"));
        let out = run(&config, &["check"]);
        out.assert_code(2);
        let want = format!("feedcrawler.toml:{}: {expected}", head_lines + 1 + line);
        assert!(
            out.stderr.contains(&want),
            "key {key}: expected {want:?} in:\n{}",
            out.stderr
        );
    }
}

#[test]
fn failing_exec_records_its_exit_status_and_stays_owed() {
    let server = TestServer::start();
    let dir = tempdir();
    let script = dir.path().join("fail.sh");
    std::fs::write(&script, "#!/bin/sh\ncat >/dev/null\necho boom >&2\nexit 3\n").unwrap();
    server.set(
        "/main.xml",
        Route::rss(rss(&[("1", "证券公司发布年报", "证券日报网")])),
    );
    let mut cfg = base_config();
    cfg.push_str(&feed_source("main", &server.url("/main.xml"), "c", &[]));
    cfg.push_str(&format!(
        "\n[[notify]]\nname = \"script\"\nexec = [\"/bin/sh\", {:?}]\n",
        script.display().to_string()
    ));
    let config = write_config(dir.path(), &cfg);

    // `once` retries a few times within seconds, then leaves it owed for the next run.
    run_once(&config).assert_code(0);
    let db = open_db(&db_path(dir.path()));
    let row: (String, i64, i64, String) = db
        .query_row(
            "SELECT state, attempts, last_status, last_error FROM notifications",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .unwrap();
    assert_eq!(
        row,
        (
            "pending".to_owned(),
            5,
            3,
            "exec /bin/sh: exit status 3: boom".to_owned()
        )
    );
    let status = run(&config, &["notify", "status"]);
    assert_eq!(
        status.stdout.lines().nth(1),
        Some("script\texec\t1\t0\t0\texec /bin/sh: exit status 3: boom")
    );
}

#[test]
fn sigterm_during_a_delivery_stops_the_daemon_and_keeps_it_owed() {
    let server = TestServer::start();
    let hook = HookServer::start();
    hook.state.lock().unwrap().hang = true;
    let dir = tempdir();
    server.set(
        "/main.xml",
        Route::rss(rss(&[("1", "证券公司发布年报", "证券日报网")])),
    );
    let mut cfg = base_config();
    cfg.push_str(&feed_source("main", &server.url("/main.xml"), "c", &[]));
    cfg.push_str(&format!(
        "\n[[notify]]\nname = \"hook\"\nwebhook = {:?}\ntimeout = \"10m\"\n",
        hook.url("/hook")
    ));
    let config = write_config(dir.path(), &cfg);

    let mut daemon = Daemon::start(&config);
    let started = daemon.poll_until(Duration::from_secs(30), Duration::from_millis(50), || {
        (hook.received().len() == 1).then_some(())
    });
    assert!(started.is_some(), "the delivery started:\n{}", daemon.diag());
    let (status, _) = daemon.terminate(Duration::from_secs(60));
    assert_eq!(
        status.and_then(|s| s.code()),
        Some(0),
        "graceful exit:\n{}",
        daemon.diag()
    );
    let db = open_db(&db_path(dir.path()));
    assert_eq!(
        count(&db, "notifications WHERE state = 'pending' AND attempts = 0"),
        1
    );

    // The next run delivers it.
    hook.state.lock().unwrap().hang = false;
    run_once(&config).assert_code(0);
    assert_eq!(count(&db, "notifications WHERE state = 'delivered'"), 1);
    assert_eq!(hook.titles(), strings(&["证券公司发布年报", "证券公司发布年报"]));
}

/// A `full_text` feed's new article is notified with the page's text, not the feed's
/// summary: the delivery waits for the page fetched by the poll that listed the entry
/// (here slowed down so that the notification worker runs meanwhile).
#[test]
fn full_text_articles_are_notified_with_the_page_text() {
    const TITLE: &str = "工信部明确表态 二季度工业经济稳增长有四大举措";
    const MARK: &str = "二季度将从四个方面推动工业经济稳增长";
    let server = TestServer::start();
    let hook = HookServer::start();
    let dir = tempdir();
    let page = server.url("/a/1.html");
    server.set(
        "/main.xml",
        Route::rss(format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rss version=\"2.0\"><channel><title>t</title>\
             <link>http://www.zqrb.cn/</link><description>d</description>\
             <item><title>{TITLE}</title><link>{page}</link><guid isPermaLink=\"false\">zqrb-1</guid>\
             <pubDate>Tue, 19 Apr 2022 12:22:44 +0800</pubDate><description>只有摘要。</description></item>\
             </channel></rss>"
        )),
    );
    let local = chrono::DateTime::parse_from_rfc3339("2022-04-19T12:22:44+08:00").unwrap();
    let body = format!("<p>4月19日上午，国新办举行新闻发布会。</p><p>罗俊杰表示，{MARK}：加强运行调度。</p>");
    server.set(
        "/a/1.html",
        Route::ok(
            "text/html; charset=utf-8",
            east_money_page(TITLE, &local, Some("证券日报网"), &body, None),
        )
        .delay(Duration::from_secs(5)),
    );
    let mut cfg = base_config();
    cfg = cfg.replace("timeout = \"5s\"", "timeout = \"20s\"");
    cfg.push_str(&feed_source("main", &server.url("/main.xml"), "c", &[]));
    cfg.push_str("full_text = true\n");
    cfg.push_str(&format!(
        "\n[[notify]]\nname = \"hook\"\nwebhook = {:?}\n",
        hook.url("/hook")
    ));
    let config = write_config(dir.path(), &cfg);

    let mut daemon = Daemon::start(&config);
    let got = daemon.poll_until(Duration::from_secs(60), Duration::from_millis(50), || {
        hook.received().first().cloned()
    });
    let got = got.unwrap_or_else(|| panic!("no delivery:\n{}", daemon.diag()));
    daemon.terminate(Duration::from_secs(30));
    let text = got.body["content_text"].as_str().unwrap_or_default();
    assert!(text.contains(MARK), "notified with the page's text, got {text:?}");
    assert_eq!(hook.received().len(), 1);
}

/// A `[[notify]]` added by a SIGHUP reload gets the articles stored from then on, not the
/// ones already in the database.
#[test]
fn notify_added_by_reload_gets_only_later_articles() {
    let server = TestServer::start();
    let hook = HookServer::start();
    let dir = tempdir();
    server.set(
        "/a.xml",
        Route::rss(rss(&[("1", "证券公司发布年报", "证券日报网")])),
    );
    server.set("/b.xml", Route::rss(rss(&[("2", "证券板块午后拉升", "新华网")])));
    let mut cfg = base_config();
    cfg.push_str("\n[schedule]\ninterval = \"1h\"\n");
    cfg.push_str(&feed_source("a", &server.url("/a.xml"), "c", &[]));
    let config = write_config(dir.path(), &cfg);
    let db = db_path(dir.path());

    let mut daemon = Daemon::start(&config);
    let stored = daemon.poll_until(Duration::from_secs(30), Duration::from_millis(50), || {
        // The database may exist before its tables do: an error is "not yet".
        let n: i64 = open_db_if_exists(&db)?
            .query_row("SELECT count(*) FROM articles", [], |r| r.get(0))
            .ok()?;
        (n == 1).then_some(())
    });
    assert!(stored.is_some(), "source a polled:\n{}", daemon.diag());

    cfg.push_str(&feed_source("b", &server.url("/b.xml"), "c", &[]));
    cfg.push_str(&format!(
        "\n[[notify]]\nname = \"hook\"\nwebhook = {:?}\n",
        hook.url("/hook")
    ));
    write_config(dir.path(), &cfg);
    daemon.signal("HUP");
    let got = daemon.poll_until(Duration::from_secs(30), Duration::from_millis(50), || {
        (count(&open_db(&db), "notifications WHERE state = 'delivered'") == 1).then_some(())
    });
    assert!(got.is_some(), "b's article delivered:\n{}", daemon.diag());
    daemon.terminate(Duration::from_secs(30));
    assert_eq!(hook.titles(), strings(&["证券板块午后拉升"]));
    assert_eq!(count(&open_db(&db), "notifications"), 1);
}

fn open_db_if_exists(path: &Path) -> Option<rusqlite::Connection> {
    path.exists().then(|| open_db(path))
}
