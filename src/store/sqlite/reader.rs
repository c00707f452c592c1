//! The read-only side: [`Reader`], the command line's and consumers' queries.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags, params};

use super::open_connection;
use crate::store::StoreError;

/// One search hit: `(published_at, title, url)`.
pub type SearchHit = (Option<String>, String, Option<String>);

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
    /// Articles first stored from this source.
    pub articles_found: i64,
    /// Articles this source has seen (sightings).
    pub sightings: i64,
}

/// A read-only connection for the command line and consumers' queries.
pub struct Reader {
    path: PathBuf,
    conn: Connection,
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

    fn sqlite(&self, source: rusqlite::Error) -> StoreError {
        StoreError::Sqlite {
            path: self.path.clone(),
            source,
        }
    }

    /// Every source with its health, ordered by name.
    pub fn sources(&self) -> Result<Vec<SourceSummary>, StoreError> {
        let query = || -> rusqlite::Result<Vec<SourceSummary>> {
            let mut stmt = self.conn.prepare(
                "SELECT s.name, s.type, s.url, s.enabled, s.last_status, s.last_error, s.last_polled_at,
                        s.next_poll_at, s.consecutive_failures, s.articles_found,
                        (SELECT count(*) FROM sightings g WHERE g.source_id = s.id)
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
                })
            })?
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

    /// Full-text search (FTS5 trigram syntax), newest first: `(published_at, title, url)`.
    pub fn search(&self, query: &str, limit: usize) -> Result<Vec<SearchHit>, StoreError> {
        let run = || -> rusqlite::Result<Vec<_>> {
            let mut stmt = self.conn.prepare(
                "SELECT a.published_at, a.title, a.url FROM articles_fts f JOIN articles a ON a.id = f.rowid
                 WHERE articles_fts MATCH ?1
                 ORDER BY a.published_at DESC LIMIT ?2",
            )?;
            stmt.query_map(params![query, limit as i64], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })?
            .collect()
        };
        run().map_err(|e| self.sqlite(e))
    }
}
