#!/usr/bin/env bash
# The whole pipeline on this machine, on an embedded default: builds
# tweetmatch, starts moto's DynamoDB server and a replay of the bundled sample
# tweets (tests/data/v11_tweets.ndjson and v2_stream.ndjson) on 127.0.0.1,
# creates the table, runs `tweetmatch run` against them for a few seconds with
# the default rule and FILTER="cloud computing", stops it with SIGTERM, and
# prints the daemon's log, the rows found in the table and the final stats.
#
#   bash tests/demo.sh                      # as root on Debian 12: installs what is missing
#   FILTER="serverless" bash tests/demo.sh  # other phrases
#   DEMO_SECONDS=10 bash tests/demo.sh      # run longer
#
# Needs moto_server (pip install 'moto[server]'); says so and exits 1 without
# it. Exits 0 when the daemon stopped cleanly and the table holds exactly the
# items `tweetmatch test` gives for the same tweets. Leaves no server running.
set -euo pipefail
cd "$(dirname "$0")/.."
. tests/deps.sh
tm_deps

if ! command -v moto_server >/dev/null 2>&1; then
  cat >&2 <<'EOF'
demo.sh: moto_server was not found on PATH. The demo runs DynamoDB locally with moto's server.
Install it with:
    pip install 'moto[server]'
(Debian 12's own python3 refuses system-wide pip installs; use a virtual environment:
    python3 -m venv /opt/moto && /opt/moto/bin/pip install 'moto[server]' && export PATH=/opt/moto/bin:$PATH )
EOF
  exit 1
fi

echo "== building tweetmatch (build/)" >&2
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" >/dev/null

export FILTER="${FILTER:-cloud computing}"
seconds="${DEMO_SECONDS:-4}"
table=twitter
region=us-east-1
inputs=(tests/data/v11_tweets.ndjson tests/data/v2_stream.ndjson)

tmp=$(mktemp -d "${TMPDIR:-/tmp}/tm-demo.XXXXXX")
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT

# first_line FILE PID WHAT: the first line a server prints (its port or URL).
first_line() {
  for _ in $(seq 300); do
    if [ -s "$1" ]; then head -n1 "$1"; return 0; fi
    if ! kill -0 "$2" 2>/dev/null; then break; fi
    sleep 0.1
  done
  echo "demo.sh: $3 did not start:" >&2
  cat "${1%.*}.err" >&2
  return 1
}

echo "== starting moto_server and the stream replay on 127.0.0.1" >&2
python3 tests/ddb/moto_ctl.py start >"$tmp/moto.out" 2>"$tmp/moto.err" &
pids+=($!)
python3 tests/e2e/replay.py "${inputs[@]}" >"$tmp/stream.out" 2>"$tmp/stream.err" &
pids+=($!)
moto_port=$(first_line "$tmp/moto.out" "${pids[0]}" moto_server)
stream_url=$(first_line "$tmp/stream.out" "${pids[1]}" "the stream replay")

# The table, as the original task's CloudFormation made it: key "id" (S).
python3 - "$moto_port" "$table" "$region" <<'EOF'
import sys
sys.path.insert(0, "tests/ddb")
import awsjson
port, table, region = int(sys.argv[1]), sys.argv[2], sys.argv[3]
awsjson.Client(port, region=region).create_table(table, hash_key="id")
print("== created table %s (key: id) on moto at 127.0.0.1:%d" % (table, port), file=sys.stderr)
EOF

echo "== tweetmatch run, FILTER=\"$FILTER\", for $seconds s; stream: $stream_url" >&2
env -i PATH="$PATH" \
  DYNAMODBTABLE="$table" AWSREGION="$region" FILTER="$FILTER" \
  STREAM_URL="$stream_url" AWS_ENDPOINT_URL_DYNAMODB="http://127.0.0.1:$moto_port" \
  AWS_ACCESS_KEY_ID=AKIDLOCALDEMO AWS_SECRET_ACCESS_KEY=local-demo-secret AWS_EC2_METADATA_DISABLED=true \
  HEALTH_FILE="$tmp/health.json" HEALTH_INTERVAL_SECONDS=1 DEADLETTER_FILE="$tmp/deadletters.ndjson" \
  build/tweetmatch run >"$tmp/daemon.log" 2>"$tmp/daemon.err" &
tm=$!
pids+=("$tm")
sleep "$seconds"
health=$(HEALTH_FILE="$tmp/health.json" build/tweetmatch health 2>&1 || true)
kill -TERM "$tm"
set +e
wait "$tm"
code=$?
set -e

expected=$(build/tweetmatch test scripts/filter.lua "${inputs[@]}" 2>/dev/null | wc -l)
python3 - "$moto_port" "$table" "$region" "$tmp/daemon.log" "$code" "$health" "$expected" <<'EOF'
import json, sys
sys.path.insert(0, "tests/ddb")
import awsjson
port, table, region, log, code, health, expected = sys.argv[1:]
print("== the daemon's log (JSON lines on stdout; the stats line's _aws block left out)")
stats = None
with open(log, encoding="utf-8") as f:
    for line in f:
        e = json.loads(line)
        if e.get("event") == "stats":
            stats = e
            e = {k: v for k, v in e.items() if k != "_aws"}
            line = json.dumps(e, separators=(",", ":"))
        line = line.rstrip("\n")
        print("  " + (line if len(line) <= 220 else line[:217] + "..."))
print("== tweetmatch health, while it ran: " + health.strip())
rows = awsjson.Client(int(port), region=region).scan(table)
plain = sorted(({k: list(v.values())[0] for k, v in r.items()} for r in rows), key=lambda r: r.get("id", ""))
print("== rows in table %s: %d" % (table, len(plain)))
for r in plain:
    text = " ".join(r.get("text", "").split())
    print("  %-20s %-16s %-31s %s" % (r.get("id", ""), r.get("user", ""), r.get("date", ""),
                                       text if len(text) <= 70 else text[:67] + "..."))
ok = code == "0" and stats is not None
if stats:
    print("== final stats: " + ", ".join("%s %s" % (k, stats[k]) for k in
          ("tweets", "matched", "items", "written", "dead_letter", "rule_errors", "bad_input", "control", "reconnects")))
    ok = ok and stats["written"] + stats["dead_letter"] == stats["items"]
print("== exit code %s after SIGTERM" % code)
if len(plain) == int(expected):
    print("== the table holds the %s items `tweetmatch test scripts/filter.lua` gives for the same tweets" % expected)
else:
    print("== MISMATCH: %d rows, but `tweetmatch test` gives %s items" % (len(plain), expected))
    ok = False
sys.exit(0 if ok else 1)
EOF
