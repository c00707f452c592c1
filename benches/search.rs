//! Search designs for Chinese readers, measured on one database of generated articles.
//!
//! ```sh
//! cargo bench --bench search                   # 200,000 articles
//! SEARCH_ARTICLES=20000 cargo bench --bench search
//! ```
//!
//! The articles are made from the sentences of the finews corpus
//! (`tests/fixtures/finews/posts`): each takes 6–24 random sentences (≈1,000 characters, a
//! typical `content_text`), a title cut from one of them, stock codes varied, and a
//! `published_at` two years wide, newest with the highest ids (as a crawl writes them). Four
//! words are measured: a two-character and a four-character word, each common (银行, which the
//! corpus holds, and 工业经济 put into 3 % of the articles) and rare (鲲鹏 and 量子芯片, each put
//! into 1 article in 10,000, spread over the whole range: a scan must read everything).
//!
//! The designs, each answering `search WORD --limit 20` (newest first):
//!
//! - `scan`: `ORDER BY published_at DESC` through its index with `instr` on title and text,
//!   stopping at the limit (no index to keep);
//! - `trigram+scan`: the existing trigram index for 3+ characters, the scan for 1–2;
//! - `bigram`: a second FTS5 index (unicode61) of CJK bigrams pre-split in Rust, detail=full:
//!   a 2-character word is one token, a longer one a phrase of bigrams;
//! - `trigram+bigram(none)`: the trigram index for 3+ characters, a bigram index with
//!   `detail=none` (no positions: single tokens only) for 2;
//! - `newest 2000, indexes` (the choice): the newest 2,000 articles scanned first, newest
//!   first; when they do not fill the page, `trigram+bigram(none)`.
//!
//! Printed: query latency (median of `SEARCH_RUNS`, default 5, warm cache), the hits, each
//! index's build time (bulk passes of 5,000 rows as the writer does) and size (`dbstat`).

use std::path::Path;
use std::time::{Duration, Instant};

use rusqlite::{Connection, params};

const RARE2: &str = "鲲鹏";
const RARE4: &str = "量子芯片";
const COMMON2: &str = "银行";
const COMMON4: &str = "工业经济";

fn main() -> anyhow::Result<()> {
    let n: usize = env_or("SEARCH_ARTICLES", 200_000);
    let runs: usize = env_or("SEARCH_RUNS", 5);
    let sentences = corpus_sentences(Path::new("tests/fixtures/finews/posts"))?;
    anyhow::ensure!(sentences.len() > 100, "finews corpus not found or empty");
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("search.db");
    feedcrawler::store::migrate(&feedcrawler::config::Database::Sqlite(path.clone()))?;
    let mut conn = Connection::open(&path)?;
    conn.execute_batch("PRAGMA cache_size = -8192; PRAGMA synchronous = NORMAL;")?;
    println!(
        "search bench: {n} articles from {} corpus sentences",
        sentences.len()
    );

    let started = Instant::now();
    insert_articles(&mut conn, &sentences, n)?;
    println!("  insert articles: {:.1} s", started.elapsed().as_secs_f64());

    let trigram = timed(|| {
        bulk_index(&mut conn, n, |tx, lo, hi| {
            tx.execute(
                "INSERT INTO articles_fts(rowid, title, content_text)
                 SELECT id, title, coalesce(content_text, '') FROM articles WHERE id > ?1 AND id <= ?2",
                [lo, hi],
            )?;
            Ok(())
        })
    })?;
    conn.execute_batch(
        "CREATE VIRTUAL TABLE bigram_full USING fts5(title, content_text, content = '', contentless_delete = 1, tokenize = 'unicode61');
         CREATE VIRTUAL TABLE bigram_none USING fts5(title, content_text, content = '', contentless_delete = 1, detail = none, tokenize = 'unicode61');",
    )?;
    let bigram_full = timed(|| bigram_index(&mut conn, n, "bigram_full"))?;
    let bigram_none = timed(|| bigram_index(&mut conn, n, "bigram_none"))?;
    let size = |prefix: &str| -> rusqlite::Result<f64> {
        conn.query_row(
            "SELECT sum(pgsize) FROM dbstat WHERE name LIKE ?1 || '%'",
            [prefix],
            |r| r.get::<_, Option<i64>>(0),
        )
        .map(|b| b.unwrap_or(0) as f64 / 1e6)
    };
    println!("  index builds (bulk passes of 5,000 rows), size:");
    println!(
        "    articles table        {:>7.1} MB",
        size("articles")? - size("articles_fts")?
    );
    println!(
        "    trigram (existing)    {:>7.1} s  {:>7.1} MB  {:>6.0} rows/s",
        trigram.as_secs_f64(),
        size("articles_fts")?,
        n as f64 / trigram.as_secs_f64()
    );
    println!(
        "    bigram detail=full    {:>7.1} s  {:>7.1} MB  {:>6.0} rows/s",
        bigram_full.as_secs_f64(),
        size("bigram_full")?,
        n as f64 / bigram_full.as_secs_f64()
    );
    println!(
        "    bigram detail=none    {:>7.1} s  {:>7.1} MB  {:>6.0} rows/s",
        bigram_none.as_secs_f64(),
        size("bigram_none")?,
        n as f64 / bigram_none.as_secs_f64()
    );
    drop(conn);

    let conn = Connection::open_with_flags(&path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    conn.execute_batch("PRAGMA cache_size = -65536;")?;
    println!("  query latency, `--limit 20`, median of {runs} (ms) [hits in the whole database]:");
    println!(
        "    {:<22} {:>14} {:>14} {:>14} {:>14}",
        "design",
        format!("{COMMON2} common"),
        format!("{RARE2} rare"),
        format!("{COMMON4} common"),
        format!("{RARE4} rare")
    );
    let words = [COMMON2, RARE2, COMMON4, RARE4];
    let mut totals = Vec::new();
    for word in words {
        let total: i64 = conn.query_row(
            "SELECT count(*) FROM articles WHERE instr(title, ?1) OR instr(content_text, ?1)",
            [word],
            |r| r.get(0),
        )?;
        totals.push(total);
    }
    for design in [
        "scan",
        "trigram+scan",
        "bigram",
        "trigram+bigram(none)",
        "newest 2000, indexes",
    ] {
        let mut cells = Vec::new();
        for word in words {
            let mut times = Vec::new();
            let mut first: Option<Vec<i64>> = None;
            for _ in 0..runs {
                let t = Instant::now();
                let ids = run_design(&conn, design, word)?;
                times.push(t.elapsed());
                first.get_or_insert(ids);
            }
            times.sort();
            let hits = first.map_or(0, |ids| ids.len());
            cells.push(format!(
                "{:.1} [{hits}]",
                times[times.len() / 2].as_secs_f64() * 1e3
            ));
        }
        println!(
            "    {design:<22} {:>14} {:>14} {:>14} {:>14}",
            cells[0], cells[1], cells[2], cells[3]
        );
    }
    println!(
        "    matching articles:     {:>14} {:>14} {:>14} {:>14}",
        totals[0], totals[1], totals[2], totals[3]
    );
    Ok(())
}

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn timed(f: impl FnOnce() -> rusqlite::Result<()>) -> rusqlite::Result<Duration> {
    let t = Instant::now();
    f()?;
    Ok(t.elapsed())
}

/// Runs `design` for `word`: the ids of the page.
fn run_design(conn: &Connection, design: &str, word: &str) -> rusqlite::Result<Vec<i64>> {
    let query = |sql: &str, arg: &str| -> rusqlite::Result<Vec<i64>> {
        conn.prepare_cached(sql)?
            .query_map(params![arg], |r| r.get(0))?
            .collect()
    };
    if design == "newest 2000, indexes" {
        // What `feedcrawler search` does (src/store/sqlite/reader.rs).
        let page = query(
            "SELECT id FROM (SELECT * FROM articles ORDER BY published_at DESC, id DESC LIMIT 2000)
             WHERE instr(lower(title), lower(?1)) OR instr(lower(content_text), lower(?1))
             ORDER BY published_at DESC, id DESC LIMIT 20",
            word,
        )?;
        if page.len() == 20 {
            return Ok(page);
        }
        let (sql, arg) = design_query("trigram+bigram(none)", word);
        return query(&sql, &arg);
    }
    let (sql, arg) = design_query(design, word);
    query(&sql, &arg)
}

/// The query each design runs for `word` (`--limit 20`, newest first) and its argument.
fn design_query(design: &str, word: &str) -> (String, String) {
    const SCAN: &str = "SELECT id FROM articles WHERE instr(title, ?1) OR instr(content_text, ?1)
                        ORDER BY published_at DESC LIMIT 20";
    let fts = |table: &str| {
        format!(
            "SELECT a.id FROM {table} f JOIN articles a ON a.id = f.rowid WHERE {table} MATCH ?1
             ORDER BY a.published_at DESC LIMIT 20"
        )
    };
    let short = word.chars().count() < 3;
    let phrase = format!("\"{word}\"");
    match (design, short) {
        ("scan", _) | ("trigram+scan", true) => (SCAN.into(), word.into()),
        ("trigram+scan" | "trigram+bigram(none)", false) => (fts("articles_fts"), phrase),
        ("bigram", _) => (fts("bigram_full"), format!("\"{}\"", bigrams(word).trim())),
        _ => (fts("bigram_none"), phrase),
    }
}

/// Whether `c` is a CJK ideograph (the characters a bigram index splits).
fn is_cjk(c: char) -> bool {
    matches!(c as u32, 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF | 0x20000..=0x3134F)
}

/// The overlapping bigrams of every run of CJK ideographs, separated by spaces (a lone
/// ideograph stands for itself); everything else becomes a separator.
fn bigrams(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 2);
    let mut prev: Option<char> = None;
    let mut run = 0;
    for c in text.chars() {
        if is_cjk(c) {
            if let Some(p) = prev {
                out.push(p);
                out.push(c);
                out.push(' ');
            }
            prev = Some(c);
            run += 1;
        } else {
            if run == 1
                && let Some(p) = prev
            {
                out.push(p);
                out.push(' ');
            }
            prev = None;
            run = 0;
        }
    }
    if run == 1
        && let Some(p) = prev
    {
        out.push(p);
    }
    out
}

/// Fills `table` with the bigrams of every article, in passes of 5,000 rows.
fn bigram_index(conn: &mut Connection, n: usize, table: &str) -> rusqlite::Result<()> {
    let insert = format!("INSERT INTO {table}(rowid, title, content_text) VALUES (?1, ?2, ?3)");
    bulk_index(conn, n, |tx, lo, hi| {
        let mut read = tx.prepare_cached(
            "SELECT id, title, coalesce(content_text, '') FROM articles WHERE id > ?1 AND id <= ?2",
        )?;
        let mut write = tx.prepare_cached(&insert)?;
        let mut rows = read.query([lo, hi])?;
        while let Some(row) = rows.next()? {
            let id: i64 = row.get(0)?;
            let title: String = row.get(1)?;
            let text: String = row.get(2)?;
            write.execute(params![id, bigrams(&title), bigrams(&text)])?;
        }
        Ok(())
    })
}

/// Runs `pass(tx, lo, hi)` over the ids in chunks of 5,000, one transaction each, as the
/// crawler's writer does.
fn bulk_index(
    conn: &mut Connection,
    n: usize,
    mut pass: impl FnMut(&rusqlite::Transaction, i64, i64) -> rusqlite::Result<()>,
) -> rusqlite::Result<()> {
    let mut lo = 0i64;
    while lo < n as i64 {
        let hi = (lo + 5_000).min(n as i64);
        let tx = conn.transaction()?;
        pass(&tx, lo, hi)?;
        tx.commit()?;
        lo = hi;
    }
    Ok(())
}

/// The sentences (split after 。！？ and line ends) of the corpus's posts, front matter,
/// tags and links removed.
fn corpus_sentences(dir: &Path) -> anyhow::Result<Vec<String>> {
    let tags = regex::Regex::new(r"<[^>]*>|&[a-z]+;|https?://\S+")?;
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d)? {
            let path = entry?.path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let text = std::fs::read_to_string(&path)?;
            let body = text.splitn(3, "---").nth(2).unwrap_or(&text);
            let body = tags.replace_all(body, "\n");
            let mut sentence = String::new();
            for c in body.chars() {
                if c == '\n' || c == '>' {
                    flush(&mut sentence, &mut out);
                    continue;
                }
                sentence.push(c);
                if matches!(c, '。' | '！' | '？') {
                    flush(&mut sentence, &mut out);
                }
            }
            flush(&mut sentence, &mut out);
        }
    }
    Ok(out)
}

fn flush(sentence: &mut String, out: &mut Vec<String>) {
    let s = sentence.trim();
    if s.chars().count() >= 8 && s.chars().any(is_cjk) {
        out.push(s.to_owned());
    }
    sentence.clear();
}

/// `n` articles of 6–24 random sentences each; ids in time order.
fn insert_articles(conn: &mut Connection, sentences: &[String], n: usize) -> rusqlite::Result<()> {
    let mut rng = fastrand::Rng::with_seed(14);
    let start = chrono::DateTime::parse_from_rfc3339("2025-01-01T00:00:00Z")
        .map(|t| t.timestamp())
        .unwrap_or(0);
    let span = 2 * 365 * 86_400_i64;
    let tx = conn.transaction()?;
    {
        let mut stmt = tx.prepare(
            "INSERT INTO articles (dedup_key, title, url, published_at, media, content_text, first_seen_at, last_seen_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?4, ?4)",
        )?;
        for i in 0..n {
            let mut text = String::new();
            for _ in 0..rng.usize(6..=24) {
                let s = &sentences[rng.usize(..sentences.len())];
                // Vary numbers so that codes and figures are not all the same.
                for c in s.chars() {
                    text.push(if c.is_ascii_digit() && rng.bool() {
                        char::from(b'0' + rng.u8(0..10))
                    } else {
                        c
                    });
                }
            }
            let insert_at = |word: &str, text: &mut String, rng: &mut fastrand::Rng| {
                let chars: Vec<(usize, char)> = text.char_indices().collect();
                let at = chars[rng.usize(..chars.len())].0;
                text.insert_str(at, word);
            };
            if i % 10_000 == 4_321 {
                insert_at(RARE2, &mut text, &mut rng);
            }
            if i % 10_000 == 7_654 {
                insert_at(RARE4, &mut text, &mut rng);
            }
            if rng.u32(0..100) < 3 {
                insert_at(COMMON4, &mut text, &mut rng);
            }
            let title: String = sentences[rng.usize(..sentences.len())].chars().take(28).collect();
            // Newest with the highest ids, give or take a few hours.
            let t = start + span * i as i64 / n as i64 + rng.i64(-7_200..7_200);
            let published = chrono::DateTime::from_timestamp(t, 0)
                .unwrap_or_default()
                .format("%Y-%m-%dT%H:%M:%SZ")
                .to_string();
            stmt.execute(params![
                format!("url:http://example.org/{i}"),
                title,
                format!("http://example.org/{i}"),
                published,
                "证券日报",
                text
            ])?;
        }
    }
    tx.commit()
}
