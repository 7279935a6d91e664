#!/usr/bin/env python3
"""Stream benchmark: framing + decode throughput over loopback.

  python3 tests/bench/stream_bench.py [--tweets N] [--reps R] [--json FILE] [--build DIR] [--corpus FILE]

Serves a generated corpus (gen_corpus.py) as one chunked HTTP stream from
tests/stream/fake_stream.py on 127.0.0.1, and times, interleaved over R
rounds after a warm-up:

  a  curl -s -o /dev/null URL                 the bytes alone, read by curl
  b  tm_stream_bench stream URL               the stream client: loop, curl, framing, classification
  c  tm_stream_bench stream URL filter.lua    the same, each line through the default rule
  d  tm_stream_bench rule CORPUS filter.lua   the rule engine alone, lines from memory
  e  tm_stream_bench frame CORPUS             framing + classification alone, from memory

FILTER is "cloud computing" for c and d. The goal (issue 5): the framing adds
under 5 % to the rule engine's own cost. Measured two ways, in CPU time:
b / d, the whole stream client (receiving, framing, classifying) measured on
its own against the rule engine; and (c - d) / d, the difference between the
full pipeline and the rule engine alone, which also catches costs of the
two together (cache effects) but is the difference of two large, noisy
numbers. Figures are medians (and minima for the difference); nothing here
is a pass/fail test, but a run fails (exit 1) when a tool fails or when the
counts of lines disagree.
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(ROOT, "tests", "stream"))
import fake_stream  # noqa: E402


def timed(argv, env=None):
    """Runs argv; returns (wall s, cpu s of the child, stdout)."""
    t0 = time.perf_counter()
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    out = p.stdout.read()
    err = p.stderr.read()
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        sys.exit("stream_bench: %s failed (%d): %s" % (" ".join(argv[:2]), code, err.decode()[-500:]))
    return wall, ru.ru_utime + ru.ru_stime, out.decode()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tweets", type=int, default=20000)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--json")
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--corpus")
    ap.add_argument("--chunk", type=int, default=16384, help="HTTP chunk size the server uses")
    a = ap.parse_args()
    bench = os.path.join(a.build, "tests", "tm_stream_bench")
    if not os.access(bench, os.X_OK):
        sys.exit("stream_bench: no %s (build first: cmake -S . -B build && make -C build)" % bench)
    script = os.path.join(ROOT, "scripts", "filter.lua")
    tmp = tempfile.mkdtemp(prefix="tm-stream-bench.")
    corpus = a.corpus
    if corpus is None:
        corpus = os.path.join(tmp, "corpus.ndjson")
        print("generating %d tweets ..." % a.tweets, file=sys.stderr)
        subprocess.run([sys.executable, os.path.join(HERE, "gen_corpus.py"), str(a.tweets), corpus], check=True,
                       stdout=subprocess.DEVNULL)
    with open(corpus, "rb") as f:
        data = f.read()
    lines = sum(1 for l in data.split(b"\n") if l.strip())
    # The stream sends \r\n line ends, as Twitter does.
    body = data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    chunked = bytearray()
    for i in range(0, len(body), a.chunk):
        p = body[i:i + a.chunk]
        chunked += b"%x\r\n" % len(p) + p + b"\r\n"
    srv = fake_stream.Server({}, serve_file=True)
    srv.serve_file_chunked = bytes(chunked)
    srv.start()
    url = srv.url("/stream")
    env = dict(os.environ, FILTER="cloud computing")
    env.pop("http_proxy", None)
    env.pop("HTTP_PROXY", None)
    cases = [
        ("a", "curl to /dev/null", ["curl", "-s", "-o", "/dev/null", "--noproxy", "*", url]),
        ("b", "stream client, framing", [bench, "stream", url]),
        ("c", "stream client + default rule", [bench, "stream", url, script]),
        ("d", "rule engine alone (memory)", [bench, "rule", corpus, script]),
        ("e", "framing alone (memory)", [bench, "frame", corpus]),
    ]
    walls = {k: [] for k, *_ in cases}
    cpus = {k: [] for k, *_ in cases}
    info = {}
    print("corpus: %d tweets, %.1f MB; %d rounds + 1 warm-up, interleaved" % (lines, len(body) / 1e6, a.reps),
          file=sys.stderr)
    for rnd in range(a.reps + 1):
        for key, label, argv in cases:
            wall, cpu, out = timed(argv, env)
            if key != "a":
                r = json.loads(out)
                if r["lines"] != lines:
                    sys.exit("stream_bench: %s saw %d lines, the corpus has %d" % (label, r["lines"], lines))
                if r["errors"]:
                    sys.exit("stream_bench: %s: %d rule errors" % (label, r["errors"]))
                info[key] = r
                # The in-process figure excludes start-up (loading the script).
                wall, cpu = r["wall_s"], r["cpu_s"]
            if rnd:
                walls[key].append(wall)
                cpus[key].append(cpu)
    srv.stop()
    res = {}
    for key, label, _ in cases:
        w = statistics.median(walls[key])
        res[key] = {"label": label, "wall_s": round(w, 4), "cpu_s": round(statistics.median(cpus[key]), 4),
                    "tweets_per_s": round(lines / w), "mb_per_s": round(len(body) / 1e6 / w, 1),
                    "walls": [round(x, 4) for x in walls[key]]}
    over_cpu = 100.0 * (res["c"]["cpu_s"] - res["d"]["cpu_s"]) / res["d"]["cpu_s"]
    over_cpu_min = 100.0 * (min(cpus["c"]) - min(cpus["d"])) / min(cpus["d"])
    over_wall = 100.0 * (res["c"]["wall_s"] - res["d"]["wall_s"]) / res["d"]["wall_s"]
    client_share = 100.0 * res["b"]["cpu_s"] / res["d"]["cpu_s"]
    frame_share = 100.0 * res["e"]["cpu_s"] / res["d"]["cpu_s"]
    print()
    print("stream benchmark: %d tweets, %.1f MB over loopback (%d-byte chunks), median of %d"
          % (lines, len(body) / 1e6, a.chunk, a.reps))
    print("%-36s %8s %8s %10s %8s" % ("", "wall s", "cpu s", "tweets/s", "MB/s"))
    for key, label, _ in cases:
        r = res[key]
        print("%s  %-33s %8.3f %8.3f %10d %8.1f" % (key, label, r["wall_s"], r["cpu_s"], r["tweets_per_s"],
                                                    r["mb_per_s"]))
    print("   c matched %d of %d tweets" % (info["c"]["matched"], info["c"]["tweets"]))
    print()
    print("%-48s %7.2f %%   goal < 5 %%  %s" % ("stream client / rule engine (b/d), cpu", client_share,
                                                 "met" if client_share < 5 else "MISSED"))
    print("%-48s %7.2f %%" % ("framing alone / rule engine (e/d), cpu", frame_share))
    print("%-48s %7.2f %%   (minima: %.2f %%)" % ("pipeline over rule engine (c-d)/d, cpu", over_cpu, over_cpu_min))
    print("%-48s %7.2f %%" % ("the same, wall", over_wall))
    if a.json:
        doc = {"corpus": {"tweets": lines, "bytes": len(body), "chunk": a.chunk}, "reps": a.reps, "runs": res,
               "client_share_pct_cpu": round(client_share, 2), "framing_share_pct_cpu": round(frame_share, 2),
               "pipeline_overhead_pct_cpu": round(over_cpu, 2), "pipeline_overhead_pct_cpu_min": round(over_cpu_min, 2),
               "pipeline_overhead_pct_wall": round(over_wall, 2), "goal_met": client_share < 5,
               "host": {"machine": platform.machine(), "cpus": os.cpu_count()},
               "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        with open(a.json, "w") as f:
            json.dump(doc, f, indent=2)
            f.write("\n")
    if not a.corpus:
        os.remove(corpus)
    os.rmdir(tmp)


if __name__ == "__main__":
    main()
