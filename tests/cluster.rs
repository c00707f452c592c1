//! Several daemons on one PostgreSQL database (issue 16), against the real binary, a real
//! throwaway PostgreSQL cluster and six loopback hosts (`127.0.0.1` … `127.0.0.6`, one test
//! server each):
//! - three daemons share 300 feeds at 1 request/s per host: every source is polled, every
//!   article is stored exactly once (150 of them are listed by two feeds on two hosts, so
//!   two daemons store the same infoCode), and in each server's own arrival times no
//!   host is ever asked faster than its rate — the hosts are leased, not the sources;
//!   every new article is notified once, whichever daemon stored or delivered it;
//! - `kill -9` one of three: its hosts are polled again by the others within two lease
//!   periods, and nothing is lost or stored twice.
//!
//! Needs PostgreSQL (Debian's `postgresql`, installed by `.ci/run`); skipped with a
//! message where it is absent outside CI.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use support::pg::PgCluster;
use support::*;

const HOSTS: usize = 6;

/// Seconds of slack in the rate check (see [`assert_rate`]).
const SLACK: f64 = 0.2;

/// The infoCode of article `n`: East Money's `NW` + 18 digits, in its URL.
fn code(n: usize) -> String {
    format!("NW2022041923{n:08}")
}

fn link(n: usize) -> String {
    format!("http://finance.eastmoney.com/a/{}.html", &code(n)[2..])
}

fn title(n: usize) -> String {
    format!("第{n:04}号快讯：央行开展逆回购操作 维护银行体系流动性合理充裕")
}

/// The world: `per_host` feeds on each of the six hosts. Feed `j` of host `h` lists its own
/// article and one shared with feed `j` of its partner host (0↔1, 2↔3, 4↔5), so every
/// shared article reaches two daemons' hosts. Returns the servers, the config text (its
/// database still `test.db`) and the expected articles by infoCode with their titles.
struct World {
    servers: Vec<TestServer>,
    sources: String,
    expected: BTreeMap<String, String>,
    feeds: usize,
}

fn world(per_host: usize) -> World {
    let servers: Vec<TestServer> = (1..=HOSTS)
        .map(|i| TestServer::start_on(&format!("127.0.0.{i}")))
        .collect();
    let mut sources = String::new();
    let mut expected = BTreeMap::new();
    for (h, server) in servers.iter().enumerate() {
        for j in 0..per_host {
            let own = 10_000 + h * per_host + j;
            let shared = (h / 2) * per_host + j;
            let items = [(title(own), link(own)), (title(shared), link(shared))];
            let items: Vec<(&str, &str)> = items.iter().map(|(t, l)| (t.as_str(), l.as_str())).collect();
            let path = format!("/feeds/{j}.xml");
            server.set(
                &path,
                Route::rss(mini_rss(&format!("h{h}源{j}"), &items)).etag(&format!("\"h{h}f{j}\"")),
            );
            sources.push_str(&feed_source(
                &format!("h{h}-f{j}"),
                &server.url(&path),
                "kuaixun",
                &[],
            ));
            expected.insert(code(own), title(own));
            expected.insert(code(shared), title(shared));
        }
    }
    World {
        servers,
        sources,
        expected,
        feeds: HOSTS * per_host,
    }
}

/// A daemon config on the PostgreSQL database `url`: 1 request/s per host (burst 1).
fn cluster_config(url: &str, lease_period: &str, interval: &str, sources: &str) -> String {
    let mut cfg = daemon_config(&DaemonOpts {
        concurrency: 16,
        per_host: "1/s".into(),
        burst: 1,
        interval: interval.into(),
        min_interval: "1s".into(),
        ..DaemonOpts::default()
    })
    .replace(
        "database = \"test.db\"",
        &format!("database = {url:?}\nlease_period = {lease_period:?}"),
    );
    cfg.push_str(sources);
    cfg
}

/// Requests to feeds on each server, with their arrival times.
fn feed_requests(world: &World) -> Vec<Vec<Recorded>> {
    world
        .servers
        .iter()
        .map(|s| {
            s.requests()
                .into_iter()
                .filter(|r| r.path().starts_with("/feeds/"))
                .collect()
        })
        .collect()
}

/// No window of `w` seconds holds more than `burst + rate·w` of a host's requests (the
/// criterion of tests/daemon_rate_limit.rs, here over every span from one request to a
/// later one): after the burst, requests at least `1/rate` apart. 200 ms of slack for when
/// the test server reads its clock (a thread per request, on a loaded machine); two daemons
/// asking one host would put many of its 50 feeds' requests far closer than that.
fn assert_rate(host: usize, requests: &[Recorded], rate: f64, burst: usize) {
    let mut times: Vec<Instant> = requests.iter().map(|r| r.at).collect();
    times.sort();
    for (i, start) in times.iter().enumerate() {
        for (k, end) in times.iter().enumerate().skip(i) {
            let count = k - i + 1;
            let w = end.duration_since(*start).as_secs_f64();
            assert!(
                count as f64 <= burst as f64 + rate * (w + SLACK),
                "host 127.0.0.{}: {count} requests within {w:.3} s (rate {rate}/s, burst {burst})",
                host + 1
            );
        }
    }
}

/// Every article once: one row per infoCode, with the expected titles, and every listing
/// feed's sighting.
fn assert_every_article_once(pg: &PgCluster, url: &str, world: &World) {
    let rows = pg.psql(
        url,
        "SELECT info_code || '|' || title FROM articles ORDER BY info_code",
    );
    let stored: BTreeMap<String, String> = rows
        .lines()
        .filter(|l| !l.is_empty())
        .map(|l| {
            let (c, t) = l.split_once('|').expect("code|title");
            (c.to_owned(), t.to_owned())
        })
        .collect();
    let count: usize = pg
        .psql(url, "SELECT count(*) FROM articles")
        .trim()
        .parse()
        .expect("count");
    assert_eq!(count, world.expected.len(), "one row per article, none twice");
    assert_eq!(stored, world.expected, "every article, with its title");
    let sightings: usize = pg
        .psql(url, "SELECT count(*) FROM sightings")
        .trim()
        .parse()
        .expect("count");
    assert_eq!(sightings, world.feeds * 2, "every feed's two entries seen");
}

fn holders(pg: &PgCluster, url: &str) -> BTreeMap<String, BTreeSet<String>> {
    let mut by_holder: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for line in pg
        .psql(
            url,
            "SELECT holder || '|' || host FROM host_leases WHERE holder IS NOT NULL AND expires_at > now()",
        )
        .lines()
        .filter(|l| !l.is_empty())
    {
        let (holder, host) = line.split_once('|').expect("holder|host");
        by_holder
            .entry(holder.to_owned())
            .or_default()
            .insert(host.to_owned());
    }
    by_holder
}

#[test]
fn three_daemons_share_300_feeds_on_six_hosts_each_host_at_its_rate() {
    let Some(pg) = PgCluster::shared() else { return };
    let url = pg.database("cluster_three");
    let w = world(50);
    let dir = tempdir();
    // Every new article is delivered to a program that writes it to a file of its own.
    let inbox = dir.path().join("inbox");
    std::fs::create_dir_all(&inbox).expect("inbox");
    let notify = format!(
        "\n[[notify]]\nname = \"desk\"\nexec = [\"/bin/sh\", \"-c\", \"cat > {}/$$-$(date +%s%N).json\"]\n",
        inbox.display()
    );
    let sources = format!("{notify}{}", w.sources);
    let config = write_config(dir.path(), &cluster_config(&url, "6s", "90s", &sources));

    run(&config, &["migrate"]).assert_code(0);
    let mut daemons: Vec<Daemon> = (0..3).map(|_| Daemon::start(&config)).collect();
    let polled_all = daemons[0].poll_until(Duration::from_secs(240), Duration::from_millis(500), || {
        let polled: usize = feed_requests(&w)
            .iter()
            .map(|reqs| {
                reqs.iter()
                    .map(|r| r.path().to_owned())
                    .collect::<BTreeSet<_>>()
                    .len()
            })
            .sum();
        (polled == w.feeds).then_some(())
    });
    let leases = holders(pg, &url);
    let diag: String = daemons
        .iter()
        .map(|d| d.diag())
        .collect::<Vec<_>>()
        .join("\n----\n");
    assert!(polled_all.is_some(), "not every feed was polled\n{diag}");
    // Notifications: each new article once, cluster-wide (whichever daemon delivers it).
    let delivered = || -> Vec<String> {
        let mut codes: Vec<String> = std::fs::read_dir(&inbox)
            .expect("inbox")
            .filter_map(|e| std::fs::read_to_string(e.ok()?.path()).ok())
            .filter_map(|json| serde_json::from_str::<serde_json::Value>(&json).ok())
            .filter_map(|v| v["info_code"].as_str().map(str::to_owned))
            .collect();
        codes.sort();
        codes
    };
    let all_delivered = daemons[0].poll_until(Duration::from_secs(60), Duration::from_millis(500), || {
        (delivered().len() >= w.expected.len()).then_some(())
    });
    for d in &mut daemons {
        let (exit, _) = d.terminate(Duration::from_secs(15));
        assert_eq!(exit.map(|s| s.code()), Some(Some(0)), "{}", d.diag());
    }
    assert!(
        all_delivered.is_some(),
        "{} of {} notifications",
        delivered().len(),
        w.expected.len()
    );
    let expected_codes: Vec<String> = w.expected.keys().cloned().collect();
    assert_eq!(delivered(), expected_codes, "every article notified exactly once");

    // The hosts were divided: three daemons, two hosts each at the end.
    assert_eq!(leases.len(), 3, "three daemons hold hosts: {leases:?}");
    assert!(
        leases.values().all(|hosts| hosts.len() == 2),
        "two hosts each: {leases:?}"
    );
    for (h, requests) in feed_requests(&w).iter().enumerate() {
        assert_rate(h, requests, 1.0, 1);
    }
    assert_every_article_once(pg, &url, &w);
    // Each daemon polled sources (the work was shared, not done by one).
    for d in &daemons {
        assert!(
            d.stderr().contains("polled"),
            "a daemon that polled nothing:\n{}",
            d.diag()
        );
    }
}

#[test]
fn kill_9_one_of_three_its_hosts_are_polled_again_within_two_lease_periods() {
    let Some(pg) = PgCluster::shared() else { return };
    let url = pg.database("cluster_kill");
    let w = world(8);
    let dir = tempdir();
    let period = Duration::from_secs(6);
    let config = write_config(dir.path(), &cluster_config(&url, "6s", "8s", &w.sources));

    run(&config, &["migrate"]).assert_code(0);
    let mut daemons: Vec<Daemon> = (0..3).map(|_| Daemon::start(&config)).collect();
    // Wait until the hosts are spread: three holders, two hosts each.
    let spread = daemons[0].poll_until(Duration::from_secs(60), Duration::from_millis(300), || {
        let leases = holders(pg, &url);
        (leases.len() == 3 && leases.values().all(|h| h.len() == 2)).then_some(leases)
    });
    let Some(leases) = spread else {
        panic!(
            "hosts never spread over three daemons: {:?}\n{}",
            holders(pg, &url),
            daemons[0].diag()
        );
    };
    // The victim: the daemon whose id carries the first process's pid.
    let victim_pid = daemons[0].pid();
    let (victim_id, victim_hosts) = leases
        .iter()
        .find(|(id, _)| id.split(':').nth(1) == Some(&victim_pid.to_string()))
        .map(|(id, hosts)| (id.clone(), hosts.clone()))
        .unwrap_or_else(|| panic!("no lease holder with pid {victim_pid}: {leases:?}"));
    daemons[0].kill();
    let killed_at = Instant::now();

    // Each of its hosts is asked again by another daemon within two lease periods.
    let host_index = |host: &str| -> usize {
        host.rsplit('.')
            .next()
            .and_then(|n| n.parse::<usize>().ok())
            .expect("127.0.0.N")
            - 1
    };
    let resumed = daemons[1].poll_until(
        2 * period + Duration::from_secs(2),
        Duration::from_millis(200),
        || {
            let requests = feed_requests(&w);
            let after: Vec<Option<Duration>> = victim_hosts
                .iter()
                .map(|h| {
                    requests[host_index(h)]
                        .iter()
                        .filter(|r| r.at > killed_at)
                        .map(|r| r.at.duration_since(killed_at))
                        .min()
                })
                .collect();
            after.iter().all(Option::is_some).then_some(after)
        },
    );
    let Some(after) = resumed else {
        panic!(
            "hosts {victim_hosts:?} of {victim_id} not polled again: leases now {:?}\n{}",
            holders(pg, &url),
            daemons[1].diag()
        );
    };
    for (host, took) in victim_hosts.iter().zip(&after) {
        let took = took.expect("checked above");
        eprintln!("{host}: asked again {took:?} after the kill (lease period {period:?})");
        assert!(took <= 2 * period, "{host} polled again after {took:?}");
    }
    let now = holders(pg, &url);
    assert!(
        !now.contains_key(&victim_id),
        "the killed daemon holds nothing: {now:?}"
    );

    // Let every feed be polled after the kill, then stop the others.
    let since_kill = |w: &World| -> usize {
        feed_requests(w)
            .iter()
            .map(|reqs| {
                reqs.iter()
                    .filter(|r| r.at > killed_at)
                    .map(|r| r.path().to_owned())
                    .collect::<BTreeSet<_>>()
                    .len()
            })
            .sum()
    };
    let all = daemons[1].poll_until(Duration::from_secs(60), Duration::from_millis(300), || {
        (since_kill(&w) == w.feeds).then_some(())
    });
    assert!(
        all.is_some(),
        "{} of {} feeds polled after the kill",
        since_kill(&w),
        w.feeds
    );
    for d in &mut daemons[1..] {
        let (exit, _) = d.terminate(Duration::from_secs(15));
        assert_eq!(exit.map(|s| s.code()), Some(Some(0)), "{}", d.diag());
    }
    for (h, requests) in feed_requests(&w).iter().enumerate() {
        assert_rate(h, requests, 1.0, 1);
    }
    assert_every_article_once(pg, &url, &w);
}
