//! A real, throwaway PostgreSQL cluster for the tests of the PostgreSQL backend.
//!
//! A test asks for the cluster first and returns early when PostgreSQL is not installed:
//!
//! ```ignore
//! let pg = require_pg!(); // or: let Some(pg) = support::pg::PgCluster::shared() else { return };
//! let url = pg.database("my_test"); // a new, empty database of this test alone
//! // ... run feedcrawler against `url`, then check rows independently of our code:
//! assert_eq!(pg.psql(&url, "SELECT count(*) FROM articles"), "3");
//! ```
//!
//! - The programs come from `$FEEDCRAWLER_PG_BIN` when set, else from the highest version under
//!   `/usr/lib/postgresql/<version>/bin/` (Debian's layout), else from `PATH`.
//! - When they are missing, outside CI the tests skip with one visible `SKIPPED:` line per test
//!   binary; with `CI` set they fail, since CI must run them (`.ci/run` installs PostgreSQL).
//! - One cluster serves a whole test binary ([`PgCluster::shared`]): `initdb` and start cost
//!   about a second, a database about 0.15 s. Tests stay parallel by using one database each.
//! - The cluster trades durability for speed (`fsync`, `synchronous_commit` and
//!   `full_page_writes` off), trusts every local connection and listens on 127.0.0.1 only.
//! - Run as root (CI), `initdb` refuses to work, so the server programs run as `nobody`.
//! - Nothing is left behind, however the test process ends: a watchdog process waits for the
//!   end of a pipe that only the test process holds, and then stops the server
//!   (`pg_ctl stop -m immediate`) and removes the cluster's directory. A normal exit waits for
//!   it (`atexit`); a killed test process is cleaned up after within a moment.

use std::ffi::{OsStr, OsString};
use std::fs;
use std::io::{self, Write};
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Output, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, Once, OnceLock};
use std::time::Instant;

/// Printed (once per test binary) when PostgreSQL is not installed and `CI` is not set.
pub const SKIP_LINE: &str =
    "SKIPPED: PostgreSQL (initdb) not installed; install Debian's postgresql package or run .ci/run";

/// Environment variable naming a directory with `initdb`, `pg_ctl` (and `psql`), to use
/// another installation than the newest one under `/usr/lib/postgresql`.
pub const BIN_ENV: &str = "FEEDCRAWLER_PG_BIN";

/// How many free ports the start tries: another process may take the port between our probe
/// and the server's bind.
const START_ATTEMPTS: u32 = 5;

/// The PostgreSQL programs the harness runs.
#[derive(Clone, Debug)]
struct Bins {
    initdb: PathBuf,
    pg_ctl: PathBuf,
    psql: PathBuf,
}

/// What starting the shared cluster came to, kept for every later caller in the binary.
enum Shared {
    Running(PgCluster),
    /// Not installed, outside CI: the tests skip.
    Absent,
    /// Why the cluster cannot be had (CI without PostgreSQL, or a failed start): the tests fail.
    Failed(String),
}

static SHARED: OnceLock<Shared> = OnceLock::new();

/// One throwaway PostgreSQL cluster: a temporary directory holding the data directory, the
/// server's Unix socket and its log, served on a free port of 127.0.0.1 to user `postgres`
/// without password. Stopped, and its directory removed, when dropped or when the test
/// process ends (see the module documentation).
pub struct PgCluster {
    bins: Bins,
    /// The temporary directory: `data/`, the Unix socket, `postgres.log`.
    dir: PathBuf,
    port: u16,
    /// The command prefix that runs the server programs as an unprivileged user when we are
    /// root (empty otherwise).
    run_as: Vec<OsString>,
    /// `None` once stopped.
    watchdog: Mutex<Option<Watchdog>>,
    next_db: AtomicU64,
}

/// The process that stops the server and removes the directory once its stdin reaches end of
/// file, i.e. once we close `stdin` or the test process ends in any way (even `kill -9`).
struct Watchdog {
    child: Child,
    stdin: ChildStdin,
}

impl PgCluster {
    /// The cluster shared by all tests of this test binary, started on first use. `None` when
    /// PostgreSQL is not installed (after printing [`SKIP_LINE`] once); panics instead when
    /// the `CI` environment variable is set, or when the cluster fails to start.
    pub fn shared() -> Option<&'static PgCluster> {
        let state = SHARED.get_or_init(|| {
            let Some(bins) = bins_or_skip() else {
                return Shared::Absent;
            };
            match PgCluster::launch(bins) {
                Ok(cluster) => {
                    // Statics are never dropped: the exit hook stops the server and waits
                    // for its directory to be removed, so that nothing of it outlives
                    // `cargo test` (the watchdog alone would finish a moment later).
                    // SAFETY: registers a plain `extern "C" fn` without arguments.
                    if unsafe { libc::atexit(stop_shared_at_exit) } != 0 {
                        eprintln!("warning: atexit failed; the PostgreSQL watchdog stops the test cluster");
                    }
                    Shared::Running(cluster)
                }
                Err(why) => Shared::Failed(why),
            }
        });
        match state {
            Shared::Running(cluster) => Some(cluster),
            Shared::Absent => None,
            Shared::Failed(why) => panic!("{why}"),
        }
    }

    /// A cluster of the caller's own, for a test that must stop or disturb its server without
    /// harming the others. Stopped and removed on drop. `None` or a panic when PostgreSQL is
    /// missing, as for [`PgCluster::shared`].
    pub fn start() -> Option<PgCluster> {
        let bins = bins_or_skip()?;
        Some(PgCluster::launch(bins).unwrap_or_else(|why| panic!("{why}")))
    }

    /// Creates a new, empty database with a unique name derived from `name_hint` and returns
    /// its URL, `postgres://postgres@127.0.0.1:PORT/NAME`.
    pub fn database(&self, name_hint: &str) -> String {
        let n = self.next_db.fetch_add(1, Ordering::Relaxed);
        // Lower-case letters, digits and `_` only: no quoting surprises anywhere, and the
        // name stays within PostgreSQL's 63 bytes.
        let mut name: String = name_hint
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '_'
                }
            })
            .take(40)
            .collect();
        if !name.starts_with(|c: char| c.is_ascii_lowercase()) {
            name.insert_str(0, "db_");
        }
        let name = format!("{name}_{n}");
        // template0: the new database owes nothing to what a test may have put in template1,
        // and never fails because another session is connected to its template.
        self.psql(
            &self.url("postgres"),
            &format!("CREATE DATABASE \"{name}\" TEMPLATE template0"),
        );
        self.url(&name)
    }

    /// Runs `sql` (one or more statements, or psql meta-commands) with
    /// `psql -X -A -t -q -v ON_ERROR_STOP=1` on `db_url` and returns its standard output
    /// without the final newline: one line per row, columns separated by `|`, no headers and
    /// no command tags. Panics with psql's standard error when a statement fails.
    pub fn psql(&self, db_url: &str, sql: &str) -> String {
        self.try_psql(db_url, sql).unwrap_or_else(|why| panic!("{why}"))
    }

    /// [`PgCluster::psql`] for a statement that may fail: `Err` holds psql's exit status and
    /// standard error (e.g. `ERROR:  duplicate key value violates unique constraint ...`).
    /// Panics only when psql cannot be run at all.
    pub fn try_psql(&self, db_url: &str, sql: &str) -> Result<String, String> {
        let mut cmd = Command::new(&self.bins.psql);
        hermetic(&mut cmd);
        cmd.args([
            "-X",
            "-A",
            "-t",
            "-q",
            "-v",
            "ON_ERROR_STOP=1",
            "-f",
            "-",
            "-d",
            db_url,
        ])
        // The rows may hold any text (Chinese titles): never let the caller's locale pick
        // the client encoding.
        .env("PGCLIENTENCODING", "UTF8")
        .env("PGCONNECT_TIMEOUT", "10")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", self.bins.psql.display()));
        let mut stdin = child.stdin.take().expect("psql's stdin is piped");
        // Written from another thread: psql may fill its output pipe before it has read a long
        // script, and we only read that pipe afterwards.
        let script = sql.to_string();
        let writer = std::thread::spawn(move || stdin.write_all(script.as_bytes()));
        let out = child.wait_with_output().expect("waiting for psql");
        let written = writer.join().expect("psql stdin writer thread");
        if !out.status.success() {
            return Err(format!(
                "psql on {db_url} failed ({}):\n{}\n--- SQL ---\n{sql}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        written.unwrap_or_else(|e| panic!("writing SQL to psql: {e}"));
        let mut text = String::from_utf8(out.stdout).expect("psql printed UTF-8");
        if text.ends_with('\n') {
            text.pop();
        }
        Ok(text)
    }

    /// The URL of database `dbname` on this cluster (`postgres` is the one that always exists).
    pub fn url(&self, dbname: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{dbname}", self.port)
    }

    /// The TCP port the server listens on (on 127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The cluster's temporary directory: the data directory `data/`, the server's Unix
    /// socket and `postgres.log`. Removed when the cluster stops.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The server's log file, for a test that wants to show or check what the server said.
    pub fn log_path(&self) -> PathBuf {
        self.dir.join("postgres.log")
    }

    /// Makes the directory, starts the watchdog, runs `initdb` and starts the server.
    fn launch(bins: Bins) -> Result<PgCluster, String> {
        let started = Instant::now();
        let owner = if is_root() {
            Some(unprivileged_user()?)
        } else {
            None
        };
        // As root the server runs as `nobody`, which must be able to reach its directory.
        let mut base = std::env::temp_dir();
        if owner.is_some() && !traversable_by_all(&base) {
            base = PathBuf::from("/tmp");
        }
        let dir = tempfile::Builder::new()
            .prefix("feedcrawler-pg-")
            .tempdir_in(&base)
            .map_err(|e| {
                format!(
                    "cannot create a directory for PostgreSQL in {}: {e}",
                    base.display()
                )
            })?
            // Removed by the watchdog, which outlives us when we are killed.
            .keep();
        let run_as = match &owner {
            Some(user) => {
                if let Err(e) = std::os::unix::fs::chown(&dir, Some(user.uid), Some(user.gid)) {
                    let _ = fs::remove_dir_all(&dir);
                    return Err(format!("cannot give {} to {}: {e}", dir.display(), user.name));
                }
                user.prefix.clone()
            }
            None => Vec::new(),
        };
        let watchdog = match spawn_watchdog(&bins, &dir, &run_as) {
            Ok(w) => w,
            Err(e) => {
                let _ = fs::remove_dir_all(&dir);
                return Err(format!("cannot start the PostgreSQL watchdog (sh): {e}"));
            }
        };
        // From here on, dropping `cluster` on an error cleans up.
        let mut cluster = PgCluster {
            bins,
            dir,
            port: 0,
            run_as,
            watchdog: Mutex::new(Some(watchdog)),
            next_db: AtomicU64::new(1),
        };
        cluster.initdb()?;
        cluster.configure()?;
        cluster.start_server()?;
        eprintln!(
            "PostgreSQL test cluster on 127.0.0.1:{} ready in {:.1} s ({}{})",
            cluster.port,
            started.elapsed().as_secs_f64(),
            cluster.dir.display(),
            owner
                .map(|u| format!(", server runs as {}", u.name))
                .unwrap_or_default(),
        );
        Ok(cluster)
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.join("data")
    }

    /// A command that runs a server program, as the cluster's owner.
    fn server_command(&self, program: &Path) -> Command {
        let mut cmd = match self.run_as.split_first() {
            Some((runner, args)) => {
                let mut cmd = Command::new(runner);
                cmd.args(args).arg(program);
                cmd
            }
            None => Command::new(program),
        };
        hermetic(&mut cmd);
        // The owner may not be allowed into the caller's working directory.
        cmd.current_dir(&self.dir).stdin(Stdio::null());
        cmd
    }

    fn initdb(&self) -> Result<(), String> {
        let data = self.data_dir();
        let mut failures = String::new();
        // C.UTF-8 classifies CJK characters as letters, which pg_trgm needs to make trigrams
        // of Chinese text. Where that locale is missing the C locale still makes a working
        // UTF8 cluster; pg_trgm then answers CJK LIKE queries by scanning its whole index.
        for locale in ["--locale=C.UTF-8", "--no-locale"] {
            let out = self
                .server_command(&self.bins.initdb)
                .arg("-D")
                .arg(&data)
                // -N: no fsync of the new files, a throwaway cluster needs none.
                .args(["-A", "trust", "-U", "postgres", "-E", "UTF8", locale, "-N"])
                .output()
                .map_err(|e| format!("cannot run {}: {e}", self.bins.initdb.display()))?;
            if out.status.success() {
                return Ok(());
            }
            failures.push_str(&format!("initdb {locale}: {}\n{}", out.status, combined(&out)));
            if data.exists() {
                fs::remove_dir_all(&data).map_err(|e| format!("cannot remove {}: {e}", data.display()))?;
            }
        }
        Err(format!("initdb failed in {}:\n{failures}", self.dir.display()))
    }

    /// Appends the harness's settings to `postgresql.conf`; the port comes with each start.
    fn configure(&self) -> Result<(), String> {
        let conf = self.data_dir().join("postgresql.conf");
        let socket_dir = self
            .dir
            .to_str()
            .ok_or("the temporary directory's path is not UTF-8")?;
        let settings = format!(
            "\n# tests/support/pg.rs: a throwaway test cluster, loopback only, durability off\n\
             listen_addresses = '127.0.0.1'\n\
             unix_socket_directories = '{}'\n\
             fsync = off\n\
             synchronous_commit = off\n\
             full_page_writes = off\n\
             max_connections = 300\n",
            socket_dir.replace('\'', "''")
        );
        // Appending keeps the file's owner and mode.
        fs::OpenOptions::new()
            .append(true)
            .open(&conf)
            .and_then(|mut f| f.write_all(settings.as_bytes()))
            .map_err(|e| format!("cannot write {}: {e}", conf.display()))
    }

    /// `pg_ctl -w start` on a free port, with another port when the start fails.
    fn start_server(&mut self) -> Result<(), String> {
        let mut failures = String::new();
        for attempt in 1..=START_ATTEMPTS {
            let port = free_port()?;
            let out = self
                .server_command(&self.bins.pg_ctl)
                .arg("-D")
                .arg(self.data_dir())
                .arg("-l")
                .arg(self.log_path())
                .args(["-w", "-t", "60", "-o", &format!("-p {port}"), "start"])
                .output()
                .map_err(|e| format!("cannot run {}: {e}", self.bins.pg_ctl.display()))?;
            if out.status.success() {
                self.port = port;
                return Ok(());
            }
            failures.push_str(&format!(
                "attempt {attempt}, port {port}: pg_ctl start {}\n{}",
                out.status,
                combined(&out)
            ));
            // A start that timed out may have left a postmaster running, which would hold
            // the data directory against the next attempt.
            let _ = self
                .server_command(&self.bins.pg_ctl)
                .arg("-D")
                .arg(self.data_dir())
                .args(["-m", "immediate", "-w", "-t", "10", "stop"])
                .output();
        }
        let log = fs::read_to_string(self.log_path()).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(40).collect();
        Err(format!(
            "PostgreSQL did not start in {}:\n{failures}--- end of postgres.log ---\n{}",
            self.dir.display(),
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        ))
    }

    /// Stops the server and removes the directory (through the watchdog), and waits for that.
    fn stop(&self) {
        // Never panics: this also runs in the exit hook, where a panic would abort.
        let watchdog = self.watchdog.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(Watchdog { mut child, stdin }) = watchdog {
            drop(stdin);
            let _ = child.wait();
        }
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Returns early from the calling test (returning `()`) when PostgreSQL is not installed;
/// otherwise evaluates to the shared `&'static PgCluster`. See [`PgCluster::shared`].
#[macro_export]
macro_rules! require_pg {
    () => {
        match $crate::support::pg::PgCluster::shared() {
            Some(pg) => pg,
            None => return,
        }
    };
}

extern "C" fn stop_shared_at_exit() {
    if let Some(Shared::Running(cluster)) = SHARED.get() {
        cluster.stop();
    }
}

/// Whether the `CI` environment variable asks for CI behaviour (`CI=true`, as `.ci/run` sets).
fn in_ci() -> bool {
    std::env::var_os("CI").is_some_and(|v| !v.is_empty() && v != "false" && v != "0")
}

/// The programs, or `None` after printing [`SKIP_LINE`] (once per process) when they are
/// missing; panics instead under CI.
fn bins_or_skip() -> Option<Bins> {
    static FOUND: OnceLock<Result<Bins, String>> = OnceLock::new();
    static SKIP_NOTICE: Once = Once::new();
    match FOUND.get_or_init(find_bins) {
        Ok(bins) => Some(bins.clone()),
        Err(why) if in_ci() => panic!(
            "PostgreSQL is required under CI but not installed ({why}); .ci/run installs Debian's \
             postgresql package"
        ),
        Err(why) => {
            SKIP_NOTICE.call_once(|| {
                // Straight to the process's stderr, not through eprintln!, which the test
                // harness captures and hides for passing tests.
                let _ = writeln!(io::stderr(), "{SKIP_LINE}\n  ({why})");
            });
            None
        }
    }
}

/// Finds initdb, pg_ctl and psql: `$FEEDCRAWLER_PG_BIN`, else the highest version under
/// `/usr/lib/postgresql/*/bin`, else `PATH`.
fn find_bins() -> Result<Bins, String> {
    let bin_dir = if let Some(dir) = std::env::var_os(BIN_ENV) {
        let dir = PathBuf::from(dir);
        if !is_executable(&dir.join("initdb")) {
            return Err(format!("{BIN_ENV}={} holds no initdb", dir.display()));
        }
        dir
    } else if let Some(dir) = debian_bin_dir() {
        dir
    } else if let Some(initdb) = on_path("initdb") {
        // Resolve links (e.g. /usr/local/bin/initdb) to where pg_ctl lives too.
        let initdb = fs::canonicalize(&initdb).unwrap_or(initdb);
        initdb
            .parent()
            .expect("a file found on PATH has a parent")
            .to_path_buf()
    } else {
        return Err("no initdb under /usr/lib/postgresql/*/bin/ nor on PATH".into());
    };
    let pg_ctl = bin_dir.join("pg_ctl");
    if !is_executable(&pg_ctl) {
        return Err(format!("{} has initdb but no pg_ctl", bin_dir.display()));
    }
    // Debian puts psql beside them; elsewhere it may be packaged apart.
    let psql = Some(bin_dir.join("psql"))
        .filter(|p| is_executable(p))
        .or_else(|| on_path("psql"))
        .ok_or_else(|| format!("no psql in {} nor on PATH", bin_dir.display()))?;
    Ok(Bins {
        initdb: bin_dir.join("initdb"),
        pg_ctl,
        psql,
    })
}

/// `/usr/lib/postgresql/<highest version with initdb>/bin`.
fn debian_bin_dir() -> Option<PathBuf> {
    let version_key = |name: &OsStr| -> Option<(u32, u32)> {
        let name = name.to_str()?;
        let (major, minor) = name.split_once('.').unwrap_or((name, "0"));
        Some((major.parse().ok()?, minor.parse().ok()?))
    };
    fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let key = version_key(&entry.file_name())?;
            let bin = entry.path().join("bin");
            is_executable(&bin.join("initdb")).then_some((key, bin))
        })
        .max_by_key(|(key, _)| *key)
        .map(|(_, bin)| bin)
}

fn on_path(name: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(name))
        .find(|p| is_executable(p))
}

fn is_executable(path: &Path) -> bool {
    fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// Whether every directory from `dir` up to `/` lets other users through.
fn traversable_by_all(dir: &Path) -> bool {
    dir.ancestors()
        .all(|d| fs::metadata(d).is_ok_and(|m| m.permissions().mode() & 0o001 != 0))
}

/// The user the server programs run as when we are root (initdb and postgres refuse root).
struct User {
    name: &'static str,
    uid: u32,
    gid: u32,
    /// Runs the rest of the command line as this user.
    prefix: Vec<OsString>,
}

/// The user the server programs run as when we are root, looked up once per process.
fn unprivileged_user() -> Result<&'static User, String> {
    static USER: OnceLock<Result<User, String>> = OnceLock::new();
    USER.get_or_init(look_up_nobody).as_ref().map_err(Clone::clone)
}

fn look_up_nobody() -> Result<User, String> {
    const NAME: &str = "nobody";
    // SAFETY: a NUL-terminated name; the result, if not null, points to libc's static record,
    // copied at once. Called once (`unprivileged_user`), so no other call of ours races on it.
    let (uid, gid) = unsafe {
        let pw = libc::getpwnam(c"nobody".as_ptr());
        if pw.is_null() {
            return Err(format!(
                "running as root, and there is no user {NAME} to run PostgreSQL as"
            ));
        }
        ((*pw).pw_uid, (*pw).pw_gid)
    };
    // setpriv only changes ids and execs; runuser (the fallback) opens a PAM session and stays
    // as the parent of the command.
    let prefix: Vec<OsString> = if let Some(setpriv) = on_path("setpriv") {
        vec![
            setpriv.into(),
            format!("--reuid={uid}").into(),
            format!("--regid={gid}").into(),
            "--clear-groups".into(),
            "--".into(),
        ]
    } else if let Some(runuser) = on_path("runuser") {
        vec![runuser.into(), "-u".into(), NAME.into(), "--".into()]
    } else {
        return Err(
            "running as root, and neither setpriv nor runuser is there to run PostgreSQL as nobody".into(),
        );
    };
    Ok(User {
        name: NAME,
        uid,
        gid,
        prefix,
    })
}

/// Starts the process that, once its stdin closes, stops the server (which `pg_ctl` detached
/// into a session of its own, so it would survive us) and removes `dir`.
fn spawn_watchdog(bins: &Bins, dir: &Path, run_as: &[OsString]) -> io::Result<Watchdog> {
    const SCRIPT: &str = r#"dir=$1; shift
trap '' HUP INT TERM
read -r line
"$@" >/dev/null 2>&1
rm -rf -- "$dir"
"#;
    let mut cmd = Command::new("/bin/sh");
    cmd.arg("-c")
        .arg(SCRIPT)
        .arg("feedcrawler-pg-watchdog")
        .arg(dir)
        .args(run_as)
        .arg(&bins.pg_ctl)
        .arg("-D")
        .arg(dir.join("data"))
        .args(["-m", "immediate", "-w", "-t", "10", "stop"]);
    hermetic(&mut cmd);
    let mut child = cmd
        // Whatever PATH the tests run with, rm must be found.
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .current_dir("/")
        // Its own process group: Ctrl-C on `cargo test` (or a kill of the test's group) must
        // not take the watchdog down with the test process.
        .process_group(0)
        .stdin(Stdio::piped())
        // Holding our stdout or stderr would keep a reader of `cargo test`'s output waiting.
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    // The write end is close-on-exec, so only this process holds it: its end of file is
    // exactly our stop or our exit.
    let stdin = child.stdin.take().expect("the watchdog's stdin is piped");
    Ok(Watchdog { child, stdin })
}

/// Keeps the caller's libpq settings (PGHOST, PGDATABASE, PGOPTIONS, ...) out of our programs.
fn hermetic(cmd: &mut Command) {
    for (key, _) in std::env::vars_os() {
        if key.to_str().is_some_and(|k| k.starts_with("PG")) {
            cmd.env_remove(key);
        }
    }
}

/// A port of 127.0.0.1 that was free a moment ago.
fn free_port() -> Result<u16, String> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("cannot find a free port on 127.0.0.1: {e}"))
}

fn combined(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}
