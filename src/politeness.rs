//! Politeness toward publishers: a rate limiter per host, pauses ordered by `Retry-After`,
//! robots.txt, and the cap on requests in flight.
//!
//! Every HTTP request the crawler makes — feed, page, robots.txt, each redirect hop —
//! passes [`Politeness::admit`] first, so no number of sources on one host can exceed that
//! host's rate. This module decides *whether and when* a request may go; it never sends
//! one itself (robots.txt bodies are handed to it by the fetcher).

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;

use crate::config::{Config, Rate};
use crate::lease::HostLeases;

/// A pause without `Retry-After` lasts this long (CONTRACT §6 *Pauses*).
pub const DEFAULT_PAUSE: Duration = Duration::from_secs(60);
/// No pause lasts longer than this, whatever the server asks.
pub const MAX_PAUSE: Duration = Duration::from_secs(3600);
/// How long a host's robots.txt is trusted before it is fetched again.
pub const ROBOTS_TTL: Duration = Duration::from_secs(24 * 3600);
/// A robots.txt that could not be had (5xx, a timeout, a network error) disallows the whole
/// host for this long, then it is fetched again (RFC 9309 §2.3.1.4; CONTRACT §7 says within
/// an hour).
pub const ROBOTS_UNAVAILABLE_TTL: Duration = Duration::from_secs(15 * 60);
/// At most this much of a robots.txt is parsed (RFC 9309 §2.5: at least 500 KiB).
pub const ROBOTS_MAX_BYTES: usize = 500 * 1024;
/// `Crawl-delay` is obeyed up to this many seconds: a longer one would hold the host's
/// queue (and the daemon's polls waiting in it) for longer than any pause may last.
pub const MAX_CRAWL_DELAY: Duration = Duration::from_secs(60);

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
    /// Another daemon of the cluster holds the host ([`crate::lease`]).
    NotLeased {
        /// The host.
        host: String,
    },
}

#[derive(Clone, Copy)]
struct Pause {
    until: Instant,
    until_utc: DateTime<Utc>,
}

/// A host's robots.txt verdicts, as cached.
enum Robots {
    /// A 4xx answer (or an unparsable file): everything is allowed.
    AllowAll,
    /// 5xx, a timeout or a network error: nothing is allowed until it is fetched again.
    DisallowAll,
    /// The parsed rules.
    Rules(Box<texting_robots::Robot>),
}

struct RobotsEntry {
    robots: Robots,
    fetched: Instant,
}

impl RobotsEntry {
    fn expired(&self) -> bool {
        let ttl = match self.robots {
            Robots::DisallowAll => ROBOTS_UNAVAILABLE_TTL,
            _ => ROBOTS_TTL,
        };
        self.fetched.elapsed() > ttl
    }
}

/// What a robots.txt request came to (CONTRACT §7).
#[derive(Debug)]
pub enum RobotsAnswer<'a> {
    /// A 2xx body.
    Body(&'a [u8]),
    /// A 4xx status (or a redirect chain that ended nowhere): allow everything.
    NotFound,
    /// A 5xx status, a timeout, a network error or a refused request: disallow everything.
    Unavailable,
}

/// A keyed limiter shared by the hosts of one quota.
type Limiter = Arc<DefaultKeyedRateLimiter<String>>;

/// The limiters in force: the default one and one per `[[host]]` override with a quota of
/// its own. A reload swaps this whole value, reusing every limiter whose quota is unchanged
/// (so its hosts' token state survives).
struct Limiters {
    default: (Quota, Limiter),
    overrides: Vec<(String, Quota, Limiter)>,
}

impl Limiters {
    fn from_config(config: &Config, previous: Option<&Limiters>) -> Limiters {
        let reuse = |domain: Option<&str>, quota: Quota| -> Limiter {
            let old = previous.and_then(|p| match domain {
                None => (p.default.0 == quota).then(|| Arc::clone(&p.default.1)),
                Some(d) => p
                    .overrides
                    .iter()
                    .find(|(od, oq, _)| od == d && *oq == quota)
                    .map(|(_, _, l)| Arc::clone(l)),
            });
            old.unwrap_or_else(|| Arc::new(RateLimiter::keyed(quota)))
        };
        let default_quota = quota(config.rate_limit.per_host, config.rate_limit.burst);
        let overrides = config
            .hosts
            .iter()
            .filter(|h| h.per_host.is_some() || h.burst.is_some())
            .map(|h| {
                let rate = h.per_host.unwrap_or(config.rate_limit.per_host);
                let burst = h.burst.unwrap_or(config.rate_limit.burst);
                let q = quota(rate, burst);
                (h.domain.clone(), q, reuse(Some(&h.domain), q))
            })
            .collect();
        Limiters {
            default: (default_quota, reuse(None, default_quota)),
            overrides,
        }
    }

    /// The limiter and quota of `host`: the longest matching `[[host]]` override, else the
    /// default.
    fn for_host(&self, host: &str) -> (Quota, Limiter) {
        self.overrides
            .iter()
            .filter(|(domain, _, _)| crate::config::host_matches(domain, host))
            .max_by_key(|(domain, _, _)| domain.len())
            .map_or_else(
                || (self.default.0, Arc::clone(&self.default.1)),
                |(_, q, l)| (*q, Arc::clone(l)),
            )
    }
}

/// Settings a reload may change.
struct Settings {
    respect_robots: bool,
    robots_agent: String,
    concurrency: usize,
}

/// A host's turn: requests to one host queue for it in arrival order, and it remembers when
/// the host's last request went (for `Crawl-delay`).
type Turn = Arc<tokio::sync::Mutex<Option<Instant>>>;

/// The per-host state shared by every fetch of the process. It outlives config reloads:
/// [`Politeness::reconfigure`] changes quotas in place and keeps pauses, limiter state,
/// robots.txt and crawl delays.
pub struct Politeness {
    limiters: RwLock<Limiters>,
    pauses: Mutex<HashMap<String, Pause>>,
    /// Requests to one host queue for its tokens in arrival order, so that a busy host
    /// serves its sources in turn instead of whichever waiter wakes first.
    turns: Mutex<HashMap<String, Turn>>,
    /// `Crawl-delay` per host, from its robots.txt, when slower than its quota.
    crawl_delays: Mutex<HashMap<String, (Duration, Instant)>>,
    shutdown: CancellationToken,
    robots: Mutex<HashMap<String, Arc<tokio::sync::Mutex<Option<RobotsEntry>>>>>,
    in_flight: Arc<Semaphore>,
    settings: RwLock<Settings>,
    /// The hosts this process may ask (every host, unless it is one daemon of a cluster).
    leases: RwLock<Arc<HostLeases>>,
}

fn quota(rate: Rate, burst: u32) -> Quota {
    let count = rate.count.max(1);
    let period = (rate.per / count).max(Duration::from_nanos(1));
    let burst = NonZeroU32::new(burst.max(1)).unwrap_or(NonZeroU32::MIN);
    Quota::with_period(period)
        .unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN))
        .allow_burst(burst)
}

/// The robots.txt group we obey: the product token of our user agent.
fn robots_agent(config: &Config) -> String {
    config
        .http
        .user_agent
        .split(['/', ' '])
        .next()
        .filter(|t| !t.is_empty())
        .unwrap_or("feedcrawler")
        .to_owned()
}

impl Politeness {
    /// Builds the limiters from `[rate_limit]`, `[[host]]` and `[http]`. Once `shutdown` is
    /// cancelled, no request is admitted any more.
    pub fn new(config: &Config, shutdown: CancellationToken) -> Politeness {
        let concurrency = config.http.concurrency.max(1);
        Politeness {
            limiters: RwLock::new(Limiters::from_config(config, None)),
            pauses: Mutex::default(),
            turns: Mutex::default(),
            crawl_delays: Mutex::default(),
            shutdown,
            robots: Mutex::default(),
            in_flight: Arc::new(Semaphore::new(concurrency)),
            settings: RwLock::new(Settings {
                respect_robots: config.http.respect_robots,
                robots_agent: robots_agent(config),
                concurrency,
            }),
            leases: RwLock::new(Arc::new(HostLeases::unrestricted())),
        }
    }

    /// From now on, requests go only to the hosts `leases` holds.
    pub fn set_leases(&self, leases: Arc<HostLeases>) {
        *self.leases.write().unwrap_or_else(PoisonError::into_inner) = leases;
    }

    fn leased(&self, host: &str) -> Result<(), Refusal> {
        let leases = Arc::clone(&self.leases.read().unwrap_or_else(PoisonError::into_inner));
        if leases.allows(host) {
            Ok(())
        } else {
            Err(Refusal::NotLeased {
                host: host.to_owned(),
            })
        }
    }

    /// A host just leased from another daemon is treated as if it had just been asked
    /// (its tokens spent): the previous holder's last request may be a moment old, and the
    /// host's rate holds across the handover.
    pub fn assume_just_asked(&self, host: &str) {
        let (quota, limiter) = self
            .limiters
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .for_host(host);
        let key = host.to_owned();
        for _ in 0..quota.burst_size().get() {
            if limiter.check_key(&key).is_err() {
                break;
            }
        }
    }

    /// Applies a reloaded config in place: quotas that changed get new limiters, unchanged
    /// ones keep theirs; pauses, robots.txt and crawl delays are kept; the in-flight cap
    /// follows `[http] concurrency` (a lower one takes effect as requests finish).
    pub fn reconfigure(&self, config: &Config) {
        {
            let mut limiters = self.limiters.write().unwrap_or_else(PoisonError::into_inner);
            *limiters = Limiters::from_config(config, Some(&limiters));
        }
        let agent = robots_agent(config);
        let mut settings = self.settings.write().unwrap_or_else(PoisonError::into_inner);
        if settings.robots_agent != agent {
            // Rules were read for the old agent's group.
            self.robots.lock().unwrap_or_else(PoisonError::into_inner).clear();
        }
        settings.robots_agent = agent;
        settings.respect_robots = config.http.respect_robots;
        let wanted = config.http.concurrency.max(1);
        if wanted > settings.concurrency {
            self.in_flight.add_permits(wanted - settings.concurrency);
        } else if wanted < settings.concurrency {
            let surplus = u32::try_from(settings.concurrency - wanted).unwrap_or(u32::MAX);
            let semaphore = Arc::clone(&self.in_flight);
            // Retire the surplus permits as requests in flight give them back.
            tokio::spawn(async move {
                if let Ok(permits) = semaphore.acquire_many_owned(surplus).await {
                    permits.forget();
                }
            });
        }
        settings.concurrency = wanted;
    }

    /// Waits until a request to `host` may go: the host's pause (if it ends within
    /// `max_pause_wait`; otherwise refused) and its `Crawl-delay`, then a slot among the
    /// requests in flight, then a token from its limiter — in that order, so that a token
    /// is only taken when the request can go at once (a token taken while waiting for a
    /// slot would let tokens pile up and go out as a burst). Hold the permit until the
    /// response body is read.
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
        let mut last_sent = turn.lock().await;
        loop {
            self.leased(host)?;
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
            if let (Some(delay), Some(last)) = (self.crawl_delay(host), *last_sent) {
                tokio::time::sleep_until((last + delay).into()).await;
            }
            let permit = Arc::clone(&self.in_flight)
                .acquire_owned()
                .await
                .map_err(|_| Refusal::ShuttingDown)?;
            let (_, limiter) = self
                .limiters
                .read()
                .unwrap_or_else(PoisonError::into_inner)
                .for_host(host);
            limiter.until_key_ready(&host.to_owned()).await;
            // A 429 that arrived while we waited for the slot or the token still counts.
            if self.pause_of(host).is_some_and(|p| p.until > Instant::now()) {
                drop(permit);
                continue;
            }
            // So does a lease given away meanwhile.
            self.leased(host)?;
            *last_sent = Some(Instant::now());
            return Ok(permit);
        }
    }

    fn pause_of(&self, host: &str) -> Option<Pause> {
        self.pauses
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(host)
            .copied()
    }

    fn crawl_delay(&self, host: &str) -> Option<Duration> {
        self.crawl_delays
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(host)
            .map(|(delay, _)| *delay)
    }

    /// Records `host`'s robots.txt `Crawl-delay` (seconds): it applies when it is slower
    /// than the host's quota, capped at [`MAX_CRAWL_DELAY`]. `None` removes it.
    pub fn set_crawl_delay(&self, host: &str, seconds: Option<f32>) {
        let mut delays = self.crawl_delays.lock().unwrap_or_else(PoisonError::into_inner);
        let delay = seconds
            .filter(|s| s.is_finite() && *s > 0.0)
            .map(|s| Duration::from_secs_f32(s.min(MAX_CRAWL_DELAY.as_secs_f32())));
        let (quota, _) = self
            .limiters
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .for_host(host);
        match delay {
            Some(delay) if delay > quota.replenish_interval() => {
                tracing::info!(host, delay = ?delay, "robots.txt Crawl-delay slows the host down");
                delays.insert(host.to_owned(), (delay, Instant::now()));
            }
            _ => {
                delays.remove(host);
            }
        }
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
        self.settings
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .respect_robots
    }

    /// The cache slot of `origin`'s robots.txt. Lock it: if it is empty or stale, fetch
    /// robots.txt and [`RobotsGuard::store`] it while holding the lock, so that a host's
    /// robots.txt is fetched once however many requests wait for it.
    pub fn robots_slot(&self, origin: &str) -> RobotsSlot {
        let slot = Arc::clone(
            self.robots
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .entry(origin.to_owned())
                .or_default(),
        );
        let agent = self
            .settings
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .robots_agent
            .clone();
        RobotsSlot { slot, agent }
    }

    /// Drops the state of hosts not seen for a while — limiter cells, ended pauses, idle
    /// queues, expired robots.txt and crawl delays — so that a crawl of many hosts seen once
    /// does not grow without bound.
    pub fn forget_idle(&self) {
        {
            let limiters = self.limiters.read().unwrap_or_else(PoisonError::into_inner);
            limiters.default.1.retain_recent();
            for (_, _, limiter) in &limiters.overrides {
                limiter.retain_recent();
            }
        }
        self.pauses
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|_, p| p.until > Instant::now());
        self.turns
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|_, turn| {
                Arc::strong_count(turn) > 1
                    || turn
                        .try_lock()
                        .map_or(true, |last| last.is_some_and(|t| t.elapsed() < MAX_CRAWL_DELAY))
            });
        self.crawl_delays
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|_, (_, set)| set.elapsed() < ROBOTS_TTL);
        self.robots
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|_, slot| {
                Arc::strong_count(slot) > 1
                    || slot
                        .try_lock()
                        .map_or(true, |entry| entry.as_ref().is_some_and(|e| !e.expired()))
            });
    }

    /// How many hosts' robots.txt are cached (for tests and metrics).
    pub fn robots_cached(&self) -> usize {
        self.robots.lock().unwrap_or_else(PoisonError::into_inner).len()
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
    /// Whether the cached robots.txt is missing or expired ([`ROBOTS_TTL`], or
    /// [`ROBOTS_UNAVAILABLE_TTL`] after a failure).
    pub fn needs_fetch(&self) -> bool {
        self.guard.as_ref().is_none_or(RobotsEntry::expired)
    }

    /// Stores what a robots.txt request came to (RFC 9309): a body is parsed (its first
    /// [`ROBOTS_MAX_BYTES`]), a 4xx allows everything, an unavailable one disallows
    /// everything. Returns the file's `Crawl-delay` in seconds, if any.
    pub fn store(&mut self, answer: RobotsAnswer<'_>) -> Option<f32> {
        let robots = match answer {
            RobotsAnswer::Body(body) => {
                let body = &body[..body.len().min(ROBOTS_MAX_BYTES)];
                match texting_robots::Robot::new(self.agent, body) {
                    Ok(robot) => Robots::Rules(Box::new(robot)),
                    Err(e) => {
                        tracing::debug!(error = %e, "unparsable robots.txt; allowing all");
                        Robots::AllowAll
                    }
                }
            }
            RobotsAnswer::NotFound => Robots::AllowAll,
            RobotsAnswer::Unavailable => Robots::DisallowAll,
        };
        let delay = match &robots {
            Robots::Rules(robot) => robot.delay,
            _ => None,
        };
        *self.guard = Some(RobotsEntry {
            robots,
            fetched: Instant::now(),
        });
        delay
    }

    /// Whether `url` may be fetched: `Ok`, or `Err(true)` when robots.txt could not be had
    /// (everything is disallowed), `Err(false)` when its rules disallow `url`.
    pub fn allows(&self, url: &str) -> Result<(), bool> {
        match self.guard.as_ref().map(|e| &e.robots) {
            Some(Robots::Rules(robot)) if !robot.allowed(url) => Err(false),
            Some(Robots::DisallowAll) => Err(true),
            _ => Ok(()),
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
        guard.store(RobotsAnswer::Body(b"User-agent: *\nDisallow: /private/\n"));
        assert!(!guard.needs_fetch());
        assert_eq!(guard.allows("http://example.org/feed.xml"), Ok(()));
        assert_eq!(guard.allows("http://example.org/private/feed.xml"), Err(false));
    }

    #[tokio::test]
    async fn robots_answers_follow_rfc_9309() {
        let config = Config::parse("", std::path::Path::new("t.toml")).expect("empty config is valid");
        let politeness = Politeness::new(&config, CancellationToken::new());
        let slot = politeness.robots_slot("http://a.example");
        let mut guard = slot.lock().await;
        guard.store(RobotsAnswer::NotFound);
        assert_eq!(
            guard.allows("http://a.example/feed.xml"),
            Ok(()),
            "4xx allows all"
        );
        guard.store(RobotsAnswer::Unavailable);
        assert_eq!(
            guard.allows("http://a.example/feed.xml"),
            Err(true),
            "5xx disallows all"
        );
        assert!(
            !guard.needs_fetch(),
            "a failure is remembered for a while, not refetched at once"
        );
        let delay = guard.store(RobotsAnswer::Body(b"User-agent: *\nCrawl-delay: 2\n"));
        assert_eq!(delay, Some(2.0));
        // Only the first 500 KiB count: a rule past them is not read.
        let mut big = b"User-agent: *\n".to_vec();
        big.resize(ROBOTS_MAX_BYTES + 10, b'#');
        big.extend_from_slice(b"\nDisallow: /\n");
        guard.store(RobotsAnswer::Body(&big));
        assert_eq!(guard.allows("http://a.example/feed.xml"), Ok(()));
    }

    #[tokio::test]
    async fn crawl_delay_applies_only_when_slower_than_the_quota() {
        let config = Config::parse(
            "[rate_limit]\nper_host = \"1/m\"\n",
            std::path::Path::new("t.toml"),
        )
        .expect("valid config");
        let politeness = Politeness::new(&config, CancellationToken::new());
        politeness.set_crawl_delay("slow.example", Some(2.0));
        assert_eq!(
            politeness.crawl_delay("slow.example"),
            None,
            "1/m is already slower"
        );
        let config = Config::parse(
            "[rate_limit]\nper_host = \"2/s\"\n",
            std::path::Path::new("t.toml"),
        )
        .expect("valid config");
        let politeness = Politeness::new(&config, CancellationToken::new());
        politeness.set_crawl_delay("a.example", Some(2.0));
        assert_eq!(politeness.crawl_delay("a.example"), Some(Duration::from_secs(2)));
        politeness.set_crawl_delay("b.example", Some(1e9));
        assert_eq!(politeness.crawl_delay("b.example"), Some(MAX_CRAWL_DELAY));
    }

    #[tokio::test]
    async fn a_reload_keeps_pauses_and_the_token_state_of_unchanged_quotas() {
        let config = Config::parse(
            "[rate_limit]\nper_host = \"1/h\"\nburst = 1\n",
            std::path::Path::new("t.toml"),
        )
        .expect("valid config");
        let politeness = Politeness::new(&config, CancellationToken::new());
        let until = politeness.pause("paused.example", Some("120"), Utc::now());
        // Spend a.example's only token.
        drop(
            politeness
                .admit("a.example", Duration::ZERO)
                .await
                .expect("first request"),
        );
        let reloaded = Config::parse(
            "[http]\ntimeout = \"7s\"\nconcurrency = 4\n[rate_limit]\nper_host = \"1/h\"\nburst = 1\n",
            std::path::Path::new("t.toml"),
        )
        .expect("valid config");
        politeness.reconfigure(&reloaded);
        assert_eq!(politeness.paused_until("paused.example"), Some(until));
        let second = tokio::time::timeout(
            Duration::from_millis(300),
            politeness.admit("a.example", Duration::ZERO),
        )
        .await;
        assert!(second.is_err(), "the spent token is still spent after the reload");
        // A changed quota starts afresh.
        let faster = Config::parse(
            "[rate_limit]\nper_host = \"10/s\"\nburst = 1\n",
            std::path::Path::new("t.toml"),
        )
        .expect("valid config");
        politeness.reconfigure(&faster);
        let third = tokio::time::timeout(
            Duration::from_millis(300),
            politeness.admit("a.example", Duration::ZERO),
        )
        .await;
        assert!(third.is_ok(), "a new quota applies");
    }

    #[tokio::test]
    async fn idle_robots_entries_are_evicted() {
        let config = Config::parse("", std::path::Path::new("t.toml")).expect("empty config is valid");
        let politeness = Politeness::new(&config, CancellationToken::new());
        {
            let kept = politeness.robots_slot("http://kept.example");
            kept.lock().await.store(RobotsAnswer::NotFound);
            // Never filled (the fetch was cut short): nothing to keep.
            let _empty = politeness.robots_slot("http://empty.example");
        }
        assert_eq!(politeness.robots_cached(), 2);
        politeness.forget_idle();
        assert_eq!(politeness.robots_cached(), 1);
    }
}
