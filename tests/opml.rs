//! `feedcrawler import-opml FILE` and `export --format opml` (CONTRACT §1, §5): an OPML
//! file with nested folders and 3 feeds gives 3 `[[source]]` blocks that `check` accepts
//! when appended to a config; exporting that config as OPML and importing it again gives
//! the same blocks.

mod support;

use support::*;

/// As a feed reader exports it: folders nested two deep, a feed at the top level, a
/// folder without feeds, entities in attributes, and a `category` attribute.
const READER_OPML: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<opml version="2.0">
  <head><title>Subscriptions</title></head>
  <body>
    <outline text="财经" title="财经">
      <outline text="证券">
        <outline type="rss" text="证券日报网" title="证券日报网" xmlUrl="https://www.zqrb.cn/rss.xml" htmlUrl="https://www.zqrb.cn/"/>
        <outline type="rss" text="East Money &amp; Co" xmlUrl="https://np.example.com/feed?a=1&amp;b=2"/>
      </outline>
      <outline text="empty folder"/>
    </outline>
    <outline type="rss" text="Hacker News" xmlUrl="https://news.ycombinator.com/rss" category="/tech"/>
  </body>
</opml>
"#;

/// The blocks written down by hand: names from the titles (pinyin for Chinese), the
/// innermost folder or the `category` attribute as category.
const BLOCKS: &str = r#"
[[source]]
name = "zhengquanribaowang"
type = "feed"
url = "https://www.zqrb.cn/rss.xml"
category = "证券"

[[source]]
name = "east-money-co"
type = "feed"
url = "https://np.example.com/feed?a=1&b=2"
category = "证券"

[[source]]
name = "hacker-news"
type = "feed"
url = "https://news.ycombinator.com/rss"
category = "tech"
"#;

#[test]
fn nested_folders_give_blocks_that_check_accepts_and_round_trip() {
    let dir = tempdir();
    let opml = dir.path().join("subscriptions.opml");
    std::fs::write(&opml, READER_OPML).unwrap();
    // No config needed to import: a new user has none yet.
    let missing = dir.path().join("none.toml");
    let out = run(&missing, &["import-opml", opml.to_str().unwrap()]);
    let _diag = out.on_panic();
    out.assert_code(0);
    assert_eq!(out.stdout, BLOCKS);
    assert_eq!(out.stdout.matches("[[source]]").count(), 3);

    let mut cfg = base_config();
    cfg.push_str(&out.stdout);
    let config = write_config(dir.path(), &cfg);
    let check = run(&config, &["check"]);
    let _d2 = check.on_panic();
    check.assert_code(0);
    for line in [
        "zhengquanribaowang\tfeed\thttps://www.zqrb.cn/rss.xml\t",
        "east-money-co\tfeed\thttps://np.example.com/feed?a=1&b=2\t",
        "hacker-news\tfeed\thttps://news.ycombinator.com/rss\t",
    ] {
        assert!(
            check.stdout.contains(line),
            "check lists {line:?}\n{}",
            check.diag()
        );
    }

    // Back out as OPML (to a file and to stdout), and in again: the same blocks.
    let exported = dir.path().join("out.opml");
    let out = run(
        &config,
        &["export", "--format", "opml", "--out", exported.to_str().unwrap()],
    );
    out.assert_code(0);
    let stdout = run(&config, &["export", "--format", "opml", "--out", "-"]);
    stdout.assert_code(0);
    let text = std::fs::read_to_string(&exported).unwrap();
    assert_eq!(stdout.stdout, text);
    assert!(text.contains("<opml version=\"2.0\">"), "{text}");
    assert!(
        text.contains(
            "<outline type=\"rss\" text=\"east-money-co\" title=\"east-money-co\" \
             xmlUrl=\"https://np.example.com/feed?a=1&amp;b=2\" category=\"证券\"/>"
        ),
        "{text}"
    );
    assert!(
        text.contains("<outline text=\"证券\" title=\"证券\">"),
        "folders by category: {text}"
    );
    let again = run(&missing, &["import-opml", exported.to_str().unwrap()]);
    again.assert_code(0);
    assert_eq!(again.stdout, BLOCKS);
}

#[test]
fn only_enabled_feed_sources_are_exported_and_bad_files_are_reported() {
    let dir = tempdir();
    let mut cfg = base_config();
    cfg.push_str(&feed_source("on", "https://a.example/rss", "x", &[]));
    cfg.push_str(
        "\n[[source]]\nname = \"off\"\ntype = \"feed\"\nurl = \"https://b.example/rss\"\nenabled = false\n",
    );
    cfg.push_str("\n[[source]]\nname = \"links\"\ntype = \"share_links\"\nurls = [\"https://c.example/s?infoCode=NW202204192348095567\"]\n");
    let config = write_config(dir.path(), &cfg);
    let out = run(&config, &["export", "--format", "opml", "--out", "-"]);
    let _diag = out.on_panic();
    out.assert_code(0);
    assert_eq!(out.stdout.matches("xmlUrl=").count(), 1, "{}", out.stdout);
    assert!(out.stdout.contains("xmlUrl=\"https://a.example/rss\""));

    let out = run(
        &config,
        &[
            "export",
            "--format",
            "opml",
            "--out",
            "-",
            "--since",
            "2024-01-01",
        ],
    );
    out.assert_code(2);

    let bad = dir.path().join("bad.opml");
    std::fs::write(&bad, "<opml><body><outline text=\"x\"").unwrap();
    let out = run(&config, &["import-opml", bad.to_str().unwrap()]);
    out.assert_code(1);
    assert!(out.stderr.contains("not a valid OPML file"), "{}", out.diag());
    let out = run(
        &config,
        &["import-opml", dir.path().join("missing.opml").to_str().unwrap()],
    );
    out.assert_code(1);
    assert!(out.stderr.contains("cannot read"), "{}", out.diag());
}
