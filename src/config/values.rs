//! The checks of single values inside a table: durations, rates, timezones, URLs, URL
//! templates, JSON pointers, CSS selectors and domains. Each returns the parsed value or a
//! [`ConfigError`] naming the table, line and key.

use std::net::IpAddr;
use std::ops::Range;
use std::time::Duration;

use chrono_tz::Tz;
use toml::Spanned;
use url::Url;

use super::error::invalid_display;
use super::raw::Str;
use super::validate::{Res, Sec, fmt_d};
use super::{ConfigError, Rate};

impl Sec<'_> {
    /// An error at `span` naming this table and `key`.
    pub(super) fn err(&self, span: Range<usize>, key: &str, message: impl Into<String>) -> ConfigError {
        ConfigError::Invalid {
            path: self.ctx.path.to_path_buf(),
            line: Some(self.ctx.line(span.start)),
            section: self.name.clone(),
            key: key.to_string(),
            message: message.into(),
        }
    }

    /// A trimmed string that must not be empty.
    pub(super) fn nonempty(&self, key: &str, v: &Str) -> Res<String> {
        match v.get_ref().trim() {
            "" => Err(self.err(v.span(), key, "must not be empty")),
            s => Ok(s.to_string()),
        }
    }

    /// A positive humantime duration of at most [`super::MAX_DURATION`], or `default` when
    /// absent.
    pub(super) fn duration(&self, key: &str, v: &Option<Str>, default: Duration) -> Res<Duration> {
        let Some(v) = v else { return Ok(default) };
        match humantime::parse_duration(v.get_ref().trim()) {
            Ok(d) if d.is_zero() => Err(self.err(
                v.span(),
                key,
                format!("invalid duration {:?}: must be more than zero", v.get_ref()),
            )),
            Ok(d) if d > super::MAX_DURATION => Err(self.err(
                v.span(),
                key,
                format!(
                    "invalid duration {:?}: longer than the limit of 10 years",
                    v.get_ref()
                ),
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
    pub(super) fn clamp_interval(
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

    /// A rate such as `"2/s"`.
    pub(super) fn rate(&self, key: &str, v: &Str) -> Res<Rate> {
        v.get_ref().parse().map_err(|m| self.err(v.span(), key, m))
    }

    /// A number that must be at least 1.
    pub(super) fn at_least_one<T: Copy + PartialOrd + From<u8>>(&self, key: &str, v: &Spanned<T>) -> Res<T> {
        match *v.get_ref() {
            n if n >= T::from(1) => Ok(n),
            _ => Err(self.err(v.span(), key, "must be at least 1")),
        }
    }

    /// An IANA timezone name.
    pub(super) fn timezone(&self, key: &str, v: &Str) -> Res<Tz> {
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
    pub(super) fn header_value(&self, key: &str, v: &Str) -> Res<String> {
        if v.get_ref().chars().any(|c| c == '\r' || c == '\n' || c == '\0') {
            return Err(self.err(v.span(), key, "must be a single line"));
        }
        Ok(v.get_ref().clone())
    }

    /// An http, https or file URL; `file:relative/path` resolves against the config's folder.
    pub(super) fn url(&self, key: &str, v: &Str) -> Res<Url> {
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
    pub(super) fn template(&self, key: &str, v: &Str, allowed: &[&str]) -> Res<String> {
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
    pub(super) fn pointer(&self, key: &str, v: &Str) -> Res<String> {
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
    pub(super) fn selector(&self, key: &str, v: &Str) -> Res<String> {
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
        // An `@` that does not start an attribute name is part of the CSS (`a[title="x@y"]`).
        let css = match attr {
            Some(a) if a.chars().all(|c| c.is_ascii_alphanumeric() || "-_:.".contains(c)) => css,
            _ => s,
        };
        self.compile_css(key, v, css)?;
        Ok(s.to_string())
    }

    /// A domain (lowercased, IDN to punycode) or IP literal.
    pub(super) fn domain(&self, key: &str, v: &Str) -> Res<String> {
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
