//! The throwaway PostgreSQL cluster of `tests/support/pg.rs` works: databases are made and
//! answer, pg_trgm indexes Chinese text, databases are independent of each other, and a
//! machine without PostgreSQL skips loudly (or fails, under CI).

mod support;

use std::fs;
use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::pg::{BIN_ENV, PgCluster, SKIP_LINE};

#[test]
fn a_new_database_answers_and_the_server_version_is_printed() {
    let pg = require_pg!();
    let url = pg.database("select_one");
    assert!(
        url.starts_with(&format!(
            "postgres://postgres@127.0.0.1:{}/select_one_",
            pg.port()
        )),
        "{url}"
    );
    assert_eq!(pg.psql(&url, "SELECT 1"), "1");
    // Empty: no table of anyone else's.
    assert_eq!(
        pg.psql(&url, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"),
        "0"
    );
    let facts = pg.psql(
        &url,
        "SELECT current_setting('server_version'), pg_encoding_to_char(encoding), datctype, \
         current_setting('max_connections'), current_setting('fsync') \
         FROM pg_database WHERE datname = current_database()",
    );
    eprintln!("PostgreSQL server (version|encoding|ctype|max_connections|fsync): {facts}");
    let fields: Vec<&str> = facts.split('|').collect();
    assert_eq!(fields.len(), 5, "{facts}");
    assert_eq!(
        (fields[1], fields[3], fields[4]),
        ("UTF8", "300", "off"),
        "{facts}"
    );
}

#[test]
fn pg_trgm_gin_index_finds_chinese_substrings() {
    let pg = require_pg!();
    let url = pg.database("trgm");
    pg.psql(
        &url,
        "CREATE EXTENSION pg_trgm;
         CREATE TABLE docs (id int PRIMARY KEY, t text NOT NULL);
         INSERT INTO docs VALUES
             (1, '港股午评：恒指微跌 苹果概念股走强比亚迪电子涨逾5%'),
             (2, '今日股市行情：沪指高开，外资杀入A股'),
             (3, '股市 行情 分开写，不是连续的四个字'),
             (4, '外资杀入A股！高景气度军工全产业链上涨');
         INSERT INTO docs SELECT i, '填充文章 filler ' || i FROM generate_series(100, 2100) AS i;
         CREATE INDEX docs_t_trgm ON docs USING gin (t gin_trgm_ops);
         ANALYZE docs;",
    );
    let query = "SELECT id FROM docs WHERE t LIKE '%股市行情%' ORDER BY id";
    assert_eq!(pg.psql(&url, query), "2");
    // The index answers (not a scan that happens to find the row too).
    let plan = pg.psql(
        &url,
        &format!("SET enable_seqscan = off; EXPLAIN (COSTS OFF) {query}"),
    );
    assert!(plan.contains("Bitmap Index Scan on docs_t_trgm"), "{plan}");
    assert_eq!(pg.psql(&url, &format!("SET enable_seqscan = off; {query}")), "2");
    // Under C.UTF-8 the Chinese characters are letters, so they make trigrams; under the C
    // locale (initdb's fallback) the index would scan everything and still answer right.
    let ctype = pg.psql(
        &url,
        "SELECT datctype FROM pg_database WHERE datname = current_database()",
    );
    let trigrams = pg.psql(&url, "SELECT array_length(show_trgm('股市行情'), 1)");
    eprintln!("ctype {ctype}: show_trgm('股市行情') has {trigrams} trigrams");
    if ctype.eq_ignore_ascii_case("C.UTF-8") {
        assert!(trigrams.parse::<u32>().is_ok_and(|n| n >= 4), "{trigrams}");
    }
}

#[test]
fn two_databases_are_independent() {
    let pg = require_pg!();
    let a = pg.database("independent");
    let b = pg.database("independent");
    assert_ne!(a, b);
    pg.psql(&a, "CREATE TABLE t (v text); INSERT INTO t VALUES ('in a');");
    assert_eq!(pg.psql(&b, "SELECT to_regclass('public.t') IS NULL"), "t");
    pg.psql(
        &b,
        "CREATE TABLE t (v text); INSERT INTO t VALUES ('in b'), ('also in b');",
    );
    assert_eq!(pg.psql(&a, "SELECT string_agg(v, ',' ORDER BY v) FROM t"), "in a");
    assert_eq!(
        pg.psql(&b, "SELECT string_agg(v, ',' ORDER BY v) FROM t"),
        "also in b,in b"
    );
}

#[test]
fn a_failing_statement_reports_the_server_message() {
    let pg = require_pg!();
    let url = pg.database("failing");
    let why = pg
        .try_psql(&url, "SELECT 1; SELECT * FROM no_such_table; SELECT 2;")
        .expect_err("a statement on a missing table fails");
    assert!(
        why.contains(r#"relation "no_such_table" does not exist"#),
        "{why}"
    );
    assert_eq!(pg.try_psql(&url, "SELECT 1; SELECT 2;"), Ok("1\n2".to_string()));
}

#[test]
fn an_own_cluster_is_stopped_and_removed_on_drop() {
    let Some(pg) = PgCluster::start() else { return };
    let url = pg.database("own");
    assert_eq!(pg.psql(&url, "SELECT 2"), "2");
    let shared = require_pg!();
    assert_ne!(pg.port(), shared.port());
    let log = pg.log_path();
    let dir = log
        .parent()
        .expect("the log is in the cluster's directory")
        .to_path_buf();
    assert!(log.exists());
    drop(pg);
    assert!(!dir.exists(), "{} is left after drop", dir.display());
}

/// Set in the child processes of the tests below.
const HOLD_ENV: &str = "FEEDCRAWLER_PG_HARNESS_HOLD";

/// Calls [`PgCluster::shared`]: in this binary's own run it just uses the cluster; the tests
/// below run it again in a child process, with no PostgreSQL to be found, or to be killed
/// while it holds the cluster.
#[test]
fn probe_shared_cluster() {
    let Some(pg) = PgCluster::shared() else { return };
    assert_eq!(pg.psql(&pg.url("postgres"), "SELECT 3"), "3");
    if std::env::var_os(HOLD_ENV).is_some() {
        println!("HOLDING {}", pg.dir().display());
        std::thread::sleep(Duration::from_secs(120));
    }
}

/// However the test process dies, its server stops and its directory goes: a test process
/// killed outright, and one interrupted with its whole process group as by Ctrl-C.
#[test]
fn a_killed_test_process_leaves_no_server_behind() {
    if PgCluster::shared().is_none() {
        return;
    }
    for signal_group in [false, true] {
        let mut child = Command::new(std::env::current_exe().expect("the test binary's path"))
            .args(["--exact", "probe_shared_cluster", "--nocapture"])
            .env(HOLD_ENV, "1")
            .process_group(0)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting the probe");
        let stdout = child.stdout.take().expect("the probe's stdout is piped");
        let dir = BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .find_map(|line| line.strip_prefix("HOLDING ").map(PathBuf::from))
            .expect("the probe holds a cluster");
        let pid_file = fs::read_to_string(dir.join("data/postmaster.pid")).expect("postmaster.pid");
        let postmaster: i32 = pid_file
            .lines()
            .next()
            .and_then(|l| l.trim().parse().ok())
            .expect("postmaster.pid starts with the pid");
        assert!(alive(postmaster));
        let how = if signal_group {
            // SAFETY: plain kill(2) of the probe's own process group.
            let pgid = i32::try_from(child.id()).expect("pid fits i32");
            assert_eq!(unsafe { libc::kill(-pgid, libc::SIGINT) }, 0);
            "SIGINT to its process group"
        } else {
            child.kill().expect("killing the probe");
            "SIGKILL"
        };
        let status = child.wait().expect("waiting for the probe");
        assert!(!status.success(), "{status}");
        // The watchdog's immediate stop takes a fraction of a second. The limit stays well
        // below the minute after which a postmaster whose directory went away stops by
        // itself, so that only the watchdog's stop can pass.
        let killed = Instant::now();
        while (alive(postmaster) || dir.exists()) && killed.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(20));
        }
        eprintln!("probe killed by {how}: cleaned up after {:?}", killed.elapsed());
        assert!(
            !alive(postmaster),
            "postmaster {postmaster} survives a probe killed by {how}"
        );
        assert!(
            !dir.exists(),
            "{} survives a probe killed by {how}",
            dir.display()
        );
    }
}

/// Whether process `pid` runs (a zombie, waiting for init to collect it, does not).
fn alive(pid: i32) -> bool {
    fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        stat.rsplit_once(") ")
            .is_some_and(|(_, rest)| !rest.starts_with('Z'))
    })
}

#[test]
fn without_postgresql_tests_skip_loudly_outside_ci_and_fail_under_ci() {
    let nowhere = support::tempdir();
    let probe = |ci: bool| {
        let mut cmd = Command::new(std::env::current_exe().expect("the test binary's path"));
        // No --nocapture: the SKIPPED line must show even in a normal run.
        cmd.args(["--exact", "probe_shared_cluster", "--test-threads=1"])
            .env(BIN_ENV, nowhere.path());
        if ci {
            cmd.env("CI", "true");
        } else {
            cmd.env_remove("CI");
        }
        let out = cmd.output().expect("running the probe");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out, text)
    };

    let (out, text) = probe(false);
    assert!(out.status.success(), "{text}");
    assert!(String::from_utf8_lossy(&out.stderr).contains(SKIP_LINE), "{text}");
    assert_eq!(text.matches("SKIPPED").count(), 1, "{text}");

    let (out, text) = probe(true);
    assert!(
        !out.status.success(),
        "under CI a missing PostgreSQL must fail:\n{text}"
    );
    assert!(text.contains("PostgreSQL is required under CI"), "{text}");
}
