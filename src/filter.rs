//! Per-source filters (`[[source]] include` / `exclude`): the step between normalization
//! and storage that drops the entries an operator does not want, such as everything but
//! 证券 and A股 items of a broad feed.
//!
//! Patterns are matched against the normalized title, the plain-text summary and the
//! media (outlet) name — what an operator reads — not against markup. A dropped entry is
//! not stored (and none of its share links are queued); it is counted in the fetch's
//! `fetches.entries_skipped` / `skip_reason` under [`FILTERED_REASON`].

use crate::config::SourceFilters;
use crate::normalize::Article;

/// The `skip_reason` of entries the filters dropped.
pub const FILTERED_REASON: &str = "filtered out by include/exclude";

/// Whether `article` passes the filters: no `exclude` pattern matches any of its texts,
/// and, when there are `include` patterns, one of them matches one of its texts.
pub fn keeps(filters: &SourceFilters, article: &Article) -> bool {
    filters.is_empty()
        || keeps_texts(
            filters,
            [
                Some(article.title.as_str()),
                article.summary.as_deref(),
                article.media.as_ref().map(|(name, _)| name.as_str()),
            ],
        )
}

/// [`keeps`] on an entry's title, summary and media.
fn keeps_texts(filters: &SourceFilters, texts: [Option<&str>; 3]) -> bool {
    let matches = |patterns: &[regex::Regex]| {
        patterns
            .iter()
            .any(|re| texts.iter().flatten().any(|text| re.is_match(text)))
    };
    !matches(&filters.exclude) && (filters.include.is_empty() || matches(&filters.include))
}

#[cfg(test)]
mod tests {
    use super::*;
    use regex::Regex;

    /// Title, summary and media of an entry.
    type Texts<'a> = (&'a str, Option<&'a str>, Option<&'a str>);

    fn keeps(filters: &SourceFilters, (title, summary, media): Texts<'_>) -> bool {
        keeps_texts(filters, [Some(title), summary, media])
    }

    fn article<'a>(title: &'a str, summary: Option<&'a str>, media: Option<&'a str>) -> Texts<'a> {
        (title, summary, media)
    }

    fn filters(include: &[&str], exclude: &[&str]) -> SourceFilters {
        let compile = |v: &[&str]| v.iter().map(|p| Regex::new(p).expect("test pattern")).collect();
        SourceFilters {
            include: compile(include),
            exclude: compile(exclude),
        }
    }

    #[test]
    fn no_filters_keep_everything() {
        assert!(super::keeps_texts(
            &filters(&[], &[]),
            [Some("任何标题"), None, None]
        ));
    }

    #[test]
    fn include_matches_title_summary_or_media() {
        let f = filters(&["证券|A股"], &[]);
        assert!(keeps(&f, article("A股三大指数收涨", None, None)));
        assert!(keeps(&f, article("市场观察", Some("证券板块走强"), None)));
        assert!(keeps(&f, article("市场观察", None, Some("证券日报"))));
        assert!(!keeps(
            &f,
            article("央行开展逆回购操作", Some("公开市场"), Some("新华社"))
        ));
    }

    #[test]
    fn exclude_wins_over_include() {
        let f = filters(&["证券"], &["广告"]);
        assert!(!keeps(&f, article("证券公司广告", None, None)));
        assert!(!keeps(&f, article("证券要闻", Some("推广广告"), None)));
        assert!(keeps(&f, article("证券要闻", None, None)));
    }

    #[test]
    fn case_sensitive_unless_asked() {
        assert!(!keeps(&filters(&["ipo"], &[]), article("IPO news", None, None)));
        assert!(keeps(
            &filters(&["(?i)ipo"], &[]),
            article("IPO news", None, None)
        ));
    }
}
