//! HTTP (and `file:`) fetching: one shared reqwest client, conditional GET, a body cap
//! enforced while streaming, and redirects followed hop by hop.
//!
//! This module owns every byte that crosses the network. It never parses what it fetched
//! and never touches the database: a fetch yields a [`FetchResult`] — the outcome as a value
//! (body, 304, an HTTP status) plus one [`Attempt`] per request made, which the caller turns
//! into `fetches` rows. `Err` is kept for the request failing outright (DNS, timeout, a body
//! over `max_body`, too many redirects, robots.txt or a host's pause forbidding it).
//!
//! Every hop — and the robots.txt request before a host's first one — passes the admission
//! gate ([`crate::admission`]: scheme, network, share rules) and robots.txt, then
//! [`Politeness`]: the host's `Retry-After` pause and `Crawl-delay`, the in-flight cap, the
//! host's rate limit. A refused hop is an [`Attempt`] whose error starts with `refused:`.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use url::Url;

use crate::admission::{Admission, GuardedResolver, Origin, Purpose, Refusal as Refused, ResolveRefused};
use crate::config::{Config, host_matches};
use crate::politeness::{Politeness, Refusal, RobotsAnswer};

mod request;

use request::HopOutcome;

/// Why a request failed outright. Each variant names the URL.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// Connection refused, DNS failure, TLS error, a reset while reading.
    #[error("request to {url} failed: {message}")]
    Transport {
        /// The URL requested.
        url: String,
        /// What the HTTP stack said, with its causes.
        message: String,
    },
    /// The whole request took longer than `[http] timeout`.
    #[error("request to {url} timed out after {timeout:?}")]
    Timeout {
        /// The URL requested.
        url: String,
        /// The configured limit.
        timeout: Duration,
    },
    /// The (decompressed) body grew past `[http] max_body`.
    #[error("body of {url} exceeds the size limit of {limit} bytes ([http] max_body); refused")]
    BodyTooLarge {
        /// The URL requested.
        url: String,
        /// The configured limit in bytes.
        limit: u64,
    },
    /// More redirects than `[http] max_redirects`.
    #[error("too many redirects (more than {limit}) starting at {url}")]
    TooManyRedirects {
        /// The URL first requested.
        url: String,
        /// The configured limit.
        limit: u32,
    },
    /// A redirect without a usable `Location`.
    #[error("redirect from {url} has no valid Location header")]
    BadRedirect {
        /// The URL that answered with the redirect.
        url: String,
    },
    /// A `file:` URL that could not be read.
    #[error("cannot read {url}: {message}")]
    File {
        /// The file URL.
        url: String,
        /// The I/O error.
        message: String,
    },
    /// The admission gate or robots.txt refused the URL (CONTRACT §7); nothing was read.
    #[error("refused: {url}: {refusal}")]
    Refused {
        /// The URL.
        url: String,
        /// Why.
        refusal: Refused,
    },
    /// The host asked us to wait (429/503 with `Retry-After`) longer than this fetch may.
    #[error("not requesting {url}: host {host} is paused until {until} after a 429/503")]
    HostPaused {
        /// The URL.
        url: String,
        /// The paused host.
        host: String,
        /// When the pause ends.
        until: DateTime<Utc>,
    },
    /// The crawler is shutting down; the request was not sent.
    #[error("not requesting {url}: shutting down")]
    ShuttingDown {
        /// The URL.
        url: String,
    },
    /// The host is leased to another daemon of the cluster (or this daemon's leases were
    /// not renewed in time); the request was not sent.
    #[error("not requesting {url}: host {host} is polled by another daemon")]
    NotLeased {
        /// The URL.
        url: String,
        /// The host.
        host: String,
    },
    /// The HTTP client could not be built (bad user agent or header value in the config).
    #[error("cannot build the HTTP client: {0}")]
    Client(String),
}

/// Validators from the previous fetch of the same URL, for a conditional GET.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Validators {
    /// The `ETag` last seen; sent as `If-None-Match`.
    pub etag: Option<String>,
    /// The `Last-Modified` last seen; sent as `If-Modified-Since`.
    pub last_modified: Option<String>,
}

/// One request on the wire (one redirect hop), recorded as one `fetches` row.
#[derive(Clone, Debug)]
pub struct Attempt {
    /// The URL of this hop.
    pub url: String,
    /// When the request started.
    pub started_at: DateTime<Utc>,
    /// Time until the body was read (or the request failed).
    pub duration: Duration,
    /// HTTP status, if a response arrived.
    pub status: Option<u16>,
    /// Body bytes received (after decompression).
    pub bytes: u64,
    /// Whether the answer was 304 Not Modified.
    pub not_modified: bool,
    /// What went wrong, if anything.
    pub error: Option<String>,
    /// Items of the document this request delivered that did not become articles.
    pub entries_skipped: usize,
    /// Why they were skipped (`"2 entries with neither a title nor any text"`).
    pub skip_reason: Option<String>,
}

/// A response with a body (status 200–299).
#[derive(Clone, Debug)]
pub struct Body {
    /// The URL that finally answered (after redirects).
    pub url: Url,
    /// The HTTP status.
    pub status: u16,
    /// The `Content-Type` header, if any.
    pub content_type: Option<String>,
    /// The validators to store for the next conditional GET.
    pub validators: Validators,
    /// The decompressed body.
    pub bytes: Vec<u8>,
}

/// What a fetch came to, when it did not fail outright.
#[derive(Clone, Debug)]
pub enum Outcome {
    /// 2xx with a body.
    Body(Body),
    /// 304: nothing changed since the validators were issued.
    NotModified,
    /// Any other final status (4xx, 5xx, an unfollowed 3xx).
    Status {
        /// The HTTP status.
        status: u16,
        /// `Retry-After`, as sent, for 429 and 503.
        retry_after: Option<String>,
    },
}

/// Everything one logical fetch did: the attempts on the wire and the outcome.
#[derive(Debug)]
pub struct FetchResult {
    /// One entry per request made, in order.
    pub attempts: Vec<Attempt>,
    /// Where a 301/308 moved the resource to, if one was followed.
    pub moved_permanently: Option<Url>,
    /// The outcome, or why the request failed.
    pub outcome: Result<Outcome, FetchError>,
}

/// A `[[host]] domain` and the headers sent to it and its subdomains.
type HostHeaders = (String, Vec<(String, String)>);

/// The process's one HTTP client, its limits and the politeness every request obeys.
#[derive(Clone)]
pub struct Fetcher {
    client: reqwest::Client,
    politeness: Arc<Politeness>,
    timeout: Duration,
    max_body: u64,
    max_redirects: u32,
    max_pause_wait: Duration,
    /// `[[host]] headers`, by domain: sent with every request to a matching host.
    host_headers: Arc<Vec<HostHeaders>>,
    /// Which URLs may be fetched at all.
    admission: Arc<Admission>,
}

impl Fetcher {
    /// Builds the shared client from `[http]`, with the admission rules of `config`.
    /// Redirects are not followed by reqwest: every hop must pass our own checks and be
    /// recorded. Names are resolved by [`GuardedResolver`], and no proxy from the
    /// environment is used (it would resolve names where we cannot check the addresses).
    /// A request to a host paused for at most `max_pause_wait` waits for the pause to end;
    /// a longer pause refuses it.
    pub fn new(
        config: &Config,
        politeness: Arc<Politeness>,
        max_pause_wait: Duration,
    ) -> Result<Fetcher, FetchError> {
        let http = &config.http;
        let hosts = &config.hosts;
        let admission = Arc::new(Admission::new(config));
        let client = reqwest::Client::builder()
            .dns_resolver(Arc::new(GuardedResolver::new(Arc::clone(&admission))))
            .no_proxy()
            .user_agent(http.user_agent.as_str())
            .timeout(http.timeout)
            .connect_timeout(http.connect_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .gzip(true)
            .brotli(true)
            .deflate(true)
            .pool_max_idle_per_host(http.concurrency.max(1))
            .build()
            .map_err(|e| FetchError::Client(error_chain(&e)))?;
        let host_headers = hosts
            .iter()
            .filter(|h| !h.headers.is_empty())
            .map(|h| (h.domain.clone(), h.headers.clone()))
            .collect();
        Ok(Fetcher {
            client,
            admission,
            politeness,
            max_pause_wait,
            host_headers: Arc::new(host_headers),
            timeout: http.timeout,
            max_body: http.max_body,
            max_redirects: http.max_redirects,
        })
    }

    /// Fetches `url`, conditionally when `validators` are given, following redirects up to
    /// `[http] max_redirects`. `origin` says where `url` came from (every redirect hop is
    /// learned from the network), `purpose` what it is for; each hop passes the admission
    /// gate and robots.txt and carries the `[[host]] headers` of its own host.
    pub async fn fetch(
        &self,
        url: &Url,
        validators: &Validators,
        origin: Origin,
        purpose: Purpose,
    ) -> FetchResult {
        let mut attempts = Vec::with_capacity(1);
        let (outcome, moved_permanently) = self
            .fetch_hops(url, validators, origin, purpose, &mut attempts)
            .await;
        FetchResult {
            attempts,
            moved_permanently,
            outcome,
        }
    }

    /// Whether a request to a paused host is refused at once (the daemon: it polls again
    /// when the pause ends) rather than waiting for a short pause (`once`).
    pub fn defers_paused_hosts(&self) -> bool {
        self.max_pause_wait.is_zero()
    }

    /// The politeness layer in use.
    pub fn politeness(&self) -> &Politeness {
        &self.politeness
    }

    /// The shared politeness layer, to carry over to the fetcher of a reloaded config.
    pub fn politeness_arc(&self) -> Arc<Politeness> {
        Arc::clone(&self.politeness)
    }

    /// The admission rules in use.
    pub fn admission(&self) -> &Admission {
        &self.admission
    }

    /// A refused request as the operator sees it in `fetches`: no status, no bytes, the
    /// reason.
    fn refuse(&self, url: &Url, refusal: Refused, attempts: &mut Vec<Attempt>) -> FetchError {
        let error = FetchError::Refused {
            url: url.to_string(),
            refusal,
        };
        tracing::info!(url = %url, error = %error, "request refused");
        attempts.push(Attempt {
            url: url.to_string(),
            started_at: Utc::now(),
            duration: Duration::ZERO,
            status: None,
            bytes: 0,
            not_modified: false,
            error: Some(error.to_string()),
            entries_skipped: 0,
            skip_reason: None,
        });
        error
    }

    async fn fetch_hops(
        &self,
        url: &Url,
        validators: &Validators,
        origin: Origin,
        purpose: Purpose,
        attempts: &mut Vec<Attempt>,
    ) -> (Result<Outcome, FetchError>, Option<Url>) {
        let mut moved_permanently = None;
        let mut current = url.clone();
        let mut hops = 0u32;
        loop {
            let hop_origin = if hops == 0 { origin } else { Origin::Network };
            if let Err(refusal) = self.admission.check(&current, hop_origin, purpose) {
                return (Err(self.refuse(&current, refusal, attempts)), moved_permanently);
            }
            let hop = match current.scheme() {
                "file" => self.read_file(&current, validators).await,
                _ => {
                    if purpose != Purpose::Robots
                        && self.politeness.respects_robots()
                        && let Err(unavailable) = self.robots_allow(&current, attempts).await
                    {
                        let refusal = Refused::Robots { unavailable };
                        return (Err(self.refuse(&current, refusal, attempts)), moved_permanently);
                    }
                    let host = current.host_str().unwrap_or_default().to_owned();
                    let permit = match self.politeness.admit(&host, self.max_pause_wait).await {
                        Ok(permit) => permit,
                        Err(Refusal::Paused { host, until }) => {
                            let error = FetchError::HostPaused {
                                url: current.to_string(),
                                host,
                                until,
                            };
                            return (Err(error), moved_permanently);
                        }
                        Err(Refusal::ShuttingDown) => {
                            let error = FetchError::ShuttingDown {
                                url: current.to_string(),
                            };
                            return (Err(error), moved_permanently);
                        }
                        Err(Refusal::NotLeased { host }) => {
                            let error = FetchError::NotLeased {
                                url: current.to_string(),
                                host,
                            };
                            return (Err(error), moved_permanently);
                        }
                    };
                    let hop = self.request(&current, validators).await;
                    drop(permit);
                    if let Ok(HopOutcome::Final(Outcome::Status {
                        status: 429 | 503,
                        retry_after,
                    })) = &hop.outcome
                    {
                        self.politeness.pause(&host, retry_after.as_deref(), Utc::now());
                    }
                    hop
                }
            };
            attempts.push(hop.attempt);
            let outcome = match hop.outcome {
                Ok(HopOutcome::Redirect { status, location }) => {
                    hops += 1;
                    if hops > self.max_redirects {
                        Err(FetchError::TooManyRedirects {
                            url: url.to_string(),
                            limit: self.max_redirects,
                        })
                    } else {
                        match location.and_then(|l| current.join(&l).ok()) {
                            Some(next) => {
                                // A permanent move to a URL the gate refuses is not recorded.
                                let admitted = self.admission.check(&next, Origin::Network, purpose).is_ok();
                                if admitted && (status == 301 || status == 308) {
                                    tracing::info!(from = %current, to = %next, status, "permanent redirect");
                                    moved_permanently = Some(next.clone());
                                } else {
                                    tracing::debug!(from = %current, to = %next, status, "redirect");
                                }
                                current = next;
                                continue;
                            }
                            None => Err(FetchError::BadRedirect {
                                url: current.to_string(),
                            }),
                        }
                    }
                }
                Ok(HopOutcome::Final(outcome)) => Ok(outcome),
                Err(e) => Err(e),
            };
            return (outcome, moved_permanently);
        }
    }

    /// The `[[host]] headers` for `url`'s host (the longest matching domain).
    fn headers_for(&self, url: &Url) -> &[(String, String)] {
        let host = url.host_str().unwrap_or_default();
        self.host_headers
            .iter()
            .filter(|(domain, _)| host_matches(domain, host))
            .max_by_key(|(domain, _)| domain.len())
            .map(|(_, headers)| headers.as_slice())
            .unwrap_or_default()
    }

    /// Whether robots.txt of `url`'s origin allows it (`Err(true)`: robots.txt could not
    /// be had, which disallows the whole host), fetching robots.txt (once per origin and
    /// day, or again after [`crate::politeness::ROBOTS_UNAVAILABLE_TTL`] when it failed)
    /// through the same gate and politeness when needed.
    async fn robots_allow(&self, url: &Url, attempts: &mut Vec<Attempt>) -> Result<(), bool> {
        let slot = self.politeness.robots_slot(&url.origin().ascii_serialization());
        let mut robots = slot.lock().await;
        if robots.needs_fetch() {
            let fetched = match url.join("/robots.txt") {
                Ok(robots_url) => Some(
                    Box::pin(self.fetch_hops(
                        &robots_url,
                        &Validators::default(),
                        Origin::Network,
                        Purpose::Robots,
                        attempts,
                    ))
                    .await
                    .0,
                ),
                Err(_) => None,
            };
            let answer = match &fetched {
                Some(Ok(Outcome::Body(body))) => RobotsAnswer::Body(&body.bytes),
                Some(Ok(Outcome::Status { status, .. })) if (400..500).contains(status) => {
                    RobotsAnswer::NotFound
                }
                // A redirect chain that ended nowhere (RFC 9309 §2.3.1.2).
                Some(Ok(Outcome::Status { status, .. })) if (300..400).contains(status) => {
                    RobotsAnswer::NotFound
                }
                Some(Err(FetchError::TooManyRedirects { .. } | FetchError::BadRedirect { .. })) => {
                    RobotsAnswer::NotFound
                }
                // Shutting down: nothing is stored, the next run fetches it.
                Some(Err(FetchError::ShuttingDown { .. } | FetchError::NotLeased { .. })) => {
                    return Err(true);
                }
                _ => RobotsAnswer::Unavailable,
            };
            if matches!(answer, RobotsAnswer::Unavailable) {
                tracing::warn!(url = %url, "robots.txt unavailable; the host is not crawled until it can be read");
            }
            let delay = robots.store(answer);
            if let Some(host) = url.host_str() {
                self.politeness.set_crawl_delay(host, delay);
            }
        }
        robots.allows(url.as_str())
    }
}

/// reqwest's top-level message hides the cause ("error sending request"); operators need
/// the whole chain ("… connection refused").
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut message = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = cause.source();
    }
    message
}
