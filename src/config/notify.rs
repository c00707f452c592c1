//! `[[notify]]` (CONTRACT §5): who is told about new articles. The raw serde table, the
//! checked [`NotifyConfig`] and its validation, each mistake naming file, line and key.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use regex::Regex;
use serde::Deserialize;
use toml::Spanned;
use url::Url;

use super::SourceConfig;
use super::raw::Str;
use super::validate::{Ctx, Res, Sec};

/// The default `[[notify]] timeout`: how long one delivery may take.
pub const DEFAULT_NOTIFY_TIMEOUT: Duration = Duration::from_secs(30);

/// One `[[notify]]` as written.
#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub(super) struct RawNotify {
    pub(super) name: Option<Str>,
    pub(super) exec: Option<Spanned<Vec<Str>>>,
    pub(super) webhook: Option<Str>,
    pub(super) headers: Option<Spanned<BTreeMap<String, String>>>,
    pub(super) timeout: Option<Str>,
    pub(super) sources: Option<Spanned<Vec<Str>>>,
    pub(super) include: Option<Spanned<RawPatterns>>,
    pub(super) exclude: Option<Spanned<RawPatterns>>,
}

/// `include` / `exclude`: one regex or a list of them.
#[derive(Deserialize)]
#[serde(untagged)]
pub(super) enum RawPatterns {
    /// `include = "证券"`.
    One(String),
    /// `include = ["证券", "A股"]`.
    Many(Vec<String>),
}

/// Where a notification goes.
#[derive(Debug, Clone)]
pub enum NotifyTarget {
    /// Run this program (argv, no shell) with the article as JSON on stdin.
    Exec(Vec<String>),
    /// `POST` the article as JSON to this URL, with these extra headers.
    Webhook {
        /// The URL (http or https).
        url: Url,
        /// `headers`, e.g. an `Authorization` token.
        headers: Vec<(String, String)>,
    },
}

/// One checked `[[notify]]`.
#[derive(Debug, Clone)]
pub struct NotifyConfig {
    /// `name`: unique; names the queue rows, the metrics and the `notify status` line.
    pub name: String,
    /// `exec` or `webhook`.
    pub target: NotifyTarget,
    /// How long one delivery may take before it counts as failed.
    pub timeout: Duration,
    /// Only articles first stored from one of these sources (None: any, `add-link` too).
    pub sources: Option<Vec<String>>,
    /// The article's title or media must match one of these (empty: every article).
    pub include: Vec<Regex>,
    /// An article whose title or media matches one of these is left out.
    pub exclude: Vec<Regex>,
}

impl NotifyConfig {
    /// Whether a new article first stored from `source` (None: no source, e.g. `add-link`)
    /// with this title and media is for this `[[notify]]`.
    pub fn matches(&self, source: Option<&str>, title: &str, media: Option<&str>) -> bool {
        if let Some(sources) = &self.sources
            && !source.is_some_and(|s| sources.iter().any(|n| n == s))
        {
            return false;
        }
        let hit = |re: &Regex| re.is_match(title) || media.is_some_and(|m| re.is_match(m));
        (self.include.is_empty() || self.include.iter().any(hit)) && !self.exclude.iter().any(hit)
    }
}

impl Ctx<'_> {
    /// Every `[[notify]]`; `sources` must name configured sources.
    pub(super) fn notify_all(
        &self,
        raw: &[Spanned<RawNotify>],
        sources: &[std::sync::Arc<SourceConfig>],
    ) -> Res<Vec<NotifyConfig>> {
        let mut out: Vec<NotifyConfig> = Vec::with_capacity(raw.len());
        let mut first_line = HashMap::new();
        for (i, n) in raw.iter().enumerate() {
            let notify = self.notify(i, n, sources)?;
            let span = n.get_ref().name.as_ref().map_or(n.span(), |v| v.span());
            if let Some(first) = first_line.insert(notify.name.clone(), self.line(span.start)) {
                return Err(self.sec_named(format!("[[notify]] {:?}", notify.name)).err(
                    span,
                    "name",
                    format!("duplicate notify name (first defined on line {first}); names must be unique"),
                ));
            }
            out.push(notify);
        }
        Ok(out)
    }

    fn notify(
        &self,
        i: usize,
        n: &Spanned<RawNotify>,
        sources: &[std::sync::Arc<SourceConfig>],
    ) -> Res<NotifyConfig> {
        let r = n.get_ref();
        let Some(name) = &r.name else {
            return Err(self.sec_named(format!("[[notify]] #{}", i + 1)).err(
                n.span(),
                "name",
                "missing: every [[notify]] needs a name (it names the queue, the metrics and `notify status`)",
            ));
        };
        let sec = self.sec_named(format!("[[notify]] {:?}", name.get_ref()));
        let name = sec.nonempty("name", name)?;
        let target = match (&r.exec, &r.webhook) {
            (Some(exec), None) => {
                if r.headers.is_some() {
                    let span = r.headers.as_ref().map_or(n.span(), |h| h.span());
                    return Err(sec.err(
                        span,
                        "headers",
                        "headers are sent with a webhook; this is an exec",
                    ));
                }
                let argv: Vec<String> = exec.get_ref().iter().map(|a| a.get_ref().clone()).collect();
                if argv.first().is_none_or(|cmd| cmd.trim().is_empty()) {
                    return Err(sec.err(
                        exec.span(),
                        "exec",
                        "must name a program, e.g. exec = [\"/usr/local/bin/notify-new\", \"--json\"]",
                    ));
                }
                NotifyTarget::Exec(argv)
            }
            (None, Some(webhook)) => {
                let url = sec.url("webhook", webhook)?;
                if !matches!(url.scheme(), "http" | "https") {
                    return Err(sec.err(webhook.span(), "webhook", "must be an http or https URL"));
                }
                let mut headers = Vec::new();
                if let Some(hs) = &r.headers {
                    for (k, v) in hs.get_ref() {
                        let token = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
                        if k.is_empty() || !k.chars().all(token) {
                            return Err(sec.err(hs.span(), "headers", format!("invalid header name {k:?}")));
                        }
                        if v.chars().any(|c| c == '\r' || c == '\n' || c == '\0') {
                            return Err(sec.err(
                                hs.span(),
                                "headers",
                                format!("header {k:?}: value must be one line"),
                            ));
                        }
                        headers.push((k.clone(), v.clone()));
                    }
                }
                NotifyTarget::Webhook { url, headers }
            }
            (Some(_), Some(webhook)) => {
                return Err(sec.err(
                    webhook.span(),
                    "webhook",
                    "give either exec or webhook, not both (use two [[notify]] tables for both)",
                ));
            }
            (None, None) => {
                return Err(sec.err(
                    n.span(),
                    "exec",
                    "missing: give exec = [\"program\", \"arg\"] or webhook = \"https://…\"",
                ));
            }
        };
        let timeout = sec.duration("timeout", &r.timeout, DEFAULT_NOTIFY_TIMEOUT)?;
        let wanted = match &r.sources {
            None => None,
            Some(list) => {
                let mut names = Vec::new();
                for s in list.get_ref() {
                    if !sources.iter().any(|c| c.name == *s.get_ref()) {
                        return Err(sec.err(
                            s.span(),
                            "sources",
                            format!("no [[source]] is named {:?}", s.get_ref()),
                        ));
                    }
                    names.push(s.get_ref().clone());
                }
                Some(names)
            }
        };
        let patterns = |key: &str, v: &Option<Spanned<RawPatterns>>| -> Res<Vec<Regex>> {
            let Some(v) = v else { return Ok(Vec::new()) };
            let list = match v.get_ref() {
                RawPatterns::One(p) => std::slice::from_ref(p),
                RawPatterns::Many(ps) => ps.as_slice(),
            };
            list.iter()
                .map(|p| {
                    Regex::new(p).map_err(|e| sec.err(v.span(), key, format!("invalid regex {p:?}: {e}")))
                })
                .collect()
        };
        Ok(NotifyConfig {
            name,
            target,
            timeout,
            sources: wanted,
            include: patterns("include", &r.include)?,
            exclude: patterns("exclude", &r.exclude)?,
        })
    }
}

impl<'a> Ctx<'a> {
    fn sec_named(&'a self, name: String) -> Sec<'a> {
        Sec { ctx: self, name }
    }
}

#[cfg(test)]
mod tests {
    use crate::config::Config;

    fn notify(body: &str) -> super::NotifyConfig {
        let text = format!(
            "[[source]]\nname = \"a\"\ntype = \"feed\"\nurl = \"http://a.example/rss\"\n\n[[notify]]\nname = \"n\"\nexec = [\"/bin/true\"]\n{body}"
        );
        let config =
            Config::parse(&text, std::path::Path::new("/etc/feedcrawler/t.toml")).expect("valid config");
        config.notify.into_iter().next().expect("one [[notify]]")
    }

    #[test]
    fn filters_match_title_or_media_and_the_first_source() {
        let n = notify("sources = [\"a\"]\ninclude = [\"证券\", \"^A股\"]\nexclude = \"广告\"\n");
        assert!(n.matches(Some("a"), "证券公司发布年报", None));
        assert!(
            n.matches(Some("a"), "年报发布", Some("证券日报网")),
            "media matches include"
        );
        assert!(n.matches(Some("a"), "A股收涨", Some("新华网")));
        assert!(
            !n.matches(Some("a"), "收评：A股收涨", Some("新华网")),
            "anchored regex"
        );
        assert!(
            !n.matches(Some("a"), "证券板块拉升", Some("某某广告网")),
            "media matches exclude"
        );
        assert!(!n.matches(Some("b"), "证券公司发布年报", None), "other source");
        assert!(!n.matches(None, "证券公司发布年报", None), "add-link: no source");
        let any = notify("");
        assert!(any.matches(None, "天气", None), "no filter: every new article");
    }
}
