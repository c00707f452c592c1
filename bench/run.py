#!/usr/bin/env python3
"""feedcrawler's own benchmark: the real release binary against a loopback nginx farm.

For each size: generate the farm (bench/farm.py gen; reused when present), serve it with
nginx (separate processes: their CPU is not ours), then run `feedcrawler once` three times
under /usr/bin/time -v:

  cold      a fresh state folder (empty database): every feed is 200, parsed and stored
  warm      right after, same database: every feed should answer 304
  304-only  a third run, again all 304 (the steady state of a crawler with nothing new)

and print a Markdown table. Then the scheduler scaling step: 100,000 sources with long
intervals in `feedcrawler run`, 10,000 of them due at start: the time until those 10,000
polls are done, then the daemon's CPU and RSS over an idle window, then SIGTERM.

  python3 bench/run.py                         # sizes 2000,10000, 20 items, idle 60 s
  python3 bench/run.py --sizes 2000 --idle-seconds 20
  python3 bench/run.py --build                 # cargo build --release first
  python3 bench/run.py --no-sched              # only the once runs
  python3 bench/run.py --sizes 200 --sched-sources 0   # likewise

Work folder: $BENCH_WORK (default /tmp/fcbench). Needs nginx (apt-get install -y
nginx-light) and GNU time (apt-get install -y time). Python 3.11 standard library only.
"""

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import signal
import sqlite3
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
FARM = os.path.join(HERE, "farm.py")
sys.path.insert(0, HERE)
import farm as farmlib  # noqa: E402 - the generator's config helpers and hosts

TIME_BIN = "/usr/bin/time"
PHASES = ["cold", "warm", "304-only"]


def log(msg):
    print(f"[run] {msg}", file=sys.stderr, flush=True)


def need_tools():
    missing = []
    if not (shutil.which("nginx") or os.path.exists("/usr/sbin/nginx")):
        missing.append("nginx (apt-get install -y nginx-light)")
    if not os.path.exists(TIME_BIN):
        missing.append("GNU time at /usr/bin/time (apt-get install -y time)")
    if missing:
        sys.exit("missing: " + "; ".join(missing))


# --------------------------------------------------------------------------------------
# Farm and server
# --------------------------------------------------------------------------------------
def ensure_farm(work, size, items, seed, port):
    out = os.path.join(work, f"farm-{size}x{items}")
    try:
        with open(os.path.join(out, "manifest.json")) as fh:
            m = json.load(fh)
        if (m.get("format"), m["sources"], m["items"], m["seed"], m["port"]) == (
            farmlib.FORMAT_VERSION, size, items, seed, port,
        ):
            log(f"reusing farm {out}")
            return out, m
    except (OSError, KeyError, ValueError):
        pass
    shutil.rmtree(out, ignore_errors=True)
    log(f"generating farm {out} ({size} sources x {items} items)")
    subprocess.run(
        [sys.executable, FARM, "gen", "--sources", str(size), "--items", str(items), "--out", out,
         "--seed", str(seed), "--port", str(port)],
        check=True, stdout=subprocess.DEVNULL,
    )
    with open(os.path.join(out, "manifest.json")) as fh:
        return out, json.load(fh)


def serve(farm_dir, run_dir, workers):
    stop(run_dir)
    subprocess.run(
        [sys.executable, FARM, "serve", farm_dir, "--run", run_dir, "--workers", str(workers)],
        check=True, stdout=subprocess.DEVNULL,
    )


def stop(run_dir):
    if os.path.exists(os.path.join(run_dir, "nginx.pid")):
        subprocess.run([sys.executable, FARM, "stop", "--run", run_dir], stdout=subprocess.DEVNULL)


# --------------------------------------------------------------------------------------
# One timed `once`
# --------------------------------------------------------------------------------------
def parse_time_v(path):
    out = {}
    with open(path) as fh:
        for line in fh:
            key, _, value = line.strip().rpartition(": ")
            out[key] = value
    return {
        "user": float(out.get("User time (seconds)", "nan")),
        "sys": float(out.get("System time (seconds)", "nan")),
        "rss_kb": int(out.get("Maximum resident set size (kbytes)", "0")),
        "exit": int(out["Exit status"]) if "Exit status" in out else None,
    }


def db_counts(db, after_fetch_id):
    con = sqlite3.connect(db, timeout=30)
    try:
        articles = con.execute("SELECT count(*) FROM articles").fetchone()[0]
        statuses = dict(
            con.execute(
                "SELECT coalesce(status, 0), count(*) FROM fetches WHERE id > ? GROUP BY 1", (after_fetch_id,)
            ).fetchall()
        )
        errors = con.execute(
            "SELECT count(*) FROM fetches WHERE id > ? AND (error IS NOT NULL OR status IS NULL OR status >= 400)",
            (after_fetch_id,),
        ).fetchone()[0]
        last_id = con.execute("SELECT coalesce(max(id), 0) FROM fetches").fetchone()[0]
        return articles, statuses, errors, last_id
    finally:
        con.close()


def timed_once(binary, config, logbase, env):
    tf = logbase + ".time"
    with open(logbase + ".log", "wb") as logf:
        t0 = time.perf_counter()
        p = subprocess.run(
            [TIME_BIN, "-v", "-o", tf, binary, "--config", config, "once"],
            stdout=logf, stderr=logf, env=env,
        )
        wall = time.perf_counter() - t0
    t = parse_time_v(tf)
    t["wall"] = wall
    t["exit"] = p.returncode if t["exit"] is None else t["exit"]
    return t


def bench_size(args, work, size, env):
    farm_dir, manifest = ensure_farm(work, size, args.items, args.seed, args.port)
    run_dir = os.path.join(work, f"run-{size}x{args.items}")
    state = os.path.join(run_dir, "state")
    shutil.rmtree(state, ignore_errors=True)
    os.makedirs(state)
    shutil.copy(os.path.join(farm_dir, "feedcrawler.toml"), state)
    config = os.path.join(state, "feedcrawler.toml")
    db = os.path.join(state, "feedcrawler.db")
    serve(farm_dir, run_dir, args.nginx_workers)
    rows = []
    last_fetch, stored_before = 0, 0
    for phase in PHASES:
        log(f"{size}x{args.items} {phase}")
        t = timed_once(args.binary, config, os.path.join(run_dir, phase), env)
        articles, statuses, errors, last_fetch_after = db_counts(db, last_fetch)
        last_fetch = last_fetch_after
        new = articles - stored_before
        stored_before = articles
        rows.append({
            "size": f"{size}x{args.items}",
            "phase": phase,
            "wall": t["wall"],
            "cpu": t["user"] + t["sys"],
            "rss_mb": t["rss_kb"] / 1024,
            "sources_s": size / t["wall"],
            "articles_s": new / t["wall"] if phase == "cold" else None,
            "stored": articles,
            "expected": manifest["unique_articles"],
            "statuses": statuses,
            "errors": errors,
            "exit": t["exit"],
        })
    return rows, farm_dir, run_dir, manifest


def once_table(rows):
    out = [
        "| size | phase | wall s | CPU s (user+sys) | peak RSS MB | sources/s | articles/s | stored / expected unique | HTTP | errors (exit) |",
        "|---|---|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    for r in rows:
        http = " ".join(f"{k or 'none'}×{v}" for k, v in sorted(r["statuses"].items())) or "—"
        arts = f"{r['articles_s']:,.0f}" if r["articles_s"] is not None else "—"
        out.append(
            f"| {r['size']} | {r['phase']} | {r['wall']:.2f} | {r['cpu']:.2f} | {r['rss_mb']:.1f} | "
            f"{r['sources_s']:,.0f} | {arts} | {r['stored']:,} / {r['expected']:,} | {http} | "
            f"{r['errors']} ({r['exit']}) |"
        )
    return "\n".join(out)


# --------------------------------------------------------------------------------------
# Scheduler scaling
# --------------------------------------------------------------------------------------
def utc(t):
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def proc_cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rpartition(")")[2].split()
    # fields[0] is field 3 (state); utime and stime are fields 14 and 15.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def proc_rss_kb(pid):
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def count_fetches(db):
    con = sqlite3.connect(db, timeout=5)
    try:
        return con.execute("SELECT count(*) FROM fetches").fetchone()[0]
    except sqlite3.Error:
        return None
    finally:
        con.close()


def bench_sched(args, work, farm_dir, manifest, env, n=None, due=None, idle_seconds=None):
    n = args.sched_sources if n is None else n
    due = args.sched_due if due is None else due
    idle_seconds = args.idle_seconds if idle_seconds is None else idle_seconds
    d = os.path.join(work, f"sched-{n}")
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    hosts, port = manifest["hosts"], manifest["port"]
    if args.sched_real_feeds:
        names = sorted(os.listdir(os.path.join(farm_dir, "feeds")))
        names = [x for x in names if x != farmlib.EMPTY_FEED]
    schedule = (
        '[schedule]\ninterval = "24h"\nmin_interval = "1m"\nmax_interval = "48h"\n'
        "adaptive = false\njitter = 0.0\n"
    )
    parts = [farmlib.config_header(extra="\n" + schedule)]
    urls = []
    for i in range(n):
        path = f"feeds/{names[i % len(names)]}" if args.sched_real_feeds else manifest["empty_feed"]
        url = f"http://{hosts[i % len(hosts)]}:{port}/{path}?s={i}"
        urls.append(url)
        parts.append(farmlib.source_block(f"q{i:06d}", "feed", url))
    config = os.path.join(d, "feedcrawler.toml")
    with open(config, "w", encoding="utf-8") as fh:
        fh.write("".join(parts))
    db = os.path.join(d, "feedcrawler.db")
    # `migrate` through a config without sources: the schema is the same, and loading the
    # 100,000-source config is part of what `run` is measured on.
    migrate_config = os.path.join(d, "migrate.toml")
    with open(migrate_config, "w", encoding="utf-8") as fh:
        fh.write(farmlib.config_header())
    subprocess.run([args.binary, "--config", migrate_config, "migrate"], check=True, env=env,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    now = dt.datetime.now(dt.timezone.utc)
    past, future = utc(now - dt.timedelta(minutes=1)), utc(now + dt.timedelta(hours=12))
    step = max(1, n // max(1, due))
    due_set = set(range(0, n, step)[:due])
    con = sqlite3.connect(db)
    with con:
        con.executemany(
            "INSERT INTO sources (name, type, url, enabled, next_poll_at) VALUES (?, 'feed', ?, 1, ?)",
            ((f"q{i:06d}", urls[i], past if i in due_set else future) for i in range(n)),
        )
    con.close()
    due = len(due_set)
    log(f"scheduler: {n} sources, {due} due now; starting `run`")

    logpath = os.path.join(d, "run.log")
    logf = open(logpath, "wb")
    t0 = time.perf_counter()
    proc = subprocess.Popen([args.binary, "--config", config, "run"], stdout=logf, stderr=logf, env=env)
    result = {"sources": n, "due": due}
    try:
        started = first = done = None
        cpu_done = None
        deadline = t0 + args.sched_timeout
        seen = 0
        while time.perf_counter() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"the daemon exited with {proc.returncode}; see {logpath}")
            now_t = time.perf_counter()
            if started is None:
                with open(logpath, "rb") as fh:
                    if b"daemon started" in fh.read():
                        started = now_t
            c = count_fetches(db)
            if c:
                seen = c
                if first is None:
                    first = now_t
                if c >= due:
                    done = now_t
                    cpu_done = proc_cpu_seconds(proc.pid)
                    break
            time.sleep(0.2)
        result.update(
            startup=(started - t0) if started else None,
            to_due=(done - t0) if done else None,
            first_to_due=(done - first) if done and first else None,
            cpu_to_due=cpu_done,
            polled=seen,
        )
        if done is None:
            log(f"scheduler: only {seen} of {due} polls within {args.sched_timeout} s")
        # Settle: wait until no fetch has been added for a second (polls in flight commit).
        last, stable_since = count_fetches(db), time.perf_counter()
        while time.perf_counter() - stable_since < 1.0 and time.perf_counter() < deadline + 10:
            time.sleep(0.2)
            c = count_fetches(db)
            if c != last:
                last, stable_since = c, time.perf_counter()
        # Idle window.
        log(f"scheduler: idle window of {idle_seconds} s")
        before_fetches = count_fetches(db) or 0
        cpu0, w0 = proc_cpu_seconds(proc.pid), time.perf_counter()
        rss = []
        end = w0 + idle_seconds
        while time.perf_counter() < end:
            rss.append(proc_rss_kb(proc.pid))
            time.sleep(min(1.0, max(0.0, end - time.perf_counter())))
        rss.append(proc_rss_kb(proc.pid))
        cpu1, w1 = proc_cpu_seconds(proc.pid), time.perf_counter()
        after_fetches = count_fetches(db) or 0
        con = sqlite3.connect(db, timeout=30)
        errors = con.execute(
            "SELECT count(*) FROM fetches WHERE error IS NOT NULL OR status IS NULL OR status >= 400"
        ).fetchone()[0]
        con.close()
        result.update(
            idle_s=w1 - w0,
            idle_cpu_pct=100.0 * (cpu1 - cpu0) / (w1 - w0),
            rss_mb=rss[-1] / 1024,
            rss_max_mb=max(rss) / 1024,
            rss_per_source_kb=rss[-1] / n,
            idle_polls=after_fetches - before_fetches,
            errors=errors,
        )
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            t_term = time.perf_counter()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            result["term_s"] = time.perf_counter() - t_term
        result["exit"] = proc.returncode
        logf.close()
    return result


def sched_table(r):
    f = lambda v, fmt: "—" if v is None else format(v, fmt)  # noqa: E731
    polls_s = r["due"] / r["first_to_due"] if r.get("first_to_due") else None
    return "\n".join([
        f"| sources | due at start | start-up s | time to schedule the first {r['due']:,} polls s | polls/s | CPU s until then | idle window s | "
        "idle CPU % of one core | RSS MB (max) | RSS per source KB | polls while idle | HTTP errors | SIGTERM exit (s) |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
        f"| {r['sources']:,} | {r['due']:,} | {f(r.get('startup'), '.2f')} | {f(r.get('to_due'), '.2f')} | "
        f"{f(polls_s, ',.0f')} | {f(r.get('cpu_to_due'), '.2f')} | {f(r.get('idle_s'), '.1f')} | "
        f"{f(r.get('idle_cpu_pct'), '.2f')} | {f(r.get('rss_mb'), '.1f')} ({f(r.get('rss_max_mb'), '.1f')}) | "
        f"{f(r.get('rss_per_source_kb'), '.2f')} | {r.get('idle_polls', '—')} | {r.get('errors', '—')} | "
        f"{r.get('exit')} ({f(r.get('term_s'), '.1f')}) |",
    ])


# --------------------------------------------------------------------------------------
def machine():
    model = ""
    try:
        with open("/proc/cpuinfo") as fh:
            model = next((ln.split(":", 1)[1].strip() for ln in fh if ln.startswith("model name")), "")
    except OSError:
        pass
    return f"{platform.node()}: {os.cpu_count()} CPUs {model}, Linux {platform.release()}"


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", default="2000,10000", help="comma-separated source counts (default 2000,10000)")
    p.add_argument("--items", type=int, default=20, help="items per source (default 20)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--port", type=int, default=farmlib.DEFAULT_PORT)
    p.add_argument("--binary", default=os.path.join(REPO, "target", "release", "feedcrawler"))
    p.add_argument("--build", action="store_true", help="cargo build --release first")
    p.add_argument("--nginx-workers", default="1", help="nginx worker_processes (default 1)")
    p.add_argument("--rust-log", default=None, help="RUST_LOG for the binary (default: unset)")
    p.add_argument("--no-sched", action="store_true", help="skip the scheduler scaling step")
    p.add_argument("--sched-sources", type=int, default=100_000)
    p.add_argument("--sched-due", type=int, default=10_000)
    p.add_argument("--sched-real-feeds", action="store_true",
                   help="the scheduler's sources poll the farm's feeds (default: an empty feed, "
                        "so the step measures scheduling, not parsing)")
    p.add_argument("--sched-timeout", type=float, default=600.0)
    p.add_argument("--idle-seconds", type=float, default=60.0, help="idle window of the scheduler step")
    p.add_argument("--sched-baseline", type=int, default=10_000,
                   help="also run the scheduler step with this many sources (a tenth of them due, "
                        "idle 10 s) and report the RSS each extra source costs (0: skip)")
    args = p.parse_args()

    need_tools()
    if args.build:
        subprocess.run(["cargo", "build", "--release", "--manifest-path", os.path.join(REPO, "Cargo.toml")],
                       check=True)
    args.binary = os.path.abspath(args.binary)
    if not os.access(args.binary, os.X_OK):
        sys.exit(f"no binary at {args.binary}: cargo build --release (or pass --build / --binary)")
    work = os.environ.get("BENCH_WORK", "/tmp/fcbench")
    os.makedirs(work, exist_ok=True)
    env = dict(os.environ)
    env.pop("NOTIFY_SOCKET", None)
    if args.rust_log is not None:
        env["RUST_LOG"] = args.rust_log
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]

    header = [
        f"# feedcrawler bench ({dt.datetime.now().isoformat(timespec='seconds')})",
        "",
        f"- machine: {machine()}",
        f"- binary: {args.binary} (built {dt.datetime.fromtimestamp(os.path.getmtime(args.binary)).isoformat(timespec='seconds')})",
        f"- farm: {args.items} items per source, seed {args.seed}, nginx {args.nginx_workers} worker(s) on "
        f"{','.join(farmlib.HOSTS)}:{args.port}",
        "",
    ]
    rows, last = [], None
    run_dirs = []
    try:
        for size in sizes:
            # Every size's nginx listens on the same addresses: the previous one must go.
            for previous in run_dirs:
                stop(previous)
            r, farm_dir, run_dir, manifest = bench_size(args, work, size, env)
            rows += r
            run_dirs.append(run_dir)
            last = (farm_dir, run_dir, manifest)
            print(once_table(r), file=sys.stderr)
        sched = None
        if not args.no_sched and args.sched_sources > 0:
            if last is None:
                farm_dir, manifest = ensure_farm(work, 200, args.items, args.seed, args.port)
                run_dir = os.path.join(work, "run-sched")
                serve(farm_dir, run_dir, args.nginx_workers)
                run_dirs.append(run_dir)
                last = (farm_dir, run_dir, manifest)
            sched = bench_sched(args, work, last[0], last[2], env)
            base_n = args.sched_baseline
            if 0 < base_n < sched["sources"] and sched.get("rss_mb") is not None:
                base = bench_sched(args, work, last[0], last[2], env, n=base_n,
                                   due=max(1, args.sched_due * base_n // sched["sources"]), idle_seconds=10.0)
                if base.get("rss_mb") is not None:
                    sched["baseline"] = base
                    sched["rss_per_extra_source_kb"] = (
                        (sched["rss_mb"] - base["rss_mb"]) * 1024 / (sched["sources"] - base_n))
    finally:
        for run_dir in run_dirs:
            stop(run_dir)

    text = "\n".join(header)
    if rows:
        text += "\n## once: cold, warm, 304-only\n\n" + once_table(rows) + "\n"
    if sched:
        text += (
            f"\n## scheduler scaling ({sched['sources']:,} sources, interval 24h, {sched['due']:,} due)\n\n"
            + sched_table(sched) + "\n"
        )
        if sched.get("baseline"):
            b = sched["baseline"]
            text += (
                f"\nRSS per extra source: ({sched['rss_mb']:.1f} MB at {sched['sources']:,} sources − "
                f"{b['rss_mb']:.1f} MB at {b['sources']:,}) / {sched['sources'] - b['sources']:,} = "
                f"{sched['rss_per_extra_source_kb']:.2f} KB\n"
            )
    print(text)
    with open(os.path.join(work, "results.md"), "w") as fh:
        fh.write(text)
    log(f"written to {os.path.join(work, 'results.md')}")


if __name__ == "__main__":
    main()
