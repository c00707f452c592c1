//! `feedcrawler export` and `feedcrawler import-opml` (CONTRACT §1, §5): what consumers
//! that never query the database take away from it — Jekyll posts for a static site
//! ([`jekyll`]), JSON Lines for pipelines ([`jsonl`]), and the feed list as OPML
//! ([`opml`], both ways).
//!
//! Articles are read through [`crate::store::Reader::for_each_article`], one row at a
//! time, so no export holds more than one article in memory.

pub mod category;
pub mod jekyll;
pub mod jsonl;
pub mod opml;

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use chrono::{NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;

use crate::store::{ArticleFilter, Reader, StoreError};

/// `articles` columns that hold the crawler's merge state (CONTRACT §6: the rank of the
/// stored content, the precision of the stored time, the rank of the media's origin), not
/// data about the article: left out of JSON Lines and of the template variables.
pub const INTERNAL_COLUMNS: &[&str] = &["content_rank", "time_precision", "media_rank"];

/// What went wrong in an export or an OPML import.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// `--since` is not a date.
    #[error(
        "--since {value:?} is not a date: write YYYY-MM-DD (midnight in [daemon] timezone) \
         or an RFC 3339 time such as 2022-04-19T12:00:00+08:00"
    )]
    Since {
        /// What the user wrote.
        value: String,
    },
    /// `--source` names no source of the database.
    #[error("--source {name:?}: no source of that name in the database; `feedcrawler sources` lists them")]
    UnknownSource {
        /// What the user wrote.
        name: String,
    },
    /// An option that this format does not take (e.g. `--out -` for Jekyll).
    #[error("{0}")]
    Usage(String),
    /// An `[export.jekyll]` template does not parse or render.
    #[error("[export.jekyll] {key} in {config}: {message}; fix the template (see README \"Export\")")]
    Template {
        /// The config key: `categories`, `tags` or `footer`.
        key: &'static str,
        /// The config file.
        config: PathBuf,
        /// minijinja's message.
        message: String,
    },
    /// An output file or folder cannot be written.
    #[error("cannot write {path}: {source}; check that the folder exists and is writable")]
    Write {
        /// The file or folder.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// The OPML file cannot be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The OPML file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// The OPML file is not well-formed OPML.
    #[error("{path}: not a valid OPML file: {message}")]
    Opml {
        /// The OPML file.
        path: PathBuf,
        /// What the parser said.
        message: String,
    },
    /// The database could not be read.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl ExportError {
    /// Whether this is the user's mistake on the command line or in the config (exit 2)
    /// rather than a runtime failure (exit 1), per CONTRACT §1.
    pub fn is_usage(&self) -> bool {
        matches!(
            self,
            ExportError::Since { .. }
                | ExportError::UnknownSource { .. }
                | ExportError::Usage(_)
                | ExportError::Template { .. }
        )
    }
}

/// What an export did, for the closing line on stderr.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ExportReport {
    /// Articles (or sources, for OPML) written.
    pub written: u64,
    /// Jekyll posts whose file already had exactly this content (left untouched).
    pub unchanged: u64,
}

/// Where an export writes: a file (written to a temporary file beside it, then renamed, so
/// that a reader never sees half an export) or standard output (`-`).
pub enum Output {
    /// `--out -`.
    Stdout,
    /// `--out PATH`.
    File(PathBuf),
}

impl Output {
    /// `-` is standard output; anything else a path.
    pub fn parse(out: &Path) -> Output {
        if out == Path::new("-") {
            Output::Stdout
        } else {
            Output::File(out.to_owned())
        }
    }

    /// Runs `write` on a buffered writer for this output, then commits it (flush, or
    /// rename into place). A closed standard output (`| head`) ends the export quietly.
    pub fn write_with(
        &self,
        write: impl FnOnce(&mut dyn Write) -> Result<u64, ExportError>,
    ) -> Result<u64, ExportError> {
        match self {
            Output::Stdout => {
                let stdout = io::stdout();
                let mut w = io::BufWriter::with_capacity(1 << 16, stdout.lock());
                let result = write(&mut w).and_then(|n| {
                    w.flush().map_err(|source| write_error(Path::new("-"), source))?;
                    Ok(n)
                });
                match result {
                    Err(ExportError::Write { source, .. }) if source.kind() == io::ErrorKind::BrokenPipe => {
                        Ok(0)
                    }
                    other => other,
                }
            }
            Output::File(path) => {
                let tmp = temp_path(path);
                let file = std::fs::File::create(&tmp).map_err(|source| write_error(path, source))?;
                let mut w = io::BufWriter::with_capacity(1 << 16, file);
                let result = write(&mut w).and_then(|n| {
                    let file = w.into_inner().map_err(|e| write_error(path, e.into_error()))?;
                    file.sync_all().map_err(|source| write_error(path, source))?;
                    std::fs::rename(&tmp, path).map_err(|source| write_error(path, source))?;
                    Ok(n)
                });
                if result.is_err() {
                    let _ = std::fs::remove_file(&tmp);
                }
                result
            }
        }
    }
}

/// `PATH` → `.PATH.tmp` in the same folder (a rename never crosses file systems).
pub(crate) fn temp_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "export".to_owned());
    path.with_file_name(format!(".{name}.feedcrawler-tmp"))
}

pub(crate) fn write_error(path: &Path, source: io::Error) -> ExportError {
    ExportError::Write {
        path: path.to_owned(),
        source,
    }
}

/// Builds the article filter of `--since` and `--source`, checking both.
///
/// `--since` takes `YYYY-MM-DD` or `YYYY-MM-DD HH:MM[:SS]` (read in `timezone`, the
/// config's `[daemon] timezone`) or an RFC 3339 time; it is compared with `published_at`
/// (UTC), or `first_seen_at` for an article without a publication time.
pub fn filter(
    reader: &Reader,
    since: Option<&str>,
    source: Option<&str>,
    timezone: Tz,
) -> Result<ArticleFilter, ExportError> {
    let since = since.map(|s| parse_since(s, timezone)).transpose()?;
    if let Some(name) = source
        && !reader.has_source(name)?
    {
        return Err(ExportError::UnknownSource {
            name: name.to_owned(),
        });
    }
    Ok(ArticleFilter {
        since,
        source: source.map(str::to_owned),
    })
}

/// `--since` as the UTC text the database stores (`2022-04-19T04:00:00Z`).
pub fn parse_since(value: &str, timezone: Tz) -> Result<String, ExportError> {
    let v = value.trim();
    let bad = || ExportError::Since {
        value: value.to_owned(),
    };
    let utc = if let Ok(t) = chrono::DateTime::parse_from_rfc3339(v) {
        t.with_timezone(&Utc)
    } else {
        let naive = if let Ok(d) = NaiveDate::parse_from_str(v, "%Y-%m-%d") {
            d.and_hms_opt(0, 0, 0).ok_or_else(bad)?
        } else {
            ["%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"]
                .iter()
                .find_map(|f| NaiveDateTime::parse_from_str(v, f).ok())
                .ok_or_else(bad)?
        };
        // A time skipped by a DST change has no reading; an ambiguous one takes the earlier.
        timezone
            .from_local_datetime(&naive)
            .earliest()
            .ok_or_else(bad)?
            .with_timezone(&Utc)
    };
    Ok(utc.format("%Y-%m-%dT%H:%M:%SZ").to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_reads_dates_in_the_config_timezone_and_rfc3339_as_written() {
        let tz = Tz::Asia__Shanghai;
        assert_eq!(parse_since("2022-04-19", tz).unwrap(), "2022-04-18T16:00:00Z");
        assert_eq!(
            parse_since("2022-04-19 12:22", tz).unwrap(),
            "2022-04-19T04:22:00Z"
        );
        assert_eq!(
            parse_since("2022-04-19T12:22:44+08:00", tz).unwrap(),
            "2022-04-19T04:22:44Z"
        );
        assert_eq!(
            parse_since("2022-04-19T04:22:44Z", tz).unwrap(),
            "2022-04-19T04:22:44Z"
        );
        assert!(parse_since("yesterday", tz).unwrap_err().is_usage());
        assert!(parse_since("2022-13-01", tz).is_err());
    }
}
