//! The `feedcrawler` binary: argument parsing and wiring only; the work is in the library.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand, ValueEnum};
use feedcrawler::config::{Config, LogFormat};
use feedcrawler::store::{self, Reader};

mod commands;
use commands::*;

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
    let database = &config.daemon.database;
    match command {
        Command::Check => {
            print_check(config);
            Ok(ExitCode::SUCCESS)
        }
        Command::Migrate => {
            let version = store::migrate(database)?;
            println!("{database}: schema version {version}");
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
