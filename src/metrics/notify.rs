//! The `[[notify]]` families: delivery attempts by notify name and outcome, and the
//! number of notifications owed.

use std::fmt::Write as _;
use std::sync::atomic::Ordering;

use super::{Metrics, escape_label_value, lock};

impl Metrics {
    /// One delivery attempt of `[[notify]] name` ended: `delivered`, `retry` (failed, to
    /// be tried again) or `failed` (given up).
    pub fn record_notification(&self, notify: &str, outcome: &str) {
        *lock(&self.notifications)
            .entry((notify.to_owned(), outcome.to_owned()))
            .or_insert(0) += 1;
    }

    /// Notifications owed (pending rows of every `[[notify]]`).
    pub fn set_notifications_pending(&self, pending: u64) {
        self.notifications_pending.store(pending, Ordering::Relaxed);
    }

    /// Appends the notification families to a rendering.
    pub(super) fn render_notifications(&self, out: &mut String) {
        let name = "feedcrawler_notifications_pending";
        let _ = writeln!(out, "# HELP {name} Notifications owed to [[notify]] targets, not yet delivered.");
        let _ = writeln!(out, "# TYPE {name} gauge");
        let _ = writeln!(out, "{name} {}", self.notifications_pending.load(Ordering::Relaxed));
        let name = "feedcrawler_notifications_total";
        let _ = writeln!(
            out,
            "# HELP {name} Delivery attempts by [[notify]] name and outcome (delivered, retry, failed)."
        );
        let _ = writeln!(out, "# TYPE {name} counter");
        for ((notify, outcome), count) in lock(&self.notifications).iter() {
            let _ = writeln!(
                out,
                "{name}{{notify=\"{}\",outcome=\"{}\"}} {count}",
                escape_label_value(notify),
                escape_label_value(outcome)
            );
        }
    }
}
