//! When each source is polled next: the due-time queue and the interval policy.
//!
//! The queue is a binary heap keyed by `next_poll_at`, so the daemon sleeps until the
//! earliest due source instead of scanning every source each tick (100,000 idle sources
//! cost nothing). The policy turns a poll's result into the next poll time: the source's
//! interval, or with `[schedule] adaptive` one derived from how often the feed publishes
//! (Miniflux's entry-frequency idea), exponential backoff on failure up to `max_backoff`,
//! `jitter` to spread polls, and never before a host's `Retry-After` pause ends. Pure: the
//! clock and the random source are passed in.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::config::{Config, SourceConfig};

/// The window over which the publishing rate is observed.
const RATE_WINDOW: Duration = Duration::from_secs(7 * 24 * 3600);

/// Sources ordered by when they are due. A source is in the queue at most once:
/// rescheduling replaces its earlier entry.
#[derive(Default)]
pub struct DueQueue {
    heap: BinaryHeap<Reverse<(DateTime<Utc>, u64)>>,
    /// The live entry's sequence number → source name; stale heap entries are skipped.
    entries: HashMap<u64, String>,
    by_name: HashMap<String, u64>,
    next_seq: u64,
}

impl DueQueue {
    /// Puts `source` in the queue at `due`, replacing any earlier entry of it.
    pub fn schedule(&mut self, source: &str, due: DateTime<Utc>) {
        self.remove(source);
        let seq = self.next_seq;
        self.next_seq += 1;
        self.heap.push(Reverse((due, seq)));
        self.entries.insert(seq, source.to_owned());
        self.by_name.insert(source.to_owned(), seq);
    }

    /// Takes `source` out of the queue.
    pub fn remove(&mut self, source: &str) {
        if let Some(seq) = self.by_name.remove(source) {
            self.entries.remove(&seq);
        }
    }

    /// How many sources are waiting.
    pub fn len(&self) -> usize {
        self.by_name.len()
    }

    /// Whether no source is waiting.
    pub fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }

    /// When the earliest source is due.
    pub fn next_due(&mut self) -> Option<DateTime<Utc>> {
        while let Some(Reverse((due, seq))) = self.heap.peek() {
            if self.entries.contains_key(seq) {
                return Some(*due);
            }
            self.heap.pop();
        }
        None
    }

    /// Takes the earliest source if it is due at `now`.
    pub fn pop_due(&mut self, now: DateTime<Utc>) -> Option<String> {
        let due = self.next_due()?;
        if due > now {
            return None;
        }
        let Reverse((_, seq)) = self.heap.pop()?;
        let name = self.entries.remove(&seq)?;
        self.by_name.remove(&name);
        Some(name)
    }
}

/// What a poll came to, as far as scheduling cares.
#[derive(Clone, Debug)]
pub enum PollResult {
    /// Fetched and parsed; the publication times of the entries it carried.
    Fetched {
        /// Publication times of the feed's entries.
        published: Vec<DateTime<Utc>>,
    },
    /// 304: nothing new.
    NotModified,
    /// Failed; this many failures in a row now (1 for the first).
    Failed {
        /// Consecutive failures including this one.
        consecutive_failures: u32,
    },
}

/// The interval a source is polled at when it is healthy: its own `interval`; else, with
/// `adaptive`, the one last derived from its publishing rate; else `[schedule].interval`.
pub fn base_interval(
    config: &Config,
    source: &SourceConfig,
    adaptive_interval: Option<Duration>,
) -> Duration {
    if source.interval.is_some() || !config.schedule.adaptive {
        return config.source_interval(source);
    }
    adaptive_interval.unwrap_or_else(|| config.source_interval(source))
}

/// The adaptive interval from a feed's entry times: the average gap between the entries of
/// the last week (counted up to now), between `min_interval` and `max_interval`. A feed
/// with nothing from the last week is polled at `max_interval`.
pub fn adaptive_interval(config: &Config, published: &[DateTime<Utc>], now: DateTime<Utc>) -> Duration {
    let window_start = now - chrono::Duration::from_std(RATE_WINDOW).unwrap_or_default();
    let recent: Vec<_> = published
        .iter()
        .filter(|t| **t > window_start && **t <= now)
        .collect();
    let Some(oldest) = recent.iter().min() else {
        return config.schedule.max_interval;
    };
    let span = (now - **oldest).to_std().unwrap_or_default();
    (span / recent.len() as u32).clamp(config.schedule.min_interval, config.schedule.max_interval)
}

/// The delay before the next poll: `base` when healthy, doubled per consecutive failure up
/// to `max_backoff`, then spread by ±`jitter` (`unit_random` in [0, 1)).
pub fn next_delay(config: &Config, base: Duration, result: &PollResult, unit_random: f64) -> Duration {
    let delay = match result {
        PollResult::Failed { consecutive_failures } => {
            let factor = 2u32.saturating_pow((*consecutive_failures).min(31));
            base.saturating_mul(factor)
                .min(config.schedule.max_backoff.max(base))
        }
        PollResult::Fetched { .. } | PollResult::NotModified => base,
    };
    let jitter = config.schedule.jitter.clamp(0.0, 1.0);
    if jitter == 0.0 {
        return delay;
    }
    let factor = 1.0 + jitter * (2.0 * unit_random.clamp(0.0, 1.0) - 1.0);
    delay.mul_f64(factor.max(0.0))
}

/// `at + d`, saturating at the end of time.
pub fn after(at: DateTime<Utc>, d: Duration) -> DateTime<Utc> {
    chrono::Duration::from_std(d)
        .ok()
        .and_then(|d| at.checked_add_signed(d))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// Spreads `count` sources new to the database over `interval`: the i-th is due at
/// `now + interval·i/count`, so that the first polls at once and the rest do not all fire at
/// start-up.
pub fn first_poll_at(now: DateTime<Utc>, interval: Duration, index: usize, count: usize) -> DateTime<Utc> {
    if count == 0 {
        return now;
    }
    let offset = interval.mul_f64(index as f64 / count as f64);
    after(now, offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(extra: &str) -> Config {
        Config::parse(
            &format!("[schedule]\ninterval = \"10m\"\nmin_interval = \"1m\"\nmax_interval = \"6h\"\n{extra}"),
            std::path::Path::new("t.toml"),
        )
        .expect("valid test config")
    }

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .map(|t| t.with_timezone(&Utc))
            .expect("literal time")
    }

    #[test]
    fn queue_pops_in_due_order_and_replaces_entries() {
        let mut q = DueQueue::default();
        q.schedule("b", t("2022-04-19T00:00:02Z"));
        q.schedule("a", t("2022-04-19T00:00:01Z"));
        q.schedule("c", t("2022-04-19T00:00:03Z"));
        q.schedule("a", t("2022-04-19T00:00:05Z"));
        assert_eq!(q.len(), 3);
        assert_eq!(q.next_due(), Some(t("2022-04-19T00:00:02Z")));
        let now = t("2022-04-19T00:00:04Z");
        assert_eq!(q.pop_due(now).as_deref(), Some("b"));
        assert_eq!(q.pop_due(now).as_deref(), Some("c"));
        assert_eq!(q.pop_due(now), None);
        q.remove("a");
        assert!(q.is_empty());
        assert_eq!(q.next_due(), None);
    }

    #[test]
    fn failures_back_off_exponentially_up_to_the_cap() {
        let c = config("jitter = 0.0\nmax_backoff = \"1h\"");
        let base = Duration::from_secs(600);
        let delays: Vec<_> = (1..=4)
            .map(|n| {
                next_delay(
                    &c,
                    base,
                    &PollResult::Failed {
                        consecutive_failures: n,
                    },
                    0.5,
                )
            })
            .collect();
        assert_eq!(
            delays,
            vec![
                Duration::from_secs(1200),
                Duration::from_secs(2400),
                Duration::from_secs(3600),
                Duration::from_secs(3600)
            ]
        );
        assert_eq!(next_delay(&c, base, &PollResult::NotModified, 0.5), base);
    }

    #[test]
    fn jitter_spreads_within_bounds() {
        let c = config("jitter = 0.1");
        let base = Duration::from_secs(1000);
        assert_eq!(
            next_delay(&c, base, &PollResult::NotModified, 0.0),
            Duration::from_secs(900)
        );
        assert_eq!(
            next_delay(&c, base, &PollResult::NotModified, 0.5),
            Duration::from_secs(1000)
        );
    }

    #[test]
    fn adaptive_interval_follows_the_publishing_rate() {
        let c = config("");
        let now = t("2022-04-19T12:00:00Z");
        // Twelve posts over the last two hours: one every ten minutes.
        let busy: Vec<_> = (0..12)
            .map(|i| now - chrono::Duration::minutes(10 * i + 10))
            .collect();
        assert_eq!(adaptive_interval(&c, &busy, now), Duration::from_secs(600));
        let quiet = vec![now - chrono::Duration::days(30)];
        assert_eq!(adaptive_interval(&c, &quiet, now), Duration::from_secs(6 * 3600));
        let flood: Vec<_> = (0..100).map(|i| now - chrono::Duration::seconds(i)).collect();
        assert_eq!(adaptive_interval(&c, &flood, now), Duration::from_secs(60));
    }

    #[test]
    fn new_sources_are_spread_over_their_first_interval() {
        let now = t("2022-04-19T00:00:00Z");
        let interval = Duration::from_secs(600);
        assert_eq!(first_poll_at(now, interval, 0, 4), now);
        assert_eq!(first_poll_at(now, interval, 2, 4), t("2022-04-19T00:05:00Z"));
    }
}
