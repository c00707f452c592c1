//! Operators' command line (issue 15): shell completions and the man page from the CLI
//! definition, `add-link` exit codes and its warning, the `once` summary line and its
//! exit status, RFC 3339 log times, `sources` showing a new source's first poll time and
//! the last success, and the `.deb` where `cargo-deb` is installed.

mod support;

use std::path::Path;
use std::time::Duration;

use support::*;

const SUBCOMMANDS: &[&str] = &[
    "run",
    "add-link",
    "once",
    "check",
    "migrate",
    "sources",
    "search",
    "export",
    "import-opml",
    "completions",
    "man",
];

fn raw(args: &[&str]) -> Output {
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    run_raw(&args, &std::env::temp_dir(), &[], RUN_TIMEOUT)
}

#[test]
fn completions_name_every_subcommand() {
    for shell in ["bash", "zsh", "fish"] {
        let out = raw(&["completions", shell]);
        let _diag = out.on_panic();
        out.assert_code(0);
        for sub in SUBCOMMANDS {
            assert!(out.stdout.contains(sub), "{shell} completion lacks {sub}");
        }
    }
    // An unknown shell is a usage error.
    raw(&["completions", "cmd.exe"]).assert_code(2);
}

#[test]
fn man_page_lists_every_subcommand() {
    let out = raw(&["man"]);
    let _diag = out.on_panic();
    out.assert_code(0);
    assert!(out.stdout.starts_with(".ie"), "roff");
    assert!(out.stdout.contains(".TH feedcrawler 1"), "section 1 page");
    for sub in SUBCOMMANDS {
        // roff escapes the hyphen: feedcrawler\-add\-link
        let name = format!("feedcrawler\\-{}", sub.replace('-', "\\-"));
        assert!(out.stdout.contains(&name), "man page lacks {name}");
    }
}

fn share_config(dir: &Path, allow: &str) -> std::path::PathBuf {
    let cfg = base_config().replace("allow_hosts = []", &format!("allow_hosts = [{allow:?}]"));
    write_config(dir, &cfg)
}

#[test]
fn add_link_exit_codes_and_warning() {
    let dir = tempdir();
    let config = share_config(dir.path(), "finance.eastmoney.com");

    let bad = run(&config, &["add-link", "not-a-url"]);
    bad.assert_code(2);
    assert!(
        bad.stderr.contains("add-link not-a-url: not a URL"),
        "{}",
        bad.diag()
    );
    let ftp = run(&config, &["add-link", "ftp://finance.eastmoney.com/a.html"]);
    ftp.assert_code(2);
    assert!(
        ftp.stderr.contains("scheme `ftp:` is not fetched"),
        "{}",
        ftp.diag()
    );
    // A bad argument among good ones queues nothing.
    run(
        &config,
        &["add-link", "https://finance.eastmoney.com/a/1.html", "::"],
    )
    .assert_code(2);

    let allowed = run(&config, &["add-link", "https://finance.eastmoney.com/a/1.html"]);
    let _diag = allowed.on_panic();
    allowed.assert_code(0);
    assert_eq!(allowed.stdout, "1 of 1 links queued (0 already known)\n");
    assert!(!allowed.stderr.contains("will not be fetched"));

    let elsewhere = "http://finews.zning.xyz/html_News/NewsShare.html?infoCode=NW202204192348095567";
    let warned = run(&config, &["add-link", elsewhere]);
    let _diag = warned.on_panic();
    warned.assert_code(0);
    assert_eq!(warned.stdout, "1 of 1 links queued (0 already known)\n");
    assert!(
        warned.stderr.contains(&format!(
            "feedcrawler: warning: {elsewhere} will not be fetched: host finews.zning.xyz is not in \
             [share] allow_hosts, a configured source's host or a resolve host; share links are \
             not requested from it; no [share] resolve template applies to it"
        )),
        "{}",
        warned.diag()
    );

    let conn = open_db(&db_path(dir.path()));
    assert_eq!(count(&conn, "share_links"), 2, "the bad arguments queued nothing");
}

/// The first field of a text log line is its time: RFC 3339, UTC, milliseconds.
fn assert_log_times(stderr: &str) {
    let re = regex::Regex::new(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z ").unwrap();
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains(" INFO ") || l.contains(" DEBUG "))
        .collect();
    assert!(!lines.is_empty(), "some log lines");
    for line in lines {
        assert!(re.is_match(line), "log line time not RFC 3339 UTC: {line}");
    }
}

#[test]
fn once_prints_a_summary_and_fails_on_a_failed_share_link() {
    let server = TestServer::start();
    server.set(
        "/feed.xml",
        Route::rss(mini_rss(
            "证券日报",
            &[
                ("央行：保持流动性合理充裕", "http://www.zqrb.cn/a/1.html"),
                ("证监会：推动资本市场高质量发展", "http://www.zqrb.cn/a/2.html"),
            ],
        )),
    );
    server.set("/gone.html", Route::status(500));
    let dir = tempdir();
    let mut cfg = base_config().replace("allow_hosts = []", "allow_hosts = [\"127.0.0.1\"]");
    cfg.push_str(&feed_source("zqrb", &server.url("/feed.xml"), "news", &[]));
    let config = write_config(dir.path(), &cfg);

    // Without owed work: exit 0 and the summary.
    let first = run_once(&config);
    let _diag = first.on_panic();
    first.assert_code(0);
    assert_eq!(
        first.stdout,
        "sources 1 ok, 0 failed; articles 2 new, 0 updated; pages 0 done, 0 failed; \
         share links 0 done, 0 failed, 0 skipped\n"
    );
    assert_log_times(&first.stderr);

    // A share link on an allowed host that keeps answering 500, and one on a host that is
    // never requested: the first fails the run, the second is only skipped.
    run(&config, &["add-link", &server.url("/gone.html")]).assert_code(0);
    run(
        &config,
        &[
            "add-link",
            "http://finews.zning.xyz/html_News/NewsShare.html?infoCode=NW202204192348095567",
        ],
    )
    .assert_code(0);
    let args = vec![
        "--config".to_string(),
        config.display().to_string(),
        "once".to_string(),
    ];
    let second = run_raw(&args, dir.path(), &[], Duration::from_secs(60));
    let _diag = second.on_panic();
    second.assert_code(1);
    assert_eq!(
        second.stdout,
        "sources 1 ok, 0 failed; articles 0 new, 0 updated; pages 0 done, 0 failed; \
         share links 0 done, 1 failed, 1 skipped\n"
    );
    assert!(
        second
            .stderr
            .contains("feedcrawler: 0 article pages and 1 share links failed"),
        "{}",
        second.diag()
    );
}

#[test]
fn sources_shows_first_poll_and_last_success() {
    let server = TestServer::start();
    server.set(
        "/a.xml",
        Route::rss(mini_rss("A", &[("甲公司公告", "http://a.example/1")])),
    );
    server.set(
        "/b.xml",
        Route::rss(mini_rss("B", &[("乙公司公告", "http://b.example/1")])),
    );
    let dir = tempdir();
    let listen = format!("127.0.0.1:{}", free_port());
    let mut cfg = daemon_config(&DaemonOpts {
        metrics_listen: Some(listen.clone()),
        ..DaemonOpts::default()
    });
    cfg.push_str(&feed_source("a-first", &server.url("/a.xml"), "news", &[]));
    cfg.push_str(&feed_source("b-second", &server.url("/b.xml"), "news", &[]));
    let config = write_config(dir.path(), &cfg);

    let mut daemon = Daemon::start(&config);
    // Two new sources on a 1 h interval: the first is due at once, the second half an
    // hour later; `sources` shows both times as soon as the daemon has scheduled them.
    let rows = daemon.poll_until(Duration::from_secs(10), Duration::from_millis(100), || {
        let out = run(&config, &["sources"]);
        let rows: Vec<Vec<String>> = out
            .stdout
            .lines()
            .skip(1)
            .map(|l| l.split('\t').map(str::to_owned).collect())
            .collect();
        let polled = rows.iter().any(|r| r[0] == "a-first" && r[5] != "-");
        (rows.len() == 2 && polled).then_some((out.stdout.clone(), rows))
    });
    // The same in the metrics (read from the database every 10 s).
    let scrape = daemon.poll_until(Duration::from_secs(30), Duration::from_millis(250), || {
        let text = http_get(&listen, "/metrics", Duration::from_secs(5)).ok()?.text();
        text.contains("feedcrawler_source_last_success_timestamp_seconds{source=\"a-first\"}")
            .then_some(text)
    });
    daemon.terminate(Duration::from_secs(10));
    let (text, rows) = rows.unwrap_or_else(|| panic!("sources never showed a poll\n{}", daemon.diag()));
    let scrape = scrape.unwrap_or_else(|| panic!("metrics never showed the last success\n{}", daemon.diag()));
    let success = chrono::DateTime::parse_from_rfc3339(&rows[0][5])
        .unwrap()
        .timestamp();
    for line in [
        format!("feedcrawler_source_last_success_timestamp_seconds{{source=\"a-first\"}} {success}"),
        "feedcrawler_source_consecutive_failures{source=\"a-first\"} 0".to_owned(),
        "feedcrawler_source_consecutive_failures{source=\"b-second\"} 0".to_owned(),
        "feedcrawler_fetch_duration_seconds_count 1".to_owned(),
        "feedcrawler_page_jobs_pending 0".to_owned(),
        "feedcrawler_share_links_pending 0".to_owned(),
    ] {
        assert!(
            scrape.lines().any(|l| l == line),
            "metrics lack {line:?}:\n{scrape}"
        );
    }
    assert!(
        !scrape.contains("last_success_timestamp_seconds{source=\"b-second\"}"),
        "{scrape}"
    );
    assert!(
        text.starts_with(
            "NAME\tTYPE\tHEALTH\tSTATUS\tLAST POLL\tLAST SUCCESS\tNEXT POLL\tFOUND\tSEEN\tERROR\n"
        ),
        "{text}"
    );
    let a = &rows[0];
    assert_eq!(a[0], "a-first");
    assert_eq!(a[4], a[5], "a successful poll is the last success: {text}");
    let b = &rows[1];
    assert_eq!(b[0], "b-second");
    assert_eq!(b[2], "new", "{text}");
    assert_eq!(b[4], "-", "never polled: {text}");
    assert_eq!(b[5], "-", "never succeeded: {text}");
    let next = chrono::DateTime::parse_from_rfc3339(&b[6])
        .unwrap_or_else(|e| panic!("NEXT POLL of a new source is a time, not {:?}: {e}\n{text}", b[6]));
    let polled = chrono::DateTime::parse_from_rfc3339(&a[4]).unwrap();
    let spread = (next - polled).num_seconds();
    assert!(
        (1700..=1800).contains(&spread),
        "first poll half an interval later: {spread} s\n{text}"
    );
    assert!(
        daemon
            .stderr()
            .contains("1 of 2 sources due now, the others from "),
        "{}",
        daemon.diag()
    );
}

/// `cargo deb` where it is installed: the package holds the binary, the unit and its
/// drop-in, the config as a conffile and the postinst. Skipped (loudly) elsewhere.
#[test]
fn deb_package_builds_where_cargo_deb_is_installed() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let has_deb = std::process::Command::new(&cargo)
        .args(["deb", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_deb {
        eprintln!(
            "SKIPPED deb_package_builds_where_cargo_deb_is_installed: `cargo deb` is not installed \
             (cargo install cargo-deb)"
        );
        return;
    }
    let out_dir = tempdir();
    let out = std::process::Command::new(&cargo)
        .args(["deb", "--output"])
        .arg(out_dir.path())
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo deb runs");
    assert!(
        out.status.success(),
        "cargo deb failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let deb = std::fs::read_dir(out_dir.path())
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "deb"))
        .expect("a .deb written");
    let contents = std::process::Command::new("dpkg-deb")
        .arg("-c")
        .arg(&deb)
        .output()
        .expect("dpkg-deb");
    let listing = String::from_utf8_lossy(&contents.stdout);
    for path in [
        "./usr/bin/feedcrawler",
        "feedcrawler.service",
        "./usr/lib/systemd/system/feedcrawler.service.d/package.conf",
        "./etc/feedcrawler/feedcrawler.toml",
    ] {
        assert!(listing.contains(path), "{path} missing from the .deb:\n{listing}");
    }
    let control = std::process::Command::new("dpkg-deb")
        .arg("-I")
        .arg(&deb)
        .output()
        .expect("dpkg-deb");
    let control = String::from_utf8_lossy(&control.stdout);
    assert!(control.contains("postinst"), "{control}");
    assert!(control.contains("conffiles"), "{control}");
}
