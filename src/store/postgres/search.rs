//! Search on PostgreSQL, with the semantics of SQLite's (`src/search.rs`, docs/search.md):
//! a literal phrase by default, case-insensitive (`ILIKE '%…%'` on `title` or
//! `content_text`, its `%`, `_` and `\` escaped), newest first (`published_at DESC NULLS
//! LAST, id DESC`). A phrase of three or more characters can use the pg_trgm GIN indexes;
//! shorter ones (股市, 银行, A股) cannot, and are found by a scan: first of the newest
//! articles, which fills a page of a common word at once, as SQLite does, then of the rest.
//!
//! `--fts`: PostgreSQL has no FTS5 syntax. The query is read as words (split at whitespace,
//! `"` dropped, a bare `AND` skipped) that must all occur, each anywhere in the title or the
//! text; FTS5's `OR`, `NOT`, `NEAR` and prefix `*` are not interpreted.

use std::path::Path;

use crate::search::{SearchError, SearchHit, SearchRequest};
use crate::store::StoreError;

/// How many of the newest articles a literal search scans before it searches them all.
const SCAN_FIRST: i64 = 2_000;

/// `%`, `_` and `\` taken literally by ILIKE (whose escape character is `\`).
fn like_pattern(word: &str) -> String {
    let mut pattern = String::with_capacity(word.len() + 2);
    pattern.push('%');
    for c in word.chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

/// The words a query must contain: the phrase itself, or with `fts` its words.
fn words(request: &SearchRequest) -> Vec<String> {
    let text = request.query.trim();
    if !request.fts {
        return vec![text.to_owned()];
    }
    text.split_whitespace()
        .map(|w| w.replace('"', ""))
        .filter(|w| !w.is_empty() && w != "AND")
        .collect()
}

/// Runs the search on the reader's connection (`source_id`: `--source`, already looked up).
pub(super) fn search(
    client: &mut postgres::Client,
    request: &SearchRequest,
    source_id: Option<i64>,
    path: &Path,
) -> Result<Vec<SearchHit>, SearchError> {
    let words = words(request);
    if words.is_empty() {
        return Err(SearchError::BadFtsQuery {
            reason: "no word to search for".into(),
        });
    }
    let patterns: Vec<String> = words.iter().map(|w| like_pattern(w)).collect();
    let limit = i64::try_from(request.limit).unwrap_or(i64::MAX);
    // $1 since, $2 source, $3 limit, $4 the newest to scan first, $5… the words.
    let matches = (0..patterns.len())
        .map(|i| format!("(a.title ILIKE ${n} OR a.content_text ILIKE ${n})", n = i + 5))
        .collect::<Vec<_>>()
        .join(" AND ");
    const FILTERS: &str = "($1::text IS NULL OR coalesce(a.published_at, a.first_seen_at) >= $1::text)
           AND ($2::bigint IS NULL OR EXISTS (SELECT 1 FROM sightings g
                                              WHERE g.article_id = a.id AND g.source_id = $2::bigint))";
    const COLUMNS: &str = "a.id, a.title, a.published_at, a.url, a.media, coalesce(a.content_text, '')";
    const NEWEST: &str = "a.published_at DESC NULLS LAST, a.id DESC";
    let scan_first = format!(
        "SELECT {COLUMNS} FROM (SELECT * FROM articles a ORDER BY {NEWEST} LIMIT $4) a
         WHERE {matches} AND {FILTERS} ORDER BY {NEWEST} LIMIT $3"
    );
    let everything = format!(
        "SELECT {COLUMNS} FROM articles a WHERE $4::bigint IS NOT NULL AND {matches} AND {FILTERS}
         ORDER BY {NEWEST} LIMIT $3"
    );
    let needle = words[0].clone();
    let mut run = |sql: &str| -> Result<Vec<SearchHit>, SearchError> {
        let mut params: Vec<&(dyn postgres::types::ToSql + Sync)> =
            vec![&request.since, &source_id, &limit, &SCAN_FIRST];
        params.extend(patterns.iter().map(|p| p as &(dyn postgres::types::ToSql + Sync)));
        let rows = client.query(sql, &params).map_err(|e| {
            SearchError::Store(StoreError::Sqlite {
                path: path.to_owned(),
                source: super::db_error(&e),
            })
        })?;
        Ok(rows
            .iter()
            .map(|r| {
                let title: String = r.get(1);
                let content: String = r.get(5);
                SearchHit {
                    id: r.get(0),
                    snippet: crate::search::snippet(&title, &content, &needle, 24),
                    title,
                    published_at: r.get(2),
                    url: r.get(3),
                    media: r.get(4),
                }
            })
            .collect())
    };
    if !request.fts {
        let hits = run(&scan_first)?;
        if hits.len() as i64 >= limit {
            return Ok(hits);
        }
    }
    run(&everything)
}
