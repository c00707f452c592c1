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

    /// Notifications owed (pending rows of every `[[notify]]`). The first call (made
    /// only when the config has `[[notify]]`s) makes the notification families appear.
    pub fn set_notifications_pending(&self, pending: u64) {
        self.notifications_pending.store(pending, Ordering::Relaxed);
        self.notify_configured.store(true, Ordering::Relaxed);
    }

    /// Appends the notification families to a rendering, when `[[notify]]` is configured
    /// or a delivery was recorded.
    pub(super) fn render_notifications(&self, out: &mut String) {
        let counts = lock(&self.notifications).clone();
        if counts.is_empty() && !self.notify_configured.load(Ordering::Relaxed) {
            return;
        }
        let name = "feedcrawler_notifications_pending";
        let _ = writeln!(
            out,
            "# HELP {name} Notifications owed to [[notify]] targets, not yet delivered."
        );
        let _ = writeln!(out, "# TYPE {name} gauge");
        let _ = writeln!(
            out,
            "{name} {}",
            self.notifications_pending.load(Ordering::Relaxed)
        );
        let name = "feedcrawler_notifications_total";
        let _ = writeln!(
            out,
            "# HELP {name} Delivery attempts by [[notify]] name and outcome (delivered, retry, failed)."
        );
        let _ = writeln!(out, "# TYPE {name} counter");
        for ((notify, outcome), count) in &counts {
            let _ = writeln!(
                out,
                "{name}{{notify=\"{}\",outcome=\"{}\"}} {count}",
                escape_label_value(notify),
                escape_label_value(outcome)
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notification_families_appear_with_notify_and_have_exact_lines() {
        let metrics = Metrics::new();
        assert!(
            !metrics.render().contains("notifications"),
            "no [[notify]], no families"
        );
        metrics.set_notifications_pending(3);
        metrics.record_notification("hook", "retry");
        metrics.record_notification("hook", "delivered");
        metrics.record_notification("hook", "retry");
        metrics.record_notification("script", "failed");
        let text = metrics.render();
        let expected = "\
# HELP feedcrawler_notifications_pending Notifications owed to [[notify]] targets, not yet delivered.
# TYPE feedcrawler_notifications_pending gauge
feedcrawler_notifications_pending 3
# HELP feedcrawler_notifications_total Delivery attempts by [[notify]] name and outcome (delivered, retry, failed).
# TYPE feedcrawler_notifications_total counter
feedcrawler_notifications_total{notify=\"hook\",outcome=\"delivered\"} 1
feedcrawler_notifications_total{notify=\"hook\",outcome=\"retry\"} 2
feedcrawler_notifications_total{notify=\"script\",outcome=\"failed\"} 1
";
        assert!(text.contains(expected), "{text}");
    }
}
