//! Unit tests for the metrics registry, its text exposition and the HTTP endpoint.

use super::*;
use chrono::TimeZone;
use std::io::{Read, Write};

#[test]
fn render_has_exact_lines() {
    let metrics = Metrics::new();
    metrics.record_fetch(Some(200), 1000);
    metrics.record_fetch(Some(200), 500);
    metrics.record_fetch(Some(304), 0);
    metrics.record_fetch(None, 0);
    metrics.record_articles(3, 1);
    metrics.record_articles(2, 0);
    metrics.record_source_failure("zqrb");
    metrics.record_source_failure("em-column-345");
    metrics.record_source_failure("zqrb");
    let due = Utc.with_ymd_and_hms(2022, 4, 19, 4, 22, 44).unwrap();
    metrics.set_schedule(7, Some(due), 42);
    metrics.record_pruned("articles", 0);
    metrics.record_pruned("fetches", 5);
    metrics.record_pruned("fetches", 2);
    metrics.record_fetch_duration(Duration::from_millis(200));
    metrics.record_fetch_duration(Duration::from_millis(1500));
    metrics.set_work_queues(4, 2);
    metrics.set_source_health(vec![SourceHealth {
        name: "zqrb".into(),
        consecutive_failures: 3,
        last_success: Some(due.timestamp()),
    }]);

    let expected = "\
# HELP feedcrawler_articles_new_total Articles stored for the first time.
# TYPE feedcrawler_articles_new_total counter
feedcrawler_articles_new_total 5
# HELP feedcrawler_articles_updated_total Stored articles whose content or fields changed.
# TYPE feedcrawler_articles_updated_total counter
feedcrawler_articles_updated_total 1
# HELP feedcrawler_fetch_bytes_total Response body bytes received, after decompression.
# TYPE feedcrawler_fetch_bytes_total counter
feedcrawler_fetch_bytes_total 1500
# HELP feedcrawler_fetches_total HTTP requests by response status; \"error\" when no response was received.
# TYPE feedcrawler_fetches_total counter
feedcrawler_fetches_total{status=\"200\"} 2
feedcrawler_fetches_total{status=\"304\"} 1
feedcrawler_fetches_total{status=\"error\"} 1
# HELP feedcrawler_next_poll_timestamp_seconds Unix time of the earliest scheduled poll; absent when nothing is scheduled.
# TYPE feedcrawler_next_poll_timestamp_seconds gauge
feedcrawler_next_poll_timestamp_seconds 1650342164
# HELP feedcrawler_pruned_rows_total Rows deleted by [retention], by table.
# TYPE feedcrawler_pruned_rows_total counter
feedcrawler_pruned_rows_total{table=\"articles\"} 0
feedcrawler_pruned_rows_total{table=\"fetches\"} 7
# HELP feedcrawler_queue_depth Sources waiting in the poll queue.
# TYPE feedcrawler_queue_depth gauge
feedcrawler_queue_depth 7
# HELP feedcrawler_source_failures_total Failed polls by source name.
# TYPE feedcrawler_source_failures_total counter
feedcrawler_source_failures_total{source=\"em-column-345\"} 1
feedcrawler_source_failures_total{source=\"zqrb\"} 2
# HELP feedcrawler_sources Enabled sources.
# TYPE feedcrawler_sources gauge
feedcrawler_sources 42
# HELP feedcrawler_up 1 while the daemon is running.
# TYPE feedcrawler_up gauge
feedcrawler_up 1
# HELP feedcrawler_fetch_duration_seconds Time from sending a request until its body was read.
# TYPE feedcrawler_fetch_duration_seconds histogram
feedcrawler_fetch_duration_seconds_bucket{le=\"0.05\"} 0
feedcrawler_fetch_duration_seconds_bucket{le=\"0.1\"} 0
feedcrawler_fetch_duration_seconds_bucket{le=\"0.25\"} 1
feedcrawler_fetch_duration_seconds_bucket{le=\"0.5\"} 1
feedcrawler_fetch_duration_seconds_bucket{le=\"1\"} 1
feedcrawler_fetch_duration_seconds_bucket{le=\"2.5\"} 2
feedcrawler_fetch_duration_seconds_bucket{le=\"5\"} 2
feedcrawler_fetch_duration_seconds_bucket{le=\"10\"} 2
feedcrawler_fetch_duration_seconds_bucket{le=\"20\"} 2
feedcrawler_fetch_duration_seconds_bucket{le=\"30\"} 2
feedcrawler_fetch_duration_seconds_bucket{le=\"+Inf\"} 2
feedcrawler_fetch_duration_seconds_sum 1.7
feedcrawler_fetch_duration_seconds_count 2
# HELP feedcrawler_page_jobs_pending Second requests (article pages, detail bodies) waiting to be fetched.
# TYPE feedcrawler_page_jobs_pending gauge
feedcrawler_page_jobs_pending 4
# HELP feedcrawler_share_links_pending Share links waiting to be fetched.
# TYPE feedcrawler_share_links_pending gauge
feedcrawler_share_links_pending 2
# HELP feedcrawler_source_consecutive_failures Failed polls in a row by source (0 after a success).
# TYPE feedcrawler_source_consecutive_failures gauge
feedcrawler_source_consecutive_failures{source=\"zqrb\"} 3
# HELP feedcrawler_source_last_success_timestamp_seconds Unix time of the source's last successful poll; absent before the first.
# TYPE feedcrawler_source_last_success_timestamp_seconds gauge
feedcrawler_source_last_success_timestamp_seconds{source=\"zqrb\"} 1650342164
";
    assert_eq!(metrics.render(), expected);
    assert_eq!(
        metrics.status_line(),
        "polling 42 sources, 5 new articles in the last hour"
    );
}

#[test]
fn fresh_metrics_render_every_family_and_no_next_poll() {
    let metrics = Metrics::new();
    metrics.set_schedule(0, None, 0);
    let text = metrics.render();
    for name in [
        "feedcrawler_articles_new_total",
        "feedcrawler_articles_updated_total",
        "feedcrawler_fetch_bytes_total",
        "feedcrawler_fetches_total",
        "feedcrawler_next_poll_timestamp_seconds",
        "feedcrawler_queue_depth",
        "feedcrawler_source_failures_total",
        "feedcrawler_sources",
        "feedcrawler_up",
    ] {
        assert!(
            text.contains(&format!("# HELP {name} ")),
            "{name} HELP missing:\n{text}"
        );
        assert!(
            text.contains(&format!("# TYPE {name} ")),
            "{name} TYPE missing:\n{text}"
        );
    }
    assert!(
        !text
            .lines()
            .any(|l| l.starts_with("feedcrawler_next_poll_timestamp_seconds"))
    );
    assert!(text.contains("\nfeedcrawler_up 1\n"));
    // Setting a time and then clearing it removes the sample again.
    metrics.set_schedule(1, Some(Utc::now()), 1);
    assert!(
        metrics
            .render()
            .contains("\nfeedcrawler_next_poll_timestamp_seconds ")
    );
    metrics.set_schedule(0, None, 1);
    assert!(
        !metrics
            .render()
            .contains("\nfeedcrawler_next_poll_timestamp_seconds ")
    );
}

#[test]
fn label_values_are_escaped() {
    assert_eq!(escape_label_value(r#"a\b"c"#), r#"a\\b\"c"#);
    assert_eq!(escape_label_value("two\nlines"), r"two\nlines");
    assert_eq!(escape_label_value("证券日报网"), "证券日报网");

    let metrics = Metrics::new();
    metrics.record_source_failure("we\"ird\\name\n");
    let text = metrics.render();
    assert!(
        text.contains("feedcrawler_source_failures_total{source=\"we\\\"ird\\\\name\\n\"} 1\n"),
        "{text}"
    );
    // Every sample stays on one line.
    assert!(
        text.lines()
            .all(|l| l.starts_with('#') || l.starts_with("feedcrawler_"))
    );
}

#[test]
fn last_hour_ring_forgets_old_minutes() {
    let metrics = Metrics::new();
    metrics.set_schedule(0, None, 1);
    metrics.record_articles_at(0, 3, 0);
    metrics.record_articles_at(10, 4, 9);
    metrics.record_articles_at(10, 1, 0);
    metrics.record_articles_at(59, 2, 0);
    metrics.record_articles_at(20, 0, 5); // updates only: not "new"
    assert_eq!(
        metrics.status_line_at(59),
        "polling 1 source, 10 new articles in the last hour"
    );
    // Minute 0 falls out of the window at minute 60.
    assert_eq!(
        metrics.status_line_at(60),
        "polling 1 source, 7 new articles in the last hour"
    );
    // Minute 60 reuses minute 0's slot, which is reset first.
    metrics.record_articles_at(60, 1, 0);
    assert_eq!(
        metrics.status_line_at(60),
        "polling 1 source, 8 new articles in the last hour"
    );
    assert_eq!(
        metrics.status_line_at(69),
        "polling 1 source, 8 new articles in the last hour"
    );
    assert_eq!(
        metrics.status_line_at(70),
        "polling 1 source, 3 new articles in the last hour"
    );
    assert_eq!(
        metrics.status_line_at(119),
        "polling 1 source, 1 new article in the last hour"
    );
    assert_eq!(
        metrics.status_line_at(120),
        "polling 1 source, 0 new articles in the last hour"
    );
    // Much later, nothing stale is counted even in reused slots.
    metrics.record_articles_at(1_000_000, 6, 0);
    assert_eq!(
        metrics.status_line_at(1_000_000),
        "polling 1 source, 6 new articles in the last hour"
    );
    // Totals are not windowed.
    assert!(metrics.render().contains("\nfeedcrawler_articles_new_total 17\n"));
    assert!(
        metrics
            .render()
            .contains("\nfeedcrawler_articles_updated_total 14\n")
    );
}

/// One HTTP/1.0 request over a plain std socket; returns the whole response.
async fn http_get(addr: SocketAddr, path: &'static str) -> String {
    tokio::task::spawn_blocking(move || {
        let mut stream = std::net::TcpStream::connect(addr).expect("connect");
        stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        write!(stream, "GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).expect("read response");
        response
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_answers_and_stops_on_cancel() {
    let metrics = Metrics::new();
    metrics.record_fetch(Some(200), 10);
    metrics.set_schedule(1, None, 3);
    let shutdown = CancellationToken::new();
    let (addr, handle) = serve("127.0.0.1:0".parse().unwrap(), metrics.clone(), shutdown.clone())
        .await
        .unwrap();
    assert_ne!(addr.port(), 0);

    let health = http_get(addr, "/healthz").await;
    assert!(health.starts_with("HTTP/1.0 200 OK\r\n") || health.starts_with("HTTP/1.1 200 OK\r\n"));
    assert!(health.ends_with("\r\n\r\nok\n"), "{health}");

    let text = http_get(addr, "/metrics").await;
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    assert!(head.contains(" 200 OK\r\n"), "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: text/plain; version=0.0.4"),
        "{head}"
    );
    assert!(
        body.contains("feedcrawler_fetches_total{status=\"200\"} 1\n"),
        "{body}"
    );
    assert!(body.contains("\nfeedcrawler_sources 3\n"), "{body}");

    let missing = http_get(addr, "/nope").await;
    assert!(missing.contains(" 404 Not Found\r\n"), "{missing}");

    // An idle client connection must not keep the server alive after shutdown.
    let idle = std::net::TcpStream::connect(addr).unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;

    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(5), handle)
        .await
        .expect("server stops within 5 s of cancel")
        .unwrap();
    drop(idle);
    let refused = tokio::task::spawn_blocking(move || std::net::TcpStream::connect(addr))
        .await
        .unwrap();
    assert!(refused.is_err(), "port still open after shutdown");
}

#[tokio::test]
async fn serve_reports_a_bad_address_at_start() {
    let taken = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = taken.local_addr().unwrap();
    let err = serve(addr, Metrics::new(), CancellationToken::new())
        .await
        .unwrap_err();
    let message = err.to_string();
    assert!(
        message.starts_with(&format!("cannot listen on {addr} for [metrics]: ")),
        "{message}"
    );
}
