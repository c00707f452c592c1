//! What operators watch for months (issue 15): per-source last success and failures in a
//! row, how long requests take, and how much owed work waits. Rendered after the core
//! families of [`super::Metrics::render`].

use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::{GAUGE, escape_label_value, lock};

/// Upper bounds (seconds) of the fetch duration histogram: from a quick 304 to a page that
/// takes most of the default 20 s timeout.
const BUCKETS: [f64; 10] = [0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0];

/// One source as the database last showed it.
#[derive(Clone, Debug, PartialEq)]
pub struct SourceHealth {
    /// `sources.name`.
    pub name: String,
    /// Failed polls in a row.
    pub consecutive_failures: i64,
    /// Unix seconds of the last successful poll, if any.
    pub last_success: Option<i64>,
}

/// The operator-facing families.
#[derive(Default)]
pub(super) struct OperatorMetrics {
    /// Requests per bucket (not cumulative; summed when rendered), then +Inf.
    buckets: Mutex<[u64; BUCKETS.len() + 1]>,
    /// Sum of all durations, in microseconds.
    duration_sum_micros: AtomicU64,
    /// Enabled sources, refreshed from the database by the daemon.
    sources: Mutex<Vec<SourceHealth>>,
    page_jobs_pending: AtomicU64,
    share_links_pending: AtomicU64,
    /// Hosts leased to this daemon and daemons alive, plus one (0: not in a cluster).
    leased_hosts: AtomicU64,
    cluster_daemons: AtomicU64,
}

impl OperatorMetrics {
    pub(super) fn record_fetch_duration(&self, duration: Duration) {
        let seconds = duration.as_secs_f64();
        let slot = BUCKETS
            .iter()
            .position(|b| seconds <= *b)
            .unwrap_or(BUCKETS.len());
        lock(&self.buckets)[slot] += 1;
        let micros = u64::try_from(duration.as_micros()).unwrap_or(u64::MAX);
        self.duration_sum_micros.fetch_add(micros, Ordering::Relaxed);
    }

    pub(super) fn set_sources(&self, sources: Vec<SourceHealth>) {
        *lock(&self.sources) = sources;
    }

    pub(super) fn set_leases(&self, hosts: usize, daemons: usize) {
        self.leased_hosts.store(hosts as u64 + 1, Ordering::Relaxed);
        self.cluster_daemons.store(daemons as u64 + 1, Ordering::Relaxed);
    }

    pub(super) fn set_queues(&self, page_jobs_pending: u64, share_links_pending: u64) {
        self.page_jobs_pending.store(page_jobs_pending, Ordering::Relaxed);
        self.share_links_pending
            .store(share_links_pending, Ordering::Relaxed);
    }

    /// Appends the families, in name order, in the text exposition format.
    pub(super) fn render(&self, out: &mut String) {
        let gauge = |out: &mut String, name: &str, help: &str, value: u64| {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} {GAUGE}");
            let _ = writeln!(out, "{name} {value}");
        };
        // Only a daemon sharing a PostgreSQL database has leases.
        let daemons = self.cluster_daemons.load(Ordering::Relaxed);
        if daemons > 0 {
            gauge(
                out,
                "feedcrawler_cluster_daemons",
                "Daemons alive on the shared database at the last lease renewal, this one included.",
                daemons - 1,
            );
        }
        let buckets = *lock(&self.buckets);
        let name = "feedcrawler_fetch_duration_seconds";
        let _ = writeln!(
            out,
            "# HELP {name} Time from sending a request until its body was read."
        );
        let _ = writeln!(out, "# TYPE {name} histogram");
        let mut cumulative = 0;
        for (bound, count) in BUCKETS.iter().zip(buckets) {
            cumulative += count;
            let _ = writeln!(out, "{name}_bucket{{le=\"{bound}\"}} {cumulative}");
        }
        cumulative += buckets[BUCKETS.len()];
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {cumulative}");
        let sum = self.duration_sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
        let _ = writeln!(out, "{name}_sum {sum}");
        let _ = writeln!(out, "{name}_count {cumulative}");

        let hosts = self.leased_hosts.load(Ordering::Relaxed);
        if hosts > 0 {
            gauge(
                out,
                "feedcrawler_leased_hosts",
                "Hosts leased to this daemon: the only ones it polls.",
                hosts - 1,
            );
        }
        gauge(
            out,
            "feedcrawler_page_jobs_pending",
            "Second requests (article pages, detail bodies) waiting to be fetched.",
            self.page_jobs_pending.load(Ordering::Relaxed),
        );
        gauge(
            out,
            "feedcrawler_share_links_pending",
            "Share links waiting to be fetched.",
            self.share_links_pending.load(Ordering::Relaxed),
        );

        let sources = lock(&self.sources).clone();
        let name = "feedcrawler_source_consecutive_failures";
        let _ = writeln!(
            out,
            "# HELP {name} Failed polls in a row by source (0 after a success)."
        );
        let _ = writeln!(out, "# TYPE {name} {GAUGE}");
        for s in &sources {
            let label = escape_label_value(&s.name);
            let _ = writeln!(out, "{name}{{source=\"{label}\"}} {}", s.consecutive_failures);
        }
        let name = "feedcrawler_source_last_success_timestamp_seconds";
        let _ = writeln!(
            out,
            "# HELP {name} Unix time of the source's last successful poll; absent before the first."
        );
        let _ = writeln!(out, "# TYPE {name} {GAUGE}");
        for s in &sources {
            if let Some(at) = s.last_success {
                let label = escape_label_value(&s.name);
                let _ = writeln!(out, "{name}{{source=\"{label}\"}} {at}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_histogram_queues_and_sources() {
        let m = OperatorMetrics::default();
        m.record_fetch_duration(Duration::from_millis(40));
        m.record_fetch_duration(Duration::from_millis(300));
        m.record_fetch_duration(Duration::from_secs(60));
        m.set_queues(3, 1);
        m.set_sources(vec![
            SourceHealth {
                name: "zqrb".into(),
                consecutive_failures: 0,
                last_success: Some(1_764_729_256),
            },
            SourceHealth {
                name: "new \"one\"".into(),
                consecutive_failures: 2,
                last_success: None,
            },
        ]);
        let mut out = String::new();
        m.render(&mut out);
        for line in [
            "feedcrawler_fetch_duration_seconds_bucket{le=\"0.05\"} 1",
            "feedcrawler_fetch_duration_seconds_bucket{le=\"0.25\"} 1",
            "feedcrawler_fetch_duration_seconds_bucket{le=\"0.5\"} 2",
            "feedcrawler_fetch_duration_seconds_bucket{le=\"30\"} 2",
            "feedcrawler_fetch_duration_seconds_bucket{le=\"+Inf\"} 3",
            "feedcrawler_fetch_duration_seconds_sum 60.34",
            "feedcrawler_fetch_duration_seconds_count 3",
            "# TYPE feedcrawler_fetch_duration_seconds histogram",
            "feedcrawler_page_jobs_pending 3",
            "feedcrawler_share_links_pending 1",
            "feedcrawler_source_consecutive_failures{source=\"zqrb\"} 0",
            "feedcrawler_source_consecutive_failures{source=\"new \\\"one\\\"\"} 2",
            "feedcrawler_source_last_success_timestamp_seconds{source=\"zqrb\"} 1764729256",
        ] {
            assert!(out.lines().any(|l| l == line), "missing {line:?} in\n{out}");
        }
        assert!(!out.contains("last_success_timestamp_seconds{source=\"new"));
    }
}
