//! Real publishers' feeds read by the real binary, compared entry by entry with an
//! independent oracle (issue 13, "Real-world fidelity").
//!
//! Corpus: `tests/fixtures/realfeeds/` — `PROVENANCE.tsv` (file, repo, path, commit,
//! licence) lists feeds that real sites produced, taken byte for byte from the test
//! suites of other feed parsers. The feed files are committed in
//! `tests/fixtures/realfeeds/feeds/`, each assembled from the search index's
//! `read_file` answer and byte-compared with the repository snapshot (README.md there).
//! Fewer than `MIN_WELL_FORMED` well-formed feeds there is a failure, not a skip: a
//! corpus that went missing must not pass as "nothing to check".
//!
//! Oracle: `oracle.json`, written once by `oracle.py` (Python feedparser 6.0.11; JSON
//! Feed read from its spec with the standard library). Each feed becomes one
//! `type = "feed"` source with a `file:` URL, run with `feedcrawler once`; the stored
//! articles (with their sightings' guid and url) are matched to the oracle's entries by
//! guid, else link, else title, and compared field by field after the same obvious
//! normalisation of both sides:
//! - title: whitespace collapsed; ours (text, CONTRACT §3) equals the oracle's, or the
//!   text of the oracle's read as an HTML fragment (feedparser keeps the markup of
//!   Atom `type="html"` titles), or both read as HTML fragments agree.
//! - author: read as an HTML fragment, whitespace collapsed; an author `a@b (Name)` or `Name (a@b)` also agrees with `Name`.
//! - link: only when the oracle's link is absolute `http(s)`; both sides parsed as
//!   URLs (WHATWG serialisation: `http://Host.com` and `http://host.com/` are one URL).
//! - An oracle entry whose guid or link names an article already matched by an earlier
//!   entry of the same feed (a feed repeating an identity) counts for `entries`, and
//!   its fields are not compared: the store keeps one article per identity (CONTRACT §6).
//! - published: UTC seconds; the oracle's `published` (RSS pubDate, Atom published,
//!   JSON date_published), else its `updated` (dc:date, Atom updated, date_modified).
//!
//! Counted feeds ("well-formed"): oracle bozo = false; or bozo only because the
//! declared encoding was overridden (`CharacterEncodingOverride`); or bozo only because
//! blank lines stand before the XML declaration (a common publishing artefact that
//! feedparser's loose parser reads completely). Other ill-formed feeds are run too
//! (they must not crash the binary) and listed, but not counted.
//!
//! Judged disagreements: `verdicts.tsv` (file, entry index or id, field, oracle, ours,
//! verdict, reason); `oracle-wrong` and `both-right` count as agreement. An entry
//! column `*` applies the verdict to every entry of that file for that field.

mod support;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use support::{base_config, db_path, feed_source, open_db, run_once, tempdir};

/// The targets, asserted at the end (fractions of the counted feeds' entries).
struct Targets {
    entries: f64,
    title: f64,
    link: f64,
    published: f64,
    author: f64,
    silent_drops: usize,
}

const TARGETS: Targets = Targets {
    entries: 0.99,
    title: 0.99,
    link: 0.99,
    published: 0.99,
    author: 0.95,
    silent_drops: 0,
};

/// Worker threads running the binary (each run is one short process).
const THREADS: usize = 4;

fn realfeeds_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/realfeeds")
}

/// The committed folder holding the feed files.
fn feeds_dir() -> PathBuf {
    realfeeds_dir().join("feeds")
}

/// Fewest well-formed feeds (module doc) the corpus must hold for this test to pass.
const MIN_WELL_FORMED: usize = 150;

#[derive(Debug, Clone)]
struct OracleEntry {
    id: Option<String>,
    title: Option<String>,
    link: Option<String>,
    published: Option<String>,
    updated: Option<String>,
    author: Option<String>,
}

#[derive(Debug, Clone)]
struct OracleFeed {
    bozo: bool,
    bozo_exception: Option<String>,
    version: String,
    entries: Vec<OracleEntry>,
}

fn opt_str(v: &serde_json::Value) -> Option<String> {
    v.as_str().map(str::to_string)
}

fn load_oracle() -> BTreeMap<String, OracleFeed> {
    let text = std::fs::read_to_string(realfeeds_dir().join("oracle.json")).expect("oracle.json");
    let v: serde_json::Value = serde_json::from_str(&text).expect("oracle.json parses");
    let mut out = BTreeMap::new();
    for (name, f) in v.as_object().expect("oracle.json is an object") {
        let entries = f["entries"]
            .as_array()
            .expect("entries")
            .iter()
            .map(|e| OracleEntry {
                id: opt_str(&e["id"]),
                title: opt_str(&e["title"]),
                link: opt_str(&e["link"]),
                published: opt_str(&e["published"]),
                updated: opt_str(&e["updated"]),
                author: opt_str(&e["author"]),
            })
            .collect();
        out.insert(
            name.clone(),
            OracleFeed {
                bozo: f["bozo"].as_bool().unwrap_or(true),
                bozo_exception: opt_str(&f["bozo_exception"]),
                version: f["version"].as_str().unwrap_or("").to_string(),
                entries,
            },
        );
    }
    out
}

/// (file, entry index or id, field) -> verdict.
fn load_verdicts() -> HashMap<(String, String, String), String> {
    let path = realfeeds_dir().join("verdicts.tsv");
    let Ok(text) = std::fs::read_to_string(&path) else {
        return HashMap::new();
    };
    let mut out = HashMap::new();
    for line in text.lines().skip(1) {
        let cols: Vec<&str> = line.split('\t').collect();
        if cols.len() < 6 {
            continue;
        }
        let verdict = cols[5].trim().to_string();
        assert!(
            matches!(verdict.as_str(), "oracle-wrong" | "both-right" | "ours-wrong"),
            "verdicts.tsv: unknown verdict {verdict:?} in {line:?}"
        );
        out.insert(
            (cols[0].to_string(), cols[1].to_string(), cols[2].to_string()),
            verdict,
        );
    }
    out
}

/// Counted ("well-formed") per the module doc.
fn well_formed(feed: &OracleFeed, bytes: &[u8]) -> bool {
    if !feed.bozo {
        return true;
    }
    let exc = feed.bozo_exception.as_deref().unwrap_or("");
    if exc.starts_with("CharacterEncodingOverride") {
        return true;
    }
    if exc.contains("XML or text declaration not at start of entity") {
        let start = bytes.windows(5).position(|w| w == b"<?xml").unwrap_or(0);
        return bytes[..start].iter().all(|b| b.is_ascii_whitespace());
    }
    false
}

/// One stored article as seen by this feed's source.
#[derive(Debug, Clone)]
struct Stored {
    title: String,
    url: Option<String>,
    published_at: Option<String>,
    author: Option<String>,
    entry_guid: Option<String>,
    entry_url: Option<String>,
}

#[derive(Debug, Default)]
struct RunResult {
    stored: Vec<Stored>,
    last_error: Option<String>,
    fetch_errors: Vec<String>,
    entries_skipped: i64,
    skip_reasons: Vec<String>,
    exit: String,
}

fn columns(conn: &rusqlite::Connection, table: &str) -> Vec<String> {
    let mut st = conn
        .prepare(&format!("PRAGMA table_info({table})"))
        .expect("table_info");
    st.query_map([], |r| r.get::<_, String>(1))
        .expect("table_info rows")
        .collect::<Result<Vec<_>, _>>()
        .expect("table_info read")
}

fn run_feed(path: &Path) -> RunResult {
    let dir = tempdir();
    let url = url::Url::from_file_path(path).expect("absolute path").to_string();
    let config = format!("{}{}", base_config(), feed_source("corpus", &url, "news", &[]));
    let cfg = dir.path().join("config.toml");
    std::fs::write(&cfg, config).expect("write config");
    let out = run_once(&cfg);
    let mut res = RunResult {
        exit: format!(
            "{:?}{}",
            out.code,
            if out.timed_out { " (timed out)" } else { "" }
        ),
        ..RunResult::default()
    };
    let db = db_path(dir.path());
    if !db.exists() {
        res.last_error = Some(format!("no database; stderr: {}", out.stderr.trim()));
        return res;
    }
    let conn = open_db(&db);
    let mut st = conn
        .prepare(
            "SELECT a.title, a.url, a.published_at, a.author, g.entry_guid, g.entry_url \
             FROM articles a JOIN sightings g ON g.article_id = a.id ORDER BY a.id",
        )
        .expect("prepare articles");
    res.stored = st
        .query_map([], |r| {
            Ok(Stored {
                title: r.get(0)?,
                url: r.get(1)?,
                published_at: r.get(2)?,
                author: r.get(3)?,
                entry_guid: r.get(4)?,
                entry_url: r.get(5)?,
            })
        })
        .expect("query articles")
        .collect::<Result<Vec<_>, _>>()
        .expect("read articles");
    res.last_error = conn
        .query_row("SELECT last_error FROM sources WHERE name = 'corpus'", [], |r| {
            r.get(0)
        })
        .unwrap_or(None);
    // entries_skipped / skip_reason are being added to `fetches`; read them when present.
    let cols = columns(&conn, "fetches");
    let skipped = if cols.iter().any(|c| c == "entries_skipped") {
        "COALESCE(entries_skipped, 0)"
    } else {
        "0"
    };
    let reason = if cols.iter().any(|c| c == "skip_reason") {
        "skip_reason"
    } else {
        "NULL"
    };
    let mut st = conn
        .prepare(&format!(
            "SELECT error, {skipped}, {reason} FROM fetches ORDER BY id"
        ))
        .expect("prepare fetches");
    let rows = st
        .query_map([], |r| {
            Ok((
                r.get::<_, Option<String>>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, Option<String>>(2)?,
            ))
        })
        .expect("query fetches")
        .collect::<Result<Vec<_>, _>>()
        .expect("read fetches");
    for (error, n, why) in rows {
        res.fetch_errors.extend(error);
        res.entries_skipped += n;
        res.skip_reasons.extend(why);
    }
    res
}

/// Whitespace collapsed.
fn collapse(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Entities decoded, markup dropped, whitespace collapsed.
fn norm_text(s: &str) -> String {
    let text: String = if s.contains('<') || s.contains('&') {
        let frag = scraper::Html::parse_fragment(s);
        frag.root_element().text().collect()
    } else {
        s.to_string()
    };
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The readings of an author that count as the same person.
fn author_forms(s: &str) -> Vec<String> {
    let n = norm_text(s);
    let mut forms = vec![n.clone()];
    let re_mail_name = regex::Regex::new(r"^(\S+@\S+)\s*\((.+)\)$").unwrap();
    let re_name_mail = regex::Regex::new(r"^(.+?)\s*\((\S+@\S+)\)$").unwrap();
    if let Some(c) = re_mail_name.captures(&n) {
        forms.push(c[2].trim().to_string());
        forms.push(c[1].trim().to_string());
    } else if let Some(c) = re_name_mail.captures(&n) {
        forms.push(c[1].trim().to_string());
    }
    forms
}

/// A URL in its WHATWG serialisation (the text itself when it does not parse).
fn norm_url(u: &str) -> String {
    url::Url::parse(u.trim()).map_or_else(|_| u.trim().to_string(), |u| u.to_string())
}

fn is_absolute(link: &str) -> bool {
    let l = link.trim().to_ascii_lowercase();
    l.starts_with("http://") || l.starts_with("https://")
}

fn nonempty(s: &Option<String>) -> Option<&str> {
    s.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// Finds the stored article of oracle entry `e`: by guid, else link, else title.
fn match_entry<'a>(e: &OracleEntry, stored: &'a [Stored], used: &[bool]) -> Option<(usize, &'a Stored)> {
    if let Some(id) = nonempty(&e.id)
        && let Some(i) = stored
            .iter()
            .position(|s| s.entry_guid.as_deref().map(str::trim) == Some(id))
    {
        return Some((i, &stored[i]));
    }
    if let Some(link) = nonempty(&e.link) {
        let l = norm_url(link);
        let hit = stored.iter().position(|s| {
            s.url.as_deref().map(norm_url).as_ref() == Some(&l)
                || s.entry_url.as_deref().map(norm_url).as_ref() == Some(&l)
        });
        if let Some(i) = hit {
            return Some((i, &stored[i]));
        }
    }
    if let Some(title) = nonempty(&e.title) {
        let t = norm_text(title);
        if let Some(i) = (0..stored.len()).find(|&i| !used[i] && norm_text(&stored[i].title) == t) {
            return Some((i, &stored[i]));
        }
    }
    None
}

#[derive(Default, Clone, Copy)]
struct Tally {
    agreed: usize,
    total: usize,
}

impl Tally {
    fn add(&mut self, ok: bool) {
        self.total += 1;
        if ok {
            self.agreed += 1;
        }
    }
    fn rate(&self) -> f64 {
        if self.total == 0 {
            1.0
        } else {
            self.agreed as f64 / self.total as f64
        }
    }
}

#[test]
fn real_feeds_agree_with_the_oracle() {
    let dir = feeds_dir();
    let oracle = load_oracle();
    let verdicts = load_verdicts();
    let names: Vec<String> = oracle.keys().filter(|n| dir.join(n).is_file()).cloned().collect();
    // Every file the oracle speaks of must be committed (oracle.json lists kept files only).
    let missing: Vec<&String> = oracle.keys().filter(|n| !dir.join(n).is_file()).collect();
    assert!(
        missing.is_empty(),
        "{} of the oracle's {} feeds are missing from {}: {:?}",
        missing.len(),
        oracle.len(),
        dir.display(),
        missing
    );
    let present_well_formed = names
        .iter()
        .filter(|n| {
            std::fs::read(dir.join(n.as_str()))
                .map(|b| well_formed(&oracle[n.as_str()], &b))
                .unwrap_or(false)
        })
        .count();

    // Run every feed, THREADS at a time.
    let queue = Mutex::new(names.clone());
    let results: Mutex<BTreeMap<String, RunResult>> = Mutex::new(BTreeMap::new());
    std::thread::scope(|s| {
        for _ in 0..THREADS {
            s.spawn(|| {
                loop {
                    let Some(name) = queue.lock().unwrap().pop() else {
                        break;
                    };
                    let r = run_feed(&dir.join(&name));
                    results.lock().unwrap().insert(name, r);
                }
            });
        }
    });
    let results = results.into_inner().unwrap();

    let fields = ["entries", "title", "link", "published", "author"];
    let mut tally: BTreeMap<&str, Tally> = fields.iter().map(|f| (*f, Tally::default())).collect();
    let mut by_version: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let mut disagreements: Vec<String> = Vec::new();
    let mut judged = 0usize;
    let mut silent_drops: Vec<String> = Vec::new();
    let mut not_counted: Vec<String> = Vec::new();
    let mut shortfalls: Vec<String> = Vec::new();
    let mut merged = 0usize;

    for name in &names {
        let feed = &oracle[name];
        let res = &results[name];
        let bytes = std::fs::read(dir.join(name)).expect("read feed");
        let counted = well_formed(feed, &bytes);
        let v = by_version.entry(feed.version.clone()).or_default();
        v.0 += 1;
        if !counted {
            not_counted.push(format!(
                "{name}: {} | oracle {} entries, ours {} | last_error {:?}",
                feed.bozo_exception.as_deref().unwrap_or("-"),
                feed.entries.len(),
                res.stored.len(),
                res.last_error
            ));
            continue;
        }
        v.1 += 1;
        let mut used = vec![false; res.stored.len()];
        let mut missing = 0usize;
        for (idx, e) in feed.entries.iter().enumerate() {
            // An entry with neither id, link nor title has nothing to be known by.
            if nonempty(&e.id).is_none() && nonempty(&e.link).is_none() && nonempty(&e.title).is_none() {
                continue;
            }
            let key_of = |field: &str| {
                let by_idx = (name.clone(), idx.to_string(), field.to_string());
                let by_id = (name.clone(), e.id.clone().unwrap_or_default(), field.to_string());
                let any = (name.clone(), "*".to_string(), field.to_string());
                verdicts
                    .get(&by_idx)
                    .or_else(|| verdicts.get(&by_id))
                    .or_else(|| verdicts.get(&any))
                    .cloned()
            };
            let mut judge = |field: &'static str,
                             ok: bool,
                             oracle_v: &str,
                             ours_v: &str,
                             tally: &mut BTreeMap<&str, Tally>| {
                let ok = ok || {
                    match key_of(field).as_deref() {
                        Some("oracle-wrong") | Some("both-right") => {
                            judged += 1;
                            true
                        }
                        _ => false,
                    }
                };
                if !ok {
                    disagreements.push(format!(
                        "{name}\t#{idx}\t{field}\toracle={oracle_v:?}\tours={ours_v:?}"
                    ));
                }
                tally.get_mut(field).unwrap().add(ok);
            };
            let Some((i, s)) = match_entry(e, &res.stored, &used) else {
                missing += 1;
                let ident =
                    e.id.clone()
                        .or(e.link.clone())
                        .or(e.title.clone())
                        .unwrap_or_default();
                judge("entries", false, &ident, "<not stored>", &mut tally);
                continue;
            };
            judge("entries", true, "", "", &mut tally);
            if used[i] {
                merged += 1;
                continue;
            }
            used[i] = true;
            if let Some(t) = nonempty(&e.title) {
                // Our titles are text; the oracle's keep the markup of HTML titles.
                let ours = collapse(&s.title);
                let ok = ours == collapse(t) || ours == norm_text(t) || norm_text(&s.title) == norm_text(t);
                judge("title", ok, &collapse(t), &ours, &mut tally);
            }
            if let Some(l) = nonempty(&e.link).filter(|l| is_absolute(l)) {
                let ours = s.url.as_deref().unwrap_or("").trim();
                judge("link", norm_url(ours) == norm_url(l), l, ours, &mut tally);
            }
            if let Some(p) = nonempty(&e.published).or(nonempty(&e.updated)) {
                let ours = s.published_at.as_deref().unwrap_or("");
                judge("published", ours == p, p, ours, &mut tally);
            }
            if let Some(a) = nonempty(&e.author) {
                let ours = norm_text(s.author.as_deref().unwrap_or(""));
                let ok = !ours.is_empty() && author_forms(a).contains(&ours);
                judge("author", ok, &norm_text(a), &ours, &mut tally);
            }
        }
        if missing > 0 {
            shortfalls.push(format!(
                "{name} ({}): {missing} of {} not stored | last_error {:?} | fetch errors {:?} | skipped {} {:?}",
                feed.version,
                feed.entries.len(),
                res.last_error,
                res.fetch_errors,
                res.entries_skipped,
                res.skip_reasons
            ));
        }
        if missing > 0 && res.last_error.is_none() && res.entries_skipped == 0 && res.skip_reasons.is_empty()
        {
            silent_drops.push(format!(
                "{name} ({}): {missing} of {} entries not stored, no error or skip recorded (exit {})",
                feed.version,
                feed.entries.len(),
                res.exit
            ));
        }
    }

    println!(
        "\n== feed corpus: {} feeds ({} counted) from {}",
        names.len(),
        by_version.values().map(|v| v.1).sum::<usize>(),
        dir.display()
    );
    println!("{:<10} {:>6} {:>8}", "version", "feeds", "counted");
    for (v, (n, c)) in &by_version {
        println!("{:<10} {:>6} {:>8}", if v.is_empty() { "?" } else { v }, n, c);
    }
    println!("\n{:<10} {:>7} {:>7} {:>8}", "field", "agreed", "total", "%");
    for f in fields {
        let t = tally[f];
        println!(
            "{:<10} {:>7} {:>7} {:>7.1}%",
            f,
            t.agreed,
            t.total,
            100.0 * t.rate()
        );
    }
    println!("judged disagreements counted as agreement (verdicts.tsv): {judged}");
    println!("entries sharing an earlier entry's identity (fields not compared): {merged}");
    println!("\n== feeds with entries not stored ({}):", shortfalls.len());
    for d in &shortfalls {
        println!("{d}");
    }
    println!("\n== unjudged disagreements ({}):", disagreements.len());
    for d in &disagreements {
        println!("{d}");
    }
    println!("\n== silent drops ({}):", silent_drops.len());
    for d in &silent_drops {
        println!("{d}");
    }
    println!(
        "\n== not counted (ill-formed per the oracle) ({}):",
        not_counted.len()
    );
    for d in &not_counted {
        println!("{d}");
    }

    // Checked after the tables so a short corpus still shows what it measured.
    let mut failed = Vec::new();
    if present_well_formed < MIN_WELL_FORMED {
        failed.push(format!(
            "only {present_well_formed} well-formed feeds in {} (at least {MIN_WELL_FORMED} are required)",
            dir.display()
        ));
    }
    for (f, target) in [
        ("entries", TARGETS.entries),
        ("title", TARGETS.title),
        ("link", TARGETS.link),
        ("published", TARGETS.published),
        ("author", TARGETS.author),
    ] {
        let r = tally[f].rate();
        if r < target {
            failed.push(format!("{f}: {:.1}% < {:.0}%", 100.0 * r, 100.0 * target));
        }
    }
    if silent_drops.len() > TARGETS.silent_drops {
        failed.push(format!(
            "silent drops: {} > {}",
            silent_drops.len(),
            TARGETS.silent_drops
        ));
    }
    assert!(
        failed.is_empty(),
        "feed corpus below target: {}",
        failed.join("; ")
    );
}
