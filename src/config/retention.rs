//! `[retention]` (CONTRACT §5): how long `fetches`, earlier revisions and unseen articles are
//! kept. The raw table and its validation live here, beside the rest of the config's.

use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use super::raw::Str;
use super::validate::{Ctx, Res, Sec};

/// The default `[retention] fetches`: 30 days.
pub const DEFAULT_FETCHES_RETENTION: Duration = Duration::from_secs(30 * 24 * 3600);
/// The default `[retention] revisions`.
pub const DEFAULT_REVISIONS_KEPT: u32 = 10;

/// `[retention]` as written.
#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub(super) struct RawRetention {
    pub(super) fetches: Option<Str>,
    pub(super) revisions: Option<Spanned<i64>>,
    pub(super) articles: Option<Str>,
}

/// `[retention]`: what the daily prune (and `feedcrawler prune`) deletes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetentionConfig {
    /// `fetches` rows older than this are deleted; None (`"0"`): kept for ever.
    pub fetches: Option<Duration>,
    /// Earlier texts kept per article (the newest ones); 0 keeps none.
    pub revisions: u32,
    /// Articles not seen by any source for this long are deleted with their sightings;
    /// None (`"0"`, the default): never.
    pub articles: Option<Duration>,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        RetentionConfig {
            fetches: Some(DEFAULT_FETCHES_RETENTION),
            revisions: DEFAULT_REVISIONS_KEPT,
            articles: None,
        }
    }
}

impl Ctx<'_> {
    pub(super) fn retention(&self, r: &RawRetention) -> Res<RetentionConfig> {
        let sec = Sec {
            ctx: self,
            name: "[retention]".to_string(),
        };
        let d = RetentionConfig::default();
        let revisions = match &r.revisions {
            None => d.revisions,
            Some(v) => u32::try_from(*v.get_ref()).map_err(|_| {
                sec.err(
                    v.span(),
                    "revisions",
                    format!(
                        "{} is out of range: expected the number of earlier texts kept per article, 0 or more",
                        v.get_ref()
                    ),
                )
            })?,
        };
        Ok(RetentionConfig {
            fetches: keep_for(&sec, "fetches", &r.fetches, d.fetches)?,
            revisions,
            articles: keep_for(&sec, "articles", &r.articles, d.articles)?,
        })
    }
}

/// A retention period: a humantime duration, or `"0"` for "never delete" (None).
fn keep_for(sec: &Sec<'_>, key: &str, v: &Option<Str>, default: Option<Duration>) -> Res<Option<Duration>> {
    match v {
        None => Ok(default),
        Some(text) if text.get_ref().trim() == "0" => Ok(None),
        Some(_) => sec.duration(key, v, Duration::ZERO).map(Some).map_err(|e| {
            // The shared message says "must be more than zero"; here 0 has a meaning.
            match e {
                super::ConfigError::Invalid {
                    path,
                    line,
                    section,
                    key,
                    message,
                } => super::ConfigError::Invalid {
                    path,
                    line,
                    section,
                    key,
                    message: format!("{message}; \"0\" keeps the rows for ever"),
                },
                other => other,
            }
        }),
    }
}
