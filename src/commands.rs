//! The binary's command handlers: each turns one parsed subcommand into calls of the
//! library and prints what the user asked for. `main.rs` only parses arguments and picks
//! the handler.

use std::io::IsTerminal;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use feedcrawler::config::{Config, Database};
use feedcrawler::store::{self, Reader, Store};
use indicatif::{ProgressBar, ProgressStyle};

use super::ExportFormat;

#[allow(clippy::too_many_arguments)] // the command's flags, passed on as they came
pub(crate) fn search(
    config: &Config,
    database: &Database,
    query: String,
    limit: usize,
    since: Option<String>,
    source: Option<String>,
    json: bool,
    fts: bool,
) -> anyhow::Result<ExitCode> {
    use feedcrawler::search::{SearchError, SearchRequest};
    let hits = (|| -> Result<_, SearchError> {
        let since = since
            .map(|s| feedcrawler::search::parse_since(&s, config.daemon.timezone))
            .transpose()?;
        let request = SearchRequest {
            query,
            fts,
            limit,
            since,
            source,
        };
        Reader::open(database)?.search(&request)
    })();
    let hits = match hits {
        Ok(hits) => hits,
        Err(e) if e.is_usage() => {
            eprintln!("feedcrawler: {e}");
            return Ok(ExitCode::from(2));
        }
        Err(e) => return Err(e.into()),
    };
    let mut out = std::io::stdout().lock();
    for hit in &hits {
        use std::io::Write;
        if json {
            writeln!(out, "{}", serde_json::to_string(hit)?)?;
        } else {
            writeln!(
                out,
                "{}\t{}\t{}\t{}",
                hit.published_at.as_deref().unwrap_or("-"),
                hit.title,
                hit.url.as_deref().unwrap_or("-"),
                hit.snippet
            )?;
        }
    }
    if hits.is_empty() && !json {
        eprintln!("feedcrawler: no article matches");
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn prune(
    config: &Config,
    database: &Database,
    dry_run: bool,
    vacuum: bool,
) -> anyhow::Result<ExitCode> {
    use feedcrawler::retention;
    use feedcrawler::store::SpaceReport;
    let mib = |bytes: u64| bytes as f64 / (1024.0 * 1024.0);
    if dry_run {
        let counts = retention::dry_run(database, &config.retention)?;
        for (table, rows) in counts.by_table() {
            println!("{table}\t{rows}");
        }
        eprintln!(
            "feedcrawler: dry run: {} rows would be deleted from {}; nothing was changed",
            counts.total(),
            database
        );
        return Ok(ExitCode::SUCCESS);
    }
    // VACUUM rewrites the whole file and blocks every writer meanwhile: not beside a daemon.
    let _claim = if vacuum {
        match store::DaemonLock::acquire(database) {
            Ok(claim) => Some(claim),
            Err(e @ store::StoreError::InUse { .. }) => {
                eprintln!("feedcrawler: {e} (prune --vacuum needs the daemon stopped; prune alone does not)");
                return Ok(ExitCode::from(2));
            }
            Err(e) => return Err(e.into()),
        }
    } else {
        None
    };
    let runtime = runtime()?;
    let store = runtime.block_on(Store::open(database))?;
    let report = runtime.block_on(retention::prune(&store, &config.retention, None))?;
    // The writer finishes (and indexes what it owes) before the summary is printed.
    store.close();
    for (table, rows) in report.counts.by_table() {
        println!("{table}\t{rows}");
    }
    let space = match report.space {
        SpaceReport::Returned { bytes } => format!("{:.1} MiB given back to the file system", mib(bytes)),
        SpaceReport::Reusable { .. } if vacuum => {
            let size = || {
                database
                    .sqlite_path()
                    .and_then(|p| std::fs::metadata(p).ok())
                    .map_or(0, |m| m.len())
            };
            let before = size();
            store::vacuum(database)?;
            format!("VACUUM: {:.1} MiB → {:.1} MiB", mib(before), mib(size()))
        }
        SpaceReport::Reusable { bytes } => format!(
            "{:.1} MiB free inside the file, reused by new rows; to shrink the file, stop the \
             daemon and run prune --vacuum",
            mib(bytes)
        ),
    };
    eprintln!(
        "feedcrawler: pruned {} rows from {}; {space}",
        report.counts.total(),
        database
    );
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn export(
    config: &Config,
    format: ExportFormat,
    out: &Path,
    since: Option<&str>,
    source: Option<&str>,
) -> anyhow::Result<ExitCode> {
    use feedcrawler::export::{self, ExportError, Output};
    let result = (|| -> Result<String, ExportError> {
        if format == ExportFormat::Opml {
            if since.is_some() || source.is_some() {
                return Err(ExportError::Usage(
                    "--since and --source select articles; --format opml exports sources".into(),
                ));
            }
            let n = export::opml::export(config, &Output::parse(out))?;
            return Ok(format!("{n} feed sources"));
        }
        let reader = Reader::open(&config.daemon.database)?;
        let filter = export::filter(&reader, since, source, config.daemon.timezone)?;
        let progress = if std::io::stderr().is_terminal() {
            let bar = ProgressBar::new(reader.count_articles(&filter)?);
            bar.set_style(
                ProgressStyle::with_template("{bar:40} {pos}/{len} articles [{elapsed}]")
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            bar
        } else {
            ProgressBar::hidden()
        };
        feedcrawler::logging::show_progress(Some(&progress));
        let summary = if format == ExportFormat::Jekyll {
            if out == Path::new("-") {
                return Err(ExportError::Usage(
                    "--format jekyll writes one file per article: --out must be a folder, not -".into(),
                ));
            }
            let r = export::jekyll::export(
                &reader,
                &filter,
                &config.export.jekyll,
                &config.path,
                config.daemon.timezone,
                out,
                &progress,
            )?;
            format!("{} posts written, {} unchanged", r.written, r.unchanged)
        } else {
            let n = export::jsonl::export(&reader, &filter, &Output::parse(out), &progress)?;
            format!("{n} articles")
        };
        feedcrawler::logging::show_progress(None);
        progress.finish_and_clear();
        Ok(summary)
    })();
    match result {
        Ok(summary) => {
            // stdout may be the export itself (`--out -`): the summary goes to stderr.
            eprintln!("feedcrawler: exported {summary} to {}", out.display());
            Ok(ExitCode::SUCCESS)
        }
        // Printed here, not through anyhow's `{:#}`: these messages already carry their cause.
        Err(e) => {
            eprintln!("feedcrawler: {e}");
            Ok(ExitCode::from(if e.is_usage() { 2 } else { 1 }))
        }
    }
}

pub(crate) fn import_opml(file: &Path) -> ExitCode {
    use feedcrawler::export::opml;
    match opml::read_file(file) {
        Ok(feeds) => {
            print!("{}", opml::to_toml(&feeds));
            eprintln!("feedcrawler: {} feeds in {}", feeds.len(), file.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("feedcrawler: {e}");
            ExitCode::from(1)
        }
    }
}

pub(crate) fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

pub(crate) fn run_daemon(config: &Config, database: &Database) -> anyhow::Result<ExitCode> {
    let runtime = runtime()?;
    // Signals first: a SIGTERM that arrives while the database is claimed and migrated is
    // a graceful stop as soon as the daemon runs, not the default death by signal.
    let control = {
        let _context = runtime.enter();
        feedcrawler::service::signals().context("cannot install signal handlers")?
    };
    // One daemon per database; held until the process ends.
    let _claim = match store::DaemonLock::acquire(database) {
        Ok(claim) => claim,
        Err(e @ store::StoreError::InUse { .. }) => {
            eprintln!("feedcrawler: {e}");
            return Ok(ExitCode::from(2));
        }
        Err(e) => return Err(e.into()),
    };
    let store = Arc::new(runtime.block_on(Store::open(database))?);
    runtime.block_on(async {
        feedcrawler::daemon::run(config.path.clone(), config.clone(), store, control).await?;
        anyhow::Ok(())
    })?;
    // Dropping the runtime ends the remaining helper tasks; the store's writer has
    // committed everything queued once its last handle is gone.
    drop(runtime);
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn once(config: &Config, database: &Database) -> anyhow::Result<ExitCode> {
    let runtime = runtime()?;
    let store = Arc::new(runtime.block_on(Store::open(database))?);
    let progress = if std::io::stderr().is_terminal() {
        let bar = ProgressBar::new(0);
        bar.set_style(
            ProgressStyle::with_template("{bar:40} {pos}/{len} sources {msg} [{elapsed}]")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar
    } else {
        ProgressBar::hidden()
    };
    // The queues before the run: the summary counts the pages and share links this run
    // finished or gave up.
    let before = Reader::open(database)?.queue_counts()?;
    feedcrawler::logging::show_progress(Some(&progress));
    let report = runtime.block_on(feedcrawler::once(config, Arc::clone(&store), &progress));
    feedcrawler::logging::show_progress(None);
    progress.finish_and_clear();
    let report = report?;
    drop(store);
    let after = Reader::open(database)?.queue_counts()?;
    let summary = feedcrawler::summary::OnceSummary::new(&report, before, after);
    tracing::info!(
        sources = report.polled,
        not_modified = report.not_modified,
        failed = report.failed.len(),
        new_articles = report.new_articles,
        updated_articles = report.updated_articles,
        "once finished"
    );
    for (source, error) in &report.failed {
        eprintln!("feedcrawler: source {source}: {error}");
    }
    println!("{summary}");
    if summary.failed() {
        if summary.pages_failed + summary.share_failed > 0 {
            eprintln!(
                "feedcrawler: {} article pages and {} share links failed; see `last_error` in the \
                 page_jobs and share_links tables",
                summary.pages_failed, summary.share_failed
            );
        }
        Ok(ExitCode::from(1))
    } else {
        Ok(ExitCode::SUCCESS)
    }
}

pub(crate) fn print_check(config: &Config) {
    println!("config {}: ok", config.path.display());
    println!("database {}", config.daemon.database);
    println!("timezone {}", config.daemon.timezone);
    let keep = |d: Option<std::time::Duration>| {
        d.map_or("for ever".to_owned(), |d| {
            humantime::format_duration(d).to_string()
        })
    };
    println!(
        "retention fetches {}, revisions {}, articles {}",
        keep(config.retention.fetches),
        config.retention.revisions,
        keep(config.retention.articles)
    );
    for source in &config.sources {
        println!(
            "{}\t{}\t{}\tevery {}\t{}",
            source.name,
            source.kind.as_str(),
            source
                .url
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_else(|| format!("{} links", source.urls.len())),
            humantime::format_duration(config.source_interval(source)),
            if source.enabled { "enabled" } else { "disabled" }
        );
        for (what, patterns) in [
            ("include", &source.filters.include),
            ("exclude", &source.filters.exclude),
        ] {
            if !patterns.is_empty() {
                let patterns: Vec<String> = patterns.iter().map(|re| format!("{:?}", re.as_str())).collect();
                println!("  {what} (title, summary, media): {}", patterns.join(", "));
            }
        }
    }
    for notify in &config.notify {
        let target = match &notify.target {
            feedcrawler::config::NotifyTarget::Exec(argv) => format!("exec\t{}", argv.join(" ")),
            feedcrawler::config::NotifyTarget::Webhook { url, .. } => format!("webhook\t{url}"),
        };
        println!("notify {}\t{target}", notify.name);
    }
}

pub(crate) fn print_sources(reader: &Reader) -> anyhow::Result<()> {
    println!("NAME\tTYPE\tHEALTH\tSTATUS\tLAST POLL\tLAST SUCCESS\tNEXT POLL\tFOUND\tSEEN\tERROR");
    for s in reader.sources()? {
        let health = if !s.enabled {
            "disabled"
        } else if s.consecutive_failures > 0 {
            "failing"
        } else if s.last_polled_at.is_none() {
            "new"
        } else {
            "ok"
        };
        // A running daemon records every source's first poll time; a source it has not
        // scheduled yet is polled when the daemon (or `once`) starts.
        let next_poll = match (&s.next_poll_at, s.enabled) {
            (Some(at), _) => at.as_str(),
            (None, true) => "at daemon start",
            (None, false) => "-",
        };
        println!(
            "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
            s.name,
            s.kind,
            health,
            s.last_status.map_or_else(|| "-".to_owned(), |v| v.to_string()),
            s.last_polled_at.as_deref().unwrap_or("-"),
            s.last_success_at.as_deref().unwrap_or("-"),
            next_poll,
            s.articles_found,
            s.sightings,
            s.last_error.as_deref().unwrap_or("")
        );
    }
    Ok(())
}
