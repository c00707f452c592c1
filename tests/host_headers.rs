//! `[[host]] headers` (CONTRACT §2): sent with every request to a matching host — the
//! feed and each redirect hop — and with no request to another host.

mod support;

use support::*;

#[test]
fn host_headers_go_with_every_hop_to_the_host_and_nowhere_else() {
    let server = TestServer::start();
    server.set("/old.xml", Route::status(302).header("Location", "/feed.xml"));
    server.set("/feed.xml", Route::atom(fixture("atom.xml")));
    let other = TestServer::start();
    other.set("/other.xml", Route::atom(fixture("atom.xml")));

    let dir = tempdir();
    let mut cfg = base_config();
    // Sources on `127.0.0.1` get the Referer; the same server reached as `localhost`
    // matches no [[host]] and must not.
    cfg.push_str(
        r#"
[[host]]
domain = "127.0.0.1"
headers = { Referer = "https://finance.eastmoney.com/", X-Feed-Client = "feedcrawler-test" }
"#,
    );
    cfg.push_str(&feed_source(
        "moved",
        &server.url("/old.xml"),
        "zhengquanribaowang",
        &[],
    ));
    let other_url = format!("http://localhost:{}/other.xml", other.port());
    cfg.push_str(&feed_source("other", &other_url, "zhengquanribaowang", &[]));
    let config = write_config(dir.path(), &cfg);
    let out = run_once(&config);
    out.assert_code(0);

    for path in ["/old.xml", "/feed.xml"] {
        let requests = server.requests_for(path);
        assert_eq!(requests.len(), 1, "{path} requested once\n{}", out.diag());
        assert_eq!(
            requests[0].header("Referer"),
            Some("https://finance.eastmoney.com/"),
            "{path}"
        );
        assert_eq!(
            requests[0].header("X-Feed-Client"),
            Some("feedcrawler-test"),
            "{path}"
        );
    }
    let to_other = other.requests_for("/other.xml");
    assert_eq!(to_other.len(), 1, "the other host requested once\n{}", out.diag());
    assert_eq!(
        to_other[0].header("Referer"),
        None,
        "no [[host]] matches localhost"
    );
}
