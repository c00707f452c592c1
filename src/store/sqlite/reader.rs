//! The read-only side: [`Reader`], the command line's and consumers' queries.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags, params};

use super::open_connection;
use crate::search::{Lookup, SearchError, SearchHit, SearchRequest};
use crate::store::StoreError;

/// How many of the newest articles a literal search scans before it asks an index: 2,000
/// articles take ~6 ms (benches/search.rs), and a word in one article in 100 fills a page of
/// 20 there.
const SCAN_FIRST: i64 = 2_000;

/// One line of `feedcrawler sources`.
#[derive(Clone, Debug)]
pub struct SourceSummary {
    /// `sources.name`.
    pub name: String,
    /// `sources.type`.
    pub kind: String,
    /// `sources.url`.
    pub url: Option<String>,
    /// Whether the source is polled.
    pub enabled: bool,
    /// Last HTTP status.
    pub last_status: Option<i64>,
    /// Last error.
    pub last_error: Option<String>,
    /// Last poll time (RFC 3339).
    pub last_polled_at: Option<String>,
    /// Next poll time (RFC 3339).
    pub next_poll_at: Option<String>,
    /// Failures in a row.
    pub consecutive_failures: i64,
    /// Last successful poll (RFC 3339): a feed fetched, a 304, a list read.
    pub last_success_at: Option<String>,
    /// Articles first stored from this source.
    pub articles_found: i64,
    /// Articles this source has seen (sightings).
    pub sightings: i64,
}

/// Rows of the work queues by state (see [`Reader::queue_counts`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct QueueCounts {
    /// Share links waiting (new or to be retried).
    pub share_pending: u64,
    /// Share links whose article was stored.
    pub share_done: u64,
    /// Share links given up after their attempts.
    pub share_failed: u64,
    /// Share links never requested (no allowed candidate).
    pub share_skipped: u64,
    /// Second requests (article pages, detail bodies) waiting.
    pub pages_pending: u64,
    /// Second requests done.
    pub pages_done: u64,
    /// Second requests given up.
    pub pages_failed: u64,
}

/// Which articles an export reads (`feedcrawler export --since/--source`).
#[derive(Clone, Debug, Default)]
pub struct ArticleFilter {
    /// Only articles published at or after this UTC time (RFC 3339, `…Z`); an article
    /// without a publication time counts from its `first_seen_at`.
    pub since: Option<String>,
    /// Only articles that this source saw (a `sightings` row).
    pub source: Option<String>,
}

/// One column value of an exported row, as SQLite stored it.
#[derive(Clone, Debug, PartialEq)]
pub enum Cell {
    /// NULL.
    Null,
    /// INTEGER.
    Integer(i64),
    /// REAL.
    Real(f64),
    /// TEXT (or a BLOB read as lossy UTF-8: no `articles` column holds one).
    Text(String),
}

/// One `articles` row for export: every column of the table, in table order, and the
/// names of the sources that saw it. Columns are read by name (`SELECT *`) so that a
/// column added by a later migration is exported without code changes.
#[derive(Clone, Debug)]
pub struct ArticleRecord {
    /// The column names (shared by every row of one export).
    pub columns: std::sync::Arc<[String]>,
    /// The values, one per column.
    pub values: Vec<Cell>,
    /// `sources.name` of every sighting, sorted.
    pub sources: Vec<String>,
}

impl ArticleRecord {
    /// The value of column `name`, if the table has it.
    pub fn get(&self, name: &str) -> Option<&Cell> {
        let i = self.columns.iter().position(|c| c == name)?;
        self.values.get(i)
    }

    /// The text of column `name`; `None` when NULL or absent (an integer is not text).
    pub fn text(&self, name: &str) -> Option<&str> {
        match self.get(name)? {
            Cell::Text(s) => Some(s),
            _ => None,
        }
    }

    /// The integer of column `name`.
    pub fn integer(&self, name: &str) -> Option<i64> {
        match self.get(name)? {
            Cell::Integer(n) => Some(*n),
            _ => None,
        }
    }
}

/// A read-only connection for the command line and consumers' queries.
pub struct Reader {
    pub(super) path: PathBuf,
    pub(super) conn: Connection,
}

impl Reader {
    /// Opens the database read-only (it must exist; run `migrate` or `once` first).
    pub fn open(path: &Path) -> Result<Reader, StoreError> {
        let conn = open_connection(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        Ok(Reader {
            path: path.to_owned(),
            conn,
        })
    }

    pub(super) fn sqlite(&self, source: rusqlite::Error) -> StoreError {
        StoreError::Sqlite {
            path: self.path.clone(),
            source: source.into(),
        }
    }

    /// Every source with its health, ordered by name.
    pub fn sources(&self) -> Result<Vec<SourceSummary>, StoreError> {
        let query = || -> rusqlite::Result<Vec<SourceSummary>> {
            let mut stmt = self.conn.prepare(
                "SELECT s.name, s.type, s.url, s.enabled, s.last_status, s.last_error, s.last_polled_at,
                        s.next_poll_at, s.consecutive_failures, s.articles_found,
                        (SELECT count(*) FROM sightings g WHERE g.source_id = s.id), s.last_success_at
                 FROM sources s ORDER BY s.name",
            )?;
            stmt.query_map([], |r| {
                Ok(SourceSummary {
                    name: r.get(0)?,
                    kind: r.get(1)?,
                    url: r.get(2)?,
                    enabled: r.get(3)?,
                    last_status: r.get(4)?,
                    last_error: r.get(5)?,
                    last_polled_at: r.get(6)?,
                    next_poll_at: r.get(7)?,
                    consecutive_failures: r.get(8)?,
                    articles_found: r.get(9)?,
                    sightings: r.get(10)?,
                    last_success_at: r.get(11)?,
                })
            })?
            .collect()
        };
        query().map_err(|e| self.sqlite(e))
    }

    /// Every enabled source's `(name, consecutive_failures, last_success_at)`, by name: a
    /// light query for the metrics (no counts of sightings).
    pub fn source_health(&self) -> Result<Vec<(String, i64, Option<String>)>, StoreError> {
        let query = || -> rusqlite::Result<Vec<_>> {
            let mut stmt = self.conn.prepare(
                "SELECT name, consecutive_failures, last_success_at FROM sources WHERE enabled = 1 ORDER BY name",
            )?;
            stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                .collect()
        };
        query().map_err(|e| self.sqlite(e))
    }

    /// How many share links wait to be fetched.
    pub fn pending_share_links(&self) -> Result<u64, StoreError> {
        self.conn
            .query_row(
                "SELECT count(*) FROM share_links WHERE state = 'pending'",
                [],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n.max(0) as u64)
            .map_err(|e| self.sqlite(e))
    }

    /// How many share links and second requests (page jobs) are in each state: `once`
    /// compares two of these for its summary, the metrics show the queue depths.
    pub fn queue_counts(&self) -> Result<QueueCounts, StoreError> {
        let query = || -> rusqlite::Result<QueueCounts> {
            let mut counts = QueueCounts::default();
            let mut stmt = self
                .conn
                .prepare("SELECT state, count(*) FROM share_links GROUP BY state")?;
            let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?;
            for row in rows {
                let (state, n) = row?;
                let n = n.max(0) as u64;
                match state.as_str() {
                    "pending" => counts.share_pending = n,
                    "done" => counts.share_done = n,
                    "failed" => counts.share_failed = n,
                    "skipped" => counts.share_skipped = n,
                    _ => {}
                }
            }
            let mut stmt = self
                .conn
                .prepare("SELECT state, count(*) FROM page_jobs GROUP BY state")?;
            let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?;
            for row in rows {
                let (state, n) = row?;
                let n = n.max(0) as u64;
                match state.as_str() {
                    "pending" => counts.pages_pending = n,
                    "done" => counts.pages_done = n,
                    "failed" => counts.pages_failed = n,
                    _ => {}
                }
            }
            Ok(counts)
        };
        query().map_err(|e| self.sqlite(e))
    }

    /// Search, newest first (`src/search.rs` and docs/search.md): a literal phrase through
    /// the trigram index (3+ characters) or the bigram index (two CJK ideographs, plus the
    /// articles the writer has not split yet), anything shorter by a scan; with `fts`, the
    /// user's own FTS5 query through the trigram index.
    pub fn search(&self, request: &SearchRequest) -> Result<Vec<SearchHit>, SearchError> {
        let text = request.query.trim();
        if text.is_empty() {
            return Err(SearchError::Empty);
        }
        let source_id: Option<i64> = match &request.source {
            None => None,
            Some(name) => Some(
                self.conn
                    .query_row("SELECT id FROM sources WHERE name = ?1", [name], |r| r.get(0))
                    .map_err(|e| match e {
                        rusqlite::Error::QueryReturnedNoRows => SearchError::UnknownSource(name.clone()),
                        e => SearchError::Store(self.sqlite(e)),
                    })?,
            ),
        };
        let lookup = if request.fts {
            Lookup::Trigram(text.to_owned())
        } else {
            crate::search::lookup(text)
        };
        const CONTAINS: &str =
            "(instr(lower(a.title), lower(?2)) OR instr(lower(a.content_text), lower(?2)))";
        let (hits, match_arg) = match &lookup {
            Lookup::Trigram(q) => (
                "SELECT rowid FROM articles_fts WHERE articles_fts MATCH ?1".to_owned(),
                q.clone(),
            ),
            // The bigram index, plus what it does not hold yet: articles stored since the
            // writer's last pass and edited ones waiting to be split again.
            Lookup::Bigram(q) => (
                format!(
                    "SELECT d.article_id FROM articles_bigrams b JOIN article_bigram_docs d ON d.doc = b.rowid
                     WHERE articles_bigrams MATCH ?1
                     UNION SELECT a.id FROM articles a
                     WHERE a.id > (SELECT bigrams_upto FROM fts_progress) AND {CONTAINS}
                     UNION SELECT a.id FROM article_bigram_redo q JOIN articles a ON a.id = q.article_id
                     WHERE {CONTAINS}"
                ),
                q.clone(),
            ),
            Lookup::Scan(_) => (
                format!("SELECT a.id FROM articles a WHERE ?1 IS NOT NULL AND {CONTAINS}"),
                String::new(),
            ),
        };
        const FILTERS: &str = "(?3 IS NULL OR coalesce(a.published_at, a.first_seen_at) >= ?3)
               AND (?4 IS NULL OR EXISTS (SELECT 1 FROM sightings g WHERE g.article_id = a.id AND g.source_id = ?4))";
        const COLUMNS: &str = "a.id, a.title, a.published_at, a.url, a.media, coalesce(a.content_text, '')";
        // First the newest SCAN_FIRST articles, newest first (through the published_at
        // index): a common word fills the page there in a millisecond, where the index would
        // hand over every one of its tens of thousands of hits to be sorted by date. Only a
        // literal query can be scanned for; the page is the same either way (docs/search.md).
        let scan_first = format!(
            "SELECT {COLUMNS} FROM (SELECT * FROM articles ORDER BY published_at DESC, id DESC LIMIT ?1) a
             WHERE {CONTAINS} AND {FILTERS}
             ORDER BY a.published_at DESC, a.id DESC LIMIT ?5"
        );
        let indexed = format!(
            "WITH hits(id) AS ({hits})
             SELECT {COLUMNS} FROM hits JOIN articles a ON a.id = hits.id
             WHERE {FILTERS}
             ORDER BY a.published_at DESC, a.id DESC LIMIT ?5"
        );
        let needle = if request.fts {
            text.replace('"', "")
        } else {
            text.to_owned()
        };
        let limit = i64::try_from(request.limit).unwrap_or(i64::MAX);
        let run = |sql: &str, first: &dyn rusqlite::ToSql| -> rusqlite::Result<Vec<SearchHit>> {
            let mut stmt = self.conn.prepare(sql)?;
            stmt.query_map(params![first, text, request.since, source_id, limit], |r| {
                let title: String = r.get(1)?;
                let content: String = r.get(5)?;
                Ok(SearchHit {
                    id: r.get(0)?,
                    snippet: crate::search::snippet(&title, &content, &needle, 24),
                    title,
                    published_at: r.get(2)?,
                    url: r.get(3)?,
                    media: r.get(4)?,
                })
            })?
            .collect()
        };
        if !request.fts {
            let hits = run(&scan_first, &SCAN_FIRST).map_err(|e| SearchError::Store(self.sqlite(e)))?;
            if hits.len() as i64 >= limit {
                return Ok(hits);
            }
        }
        run(&indexed, &match_arg).map_err(|e| match e {
            // Only the user's own FTS5 syntax can fail to parse; a literal query is quoted.
            rusqlite::Error::SqliteFailure(f, msg)
                if request.fts && f.code == rusqlite::ErrorCode::Unknown =>
            {
                SearchError::BadFtsQuery {
                    reason: msg.unwrap_or_else(|| f.to_string()),
                }
            }
            e => SearchError::Store(self.sqlite(e)),
        })
    }

    /// Whether a source of this name is in the database.
    pub fn has_source(&self, name: &str) -> Result<bool, StoreError> {
        self.conn
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM sources WHERE name = ?1)",
                [name],
                |r| r.get(0),
            )
            .map_err(|e| self.sqlite(e))
    }

    /// How many articles [`Reader::for_each_article`] would visit (for a progress bar).
    pub fn count_articles(&self, filter: &ArticleFilter) -> Result<u64, StoreError> {
        let sql = format!("SELECT count(*) FROM articles a WHERE {}", ARTICLE_FILTER);
        self.conn
            .query_row(&sql, params![filter.since, filter.source], |r| r.get::<_, i64>(0))
            .map(|n| n.max(0) as u64)
            .map_err(|e| self.sqlite(e))
    }

    /// Calls `visit` with every article that passes `filter`, in id order, one row at a
    /// time: nothing is collected, so memory does not grow with the number of articles.
    /// The whole walk reads one snapshot (a read transaction), whatever the daemon writes
    /// meanwhile. `visit`'s error stops the walk and is returned as `Err(Ok(e))`; a
    /// database error as `Err(Err(e))`.
    pub fn for_each_article<E>(
        &self,
        filter: &ArticleFilter,
        mut visit: impl FnMut(&ArticleRecord) -> Result<(), E>,
    ) -> Result<(), Result<E, StoreError>> {
        let db = |e: rusqlite::Error| -> Result<E, StoreError> { Err(self.sqlite(e)) };
        // The sources of a sighting as a JSON array: one correlated lookup per row through
        // the sightings primary key (article_id, source_id).
        let sql = format!(
            "SELECT a.*, (SELECT json_group_array(name) FROM
                            (SELECT s.name FROM sightings g JOIN sources s ON s.id = g.source_id
                             WHERE g.article_id = a.id ORDER BY s.name)) AS \"sources()\"
             FROM articles a WHERE {ARTICLE_FILTER} ORDER BY a.id"
        );
        let tx = self.conn.unchecked_transaction().map_err(db)?;
        let mut stmt = tx.prepare(&sql).map_err(db)?;
        let n = stmt.column_count();
        let columns: std::sync::Arc<[String]> = stmt
            .column_names()
            .into_iter()
            .take(n.saturating_sub(1))
            .map(str::to_owned)
            .collect();
        let mut rows = stmt.query(params![filter.since, filter.source]).map_err(db)?;
        while let Some(row) = rows.next().map_err(db)? {
            let mut values = Vec::with_capacity(columns.len());
            for i in 0..columns.len() {
                values.push(cell(row.get_ref(i).map_err(db)?));
            }
            let sources = match row.get_ref(columns.len()).map_err(db)? {
                rusqlite::types::ValueRef::Text(t) => {
                    serde_json::from_slice::<Vec<String>>(t).unwrap_or_default()
                }
                _ => Vec::new(),
            };
            let record = ArticleRecord {
                columns: std::sync::Arc::clone(&columns),
                values,
                sources,
            };
            visit(&record).map_err(Ok)?;
        }
        Ok(())
    }
}

/// The WHERE clause of an export; `?1` is `since`, `?2` the source name (each NULL = all).
const ARTICLE_FILTER: &str = "(?1 IS NULL OR coalesce(a.published_at, a.first_seen_at) >= ?1)
     AND (?2 IS NULL OR EXISTS (SELECT 1 FROM sightings g JOIN sources s ON s.id = g.source_id
                                WHERE g.article_id = a.id AND s.name = ?2))";

pub(super) fn cell(v: rusqlite::types::ValueRef<'_>) -> Cell {
    use rusqlite::types::ValueRef;
    match v {
        ValueRef::Null => Cell::Null,
        ValueRef::Integer(n) => Cell::Integer(n),
        ValueRef::Real(x) => Cell::Real(x),
        ValueRef::Text(t) | ValueRef::Blob(t) => Cell::Text(String::from_utf8_lossy(t).into_owned()),
    }
}
