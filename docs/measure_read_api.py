#!/usr/bin/env python3
"""Figures for docs/schema.md and the README's "Querying the database" section.

Builds a synthetic feedcrawler database from migrations/*.sql (N articles of ~400 Chinese
characters, 1-3 sightings each, a few outlets, the word 股市 in ~1 % of the articles and a
rare word in one old article), and prints:

  1. the CPU cost (process time: the machine may be shared) of migration 0014's change-log triggers on the crawl's writes: the same
     inserts (articles + sightings, 1,000 per transaction, then one "seen again" update per
     article) with the migrations before 0014 and with all of them;
  2. the time of each cookbook query of docs/schema.md on the full database.

Usage: python3 docs/measure_read_api.py [N]   (default 200000; uses /tmp)
"""
import os
import random
import re
import sqlite3
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
N = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
random.seed(14)
POOL = "的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可也你对" \
       "经济工业金融市场银行证券投资企业发展增长政策资金价格指数板块公司营收利润季度同比" \
       "上涨下跌交易监管改革创新制造消费出口汽车能源科技数据报告记者日前表示认为预计"
OUTLETS = ["证券日报网", "上海证券报", "中国证券报", "第一财经", "财联社", None]


def text(i):
    body = "".join(random.choice(POOL) for _ in range(400))
    if i % 97 == 0:
        body = body[:200] + "股市" + body[200:]
    if i == 10:
        body = body[:100] + "稀土永磁" + body[100:]
    return body


def migrations(upto_0014):
    files = sorted(f for f in os.listdir(os.path.join(ROOT, "migrations")) if f.endswith(".sql"))
    if not upto_0014:
        files = [f for f in files if f < "0014"]
    return [open(os.path.join(ROOT, "migrations", f), encoding="utf-8").read() for f in files]


def build(path, with_0014, rows):
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(path + suffix):
            os.remove(path + suffix)
    con = sqlite3.connect(path, isolation_level=None)
    con.executescript("PRAGMA page_size=16384; PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;")
    for sql in migrations(with_0014):
        con.executescript(sql)
    con.executescript("".join(
        f"INSERT INTO sources (name, type, url) VALUES ('s{i}', 'feed', 'http://example.org/{i}.xml');"
        for i in range(50)))
    # The rows wait in temporary tables, so that the timed statements are SQLite's work
    # alone, as the crawler's prepared statements are (Python's per-call overhead grows
    # with triggers on the table and would swamp the figure).
    con.execute("CREATE TEMP TABLE gen (i INTEGER PRIMARY KEY, title, body, published, outlet, now)")
    con.execute("CREATE TEMP TABLE gen_sightings (i INTEGER, source_id INTEGER, now)")
    con.executemany("INSERT INTO gen VALUES (?, ?, ?, ?, ?, ?)",
                    ((i + 1, r[0], r[1], r[2], r[3], r[4]) for i, r in enumerate(rows)))
    con.executemany("INSERT INTO gen_sightings VALUES (?, ?, ?)",
                    ((i + 1, s, r[4]) for i, r in enumerate(rows) for s in r[5]))
    con.execute("CREATE INDEX gen_sightings_i ON gen_sightings(i)")
    started = time.process_time()
    for start in range(1, N + 1, 1000):
        con.execute("BEGIN IMMEDIATE")
        con.execute(
            "INSERT INTO articles (id, dedup_key, title, url, published_at, published_local, media, tags,"
            " content_html, content_text, content_hash, content_rank, first_seen_at, last_seen_at)"
            " SELECT i, 'url:http://example.org/' || i, title, 'http://example.org/' || i, published,"
            " published, outlet, '[]', '<p>' || body || '</p>', body, printf('%064x', i), 2, now, now"
            " FROM gen WHERE i >= ?1 AND i < ?1 + 1000 ORDER BY i", (start,))
        con.execute(
            "INSERT INTO sightings (article_id, source_id, first_seen_at, last_seen_at)"
            " SELECT i, source_id, now, now FROM gen_sightings WHERE i >= ?1 AND i < ?1 + 1000", (start,))
        con.execute("COMMIT")
    inserted = time.process_time() - started
    started = time.process_time()
    for start in range(1, N + 1, 1000):
        con.execute("BEGIN IMMEDIATE")
        con.execute("UPDATE articles SET last_seen_at = '2026-12-03T11:00:00Z' WHERE id >= ?1 AND id < ?1 + 1000",
                    (start,))
        con.execute("COMMIT")
    seen_again = time.process_time() - started
    con.execute("INSERT INTO articles_fts(rowid, title, content_text) SELECT id, title, content_text FROM articles")
    con.execute("UPDATE fts_progress SET indexed_upto = (SELECT max(id) FROM articles)")
    con.execute("ANALYZE")
    con.close()
    return inserted, seen_again


def main():
    rows = []
    for i in range(N):
        t = 1650000000 + i * 60
        published = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t + 30))
        sources = random.sample(range(1, 51), random.choice([1, 1, 1, 2, 3]))
        rows.append((f"第{i}条 " + text(i)[:20], text(i), published, OUTLETS[i % len(OUTLETS)], now, sources))
    print(f"{N} articles, {sum(len(r[5]) for r in rows)} sightings")
    for label, with_0014 in (("migrations 0001-0012", False), ("with 0014 (change log)", True)):
        inserted, seen_again = build(f"/tmp/read_api_{int(with_0014)}.db", with_0014, rows)
        print(f"{label}: insert {inserted:.2f} s ({N / inserted:,.0f} articles/s), "
              f"seen-again updates {seen_again:.2f} s")

    doc = open(os.path.join(ROOT, "docs", "schema.md"), encoding="utf-8").read()
    queries = dict((m.group(2), m.group(1)) for m in
                   re.finditer(r"```sql\n(-- name: (\w+)\n.*?)\n```", doc, re.S))
    params = {
        "newest_of_outlet": [{"media": "证券日报网"}],
        "newest_of_source": [{"source": "s7"}],
        "seen_by_several": [{}],
        "search_phrase": [{"phrase": "稀土永磁"}, {"phrase": "经济增长"}],
        "search_short_word": [{"word": "股市"}, {"word": "稀土"}, {"word": "房价"}],
        "source_health": [{}],
        "changed_since": [{"since": "2026-12-03T10:59:00Z"}],
        "changes_after": [{"cursor": N * 2}],
        "revisions": [{"article_id": 12345}],
    }
    con = sqlite3.connect("file:/tmp/read_api_1.db?mode=ro", uri=True)
    for name, sql in queries.items():
        for p in params[name]:
            started = time.process_time()
            n = len(con.execute(sql, p).fetchall())
            ms = (time.process_time() - started) * 1000
            print(f"{name} {p}: {n} rows, {ms:.1f} ms")
        plan = [r[3] for r in con.execute("EXPLAIN QUERY PLAN " + sql, params[name][0])]
        print("    plan: " + " | ".join(plan))


main()
