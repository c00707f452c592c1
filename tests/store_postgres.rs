//! The PostgreSQL store through its public interface, against a real throwaway cluster
//! (tests/support/pg.rs; skipped with a message where PostgreSQL is absent outside CI):
//! each test works in a fresh database of its own. Concurrency that only PostgreSQL has —
//! several `Store`s (daemons) on one database — is proved here: one row per infoCode under
//! concurrent commits, fair host leases with take-over, notifications claimed once.

mod support;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeZone, Utc};

use feedcrawler::config::{Database, PostgresTarget};
use feedcrawler::dates::{ParsedDate, Precision};
use feedcrawler::normalize::{Article, Content};
use feedcrawler::search::SearchRequest;
use feedcrawler::sources::ContentRank;
use feedcrawler::store::{
    ArticleFilter, Cell, FetchBatch, LeaseRequest, NotifyRouter, Reader, SourceSpec, Store,
};
use support::pg::PgCluster;

/// A fresh, empty database on the harness's throwaway cluster; None (after the harness's
/// SKIPPED line) without PostgreSQL outside CI.
async fn fresh_database(test: &str) -> Option<Database> {
    let pg = PgCluster::shared()?;
    let url = pg.database(test);
    Some(Database::Postgres(PostgresTarget::parse(&url).expect("target")))
}

fn spec(name: &str) -> SourceSpec {
    SourceSpec {
        name: name.into(),
        kind: "feed".into(),
        url: Some(format!("https://{name}.example/feed")),
        enabled: true,
        config_hash: "h".into(),
    }
}

fn article(key: &str, title: &str, text: &str, info_code: Option<&str>) -> Article {
    let utc = Utc.with_ymd_and_hms(2022, 4, 19, 4, 22, 44).unwrap();
    Article {
        dedup_key: key.into(),
        info_code: info_code.map(str::to_owned),
        title: title.into(),
        url: Some(format!("https://news.example/{}", key.replace(':', "_"))),
        share_url: None,
        published: Some(ParsedDate {
            utc,
            local: utc.with_timezone(&chrono::FixedOffset::east_opt(8 * 3600).unwrap()),
            precision: Precision::OffsetSeconds,
        }),
        updated_at: None,
        author: None,
        media: None,
        category: None,
        tags: vec!["股票".into(), "A股".into()],
        summary: None,
        content: Some(Content {
            html: format!("<p>{text}</p>"),
            text: text.into(),
            hash: hex::encode(<sha2::Sha256 as sha2::Digest>::digest(text.as_bytes())),
            rank: ContentRank::Feed,
        }),
        language: None,
        entry_guid: None,
        entry_url: None,
        replaces_content: false,
    }
}

fn batch(source_id: i64, articles: Vec<Article>) -> FetchBatch {
    let mut batch = FetchBatch::empty(Some(source_id), Utc::now());
    batch.articles = articles;
    batch
}

/// Runs `work` with a reader on a plain thread (as the command line does).
fn read<T: Send>(database: &Database, work: impl FnOnce(&Reader) -> T + Send) -> T {
    std::thread::scope(|s| {
        s.spawn(|| work(&Reader::open(database).expect("reader")))
            .join()
            .expect("reader thread")
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_batch_is_stored_and_read_back() {
    let Some(db) = fresh_database("roundtrip").await else {
        return;
    };
    let store = Store::open(&db).await.expect("open");
    let sources = store.sync_sources(vec![spec("a")]).await.expect("sync");
    let report = store
        .commit(batch(
            sources[0].id,
            vec![
                article("url:one", "第一篇", "股市今天上涨", None),
                article("url:two", "第二篇", "银行业绩", Some("NW202204191234567890")),
            ],
        ))
        .await
        .expect("commit");
    assert_eq!(report.new_articles, 2);
    // The same copies again change nothing.
    let again = store
        .commit(batch(
            sources[0].id,
            vec![article("url:one", "第一篇", "股市今天上涨", None)],
        ))
        .await
        .expect("commit again");
    assert_eq!(again.unchanged_articles, 1);

    let mut rows = Vec::new();
    read(&db, |reader| {
        assert_eq!(
            reader.count_articles(&ArticleFilter::default()).expect("count"),
            2
        );
        reader
            .for_each_article(&ArticleFilter::default(), |a| {
                rows.push(a.clone());
                Ok::<_, ()>(())
            })
            .expect("export");
        let sources = reader.sources().expect("sources");
        assert_eq!(sources.len(), 1);
        assert_eq!(sources[0].sightings, 2);
    });
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].text("title"), Some("第一篇"));
    assert_eq!(rows[0].text("published_at"), Some("2022-04-19T04:22:44Z"));
    assert_eq!(rows[0].text("published_local"), Some("2022-04-19T12:22:44+08:00"));
    assert_eq!(rows[0].text("tags"), Some(r#"["股票","A股"]"#));
    assert_eq!(rows[0].get("revision"), Some(&Cell::Integer(1)));
    assert_eq!(rows[0].sources, vec!["a".to_owned()]);
    // Keyed by its infoCode, in the columns' table order.
    assert_eq!(rows[1].text("dedup_key"), Some("info:NW202204191234567890"));
    assert_eq!(&rows[1].columns[..3], &["id", "dedup_key", "info_code"]);
    store.close();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_info_code_from_eight_daemons_is_one_row() {
    let Some(db) = fresh_database("identity").await else {
        return;
    };
    let first = Store::open(&db).await.expect("open");
    let names: Vec<String> = (0..8).map(|i| format!("s{i}")).collect();
    let sources = first
        .sync_sources(names.iter().map(|n| spec(n)).collect())
        .await
        .expect("sync");
    let mut stores = vec![first];
    for _ in 1..8 {
        stores.push(Store::open(&db).await.expect("open"));
    }
    let code = "NW202204190000000001";
    let commits = stores
        .iter()
        .zip(&sources)
        .enumerate()
        .map(|(i, (store, source))| {
            // Each daemon reached the article under its own key, with its own text.
            let copy = article(
                &format!("url:copy{i}"),
                "同一篇",
                &format!("内容 {i} {}", "长".repeat(i)),
                Some(code),
            );
            store.commit(batch(source.id, vec![copy]))
        });
    let results = futures_util::future::join_all(commits).await;
    for result in &results {
        result.as_ref().expect("commit");
    }
    assert_eq!(
        results
            .iter()
            .map(|r| r.as_ref().unwrap().new_articles)
            .sum::<usize>(),
        1
    );
    let Database::Postgres(target) = &db else {
        unreachable!()
    };
    let (client, connection) = tokio_postgres::connect(target.conninfo(), tokio_postgres::NoTls)
        .await
        .expect("connect");
    tokio::spawn(connection);
    let one = |sql: &'static str| {
        let client = &client;
        async move { client.query_one(sql, &[]).await.expect(sql).get::<_, i64>(0) }
    };
    assert_eq!(one("SELECT count(*) FROM articles").await, 1);
    assert_eq!(one("SELECT count(*) FROM sightings").await, 8);
    assert_eq!(one("SELECT count(*) FROM article_aliases").await, 8);
    // Every replaced text was kept: revisions 1..n-1 are stored, n is the row's.
    let revision = one("SELECT revision FROM articles").await;
    assert_eq!(one("SELECT count(*) FROM article_revisions").await, revision - 1);
    assert_eq!(one("SELECT count(*) FROM article_changes").await, 1);
    for store in stores {
        store.close();
    }
}

fn lease(daemon: &str, period: Duration) -> LeaseRequest {
    LeaseRequest {
        daemon: daemon.into(),
        hosts: (1..=6).map(|i| format!("Host{i}.example")).collect(),
        period,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hosts_are_shared_fairly_and_taken_over() {
    let Some(db) = fresh_database("leases").await else {
        return;
    };
    let store = Store::open(&db).await.expect("open");
    let long = Duration::from_secs(60);
    let held = |grant: feedcrawler::store::LeaseGrant| grant.held.expect("a shared database leases");
    // A alone takes every host; B joins, A gives back its surplus, B takes it.
    assert_eq!(held(store.lease_hosts(lease("a", long)).await.unwrap()).len(), 6);
    assert_eq!(held(store.lease_hosts(lease("b", long)).await.unwrap()).len(), 0);
    let a = held(store.lease_hosts(lease("a", long)).await.unwrap());
    let b = held(store.lease_hosts(lease("b", long)).await.unwrap());
    assert_eq!((a.len(), b.len()), (3, 3));
    assert!(a.is_disjoint(&b));
    assert!(a.iter().all(|h| h == &h.to_lowercase()));
    // C joins (with a short lease): the others renew, giving back one each.
    let short = Duration::from_secs(1);
    let c = store.lease_hosts(lease("c", short)).await.unwrap();
    assert_eq!((c.daemons, c.held.unwrap().len()), (3, 0));
    let a = held(store.lease_hosts(lease("a", long)).await.unwrap());
    let b = held(store.lease_hosts(lease("b", long)).await.unwrap());
    let c = held(store.lease_hosts(lease("c", short)).await.unwrap());
    assert_eq!((a.len(), b.len(), c.len()), (2, 2, 2));
    let all: HashSet<_> = a.iter().chain(&b).chain(&c).collect();
    assert_eq!(all.len(), 6);
    // C dies: once its lease expires, A and B take its hosts.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let a = store.lease_hosts(lease("a", long)).await.unwrap();
    assert_eq!((a.daemons, a.held.as_ref().unwrap().len()), (2, 3));
    let b = held(store.lease_hosts(lease("b", long)).await.unwrap());
    assert_eq!(b.len(), 3);
    assert!(a.held.unwrap().is_disjoint(&b));
    // A stops: B takes everything at its next renewal.
    store.release_hosts("a".into()).await.unwrap();
    assert_eq!(held(store.lease_hosts(lease("b", long)).await.unwrap()).len(), 6);
    store.close();
}

/// Four hosts over three daemons end 2, 1, 1 — not 2, 2, 0 as "take up to the rounded-up
/// share" alone would leave them.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn shares_differ_by_one_host_at_most() {
    let Some(db) = fresh_database("leases_uneven").await else {
        return;
    };
    let store = Store::open(&db).await.expect("open");
    let request = |daemon: &str| LeaseRequest {
        daemon: daemon.into(),
        hosts: (1..=4).map(|i| format!("h{i}.example")).collect(),
        period: Duration::from_secs(60),
    };
    let mut counts = std::collections::BTreeMap::new();
    // Three rounds of renewals in turn, as their timers would make them.
    for _ in 0..3 {
        for daemon in ["a", "b", "c"] {
            let grant = store.lease_hosts(request(daemon)).await.unwrap();
            counts.insert(daemon, grant.held.expect("shared").len());
        }
    }
    let mut shares: Vec<usize> = counts.values().copied().collect();
    shares.sort();
    assert_eq!(shares, vec![1, 1, 2], "{counts:?}");
    store.close();
}

struct Everyone;

impl NotifyRouter for Everyone {
    fn route(&self, _: Option<&str>, _: &str, _: Option<&str>) -> Vec<String> {
        vec!["hook".into()]
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_daemons_never_take_the_same_notification() {
    let Some(db) = fresh_database("notify").await else {
        return;
    };
    let one = Store::open(&db).await.expect("open");
    let two = Store::open(&db).await.expect("open");
    let sources = one.sync_sources(vec![spec("a")]).await.expect("sync");
    one.set_notify_router(Some(Arc::new(Everyone))).await.unwrap();
    let articles = (0..20)
        .map(|i| article(&format!("url:n{i}"), &format!("标题{i}"), "正文", None))
        .collect();
    one.commit(batch(sources[0].id, articles)).await.expect("commit");
    let names = vec!["hook".to_owned()];
    let (a, b) = tokio::join!(
        one.due_notifications(Utc::now(), names.clone(), 15),
        two.due_notifications(Utc::now(), names.clone(), 15)
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.len() + b.len(), 20);
    let ids: HashSet<i64> = a.iter().chain(&b).map(|j| j.id).collect();
    assert_eq!(ids.len(), 20, "a row was handed out twice");
    assert!(
        a.iter()
            .all(|j| j.article.text("title").is_some_and(|t| t.starts_with("标题")))
    );
    // Claimed rows are not handed out again until delivered or expired.
    assert!(
        two.due_notifications(Utc::now(), names.clone(), 64)
            .await
            .unwrap()
            .is_empty()
    );
    // A row given back as pending (a failed attempt) is due again.
    let retry = feedcrawler::store::NotificationUpdate {
        id: a[0].id,
        state: feedcrawler::store::NotificationState::Pending,
        status: Some(1),
        error: Some("exit 1".into()),
        next_attempt_at: None,
    };
    one.update_notifications(vec![retry]).await.unwrap();
    let again = two.due_notifications(Utc::now(), names, 64).await.unwrap();
    assert_eq!(
        again.iter().map(|j| (j.id, j.attempts)).collect::<Vec<_>>(),
        vec![(a[0].id, 1)]
    );
    one.close();
    two.close();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn search_finds_short_and_long_chinese_words() {
    let Some(db) = fresh_database("search").await else {
        return;
    };
    let store = Store::open(&db).await.expect("open");
    let sources = store.sync_sources(vec![spec("a")]).await.expect("sync");
    store
        .commit(batch(
            sources[0].id,
            vec![
                article("url:s1", "今日要闻", "沪深股市午后走强，银行板块领涨", None),
                article("url:s2", "工业经济", "一季度工业经济运行平稳 100%_done", None),
                article("url:s3", "无关", "天气晴", None),
            ],
        ))
        .await
        .expect("commit");
    let ask = |query: &str, fts: bool| SearchRequest {
        query: query.into(),
        fts,
        limit: 20,
        since: None,
        source: None,
    };
    // Called from a runtime worker thread, as the daemon's metrics do.
    let reader = Reader::open(&db).expect("reader");
    let titles = |query: &str, fts: bool| -> Vec<String> {
        reader
            .search(&ask(query, fts))
            .expect("search")
            .into_iter()
            .map(|h| h.title)
            .collect()
    };
    assert_eq!(titles("股市", false), vec!["今日要闻"]);
    assert_eq!(titles("工业经济", false), vec!["工业经济"]);
    assert_eq!(titles("100%_", false), vec!["工业经济"]);
    assert!(titles("100%x", false).is_empty());
    assert_eq!(titles("银行 股市", true), vec!["今日要闻"]);
    let hit = reader.search(&ask("银行", false)).expect("search");
    assert_eq!(hit[0].snippet, "沪深股市午后走强，[银行]板块领涨");
    assert!(matches!(
        reader.search(&SearchRequest {
            source: Some("nope".into()),
            ..ask("股市", false)
        }),
        Err(feedcrawler::search::SearchError::UnknownSource(_))
    ));
    store.close();
}

/// The change log as `article_id|seq|deleted` rows in seq order.
fn change_log(pg: &PgCluster, url: &str) -> Vec<(i64, i64, i64)> {
    let out = pg.psql(
        url,
        "SELECT article_id, seq, deleted FROM article_changes ORDER BY seq",
    );
    out.lines()
        .filter(|l| !l.is_empty())
        .map(|l| {
            let v: Vec<i64> = l.split('|').map(|x| x.parse().expect("number")).collect();
            (v[0], v[1], v[2])
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_change_log_has_each_change_once_in_commit_order() {
    let Some(pg) = PgCluster::shared() else {
        return;
    };
    let url = pg.database("changelog");
    let db = Database::Postgres(PostgresTarget::parse(&url).expect("target"));
    let store = Store::open(&db).await.expect("open");
    let sources = store
        .sync_sources(vec![spec("a"), spec("b")])
        .await
        .expect("sync");
    let (a, b) = (sources[0].id, sources[1].id);
    let commit = |source: i64, copy: Article| store.commit(batch(source, vec![copy]));
    let id_of = |key: &str| -> i64 {
        pg.psql(
            &url,
            &format!("SELECT id FROM articles WHERE dedup_key = '{key}'"),
        )
        .parse()
        .expect("id")
    };
    let ids = |log: &[(i64, i64, i64)]| log.iter().map(|r| (r.0, r.2)).collect::<Vec<_>>();

    // A new article, then another.
    commit(a, article("url:x", "X", "第一版", None)).await.unwrap();
    commit(a, article("url:y", "Y", "银行", None)).await.unwrap();
    let (x, y) = (id_of("url:x"), id_of("url:y"));
    let log = change_log(pg, &url);
    assert_eq!(ids(&log), vec![(x, 0), (y, 0)]);
    assert!(log[0].1 < log[1].1);

    // New content: revision 2, a change; x moves after y.
    let report = commit(a, article("url:x", "X", "第一版，更长的第二版", None))
        .await
        .unwrap();
    assert_eq!(report.updated_articles, 1);
    assert_eq!(
        pg.psql(&url, &format!("SELECT revision FROM articles WHERE id = {x}")),
        "2"
    );
    let after_update = change_log(pg, &url);
    assert_eq!(ids(&after_update), vec![(y, 0), (x, 0)]);
    assert!(after_update[1].1 > log[1].1);

    // The same copy again from the same source only moves last_seen_at: nothing logged.
    let report = commit(a, article("url:y", "Y", "银行", None)).await.unwrap();
    assert_eq!(report.unchanged_articles, 1);
    assert_eq!(change_log(pg, &url), after_update);

    // The same copy from a new source: a new sighting, a change.
    let report = commit(b, article("url:y", "Y", "银行", None)).await.unwrap();
    assert_eq!(report.unchanged_articles, 1);
    let after_sighting = change_log(pg, &url);
    assert_eq!(ids(&after_sighting), vec![(x, 0), (y, 0)]);
    assert!(after_sighting[1].1 > after_update[1].1);
    // And again from it: nothing.
    commit(b, article("url:y", "Y", "银行", None)).await.unwrap();
    assert_eq!(change_log(pg, &url), after_sighting);

    // Two rows found to be one article: the younger is deleted (a tombstone), the older
    // changed, both after everything before.
    let code = "NW202204190000000099";
    commit(a, article("url:p", "P", "合并", None)).await.unwrap();
    commit(a, article("url:q", "P", "合并", Some(code)))
        .await
        .unwrap();
    let (p, q) = (id_of("url:p"), id_of(&format!("info:{code}")));
    commit(b, article("url:p", "P", "合并", Some(code)))
        .await
        .unwrap();
    assert_eq!(
        pg.psql(
            &url,
            &format!("SELECT id FROM articles WHERE info_code = '{code}'")
        ),
        p.to_string()
    );
    let merged = change_log(pg, &url);
    assert_eq!(ids(&merged), vec![(x, 0), (y, 0), (p, 0), (q, 1)], "{merged:?}");
    assert!(merged[2].1 > after_sighting[1].1);
    store.close();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn eight_daemons_log_every_article_once() {
    let Some(pg) = PgCluster::shared() else {
        return;
    };
    let url = pg.database("changelog8");
    let db = Database::Postgres(PostgresTarget::parse(&url).expect("target"));
    let first = Store::open(&db).await.expect("open");
    let names: Vec<String> = (0..8).map(|i| format!("s{i}")).collect();
    let sources = first
        .sync_sources(names.iter().map(|n| spec(n)).collect())
        .await
        .expect("sync");
    let mut stores = vec![first];
    for _ in 1..8 {
        stores.push(Store::open(&db).await.expect("open"));
    }
    let work = stores
        .iter()
        .zip(&sources)
        .enumerate()
        .map(|(i, (store, source))| async move {
            for round in 0..5 {
                let copies = (0..10)
                    .map(|n| {
                        let key = format!("url:d{i}r{round}n{n}");
                        article(&key, &key, &format!("正文 {key}"), None)
                    })
                    .collect();
                store.commit(batch(source.id, copies)).await.expect("commit");
            }
        });
    futures_util::future::join_all(work).await;
    let articles: HashSet<i64> = pg
        .psql(&url, "SELECT id FROM articles")
        .lines()
        .map(|l| l.parse().unwrap())
        .collect();
    assert_eq!(articles.len(), 8 * 5 * 10);
    let log = change_log(pg, &url);
    let logged: HashSet<i64> = log.iter().map(|r| r.0).collect();
    assert_eq!(logged, articles);
    assert_eq!(log.len(), articles.len());
    let seqs: HashSet<i64> = log.iter().map(|r| r.1).collect();
    assert_eq!(seqs.len(), log.len());
    assert!(log.iter().all(|r| r.2 == 0));
    for store in stores {
        store.close();
    }
}
