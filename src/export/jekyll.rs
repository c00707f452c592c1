//! `export --format jekyll`: one post per article in the form of the reference site
//! (CONTRACT §5; `shared/seed/000_1bd4150e373cca66.txt` is the byte-for-byte model).
//!
//! ```text
//! ---
//! layout: post
//! title: "<title>"
//! date: 2022-04-19 12:22:44 +0800
//! categories: <categories>
//! tags: <tags>
//! ---
//! <content_html>
//!
//! <<share_url>>
//!
//! <footer>
//! ```
//!
//! There is no newline after the footer: the reference file has none.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, FixedOffset, Utc};
use chrono_tz::Tz;
use indicatif::ProgressBar;
use minijinja::{Environment, Value};

use super::category::{default_category, pinyin};
use super::{ExportError, ExportReport, temp_path, write_error};
use crate::config::JekyllConfig;
use crate::store::{ArticleFilter, ArticleRecord, Cell, Reader};

/// The footer of the reference site, for `[export.jekyll] footer` left out.
pub const DEFAULT_FOOTER: &str = "[返回{{ tags }}](//finews.withounder.com/category/{{ categories }}.html)｜[返回首页](//finews.withounder.com/)";

/// The templates of one export, parsed once.
struct Templates {
    env: Environment<'static>,
    categories: bool,
    tags: bool,
}

impl Templates {
    fn new(cfg: &JekyllConfig, config_path: &Path) -> Result<Templates, ExportError> {
        let mut env = Environment::new();
        // Front matter and Markdown are not HTML: values go in as they are.
        env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
        let mut add = |key: &'static str, source: Option<&String>| -> Result<bool, ExportError> {
            let Some(source) = source else {
                return Ok(false);
            };
            env.add_template_owned(key, source.clone())
                .map_err(|e| template_error(key, config_path, &e))?;
            Ok(true)
        };
        let categories = add("categories", cfg.categories.as_ref())?;
        let tags = add("tags", cfg.tags.as_ref())?;
        let footer = cfg.footer.clone().unwrap_or_else(|| DEFAULT_FOOTER.to_owned());
        env.add_template_owned("footer", footer)
            .map_err(|e| template_error("footer", config_path, &e))?;
        Ok(Templates {
            env,
            categories,
            tags,
        })
    }

    fn render(
        &self,
        key: &'static str,
        ctx: &BTreeMap<String, Value>,
        config_path: &Path,
    ) -> Result<String, ExportError> {
        self.env
            .get_template(key)
            .and_then(|t| t.render(Value::from(ctx.clone())))
            .map_err(|e| template_error(key, config_path, &e))
    }
}

fn template_error(key: &'static str, config: &Path, e: &minijinja::Error) -> ExportError {
    let mut message = e.to_string();
    if let Some(detail) = e.detail() {
        message = format!("{message} ({detail})");
    }
    ExportError::Template {
        key,
        config: config.to_owned(),
        message,
    }
}

/// Writes one post per article that passes `filter` into `out` (created if missing).
/// A post whose file already holds exactly its text is not rewritten, so its mtime
/// stays and static-site builds and rsync see nothing new; a changed one is replaced
/// atomically (temporary file, then rename).
pub fn export(
    reader: &Reader,
    filter: &ArticleFilter,
    cfg: &JekyllConfig,
    config_path: &Path,
    timezone: Tz,
    out: &Path,
    progress: &ProgressBar,
) -> Result<ExportReport, ExportError> {
    let templates = Templates::new(cfg, config_path)?;
    std::fs::create_dir_all(out).map_err(|source| write_error(out, source))?;
    let mut report = ExportReport::default();
    let walk = reader.for_each_article(filter, |a| -> Result<(), ExportError> {
        let post = render_post(a, cfg, &templates, config_path, timezone)?;
        let path = out.join(&post.file_name);
        if std::fs::read(&path).is_ok_and(|old| old == post.text.as_bytes()) {
            report.unchanged += 1;
        } else {
            write_atomically(&path, post.text.as_bytes())?;
            report.written += 1;
        }
        progress.inc(1);
        Ok(())
    });
    match walk {
        Ok(()) => Ok(report),
        Err(Ok(e)) => Err(e),
        Err(Err(e)) => Err(e.into()),
    }
}

fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), ExportError> {
    let tmp = temp_path(path);
    let result = std::fs::write(&tmp, bytes).and_then(|()| std::fs::rename(&tmp, path));
    if let Err(source) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(write_error(path, source));
    }
    Ok(())
}

/// One rendered post.
#[derive(Debug)]
pub struct Post {
    /// `YYYY-MM-DD-<infoCode, else id>.md`.
    pub file_name: PathBuf,
    /// The whole file.
    pub text: String,
}

/// Renders one article as a post.
fn render_post(
    a: &ArticleRecord,
    cfg: &JekyllConfig,
    templates: &Templates,
    config_path: &Path,
    timezone: Tz,
) -> Result<Post, ExportError> {
    let date = local_date(a, timezone);
    let id = a
        .text("info_code")
        .map(str::to_owned)
        .or_else(|| a.integer("id").map(|n| n.to_string()))
        .unwrap_or_default();
    let file_name = PathBuf::from(format!(
        "{}-{}.md",
        date.map_or_else(|| "0000-00-00".to_owned(), |d| d.format("%Y-%m-%d").to_string()),
        file_safe(&id)
    ));
    let date_line = date.map(|d| d.format("%Y-%m-%d %H:%M:%S %z").to_string());

    // Every column by name; `tags` as a list; a few derived values.
    let mut ctx: BTreeMap<String, Value> = BTreeMap::new();
    for (name, cell) in a.columns.iter().zip(&a.values) {
        if super::INTERNAL_COLUMNS.contains(&name.as_str()) {
            continue;
        }
        let v = match cell {
            Cell::Null => Value::from(()),
            Cell::Integer(n) => Value::from(*n),
            Cell::Real(x) => Value::from(*x),
            Cell::Text(s) => Value::from(s.clone()),
        };
        ctx.insert(name.clone(), v);
    }
    let tag_list: Vec<String> = a
        .text("tags")
        .and_then(|t| serde_json::from_str(t).ok())
        .unwrap_or_default();
    ctx.insert("tags".into(), Value::from(tag_list.clone()));
    ctx.insert("sources".into(), Value::from(a.sources.clone()));
    let media = a.text("media").map(str::trim).filter(|m| !m.is_empty());
    ctx.insert(
        "media_pinyin".into(),
        Value::from(media.map(pinyin).unwrap_or_default()),
    );
    ctx.insert("date".into(), Value::from(date_line.clone().unwrap_or_default()));

    let default_categories = default_category(a.text("category"), media, &cfg.category_map);
    let default_tags = match media {
        Some(m) => format!("{m}新闻"),
        None => tag_list.join(" "),
    };
    ctx.insert(
        "default_categories".into(),
        Value::from(default_categories.clone()),
    );
    ctx.insert("default_tags".into(), Value::from(default_tags.clone()));

    let categories = if templates.categories {
        templates.render("categories", &ctx, config_path)?
    } else {
        default_categories
    };
    let tags = if templates.tags {
        templates.render("tags", &ctx, config_path)?
    } else {
        default_tags
    };
    // The footer sees the rendered lines, as the reference site's links do.
    ctx.insert("categories".into(), Value::from(categories.clone()));
    ctx.insert("tags".into(), Value::from(tags.clone()));
    let footer = templates.render("footer", &ctx, config_path)?;

    let mut text = String::with_capacity(a.text("content_html").map_or(0, str::len) + footer.len() + 512);
    text.push_str("---\n");
    text.push_str(&format!("layout: {}\n", yaml_plain(&cfg.layout)));
    text.push_str(&format!(
        "title: {}\n",
        yaml_quoted(a.text("title").unwrap_or(""))
    ));
    if let Some(d) = &date_line {
        text.push_str(&format!("date: {d}\n"));
    }
    text.push_str(&format!("categories: {}\n", yaml_plain(&categories)));
    text.push_str(&format!("tags: {}\n", yaml_plain(&tags)));
    text.push_str("---\n");
    let body = a
        .text("content_html")
        .filter(|c| !c.trim().is_empty())
        .or_else(|| a.text("summary"))
        .unwrap_or("");
    text.push_str(body);
    if let Some(link) = a.text("share_url").or_else(|| a.text("url")) {
        text.push_str("\n\n<");
        text.push_str(link);
        text.push('>');
    }
    if !footer.is_empty() {
        text.push_str("\n\n");
        text.push_str(&footer);
    }
    Ok(Post { file_name, text })
}

/// The publisher's local time of an article: `published_local` as given (with its
/// offset), else `published_at` in the config's timezone, else when it was first seen.
fn local_date(a: &ArticleRecord, timezone: Tz) -> Option<DateTime<FixedOffset>> {
    if let Some(t) = a
        .text("published_local")
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
    {
        return Some(t);
    }
    ["published_at", "first_seen_at"].iter().find_map(|col| {
        let t = DateTime::parse_from_rfc3339(a.text(col)?).ok()?;
        let local = t.with_timezone(&Utc).with_timezone(&timezone);
        Some(local.fixed_offset())
    })
}

/// An infoCode or id in a file name: nothing but letters, digits, `-` and `_`.
fn file_safe(id: &str) -> String {
    id.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// A YAML double-quoted scalar: `\` and `"` escaped, control characters as escapes, so
/// any title (`: `, `#`, quotes, a leading `-` or `*`) stays one valid string.
pub fn yaml_quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            // U+2028/2029 are line breaks to YAML 1.1 parsers.
            c if c.is_control() || c == '\u{2028}' || c == '\u{2029}' => {
                out.push_str(&format!("\\u{:04X}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A front-matter value written plain when YAML reads it back as the same string (the
/// reference site's `categories: zhengquanribaowang`), double-quoted otherwise.
pub fn yaml_plain(s: &str) -> String {
    let first = s.chars().next();
    let needs_quotes = s.is_empty()
        || s.trim() != s
        || first.is_some_and(|c| "-?:,[]{}#&*!|>'\"%@`".contains(c))
        || s.contains(": ")
        || s.contains(" #")
        || s.ends_with(':')
        || s.chars().any(|c| c.is_control())
        || matches!(
            s.to_ascii_lowercase().as_str(),
            "null" | "~" | "true" | "false" | "yes" | "no" | "on" | "off"
        )
        || s.parse::<f64>().is_ok();
    if needs_quotes {
        yaml_quoted(s)
    } else {
        s.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_scalars() {
        assert_eq!(yaml_quoted(r#"a "b" \c"#), r#""a \"b\" \\c""#);
        assert_eq!(yaml_plain("zhengquanribaowang"), "zhengquanribaowang");
        assert_eq!(yaml_plain("证券日报网新闻"), "证券日报网新闻");
        assert_eq!(yaml_plain("a b"), "a b");
        assert_eq!(yaml_plain("a: b"), "\"a: b\"");
        assert_eq!(yaml_plain("#x"), "\"#x\"");
        assert_eq!(yaml_plain("2022"), "\"2022\"");
        assert_eq!(yaml_plain(""), "\"\"");
    }
}
