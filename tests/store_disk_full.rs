//! CONTRACT §6 "only a database that cannot be written at all … is reported as such, and
//! the daemon retries with backoff instead of exiting or spinning", against the real
//! binary. The disk fills up under a running daemon: its file-size limit (RLIMIT_FSIZE,
//! changed from outside with prlimit(2)) drops to one byte, so every write of the database
//! fails with EFBIG as on a full disk. The daemon keeps running, `/healthz` answers 503
//! naming the database, polls are held back (few requests, no busy loop); when the limit is
//! lifted it resumes and stores what the feed gained meanwhile. The same for a database
//! whose files become read-only under the daemon (`chattr +i`: root ignores file modes).

mod support;

use std::os::unix::process::CommandExt;
use std::time::{Duration, Instant};

use support::*;

fn set_file_size_limit(pid: u32, bytes: libc::rlim_t) {
    let limit = libc::rlimit {
        rlim_cur: bytes,
        rlim_max: libc::RLIM_INFINITY,
    };
    // SAFETY: prlimit reads `limit` and writes nothing (old limit pointer is null).
    let rc = unsafe {
        libc::prlimit(
            pid as libc::pid_t,
            libc::RLIMIT_FSIZE,
            &limit,
            std::ptr::null_mut(),
        )
    };
    assert_eq!(rc, 0, "prlimit: {}", std::io::Error::last_os_error());
}

fn healthz(addr: &str) -> (u16, String) {
    match http_get(addr, "/healthz", Duration::from_secs(2)) {
        Ok(r) => (r.status, String::from_utf8_lossy(&r.body).into_owned()),
        Err(e) => (0, e.to_string()),
    }
}

/// A daemon polling one feed every second, with `/healthz`, after its first poll is stored.
struct World {
    server: TestServer,
    dir: tempfile::TempDir,
    addr: String,
    daemon: Daemon,
}

impl World {
    fn start(configure: impl FnOnce(&mut std::process::Command)) -> World {
        let server = TestServer::start();
        server.set(
            "/feed.xml",
            Route::rss(mini_rss(
                "快讯",
                &[("央行开展逆回购操作", "http://news.example.org/a/1.html")],
            )),
        );
        let dir = tempdir();
        let addr = format!("127.0.0.1:{}", free_port());
        let mut cfg = daemon_config(&DaemonOpts {
            interval: "1s".into(),
            min_interval: "1s".into(),
            max_backoff: "2s".into(),
            metrics_listen: Some(addr.clone()),
            ..DaemonOpts::default()
        });
        cfg.push_str(&feed_source("news", &server.url("/feed.xml"), "c", &[]));
        let config = write_config(dir.path(), &cfg);
        let mut daemon = Daemon::start_with(&config, &["run"], configure);
        let db = db_path(dir.path());
        let stored = daemon.poll_until(Duration::from_secs(20), Duration::from_millis(50), || {
            try_open_db(&db).filter(|c| count(c, "articles") == 1).map(|_| ())
        });
        assert!(stored.is_some(), "first poll stored\n{}", daemon.diag());
        World {
            server,
            dir,
            addr,
            daemon,
        }
    }

    fn db(&self) -> std::path::PathBuf {
        db_path(self.dir.path())
    }

    /// The feed gains an article.
    fn add_article(&self) {
        self.server.set(
            "/feed.xml",
            Route::rss(mini_rss(
                "快讯",
                &[
                    ("央行开展逆回购操作", "http://news.example.org/a/1.html"),
                    ("统计局发布工业数据", "http://news.example.org/a/2.html"),
                ],
            )),
        );
    }

    /// Waits until `/healthz` answers 503; returns its body.
    fn wait_unhealthy(&mut self) -> Option<String> {
        let addr = self.addr.clone();
        self.daemon
            .poll_until(Duration::from_secs(20), Duration::from_millis(100), || {
                let (status, body) = healthz(&addr);
                (status == 503).then_some(body)
            })
    }

    /// Waits until the new article is stored and `/healthz` answers 200 again.
    fn wait_resumed(&mut self) -> Option<()> {
        let (db, addr) = (self.db(), self.addr.clone());
        self.daemon
            .poll_until(Duration::from_secs(40), Duration::from_millis(100), || {
                let stored = try_open_db(&db).is_some_and(|c| count(&c, "articles") == 2);
                (stored && healthz(&addr).0 == 200).then_some(())
            })
    }
}

#[test]
fn a_full_disk_pauses_the_daemon_and_it_resumes_when_space_returns() {
    let mut world = World::start(|cmd| {
        // SAFETY: only async-signal-safe work between fork and exec: one signal() call.
        // An ignored SIGXFSZ survives exec: writes past the limit fail with EFBIG instead
        // of killing the process, as writes to a full disk fail with ENOSPC.
        unsafe {
            cmd.pre_exec(|| {
                libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
                Ok(())
            });
        }
    });
    // The disk fills up; the feed gains an article.
    set_file_size_limit(world.daemon.pid(), 1);
    world.add_article();
    let failing = world.wait_unhealthy();
    let held_from = world.server.requests_for("/feed.xml").len();
    let held_at = Instant::now();
    std::thread::sleep(Duration::from_secs(6));
    let requests_while_full = world.server.requests_for("/feed.xml").len() - held_from;
    let held_for = held_at.elapsed();
    let alive = world.daemon.is_running();

    // Space returns.
    set_file_size_limit(world.daemon.pid(), libc::RLIM_INFINITY);
    let resumed = world.wait_resumed();
    let (exit, _) = world.daemon.terminate(Duration::from_secs(15));

    let daemon = &world.daemon;
    let mut soft = Soft::new();
    soft.check(
        failing
            .as_deref()
            .is_some_and(|b| b.contains("database") && b.contains("test.db")),
        || {
            format!(
                "/healthz answers 503 naming the database: {failing:?}\n{}",
                daemon.diag()
            )
        },
    );
    soft.check(alive, || format!("the daemon kept running\n{}", daemon.diag()));
    // An interval of 1 s would be 6 polls; the backoff (5 s, doubling) allows 1–2.
    soft.check(requests_while_full <= 2, || {
        format!("{requests_while_full} feed requests in {held_for:?} while the disk was full")
    });
    soft.check(resumed.is_some(), || {
        format!("polling resumed and stored the new article\n{}", daemon.diag())
    });
    soft.eq(exit.map(|s| s.code()), Some(Some(0)), "exit status after SIGTERM");
    soft.check(daemon.stderr().contains("database cannot be written"), || {
        "the log says what is wrong".into()
    });
    soft.finish();
}

/// `chattr +i` / `-i` on the database's files; false when that is not possible here (not
/// root, or a filesystem without the flag).
fn set_immutable(db: &std::path::Path, on: bool) -> bool {
    let flag = if on { "+i" } else { "-i" };
    let mut all = true;
    for suffix in ["", "-wal"] {
        let mut name = db.as_os_str().to_owned();
        name.push(suffix);
        let ok = std::process::Command::new("chattr")
            .arg(flag)
            .arg(&name)
            .status()
            .is_ok_and(|s| s.success());
        all &= ok;
    }
    all
}

#[test]
fn a_read_only_database_pauses_the_daemon_and_it_resumes_when_writable() {
    let mut world = World::start(|_| {});
    let db = world.db();
    if !set_immutable(&db, true) {
        set_immutable(&db, false);
        eprintln!("chattr +i is not available here (needs root and ext4/xfs/btrfs): test skipped");
        return;
    }
    world.add_article();
    let failing = world.wait_unhealthy();
    let alive = world.daemon.is_running();
    set_immutable(&db, false);
    let resumed = world.wait_resumed();
    let (exit, _) = world.daemon.terminate(Duration::from_secs(15));
    let daemon = &world.daemon;
    let mut soft = Soft::new();
    soft.check(failing.is_some(), || {
        format!(
            "/healthz answers 503 while the file is read-only\n{}",
            daemon.diag()
        )
    });
    soft.check(alive, || format!("the daemon kept running\n{}", daemon.diag()));
    soft.check(resumed.is_some(), || {
        format!("polling resumed and stored the new article\n{}", daemon.diag())
    });
    soft.eq(exit.map(|s| s.code()), Some(Some(0)), "exit status after SIGTERM");
    soft.finish();
}
