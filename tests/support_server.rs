//! Self-test of the test harness in `tests/support/mod.rs` (no crawler
//! involved): routes, conditional GET, gzip, streamed bodies and the count
//! of bytes written when a client hangs up, recording, shutdown on drop.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};
use support::*;

struct Resp {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Resp {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A minimal HTTP/1.1 GET with `Connection: close`.
fn get(server: &TestServer, path: &str, headers: &[(&str, &str)]) -> Resp {
    let mut s = TcpStream::connect(("127.0.0.1", server.port())).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut req = format!(
        "GET {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n",
        server.host()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).unwrap();
    let mut r = BufReader::new(s);
    let mut line = String::new();
    r.read_line(&mut line).unwrap();
    let status: u16 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    let mut hs = Vec::new();
    loop {
        line.clear();
        r.read_line(&mut line).unwrap();
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        let (k, v) = l.split_once(':').unwrap();
        hs.push((k.trim().to_string(), v.trim().to_string()));
    }
    let mut raw = Vec::new();
    r.read_to_end(&mut raw).unwrap();
    let chunked = hs
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    let body = if chunked { dechunk(&raw) } else { raw };
    Resp {
        status,
        headers: hs,
        body,
    }
}

fn dechunk(mut raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let pos = raw.windows(2).position(|w| w == b"\r\n").unwrap();
        let size = usize::from_str_radix(std::str::from_utf8(&raw[..pos]).unwrap().trim(), 16).unwrap();
        raw = &raw[pos + 2..];
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&raw[..size]);
        raw = &raw[size + 2..];
    }
}

#[test]
fn routes_404_and_replacement() {
    let server = TestServer::start();
    server.set("/a.xml", Route::rss("<rss/>"));
    let r = get(&server, "/a.xml?x=1", &[]);
    assert_eq!(r.status, 200);
    assert_eq!(r.body, b"<rss/>");
    assert_eq!(
        r.header("content-type"),
        Some("application/rss+xml; charset=utf-8")
    );
    assert_eq!(get(&server, "/missing", &[]).status, 404);
    server.set("/a.xml", Route::status(500));
    assert_eq!(get(&server, "/a.xml", &[]).status, 500);
    // An exact path+query route wins over the path route.
    server.set("/a.xml?x=2", Route::rss("<two/>"));
    assert_eq!(get(&server, "/a.xml?x=2", &[]).body, b"<two/>");

    let reqs = server.requests_for("/a.xml");
    assert_eq!(reqs.len(), 3);
    assert_eq!(reqs[0].url, "/a.xml?x=1");
    assert_eq!(reqs[0].method, "GET");
    assert_eq!(reqs[0].status, 200);
    assert_eq!(reqs[1].status, 500);
    assert!(reqs[0].at <= reqs[1].at);
    assert_eq!(server.requests_for("/a.xml?x=2").len(), 1);
    assert_eq!(server.requests().len(), 4);
    assert!(reqs[0].header("Host").is_some());
}

#[test]
fn conditional_get() {
    let server = TestServer::start();
    server.set("/e", Route::rss("<rss/>").etag("\"v1\""));
    server.set(
        "/m",
        Route::rss("<rss/>").last_modified("Tue, 19 Apr 2022 04:30:00 GMT"),
    );
    assert_eq!(get(&server, "/e", &[]).status, 200);
    let r = get(&server, "/e", &[("If-None-Match", "\"v1\"")]);
    assert_eq!(r.status, 304);
    assert!(r.body.is_empty());
    assert_eq!(r.header("etag"), Some("\"v1\""));
    assert_eq!(get(&server, "/e", &[("If-None-Match", "\"v0\"")]).status, 200);
    assert_eq!(
        get(
            &server,
            "/m",
            &[("If-Modified-Since", "Tue, 19 Apr 2022 04:30:00 GMT")]
        )
        .status,
        304
    );
    assert_eq!(
        get(
            &server,
            "/m",
            &[("If-Modified-Since", "Mon, 18 Apr 2022 04:30:00 GMT")]
        )
        .status,
        200
    );
    let recorded: Vec<u16> = server.requests().iter().map(|r| r.status).collect();
    assert_eq!(recorded, vec![200, 304, 200, 304, 200]);
}

#[test]
fn gzip_route() {
    let server = TestServer::start();
    let body = "<rss>证券日报网</rss>".repeat(100);
    server.set("/g", Route::rss(body.clone()).gzip());
    let r = get(&server, "/g", &[("Accept-Encoding", "gzip")]);
    assert_eq!(r.header("content-encoding"), Some("gzip"));
    let mut dec = flate2::read::GzDecoder::new(&r.body[..]);
    let mut s = String::new();
    dec.read_to_string(&mut s).unwrap();
    assert_eq!(s, body);
}

#[test]
fn streamed_body_in_full_with_and_without_length() {
    let server = TestServer::start();
    for (path, with_len) in [("/len", true), ("/chunked", false)] {
        let stream = Stream {
            prefix: b"<a>".to_vec(),
            fill: b'0',
            fill_len: 100_000,
            suffix: b"</a>".to_vec(),
            content_length: with_len,
        };
        server.set(path, Route::streamed("text/xml", stream));
        let r = get(&server, path, &[]);
        assert_eq!(r.body.len(), 100_007, "{path}");
        assert!(r.body.starts_with(b"<a>000") && r.body.ends_with(b"0</a>"));
        if with_len {
            assert_eq!(r.header("content-length"), Some("100007"));
        } else {
            assert_eq!(r.header("transfer-encoding"), Some("chunked"));
        }
        assert!(server.wait_idle(Duration::from_secs(5)));
        let rec = &server.requests_for(path)[0];
        assert_eq!(rec.bytes_written(), 100_007);
        assert!(rec.progress.completed());
    }
}

#[test]
fn client_hanging_up_stops_a_large_stream() {
    let server = TestServer::start();
    let total: u64 = 256 << 20;
    server.set(
        "/huge",
        Route::streamed(
            "text/xml",
            Stream {
                prefix: Vec::new(),
                fill: b'x',
                fill_len: total,
                suffix: Vec::new(),
                content_length: true,
            },
        ),
    );
    {
        let mut s = TcpStream::connect(("127.0.0.1", server.port())).unwrap();
        s.write_all(b"GET /huge HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        let mut buf = vec![0u8; 64 * 1024];
        let mut got = 0;
        while got < 1 << 20 {
            let n = s.read(&mut buf).unwrap();
            assert!(n > 0);
            got += n;
        }
    } // hang up
    assert!(
        server.wait_idle(Duration::from_secs(10)),
        "writer noticed the hang-up"
    );
    let r = &server.requests_for("/huge")[0];
    assert!(r.progress.finished());
    assert!(!r.progress.completed(), "the body was not sent whole");
    eprintln!("bytes written before the hang-up: {}", r.bytes_written());
    assert!(r.bytes_written() >= 1 << 20);
    assert!(
        r.bytes_written() < total / 4,
        "{} bytes written",
        r.bytes_written()
    );
}

#[test]
fn delay_and_closed_port() {
    let server = TestServer::start();
    server.set("/slow", Route::rss("<rss/>").delay(Duration::from_millis(300)));
    let t = Instant::now();
    assert_eq!(get(&server, "/slow", &[]).status, 200);
    assert!(t.elapsed() >= Duration::from_millis(300));
    let url = closed_port_url("/x");
    let addr = url.trim_start_matches("http://").trim_end_matches("/x");
    assert!(TcpStream::connect(addr).is_err(), "{url} is closed");
}

#[test]
fn drop_stops_the_server() {
    let server = TestServer::start();
    let port = server.port();
    server.set("/a", Route::rss("<rss/>"));
    assert_eq!(get(&server, "/a", &[]).status, 200);
    let t = Instant::now();
    drop(server);
    assert!(t.elapsed() < Duration::from_secs(2), "drop is prompt");
    // tiny_http's accept thread lets go of the socket right after.
    let deadline = Instant::now() + Duration::from_secs(2);
    while TcpStream::connect(("127.0.0.1", port)).is_ok() {
        assert!(Instant::now() < deadline, "still listening on {port}");
        std::thread::sleep(Duration::from_millis(20));
    }
}
