//! One hop of a fetch: a single HTTP request (conditional headers, body cap enforced while
//! streaming) or one `file:` read, recorded as an [`Attempt`] with its `HopOutcome`.

use std::time::{Instant, SystemTime};

use chrono::{DateTime, Utc};
use reqwest::header::{self, HeaderMap, HeaderName, HeaderValue};
use url::Url;

use super::{Attempt, Body, FetchError, Fetcher, Outcome, ResolveRefused, Validators, error_chain};

impl Fetcher {
    pub(super) async fn request(&self, url: &Url, validators: &Validators) -> HopResult {
        let started_at = Utc::now();
        let clock = Instant::now();
        let mut headers = HeaderMap::new();
        for (name, value) in self.headers_for(url) {
            if let (Ok(name), Ok(value)) = (
                HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_str(value),
            ) {
                headers.insert(name, value);
            }
        }
        if let Some(etag) = validators
            .etag
            .as_deref()
            .and_then(|v| HeaderValue::from_str(v).ok())
        {
            headers.insert(header::IF_NONE_MATCH, etag);
        }
        if let Some(lm) = validators
            .last_modified
            .as_deref()
            .and_then(|v| HeaderValue::from_str(v).ok())
        {
            headers.insert(header::IF_MODIFIED_SINCE, lm);
        }
        let mut response = match self.client.get(url.clone()).headers(headers).send().await {
            Ok(r) => r,
            Err(e) => return HopResult::failed(url, started_at, clock, self.map_error(url, &e)),
        };
        let status = response.status().as_u16();
        let header_str = |name: header::HeaderName| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        if (300..400).contains(&status) && status != 304 {
            let location = header_str(header::LOCATION);
            return HopResult::done(
                url,
                started_at,
                clock,
                Some(status),
                0,
                Ok(HopOutcome::Redirect { status, location }),
            );
        }
        if status == 304 {
            let mut hop = HopResult::done(
                url,
                started_at,
                clock,
                Some(status),
                0,
                Ok(HopOutcome::Final(Outcome::NotModified)),
            );
            hop.attempt.not_modified = true;
            return hop;
        }
        if !(200..300).contains(&status) {
            let retry_after = header_str(header::RETRY_AFTER);
            return HopResult::done(
                url,
                started_at,
                clock,
                Some(status),
                0,
                Ok(HopOutcome::Final(Outcome::Status { status, retry_after })),
            );
        }
        let content_type = header_str(header::CONTENT_TYPE);
        let validators = Validators {
            etag: header_str(header::ETAG),
            last_modified: header_str(header::LAST_MODIFIED),
        };
        // Without compression the declared length tells us up front; with it, only the
        // running count of decompressed bytes can (a small gzip can expand enormously).
        let compressed = response.headers().contains_key(header::CONTENT_ENCODING);
        if !compressed && response.content_length().is_some_and(|n| n > self.max_body) {
            let error = FetchError::BodyTooLarge {
                url: url.to_string(),
                limit: self.max_body,
            };
            let mut hop = HopResult::failed(url, started_at, clock, error);
            hop.attempt.status = Some(status);
            return hop;
        }
        let mut bytes =
            Vec::with_capacity(response.content_length().unwrap_or(16 * 1024).min(self.max_body) as usize);
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    if bytes.len() as u64 + chunk.len() as u64 > self.max_body {
                        let error = FetchError::BodyTooLarge {
                            url: url.to_string(),
                            limit: self.max_body,
                        };
                        let mut hop = HopResult::failed(url, started_at, clock, error);
                        hop.attempt.status = Some(status);
                        hop.attempt.bytes = bytes.len() as u64;
                        return hop;
                    }
                    bytes.extend_from_slice(&chunk);
                }
                Ok(None) => break,
                Err(e) => {
                    let mut hop = HopResult::failed(url, started_at, clock, self.map_error(url, &e));
                    hop.attempt.status = Some(status);
                    hop.attempt.bytes = bytes.len() as u64;
                    return hop;
                }
            }
        }
        let len = bytes.len() as u64;
        HopResult::done(
            url,
            started_at,
            clock,
            Some(status),
            len,
            Ok(HopOutcome::Final(Outcome::Body(Body {
                url: url.clone(),
                status,
                content_type,
                validators,
                bytes,
            }))),
        )
    }

    /// Reads a `file:` URL: the offline sample sources of the example config use it. The
    /// file's modification time plays the part of `Last-Modified`, so a second `once` over
    /// unchanged files is as cheap as a 304.
    pub(super) async fn read_file(&self, url: &Url, validators: &Validators) -> HopResult {
        let started_at = Utc::now();
        let clock = Instant::now();
        let file_error = |message: String| FetchError::File {
            url: url.to_string(),
            message,
        };
        let Ok(path) = url.to_file_path() else {
            return HopResult::failed(url, started_at, clock, file_error("not a local path".into()));
        };
        let metadata = match tokio::fs::metadata(&path).await {
            Ok(m) => m,
            Err(e) => return HopResult::failed(url, started_at, clock, file_error(e.to_string())),
        };
        // Devices, FIFOs and directories are no feeds: /dev/zero has length 0 and never ends.
        if !metadata.is_file() {
            return HopResult::failed(url, started_at, clock, file_error("not a regular file".into()));
        }
        let last_modified = metadata.modified().ok().map(http_date);
        if last_modified.is_some() && last_modified == validators.last_modified {
            let mut hop = HopResult::done(
                url,
                started_at,
                clock,
                Some(304),
                0,
                Ok(HopOutcome::Final(Outcome::NotModified)),
            );
            hop.attempt.not_modified = true;
            return hop;
        }
        let too_large = || FetchError::BodyTooLarge {
            url: url.to_string(),
            limit: self.max_body,
        };
        if metadata.len() > self.max_body {
            return HopResult::failed(url, started_at, clock, too_large());
        }
        // The length is counted while reading too: the file may grow after the metadata.
        let bytes = match read_at_most(&path, self.max_body).await {
            Ok(Some(b)) => b,
            Ok(None) => return HopResult::failed(url, started_at, clock, too_large()),
            Err(e) => return HopResult::failed(url, started_at, clock, file_error(e.to_string())),
        };
        let content_type = match path.extension().and_then(|e| e.to_str()) {
            Some("json") => Some("application/json".to_owned()),
            Some("html" | "htm") => Some("text/html".to_owned()),
            _ => None,
        };
        let len = bytes.len() as u64;
        HopResult::done(
            url,
            started_at,
            clock,
            Some(200),
            len,
            Ok(HopOutcome::Final(Outcome::Body(Body {
                url: url.clone(),
                status: 200,
                content_type,
                validators: Validators {
                    etag: None,
                    last_modified,
                },
                bytes,
            }))),
        )
    }

    fn map_error(&self, url: &Url, e: &reqwest::Error) -> FetchError {
        // The resolver's refusal of a private address arrives wrapped in the connect error.
        let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(e);
        while let Some(c) = cause {
            if let Some(ResolveRefused(refusal)) = c.downcast_ref::<ResolveRefused>() {
                return FetchError::Refused {
                    url: url.to_string(),
                    refusal: refusal.clone(),
                };
            }
            cause = c.source();
        }
        if e.is_timeout() {
            FetchError::Timeout {
                url: url.to_string(),
                timeout: self.timeout,
            }
        } else {
            FetchError::Transport {
                url: url.to_string(),
                message: error_chain(e),
            }
        }
    }
}

/// What one hop led to: another hop, or the fetch's outcome.
pub(super) enum HopOutcome {
    Redirect { status: u16, location: Option<String> },
    Final(Outcome),
}

/// One hop: the request as recorded, and what it led to.
pub(super) struct HopResult {
    pub(super) attempt: Attempt,
    pub(super) outcome: Result<HopOutcome, FetchError>,
}

impl HopResult {
    fn done(
        url: &Url,
        started_at: DateTime<Utc>,
        clock: Instant,
        status: Option<u16>,
        bytes: u64,
        outcome: Result<HopOutcome, FetchError>,
    ) -> HopResult {
        HopResult {
            attempt: Attempt {
                url: url.to_string(),
                started_at,
                duration: clock.elapsed(),
                status,
                bytes,
                not_modified: false,
                error: outcome.as_ref().err().map(ToString::to_string),
                entries_skipped: 0,
                skip_reason: None,
            },
            outcome,
        }
    }

    pub(super) fn failed(
        url: &Url,
        started_at: DateTime<Utc>,
        clock: Instant,
        error: FetchError,
    ) -> HopResult {
        HopResult::done(url, started_at, clock, None, 0, Err(error))
    }
}

/// Reads at most `limit` bytes of the file at `path`: `None` when it holds more.
async fn read_at_most(path: &std::path::Path, limit: u64) -> std::io::Result<Option<Vec<u8>>> {
    use tokio::io::AsyncReadExt;
    let file = tokio::fs::File::open(path).await?;
    let mut bytes = Vec::new();
    file.take(limit.saturating_add(1)).read_to_end(&mut bytes).await?;
    Ok((bytes.len() as u64 <= limit).then_some(bytes))
}

/// Formats a time as an HTTP date (`Tue, 19 Apr 2022 04:22:44 GMT`).
fn http_date(time: SystemTime) -> String {
    DateTime::<Utc>::from(time)
        .format("%a, %d %b %Y %H:%M:%S GMT")
        .to_string()
}
