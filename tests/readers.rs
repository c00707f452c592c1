//! Readers beside the writer (issue 14, docs/schema.md "Reading while the crawler writes"):
//! a consumer's read transaction held open through a whole crawl neither stops the crawl
//! nor sees it half-way; and consumers in the daemon's group can open the database — with
//! `?mode=ro` while the daemon runs, with `?mode=ro&immutable=1` once it has stopped — as
//! the file modes the store leaves (under the systemd unit's `UMask=0027`) allow.

mod support;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use support::*;

/// Feed `i` of the server: five items of its own.
fn feed(server: &TestServer, i: usize) -> String {
    let items: Vec<(String, String)> = (0..5)
        .map(|j| {
            (
                format!("第{i}源第{j}条消息"),
                server.url(&format!("/s{i}/{j}.html")),
            )
        })
        .collect();
    let refs: Vec<(&str, &str)> = items.iter().map(|(t, l)| (t.as_str(), l.as_str())).collect();
    mini_rss(&format!("源{i}"), &refs)
}

fn config_with(server: &TestServer, sources: usize) -> String {
    let mut cfg = base_config();
    for i in 0..sources {
        cfg.push_str(&feed_source(
            &format!("s{i}"),
            &server.url(&format!("/s{i}.xml")),
            "财经",
            &[],
        ));
    }
    cfg
}

fn counts(conn: &rusqlite::Connection) -> (i64, i64, i64, i64) {
    (
        count(conn, "articles"),
        count(conn, "sightings"),
        count(conn, "fetches"),
        // The search index is part of the snapshot too.
        count(conn, "articles_fts WHERE articles_fts MATCH '条消息'"),
    )
}

#[test]
fn a_read_transaction_held_through_a_crawl_keeps_its_snapshot() {
    let server = TestServer::start();
    for i in 0..40 {
        server.set(format!("/s{i}.xml"), Route::rss(feed(&server, i)));
    }
    let dir = tempdir();
    // First 10 sources: 50 articles.
    let config = write_config(dir.path(), &config_with(&server, 10));
    run_once(&config).assert_code(0);
    let db = db_path(dir.path());

    let reader = rusqlite::Connection::open_with_flags(
        format!("file:{}?mode=ro", db.display()),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_URI,
    )
    .expect("a read-only consumer connection");
    reader.execute_batch("BEGIN").unwrap();
    assert_eq!(counts(&reader), (50, 50, 10, 50), "the first crawl");

    // All 40 sources while the reader's transaction is open: 150 new articles.
    let config = write_config(dir.path(), &config_with(&server, 40));
    let out = run_once(&config);
    let _diag = out.on_panic();
    out.assert_code(0);
    let log = out.stderr.to_lowercase();
    assert!(
        !log.contains("busy") && !log.contains("locked"),
        "no SQLITE_BUSY / locked database in the crawl:\n{}",
        out.stderr
    );
    println!(
        "crawl of 40 sources beside an open read transaction: {:?}",
        out.elapsed
    );

    // The snapshot did not move.
    assert_eq!(
        counts(&reader),
        (50, 50, 10, 50),
        "inside the reader's transaction"
    );
    reader.execute_batch("COMMIT").unwrap();
    // A new transaction sees the whole second crawl: 200 articles, 40 more requests.
    assert_eq!(
        counts(&reader),
        (200, 200, 50, 200),
        "after the reader's transaction"
    );
}

/// A consumer program (Python's sqlite3, else the sqlite3 shell) that prints
/// `SELECT count(*) FROM articles` for a URI, run as `uid:gid`; Err is its error output.
fn count_as(uid: u32, gid: u32, uri: &str) -> Result<i64, String> {
    let mut cmd = if Path::new("/usr/bin/python3").exists() {
        let mut c = std::process::Command::new("/usr/bin/python3");
        c.args([
            "-c",
            "import sqlite3, sys\n\
             con = sqlite3.connect(sys.argv[1], uri=True)\n\
             print(con.execute('SELECT count(*) FROM articles').fetchone()[0])",
            uri,
        ]);
        c
    } else {
        let mut c = std::process::Command::new("/usr/bin/sqlite3");
        c.args([uri, "SELECT count(*) FROM articles"]);
        c
    };
    let out = cmd
        .uid(uid)
        .gid(gid)
        .current_dir("/")
        .output()
        .map_err(|e| format!("running the consumer: {e}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    if out.status.success() {
        stdout.parse().map_err(|e| format!("{stdout:?}: {e}"))
    } else {
        Err(format!("{}{stdout}", String::from_utf8_lossy(&out.stderr)))
    }
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

fn with_suffix(db: &Path, suffix: &str) -> PathBuf {
    let mut s = db.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

#[test]
fn group_members_read_the_database_while_the_daemon_runs_and_after_it_stopped() {
    let server = TestServer::start();
    server.set("/s0.xml", Route::rss(feed(&server, 0)));
    let dir = tempdir();
    // The state directory as systemd makes it: 0750, the group may enter but not write.
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o750)).unwrap();
    let head = daemon_config(&DaemonOpts {
        interval: "1s".into(),
        min_interval: "1s".into(),
        ..DaemonOpts::default()
    });
    let config = write_config(
        dir.path(),
        &format!("{head}{}", feed_source("s0", &server.url("/s0.xml"), "财经", &[])),
    );
    // The unit's UMask=0027.
    let mut daemon = Daemon::start_with(&config, &["run"], |cmd| {
        // SAFETY: umask is async-signal-safe and touches no memory of the parent.
        unsafe {
            cmd.pre_exec(|| {
                libc::umask(0o027);
                Ok(())
            });
        }
    });
    let db = db_path(dir.path());
    poll_until(Duration::from_secs(30), Duration::from_millis(100), || {
        try_open_db(&db).and_then(|c| (count(&c, "articles") == 5).then_some(()))
    })
    .unwrap_or_else(|| panic!("the daemon stored the feed\n{}", daemon.diag()));

    // The database and the WAL files SQLite made beside it: read-write for the daemon's
    // user, read-only for its group, nothing for others.
    let wal = with_suffix(&db, "-wal");
    let shm = with_suffix(&db, "-shm");
    for path in [&db, &wal, &shm] {
        assert_eq!(mode(path), 0o640, "mode of {}", path.display());
    }

    let owner_gid = std::fs::metadata(&db).unwrap().gid();
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    let ro = format!("file:{}?mode=ro", db.display());
    let immutable = format!("file:{}?mode=ro&immutable=1", db.display());
    const NOBODY: u32 = 65534;
    if root {
        // A member of the group (not the owner) reads the live database read-only …
        assert_eq!(
            count_as(NOBODY, owner_gid, &ro),
            Ok(5),
            "a group member, daemon running"
        );
        // … someone outside the group cannot.
        assert!(
            count_as(NOBODY, NOBODY, &ro).is_err(),
            "others cannot read the database"
        );
    } else {
        eprintln!("*** not root: the reads as another user are not tested, only the modes ***");
    }

    let (status, _) = daemon.terminate(Duration::from_secs(10));
    assert!(status.is_some_and(|s| s.success()), "{}", daemon.diag());
    // The daemon leaves the -wal and -shm behind when it stops (as after a crash): a group
    // member still reads with ?mode=ro.
    for path in [&db, &wal, &shm] {
        assert_eq!(mode(path), 0o640, "mode of {} after the stop", path.display());
    }
    if root {
        assert_eq!(
            count_as(NOBODY, owner_gid, &ro),
            Ok(5),
            "a group member, daemon stopped"
        );
    }
    // The last read-write connection to close cleanly (`feedcrawler once` or `migrate`, the
    // owner's sqlite3) merges the WAL into the database and removes both files …
    let owner = rusqlite::Connection::open(&db).expect("the owner opens the database");
    assert_eq!(count(&owner, "articles"), 5);
    drop(owner);
    assert!(
        !wal.exists() && !shm.exists(),
        "-wal and -shm removed by the last close"
    );
    assert_eq!(mode(&db), 0o640);
    if root {
        // … which a reader that may not write the directory cannot recreate …
        let err = count_as(NOBODY, owner_gid, &ro)
            .expect_err("?mode=ro needs the -shm, which a reader cannot create");
        println!("a group member, daemon stopped, ?mode=ro: {err}");
        // … and opens the stopped database as immutable, as docs/schema.md says.
        assert_eq!(
            count_as(NOBODY, owner_gid, &immutable),
            Ok(5),
            "a group member, daemon stopped"
        );
    }
}
