#!/usr/bin/env python3
"""pipeline.py: the driver of the pipeline benchmark (run it through
pipeline.sh; see tests/bench/README.md, "Benchmark: the whole pipeline").

On one machine and in one run: a moto_server (tests/ddb/moto_ctl.py), the
fake Twitter stream server (tests/stream/fake_stream.py, scripted: each run
gets its own connection that sends the corpus once and then stays open), and
three writers of the same tweets into tables of their own on that moto:
  tweetmatch   `tweetmatch run` with the default rule, FILTER="cloud computing"
               (stopped with SIGTERM once it has written every item);
  reused       the original Python logic, one boto3 resource reused;
  published    the original Python logic as published, a boto3 resource per
               tweet (over a prefix of the corpus: it is slow).
The corpus is gen_corpus.py's realistic v1.1 tweets, every one of them
saying "cloud computing" (--match-fraction 1), as Twitter's filtered stream
delivers only matching tweets: every tweet read is an item written, for all
three. Each writer's CPU (user + system, from wait4, start-up included) and
peak RSS are its own process's; moto's CPU is shown apart. Rows are counted
in each table afterwards: a run that did not write all its items fails.
"""
import argparse
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "stream"))
sys.path.insert(0, os.path.join(ROOT, "tests", "ddb"))
import awsjson  # noqa: E402
import fake_stream  # noqa: E402
from moto_ctl import Moto  # noqa: E402

REGION = "us-east-1"
# tweetmatch runs with the container image's environment (docker/Dockerfile):
# GnuTLS, which Debian's libcurl loads for librtmp only, skips its start-up.
IMAGE_ENV = {"GNUTLS_NO_IMPLICIT_INIT": "1"}
GOALS = {"published": 100.0, "reused": 50.0}
RSS_GOAL_KIB = 10 * 1024


class RunError(Exception):
    pass


def status_kib(pid):
    """VmHWM (peak RSS so far) and RssAnon (anonymous memory now) of a
    process, in KiB; None once it is gone."""
    try:
        with open("/proc/%d/status" % pid) as f:
            v = {l.split(":")[0]: int(l.split()[1]) for l in f if l.startswith(("VmHWM:", "RssAnon:"))}
        return v["VmHWM"], v["RssAnon"]
    except (OSError, KeyError, ValueError):
        return None


class PeakRss:
    """Samples VmHWM every 20 ms until the process exits. ru_maxrss from
    wait4 would not do: a child forked (or vforked) from this big Python
    process inherits its high-water mark across exec."""

    def __init__(self, pid):
        self.pid, self.kib, self.anon_kib = pid, 0, 0
        self.stop = threading.Event()
        self.th = threading.Thread(target=self.run, daemon=True)
        self.th.start()

    def sample(self):
        v = status_kib(self.pid)
        if v:
            self.kib = max(self.kib, v[0])
            self.anon_kib = max(self.anon_kib, v[1])
        return v

    def run(self):
        while not self.stop.is_set() and self.sample() is not None:
            time.sleep(0.02)

    def done(self):
        self.stop.set()
        self.th.join()
        return self.kib, self.anon_kib


def rusage_of(pid):
    """Exit code, CPU seconds (user + system) and the two apart, of a child,
    waited for."""
    _, status, ru = os.wait4(pid, 0)
    return os.waitstatus_to_exitcode(status), ru.ru_utime + ru.ru_stime, (ru.ru_utime, ru.ru_stime)


def count_rows(client, table):
    n, start = 0, None
    while True:
        body = {"TableName": table, "Select": "COUNT"}
        if start:
            body["ExclusiveStartKey"] = start
        doc = client.call("Scan", body)
        n += doc.get("Count", 0)
        start = doc.get("LastEvaluatedKey")
        if not start:
            return n


def run_tweetmatch(binary, url, endpoint, table, count, tmp, extra_env):
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "DYNAMODBTABLE": table, "AWSREGION": REGION,
           "FILTER": "cloud computing", "STREAM_URL": url, "AWS_ENDPOINT_URL_DYNAMODB": endpoint,
           "AWS_ACCESS_KEY_ID": "AKIDBENCH", "AWS_SECRET_ACCESS_KEY": "bench-secret",
           "AWS_EC2_METADATA_DISABLED": "true", "STATS_INTERVAL_SECONDS": "1",
           "HEALTH_FILE": os.path.join(tmp, "health-%s.json" % table)}
    env.update(IMAGE_ENV)
    env.update(extra_env)
    err = open(os.path.join(tmp, "%s.stderr" % table), "wb")
    t0 = time.time()
    p = subprocess.Popen([binary, "run"], env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err)
    peak = PeakRss(p.pid)
    done = threading.Event()
    last = {}
    log = open(os.path.join(tmp, "%s.log" % table), "wb")

    def reader():
        for raw in p.stdout:
            log.write(raw)
            try:
                e = json.loads(raw)
            except ValueError:
                continue
            if e.get("event") == "stats":
                e["max_queue"] = max(last.get("max_queue", 0), e["queue_depth"])
                last.update(e)
                if e["written"] + e["dead_letter"] >= count and e["queue_depth"] == 0:
                    done.set()
    th = threading.Thread(target=reader, daemon=True)
    th.start()
    finished = done.wait(600)
    wall = time.time() - t0
    peak.sample()
    p.send_signal(signal.SIGTERM)
    code, cpu, (user, system) = rusage_of(p.pid)
    rss, anon = peak.done()
    p.returncode = code
    th.join(10)
    log.close()
    err.close()
    if not finished or code != 0:
        raise RunError("tweetmatch: %s (exit %s); see %s" % ("did not finish" if not finished else "failed", code,
                                                             log.name))
    if last.get("items") != count or last.get("dead_letter"):
        raise RunError("tweetmatch: items %s, dead letters %s, expected %d items" % (
            last.get("items"), last.get("dead_letter"), count))
    return {"wall_s": wall, "cpu_s": cpu, "user_s": user, "sys_s": system, "rss_kib": rss, "anon_kib": anon,
            "max_queue": last.get("max_queue")}


def run_floor(floor, endpoint):
    """Peak RSS of tm_rss_floor (tests/bench/rss_floor.c): tweetmatch's
    libraries, libcurl initialised, one HTTP request; nothing else."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    env.update(IMAGE_ENV)
    out = subprocess.run([floor, endpoint + "/"], env=env, capture_output=True, text=True, timeout=60)
    if out.returncode != 0:
        raise RunError("tm_rss_floor failed: %s" % out.stderr.strip())
    hwm, anon, _ = (int(x) for x in out.stdout.split())
    return {"rss_kib": hwm, "anon_kib": anon}


def run_original(mode, url, endpoint, table, count, tmp):
    env = dict(os.environ, AWS_ACCESS_KEY_ID="AKIDBENCH", AWS_SECRET_ACCESS_KEY="bench-secret",
               AWS_EC2_METADATA_DISABLED="true")
    for k in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB"):
        env.pop(k, None)
    out = open(os.path.join(tmp, "%s.out" % table), "wb")
    t0 = time.time()
    p = subprocess.Popen([sys.executable, os.path.join(HERE, "pipeline_original.py"), "--mode", mode, "--url", url,
                          "--table", table, "--region", REGION, "--endpoint", endpoint, "--count", str(count)],
                         env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
    peak = PeakRss(p.pid)
    code, cpu, (user, system) = rusage_of(p.pid)
    rss, anon = peak.done()
    p.returncode = code
    wall = time.time() - t0
    out.close()
    if code != 0:
        with open(out.name, encoding="utf-8", errors="replace") as f:
            raise RunError("original (%s) failed (exit %d): %s" % (mode, code, f.read()[-2000:]))
    return {"wall_s": wall, "cpu_s": cpu, "user_s": user, "sys_s": system, "rss_kib": rss, "anon_kib": anon}


def main(argv):
    ap = argparse.ArgumentParser(description="the pipeline benchmark (see tests/bench/README.md)")
    ap.add_argument("--tweetmatch", required=True)
    ap.add_argument("--floor", help="tm_rss_floor (default: tests/tm_rss_floor beside the binary's build)")
    ap.add_argument("--tweets", type=int, default=5000)
    ap.add_argument("--published-tweets", type=int, default=300)
    ap.add_argument("--reps", type=int, default=1)
    ap.add_argument("--seed", type=int)
    ap.add_argument("--corpus")
    ap.add_argument("--json")
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--ddb-server", choices=("keepalive", "moto_server"), default="keepalive",
                    help="moto behind an HTTP/1.1 keep-alive server as DynamoDB keeps connections (default), "
                         "or moto_server, which closes the connection after every answer")
    ap.add_argument("--writers", default="tweetmatch,reused,published",
                    help="which writers to run, comma-separated (default: all three; tweetmatch is always run)")
    ap.add_argument("--env", action="append", default=[], metavar="NAME=VALUE",
                    help="an environment variable for tweetmatch run (tuning: DDB_QUEUE_MAX=1000)")
    a = ap.parse_args(argv)
    kinds = [k for k in ("tweetmatch", "reused", "published") if k == "tweetmatch" or k in a.writers.split(",")]
    unknown = set(a.writers.split(",")) - {"tweetmatch", "reused", "published"}
    if unknown:
        ap.error("--writers: unknown writer %s (tweetmatch, reused, published)" % ", ".join(sorted(unknown)))
    extra_env = {}
    for kv in a.env:
        if "=" not in kv:
            ap.error("--env takes NAME=VALUE")
        k, v = kv.split("=", 1)
        extra_env[k] = v
    tmp = tempfile.mkdtemp(prefix="tm-pipeline-")
    if a.corpus:
        corpus = a.corpus
    else:
        corpus = os.path.join(tmp, "corpus.ndjson")
        cmd = [sys.executable, os.path.join(HERE, "gen_corpus.py"), str(a.tweets), corpus, "--match-fraction", "1"]
        if a.seed is not None:
            cmd += ["--seed", str(a.seed)]
        print("generating %d tweets that all match ..." % a.tweets, file=sys.stderr)
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    with open(corpus, encoding="utf-8") as f:
        lines = [l.rstrip("\r\n") for l in f if l.strip()]
    n = min(a.tweets, len(lines))
    m = min(a.published_tweets, n)
    lines = lines[:n]
    # tweetmatch writes the tweets its rule keeps: the corpus must be all
    # matches for the three to write the same items.
    chk = subprocess.run([a.tweetmatch, "test", os.path.join(ROOT, "scripts", "filter.lua"), "-"],
                         input="\n".join(lines).encode(), capture_output=True, env=dict(os.environ,
                         FILTER="cloud computing"))
    matched = len(chk.stdout.splitlines())
    if matched != n:
        raise SystemExit("pipeline.py: the default rule keeps %d of the %d tweets: use a corpus whose every tweet "
                         "says \"cloud computing\"" % (matched, n))
    mb = sum(len(l) + 1 for l in lines) / 1e6
    floor = a.floor or os.path.join(os.path.dirname(os.path.abspath(a.tweetmatch)), "tests", "tm_rss_floor")
    if not os.access(floor, os.X_OK):
        raise SystemExit("pipeline.py: no tm_rss_floor at %s (build the tests: cmake --build build)" % floor)
    floors = []

    argv = None
    if a.ddb_server == "keepalive":
        argv = lambda port: [sys.executable, os.path.join(HERE, "moto_keepalive.py"), str(port)]
    moto = Moto(log_path=os.path.join(tmp, "moto.log"), argv=argv).start()
    client = awsjson.Client(moto.port, region=REGION)
    endpoint = "http://127.0.0.1:%d" % moto.port
    servers = []
    results = {k: [] for k in kinds}
    try:
        for rep in range(a.reps):
            for kind in kinds:
                count = m if kind == "published" else n
                table = "bench_%s_%d" % (kind, rep)
                client.create_table(table, hash_key="id")
                srv = fake_stream.Server({"stream_path": "/stream", "connections": [
                    [{"respond": 200}, {"lines": lines[:count], "split": "random", "max_chunk": 16384},
                     {"hold": True}]]}).start()
                servers.append(srv)
                print("run %d/%d: %-10s %5d tweets ..." % (rep + 1, a.reps, kind, count), file=sys.stderr)
                moto_cpu0 = moto.cpu_seconds()
                if kind == "tweetmatch":
                    r = run_tweetmatch(a.tweetmatch, srv.url(), endpoint, table, count, tmp, extra_env)
                else:
                    r = run_original(kind, srv.url(), endpoint, table, count, tmp)
                r["moto_cpu_s"] = moto.cpu_seconds() - moto_cpu0
                rows = count_rows(client, table)
                if rows != count:
                    raise RunError("%s: %d rows in %s, expected %d" % (kind, rows, table, count))
                r["items"] = rows
                results[kind].append(r)
                srv.stop()
            floors.append(run_floor(floor, endpoint))
    except RunError as e:
        print("pipeline.py: %s" % e, file=sys.stderr)
        return 1
    finally:
        for s in servers:
            s.stop()
        moto.stop()
        if not a.keep:
            import shutil
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print("kept %s" % tmp, file=sys.stderr)

    med = {}
    for kind, rs in results.items():
        med[kind] = {k: statistics.median(r[k] for r in rs) for k in ("wall_s", "cpu_s", "rss_kib", "moto_cpu_s")}
        med[kind]["items"] = rs[0]["items"]
        med[kind]["cpu_us_per_item"] = 1e6 * med[kind]["cpu_s"] / med[kind]["items"]
        med[kind]["peak_rss_kib"] = max(r["rss_kib"] for r in rs)
        med[kind]["peak_anon_kib"] = max(r["anon_kib"] for r in rs)
    tm = med["tweetmatch"]
    print()
    print("tweetmatch pipeline benchmark: fake stream -> writer -> moto_server, one machine, %s" % (
          "median of %d runs" % a.reps if a.reps > 1 else "one run"))
    print("corpus: %d tweets, %.1f MB, every one matching FILTER=\"cloud computing\"" % (n, mb))
    print("DynamoDB: %s" % ("moto's app behind an HTTP/1.1 server that keeps connections open, as DynamoDB does "
                            "(moto_keepalive.py)" if a.ddb_server == "keepalive" else
                            "moto_server, which closes the connection after every answer"))
    if extra_env:
        print("tweetmatch run with " + " ".join("%s=%s" % kv for kv in sorted(extra_env.items())))
    print()
    print("| writer | items written | wall s | CPU s (user+sys) | CPU per item | peak RSS | of it anonymous | "
          "moto CPU s | CPU per item / tweetmatch's |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    names = {"tweetmatch": "tweetmatch run (default rule)", "reused": "original logic, one boto3 client reused",
             "published": "original logic as published, a boto3 client per tweet"}
    for kind in kinds:
        r = med[kind]
        ratio = r["cpu_us_per_item"] / tm["cpu_us_per_item"]
        print("| %s | %d | %.2f | %.3f | %s | %.1f MiB | %.1f MiB | %.2f | %s |" % (
            names[kind], r["items"], r["wall_s"], r["cpu_s"], fmt_us(r["cpu_us_per_item"]),
            r["peak_rss_kib"] / 1024, r["peak_anon_kib"] / 1024, r["moto_cpu_s"],
            "1x" if kind == "tweetmatch" else "%.0fx" % ratio))
    fl = {"rss_kib": statistics.median(f["rss_kib"] for f in floors),
          "anon_kib": statistics.median(f["anon_kib"] for f in floors)}
    print("| the floor: tweetmatch's libraries, libcurl initialised, one request (tm_rss_floor) | | | | | "
          "%.1f MiB | %.1f MiB | | |" % (fl["rss_kib"] / 1024, fl["anon_kib"] / 1024))
    print()
    print("tweetmatch ran with the container image's environment: %s." % " ".join(
        "%s=%s" % kv for kv in sorted(IMAGE_ENV.items())))
    print("tweetmatch's writer queue peaked at %d items (stats lines; DDB_QUEUE_MAX bounds it, default 10000): "
          "moto writes slower than tweetmatch reads." % max(r.get("max_queue") or 0 for r in results["tweetmatch"]))
    goals = []
    for kind in [k for k in ("published", "reused") if k in kinds]:
        ratio = med[kind]["cpu_us_per_item"] / tm["cpu_us_per_item"]
        goals.append({"what": "CPU per item, %s / tweetmatch" % kind, "value": ratio, "goal": GOALS[kind],
                      "met": ratio >= GOALS[kind]})
        print("%-44s %8.0f x   goal >= %.0f x   %s" % (goals[-1]["what"], ratio, GOALS[kind],
                                                       "met" if goals[-1]["met"] else "MISSED"))
    rss = tm["peak_rss_kib"]
    goals.append({"what": "tweetmatch peak RSS", "value": rss, "goal": RSS_GOAL_KIB, "met": rss < RSS_GOAL_KIB})
    print("%-44s %8.1f MiB goal < 10 MiB  %s" % ("tweetmatch peak RSS", rss / 1024, "met" if rss < RSS_GOAL_KIB
                                                                                      else "MISSED"))
    print("%-44s %8.1f MiB (tweetmatch's peak is %.1f MiB above it)" % (
        "the floor (tm_rss_floor)", fl["rss_kib"] / 1024, (rss - fl["rss_kib"]) / 1024))
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"tweets": n, "published_tweets": m, "ddb_server": a.ddb_server, "corpus_mb": mb, "reps": a.reps, "runs": results,
                       "median": med, "goals": goals, "floor": {"runs": floors, "median": fl}, "host": platform.node(), "machine": platform.machine(),
                       "cpus": os.cpu_count(),
                       "tweetmatch_version": subprocess.run([a.tweetmatch, "version"], capture_output=True,
                                                            text=True).stdout.splitlines()[:1]}, f, indent=1)
    return 0


def fmt_us(us):
    return "%.0f us" % us if us < 10000 else "%.1f ms" % (us / 1000)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
