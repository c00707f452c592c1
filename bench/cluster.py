#!/usr/bin/env python3
"""Scale-out benchmark: articles stored per second by 1, 2 and 3 daemons on one PostgreSQL,
against one daemon on SQLite, on the same loopback farm (issue 16).

The farm is the shared peer benchmark's (../shared/bench/farm.py gen: N feeds × K items,
10 % wire stories in 2–3 feeds), served by one nginx on twelve loopback addresses
(127.0.0.30 … 127.0.0.41, feed i on address i mod 12): daemons divide the work by host, so
twelve hosts split evenly over 1, 2 or 3 daemons. For every case the database is new, the
sources are stored due now (a cold crawl of every feed at once: no first-poll spreading),
then the daemons (`feedcrawler run`) start together; the clock stops when
`SELECT count(*) FROM articles` reaches the farm's number of unique articles. CPU is read
from /proc when the count is reached: each daemon's own, and PostgreSQL's (the postmaster,
its backends alive and those already gone).

  python3 bench/cluster.py                       # 2000×20, cases sqlite:1 pg:1 pg:2 pg:3
  python3 bench/cluster.py --feeds 500 --cases pg:1,pg:3
  FEEDCRAWLER=target/release/feedcrawler python3 bench/cluster.py

Work folder: $BENCH_WORK (default /tmp/fcbench-cluster). Needs nginx (nginx-light),
PostgreSQL (postgresql) — installed with apt-get when missing — and a release build.
PostgreSQL runs as `nobody` when this runs as root, `synchronous_commit = off` (what
SQLite's WAL with `synchronous = NORMAL` risks too: the last commits on power loss, never
corruption), fsync on. Python 3 standard library only.
"""

import argparse
import glob
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
SHARED_FARM = os.path.join(REPO, "..", "shared", "bench", "farm.py")
HOSTS = [f"127.0.0.{i}" for i in range(30, 42)]
PORT = 8090
PG_PORT = 55490
CLK_TCK = os.sysconf("SC_CLK_TCK")

NGINX_CONF = """\
{user}worker_processes 1;
pid {run}/nginx.pid;
error_log {run}/nginx-error.log warn;
events {{ worker_connections 8192; }}
http {{
    types {{ application/rss+xml xml; }}
    access_log off;
    sendfile on;
    keepalive_timeout 60s;
    keepalive_requests 1000000;
    etag on;
    if_modified_since exact;
    client_body_temp_path {run}/tmp/body;
    proxy_temp_path {run}/tmp/proxy;
    fastcgi_temp_path {run}/tmp/fastcgi;
    uwsgi_temp_path {run}/tmp/uwsgi;
    scgi_temp_path {run}/tmp/scgi;
    server {{
{listens}
        root {root};
    }}
}}
"""


def sh(*args, **kw):
    return subprocess.run(list(args), check=True, **kw)


def need(binary, package):
    if shutil.which(binary) or os.path.exists(binary):
        return
    print(f"installing {package}", file=sys.stderr)
    sh("apt-get", "update", "-qq")
    sh("apt-get", "install", "-y", "-qq", "--no-install-recommends", package,
       env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})


def pg_bin(name):
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"),
                   key=lambda p: int(p.split("/")[4]))
    if found:
        return found[-1]
    return shutil.which(name)


def as_pg_user(args):
    """PostgreSQL refuses to run as root: run its tools as nobody then."""
    if os.geteuid() == 0:
        return ["runuser", "-u", "nobody", "--"] + args
    return args


def pg_cpu_seconds(postmaster):
    """The postmaster's CPU, its reaped children's, and that of the children alive now."""
    total = cpu_seconds(postmaster, children=True)
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
            if int(fields[1]) == postmaster:
                total += (int(fields[11]) + int(fields[12])) / CLK_TCK
        except (OSError, IndexError, ValueError):
            continue
    return total


def cpu_seconds(pid, children=False):
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])
    if children:
        ticks += int(fields[13]) + int(fields[14])
    return ticks / CLK_TCK


class Postgres:
    def __init__(self, work):
        self.dir = os.path.join(work, "pg")
        self.sock = os.path.join(work, "pgsock")
        if os.path.exists(self.dir):
            shutil.rmtree(self.dir)
        os.makedirs(self.dir)
        os.makedirs(self.sock, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.dir, "nobody")
            shutil.chown(self.sock, "nobody")
            os.chmod(work, 0o755)
        sh(*as_pg_user([pg_bin("initdb"), "-D", self.dir, "-A", "trust", "-U", "postgres",
                        "-E", "UTF8", "--no-locale"]), stdout=subprocess.DEVNULL)
        opts = (f"-p {PG_PORT} -k {self.sock} -c listen_addresses=127.0.0.1 "
                "-c synchronous_commit=off -c max_connections=200 -c shared_buffers=256MB")
        if os.environ.get("PG_STATEMENTS"):
            # Experiments: per-statement counts and times (pg_stat_statements).
            opts += " -c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.track=all"
        sh(*as_pg_user([pg_bin("pg_ctl"), "-D", self.dir, "-o", opts, "-w", "-l",
                        os.path.join(self.dir, "log"), "start"]), stdout=subprocess.DEVNULL)
        with open(os.path.join(self.dir, "postmaster.pid")) as fh:
            self.pid = int(fh.readline())

    def url(self, db):
        return f"postgres://postgres@127.0.0.1:{PG_PORT}/{db}"

    def psql(self, db, sql):
        out = subprocess.run([pg_bin("psql"), "-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1",
                              self.url(db)], input=sql, check=True, capture_output=True, text=True)
        return out.stdout.strip()

    def create(self, db):
        self.psql("postgres", f"DROP DATABASE IF EXISTS {db}")
        self.psql("postgres", f"CREATE DATABASE {db}")

    def stop(self):
        subprocess.run(as_pg_user([pg_bin("pg_ctl"), "-D", self.dir, "-m", "fast", "stop"]),
                       stdout=subprocess.DEVNULL)


def start_nginx(work, farm):
    run = os.path.join(work, "nginx")
    os.makedirs(os.path.join(run, "tmp"), exist_ok=True)
    listens = "\n".join(f"        listen {h}:{PORT} backlog=4096;" for h in HOSTS)
    conf = NGINX_CONF.format(user="user root;\n" if os.geteuid() == 0 else "", run=run,
                             root=farm, listens=listens)
    path = os.path.join(run, "nginx.conf")
    with open(path, "w") as fh:
        fh.write(conf)
    sh("nginx", "-p", run, "-c", path)
    time.sleep(0.3)
    return run


def stop_nginx(run):
    try:
        with open(os.path.join(run, "nginx.pid")) as fh:
            os.kill(int(fh.read().strip()), signal.SIGQUIT)
    except (OSError, ValueError):
        pass


def config_text(database, urls, concurrency):
    head = f"""# generated by bench/cluster.py
[daemon]
database = {json.dumps(database)}
lease_period = "6s"

[http]
concurrency = {concurrency}
respect_robots = false

[rate_limit]
per_host = "100000/s"
burst = 100000

[schedule]
interval = "1h"

[share]
follow_discovered = false
resolve = []

"""
    blocks = [f'[[source]]\nname = "farm-{i:05d}"\ntype = "feed"\nurl = "{u}"\n' for i, u in enumerate(urls)]
    return head + "\n".join(blocks)


def run_case(args, engine, daemons, urls, expected, pg, work):
    case = os.path.join(work, f"{engine}-{daemons}")
    if os.path.exists(case):
        shutil.rmtree(case)
    os.makedirs(case)
    if engine == "sqlite":
        database = os.path.join(case, "feedcrawler.db")
    else:
        db = f"bench_{daemons}"
        pg.create(db)
        database = pg.url(db)
    conf = os.path.join(case, "feedcrawler.toml")
    with open(conf, "w") as fh:
        fh.write(config_text(database, urls, args.concurrency))
    sh(args.feedcrawler, "--config", conf, "migrate", stdout=subprocess.DEVNULL)
    # Every source stored due a second ago: the daemons poll them all at once.
    past = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 1))
    rows = [(f"farm-{i:05d}", u, past) for i, u in enumerate(urls)]
    if engine == "sqlite":
        con = sqlite3.connect(database)
        con.executemany("INSERT INTO sources (name, type, url, enabled, next_poll_at) VALUES (?, 'feed', ?, 1, ?)", rows)
        con.commit()
        con.close()
        count = lambda: sqlite3.connect(database).execute("SELECT count(*) FROM articles").fetchone()[0]
    else:
        values = ",".join(f"('{n}', 'feed', '{u}', 1, '{p}')" for n, u, p in rows)
        pg.psql(db, f"INSERT INTO sources (name, type, url, enabled, next_poll_at) VALUES {values}")
        count = lambda: int(pg.psql(db, "SELECT count(*) FROM articles"))
        if args.pg_sql:
            pg.psql(db, args.pg_sql)
        pg_cpu0 = pg_cpu_seconds(pg.pid)
    procs = []
    t0 = time.monotonic()
    for i in range(daemons):
        err = open(os.path.join(case, f"daemon{i}.log"), "w")
        procs.append(subprocess.Popen([args.feedcrawler, "--config", conf, "run"],
                                      stdout=subprocess.DEVNULL, stderr=err))
    stored, deadline = 0, t0 + args.timeout
    while time.monotonic() < deadline:
        try:
            stored = count()
        except (sqlite3.Error, subprocess.CalledProcessError):
            stored = 0
        if stored >= expected:
            break
        # count(*) costs PostgreSQL ~30 ms at 37,000 rows: once a second is little load.
        time.sleep(1.0)
    wall = time.monotonic() - t0
    cpu = [cpu_seconds(p.pid) for p in procs]
    pg_cpu = pg_cpu_seconds(pg.pid) - pg_cpu0 if engine == "pg" else 0.0
    for p in procs:
        p.send_signal(signal.SIGTERM)
    for p in procs:
        p.wait(timeout=60)
    return {
        "engine": engine, "daemons": daemons, "articles": stored, "expected": expected,
        "wall_s": round(wall, 2), "articles_per_s": round(stored / wall, 1),
        "daemon_cpu_s": round(sum(cpu), 2), "db_cpu_s": round(pg_cpu, 2),
        "daemon_cpu_us_per_article": round(sum(cpu) / max(stored, 1) * 1e6),
        "db_cpu_us_per_article": round(pg_cpu / max(stored, 1) * 1e6),
        "complete": stored >= expected,
    }


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--feeds", type=int, default=2000)
    p.add_argument("--items", type=int, default=20)
    p.add_argument("--cases", default="sqlite:1,pg:1,pg:2,pg:3")
    p.add_argument("--concurrency", type=int, default=32)
    p.add_argument("--timeout", type=float, default=600)
    p.add_argument("--pg-sql", help="experiments: SQL run on each PostgreSQL database after its migration")
    p.add_argument("--feedcrawler", default=os.environ.get(
        "FEEDCRAWLER", os.path.join(REPO, "target", "release", "feedcrawler")))
    args = p.parse_args()
    work = os.environ.get("BENCH_WORK", "/tmp/fcbench-cluster")
    os.makedirs(work, exist_ok=True)
    need("nginx", "nginx-light")
    if not pg_bin("initdb"):
        need("/usr/lib/postgresql", "postgresql")
    farm = os.path.join(work, f"farm-{args.feeds}x{args.items}")
    if not os.path.exists(os.path.join(farm, "manifest.json")):
        sh(sys.executable, SHARED_FARM, "gen", "--feeds", str(args.feeds), "--items", str(args.items),
           "--out", farm, stdout=subprocess.DEVNULL)
    expected = json.load(open(os.path.join(farm, "manifest.json")))["unique_articles"]
    urls = [f"http://{HOSTS[i % len(HOSTS)]}:{PORT}/feeds/{i:05d}.xml" for i in range(args.feeds)]
    nginx = start_nginx(work, farm)
    pg = None
    results = []
    try:
        cases = [(c.split(":")[0], int(c.split(":")[1])) for c in args.cases.split(",")]
        if any(e == "pg" for e, _ in cases):
            pg = Postgres(work)
        for engine, n in cases:
            r = run_case(args, engine, n, urls, expected, pg, work)
            print(json.dumps(r), file=sys.stderr)
            results.append(r)
    finally:
        stop_nginx(nginx)
        if pg:
            pg.stop()
    base = next((r for r in results if r["engine"] == "pg" and r["daemons"] == 1), None)
    print(f"\nfarm {args.feeds}×{args.items} ({expected} unique articles), {len(HOSTS)} hosts, "
          f"{os.cpu_count()} cores, [http] concurrency {args.concurrency} per daemon\n")
    print("| database | daemons | wall s | articles/s | vs 1 on PG | daemon CPU µs/article | PostgreSQL CPU µs/article |")
    print("|---|---|---|---|---|---|---|")
    for r in results:
        vs = f"{r['articles_per_s'] / base['articles_per_s']:.2f}×" if base and r["engine"] == "pg" else "–"
        db_cpu = str(r["db_cpu_us_per_article"]) if r["engine"] == "pg" else "(in the daemon)"
        done = "" if r["complete"] else f" (only {r['articles']} of {r['expected']})"
        print(f"| {'PostgreSQL' if r['engine'] == 'pg' else 'SQLite'} | {r['daemons']} | {r['wall_s']}{done} | "
              f"{r['articles_per_s']} | {vs} | {r['daemon_cpu_us_per_article']} | {db_cpu} |")


if __name__ == "__main__":
    main()
