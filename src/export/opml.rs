//! `export --format opml` and `import-opml FILE` (CONTRACT §1, §5).
//!
//! Export writes the enabled `type = "feed"` sources as OPML 2.0: one folder outline per
//! category (in the order the config first names it), each feed an outline with `text`
//! and `title` (the source name), `type="rss"`, `xmlUrl` and `category`; feeds without a
//! category sit at the top level. Import reads any OPML (nested folders as readers such as
//! Feedly, Inoreader or newsboat write them) and prints one `[[source]]` block per outline
//! that has an `xmlUrl`. Export then import gives back the same blocks.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::Path;

use quick_xml::XmlVersion;
use quick_xml::events::{BytesStart, Event};

use super::category::slug;
use super::{ExportError, Output};
use crate::config::{Config, SourceKind};

/// One feed found in an OPML file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpmlFeed {
    /// A source name: unique in the file, stable (made from the title, else the URL's
    /// host), valid per the config's rules (lower-case ASCII letters, digits and `-`).
    pub name: String,
    /// `xmlUrl`.
    pub url: String,
    /// The outline's `category` attribute, else the innermost enclosing folder's title.
    pub category: Option<String>,
}

/// Writes the enabled feed sources of `config` as OPML 2.0; returns how many.
pub fn export(config: &Config, out: &Output) -> Result<u64, ExportError> {
    let text = to_opml(config);
    let n = config
        .sources
        .iter()
        .filter(|s| s.enabled && s.kind == SourceKind::Feed && s.url.is_some())
        .count() as u64;
    out.write_with(|w| {
        let path = match out {
            Output::Stdout => std::path::PathBuf::from("-"),
            Output::File(p) => p.clone(),
        };
        w.write_all(text.as_bytes())
            .map_err(|e| super::write_error(&path, e))?;
        Ok(n)
    })
}

/// The OPML document of `config`'s enabled feed sources.
pub fn to_opml(config: &Config) -> String {
    let feeds: Vec<_> = config
        .sources
        .iter()
        .filter(|s| s.enabled && s.kind == SourceKind::Feed)
        .filter_map(|s| Some((s, s.url.as_ref()?)))
        .collect();
    let mut categories: Vec<&str> = Vec::new();
    for (s, _) in &feeds {
        if let Some(c) = s.category.as_deref()
            && !categories.contains(&c)
        {
            categories.push(c);
        }
    }
    let esc = |s: &str| quick_xml::escape::escape(s).into_owned();
    let outline = |out: &mut String, indent: &str, s: &crate::config::SourceConfig, url: &url::Url| {
        let _ = write!(
            out,
            "{indent}<outline type=\"rss\" text=\"{n}\" title=\"{n}\" xmlUrl=\"{u}\"",
            n = esc(&s.name),
            u = esc(url.as_str())
        );
        if let Some(c) = &s.category {
            let _ = write!(out, " category=\"{}\"", esc(c));
        }
        out.push_str("/>\n");
    };
    let mut out = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<opml version=\"2.0\">\n  <head>\n    \
         <title>feedcrawler sources</title>\n  </head>\n  <body>\n",
    );
    for c in &categories {
        let _ = writeln!(out, "    <outline text=\"{0}\" title=\"{0}\">", esc(c));
        for (s, url) in feeds.iter().filter(|(s, _)| s.category.as_deref() == Some(c)) {
            outline(&mut out, "      ", s, url);
        }
        out.push_str("    </outline>\n");
    }
    for (s, url) in feeds.iter().filter(|(s, _)| s.category.is_none()) {
        outline(&mut out, "    ", s, url);
    }
    out.push_str("  </body>\n</opml>\n");
    out
}

/// Reads the feeds of the OPML file at `path`, in document order.
pub fn read_file(path: &Path) -> Result<Vec<OpmlFeed>, ExportError> {
    let text = std::fs::read_to_string(path).map_err(|source| ExportError::Read {
        path: path.to_owned(),
        source,
    })?;
    parse(&text).map_err(|message| ExportError::Opml {
        path: path.to_owned(),
        message,
    })
}

/// Parses an OPML document: every `outline` with an `xmlUrl` is a feed; an outline
/// without one that has children is a folder, whose title is the category of the feeds
/// inside it (the innermost folder wins).
pub fn parse(text: &str) -> Result<Vec<OpmlFeed>, String> {
    let mut reader = quick_xml::Reader::from_str(text);
    reader.config_mut().trim_text(true);
    // For each open outline: its folder title, if it is a folder.
    let mut stack: Vec<Option<String>> = Vec::new();
    let mut feeds = Vec::new();
    let mut names = BTreeSet::new();
    let mut saw_opml = false;
    loop {
        let event = reader
            .read_event()
            .map_err(|e| format!("at byte {}: {e}", reader.error_position()))?;
        match event {
            Event::Start(e) | Event::Empty(e) if e.local_name().as_ref() == "opml" => {
                saw_opml = true;
            }
            Event::Start(e) if e.local_name().as_ref() == "outline" => {
                let o = Outline::read(&e)?;
                if let Some(url) = &o.xml_url {
                    feeds.push(feed(&o, url, &stack, &mut names));
                    stack.push(None);
                } else {
                    stack.push(o.title.or(o.text));
                }
            }
            Event::Empty(e) if e.local_name().as_ref() == "outline" => {
                let o = Outline::read(&e)?;
                if let Some(url) = &o.xml_url {
                    feeds.push(feed(&o, url, &stack, &mut names));
                }
            }
            Event::End(e) if e.local_name().as_ref() == "outline" => {
                stack.pop();
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if !saw_opml {
        return Err("no <opml> element".to_owned());
    }
    Ok(feeds)
}

struct Outline {
    text: Option<String>,
    title: Option<String>,
    xml_url: Option<String>,
    category: Option<String>,
}

impl Outline {
    fn read(e: &BytesStart<'_>) -> Result<Outline, String> {
        let mut o = Outline {
            text: None,
            title: None,
            xml_url: None,
            category: None,
        };
        for attr in e.attributes() {
            let attr = attr.map_err(|e| e.to_string())?;
            let value = attr
                .normalized_value(XmlVersion::Implicit1_0)
                .map_err(|e| e.to_string())?
                .trim()
                .to_owned();
            if value.is_empty() {
                continue;
            }
            // Attribute names as written by the common readers; OPML is case-sensitive
            // but some writers spell `xmlURL`/`xmlurl`.
            match attr.key.local_name().as_ref().to_ascii_lowercase().as_str() {
                "text" => o.text = Some(value),
                "title" => o.title = Some(value),
                "xmlurl" => o.xml_url = Some(value),
                "category" => o.category = Some(value),
                _ => {}
            }
        }
        Ok(o)
    }
}

fn feed(o: &Outline, url: &str, stack: &[Option<String>], names: &mut BTreeSet<String>) -> OpmlFeed {
    // OPML 2.0 `category` is a comma-separated list of slash-delimited paths
    // ("/Boston/Weather"); the first one, without its outer slashes, is the category.
    let category = o
        .category
        .as_deref()
        .and_then(|c| {
            c.split(',')
                .map(|c| c.trim().trim_matches('/'))
                .find(|c| !c.is_empty())
        })
        .map(str::to_owned)
        .or_else(|| stack.iter().rev().flatten().next().cloned());
    let host = url::Url::parse(url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_default();
    let mut base = [o.title.as_deref(), o.text.as_deref(), Some(host.as_str())]
        .into_iter()
        .flatten()
        .map(slug)
        .find(|s| !s.is_empty())
        .unwrap_or_else(|| "feed".to_owned());
    // Long titles make unwieldy names; 48 ASCII characters is plenty to tell feeds apart.
    if base.len() > 48 {
        base.truncate(48);
        base = base.trim_end_matches('-').to_owned();
    }
    let mut name = base.clone();
    let mut n = 2;
    while names.contains(&name) {
        name = format!("{base}-{n}");
        n += 1;
    }
    names.insert(name.clone());
    OpmlFeed {
        name,
        url: url.to_owned(),
        category,
    }
}

/// The `[[source]]` blocks of `feeds`, ready to append to a config.
pub fn to_toml(feeds: &[OpmlFeed]) -> String {
    let q = |s: &str| toml::Value::String(s.to_owned()).to_string();
    let mut out = String::new();
    for f in feeds {
        let _ = write!(
            out,
            "\n[[source]]\nname = {}\ntype = \"feed\"\nurl = {}\n",
            q(&f.name),
            q(&f.url)
        );
        if let Some(c) = &f.category {
            let _ = writeln!(out, "category = {}", q(c));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_folders_names_and_categories() {
        let opml = r#"<?xml version="1.0"?>
<opml version="2.0"><head><title>t</title></head><body>
  <outline text="财经">
    <outline text="股市">
      <outline type="rss" text="证券日报" xmlUrl="https://a.example/rss"/>
      <outline type="rss" title="证券日报" text="x" xmlUrl="https://b.example/rss?a=1&amp;b=2"/>
    </outline>
    <outline type="rss" text="" xmlUrl="https://c.example/feed" category="/Boston/Weather,/x"/>
  </outline>
  <outline type="rss" text="Top &quot;Level&quot;" xmlUrl="https://d.example/"></outline>
</body></opml>"#;
        let feeds = parse(opml).unwrap();
        let got: Vec<(&str, &str, Option<&str>)> = feeds
            .iter()
            .map(|f| (f.name.as_str(), f.url.as_str(), f.category.as_deref()))
            .collect();
        assert_eq!(
            got,
            vec![
                ("zhengquanribao", "https://a.example/rss", Some("股市")),
                ("zhengquanribao-2", "https://b.example/rss?a=1&b=2", Some("股市")),
                ("c-example", "https://c.example/feed", Some("Boston/Weather")),
                ("top-level", "https://d.example/", None),
            ]
        );
        assert!(parse("<html/>").is_err());
        assert!(parse("<opml><body><outline").is_err());
    }
}
