//! CONTRACT §6 *Entry identity inside one document*, against the real binary: a `url:` key
//! identifies an entry only when no other entry of the same feed, with a different guid,
//! has the same normalized URL. A blog whose items differ only by `#fragment` and a podcast
//! whose episodes all link to its home page keep every item; the same item listed twice is
//! one article.

mod support;

use support::*;

/// An RSS 2.0 feed of `(title, link, guid)` items.
fn feed(items: &[(&str, &str, &str)]) -> String {
    let mut s = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rss version=\"2.0\"><channel><title>t</title>\
         <link>http://example.org/</link><description>d</description>\n",
    );
    for (title, link, guid) in items {
        s.push_str(&format!(
            "<item><title>{title}</title><link>{link}</link><guid isPermaLink=\"false\">{guid}</guid>\
             <pubDate>Tue, 19 Apr 2022 12:22:44 +0800</pubDate><description>{title}的摘要。</description></item>\n"
        ));
    }
    s.push_str("</channel></rss>\n");
    s
}

fn refs(v: &[(String, String, String)]) -> Vec<(&str, &str, &str)> {
    v.iter()
        .map(|(a, b, c)| (a.as_str(), b.as_str(), c.as_str()))
        .collect()
}

#[test]
fn entries_sharing_a_url_are_told_apart_by_their_guids() {
    let server = TestServer::start();
    let fragments: Vec<(String, String, String)> = (1..=5)
        .map(|i| {
            (
                format!("第{i}节：年报季观察"),
                format!("http://blog.example.org/2022/annual-reports#part-{i}"),
                format!("blog-{i}"),
            )
        })
        .collect();
    let episodes: Vec<(String, String, String)> = (1..=4)
        .map(|i| {
            (
                format!("财经播客第{i}期"),
                "http://pod.example.org/".to_owned(),
                format!("pod-episode-{i}"),
            )
        })
        .collect();
    server.set("/blog.xml", Route::rss(feed(&refs(&fragments))));
    server.set("/podcast.xml", Route::rss(feed(&refs(&episodes))));
    let twice = ("央行开展逆回购操作", "http://news.example.org/a/1.html", "news-1");
    server.set("/news.xml", Route::rss(feed(&[twice, twice])));
    let dir = tempdir();
    let mut cfg = base_config();
    for name in ["blog", "podcast", "news"] {
        cfg.push_str(&feed_source(name, &server.url(&format!("/{name}.xml")), "c", &[]));
    }
    let config = write_config(dir.path(), &cfg);
    let out = run_once(&config);
    let _diag = out.on_panic();
    out.assert_code(0);
    let conn = open_db(&db_path(dir.path()));
    let mut stored = titles(&conn);
    stored.sort();
    let mut expected: Vec<String> = fragments
        .iter()
        .chain(episodes.iter())
        .map(|(t, _, _)| t.clone())
        .chain(std::iter::once(twice.0.to_owned()))
        .collect();
    expected.sort();
    assert_eq!(
        stored, expected,
        "5 blog parts, 4 episodes, the twice-listed item once"
    );
    // Told apart by guid; the unique link keeps its url: key.
    assert_eq!(count(&conn, "articles WHERE dedup_key LIKE 'guid:blog:%'"), 5);
    assert_eq!(count(&conn, "articles WHERE dedup_key LIKE 'guid:podcast:%'"), 4);
    assert_eq!(
        count(
            &conn,
            "articles WHERE dedup_key = 'url:http://news.example.org/a/1.html'"
        ),
        1
    );
    // A second run finds the same rows.
    run_once(&config).assert_code(0);
    assert_eq!(count(&conn, "articles"), 10);
}
