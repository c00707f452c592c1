//! The daemon's counters and the HTTP endpoint that exposes them: Prometheus text
//! (exposition format 0.0.4) on `GET /metrics` and a liveness answer on `GET /healthz`.
//!
//! [`Metrics`] is shared (`Arc`) by every task of the daemon; updating it costs an atomic
//! add or one short lock of a small map, never I/O. [`serve`] runs the `[metrics] listen`
//! server until the daemon's shutdown token is cancelled. This module never touches the
//! database and knows nothing of systemd: it only counts what others report and renders
//! it, including the one-line summary that the service module sends as `STATUS=`.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};
use tokio_util::sync::CancellationToken;

mod notify;
mod operators;
pub use operators::SourceHealth;

/// The `Content-Type` of the Prometheus text exposition format.
pub const PROMETHEUS_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// A client must send its request headers within this time.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// On shutdown, a connection still busy after this long is dropped.
const CONNECTION_DRAIN: Duration = Duration::from_secs(2);
/// After a failed `accept` (e.g. too many open files), wait this long before the next one.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);
/// Minutes covered by the "new articles in the last hour" ring.
const RING_MINUTES: usize = 60;
/// `next_due` when there is none.
const NO_NEXT_DUE: i64 = i64::MIN;

/// The daemon's counters and gauges. Cheap to update from many tasks at once.
pub struct Metrics {
    /// Requests by status label: the HTTP status code, or `"error"` for no response.
    fetches: Mutex<BTreeMap<String, u64>>,
    fetch_bytes: AtomicU64,
    articles_new: AtomicU64,
    articles_updated: AtomicU64,
    /// Failed polls by source name (bounded by the number of configured sources).
    source_failures: Mutex<BTreeMap<String, u64>>,
    queue_depth: AtomicU64,
    sources: AtomicU64,
    /// Unix seconds of the earliest next poll, or [`NO_NEXT_DUE`].
    next_due: AtomicI64,
    /// New articles per minute over the last hour, for [`Metrics::status_line`].
    recent_new: Mutex<MinuteRing>,
    /// Origin of the monotonic minute count used by `recent_new` (immune to clock steps).
    started: Instant,
    /// Why the database cannot be written, while it cannot: `/healthz` answers 503.
    database_error: Mutex<Option<String>>,
    /// `[[notify]]` delivery attempts by (notify name, outcome); see [`notify`].
    notifications: Mutex<BTreeMap<(String, String), u64>>,
    /// Notifications owed (`pending` rows).
    notifications_pending: AtomicU64,
    /// Whether the config has `[[notify]]`s: only then are their families rendered.
    notify_configured: std::sync::atomic::AtomicBool,
    /// Rows deleted by retention, by table (a handful of tables).
    pruned: Mutex<BTreeMap<String, u64>>,
    /// Per-source health, fetch durations, owed work ([`operators`]).
    ops: operators::OperatorMetrics,
}

impl Metrics {
    /// Fresh counters, all zero.
    pub fn new() -> Arc<Metrics> {
        Arc::new(Metrics {
            fetches: Mutex::new(BTreeMap::new()),
            fetch_bytes: AtomicU64::new(0),
            articles_new: AtomicU64::new(0),
            articles_updated: AtomicU64::new(0),
            source_failures: Mutex::new(BTreeMap::new()),
            queue_depth: AtomicU64::new(0),
            sources: AtomicU64::new(0),
            next_due: AtomicI64::new(NO_NEXT_DUE),
            recent_new: Mutex::new(MinuteRing::new()),
            started: Instant::now(),
            database_error: Mutex::new(None),
            notifications: Mutex::new(BTreeMap::new()),
            notifications_pending: AtomicU64::new(0),
            notify_configured: std::sync::atomic::AtomicBool::new(false),
            pruned: Mutex::new(BTreeMap::new()),
            ops: operators::OperatorMetrics::default(),
        })
    }

    /// One HTTP request (one `fetches` row): status None = no response (transport error,
    /// refused by robots, ...).
    pub fn record_fetch(&self, status: Option<u16>, bytes: u64) {
        let label = match status {
            Some(code) => code.to_string(),
            None => "error".to_owned(),
        };
        *lock(&self.fetches).entry(label).or_insert(0) += 1;
        self.fetch_bytes.fetch_add(bytes, Ordering::Relaxed);
    }

    /// How long one request took (the `fetches.duration_ms` of its row).
    pub fn record_fetch_duration(&self, duration: Duration) {
        self.ops.record_fetch_duration(duration);
    }

    /// Every enabled source's failures in a row and last success, as the database has them.
    pub fn set_source_health(&self, sources: Vec<SourceHealth>) {
        self.ops.set_sources(sources);
    }

    /// Hosts leased to this daemon and daemons alive in its cluster (a shared database).
    pub fn set_leases(&self, hosts: usize, daemons: usize) {
        self.ops.set_leases(hosts, daemons);
    }

    /// Owed work waiting: second requests (page jobs) and share links.
    pub fn set_work_queues(&self, page_jobs_pending: u64, share_links_pending: u64) {
        self.ops.set_queues(page_jobs_pending, share_links_pending);
    }

    /// Articles committed by one poll.
    pub fn record_articles(&self, new: u64, updated: u64) {
        self.record_articles_at(self.minute_now(), new, updated);
    }

    fn record_articles_at(&self, minute: i64, new: u64, updated: u64) {
        self.articles_new.fetch_add(new, Ordering::Relaxed);
        self.articles_updated.fetch_add(updated, Ordering::Relaxed);
        if new > 0 {
            lock(&self.recent_new).add(minute, new);
        }
    }

    /// A source's poll failed.
    pub fn record_source_failure(&self, source: &str) {
        let mut failures = lock(&self.source_failures);
        match failures.get_mut(source) {
            Some(count) => *count += 1,
            None => {
                failures.insert(source.to_owned(), 1);
            }
        }
    }

    /// Rows of `table` deleted by retention (0 makes the series appear before the first prune).
    pub fn record_pruned(&self, table: &str, rows: u64) {
        *lock(&self.pruned).entry(table.to_owned()).or_insert(0) += rows;
    }

    /// The database cannot be written (`Some(why)`) or can again (`None`).
    pub fn set_database_error(&self, error: Option<String>) {
        *lock(&self.database_error) = error;
    }

    /// Why the database cannot be written, while it cannot.
    pub fn database_error(&self) -> Option<String> {
        lock(&self.database_error).clone()
    }

    /// Scheduler state: sources waiting in the queue, the earliest next poll, enabled sources.
    pub fn set_schedule(&self, queue_depth: usize, next_due: Option<DateTime<Utc>>, sources: usize) {
        self.queue_depth.store(queue_depth as u64, Ordering::Relaxed);
        self.sources.store(sources as u64, Ordering::Relaxed);
        let next = next_due.map_or(NO_NEXT_DUE, |at| at.timestamp());
        self.next_due.store(next, Ordering::Relaxed);
    }

    /// The Prometheus text exposition (version 0.0.4): every family with `# HELP` and
    /// `# TYPE`, the core families in name order, then the operators' ([`operators`]);
    /// samples in label order.
    pub fn render(&self) -> String {
        let load = |counter: &AtomicU64| Sample::One(counter.load(Ordering::Relaxed).into());
        let next_due = self.next_due.load(Ordering::Relaxed);
        let next_due = if next_due == NO_NEXT_DUE {
            Sample::None
        } else {
            Sample::One(next_due.into())
        };
        let fetches = Sample::Labelled("status", lock(&self.fetches).clone());
        let failures = Sample::Labelled("source", lock(&self.source_failures).clone());
        let pruned = Sample::Labelled("table", lock(&self.pruned).clone());
        #[rustfmt::skip]
        let families = [
            ("feedcrawler_articles_new_total", COUNTER, "Articles stored for the first time.",
                load(&self.articles_new)),
            ("feedcrawler_articles_updated_total", COUNTER, "Stored articles whose content or fields changed.",
                load(&self.articles_updated)),
            ("feedcrawler_fetch_bytes_total", COUNTER, "Response body bytes received, after decompression.",
                load(&self.fetch_bytes)),
            ("feedcrawler_fetches_total", COUNTER,
                "HTTP requests by response status; \"error\" when no response was received.", fetches),
            ("feedcrawler_next_poll_timestamp_seconds", GAUGE,
                "Unix time of the earliest scheduled poll; absent when nothing is scheduled.", next_due),
            ("feedcrawler_pruned_rows_total", COUNTER, "Rows deleted by [retention], by table.", pruned),
            ("feedcrawler_queue_depth", GAUGE, "Sources waiting in the poll queue.", load(&self.queue_depth)),
            ("feedcrawler_source_failures_total", COUNTER, "Failed polls by source name.", failures),
            ("feedcrawler_sources", GAUGE, "Enabled sources.", load(&self.sources)),
            ("feedcrawler_up", GAUGE, "1 while the daemon is running.", Sample::One(1)),
        ];

        let mut out = String::with_capacity(2048);
        for (name, kind, help, sample) in families {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} {kind}");
            match sample {
                Sample::None => {}
                Sample::One(value) => {
                    let _ = writeln!(out, "{name} {value}");
                }
                Sample::Labelled(key, values) => {
                    for (value, count) in values {
                        let _ = writeln!(out, "{name}{{{key}=\"{}\"}} {count}", escape_label_value(&value));
                    }
                }
            }
        }
        self.render_notifications(&mut out);
        self.ops.render(&mut out);
        out
    }

    /// For systemd STATUS=: "polling 42 sources, 17 new articles in the last hour".
    pub fn status_line(&self) -> String {
        self.status_line_at(self.minute_now())
    }

    fn status_line_at(&self, minute: i64) -> String {
        let sources = self.sources.load(Ordering::Relaxed);
        let new = lock(&self.recent_new).sum_last_hour(minute);
        format!(
            "polling {sources} source{}, {new} new article{} in the last hour",
            plural(sources),
            plural(new)
        )
    }

    /// Whole minutes since this `Metrics` was created, on the monotonic clock.
    fn minute_now(&self) -> i64 {
        i64::try_from(self.started.elapsed().as_secs() / 60).unwrap_or(i64::MAX)
    }
}

/// Counts per minute for the last [`RING_MINUTES`] minutes: slot `minute % 60` holds the
/// count of that minute, and is reset when a later minute reuses it. Fixed size.
struct MinuteRing {
    /// (minute the slot belongs to, count); the minute is `i64::MIN` for a never-used slot.
    slots: [(i64, u64); RING_MINUTES],
}

impl MinuteRing {
    fn new() -> MinuteRing {
        MinuteRing {
            slots: [(i64::MIN, 0); RING_MINUTES],
        }
    }

    fn add(&mut self, minute: i64, n: u64) {
        let slot = &mut self.slots[minute.rem_euclid(RING_MINUTES as i64) as usize];
        if slot.0 != minute {
            *slot = (minute, 0);
        }
        slot.1 += n;
    }

    /// The counts of `minute` and the 59 minutes before it.
    fn sum_last_hour(&self, minute: i64) -> u64 {
        let oldest = minute.saturating_sub(RING_MINUTES as i64 - 1);
        self.slots
            .iter()
            .filter(|(m, _)| (oldest..=minute).contains(m))
            .map(|(_, n)| n)
            .sum()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding one of these locks cannot leave a counter map inconsistent.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn plural(n: u64) -> &'static str {
    if n == 1 { "" } else { "s" }
}

const COUNTER: &str = "counter";
const GAUGE: &str = "gauge";

/// The samples of one metric family in [`Metrics::render`].
enum Sample {
    /// No sample (a gauge with nothing to report).
    None,
    /// One unlabelled sample.
    One(i128),
    /// One sample per value of one label, in the map's (sorted) order.
    Labelled(&'static str, BTreeMap<String, u64>),
}

/// A label value as the text format wants it: `\` → `\\`, `"` → `\"`, newline → `\n`.
fn escape_label_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// The metrics server could not start.
#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    #[error("cannot listen on {addr} for [metrics]: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
}

/// Binds `listen` (fails fast with [`MetricsError::Bind`]), then serves `GET /metrics` and
/// `GET /healthz` (200 `ok\n`, 503 while the database cannot be written; anything else 404) until `shutdown` is cancelled.
///
/// Returns the bound address (useful with port 0) and the handle of the server task, which
/// ends once the listener is closed and every connection has finished or been dropped.
pub async fn serve(
    listen: SocketAddr,
    metrics: Arc<Metrics>,
    shutdown: CancellationToken,
) -> Result<(SocketAddr, JoinHandle<()>), MetricsError> {
    let bind_error = |source| MetricsError::Bind { addr: listen, source };
    let listener = TcpListener::bind(listen).await.map_err(bind_error)?;
    let local = listener.local_addr().map_err(bind_error)?;
    tracing::info!(%local, "metrics: serving /metrics and /healthz");
    let handle = tokio::spawn(accept_loop(listener, metrics, shutdown));
    Ok((local, handle))
}

async fn accept_loop(listener: TcpListener, metrics: Arc<Metrics>, shutdown: CancellationToken) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    connections.spawn(serve_connection(stream, peer, metrics.clone(), shutdown.clone()));
                }
                Err(err) => {
                    tracing::warn!(error = %err, "metrics: accept failed");
                    tokio::select! {
                        _ = shutdown.cancelled() => break,
                        _ = tokio::time::sleep(ACCEPT_BACKOFF) => {}
                    }
                }
            },
        }
    }
    drop(listener);
    // Each connection task watches the same token, so this ends within CONNECTION_DRAIN.
    while connections.join_next().await.is_some() {}
    tracing::debug!("metrics: server stopped");
}

async fn serve_connection(
    stream: TcpStream,
    peer: SocketAddr,
    metrics: Arc<Metrics>,
    shutdown: CancellationToken,
) {
    let service = service_fn(move |request| {
        let response = respond(&request, &metrics);
        async move { Ok::<_, Infallible>(response) }
    });
    let connection = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .serve_connection(TokioIo::new(stream), service);
    tokio::pin!(connection);
    let result = tokio::select! {
        result = connection.as_mut() => result,
        _ = shutdown.cancelled() => {
            connection.as_mut().graceful_shutdown();
            match tokio::time::timeout(CONNECTION_DRAIN, connection.as_mut()).await {
                Ok(result) => result,
                Err(_) => return,
            }
        }
    };
    if let Err(err) = result {
        tracing::debug!(%peer, error = %err, "metrics: connection ended with an error");
    }
}

fn respond(request: &Request<Incoming>, metrics: &Metrics) -> Response<Full<Bytes>> {
    let readable = matches!(*request.method(), Method::GET | Method::HEAD);
    let (status, content_type, body) = match request.uri().path() {
        "/metrics" if readable => (StatusCode::OK, PROMETHEUS_CONTENT_TYPE, metrics.render()),
        "/healthz" if readable => match metrics.database_error() {
            None => (StatusCode::OK, "text/plain; charset=utf-8", "ok\n".to_owned()),
            Some(error) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "text/plain; charset=utf-8",
                format!("database unavailable: {error}\n"),
            ),
        },
        _ => (
            StatusCode::NOT_FOUND,
            "text/plain; charset=utf-8",
            "not found\n".to_owned(),
        ),
    };
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

#[cfg(test)]
mod tests;
