//! The raw serde model of the config file: every table and key exactly as written, every key
//! optional and [`Spanned`] where validation needs its line. Every table denies unknown keys,
//! so a typo is an error rather than silently ignored. Turning this into a
//! [`Config`](super::Config) is the job of [`validate`](super::validate).

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

/// A string value that remembers where it was written.
pub(super) type Str = Spanned<String>;

/// The whole file.
#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub(super) struct RawConfig {
    pub(super) daemon: RawDaemon,
    pub(super) http: RawHttp,
    pub(super) rate_limit: RawRateLimit,
    pub(super) schedule: RawSchedule,
    pub(super) metrics: Option<RawMetrics>,
    pub(super) host: Vec<Spanned<RawHost>>,
    pub(super) source: Vec<Spanned<RawSource>>,
    pub(super) dedup: RawDedup,
    pub(super) share: RawShare,
    pub(super) export: RawExport,
    pub(super) notify: Vec<Spanned<super::notify::RawNotify>>,
    pub(super) retention: super::retention::RawRetention,
}

/// `[daemon]`.
#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub(super) struct RawDaemon {
    pub(super) database: Option<Str>,
    pub(super) timezone: Option<Str>,
    pub(super) log_format: Option<Str>,
    pub(super) lease_period: Option<Str>,
}

/// `[http]`.
#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub(super) struct RawHttp {
    pub(super) user_agent: Option<Str>,
    pub(super) timeout: Option<Str>,
    pub(super) connect_timeout: Option<Str>,
    pub(super) max_body: Option<Spanned<RawSize>>,
    pub(super) max_redirects: Option<u32>,
    pub(super) concurrency: Option<Spanned<usize>>,
    pub(super) respect_robots: Option<bool>,
    pub(super) allow_private_networks: Option<bool>,
}

/// `[http] max_body`: a byte count or a size such as `"8MiB"`.
#[derive(Deserialize)]
#[serde(untagged)]
pub(super) enum RawSize {
    /// A plain number of bytes.
    Bytes(u64),
    /// A size with a unit, parsed by `bytesize`.
    Text(String),
}

/// `[rate_limit]`.
#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub(super) struct RawRateLimit {
    pub(super) per_host: Option<Str>,
    pub(super) burst: Option<Spanned<u32>>,
}

/// `[schedule]`.
#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub(super) struct RawSchedule {
    pub(super) interval: Option<Str>,
    pub(super) min_interval: Option<Str>,
    pub(super) max_interval: Option<Str>,
    pub(super) adaptive: Option<bool>,
    pub(super) jitter: Option<Spanned<f64>>,
    pub(super) max_backoff: Option<Str>,
}

/// `[metrics]`.
#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub(super) struct RawMetrics {
    pub(super) listen: Option<Str>,
}

/// One `[[host]]`.
#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub(super) struct RawHost {
    pub(super) domain: Option<Str>,
    pub(super) per_host: Option<Str>,
    pub(super) burst: Option<Spanned<u32>>,
    pub(super) headers: Option<Spanned<BTreeMap<String, String>>>,
    pub(super) article: Option<Spanned<RawArticle>>,
}

/// `[[host]] article`.
#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub(super) struct RawArticle {
    pub(super) title: Option<Str>,
    pub(super) content: Option<Str>,
    pub(super) published: Option<Str>,
    pub(super) media: Option<Str>,
}

/// One `[[source]]`, with the keys of every source type.
#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub(super) struct RawSource {
    pub(super) name: Option<Str>,
    #[serde(rename = "type")]
    pub(super) kind: Option<Str>,
    pub(super) url: Option<Str>,
    pub(super) urls: Option<Spanned<Vec<Str>>>,
    pub(super) interval: Option<Str>,
    pub(super) category: Option<String>,
    pub(super) tags: Option<Vec<String>>,
    pub(super) full_text: Option<Spanned<bool>>,
    pub(super) enabled: Option<bool>,
    pub(super) timezone: Option<Str>,
    pub(super) items: Option<Str>,
    pub(super) fields: Option<Spanned<RawFields>>,
    pub(super) detail_url: Option<Str>,
    pub(super) detail_content: Option<Str>,
    pub(super) item: Option<Str>,
    pub(super) link: Option<Str>,
    pub(super) title: Option<Str>,
    pub(super) published: Option<Str>,
    pub(super) max_items: Option<Spanned<usize>>,
    /// Regexes on title, summary and media: keep only entries one matches.
    pub(super) include: Option<Spanned<Vec<Str>>>,
    /// Regexes on title, summary and media: drop entries one matches.
    pub(super) exclude: Option<Spanned<Vec<Str>>>,
}

/// `[[source]] fields` of a `type = "json"` source.
#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub(super) struct RawFields {
    pub(super) info_code: Option<Str>,
    pub(super) title: Option<Str>,
    pub(super) published: Option<Str>,
    pub(super) media: Option<Str>,
    pub(super) summary: Option<Str>,
    pub(super) url: Option<Str>,
    pub(super) content: Option<Str>,
}

/// `[dedup]`.
#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub(super) struct RawDedup {
    pub(super) info_code: Option<Vec<Str>>,
    pub(super) bare_id_prefix: Option<Str>,
}

/// `[share]`.
#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub(super) struct RawShare {
    pub(super) resolve: Option<Vec<Str>>,
    pub(super) follow_discovered: Option<bool>,
    pub(super) allow_hosts: Option<Vec<Str>>,
    pub(super) recheck: Option<Vec<Str>>,
    pub(super) max_discovered: Option<Spanned<usize>>,
}

/// `[export]`.
#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub(super) struct RawExport {
    pub(super) jekyll: RawJekyll,
}

/// `[export.jekyll]`.
#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub(super) struct RawJekyll {
    pub(super) layout: Option<Str>,
    pub(super) categories: Option<Str>,
    pub(super) tags: Option<Str>,
    pub(super) footer: Option<Str>,
    pub(super) category_map: Option<BTreeMap<String, String>>,
}
