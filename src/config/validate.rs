//! Turning the raw serde model into a checked [`Config`]: every table is validated in turn,
//! defaults are filled in, relative paths are resolved, and every mistake becomes a
//! [`ConfigError`] naming the file, line, table and key. The checks of single values
//! (durations, URLs, selectors, …) are in [`values`](super::values).

use std::net::SocketAddr;
use std::ops::Range;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use regex::Regex;
use toml::Spanned;

use super::raw::{
    RawConfig, RawDaemon, RawDedup, RawHost, RawHttp, RawJekyll, RawRateLimit, RawSchedule, RawShare,
    RawSize, RawSource, Str,
};
use super::{
    ArticleSelectors, Config, ConfigError, DEFAULT_MAX_ITEMS, DEFAULT_METRICS_LISTEN,
    DETAIL_URL_PLACEHOLDERS, DaemonConfig, Database, DedupConfig, ExportConfig, HostConfig, HtmlListConfig,
    HttpConfig, JekyllConfig, JsonFields, JsonListConfig, MIN_LEASE_PERIOD, MetricsConfig,
    RESOLVE_PLACEHOLDERS, RateLimitConfig, ScheduleConfig, ShareConfig, SourceConfig, SourceKind,
};

/// The result of validating one value or table.
pub(super) type Res<T> = Result<T, ConfigError>;

/// A source key, where it is, and the source types it belongs to.
type KindKey<'a> = (&'a str, Option<Range<usize>>, &'a [SourceKind]);

/// The file being validated: its text (for line numbers), its path and its folder.
pub(super) struct Ctx<'a> {
    /// The whole config text.
    pub(super) text: &'a str,
    /// The config file.
    pub(super) path: &'a Path,
    /// The config file's folder, absolute.
    pub(super) dir: PathBuf,
    /// Byte offsets of the text's newlines, so that a span's line is a binary search (a
    /// config of 100,000 sources made counting newlines from the start quadratic).
    pub(super) newlines: Vec<usize>,
}

/// One table being validated: knows how to name itself in an error.
pub(super) struct Sec<'a> {
    /// The file it is in.
    pub(super) ctx: &'a Ctx<'a>,
    /// How errors name it, e.g. `[http]` or `[[source]] "zqrb"`.
    pub(super) name: String,
}

impl Ctx<'_> {
    pub(super) fn line(&self, at: usize) -> usize {
        self.newlines.partition_point(|&newline| newline < at) + 1
    }

    /// The newline offsets of `text`, for [`Ctx::line`].
    pub(super) fn newlines(text: &str) -> Vec<usize> {
        text.bytes()
            .enumerate()
            .filter_map(|(i, b)| (b == b'\n').then_some(i))
            .collect()
    }

    fn sec(&self, name: impl Into<String>) -> Sec<'_> {
        Sec {
            ctx: self,
            name: name.into(),
        }
    }

    pub(super) fn resolve_path(&self, p: &str) -> PathBuf {
        normalize_path(&self.dir.join(p))
    }

    pub(super) fn build(&self, raw: RawConfig) -> Res<Config> {
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
        let mut sources: Vec<Arc<SourceConfig>> = Vec::new();
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
            sources.push(Arc::new(source));
        }
        let config = Config {
            path: self.path.to_path_buf(),
            daemon,
            http,
            rate_limit,
            schedule,
            metrics,
            hosts,
            dedup: self.dedup(&raw.dedup)?,
            share: self.share(&raw.share)?,
            export: self.export(&raw.export.jekyll)?,
            notify: self.notify_all(&raw.notify, &sources)?,
            sources,
            retention: self.retention(&raw.retention)?,
            warnings,
        };
        // Last, since the gate is built from the whole config (the hosts it names).
        self.admitted(&raw, &config)?;
        Ok(config)
    }

    fn daemon(&self, r: &RawDaemon) -> Res<DaemonConfig> {
        let sec = self.sec("[daemon]");
        let mut d = DaemonConfig::default();
        if let Some(v) = &r.database {
            let value = sec.nonempty("database", v)?;
            d.database = Database::parse(&value, |p| self.resolve_path(p))
                .map_err(|e| sec.err(v.span(), "database", e))?;
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
        d.lease_period = sec.duration("lease_period", &r.lease_period, d.lease_period)?;
        if d.lease_period < MIN_LEASE_PERIOD {
            let span = r.lease_period.as_ref().map(|v| v.span()).unwrap_or_default();
            return Err(sec.err(
                span,
                "lease_period",
                format!(
                    "must be at least {} (leases are renewed every third of it)",
                    humantime::format_duration(MIN_LEASE_PERIOD)
                ),
            ));
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
                RawSize::Text(s) => parse_size(s),
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
        h.allow_private_networks = r.allow_private_networks.unwrap_or(h.allow_private_networks);
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
        let kind_keys: [KindKey; 12] = [
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
            (
                "max_items",
                r.max_items.as_ref().map(|v| v.span()),
                &[Feed, Json, Html],
            ),
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
            Some(Box::new(JsonListConfig {
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
            }))
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
            Some(Box::new(HtmlListConfig {
                item: need("item", &r.item)?,
                link: need("link", &r.link)?,
                title: opt("title", &r.title)?,
                published: opt("published", &r.published)?,
            }))
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
            max_items: match &r.max_items {
                Some(v) => sec.at_least_one("max_items", v)?,
                None => DEFAULT_MAX_ITEMS,
            },
            json,
            html,
            filters: sec.filters(&r.include, &r.exclude)?,
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
            // An infoCode is two capital letters and 18 digits: any other prefix would make
            // codes that no `info_code` rule or stated code ever matches again.
            let prefix = v.get_ref();
            if prefix.len() != 2 || !prefix.bytes().all(|b| b.is_ascii_uppercase()) {
                return Err(sec.err(
                    v.span(),
                    "bare_id_prefix",
                    format!("{prefix:?} must be two ASCII capital letters, such as \"NW\""),
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
        if let Some(v) = &r.max_discovered {
            s.max_discovered = sec.at_least_one("max_discovered", v)?;
        }
        Ok(s)
    }

    fn export(&self, r: &RawJekyll) -> Res<ExportConfig> {
        let mut j = JekyllConfig::default();
        if let Some(v) = &r.layout {
            j.layout = self.sec("[export.jekyll]").nonempty("layout", v)?;
        }
        // Templates are parsed here so that `check` reports a broken one with its line,
        // not the first `export` (which renders them with minijinja, src/export/jekyll.rs).
        let sec = self.sec("[export.jekyll]");
        let template = |key: &str, v: &Option<Str>| -> Res<Option<String>> {
            let Some(v) = v else { return Ok(None) };
            let env = minijinja::Environment::new();
            if let Err(e) = env.template_from_str(v.get_ref()) {
                return Err(sec.err(v.span(), key, format!("template does not parse: {e}")));
            }
            Ok(Some(v.get_ref().clone()))
        };
        j.categories = template("categories", &r.categories)?;
        j.tags = template("tags", &r.tags)?;
        j.footer = template("footer", &r.footer)?;
        j.category_map = r.category_map.clone().unwrap_or_default();
        Ok(ExportConfig { jekyll: j })
    }
}

/// A size such as `"8MiB"`, `"512 KiB"`, `"1.5GB"` or `"1000"`, in bytes. bytesize saturates
/// at `u64::MAX`, so a size beyond it (`"16 EiB"`, 21 digits) is checked here and refused
/// rather than read as 16 EiB − 1.
pub(super) fn parse_size(text: &str) -> Result<u64, String> {
    let s = text.trim();
    let bytes = s
        .parse::<bytesize::ByteSize>()
        .map(|b| b.as_u64())
        .map_err(|e| format!("invalid size {text:?}: {e}"))?;
    let number_len = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (number, unit) = s.split_at(number_len);
    let unit = unit.trim();
    let factor = if unit.is_empty() {
        1
    } else {
        format!("1{unit}")
            .parse::<bytesize::ByteSize>()
            .map_err(|e| format!("invalid size {text:?}: {e}"))?
            .as_u64()
    };
    let fits = match number.parse::<u64>() {
        Ok(n) => n.checked_mul(factor).is_some(),
        // A fraction, or an integer of more than 20 digits: 2^64 is exactly representable.
        Err(_) => number
            .parse::<f64>()
            .is_ok_and(|n| n * (factor as f64) < 18_446_744_073_709_551_616.0),
    };
    if !fits {
        return Err(format!("invalid size {text:?}: more than {} bytes", u64::MAX));
    }
    Ok(bytes)
}

/// A duration as humantime writes it, e.g. `15m`.
pub(super) fn fmt_d(d: Duration) -> String {
    humantime::format_duration(d).to_string()
}

/// Removes `.` and resolves `..` components lexically.
pub(super) fn normalize_path(p: &Path) -> PathBuf {
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
