//! Notifications of new articles (CONTRACT §5 `[[notify]]`): `exec` runs a program with
//! the article as one JSON object on stdin, `webhook` POSTs that object.
//!
//! The work owed is recorded before anything is attempted: the store's writer queues one
//! `notifications` row per matching `[[notify]]` in the transaction that stores the new
//! article ([`install`] gives it the [`Router`]). [`Notifier::process_due`] — the daemon's
//! notification worker, and `once` after its polls — takes due rows a round at a time,
//! delivers at most [`CONCURRENCY`] at once, and records each outcome; a failure is retried
//! with backoff ([`crate::share::retry_delay`]) and given up after [`MAX_ATTEMPTS`]. A
//! delivery in flight when the process dies stays `pending` and is made again after the
//! restart: delivery is at-least-once. The crawl never waits for a delivery: the worker is
//! its own task, and queueing costs the writer one regex check and one insert.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use futures_util::StreamExt;
use tokio::io::AsyncWriteExt;

use crate::admission::{Admission, GuardedResolver, Origin, Purpose};
use crate::config::{Config, NotifyConfig, NotifyTarget};
use crate::metrics::Metrics;
use crate::store::{
    NotificationJob, NotificationState, NotificationUpdate, NotifyRouter, Reader, Store, StoreError,
};

/// Deliveries in flight at once, all `[[notify]]`s together.
pub const CONCURRENCY: usize = 4;
/// A delivery is given up (`failed`) after this many attempts: with the daemon's backoff
/// (1 min, 4 min, 16 min, 64 min, then every 256 min) that is about a day of trying.
pub const MAX_ATTEMPTS: u32 = 10;
/// How many due rows one round takes.
const ROUND: usize = 64;
/// `once` retries a failed delivery at most this many times before it exits (the next
/// `once` or the daemon goes on with it).
const ONCE_ROUNDS: u32 = 4;
/// How much of a failing program's stderr (or a webhook's answer) the error keeps.
const ERROR_BYTES: usize = 300;

/// Why a delivery failed, as recorded in `notifications.last_error`.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    /// The program could not be started.
    #[error("exec {program}: cannot start: {source}")]
    Spawn {
        /// `exec[0]`.
        program: String,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// The program exited with a non-zero status (or was killed by a signal).
    #[error("exec {program}: exit status {status}{}", tail(.stderr))]
    Exit {
        /// `exec[0]`.
        program: String,
        /// The exit code, or `signal N`.
        status: String,
        /// The start of what it wrote on stderr.
        stderr: String,
    },
    /// The program or the webhook took longer than `timeout`.
    #[error("{what}: no answer within the timeout of {}; raise [[notify]] timeout if it is slow", humantime::format_duration(*.timeout))]
    Timeout {
        /// The program or URL.
        what: String,
        /// `[[notify]] timeout`.
        timeout: Duration,
    },
    /// The admission gate refused the webhook URL (CONTRACT §7).
    #[error("webhook {url}: refused: {reason}")]
    Refused {
        /// The URL.
        url: String,
        /// The refusal.
        reason: String,
    },
    /// The request failed without an answer.
    #[error("webhook {url}: {message}")]
    Request {
        /// The URL.
        url: String,
        /// reqwest's error chain.
        message: String,
    },
    /// The webhook answered, but not with 2xx.
    #[error("webhook {url}: HTTP {status}{}", tail(.body))]
    Status {
        /// The URL.
        url: String,
        /// The status code.
        status: u16,
        /// The start of the answer's body.
        body: String,
    },
}

fn tail(text: &str) -> String {
    let text = text.trim();
    if text.is_empty() {
        String::new()
    } else {
        format!(": {text}")
    }
}

/// The `[[notify]]` filters, as the store's writer asks them for each new article.
pub struct Router {
    notify: Vec<NotifyConfig>,
}

impl NotifyRouter for Router {
    fn route(&self, source: Option<&str>, title: &str, media: Option<&str>) -> Vec<String> {
        self.notify
            .iter()
            .filter(|n| n.matches(source, title, media))
            .map(|n| n.name.clone())
            .collect()
    }
}

/// Gives the store's writer the router of `config` (or none, without `[[notify]]`), so
/// that every new article committed from now on queues its notifications.
pub async fn install(config: &Config, store: &Store) -> Result<(), StoreError> {
    let router: Option<Arc<dyn NotifyRouter>> = if config.notify.is_empty() {
        None
    } else {
        Some(Arc::new(Router {
            notify: config.notify.clone(),
        }))
    };
    store.set_notify_router(router).await
}

/// What one [`Notifier::process_due`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NotifyRound {
    /// Deliveries made.
    pub delivered: usize,
    /// Attempts that failed (retried later, or given up).
    pub failed: usize,
}

/// Delivers notifications for one config: the HTTP client of its webhooks and its
/// admission rules.
pub struct Notifier {
    config: Arc<Config>,
    store: Arc<Store>,
    client: Result<reqwest::Client, String>,
    admission: Arc<Admission>,
    metrics: Option<Arc<Metrics>>,
}

impl Notifier {
    /// A notifier for `config`; webhooks are requested through the admission gate's
    /// resolver, without a proxy and without following redirects (a POST is not replayed
    /// to wherever a redirect points).
    pub fn new(config: Arc<Config>, store: Arc<Store>, metrics: Option<Arc<Metrics>>) -> Notifier {
        let admission = Arc::new(Admission::new(&config));
        let client = reqwest::Client::builder()
            .dns_resolver(Arc::new(GuardedResolver::new(Arc::clone(&admission))))
            .no_proxy()
            .user_agent(config.http.user_agent.as_str())
            .connect_timeout(config.http.connect_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            // Fails only when TLS cannot be set up: every webhook delivery then fails with
            // this reason (recorded, retried) rather than going out unguarded.
            .map_err(|e| format!("cannot build the HTTP client: {}", error_chain(&e)));
        Notifier {
            config,
            store,
            client,
            admission,
            metrics,
        }
    }

    /// The config this notifier delivers for.
    pub fn config(&self) -> &Arc<Config> {
        &self.config
    }

    /// Delivers every due notification of the configured `[[notify]]`s, round after round
    /// until none is due. With `once`, failed deliveries are retried soon (a few times)
    /// before it returns, and what still fails stays pending for the next run.
    pub async fn process_due(&self, once: bool) -> Result<NotifyRound, StoreError> {
        let mut round = NotifyRound::default();
        if self.config.notify.is_empty() {
            return Ok(round);
        }
        let names: Vec<String> = self.config.notify.iter().map(|n| n.name.clone()).collect();
        let mut failed_rounds = 0;
        loop {
            let jobs = self
                .store
                .due_notifications(Utc::now(), names.clone(), ROUND)
                .await?;
            if jobs.is_empty() {
                // `once`: wait for the retries of what failed in this run (its backoff is
                // seconds), a few rounds at most.
                if !once || failed_rounds > ONCE_ROUNDS || !self.retry_soon(&names).await? {
                    return Ok(round);
                }
                tokio::time::sleep(Duration::from_millis(250)).await;
                continue;
            }
            let updates: Vec<NotificationUpdate> = futures_util::stream::iter(jobs)
                .map(|job| self.deliver_one(job, once))
                .buffer_unordered(CONCURRENCY)
                .filter_map(std::future::ready)
                .collect()
                .await;
            if updates.is_empty() {
                return Ok(round);
            }
            let mut failed = false;
            for update in &updates {
                if update.state == NotificationState::Delivered {
                    round.delivered += 1;
                } else {
                    round.failed += 1;
                    failed = true;
                }
            }
            failed_rounds += u32::from(failed);
            self.store.update_notifications(updates).await?;
        }
    }

    /// Whether a pending delivery is due within `once`'s short backoff.
    async fn retry_soon(&self, names: &[String]) -> Result<bool, StoreError> {
        let horizon = crate::share::retry_delay(MAX_ATTEMPTS, true) + Duration::from_secs(1);
        let later = crate::scheduler::after(Utc::now(), horizon);
        Ok(!self
            .store
            .due_notifications(later, names.to_vec(), 1)
            .await?
            .is_empty())
    }

    /// Makes one delivery; None for a row of a `[[notify]]` this config does not have
    /// (due rows are only those of configured names, so this does not happen).
    async fn deliver_one(&self, job: NotificationJob, once: bool) -> Option<NotificationUpdate> {
        let notify = self.config.notify.iter().find(|n| n.name == job.notify)?;
        let mut json = Vec::with_capacity(8 * 1024);
        crate::export::jsonl::write_record(&mut json, &job.article);
        while json.last() == Some(&b'\n') {
            json.pop();
        }
        let (status, result) = match &notify.target {
            NotifyTarget::Exec(argv) => run_exec(argv, &json, notify.timeout).await,
            NotifyTarget::Webhook { url, headers } => self.post(url, headers, json, notify.timeout).await,
        };
        let attempts = job.attempts + 1;
        let outcome = match &result {
            Ok(()) => "delivered",
            Err(_) if attempts >= MAX_ATTEMPTS => "failed",
            Err(_) => "retry",
        };
        if let Some(metrics) = &self.metrics {
            metrics.record_notification(&notify.name, outcome);
        }
        match result {
            Ok(()) => {
                tracing::debug!(notify = %notify.name, article_id = job.article.integer("id"), "notification delivered");
                Some(NotificationUpdate {
                    id: job.id,
                    state: NotificationState::Delivered,
                    status,
                    error: None,
                    next_attempt_at: None,
                })
            }
            Err(e) => {
                let given_up = attempts >= MAX_ATTEMPTS;
                tracing::warn!(
                    notify = %notify.name,
                    article_id = job.article.integer("id"),
                    attempts,
                    given_up,
                    error = %e,
                    "notification not delivered"
                );
                Some(NotificationUpdate {
                    id: job.id,
                    state: if given_up {
                        NotificationState::Failed
                    } else {
                        NotificationState::Pending
                    },
                    status,
                    error: Some(e.to_string()),
                    next_attempt_at: (!given_up).then(|| {
                        crate::scheduler::after(Utc::now(), crate::share::retry_delay(attempts, once))
                    }),
                })
            }
        }
    }

    /// POSTs `json` to `url` (after the admission gate), 2xx being success.
    async fn post(
        &self,
        url: &url::Url,
        headers: &[(String, String)],
        json: Vec<u8>,
        timeout: Duration,
    ) -> (Option<i64>, Result<(), DeliveryError>) {
        if let Err(refusal) = self.admission.check(url, Origin::Config, Purpose::Notify) {
            return (
                None,
                Err(DeliveryError::Refused {
                    url: url.to_string(),
                    reason: refusal.to_string(),
                }),
            );
        }
        let client = match &self.client {
            Ok(client) => client,
            Err(message) => {
                return (
                    None,
                    Err(DeliveryError::Request {
                        url: url.to_string(),
                        message: message.clone(),
                    }),
                );
            }
        };
        let mut request = client
            .post(url.clone())
            .timeout(timeout)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(json);
        for (name, value) in headers {
            request = request.header(name.as_str(), value.as_str());
        }
        let response = match request.send().await {
            Ok(r) => r,
            Err(e) if e.is_timeout() => {
                return (
                    None,
                    Err(DeliveryError::Timeout {
                        what: format!("webhook {url}"),
                        timeout,
                    }),
                );
            }
            Err(e) => {
                return (
                    None,
                    Err(DeliveryError::Request {
                        url: url.to_string(),
                        message: error_chain(&e),
                    }),
                );
            }
        };
        let status = response.status();
        if status.is_success() {
            return (Some(i64::from(status.as_u16())), Ok(()));
        }
        let body = match tokio::time::timeout(Duration::from_secs(2), response.text()).await {
            Ok(Ok(text)) => truncate(&text),
            _ => String::new(),
        };
        (
            Some(i64::from(status.as_u16())),
            Err(DeliveryError::Status {
                url: url.to_string(),
                status: status.as_u16(),
                body,
            }),
        )
    }
}

/// Runs `argv` (no shell) with `json` on stdin; exit status 0 is success. A program that
/// outlives `timeout` is killed.
async fn run_exec(
    argv: &[String],
    json: &[u8],
    timeout: Duration,
) -> (Option<i64>, Result<(), DeliveryError>) {
    let program = argv.first().cloned().unwrap_or_default();
    let mut child = match tokio::process::Command::new(&program)
        .args(argv.iter().skip(1))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
    {
        Ok(child) => child,
        Err(source) => return (None, Err(DeliveryError::Spawn { program, source })),
    };
    let stdin = child.stdin.take();
    let run = async move {
        if let Some(mut stdin) = stdin {
            // A program that does not read its stdin closes the pipe: not an error of ours.
            let _ = stdin.write_all(json).await;
            let _ = stdin.shutdown().await;
        }
        child.wait_with_output().await
    };
    match tokio::time::timeout(timeout, run).await {
        // Dropping the timed-out future drops the child, which kills it (kill_on_drop).
        Err(_) => (
            None,
            Err(DeliveryError::Timeout {
                what: format!("exec {program}"),
                timeout,
            }),
        ),
        Ok(Err(source)) => (None, Err(DeliveryError::Spawn { program, source })),
        Ok(Ok(output)) if output.status.success() => (Some(0), Ok(())),
        Ok(Ok(output)) => {
            use std::os::unix::process::ExitStatusExt;
            let code = output.status.code();
            let status = match (code, output.status.signal()) {
                (Some(code), _) => code.to_string(),
                (None, Some(signal)) => format!("signal {signal}"),
                (None, None) => "unknown".to_owned(),
            };
            (
                code.map(i64::from),
                Err(DeliveryError::Exit {
                    program,
                    status,
                    stderr: truncate(&String::from_utf8_lossy(&output.stderr)),
                }),
            )
        }
    }
}

fn truncate(text: &str) -> String {
    let text = text.trim();
    match text.char_indices().nth(ERROR_BYTES) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_owned(),
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

/// The daemon's notification worker: one task at a time working the queue, started again
/// at the next housekeeping tick after it runs out of due work, with a fresh [`Notifier`]
/// when the config was reloaded.
#[derive(Default)]
pub struct Worker {
    notifier: Option<Arc<Notifier>>,
    task: Option<tokio::task::JoinHandle<Result<NotifyRound, StoreError>>>,
    reader: Option<Reader>,
}

impl Worker {
    /// Starts a round unless one is running; updates the queue-depth gauge.
    pub fn tick(&mut self, config: &Arc<Config>, store: &Arc<Store>, metrics: &Arc<Metrics>) {
        if config.notify.is_empty() {
            return;
        }
        self.update_gauge(config, metrics);
        if let Some(task) = &self.task {
            if !task.is_finished() {
                return;
            }
            if let Some(task) = self.task.take()
                && let Some(Ok(Err(e))) = futures_util::FutureExt::now_or_never(task)
            {
                tracing::error!(error = %e, "notification worker failed");
            }
        }
        let notifier = match &self.notifier {
            Some(n) if Arc::ptr_eq(n.config(), config) => Arc::clone(n),
            _ => {
                let n = Arc::new(Notifier::new(
                    Arc::clone(config),
                    Arc::clone(store),
                    Some(Arc::clone(metrics)),
                ));
                self.notifier = Some(Arc::clone(&n));
                n
            }
        };
        self.task = Some(tokio::spawn(async move { notifier.process_due(false).await }));
    }

    fn update_gauge(&mut self, config: &Config, metrics: &Metrics) {
        if self.reader.is_none() {
            self.reader = Reader::open(&config.daemon.database).ok();
        }
        if let Some(reader) = &self.reader {
            match reader.notify_counts() {
                Ok(counts) => metrics.set_notifications_pending(counts.iter().map(|c| c.pending).sum()),
                Err(e) => tracing::debug!(error = %e, "cannot count pending notifications"),
            }
        }
    }

    /// Stops the worker: deliveries in flight are abandoned and stay `pending`, to be made
    /// again after the restart (at-least-once).
    pub async fn stop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
            let _ = task.await;
        }
    }
}

/// `feedcrawler notify status`: a header, then one tab-separated line per `[[notify]]`
/// (name, kind, pending, delivered, failed, last error), then a line for each name the
/// queue still holds rows of that the config no longer has.
pub fn status_table(config: &Config, reader: &Reader) -> Result<String, StoreError> {
    let counts = reader.notify_counts()?;
    let mut out = String::from("NAME\tTYPE\tPENDING\tDELIVERED\tFAILED\tLAST ERROR\n");
    let line = |out: &mut String, name: &str, kind: &str| {
        let c = counts
            .iter()
            .find(|c| c.notify == name)
            .cloned()
            .unwrap_or_default();
        out.push_str(&format!(
            "{name}\t{kind}\t{}\t{}\t{}\t{}\n",
            c.pending,
            c.delivered,
            c.failed,
            c.last_error.as_deref().unwrap_or("-").replace(['\n', '\t'], " ")
        ));
    };
    for n in &config.notify {
        let kind = match n.target {
            NotifyTarget::Exec(_) => "exec",
            NotifyTarget::Webhook { .. } => "webhook",
        };
        line(&mut out, &n.name, kind);
    }
    for c in counts
        .iter()
        .filter(|c| !config.notify.iter().any(|n| n.name == c.notify))
    {
        line(&mut out, &c.notify, "removed");
    }
    Ok(out)
}
