//! `feedcrawler export --format jsonl` (CONTRACT §5): one JSON object per article with the
//! `articles` columns (tags as an array) and the names of the sources that saw it,
//! streamed: over 100,000 generated articles the export's peak RSS stays under 64 MB
//! (the figure is printed; README "Export" records it).

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::*;

/// A database made by `feedcrawler migrate`, filled with `n` generated articles: article
/// `i` (1-based) is titled `第{i}篇 …`, has an infoCode when `i` is even, and is seen by
/// `src-a` always and by `src-b` when `i` is a multiple of 3.
fn generated_db(dir: &Path, n: i64) -> std::path::PathBuf {
    let config = write_config(dir, &base_config());
    run(&config, &["migrate"]).assert_code(0);
    let mut conn = open_db(&db_path(dir));
    let tx = conn.transaction().unwrap();
    tx.execute_batch(
        "INSERT INTO sources (id, name, type, url) VALUES
           (1, 'src-a', 'feed', 'https://a.example/rss'),
           (2, 'src-b', 'feed', 'https://b.example/rss');",
    )
    .unwrap();
    {
        let mut art = tx
            .prepare(
                "INSERT INTO articles (id, dedup_key, info_code, title, url, published_at,
                   published_local, media, category, tags, summary, content_html, content_text,
                   content_hash, revision, first_seen_at, last_seen_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, '证券日报网', 'zhengquanribaowang', ?8, NULL,
                   ?9, ?10, 'h', 1, '2024-03-01T00:00:00Z', '2024-03-02T00:00:00Z')",
            )
            .unwrap();
        let mut saw = tx
            .prepare(
                "INSERT INTO sightings (article_id, source_id, entry_guid, entry_url, first_seen_at, last_seen_at)
                 VALUES (?1, ?2, NULL, NULL, '2024-03-01T00:00:00Z', '2024-03-02T00:00:00Z')",
            )
            .unwrap();
        // About 1.2 KB of text per article, as a short news item.
        let para = "工业和信息化部新闻发言人表示，一季度工业经济实现平稳开局，工业和信息化发展取得积极成效。"
            .repeat(4);
        for i in 1..=n {
            let info = (i % 2 == 0).then(|| format!("NW2024{i:012}"));
            let key = info.as_ref().map_or_else(
                || format!("url:https://example.org/a/{i}"),
                |c| format!("info:{c}"),
            );
            // One article a minute from 2024-01-01T00:00:00Z.
            let t = chrono::DateTime::from_timestamp(1_704_067_200 + i * 60, 0).unwrap();
            let utc = t.format("%Y-%m-%dT%H:%M:%SZ").to_string();
            let local = (t + chrono::Duration::hours(8))
                .format("%Y-%m-%dT%H:%M:%S+08:00")
                .to_string();
            art.execute(rusqlite::params![
                i,
                key,
                info,
                format!("第{i}篇 \"工业\" 新闻"),
                format!("https://example.org/a/{i}"),
                utc,
                local,
                format!("[\"证券日报网新闻\",\"t{}\"]", i % 3),
                format!("<p>{para}</p>"),
                para,
            ])
            .unwrap();
            saw.execute(rusqlite::params![i, 1]).unwrap();
            if i % 3 == 0 {
                saw.execute(rusqlite::params![i, 2]).unwrap();
            }
        }
    }
    tx.commit().unwrap();
    config
}

fn export(config: &Path, out: &str, extra: &[&str]) -> Output {
    let mut args: Vec<String> = vec!["--config".into(), config.display().to_string()];
    for a in ["export", "--format", "jsonl", "--out", out].iter().chain(extra) {
        args.push(a.to_string());
    }
    let cwd = config.parent().unwrap();
    run_raw(&args, cwd, &[], Duration::from_secs(300))
}

#[test]
fn one_hundred_thousand_articles_stream_in_flat_memory() {
    let dir = tempdir();
    let started = Instant::now();
    let config = generated_db(dir.path(), 100_000);
    eprintln!("generated 100,000 articles in {:?}", started.elapsed());
    let db_mb = std::fs::metadata(db_path(dir.path())).unwrap().len() as f64 / 1e6;

    // The same export over the last ~1,000 articles: the baseline of the process.
    let small = dir.path().join("small.jsonl");
    let small_out = export(&config, small.to_str().unwrap(), &["--since", "2024-03-10"]);
    small_out.assert_code(0);

    let file = dir.path().join("all.jsonl");
    let out = export(&config, file.to_str().unwrap(), &[]);
    let _diag = out.on_panic();
    out.assert_code(0);
    let text = std::fs::read_to_string(&file).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 100_000);
    assert!(text.ends_with('\n'));

    let first: Value = serde_json::from_str(lines[0]).unwrap();
    let para =
        "工业和信息化部新闻发言人表示，一季度工业经济实现平稳开局，工业和信息化发展取得积极成效。".repeat(4);
    assert_eq!(
        first,
        json!({
            "id": 1,
            "dedup_key": "url:https://example.org/a/1",
            "info_code": null,
            "title": "第1篇 \"工业\" 新闻",
            "url": "https://example.org/a/1",
            "share_url": null,
            "published_at": "2024-01-01T00:01:00Z",
            "published_local": "2024-01-01T08:01:00+08:00",
            "updated_at": null,
            "author": null,
            "media": "证券日报网",
            "category": "zhengquanribaowang",
            "tags": ["证券日报网新闻", "t1"],
            "summary": null,
            "content_html": format!("<p>{para}</p>"),
            "content_text": para,
            "content_hash": "h",
            "language": null,
            "revision": 1,
            "first_seen_at": "2024-03-01T00:00:00Z",
            "last_seen_at": "2024-03-02T00:00:00Z",
            "sources": ["src-a"],
        })
    );
    // The last one: even (an infoCode), not a multiple of 3; 99,999 minutes after the
    // first (2024 is a leap year: 69 days, 10 h 40 min after 2024-01-01T00:01:00Z).
    let last: Value = serde_json::from_str(lines[99_999]).unwrap();
    assert_eq!(last["id"], json!(100_000));
    assert_eq!(last["info_code"], json!("NW2024000000100000"));
    assert_eq!(last["published_at"], json!("2024-03-10T10:40:00Z"));
    assert_eq!(last["sources"], json!(["src-a"]));
    let third: Value = serde_json::from_str(lines[2]).unwrap();
    assert_eq!(third["sources"], json!(["src-a", "src-b"]));
    assert_eq!(third["tags"], json!(["证券日报网新闻", "t0"]));
    assert_eq!(
        lines
            .iter()
            .filter(|l| l.contains("\"sources\":[\"src-a\",\"src-b\"]"))
            .count(),
        33_333
    );
    // Internal merge state is not part of the export.
    assert!(first.get("content_rank").is_none());

    let small_text = std::fs::read_to_string(&small).unwrap();
    // Since 2024-03-10 in Asia/Shanghai = 2024-03-09T16:00:00Z, 1,120 minutes before the
    // last article: articles 98,880 to 100,000.
    assert_eq!(small_text.lines().count(), 1_121);
    let small_peak_mb = small_out.peak_rss_kb.unwrap_or(0) as f64 / 1024.0;

    let peak_mb = out.peak_rss_kb.expect("peak RSS read from /proc") as f64 / 1024.0;
    let mb_per_s = std::fs::metadata(&file).unwrap().len() as f64 / 1e6 / out.elapsed.as_secs_f64();
    eprintln!(
        "jsonl export of 100,000 articles ({db_mb:.0} MB database, {:.0} MB of JSON Lines): \
         {:?}, {mb_per_s:.0} MB/s, peak RSS {peak_mb:.1} MB; 1,121 articles: peak RSS \
         {small_peak_mb:.1} MB (debug build)",
        text.len() as f64 / 1e6,
        out.elapsed
    );
    assert!(peak_mb < 64.0, "peak RSS {peak_mb:.1} MB");
}

#[test]
fn stdout_source_filter_and_errors() {
    let dir = tempdir();
    let config = generated_db(dir.path(), 10);
    let out = export(&config, "-", &["--source", "src-b"]);
    let _diag = out.on_panic();
    out.assert_code(0);
    let ids: Vec<i64> = out
        .stdout
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap()["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, vec![3, 6, 9]);
    assert!(out.stderr.contains("exported 3 articles"), "{}", out.diag());

    let out = export(&config, "/nonexistent-dir/x.jsonl", &[]);
    out.assert_code(1);
    assert!(
        out.stderr.contains("cannot write /nonexistent-dir/x.jsonl"),
        "{}",
        out.diag()
    );
    let out = export(&config, "-", &["--since", "2024-02-30"]);
    out.assert_code(2);
    assert!(out.stderr.contains("is not a date"), "{}", out.diag());
    assert!(out.stdout.is_empty());
}
