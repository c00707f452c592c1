//! `feedcrawler search` for Chinese readers (issue 14, CONTRACT §3): two-character words
//! (股市, 银行, 工业), longer ones (工业经济), a Latin word and a stock code, newest first,
//! with `--json`, `--limit`, `--since`, `--source`, literal quotes, and query errors (exit
//! 2); and the plain-sqlite3 queries of docs/search.md give the same hits. The articles are
//! written here by hand; every expected list is read off them.

mod support;

use support::*;

fn item(title: &str, date: &str, text: &str, n: u32) -> String {
    format!(
        "<item><title>{title}</title><link>http://news.example/{n}.html</link>\
         <guid>http://news.example/{n}.html</guid><pubDate>{date}</pubDate>\
         <description><![CDATA[{text}]]></description></item>"
    )
}

fn rss(items: &[String]) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><rss version=\"2.0\"><channel><title>t</title>\
         <link>http://news.example/</link><description>d</description>{}</channel></rss>",
        items.concat()
    )
}

// Titles, newest last (pubDate order).
const A4: &str = "周末要闻";
const A1: &str = "股市早报：沪指收涨";
const A2: &str = "工业经济稳中向好";
const A3: &str = "新能源车销量";
const B1: &str = "港股收盘";
const B2: &str = "央行开展逆回购";

fn alpha() -> String {
    rss(&[
        item(
            A1,
            "Fri, 01 Mar 2024 09:00:00 +0800",
            "<p>今日银行板块领涨。</p>",
            1,
        ),
        item(
            A2,
            "Sat, 02 Mar 2024 09:00:00 +0800",
            "<p>一季度工业经济数据公布，股市反应平淡。</p>",
            2,
        ),
        item(
            A3,
            "Sun, 03 Mar 2024 09:00:00 +0800",
            "<p>Tesla 与宁德时代(300750)签约，订单编号 13007501 另计。</p>",
            3,
        ),
        item(
            A4,
            "Wed, 28 Feb 2024 09:00:00 +0800",
            "<p>银行间市场利率下行；工业增加值回升。</p>",
            4,
        ),
    ])
}

fn beta() -> String {
    rss(&[
        // 股 and 市 in two paragraphs: not the word 股市 (a line break inside a paragraph
        // is no break between ideographs in HTML). 投资银行家 holds 银行.
        item(
            B1,
            "Mon, 04 Mar 2024 09:00:00 +0800",
            "<p>投资银行家表示，港股</p><p>市值仍有压力，工业和经济数据偏弱。</p>",
            11,
        ),
        // Quotes, AND and * are just characters of the text. 央行 is not 银行.
        item(
            B2,
            "Tue, 05 Mar 2024 09:00:00 +0800",
            "<p>央行公告称：TESLA股价与“工业经济”无关，\"工业经济 AND 股市*\" 是一个标题。</p>",
            12,
        ),
    ])
}

struct Crawled {
    config: std::path::PathBuf,
    dir: tempfile::TempDir,
    _server: TestServer,
}

fn crawl() -> Crawled {
    let server = TestServer::start();
    server.set("/alpha.xml", Route::rss(alpha()));
    server.set("/beta.xml", Route::rss(beta()));
    let dir = tempdir();
    let mut cfg = base_config();
    cfg.push_str(&feed_source("alpha", &server.url("/alpha.xml"), "a", &[]));
    cfg.push_str(&feed_source("beta", &server.url("/beta.xml"), "b", &[]));
    let config = write_config(dir.path(), &cfg);
    let out = run_once(&config);
    out.assert_code(0);
    let conn = open_db(&db_path(dir.path()));
    assert_eq!(count(&conn, "articles"), 6, "{}", out.diag());
    Crawled {
        config,
        dir,
        _server: server,
    }
}

/// The titles `feedcrawler search ARGS` prints, in order.
fn search(c: &Crawled, args: &[&str]) -> Vec<String> {
    let mut full = vec!["search"];
    full.extend_from_slice(args);
    let out = run(&c.config, &full);
    out.assert_code(0);
    out.stdout
        .lines()
        .map(|l| {
            let cols: Vec<&str> = l.split('\t').collect();
            assert_eq!(cols.len(), 4, "published, title, url, snippet: {l:?}");
            cols[1].to_owned()
        })
        .collect()
}

fn titles(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

#[test]
fn two_and_four_character_words_latin_words_and_codes_newest_first() {
    let c = crawl();
    assert_eq!(search(&c, &["股市"]), titles(&[B2, A2, A1]));
    assert_eq!(search(&c, &["银行"]), titles(&[B1, A1, A4]));
    assert_eq!(search(&c, &["工业"]), titles(&[B2, B1, A2, A4]));
    assert_eq!(search(&c, &["工业经济"]), titles(&[B2, A2]));
    assert_eq!(search(&c, &["Tesla"]), titles(&[B2, A3]));
    assert_eq!(search(&c, &["tesla"]), titles(&[B2, A3]));
    // A substring search: the code inside a longer number is found too.
    assert_eq!(search(&c, &["300750"]), titles(&[A3]));
    assert_eq!(search(&c, &["13007501"]), titles(&[A3]));
    assert_eq!(search(&c, &["港股"]), titles(&[B1]));
    assert_eq!(search(&c, &["茅台"]), Vec::<String>::new());
    // One character and a mixed two-character word: the scan.
    assert_eq!(search(&c, &["A股"]), titles(&[B2])); // TESLA股价
    assert_eq!(search(&c, &["沪"]), titles(&[A1]));
}

#[test]
fn limit_since_source_and_literal_quotes() {
    let c = crawl();
    assert_eq!(search(&c, &["股市", "--limit", "2"]), titles(&[B2, A2]));
    // Midnight in the config's timezone (Asia/Shanghai): A2 at 09:00 that day is in.
    assert_eq!(search(&c, &["股市", "--since", "2024-03-02"]), titles(&[B2, A2]));
    assert_eq!(
        search(&c, &["工业经济", "--since", "2024-03-02T02:00:00Z"]),
        titles(&[B2])
    );
    assert_eq!(search(&c, &["股市", "--source", "beta"]), titles(&[B2]));
    assert_eq!(search(&c, &["银行", "--source", "alpha"]), titles(&[A1, A4]));
    // The user's quotes, AND and * are characters of the phrase.
    assert_eq!(search(&c, &["\"工业经济"]), titles(&[B2]));
    assert_eq!(search(&c, &["\"工业经济 AND 股市*\""]), titles(&[B2]));
    assert_eq!(search(&c, &["工业经济 AND 股市"]), titles(&[B2]));
    assert_eq!(search(&c, &["股市 AND 工业经济"]), Vec::<String>::new());
    // Query syntax when asked for: both terms anywhere in the article.
    assert_eq!(search(&c, &["--fts", "工业经济 AND 反应平"]), titles(&[A2]));
}

#[test]
fn json_lines_carry_the_fields_and_a_marked_snippet() {
    let c = crawl();
    let out = run(&c.config, &["search", "银行", "--json", "--limit", "2"]);
    out.assert_code(0);
    let conn = open_db(&db_path(c.dir.path()));
    let hits: Vec<serde_json::Value> = out
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l:?}: {e}")))
        .collect();
    assert_eq!(hits.len(), 2);
    let id_of = |title: &str| -> i64 {
        conn.query_row("SELECT id FROM articles WHERE title = ?1", [title], |r| r.get(0))
            .expect("id")
    };
    assert_eq!(hits[0]["id"], id_of(B1));
    assert_eq!(hits[0]["title"], B1);
    assert_eq!(hits[0]["published_at"], "2024-03-04T01:00:00Z");
    assert_eq!(hits[0]["url"], "http://news.example/11.html");
    assert_eq!(
        hits[0]["snippet"],
        "投资[银行]家表示，港股 市值仍有压力，工业和经济数据偏弱。"
    );
    assert_eq!(hits[1]["id"], id_of(A1));
    assert_eq!(hits[1]["snippet"], "今日[银行]板块领涨。");
    assert!(hits[1].get("media").is_some());
}

#[test]
fn bad_queries_are_usage_errors() {
    let c = crawl();
    let out = run(&c.config, &["search", "--fts", "\"工业经济"]);
    out.assert_code(2);
    assert!(out.stderr.contains("not a valid FTS5 query"), "{}", out.diag());
    assert!(out.stderr.contains("drop --fts"), "{}", out.diag());
    let out = run(&c.config, &["search", "  "]);
    out.assert_code(2);
    assert!(out.stderr.contains("empty"), "{}", out.diag());
    let out = run(&c.config, &["search", "股市", "--source", "gamma"]);
    out.assert_code(2);
    assert!(out.stderr.contains("no source named \"gamma\""), "{}", out.diag());
    let out = run(&c.config, &["search", "股市", "--since", "last week"]);
    out.assert_code(2);
    assert!(out.stderr.contains("--since"), "{}", out.diag());
}

/// docs/search.md's queries for plain `sqlite3` (no extension), run through rusqlite.
#[test]
fn the_documented_plain_sqlite_queries_find_the_same_articles() {
    let c = crawl();
    let conn = open_db(&db_path(c.dir.path()));
    let query = |sql: &str, arg: &str| -> Vec<String> {
        conn.prepare(sql)
            .expect("prepare")
            .query_map([arg], |r| r.get(0))
            .expect("query")
            .collect::<Result<_, _>>()
            .expect("rows")
    };
    let two = "SELECT a.title FROM articles_bigrams b
               JOIN article_bigram_docs d ON d.doc = b.rowid JOIN articles a ON a.id = d.article_id
               WHERE articles_bigrams MATCH ?1 ORDER BY a.published_at DESC LIMIT 20";
    let more = "SELECT a.title FROM articles_fts f JOIN articles a ON a.id = f.rowid
                WHERE articles_fts MATCH ?1 ORDER BY a.published_at DESC LIMIT 20";
    let scan = "SELECT title FROM articles
                WHERE instr(title, ?1) OR instr(content_text, ?1)
                ORDER BY published_at DESC LIMIT 20";
    assert_eq!(query(two, "股市"), titles(&[B2, A2, A1]));
    assert_eq!(query(two, "银行"), titles(&[B1, A1, A4]));
    assert_eq!(query(more, "工业经济"), titles(&[B2, A2]));
    assert_eq!(query(more, "\"300750\""), titles(&[A3]));
    assert_eq!(query(scan, "股市"), titles(&[B2, A2, A1]));
    assert_eq!(query(scan, "工业经济"), titles(&[B2, A2]));
}

/// An article whose text changes is found by its new words, not its old ones.
#[test]
fn edited_articles_are_indexed_again() {
    let c = crawl();
    assert_eq!(search(&c, &["领涨"]), titles(&[A1]));
    let conn = open_db(&db_path(c.dir.path()));
    conn.execute(
        "UPDATE articles SET content_text = '今日券商板块走弱。' WHERE title = ?1",
        [A1],
    )
    .expect("update");
    drop(conn);
    // Found at once: the articles waiting to be split again are scanned.
    assert_eq!(search(&c, &["券商"]), titles(&[A1]));
    assert_eq!(search(&c, &["领涨"]), Vec::<String>::new());
    // The writer's next pass (any `once`) splits the edited article again: a new index
    // document, the old one unlinked.
    run_once(&c.config).assert_code(0);
    let conn = open_db(&db_path(c.dir.path()));
    let (waiting, docs): (i64, i64) = conn
        .query_row(
            "SELECT (SELECT count(*) FROM article_bigram_redo),
                    (SELECT count(*) FROM article_bigram_docs)",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .expect("redo");
    assert_eq!(
        (waiting, docs),
        (0, 6),
        "the writer indexed the edited article again"
    );
    let doc: i64 = conn
        .query_row(
            "SELECT d.doc FROM article_bigram_docs d JOIN articles a ON a.id = d.article_id
             WHERE a.title = ?1",
            [A1],
            |r| r.get(0),
        )
        .expect("doc");
    assert_eq!(doc, 7, "documents 1-6 were the first crawl's");
    assert_eq!(search(&c, &["券商"]), titles(&[A1]));
    assert_eq!(search(&c, &["领涨"]), Vec::<String>::new());
    assert_eq!(search(&c, &["银行"]), titles(&[B1, A4]));
}

/// A database upgraded to migration 13 holds articles the writer has not split yet: a
/// two-character search scans them meanwhile, and the next crawl's writer splits them all.
#[test]
fn articles_not_yet_split_are_found_and_split_by_the_next_pass() {
    let c = crawl();
    let conn = open_db(&db_path(c.dir.path()));
    conn.execute_batch("DELETE FROM article_bigram_docs; UPDATE fts_progress SET bigrams_upto = 0;")
        .expect("as after the migration");
    drop(conn);
    assert_eq!(search(&c, &["股市"]), titles(&[B2, A2, A1]));
    assert_eq!(search(&c, &["银行"]), titles(&[B1, A1, A4]));
    run_once(&c.config).assert_code(0);
    let conn = open_db(&db_path(c.dir.path()));
    let (upto, docs): (i64, i64) = conn
        .query_row(
            "SELECT (SELECT bigrams_upto FROM fts_progress), (SELECT count(*) FROM article_bigram_docs)",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .expect("progress");
    let max_id: i64 = conn
        .query_row("SELECT max(id) FROM articles", [], |r| r.get(0))
        .expect("max");
    assert_eq!((upto, docs), (max_id, 6));
    assert_eq!(search(&c, &["股市"]), titles(&[B2, A2, A1]));
}
