//! CONTRACT §7 *Rate*: never more than the host's rate (`burst + rate × W` requests in any
//! window of W seconds), whatever `[http] concurrency` is, across a SIGHUP reload and
//! through a `429 Retry-After`. Thirty sources on one server at `2/s`, `burst = 2`, all due
//! every second, so the host's queue is never empty; the server's own arrival times are the
//! judge.

mod support;

use std::time::{Duration, Instant};

use support::*;

const SOURCES: usize = 30;
const BURST: usize = 2;
const RATE: f64 = 2.0;
const PAUSE: Duration = Duration::from_secs(3);

fn run_world(concurrency: u32) {
    let server = TestServer::start();
    let dir = tempdir();
    let opts = DaemonOpts {
        per_host: "2/s".into(),
        burst: BURST as u32,
        concurrency,
        interval: "1s".into(),
        min_interval: "1s".into(),
        ..DaemonOpts::default()
    };
    let mut cfg = daemon_config(&opts);
    for i in 0..SOURCES {
        let path = format!("/f/{i:02}.xml");
        let title = format!("第{i}条：央行开展逆回购操作");
        server.set(
            &path,
            Route::rss(mini_rss(
                &format!("快讯{i}"),
                &[(&title, &format!("http://news.example.org/a/{i}.html"))],
            )),
        );
        cfg.push_str(&feed_source(
            &format!("s{i:02}"),
            &server.url(&path),
            "kuaixun",
            &[],
        ));
    }
    let config = write_config(dir.path(), &cfg);
    let started = Instant::now();
    let mut daemon = Daemon::start(&config);

    // A reload mid-run (the same sources; a changed timeout, so something did change).
    std::thread::sleep(Duration::from_secs(4));
    std::fs::write(&config, cfg.replace("timeout = \"5s\"", "timeout = \"6s\"")).expect("rewrite config");
    daemon.signal("HUP");

    // Then a 429 with Retry-After on one feed, answered once.
    std::thread::sleep(Duration::from_secs(2));
    server.set(
        "/f/00.xml",
        Route::status(429).header("Retry-After", &PAUSE.as_secs().to_string()),
    );
    let got_429 = poll_until(Duration::from_secs(20), Duration::from_millis(5), || {
        server
            .requests_for("/f/00.xml")
            .iter()
            .any(|r| r.status == 429)
            .then_some(())
    });
    server.set(
        "/f/00.xml",
        Route::rss(mini_rss(
            "快讯0",
            &[("第0条", "http://news.example.org/a/0.html")],
        )),
    );
    // Run on well past the pause.
    let resume_by = Instant::now() + PAUSE + Duration::from_secs(3);
    while started.elapsed() < Duration::from_secs(16) || Instant::now() < resume_by {
        std::thread::sleep(Duration::from_millis(100));
    }
    let (exit, _took) = daemon.terminate(Duration::from_secs(10));

    let reqs = server.requests();
    let mut times: Vec<Instant> = reqs.iter().map(|r| r.at).collect();
    times.sort();
    let t0 = times.first().copied().unwrap_or(started);
    let offsets: Vec<String> = times
        .iter()
        .map(|t| format!("{:.2}", t.duration_since(t0).as_secs_f64()))
        .collect();
    let mut soft = Soft::new();
    soft.check(got_429.is_some(), || "the 429 was served".into());
    soft.check(reqs.len() >= 20, || {
        format!("the host was kept busy: {} requests at {offsets:?}", reqs.len())
    });
    for w in [1u64, 3, 10] {
        let (n, at) = max_in_window(&times, Duration::from_secs(w));
        let limit = BURST + (RATE * w as f64) as usize + 1;
        soft.check(n <= limit, || {
            format!(
                "concurrency {concurrency}: at most burst + rate·W + 1 = {limit} requests in any {w} s window, \
                 got {n} from +{} s; arrival offsets (s): {offsets:?}",
                offsets[at]
            )
        });
    }
    if let Some(paused_at) = reqs.iter().find(|r| r.status == 429).map(|r| r.at) {
        let during: Vec<String> = times
            .iter()
            .filter(|t| **t > paused_at && t.duration_since(paused_at) < PAUSE)
            .map(|t| format!("+{:.2} s", t.duration_since(paused_at).as_secs_f64()))
            .collect();
        soft.check(during.is_empty(), || {
            format!("concurrency {concurrency}: no request during the {PAUSE:?} pause; got {during:?}")
        });
        soft.check(times.iter().any(|t| t.duration_since(paused_at) >= PAUSE), || {
            "requests resume after the pause".into()
        });
    }
    soft.eq(exit.map(|s| s.code()), Some(Some(0)), "exit status after SIGTERM");
    soft.finish();
    drop(daemon);
}

#[test]
fn host_rate_holds_at_concurrency_2_across_reload_and_pause() {
    run_world(2);
}

#[test]
fn host_rate_holds_at_concurrency_16_across_reload_and_pause() {
    run_world(16);
}
