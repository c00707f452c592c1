//! Shared helpers for the integration tests: a local HTTP server with a
//! route table, request recording, conditional GET, gzip and streamed
//! bodies; and helpers that run the real `feedcrawler` binary against a
//! config written into a temporary directory. [`pg`]: a throwaway
//! PostgreSQL cluster for the PostgreSQL backend's tests.
//!
//! Each test binary (`tests/*.rs`) includes this file with `mod support;`
//! and uses only part of it.
#![allow(dead_code)]

pub mod pg;

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------

/// Folder holding the test fixtures.
pub fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("fixtures")
}

/// The bytes of `tests/fixtures/<name>`.
pub fn fixture(name: &str) -> Vec<u8> {
    let path = fixtures_dir().join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("reading fixture {}: {e}", path.display()))
}

/// `tests/fixtures/<name>` as UTF-8 text.
pub fn fixture_str(name: &str) -> String {
    String::from_utf8(fixture(name)).unwrap_or_else(|_| panic!("fixture {name} is not UTF-8"))
}

/// Gzip-compresses `data` (flate2, default level).
pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(data).expect("gzip write");
    enc.finish().expect("gzip finish")
}

// ---------------------------------------------------------------------------
// Routes
// ---------------------------------------------------------------------------

/// A body produced lazily: `prefix`, then `fill_len` copies of `fill`, then
/// `suffix`. Nothing of the filler is held in memory, so bodies of many
/// megabytes cost nothing until a client actually reads them.
#[derive(Clone, Debug)]
pub struct Stream {
    pub prefix: Vec<u8>,
    pub fill: u8,
    pub fill_len: u64,
    pub suffix: Vec<u8>,
    /// Send a `Content-Length` header (otherwise chunked transfer encoding).
    pub content_length: bool,
}

impl Stream {
    pub fn total_len(&self) -> u64 {
        self.prefix.len() as u64 + self.fill_len + self.suffix.len() as u64
    }
}

/// What the server answers on one path.
#[derive(Clone, Debug)]
pub struct Route {
    pub status: u16,
    /// Response headers, e.g. `("Content-Type", "application/rss+xml")`.
    pub headers: Vec<(String, String)>,
    /// The body as sent on the wire (already compressed for gzip routes).
    pub body: Vec<u8>,
    /// When set, replaces `body` with a lazily generated one.
    pub stream: Option<Stream>,
    /// Wait this long before answering (timeouts, slow hosts).
    pub delay: Option<Duration>,
}

impl Default for Route {
    fn default() -> Self {
        Route {
            status: 200,
            headers: Vec::new(),
            body: Vec::new(),
            stream: None,
            delay: None,
        }
    }
}

impl Route {
    /// 200 with the given content type and body.
    pub fn ok(content_type: &str, body: impl Into<Vec<u8>>) -> Route {
        Route {
            status: 200,
            headers: vec![("Content-Type".into(), content_type.into())],
            body: body.into(),
            ..Route::default()
        }
    }

    /// 200 `application/rss+xml; charset=utf-8`.
    pub fn rss(body: impl Into<Vec<u8>>) -> Route {
        Route::ok("application/rss+xml; charset=utf-8", body)
    }

    /// 200 `application/atom+xml; charset=utf-8`.
    pub fn atom(body: impl Into<Vec<u8>>) -> Route {
        Route::ok("application/atom+xml; charset=utf-8", body)
    }

    /// 200 `application/feed+json`.
    pub fn json_feed(body: impl Into<Vec<u8>>) -> Route {
        Route::ok("application/feed+json; charset=utf-8", body)
    }

    /// A status with a short text body (e.g. 500, 404, 429).
    pub fn status(status: u16) -> Route {
        Route {
            status,
            headers: vec![("Content-Type".into(), "text/plain; charset=utf-8".into())],
            body: format!("status {status}\n").into_bytes(),
            ..Route::default()
        }
    }

    /// A lazily generated body (see [`Stream`]).
    pub fn streamed(content_type: &str, stream: Stream) -> Route {
        Route {
            status: 200,
            headers: vec![("Content-Type".into(), content_type.into())],
            stream: Some(stream),
            ..Route::default()
        }
    }

    /// Adds (or replaces) a response header.
    pub fn header(mut self, name: &str, value: &str) -> Route {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    /// Sets the `ETag` (give it with its quotes: `"\"v1\""`).
    pub fn etag(self, etag: &str) -> Route {
        self.header("ETag", etag)
    }

    /// Sets `Last-Modified` (an HTTP date).
    pub fn last_modified(self, date: &str) -> Route {
        self.header("Last-Modified", date)
    }

    /// Compresses the body now and marks it `Content-Encoding: gzip`.
    pub fn gzip(mut self) -> Route {
        self.body = gzip(&self.body);
        self.header("Content-Encoding", "gzip")
    }

    /// Uses `body` as an already gzip-compressed body.
    pub fn pre_gzipped(mut self, body: Vec<u8>) -> Route {
        self.body = body;
        self.header("Content-Encoding", "gzip")
    }

    pub fn delay(mut self, d: Duration) -> Route {
        self.delay = Some(d);
        self
    }

    fn header_value(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

// ---------------------------------------------------------------------------
// Recorded requests
// ---------------------------------------------------------------------------

/// How much of a response body went out, shared with the thread writing it.
#[derive(Debug, Default)]
pub struct Progress {
    written: AtomicU64,
    finished: AtomicBool,
    completed: AtomicBool,
    error: Mutex<Option<String>>,
}

impl Progress {
    /// Body bytes handed to the socket so far (within the 1 KiB buffer of
    /// tiny_http's writer).
    pub fn bytes_written(&self) -> u64 {
        self.written.load(Ordering::SeqCst)
    }
    /// The response is complete, or writing it failed (client went away).
    pub fn finished(&self) -> bool {
        self.finished.load(Ordering::SeqCst)
    }
    /// The whole body was handed to the socket. `finished() && !completed()`
    /// means the client hung up before the end.
    pub fn completed(&self) -> bool {
        self.completed.load(Ordering::SeqCst)
    }
    /// A write error other than the client closing the connection (tiny_http
    /// swallows broken pipes and resets).
    pub fn error(&self) -> Option<String> {
        self.error.lock().unwrap().clone()
    }
}

/// One request the server received.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub method: String,
    /// Path and query, as sent: `/feed.xml?x=1`.
    pub url: String,
    /// Header names lower-cased.
    pub headers: Vec<(String, String)>,
    pub at: Instant,
    /// The status the server answered.
    pub status: u16,
    pub progress: Arc<Progress>,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }
    pub fn path(&self) -> &str {
        self.url.split('?').next().unwrap_or("")
    }
    pub fn bytes_written(&self) -> u64 {
        self.progress.bytes_written()
    }
}

// ---------------------------------------------------------------------------
// Server
// ---------------------------------------------------------------------------

#[derive(Default)]
struct State {
    routes: Mutex<HashMap<String, Route>>,
    requests: Mutex<Vec<Recorded>>,
}

/// A local HTTP server on 127.0.0.1 with a mutable route table. Stops on drop.
pub struct TestServer {
    addr: std::net::SocketAddr,
    state: Arc<State>,
    server: Arc<tiny_http::Server>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl TestServer {
    /// Binds 127.0.0.1:0 and starts serving on a background thread.
    pub fn start() -> TestServer {
        TestServer::start_on("127.0.0.1")
    }

    /// Binds `ip:0` (an address of 127.0.0.0/8) and starts serving on a background thread.
    pub fn start_on(ip: &str) -> TestServer {
        let server = Arc::new(
            tiny_http::Server::http(format!("{ip}:0")).unwrap_or_else(|e| panic!("bind {ip}:0: {e}")),
        );
        let addr = server
            .server_addr()
            .to_ip()
            .expect("test server listens on an IP address");
        let state = Arc::new(State::default());
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let server = Arc::clone(&server);
            let state = Arc::clone(&state);
            let stop = Arc::clone(&stop);
            thread::Builder::new()
                .name(format!("test-server-{}", addr.port()))
                .spawn(move || accept_loop(&server, &state, &stop))
                .expect("spawn test server")
        };
        TestServer {
            addr,
            state,
            server,
            stop,
            thread: Some(thread),
        }
    }

    /// Starts a server with these routes.
    pub fn with_routes<I, S>(routes: I) -> TestServer
    where
        I: IntoIterator<Item = (S, Route)>,
        S: Into<String>,
    {
        let s = TestServer::start();
        for (p, r) in routes {
            s.set(p, r);
        }
        s
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// `host:port`, e.g. `127.0.0.1:41234`.
    pub fn host(&self) -> String {
        self.addr.to_string()
    }

    /// `http://127.0.0.1:PORT<path>`.
    pub fn url(&self, path: &str) -> String {
        assert!(path.starts_with('/'), "path must start with /: {path}");
        format!("http://{}{}", self.addr, path)
    }

    /// Adds or replaces the route of `path` (a path, or a path with its
    /// query for an exact match). Works while the server runs.
    pub fn set(&self, path: impl Into<String>, route: Route) {
        let path = path.into();
        assert!(path.starts_with('/'), "path must start with /: {path}");
        self.state.routes.lock().unwrap().insert(path, route);
    }

    pub fn remove(&self, path: &str) {
        self.state.routes.lock().unwrap().remove(path);
    }

    /// Every request so far, in arrival order.
    pub fn requests(&self) -> Vec<Recorded> {
        self.state.requests.lock().unwrap().clone()
    }

    /// The requests whose path (query ignored) is `path`, or whose path and
    /// query equal `path` when it contains a `?`.
    pub fn requests_for(&self, path: &str) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|r| {
                if path.contains('?') {
                    r.url == path
                } else {
                    r.path() == path
                }
            })
            .collect()
    }

    /// Forgets the recorded requests (e.g. between two runs).
    pub fn clear_requests(&self) {
        self.state.requests.lock().unwrap().clear();
    }

    /// Waits until every response started so far has finished or failed
    /// (the client hung up). Returns false on timeout.
    pub fn wait_idle(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if self.requests().iter().all(|r| r.progress.finished()) {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// A human-readable list of the requests, for assertion messages.
    pub fn describe_requests(&self) -> String {
        let mut out = String::new();
        for r in self.requests() {
            out.push_str(&format!(
                "{} {} -> {} ({} body bytes{}) {:?}\n",
                r.method,
                r.url,
                r.status,
                r.bytes_written(),
                if r.progress.finished() && !r.progress.completed() {
                    ", client hung up"
                } else {
                    ""
                },
                r.headers
            ));
        }
        out
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        self.server.unblock();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn accept_loop(server: &tiny_http::Server, state: &Arc<State>, stop: &AtomicBool) {
    while !stop.load(Ordering::SeqCst) {
        match server.recv_timeout(Duration::from_millis(50)) {
            Ok(Some(request)) => {
                let state = Arc::clone(state);
                // One thread per request, so a slow or streamed response never
                // holds up the others.
                let _ = thread::Builder::new()
                    .name("test-server-request".into())
                    .spawn(move || handle(request, &state));
            }
            Ok(None) => {}
            Err(_) => {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                thread::sleep(Duration::from_millis(10));
            }
        }
    }
}

fn handle(request: tiny_http::Request, state: &State) {
    let at = Instant::now();
    let method = request.method().as_str().to_string();
    let url = request.url().to_string();
    let headers: Vec<(String, String)> = request
        .headers()
        .iter()
        .map(|h| {
            (
                h.field.as_str().as_str().to_ascii_lowercase(),
                h.value.as_str().to_string(),
            )
        })
        .collect();
    let find =
        |name: &str| -> Option<String> { headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone()) };

    let route = {
        let routes = state.routes.lock().unwrap();
        let path = url.split('?').next().unwrap_or("");
        routes.get(&url).or_else(|| routes.get(path)).cloned()
    };
    let route = route.unwrap_or_else(|| Route::status(404));

    // Conditional GET: If-None-Match decides when present, otherwise an
    // If-Modified-Since equal to the route's Last-Modified.
    let not_modified = (200..300).contains(&route.status)
        && match (find("if-none-match"), route.header_value("ETag")) {
            (Some(inm), Some(etag)) => inm
                .split(',')
                .map(str::trim)
                .any(|t| t == "*" || t == etag || t.trim_start_matches("W/") == etag),
            (Some(_), None) => false,
            (None, _) => match (find("if-modified-since"), route.header_value("Last-Modified")) {
                (Some(ims), Some(lm)) => ims.trim() == lm.trim(),
                _ => false,
            },
        };
    let status = if not_modified { 304 } else { route.status };

    let progress = Arc::new(Progress::default());
    state.requests.lock().unwrap().push(Recorded {
        method: method.clone(),
        url,
        headers: headers.clone(),
        at,
        status,
        progress: Arc::clone(&progress),
    });

    if let Some(d) = route.delay {
        thread::sleep(d);
    }

    let mut out_headers: Vec<tiny_http::Header> = Vec::new();
    for (n, v) in &route.headers {
        if not_modified {
            // A 304 carries the validators, not the entity headers.
            let keep = ["etag", "last-modified", "cache-control", "expires", "vary"];
            if !keep.contains(&n.to_ascii_lowercase().as_str()) {
                continue;
            }
        }
        match tiny_http::Header::from_bytes(n.as_bytes(), v.as_bytes()) {
            Ok(h) => out_headers.push(h),
            Err(()) => panic!("bad test header {n}: {v}"),
        }
    }

    let (reader, length, chunked_threshold): (Box<dyn Read + Send>, Option<usize>, usize) =
        if not_modified || method == "HEAD" {
            (Box::new(io::empty()), Some(0), usize::MAX)
        } else if let Some(stream) = &route.stream {
            let len = stream.total_len() as usize;
            let reader = Box::new(StreamReader::new(stream.clone()));
            if stream.content_length {
                // Content-Length even for a large body (tiny_http switches to
                // chunked above 32 KiB unless told otherwise).
                (reader, Some(len), usize::MAX)
            } else {
                (reader, None, 0)
            }
        } else {
            let len = route.body.len();
            (
                Box::new(io::Cursor::new(route.body.clone())),
                Some(len),
                usize::MAX,
            )
        };

    let counting = CountingReader {
        inner: reader,
        progress: Arc::clone(&progress),
    };
    let response =
        tiny_http::Response::new(tiny_http::StatusCode(status), out_headers, counting, length, None)
            .with_chunked_threshold(chunked_threshold);
    let result = request.respond(response);
    if let Some(len) = length
        && progress.bytes_written() >= len as u64
    {
        progress.completed.store(true, Ordering::SeqCst);
    }
    if let Err(e) = result {
        *progress.error.lock().unwrap() = Some(e.to_string());
    }
    progress.finished.store(true, Ordering::SeqCst);
}

struct CountingReader {
    inner: Box<dyn Read + Send>,
    progress: Arc<Progress>,
}

impl Read for CountingReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.progress.written.fetch_add(n as u64, Ordering::SeqCst);
        if n == 0 && !buf.is_empty() {
            self.progress.completed.store(true, Ordering::SeqCst);
        }
        Ok(n)
    }
}

struct StreamReader {
    stream: Stream,
    pos: u64,
}

impl StreamReader {
    fn new(stream: Stream) -> Self {
        StreamReader { stream, pos: 0 }
    }
}

impl Read for StreamReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        // Hand out at most 16 KiB per read so the byte count stays close to
        // what actually went onto the socket.
        let max = buf.len().min(16 * 1024);
        let buf = &mut buf[..max];
        let p = self.stream.prefix.len() as u64;
        let f = self.stream.fill_len;
        let total = self.stream.total_len();
        if self.pos >= total || buf.is_empty() {
            return Ok(0);
        }
        let n;
        if self.pos < p {
            let src = &self.stream.prefix[self.pos as usize..];
            n = src.len().min(buf.len());
            buf[..n].copy_from_slice(&src[..n]);
        } else if self.pos < p + f {
            n = ((p + f - self.pos) as usize).min(buf.len());
            buf[..n].fill(self.stream.fill);
        } else {
            let src = &self.stream.suffix[(self.pos - p - f) as usize..];
            n = src.len().min(buf.len());
            buf[..n].copy_from_slice(&src[..n]);
        }
        self.pos += n as u64;
        Ok(n)
    }
}

/// A `http://127.0.0.1:PORT/` URL on which nothing listens (the port was
/// bound, then released).
pub fn closed_port_url(path: &str) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    format!("http://127.0.0.1:{port}{path}")
}

// ---------------------------------------------------------------------------
// Running the binary
// ---------------------------------------------------------------------------

/// The `feedcrawler` binary built by cargo for these tests.
pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_feedcrawler"))
}

/// The outcome of one run of the binary.
#[derive(Debug)]
pub struct Output {
    /// None when killed by a signal (or by the timeout).
    pub code: Option<i32>,
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
    pub timed_out: bool,
    pub elapsed: Duration,
    pub args: Vec<String>,
    /// The process's peak resident set as last read from /proc (KiB).
    pub peak_rss_kb: Option<u64>,
}

impl Output {
    /// Everything worth printing when an assertion fails.
    pub fn diag(&self) -> String {
        let tail = |s: &str| -> String {
            const MAX: usize = 20_000;
            if s.len() > MAX {
                let mut start = s.len() - MAX;
                while !s.is_char_boundary(start) {
                    start += 1;
                }
                format!("…{}", &s[start..])
            } else {
                s.to_string()
            }
        };
        format!(
            "feedcrawler {:?}\nexit code: {:?} (timed out: {}) after {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}\n",
            self.args,
            self.code,
            self.timed_out,
            self.elapsed,
            tail(&self.stdout),
            tail(&self.stderr)
        )
    }

    /// Keep the returned guard alive while asserting on this run: if the
    /// test panics, the guard prints the run's exit code, stdout and stderr.
    #[must_use = "bind it: `let _diag = out.on_panic();`"]
    pub fn on_panic(&self) -> DiagOnPanic {
        DiagOnPanic(self.diag())
    }

    /// Panics with the diagnostics unless the exit code is `code`.
    #[track_caller]
    pub fn assert_code(&self, code: i32) -> &Self {
        assert_eq!(self.code, Some(code), "unexpected exit code\n{}", self.diag());
        self
    }
}

/// Prints a run's diagnostics if dropped during a panic (see
/// [`Output::on_panic`]).
pub struct DiagOnPanic(String);

impl Drop for DiagOnPanic {
    fn drop(&mut self) {
        if thread::panicking() {
            eprintln!("{}", self.0);
        }
    }
}

/// `debug` for the crawler, quieter for the HTML parser and HTTP stack (their
/// per-token debug lines drown everything else).
pub const RUST_LOG: &str = "debug,html5ever=info,markup5ever=info,selectors=info,\
    ammonia=info,hyper=info,hyper_util=info,h2=info,rustls=info,reqwest=info,\
    rusqlite_migration=info";

/// Default time limit of one run of the binary.
pub const RUN_TIMEOUT: Duration = Duration::from_secs(15);

/// Runs `feedcrawler --config <config> <args…>` with `RUST_LOG=debug`, from
/// a working directory that is *not* the config's folder (so relative paths
/// must resolve against the config file), and without proxy variables.
pub fn run(config: &Path, args: &[&str]) -> Output {
    let mut full: Vec<String> = vec!["--config".into(), config.display().to_string()];
    full.extend(args.iter().map(|s| s.to_string()));
    let cwd = config
        .parent()
        .map(|p| p.join("cwd"))
        .unwrap_or_else(std::env::temp_dir);
    let _ = std::fs::create_dir_all(&cwd);
    run_raw(&full, &cwd, &[], RUN_TIMEOUT)
}

/// `run(config, &["once"])`.
pub fn run_once(config: &Path) -> Output {
    run(config, &["once"])
}

/// `feedcrawler once` with a longer limit, for the tests that feed it pages of megabytes
/// (the debug build on a loaded 2-core machine: a timeout there is no finding).
pub fn run_once_slow(config: &Path) -> Output {
    let full = vec![
        "--config".to_owned(),
        config.display().to_string(),
        "once".to_owned(),
    ];
    let cwd = config
        .parent()
        .map(|p| p.join("cwd"))
        .unwrap_or_else(std::env::temp_dir);
    let _ = std::fs::create_dir_all(&cwd);
    run_raw(&full, &cwd, &[], Duration::from_secs(90))
}

/// Runs the binary with exactly these arguments, in `cwd`, with extra
/// environment variables, killing it after `timeout`.
pub fn run_raw(args: &[String], cwd: &Path, env: &[(&str, &str)], timeout: Duration) -> Output {
    let mut cmd = Command::new(bin());
    cmd.args(args)
        .current_dir(cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .env("RUST_LOG", RUST_LOG)
        .env("NO_COLOR", "1")
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env("no_proxy", "127.0.0.1,localhost")
        .env_remove("FEEDCRAWLER_CONFIG");
    for v in [
        "HTTP_PROXY",
        "http_proxy",
        "HTTPS_PROXY",
        "https_proxy",
        "ALL_PROXY",
        "all_proxy",
    ] {
        cmd.env_remove(v);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let started = Instant::now();
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("spawning {}: {e}", bin().display()));
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let t_out = thread::spawn(move || {
        let mut v = Vec::new();
        let _ = out.read_to_end(&mut v);
        v
    });
    let t_err = thread::spawn(move || {
        let mut v = Vec::new();
        let _ = err.read_to_end(&mut v);
        v
    });
    let mut timed_out = false;
    let mut peak_rss_kb = None;
    let status = loop {
        // VmHWM is the process's peak resident set so far; the last reading before it exits
        // is (nearly) its peak.
        if let Some(kb) = vm_hwm_kb(child.id()) {
            peak_rss_kb = Some(kb);
        }
        if let Some(st) = child.try_wait().expect("try_wait") {
            break st;
        }
        if started.elapsed() >= timeout {
            timed_out = true;
            let _ = child.kill();
            break child.wait().expect("wait after kill");
        }
        thread::sleep(Duration::from_millis(10));
    };
    let elapsed = started.elapsed();
    let stdout = String::from_utf8_lossy(&t_out.join().unwrap_or_default()).into_owned();
    let stderr = String::from_utf8_lossy(&t_err.join().unwrap_or_default()).into_owned();
    Output {
        code: status.code(),
        status,
        stdout,
        stderr,
        timed_out,
        elapsed,
        args: args.to_vec(),
        peak_rss_kb,
    }
}

/// The peak resident set (VmHWM) of a running process, in KiB.
pub fn vm_hwm_kb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

// ---------------------------------------------------------------------------
// Config and database
// ---------------------------------------------------------------------------

/// Writes `body` to `dir/feedcrawler.toml` and returns its path.
pub fn write_config(dir: &Path, body: &str) -> PathBuf {
    write_config_named(dir, "feedcrawler.toml", body)
}

pub fn write_config_named(dir: &Path, name: &str, body: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, body).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
    path
}

/// The common head of a test config: database `test.db` next to the config,
/// Asia/Shanghai, short timeouts, 1 MiB max body, no robots.txt, no rate
/// limit, and share links never fetched from the network (no `resolve`
/// templates, no extra allowed hosts).
pub fn base_config() -> String {
    r#"[daemon]
database = "test.db"
timezone = "Asia/Shanghai"

[http]
timeout = "5s"
connect_timeout = "2s"
max_body = "1MiB"
respect_robots = false
# tiny_http (the test server) now and then leaves a request of a burst of new
# connections unanswered; a few connections at a time keep the tests deterministic.
concurrency = 4

[rate_limit]
per_host = "1000/s"
burst = 1000

[share]
resolve = []
allow_hosts = []
"#
    .to_string()
}

/// One `[[source]]` block of type `feed`.
pub fn feed_source(name: &str, url: &str, category: &str, tags: &[&str]) -> String {
    let tags: Vec<String> = tags.iter().map(|t| format!("{t:?}")).collect();
    format!(
        "\n[[source]]\nname = {name:?}\ntype = \"feed\"\nurl = {url:?}\ncategory = {category:?}\ntags = [{}]\n",
        tags.join(", ")
    )
}

/// Where `base_config()` puts the database for a config written in `dir`.
pub fn db_path(dir: &Path) -> PathBuf {
    dir.join("test.db")
}

/// Opens the crawler's database for assertions.
pub fn open_db(path: &Path) -> rusqlite::Connection {
    assert!(path.exists(), "database {} does not exist", path.display());
    let conn = rusqlite::Connection::open_with_flags(
        path,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .unwrap_or_else(|e| panic!("opening {}: {e}", path.display()));
    conn.busy_timeout(Duration::from_secs(5)).unwrap();
    conn
}

/// `SELECT COUNT(*) FROM <table> [WHERE …]`.
pub fn count(conn: &rusqlite::Connection, table_and_where: &str) -> i64 {
    conn.query_row(&format!("SELECT COUNT(*) FROM {table_and_where}"), [], |r| {
        r.get(0)
    })
    .unwrap_or_else(|e| panic!("count {table_and_where}: {e}"))
}

/// One article row, the columns of CONTRACT §3 that tests look at.
#[derive(Debug, Clone, PartialEq)]
pub struct Article {
    pub id: i64,
    pub dedup_key: String,
    pub info_code: Option<String>,
    pub title: String,
    pub url: Option<String>,
    pub share_url: Option<String>,
    pub published_at: Option<String>,
    pub published_local: Option<String>,
    pub updated_at: Option<String>,
    pub author: Option<String>,
    pub media: Option<String>,
    pub category: Option<String>,
    pub tags: Option<String>,
    pub summary: Option<String>,
    pub content_html: Option<String>,
    pub content_text: Option<String>,
    pub revision: i64,
}

const ARTICLE_COLUMNS: &str = "id, dedup_key, info_code, title, url, share_url, published_at, \
     published_local, updated_at, author, media, category, tags, summary, content_html, \
     content_text, revision";

fn article_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Article> {
    Ok(Article {
        id: r.get(0)?,
        dedup_key: r.get(1)?,
        info_code: r.get(2)?,
        title: r.get(3)?,
        url: r.get(4)?,
        share_url: r.get(5)?,
        published_at: r.get(6)?,
        published_local: r.get(7)?,
        updated_at: r.get(8)?,
        author: r.get(9)?,
        media: r.get(10)?,
        category: r.get(11)?,
        tags: r.get(12)?,
        summary: r.get(13)?,
        content_html: r.get(14)?,
        content_text: r.get(15)?,
        revision: r.get(16)?,
    })
}

/// Every article, ordered by id.
pub fn articles(conn: &rusqlite::Connection) -> Vec<Article> {
    let mut st = conn
        .prepare(&format!("SELECT {ARTICLE_COLUMNS} FROM articles ORDER BY id"))
        .expect("prepare articles");
    st.query_map([], article_from_row)
        .expect("query articles")
        .collect::<Result<Vec<_>, _>>()
        .expect("read articles")
}

/// The article with this exact title, if any.
pub fn article_by_title(conn: &rusqlite::Connection, title: &str) -> Option<Article> {
    articles(conn).into_iter().find(|a| a.title == title)
}

/// The titles of all articles, for assertion messages.
pub fn titles(conn: &rusqlite::Connection) -> Vec<String> {
    articles(conn).into_iter().map(|a| a.title).collect()
}

/// A source row's crawl state (CONTRACT §3 `sources`).
#[derive(Debug, Clone)]
pub struct SourceRow {
    pub id: i64,
    pub name: String,
    pub url: Option<String>,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    pub last_status: Option<i64>,
    pub last_error: Option<String>,
    pub consecutive_failures: i64,
}

pub fn source(conn: &rusqlite::Connection, name: &str) -> SourceRow {
    conn.query_row(
        "SELECT id, name, url, etag, last_modified, last_status, last_error, \
         consecutive_failures FROM sources WHERE name = ?1",
        [name],
        |r| {
            Ok(SourceRow {
                id: r.get(0)?,
                name: r.get(1)?,
                url: r.get(2)?,
                etag: r.get(3)?,
                last_modified: r.get(4)?,
                last_status: r.get(5)?,
                last_error: r.get(6)?,
                consecutive_failures: r.get::<_, Option<i64>>(7)?.unwrap_or(0),
            })
        },
    )
    .unwrap_or_else(|e| panic!("source {name}: {e}"))
}

/// One `fetches` row.
#[derive(Debug, Clone)]
pub struct FetchRow {
    pub id: i64,
    pub source_id: Option<i64>,
    pub url: String,
    pub status: Option<i64>,
    pub not_modified: i64,
    pub new_articles: Option<i64>,
    pub error: Option<String>,
}

/// All fetches, ordered by id.
pub fn fetches(conn: &rusqlite::Connection) -> Vec<FetchRow> {
    let mut st = conn
        .prepare(
            "SELECT id, source_id, url, status, not_modified, new_articles, error \
             FROM fetches ORDER BY id",
        )
        .expect("prepare fetches");
    st.query_map([], |r| {
        Ok(FetchRow {
            id: r.get(0)?,
            source_id: r.get(1)?,
            url: r.get(2)?,
            status: r.get(3)?,
            not_modified: r.get::<_, Option<i64>>(4)?.unwrap_or(0),
            new_articles: r.get(5)?,
            error: r.get(6)?,
        })
    })
    .expect("query fetches")
    .collect::<Result<Vec<_>, _>>()
    .expect("read fetches")
}

/// Parses a `tags` JSON array.
pub fn tags_of(a: &Article) -> Vec<String> {
    let raw = a.tags.as_deref().unwrap_or("[]");
    serde_json::from_str(raw).unwrap_or_else(|e| panic!("tags {raw:?} is not a JSON array: {e}"))
}

/// A fresh temporary directory for one test.
pub fn tempdir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("feedcrawler-test-")
        .tempdir()
        .expect("tempdir")
}

// ---------------------------------------------------------------------------
// Soft assertions
// ---------------------------------------------------------------------------

/// Collects failed checks so one test reports all of them at once.
#[derive(Default)]
pub struct Soft {
    failures: Vec<String>,
}

impl Soft {
    pub fn new() -> Soft {
        Soft::default()
    }

    /// Records `msg` when `ok` is false.
    pub fn check(&mut self, ok: bool, msg: impl FnOnce() -> String) {
        if !ok {
            self.failures.push(msg());
        }
    }

    /// Records a mismatch when `actual != expected`.
    pub fn eq<T: PartialEq + std::fmt::Debug>(&mut self, actual: T, expected: T, what: &str) {
        if actual != expected {
            self.failures
                .push(format!("{what}: expected {expected:?}, got {actual:?}"));
        }
    }

    /// Panics listing every failed check (pair it with
    /// [`Output::on_panic`] for the run's stderr).
    #[track_caller]
    pub fn finish(self) {
        if !self.failures.is_empty() {
            panic!(
                "{} check(s) failed:\n- {}",
                self.failures.len(),
                self.failures.join("\n- ")
            );
        }
    }
}

// ---------------------------------------------------------------------------
// Daemon (`feedcrawler run`) helpers
// ---------------------------------------------------------------------------

/// A running `feedcrawler --config X run` child. Its stdout and stderr are
/// collected in the background; on drop the child is SIGKILLed (if still
/// running) and, during a panic, its stderr is printed.
pub struct Daemon {
    child: std::process::Child,
    stdout: Arc<Mutex<Vec<u8>>>,
    stderr: Arc<Mutex<Vec<u8>>>,
    readers: Vec<JoinHandle<()>>,
    exit: Option<ExitStatus>,
    pub started: Instant,
    pub args: Vec<String>,
}

impl Daemon {
    /// Starts `feedcrawler --config <config> run` (environment as in [`run_raw`]).
    pub fn start(config: &Path) -> Daemon {
        Daemon::start_args(config, &["run"])
    }

    /// Starts `feedcrawler --config <config> <args…>` in the background.
    pub fn start_args(config: &Path, args: &[&str]) -> Daemon {
        Daemon::start_with(config, args, |_| {})
    }

    /// As [`Daemon::start_args`], with `configure` applied to the command before it runs
    /// (e.g. a `pre_exec` that sets a signal disposition).
    pub fn start_with(config: &Path, args: &[&str], configure: impl FnOnce(&mut Command)) -> Daemon {
        let mut full: Vec<String> = vec!["--config".into(), config.display().to_string()];
        full.extend(args.iter().map(|s| s.to_string()));
        let cwd = config
            .parent()
            .map(|p| p.join("cwd"))
            .unwrap_or_else(std::env::temp_dir);
        let _ = std::fs::create_dir_all(&cwd);
        let mut cmd = Command::new(bin());
        cmd.args(&full)
            .current_dir(&cwd)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .env("RUST_LOG", RUST_LOG)
            .env("NO_COLOR", "1")
            .env("NO_PROXY", "127.0.0.1,localhost")
            .env("no_proxy", "127.0.0.1,localhost")
            .env_remove("FEEDCRAWLER_CONFIG");
        for v in [
            "HTTP_PROXY",
            "http_proxy",
            "HTTPS_PROXY",
            "https_proxy",
            "ALL_PROXY",
            "all_proxy",
        ] {
            cmd.env_remove(v);
        }
        configure(&mut cmd);
        let started = Instant::now();
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("spawning {}: {e}", bin().display()));
        let stdout = Arc::new(Mutex::new(Vec::new()));
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let mut readers = Vec::new();
        type Pipe<'a> = (Box<dyn Read + Send>, &'a Arc<Mutex<Vec<u8>>>);
        let pipes: [Pipe<'_>; 2] = [
            (Box::new(child.stdout.take().unwrap()), &stdout),
            (Box::new(child.stderr.take().unwrap()), &stderr),
        ];
        for (mut pipe, sink) in pipes {
            let sink = Arc::clone(sink);
            readers.push(thread::spawn(move || {
                let mut buf = [0u8; 8192];
                loop {
                    match pipe.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => sink.lock().unwrap().extend_from_slice(&buf[..n]),
                    }
                }
            }));
        }
        Daemon {
            child,
            stdout,
            stderr,
            readers,
            exit: None,
            started,
            args: full,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends a signal by name (`TERM`, `HUP`, `INT`, `KILL`) with `kill(1)`.
    pub fn signal(&self, sig: &str) {
        let st = Command::new("kill")
            .args([format!("-{sig}"), self.pid().to_string()])
            .status()
            .expect("running kill");
        assert!(st.success(), "kill -{sig} {} failed: {st:?}", self.pid());
    }

    /// The exit status, if the child has exited.
    pub fn try_exit(&mut self) -> Option<ExitStatus> {
        if self.exit.is_none() {
            self.exit = self.child.try_wait().expect("try_wait");
        }
        self.exit
    }

    pub fn is_running(&mut self) -> bool {
        self.try_exit().is_none()
    }

    /// Waits up to `timeout` for the child to exit.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(st) = self.try_exit() {
                return Some(st);
            }
            if Instant::now() >= deadline {
                return None;
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// Like [`poll_until`], but panics as soon as the daemon exits (it
    /// should run until told to stop).
    #[track_caller]
    pub fn poll_until<T>(
        &mut self,
        timeout: Duration,
        every: Duration,
        mut f: impl FnMut() -> Option<T>,
    ) -> Option<T> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(v) = f() {
                return Some(v);
            }
            if let Some(st) = self.try_exit() {
                panic!("the daemon exited unexpectedly ({st}) while the test waited for it");
            }
            if Instant::now() >= deadline {
                return None;
            }
            thread::sleep(every);
        }
    }

    /// SIGTERM, then waits up to `timeout`; returns the exit status and how
    /// long the exit took (None: still running after `timeout`).
    pub fn terminate(&mut self, timeout: Duration) -> (Option<ExitStatus>, Duration) {
        let t = Instant::now();
        if self.is_running() {
            self.signal("TERM");
        }
        let st = self.wait_exit(timeout);
        (st, t.elapsed())
    }

    /// SIGKILL (if still running) and reap.
    pub fn kill(&mut self) {
        if self.try_exit().is_none() {
            let _ = self.child.kill();
            self.exit = self.child.wait().ok();
        }
    }

    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.stderr.lock().unwrap()).into_owned()
    }

    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.stdout.lock().unwrap()).into_owned()
    }

    /// Stderr bytes so far (to look only at what follows a point in time).
    pub fn stderr_len(&self) -> usize {
        self.stderr.lock().unwrap().len()
    }

    /// Stderr written after byte offset `from`.
    pub fn stderr_since(&self, from: usize) -> String {
        let e = self.stderr.lock().unwrap();
        String::from_utf8_lossy(&e[from.min(e.len())..]).into_owned()
    }

    /// Exit status, stdout and the tail of stderr, for assertion messages.
    pub fn diag(&self) -> String {
        let tail = |s: String| -> String {
            const MAX: usize = 30_000;
            if s.len() > MAX {
                let mut start = s.len() - MAX;
                while !s.is_char_boundary(start) {
                    start += 1;
                }
                format!("…{}", &s[start..])
            } else {
                s
            }
        };
        format!(
            "feedcrawler {:?} (pid {}), exit: {:?}, running for {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}\n",
            self.args,
            self.child.id(),
            self.exit,
            self.started.elapsed(),
            tail(self.stdout()),
            tail(self.stderr())
        )
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.kill();
        for r in self.readers.drain(..) {
            let _ = r.join();
        }
        if thread::panicking() {
            eprintln!("{}", self.diag());
        }
    }
}

/// Config knobs of a daemon test; `daemon_config` turns them into a config
/// head like [`base_config`] plus `[schedule]` (deterministic: no jitter,
/// not adaptive) and optionally `[metrics]`.
#[derive(Clone, Debug)]
pub struct DaemonOpts {
    pub per_host: String,
    pub burst: u32,
    pub concurrency: u32,
    pub respect_robots: bool,
    pub interval: String,
    pub min_interval: String,
    pub max_interval: String,
    pub max_backoff: String,
    pub jitter: f64,
    pub adaptive: bool,
    pub metrics_listen: Option<String>,
    /// Appended verbatim after the head (e.g. `[[host]]` blocks).
    pub extra: String,
}

impl Default for DaemonOpts {
    fn default() -> Self {
        DaemonOpts {
            per_host: "1000/s".into(),
            burst: 1000,
            concurrency: 16,
            respect_robots: false,
            interval: "1h".into(),
            min_interval: "1s".into(),
            max_interval: "6h".into(),
            max_backoff: "1h".into(),
            jitter: 0.0,
            adaptive: false,
            metrics_listen: None,
            extra: String::new(),
        }
    }
}

/// The head of a daemon test config (database `test.db` next to it).
pub fn daemon_config(o: &DaemonOpts) -> String {
    let mut s = format!(
        r#"[daemon]
database = "test.db"
timezone = "Asia/Shanghai"

[http]
timeout = "5s"
connect_timeout = "2s"
max_body = "1MiB"
concurrency = {concurrency}
respect_robots = {robots}

[rate_limit]
per_host = {per_host:?}
burst = {burst}

[schedule]
interval = {interval:?}
min_interval = {min_interval:?}
max_interval = {max_interval:?}
adaptive = {adaptive}
jitter = {jitter:?}
max_backoff = {max_backoff:?}

[share]
resolve = []
allow_hosts = []
"#,
        concurrency = o.concurrency,
        robots = o.respect_robots,
        per_host = o.per_host,
        burst = o.burst,
        interval = o.interval,
        min_interval = o.min_interval,
        max_interval = o.max_interval,
        adaptive = o.adaptive,
        jitter = o.jitter,
        max_backoff = o.max_backoff,
    );
    if let Some(listen) = &o.metrics_listen {
        s.push_str(&format!("\n[metrics]\nlisten = {listen:?}\n"));
    }
    s.push_str(&o.extra);
    s
}

/// A small RSS 2.0 feed: one item per `(title, link)`, `+0800` dates.
pub fn mini_rss(channel: &str, items: &[(&str, &str)]) -> String {
    let mut s = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rss version=\"2.0\"><channel>\
         <title>{channel}</title><link>http://example.org/</link><description>{channel}</description>\n"
    );
    for (i, (title, link)) in items.iter().enumerate() {
        s.push_str(&format!(
            "<item><title>{title}</title><link>{link}</link><guid>{link}</guid>\
             <pubDate>Tue, 19 Apr 2022 12:{:02}:44 +0800</pubDate>\
             <description>{title}。（文章来源：证券日报网）</description></item>\n",
            i % 60
        ));
    }
    s.push_str("</channel></rss>\n");
    s
}

/// A port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    l.local_addr().unwrap().port()
}

/// Calls `f` every `every` until it returns `Some`, or `timeout` passes.
pub fn poll_until<T>(timeout: Duration, every: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if Instant::now() >= deadline {
            return None;
        }
        thread::sleep(every);
    }
}

/// The wall-clock time of an `Instant` (e.g. a request's arrival).
pub fn wall_time(at: Instant) -> std::time::SystemTime {
    let now_i = Instant::now();
    let now_s = std::time::SystemTime::now();
    if at <= now_i {
        now_s - (now_i - at)
    } else {
        now_s + (at - now_i)
    }
}

/// Parses an RFC 3339 time from the database.
pub fn parse_db_time(s: &str) -> std::time::SystemTime {
    let dt = chrono::DateTime::parse_from_rfc3339(s).unwrap_or_else(|e| panic!("time {s:?}: {e}"));
    std::time::SystemTime::from(dt)
}

/// Seconds from `a` to `b` (negative when `b` is earlier).
pub fn secs_between(a: std::time::SystemTime, b: std::time::SystemTime) -> f64 {
    match b.duration_since(a) {
        Ok(d) => d.as_secs_f64(),
        Err(e) => -e.duration().as_secs_f64(),
    }
}

/// `SystemTime` as an RFC 3339 UTC string with second precision.
pub fn db_time(t: std::time::SystemTime) -> String {
    chrono::DateTime::<chrono::Utc>::from(t)
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// Opens the database if it exists and has a `sources` table.
pub fn try_open_db(path: &Path) -> Option<rusqlite::Connection> {
    if !path.exists() {
        return None;
    }
    let conn = rusqlite::Connection::open_with_flags(
        path,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .ok()?;
    conn.busy_timeout(Duration::from_secs(5)).ok()?;
    conn.query_row("SELECT COUNT(*) FROM sources", [], |r| r.get::<_, i64>(0))
        .ok()?;
    Some(conn)
}

/// A source row with its schedule columns (CONTRACT §3 `sources`).
#[derive(Debug, Clone, PartialEq)]
pub struct SourceState {
    pub id: i64,
    pub name: String,
    pub url: Option<String>,
    pub enabled: i64,
    pub last_polled_at: Option<String>,
    pub next_poll_at: Option<String>,
    pub last_status: Option<i64>,
    pub last_error: Option<String>,
    pub consecutive_failures: i64,
}

/// The source row named `name`, if present (None also while the schema is
/// not there yet).
pub fn source_state(conn: &rusqlite::Connection, name: &str) -> Option<SourceState> {
    conn.query_row(
        "SELECT id, name, url, enabled, last_polled_at, next_poll_at, last_status, last_error, \
         consecutive_failures FROM sources WHERE name = ?1",
        [name],
        |r| {
            Ok(SourceState {
                id: r.get(0)?,
                name: r.get(1)?,
                url: r.get(2)?,
                enabled: r.get::<_, Option<i64>>(3)?.unwrap_or(1),
                last_polled_at: r.get(4)?,
                next_poll_at: r.get(5)?,
                last_status: r.get(6)?,
                last_error: r.get(7)?,
                consecutive_failures: r.get::<_, Option<i64>>(8)?.unwrap_or(0),
            })
        },
    )
    .ok()
}

/// Opens the database at `path` and reads `name`'s row, if both exist.
pub fn source_state_at(path: &Path, name: &str) -> Option<SourceState> {
    source_state(&try_open_db(path)?, name)
}

/// A plain HTTP/1.1 response.
#[derive(Debug, Clone)]
pub struct HttpResponse {
    pub status: u16,
    /// Header names lower-cased.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// `GET path` from `addr` (`host:port`) with a blocking socket; decodes a
/// chunked body.
pub fn http_get(addr: &str, path: &str, timeout: Duration) -> io::Result<HttpResponse> {
    use std::net::{TcpStream, ToSocketAddrs};
    let sock = addr
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| io::Error::other("no address"))?;
    let mut s = TcpStream::connect_timeout(&sock, timeout)?;
    s.set_read_timeout(Some(timeout))?;
    s.set_write_timeout(Some(timeout))?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nUser-Agent: feedcrawler-tests\r\nAccept: */*\r\nConnection: close\r\n\r\n"
    )?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| io::Error::other(format!("no header end in {:?}", String::from_utf8_lossy(&raw))))?;
    let head = String::from_utf8_lossy(&raw[..end]).into_owned();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or("");
    let status: u16 = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| io::Error::other(format!("bad status line {status_line:?}")))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let mut body = raw[end + 4..].to_vec();
    let chunked = headers
        .iter()
        .any(|(n, v)| n == "transfer-encoding" && v.to_ascii_lowercase().contains("chunked"));
    if chunked {
        let mut out = Vec::new();
        let mut rest = &body[..];
        while let Some(le) = rest.windows(2).position(|w| w == b"\r\n") {
            let size_line = String::from_utf8_lossy(&rest[..le]).into_owned();
            let size = usize::from_str_radix(size_line.split(';').next().unwrap_or("").trim(), 16)
                .map_err(|e| io::Error::other(format!("bad chunk size {size_line:?}: {e}")))?;
            rest = &rest[le + 2..];
            if size == 0 {
                break;
            }
            if rest.len() < size {
                return Err(io::Error::other("truncated chunk"));
            }
            out.extend_from_slice(&rest[..size]);
            rest = &rest[(size + 2).min(rest.len())..];
        }
        body = out;
    }
    Ok(HttpResponse {
        status,
        headers,
        body,
    })
}

// ---------------------------------------------------------------------------
// Publishers: East Money–layout pages, the finews corpus, text of HTML
// ---------------------------------------------------------------------------

/// A post of the finews corpus (`tests/fixtures/finews/posts/**`) or the
/// reference post: the article as the site stored it.
#[derive(Clone, Debug)]
pub struct CorpusPost {
    /// Path relative to `tests/fixtures/finews/posts/` (or the fixture name).
    pub file: String,
    /// The front matter's title, unquoted and unescaped.
    pub title: String,
    /// The front matter's date, Beijing time (`+0800` when the post gives none).
    pub date: chrono::DateTime<chrono::FixedOffset>,
    /// The `> …` digest line (East Money's summary), when the post has one.
    pub digest: Option<String>,
    /// The article HTML between the front matter (and digest) and the share line.
    pub body: String,
    /// The 18-digit East Money id of the file name.
    pub id: Option<String>,
}

impl CorpusPost {
    /// `NW` + the 18-digit id.
    pub fn info_code(&self) -> String {
        format!(
            "NW{}",
            self.id.as_deref().expect("a post named by its East Money id")
        )
    }
    /// `YYYY-MM-DD HH:MM:SS` in Beijing time, as East Money's `showTime`.
    pub fn show_time(&self) -> String {
        self.date.format("%Y-%m-%d %H:%M:%S").to_string()
    }
    /// The date in UTC as the database stores it (`2022-04-19T04:22:44Z`).
    pub fn published_at(&self) -> String {
        utc_text(&self.date)
    }
}

/// Every `.md` file under `tests/fixtures/finews/posts`, relative to that
/// folder, sorted.
pub fn corpus_files() -> Vec<String> {
    fn walk(dir: &Path, root: &Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).expect("the finews fixtures") {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                walk(&path, root, out);
            } else if path.extension().is_some_and(|e| e == "md") {
                out.push(path.strip_prefix(root).unwrap().to_string_lossy().into_owned());
            }
        }
    }
    let root = fixtures_dir().join("finews").join("posts");
    let mut out = Vec::new();
    walk(&root, &root, &mut out);
    out.sort();
    out
}

/// Reads the corpus post `tests/fixtures/finews/posts/<file>`.
pub fn corpus_post(file: &str) -> CorpusPost {
    let text = fixture_str(&format!("finews/posts/{file}"));
    parse_post(file, &text).unwrap_or_else(|e| panic!("post {file}: {e}"))
}

/// Parses a Jekyll post of the finews site; Err says why it is no East Money
/// article with a title and a date.
pub fn parse_post(file: &str, text: &str) -> Result<CorpusPost, String> {
    let text = text.replace("\r\n", "\n");
    let text = text.trim_start_matches('\n');
    let rest = text.strip_prefix("---\n").ok_or("no front matter")?;
    let (front, rest) = rest.split_once("\n---\n").ok_or("unterminated front matter")?;
    let field = |key: &str| {
        front
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .map(str::trim)
            .unwrap_or_default()
            .to_string()
    };
    let raw_title = field("title:");
    let title = raw_title
        .strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .unwrap_or(&raw_title)
        .replace("\\\"", "\"")
        .replace("\\\\", "\\");
    if title.trim().is_empty() {
        return Err("empty title".into());
    }
    let raw_date = field("date:");
    let date = chrono::DateTime::parse_from_str(&raw_date, "%Y-%m-%d %H:%M:%S %z")
        .ok()
        .or_else(|| {
            let naive = chrono::NaiveDateTime::parse_from_str(&raw_date, "%Y-%m-%d %H:%M:%S").ok()?;
            naive.and_local_timezone(beijing_offset()).single()
        })
        .ok_or_else(|| format!("unreadable date {raw_date:?}"))?;
    let share = regex::Regex::new(r"\n\n<(?:https?://[^>\s]*)?>").unwrap();
    let end = share
        .find(rest)
        .ok_or("no share line: a site post, not an East Money article")?;
    let mut body = rest[..end.start()].trim_start_matches('\n');
    let mut digest = None;
    if body.starts_with('>') {
        let (quote, after) = body.split_once("\n\n").unwrap_or((body, ""));
        let lines: Vec<&str> = quote.lines().map(|l| l.trim_start_matches('>').trim()).collect();
        digest = Some(lines.join(" "));
        body = after.trim_start_matches('\n');
    }
    let id = regex::Regex::new(r"(\d{18})\.md$")
        .unwrap()
        .captures(file)
        .map(|c| c[1].to_string());
    Ok(CorpusPost {
        file: file.to_string(),
        title,
        date,
        digest,
        body: body.to_string(),
        id,
    })
}

/// UTC+8.
pub fn beijing_offset() -> chrono::FixedOffset {
    chrono::FixedOffset::east_opt(8 * 3600).unwrap()
}

/// `YYYY-MM-DD HH:MM:SS` read as Beijing time.
pub fn beijing(local: &str) -> chrono::DateTime<chrono::FixedOffset> {
    chrono::NaiveDateTime::parse_from_str(local, "%Y-%m-%d %H:%M:%S")
        .unwrap_or_else(|e| panic!("time {local:?}: {e}"))
        .and_local_timezone(beijing_offset())
        .unwrap()
}

/// A time as the database stores it: RFC 3339, UTC, seconds, `Z`.
pub fn utc_text<Tz: chrono::TimeZone>(t: &chrono::DateTime<Tz>) -> String {
    t.with_timezone(&chrono::Utc)
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// HTML-escapes text for an attribute or element.
pub fn html_escape_text(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// An article page in the layout of finance.eastmoney.com: `div.title`,
/// `div.infos > div.item` with the time to the minute (`YYYY年MM月DD日 HH:MM`)
/// and `来源：<outlet>`, `#ContentBody` holding `body` plus a share block, a
/// quote image, an ad box and a script, a sidebar with its own `div.title`,
/// and `meta article:published_time` to the second.
pub fn east_money_page(
    title: &str,
    local: &chrono::DateTime<chrono::FixedOffset>,
    source: Option<&str>,
    body: &str,
    canonical: Option<&str>,
) -> String {
    let title = html_escape_text(title);
    let canonical = canonical.map_or(String::new(), |c| format!(r#"<link rel="canonical" href="{c}">"#));
    let source = source.map_or(String::new(), |x| {
        format!(
            r#"<div class="item">来源：<a href="http://www.eastmoney.com/" target="_blank">{x}</a></div>"#
        )
    });
    format!(
        r#"<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{title}_东方财富网</title>
<meta name="keywords" content="财经,股票"><meta property="og:title" content="{title}">
<meta property="article:published_time" content="{iso}">{canonical}
<script src="//emres.dfcfw.com/common/js/jquery.js"></script><script>var newsid = "1";</script>
<style>.title{{font-size:24px}}</style></head>
<body><div class="topbar"><ul class="nav"><li><a href="//www.eastmoney.com/">东方财富网首页</a></li><li><a href="//finance.eastmoney.com/">财经频道</a></li></ul></div>
<div class="main"><div class="mainleft"><div class="title">{title}</div>
<div class="infos"><div class="item">{minute}</div>{source}<div class="item">评论</div></div>
<div class="txtinfos" id="ContentBody">
{body}
<div class="em_sharelink">分享到：<a href="http://share.eastmoney.com/weixin">微信</a><a href="http://service.weibo.com/share">微博</a></div>
<center><img src="https://webquoteklinepic.eastmoney.com/GetPic.aspx?nid=1.000001&imageType=r" alt="分时图" /></center>
<div class="ad_bottom"><a href="http://acttg.eastmoney.com/pub/ad1">开户立享万1佣金，点击下载东方财富APP</a></div>
<script>loadQuotes();</script>
</div></div>
<div class="mainright"><div class="title">热门文章</div><ul><li><a href="/a/1.html">一篇很热门的文章标题在这里</a></li></ul></div></div>
<div class="footer"><p>东方财富网版权所有 未经许可不得转载</p></div><script>track();</script></body></html>"#,
        iso = local.format("%Y-%m-%dT%H:%M:%S%:z"),
        minute = local.format("%Y年%m月%d日 %H:%M"),
    )
}

/// What the independent oracle (`tests/fixtures/finews/expected/oracle.py`:
/// html5lib, BeautifulSoup and PyYAML, run once) wrote for one post in
/// `tests/fixtures/finews/expected/posts.json`: the values CONTRACT §3/§6
/// promise for it, computed without any code of this crate.
#[derive(Clone, Debug)]
pub struct Expected {
    /// The front matter's title as YAML reads it.
    pub title: String,
    /// That title with whitespace collapsed (CONTRACT §3 `title`).
    pub title_collapsed: String,
    /// `published_at` (UTC, `Z`), None for an unreadable date.
    pub published_at: Option<String>,
    /// `published_local` (`+08:00`), None for an unreadable date.
    pub published_local: Option<String>,
    /// The outlet of the body's last `（文章来源：X）`, normalized (§6 *Media*).
    pub outlet: Option<String>,
    /// `content_text` of the article HTML, line by line (§3).
    pub text: Vec<String>,
}

/// The oracle's record of `file` (a path under `tests/fixtures/finews/posts/`,
/// or `reference_post.md`); panics when the oracle has no article for it.
pub fn expected(file: &str) -> Expected {
    static ORACLE: std::sync::OnceLock<serde_json::Value> = std::sync::OnceLock::new();
    let doc = ORACLE.get_or_init(|| {
        serde_json::from_str(&fixture_str("finews/expected/posts.json")).expect("posts.json is JSON")
    });
    let rec = &doc["posts"][file];
    assert_eq!(
        rec["article"].as_bool(),
        Some(true),
        "the oracle has an article for {file}: {rec}"
    );
    let text = |key: &str| rec[key].as_str().map(str::to_string);
    Expected {
        title: text("title").unwrap_or_default(),
        title_collapsed: text("title_collapsed").unwrap_or_default(),
        published_at: text("published_at"),
        published_local: text("published_local"),
        outlet: text("outlet"),
        text: rec["text"]
            .as_array()
            .expect("text lines")
            .iter()
            .map(|l| l.as_str().expect("a text line").to_string())
            .collect(),
    }
}

/// The oracle's `content_text` lines of `file`.
pub fn expected_lines(file: &str) -> Vec<String> {
    expected(file).text
}

/// The oracle's `content_text` of `file` (lines joined with `\n`).
pub fn expected_text(file: &str) -> String {
    expected(file).text.join("\n")
}

/// The oracle's outlet of `file` (the `（文章来源：X）` line), if it names one.
pub fn expected_media(file: &str) -> Option<String> {
    expected(file).outlet
}

/// One `share_links` row (CONTRACT §3).
#[derive(Debug, Clone, PartialEq)]
pub struct ShareLinkRow {
    pub url: String,
    pub info_code: Option<String>,
    pub source_id: Option<i64>,
    pub state: String,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub article_id: Option<i64>,
}

/// Every share link, in insertion order.
pub fn share_links(conn: &rusqlite::Connection) -> Vec<ShareLinkRow> {
    let mut st = conn
        .prepare(
            "SELECT url, info_code, source_id, state, attempts, last_error, article_id \
             FROM share_links ORDER BY rowid",
        )
        .expect("prepare share_links");
    st.query_map([], |r| {
        Ok(ShareLinkRow {
            url: r.get(0)?,
            info_code: r.get(1)?,
            source_id: r.get(2)?,
            state: r.get(3)?,
            attempts: r.get::<_, Option<i64>>(4)?.unwrap_or(0),
            last_error: r.get(5)?,
            article_id: r.get(6)?,
        })
    })
    .expect("query share_links")
    .collect::<Result<Vec<_>, _>>()
    .expect("read share_links")
}

/// The names of the sources that saw article `article_id`, sorted.
pub fn sighting_sources(conn: &rusqlite::Connection, article_id: i64) -> Vec<String> {
    let mut st = conn
        .prepare(
            "SELECT s.name FROM sightings g JOIN sources s ON s.id = g.source_id \
             WHERE g.article_id = ?1 ORDER BY s.name",
        )
        .expect("prepare sightings");
    st.query_map([article_id], |r| r.get(0))
        .expect("query sightings")
        .collect::<Result<Vec<String>, _>>()
        .expect("read sightings")
}

/// The article whose `info_code` is `code`, if any.
pub fn article_by_code(conn: &rusqlite::Connection, code: &str) -> Option<Article> {
    articles(conn)
        .into_iter()
        .find(|a| a.info_code.as_deref() == Some(code))
}

/// The head of a publisher test config: [`base_config`] without its
/// `[share]` table, followed by `share` (a whole `[share]` table that must
/// name only local hosts).
pub fn publisher_config(share: &str) -> String {
    let base = base_config();
    let head = base
        .split("\n[share]")
        .next()
        .expect("base_config has a [share] table")
        .to_string();
    format!("{head}\n{share}\n")
}

/// The largest number of arrivals in any half-open window `[t, t + w)` starting at an
/// arrival (`times` sorted), with the index of the window's first arrival.
pub fn max_in_window(times: &[Instant], w: Duration) -> (usize, usize) {
    let mut best = (0, 0);
    for i in 0..times.len() {
        let n = times[i..]
            .iter()
            .take_while(|t| t.duration_since(times[i]) < w)
            .count();
        if n > best.0 {
            best = (n, i);
        }
    }
    best
}
