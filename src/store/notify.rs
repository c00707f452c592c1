//! The notification queue's side of the storage interface (CONTRACT §5 `[[notify]]`): the
//! writer queues a row per `[[notify]]` for each new article in the article's own
//! transaction (asking a [`NotifyRouter`] which ones want it), the delivery worker takes
//! due rows and reports how each delivery went.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use tokio::sync::oneshot;

use super::{ArticleRecord, Command, Store, StoreError};

/// Decides which `[[notify]]`s a new article is owed to. Called by the writer inside the
/// article's transaction, so it must be quick and must not block (no I/O).
pub trait NotifyRouter: Send + Sync {
    /// The `[[notify]] name`s that want an article first stored from `source` (None: no
    /// source, e.g. a link queued by `add-link`) with this title and media.
    fn route(&self, source: Option<&str>, title: &str, media: Option<&str>) -> Vec<String>;
}

/// A delivery due for work.
#[derive(Clone, Debug)]
pub struct NotificationJob {
    /// `notifications.id`.
    pub id: i64,
    /// `[[notify]] name`.
    pub notify: String,
    /// Attempts made so far.
    pub attempts: u32,
    /// The article as it is stored now (the `export --format jsonl` object).
    pub article: ArticleRecord,
}

/// How one delivery attempt ended.
#[derive(Clone, Debug)]
pub struct NotificationUpdate {
    /// `notifications.id`.
    pub id: i64,
    /// Delivered, pending again at `next_attempt_at`, or failed for good.
    pub state: NotificationState,
    /// The exit status (exec) or HTTP status (webhook), where there was one.
    pub status: Option<i64>,
    /// What went wrong.
    pub error: Option<String>,
    /// When to try again (pending).
    pub next_attempt_at: Option<DateTime<Utc>>,
}

/// `notifications.state`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NotificationState {
    /// Owed: not yet delivered (or to be retried).
    Pending,
    /// Delivered (exit status 0, or a 2xx answer).
    Delivered,
    /// Given up after every attempt.
    Failed,
}

impl NotificationState {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            NotificationState::Pending => "pending",
            NotificationState::Delivered => "delivered",
            NotificationState::Failed => "failed",
        }
    }
}

/// One `[[notify]]`'s queue, for `feedcrawler notify status` and the metrics.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NotifyCounts {
    /// `[[notify]] name`.
    pub notify: String,
    /// Rows owed.
    pub pending: u64,
    /// Rows delivered.
    pub delivered: u64,
    /// Rows given up.
    pub failed: u64,
    /// The error of the most recent failed attempt, if any.
    pub last_error: Option<String>,
}

/// The question of [`Store::due_notifications`].
pub(super) struct DueNotifications {
    pub(super) now: DateTime<Utc>,
    pub(super) names: Vec<String>,
    pub(super) limit: usize,
}

impl Store {
    /// Installs (or, with None, removes) the router that queues notifications for new
    /// articles; every batch committed after this call is routed by it.
    pub async fn set_notify_router(&self, router: Option<Arc<dyn NotifyRouter>>) -> Result<(), StoreError> {
        let (reply, answer) = oneshot::channel();
        self.send(Command::SetNotifyRouter(router, reply)).await?;
        answer.await.map_err(|_| self.gone())
    }

    /// Up to `limit` pending deliveries of the `[[notify]]`s named in `names`, due at
    /// `now`, oldest first.
    pub async fn due_notifications(
        &self,
        now: DateTime<Utc>,
        names: Vec<String>,
        limit: usize,
    ) -> Result<Vec<NotificationJob>, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.send(Command::DueNotifications(
            DueNotifications { now, names, limit },
            reply,
        ))
        .await?;
        answer.await.map_err(|_| self.gone())?
    }

    /// Records how deliveries ended, in one transaction.
    pub async fn update_notifications(&self, updates: Vec<NotificationUpdate>) -> Result<(), StoreError> {
        let (reply, answer) = oneshot::channel();
        self.send(Command::NotificationUpdates(updates, reply)).await?;
        answer.await.map_err(|_| self.gone())?
    }
}
