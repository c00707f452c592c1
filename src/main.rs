//! The `feedcrawler` binary: argument parsing and wiring only; the work is in the library.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::{CommandFactory, Parser, Subcommand, ValueEnum};
use feedcrawler::config::{Config, LogFormat};
use feedcrawler::store::{self, Reader, Store};
use indicatif::{ProgressBar, ProgressStyle};

/// Keeps a SQLite database of financial news up to date from RSS/Atom/JSON feeds.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    /// The TOML config file.
    #[arg(
        long,
        global = true,
        env = "FEEDCRAWLER_CONFIG",
        default_value = "/etc/feedcrawler/feedcrawler.toml"
    )]
    config: PathBuf,
    /// Log line format on stderr (overrides `[daemon] log_format`).
    #[arg(long, global = true, value_enum)]
    log_format: Option<LogFormatArg>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormatArg {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// The daemon: poll every enabled source on its schedule until SIGTERM/SIGINT
    /// (graceful); SIGHUP reloads the config.
    Run,
    /// Queue share links; the running daemon picks them up.
    AddLink {
        /// Article share links, e.g. http://…/NewsShare.html?infoCode=NW202204192348095567
        #[arg(required = true)]
        urls: Vec<String>,
    },
    /// Poll every enabled source once, wait for all of it, print a one-line summary, then
    /// exit (1 if a source, an article page or a share link failed; skipped links do not count).
    Once,
    /// Validate the config and print the resolved sources (exit 2 on any error).
    Check,
    /// Apply database migrations and exit.
    Migrate,
    /// One line per source: health, last status, last and next poll, counts.
    Sources,
    /// Search titles and texts, newest first: the text is a literal phrase (any two or more
    /// Chinese characters, a Latin word, a stock code); one hit a line with a snippet.
    Search {
        /// What to find, e.g. 股市, 工业经济, Tesla, 300750 (quotes, AND, * are just characters).
        query: String,
        /// At most this many results.
        #[arg(long, default_value_t = 20)]
        limit: usize,
        /// Only articles published on or after this date (YYYY-MM-DD in the config's
        /// timezone, or an RFC 3339 time).
        #[arg(long)]
        since: Option<String>,
        /// Only articles seen by this source (its `name` in the config).
        #[arg(long)]
        source: Option<String>,
        /// One JSON object per hit (id, title, published_at, url, media, snippet).
        #[arg(long)]
        json: bool,
        /// Read QUERY as FTS5 query syntax over the trigram index (AND, OR, NOT, "phrases";
        /// terms of 3+ characters).
        #[arg(long)]
        fts: bool,
    },
    /// Write articles as Jekyll posts or JSON Lines, or the feed sources as OPML.
    Export {
        /// jekyll: one post per article in DIR; jsonl: one JSON object per line; opml: the
        /// enabled feed sources.
        #[arg(long, value_enum)]
        format: ExportFormat,
        /// A folder (jekyll) or a file; `-` is standard output (jsonl, opml).
        #[arg(long)]
        out: PathBuf,
        /// Only articles published since: YYYY-MM-DD (in [daemon] timezone) or RFC 3339.
        #[arg(long)]
        since: Option<String>,
        /// Only articles this source saw.
        #[arg(long)]
        source: Option<String>,
    },
    /// Notifications of new articles ([[notify]]).
    Notify {
        #[command(subcommand)]
        command: NotifyCommand,
    },
    /// Apply [retention] now: delete old fetches, revisions beyond the cap and (if set)
    /// unseen articles, one row count per table (the daemon also does it daily).
    Prune {
        /// Print what would be deleted, per table, and change nothing.
        #[arg(long, conflicts_with = "vacuum")]
        dry_run: bool,
        /// Then rewrite the file without its free space (VACUUM); the daemon must be stopped.
        #[arg(long)]
        vacuum: bool,
    },
    /// Print a [[source]] block for every feed of an OPML file (append them to the config).
    ImportOpml {
        /// The OPML file (from a feed reader's export).
        file: PathBuf,
    },
    /// Print a shell completion script, e.g. `feedcrawler completions bash >
    /// /etc/bash_completion.d/feedcrawler`.
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff), e.g. `feedcrawler man > /usr/share/man/man1/feedcrawler.1`.
    Man,
}

#[derive(Subcommand)]
enum NotifyCommand {
    /// One line per [[notify]]: pending, delivered and failed notifications, last error.
    Status,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ExportFormat {
    Jekyll,
    Jsonl,
    Opml,
}

fn main() -> ExitCode {
    feedcrawler::cpu::limit_malloc_arenas();
    let cli = Cli::parse();
    // Turning an OPML file into config blocks needs no config: a new user has none yet.
    if let Command::ImportOpml { file } = &cli.command {
        return import_opml(file);
    }
    // Nor do the completion script and the man page: they come from the CLI definition.
    match &cli.command {
        Command::Completions { shell } => {
            clap_complete::generate(*shell, &mut Cli::command(), "feedcrawler", &mut std::io::stdout());
            return ExitCode::SUCCESS;
        }
        Command::Man => return print_man(),
        _ => {}
    }
    let config = match Config::load(&cli.config) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("feedcrawler: {e}");
            return ExitCode::from(2);
        }
    };
    let format = match cli.log_format {
        Some(LogFormatArg::Json) => LogFormat::Json,
        Some(LogFormatArg::Text) => LogFormat::Text,
        None => config.daemon.log_format,
    };
    feedcrawler::logging::init(format);
    for warning in &config.warnings {
        tracing::warn!("{warning}");
    }
    match run(cli.command, &config) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("feedcrawler: {e:#}");
            ExitCode::from(1)
        }
    }
}

/// The man page (section 1) from the CLI definition: options and every subcommand.
fn print_man() -> ExitCode {
    use std::io::Write;
    let mut out = Vec::new();
    let rendered = clap_mangen::Man::new(Cli::command())
        .render(&mut out)
        .and_then(|()| std::io::stdout().write_all(&out));
    match rendered {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("feedcrawler: cannot write the man page: {e}");
            ExitCode::from(1)
        }
    }
}

fn run(command: Command, config: &Config) -> anyhow::Result<ExitCode> {
    let database = config.daemon.database.as_path();
    match command {
        Command::Check => {
            print_check(config);
            Ok(ExitCode::SUCCESS)
        }
        Command::Migrate => {
            let version = store::migrate(database)?;
            println!("{}: schema version {version}", database.display());
            Ok(ExitCode::SUCCESS)
        }
        Command::Once => once(config, database),
        Command::Run => run_daemon(config, database),
        Command::AddLink { urls } => {
            let mut links = Vec::with_capacity(urls.len());
            for raw in urls {
                // A malformed argument is a usage error (exit 2), and nothing is queued.
                let url = match url::Url::parse(raw.trim()) {
                    Ok(url) if matches!(url.scheme(), "http" | "https") => url,
                    Ok(url) => {
                        eprintln!(
                            "feedcrawler: add-link {raw}: scheme `{}:` is not fetched; give an http or https URL",
                            url.scheme()
                        );
                        return Ok(ExitCode::from(2));
                    }
                    Err(e) => {
                        eprintln!("feedcrawler: add-link {raw}: not a URL ({e}); give an http or https URL");
                        return Ok(ExitCode::from(2));
                    }
                };
                let info_code =
                    feedcrawler::dedup::info_code_in(&config.dedup, url.as_str()).map(|m| m.info_code);
                // Queued all the same (a later config may allow it), but the operator hears why
                // it would be skipped now.
                if let Some(reason) = feedcrawler::share::add_link_warning(config, &url, info_code.as_deref())
                {
                    eprintln!("feedcrawler: warning: {url} will not be fetched: {reason}");
                }
                links.push((url.to_string(), info_code));
            }
            let added = store::add_share_links(database, &links)?;
            println!(
                "{added} of {} links queued ({} already known)",
                links.len(),
                links.len() - added
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Sources => {
            print_sources(&Reader::open(database)?)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Search {
            query,
            limit,
            since,
            source,
            json,
            fts,
        } => search(config, database, query, limit, since, source, json, fts),
        Command::Export {
            format,
            out,
            since,
            source,
        } => export(config, format, &out, since.as_deref(), source.as_deref()),
        Command::ImportOpml { file } => Ok(import_opml(&file)),
        Command::Notify {
            command: NotifyCommand::Status,
        } => {
            print!(
                "{}",
                feedcrawler::notify::status_table(config, &Reader::open(database)?)?
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Prune { dry_run, vacuum } => prune(config, database, dry_run, vacuum),
        Command::Completions { .. } | Command::Man => Ok(ExitCode::SUCCESS),
    }
}

#[allow(clippy::too_many_arguments)] // the command's flags, passed on as they came
fn search(
    config: &Config,
    database: &Path,
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

fn prune(config: &Config, database: &Path, dry_run: bool, vacuum: bool) -> anyhow::Result<ExitCode> {
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
            database.display()
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
    let store = Store::open(database)?;
    let report = runtime.block_on(retention::prune(&store, &config.retention, None))?;
    // The writer finishes (and indexes what it owes) before the summary is printed.
    store.close();
    for (table, rows) in report.counts.by_table() {
        println!("{table}\t{rows}");
    }
    let space = match report.space {
        SpaceReport::Returned { bytes } => format!("{:.1} MiB given back to the file system", mib(bytes)),
        SpaceReport::Reusable { .. } if vacuum => {
            let size = |p: &Path| std::fs::metadata(p).map_or(0, |m| m.len());
            let before = size(database);
            store::vacuum(database)?;
            format!("VACUUM: {:.1} MiB → {:.1} MiB", mib(before), mib(size(database)))
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
        database.display()
    );
    Ok(ExitCode::SUCCESS)
}

fn export(
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

fn import_opml(file: &Path) -> ExitCode {
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

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

fn run_daemon(config: &Config, database: &Path) -> anyhow::Result<ExitCode> {
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
    let store = Arc::new(Store::open(database)?);
    runtime.block_on(async {
        feedcrawler::daemon::run(config.path.clone(), config.clone(), store, control).await?;
        anyhow::Ok(())
    })?;
    // Dropping the runtime ends the remaining helper tasks; the store's writer has
    // committed everything queued once its last handle is gone.
    drop(runtime);
    Ok(ExitCode::SUCCESS)
}

fn once(config: &Config, database: &Path) -> anyhow::Result<ExitCode> {
    let runtime = runtime()?;
    let store = Arc::new(Store::open(database)?);
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

fn print_check(config: &Config) {
    println!("config {}: ok", config.path.display());
    println!("database {}", config.daemon.database.display());
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

fn print_sources(reader: &Reader) -> anyhow::Result<()> {
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
