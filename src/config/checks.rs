//! The checks that make `check` catch at load what would otherwise fail on every poll:
//! CSS selectors compiled as the crawler compiles them, `include`/`exclude` regexes
//! compiled, and every URL the config will request put to the admission gate
//! (CONTRACT §7). Each mistake is a [`ConfigError`](super::ConfigError) naming the file,
//! line, table and key, as the other config errors do.

use regex::Regex;
use scraper::Selector;
use scraper::error::SelectorErrorKind;
use toml::Spanned;
use url::Url;

use super::raw::{RawConfig, Str};
use super::validate::{Ctx, Res, Sec};
use super::{Config, SourceFilters};
use crate::admission::{Admission, Origin, Purpose};
use crate::pages::fill_template;

/// An infoCode to fill `{info_code}` and `{id}` placeholders with, so that a template can
/// be put to the gate as the URL it will become.
const SAMPLE_INFO_CODE: &str = "NW202204192348095567";
/// A link to fill `{url}` placeholders with.
const SAMPLE_URL: &str = "https://example.com/a/202204192348095567.html";

impl Sec<'_> {
    /// Compiles the CSS part of a `selector[@attr]` with the crawler's own parser
    /// (scraper), so that `div..listMain >> li` is refused here and not on every poll.
    /// `css` is what is left once a trailing `@attr` is split off.
    pub(super) fn compile_css(&self, key: &str, v: &Str, css: &str) -> Res<()> {
        Selector::parse(css).map(drop).map_err(|e| {
            self.err(
                v.span(),
                key,
                format!("invalid CSS selector {css:?}: {}", describe_css_error(&e)),
            )
        })
    }

    /// `include` and `exclude`: lists of regexes, each compiled (the `regex` crate's
    /// syntax; case-sensitive unless written with `(?i)`) and none empty, since an empty
    /// pattern matches every entry.
    pub(super) fn filters(
        &self,
        include: &Option<Spanned<Vec<Str>>>,
        exclude: &Option<Spanned<Vec<Str>>>,
    ) -> Res<SourceFilters> {
        let compile = |key: &str, list: &Option<Spanned<Vec<Str>>>| -> Res<Vec<Regex>> {
            let Some(list) = list else { return Ok(Vec::new()) };
            list.get_ref()
                .iter()
                .map(|p| {
                    if p.get_ref().is_empty() {
                        return Err(self.err(
                            p.span(),
                            key,
                            "an empty pattern matches every entry; remove it",
                        ));
                    }
                    Regex::new(p.get_ref()).map_err(|e| {
                        // The regex crate's message spans several lines (the pattern with a
                        // caret under the mistake); the last one says what is wrong.
                        let what = e.to_string();
                        let what = what.lines().last().unwrap_or_default().trim();
                        let what = what.strip_prefix("error:").unwrap_or(what).trim();
                        self.err(p.span(), key, format!("invalid regex {:?}: {what}", p.get_ref()))
                    })
                })
                .collect()
        };
        Ok(SourceFilters {
            include: compile("include", include)?,
            exclude: compile("exclude", exclude)?,
        })
    }
}

/// What is wrong with a selector, in words: scraper prints "Unexpected error occurred.
/// Please report this to the developer" and a debug dump for most mistakes.
fn describe_css_error(e: &SelectorErrorKind) -> String {
    let SelectorErrorKind::UnexpectedSelectorParseError(kind) = e else {
        return e.to_string().to_lowercase();
    };
    let name = format!("{kind:?}");
    let name = name.split(['(', ' ', '{']).next().unwrap_or_default();
    match name {
        "ClassNeedsIdent" => "a `.` must be followed by a class name".to_owned(),
        "DanglingCombinator" => "a combinator (`>`, `+`, `~`) needs a selector on both sides".to_owned(),
        "EmptySelector" => "a selector is empty (a stray comma?)".to_owned(),
        "NoIdentForPseudo" => "a `:` must be followed by a pseudo-class name".to_owned(),
        "UnsupportedPseudoClassOrElement" => "unsupported pseudo-class or pseudo-element".to_owned(),
        "NoQualifiedNameInAttributeSelector"
        | "UnexpectedTokenInAttributeSelector"
        | "ExpectedBarInAttr"
        | "BadValueInAttr"
        | "InvalidQualNameInAttr" => "invalid attribute selector `[…]`".to_owned(),
        other => format!("not valid CSS ({other})"),
    }
}

impl Ctx<'_> {
    /// Puts every URL the config will request to the admission gate built from this very
    /// config: the sources' `url`/`urls` (as config URLs), JSON `detail_url` templates
    /// (as the detail requests they become) and `[share] resolve` templates (as share-link
    /// candidates). A URL the gate would refuse is an error here rather than a `refused:`
    /// row on every poll.
    pub(super) fn admitted(&self, raw: &RawConfig, config: &Config) -> Res<()> {
        let gate = Admission::new(config);
        for (raw_source, source) in raw.source.iter().zip(&config.sources) {
            let r = raw_source.get_ref();
            let sec = Sec {
                ctx: self,
                name: format!("[[source]] {:?}", source.name),
            };
            if let (Some(v), Some(url)) = (&r.url, &source.url) {
                sec.gate(&gate, "url", v, url, Origin::Config, Purpose::List)?;
            }
            if let Some(list) = &r.urls {
                for (v, url) in list.get_ref().iter().zip(&source.urls) {
                    sec.gate(&gate, "urls", v, url, Origin::Config, Purpose::ShareLink)?;
                }
            }
            if let (Some(v), Some(json)) = (&r.detail_url, &source.json)
                && let Some(template) = &json.detail_url
                && let Some(url) = fill_template(template, Some(SAMPLE_INFO_CODE), Some(SAMPLE_URL))
            {
                sec.gate(&gate, "detail_url", v, &url, Origin::Network, Purpose::Detail)?;
            }
        }
        if let Some(templates) = &raw.share.resolve {
            let sec = Sec {
                ctx: self,
                name: "[share]".to_owned(),
            };
            for (v, template) in templates.iter().zip(&config.share.resolve) {
                if let Some(url) = fill_template(template, Some(SAMPLE_INFO_CODE), Some(SAMPLE_URL)) {
                    sec.gate(&gate, "resolve", v, &url, Origin::Network, Purpose::ShareLink)?;
                }
            }
        }
        Ok(())
    }
}

impl Sec<'_> {
    /// One URL put to the gate; a refusal names the key and says what to do.
    fn gate(
        &self,
        gate: &Admission,
        key: &str,
        v: &Str,
        url: &Url,
        origin: Origin,
        purpose: Purpose,
    ) -> Res<()> {
        gate.check(url, origin, purpose).map_err(|refusal| {
            self.err(
                v.span(),
                key,
                format!("{url} would be refused by the admission gate (CONTRACT §7): {refusal}"),
            )
        })
    }
}
