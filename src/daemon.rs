//! `feedcrawler run`: every enabled source polled on its own schedule until told to stop.
//!
//! One loop owns the due-time queue: it sleeps until the earliest source is due, starts
//! polls (bounded in number; each request further bounded by [`crate::politeness`]), takes
//! their results to reschedule, reloads the config on SIGHUP, pets the systemd watchdog and
//! notices share links queued by `add-link`. On SIGTERM it stops scheduling, gives polls in
//! flight [`SHUTDOWN_GRACE`] to finish and commit, and returns.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::sync::mpsc;
use tokio::task::{Id, JoinSet};
use tokio_util::sync::CancellationToken;

use crate::config::{Config, SourceConfig};
use crate::crawl::{self, CrawlError, PollContext, PollReport};
use crate::lease::HostLeases;
use crate::metrics::{self, Metrics, MetricsError};
use crate::scheduler::{self, DueQueue};
use crate::service::{self, Control};
use crate::share::{self, ShareRound};
use crate::store::{LeaseRequest, Reader, SourceState, Store, StoreError};

/// How long polls in flight may take to finish after SIGTERM.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);
/// How often the loop does its housekeeping (watchdog, status, share-link queue) at most.
const HOUSEKEEPING: Duration = Duration::from_secs(2);
/// The first wait after the database failed to take a poll's rows (disk full, read-only or
/// corrupt file); doubled at each failure in a row, up to [`DATABASE_BACKOFF_MAX`].
const DATABASE_BACKOFF: Duration = Duration::from_secs(5);
/// The longest wait between two tries of a failing database.
const DATABASE_BACKOFF_MAX: Duration = Duration::from_secs(300);
/// How often idle per-host limiter state is dropped.
const FORGET_IDLE_HOSTS: Duration = Duration::from_secs(600);

/// Why the daemon stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    /// Crawling could not go on (the database failed, the HTTP client could not be built).
    #[error(transparent)]
    Crawl(#[from] CrawlError),
    /// The metrics endpoint could not start.
    #[error(transparent)]
    Metrics(#[from] MetricsError),
}

impl From<StoreError> for DaemonError {
    fn from(e: StoreError) -> DaemonError {
        DaemonError::Crawl(CrawlError::Store(e))
    }
}

/// What a poll task hands back: the source's name and the poll's report.
type PollOutput = (String, Result<PollReport, StoreError>);

struct Daemon {
    config_path: PathBuf,
    context: PollContext,
    reader: Option<Reader>,
    /// When the per-source and queue gauges were last read from the database.
    operator_metrics_at: Option<std::time::Instant>,
    sources: HashMap<String, Arc<SourceConfig>>,
    states: HashMap<String, SourceState>,
    queue: DueQueue,
    polls: JoinSet<PollOutput>,
    polling: HashMap<Id, String>,
    metrics: Arc<Metrics>,
    pending_share_links: u64,
    /// The task working the share-link queue, while it runs.
    share_worker: Option<tokio::task::JoinHandle<Result<ShareRound, StoreError>>>,
    /// While the database fails: no poll starts before this instant, and how long the
    /// next wait will be.
    database_backoff: Option<(tokio::time::Instant, Duration)>,
    /// The task delivering `[[notify]]` notifications.
    notify_worker: crate::notify::Worker,
    /// `[retention]`: pruned at start-up, then daily.
    retention: crate::retention::Schedule,
    /// The hosts this daemon may poll (all of them unless the database is shared).
    leases: Arc<HostLeases>,
    /// The hosts of the config's enabled sources: what a renewal asks to lease (worked out
    /// when the config is applied, not at every renewal).
    source_hosts: Vec<String>,
}

/// Runs the daemon until `control` says stop (or closes). `config_path` is re-read on
/// reload; `config` is its current content.
pub async fn run(
    config_path: PathBuf,
    config: Config,
    store: Arc<Store>,
    mut control: mpsc::Receiver<Control>,
) -> Result<(), DaemonError> {
    let metrics = Metrics::new();
    let metrics_shutdown = CancellationToken::new();
    let metrics_server = match &config.metrics {
        Some(m) => Some(
            metrics::serve(m.listen, Arc::clone(&metrics), metrics_shutdown.clone())
                .await?
                .1,
        ),
        None => None,
    };
    let reader = Reader::open(&config.daemon.database)
        .map_err(|e| tracing::warn!(error = %e, "cannot open a reader; share links will not be noticed"))
        .ok();
    let requests_stop = CancellationToken::new();
    let context = PollContext::new(
        Arc::new(config),
        store,
        Some(Arc::clone(&metrics)),
        Duration::ZERO,
        requests_stop.clone(),
    )?;
    let retention = crate::retention::Schedule::new(&metrics);
    let leases = Arc::new(if context.config.daemon.database.is_shared() {
        HostLeases::for_daemon(context.config.daemon.lease_period)
    } else {
        HostLeases::unrestricted()
    });
    context.fetcher.politeness().set_leases(Arc::clone(&leases));
    let mut daemon = Daemon {
        config_path,
        context,
        reader,
        sources: HashMap::new(),
        states: HashMap::new(),
        queue: DueQueue::default(),
        polls: JoinSet::new(),
        polling: HashMap::new(),
        metrics,
        pending_share_links: 0,
        operator_metrics_at: None,
        share_worker: None,
        database_backoff: None,
        notify_worker: crate::notify::Worker::default(),
        retention,
        leases,
        source_hosts: Vec::new(),
    };
    daemon.apply_config().await?;
    if !daemon.leases.is_unrestricted() {
        tracing::info!(
            daemon = daemon.leases.daemon(),
            "sharing the database: polling the hosts leased to this daemon"
        );
        daemon.renew_leases().await;
    }
    service::ready(&daemon.status_line());
    tracing::info!(sources = daemon.queue.len(), "daemon started");

    let result = daemon.main_loop(&mut control).await;
    service::stopping();
    requests_stop.cancel();
    daemon.drain().await;
    metrics_shutdown.cancel();
    if let Some(server) = metrics_server {
        let _ = server.await;
    }
    tracing::info!("daemon stopped");
    result
}

impl Daemon {
    async fn main_loop(&mut self, control: &mut mpsc::Receiver<Control>) -> Result<(), DaemonError> {
        let mut housekeeping =
            tokio::time::interval(service::watchdog_interval().map_or(HOUSEKEEPING, |w| w.min(HOUSEKEEPING)));
        housekeeping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut forget = tokio::time::interval(FORGET_IDLE_HOSTS);
        let shared = !self.leases.is_unrestricted();
        let mut renew = tokio::time::interval(self.leases.renew_every().min(Duration::from_secs(3600)));
        renew.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        renew.reset();
        let max_polls = crate::crawl::polls_in_flight(&self.context.config);
        loop {
            let next_due = self.queue.next_due();
            let wait = next_due
                .map(|due| (due - Utc::now()).to_std().unwrap_or(Duration::ZERO))
                .unwrap_or(Duration::from_secs(3600));
            // While the database fails, polls wait for the next try (no busy loop).
            let held_until = self.database_backoff.map(|(until, _)| until);
            let wait = match held_until {
                Some(until) => wait.max(until.saturating_duration_since(tokio::time::Instant::now())),
                None => wait,
            };
            let can_start = self.polls.len() < max_polls;
            tokio::select! {
                biased;
                message = control.recv() => match message {
                    Some(Control::Reload) => self.reload().await?,
                    Some(Control::Shutdown) | None => return Ok(()),
                },
                Some(joined) = self.polls.join_next_with_id(), if !self.polls.is_empty() => {
                    self.finished(joined)?;
                }
                () = tokio::time::sleep(wait), if can_start && next_due.is_some() => {
                    self.start_due(max_polls);
                }
                _ = housekeeping.tick() => self.housekeeping(),
                _ = renew.tick(), if shared => self.renew_leases().await,
                _ = forget.tick() => self.context.fetcher.politeness().forget_idle(),
            }
        }
    }

    /// Syncs the config's sources into the database and (re)schedules them: stored
    /// `next_poll_at` where there is one, new sources spread over their first interval.
    async fn apply_config(&mut self) -> Result<(), DaemonError> {
        let config = Arc::clone(&self.context.config);
        self.source_hosts = crate::lease::source_hosts(&config);
        let states = self
            .context
            .store
            .sync_sources(crawl::source_specs(&config))
            .await?;
        crate::notify::install(&config, &self.context.store).await?;
        let now = Utc::now();
        let previous: HashSet<String> = self.sources.keys().cloned().collect();
        self.sources = config
            .sources
            .iter()
            .map(|s| (s.name.clone(), Arc::clone(s)))
            .collect();
        for name in previous.iter().filter(|n| !self.sources.contains_key(*n)) {
            tracing::info!(source = %name, "source removed from the config; no longer polled");
            self.queue.remove(name);
        }
        let new_sources: Vec<&SourceState> = states
            .iter()
            .filter(|s| s.next_poll_at.is_none() && s.disabled_reason.is_none())
            .collect();
        let mut new_index = HashMap::new();
        for (i, state) in new_sources.iter().enumerate() {
            new_index.insert(state.name.clone(), i);
        }
        let new_count = new_sources.len();
        let mut first_polls = Vec::new();
        let mut dues = Vec::new();
        self.states.clear();
        for state in states {
            let Some(source) = self.sources.get(&state.name).cloned() else {
                continue;
            };
            let name = state.name.clone();
            if !source.enabled || state.disabled_reason.is_some() {
                if let Some(reason) = &state.disabled_reason {
                    tracing::warn!(source = %name, reason, "source disabled until its config entry changes");
                }
                self.queue.remove(&name);
                self.states.insert(name, state);
                continue;
            }
            let interval = scheduler::base_interval(&config, &source, state.poll_interval);
            let due = match (state.next_poll_at, new_index.get(&name)) {
                // A changed interval takes effect now rather than after the old one ran out.
                (Some(stored), _) => stored.min(scheduler::after(now, interval)),
                (None, Some(&i)) => scheduler::first_poll_at(now, interval, i, new_count),
                (None, None) => now,
            };
            if state.next_poll_at.is_none() {
                first_polls.push((state.id, due));
            }
            dues.push(due);
            if !self.polling.values().any(|n| *n == name) {
                self.queue.schedule(&name, due);
            }
            self.states.insert(name, state);
        }
        if !first_polls.is_empty() {
            self.context.store.schedule_first_polls(first_polls).await?;
        }
        log_schedule(now, &dues);
        Ok(())
    }

    /// SIGHUP: re-read the config; keep the old one if the new one is invalid.
    async fn reload(&mut self) -> Result<(), DaemonError> {
        service::reloading(false);
        match Config::load(&self.config_path) {
            Ok(config) => {
                for warning in &config.warnings {
                    tracing::warn!("{warning}");
                }
                if config.metrics.as_ref().map(|m| m.listen)
                    != self.context.config.metrics.as_ref().map(|m| m.listen)
                {
                    tracing::warn!("[metrics] changes take effect at the next restart");
                }
                self.context = self.context.reloaded(Arc::new(config), Duration::ZERO)?;
                self.apply_config().await?;
                tracing::info!(sources = self.queue.len(), "config reloaded");
            }
            Err(e) => tracing::error!(error = %e, "config reload failed; keeping the running config"),
        }
        service::reloading(true);
        Ok(())
    }

    /// Renews this daemon's host leases; hosts it gained are treated as just asked (their
    /// rate holds across the handover) and their sources' stored schedules are read again
    /// (the daemon that held them polled them meanwhile).
    async fn renew_leases(&mut self) {
        let request = LeaseRequest {
            daemon: self.leases.daemon().to_owned(),
            hosts: self.source_hosts.clone(),
            period: self.leases.period(),
        };
        let grant = match self.context.store.lease_hosts(request).await {
            Ok(grant) => grant,
            Err(e) => {
                // The leases stay trusted until shortly before they expire, then nothing is
                // polled until a renewal succeeds.
                tracing::warn!(error = %e, "cannot renew host leases");
                return;
            }
        };
        let change = self.leases.apply(grant);
        for host in &change.acquired {
            self.context.fetcher.politeness().assume_just_asked(host);
        }
        let (held, daemons) = self.leases.held();
        self.metrics.set_leases(held.unwrap_or(0), daemons);
        if change.is_empty() {
            return;
        }
        tracing::info!(
            acquired = ?change.acquired,
            released = ?change.released,
            held = held.unwrap_or(0),
            daemons,
            "host leases changed"
        );
        if !change.acquired.is_empty()
            && let Err(e) = self.apply_config().await
        {
            tracing::warn!(error = %e, "cannot read the schedules of newly leased hosts");
        }
    }

    /// Whether this daemon may poll `source` now (its host is leased to it). A source of
    /// several hosts (share links) is left to the politeness gate, request by request.
    fn may_poll(&self, source: &SourceConfig) -> bool {
        match &source.url {
            Some(url) => url.host_str().is_none_or(|host| self.leases.allows(host)),
            None => true,
        }
    }

    fn start_due(&mut self, max_polls: usize) {
        let now = Utc::now();
        while self.polls.len() < max_polls {
            let Some(name) = self.queue.pop_due(now) else {
                break;
            };
            let (Some(source), Some(state)) =
                (self.sources.get(&name).cloned(), self.states.get(&name).cloned())
            else {
                continue;
            };
            if !self.may_poll(&source) {
                // Another daemon polls it; looked at again after the next renewal.
                self.queue
                    .schedule(&name, scheduler::after(now, self.leases.renew_every()));
                continue;
            }
            let context = self.context.clone();
            let task_name = name.clone();
            let handle = self.polls.spawn(async move {
                let result = crawl::poll_source(&context, &source, &state).await;
                (task_name, result)
            });
            self.polling.insert(handle.id(), name);
        }
    }

    fn finished(
        &mut self,
        joined: Result<(Id, PollOutput), tokio::task::JoinError>,
    ) -> Result<(), DaemonError> {
        match joined {
            Ok((id, (name, result))) => {
                self.polling.remove(&id);
                let report = match result {
                    Ok(report) => report,
                    Err(e @ StoreError::WriterGone { .. }) => return Err(e.into()),
                    Err(e) => {
                        self.database_failed(&name, &e);
                        return Ok(());
                    }
                };
                if self.database_backoff.take().is_some() {
                    tracing::info!("database writable again; polling resumes");
                    self.metrics.set_database_error(None);
                }
                let next = report.state.next_poll_at;
                self.states.insert(name.clone(), report.state);
                // A source removed or disabled while it was being polled is not rescheduled.
                let active = self.sources.get(&name).is_some_and(|s| s.enabled);
                if let (true, Some(next)) = (active, next) {
                    self.queue.schedule(&name, next);
                }
            }
            Err(e) => {
                // A panicking poll must not stop the daemon; the source tries again later.
                let name = self.polling.remove(&e.id());
                tracing::error!(source = ?name, error = %e, "poll task failed");
                if let Some(name) = name
                    && let Some(source) = self.sources.get(&name)
                {
                    let interval = self.context.config.source_interval(source);
                    self.queue.schedule(&name, scheduler::after(Utc::now(), interval));
                }
            }
        }
        Ok(())
    }

    /// The database could not take a poll's rows (disk full, a read-only or corrupt
    /// file): the error is logged, `/healthz` answers 503, the source is tried again, and no
    /// poll starts before a backoff that doubles while the failure lasts. The daemon goes
    /// on; the first poll stored again ends the backoff.
    fn database_failed(&mut self, name: &str, error: &StoreError) {
        let now = tokio::time::Instant::now();
        let wait = match self.database_backoff {
            // Polls that were in flight when the hold began fail in the same hold.
            Some((until, _)) if until > now => {
                if self.sources.get(name).is_some_and(|s| s.enabled) {
                    self.queue
                        .schedule(name, scheduler::after(Utc::now(), until - now));
                }
                return;
            }
            Some((_, last)) => (last * 2).min(DATABASE_BACKOFF_MAX),
            None => DATABASE_BACKOFF,
        };
        tracing::error!(
            source = name,
            error = %error,
            retry_in_secs = wait.as_secs(),
            "database cannot be written; polling paused"
        );
        self.metrics.set_database_error(Some(error.to_string()));
        self.database_backoff = Some((now + wait, wait));
        if self.sources.get(name).is_some_and(|s| s.enabled) {
            self.queue.schedule(name, scheduler::after(Utc::now(), wait));
        }
    }

    fn housekeeping(&mut self) {
        service::watchdog();
        // Read from the database, so only as often as a scrape could use them.
        if self.context.config.metrics.is_some()
            && self
                .operator_metrics_at
                .is_none_or(|at| at.elapsed() >= OPERATOR_METRICS_REFRESH)
            && let Some(reader) = &self.reader
        {
            self.operator_metrics_at = Some(std::time::Instant::now());
            refresh_operator_metrics(reader, &self.metrics);
        }
        self.metrics.set_schedule(
            self.queue.len() + self.polls.len(),
            self.queue.next_due(),
            self.sources.values().filter(|s| s.enabled).count(),
        );
        if let Some(reader) = &self.reader {
            match reader.pending_share_links() {
                Ok(pending) if pending != self.pending_share_links => {
                    if pending > self.pending_share_links {
                        tracing::info!(pending, "share links queued");
                    }
                    self.pending_share_links = pending;
                }
                Ok(_) => {}
                Err(e) => tracing::debug!(error = %e, "cannot count pending share links"),
            }
        }
        self.work_share_links();
        self.notify_worker
            .tick(&self.context.config, &self.context.store, &self.metrics);
        let context = &self.context;
        self.retention
            .tick(&context.store, &context.config.retention, &self.metrics);
        service::status(&self.status_line());
    }

    /// Keeps one task working the queues of owed work — second requests (retries and
    /// deferrals) and share links (new links, retries, rechecks): started again at the next
    /// housekeeping tick after it runs out of due work.
    fn work_share_links(&mut self) {
        // Not while the database fails: the worker would only fail again.
        if self
            .database_backoff
            .is_some_and(|(until, _)| until > tokio::time::Instant::now())
        {
            return;
        }
        if let Some(worker) = &self.share_worker {
            if !worker.is_finished() {
                return;
            }
            if let Some(worker) = self.share_worker.take()
                && let Some(Ok(Err(e))) = futures_util::FutureExt::now_or_never(worker)
            {
                tracing::error!(error = %e, "share-link worker failed");
            }
        }
        let context = self.context.clone();
        self.share_worker = Some(tokio::spawn(async move {
            // Second requests owed by polls (retries, deferrals, work left by a restart),
            // then share links: one worker for the work the crawler still owes.
            crate::page_jobs::process_due(&context, false).await?;
            share::process_due(&context, false).await
        }));
    }

    fn status_line(&self) -> String {
        let mut line = self.metrics.status_line();
        if self.pending_share_links > 0 {
            line.push_str(&format!(", {} share links pending", self.pending_share_links));
        }
        line
    }

    /// Lets polls in flight finish (and commit) for up to [`SHUTDOWN_GRACE`], then drops
    /// the rest: a dropped poll either committed whole or not at all.
    async fn drain(&mut self) {
        self.notify_worker.stop().await;
        // Polls still running may finish; no new request goes out (requests_stop), and the
        // hosts go to the other daemons at once rather than when the leases expire.
        if !self.leases.is_unrestricted()
            && let Err(e) = self
                .context
                .store
                .release_hosts(self.leases.daemon().to_owned())
                .await
        {
            tracing::warn!(error = %e, "cannot give back host leases; they expire by themselves");
        }
        self.retention.stop().await;
        if let Some(worker) = self.share_worker.take() {
            // Links in progress are retried after the restart: their state is unchanged.
            worker.abort();
            let _ = worker.await;
        }
        if self.polls.is_empty() {
            return;
        }
        tracing::info!(in_flight = self.polls.len(), "waiting for polls in flight");
        let finished = tokio::time::timeout(SHUTDOWN_GRACE, async {
            while let Some(joined) = self.polls.join_next_with_id().await {
                if let Err(e) = self.finished(joined) {
                    tracing::error!(error = %e, "poll failed during shutdown");
                }
            }
        })
        .await;
        if finished.is_err() {
            tracing::warn!(
                dropped = self.polls.len(),
                "shutdown grace over; dropping polls in flight"
            );
            self.polls.shutdown().await;
        }
    }
}

/// How often the per-source health and queue depth gauges are read from the database.
const OPERATOR_METRICS_REFRESH: Duration = Duration::from_secs(10);

/// Per-source failures and last success, and owed work, from the database into the gauges.
fn refresh_operator_metrics(reader: &Reader, metrics: &Metrics) {
    match reader.source_health() {
        Ok(rows) => metrics.set_source_health(
            rows.into_iter()
                .map(
                    |(name, consecutive_failures, last_success)| metrics::SourceHealth {
                        name,
                        consecutive_failures,
                        last_success: last_success
                            .and_then(|t| chrono::DateTime::parse_from_rfc3339(&t).ok())
                            .map(|t| t.timestamp()),
                    },
                )
                .collect(),
        ),
        Err(e) => tracing::debug!(error = %e, "cannot read source health for the metrics"),
    }
    match reader.queue_counts() {
        Ok(q) => metrics.set_work_queues(q.pages_pending, q.share_pending),
        Err(e) => tracing::debug!(error = %e, "cannot count owed work for the metrics"),
    }
}

/// One line saying when the scheduled sources are due, so that a fresh daemon does not
/// look idle while its new sources wait for their spread-out first polls.
fn log_schedule(now: chrono::DateTime<Utc>, dues: &[chrono::DateTime<Utc>]) {
    let due_now = dues.iter().filter(|d| **d <= now).count();
    let later = dues.iter().filter(|d| **d > now);
    match (later.clone().min(), later.max()) {
        (Some(first), Some(last)) => tracing::info!(
            sources = dues.len(),
            due_now,
            "{due_now} of {} sources due now, the others from {} to {}",
            dues.len(),
            crate::dates::format_utc(*first),
            crate::dates::format_utc(*last)
        ),
        _ => tracing::info!(
            sources = dues.len(),
            due_now,
            "{due_now} of {} sources due now",
            dues.len()
        ),
    }
}
