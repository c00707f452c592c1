//! Log lines on stderr: RFC 3339 UTC timestamps (as every time the crawler writes), and a
//! progress bar that log lines do not tear.
//!
//! The binary calls [`init`] once; a command that draws a progress bar registers it with
//! [`show_progress`] so that each log line is printed with the bar suspended (cleared,
//! line written, bar redrawn) instead of both writing over one another.

use std::io::{self, IsTerminal, Write};
use std::sync::Mutex;

use indicatif::ProgressBar;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::FormatTime;

use crate::config::LogFormat;

/// The bar on the terminal, if any: log lines suspend it while they print.
static PROGRESS: Mutex<Option<ProgressBar>> = Mutex::new(None);

/// Log timestamps as RFC 3339 in UTC with milliseconds, e.g. `2026-12-03T02:34:16.197Z`:
/// the form the database, `sources` and the metrics use, so a log line can be matched
/// against them by eye or by `grep`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Rfc3339Utc;

impl FormatTime for Rfc3339Utc {
    fn format_time(&self, w: &mut Writer<'_>) -> std::fmt::Result {
        write!(w, "{}", chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.3fZ"))
    }
}

/// Starts logging to stderr at `RUST_LOG` (default `info`) in the given format.
pub fn init(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_timer(Rfc3339Utc)
        .with_writer(Stderr);
    match format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.with_ansi(io::stderr().is_terminal()).init(),
    }
}

/// Registers the progress bar now drawn on stderr (None when it is finished): log lines
/// printed meanwhile suspend it.
pub fn show_progress(bar: Option<&ProgressBar>) {
    // A poisoned lock only means a log line panicked; the slot itself is still sound.
    let mut slot = PROGRESS.lock().unwrap_or_else(|e| e.into_inner());
    *slot = bar.filter(|b| !b.is_hidden()).cloned();
}

/// Standard error, with the registered progress bar suspended while a log line is written.
#[derive(Clone, Copy, Debug)]
struct Stderr;

impl<'a> MakeWriter<'a> for Stderr {
    type Writer = Stderr;
    fn make_writer(&'a self) -> Stderr {
        Stderr
    }
}

impl Write for Stderr {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        // The fmt layer formats an event into one buffer and writes it at once, so one
        // call here is one whole line.
        let bar = PROGRESS.lock().unwrap_or_else(|e| e.into_inner()).clone();
        match bar {
            Some(bar) => bar.suspend(|| io::stderr().lock().write_all(buf))?,
            None => io::stderr().lock().write_all(buf)?,
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        io::stderr().flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_rfc3339_utc_with_milliseconds() {
        let mut text = String::new();
        Rfc3339Utc
            .format_time(&mut Writer::new(&mut text))
            .expect("formatting into a String cannot fail");
        let parsed = chrono::DateTime::parse_from_rfc3339(&text).expect("RFC 3339");
        assert_eq!(parsed.offset().local_minus_utc(), 0);
        assert_eq!(text.len(), "2026-12-03T02:34:16.197Z".len(), "{text}");
        assert!(text.ends_with('Z'), "{text}");
    }
}
