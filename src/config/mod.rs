//! The TOML configuration of CONTRACT §2: the serde model, its defaults and its validation.
//!
//! [`Config::load`] reads one file and returns a fully checked [`Config`] in which every
//! duration, rate, URL, regex, timezone and path is already parsed, every default is filled
//! in and every relative path (the database, `file:` sample URLs) is resolved against the
//! config file's folder. Every mistake — an unknown key, a wrong type, a bad value, a key that
//! does not belong to a source's `type` — is a [`ConfigError`] naming the file, the line and
//! the key. This module reads the config file and nothing else: it never opens the database
//! and never touches the network.

use std::collections::BTreeMap;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::ops::Range;
use std::path::{Component, Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use chrono_tz::Tz;
use regex::Regex;
use serde::Deserialize;
use toml::Spanned;
use url::Url;

/// The default `[dedup] info_code` patterns; capture group 1 is the infoCode (`NW…`) or the
/// bare 18-digit East Money id.
pub const DEFAULT_INFO_CODE_PATTERNS: &[&str] = &[
    r"[?&][iI]nfo[cC]ode=([A-Z]{2}\d{18})",
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
/// The placeholders a `[share] resolve` template may use.
pub const RESOLVE_PLACEHOLDERS: &[&str] = &["info_code", "id"];

/// A config file that could not be read or is not a valid feedcrawler config.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{}: cannot read the config file: {source}", path.display())]
    Io {
        /// The config file.
        path: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// The file is not valid TOML, or a table or key in it is wrong.
    #[error("{}", invalid_display(.path, .line, .section, .key, .message))]
    Invalid {
        /// The config file.
        path: PathBuf,
        /// 1-based line of the offending key or value, where known.
        line: Option<usize>,
        /// The table, e.g. `[http]` or `[[source]] "zqrb"`; empty at the top level.
        section: String,
        /// The offending key, e.g. `interval`; empty for a plain TOML syntax error.
        key: String,
        /// What is wrong, for an operator.
        message: String,
    },
}

impl ConfigError {
    /// The 1-based line the error points at, where known.
    pub fn line(&self) -> Option<usize> {
        match self {
            ConfigError::Io { .. } => None,
            ConfigError::Invalid { line, .. } => *line,
        }
    }
}

fn invalid_display(path: &Path, line: &Option<usize>, section: &str, key: &str, message: &str) -> String {
    let mut out = path.display().to_string();
    if let Some(line) = line {
        out.push_str(&format!(":{line}"));
    }
    if !section.is_empty() {
        out.push_str(&format!(": {section}"));
    }
    if !key.is_empty() {
        out.push_str(&format!(": key `{key}`"));
    }
    out.push_str(&format!(": {message}"));
    out
}

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
    /// `[[source]]`s, in file order, disabled ones included.
    pub sources: Vec<SourceConfig>,
    /// `[dedup]`.
    pub dedup: DedupConfig,
    /// `[share]`.
    pub share: ShareConfig,
    /// `[export]`.
    pub export: ExportConfig,
    /// Things that were accepted but adjusted (e.g. an interval raised to `min_interval`),
    /// each naming file, line and key; `check` prints them.
    pub warnings: Vec<String>,
}

/// `[daemon]`.
#[derive(Debug, Clone)]
pub struct DaemonConfig {
    /// The SQLite database; a relative path is resolved against the config file's folder.
    pub database: PathBuf,
    /// How to read dates that carry no offset (default `Asia/Shanghai`).
    pub timezone: Tz,
    /// The log format (default text).
    pub log_format: LogFormat,
}

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
    /// `Some` iff `kind == Json`.
    pub json: Option<JsonListConfig>,
    /// `Some` iff `kind == Html`.
    pub html: Option<HtmlListConfig>,
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
    /// Prefix that turns a bare 18-digit id into an infoCode (default `NW`).
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
            database: PathBuf::from(DEFAULT_DATABASE),
            timezone: Tz::Asia__Shanghai,
            log_format: LogFormat::Text,
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

// ---------------------------------------------------------------------------------------
// The raw serde model: every key optional and spanned where validation needs its line.

type Str = Spanned<String>;

#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
struct RawConfig {
    daemon: RawDaemon,
    http: RawHttp,
    rate_limit: RawRateLimit,
    schedule: RawSchedule,
    metrics: Option<RawMetrics>,
    host: Vec<Spanned<RawHost>>,
    source: Vec<Spanned<RawSource>>,
    dedup: RawDedup,
    share: RawShare,
    export: RawExport,
}

#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
struct RawDaemon {
    database: Option<Str>,
    timezone: Option<Str>,
    log_format: Option<Str>,
}

#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
struct RawHttp {
    user_agent: Option<Str>,
    timeout: Option<Str>,
    connect_timeout: Option<Str>,
    max_body: Option<Spanned<RawSize>>,
    max_redirects: Option<u32>,
    concurrency: Option<Spanned<usize>>,
    respect_robots: Option<bool>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawSize {
    Bytes(u64),
    Text(String),
}

#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
struct RawRateLimit {
    per_host: Option<Str>,
    burst: Option<Spanned<u32>>,
}

#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
struct RawSchedule {
    interval: Option<Str>,
    min_interval: Option<Str>,
    max_interval: Option<Str>,
    adaptive: Option<bool>,
    jitter: Option<Spanned<f64>>,
    max_backoff: Option<Str>,
}

#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
struct RawMetrics {
    listen: Option<Str>,
}

#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
struct RawHost {
    domain: Option<Str>,
    per_host: Option<Str>,
    burst: Option<Spanned<u32>>,
    headers: Option<Spanned<BTreeMap<String, String>>>,
    article: Option<Spanned<RawArticle>>,
}

#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
struct RawArticle {
    title: Option<Str>,
    content: Option<Str>,
    published: Option<Str>,
    media: Option<Str>,
}

#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
struct RawSource {
    name: Option<Str>,
    #[serde(rename = "type")]
    kind: Option<Str>,
    url: Option<Str>,
    urls: Option<Spanned<Vec<Str>>>,
    interval: Option<Str>,
    category: Option<String>,
    tags: Option<Vec<String>>,
    full_text: Option<Spanned<bool>>,
    enabled: Option<bool>,
    timezone: Option<Str>,
    items: Option<Str>,
    fields: Option<Spanned<RawFields>>,
    detail_url: Option<Str>,
    detail_content: Option<Str>,
    item: Option<Str>,
    link: Option<Str>,
    title: Option<Str>,
    published: Option<Str>,
}

#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
struct RawFields {
    info_code: Option<Str>,
    title: Option<Str>,
    published: Option<Str>,
    media: Option<Str>,
    summary: Option<Str>,
    url: Option<Str>,
    content: Option<Str>,
}

#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
struct RawDedup {
    info_code: Option<Vec<Str>>,
    bare_id_prefix: Option<Str>,
}

#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
struct RawShare {
    resolve: Option<Vec<Str>>,
    follow_discovered: Option<bool>,
    allow_hosts: Option<Vec<Str>>,
    recheck: Option<Vec<Str>>,
}

#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
struct RawExport {
    jekyll: RawJekyll,
}

#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
struct RawJekyll {
    layout: Option<Str>,
    categories: Option<String>,
    tags: Option<String>,
    footer: Option<String>,
    category_map: Option<BTreeMap<String, String>>,
}

// ---------------------------------------------------------------------------------------
// Validation.

type Res<T> = Result<T, ConfigError>;

/// A source key, where it is, and the source types it belongs to.
type KindKey<'a> = (&'a str, Option<Range<usize>>, &'a [SourceKind]);

struct Ctx<'a> {
    text: &'a str,
    path: &'a Path,
    /// The config file's folder, absolute.
    dir: PathBuf,
}

/// One table being validated: knows how to name itself in an error.
struct Sec<'a> {
    ctx: &'a Ctx<'a>,
    name: String,
}

impl Ctx<'_> {
    fn line(&self, at: usize) -> usize {
        let bytes = self.text.as_bytes();
        bytes[..at.min(bytes.len())]
            .iter()
            .filter(|b| **b == b'\n')
            .count()
            + 1
    }

    fn sec(&self, name: impl Into<String>) -> Sec<'_> {
        Sec {
            ctx: self,
            name: name.into(),
        }
    }

    /// A serde/TOML error, with the table and key recovered from the text around its span.
    fn toml_error(&self, e: &toml::de::Error) -> ConfigError {
        let mut message = e.message().trim().to_string();
        let (line, section, key) = match e.span() {
            Some(span) => (
                Some(self.line(span.start)),
                section_at(self.text, span.start),
                key_at(self.text, &span, &message),
            ),
            None => (None, String::new(), String::new()),
        };
        let duration_keys = [
            "timeout",
            "connect_timeout",
            "interval",
            "min_interval",
            "max_interval",
            "max_backoff",
            "recheck",
        ];
        if duration_keys.contains(&key.as_str()) && message.ends_with("expected a string") {
            message.push_str(" (durations are quoted, such as \"20s\" or \"15m\")");
        }
        ConfigError::Invalid {
            path: self.path.to_path_buf(),
            line,
            section,
            key,
            message,
        }
    }

    fn resolve_path(&self, p: &str) -> PathBuf {
        normalize_path(&self.dir.join(p))
    }

    fn build(&self, raw: RawConfig) -> Res<Config> {
        let mut warnings = Vec::new();
        let daemon = self.daemon(&raw.daemon)?;
        let http = self.http(&raw.http)?;
        let rate_limit = self.rate_limit(&raw.rate_limit)?;
        let schedule = self.schedule(&raw.schedule, &mut warnings)?;
        let metrics = match &raw.metrics {
            None => None,
            Some(m) => Some(MetricsConfig {
                listen: match &m.listen {
                    None => SocketAddr::from(([127, 0, 0, 1], 9187)),
                    Some(v) => v.get_ref().trim().parse().map_err(|_| {
                        self.sec("[metrics]").err(
                            v.span(),
                            "listen",
                            format!(
                                "invalid address {:?}: expected IP:PORT such as {DEFAULT_METRICS_LISTEN:?}",
                                v.get_ref()
                            ),
                        )
                    })?,
                },
            }),
        };
        let mut hosts: Vec<HostConfig> = Vec::new();
        for (i, h) in raw.host.iter().enumerate() {
            let host = self.host(i, h)?;
            if hosts.iter().any(|o| o.domain == host.domain) {
                let span = h.get_ref().domain.as_ref().map_or(h.span(), |d| d.span());
                return Err(self.sec(format!("[[host]] {:?}", host.domain)).err(
                    span,
                    "domain",
                    "this domain already has a [[host]] table",
                ));
            }
            hosts.push(host);
        }
        let mut sources: Vec<SourceConfig> = Vec::new();
        let mut first_line = std::collections::HashMap::new();
        for (i, s) in raw.source.iter().enumerate() {
            let source = self.source(i, s, &schedule, &mut warnings)?;
            let line = self.line(s.get_ref().name.as_ref().map_or(s.span(), |n| n.span()).start);
            if let Some(first) = first_line.insert(source.name.clone(), line) {
                let span = s.get_ref().name.as_ref().map_or(s.span(), |n| n.span());
                let msg = format!(
                    "duplicate source name {:?} (first defined on line {first}); names must be unique",
                    source.name
                );
                return Err(self
                    .sec(format!("[[source]] {:?}", source.name))
                    .err(span, "name", msg));
            }
            sources.push(source);
        }
        Ok(Config {
            path: self.path.to_path_buf(),
            daemon,
            http,
            rate_limit,
            schedule,
            metrics,
            hosts,
            sources,
            dedup: self.dedup(&raw.dedup)?,
            share: self.share(&raw.share)?,
            export: self.export(&raw.export.jekyll)?,
            warnings,
        })
    }

    fn daemon(&self, r: &RawDaemon) -> Res<DaemonConfig> {
        let sec = self.sec("[daemon]");
        let mut d = DaemonConfig::default();
        if let Some(v) = &r.database {
            d.database = self.resolve_path(&sec.nonempty("database", v)?);
        }
        if let Some(v) = &r.timezone {
            d.timezone = sec.timezone("timezone", v)?;
        }
        if let Some(v) = &r.log_format {
            d.log_format = v
                .get_ref()
                .parse()
                .map_err(|m| sec.err(v.span(), "log_format", m))?;
        }
        Ok(d)
    }

    fn http(&self, r: &RawHttp) -> Res<HttpConfig> {
        let sec = self.sec("[http]");
        let mut h = HttpConfig::default();
        if let Some(v) = &r.user_agent {
            h.user_agent = sec.header_value("user_agent", v)?;
            if h.user_agent.trim().is_empty() {
                return Err(sec.err(v.span(), "user_agent", "must not be empty"));
            }
        }
        h.timeout = sec.duration("timeout", &r.timeout, h.timeout)?;
        h.connect_timeout = sec.duration("connect_timeout", &r.connect_timeout, h.connect_timeout)?;
        if let Some(v) = &r.max_body {
            let bytes = match v.get_ref() {
                RawSize::Bytes(n) => Ok(*n),
                RawSize::Text(s) => s
                    .trim()
                    .parse::<bytesize::ByteSize>()
                    .map(|b| b.as_u64())
                    .map_err(|e| format!("invalid size {s:?}: {e}")),
            };
            h.max_body = match bytes {
                Ok(0) => Err("must be more than 0 bytes".to_string()),
                other => other,
            }
            .map_err(|m| sec.err(v.span(), "max_body", m))?;
        }
        h.max_redirects = r.max_redirects.unwrap_or(h.max_redirects);
        if let Some(v) = &r.concurrency {
            h.concurrency = sec.at_least_one("concurrency", v)?;
        }
        h.respect_robots = r.respect_robots.unwrap_or(h.respect_robots);
        Ok(h)
    }

    fn rate_limit(&self, r: &RawRateLimit) -> Res<RateLimitConfig> {
        let sec = self.sec("[rate_limit]");
        let mut rl = RateLimitConfig::default();
        if let Some(v) = &r.per_host {
            rl.per_host = sec.rate("per_host", v)?;
        }
        if let Some(v) = &r.burst {
            rl.burst = sec.at_least_one("burst", v)?;
        }
        Ok(rl)
    }

    fn schedule(&self, r: &RawSchedule, warnings: &mut Vec<String>) -> Res<ScheduleConfig> {
        let sec = self.sec("[schedule]");
        let d = ScheduleConfig::default();
        let min_interval = sec.duration("min_interval", &r.min_interval, d.min_interval)?;
        let max_interval = sec.duration("max_interval", &r.max_interval, d.max_interval)?;
        if min_interval > max_interval {
            let span = r
                .min_interval
                .as_ref()
                .or(r.max_interval.as_ref())
                .map_or(0..0, |v| v.span());
            let msg = format!(
                "min_interval {} is greater than max_interval {}",
                fmt_d(min_interval),
                fmt_d(max_interval)
            );
            return Err(sec.err(span, "min_interval", msg));
        }
        let interval = sec.duration("interval", &r.interval, d.interval)?;
        let interval = sec.clamp_interval(&r.interval, interval, min_interval, warnings);
        let jitter = match &r.jitter {
            None => d.jitter,
            Some(v) if v.get_ref().is_finite() && (0.0..=0.5).contains(v.get_ref()) => *v.get_ref(),
            Some(v) => {
                return Err(sec.err(
                    v.span(),
                    "jitter",
                    format!("{} is out of range: expected 0.0 to 0.5", v.get_ref()),
                ));
            }
        };
        Ok(ScheduleConfig {
            interval,
            min_interval,
            max_interval,
            adaptive: r.adaptive.unwrap_or(d.adaptive),
            jitter,
            max_backoff: sec.duration("max_backoff", &r.max_backoff, d.max_backoff)?,
        })
    }

    fn host(&self, i: usize, h: &Spanned<RawHost>) -> Res<HostConfig> {
        let r = h.get_ref();
        let Some(domain) = &r.domain else {
            return Err(self.sec(format!("[[host]] #{}", i + 1)).err(
                h.span(),
                "domain",
                "missing: every [[host]] needs a domain",
            ));
        };
        let sec = self.sec(format!("[[host]] {:?}", domain.get_ref()));
        let mut headers = Vec::new();
        if let Some(hs) = &r.headers {
            for (name, value) in hs.get_ref() {
                let token = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
                if name.is_empty() || !name.chars().all(token) {
                    return Err(sec.err(hs.span(), "headers", format!("invalid header name {name:?}")));
                }
                if value.chars().any(|c| c == '\r' || c == '\n' || c == '\0') {
                    return Err(sec.err(
                        hs.span(),
                        "headers",
                        format!("header {name:?}: value must be one line"),
                    ));
                }
                headers.push((name.clone(), value.clone()));
            }
        }
        let article = match &r.article {
            None => None,
            Some(a) => {
                let a = a.get_ref();
                let sel = |key: &str, v: &Option<Str>| v.as_ref().map(|v| sec.selector(key, v)).transpose();
                Some(ArticleSelectors {
                    title: sel("article.title", &a.title)?,
                    content: sel("article.content", &a.content)?,
                    published: sel("article.published", &a.published)?,
                    media: sel("article.media", &a.media)?,
                })
            }
        };
        Ok(HostConfig {
            domain: sec.domain("domain", domain)?,
            per_host: r.per_host.as_ref().map(|v| sec.rate("per_host", v)).transpose()?,
            burst: r
                .burst
                .as_ref()
                .map(|v| sec.at_least_one("burst", v))
                .transpose()?,
            headers,
            article,
        })
    }

    fn source(
        &self,
        i: usize,
        s: &Spanned<RawSource>,
        schedule: &ScheduleConfig,
        warnings: &mut Vec<String>,
    ) -> Res<SourceConfig> {
        use SourceKind::*;
        let r = s.get_ref();
        let Some(name_v) = &r.name else {
            return Err(self.sec(format!("[[source]] #{}", i + 1)).err(
                s.span(),
                "name",
                "missing: every [[source]] needs a unique name",
            ));
        };
        let sec = self.sec(format!("[[source]] {:?}", name_v.get_ref()));
        let name = name_v.get_ref().clone();
        if name.trim().is_empty() || name.trim() != name || name.chars().any(char::is_control) {
            return Err(sec.err(
                name_v.span(),
                "name",
                "must be non-empty, without surrounding spaces or control characters",
            ));
        }
        let kind = match &r.kind {
            None => Feed,
            Some(v) => v.get_ref().parse().map_err(|m| sec.err(v.span(), "type", m))?,
        };
        let span_of = |v: &Option<Str>| v.as_ref().map(|v| v.span());
        let kind_keys: [KindKey; 11] = [
            ("url", span_of(&r.url), &[Feed, Json, Html]),
            ("urls", r.urls.as_ref().map(|v| v.span()), &[ShareLinks]),
            ("full_text", r.full_text.as_ref().map(|v| v.span()), &[Feed, Json]),
            ("items", span_of(&r.items), &[Json]),
            ("fields", r.fields.as_ref().map(|v| v.span()), &[Json]),
            ("detail_url", span_of(&r.detail_url), &[Json]),
            ("detail_content", span_of(&r.detail_content), &[Json]),
            ("item", span_of(&r.item), &[Html]),
            ("link", span_of(&r.link), &[Html]),
            ("title", span_of(&r.title), &[Html]),
            ("published", span_of(&r.published), &[Html]),
        ];
        for (key, span, kinds) in &kind_keys {
            if let Some(span) = span
                && !kinds.contains(&kind)
            {
                let owners: Vec<String> = kinds.iter().map(|k| format!("{:?}", k.as_str())).collect();
                let msg = format!(
                    "does not belong to a type = {:?} source (only to type = {})",
                    kind.as_str(),
                    owners.join(" or ")
                );
                return Err(sec.err(span.clone(), key, msg));
            }
        }
        let url = match (&r.url, kind) {
            (Some(v), _) => Some(sec.url("url", v)?),
            (None, ShareLinks) => None,
            (None, _) => {
                return Err(sec.err(
                    s.span(),
                    "url",
                    format!("missing: a type = {:?} source needs a url", kind.as_str()),
                ));
            }
        };
        let urls = match (&r.urls, kind) {
            (Some(v), _) if v.get_ref().is_empty() => {
                return Err(sec.err(v.span(), "urls", "must list at least one URL"));
            }
            (Some(v), _) => v
                .get_ref()
                .iter()
                .map(|u| sec.url("urls", u))
                .collect::<Res<Vec<_>>>()?,
            (None, ShareLinks) => {
                return Err(sec.err(
                    s.span(),
                    "urls",
                    "missing: a type = \"share_links\" source needs urls = [ … ]",
                ));
            }
            (None, _) => Vec::new(),
        };
        let interval = match &r.interval {
            None => None,
            Some(v) => {
                let d = sec.duration("interval", &r.interval, Duration::ZERO)?;
                Some(sec.clamp_interval(&Some(v.clone()), d, schedule.min_interval, warnings))
            }
        };
        let json = if kind == Json {
            let Some(fields) = &r.fields else {
                return Err(sec.err(
                    s.span(),
                    "fields",
                    "missing: a type = \"json\" source needs fields = { title = \"/…\", … }",
                ));
            };
            let f = fields.get_ref();
            let ptr = |key: &str, v: &Option<Str>| v.as_ref().map(|v| sec.pointer(key, v)).transpose();
            let Some(title) = &f.title else {
                return Err(sec.err(
                    fields.span(),
                    "fields.title",
                    "missing: the JSON pointer to an item's title is required",
                ));
            };
            if r.detail_content.is_some() && r.detail_url.is_none() {
                return Err(sec.err(
                    span_of(&r.detail_content).unwrap_or_default(),
                    "detail_content",
                    "needs detail_url",
                ));
            }
            Some(JsonListConfig {
                items: ptr("items", &r.items)?.unwrap_or_default(),
                fields: JsonFields {
                    info_code: ptr("fields.info_code", &f.info_code)?,
                    title: sec.pointer("fields.title", title)?,
                    published: ptr("fields.published", &f.published)?,
                    media: ptr("fields.media", &f.media)?,
                    summary: ptr("fields.summary", &f.summary)?,
                    url: ptr("fields.url", &f.url)?,
                    content: ptr("fields.content", &f.content)?,
                },
                detail_url: r
                    .detail_url
                    .as_ref()
                    .map(|v| sec.template("detail_url", v, DETAIL_URL_PLACEHOLDERS))
                    .transpose()?,
                detail_content: ptr("detail_content", &r.detail_content)?,
            })
        } else {
            None
        };
        let html = if kind == Html {
            let need = |key: &str, v: &Option<Str>| match v {
                Some(v) => sec.selector(key, v),
                None => Err(sec.err(
                    s.span(),
                    key,
                    format!("missing: a type = \"html\" source needs `{key}` (a CSS selector)"),
                )),
            };
            let opt = |key: &str, v: &Option<Str>| v.as_ref().map(|v| sec.selector(key, v)).transpose();
            Some(HtmlListConfig {
                item: need("item", &r.item)?,
                link: need("link", &r.link)?,
                title: opt("title", &r.title)?,
                published: opt("published", &r.published)?,
            })
        } else {
            None
        };
        Ok(SourceConfig {
            name,
            kind,
            url,
            urls,
            interval,
            category: r.category.clone().filter(|c| !c.trim().is_empty()),
            tags: r.tags.clone().unwrap_or_default(),
            full_text: r.full_text.as_ref().is_some_and(|v| *v.get_ref()),
            enabled: r.enabled.unwrap_or(true),
            timezone: r
                .timezone
                .as_ref()
                .map(|v| sec.timezone("timezone", v))
                .transpose()?,
            json,
            html,
        })
    }

    fn dedup(&self, r: &RawDedup) -> Res<DedupConfig> {
        let sec = self.sec("[dedup]");
        let mut d = DedupConfig::default();
        if let Some(patterns) = &r.info_code {
            d.info_code = Vec::new();
            for p in patterns {
                let re = Regex::new(p.get_ref()).map_err(|e| {
                    sec.err(
                        p.span(),
                        "info_code",
                        format!("invalid regex {:?}: {e}", p.get_ref()),
                    )
                })?;
                if re.captures_len() < 2 {
                    return Err(sec.err(
                        p.span(),
                        "info_code",
                        format!(
                            "regex {:?} has no capture group; group 1 must capture the infoCode",
                            p.get_ref()
                        ),
                    ));
                }
                d.info_code.push(re);
            }
        }
        if let Some(v) = &r.bare_id_prefix {
            if v.get_ref().is_empty() || !v.get_ref().chars().all(|c| c.is_ascii_alphanumeric()) {
                return Err(sec.err(
                    v.span(),
                    "bare_id_prefix",
                    "must be non-empty ASCII letters or digits, such as \"NW\"",
                ));
            }
            d.bare_id_prefix = v.get_ref().clone();
        }
        Ok(d)
    }

    fn share(&self, r: &RawShare) -> Res<ShareConfig> {
        let sec = self.sec("[share]");
        let mut s = ShareConfig::default();
        if let Some(v) = &r.resolve {
            s.resolve = v
                .iter()
                .map(|t| sec.template("resolve", t, RESOLVE_PLACEHOLDERS))
                .collect::<Res<_>>()?;
        }
        s.follow_discovered = r.follow_discovered.unwrap_or(s.follow_discovered);
        if let Some(v) = &r.allow_hosts {
            s.allow_hosts = v
                .iter()
                .map(|h| sec.domain("allow_hosts", h))
                .collect::<Res<_>>()?;
        }
        if let Some(v) = &r.recheck {
            s.recheck = v
                .iter()
                .map(|d| sec.duration("recheck", &Some(d.clone()), Duration::ZERO))
                .collect::<Res<_>>()?;
        }
        Ok(s)
    }

    fn export(&self, r: &RawJekyll) -> Res<ExportConfig> {
        let mut j = JekyllConfig::default();
        if let Some(v) = &r.layout {
            j.layout = self.sec("[export.jekyll]").nonempty("layout", v)?;
        }
        j.categories = r.categories.clone();
        j.tags = r.tags.clone();
        j.footer = r.footer.clone();
        j.category_map = r.category_map.clone().unwrap_or_default();
        Ok(ExportConfig { jekyll: j })
    }
}

impl Sec<'_> {
    fn err(&self, span: Range<usize>, key: &str, message: impl Into<String>) -> ConfigError {
        ConfigError::Invalid {
            path: self.ctx.path.to_path_buf(),
            line: Some(self.ctx.line(span.start)),
            section: self.name.clone(),
            key: key.to_string(),
            message: message.into(),
        }
    }

    fn nonempty(&self, key: &str, v: &Str) -> Res<String> {
        match v.get_ref().trim() {
            "" => Err(self.err(v.span(), key, "must not be empty")),
            s => Ok(s.to_string()),
        }
    }

    /// A positive humantime duration, or `default` when absent.
    fn duration(&self, key: &str, v: &Option<Str>, default: Duration) -> Res<Duration> {
        let Some(v) = v else { return Ok(default) };
        match humantime::parse_duration(v.get_ref().trim()) {
            Ok(d) if d.is_zero() => Err(self.err(
                v.span(),
                key,
                format!("invalid duration {:?}: must be more than zero", v.get_ref()),
            )),
            Ok(d) => Ok(d),
            Err(e) => Err(self.err(
                v.span(),
                key,
                format!(
                    "invalid duration {:?}: {e} (write e.g. \"90s\", \"15m\", \"1h 30m\")",
                    v.get_ref()
                ),
            )),
        }
    }

    /// Raises an interval below `min` to `min`, with a warning.
    fn clamp_interval(
        &self,
        v: &Option<Str>,
        d: Duration,
        min: Duration,
        warnings: &mut Vec<String>,
    ) -> Duration {
        if d >= min {
            return d;
        }
        let line = v.as_ref().map(|v| self.ctx.line(v.span().start));
        let where_ = invalid_display(self.ctx.path, &line, &self.name, "interval", "");
        let default = if v.is_none() { "the default " } else { "" };
        warnings.push(format!(
            "{where_}{default}{} is below [schedule] min_interval {}; raised to {}",
            fmt_d(d),
            fmt_d(min),
            fmt_d(min)
        ));
        min
    }

    fn rate(&self, key: &str, v: &Str) -> Res<Rate> {
        v.get_ref().parse().map_err(|m| self.err(v.span(), key, m))
    }

    fn at_least_one<T: Copy + PartialOrd + From<u8>>(&self, key: &str, v: &Spanned<T>) -> Res<T> {
        match *v.get_ref() {
            n if n >= T::from(1) => Ok(n),
            _ => Err(self.err(v.span(), key, "must be at least 1")),
        }
    }

    fn timezone(&self, key: &str, v: &Str) -> Res<Tz> {
        v.get_ref().trim().parse().map_err(|_| {
            self.err(
                v.span(),
                key,
                format!(
                    "unknown timezone {:?}: expected an IANA name such as \"Asia/Shanghai\" or \"UTC\"",
                    v.get_ref()
                ),
            )
        })
    }

    /// A header value (no line breaks).
    fn header_value(&self, key: &str, v: &Str) -> Res<String> {
        if v.get_ref().chars().any(|c| c == '\r' || c == '\n' || c == '\0') {
            return Err(self.err(v.span(), key, "must be a single line"));
        }
        Ok(v.get_ref().clone())
    }

    /// An http, https or file URL; `file:relative/path` resolves against the config's folder.
    fn url(&self, key: &str, v: &Str) -> Res<Url> {
        let raw = v.get_ref().trim();
        let bad = |m: String| self.err(v.span(), key, format!("invalid URL {raw:?}: {m}"));
        if let Some(rest) = raw
            .get(..5)
            .filter(|p| p.eq_ignore_ascii_case("file:"))
            .map(|_| &raw[5..])
            && !rest.starts_with('/')
        {
            if rest.is_empty() {
                return Err(bad("no file path".into()));
            }
            return Url::from_file_path(self.ctx.resolve_path(rest))
                .map_err(|_| bad("cannot make an absolute file path of it".into()));
        }
        let url = Url::parse(raw).map_err(|e| bad(e.to_string()))?;
        match url.scheme() {
            "http" | "https" if url.host_str().is_some_and(|h| !h.is_empty()) => Ok(url),
            "http" | "https" => Err(bad("no host".into())),
            "file" => Ok(url),
            other => Err(bad(format!(
                "unsupported scheme {other:?}: expected http, https or file"
            ))),
        }
    }

    /// A URL template: every `{name}` must be one of `allowed`; with them filled in it must
    /// be a valid URL (unless it starts with a placeholder, such as `{url}`).
    fn template(&self, key: &str, v: &Str, allowed: &[&str]) -> Res<String> {
        let t = v.get_ref().trim();
        let mut filled = String::new();
        let mut rest = t;
        while let Some(open) = rest.find('{') {
            filled.push_str(&rest[..open]);
            let Some(close) = rest[open..].find('}') else {
                return Err(self.err(v.span(), key, format!("unclosed `{{` in template {t:?}")));
            };
            let name = &rest[open + 1..open + close];
            if !allowed.contains(&name) {
                let names: Vec<String> = allowed.iter().map(|a| format!("{{{a}}}")).collect();
                return Err(self.err(
                    v.span(),
                    key,
                    format!(
                        "unknown placeholder {{{name}}} in {t:?}: expected {}",
                        names.join(", ")
                    ),
                ));
            }
            filled.push_str(if name == "info_code" {
                "NW202204192348095567"
            } else {
                "202204192348095567"
            });
            rest = &rest[open + close + 1..];
        }
        filled.push_str(rest);
        if !t.starts_with('{') {
            self.url(key, &Spanned::new(v.span(), filled))?;
        }
        Ok(t.to_string())
    }

    /// A JSON pointer (RFC 6901): `""` or starting with `/`, `~` only as `~0` or `~1`.
    fn pointer(&self, key: &str, v: &Str) -> Res<String> {
        let p = v.get_ref();
        let bad_tilde = p
            .match_indices('~')
            .any(|(i, _)| !matches!(p.as_bytes().get(i + 1), Some(b'0' | b'1')));
        if !(p.is_empty() || p.starts_with('/')) || bad_tilde {
            return Err(self.err(
                v.span(),
                key,
                format!(
                    "invalid JSON pointer {p:?}: expected \"\" (the root) or a path such as \"/data/list\""
                ),
            ));
        }
        Ok(p.clone())
    }

    /// A CSS selector, optionally ending in `@attr`.
    fn selector(&self, key: &str, v: &Str) -> Res<String> {
        let s = v.get_ref().trim();
        let (css, attr) = match s.rsplit_once('@') {
            Some((css, attr)) => (css.trim(), Some(attr.trim())),
            None => (s, None),
        };
        if css.is_empty() || attr.is_some_and(str::is_empty) {
            return Err(self.err(
                v.span(),
                key,
                format!("invalid selector {s:?}: expected a CSS selector, optionally followed by @attribute"),
            ));
        }
        Ok(s.to_string())
    }

    /// A domain (lowercased, IDN to punycode) or IP literal.
    fn domain(&self, key: &str, v: &Str) -> Res<String> {
        let s = v.get_ref().trim().trim_end_matches('.').to_lowercase();
        let bad = |m: &str| self.err(v.span(), key, format!("invalid domain {:?}: {m}", v.get_ref()));
        if s.contains('*') {
            return Err(bad("write the bare domain; its subdomains match automatically"));
        }
        if let Ok(ip) = s.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>() {
            return Ok(ip.to_string());
        }
        match url::Host::parse(&s) {
            Ok(url::Host::Domain(d)) if !d.is_empty() && !d.contains(['/', ':']) => Ok(d),
            Ok(url::Host::Ipv4(ip)) => Ok(ip.to_string()),
            _ => Err(bad(
                "expected a host name such as \"eastmoney.com\" (no scheme, port or path)",
            )),
        }
    }
}

fn fmt_d(d: Duration) -> String {
    humantime::format_duration(d).to_string()
}

/// Removes `.` and resolves `..` components lexically.
fn normalize_path(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir if matches!(out.components().next_back(), Some(Component::Normal(_))) => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// The table an offset lies in, from the nearest header above it, e.g. `[[source]] "zqrb"`.
fn section_at(text: &str, at: usize) -> String {
    let at = at.min(text.len());
    let line_start = text[..at].rfind('\n').map_or(0, |i| i + 1);
    let is_header = |l: &str| l.trim_start().starts_with('[');
    if text[line_start..].lines().next().is_some_and(is_header) {
        return String::new(); // the error is about the header's own name: a top-level key
    }
    let Some(hstart) = text[..line_start]
        .lines()
        .enumerate()
        .filter(|(_, l)| is_header(l))
        .map(|(i, _)| i)
        .last()
    else {
        return String::new();
    };
    let mut lines = text.lines().skip(hstart);
    let header = lines.next().unwrap_or_default();
    let header = header.split('#').next().unwrap_or_default().trim().to_string();
    let id_key = match header.as_str() {
        "[[source]]" => "name",
        "[[host]]" => "domain",
        _ => return header,
    };
    for l in lines.take_while(|l| !is_header(l)) {
        if let Some((k, v)) = l.split_once('=')
            && k.trim() == id_key
        {
            let v = v
                .split('#')
                .next()
                .unwrap_or_default()
                .trim()
                .trim_matches(['"', '\'']);
            return format!("{header} {v:?}");
        }
    }
    header
}

/// The key an error span belongs to: named by the message, or the key before the nearest `=`.
fn key_at(text: &str, span: &Range<usize>, message: &str) -> String {
    for marker in ["unknown field `", "missing field `"] {
        if let Some(rest) = message.split_once(marker).map(|(_, r)| r) {
            return rest.split('`').next().unwrap_or_default().to_string();
        }
    }
    if message.starts_with("duplicate key") {
        return text
            .get(span.clone())
            .unwrap_or_default()
            .trim()
            .trim_matches(['"', '\''])
            .to_string();
    }
    for line in text.get(..span.start).unwrap_or_default().rsplit('\n') {
        if line.trim_start().starts_with('[') {
            break;
        }
        if let Some((before, _)) = line.rsplit_once('=') {
            let key = before
                .trim_end()
                .rsplit([' ', '\t', '{', ','])
                .next()
                .unwrap_or_default();
            return key.trim_matches(['"', '\'']).to_string();
        }
    }
    String::new()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(text, Path::new("/etc/fc/feedcrawler.toml"))
    }

    /// Asserts that `text` fails on `line` naming `key`, and returns the message.
    fn fails(text: &str, line: usize, key: &str) -> String {
        match parse(text) {
            Err(e @ ConfigError::Invalid { .. }) => {
                let ConfigError::Invalid { line: l, key: k, .. } = &e else {
                    unreachable!()
                };
                assert_eq!((*l, k.as_str()), (Some(line), key), "{e}");
                e.to_string()
            }
            other => panic!("expected an error on line {line} key {key}, got {other:?}"),
        }
    }

    #[test]
    fn defaults() {
        let c = parse("").unwrap();
        assert_eq!(c.daemon.database, PathBuf::from(DEFAULT_DATABASE));
        assert_eq!(c.daemon.timezone, Tz::Asia__Shanghai);
        assert_eq!(c.daemon.log_format, LogFormat::Text);
        assert_eq!(c.http.user_agent, DEFAULT_USER_AGENT);
        assert_eq!(
            (c.http.timeout, c.http.connect_timeout),
            (Duration::from_secs(20), Duration::from_secs(10))
        );
        assert_eq!(
            (
                c.http.max_body,
                c.http.max_redirects,
                c.http.concurrency,
                c.http.respect_robots
            ),
            (8 << 20, 5, 16, true)
        );
        assert_eq!(
            c.rate_limit.per_host,
            Rate {
                count: 1,
                per: Duration::from_secs(1)
            }
        );
        assert_eq!(c.rate_limit.burst, 1);
        let s = &c.schedule;
        assert_eq!(
            (s.interval, s.min_interval, s.max_interval),
            (
                Duration::from_secs(900),
                Duration::from_secs(60),
                Duration::from_secs(21600)
            )
        );
        assert!(s.adaptive && s.jitter == 0.1 && s.max_backoff == Duration::from_secs(86400));
        assert!(c.metrics.is_none() && c.hosts.is_empty() && c.sources.is_empty() && c.warnings.is_empty());
        assert_eq!(c.dedup.info_code.len(), DEFAULT_INFO_CODE_PATTERNS.len());
        assert_eq!(c.dedup.bare_id_prefix, "NW");
        assert!(c.share.follow_discovered && c.share.resolve.is_empty());
        assert_eq!(
            c.share.recheck,
            vec![Duration::from_secs(3600), Duration::from_secs(86400)]
        );
        assert_eq!(c.export.jekyll.layout, "post");
        let share = "http://finews.zning.xyz/html_News/NewsShare.html?infoCode=NW202204192348095567";
        assert_eq!(
            &c.dedup.info_code[0].captures(share).unwrap()[1],
            "NW202204192348095567"
        );
        assert_eq!(
            &c.dedup.info_code[2]
                .captures("https://finance.eastmoney.com/a/202204192348095567.html")
                .unwrap()[1],
            "202204192348095567"
        );
        assert_eq!(
            &c.dedup.info_code[3]
                .captures("http://x/news/1345,202204192348095567.html")
                .unwrap()[1],
            "202204192348095567"
        );
        let c = parse("[metrics]\n").unwrap();
        assert_eq!(c.metrics.unwrap().listen.to_string(), DEFAULT_METRICS_LISTEN);
    }

    #[test]
    fn example_file_loads() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/feedcrawler.toml");
        let c = Config::load(&path).unwrap_or_else(|e| panic!("{e}"));
        let dir = normalize_path(&std::path::absolute(path.parent().unwrap()).unwrap());
        assert_eq!(c.daemon.database, dir.join("feedcrawler.db"));
        assert!(c.metrics.is_some() && !c.hosts.is_empty() && c.warnings.is_empty());
        for kind in [
            SourceKind::Feed,
            SourceKind::Json,
            SourceKind::Html,
            SourceKind::ShareLinks,
        ] {
            assert!(c.sources.iter().any(|s| s.kind == kind), "no {kind} source");
        }
        let enabled: Vec<_> = c.sources.iter().filter(|s| s.enabled).collect();
        assert!(enabled.len() >= 2);
        for s in enabled {
            let url = s.url.as_ref().unwrap();
            assert_eq!(url.scheme(), "file", "{}", s.name);
            assert!(url.to_file_path().unwrap().starts_with(dir.join("samples")));
        }
        assert!(
            c.host_for("finance.eastmoney.com")
                .is_some_and(|h| !h.headers.is_empty())
        );
    }

    #[test]
    fn serde_errors_name_line_and_key() {
        let m = fails(
            "[http]\ntimeout = \"5s\"\n\n[[source]]\nname = \"a\"\nurl = \"https://a.example/\"\nintreval = \"5m\"\n",
            7,
            "intreval",
        );
        assert!(m.contains("[[source]] \"a\""), "{m}");
        fails("[http]\nmax_redirects = \"five\"\n", 2, "max_redirects");
        fails(
            "[[source]]\nname = \"a\"\ntype = \"json\"\nurl = \"https://a.example/\"\nfields = { title = 1 }\n",
            5,
            "title",
        );
        fails(
            "[[source]]\nname = \"a\"\nurl = \"https://a.example/\"\ntags = [\n  \"x\",\n  2,\n]\n",
            6,
            "tags",
        );
        fails("\n[nonsense]\nx = 1\n", 2, "nonsense");
    }

    #[test]
    fn validation_errors_name_line_and_key() {
        let src = "[[source]]\nname = \"a\"\nurl = \"https://a.example/\"\n";
        let m = fails(
            &format!("{src}\n[[source]]\nname = \"a\"\nurl = \"https://b.example/\"\n"),
            6,
            "name",
        );
        assert!(m.contains("line 2"), "{m}");
        let m = fails(&format!("{src}interval = \"ten minutes\"\n"), 4, "interval");
        assert!(
            m.starts_with("/etc/fc/feedcrawler.toml:4: [[source]] \"a\": key `interval`: invalid duration"),
            "{m}"
        );
        fails("[rate_limit]\nburst = 2\nper_host = \"2/d\"\n", 3, "per_host");
        fails("[rate_limit]\nper_host = \"0/s\"\n", 2, "per_host");
        fails(
            "[[source]]\nname = \"a\"\nurl = \"ftp://a.example/x\"\n",
            3,
            "url",
        );
        fails("[[source]]\nname = \"a\"\nurl = \"not a url\"\n", 3, "url");
        fails(
            "[schedule]\nmin_interval = \"2h\"\nmax_interval = \"1h\"\n",
            2,
            "min_interval",
        );
        let m = fails(&format!("{src}items = \"/data\"\n"), 4, "items");
        assert!(m.contains("type = \"feed\""), "{m}");
        fails(
            "[[source]]\nname = \"a\"\ntype = \"html\"\nurl = \"https://a.example/\"\nitem = \"li\"\n",
            1,
            "link",
        );
        fails("[[source]]\nname = \"a\"\ntype = \"json\"\n", 1, "url");
        fails("[[source]]\nname = \"a\"\ntype = \"share_links\"\n", 1, "urls");
        fails("[[source]]\nname = \"a\"\ntype = \"rss\"\n", 3, "type");
        fails("[daemon]\ntimezone = \"Asia/Shangai\"\n", 2, "timezone");
        fails("[dedup]\ninfo_code = ['NW\\d{18}']\n", 2, "info_code");
        fails("[dedup]\ninfo_code = ['(unclosed']\n", 2, "info_code");
        fails(
            "[share]\nresolve = [\"https://x.example/{nope}\"]\n",
            2,
            "resolve",
        );
        fails("[[host]]\ndomain = \"*.eastmoney.com\"\n", 2, "domain");
        fails("[schedule]\njitter = 0.9\n", 2, "jitter");
        fails(
            &format!("{src}type = \"json\"\nfields = {{ title = \"title\" }}\n"),
            5,
            "fields.title",
        );
    }

    #[test]
    fn relative_paths_resolve_against_the_config_folder() {
        let text = "[daemon]\ndatabase = \"../data/fc.db\"\n[[source]]\nname = \"s\"\nurl = \"file:samples/a b.xml\"\n\
                    [[source]]\nname = \"t\"\nurl = \"file:///srv/x.xml\"\n";
        let c = parse(text).unwrap();
        assert_eq!(c.daemon.database, PathBuf::from("/etc/data/fc.db"));
        assert_eq!(
            c.sources[0].url.as_ref().unwrap().as_str(),
            "file:///etc/fc/samples/a%20b.xml"
        );
        assert_eq!(c.sources[1].url.as_ref().unwrap().as_str(), "file:///srv/x.xml");
    }

    #[test]
    fn host_matching() {
        let text = "[[host]]\ndomain = \"EastMoney.com\"\n[[host]]\ndomain = \"finance.eastmoney.com\"\nburst = 3\n\
                    [[host]]\ndomain = \"10.0.0.1\"\n[[host]]\ndomain = \"[::1]\"\n";
        let c = parse(text).unwrap();
        let d = |h: &str| c.host_for(h).map(|h| h.domain.as_str());
        assert_eq!(d("eastmoney.com"), Some("eastmoney.com"));
        assert_eq!(d("NP-listapi.EastMoney.com."), Some("eastmoney.com"));
        assert_eq!(d("finance.eastmoney.com"), Some("finance.eastmoney.com"));
        assert_eq!(d("a.finance.eastmoney.com"), Some("finance.eastmoney.com"));
        assert_eq!(d("noteastmoney.com"), None);
        assert_eq!(d("10.0.0.1"), Some("10.0.0.1"));
        assert_eq!(d("1.10.0.0.1"), None);
        assert_eq!(d("[::1]"), Some("::1"));
        assert!(
            host_matches("zning.xyz", "finews.zning.xyz") && !host_matches("zning.xyz", "zning.xyz.evil")
        );
    }

    #[test]
    fn interval_below_min_is_raised_with_a_warning() {
        let text = "[schedule]\nmin_interval = \"2m\"\n[[source]]\nname = \"a\"\nurl = \"https://a.example/\"\ninterval = \"30s\"\n\
                    [[source]]\nname = \"b\"\nurl = \"https://b.example/\"\n";
        let c = parse(text).unwrap();
        assert_eq!(c.source_interval(&c.sources[0]), Duration::from_secs(120));
        assert_eq!(c.source_interval(&c.sources[1]), Duration::from_secs(900));
        assert_eq!(c.warnings.len(), 1);
        assert!(
            c.warnings[0]
                .starts_with("/etc/fc/feedcrawler.toml:6: [[source]] \"a\": key `interval`: 30s is below"),
            "{}",
            c.warnings[0]
        );
        assert_eq!(c.source_timezone(&c.sources[0]), Tz::Asia__Shanghai);
    }

    #[test]
    fn values_parse() {
        assert_eq!(
            "30/m".parse::<Rate>().unwrap(),
            Rate {
                count: 30,
                per: Duration::from_secs(60)
            }
        );
        assert_eq!("100 / h".parse::<Rate>().unwrap().to_string(), "100/h");
        let c = parse("[http]\nmax_body = \"1MiB\"\n[daemon]\nlog_format = \"json\"\ntimezone = \"UTC\"\n")
            .unwrap();
        assert_eq!(
            (c.http.max_body, c.daemon.log_format, c.daemon.timezone),
            (1 << 20, LogFormat::Json, Tz::UTC)
        );
        assert_eq!(parse("[http]\nmax_body = 1000\n").unwrap().http.max_body, 1000);
        fails("[http]\nmax_body = \"lots\"\n", 2, "max_body");
        let m = fails("[http]\ntimeout = 20\n", 2, "timeout");
        assert!(m.contains("durations are quoted"), "{m}");
    }
}
