//! HTML list pages (证券日报网, 中证网 style): the links, titles and dates of a page's items.
//!
//! This module owns applying a source's CSS selectors (CONTRACT §2 `type = "html"`:
//! `selector` or `selector@attr`) to an already decoded page: each item's link made
//! absolute, its title with whitespace collapsed, its date through [`crate::dates`]. It
//! never decodes bytes (the caller does, with [`crate::charset::decode_html`]), never
//! fetches the linked article pages, never normalizes or deduplicates across pages, and
//! never logs or does I/O.

use std::collections::HashSet;
use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use regex::Regex;
use scraper::{ElementRef, Html, Selector};
use url::Url;

use crate::config::HtmlListConfig;
use crate::dates::{self, ParsedDate};
use crate::html_bounds::{self, TooBig};

/// A list-page configuration that cannot be applied.
#[derive(Debug, thiserror::Error)]
pub enum HtmlListError {
    /// A selector is not valid CSS (or its `@attr` part is not an attribute name).
    #[error("bad CSS selector {selector:?}: {message}")]
    BadSelector {
        /// The selector as configured, `@attr` included.
        selector: String,
        /// What is wrong with it.
        message: String,
    },
    /// The page nests too deep or has too many elements to be parsed
    /// ([`crate::html_bounds`]): html5ever's time grows with the square of the depth.
    #[error("list page not parsed: {0}")]
    TooBig(#[from] TooBig),
}

/// One item of a list page.
#[derive(Clone, Debug, PartialEq)]
pub struct ListItem {
    /// The article's URL, absolute (`http` or `https`).
    pub link: Url,
    /// The title, whitespace collapsed and trimmed; `None` when empty or not found.
    pub title: Option<String>,
    /// When it was published, if the item shows a readable date.
    pub published: Option<ParsedDate>,
}

/// Items picked by `cfg.item`, each's link (`cfg.link`, absolute from relative), title and
/// date. An empty Vec means the item selector matched nothing (the caller logs that once per
/// source) or that no item had a usable link.
///
/// `cfg.link`, `cfg.title` and `cfg.published` are relative to the item: the first matching
/// descendant (in document order) that gives a value is used, and the item itself when no
/// descendant matches; a bare `@attr` reads the item's own attribute. `link` without
/// `@attr` reads `href`. Links that are empty,
/// `javascript:`, fragment-only (`#…`) or not `http(s)` once resolved against `base_url`
/// skip the item; a link seen earlier on the page (ignoring its fragment) skips it too.
/// Without `cfg.title`, the text of the link's element is the title when that element is an
/// `<a>`. Dates are read by [`dates::parse`] in `tz` (relative ones against `now`), after
/// stripping brackets (`[2022-04-19]`, `（04-19 12:22）`) or, failing that, from the first
/// date-like part of the text (`发布时间：2022-04-19 12:22`).
///
/// A page deeper than [`html_bounds::MAX_DEPTH`] or with more than
/// [`html_bounds::MAX_ELEMENTS`] elements is [`HtmlListError::TooBig`], without being parsed.
pub fn parse_list(
    html: &str,
    base_url: &Url,
    cfg: &HtmlListConfig,
    tz: Tz,
    now: DateTime<Utc>,
) -> Result<Vec<ListItem>, HtmlListError> {
    let item_sel = compile_css(&cfg.item)?;
    let link_sel = Field::compile(&cfg.link)?;
    let title_sel = cfg.title.as_deref().map(Field::compile).transpose()?;
    let date_sel = cfg.published.as_deref().map(Field::compile).transpose()?;

    html_bounds::check(html)?;
    let doc = Html::parse_document(html);
    let mut seen = HashSet::new();
    let mut items = Vec::new();
    for item in doc.select(&item_sel) {
        let Some((link, link_el)) = link_sel.matches(item).find_map(|el| {
            let raw = link_sel.attr_or(el, "href")?;
            usable_link(base_url, raw).map(|url| (url, el))
        }) else {
            continue;
        };
        let mut key = link.clone();
        key.set_fragment(None);
        if !seen.insert(key) {
            continue;
        }

        let title = match &title_sel {
            Some(sel) => sel.matches(item).find_map(|el| sel.text_value(el)),
            None => (link_el.value().name() == "a")
                .then(|| non_empty(collapse(&text_of(link_el))))
                .flatten(),
        };
        let published = date_sel.as_ref().and_then(|sel| {
            sel.matches(item)
                .find_map(|el| sel.text_value(el).and_then(|raw| parse_date(&raw, tz, now)))
        });
        items.push(ListItem {
            link,
            title,
            published,
        });
    }
    Ok(items)
}

/// A compiled `selector[@attr]`.
struct Field {
    /// The CSS part; `None` for a bare `@attr`, which reads the item itself.
    css: Option<Selector>,
    /// The attribute to read instead of the text.
    attr: Option<String>,
}

impl Field {
    /// Splits off a trailing `@attr` and compiles the CSS part.
    fn compile(spec: &str) -> Result<Field, HtmlListError> {
        let spec_trimmed = spec.trim();
        let (css, attr) = match spec_trimmed.rsplit_once('@') {
            Some((css, attr)) if is_attr_name(attr.trim()) => (css.trim(), Some(attr.trim().to_owned())),
            Some((_, attr)) if !attr.contains([']', '"', '\'']) => {
                return Err(HtmlListError::BadSelector {
                    selector: spec.to_owned(),
                    message: format!("{attr:?} after `@` is not an attribute name"),
                });
            }
            _ => (spec_trimmed, None),
        };
        if css.is_empty() && attr.is_some() {
            return Ok(Field { css: None, attr });
        }
        let css = compile_css(css).map_err(|e| match e {
            HtmlListError::BadSelector { message, .. } => HtmlListError::BadSelector {
                selector: spec.to_owned(),
                message,
            },
            other => other,
        })?;
        Ok(Field { css: Some(css), attr })
    }

    /// The descendants of `item` matching the CSS part, in document order; the item itself
    /// when none does and it matches (or when there is no CSS part).
    fn matches<'a>(&self, item: ElementRef<'a>) -> impl Iterator<Item = ElementRef<'a>> {
        let Some(css) = &self.css else {
            return vec![item].into_iter();
        };
        let found: Vec<ElementRef<'a>> = item.select(css).collect();
        if found.is_empty() && css.matches(&item) {
            vec![item].into_iter()
        } else {
            found.into_iter()
        }
    }

    /// The configured attribute of `el`, or `default` when the selector names none.
    fn attr_or<'a>(&self, el: ElementRef<'a>, default: &str) -> Option<&'a str> {
        el.value().attr(self.attr.as_deref().unwrap_or(default))
    }

    /// The configured attribute, or else the element's text; whitespace collapsed, `None`
    /// when empty.
    fn text_value(&self, el: ElementRef<'_>) -> Option<String> {
        let raw = match &self.attr {
            Some(attr) => el.value().attr(attr)?.to_owned(),
            None => text_of(el),
        };
        non_empty(collapse(&raw))
    }
}

/// Compiles a CSS selector, naming it in the error.
fn compile_css(css: &str) -> Result<Selector, HtmlListError> {
    if css.trim().is_empty() {
        return Err(HtmlListError::BadSelector {
            selector: css.to_owned(),
            message: "empty selector".to_owned(),
        });
    }
    Selector::parse(css).map_err(|e| HtmlListError::BadSelector {
        selector: css.to_owned(),
        message: e.to_string(),
    })
}

/// An HTML attribute name (`href`, `data-url`, `xlink:href`).
fn is_attr_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | ':' | '.'))
}

/// All the text of an element, entities decoded.
fn text_of(el: ElementRef<'_>) -> String {
    el.text().collect()
}

/// Runs of whitespace (`&nbsp;` and U+3000 included) become one space; trimmed.
fn collapse(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn non_empty(text: String) -> Option<String> {
    (!text.is_empty()).then_some(text)
}

/// An item link made absolute, or `None` when it cannot lead to an article.
fn usable_link(base_url: &Url, raw: &str) -> Option<Url> {
    let raw = raw.trim();
    if raw.is_empty()
        || raw.starts_with('#')
        || raw
            .get(..11)
            .is_some_and(|p| p.eq_ignore_ascii_case("javascript:"))
    {
        return None;
    }
    let url = base_url.join(raw).ok()?;
    matches!(url.scheme(), "http" | "https").then_some(url)
}

/// Brackets publishers put around list dates.
const BRACKETS: &[char] = &[
    '[', ']', '【', '】', '(', ')', '（', '）', '〔', '〕', '<', '>', '《', '》',
];

/// Date-like parts of a longer text, tried when the whole text is not a date.
static DATE_IN_TEXT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?x)
        \d{4} \s* (?:[-/.]|年) \s* \d{1,2} \s* (?:[-/.]|月) \s* \d{1,2} \s* 日?
            (?: \s* \d{1,2} \s* [:：] \s* \d{2} (?: \s* [:：] \s* \d{2} )? )?
        | \d{1,2} (?:[-/]|月) \d{1,2} 日? \s* \d{1,2} [:：] \d{2} (?: [:：] \d{2} )?
        | (?:今天|昨天|前天) \s* (?: \d{1,2} [:：] \d{2} (?: [:：] \d{2} )? )?
        | \d+ \s* (?:秒|分钟|小时|天) 前
        | 刚刚",
    )
    .expect("static regex")
});

/// A list date: as written, without brackets, or its first date-like part.
fn parse_date(raw: &str, tz: Tz, now: DateTime<Utc>) -> Option<ParsedDate> {
    dates::parse(raw, tz, now)
        .or_else(|| {
            dates::parse(
                raw.trim_matches(|c: char| BRACKETS.contains(&c) || c.is_whitespace()),
                tz,
                now,
            )
        })
        .or_else(|| {
            DATE_IN_TEXT
                .find_iter(raw)
                .find_map(|m| dates::parse(m.as_str(), tz, now))
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dates::{Precision, format_utc};

    fn now() -> DateTime<Utc> {
        crate::sources::test_now()
    }

    fn base() -> Url {
        Url::parse("http://www.zqrb.cn/finance/hangyedongtai/").unwrap_or_else(|e| panic!("base url: {e}"))
    }

    fn cfg(item: &str, link: &str, title: Option<&str>, published: Option<&str>) -> HtmlListConfig {
        HtmlListConfig {
            item: item.into(),
            link: link.into(),
            title: title.map(Into::into),
            published: published.map(Into::into),
        }
    }

    fn parse_ok(html: &str, cfg: &HtmlListConfig) -> Vec<ListItem> {
        parse_list(html, &base(), cfg, chrono_tz::Asia::Shanghai, now()).unwrap_or_else(|e| panic!("{e}"))
    }

    const ZQRB: &str = r##"<!DOCTYPE html><html><head><meta charset="gbk"><title>行业动态</title></head><body>
<div class="nav"><ul><li><a href="/">首页</a></li></ul></div>
<div class="listMain"><ul>
  <li><a href="/finance/2022-04-19/A1650342164.html" title="工信部明确表态 二季度工业经济稳增长有四大举措">工信部明确表态…</a><span class="date">2022-04-19 12:22</span></li>
  <li><a href="http://www.zqrb.cn/finance/2022-04-19/A1650340000.html">  多地出台
      &amp; 楼市&nbsp;新政 </a><span class="date">[2022-04-18]</span></li>
  <li><a href="2022-04-19/A1650330000.html">相对链接</a><span class="date">04-19 09:05</span></li>
  <li><a href="javascript:void(0)">脚本</a><span class="date">2022-04-19 08:00</span></li>
  <li><a href="#top">锚点</a></li>
  <li><a href="/finance/2022-04-19/A1650342164.html#comments">重复</a></li>
  <li><span>没有链接</span></li>
  <li><a href="//www.zqrb.cn/finance/2022-04-19/A1650320000.html">今天的</a><span class="date">今天 16:25</span></li>
  <li><a href="/finance/2022-04-19/A1650310000.html">没有日期</a><span class="date">暂无</span></li>
</ul></div></body></html>"##;

    #[test]
    fn zqrb_list() {
        let items = parse_ok(
            ZQRB,
            &cfg("div.listMain li", "a@href", Some("a"), Some("span.date")),
        );
        let got: Vec<(String, Option<String>, Option<String>)> = items
            .iter()
            .map(|i| {
                (
                    i.link.to_string(),
                    i.title.clone(),
                    i.published.map(|p| format_utc(p.utc)),
                )
            })
            .collect();
        let want = [
            (
                "http://www.zqrb.cn/finance/2022-04-19/A1650342164.html",
                "工信部明确表态…",
                Some("2022-04-19T04:22:00Z"),
            ),
            (
                "http://www.zqrb.cn/finance/2022-04-19/A1650340000.html",
                "多地出台 & 楼市 新政",
                Some("2022-04-17T16:00:00Z"),
            ),
            (
                "http://www.zqrb.cn/finance/hangyedongtai/2022-04-19/A1650330000.html",
                "相对链接",
                Some("2022-04-19T01:05:00Z"),
            ),
            (
                "http://www.zqrb.cn/finance/2022-04-19/A1650320000.html",
                "今天的",
                Some("2022-04-20T08:25:00Z"),
            ),
            (
                "http://www.zqrb.cn/finance/2022-04-19/A1650310000.html",
                "没有日期",
                None,
            ),
        ];
        let want: Vec<(String, Option<String>, Option<String>)> = want
            .iter()
            .map(|(l, t, d)| (l.to_string(), Some(t.to_string()), d.map(str::to_owned)))
            .collect();
        assert_eq!(got, want);
        assert_eq!(
            items[0].published.map(|p| p.precision),
            Some(Precision::NaiveMinutes)
        );
        assert_eq!(items[1].published.map(|p| p.precision), Some(Precision::DateOnly));
    }

    #[test]
    fn title_from_attribute_and_link_without_attr() {
        let items = parse_ok(ZQRB, &cfg("div.listMain li", "a", Some("a@title"), None));
        assert_eq!(items.len(), 5);
        assert_eq!(
            items[0].title.as_deref(),
            Some("工信部明确表态 二季度工业经济稳增长有四大举措")
        );
        assert_eq!(items[1].title, None, "no title attribute");
        assert_eq!(items[0].published, None);
    }

    #[test]
    fn title_defaults_to_link_text() {
        let items = parse_ok(ZQRB, &cfg("div.listMain li", "a@href", None, None));
        assert_eq!(items[0].title.as_deref(), Some("工信部明确表态…"));
    }

    #[test]
    fn item_that_is_the_link_and_dates_in_text() {
        let html = r#"<ul class="list">
            <a class="n" href="/a/1.html">甲<em>（2022-04-19 12:22:44）</em></a>
            <a class="n" href="/a/2.html">乙<em>发布时间：2022年04月18日 08:30</em></a>
        </ul>"#;
        let items = parse_ok(html, &cfg("ul.list a.n", "a@href", Some("a"), Some("em")));
        assert_eq!(
            items,
            parse_ok(html, &cfg("ul.list a.n", "@href", Some("a"), Some("em")))
        );
        assert_eq!(items.len(), 2);
        assert_eq!(items[0].link.as_str(), "http://www.zqrb.cn/a/1.html");
        assert_eq!(items[0].title.as_deref(), Some("甲（2022-04-19 12:22:44）"));
        assert_eq!(
            items[0].published.map(|p| format_utc(p.utc)).as_deref(),
            Some("2022-04-19T04:22:44Z")
        );
        assert_eq!(
            items[1].published.map(|p| format_utc(p.utc)).as_deref(),
            Some("2022-04-18T00:30:00Z")
        );
    }

    #[test]
    fn selector_matching_nothing_gives_empty() {
        assert!(parse_ok(ZQRB, &cfg("div.newsList li", "a@href", Some("a"), None)).is_empty());
    }

    #[test]
    fn bad_selector_is_named() {
        for (c, bad) in [
            (cfg("div..listMain li", "a@href", None, None), "div..listMain li"),
            (cfg("li", "li > > a@href", None, None), "li > > a@href"),
            (cfg("li", "a@href", Some("a@"), None), "a@"),
            (cfg("li", "a@href", None, Some("span:nope")), "span:nope"),
            (cfg("li", "", None, None), ""),
        ] {
            let err = parse_list(ZQRB, &base(), &c, chrono_tz::Asia::Shanghai, now())
                .err()
                .unwrap_or_else(|| panic!("accepted {bad:?}"));
            let HtmlListError::BadSelector { selector, .. } = &err else {
                panic!("not a selector error: {err}");
            };
            assert_eq!(selector, bad);
            assert!(err.to_string().contains(&format!("{bad:?}")), "{err}");
        }
    }

    #[test]
    fn too_deep_pages_are_not_parsed() {
        let page = format!("<ul>{}<li><a href=/a/1.html>t</a></li></ul>", "<div>".repeat(600));
        let c = cfg("li", "a@href", None, None);
        let err = parse_list(&page, &base(), &c, chrono_tz::Asia::Shanghai, now()).err();
        assert!(
            matches!(err, Some(HtmlListError::TooBig(TooBig::TooDeep(512)))),
            "{err:?}"
        );
        assert_eq!(
            err.map(|e| e.to_string()).as_deref(),
            Some("list page not parsed: nesting deeper than 512")
        );
    }
}
