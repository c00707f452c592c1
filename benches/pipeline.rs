//! The no-network limit: the bytes of a benchmark farm (`bench/farm.py gen`) parsed,
//! normalized and stored in a tight in-process loop — no HTTP, no scheduler — so the crawl's
//! figures (`bench/run.py`) can be read against what the machine can do at most.
//!
//! ```sh
//! python3 bench/farm.py gen --sources 2000 --items 20 --out /tmp/fcbench/farm-2000x20
//! FARM_DIR=/tmp/fcbench/farm-2000x20 cargo bench --bench pipeline
//! ```
//!
//! Three stages, each over every file of the farm, `BENCH_ROUNDS` times (default 3):
//!
//! 1. parse: `sources::feed::parse` / `sources::json::parse_list`, as `crawl::read_items` does;
//! 2. parse + normalize: and `normalize::normalize` of every entry;
//! 3. parse + normalize + store: and one `Store::commit` per file, as a poll commits its
//!    `FetchBatch` (with as many batches in flight as `once` keeps polls, so the writer
//!    groups them), into a fresh database; timed until `drop(store)` returns, i.e. until
//!    the search index is complete too.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use feedcrawler::config::{Config, SourceConfig, SourceKind};
use feedcrawler::crawl::source_specs;
use feedcrawler::fetch::{Attempt, Validators};
use feedcrawler::normalize::{self, Article, SourceContext};
use feedcrawler::sources::{Entry, feed, json};
use feedcrawler::store::{CommitReport, FetchBatch, SourceOutcome, Store};
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;

/// One feed file of the farm, as the server would deliver it.
struct Input {
    /// Index into `config.sources`.
    source: usize,
    /// The body.
    bytes: Vec<u8>,
    /// The `Content-Type` the farm's nginx sends.
    content_type: &'static str,
}

/// What a stage processed.
#[derive(Clone, Copy, Default)]
struct Tally {
    entries: usize,
    articles: usize,
    failed_files: usize,
}

fn main() -> anyhow::Result<()> {
    let Some(farm) = std::env::var_os("FARM_DIR").map(PathBuf::from) else {
        println!(
            "pipeline bench: set FARM_DIR to a farm made by `python3 bench/farm.py gen --sources 2000 \
             --items 20 --out /tmp/fcbench/farm-2000x20` (bench/run.py makes one too), e.g.\n  \
             FARM_DIR=/tmp/fcbench/farm-2000x20 cargo bench --bench pipeline\nnothing to do."
        );
        return Ok(());
    };
    let rounds: usize = std::env::var("BENCH_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(3)
        .max(1);
    let config = Config::load(&farm.join("feedcrawler.toml"))?;
    let expected = expected_unique(&farm);
    let inputs = read_inputs(&config, &farm)?;
    let bytes: usize = inputs.iter().map(|i| i.bytes.len()).sum();
    let depth = feedcrawler::crawl::polls_in_flight(&config);
    println!(
        "pipeline: {} — {} files, {:.1} MB; {rounds} rounds; store with {depth} batches in flight",
        farm.display(),
        inputs.len(),
        bytes as f64 / 1e6
    );

    let now = Utc::now();
    let mut parse_times = Vec::new();
    let mut normalize_times = Vec::new();
    let mut store_times = Vec::new();
    let mut commit_times = Vec::new();
    let (mut parsed, mut normalized, mut stored) = (Tally::default(), Tally::default(), Tally::default());
    let mut last_commit = CommitReport::default();
    let mut in_db = (0, 0, 0);
    for _ in 0..rounds {
        let t = Instant::now();
        parsed = parse_all(&config, &inputs, now, false);
        parse_times.push(t.elapsed());

        let t = Instant::now();
        normalized = parse_all(&config, &inputs, now, true);
        normalize_times.push(t.elapsed());

        let dir = tempfile::tempdir()?;
        let db = dir.path().join("bench.db");
        let (tally, report, commits_done, total) = store_all(&config, &inputs, &db, now, depth)?;
        stored = tally;
        last_commit = report;
        commit_times.push(commits_done);
        store_times.push(total);
        in_db = db_check(&db)?;
    }

    let files = inputs.len();
    let row = |stage: &str, times: &[Duration], articles: usize| {
        let secs = fastest(times).as_secs_f64();
        println!(
            "| {stage} | {files} | {articles} | {secs:.3} | {:.3} | {:.0} | {:.0} | {:.1} |",
            median(times).as_secs_f64(),
            files as f64 / secs,
            articles as f64 / secs,
            bytes as f64 / 1e6 / secs
        );
    };
    println!();
    println!("| stage | files | articles | best s | median s | files/s | articles/s | MB/s |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    row("parse", &parse_times, parsed.entries);
    row("parse + normalize", &normalize_times, normalized.articles);
    row(
        "parse + normalize + store (commits answered)",
        &commit_times,
        stored.articles,
    );
    row(
        "parse + normalize + store (index complete)",
        &store_times,
        stored.articles,
    );
    println!();
    println!(
        "store, last round: {} new, {} updated, {} unchanged copies; articles in the database {} \
         (expected unique {}); search index up to id {} of {}",
        last_commit.new_articles,
        last_commit.updated_articles,
        last_commit.unchanged_articles,
        in_db.0,
        expected.map_or_else(|| "unknown".to_owned(), |e| e.to_string()),
        in_db.1,
        in_db.2
    );
    if parsed.failed_files + normalized.failed_files + stored.failed_files > 0 {
        println!(
            "WARNING: files that failed to parse: {} (parse), {} (normalize), {} (store)",
            parsed.failed_files, normalized.failed_files, stored.failed_files
        );
    }
    if expected.is_some_and(|e| e != in_db.0) {
        println!("WARNING: the database does not hold the expected number of unique articles");
    }
    Ok(())
}

/// `unique_articles` from the farm's manifest.
fn expected_unique(farm: &Path) -> Option<i64> {
    let text = std::fs::read_to_string(farm.join("manifest.json")).ok()?;
    let manifest: serde_json::Value = serde_json::from_str(&text).ok()?;
    manifest.get("unique_articles")?.as_i64()
}

/// Every enabled source's file, read once (not timed): the URL's path under the farm.
fn read_inputs(config: &Config, farm: &Path) -> anyhow::Result<Vec<Input>> {
    let mut inputs = Vec::new();
    for (index, source) in config.sources.iter().enumerate() {
        let Some(url) = source.url.as_ref().filter(|_| source.enabled) else {
            continue;
        };
        let path = farm.join(url.path().trim_start_matches('/'));
        let bytes = std::fs::read(&path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        // What nginx sends for the file (bench/farm.py serve): no charset parameter.
        let content_type = match path.extension().and_then(|e| e.to_str()) {
            Some("json") => "application/json",
            Some("atom") => "application/atom+xml",
            _ => "application/rss+xml",
        };
        inputs.push(Input {
            source: index,
            bytes,
            content_type,
        });
    }
    anyhow::ensure!(!inputs.is_empty(), "no enabled sources in {}", farm.display());
    Ok(inputs)
}

/// A file's entries, by source type (as `crawl::read_items` reads a body).
fn parse(config: &Config, source: &SourceConfig, input: &Input, now: DateTime<Utc>) -> Option<Vec<Entry>> {
    let tz = config.source_timezone(source);
    let url = source.url.as_ref()?;
    match (source.kind, &source.json) {
        (SourceKind::Json, Some(list)) => {
            json::parse_list(&input.bytes, Some(input.content_type), list, url, tz, now)
                .ok()
                .map(|l| l.entries)
        }
        _ => feed::parse(&input.bytes, Some(input.content_type), url.as_str(), tz, now)
            .ok()
            .map(|r| r.entries),
    }
}

/// A file's normalized articles.
fn normalize_entries(config: &Config, source: &SourceConfig, entries: Vec<Entry>) -> Vec<Article> {
    let context = SourceContext {
        name: &source.name,
        category: source.category.as_deref(),
        tags: &source.tags,
        dedup: &config.dedup,
    };
    entries
        .into_iter()
        .filter_map(|entry| normalize::normalize(entry, &context))
        .collect()
}

/// Stages 1 and 2: every file parsed (and normalized).
fn parse_all(config: &Config, inputs: &[Input], now: DateTime<Utc>, normalize: bool) -> Tally {
    let mut tally = Tally::default();
    for input in inputs {
        let source = &config.sources[input.source];
        let Some(entries) = parse(config, source, input, now) else {
            tally.failed_files += 1;
            continue;
        };
        tally.entries += entries.len();
        if normalize {
            let articles = normalize_entries(config, source, entries);
            tally.articles += articles.len();
            std::hint::black_box(articles);
        } else {
            std::hint::black_box(entries);
        }
    }
    tally
}

/// Stage 3: parse, normalize and commit every file into a fresh database at `db`. Returns
/// what was processed, the summed commit reports, the time until the last commit was
/// answered and the time until `drop(store)` returned (index complete).
fn store_all(
    config: &Config,
    inputs: &[Input],
    db: &Path,
    now: DateTime<Utc>,
    depth: usize,
) -> anyhow::Result<(Tally, CommitReport, Duration, Duration)> {
    let runtime = tokio::runtime::Builder::new_current_thread().build()?;
    let store = runtime.block_on(Store::open(&feedcrawler::config::Database::Sqlite(db.to_owned())))?;
    let ids: Vec<i64> = runtime
        .block_on(store.sync_sources(source_specs(config)))?
        .into_iter()
        .map(|s| s.id)
        .collect();

    let start = Instant::now();
    let store_ref = &store;
    let (tally, report) = runtime.block_on(async move {
        let mut tally = Tally::default();
        let mut report = CommitReport::default();
        let mut add = |r: CommitReport| {
            report.new_articles += r.new_articles;
            report.updated_articles += r.updated_articles;
            report.unchanged_articles += r.unchanged_articles;
        };
        let mut in_flight = FuturesUnordered::new();
        for input in inputs {
            let source = &config.sources[input.source];
            let Some(entries) = parse(config, source, input, now) else {
                tally.failed_files += 1;
                continue;
            };
            tally.entries += entries.len();
            let articles = normalize_entries(config, source, entries);
            tally.articles += articles.len();
            in_flight.push(store_ref.commit(batch(ids[input.source], input, source, articles)));
            while in_flight.len() >= depth {
                if let Some(r) = in_flight.next().await {
                    add(r?);
                }
            }
        }
        while let Some(r) = in_flight.next().await {
            add(r?);
        }
        anyhow::Ok((tally, report))
    })?;
    let commits_done = start.elapsed();
    drop(store);
    Ok((tally, report, commits_done, start.elapsed()))
}

/// The batch a successful poll of `source` commits: one 200 request, its articles, new
/// validators and the next poll time.
fn batch(source_id: i64, input: &Input, source: &SourceConfig, articles: Vec<Article>) -> FetchBatch {
    let polled_at = Utc::now();
    FetchBatch {
        source_id: Some(source_id),
        attempts: vec![Attempt {
            url: source.url.as_ref().map(ToString::to_string).unwrap_or_default(),
            started_at: polled_at,
            duration: Duration::ZERO,
            status: Some(200),
            bytes: input.bytes.len() as u64,
            not_modified: false,
            error: None,
            entries_skipped: 0,
            skip_reason: None,
        }],
        articles,
        outcome: Some(SourceOutcome::Fetched {
            status: 200,
            validators: Validators {
                etag: Some(format!("\"bench-{source_id:x}-{:x}\"", input.bytes.len())),
                last_modified: Some("Fri, 01 Mar 2024 07:00:00 GMT".to_owned()),
            },
        }),
        queue_links: Vec::new(),
        share_links: Vec::new(),
        page_jobs: Vec::new(),
        page_job_updates: Vec::new(),
        validators: None,
        polled_at,
        next_poll_at: Some(polled_at + chrono::Duration::minutes(15)),
        moved_to: None,
        poll_interval: None,
    }
}

/// Articles in the database, the search index's `indexed_upto` and the highest article id.
fn db_check(db: &Path) -> anyhow::Result<(i64, i64, i64)> {
    let conn = rusqlite::Connection::open(db)?;
    let articles = conn.query_row("SELECT count(*) FROM articles", [], |r| r.get(0))?;
    let indexed = conn.query_row("SELECT indexed_upto FROM fts_progress", [], |r| r.get(0))?;
    let max_id = conn.query_row("SELECT coalesce(max(id), 0) FROM articles", [], |r| r.get(0))?;
    Ok((articles, indexed, max_id))
}

fn fastest(times: &[Duration]) -> Duration {
    times.iter().copied().min().unwrap_or_default()
}

fn median(times: &[Duration]) -> Duration {
    let mut sorted = times.to_vec();
    sorted.sort();
    sorted.get(sorted.len() / 2).copied().unwrap_or_default()
}
