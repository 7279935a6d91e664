#!/usr/bin/env python3
"""ddb_bench.py: the DynamoDB writer against boto3, into the same moto.

    python3 tests/bench/ddb_bench.py [--items N] [--driver PATH] [--json FILE]

Starts one moto_server (tests/ddb/moto_ctl.py) and writes the same N items
(default 20,000, ~0.6 KB tweet-like items, tests/ddb/cases.py's generator)
twice, each into a fresh table of that server:
  a  the writer: build/tests/tm_ddb_driver (the real ddb.c on the real event
     loop, default settings: 4 requests in flight, batches of 25);
  b  boto3: one client, reused, put_item per item (the original Python task).
Both read the items from the same NDJSON file, one line at a time, and time
the reading and JSON decoding apart so it is left out of their CPU figures.
Reported: client CPU (user + system) per item, wall time, items/s, the
client's peak RSS (whole process), and moto's CPU over each run, which shows
who the bottleneck is. Goal: the writer uses at least 50x less CPU per item.
Needs moto_server and boto3 in the python3 that runs this script.
"""
import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(ROOT, "tests", "ddb"))
import awsjson  # noqa: E402
from cases import tweet_item  # noqa: E402
from moto_ctl import Moto  # noqa: E402

BOTO_CHILD = r'''
import json, os, resource, sys, time
import boto3
path, table, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
client = boto3.client("dynamodb", region_name="us-east-1", endpoint_url="http://127.0.0.1:%d" % port,
                      aws_access_key_id="AKIDBENCH", aws_secret_access_key="bench-secret")
client.describe_table(TableName=table)   # warm: client and connection set up before timing
def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime
t0, c0, parse, n = time.time(), cpu(), 0.0, 0
with open(path, encoding="utf-8") as f:
    for line in f:
        p0 = time.thread_time()
        item = json.loads(line)["put"]
        parse += time.thread_time() - p0
        client.put_item(TableName=table, Item=item)
        n += 1
wall, used = time.time() - t0, cpu() - c0 - parse
# The peak of this process (VmHWM; ru_maxrss would include the parent's size at fork).
hwm = [int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:")][0]
print(json.dumps({"items": n, "cpu_s": used, "parse_cpu_s": parse, "wall_s": wall, "maxrss_kb": hwm}))
'''


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--items", type=int, default=20000)
    ap.add_argument("--driver", default=os.path.join(ROOT, "build", "tests", "tm_ddb_driver"))
    ap.add_argument("--json")
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    if not os.access(a.driver, os.X_OK):
        sys.exit("no driver at %s: build first (cmake -S . -B build && make -C build -j2)" % a.driver)
    tmp = tempfile.mkdtemp(prefix="tm-ddb-bench-")
    ops = os.path.join(tmp, "items.ndjson")
    rng = random.Random(a.seed)
    size = 0
    with open(ops, "w", encoding="utf-8") as f:
        for i in range(a.items):
            line = json.dumps({"put": tweet_item(i, rng)}, ensure_ascii=False)
            size += len(line.encode()) - 9
            f.write(line + "\n")
    res = {"items": a.items, "avg_item_json_bytes": round(size / a.items)}
    with Moto(log_path=os.path.join(tmp, "moto.log")) as m:
        client = awsjson.Client(m.port)
        client.create_table("bench_writer")
        client.create_table("bench_boto3")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "DDB_", "TM_TEST_"))}
        env.update({"DYNAMODBTABLE": "bench_writer", "AWSREGION": "us-east-1",
                    "AWS_ENDPOINT_URL_DYNAMODB": "http://127.0.0.1:%d" % m.port,
                    "AWS_ACCESS_KEY_ID": "AKIDBENCH", "AWS_SECRET_ACCESS_KEY": "bench-secret",
                    "AWS_EC2_METADATA_DISABLED": "true", "LOG_LEVEL": "info"})
        mc0 = m.cpu_seconds()
        t0 = time.time()
        p = subprocess.run([a.driver, ops], env=env, capture_output=True, text=True)
        if p.returncode != 0:
            sys.exit("driver failed (%d): %s" % (p.returncode, p.stderr[-2000:]))
        stats = [json.loads(x) for x in p.stdout.splitlines() if '"driver_stats"' in x][0]
        w = {"cpu_s": stats["cpu_ms"] / 1000, "wall_s": stats["wall_ms"] / 1000, "maxrss_kb": stats["maxrss_kb"],
             "requests": stats["requests"], "written": stats["written"], "dead_letter": stats["dead_letter"],
             "moto_cpu_s": m.cpu_seconds() - mc0, "process_wall_s": time.time() - t0}
        n_writer = len(client.scan("bench_writer"))
        try:
            mc0 = m.cpu_seconds()
            q = subprocess.run([sys.executable, "-c", BOTO_CHILD, ops, "bench_boto3", str(m.port)],
                               capture_output=True, text=True, env=env)
            if q.returncode != 0:
                raise RuntimeError(q.stderr[-1500:])
            b = json.loads(q.stdout.strip().splitlines()[-1])
            b["moto_cpu_s"] = m.cpu_seconds() - mc0
            n_boto = len(client.scan("bench_boto3"))
        except (RuntimeError, ValueError, IndexError) as e:
            b, n_boto = None, 0
            print("boto3 run failed (is boto3 installed for %s?): %s" % (sys.executable, e), file=sys.stderr)
    res["writer"] = w
    res["boto3"] = b
    n = a.items
    print("DynamoDB writer benchmark: %d items (%d bytes of AV JSON on average) into moto_server, same server"
          % (n, res["avg_item_json_bytes"]))
    print("%-30s %10s %12s %9s %10s %10s %12s" % ("", "wall s", "items/s", "cpu s", "cpu us/it", "peak RSS",
                                                   "moto cpu s"))

    def line(name, r):
        print("%-30s %10.2f %12.0f %9.3f %10.1f %7.1f MiB %12.2f" % (
            name, r["wall_s"], n / r["wall_s"], r["cpu_s"], r["cpu_s"] / n * 1e6, r["maxrss_kb"] / 1024,
            r["moto_cpu_s"]))
    line("a  writer (batches, 4 in flight)", w)
    if b:
        line("b  boto3 put_item, one client", b)
    print("   table rows: writer %d, boto3 %d; writer requests %d, dead letters %d"
          % (n_writer, n_boto, w["requests"], w["dead_letter"]))
    ok = n_writer == n and w["dead_letter"] == 0
    if b:
        ratio = (b["cpu_s"] / n) / max(w["cpu_s"] / n, 1e-9)
        res["cpu_ratio"] = ratio
        print("   boto3 CPU per item / writer CPU per item: %.0fx (goal >= 50x) %s"
              % (ratio, "met" if ratio >= 50 else "MISSED"))
        ok = ok and n_boto == n
    print("   writer CPU / wall: %.1f %% of a core; moto CPU / wall: %.0f %% of a core (the bottleneck)"
          % (100 * w["cpu_s"] / w["wall_s"], 100 * w["moto_cpu_s"] / w["process_wall_s"]))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(res, f, indent=2)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
