//! The read side on PostgreSQL: a blocking client (`postgres`) on a thread of its own, so
//! that [`Reader`] works from plain threads and from inside the tokio runtime alike (the
//! blocking client runs its own runtime, which panics inside another one). Each call sends a
//! closure to that thread and waits for its answer.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc;

use postgres::types::Type;

use super::{Pg, connect_sync, db_error};
use crate::config::PostgresTarget;
use crate::search::{SearchError, SearchHit, SearchRequest};
use crate::store::{
    ArticleFilter, ArticleRecord, Cell, NotifyCounts, PruneCounts, QueueCounts, RetentionPolicy,
    SourceSummary, StoreError,
};

/// Articles per round trip of an export: memory stays flat however many there are.
const PAGE: i64 = 500;

/// The sorted names of the sources that saw article `a` (a `text[]`).
pub(super) const ARTICLE_SOURCES: &str =
    "(SELECT coalesce(array_agg(s.name ORDER BY s.name COLLATE \"C\"), '{}')
        FROM sightings g JOIN sources s ON s.id = g.source_id WHERE g.article_id = a.id)";

/// The WHERE clause of an export; `$1` is `since`, `$2` the source name (each NULL = all).
const ARTICLE_FILTER: &str = "($1::text IS NULL OR coalesce(a.published_at, a.first_seen_at) >= $1::text)
     AND ($2::text IS NULL OR EXISTS (SELECT 1 FROM sightings g JOIN sources s ON s.id = g.source_id
                                      WHERE g.article_id = a.id AND s.name = $2::text))";

/// One column value as a [`Cell`], by the column's type.
fn cell(row: &postgres::Row, i: usize) -> Cell {
    let ty = row.columns()[i].type_();
    let value = if *ty == Type::INT8 {
        row.get::<_, Option<i64>>(i).map(Cell::Integer)
    } else if *ty == Type::INT4 {
        row.get::<_, Option<i32>>(i).map(|n| Cell::Integer(n.into()))
    } else if *ty == Type::INT2 {
        row.get::<_, Option<i16>>(i).map(|n| Cell::Integer(n.into()))
    } else if *ty == Type::BOOL {
        row.get::<_, Option<bool>>(i).map(|b| Cell::Integer(b.into()))
    } else if *ty == Type::FLOAT8 {
        row.get::<_, Option<f64>>(i).map(Cell::Real)
    } else if *ty == Type::FLOAT4 {
        row.get::<_, Option<f32>>(i).map(|x| Cell::Real(x.into()))
    } else {
        row.try_get::<_, Option<String>>(i).ok().flatten().map(Cell::Text)
    };
    value.unwrap_or(Cell::Null)
}

/// An `articles` row read as `SELECT a.*, <sources> …`: every column by name in table order,
/// then the sources. `columns` keeps the names for the next rows.
pub(super) fn record(row: &postgres::Row, columns: &mut Option<Arc<[String]>>) -> ArticleRecord {
    let n = row.len().saturating_sub(1);
    let columns = Arc::clone(columns.get_or_insert_with(|| {
        row.columns()
            .iter()
            .take(n)
            .map(|c| c.name().to_owned())
            .collect()
    }));
    ArticleRecord {
        values: (0..n).map(|i| cell(row, i)).collect(),
        sources: row.try_get::<_, Vec<String>>(n).unwrap_or_default(),
        columns,
    }
}

type Job = Box<dyn FnOnce(&mut postgres::Client) + Send>;

/// The read side on PostgreSQL: callable from plain threads and from inside the tokio
/// runtime alike.
pub struct Reader {
    target: PostgresTarget,
    jobs: mpsc::Sender<Job>,
}

impl Reader {
    /// Connects (on the reader's own thread).
    pub(in crate::store) fn open(target: &PostgresTarget) -> Result<Reader, StoreError> {
        let (jobs, queue) = mpsc::channel::<Job>();
        let (ready, connected) = mpsc::sync_channel(1);
        let thread_target = target.clone();
        std::thread::Builder::new()
            .name("feedcrawler-pg-reader".into())
            .spawn(move || {
                let mut client = match connect_sync(&thread_target) {
                    Ok(client) => {
                        let _ = ready.send(Ok(()));
                        client
                    }
                    Err(e) => {
                        let _ = ready.send(Err(e));
                        return;
                    }
                };
                // Until the Reader is dropped.
                while let Ok(job) = queue.recv() {
                    // A connection the server closed (a restart) is opened again.
                    if client.is_closed()
                        && let Ok(again) = connect_sync(&thread_target)
                    {
                        client = again;
                    }
                    job(&mut client);
                }
            })
            .map_err(|e| StoreError::Sqlite {
                path: PathBuf::from(target.to_string()),
                source: crate::store::DbError::new(format!("cannot start the reader thread: {e}"), false),
            })?;
        connected
            .recv()
            .unwrap_or_else(|_| Err(gone(target)))
            .map(|()| Reader {
                target: target.clone(),
                jobs,
            })
    }

    fn path(&self) -> PathBuf {
        PathBuf::from(self.target.to_string())
    }

    fn error(&self, e: &Pg) -> StoreError {
        StoreError::Sqlite {
            path: self.path(),
            source: db_error(e),
        }
    }

    /// Runs `work` on the reader's thread and waits for its answer.
    fn call<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut postgres::Client) -> T + Send + 'static,
    ) -> Result<T, StoreError> {
        let (reply, answer) = mpsc::sync_channel(1);
        self.jobs
            .send(Box::new(move |client| {
                let _ = reply.send(work(client));
            }))
            .map_err(|_| gone(&self.target))?;
        answer.recv().map_err(|_| gone(&self.target))
    }

    /// Runs a query function on the reader's thread; a database error names the database.
    fn query<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut postgres::Client) -> Result<T, Pg> + Send + 'static,
    ) -> Result<T, StoreError> {
        self.call(work)?.map_err(|e| self.error(&e))
    }

    /// Every source with its health, ordered by name.
    pub(in crate::store) fn sources(&self) -> Result<Vec<SourceSummary>, StoreError> {
        self.query(|client| {
            let rows = client.query(
                "SELECT s.name, s.type, s.url, s.enabled, s.last_status, s.last_error, s.last_polled_at,
                        s.next_poll_at, s.consecutive_failures, s.articles_found,
                        (SELECT count(*) FROM sightings g WHERE g.source_id = s.id), s.last_success_at
                 FROM sources s ORDER BY s.name COLLATE \"C\"",
                &[],
            )?;
            Ok(rows
                .iter()
                .map(|r| SourceSummary {
                    name: r.get(0),
                    kind: r.get(1),
                    url: r.get(2),
                    enabled: r.get::<_, i64>(3) != 0,
                    last_status: r.get(4),
                    last_error: r.get(5),
                    last_polled_at: r.get(6),
                    next_poll_at: r.get(7),
                    consecutive_failures: r.get(8),
                    articles_found: r.get(9),
                    sightings: r.get(10),
                    last_success_at: r.get(11),
                })
                .collect())
        })
    }

    /// Every enabled source's `(name, consecutive_failures, last_success_at)`, by name.
    pub(in crate::store) fn source_health(&self) -> Result<Vec<(String, i64, Option<String>)>, StoreError> {
        self.query(|client| {
            let rows = client.query(
                "SELECT name, consecutive_failures, last_success_at FROM sources WHERE enabled = 1
                 ORDER BY name COLLATE \"C\"",
                &[],
            )?;
            Ok(rows.iter().map(|r| (r.get(0), r.get(1), r.get(2))).collect())
        })
    }

    /// How many share links wait to be fetched.
    pub(in crate::store) fn pending_share_links(&self) -> Result<u64, StoreError> {
        self.query(|client| {
            let n: i64 = client
                .query_one("SELECT count(*) FROM share_links WHERE state = 'pending'", &[])?
                .get(0);
            Ok(n.max(0) as u64)
        })
    }

    /// How many share links and page jobs are in each state.
    pub(in crate::store) fn queue_counts(&self) -> Result<QueueCounts, StoreError> {
        self.query(|client| {
            let mut counts = QueueCounts::default();
            for r in client.query("SELECT state, count(*) FROM share_links GROUP BY state", &[])? {
                let n = r.get::<_, i64>(1).max(0) as u64;
                match r.get::<_, &str>(0) {
                    "pending" => counts.share_pending = n,
                    "done" => counts.share_done = n,
                    "failed" => counts.share_failed = n,
                    "skipped" => counts.share_skipped = n,
                    _ => {}
                }
            }
            for r in client.query("SELECT state, count(*) FROM page_jobs GROUP BY state", &[])? {
                let n = r.get::<_, i64>(1).max(0) as u64;
                match r.get::<_, &str>(0) {
                    "pending" => counts.pages_pending = n,
                    "done" => counts.pages_done = n,
                    "failed" => counts.pages_failed = n,
                    _ => {}
                }
            }
            Ok(counts)
        })
    }

    /// Search, newest first ([`super::search`]).
    pub(in crate::store) fn search(&self, request: &SearchRequest) -> Result<Vec<SearchHit>, SearchError> {
        let text = request.query.trim();
        if text.is_empty() {
            return Err(SearchError::Empty);
        }
        let source_id: Option<i64> = match &request.source {
            None => None,
            Some(name) => {
                let wanted = name.clone();
                let found = self.query(move |client| {
                    Ok(client
                        .query_opt("SELECT id FROM sources WHERE name = $1", &[&wanted])?
                        .map(|r| r.get::<_, i64>(0)))
                })?;
                Some(found.ok_or_else(|| SearchError::UnknownSource(name.clone()))?)
            }
        };
        let request = request.clone();
        let path = self.path();
        self.call(move |client| super::search::search(client, &request, source_id, &path))?
    }

    /// Whether a source of this name is in the database.
    pub(in crate::store) fn has_source(&self, name: &str) -> Result<bool, StoreError> {
        let name = name.to_owned();
        self.query(move |client| {
            client
                .query_one("SELECT EXISTS (SELECT 1 FROM sources WHERE name = $1)", &[&name])
                .map(|r| r.get(0))
        })
    }

    /// How many articles [`Reader::for_each_article`] would visit.
    pub(in crate::store) fn count_articles(&self, filter: &ArticleFilter) -> Result<u64, StoreError> {
        let filter = filter.clone();
        self.query(move |client| {
            let n: i64 = client
                .query_one(
                    &format!("SELECT count(*) FROM articles a WHERE {ARTICLE_FILTER}"),
                    &[&filter.since, &filter.source],
                )?
                .get(0);
            Ok(n.max(0) as u64)
        })
    }

    /// Calls `visit` with every article that passes `filter`, in id order: [`PAGE`] rows
    /// per round trip, all of them read in one snapshot (a REPEATABLE READ transaction held
    /// on the reader's connection for the walk).
    pub(in crate::store) fn for_each_article<E>(
        &self,
        filter: &ArticleFilter,
        mut visit: impl FnMut(&ArticleRecord) -> Result<(), E>,
    ) -> Result<(), Result<E, StoreError>> {
        self.query(|client| client.batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"))
            .map_err(Err)?;
        let mut walk = || -> Result<(), Result<E, StoreError>> {
            let mut after = 0i64;
            loop {
                let filter = filter.clone();
                let page = self
                    .query(move |client| {
                        let rows = client.query(
                            &format!(
                                "SELECT a.*, {ARTICLE_SOURCES} AS \"sources()\" FROM articles a
                                 WHERE {ARTICLE_FILTER} AND a.id > $3 ORDER BY a.id LIMIT $4"
                            ),
                            &[&filter.since, &filter.source, &after, &PAGE],
                        )?;
                        let mut columns = None;
                        Ok(rows.iter().map(|r| record(r, &mut columns)).collect::<Vec<_>>())
                    })
                    .map_err(Err)?;
                for article in &page {
                    visit(article).map_err(Ok)?;
                }
                match page.last().and_then(|a| a.integer("id")) {
                    Some(last) if page.len() as i64 == PAGE => after = last,
                    _ => return Ok(()),
                }
            }
        };
        let result = walk();
        let end = if result.is_ok() { "COMMIT" } else { "ROLLBACK" };
        let ended = self.query(move |client| client.batch_execute(end));
        result?;
        ended.map_err(Err)
    }

    /// Each `[[notify]]` name found in the queue with its counts and last error, by name.
    pub(in crate::store) fn notify_counts(&self) -> Result<Vec<NotifyCounts>, StoreError> {
        self.query(|client| {
            let rows = client.query(
                "SELECT notify,
                        count(*) FILTER (WHERE state = 'pending'), count(*) FILTER (WHERE state = 'delivered'),
                        count(*) FILTER (WHERE state = 'failed'),
                        (SELECT last_error FROM notifications l WHERE l.notify = n.notify
                           AND l.last_error IS NOT NULL ORDER BY l.id DESC LIMIT 1)
                 FROM notifications n GROUP BY notify ORDER BY notify COLLATE \"C\"",
                &[],
            )?;
            Ok(rows
                .iter()
                .map(|r| NotifyCounts {
                    notify: r.get(0),
                    pending: r.get::<_, i64>(1).max(0) as u64,
                    delivered: r.get::<_, i64>(2).max(0) as u64,
                    failed: r.get::<_, i64>(3).max(0) as u64,
                    last_error: r.get(4),
                })
                .collect())
        })
    }

    /// What a prune with `policy` would delete now, without changing anything.
    pub(in crate::store) fn prune_counts(&self, policy: &RetentionPolicy) -> Result<PruneCounts, StoreError> {
        let policy = policy.clone();
        self.query(move |client| super::retention::prune_counts(client, &policy))
    }
}

fn gone(target: &PostgresTarget) -> StoreError {
    StoreError::Sqlite {
        path: PathBuf::from(target.to_string()),
        source: crate::store::DbError::new("the reader's connection thread has stopped", false),
    }
}
