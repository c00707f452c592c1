//! The TOML configuration of CONTRACT §2: the serde model, its defaults and its validation.
//!
//! [`Config::load`] reads one file and returns a fully checked [`Config`] in which every
//! duration, rate, URL, regex, timezone and path is already parsed, every default is filled
//! in and every relative path (the database, `file:` sample URLs) is resolved against the
//! config file's folder. Every mistake — an unknown key, a wrong type, a bad value, a key that
//! does not belong to a source's `type` — is a [`ConfigError`] naming the file, the line and
//! the key. This module reads the config file and nothing else: it never opens the database
//! and never touches the network.

mod checks;
mod database;
mod error;
mod notify;
mod raw;
mod retention;
mod validate;
mod values;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use chrono_tz::Tz;
use regex::Regex;
use url::Url;

pub use database::{Database, PostgresTarget};
pub use error::ConfigError;
pub use notify::{DEFAULT_NOTIFY_TIMEOUT, NotifyConfig, NotifyTarget};
use raw::RawConfig;
pub use retention::{DEFAULT_FETCHES_RETENTION, DEFAULT_REVISIONS_KEPT, RetentionConfig};
use validate::{Ctx, normalize_path};

/// The default `[dedup] info_code` patterns; capture group 1 is the infoCode (`NW…`) or the
/// bare 18-digit East Money id.
pub const DEFAULT_INFO_CODE_PATTERNS: &[&str] = &[
    // Not followed by another digit: `infoCode=NW` + 19 digits is no infoCode.
    r"[?&][iI]nfo[cC]ode=([A-Z]{2}\d{18})(?:\D|$)",
    r"^\s*([A-Z]{2}\d{18})\s*$",
    r"finance\.eastmoney\.com/a/(\d{18})\.html",
    r"/news/[0-9a-z]+,(\d{18})\.html",
];
/// The default `[http] user_agent`.
pub const DEFAULT_USER_AGENT: &str = "feedcrawler/0.1 (+https://github.com/feedcrawler/feedcrawler)";
/// The default `[daemon] database`.
pub const DEFAULT_DATABASE: &str = "/var/lib/feedcrawler/feedcrawler.db";
/// The default `[metrics] listen`, used when the `[metrics]` table is present without it.
pub const DEFAULT_METRICS_LISTEN: &str = "127.0.0.1:9187";
/// The placeholders a `[[source]] detail_url` template may use.
pub const DETAIL_URL_PLACEHOLDERS: &[&str] = &["info_code", "id", "url"];
/// The default `[[source]] max_items`: items read from one list response.
pub const DEFAULT_MAX_ITEMS: usize = 500;
/// The default `[share] max_discovered`: share links queued from one page.
pub const DEFAULT_MAX_DISCOVERED: usize = 50;
/// The longest duration any config key accepts (10 years), so that no schedule arithmetic
/// (`now + interval × 2^failures`, jitter) can overflow.
pub const MAX_DURATION: Duration = Duration::from_secs(10 * 365 * 24 * 3600);
/// The placeholders a `[share] resolve` template may use.
pub const RESOLVE_PLACEHOLDERS: &[&str] = &["info_code", "id"];

/// The whole, validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The config file it came from.
    pub path: PathBuf,
    /// `[daemon]`.
    pub daemon: DaemonConfig,
    /// `[http]`.
    pub http: HttpConfig,
    /// `[rate_limit]`: the default limit of every host.
    pub rate_limit: RateLimitConfig,
    /// `[schedule]`.
    pub schedule: ScheduleConfig,
    /// `[metrics]`: `None` unless the table is present.
    pub metrics: Option<MetricsConfig>,
    /// `[[host]]` overrides, in file order.
    pub hosts: Vec<HostConfig>,
    /// `[[source]]`s, in file order, disabled ones included. Shared, not copied, by the
    /// daemon's tables (a config may list 100,000 sources).
    pub sources: Vec<Arc<SourceConfig>>,
    /// `[dedup]`.
    pub dedup: DedupConfig,
    /// `[share]`.
    pub share: ShareConfig,
    /// `[export]`.
    pub export: ExportConfig,
    /// `[[notify]]`s, in file order.
    pub notify: Vec<NotifyConfig>,
    /// `[retention]`.
    pub retention: RetentionConfig,
    /// Things that were accepted but adjusted (e.g. an interval raised to `min_interval`),
    /// each naming file, line and key; `check` prints them.
    pub warnings: Vec<String>,
}

/// `[daemon]`.
#[derive(Debug, Clone)]
pub struct DaemonConfig {
    /// The database: a SQLite file (a relative path is resolved against the config file's
    /// folder) or a PostgreSQL database.
    pub database: Database,
    /// How to read dates that carry no offset (default `Asia/Shanghai`).
    pub timezone: Tz,
    /// The log format (default text).
    pub log_format: LogFormat,
    /// PostgreSQL: how long a daemon's host leases last without renewal (renewed every
    /// third of it). A daemon that dies loses its hosts to the others after at most this.
    pub lease_period: Duration,
}

/// The default `[daemon] lease_period`.
pub const DEFAULT_LEASE_PERIOD: Duration = Duration::from_secs(30);

/// The shortest `[daemon] lease_period`: renewals every third of it must fit between the
/// database's answers.
pub const MIN_LEASE_PERIOD: Duration = Duration::from_secs(3);

/// `[daemon] log_format`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

impl FromStr for LogFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<LogFormat, String> {
        match s {
            "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            _ => Err(format!("unknown log format {s:?}: expected \"text\" or \"json\"")),
        }
    }
}

/// `[http]`.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// The `User-Agent` of every request.
    pub user_agent: String,
    /// Timeout of a whole request.
    pub timeout: Duration,
    /// Timeout of establishing a connection.
    pub connect_timeout: Duration,
    /// Largest accepted body in bytes, after decompression.
    pub max_body: u64,
    /// Redirect hops followed per request.
    pub max_redirects: u32,
    /// Requests in flight, all hosts together (at least 1).
    pub concurrency: usize,
    /// Whether robots.txt is obeyed.
    pub respect_robots: bool,
    /// Whether hosts the config does not name may be on private, loopback or link-local
    /// networks (CONTRACT §7; for intranets). Off by default.
    pub allow_private_networks: bool,
}

/// A request rate such as `"2/s"`, `"30/m"` or `"100/h"`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rate {
    /// Requests per period, at least 1.
    pub count: u32,
    /// The period: one second, minute or hour.
    pub per: Duration,
}

impl FromStr for Rate {
    type Err = String;
    fn from_str(s: &str) -> Result<Rate, String> {
        let bad = || format!("invalid rate {s:?}: expected \"N/s\", \"N/m\" or \"N/h\" with N >= 1");
        let (count, unit) = s.split_once('/').ok_or_else(bad)?;
        let count: u32 = count.trim().parse().map_err(|_| bad())?;
        let secs = match unit.trim() {
            "s" | "sec" | "second" => 1,
            "m" | "min" | "minute" => 60,
            "h" | "hour" => 3600,
            _ => return Err(bad()),
        };
        if count == 0 {
            return Err(bad());
        }
        Ok(Rate {
            count,
            per: Duration::from_secs(secs),
        })
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.per.as_secs() {
            1 => write!(f, "{}/s", self.count),
            60 => write!(f, "{}/m", self.count),
            3600 => write!(f, "{}/h", self.count),
            _ => write!(f, "{}/{}", self.count, humantime::format_duration(self.per)),
        }
    }
}

/// `[rate_limit]`: the default limit of every host.
#[derive(Debug, Clone)]
pub struct RateLimitConfig {
    /// Sustained rate per host.
    pub per_host: Rate,
    /// Requests that may go at once before the rate applies (at least 1).
    pub burst: u32,
}

/// `[schedule]`.
#[derive(Debug, Clone)]
pub struct ScheduleConfig {
    /// Default poll interval of a source (never below `min_interval`).
    pub interval: Duration,
    /// Shortest interval, adaptive or configured.
    pub min_interval: Duration,
    /// Longest adaptive interval.
    pub max_interval: Duration,
    /// Whether intervals follow the observed publishing rate.
    pub adaptive: bool,
    /// Relative jitter on every next-poll time, `0.0..=0.5`.
    pub jitter: f64,
    /// Ceiling of the exponential backoff of a failing source.
    pub max_backoff: Duration,
}

/// `[metrics]`: Prometheus `/metrics` and `/healthz`.
#[derive(Debug, Clone)]
pub struct MetricsConfig {
    /// Address to listen on.
    pub listen: SocketAddr,
}

/// One `[[host]]` override.
#[derive(Debug, Clone)]
pub struct HostConfig {
    /// Lowercase domain (punycode) or IP literal (IPv6 without brackets).
    pub domain: String,
    /// Rate for this host, else `[rate_limit] per_host`.
    pub per_host: Option<Rate>,
    /// Burst for this host, else `[rate_limit] burst`.
    pub burst: Option<u32>,
    /// Extra request headers, sorted by name.
    pub headers: Vec<(String, String)>,
    /// CSS selectors for this host's article pages.
    pub article: Option<ArticleSelectors>,
}

/// `[[host]] article`: CSS selectors (`@attr` reads an attribute) for an article page.
#[derive(Debug, Clone, Default)]
pub struct ArticleSelectors {
    /// The title.
    pub title: Option<String>,
    /// The article body.
    pub content: Option<String>,
    /// The publication time.
    pub published: Option<String>,
    /// The originating outlet.
    pub media: Option<String>,
}

/// `[[source]] type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SourceKind {
    /// RSS, Atom or JSON Feed.
    Feed,
    /// A JSON or JSONP list endpoint.
    Json,
    /// An HTML list page.
    Html,
    /// Article pages given one by one.
    ShareLinks,
}

impl SourceKind {
    /// The `type` value: `feed`, `json`, `html` or `share_links`.
    pub fn as_str(&self) -> &'static str {
        match self {
            SourceKind::Feed => "feed",
            SourceKind::Json => "json",
            SourceKind::Html => "html",
            SourceKind::ShareLinks => "share_links",
        }
    }
}

impl FromStr for SourceKind {
    type Err = String;
    fn from_str(s: &str) -> Result<SourceKind, String> {
        [
            SourceKind::Feed,
            SourceKind::Json,
            SourceKind::Html,
            SourceKind::ShareLinks,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
        .ok_or_else(|| {
            format!("unknown source type {s:?}: expected \"feed\", \"json\", \"html\" or \"share_links\"")
        })
    }
}

impl fmt::Display for SourceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One `[[source]]`.
#[derive(Debug, Clone)]
pub struct SourceConfig {
    /// Unique, stable name: the key in the database.
    pub name: String,
    /// `type`.
    pub kind: SourceKind,
    /// The feed or list URL; `Some` for feed, json and html sources.
    pub url: Option<Url>,
    /// The article pages of a share_links source (empty for the other kinds).
    pub urls: Vec<Url>,
    /// Poll interval, already raised to at least `[schedule] min_interval`.
    pub interval: Option<Duration>,
    /// Category given to its articles.
    pub category: Option<String>,
    /// Tags given to its articles.
    pub tags: Vec<String>,
    /// Fetch each new entry's page for the full article (feed and json sources).
    pub full_text: bool,
    /// Whether it is polled.
    pub enabled: bool,
    /// Overrides `[daemon] timezone`.
    pub timezone: Option<Tz>,
    /// At most this many items are read from one list response (default
    /// [`DEFAULT_MAX_ITEMS`]); the rest are ignored with a warning.
    pub max_items: usize,
    /// `Some` iff `kind == Json`. Boxed: most sources are feeds, and an inline list config
    /// made every source several hundred bytes larger.
    pub json: Option<Box<JsonListConfig>>,
    /// `Some` iff `kind == Html`. Boxed, as `json`.
    pub html: Option<Box<HtmlListConfig>>,
    /// `include` / `exclude`: which entries of a feed, json or html source are stored.
    pub filters: SourceFilters,
}

/// `[[source]] include` and `exclude`: regexes matched against an entry's title, summary
/// and media (outlet). Applied by [`crate::filter`]; empty lists filter nothing.
#[derive(Debug, Clone, Default)]
pub struct SourceFilters {
    /// When not empty, an entry is kept only if one of these matches one of its texts.
    pub include: Vec<Regex>,
    /// An entry one of these matches (in any of its texts) is dropped.
    pub exclude: Vec<Regex>,
}

impl SourceFilters {
    /// Whether there is no filter at all.
    pub fn is_empty(&self) -> bool {
        self.include.is_empty() && self.exclude.is_empty()
    }
}

impl SourceConfig {
    /// The source's settings (all but its name) as one canonical string: JSON with its keys
    /// in sorted order, durations in whole seconds, URLs and time zones by name.
    ///
    /// The crawler keeps what it learned about a source (validators, a URL moved by
    /// 301/308, a 410's disabling) while this string is unchanged, so it must depend on
    /// the settings alone: not on `Debug` output, which a compiler or crate upgrade may
    /// change. A new setting joins it only when it is set away from its default, so that
    /// adding one does not reset every source.
    pub fn canonical_settings(&self) -> String {
        let mut settings = serde_json::Map::new();
        let mut put = |key: &str, value: serde_json::Value| {
            settings.insert(key.to_owned(), value);
        };
        put("type", self.kind.as_str().into());
        put("enabled", self.enabled.into());
        put("full_text", self.full_text.into());
        put("max_items", self.max_items.into());
        put("tags", self.tags.clone().into());
        put(
            "urls",
            self.urls.iter().map(Url::as_str).collect::<Vec<_>>().into(),
        );
        if let Some(url) = &self.url {
            put("url", url.as_str().into());
        }
        if let Some(interval) = self.interval {
            put("interval_secs", interval.as_secs().into());
        }
        if let Some(category) = &self.category {
            put("category", category.as_str().into());
        }
        if let Some(tz) = self.timezone {
            put("timezone", tz.name().into());
        }
        if let Some(json) = &self.json {
            let fields = &json.fields;
            put(
                "json",
                serde_json::json!({
                    "items": json.items,
                    "detail_url": json.detail_url,
                    "detail_content": json.detail_content,
                    "fields": {
                        "info_code": fields.info_code,
                        "title": fields.title,
                        "published": fields.published,
                        "media": fields.media,
                        "summary": fields.summary,
                        "url": fields.url,
                        "content": fields.content,
                    },
                }),
            );
        }
        if let Some(html) = &self.html {
            put(
                "html",
                serde_json::json!({
                    "item": html.item,
                    "link": html.link,
                    "title": html.title,
                    "published": html.published,
                }),
            );
        }
        // A changed filter resets what was learned (validators), so that entries a filter
        // dropped before are read again rather than hidden behind a 304.
        if !self.filters.is_empty() {
            let patterns = |v: &[Regex]| v.iter().map(|r| r.as_str().to_owned()).collect::<Vec<_>>();
            put(
                "filters",
                serde_json::json!({
                    "include": patterns(&self.filters.include),
                    "exclude": patterns(&self.filters.exclude),
                }),
            );
        }
        // serde_json's map is ordered by key (no `preserve_order` feature): canonical.
        serde_json::Value::Object(settings).to_string()
    }
}

/// The keys of a `type = "json"` source.
#[derive(Debug, Clone)]
pub struct JsonListConfig {
    /// JSON pointer to the array of items; `""` is the root.
    pub items: String,
    /// Where each field is in an item.
    pub fields: JsonFields,
    /// URL template (placeholders [`DETAIL_URL_PLACEHOLDERS`]) of a per-item full-text request.
    pub detail_url: Option<String>,
    /// JSON pointer to the HTML body in the detail response.
    pub detail_content: Option<String>,
}

/// `fields = { … }` of a json source: JSON pointers (RFC 6901) into one item.
#[derive(Debug, Clone)]
pub struct JsonFields {
    /// The infoCode or bare id.
    pub info_code: Option<String>,
    /// The title (required).
    pub title: String,
    /// The publication time.
    pub published: Option<String>,
    /// The originating outlet.
    pub media: Option<String>,
    /// The summary.
    pub summary: Option<String>,
    /// The article URL.
    pub url: Option<String>,
    /// Content carried in the list.
    pub content: Option<String>,
}

/// The keys of a `type = "html"` source: CSS selectors, `@attr` reads an attribute.
#[derive(Debug, Clone)]
pub struct HtmlListConfig {
    /// Selects each item of the list.
    pub item: String,
    /// Selects the item's link, relative to the item.
    pub link: String,
    /// Selects the item's title.
    pub title: Option<String>,
    /// Selects the item's publication time.
    pub published: Option<String>,
}

/// `[dedup]`.
#[derive(Debug, Clone)]
pub struct DedupConfig {
    /// Tried in order; capture group 1 is the infoCode or bare id.
    pub info_code: Vec<Regex>,
    /// Two capital letters that turn a bare 18-digit id into an infoCode (default `NW`).
    pub bare_id_prefix: String,
}

/// `[share]`.
#[derive(Debug, Clone)]
pub struct ShareConfig {
    /// URL templates (placeholders [`RESOLVE_PLACEHOLDERS`]) tried before a share link itself.
    pub resolve: Vec<String>,
    /// Queue share links found in feed items and article bodies.
    pub follow_discovered: bool,
    /// Hosts (lowercase, matched like `[[host]]`) whose share links may be fetched.
    pub allow_hosts: Vec<String>,
    /// When pending share links are tried again.
    pub recheck: Vec<Duration>,
    /// At most this many share links are queued from one page or entry (default
    /// [`DEFAULT_MAX_DISCOVERED`]).
    pub max_discovered: usize,
}

/// `[export]`.
#[derive(Debug, Clone, Default)]
pub struct ExportConfig {
    /// `[export.jekyll]`.
    pub jekyll: JekyllConfig,
}

/// `[export.jekyll]`: templates of the Jekyll front matter and footer (CONTRACT §5).
#[derive(Debug, Clone)]
pub struct JekyllConfig {
    /// `layout:` (default `post`).
    pub layout: String,
    /// Template of `categories:`; `None` is the built-in default.
    pub categories: Option<String>,
    /// Template of `tags:`; `None` is the built-in default.
    pub tags: Option<String>,
    /// Template of the footer; `None` is the built-in default.
    pub footer: Option<String>,
    /// Category per outlet (`media`), overriding the pinyin.
    pub category_map: BTreeMap<String, String>,
}

impl Default for DaemonConfig {
    fn default() -> Self {
        DaemonConfig {
            database: Database::Sqlite(PathBuf::from(DEFAULT_DATABASE)),
            timezone: Tz::Asia__Shanghai,
            log_format: LogFormat::Text,
            lease_period: DEFAULT_LEASE_PERIOD,
        }
    }
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            user_agent: DEFAULT_USER_AGENT.to_string(),
            timeout: Duration::from_secs(20),
            connect_timeout: Duration::from_secs(10),
            max_body: 8 * 1024 * 1024,
            max_redirects: 5,
            concurrency: 16,
            respect_robots: true,
            allow_private_networks: false,
        }
    }
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        RateLimitConfig {
            per_host: Rate {
                count: 1,
                per: Duration::from_secs(1),
            },
            burst: 1,
        }
    }
}

impl Default for ScheduleConfig {
    fn default() -> Self {
        ScheduleConfig {
            interval: Duration::from_secs(15 * 60),
            min_interval: Duration::from_secs(60),
            max_interval: Duration::from_secs(6 * 3600),
            adaptive: true,
            jitter: 0.1,
            max_backoff: Duration::from_secs(24 * 3600),
        }
    }
}

impl Default for DedupConfig {
    fn default() -> Self {
        let info_code = DEFAULT_INFO_CODE_PATTERNS
            .iter()
            .filter_map(|p| Regex::new(p).ok())
            .collect();
        DedupConfig {
            info_code,
            bare_id_prefix: "NW".to_string(),
        }
    }
}

impl Default for ShareConfig {
    fn default() -> Self {
        ShareConfig {
            resolve: Vec::new(),
            follow_discovered: true,
            allow_hosts: Vec::new(),
            recheck: vec![Duration::from_secs(3600), Duration::from_secs(86400)],
            max_discovered: DEFAULT_MAX_DISCOVERED,
        }
    }
}

impl Default for JekyllConfig {
    fn default() -> Self {
        JekyllConfig {
            layout: "post".to_string(),
            categories: None,
            tags: None,
            footer: None,
            category_map: BTreeMap::new(),
        }
    }
}

impl Config {
    /// Reads and validates the config file at `path`.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Config::parse(&text, path)
    }

    /// Parses and validates `text`; `path` names the file in messages and is the base of
    /// relative paths.
    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let dir = path.parent().unwrap_or(Path::new(""));
        let ctx = Ctx {
            text,
            path,
            dir: normalize_path(&std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf())),
            newlines: Ctx::newlines(text),
        };
        let raw: RawConfig = toml::from_str(text).map_err(|e| ctx.toml_error(&e))?;
        ctx.build(raw)
    }

    /// The timezone of a source's naive dates: its own, else `[daemon] timezone`.
    pub fn source_timezone(&self, source: &SourceConfig) -> Tz {
        source.timezone.unwrap_or(self.daemon.timezone)
    }

    /// The poll interval of a source: its own (already at least `min_interval`), else
    /// `[schedule] interval`.
    pub fn source_interval(&self, source: &SourceConfig) -> Duration {
        source.interval.unwrap_or(self.schedule.interval)
    }

    /// The `[[host]]` override for `host` (as in a URL, case-insensitive): the longest
    /// `domain` that is the host itself or a parent domain at a label boundary; an IP
    /// literal matches only itself.
    pub fn host_for(&self, host: &str) -> Option<&HostConfig> {
        self.hosts
            .iter()
            .filter(|h| host_matches(&h.domain, host))
            .max_by_key(|h| h.domain.len())
    }
}

/// Whether `host` is `domain` or one of its subdomains at a label boundary (CONTRACT §6
/// Hosts); case-insensitive, a trailing dot and IPv6 brackets ignored; an IP literal matches
/// only itself.
pub fn host_matches(domain: &str, host: &str) -> bool {
    let clean = |s: &str| {
        s.trim()
            .trim_end_matches('.')
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_ascii_lowercase()
    };
    let (domain, host) = (clean(domain), clean(host));
    if domain.is_empty() {
        return false;
    }
    match (domain.parse::<IpAddr>(), host.parse::<IpAddr>()) {
        (Ok(d), Ok(h)) => d == h,
        (Ok(_), Err(_)) | (Err(_), Ok(_)) => false,
        (Err(_), Err(_)) => {
            host == domain
                || host
                    .strip_suffix(domain.as_str())
                    .is_some_and(|rest| rest.ends_with('.'))
        }
    }
}
