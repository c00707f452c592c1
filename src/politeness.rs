//! Politeness toward publishers: a rate limiter per host, pauses ordered by `Retry-After`,
//! robots.txt, and the cap on requests in flight.
//!
//! Every HTTP request the crawler makes — feed, page, robots.txt, each redirect hop —
//! passes [`Politeness::admit`] first, so no number of sources on one host can exceed that
//! host's rate. This module decides *whether and when* a request may go; it never sends
//! one itself (robots.txt bodies are handed to it by the fetcher).

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;

use crate::config::{Config, Rate};

/// A pause without `Retry-After` lasts this long (CONTRACT §6 *Pauses*).
pub const DEFAULT_PAUSE: Duration = Duration::from_secs(60);
/// No pause lasts longer than this, whatever the server asks.
pub const MAX_PAUSE: Duration = Duration::from_secs(3600);
/// How long a host's robots.txt is trusted before it is fetched again.
pub const ROBOTS_TTL: Duration = Duration::from_secs(24 * 3600);

/// Why a request may not go now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The host asked us to wait (429/503) until this time.
    Paused {
        /// The host.
        host: String,
        /// When the pause ends.
        until: DateTime<Utc>,
    },
    /// The process is shutting down: no new requests.
    ShuttingDown,
}

#[derive(Clone, Copy)]
struct Pause {
    until: Instant,
    until_utc: DateTime<Utc>,
}

/// A host's robots.txt verdicts, as cached.
enum Robots {
    /// No usable robots.txt (404, an error, unparsable): everything is allowed.
    AllowAll,
    /// The parsed rules.
    Rules(Box<texting_robots::Robot>),
}

struct RobotsEntry {
    robots: Robots,
    fetched: Instant,
}

/// The per-host state shared by every fetch of the process.
pub struct Politeness {
    /// One keyed limiter per distinct quota: the default and each `[[host]]` override.
    default_limiter: DefaultKeyedRateLimiter<String>,
    override_limiters: Vec<(String, DefaultKeyedRateLimiter<String>)>,
    pauses: Mutex<HashMap<String, Pause>>,
    /// Requests to one host queue for its tokens in arrival order, so that a busy host
    /// serves its sources in turn instead of whichever waiter wakes first.
    turns: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    shutdown: CancellationToken,
    robots: Mutex<HashMap<String, Arc<tokio::sync::Mutex<Option<RobotsEntry>>>>>,
    in_flight: Arc<Semaphore>,
    respect_robots: bool,
    robots_agent: String,
}

fn quota(rate: Rate, burst: u32) -> Quota {
    let count = rate.count.max(1);
    let period = (rate.per / count).max(Duration::from_nanos(1));
    let burst = NonZeroU32::new(burst.max(1)).unwrap_or(NonZeroU32::MIN);
    Quota::with_period(period)
        .unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN))
        .allow_burst(burst)
}

impl Politeness {
    /// Builds the limiters from `[rate_limit]`, `[[host]]` and `[http]`. Once `shutdown` is
    /// cancelled, no request is admitted any more.
    pub fn new(config: &Config, shutdown: CancellationToken) -> Politeness {
        let default_limiter = RateLimiter::keyed(quota(config.rate_limit.per_host, config.rate_limit.burst));
        let override_limiters = config
            .hosts
            .iter()
            .filter(|h| h.per_host.is_some() || h.burst.is_some())
            .map(|h| {
                let rate = h.per_host.unwrap_or(config.rate_limit.per_host);
                let burst = h.burst.unwrap_or(config.rate_limit.burst);
                (h.domain.clone(), RateLimiter::keyed(quota(rate, burst)))
            })
            .collect();
        // The robots.txt group we obey is the product token of our user agent.
        let robots_agent = config
            .http
            .user_agent
            .split(['/', ' '])
            .next()
            .filter(|t| !t.is_empty())
            .unwrap_or("feedcrawler")
            .to_owned();
        Politeness {
            default_limiter,
            override_limiters,
            pauses: Mutex::default(),
            turns: Mutex::default(),
            shutdown,
            robots: Mutex::default(),
            in_flight: Arc::new(Semaphore::new(config.http.concurrency.max(1))),
            respect_robots: config.http.respect_robots,
            robots_agent,
        }
    }

    /// Waits until a request to `host` may go: the host's pause (if it ends within
    /// `max_pause_wait`; otherwise refused), then a token from its limiter, then a slot
    /// among the requests in flight. Hold the permit until the response body is read.
    pub async fn admit(&self, host: &str, max_pause_wait: Duration) -> Result<OwnedSemaphorePermit, Refusal> {
        tokio::select! {
            biased;
            () = self.shutdown.cancelled() => Err(Refusal::ShuttingDown),
            admitted = self.wait_turn(host, max_pause_wait) => admitted,
        }
    }

    async fn wait_turn(&self, host: &str, max_pause_wait: Duration) -> Result<OwnedSemaphorePermit, Refusal> {
        let turn = Arc::clone(
            self.turns
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .entry(host.to_owned())
                .or_default(),
        );
        let my_turn = turn.lock().await;
        loop {
            if let Some(pause) = self.pause_of(host) {
                let now = Instant::now();
                if pause.until > now {
                    if pause.until - now > max_pause_wait {
                        return Err(Refusal::Paused {
                            host: host.to_owned(),
                            until: pause.until_utc,
                        });
                    }
                    tokio::time::sleep_until(pause.until.into()).await;
                }
            }
            self.limiter_for(host).until_key_ready(&host.to_owned()).await;
            // A 429 that arrived while we waited for the token still counts.
            if self.pause_of(host).is_some_and(|p| p.until > Instant::now()) {
                continue;
            }
            drop(my_turn);
            return Arc::clone(&self.in_flight)
                .acquire_owned()
                .await
                .map_err(|_| Refusal::ShuttingDown);
        }
    }

    fn limiter_for(&self, host: &str) -> &DefaultKeyedRateLimiter<String> {
        self.override_limiters
            .iter()
            .filter(|(domain, _)| crate::config::host_matches(domain, host))
            .max_by_key(|(domain, _)| domain.len())
            .map_or(&self.default_limiter, |(_, limiter)| limiter)
    }

    fn pause_of(&self, host: &str) -> Option<Pause> {
        self.pauses
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(host)
            .copied()
    }

    /// Pauses `host` after a 429 or 503, for `Retry-After` (seconds or an HTTP date), else
    /// [`DEFAULT_PAUSE`], at most [`MAX_PAUSE`]. Returns when the pause ends.
    pub fn pause(&self, host: &str, retry_after: Option<&str>, now: DateTime<Utc>) -> DateTime<Utc> {
        let wait = retry_after
            .and_then(|v| parse_retry_after(v, now))
            .unwrap_or(DEFAULT_PAUSE)
            .min(MAX_PAUSE);
        let until_utc = now + chrono::Duration::from_std(wait).unwrap_or_default();
        let pause = Pause {
            until: Instant::now() + wait,
            until_utc,
        };
        let mut pauses = self.pauses.lock().unwrap_or_else(PoisonError::into_inner);
        pauses.retain(|_, p| p.until > Instant::now());
        let entry = pauses.entry(host.to_owned()).or_insert(pause);
        if entry.until < pause.until {
            *entry = pause;
        }
        tracing::info!(host, until = %entry.until_utc, "host paused");
        entry.until_utc
    }

    /// When `host`'s pause ends, if it is paused now.
    pub fn paused_until(&self, host: &str) -> Option<DateTime<Utc>> {
        self.pause_of(host)
            .filter(|p| p.until > Instant::now())
            .map(|p| p.until_utc)
    }

    /// Whether robots.txt is consulted at all (`[http] respect_robots`).
    pub fn respects_robots(&self) -> bool {
        self.respect_robots
    }

    /// The cache slot of `origin`'s robots.txt. Lock it: if it is empty or stale, fetch
    /// robots.txt and [`RobotsSlot::store`] it while holding the lock, so that a host's
    /// robots.txt is fetched once however many requests wait for it.
    pub fn robots_slot(&self, origin: &str) -> RobotsSlot {
        let slot = Arc::clone(
            self.robots
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .entry(origin.to_owned())
                .or_default(),
        );
        RobotsSlot {
            slot,
            agent: self.robots_agent.clone(),
        }
    }

    /// Drops limiter state of hosts not seen for a while, so that a crawl of many hosts
    /// seen once does not grow without bound.
    pub fn forget_idle(&self) {
        self.default_limiter.retain_recent();
        for (_, limiter) in &self.override_limiters {
            limiter.retain_recent();
        }
        self.pauses
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|_, p| p.until > Instant::now());
        self.turns
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|_, turn| Arc::strong_count(turn) > 1);
    }
}

/// A host's cached robots.txt (see [`Politeness::robots_slot`]).
pub struct RobotsSlot {
    slot: Arc<tokio::sync::Mutex<Option<RobotsEntry>>>,
    agent: String,
}

/// A locked [`RobotsSlot`].
pub struct RobotsGuard<'a> {
    guard: tokio::sync::MutexGuard<'a, Option<RobotsEntry>>,
    agent: &'a str,
}

impl RobotsSlot {
    /// Locks the slot.
    pub async fn lock(&self) -> RobotsGuard<'_> {
        RobotsGuard {
            guard: self.slot.lock().await,
            agent: &self.agent,
        }
    }
}

impl RobotsGuard<'_> {
    /// Whether the cached robots.txt is missing or older than [`ROBOTS_TTL`].
    pub fn needs_fetch(&self) -> bool {
        self.guard
            .as_ref()
            .is_none_or(|e| e.fetched.elapsed() > ROBOTS_TTL)
    }

    /// Stores a fetched robots.txt: `Some(body)` for a 2xx answer, `None` for anything else
    /// (a missing or broken robots.txt allows everything).
    pub fn store(&mut self, body: Option<&[u8]>) {
        let robots = match body.map(|b| texting_robots::Robot::new(self.agent, b)) {
            Some(Ok(robot)) => Robots::Rules(Box::new(robot)),
            Some(Err(e)) => {
                tracing::debug!(error = %e, "unparsable robots.txt; allowing all");
                Robots::AllowAll
            }
            None => Robots::AllowAll,
        };
        *self.guard = Some(RobotsEntry {
            robots,
            fetched: Instant::now(),
        });
    }

    /// Whether `url` may be fetched.
    pub fn allows(&self, url: &str) -> bool {
        match self.guard.as_ref().map(|e| &e.robots) {
            Some(Robots::Rules(robot)) => robot.allowed(url),
            Some(Robots::AllowAll) | None => true,
        }
    }
}

/// `Retry-After` as a wait from `now`: delta-seconds or an HTTP date.
pub fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = DateTime::parse_from_rfc2822(value).ok()?.with_timezone(&Utc);
    Some((at - now).to_std().unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_in_seconds_and_as_a_date() {
        let now = DateTime::parse_from_rfc3339("2022-04-19T04:22:44Z")
            .map(|t| t.with_timezone(&Utc))
            .expect("literal");
        assert_eq!(parse_retry_after("3", now), Some(Duration::from_secs(3)));
        assert_eq!(
            parse_retry_after("Tue, 19 Apr 2022 04:23:44 GMT", now),
            Some(Duration::from_secs(60))
        );
        assert_eq!(
            parse_retry_after("Tue, 19 Apr 2022 04:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
    }

    #[tokio::test]
    async fn a_pause_refuses_requests_that_cannot_wait() {
        let config = Config::parse("", std::path::Path::new("t.toml")).expect("empty config is valid");
        let politeness = Politeness::new(&config, CancellationToken::new());
        let until = politeness.pause("example.org", Some("120"), Utc::now());
        assert_eq!(
            politeness
                .admit("example.org", Duration::from_secs(60))
                .await
                .err(),
            Some(Refusal::Paused {
                host: "example.org".into(),
                until
            })
        );
        assert!(politeness.admit("other.org", Duration::ZERO).await.is_ok());
    }

    #[tokio::test]
    async fn robots_rules_are_cached_per_origin() {
        let config = Config::parse("", std::path::Path::new("t.toml")).expect("empty config is valid");
        let politeness = Politeness::new(&config, CancellationToken::new());
        let slot = politeness.robots_slot("http://example.org");
        let mut guard = slot.lock().await;
        assert!(guard.needs_fetch());
        guard.store(Some(b"User-agent: *\nDisallow: /private/\n"));
        assert!(!guard.needs_fetch());
        assert!(guard.allows("http://example.org/feed.xml"));
        assert!(!guard.allows("http://example.org/private/feed.xml"));
    }
}
