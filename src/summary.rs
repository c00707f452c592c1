//! The one-line summary `feedcrawler once` prints, and whether the run failed.

use std::fmt;

use crate::crawl::OnceReport;
use crate::store::QueueCounts;

/// What one `once` run did: its [`OnceReport`] and how the work queues changed during it.
#[derive(Clone, Debug)]
pub struct OnceSummary {
    /// Sources polled without error (304s included).
    pub sources_ok: usize,
    /// Sources whose poll failed.
    pub sources_failed: usize,
    /// Articles stored for the first time.
    pub new_articles: usize,
    /// Existing articles enriched or corrected.
    pub updated_articles: usize,
    /// Second requests (article pages, detail bodies) done during the run.
    pub pages_done: u64,
    /// Second requests given up during the run.
    pub pages_failed: u64,
    /// Share links whose article was stored during the run.
    pub share_done: u64,
    /// Share links given up during the run.
    pub share_failed: u64,
    /// Share links skipped (no allowed candidate): reported, not a failure.
    pub share_skipped: u64,
}

impl OnceSummary {
    /// The summary of `report`, with the queues counted `before` and `after` the run: a
    /// `once` run never retries work already failed or done, so the differences are what
    /// this run did.
    pub fn new(report: &OnceReport, before: QueueCounts, after: QueueCounts) -> OnceSummary {
        OnceSummary {
            sources_ok: report.polled.saturating_sub(report.failed.len()),
            sources_failed: report.failed.len(),
            new_articles: report.new_articles,
            updated_articles: report.updated_articles,
            pages_done: after.pages_done.saturating_sub(before.pages_done),
            pages_failed: after.pages_failed.saturating_sub(before.pages_failed),
            share_done: after.share_done.saturating_sub(before.share_done),
            share_failed: after.share_failed.saturating_sub(before.share_failed),
            share_skipped: after.share_skipped.saturating_sub(before.share_skipped),
        }
    }

    /// Whether the run failed (exit status 1): a source, a page or a share link failed. A
    /// skipped share link is not a failure: the config, not the network, decided it.
    pub fn failed(&self) -> bool {
        self.sources_failed > 0 || self.pages_failed > 0 || self.share_failed > 0
    }
}

impl fmt::Display for OnceSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "sources {} ok, {} failed; articles {} new, {} updated; pages {} done, {} failed; \
             share links {} done, {} failed, {} skipped",
            self.sources_ok,
            self.sources_failed,
            self.new_articles,
            self.updated_articles,
            self.pages_done,
            self.pages_failed,
            self.share_done,
            self.share_failed,
            self.share_skipped
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_what_the_run_did_and_fails_on_failed_work_only() {
        let report = OnceReport {
            polled: 3,
            failed: vec![("a".into(), "HTTP 500".into())],
            new_articles: 7,
            updated_articles: 2,
            ..OnceReport::default()
        };
        let before = QueueCounts {
            pages_done: 4,
            share_failed: 1,
            ..QueueCounts::default()
        };
        let after = QueueCounts {
            pages_done: 9,
            pages_failed: 0,
            share_failed: 1,
            share_skipped: 2,
            ..QueueCounts::default()
        };
        let summary = OnceSummary::new(&report, before, after);
        assert_eq!(
            summary.to_string(),
            "sources 2 ok, 1 failed; articles 7 new, 2 updated; pages 5 done, 0 failed; \
             share links 0 done, 0 failed, 2 skipped"
        );
        assert!(summary.failed());
        let report = OnceReport {
            polled: 3,
            ..OnceReport::default()
        };
        assert!(
            !OnceSummary::new(&report, before, after).failed(),
            "skipped links are no failure"
        );
        let after = QueueCounts {
            share_failed: 2,
            ..after
        };
        assert!(OnceSummary::new(&report, before, after).failed());
    }
}
