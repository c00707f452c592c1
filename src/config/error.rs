//! [`ConfigError`] and the helpers that locate a mistake in the config text: the line, the
//! table (`[http]`, `[[source]] "zqrb"`) and the key an error or warning names, including
//! for the errors serde and the TOML parser report.

use std::ops::Range;
use std::path::{Path, PathBuf};

use super::validate::Ctx;

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

/// `path:line: section: key `k`: message`, leaving out the parts that are unknown or empty.
pub(super) fn invalid_display(
    path: &Path,
    line: &Option<usize>,
    section: &str,
    key: &str,
    message: &str,
) -> String {
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

impl Ctx<'_> {
    /// A serde/TOML error, with the table and key recovered from the text around its span.
    pub(super) fn toml_error(&self, e: &toml::de::Error) -> ConfigError {
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
        "[[notify]]" => "name",
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
